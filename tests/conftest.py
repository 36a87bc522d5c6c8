"""Shared builders for the test suite: tiny configs, models and a corpus generated on the spot."""

import codecs
import contextlib
import io

import pytest
import torch

from hf_rnn import CELL_TYPES, RNNConfig, train_tokenizer

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


@pytest.fixture(params=CELL_TYPES)
def cell(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def char_tokenizer():
    return train_tokenizer(zen_of_python().splitlines(), kind="char")
