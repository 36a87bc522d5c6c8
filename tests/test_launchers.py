"""scripts/train.py under torchrun with two gloo ranks (DDP on CPU), and with bf16 autocast on CPU."""

import json
import math
import sys

import pytest
import torch
from helpers import HARNESS, finish, free_port, start

pytestmark = pytest.mark.slow  # torchrun with two gloo ranks and bf16 runs: subprocess training, a minute or more

# A few deterministic steps of a tiny char LM on the embedded corpus; dropout off so that ranks and runs can match.
TINY_RUN = [
    "--max_steps", "3", "--hidden_size", "16", "--block_size", "32", "--max_train_samples", "64",
    "--max_eval_samples", "8", "--num_sample_generations", "0", "--output_dropout", "0", "--learning_rate", "0.05",
    "--logging_steps", "1", "--eval_strategy", "no", "--save_strategy", "no", "--use_cpu", "--report_to", "none",
    "--seed", "0",
]  # fmt: skip


# Stateful BPTT: the text is cut into ranks x batch streams and rank r reads its own rows, so two ranks of 4
# streams see exactly the 8 streams one process reads; the weights must then agree as for independent blocks.
@pytest.mark.parametrize("mode", [[], ["--stateful_bptt"]], ids=["blocks", "stateful-bptt"])
def test_two_gloo_ranks_end_identical_and_equal_one_process_with_the_same_global_batch(tmp_path, mode):
    two, one = tmp_path / "two-ranks", tmp_path / "one-process"
    ddp = start(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
         HARNESS, "--dump_weights", "--", *TINY_RUN, *mode, "--ddp_backend", "gloo",
         "--per_device_train_batch_size", "4", "--output_dir", str(two)],
        tmp_path,
    )  # fmt: skip
    single = start(
        [sys.executable, HARNESS, "--dump_weights", "--", *TINY_RUN, *mode, "--per_device_train_batch_size", "8",
         "--output_dir", str(one)],
        tmp_path,
    )  # fmt: skip
    finish(ddp)
    finish(single)

    rank0, rank1 = torch.load(two / "rank0.pt"), torch.load(two / "rank1.pt")
    reference, initial = torch.load(one / "rank0.pt"), torch.load(one / "initial.pt")
    assert rank0.keys() == rank1.keys() == reference.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
        torch.testing.assert_close(rank0[name], reference[name], atol=1e-5, rtol=0, msg=name)
    # The comparison has teeth only if training moved the weights well beyond the tolerance.
    assert max((reference[n] - initial[n]).abs().max().item() for n in reference) > 1e-2
    if not mode:
        assert json.loads((two / "train_results.json").read_text())["train_samples"] == 64


def test_bf16_autocast_trains_on_cpu_to_the_fp32_loss(tmp_path):
    runs = {
        precision: start(
            [
                sys.executable,
                HARNESS,
                "--dump_weights",
                "--",
                *TINY_RUN,
                *flags,
                "--output_dir",
                str(tmp_path / precision),
            ],
            tmp_path,
        )
        for precision, flags in (("fp32", []), ("bf16", ["--bf16"]))
    }
    for process in runs.values():
        finish(process)
    fp32, bf16 = (json.loads((tmp_path / p / "all_results.json").read_text()) for p in ("fp32", "bf16"))
    assert math.isfinite(bf16["eval_loss"]) and bf16["perplexity"] == math.exp(bf16["eval_loss"])
    assert abs(bf16["eval_loss"] - fp32["eval_loss"]) < 0.02 * fp32["eval_loss"]
    # Autocast really ran: bf16 matrix products round differently, so the trained weights differ from fp32's.
    fp32_weights, bf16_weights = (torch.load(tmp_path / p / "rank0.pt") for p in ("fp32", "bf16"))
    assert any(not torch.equal(fp32_weights[n], bf16_weights[n]) for n in fp32_weights)
