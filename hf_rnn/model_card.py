"""Model cards: a `README.md` with valid Hub metadata, rendered from the per-task templates in `hf_rnn/model_cards/`,
and the card's inputs from a training run (`describe_data`, `card_hyperparameters`, `hub_base_model`, `hub_dataset`,
`card_license`).

```python
from hf_rnn.model_card import push_with_model_card, training_command, write_model_card

card = write_model_card(
    "runs/causal-lm",
    task="causal-lm",
    model=trainer.model,
    metrics={"eval_loss": 1.12, "perplexity": 3.06},  # e.g. trainer.evaluate() plus derived metrics
    dataset_name=None,  # a Hub dataset id when there is one
    dataset_description="Python documentation (pydoc_data topics), embedded",
    training_command=training_command(),  # "accelerate launch scripts/train.py --task causal-lm ..."
    hyperparameters={"learning_rate": 2e-3, "max_steps": 3000},  # or card_hyperparameters(training_args)
    repo_id="me/my-rnn-lm",  # used in the loading snippets and as the model-index name
    license="apache-2.0",  # optional: without one the card has no license field
)
push_with_model_card(trainer, card)  # with TrainingArguments(push_to_hub=True, hub_model_id="me/my-rnn-lm")
```

The YAML front matter is built by `huggingface_hub.ModelCardData` (its `eval_results` become `model-index`), so it
is the Hub's own format; `ModelCard.from_template` renders the Jinja body. Metrics and hyperparameters read as on the
cards transformers' `Trainer` writes (`transformers.modelcard`: `_maybe_round`, `extract_hyperparameters_from_trainer`).
The templates are package data (`hf_rnn/model_cards/<task>.md`), so a wheel install carries them as an editable one
does.
"""

from __future__ import annotations

import copy
import numbers
import os
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData, metadata_load
from transformers import AutoConfig
from transformers.modelcard import _maybe_round, extract_hyperparameters_from_trainer

from .tasks import TASKS as TASK_REGISTRY
from .training.arguments import REGULARIZERS

MODEL_CARDS_DIR = Path(__file__).resolve().parent / "model_cards"

# task -> what the card says about it (`Task.card` of each task in `hf_rnn.tasks`).
TASKS = {name: task.card for name, task in TASK_REGISTRY.items()}

# Trainer bookkeeping that `trainer.evaluate()` mixes into its metrics: not quality metrics.
_BOOKKEEPING = ("runtime", "per_second", "epoch", "samples", "flos", "mem_")

# Config fields shown in the architecture table, in this order (those the config has).
_ARCHITECTURE_FIELDS = (
    "cell",
    "encoder_cell",
    "decoder_cell",
    "num_hidden_layers",
    "encoder_layers",
    "decoder_layers",
    "hidden_size",
    "encoder_hidden_size",
    "decoder_hidden_size",
    "embedding_size",
    "proj_size",
    "bidirectional",
    "encoder_bidirectional",
    "attention",
    "attention_size",
    "input_feeding",
    "vocab_size",
    "target_vocab_size",
    "share_embeddings",
    "tie_word_embeddings",
    "classifier_pooling",
    "crf",
    "char_encoder",
    "embedding_dropout",
    "layer_dropout",
    "output_dropout",
    # The AWD-LSTM regularizers (`REGULARIZERS`): shown for the tasks that use them (`Task.regularizers`).
    "word_dropout",
    "locked_dropout",
    "weight_drop",
    "activation_regularization",
    "temporal_activation_regularization",
)


