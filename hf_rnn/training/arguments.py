"""The arguments of a training run, with each task's defaults over them, and the checks made before anything runs.

`ModelArguments` (with early stopping and ULMFiT's fine-tuning options), `DataArguments` and transformers'
`Seq2SeqTrainingArguments` are the flags of `scripts/train.py`, in the dialect of transformers' example scripts. They
live here, not in the script, because the tasks read them and the tests parse them. `parse_arguments` puts the task's
`training_defaults` under what the caller gave (and, for a run on real data, its `data_training_defaults` over
those); `check_run_arguments` refuses, before anything is loaded or written, values transformers would accept and
misuse.
Errors name the fields (`max_steps=0 is invalid`); the script shows them as flags (`--max_steps=0`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from transformers import HfArgumentParser, Seq2SeqTrainingArguments, TrainingArguments

from ..configuration_rnn import CELL_TYPES, POOLING_TYPES
from ..configuration_rnn_seq2seq import ATTENTION_TYPES
from ..tasks import TASKS, Task, get_task
from ..tasks.base import check_number, check_test_arguments
from ..tasks.models import NEW_HEAD_FIELDS, saved_body_transfer
from ..tokenization import TOKENIZER_KINDS

# The model arguments that shape a new model's config: a saved model (model_name_or_path) fixes them.
MODEL_CONFIG_FIELDS = (
    "cell",
    "hidden_size",
    "num_layers",
    "embedding_size",
    "proj_size",
    "embedding_dropout",
    "layer_dropout",
    "output_dropout",
    "word_dropout",
    "locked_dropout",
    "weight_drop",
    "activation_regularization",
    "temporal_activation_regularization",
    "tie_word_embeddings",
    "bidirectional",
    "classifier_pooling",
    "crf",
    "char_features",
    "attention",
    "segment_length",
    "distribution_output",
)
# The AWD-LSTM regularizers and the tagger's options: a task lists those its model uses (`Task.regularizers`,
# `Task.tagger_options`); the others are refused when set.
REGULARIZERS = (
    "word_dropout",
    "locked_dropout",
    "weight_drop",
    "activation_regularization",
    "temporal_activation_regularization",
)
TAGGER_OPTIONS = ("crf", "char_features")


@dataclass
class ModelArguments:
    """
    Which task, which model (new or saved), which tokenizer, how a saved model's layers are fine-tuned (ULMFiT) and
    when training stops early, and the model card's license. (Not in the training arguments: those are transformers'
    own class, which training_args.bin must load as without hf_rnn.)
    """

    _argument_group_name = "task, model and tokenizer (hf_rnn)"  # the heading of these flags in --help

    task: str = field(
        default="causal-lm",
        metadata={"help": f"One of {', '.join(TASKS)}."},
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved hf_rnn model folder to continue training; omit for a new model."}
    )
    cell: str = field(default="lstm", metadata={"help": f"New model: one of {', '.join(CELL_TYPES)}."})
    hidden_size: int = field(default=256, metadata={"help": "New model: hidden units per layer."})
    num_layers: int = field(default=1, metadata={"help": "New model: stacked recurrent layers."})
    embedding_size: int | None = field(
        default=None, metadata={"help": "New model: embedding width (default: the stack's output size)."}
    )
    proj_size: int = field(default=0, metadata={"help": "New model: LSTM output projection (0 = none)."})
    embedding_dropout: float = field(default=0.0, metadata={"help": "New model: dropout on the embeddings."})
    layer_dropout: float = field(default=0.0, metadata={"help": "New model: dropout between recurrent layers."})
    output_dropout: float = field(default=0.1, metadata={"help": "New model: dropout before the output layer."})
    word_dropout: float = field(
        default=0.0, metadata={"help": "New model: drop whole word types from the embedding matrix (AWD-LSTM)."}
    )
    locked_dropout: bool = field(
        default=False,
        metadata={"help": "New model: the dropouts above use one mask per sequence for all its steps (AWD-LSTM)."},
    )
    weight_drop: float = field(
        default=0.0, metadata={"help": "New model: DropConnect on the hidden-to-hidden weights (AWD-LSTM)."}
    )
    activation_regularization: float = field(
        default=0.0, metadata={"help": "New causal LM: AR, alpha * mean squared top-layer output (AWD-LSTM)."}
    )
    temporal_activation_regularization: float = field(
        default=0.0, metadata={"help": "New causal LM: TAR, beta * mean squared step-to-step change (AWD-LSTM)."}
    )
    tie_word_embeddings: bool = field(
        default=True, metadata={"help": "New model: share the output matrix with the input embeddings."}
    )
    bidirectional: bool | None = field(
        default=None,
        metadata={
            "help": "New model: run the recurrent layers both ways (translation: the encoder). Default: on for "
            "sequence-classification, token-classification and translation; a causal LM cannot be bidirectional."
        },
    )
    classifier_pooling: str = field(
        default="last",
        metadata={
            "help": f"New sequence classifier: one of {', '.join(POOLING_TYPES)} (how a sentence becomes "
            "one vector; 'last' joins the final states of both directions)."
        },
    )
    crf: bool = field(
        default=False,
        metadata={
            "help": "New token-classification model: a linear-chain CRF output layer (BiLSTM-CRF): trained on whole "
            "tag sequences, decoded by Viterbi among the IOB2-valid ones."
        },
    )
    char_features: str = field(
        default="none",
        metadata={
            "help": "New token-classification model: character-level word features joined to the word embeddings, "
            "'lstm' (a character BiLSTM, Lample et al. 2016), 'cnn' (Ma & Hovy 2016) or 'none'. Spellings come from "
            "the tokenizer's vocabulary: a word outside it has none, so raise --tokenizer_vocab_size to keep every "
            "training word."
        },
    )
    attention: str = field(
        default="luong_general",
        metadata={"help": f"New translation model: one of {', '.join(ATTENTION_TYPES)}."},
    )
    segment_length: int = field(
        default=24, metadata={"help": "time-series-forecasting, new model: values per segment (SegRNN)."}
    )
    distribution_output: str | None = field(
        default=None,
        metadata={"help": "time-series-forecasting, new model: 'normal' or 'student_t' for a probabilistic forecast."},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "New model: config fields to set after the flags above, as in transformers' run_clm.py: "
            "'normalization=last_value,loss=mae' (the fields of the task's config class; ints, floats, strings, "
            "true/false)."
        },
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A saved tokenizer folder (default: the model's, or train a new one)."}
    )
    tokenizer_type: str = field(
        default="char", metadata={"help": f"New tokenizer: one of {', '.join(TOKENIZER_KINDS)}."}
    )
    tokenizer_vocab_size: int = field(
        default=8000, metadata={"help": "New tokenizer: vocabulary cap, special tokens included."}
    )
    license: str | None = field(
        default=None,
        metadata={
            "help": "The model card's license, a Hub license id such as apache-2.0 or mit (default: the license on "
            "the card of a local --model_name_or_path; else the card has none, as the choice is yours)."
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop training after this many evaluations in a row without a better --metric_for_best_model "
            "(EarlyStoppingCallback). Default: 3 for sequence- and token-classification on real data "
            "(--train_file / --dataset_name), else off."
        },
    )
    # ULMFiT (Howard & Ruder, 2018; `hf_rnn.fine_tuning`), for a classifier or tagger built on a pretrained language
    # model (--model_name_or_path runs/causal-lm) or a language model fine-tuned on new text. Off by default.
    discriminative_lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "ULMFiT's discriminative fine-tuning: the head learns at --learning_rate and each layer group "
            "below it at the rate of the group above divided by this (the paper: 2.6). The groups, from the top: the "
            "head, each recurrent layer (top first), the embedding. 1.0: every group at --learning_rate. "
            "causal-lm, sequence- and token-classification."
        },
    )
    gradual_unfreezing: bool = field(
        default=False,
        metadata={
            "help": "ULMFiT's gradual unfreezing: the first epoch trains the head only, and each epoch after it "
            "unfreezes the next layer group down (see --discriminative_lr_decay), until all of them train. "
            "causal-lm, sequence- and token-classification."
        },
    )
    slanted_triangular: bool = field(
        default=False,
        metadata={
            "help": "ULMFiT's slanted triangular learning rate, in place of --lr_scheduler_type and --warmup_steps: "
            "it rises linearly from learning_rate / --stlr_ratio to learning_rate over the first --stlr_cut_frac of "
            "the optimizer steps, then falls linearly back to learning_rate / --stlr_ratio at the last step. "
            "causal-lm, sequence- and token-classification."
        },
    )
    stlr_cut_frac: float = field(
        default=0.1, metadata={"help": "--slanted_triangular: the fraction of the steps spent rising (the paper: 0.1)."}
    )
    stlr_ratio: float = field(
        default=32.0,
        metadata={"help": "--slanted_triangular: how much smaller the lowest rate is than the peak (the paper: 32)."},
    )


@dataclass
class DataArguments:
    """
    What to train and evaluate on. Without a dataset or file: the task's embedded default (the Python documentation
    for causal-lm; generated data for the others, see `hf_rnn.demo_data`). Also --overwrite_output_dir, which
    transformers 5 no longer has.
    """

    _argument_group_name = "data (hf_rnn)"

    dataset_name: str | None = field(
        default=None, metadata={"help": "A dataset on the Hugging Face Hub (needs the network)."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The Hub dataset's configuration."})
    train_file: str | None = field(default=None, metadata={"help": "A local .txt (or .csv/.json/.jsonl) file."})
    validation_file: str | None = field(default=None, metadata={"help": "A local validation file, same format."})
    text_column: str = field(
        default="text",
        metadata={"help": "The column holding the text (.txt: 'text'; sequence-classification default: 'sentence')."},
    )
    label_column: str = field(
        default="label", metadata={"help": "sequence-classification: the column of labels (strings or integers)."}
    )
    tokens_column: str = field(
        default="tokens", metadata={"help": "token-classification, .json/.jsonl: the column of word lists."}
    )
    tags_column: str = field(
        default="ner_tags", metadata={"help": "token-classification, .json/.jsonl: the column of tag lists."}
    )
    max_seq_length: int = field(
        default=128, metadata={"help": "sequence- and token-classification: longer inputs are truncated (tokens)."}
    )
    train_source_file: str | None = field(
        default=None, metadata={"help": "translation: source sentences, one a line (.txt, or .gz)."}
    )
    train_target_file: str | None = field(
        default=None, metadata={"help": "translation: their translations, line-aligned with --train_source_file."}
    )
    validation_source_file: str | None = field(default=None, metadata={"help": "translation: validation sources."})
    validation_target_file: str | None = field(default=None, metadata={"help": "translation: validation targets."})
    source_column: str = field(
        default="source", metadata={"help": "translation, --train_file .json/.jsonl: the column of sources."}
    )
    target_column: str = field(
        default="target", metadata={"help": "translation, --train_file .json/.jsonl: the column of targets."}
    )
    source_lang: str | None = field(
        default=None,
        metadata={"help": "translation: the source language's code, for naming (and a Hub 'translation' column)."},
    )
    target_lang: str | None = field(default=None, metadata={"help": "translation: the target language's code."})
    max_source_length: int = field(
        default=128, metadata={"help": "translation: source tokens kept (end of sentence included)."}
    )
    max_target_length: int = field(
        default=128,
        metadata={
            "help": "translation: target tokens kept (end of sentence included). Without --generation_max_length, "
            "generation stops after 1.5 times the longest kept train target + 10 tokens, at most this many."
        },
    )
    date_column: str = field(default="date", metadata={"help": "time-series-forecasting: the CSV's date column."})
    target_columns: list[str] | None = field(
        default=None,
        metadata={"help": "time-series-forecasting: the columns to forecast (default: every column but the date)."},
    )
    context_length: int = field(default=96, metadata={"help": "time-series-forecasting: past steps the model reads."})
    prediction_length: int = field(default=24, metadata={"help": "time-series-forecasting: future steps forecast."})
    test_file: str | None = field(
        default=None,
        metadata={
            "help": "With --do_predict: a file in the format of --train_file to predict (and score, if it has labels), "
            "as run_glue / run_ner do. sequence- and token-classification need it (or a --dataset_name with a 'test' "
            "split); time-series-forecasting defaults to the last --validation_split_percentage of the rows, after "
            "the validation rows."
        },
    )
    validation_split_percentage: float = field(
        default=10, metadata={"help": "Without a validation split: this percentage of train rows becomes one."}
    )
    block_size: int = field(
        default=128,
        metadata={"help": "Tokens per training example (text is grouped); with --stateful_bptt, the BPTT length."},
    )
    stateful_bptt: bool = field(
        default=False,
        metadata={
            "help": "causal-lm: train as PyTorch's word_language_model and AWD-LSTM do (stateful truncated BPTT). "
            "The training text becomes one token stream cut into --per_device_train_batch_size contiguous streams "
            "per process; batch k holds tokens [k*block_size, (k+1)*block_size) of every stream, in order, and the "
            "recurrent state carries from batch to batch (detached), reset to zero at each epoch. Evaluation runs "
            "the validation text the same way (--per_device_eval_batch_size streams), so perplexity is exp of the "
            "mean loss over every validation token. --max_*_samples then keep N*block_size tokens."
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Write into a non-empty --output_dir, replacing the files this run writes (other files stay). "
            "Refused while it holds checkpoint-* folders of an earlier run: Trainer's --save_total_limit rotation "
            "would delete them; move them away, or resume one with --resume_from_checkpoint."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many train blocks."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many validation blocks."})
    num_sample_generations: int = field(
        default=3, metadata={"help": "Texts to sample from the trained LM (translation: sample translations shown)."}
    )
    sample_max_new_tokens: int = field(default=300, metadata={"help": "Length of each sample, in tokens."})
    sample_prompt: str | None = field(
        default=None, metadata={"help": "Prompt of the samples (default: the validation text's first line)."}
    )


# The training flags `--help` lists: what users of transformers' example scripts reach for most.
# `--help_all` lists every flag of Seq2SeqTrainingArguments; all of them are accepted either way.
TRAINING_HELP_FLAGS = (
    "output_dir", "max_steps", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
    "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay",
    "max_grad_norm", "logging_steps", "eval_strategy", "eval_steps", "save_steps", "load_best_model_at_end",
    "metric_for_best_model", "resume_from_checkpoint", "do_predict", "generation_num_beams", "seed", "bf16",
    "push_to_hub", "hub_model_id",
)  # fmt: skip
USAGE = "%(prog)s [--task TASK] [--FLAG VALUE ...]\n       %(prog)s config.json  (the same flags, as a JSON object)"
TRAINING_DOCS = "https://huggingface.co/docs/transformers/main_classes/trainer#transformers.Seq2SeqTrainingArguments"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """HfArgumentParser's formatter (each flag's default shown), with the description and epilog kept as written."""


class _GroupedTrainingArguments(Seq2SeqTrainingArguments):
    """Seq2SeqTrainingArguments with a heading in --help; only its fields are used (see `TrainArgumentParser`)."""

    _argument_group_name = "training (transformers' Seq2SeqTrainingArguments)"


class TrainArgumentParser(HfArgumentParser):
    """
    The `HfArgumentParser` of a training run, over `ModelArguments`, `DataArguments` and `Seq2SeqTrainingArguments`
    (for every task: a superset of `TrainingArguments` whose generation fields only the translation task reads), each
    under its own heading in that order. With some 200 training flags, `--help` lists hf_rnn's own flags and the
    training flags in `TRAINING_HELP_FLAGS`; `--help_all` lists every flag. Every flag is accepted either way.
    """

    def __init__(self):
        training_flags = sum(f.init for f in fields(Seq2SeqTrainingArguments))
        super().__init__(
            (ModelArguments, DataArguments, _GroupedTrainingArguments),
            usage=USAGE,
            description="Train an hf_rnn model (Elman RNN, LSTM or GRU) for a task with transformers' Trainer.",
            epilog=f"Every one of the {training_flags} flags of transformers' Seq2SeqTrainingArguments is accepted; "
            f"--help_all lists them all, and\n{TRAINING_DOCS}\nexplains them.",
            formatter_class=_HelpFormatter,
        )
        # Parse into transformers' own class: Trainer pickles the arguments into training_args.bin, which must load
        # without hf_rnn.
        self.dataclass_types[-1] = Seq2SeqTrainingArguments
        self.add_argument("--help_all", action=_FullHelpAction, help="show this help with every training flag and exit")
        self._training_fields = {f.name for f in fields(Seq2SeqTrainingArguments)}

    def format_help(self) -> str:
        """The short help: hf_rnn's flags and the `TRAINING_HELP_FLAGS`."""
        hidden = [
            action
            for action in self._actions
            if action.dest in self._training_fields and action.dest not in TRAINING_HELP_FLAGS
        ]
        shown = [action.help for action in hidden]
        for action in hidden:
            action.help = argparse.SUPPRESS
        try:
            return super().format_help()
        finally:
            for action, text in zip(hidden, shown):
                action.help = text

    def format_full_help(self) -> str:
        """The help with every flag."""
        return super().format_help()


