"""Token classification: one IOB2 tag per word (named entities), as transformers' `run_ner.py`.

Data: a Hub dataset, CoNLL-style files or .json/.jsonl with word and tag lists, or generated entity sentences where
context decides the tag (`hf_rnn.demo_data`). Metrics: entity precision, recall and F1 per type (the shipped
`seqeval_f1` metric, strict IOB2). After training: `eval_predictions.txt` (word, tag, predicted tag). With
`do_predict`, the `test_file` (or the Hub dataset's test split) is predicted as run_ner does: `predictions.txt`, one
line of predicted tags per sentence (none for words cut by `max_seq_length`) and, if the file has tags, the `test_*`
entity scores in `predict_results.json`. Model: a bidirectional tagger; `crf` and `char_features` make it a BiLSTM-CRF
(Lample et al. 2016) or BiLSTM-CNN-CRF (Ma & Hovy 2016).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    EvalPrediction,
    PreTrainedTokenizerBase,
)
from transformers.trainer_utils import PredictionOutput

from ..characters_rnn import spelling_alphabet
from ..configuration_rnn import CHAR_ENCODERS, IOB2_TAG
from ..data import (
    check_columns,
    check_nonempty_column,
    check_text_file,
    load_data_files,
    split_off_validation,
)
from ..demo_data import default_token_classification_datasets
from ..fine_tuning import FineTuningOptions, FineTuningTrainer
from ..metrics import load_metric
from ..modeling_rnn import RNNForTokenClassification
from ..tokenization import token_spellings
from .base import Task, TaskSetup, check_number, task_datasets
from .labels import (
    argmax_logits,
    check_label_sets,
    class_labels_as_names,
    encode_splits,
    label_names,
    predictions_writer,
    without_missing_labels,
)
from .models import check_saved_model, continue_or_build, load_or_train_tokenizer, new_rnn_config
from .sequence_classification import CLASSIFICATION_DEFAULTS, DATA_CLASSIFICATION_DEFAULTS, DROPOUT_REGULARIZERS

logger = logging.getLogger(__name__)


class TokenClassificationTask(Task):
    name = "token-classification"
    head = "ForTokenClassification"
    auto_class = AutoModelForTokenClassification
    embedded_data = "generated IOB2 entity sentences where context decides the tag (`hf_rnn.demo_data`), embedded"
    card = {
        "pipeline_tag": "token-classification",
        "pipeline_task": "token-classification",
        "task_name": "Token Classification",
        "auto_class": "AutoModelForTokenClassification",
    }
    card_shows_labels = True
    regularizers = DROPOUT_REGULARIZERS
    tagger_options = ("crf", "char_features")
    test_split = "file"
    fine_tunes_by_layer = True
    transfers_body = True
    training_defaults = CLASSIFICATION_DEFAULTS
    data_training_defaults = {**DATA_CLASSIFICATION_DEFAULTS, "metric_for_best_model": "f1"}  # entity F1

    def check_arguments(self, model_args, data_args, training_args) -> None:
        super().check_arguments(model_args, data_args, training_args)
        check_number("max_seq_length", data_args.max_seq_length, 1, what="a whole number of tokens")
        if model_args.char_features not in ("none", *CHAR_ENCODERS):
            raise ValueError(
                f"char_features={model_args.char_features!r} is not supported; choose one of "
                f"{', '.join(map(repr, ('none', *CHAR_ENCODERS)))}."
            )

    def loss_label(self, config) -> str:
        return "loss (nats per labelled token)"

    def prepare(self, model_args, data_args, training_args) -> TaskSetup:
        check_saved_model(self, model_args)
        raw_datasets = task_datasets(data_args, load_tagging_datasets, with_test=training_args.do_predict)
        tokens_column, tags_column = data_args.tokens_column, data_args.tags_column
        raw_datasets = without_missing_labels(raw_datasets, tags_column)
        check_columns(raw_datasets, {"tokens_column": tokens_column})
        check_columns(DatasetDict(train=raw_datasets["train"], validation=raw_datasets["validation"]),
                      {"tags_column": tags_column})  # fmt: skip
        raw_datasets = class_labels_as_names(raw_datasets, tags_column)
        check_nonempty_column(raw_datasets, tokens_column, "tokens_column")
        tagged = {split: dataset for split, dataset in raw_datasets.items() if tags_column in dataset.column_names}
        for dataset in tagged.values():
            check_iob2_tags((tag for tags in dataset[tags_column] for tag in tags), "tags_column")
        for split, dataset in tagged.items():
            if any(len(tokens) != len(tags) for tokens, tags in zip(dataset[tokens_column], dataset[tags_column])):
                raise ValueError(f"tokens_column / tags_column: a {split} sentence has more tokens than tags or fewer.")
        labels = label_names((tag for tags in raw_datasets["train"][tags_column] for tag in tags), "tags_column")
        for split, dataset in tagged.items():
            if split != "train":
                split_tags = (tag for tags in dataset[tags_column] for tag in tags)
                check_label_sets(labels, label_names(split_tags, "tags_column"), "tags_column", split)
        label2id = {label: i for i, label in enumerate(labels)}
        metric = load_metric("seqeval_f1")

        # Trained on the words as `is_split_into_words=True` encodes them: each as a text of its own, which the
        # tokenizer's prefix space makes the tokens of running text (what the pipeline passes).
        words = [word for words in raw_datasets["train"][tokens_column] for word in words]
        tokenizer = load_or_train_tokenizer(model_args, Dataset.from_dict({"word": words}), "word")
        # Padding after the words, so that a row's predictions start at its first token (predictions.txt).
        tokenizer.padding_side = "right"
        model = continue_or_build(
            self, model_args, tokenizer, labels, lambda: new_tagger(model_args, tokenizer, labels)
        )

        def encode(examples: dict[str, list]) -> dict[str, list]:
            # As in run_ner.py: a word's first piece carries its tag, further pieces and padding -100 (not scored).
            encoded = tokenizer(
                examples[tokens_column], is_split_into_words=True, truncation=True, max_length=data_args.max_seq_length
            )
            if tags_column not in examples:  # an unlabeled test split
                return encoded
            encoded["labels"] = []
            for row, tags in enumerate(examples[tags_column]):
                word_ids = encoded.word_ids(row)
                row_labels = [-100] * len(word_ids)
                for position in first_token_of_each_word(word_ids):
                    row_labels[position] = label2id[str(tags[word_ids[position]])]
                encoded["labels"].append(row_labels)
            return encoded

        raw_validation, encoded = encode_splits(
            raw_datasets, encode, data_args.max_train_samples, data_args.max_eval_samples, training_args
        )
        logger.info(
            f"{len(encoded['train'])} train and {len(encoded['validation'])} validation sentences; tags {labels}"
        )

        last_predictions = {}

        def scored_tags(predictions: np.ndarray, label_ids: np.ndarray) -> tuple[list[list[str]], list[list[str]]]:
            predicted, true = [], []
            for row_predictions, row_labels in zip(predictions, label_ids):
                scored = row_labels != -100
                predicted.append([labels[i] for i in row_predictions[scored]])
                true.append([labels[i] for i in row_labels[scored]])
            return predicted, true

        def compute_metrics(prediction: EvalPrediction) -> dict:
            predicted, true = scored_tags(prediction.predictions, prediction.label_ids)
            last_predictions["predictions"] = predicted
            scores = metric.compute(predictions=predicted, references=true)
            per_type = {f"{name}_f1": value["f1"] for name, value in scores.items() if isinstance(value, dict)}
            return {name: scores[name] for name in ("precision", "recall", "f1", "accuracy")} | per_type

        def write_predictions(output_dir: Path, predictions: list[list[str]]) -> None:
            # CoNLL layout: word, true tag, predicted tag; words cut by max_seq_length have no prediction.
            with open(output_dir / "eval_predictions.txt", "w") as file:
                for row, predicted in zip(raw_validation, predictions):
                    for word, tag, guess in zip(row[tokens_column], row[tags_column], predicted):
                        file.write(f"{word} {tag} {guess}\n")
                    file.write("\n")

        def write_test_predictions(output_dir: Path, prediction: PredictionOutput) -> None:
            # run_ner's predictions.txt: one line of tags per sentence, the tag of each word's first token.
            test_words = list(raw_datasets["test"][tokens_column])
            encoded_words = tokenizer(
                test_words, is_split_into_words=True, truncation=True, max_length=data_args.max_seq_length
            )
            with open(output_dir / "predictions.txt", "w") as file:
                for row, row_predictions in enumerate(prediction.predictions):
                    firsts = first_token_of_each_word(encoded_words.word_ids(row))
                    file.write(" ".join(labels[row_predictions[position]] for position in firsts) + "\n")

        return TaskSetup(
            model=model,
            tokenizer=tokenizer,
            train_dataset=encoded["train"],
            eval_dataset=encoded["validation"],
            data_collator=DataCollatorForTokenClassification(tokenizer),
            compute_metrics=compute_metrics,
            preprocess_logits_for_metrics=argmax_logits,
            after_training=predictions_writer(training_args.output_dir, last_predictions, write_predictions),
            test_dataset=encoded.get("test"),
            write_test_predictions=write_test_predictions,
            trainer_class=FineTuningTrainer,
            trainer_kwargs={"fine_tuning": FineTuningOptions.from_arguments(model_args)},
        )


def new_tagger(model_args, tokenizer: PreTrainedTokenizerBase, labels: list[str]) -> RNNForTokenClassification:
    """
    A new tagger from the model arguments: bidirectional unless told otherwise, with the CRF (decoding IOB2-valid
    sequences only) and the character features they ask for (the spellings of the tokenizer's vocabulary filled in).
    """
    char_fields, spellings = {}, None
    if model_args.char_features != "none":
        spellings = token_spellings(tokenizer)
        char_fields = {"char_encoder": model_args.char_features, "char_alphabet": spelling_alphabet(spellings)}
    config = new_rnn_config(
        model_args,
        tokenizer,
        bidirectional=model_args.bidirectional is not False,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        crf=model_args.crf,
        crf_constraints="iob2" if model_args.crf else None,  # the task's tags are IOB2 (check_iob2_tags)
        **char_fields,
    )
    model = RNNForTokenClassification(config)
    if spellings is not None:
        model.model.char_encoder.set_spellings(spellings)
    return model


def first_token_of_each_word(word_ids: list[int | None]) -> list[int]:
    """The position of each word's first token, in word order: where a word's tag is learned and predicted."""
    positions, previous = [], None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            positions.append(position)
        previous = word
    return positions


def check_iob2_tags(tags: Iterable[str], parameter: str) -> None:
    """
    Every tag is IOB2 ("O", "B-TYPE", "I-TYPE"), as the entity metric (seqeval, strict IOB2) requires; otherwise a
    `ValueError` naming `parameter` now, rather than a crash at the first evaluation, after training.
    """
    invalid = sorted({str(tag) for tag in tags if not IOB2_TAG.fullmatch(str(tag))})
    if invalid:
        raise ValueError(
            f"{parameter}: the tags {', '.join(map(repr, invalid[:10]))} are not IOB2 ('O', 'B-TYPE' or 'I-TYPE'); the "
            "entity scores need IOB2 tags (convert IOBES or bare 'PER' tags first)."
        )


def read_conll(path: str, parameter: str) -> dict[str, list[list[str]]]:
    """
    A CoNLL-style file: one token a line with its columns separated by whitespace, the tag in the LAST column,
    a blank line between sentences; `-DOCSTART-` lines are skipped. Returns `"tokens"` and `"ner_tags"` columns.
    """
    check_text_file(path, parameter)
    rows, tokens, tags = {"tokens": [], "ner_tags": []}, [], []

    def end_sentence() -> None:
        if tokens:
            rows["tokens"].append(list(tokens))
            rows["ner_tags"].append(list(tags))
        tokens.clear()
        tags.clear()

    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            fields = line.split()
            if not fields:
                end_sentence()
            elif fields[0] == "-DOCSTART-":
                end_sentence()
            elif len(fields) < 2:
                raise ValueError(f"{parameter} {path!r} line {number}: expected 'token ... tag', got {line.strip()!r}.")
            else:
                tokens.append(fields[0])
                tags.append(fields[-1])
    end_sentence()
    if not rows["tokens"]:
        raise ValueError(f"{parameter} {path!r} holds no sentence (one 'token ... tag' a line, blank between them).")
    return rows


def load_tagging_datasets(
    train_file: str | None = None,
    validation_file: str | None = None,
    validation_split_percentage: float = 10,
    test_file: str | None = None,
) -> DatasetDict:
    """
    Sentences of tokens and tags: .json/.jsonl files (read with `datasets`; a test file may have no tags), CoNLL-style
    files (any other extension; see `read_conll`, columns `"tokens"` and `"ner_tags"`), or the embedded synthetic
    entities.
    """
    if train_file is None:
        if validation_file is not None or test_file is not None:
            raise ValueError("validation_file and test_file need a train_file to go with them.")
        return default_token_classification_datasets()
    files = {
        "train": (train_file, "train_file"),
        "validation": (validation_file, "validation_file"),
        "test": (test_file, "test_file"),
    }
    files = {split: (path, parameter) for split, (path, parameter) in files.items() if path is not None}
    is_json = {split: Path(path).suffix.lower() in (".json", ".jsonl") for split, (path, _) in files.items()}
    for path, parameter in files.values():
        if not Path(path).is_file():
            raise FileNotFoundError(f"{parameter} {path!r} does not exist (or is not a file).")
    if len(set(is_json.values())) > 1:
        raise ValueError("validation_file and test_file must have the format of train_file (all json, or all CoNLL).")
    if is_json["train"]:
        return load_data_files(train_file, validation_file, validation_split_percentage, test_file)
    splits = {split: Dataset.from_dict(read_conll(path, parameter)) for split, (path, parameter) in files.items()}
    if validation_file is None:
        return DatasetDict({**split_off_validation(splits.pop("train"), validation_split_percentage), **splits})
    return DatasetDict(splits)
