"""Runs `scripts/train.py` with test-only callbacks, as a script (so torchrun / accelerate can launch it).

The script runs as `__main__` (it is not imported); the callbacks reach its Trainer through `Trainer.__init__`,
which every trainer class the tasks use (Seq2SeqTrainer, StatefulLMTrainer) calls.

    python tests/train_harness.py --dump_weights --pause_after_save -- <train.py flags>

--dump_weights      <output_dir>/initial.pt before training, and each rank's final weights in rank<N>.pt
--pause_after_save  after the first checkpoint, write <output_dir>/saved.marker and sleep (a test then kills us)
"""

import runpy
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import TrainerCallback

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train.py"


class DumpWeightsPerRank(TrainerCallback):
    """Writes initial.pt (rank 0, before the first step) and rank<N>.pt (each rank, after the last)."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if args.process_index == 0:
            save_weights(model, Path(args.output_dir) / "initial.pt")

    def on_train_end(self, args, state, control, model=None, **kwargs):
        save_weights(model, Path(args.output_dir) / f"rank{args.process_index}.pt")


def save_weights(model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({name: tensor.detach().clone() for name, tensor in model.state_dict().items()}, path)


class PauseAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        (Path(args.output_dir) / "saved.marker").write_text(str(state.global_step))
        time.sleep(600)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    flags, train_argv = sys.argv[1:separator], sys.argv[separator + 1 :]
    callbacks = []
    if "--dump_weights" in flags:
        callbacks.append(DumpWeightsPerRank())
    if "--pause_after_save" in flags:
        callbacks.append(PauseAfterFirstSave())
    original_init = transformers.Trainer.__init__

    def init_with_test_callbacks(self, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *callbacks]
        original_init(self, *args, **kwargs)

    transformers.Trainer.__init__ = init_with_test_callbacks
    sys.argv = [str(SCRIPT), *train_argv]
    runpy.run_path(str(SCRIPT), run_name="__main__")
