"""A run killed with SIGKILL after a checkpoint, resumed with --resume_from_checkpoint, ends bitwise where an
uninterrupted run ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import HARNESS, finish, start

pytestmark = pytest.mark.slow  # kills and resumes a training subprocess

RUN = [
    "--max_steps", "8", "--save_strategy", "steps", "--save_steps", "4", "--save_total_limit", "2",
    "--hidden_size", "16", "--block_size", "32", "--max_train_samples", "64", "--max_eval_samples", "8",
    "--per_device_train_batch_size", "4", "--num_sample_generations", "0", "--output_dropout", "0.2",
    "--learning_rate", "0.05", "--logging_steps", "1", "--eval_strategy", "no", "--use_cpu", "--report_to", "none",
    "--seed", "0",
]  # fmt: skip


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[0][-4000:]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def test_resume_after_sigkill_reproduces_the_uninterrupted_weights_bitwise(tmp_path):
    straight, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    uninterrupted = start(
        [sys.executable, HARNESS, "--dump_weights", "--", *RUN, "--output_dir", str(straight)], tmp_path
    )
    interrupted = start(
        [sys.executable, HARNESS, "--pause_after_save", "--", *RUN, "--output_dir", str(killed)], tmp_path
    )
    wait_for(killed / "saved.marker", interrupted)
    os.kill(interrupted.pid, signal.SIGKILL)
    interrupted.wait(timeout=60)
    assert interrupted.returncode == -signal.SIGKILL
    assert (killed / "checkpoint-4").is_dir() and not (killed / "model.safetensors").exists()

    resume = ["--resume_from_checkpoint", str(killed / "checkpoint-4"), "--output_dir", str(killed)]
    finish(start([sys.executable, HARNESS, "--dump_weights", "--", *RUN, *resume], tmp_path))
    finish(uninterrupted)

    expected, resumed = torch.load(straight / "rank0.pt"), torch.load(killed / "rank0.pt")
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(resumed[name], expected[name]), name