class _FullHelpAction(argparse.Action):
    """`--help_all`: print `format_full_help()` and exit, as argparse's `--help` prints its help."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(parser.format_full_help())
        parser.exit()


def argument_parser() -> TrainArgumentParser:
    """The parser of a training run (see `TrainArgumentParser`)."""
    return TrainArgumentParser()


def parse_arguments(
    argv: list[str], parser: HfArgumentParser | None = None
) -> tuple[ModelArguments, DataArguments, Seq2SeqTrainingArguments]:
    """
    Flags (or one .json file) over the task's `training_defaults`, `output_dir` defaulting to `runs/<task>`.
    Unknown flags exit as argparse does; a value TrainingArguments refuses is its own ValueError.
    """
    parser = parser or argument_parser()
    if len(argv) == 1 and argv[0].endswith(".json"):
        given = json.loads(Path(argv[0]).read_text())
        return parser.parse_dict({**training_defaults(given.get("task", ModelArguments.task), given), **given})
    # The defaults depend on the task, so read --task alone first.
    task_parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    task_parser.add_argument("--task", default=ModelArguments.task)
    task = task_parser.parse_known_args(argv)[0].task
    parser.set_defaults(**training_defaults(task, given_arguments(argv)))
    return parser.parse_args_into_dataclasses(args=argv)


def given_arguments(argv: list[str]) -> dict[str, str | None]:
    """The fields the flags of `argv` set, each with the value written after its flag (None if there is none)."""
    given = {}
    for index, arg in enumerate(argv):
        if arg.startswith("--"):
            name, equals, value = arg.lstrip("-").partition("=")
            if not equals:
                following = argv[index + 1] if index + 1 < len(argv) else None
                value = None if following is None or following.startswith("--") else following
            given[name.replace("-", "_")] = value
    return given


def is_given_true(given: Mapping, name: str) -> bool:
    """`given` sets the boolean `name` on (`--name`, `--name true`, or a JSON `true`)."""
    return name in given and str(given[name]).lower() not in ("false", "f", "no", "n", "0")


def training_defaults(task: str, given: Mapping[str, object]) -> dict:
    """
    The defaults of a `task` run, given the arguments the caller set (`given`: field name -> the value given, where
    known). A run on real data (train_file or dataset_name) takes the task's `data_training_defaults` over its
    `training_defaults`, which are sized for its embedded data.
    """
    task_class = TASKS.get(task)
    defaults = {
        "output_dir": f"runs/{task}",
        # Every parameter takes part in every forward pass, so DDP's unused-parameter search is pure overhead
        # (gradual unfreezing, below, is the exception).
        "ddp_find_unused_parameters": False,
        # Pinned memory only speeds up copies to a GPU; without one torch warns at every evaluation.
        "dataloader_pin_memory": torch.cuda.is_available(),
        **(task_class.training_defaults if task_class else {}),
    }
    real_data = any(given.get(name) is not None for name in ("train_file", "dataset_name"))
    if task_class is not None and real_data:
        defaults.update(task_class.data_training_defaults)
        # The best model is loaded from the checkpoint of its evaluation, so saving follows the evaluation strategy
        # the caller chose (or the other way round); without evaluations or checkpoints there is no best model to
        # keep, nor one to stop at.
        for one, other in (("eval_strategy", "save_strategy"), ("save_strategy", "eval_strategy")):
            if one in given and other not in given and str(given[one]) != "no":
                defaults[other] = given[one]
        if "no" in (str(given.get("eval_strategy")), str(given.get("save_strategy"))):
            for name in ("load_best_model_at_end", "metric_for_best_model", "early_stopping_patience"):
                defaults.pop(name, None)
    if "num_train_epochs" in given:  # a max_steps default would silently override the user's epoch count
        defaults.pop("max_steps", None)
    if is_given_true(given, "gradual_unfreezing"):
        # Frozen layers get no gradient, which DDP must be told to expect.
        defaults["ddp_find_unused_parameters"] = True
    if is_given_true(given, "slanted_triangular"):
        # The slanted triangle is the whole schedule, warm-up included: nothing of Trainer's may stack on it.
        defaults.update(lr_scheduler_type="constant", warmup_steps=0)
    if "bf16" in given and not torch.cuda.is_available():
        # transformers refuses --bf16 without a GPU unless use_cpu says the CPU is meant; bf16 autocast is the
        # fast path on CPUs with bf16 instructions (AVX512-BF16, AMX; benchmarks/README.md), so bf16 alone asks for it.
        defaults["use_cpu"] = True
    return defaults


def check_model_flags(model_args: ModelArguments) -> None:
    """
    Arguments that shape a new model cannot reshape a saved one (a new head on a saved body takes its own pooling and
    dropout), nor set a regularizer the task does not use.
    """
    task_defaults = get_task(model_args.task).training_defaults
    defaults = ModelArguments(**{name: value for name, value in task_defaults.items() if name in MODEL_CONFIG_FIELDS})
    changed = [name for name in MODEL_CONFIG_FIELDS if getattr(model_args, name) != getattr(defaults, name)]
    body = saved_body_transfer(get_task(model_args.task), model_args.model_name_or_path)
    if body is not None:
        if model_args.bidirectional is not None and model_args.bidirectional != body.bidirectional:
            reads = "both ways" if body.bidirectional else "in one direction (a language model reads left to right)"
            raise ValueError(
                f"`bidirectional` {model_args.bidirectional} cannot be combined with model_name_or_path: the body of "
                f"its {body.architectures[0]} reads {reads}, and so does the model built on it."
            )
        changed = [name for name in changed if name not in (*NEW_HEAD_FIELDS, "bidirectional")]
    if model_args.config_overrides is not None and model_args.model_name_or_path is not None:
        raise ValueError(
            "`config_overrides` cannot be combined with model_name_or_path: the saved config fixes the architecture "
            "(it overrides the config of a new model)."
        )
    if model_args.model_name_or_path is not None and changed:
        raise ValueError(
            f"`{changed[0]}` cannot be combined with model_name_or_path: the saved config fixes the architecture."
        )
    used = {task.name: task.regularizers + task.tagger_options for task in TASKS.values()}
    unused = [name for name in changed if name in REGULARIZERS + TAGGER_OPTIONS and name not in used[model_args.task]]
    if unused:
        users = " and ".join(f"`task` {name}" for name, fields in used.items() if unused[0] in fields)
        raise ValueError(f"`{unused[0]}` is only used by {users}, not by `task` {model_args.task}.")


def check_run_arguments(
    model_args: ModelArguments, data_args: DataArguments, training_args: Seq2SeqTrainingArguments
) -> None:
    """
    Values transformers accepts and then misuses (max_steps=0 runs one step, -5 runs three epochs) or rejects
    only once training has started or ended (a negative learning rate, an evaluation batch of 0); then the task's
    own checks, and the model arguments against a saved model.
    """
    task = get_task(model_args.task)
    args = training_args
    if args.max_steps == 0 or args.max_steps < -1:
        raise ValueError(
            f"max_steps={args.max_steps} is invalid; give a positive number of optimizer steps, or -1 to train "
            "for num_train_epochs."
        )
    if args.max_steps == -1:
        check_number("num_train_epochs", args.num_train_epochs, 0, inclusive=False)
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        check_number(name, getattr(args, name), 1, what="a whole number")
    if args.eval_accumulation_steps is not None:
        check_number("eval_accumulation_steps", args.eval_accumulation_steps, 1, what="a whole number")
    for name in ("learning_rate", "weight_decay", "max_grad_norm", "warmup_steps", "adam_epsilon"):
        check_number(name, getattr(args, name), 0)
    for name in ("adam_beta1", "adam_beta2"):
        value = getattr(args, name)
        if not (math.isfinite(value) and 0 <= value < 1):
            raise ValueError(f"{name}={value} is invalid; it must be in [0, 1).")
    for name in ("logging_steps", "eval_steps", "save_steps"):
        value = getattr(args, name)
        if value is not None:
            check_number(name, value, 0, inclusive=False)
    for name in ("max_train_samples", "max_eval_samples"):
        if getattr(data_args, name) is not None:
            check_number(name, getattr(data_args, name), 1, what="a whole number")
    check_number("block_size", data_args.block_size, 1, what="a whole number of tokens")
    check_number("num_sample_generations", data_args.num_sample_generations, 0, what="a whole number")
    check_fine_tuning_arguments(task, model_args, training_args)
    check_test_arguments(task, data_args, training_args)
    task.check_arguments(model_args, data_args, training_args)
    check_number("tokenizer_vocab_size", model_args.tokenizer_vocab_size, 1, what="a whole number")
    check_model_flags(model_args)


def check_fine_tuning_arguments(
    task: Task, model_args: ModelArguments, training_args: Seq2SeqTrainingArguments
) -> None:
    """Early stopping and the ULMFiT options: values in range, on a task and schedule they can work with."""
    args = training_args
    if model_args.early_stopping_patience is not None:
        check_number("early_stopping_patience", model_args.early_stopping_patience, 1, what="a whole number")
        if args.eval_strategy == "no" or args.metric_for_best_model is None:
            raise ValueError(
                "early_stopping_patience needs evaluations to compare: an eval_strategy other than 'no' and a "
                "metric_for_best_model (e.g. accuracy, f1 or loss)."
            )
    check_number("discriminative_lr_decay", model_args.discriminative_lr_decay, 0, inclusive=False)
    # The ULMFiT options act through the task's FineTuningTrainer, which knows its model's layer groups.
    ulmfit = {
        "discriminative_lr_decay": model_args.discriminative_lr_decay != 1,
        "gradual_unfreezing": model_args.gradual_unfreezing,
        "slanted_triangular": model_args.slanted_triangular,
    }
    for name, used in ulmfit.items():
        if used and not task.fine_tunes_by_layer:
            users = ", ".join(other.name for other in TASKS.values() if other.fine_tunes_by_layer)
            raise ValueError(
                f"{name} is for the tasks whose model is an embedding, recurrent layers and a head ({users}), not "
                f"`task` {task.name}."
            )
    if model_args.gradual_unfreezing and args.ddp_find_unused_parameters is False and args.world_size > 1:
        raise ValueError(
            "gradual_unfreezing leaves the frozen layers without gradients, which DDP must expect: drop "
            "ddp_find_unused_parameters False."
        )
    if model_args.slanted_triangular:
        if not 0 < model_args.stlr_cut_frac < 1:
            raise ValueError(f"stlr_cut_frac={model_args.stlr_cut_frac} is invalid; it must be in (0, 1).")
        check_number("stlr_ratio", model_args.stlr_ratio, 1)
        if args.lr_scheduler_type != "constant" or args.warmup_steps != 0:
            raise ValueError(
                "slanted_triangular is a whole schedule, warm-up included: it cannot be combined with "
                f"lr_scheduler_type {args.lr_scheduler_type} or warmup_steps {args.warmup_steps}."
            )


def keep_hub_token_out_of_files(training_args: TrainingArguments) -> None:
    """
    Trainer pickles its arguments whole into training_args.bin (in every checkpoint and the output folder, and
    pushed with them): a hub_token would be written there in clear. It moves to the environment instead, where
    huggingface_hub reads a token whenever it needs one (`HF_TOKEN` wins over a stored login, as the flag would).
    """
    if training_args.hub_token:
        os.environ["HF_TOKEN"] = training_args.hub_token
        training_args.hub_token = None
