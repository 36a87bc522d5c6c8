"""Causal language modeling: next-token prediction on running text, as transformers' `run_clm.py`.

Data: a Hub dataset, a local text file, or the Python documentation (`hf_rnn.demo_data.default_lm_corpus`); the
text is tokenized and grouped into blocks of `block_size` tokens (or, with `stateful_bptt`, kept as one token
stream per split for `hf_rnn.stateful.StatefulLMTrainer`). Metric: perplexity from the evaluation loss. After
training: sampled continuations of a prompt in `samples.txt`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

import torch
from datasets import DatasetDict
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase, Trainer, set_seed

from ..data import (
    check_nonempty_column,
    load_data_files,
    load_hub_dataset,
    nonempty_texts,
    tokenize_texts,
)
from ..demo_data import default_lm_datasets
from ..fine_tuning import FineTuningOptions, FineTuningTrainer
from ..modeling_rnn import RNNForCausalLM
from ..stateful import StatefulLMTrainer, stream_length, token_stream
from .base import Task, TaskSetup, check_number
from .labels import first_rows
from .models import check_saved_model, load_or_train_tokenizer, load_task_model, new_rnn_config

logger = logging.getLogger(__name__)

# How samples are drawn, at the end of training and (saved in the generation config) by `generate()` later.
SAMPLING = {"do_sample": True, "temperature": 0.8, "top_k": 0}


class CausalLMTask(Task):
    name = "causal-lm"
    head = "ForCausalLM"
    auto_class = AutoModelForCausalLM
    embedded_data = "the Python documentation that ships with every Python (`pydoc_data.topics`), embedded"
    card = {
        "pipeline_tag": "text-generation",
        "pipeline_task": "text-generation",
        "task_name": "Causal Language Modeling",
        "auto_class": "AutoModelForCausalLM",
    }
    regularizers = (
        "word_dropout", "locked_dropout", "weight_drop", "activation_regularization",
        "temporal_activation_regularization",
    )  # fmt: skip
    fine_tunes_by_layer = True
    # Chosen by measurement on a 2-core CPU, where the default run trains, evaluates and samples in about two
    # minutes: for a fixed time, many small batches beat fewer large ones or a wider or deeper model (a 256-unit,
    # 1-layer LSTM reaches a validation loss of ~1.12 nats/char vs ~1.33 at batch 32 and ~1.47 with 512 units;
    # output dropout 0.1 takes ~0.03 off).
    training_defaults = {
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
    }

    def check_arguments(self, model_args, data_args, training_args) -> None:
        if model_args.bidirectional:
            raise ValueError(
                "`bidirectional` cannot be used with `task` causal-lm: a language model reads left to right."
            )
        if data_args.num_sample_generations > 0:
            check_number("sample_max_new_tokens", data_args.sample_max_new_tokens, 1, what="a whole number of tokens")

    def loss_label(self, config) -> str:
        penalties = config.activation_regularization or config.temporal_activation_regularization
        return "loss (nats per token" + ("; training adds the AR/TAR penalties)" if penalties else ")")

    def prepare(self, model_args, data_args, training_args) -> TaskSetup:
        check_saved_model(self, model_args)  # fail before loading any data
        raw_datasets = load_lm_datasets(
            data_args.dataset_name,
            data_args.dataset_config_name,
            data_args.train_file,
            data_args.validation_file,
            data_args.validation_split_percentage,
        )
        # Running text: an empty line is a line break, but a row without a string (JSON null) cannot be tokenized.
        check_nonempty_column(raw_datasets, data_args.text_column, "text_column", allow_empty=True)
        # The rows are consecutive pieces of one text (a file's lines): a space before each would follow every line
        # break, and the model would learn, and write, one there.
        tokenizer = load_or_train_tokenizer(
            model_args, raw_datasets["train"], data_args.text_column, add_prefix_space=False
        )
        if model_args.model_name_or_path is not None:
            model = load_task_model(self, model_args, tokenizer)
        else:
            model = RNNForCausalLM(new_rnn_config(model_args, tokenizer))
        logger.info(f"Model: {model.num_parameters():,} parameters\n{model}")
        # Saved with the model: `generate()` and the text-generation pipeline then sample, as a char LM needs.
        model.generation_config.update(**SAMPLING, max_new_tokens=data_args.sample_max_new_tokens)

        block_size = min(data_args.block_size, tokenizer.model_max_length)
        if data_args.stateful_bptt:
            train_dataset, eval_dataset = token_streams(raw_datasets, tokenizer, data_args, training_args, block_size)
        else:
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
            samples = sample_texts(
                model, tokenizer, prompt, data_args.num_sample_generations, data_args.sample_max_new_tokens,
                seed=training_args.seed,
            )  # fmt: skip
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
            trainer_class=StatefulLMTrainer if data_args.stateful_bptt else FineTuningTrainer,
            trainer_kwargs={
                "fine_tuning": FineTuningOptions.from_arguments(model_args),
                **({"bptt": block_size} if data_args.stateful_bptt else {}),
            },
        )


def load_lm_datasets(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    validation_split_percentage: float = 10,
) -> DatasetDict:
    """Train and validation text from the Hub, from local files, or (given neither) the embedded default corpus."""
    if dataset_name is not None and train_file is not None:
        raise ValueError("pass either dataset_name or train_file, not both.")
    if validation_file is not None and train_file is None:
        raise ValueError("validation_file needs a train_file to go with it.")
    if dataset_name is not None:
        return load_hub_dataset(dataset_name, dataset_config_name, validation_split_percentage)
    if train_file is not None:
        return load_data_files(train_file, validation_file, validation_split_percentage)
    return default_lm_datasets(validation_split_percentage)


def group_texts(examples: dict[str, list[list[int]]], block_size: int) -> dict[str, list[list[int]]]:
    """
    Concatenate every tokenized column and cut it into `block_size` chunks (the remainder is dropped), with
    `labels` a copy of `input_ids`: the model shifts them itself. A batched `Dataset.map` function, as in
    `run_clm.py`.
    """
    concatenated = {key: list(chain.from_iterable(values)) for key, values in examples.items()}
    total_length = len(concatenated["input_ids"]) // block_size * block_size
    result = {
        key: [values[start : start + block_size] for start in range(0, total_length, block_size)]
        for key, values in concatenated.items()
    }
    result["labels"] = [list(block) for block in result["input_ids"]]
    return result


def tokenize_and_group(
    raw_datasets: DatasetDict, tokenizer: PreTrainedTokenizerBase, text_column: str, block_size: int
) -> DatasetDict:
    """Tokenize `text_column` of every split and group it into `block_size` blocks of `input_ids`/`labels`."""
    grouped = tokenize_texts(raw_datasets, tokenizer, text_column).map(
        group_texts, batched=True, fn_kwargs={"block_size": block_size}, desc=f"group into blocks of {block_size}"
    )
    for split, dataset in grouped.items():
        if len(dataset) == 0:
            raise ValueError(
                f"the {split} text is shorter than one block of block_size={block_size} tokens; "
                "use a smaller block_size or more text."
            )
    return grouped


def token_streams(
    raw_datasets: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    data_args,
    training_args,
    block_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`stateful_bptt`: the train and validation text, each one 1-D tensor of ids, checked against the streams."""
    with training_args.main_process_first(desc="tokenize texts"):
        tokenized = tokenize_texts(raw_datasets, tokenizer, data_args.text_column)
    streams = []
    for split, max_blocks, batch_parameter in (
        ("train", data_args.max_train_samples, "per_device_train_batch_size"),
        ("validation", data_args.max_eval_samples, "per_device_eval_batch_size"),
    ):
        batch_size = getattr(training_args, batch_parameter)
        token_ids = token_stream(tokenized[split])
        if max_blocks is not None:
            token_ids = token_ids[: max_blocks * block_size]
        try:
            stream_length(len(token_ids), batch_size * training_args.world_size)
        except ValueError as error:
            raise ValueError(f"stateful_bptt, the {split} text: {error} ({batch_parameter}={batch_size})") from None
        streams.append(token_ids)
    train, validation = streams
    logger.info(
        f"{len(train)} train and {len(validation)} validation tokens, as {training_args.per_device_train_batch_size} "
        f"and {training_args.per_device_eval_batch_size} streams per process, carried state, chunks of {block_size}"
    )
    return train, validation


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
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    num_samples: int,
    max_new_tokens: int,
    seed: int,
) -> list[str]:
    """`num_samples` sampled continuations of `prompt`, each decoded with the prompt in front."""
    input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    if input_ids.size(1) == 0:  # an empty prompt: start from <s>
        input_ids = input_ids.new_tensor([[tokenizer.bos_token_id]])
    set_seed(seed)
    model.eval()
    outputs = model.generate(
        input_ids=input_ids.to(model.device),
        attention_mask=input_ids.new_ones(input_ids.shape).to(model.device),
        num_return_sequences=num_samples,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        **SAMPLING,
    )
    return tokenizer.batch_decode(outputs, skip_special_tokens=True)
