"""Shared builders for the test suite (imported by test modules as `from helpers import ...`; no test module
imports another): tiny configs and models, a corpus generated on the spot, the reversal task of the seq2seq tests,
running code without hf_rnn, and running `scripts/train.py` (in this process, or as subprocesses)."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import random
import runpy
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from hf_rnn import RNNConfig, RNNSeq2SeqConfig, RNNSeq2SeqForConditionalGeneration

VOCAB_SIZE = 37


def tiny_config(cell: str = "lstm", **overrides) -> RNNConfig:
    """A two-layer model small enough that every test runs in milliseconds."""
    values = {"vocab_size": VOCAB_SIZE, "hidden_size": 12, "num_hidden_layers": 2, "cell": cell}
    values.update(overrides)
    return RNNConfig(**values)


def seeded(model_class, config, seed: int = 0):
    torch.manual_seed(seed)
    return model_class(config).eval()


def zen_of_python() -> str:
    """English text every Python installation carries (the `this` module, rot13-encoded)."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the poem
        import this
    return codecs.decode(this.s, "rot13")


# The first lines of every script that must run without hf_rnn: it blocks the import although the package is
# installed, and records in `hf_rnn_blocked` that the block held.
BLOCK_HF_RNN = """
import sys

sys.modules["hf_rnn"] = None  # `import hf_rnn` now raises ImportError although the package is installed
try:
    import hf_rnn  # noqa: F401
except ImportError:
    hf_rnn_blocked = True
else:
    hf_rnn_blocked = False
"""


def run_without_hf_rnn(script: str, *args, work, extra_env: dict | None = None) -> None:
    """
    Run `script` (Python source starting with `BLOCK_HF_RNN`) in a fresh interpreter in `work`, with the
    Hub offline and an empty HF home and remote-module cache (`work/hf_modules`), so remote code must come from
    the saved folder. Fails the test with the subprocess's stderr if it exits non-zero.
    """
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(work / "hf_home"),
        "HF_MODULES_CACHE": str(work / "hf_modules"),
        # As many threads as this process uses now: the tests compare the two bit for bit, and a float sum split
        # over another number of threads rounds differently (train.py, run in-process by earlier tests, sets one
        # thread for small models).
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
        **(extra_env or {}),
    }
    completed = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], env=env, cwd=work, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, f"subprocess without hf_rnn failed:\n{completed.stderr[-6000:]}"


# The reversal task of the seq2seq tests: the target is the source backwards.
PAD, BOS, EOS = 0, 2, 3
SYMBOLS = tuple(range(4, 14))  # the reversal task's alphabet; ids 0-3 are <pad>, <unk>, <s>, </s>
TASK_VOCAB_SIZE = 14
RANDOM_VOCAB_SIZE = 23

# The trained models: name -> config overrides.
TRAINED = {
    "luong_general": {"attention": "luong_general", "encoder_cell": "lstm", "decoder_cell": "lstm"},
    "bahdanau": {"attention": "bahdanau", "encoder_cell": "gru", "decoder_cell": "gru"},
}


def pad_sources(sources: list[list[int]], side: str = "left") -> dict[str, torch.Tensor]:
    width = max(map(len, sources))

    def pad(row, value):
        filler = [value] * (width - len(row))
        return list(row) + filler if side == "right" else filler + list(row)

    return {
        "input_ids": torch.tensor([pad(s, PAD) for s in sources]),
        "attention_mask": torch.tensor([pad([1] * len(s), 0) for s in sources]),
    }


def reversal_labels(sources: list[list[int]]) -> torch.Tensor:
    """The target of each source is the source reversed, then EOS; padded with -100."""
    width = max(map(len, sources)) + 1
    return torch.tensor([s[::-1] + [EOS] + [-100] * (width - len(s) - 1) for s in sources])


def random_sources(num: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.choice(SYMBOLS) for _ in range(rng.randint(3, 7))] for _ in range(num)]


# The model size of the reversal task, trained and untrained alike.
REVERSAL_MODEL_SIZES = {
    "vocab_size": TASK_VOCAB_SIZE,
    "embedding_size": 32,
    "encoder_hidden_size": 32,
    "decoder_hidden_size": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
}


def train_reversal_model(name: str, steps: int = 400, seed: int = 0) -> RNNSeq2SeqForConditionalGeneration:
    """A plain Adam loop on fresh random batches, each padded on a randomly chosen side."""
    torch.manual_seed(seed)
    config = RNNSeq2SeqConfig(**REVERSAL_MODEL_SIZES, **TRAINED[name])
    model = RNNSeq2SeqForConditionalGeneration(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(seed)
    for _ in range(steps):
        sources = random_sources(32, seed=rng.random())
        batch = pad_sources(sources, rng.choice(("left", "right")))
        loss = model(**batch, labels=reversal_labels(sources)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


# scripts/train.py, run as a program: in this process (as `__main__`, for the checks that stop it before training),
# as subprocesses started together, or under a launcher with test callbacks (train_harness.py).
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"


@dataclass
class ScriptRun:
    output_dir: Path
    returncode: int
    stdout: str
    stderr: str


def run_scripts_concurrently(root: Path, arguments: dict[str, list[str]]) -> dict[str, ScriptRun]:
    """Start one `train.py` per entry (output in `root/<name>`), all at once: each spends seconds on imports."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(root / "datasets_cache"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    started = {}
    for name, args in arguments.items():
        # Files, not pipes: a full pipe would stall a run while the caller waits on another one.
        stdout, stderr = open(root / f"{name}.stdout", "w"), open(root / f"{name}.stderr", "w")
        command = [sys.executable, str(SCRIPT), *args, "--output_dir", name]
        started[name] = (subprocess.Popen(command, cwd=root, env=env, stdout=stdout, stderr=stderr), stdout, stderr)
    finished = {}
    for name, (process, stdout, stderr) in started.items():
        returncode = process.wait(timeout=300)
        stdout.close()
        stderr.close()
        finished[name] = ScriptRun(
            root / name, returncode, Path(stdout.name).read_text(), Path(stderr.name).read_text()
        )
    return finished


def succeeded(run: ScriptRun) -> Path:
    assert run.returncode == 0, f"train.py failed:\n{run.stderr[-3000:]}"
    return run.output_dir


def run_train_script(argv: list[str]) -> None:
    """
    `python scripts/train.py ARGV`, in this process: the script runs as `__main__` (it is not imported), so a user
    error raises SystemExit(2) here after writing its one line to stderr.
    """
    saved = sys.argv
    sys.argv = [str(SCRIPT), *map(str, argv)]
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    finally:
        sys.argv = saved


HARNESS = str(Path(__file__).resolve().parent / "train_harness.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, timeout: float = 300) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-4000:]
    return output