def render_model_card(
    *,
    task: str,
    model,
    metrics: dict[str, Any],
    training_command: str,
    hyperparameters: dict[str, Any],
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    dataset_description: str | None = None,
    repo_id: str | None = None,
    model_name: str | None = None,
    base_model: str | None = None,
    base_model_description: str | None = None,
    license: str | None = None,
    language: str | list[str] | None = None,
    template_path: str | Path | None = None,
) -> ModelCard:
    """
    Render the model card of a trained hf_rnn model; nothing is written (see `write_model_card`).

    Args:
        task: one of `TASKS` ("causal-lm", "sequence-classification", "token-classification", "translation").
        model: the trained `PreTrainedModel` (its config describes the architecture; `num_parameters()` counts).
        metrics: evaluation metrics, e.g. what `trainer.evaluate()` returns plus derived ones. Trainer bookkeeping
            (`eval_runtime`, `*_per_second`, `epoch`, `*_samples`) is dropped; an `eval_` prefix is stripped. Every
            remaining numeric metric goes into the table and into `model-index` (metric type = its name).
        training_command: the exact command line that trained the model.
        hyperparameters: name -> value, shown as a table (e.g. `card_hyperparameters(training_args)`).
        dataset_name: a Hub dataset id (goes into the `datasets` metadata); None for local or embedded data.
        dataset_config_name: the Hub dataset's configuration, if any.
        dataset_description: a readable name of the data, e.g. "my.txt (local file)"; defaults to `dataset_name`.
        repo_id: the Hub repository (`user/name`); the loading snippets use it, else a local path placeholder.
        model_name: the model-index name; defaults to the last part of `repo_id`, else "hf_rnn-<task>".
        base_model: a Hub id the model continued training from, if any (the `base_model` metadata).
        base_model_description: what training started from, in words (`describe_base_model`), for the card's body.
        license: a Hub license id (`apache-2.0`, `mit`, ...); None leaves the field out.
        language: optional metadata.
        template_path: a Jinja Markdown template to use instead of `model_cards/<task>.md`.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got task={task!r}")
    info = TASKS[task]
    config = model.config
    template = Path(template_path) if template_path is not None else _template_for(task)

    results = _quality_metrics(metrics)
    cells = list(
        dict.fromkeys(
            getattr(config, name) for name in ("cell", "encoder_cell", "decoder_cell") if getattr(config, name, None)
        )
    )
    model_name = model_name or (repo_id.split("/")[-1] if repo_id else f"hf_rnn-{task}")
    dataset_type = dataset_name or "custom"
    dataset_pretty = dataset_description or dataset_name or "custom data"
    eval_results = [
        EvalResult(
            task_type=info["pipeline_tag"],
            task_name=info["task_name"],
            dataset_type=dataset_type,
            dataset_name=dataset_pretty,
            dataset_config=dataset_config_name,
            dataset_split="validation",
            metric_type=name,
            metric_name=name,
            metric_value=value,
        )
        for name, value in results.items()
    ]
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=info["pipeline_tag"],
        tags=["hf_rnn", "rnn", *cells, task],
        datasets=[dataset_name] if dataset_name else None,
        metrics=list(results) or None,
        base_model=base_model,
        license=license,
        language=language,
        model_name=model_name,
        eval_results=eval_results or None,
    )
    labels = getattr(config, "id2label", None) if TASK_REGISTRY[task].card_shows_labels else None
    return ModelCard.from_template(
        card_data,
        template_path=str(template),
        # Template variables. `card_data.to_dict()` is passed too; these names do not collide with its keys.
        task=task,
        model_id=model_name,
        model_path=repo_id or "path/to/this/model",
        pipeline_task=info["pipeline_task"],
        auto_class=info["auto_class"],
        model_class=type(model).__name__,
        model_type=config.model_type,
        cell_names=", ".join(cells),
        num_parameters=f"{model.num_parameters():,}",
        architecture=[(name, getattr(config, name)) for name in _architecture_fields(task, config)],
        label_names=[labels[i] for i in sorted(labels)] if labels else [],
        metric_rows=[(name, _maybe_round(value)) for name, value in results.items()],  # as Trainer's cards
        dataset_description=dataset_pretty,
        dataset_id=dataset_name,
        training_command=redact_tokens(training_command),
        base_model_description=base_model_description,
        hyperparameter_rows=[(name, _cell(str(value))) for name, value in hyperparameters.items()],
    )


def write_model_card(output_dir: str | Path, **kwargs) -> ModelCard:
    """`render_model_card(**kwargs)` and save it as `output_dir/README.md`; returns the card."""
    card = render_model_card(**kwargs)
    card.save(Path(output_dir) / "README.md")
    return card


def push_with_model_card(trainer, card: ModelCard | None, commit_message: str = "End of training"):
    """
    `trainer.push_to_hub()`, keeping our card: the push writes transformers' own draft `README.md` into
    `output_dir` and uploads it, so the card then replaces it there and in the repository (a second, small commit).

    Call it on every process, like `trainer.push_to_hub` (it saves the model); only the main process uploads, and
    only it needs the card (pass None elsewhere). The repository is `TrainingArguments.hub_model_id` (created by
    `Trainer` when `push_to_hub=True`), the token `hub_token` (or the usual login / `HF_TOKEN`). Returns the card
    commit's info on the main process, else None.
    """
    trainer.push_to_hub(commit_message=commit_message)
    if not trainer.is_world_process_zero():
        return None
    card.save(Path(trainer.args.output_dir) / "README.md")
    return card.push_to_hub(trainer.hub_model_id, token=trainer.args.hub_token, commit_message="Model card")


def training_command(argv: list[str] | None = None, cwd: str | Path | None = None) -> str:
    """
    The command line of this run, for the card: `python`, `torchrun` or `accelerate launch` (recognized by the
    environment they set; their own flags are not visible to the script) followed by `sys.argv`, shell-quoted,
    made safe to publish by `public_arguments`: no token, no absolute local path.
    """
    argv = sys.argv if argv is None else argv
    if "ACCELERATE_DYNAMO_BACKEND" in os.environ:
        launcher = ["accelerate", "launch"]
    elif "TORCHELASTIC_RUN_ID" in os.environ:
        launcher = ["torchrun"]
    else:
        launcher = ["python"]
    return shlex.join([*launcher, *public_arguments(argv, cwd)])


# A flag whose value is a credential (--hub_token, --hub-token, and the like), and a Hugging Face access token.
_SECRET_FLAG = re.compile(r"--[\w-]*(token|secret|password|api[_-]?key)", re.IGNORECASE)
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{16,}")
REDACTED = "<redacted>"


def redact_tokens(text: str) -> str:
    """`text` with every Hugging Face access token (`hf_...`) replaced by `<redacted>`."""
    return _HF_TOKEN.sub(REDACTED, text)


def public_arguments(argv: list[str], cwd: str | Path | None = None) -> list[str]:
    """
    `argv` as it may be published: a credential flag is dropped with its value (the reader logs in their own way),
    any other `hf_...` token is redacted, and an absolute path becomes relative to `cwd` (default: the current
    folder) when it lies inside it, else its file name alone, so the card does not reveal the local file system.
    """
    cwd = Path(os.getcwd() if cwd is None else cwd).resolve()

    def public_path(value: str) -> str:
        if not os.path.isabs(value):
            return value
        path = Path(value)
        try:
            return str(path.resolve().relative_to(cwd))
        except (ValueError, OSError):
            return path.name or value

    public, skip_value = [], False
    for arg in argv:
        if skip_value:
            skip_value = False
            continue
        flag, equals, value = arg.partition("=")
        if arg.startswith("--") and _SECRET_FLAG.fullmatch(flag):
            skip_value = not equals  # "--hub_token VALUE": drop the value too
            continue
        if arg.startswith("--") and equals:
            arg = f"{flag}={public_path(value)}"
        else:
            arg = public_path(arg)
        public.append(redact_tokens(arg))
    return public


def _template_for(task: str) -> Path:
    path = MODEL_CARDS_DIR / f"{task}.md"
    if not MODEL_CARDS_DIR.is_dir():
        raise FileNotFoundError(
            f"The model card templates folder hf_rnn/model_cards ({MODEL_CARDS_DIR}) is missing: it ships in the "
            "package, so this install is incomplete. Reinstall hf_rnn, or pass template_path=."
        )
    if not path.is_file():
        raise FileNotFoundError(f"No model card template for task={task!r}: {path} is missing.")
    return path


def _quality_metrics(metrics: dict[str, Any]) -> dict[str, float | int]:
    results = {}
    for key, value in metrics.items():
        name = key.removeprefix("eval_")
        if any(part in name for part in _BOOKKEEPING) or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Number) or hasattr(value, "item"):
            value = value.item() if hasattr(value, "item") else value
            results[name] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return results


def _architecture_fields(task: str, config) -> list[str]:
    """The `_ARCHITECTURE_FIELDS` the config has that mean something for `task`."""
    unused = {"classifier_pooling"} if task != "sequence-classification" else set()
    unused |= {"crf"} if task != "token-classification" else set()
    unused |= {name for name in REGULARIZERS if name not in TASK_REGISTRY[task].regularizers}
    return [name for name in _ARCHITECTURE_FIELDS if name not in unused and getattr(config, name, None) is not None]


def _cell(text: str) -> str:
    """Escape what would break a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def describe_data(
    task: str,
    dataset_name: str | None = None,
    data_files: list[str | None] = (),
) -> str:
    """
    Where the training data came from, in words: the Hub dataset, the local dataset folder's or files' names (not
    their paths), or the task's own.
    """
    files = [Path(f).name for f in data_files if f]
    if dataset_name and hub_dataset(dataset_name) is None:
        return f"the local dataset `{Path(dataset_name).resolve().name}`"
    if dataset_name:
        return f"the Hub dataset `{dataset_name}`"
    if files:
        return "local files: " + ", ".join(f"`{f}`" for f in files)
    return TASK_REGISTRY[task].embedded_data


