"""How many threads a CPU training run gives PyTorch's intra-op pool when the user has not said.

torch's own default is one thread per physical core. For a small recurrent model on a CPU that others share, that is
the worst choice: each LSTM step is a chain of small matrix products, each split between the threads, and whenever
the scheduler lends one of the cores to another process the other thread waits at the join. Measured on 2 cores
(`python -m benchmarks.threads`; benchmarks/README.md, "Threads"), an SST-2 training step of a 128-unit LSTM
classifier (batch 32 / 128) takes 7.5 / 10.6 ms on 1 thread and 7.6 / 10.8 ms on 2 when the process has the cores to
itself, but 63 / 25 ms on 2 threads against 7.9 / 11.2 ms on 1 while other jobs share the machine (medians; the
2-thread runs also stall for whole time slices now and then). A small model therefore trains on one thread; a larger
one keeps torch's default, where the threads pay for themselves on a machine of its own (a 512-unit LSTM: 1.3x
faster on 2 threads). `OMP_NUM_THREADS` (or `MKL_NUM_THREADS`) always wins: torch reads it at import, and this module
then leaves the pool alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

# The variables through which a user sets torch's intra-op threads (torch reads them when it is imported).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Below this many parameters outside the input embeddings, a model trains on one CPU thread: a 128-unit LSTM
# classifier has 0.13M (no faster on 2 idle cores, 2-8x slower on 2 shared ones); a 512-unit layer has 2.1M (1.3x
# faster on 2 idle cores), the models of the translation and character-LM benchmarks 2-5M.
SMALL_MODEL_PARAMETERS = 1_000_000


def compute_parameters(model: nn.Module) -> int:
    """
    Parameters that take part in every token's arithmetic: all but the input embedding tables (a lookup reads one
    row per token). A tied output layer counts (its matrix product spans the whole vocabulary).
    """
    counted = {}
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            continue
        for parameter in module.parameters(recurse=False):
            counted[id(parameter)] = parameter.numel()
    return sum(counted.values())


def default_torch_threads(model: nn.Module, device_type: str, environ: Mapping[str, str] | None = None) -> int | None:
    """
    The intra-op threads a training run should set, or None to leave torch's choice: 1 for a model under
    `SMALL_MODEL_PARAMETERS` trained on the CPU, unless the environment sets `THREAD_VARIABLES`.
    """
    environ = os.environ if environ is None else environ
    if device_type != "cpu" or any(environ.get(name) for name in THREAD_VARIABLES):
        return None
    return 1 if compute_parameters(model) < SMALL_MODEL_PARAMETERS else None


def apply_default_torch_threads(model: nn.Module, device_type: str) -> int | None:
    """`torch.set_num_threads(default_torch_threads(...))` where that is not None; returns what it set."""
    threads = default_torch_threads(model, device_type)
    if threads is not None:
        torch.set_num_threads(threads)
    return threads
