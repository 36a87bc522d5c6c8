"""The tokenizer and model of a task's run: a saved one (checked against the task), or a new one from the arguments.

A saved model of the task continues training. For a task that `transfers_body`, a saved model of another head of the
same family (a language model, ULMFiT's first stage) lends its body instead: its embedding and recurrent layers load
unchanged into the task's model, whose head is new, and its tokenizer is the run's.

Errors name the Python parameter (`model_name_or_path`, `tokenizer_type`); the script shows them as its flags.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import datasets
from transformers import AutoConfig, AutoTokenizer, PreTrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..configuration_rnn import RNNConfig
from ..data import nonempty_texts
from ..tokenization import TOKENIZER_KINDS, train_tokenizer

if TYPE_CHECKING:
    from ..training.arguments import ModelArguments
    from .base import Task

logger = logging.getLogger(__name__)

# What a new head on a pretrained body may set (ModelArguments fields): the head's pooling, and dropout, which is no
# weight. The rest of the architecture is the body's.
NEW_HEAD_FIELDS = (
    "classifier_pooling",
    "embedding_dropout",
    "layer_dropout",
    "output_dropout",
    "word_dropout",
    "locked_dropout",
    "weight_drop",
)


def is_body_transfer(config: PreTrainedConfig, task: Task) -> bool:
    """The saved `config` is of another head of the family, whose body the task's model takes (see the docstring)."""
    architectures = config.architectures or []
    return (
        task.transfers_body
        and isinstance(config, RNNConfig)
        and bool(architectures)
        and not any(name.endswith(task.head) for name in architectures)
    )


def load_task_config(model_name_or_path: str, task: Task) -> PreTrainedConfig:
    """
    The saved config, after checking that it describes a model of `task` (a class ending in its `head`), or one whose
    body the task's model can take (`is_body_transfer`).
    """
    try:
        config = AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"model_name_or_path {model_name_or_path!r} has no loadable model config: {error}") from None
    architectures = config.architectures or []
    if not any(name.endswith(task.head) for name in architectures) and not is_body_transfer(config, task):
        raise ValueError(
            f"model_name_or_path {model_name_or_path!r} holds a {', '.join(architectures) or 'bare'} model, "
            f"not a *{task.head} model; it cannot continue training with `task` {task.name}."
        )
    return config


def check_saved_model(task: Task, model_args: ModelArguments) -> None:
    """`model_name_or_path`, when given, holds a model of this task (checked before any data is loaded)."""
    if model_args.model_name_or_path is not None:
        load_task_config(model_args.model_name_or_path, task)


def load_task_model(
    task: Task, model_args: ModelArguments, tokenizer: PreTrainedTokenizerBase, **config_changes
) -> PreTrainedModel:
    """
    The saved model of `model_name_or_path` with the task's Auto class (its config changed by `config_changes`),
    checked against the tokenizer.
    """
    model = task.auto_class.from_pretrained(model_args.model_name_or_path, **config_changes)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"tokenizer_name has {len(tokenizer)} tokens, more than the model's vocab_size "
            f"{model.config.vocab_size} (model_name_or_path)."
        )
    return model


def load_or_train_tokenizer(
    model_args: ModelArguments,
    train_dataset: datasets.Dataset,
    text_column: str,
    add_prefix_space: bool = True,
    add_eos_token: bool = False,
) -> PreTrainedTokenizerBase:
    """
    `tokenizer_name`, else the model folder's tokenizer, else a new one trained on the train split's column;
    `add_prefix_space` and `add_eos_token` as in `train_tokenizer` (a loaded tokenizer keeps its own prefix space,
    and with `add_eos_token` is made to end its encodings with its eos_token if it does not already).
    """
    source = model_args.tokenizer_name or model_args.model_name_or_path
    if source is not None:
        parameter = "tokenizer_name" if model_args.tokenizer_name else "model_name_or_path"
        if getattr(model_args, "tokenizer_from_checkpoint", False):  # set when resuming
            parameter = "resume_from_checkpoint"
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as error:
            raise ValueError(f"{parameter} {source!r} has no loadable tokenizer: {error}") from None
        if add_eos_token:
            end_encodings_with_eos(tokenizer, f"{parameter} {source!r}")
        return tokenizer
    if model_args.tokenizer_type not in TOKENIZER_KINDS:
        raise ValueError(
            f"tokenizer_type={model_args.tokenizer_type!r} is not supported; "
            f"choose one of {', '.join(TOKENIZER_KINDS)}."
        )
    if text_column not in train_dataset.column_names:
        raise ValueError(
            f"text_column {text_column!r} is not a column of the train data ({train_dataset.column_names})."
        )
    logger.info(f"Training a {model_args.tokenizer_type} tokenizer on the train split")
    try:
        return train_tokenizer(
            nonempty_texts(train_dataset, text_column),
            kind=model_args.tokenizer_type,
            vocab_size=model_args.tokenizer_vocab_size,
            add_prefix_space=add_prefix_space,
            add_eos_token=add_eos_token,
        )
    except ValueError as error:
        raise ValueError(f"tokenizer_vocab_size / tokenizer_type: {error}") from None


