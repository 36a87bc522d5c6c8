"""Clocks: interleaved, synchronized timings with a median, and a per-generation-step clock."""

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def interleaved_times(
    fns: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Seconds per call of each function: `warmup` untimed rounds, then `repeats` rounds in alternating order."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            times[name].append(timed(fns[name], device))
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)



class StepClock:
    """A logits processor that only notes the time of each generation step (one call per new token)."""

    def __init__(self, device: torch.device):
        self.device, self.stamps = device, []

    def __call__(self, input_ids, scores):
        synchronize(self.device)
        self.stamps.append(time.perf_counter())
        return scores

    def per_token_seconds(self) -> list[float]:
        """Seconds spent on token i (i >= 1), the gap between consecutive steps."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]

