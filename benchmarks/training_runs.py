"""What the training benchmarks share: a budget of training time (a Trainer callback), running train.py with it,
flags, parameter counts."""

import runpy
import shutil
import sys
import time
from pathlib import Path

import transformers
from safetensors.torch import load_file
from transformers import TrainerCallback

TRAIN_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"


def run_train_script(argv: list[str], callbacks: list[TrainerCallback]) -> None:
    """
    `python scripts/train.py ARGV` in this process, with `callbacks` added to its Trainer: the script runs as
    `__main__` (it is not imported), and every trainer class the tasks use calls `Trainer.__init__`, which takes them.
    """
    original_init = transformers.Trainer.__init__

    def init_with_callbacks(self, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *callbacks]
        original_init(self, *args, **kwargs)

    saved_argv, sys.argv = sys.argv, [str(TRAIN_SCRIPT), *argv]
    transformers.Trainer.__init__ = init_with_callbacks
    try:
        runpy.run_path(str(TRAIN_SCRIPT), run_name="__main__")
    finally:
        transformers.Trainer.__init__ = original_init
        sys.argv = saved_argv


class TrainingTimeBudget(TrainerCallback):
    """Counts the seconds spent in training steps, stops at the budget, and notes each evaluation's scores."""

    def __init__(self, budget_seconds: float):
        self.budget_seconds = budget_seconds
        self.training_seconds = 0.0
        self.step_started = None
        self.evaluations = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.training_seconds += time.perf_counter() - self.step_started
        if self.training_seconds >= self.budget_seconds:
            control.should_training_stop = True

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.evaluations.append(
            {
                "step": state.global_step,
                "epoch": state.epoch,
                "training_minutes": self.training_seconds / 60,
                **{name.removeprefix("eval_"): value for name, value in metrics.items()},
            }
        )


def as_argv(flags: dict) -> list[str]:
    """`{"task": "translation", ...}` -> `["--task", "translation", ...]` for `run_train_script`."""
    return [item for flag, value in flags.items() for item in (f"--{flag}", str(value))]


def count_parameters(model_dir: Path) -> int:
    """Parameters stored in a saved model folder (tied matrices once)."""
    return sum(tensor.numel() for tensor in load_file(str(model_dir / "model.safetensors")).values())


def claim_output_dir(path: Path, overwrite: bool) -> None:
    """
    An empty `path` for a benchmark run: an existing, non-empty one is removed only with `overwrite` (the benchmark's
    `--overwrite_output_dir`), as train.py would otherwise refuse it (or keep an earlier run's checkpoints).
    """
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise SystemExit(f"{path} holds an earlier run; pass --overwrite_output_dir to replace it.")
        shutil.rmtree(path)