# Shown when a run sets them away from these defaults (transformers' cards leave them out): how it chose its model
# and shaped its schedule.
CARD_HYPERPARAMETERS_IF_SET = {
    "train_sampling_strategy": "random",
    "load_best_model_at_end": False,
    "metric_for_best_model": None,
    "early_stopping_patience": None,
    "discriminative_lr_decay": 1.0,
    "gradual_unfreezing": False,
    "slanted_triangular": False,
}


def card_hyperparameters(training_args, model_args=None) -> dict:
    """
    The hyperparameters of a card: those transformers' own cards list (`extract_hyperparameters_from_trainer`: batch
    sizes, optimizer, scheduler, steps or epochs, devices), then weight decay and gradient clipping, which matter to
    an RNN, and bf16 (transformers lists fp16 only); then the `CARD_HYPERPARAMETERS_IF_SET` the run set, in the
    training arguments or the model arguments (with the slanted triangle's shape when it is on). Every value is a
    plain number or string: no enum reprs.
    """
    args = copy.copy(training_args)
    args.optim = getattr(args.optim, "value", args.optim)  # transformers formats the enum itself into the text
    hyperparameters = extract_hyperparameters_from_trainer(SimpleNamespace(args=args))
    hyperparameters.update(weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm)
    if args.bf16:
        hyperparameters["mixed_precision_training"] = "bf16"
    for name, default in CARD_HYPERPARAMETERS_IF_SET.items():
        value = getattr(args, name, getattr(model_args, name, default))
        if value != default:
            hyperparameters[name] = getattr(value, "value", value)
    if getattr(model_args, "slanted_triangular", False):
        hyperparameters.update(stlr_cut_frac=model_args.stlr_cut_frac, stlr_ratio=model_args.stlr_ratio)
    return hyperparameters


