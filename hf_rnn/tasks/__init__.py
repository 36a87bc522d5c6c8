"""Training tasks, one module each, and their registry.

Each module holds everything about its task: its `Task` subclass (head, defaults, embedded data description,
card metadata), its data preparation and its metrics. `base.py` defines the interface (`Task`, `TaskSetup`);
`labels.py` and `models.py` hold what the text tasks share (label sets, encoding; tokenizer and model building).

Adding a task: write `hf_rnn/tasks/<task>.py` with a `Task` subclass, add one line to `TASKS` below, and a model
card template `hf_rnn/model_cards/<name>.md`.
"""

from __future__ import annotations

from .base import Task, TaskSetup
from .causal_lm import CausalLMTask
from .sequence_classification import SequenceClassificationTask
from .time_series_forecasting import TimeSeriesForecastingTask
from .token_classification import TokenClassificationTask
from .translation import TranslationTask

__all__ = ["TASKS", "Task", "TaskSetup", "get_task"]

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        CausalLMTask(),
        SequenceClassificationTask(),
        TokenClassificationTask(),
        TranslationTask(),
        TimeSeriesForecastingTask(),
    )
}


def get_task(name: str) -> Task:
    """The registered task called `name`; a ValueError listing the tasks otherwise."""
    if name not in TASKS:
        raise ValueError(f"`task` {name!r} is not a task; the tasks are: {', '.join(TASKS)}.")
    return TASKS[name]
