#!/usr/bin/env python
"""
Train an hf_rnn model (Elman RNN, LSTM or GRU) with `transformers.Trainer`, in the dialect of transformers'
`run_clm.py`.

    python scripts/train.py                                   # char-level LSTM LM on the embedded Python docs
    accelerate launch scripts/train.py --train_file my.txt --tokenizer_type bpe --max_steps 2000
    python scripts/train.py config.json                       # the same flags, as a JSON object

With no data flags it trains on English every Python installation carries (the `pydoc_data` topics), and its
defaults are sized for a small CPU: about two minutes on two cores. The output folder holds the model (with its
modeling code, for `trust_remote_code`), tokenizer, generation config, `*_results.json` (eval loss and
perplexity), `loss.png` and `samples.txt`.

Tasks plug in through `TASKS`: a task turns the parsed arguments into a `TaskSetup` (model, tokenizer,
datasets, collator, task metrics and outputs); training, evaluation and saving are shared.
"""

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import datasets
import transformers
from matplotlib.figure import Figure
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    HfArgumentParser,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    default_data_collator,
    set_seed,
)

import hf_rnn
from hf_rnn.data import load_lm_datasets, nonempty_texts, tokenize_and_group

logger = logging.getLogger(__name__)

# Chosen by measurement on a 2-core CPU, where `python scripts/train.py` trains, evaluates and samples in about
# two minutes: for a fixed time, many small batches beat fewer large ones or a wider or deeper model (a
# 256-unit, 1-layer LSTM reaches a validation loss of ~1.12 nats/char vs ~1.33 at batch 32 and ~1.47 with 512
# units; output dropout 0.1 takes ~0.03 off). Every value is only a default; a command-line flag (or a key in a
# JSON config) wins.
TRAINING_DEFAULTS = {
    "causal-lm": {
        "max_steps": 3000,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 64,
        "learning_rate": 2e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.05,  # below 1: a fraction of the training steps
        "logging_steps": 0.02,
        "eval_strategy": "steps",
        "eval_steps": 0.2,
        "save_steps": 0.2,  # a checkpoint with each evaluation; only the latest is kept
        "save_total_limit": 1,
    },
}
SAMPLING = {"do_sample": True, "temperature": 0.8, "top_k": 0}
MODEL_CONFIG_FLAGS = (
    "cell",
    "hidden_size",
    "num_layers",
    "embedding_size",
    "proj_size",
    "embedding_dropout",
    "layer_dropout",
    "output_dropout",
    "tie_word_embeddings",
)


