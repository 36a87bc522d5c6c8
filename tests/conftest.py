"""Shared builders for the test suite: tiny configs, models and a corpus generated on the spot."""

import codecs
import contextlib
import importlib.util
import io
import os
import subprocess
import sys

import pytest
import torch

from hf_rnn import CELL_TYPES, RNNConfig, train_tokenizer

VOCAB_SIZE = 37


def pytest_addoption(parser):
    parser.addoption(
        "--installed-wheel", action="store_true", help="run test_installed_wheel.py (in a venv holding the wheel)"
    )


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


@pytest.fixture(params=CELL_TYPES)
def cell(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def char_tokenizer():
    return train_tokenizer(zen_of_python().splitlines(), kind="char")


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
        **(extra_env or {}),
    }
    completed = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], env=env, cwd=work, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, f"subprocess without hf_rnn failed:\n{completed.stderr[-6000:]}"


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread, and do not stall when the two cores are busy elsewhere."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def train_script():
    """scripts/train.py imported as a module (one fresh copy per test module), for in-process checks."""
    from script_runs import SCRIPT

    spec = importlib.util.spec_from_file_location("train_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
