"""The task interface: what a task knows about itself, and what it hands to the shared training loop.

A task is one subclass of `Task` in its own module of `hf_rnn.tasks`, registered with one line in `TASKS`
(`hf_rnn/tasks/__init__.py`). `scripts/train.py` asks the registry for the task named by `--task`, lets it check
its arguments (`check_arguments`), then calls `prepare`, which returns a `TaskSetup`: the model, the datasets, the
collator, the metrics and what to write after training. Training, evaluation, prediction (`do_predict`), saving, the
loss plot and the model card are the same for every task.

Nothing here assumes text: a task whose examples are windows of numbers returns `tokenizer=None` and its own
collator and metrics; `after_training` writes whatever the task shows (samples, predictions, plots).
Errors name the Python parameter (`max_seq_length=0 is invalid`); the script shows them as its flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from datasets import DatasetDict
from transformers import EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase, Trainer, default_data_collator
from transformers.trainer_utils import PredictionOutput

from ..data import load_task_datasets

if TYPE_CHECKING:  # the argument dataclasses import the registry; a task only reads their fields
    from transformers import Seq2SeqTrainingArguments

    from ..training.arguments import DataArguments, ModelArguments


@dataclass
class TaskSetup:
    """What a task hands to the shared train / evaluate / save steps."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase | None  # None for a task without text; saved with the model otherwise
    train_dataset: Any
    eval_dataset: Any
    data_collator: Callable = default_data_collator
    compute_metrics: Callable[[EvalPrediction], dict] | None = None
    preprocess_logits_for_metrics: Callable | None = None
    derived_metrics: Callable[[dict], dict] = lambda metrics: {}  # e.g. perplexity from eval_loss
    after_training: Callable[[Trainer], None] = lambda trainer: None  # samples, predictions, plots
    # `do_predict`: the split `trainer.predict` runs on (scored where it has labels), and what the task writes of
    # its predictions into the output folder (on the main process).
    test_dataset: Any = None
    write_test_predictions: Callable[[Path, PredictionOutput], None] = lambda output_dir, prediction: None
    trainer_class: type[Trainer] = Trainer
    trainer_kwargs: dict = field(default_factory=dict)  # the trainer class's own arguments


class Task:
    """
    One training task. A subclass sets the class attributes and implements `prepare`; `check_arguments` is for
    the cheap checks that must fail before anything is loaded or written.
    """

    name: ClassVar[str]  # the --task value, e.g. "causal-lm"
    head: ClassVar[str]  # the suffix of the model class a saved model folder must hold, e.g. "ForCausalLM"
    auto_class: ClassVar[type]  # the Auto class that loads such a folder
    # Defaults over the argument dataclasses' (flags and JSON keys still win), chosen for a small CPU and the task's
    # embedded data; for a run on the user's data (train_file / dataset_name), `data_training_defaults` over them.
    training_defaults: ClassVar[dict[str, Any]] = {}
    data_training_defaults: ClassVar[dict[str, Any]] = {}
    embedded_data: ClassVar[str]  # what the task trains on without data arguments, in words (model card)
    # The model card: `pipeline_tag` (Hub), `pipeline_task` (for `pipeline()`), `task_name`, `auto_class` (its name);
    # the template is `hf_rnn/model_cards/<name>.md`.
    card: ClassVar[dict[str, str]]
    card_shows_labels: ClassVar[bool] = False  # the card lists the config's id2label
    # The AWD-LSTM regularizer fields (ModelArguments) this task's model uses; others are refused if set.
    regularizers: ClassVar[tuple[str, ...]] = ()
    # Where `do_predict` finds its test split: "file" (test_file, in train_file's format, or a Hub dataset's "test"
    # split), "data" (the task cuts one from its own data unless test_file is given), or None (no prediction step).
    test_split: ClassVar[str | None] = None
    # The model is an embedding, recurrent layers and a head, which ULMFiT's per-layer options need
    # (discriminative_lr_decay, gradual_unfreezing; see `hf_rnn.fine_tuning`).
    fine_tunes_by_layer: ClassVar[bool] = False
    # A saved model of another head of the family (a language model) can start this task: its body loads into the
    # task's model, with a new head (ULMFiT; see `hf_rnn.tasks.models`).
    transfers_body: ClassVar[bool] = False
    # The tagger's options (ModelArguments `crf`, `char_features`) this task's model uses; others are refused if set.
    tagger_options: ClassVar[tuple[str, ...]] = ()

    def check_arguments(
        self, model_args: ModelArguments, data_args: DataArguments, training_args: Seq2SeqTrainingArguments
    ) -> None:
        """Task-specific values checked before anything is loaded; a `ValueError` naming the parameter."""
        if data_args.stateful_bptt:
            raise ValueError(f"stateful_bptt is for `task` causal-lm only (not {self.name}).")

    def loss_label(self, config) -> str:
        """What the trained model's loss measures, for the loss plot's axis (e.g. "loss (nats per token)")."""
        return "loss"

    def prepare(
        self, model_args: ModelArguments, data_args: DataArguments, training_args: Seq2SeqTrainingArguments
    ) -> TaskSetup:
        raise NotImplementedError


def check_number(parameter: str, value, minimum: float, inclusive: bool = True, what: str = "") -> None:
    """`value` is a finite number of at least (or, not inclusive, above) `minimum`; else a ValueError naming it."""
    ok = value is not None and math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        bound = f"at least {minimum}" if inclusive else f"greater than {minimum}"
        raise ValueError(f"{parameter}={value} is invalid; it must be {what or 'a number'} {bound}.")


def check_test_arguments(task: Task, data_args: DataArguments, training_args: Seq2SeqTrainingArguments) -> None:
    """`do_predict` and `test_file` mean something for `task` (see `Task.test_split`), and go together."""
    if task.test_split is None:
        for name, value in (("do_predict", training_args.do_predict), ("test_file", data_args.test_file)):
            if value:
                raise ValueError(f"`{name}` is not supported by `task` {task.name}: it has no prediction step.")
    elif task.test_split == "file":
        if training_args.do_predict and data_args.test_file is None and data_args.dataset_name is None:
            raise ValueError(
                f"do_predict needs a test_file (in the format of train_file) for `task` {task.name}, or a "
                "dataset_name with a 'test' split."
            )
        if data_args.test_file is not None and not training_args.do_predict:
            raise ValueError("test_file is only read with do_predict: add do_predict, or leave out test_file.")


def task_datasets(
    data_args: DataArguments, load_files: Callable[..., DatasetDict], with_test: bool = False
) -> DatasetDict:
    """
    The raw splits named by the data arguments: a Hub dataset, or the task's own reader of local files; with
    `with_test`, a `"test"` split too (test_file, or the Hub dataset's).
    """
    return load_task_datasets(
        data_args.dataset_name,
        data_args.dataset_config_name,
        data_args.train_file,
        data_args.validation_file,
        data_args.validation_split_percentage,
        load_files,
        test_file=data_args.test_file,
        with_test=with_test,
    )
