"""Sequence classification: one label per text (sentiment, topic), as transformers' `run_glue.py`.

Data: a Hub dataset, a local .csv/.tsv/.json/.jsonl file with a text and a label column, or generated sentiment
sentences with negation (`hf_rnn.demo_data`). Metrics: accuracy and macro F1 (the shipped `accuracy_f1` metric).
After training: `eval_predictions.jsonl`, one validation row with its prediction per line. With `do_predict`, the
`test_file` (or the Hub dataset's test split) is predicted as run_glue does: `predict_results.txt` (`index`, tab,
predicted label name) and, if the file has labels, `test_accuracy` / `test_f1` in `predict_results.json`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, EvalPrediction
from transformers.trainer_utils import PredictionOutput

from ..data import check_columns, check_nonempty_column, load_data_files
from ..demo_data import default_sequence_classification_datasets
from ..fine_tuning import FineTuningOptions, FineTuningTrainer
from ..metrics import load_metric
from ..modeling_rnn import RNNForSequenceClassification
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

logger = logging.getLogger(__name__)

# Sequence classification and tagging share a budget, measured on a 2-core CPU with their embedded default data
# (see README.md, "Training"): the data is small and regular, so a small bidirectional model and a short run reach
# high scores; the values besides max_steps are what run_glue / run_ner users would pick for a small RNN.
CLASSIFICATION_DEFAULTS = {
    "tokenizer_type": "word",
    "hidden_size": 128,
    "max_steps": 300,
    "per_device_train_batch_size": 32,
    "per_device_eval_batch_size": 128,
    "learning_rate": 3e-3,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.05,
    "logging_steps": 0.02,
    "eval_strategy": "steps",
    "eval_steps": 0.25,
    "save_steps": 0.25,
    "save_total_limit": 1,
}
# On the user's data (train_file / dataset_name), as run_glue / run_ner users train: by epochs, evaluating and saving
# a checkpoint after each, stopping once `early_stopping_patience` epochs in a row have not improved the task's
# `metric_for_best_model` and ending with the best epoch's model; batches of texts of similar length
# (group_by_length), which spend less time on padding. Ten epochs is a ceiling that early stopping rarely reaches.
DATA_CLASSIFICATION_DEFAULTS = {
    "max_steps": -1,
    "num_train_epochs": 10,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "early_stopping_patience": 3,
    "train_sampling_strategy": "group_by_length",
}
# The AWD-LSTM regularizers a classifier or tagger uses (AR and TAR are penalties of the language-model loss).
DROPOUT_REGULARIZERS = ("word_dropout", "locked_dropout", "weight_drop")


class SequenceClassificationTask(Task):
    name = "sequence-classification"
    head = "ForSequenceClassification"
    auto_class = AutoModelForSequenceClassification
    embedded_data = "generated sentiment sentences with negation (`hf_rnn.demo_data`), embedded"
    card = {
        "pipeline_tag": "text-classification",
        "pipeline_task": "text-classification",
        "task_name": "Text Classification",
        "auto_class": "AutoModelForSequenceClassification",
    }
    card_shows_labels = True
    regularizers = DROPOUT_REGULARIZERS
    test_split = "file"
    fine_tunes_by_layer = True
    transfers_body = True
    # "sentence": GLUE's single-sentence column (SST-2, CoLA), as run_glue expects.
    training_defaults = {**CLASSIFICATION_DEFAULTS, "text_column": "sentence"}
    data_training_defaults = {**DATA_CLASSIFICATION_DEFAULTS, "metric_for_best_model": "accuracy"}

    def check_arguments(self, model_args, data_args, training_args) -> None:
        super().check_arguments(model_args, data_args, training_args)
        check_number("max_seq_length", data_args.max_seq_length, 1, what="a whole number of tokens")

    def loss_label(self, config) -> str:
        # transformers' sequence-classification loss, chosen by `problem_type`: each a mean over the batch
        return {
            "regression": "loss (squared error per example)",
            "multi_label_classification": "loss (binary cross-entropy per label, nats)",
        }.get(config.problem_type, "loss (cross-entropy, nats per example)")

    def prepare(self, model_args, data_args, training_args) -> TaskSetup:
        check_saved_model(self, model_args)
        raw_datasets = task_datasets(data_args, load_classification_datasets, with_test=training_args.do_predict)
        text_column, label_column = data_args.text_column, data_args.label_column
        raw_datasets = without_missing_labels(raw_datasets, label_column)
        check_columns(raw_datasets, {"text_column": text_column})
        check_columns(DatasetDict(train=raw_datasets["train"], validation=raw_datasets["validation"]),
                      {"label_column": label_column})  # fmt: skip
        check_nonempty_column(raw_datasets, text_column, "text_column")
        raw_datasets = class_labels_as_names(raw_datasets, label_column)
        labels = label_names(raw_datasets["train"][label_column], "label_column")
        for split, dataset in raw_datasets.items():
            if split != "train" and label_column in dataset.column_names:
                check_label_sets(labels, label_names(dataset[label_column], "label_column"), "label_column", split)
        label2id = {label: i for i, label in enumerate(labels)}
        metric = load_metric("accuracy_f1")

        tokenizer = load_or_train_tokenizer(model_args, raw_datasets["train"], text_column)
        model = continue_or_build(
            self,
            model_args,
            tokenizer,
            labels,
            lambda: RNNForSequenceClassification(
                new_rnn_config(
                    model_args,
                    tokenizer,
                    bidirectional=model_args.bidirectional is not False,
                    classifier_pooling=model_args.classifier_pooling,
                    num_labels=len(labels),
                    id2label=dict(enumerate(labels)),
                    label2id=label2id,
                )
            ),
        )

        def encode(examples: dict[str, list]) -> dict[str, list]:
            encoded = tokenizer(examples[text_column], truncation=True, max_length=data_args.max_seq_length)
            if label_column in examples:  # not in an unlabeled test split
                encoded["labels"] = [label2id[str(label)] for label in examples[label_column]]
            return encoded

        raw_validation, encoded = encode_splits(
            raw_datasets, encode, data_args.max_train_samples, data_args.max_eval_samples, training_args
        )
        logger.info(f"{len(encoded['train'])} train and {len(encoded['validation'])} validation rows; labels {labels}")

        last_predictions = {}

        def compute_metrics(prediction: EvalPrediction) -> dict:
            last_predictions["predictions"] = prediction.predictions
            return metric.compute(predictions=prediction.predictions, references=prediction.label_ids, average="macro")

        def write_predictions(output_dir: Path, predictions: np.ndarray) -> None:
            with open(output_dir / "eval_predictions.jsonl", "w") as file:
                for row, predicted in zip(raw_validation, predictions):
                    record = {
                        "text": row[text_column],
                        "label": str(row[label_column]),
                        "prediction": labels[predicted],
                    }
                    file.write(json.dumps(record) + "\n")

        def write_test_predictions(output_dir: Path, prediction: PredictionOutput) -> None:
            # run_glue's predict_results_<task>.txt: the row's index in the test file and the predicted label.
            with open(output_dir / "predict_results.txt", "w") as file:
                file.write("index\tprediction\n")
                for index, predicted in enumerate(prediction.predictions):
                    file.write(f"{index}\t{labels[predicted]}\n")

        return TaskSetup(
            model=model,
            tokenizer=tokenizer,
            train_dataset=encoded["train"],
            eval_dataset=encoded["validation"],
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=compute_metrics,
            preprocess_logits_for_metrics=argmax_logits,
            after_training=predictions_writer(training_args.output_dir, last_predictions, write_predictions),
            test_dataset=encoded.get("test"),
            write_test_predictions=write_test_predictions,
            trainer_class=FineTuningTrainer,
            trainer_kwargs={"fine_tuning": FineTuningOptions.from_arguments(model_args)},
        )


def load_classification_datasets(
    train_file: str | None = None,
    validation_file: str | None = None,
    validation_split_percentage: float = 10,
    test_file: str | None = None,
) -> DatasetDict:
    """
    Rows of text and label from local .csv/.tsv/.json/.jsonl files (a test file's rows may have no label), or the
    embedded sentiment data.
    """
    if train_file is None:
        if validation_file is not None or test_file is not None:
            raise ValueError("validation_file and test_file need a train_file to go with them.")
        return default_sequence_classification_datasets()
    if Path(train_file).suffix.lower() == ".txt":
        raise ValueError(f"train_file {train_file!r}: classification reads .csv, .tsv, .json or .jsonl files.")
    return load_data_files(train_file, validation_file, validation_split_percentage, test_file)