@dataclass
class ModelArguments:
    """Which task, which model (new or saved), and which tokenizer."""

    task: str = field(
        default="causal-lm",
        metadata={"help": "causal-lm; later: sequence-classification, token-classification, translation."},
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved hf_rnn model folder to continue training; omit for a new model."}
    )
    cell: str = field(default="lstm", metadata={"help": f"New model: one of {', '.join(hf_rnn.CELL_TYPES)}."})
    hidden_size: int = field(default=256, metadata={"help": "New model: hidden units per layer."})
    num_layers: int = field(default=1, metadata={"help": "New model: stacked recurrent layers."})
    embedding_size: int | None = field(
        default=None, metadata={"help": "New model: embedding width (default: the stack's output size)."}
    )
    proj_size: int = field(default=0, metadata={"help": "New model: LSTM output projection (0 = none)."})
    embedding_dropout: float = field(default=0.0, metadata={"help": "New model: dropout on the embeddings."})
    layer_dropout: float = field(default=0.0, metadata={"help": "New model: dropout between recurrent layers."})
    output_dropout: float = field(default=0.1, metadata={"help": "New model: dropout before the output layer."})
    tie_word_embeddings: bool = field(
        default=True, metadata={"help": "New model: share the output matrix with the input embeddings."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A saved tokenizer folder (default: the model's, or train a new one)."}
    )
    tokenizer_type: str = field(
        default="char", metadata={"help": f"New tokenizer: one of {', '.join(hf_rnn.TOKENIZER_KINDS)}."}
    )
    tokenizer_vocab_size: int = field(
        default=8000, metadata={"help": "New tokenizer: vocabulary cap, special tokens included."}
    )


@dataclass
class DataArguments:
    """What to train and evaluate on. Without a dataset or file: the embedded Python documentation."""

    dataset_name: str | None = field(
        default=None, metadata={"help": "A dataset on the Hugging Face Hub (needs the network)."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The Hub dataset's configuration."})
    train_file: str | None = field(default=None, metadata={"help": "A local .txt (or .csv/.json/.jsonl) file."})
    validation_file: str | None = field(default=None, metadata={"help": "A local validation file, same format."})
    text_column: str = field(default="text", metadata={"help": "The column holding the text (.txt: 'text')."})
    validation_split_percentage: float = field(
        default=10, metadata={"help": "Without a validation split: this percentage of train rows becomes one."}
    )
    block_size: int = field(default=128, metadata={"help": "Tokens per training example (text is grouped)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many train blocks."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many validation blocks."})
    num_sample_generations: int = field(default=3, metadata={"help": "Texts to sample from the trained LM."})
    sample_max_new_tokens: int = field(default=300, metadata={"help": "Length of each sample, in tokens."})
    sample_prompt: str | None = field(
        default=None, metadata={"help": "Prompt of the samples (default: the validation text's first line)."}
    )


@dataclass
class TaskSetup:
    """What a task hands to the shared train / evaluate / save steps."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    train_dataset: datasets.Dataset
    eval_dataset: datasets.Dataset
    data_collator: Callable = default_data_collator
    derived_metrics: Callable[[dict], dict] = lambda metrics: {}
    after_training: Callable[[Trainer], None] = lambda trainer: None


def parse_arguments(argv: list[str]) -> tuple[ModelArguments, DataArguments, TrainingArguments]:
    """Flags (or one .json file) over the task's `TRAINING_DEFAULTS`, output_dir defaulting to `runs/<task>`."""
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        given = json.loads(Path(argv[0]).read_text())
        return parser.parse_dict({**training_defaults(given.get("task", ModelArguments.task), set(given)), **given})
    # The defaults depend on the task, so read --task alone first.
    task_parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    task_parser.add_argument("--task", default=ModelArguments.task)
    task = task_parser.parse_known_args(argv)[0].task
    given = {arg.lstrip("-").split("=")[0].replace("-", "_") for arg in argv if arg.startswith("--")}
    parser.set_defaults(**training_defaults(task, given))
    return parser.parse_args_into_dataclasses(args=argv)


def training_defaults(task: str, given: set[str]) -> dict:
    defaults = {"output_dir": f"runs/{task}", **TRAINING_DEFAULTS.get(task, {})}
    if "num_train_epochs" in given:  # a max_steps default would silently override the user's epoch count
        defaults.pop("max_steps", None)
    return defaults


def check_model_flags(model_args: ModelArguments) -> None:
    """Flags that shape a new model cannot reshape a saved one."""
    defaults = ModelArguments()
    changed = [name for name in MODEL_CONFIG_FLAGS if getattr(model_args, name) != getattr(defaults, name)]
    if model_args.model_name_or_path is not None and changed:
        raise ValueError(
            f"--{changed[0]} cannot be combined with --model_name_or_path: the saved config fixes the architecture."
        )


def load_causal_lm_config(model_name_or_path: str) -> transformers.PreTrainedConfig:
    """The saved config, after checking that it describes a causal LM."""
    try:
        config = AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model_name_or_path {model_name_or_path!r} has no loadable model config: {error}") from None
    architectures = config.architectures or []
    if not any(name.endswith("ForCausalLM") for name in architectures):
        raise ValueError(
            f"--model_name_or_path {model_name_or_path!r} holds a {', '.join(architectures) or 'bare'} model, "
            "not a causal language model; it cannot continue training with --task causal-lm."
        )
    return config


def load_or_train_tokenizer(
    model_args: ModelArguments, train_dataset: datasets.Dataset, text_column: str
) -> PreTrainedTokenizerBase:
    """--tokenizer_name, else the model folder's tokenizer, else a new one trained on the train split."""
    source = model_args.tokenizer_name or model_args.model_name_or_path
    if source is not None:
        flag = "--tokenizer_name" if model_args.tokenizer_name else "--model_name_or_path"
        try:
            return AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as error:
            raise ValueError(f"{flag} {source!r} has no loadable tokenizer: {error}") from None
    if model_args.tokenizer_type not in hf_rnn.TOKENIZER_KINDS:
        raise ValueError(
            f"--tokenizer_type={model_args.tokenizer_type!r} is not supported; "
            f"choose one of {', '.join(hf_rnn.TOKENIZER_KINDS)}."
        )
    if text_column not in train_dataset.column_names:
        raise ValueError(
            f"--text_column {text_column!r} is not a column of the train data ({train_dataset.column_names})."
        )
    logger.info(f"Training a {model_args.tokenizer_type} tokenizer on the train split")
    try:
        return hf_rnn.train_tokenizer(
            nonempty_texts(train_dataset, text_column),
            kind=model_args.tokenizer_type,
            vocab_size=model_args.tokenizer_vocab_size,
        )
    except ValueError as error:
        raise ValueError(f"--tokenizer_vocab_size / --tokenizer_type: {error}") from None


def build_causal_lm(model_args: ModelArguments, tokenizer: PreTrainedTokenizerBase) -> hf_rnn.RNNForCausalLM:
    """A new `RNNForCausalLM` sized by the model flags, with the tokenizer's vocabulary and special ids."""
    try:
        config = hf_rnn.RNNConfig(
            vocab_size=len(tokenizer),
            cell=model_args.cell,
            hidden_size=model_args.hidden_size,
            num_hidden_layers=model_args.num_layers,
            embedding_size=model_args.embedding_size,
            proj_size=model_args.proj_size,
            embedding_dropout=model_args.embedding_dropout,
            layer_dropout=model_args.layer_dropout,
            output_dropout=model_args.output_dropout,
            tie_word_embeddings=model_args.tie_word_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return hf_rnn.RNNForCausalLM(config)
    except ValueError as error:
        # The config names its field (num_hidden_layers is --num_layers); the flags share the other names.
        raise ValueError(f"invalid model flags: {error}") from None


def prepare_causal_lm(
    model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments
) -> TaskSetup:
    check_model_flags(model_args)
    if model_args.model_name_or_path is not None:
        load_causal_lm_config(model_args.model_name_or_path)  # fail before loading any data

    raw_datasets = load_lm_datasets(
        data_args.dataset_name,
        data_args.dataset_config_name,
        data_args.train_file,
        data_args.validation_file,
        data_args.validation_split_percentage,
    )
    tokenizer = load_or_train_tokenizer(model_args, raw_datasets["train"], data_args.text_column)
    if model_args.model_name_or_path is not None:
        model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path)
        if len(tokenizer) > model.config.vocab_size:
            raise ValueError(
                f"--tokenizer_name has {len(tokenizer)} tokens, more than the model's vocab_size "
                f"{model.config.vocab_size} (--model_name_or_path)."
            )
    else:
        model = build_causal_lm(model_args, tokenizer)
    logger.info(f"Model: {model.num_parameters():,} parameters\n{model}")
    # Saved with the model: `generate()` and the text-generation pipeline then sample, as a char LM needs.
    model.generation_config.update(**SAMPLING, max_new_tokens=data_args.sample_max_new_tokens)

    if data_args.block_size < 1:
        raise ValueError(f"--block_size={data_args.block_size} is invalid; it must be a positive number of tokens.")
    block_size = min(data_args.block_size, tokenizer.model_max_length)
    with training_args.main_process_first(desc="tokenize and group texts"):
        lm_datasets = tokenize_and_group(raw_datasets, tokenizer, data_args.text_column, block_size)
    train_dataset = first_rows(lm_datasets["train"], data_args.max_train_samples)
    eval_dataset = first_rows(lm_datasets["validation"], data_args.max_eval_samples)
    logger.info(f"{len(train_dataset)} train and {len(eval_dataset)} validation blocks of {block_size} tokens")

    prompt = data_args.sample_prompt
    if prompt is None:
        prompt = first_line(nonempty_texts(raw_datasets["validation"], data_args.text_column))

    def write_samples(trainer: Trainer) -> None:
        if data_args.num_sample_generations < 1 or not trainer.is_world_process_zero():
            return
        samples = sample_texts(model, tokenizer, prompt, data_args, seed=training_args.seed)
        text = "".join(f"=== sample {i + 1} ===\n{sample}\n\n" for i, sample in enumerate(samples))
        logger.info(f"Samples from the prompt {prompt!r}:\n{text}")
        (Path(training_args.output_dir) / "samples.txt").write_text(text)

    return TaskSetup(
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        derived_metrics=lambda metrics: {"perplexity": perplexity(metrics["eval_loss"])},
        after_training=write_samples,
    )


def first_rows(dataset: datasets.Dataset, max_rows: int | None) -> datasets.Dataset:
    return dataset if max_rows is None else dataset.select(range(min(max_rows, len(dataset))))


def first_line(texts: Iterable[str], max_chars: int = 60) -> str:
    """The first line with a visible character (at most `max_chars` of it): the default sample prompt."""
    lines = (line for text in texts for line in text.splitlines())
    return next((line[:max_chars] for line in lines if line.strip()), "")


def perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


def sample_texts(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str, data_args: DataArguments, seed: int
) -> list[str]:
    """`num_sample_generations` sampled continuations of `prompt`, each decoded with the prompt in front."""
    input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    if input_ids.size(1) == 0:  # an empty prompt: start from <s>
        input_ids = input_ids.new_tensor([[tokenizer.bos_token_id]])
    set_seed(seed)
    model.eval()
    outputs = model.generate(
        input_ids=input_ids.to(model.device),
        attention_mask=input_ids.new_ones(input_ids.shape).to(model.device),
        num_return_sequences=data_args.num_sample_generations,
        max_new_tokens=data_args.sample_max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        **SAMPLING,
    )
    return tokenizer.batch_decode(outputs, skip_special_tokens=True)


def plot_loss(log_history: list[dict], path: Path) -> None:
    """Training and validation loss over steps, as a PNG."""
    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    evaluation = [(entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry]
    # A bare Figure renders with the Agg backend: no display, no global pyplot state.
    figure = Figure(figsize=(7, 4.5), layout="tight")
    axes = figure.add_subplot()
    for points, label, style in ((train, "training", "-"), (evaluation, "validation", "o-")):
        if points:
            axes.plot(*zip(*points), style, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per token)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=100)


# Each task: a function from the parsed arguments to a `TaskSetup`; None marks a task not implemented yet.
TASKS: dict[str, Callable[..., TaskSetup] | None] = {
    "causal-lm": prepare_causal_lm,
    "sequence-classification": None,
    "token-classification": None,
    "translation": None,
}


def task_preparer(task: str) -> Callable[..., TaskSetup]:
    if TASKS.get(task) is None:
        listed = ", ".join(name + ("" if TASKS[name] else " (not implemented yet)") for name in TASKS)
        verdict = "is not implemented yet" if task in TASKS else "is not a task"
        raise ValueError(f"--task {task!r} {verdict}; the tasks are: {listed}.")
    return TASKS[task]


def fail(message: str) -> NoReturn:
    """A user error: one line on stderr, exit status 2 (as argparse does), no traceback."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    sys.exit(2)


def setup_logging(training_args: TrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    logger.setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    log_level = training_args.get_process_log_level()
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def main(argv: list[str] | None = None) -> None:
    try:
        model_args, data_args, training_args = parse_arguments(sys.argv[1:] if argv is None else argv)
        prepare = task_preparer(model_args.task)
    except (ValueError, OSError) as error:
        fail(str(error))
    setup_logging(training_args)
    logger.info(f"Task {model_args.task}, output to {training_args.output_dir}")
    set_seed(training_args.seed)

    try:
        setup = prepare(model_args, data_args, training_args)
    except (ValueError, OSError) as error:
        fail(str(error))

    trainer = Trainer(
        model=setup.model,
        args=training_args,
        train_dataset=setup.train_dataset,
        eval_dataset=setup.eval_dataset,
        processing_class=setup.tokenizer,  # saved next to the model and in every checkpoint
        data_collator=setup.data_collator,
    )

    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # model, config with auto_map, modeling code, generation config, tokenizer
    metrics = {**train_result.metrics, "train_samples": len(setup.train_dataset)}
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()

    metrics = trainer.evaluate()
    metrics.update(eval_samples=len(setup.eval_dataset), **setup.derived_metrics(metrics))
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)

    if trainer.is_world_process_zero():
        plot_loss(trainer.state.log_history, Path(training_args.output_dir) / "loss.png")
    setup.after_training(trainer)


if __name__ == "__main__":
    main()
