"""Line plots written as PNG files, without pyplot's global state (a bare `Figure` renders with Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure


def line_plot(
    path: str | Path,
    series: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    size: tuple[float, float] = (7, 4.5),
) -> Figure:
    """One PNG of `series`, each `(label, xs, ys, style)` (a matplotlib format string such as "o-"); its figure."""
    figure = Figure(figsize=size, layout="tight")
    axes = figure.add_subplot()
    for label, xs, ys, style in series:
        if len(xs):
            axes.plot(xs, ys, style, label=label)
    if logx:
        axes.set_xscale("log")
    if logy:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=100)
    return figure


def plot_loss(log_history: list[dict], path: str | Path, ylabel: str = "loss") -> Figure:
    """
    Training and validation loss over steps (from `trainer.state.log_history`), as a PNG; `ylabel` says what the
    loss measures (a task's `loss_label`).
    """
    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    evaluation = [(entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry]
    return line_plot(
        path,
        [(label, [x for x, _ in points], [y for _, y in points], style)
         for points, label, style in ((train, "training", "-"), (evaluation, "validation", "o-"))],
        xlabel="step",
        ylabel=ylabel,
    )  # fmt: skip
