"""Translation: an attention encoder-decoder trained on sentence pairs, as transformers' `run_translation.py`.

Data: line-aligned parallel text files (plain or .gz), a .json/.jsonl file (or Hub dataset) with source and target
columns or run_translation's `{"translation": {lang: text}}` rows, or a generated language pair with word
reordering (`hf_rnn.demo_data`). Metrics: BLEU and chrF of generated translations (the shipped `sacrebleu_chrf`
metric). After training: `generated_predictions.txt` and a few sample translations in `samples.txt`.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from pathlib import Path

import datasets
import numpy as np
from datasets import Dataset, DatasetDict
from transformers import (
    AutoModelForSeq2SeqLM,
    DataCollatorForSeq2Seq,
    EvalPrediction,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
)

from ..configuration_rnn_seq2seq import RNNSeq2SeqConfig
from ..data import (
    check_columns,
    check_nonempty_column,
    load_data_files,
    read_lines,
    split_off_validation,
)
from ..demo_data import default_translation_datasets
from ..metrics import load_metric
from ..modeling_rnn_seq2seq import RNNSeq2SeqForConditionalGeneration
from .base import Task, TaskSetup, check_number, task_datasets
from .labels import encode_splits, predictions_writer
from .models import (
    apply_config_overrides,
    check_saved_model,
    config_fields_shared_by_every_model,
    continue_or_build,
    load_or_train_tokenizer,
)

logger = logging.getLogger(__name__)

PARALLEL_FILES = ("train_source_file", "train_target_file", "validation_source_file", "validation_target_file")


class TranslationTask(Task):
    name = "translation"
    head = "ForConditionalGeneration"
    auto_class = AutoModelForSeq2SeqLM
    embedded_data = "a generated language pair with word reordering (`hf_rnn.demo_data`), embedded"
    card = {
        "pipeline_tag": "translation",
        # transformers 5.23 reserves "translation", so hf_rnn registers "hf-rnn-translation"
        "pipeline_task": "hf-rnn-translation",
        "task_name": "Translation",
        "auto_class": "AutoModelForSeq2SeqLM",
    }
    regularizers = ()  # the encoder-decoder has none of the AWD-LSTM regularizers
    # Measured on a 2-core CPU with the embedded default data (see README.md, "Training").
    training_defaults = {
        "tokenizer_type": "bpe",
        "hidden_size": 128,
        "max_steps": 3000,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 100,
        # The attention first sits on a plateau (the model writes fluent target-language word order, wrong words)
        # until it learns to align; at 3e-3 it stays there for ~500 steps, at 1e-2 it leaves it much sooner.
        "learning_rate": 1e-2,
        "lr_scheduler_type": "linear",
        "warmup_steps": 0.05,
        "logging_steps": 0.02,
        "eval_strategy": "steps",
        "eval_steps": 0.5,
        "save_steps": 0.5,
        "save_total_limit": 1,
        "predict_with_generate": True,
        "generation_num_beams": 4,
    }

    def check_arguments(self, model_args, data_args, training_args) -> None:
        super().check_arguments(model_args, data_args, training_args)
        # Sources and targets keep max_*_length - 1 tokens and their end of sentence.
        check_number("max_source_length", data_args.max_source_length, 2, what="a whole number of tokens")
        check_number("max_target_length", data_args.max_target_length, 2, what="a whole number of tokens")
        if training_args.generation_num_beams is not None:
            check_number("generation_num_beams", training_args.generation_num_beams, 1, what="a whole number")
        if training_args.generation_max_length is not None:
            # It counts the decoder's start token, as generate()'s max_length does: 2 generates one token.
            check_number("generation_max_length", training_args.generation_max_length, 2, what="a whole number")

    def loss_label(self, config) -> str:
        return "loss (nats per target token)"

    def prepare(self, model_args, data_args, training_args) -> TaskSetup:
        check_saved_model(self, model_args)
        raw_datasets = load_translation_datasets(data_args)
        for column, parameter in (("source", "source_column"), ("target", "target_column")):
            check_nonempty_column(raw_datasets, column, parameter)
        metric = load_metric("sacrebleu_chrf")

        train = raw_datasets["train"]
        both_sides = datasets.Dataset.from_dict({"text": [*train["source"], *train["target"]]})
        # Ending every encoding with </s>, as Marian's and T5's do: the targets a user encodes with `text_target`
        # end as the model learnt to stop, and the sources the pipeline encodes end as in training.
        tokenizer = load_or_train_tokenizer(model_args, both_sides, "text", add_eos_token=True)
        # The decoder starts from <s> on every row, so there is nothing to left-pad: right padding keeps the
        # collator's padded labels (-100) after the end of sentence, where teacher forcing never reads them.
        tokenizer.padding_side = "right"
        model = continue_or_build(
            self, model_args, tokenizer, None, lambda: build_translation_model(model_args, tokenizer)
        )

        def encode(examples: dict[str, list]) -> dict[str, list]:
            # As run_translation.py: sources as the translation pipeline encodes them, labels from `text_target`.
            encoded = tokenizer(examples["source"], truncation=True, max_length=data_args.max_source_length)
            targets = tokenizer(text_target=examples["target"], truncation=True, max_length=data_args.max_target_length)
            encoded["labels"] = targets.input_ids
            return encoded

        raw_validation, encoded = encode_splits(
            raw_datasets, encode, data_args.max_train_samples, data_args.max_eval_samples, training_args
        )
        names = f" ({data_args.source_lang or 'source'} -> {data_args.target_lang or 'target'})"
        logger.info(f"{len(encoded['train'])} train and {len(encoded['validation'])} validation pairs{names}")
        max_length = training_args.generation_max_length
        if max_length is None:
            max_length = default_generation_max_length(encoded["train"]["labels"], data_args.max_target_length)
            logger.info(f"generation_max_length {max_length}, from the longest train target")
        # Saved with the model: the translation pipeline and `generate()` then decode as the evaluation does (which
        # passes generation_max_length, when given, as max_length too). A saved model's max_new_tokens would win.
        model.generation_config.update(
            num_beams=training_args.generation_num_beams or 1, max_length=max_length, max_new_tokens=None
        )

        last_predictions = {}

        def decode(ids: np.ndarray) -> list[str]:
            ids = np.where(ids == -100, tokenizer.pad_token_id, ids)  # the Trainer pads batches with -100
            return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]

        def compute_metrics(prediction: EvalPrediction) -> dict:
            predictions = prediction.predictions
            predictions = predictions[0] if isinstance(predictions, tuple) else predictions
            hypotheses, references = decode(predictions), decode(prediction.label_ids)
            last_predictions["predictions"] = hypotheses
            scores = metric.compute(predictions=hypotheses, references=references)
            # Generated tokens, not counting <s>, </s> and the padding after a finished sentence (pad or </s>).
            generated = ~np.isin(predictions, [*tokenizer.all_special_ids, -100])
            return {"bleu": scores["bleu"], "chrf": scores["chrf"], "gen_len": float(generated.sum(-1).mean())}

        def write_translations(output_dir: Path, hypotheses: list[str]) -> None:
            (output_dir / "generated_predictions.txt").write_text("".join(f"{text}\n" for text in hypotheses))
            shown = [
                f"source:     {row['source']}\nreference:  {row['target']}\ntranslated: {hypothesis}\n"
                for row, hypothesis in list(zip(raw_validation, hypotheses))[: data_args.num_sample_generations]
            ]
            text = "".join(f"=== sample {i + 1} ===\n{sample}\n" for i, sample in enumerate(shown))
            logger.info(f"Sample translations{names}:\n{text}")
            (output_dir / "samples.txt").write_text(text)

        return TaskSetup(
            model=model,
            tokenizer=tokenizer,
            train_dataset=encoded["train"],
            eval_dataset=encoded["validation"],
            data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
            compute_metrics=compute_metrics,
            after_training=predictions_writer(training_args.output_dir, last_predictions, write_translations),
            trainer_class=TranslationTrainer,
        )


def default_generation_max_length(labels: Iterable[list[int]], max_target_length: int) -> int:
    """
    The `generation_max_length` of a run that does not set one: room for 1.5 times the longest train target (its
    </s> included) plus 10 tokens, at most `max_target_length` tokens, plus the decoder's start token, which
    `generate()`'s max_length counts. A model stops at </s> when it has learnt to; until then (early in training, or
    on a sentence it cannot translate) every evaluation sentence runs to this length.
    """
    return min(math.ceil(1.5 * max(map(len, labels))) + 10, max_target_length) + 1


class TranslationTrainer(Seq2SeqTrainer):
    """
    `Seq2SeqTrainer` that leaves the model's generation config as it found it. After each generate, transformers'
    `prediction_step` (5.21 to 5.24) fills every unset field of `model.generation_config` with the library defaults,
    `max_length=20` among them; every later generate then runs with, or warns about, fields the run never set (at
    every evaluation, and for whoever loads the saved model, whose generation_config.json carried them).
    """

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        generation_config = copy.deepcopy(self.model.generation_config)
        try:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)
        finally:
            self.model.generation_config = generation_config


def build_translation_model(model_args, tokenizer: PreTrainedTokenizerBase) -> RNNSeq2SeqForConditionalGeneration:
    """
    A new encoder-decoder from the shared model arguments: `cell` is both stacks' cell, `num_layers` both depths,
    `hidden_size` the decoder's width and the encoder's output width (half per direction when bidirectional), one
    shared vocabulary and embedding for source and target (the tokenizer is shared).
    """
    if model_args.proj_size:
        raise ValueError("proj_size is not used by `task` translation (the encoder-decoder has no projection).")
    bidirectional = model_args.bidirectional is not False
    if bidirectional and model_args.hidden_size % 2:
        raise ValueError(f"hidden_size={model_args.hidden_size} must be even with a bidirectional encoder.")
    try:
        config = RNNSeq2SeqConfig(
            share_embeddings=True,
            encoder_cell=model_args.cell,
            decoder_cell=model_args.cell,
            encoder_hidden_size=model_args.hidden_size // 2 if bidirectional else model_args.hidden_size,
            decoder_hidden_size=model_args.hidden_size,
            encoder_layers=model_args.num_layers,
            decoder_layers=model_args.num_layers,
            encoder_bidirectional=bidirectional,
            attention=model_args.attention,
            **config_fields_shared_by_every_model(model_args, tokenizer),
            decoder_start_token_id=tokenizer.bos_token_id,
        )
    except ValueError as error:
        raise ValueError(f"invalid model arguments (`cell` is encoder_cell and decoder_cell): {error}") from None
    return RNNSeq2SeqForConditionalGeneration(apply_config_overrides(config, model_args.config_overrides))


def load_translation_datasets(data_args) -> DatasetDict:
    """Parallel text files, a .json/.jsonl `train_file`, or a Hub dataset, as `"source"`/`"target"` columns."""
    if any(getattr(data_args, name) for name in PARALLEL_FILES):
        if data_args.train_file is not None or data_args.dataset_name is not None:
            raise ValueError("pass either train_source_file/train_target_file or train_file/dataset_name.")
        return load_parallel_datasets(
            *(getattr(data_args, name) for name in PARALLEL_FILES),
            validation_split_percentage=data_args.validation_split_percentage,
        )
    if data_args.train_file is None and data_args.dataset_name is None:
        return load_parallel_datasets()  # the embedded default pairs
    if data_args.train_file is not None and Path(data_args.train_file).suffix.lower() not in (".json", ".jsonl"):
        raise ValueError(
            f"train_file {data_args.train_file!r}: translation reads .json/.jsonl there; give plain parallel text "
            "as train_source_file and train_target_file."
        )
    raw_datasets = task_datasets(data_args, load_data_files)
    if "translation" in raw_datasets["train"].column_names and data_args.source_lang and data_args.target_lang:
        # run_translation.py's layout: {"translation": {"de": ..., "en": ...}}
        source_lang, target_lang = data_args.source_lang, data_args.target_lang
        return raw_datasets.map(
            lambda row: {"source": row["translation"][source_lang], "target": row["translation"][target_lang]},
            remove_columns=raw_datasets["train"].column_names,
        )
    check_columns(raw_datasets, {"source_column": data_args.source_column, "target_column": data_args.target_column})
    return raw_datasets.select_columns([data_args.source_column, data_args.target_column]).rename_columns(
        {data_args.source_column: "source", data_args.target_column: "target"}
    )


def load_parallel_datasets(
    train_source_file: str | None = None,
    train_target_file: str | None = None,
    validation_source_file: str | None = None,
    validation_target_file: str | None = None,
    validation_split_percentage: float = 10,
) -> DatasetDict:
    """
    Line-aligned parallel text (one sentence a line, plain or .gz) as `"source"` and `"target"` columns, or (given
    no files) the embedded synthetic translation pairs.
    """
    given = {
        "train_source_file": train_source_file,
        "train_target_file": train_target_file,
        "validation_source_file": validation_source_file,
        "validation_target_file": validation_target_file,
    }
    if not any(given.values()):
        return default_translation_datasets()
    splits = {}
    for split in ("train", "validation"):
        source_flag, target_flag = f"{split}_source_file", f"{split}_target_file"
        if (given[source_flag] is None) != (given[target_flag] is None):
            missing = source_flag if given[source_flag] is None else target_flag
            raise ValueError(f"{missing} is missing: parallel text needs both {source_flag} and {target_flag}.")
        if given[source_flag] is None:
            continue
        sources, targets = read_lines(given[source_flag], source_flag), read_lines(given[target_flag], target_flag)
        if len(sources) != len(targets):
            raise ValueError(
                f"{source_flag} has {len(sources)} lines but {target_flag} has {len(targets)}; they must be aligned."
            )
        pairs = [(s, t) for s, t in zip(sources, targets) if s.strip() and t.strip()]
        splits[split] = Dataset.from_dict({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})
    if "train" not in splits:
        raise ValueError("validation_source_file needs train_source_file and train_target_file.")
    if "validation" not in splits:
        return split_off_validation(splits["train"], validation_split_percentage)
    return DatasetDict(splits)
