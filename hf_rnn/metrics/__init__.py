"""Evaluation metrics shipped with hf_rnn as `evaluate` modules, so they load without the Hub.

Each metric is a folder `<name>/<name>.py` defining an `evaluate.Metric`; `load_metric(name)` loads it with
`evaluate.load(<folder>)`, which works offline.
"""

from __future__ import annotations

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).parent


def available_metrics() -> tuple[str, ...]:
    """Names of the metric modules shipped in this folder."""
    return tuple(sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file()))


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """Load a shipped metric by name (e.g. `"sacrebleu_chrf"`); `kwargs` go to `evaluate.load`."""
    allowed = available_metrics()
    if name not in allowed:
        raise ValueError(
            f"name={name!r} is not a metric shipped with hf_rnn; choose one of {', '.join(map(repr, allowed))}."
        )
    return evaluate.load(str(METRICS_DIR / name), **kwargs)


__all__ = ["METRICS_DIR", "available_metrics", "load_metric"]
