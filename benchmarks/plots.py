"""The benchmarks' one plot helper: figures drawn without pyplot (no global state, no display backend to choose),
and their common finish."""

from pathlib import Path

from matplotlib.figure import Figure


def new_plot(size: tuple[float, float], rows: int = 1, squeeze: bool = True):
    """A figure of `size` inches and its axes (`rows` of them, stacked; an array unless one and `squeeze`)."""
    figure = Figure(figsize=size)
    return figure, figure.subplots(rows, 1, squeeze=squeeze)


def save_plot(figure, axis, path: Path, dpi: int = 120, grid: bool = True, legend: bool = True) -> None:
    """Light grid, legend, tight layout, a PNG at `dpi`."""
    if grid:
        axis.grid(alpha=0.3, which="both")
    if legend:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