def ends_with_eos(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether encoding a text ends it with the tokenizer's eos_token."""
    return tokenizer.eos_token_id is not None and tokenizer("a").input_ids[-1:] == [tokenizer.eos_token_id]


def end_encodings_with_eos(tokenizer: PreTrainedTokenizerBase, source: str) -> None:
    """
    Make a loaded tokenizer end every encoding with its eos_token, as `train_tokenizer(add_eos_token=True)` does:
    one saved by an older hf_rnn, or any other. A ValueError naming `source` if it has no eos_token, or refuses.
    """
    if ends_with_eos(tokenizer):
        return
    if tokenizer.eos_token is None:
        raise ValueError(f"{source}: the tokenizer has no eos_token, which must end every sequence here.")
    tokenizer.add_eos_token = True  # transformers rebuilds the post-processor of a fast tokenizer: "$A </s>"
    if not ends_with_eos(tokenizer):
        raise ValueError(f"{source}: the tokenizer cannot be made to end its encodings with {tokenizer.eos_token!r}.")
    logger.info(f"{source}: the tokenizer now ends every encoding with {tokenizer.eos_token!r} (add_eos_token)")


def config_fields_shared_by_every_model(model_args: ModelArguments, tokenizer: PreTrainedTokenizerBase) -> dict:
    """The arguments that mean the same in every config (`RNNConfig`, `RNNSeq2SeqConfig`), and the tokenizer's ids."""
    return {
        "vocab_size": len(tokenizer),
        "embedding_size": model_args.embedding_size,
        "embedding_dropout": model_args.embedding_dropout,
        "layer_dropout": model_args.layer_dropout,
        "output_dropout": model_args.output_dropout,
        "tie_word_embeddings": model_args.tie_word_embeddings,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


def new_rnn_config(model_args: ModelArguments, tokenizer: PreTrainedTokenizerBase, **task_fields) -> RNNConfig:
    """An `RNNConfig` sized by the model arguments, with the tokenizer's vocabulary and special ids, plus the task's."""
    try:
        config = RNNConfig(
            cell=model_args.cell,
            hidden_size=model_args.hidden_size,
            num_hidden_layers=model_args.num_layers,
            proj_size=model_args.proj_size,
            # AWD-LSTM regularizers: RNNConfig only (the seq2seq config has no such fields).
            word_dropout=model_args.word_dropout,
            locked_dropout=model_args.locked_dropout,
            weight_drop=model_args.weight_drop,
            activation_regularization=model_args.activation_regularization,
            temporal_activation_regularization=model_args.temporal_activation_regularization,
            **config_fields_shared_by_every_model(model_args, tokenizer),
            **task_fields,
        )
    except ValueError as error:
        # The config names its field (num_hidden_layers is the num_layers argument); the others share the names.
        raise ValueError(f"invalid model arguments: {error}") from None
    return apply_config_overrides(config, model_args.config_overrides)


def apply_config_overrides(config: PreTrainedConfig, overrides: str | None) -> PreTrainedConfig:
    """
    `config` with `--config_overrides` ("field=value,field=value", transformers' `update_from_string`) set, then
    checked as the config checks itself at save time, so that a bad field or value is named before training.
    """
    if not overrides:
        return config
    try:
        config.update_from_string(overrides)
        config.validate()
    except (ValueError, TypeError) as error:
        # Quoted: train.py writes bare argument names as flags, and these are the config's fields, not flags.
        fields = ", ".join(repr(name) for name in type(config).__annotations__ if not name.startswith("_"))
        raise ValueError(
            f"config_overrides={overrides!r} cannot set {type(config).__name__}: {error}. Its fields: {fields}."
        ) from None
    return config


def changed_new_head_fields(task: Task, model_args: ModelArguments) -> dict:
    """The `NEW_HEAD_FIELDS` the arguments set away from their defaults (the task's, else the dataclass's)."""
    task_defaults = {name: value for name, value in task.training_defaults.items() if name in NEW_HEAD_FIELDS}
    defaults = type(model_args)(**task_defaults)
    return {
        name: getattr(model_args, name)
        for name in NEW_HEAD_FIELDS
        if getattr(model_args, name) != getattr(defaults, name)
    }


def saved_body_transfer(task: Task, model_name_or_path: str | None) -> PreTrainedConfig | None:
    """The saved config when `model_name_or_path` lends the task its body (`is_body_transfer`), else None."""
    if model_name_or_path is None or not task.transfers_body:
        return None
    try:
        config = AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError):  # reported, naming the parameter, when the model is loaded
        return None
    return config if is_body_transfer(config, task) else None


def continue_or_build(
    task: Task,
    model_args: ModelArguments,
    tokenizer: PreTrainedTokenizerBase,
    labels: list[str] | None,
    build: Callable[[], PreTrainedModel],
) -> PreTrainedModel:
    """
    The saved model (whose labels must be `labels`), a new head for `labels` on a saved model's body
    (`is_body_transfer`, with the `NEW_HEAD_FIELDS` the arguments set), or a new model from `build`.
    """
    if model_args.model_name_or_path is None:
        model = build()
    elif is_body_transfer(config := load_task_config(model_args.model_name_or_path, task), task):
        # The checkpoint's head (e.g. lm_head) is left out and the task's head starts from its initialization, as
        # from_pretrained reports; the embedding and recurrent layers load as saved.
        head = {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
        model = load_task_model(task, model_args, tokenizer, **head, **changed_new_head_fields(task, model_args))
        logger.info(
            f"A new {type(model).__name__} head on the body (embedding and recurrent layers) of the "
            f"{config.architectures[0]} in {model_args.model_name_or_path}"
        )
    else:
        model = load_task_model(task, model_args, tokenizer)
        saved = [model.config.id2label[i] for i in range(model.config.num_labels)] if labels is not None else None
        if saved is not None and saved != labels:
            raise ValueError(
                f"model_name_or_path {model_args.model_name_or_path!r} was trained on the labels {saved}, "
                f"the data has {labels} (label_column / tags_column)."
            )
    logger.info(f"Model: {model.num_parameters():,} parameters\n{model}")
    return model
