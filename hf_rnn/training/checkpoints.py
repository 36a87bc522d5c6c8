"""Checkpoints and output folders: what is safe to resume from, and what a run may write over.

Whatever can be known before training is checked before anything is written; a problem is a `ValueError` naming the
`TrainingArguments` field (`resume_from_checkpoint`, `output_dir`). During training, `ReplaceCheckpointDebris`
keeps a half-written checkpoint from mixing with a new one, and `save_final_model` never leaves old weights next
to a new config.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import PreTrainedModel, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

CHECKPOINT_PREFIX = PREFIX_CHECKPOINT_DIR
CHECKPOINT_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# What a Trainer checkpoint of this script holds besides its weights. Trainer writes trainer_state.json last (after
# the model, tokenizer, optimizer, scheduler and RNG states), so a folder with all of them, and a trainer_state.json
# that parses, was written to the end; a folder killed mid-write, or half-deleted by a killed rotation, lacks one.
# (The tokenizer is not listed: a task without text, forecasting, has none; a text task's is written before
# trainer_state.json, and resuming reads it from the checkpoint.)
CHECKPOINT_FILES = ("config.json", "optimizer.pt", "scheduler.pt", "trainer_state.json")
RESUME_LATEST = ("True", "true")  # resume_from_checkpoint True: the latest complete checkpoint in output_dir


def checkpoint_step(path: Path) -> int | None:
    """N of a `checkpoint-N` folder name, else None."""
    prefix, _, step = path.name.partition("-")
    return int(step) if prefix == CHECKPOINT_PREFIX and step.isdigit() else None


def checkpoint_folders(folder: Path) -> list[Path]:
    """The `checkpoint-N` folders of `folder`, by step."""
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if path.is_dir() and checkpoint_step(path) is not None]
    return sorted(found, key=checkpoint_step)


def checkpoint_problem(path: Path) -> str | None:
    """Why `path` is not a complete checkpoint (a phrase to follow its name), or None when it is one."""
    if not path.is_dir():
        return "is not a folder"
    missing = [name for name in CHECKPOINT_FILES if not (path / name).is_file()]
    weights = next((path / name for name in CHECKPOINT_WEIGHTS if (path / name).is_file()), None)
    if weights is None:
        missing.insert(0, "model.safetensors")
    if missing:
        return f"is not a complete checkpoint (it has no {', '.join(missing)}: written or deleted only in part?)"
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (ValueError, OSError):
        return "is corrupt (its trainer_state.json does not parse)"
    if weights.name == "model.safetensors":
        from safetensors import safe_open

        try:
            with safe_open(weights, "pt") as file:
                file.keys()
        except Exception:  # safetensors raises its own SafetensorError on a truncated or garbled file
            return "is corrupt (its model.safetensors does not load)"
    return None


def latest_complete_checkpoint(folder: Path) -> Path | None:
    return next((path for path in reversed(checkpoint_folders(folder)) if checkpoint_problem(path) is None), None)


def resolve_resume_checkpoint(training_args: TrainingArguments) -> Path | None:
    """
    resume_from_checkpoint as a complete checkpoint folder: a path, or `True` for the latest complete
    checkpoint in output_dir (as `Trainer.train(resume_from_checkpoint=True)`; the flag is a string, so
    transformers would take "True" for a path). `False` means no resume.
    """
    value = training_args.resume_from_checkpoint
    if value is None or value in ("False", "false"):
        return None
    output_dir = Path(training_args.output_dir)
    if value in RESUME_LATEST and not Path(value).is_dir():
        latest = latest_complete_checkpoint(output_dir)
        if latest is None:
            raise ValueError(
                f"resume_from_checkpoint {value}: output_dir {str(output_dir)!r} holds no complete "
                f"{CHECKPOINT_PREFIX}-* folder to resume from."
            )
        return latest
    path = Path(value)
    if not path.exists():
        raise ValueError(f"resume_from_checkpoint {value!r} does not exist.")
    problem = checkpoint_problem(path)
    if problem is not None:
        latest = latest_complete_checkpoint(path.parent)
        hint = f"; the latest complete checkpoint next to it is {str(latest)!r}" if latest else ""
        raise ValueError(f"resume_from_checkpoint {value!r} {problem}{hint}.")
    return path


def check_output_dir(training_args: TrainingArguments, overwrite_output_dir: bool, resume: Path | None) -> None:
    """
    Nothing the user had in output_dir is overwritten or deleted without a flag saying so:
    - an empty or new folder is fine;
    - resuming one of its own checkpoints is fine, unless a newer complete checkpoint is there (this run would
      overwrite it, or its rotation delete it);
    - otherwise overwrite_output_dir is needed, and is refused while the folder holds checkpoint-* folders:
      Trainer's save_total_limit rotation deletes every checkpoint-* in the folder, an earlier run's too.
    """
    output_dir = Path(training_args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output_dir {str(output_dir)!r} is a file, not a folder.")
    if not output_dir.is_dir() or not any(output_dir.iterdir()):
        return
    checkpoints = checkpoint_folders(output_dir)
    if resume is not None and resume.resolve().parent == output_dir.resolve():
        newer = [c for c in checkpoints if checkpoint_step(c) > checkpoint_step(resume) and not checkpoint_problem(c)]
        if newer:
            raise ValueError(
                f"resume_from_checkpoint {str(resume)!r} is older than {newer[-1].name} in output_dir: this run "
                "would overwrite or rotate away the newer checkpoint(s). Resume the latest "
                "(resume_from_checkpoint True), or move the newer ones out of the folder first."
            )
        return
    if not overwrite_output_dir:
        raise ValueError(
            f"output_dir {str(output_dir)!r} is not empty; pass overwrite_output_dir to write over it, "
            "resume_from_checkpoint to continue one of its checkpoints, or choose another output_dir."
        )
    if checkpoints:
        names = ", ".join(path.name for path in checkpoints[:5]) + (", ..." if len(checkpoints) > 5 else "")
        raise ValueError(
            f"overwrite_output_dir: output_dir {str(output_dir)!r} holds checkpoints of an earlier run ({names}), "
            "which this run's checkpoint rotation (save_total_limit) would delete or overwrite. Move or delete them "
            "first, or resume one with resume_from_checkpoint."
        )


def use_checkpoint_tokenizer(model_args, checkpoint: Path) -> None:
    """A resumed run tokenizes with the tokenizer its checkpoint was trained with (Trainer saves it in each one)."""
    if model_args.tokenizer_name is not None:
        raise ValueError(
            "tokenizer_name cannot be combined with resume_from_checkpoint: a checkpoint resumes with the "
            "tokenizer saved in it."
        )
    model_args.tokenizer_name = str(checkpoint)
    model_args.tokenizer_from_checkpoint = True


def check_checkpoint_fits(model: PreTrainedModel, checkpoint: Path) -> None:
    """The resumed checkpoint's weights have this run's parameter names and shapes (the same model arguments)."""
    weights = checkpoint / "model.safetensors"
    if not weights.is_file():
        return
    from safetensors import safe_open

    with safe_open(weights, "pt") as file:
        saved = {name: tuple(file.get_slice(name).get_shape()) for name in file.keys()}
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    for name, shape in saved.items():
        if name not in expected:
            raise ValueError(
                f"resume_from_checkpoint {str(checkpoint)!r} holds another model (its {name} is not a parameter of "
                "this run's model). Resume with the model arguments of the run that wrote it."
            )
        if expected[name] != shape:
            raise ValueError(
                f"resume_from_checkpoint {str(checkpoint)!r} holds another model: {name} is {shape} there, "
                f"{expected[name]} with these arguments. Resume with the model arguments of the run that wrote it."
            )


class ReplaceCheckpointDebris(TrainerCallback):
    """
    Before Trainer writes checkpoint-N into a folder that already has an incomplete checkpoint-N (left by a run
    killed while writing it, which this run resumed from before it), the leftover is removed: Trainer writes into the
    folder in place, and old weights next to a new config would otherwise load as if they were whole.
    """

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save and args.should_save:
            leftover = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}-{state.global_step}"
            if leftover.exists() and checkpoint_problem(leftover) is not None:
                shutil.rmtree(leftover)


def save_final_model(trainer: Trainer) -> None:
    """
    `trainer.save_model()`, after removing the weights an earlier run left in the folder (overwrite_output_dir, or
    a resumed run whose folder holds a final model): killed while saving, the folder then holds no weights or
    truncated ones, never old weights that would load with the new config as if they were the new model.
    """
    if trainer.is_world_process_zero():
        for name in (*CHECKPOINT_WEIGHTS, "pytorch_model.bin.index.json"):
            (Path(trainer.args.output_dir) / name).unlink(missing_ok=True)
    trainer.save_model()  # model, config with auto_map, modeling code, generation config, tokenizer
