"""Fixtures and options of the test suite; the shared builders live in helpers.py."""

import pytest
import torch
from helpers import zen_of_python

from hf_rnn import CELL_TYPES, train_tokenizer


def pytest_addoption(parser):
    parser.addoption(
        "--installed-wheel", action="store_true", help="run test_installed_wheel.py (in a venv holding the wheel)"
    )


@pytest.fixture(params=CELL_TYPES)
def cell(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def char_tokenizer():
    return train_tokenizer(zen_of_python().splitlines(), kind="char")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread, and do not stall when the two cores are busy elsewhere."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
