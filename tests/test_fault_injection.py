"""train.py killed with SIGKILL at random moments, several times, each time resumed with
`--resume_from_checkpoint True`.

Spec: after any kill, every `checkpoint-*` folder is either complete (train.py's `checkpoint_problem` finds
nothing, and it loads with the Auto classes) or refused as incomplete; the resumed run starts from the latest
complete one; the run finally ends with the step count of an uninterrupted run. A checkpoint is written at every
step, so most of a run's time is spent writing checkpoints or rotating them away (--save_total_limit), and the
random kills land in the middle of those writes.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import HARNESS, start
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_rnn.training import checkpoint_problem, latest_complete_checkpoint

pytestmark = pytest.mark.slow  # kills training subprocesses at random moments

MAX_STEPS = 40
RUN = [
    "--max_steps", str(MAX_STEPS), "--save_strategy", "steps", "--save_steps", "1", "--save_total_limit", "2",
    "--hidden_size", "16", "--block_size", "16", "--max_train_samples", "32", "--max_eval_samples", "4",
    "--per_device_train_batch_size", "4", "--num_sample_generations", "0", "--eval_strategy", "no",
    "--logging_steps", "1", "--use_cpu", "--report_to", "none", "--seed", "0", "--disable_tqdm", "true",
]  # fmt: skip
KILLS = 4


def newest_step(folder) -> int:
    steps = [int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    return max(steps, default=0)


def kill_after_some_checkpoints(process: subprocess.Popen, folder, rng: random.Random) -> bool:
    """SIGKILL once a few more checkpoints exist, a random moment later; False if the run ended first."""
    target = newest_step(folder) + rng.randint(2, 5)
    deadline = time.monotonic() + 240
    while newest_step(folder) < target:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.03))
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    return True


@pytest.mark.slow
def test_sigkill_at_random_moments_always_leaves_a_complete_checkpoint_to_resume(tmp_path):
    rng = random.Random(0)
    out = tmp_path / "run"
    incomplete_seen, resumed_from = 0, []
    for attempt in range(KILLS + 1):
        expected = latest_complete_checkpoint(out)
        resume = ["--resume_from_checkpoint", "True"] if attempt else []
        assert not attempt or expected is not None, "a kill left no complete checkpoint"
        process = start([sys.executable, HARNESS, "--", *RUN, *resume, "--output_dir", str(out)], tmp_path)
        if attempt == KILLS or not kill_after_some_checkpoints(process, out, rng):
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, output[-4000:]
            break
        output = process.stdout.read()
        if expected is not None:
            match = re.search(r"Resuming from (\S+)", output)
            assert match and match.group(1) == str(expected), output[-2000:]
            resumed_from.append(expected.name)
        assert not (out / "model.safetensors").exists()  # killed before the final save
        for checkpoint in out.glob("checkpoint-*"):
            problem = checkpoint_problem(checkpoint)
            if problem is not None:
                incomplete_seen += 1
                continue
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            assert checkpoint.name == f"checkpoint-{state['global_step']}"
            model = AutoModelForCausalLM.from_pretrained(checkpoint)
            assert len(AutoTokenizer.from_pretrained(checkpoint)) == model.config.vocab_size
            assert all(torch.isfinite(p).all() for p in model.parameters())

    final = json.loads((out / "trainer_state.json").read_text())
    assert final["global_step"] == MAX_STEPS
    assert AutoModelForCausalLM.from_pretrained(out).config.vocab_size == len(AutoTokenizer.from_pretrained(out))
    assert len(resumed_from) >= 2, resumed_from  # the runs really were killed and resumed
    print(f"resumed from {resumed_from}; incomplete checkpoint folders seen after kills: {incomplete_seen}")