def describe_base_model(model_name_or_path: str | None, model) -> str | None:
    """
    What the trained `model` started from, in words: None for a new model; else the saved model's path, written as
    the training command shows it (no absolute path), and whether the model continued it or took its body under a
    new head (a classifier on a language model).
    """
    if model_name_or_path is None:
        return None
    shown = public_arguments([model_name_or_path])[0]
    try:
        saved = AutoConfig.from_pretrained(model_name_or_path).architectures or []
    except (OSError, ValueError):
        saved = []
    if saved and type(model).__name__ not in saved:
        return (
            f"the embedding and recurrent layers of `{shown}` (a `{saved[0]}`), under a new "
            f"`{type(model).__name__}` head: ULMFiT-style transfer learning"
        )
    return f"`{shown}`, trained further"


def hub_base_model(model_name_or_path: str | None) -> str | None:
    """The card's `base_model`: a Hub id; a local folder is no Hub model (and its path is not published)."""
    if model_name_or_path is None or Path(model_name_or_path).exists():
        return None
    return model_name_or_path


def hub_dataset(dataset_name: str | None) -> str | None:
    """
    The card's `datasets` entry: a Hub id. `load_dataset` reads a local folder first, so a name that exists on disk
    is local data: no Hub dataset (and its path is not published).
    """
    if dataset_name is None or Path(dataset_name).exists():
        return None
    return dataset_name


def card_license(license: str | None, model_name_or_path: str | None = None) -> str | None:
    """
    The card's `license`: the one given, else the license on the card of the local model training continued from
    (transformers' cards take a fine-tune's license from its base model the same way, online), else None: the card
    then has no license, and the choice stays with the person publishing the model.
    """
    if license is not None or model_name_or_path is None:
        return license
    card = Path(model_name_or_path) / "README.md"
    return (metadata_load(card) or {}).get("license") if card.is_file() else None
