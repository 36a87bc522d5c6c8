"""What `scripts/train.py` runs on, as a library: its arguments, the checks made before training, checkpoint
safety, and the callback that stops a diverging run. The tasks themselves are in `hf_rnn.tasks`."""

import math

import torch
from transformers import TrainerCallback
from transformers.utils import logging as transformers_logging

from .arguments import (
    DataArguments,
    ModelArguments,
    argument_parser,
    check_model_flags,
    check_run_arguments,
    keep_hub_token_out_of_files,
    parse_arguments,
    training_defaults,
)
from .checkpoints import (
    ReplaceCheckpointDebris,
    check_checkpoint_fits,
    check_output_dir,
    checkpoint_problem,
    latest_complete_checkpoint,
    resolve_resume_checkpoint,
    save_final_model,
    use_checkpoint_tokenizer,
)
from .threads import apply_default_torch_threads, default_torch_threads

__all__ = [
    "DataArguments",
    "ModelArguments",
    "ReplaceCheckpointDebris",
    "StopOnNonFiniteTraining",
    "TrainingDiverged",
    "apply_default_torch_threads",
    "argument_parser",
    "check_checkpoint_fits",
    "check_model_flags",
    "check_output_dir",
    "check_run_arguments",
    "checkpoint_problem",
    "default_torch_threads",
    "hide_shard_writing_bars",
    "keep_hub_token_out_of_files",
    "latest_complete_checkpoint",
    "parse_arguments",
    "resolve_resume_checkpoint",
    "save_final_model",
    "training_defaults",
    "use_checkpoint_tokenizer",
]


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN or infinite."""


class StopOnNonFiniteTraining(TrainerCallback):
    """
    Stops training at the first step whose weights are no longer finite (a NaN or infinite loss gets there through
    the gradients) or whose logged loss is not finite: before that step is saved as a checkpoint, so the last
    checkpoint stays the last good one, and before the final model is saved.
    """

    def on_step_end(self, args, state, control, model=None, **kwargs):
        # A NaN or infinity anywhere makes its tensor's sum NaN or infinite, and one sum is one pass over the weights,
        # 25x cheaper than isfinite(p).all() (~0.1 vs ~3 ms a step for SST-2's 1.9M-entry embedding, an eighth of
        # the step). Summed in float32, finite fp16 weights cannot overflow the sum; fp32 or bf16 ones could only near
        # 1e38, which is divergence too.
        parameters = [p.detach() for p in model.parameters()] if model is not None else []
        sums = [p.sum(dtype=torch.float32) for p in parameters if p.is_floating_point()]
        if sums and not bool(torch.isfinite(torch.stack(sums)).all()):
            raise TrainingDiverged(f"the weights became NaN or infinite at step {state.global_step}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(f"the training loss became {loss} by step {state.global_step}")


# The description of the bar `PreTrainedModel.save_pretrained` draws (transformers 5) while it writes weight files.
SHARD_WRITING_BAR = "Writing model shards"


def hide_shard_writing_bars() -> None:
    """
    Hide transformers' "Writing model shards" progress bar. `save_pretrained` draws it at every save, so each
    checkpoint breaks into the training bar with a bar of its own, for one file written in milliseconds. Only that
    bar goes: transformers' tqdm hook (it replaces any earlier one) sees each bar's description before the bar is
    drawn. Trainer's training and evaluation bars, datasets' bars and download bars stay.
    """
    transformers_logging.set_tqdm_hook(_hide_shard_writing_bar)


def _hide_shard_writing_bar(factory, args, kwargs):
    if kwargs.get("desc") == SHARD_WRITING_BAR:
        factory = transformers_logging.EmptyTqdm
    return factory(*args, **kwargs)
