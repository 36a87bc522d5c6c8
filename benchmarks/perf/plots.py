"""The PNG plots of the report (drawn with `benchmarks.plots`), each listed in the report."""

from pathlib import Path

from benchmarks.perf.report import Report
from benchmarks.perf.timing import median
from benchmarks.plots import new_plot, save_plot


def plot_latency(path: Path, rnn, gpt2, crossing, report: Report) -> None:
    figure, axis = new_plot((7, 4))
    axis.plot(rnn[0], [v * 1e3 for v in rnn[1]], label="hf_rnn")
    axis.plot(gpt2[0], [v * 1e3 for v in gpt2[1]], label="GPT-2 (same size)")
    if crossing is not None:
        axis.axvline(crossing, color="gray", linestyle="--", label=f"GPT-2 slower from {crossing}")
    axis.set(xlabel="position", ylabel="ms per token (batch 1)", title="generation latency vs position")
    save_plot(figure, axis, path, dpi=110, grid=False)
    report.plots.append(str(path))


def plot_memory(path: Path, peak: dict[int, float], report: Report) -> None:
    figure, axis = new_plot((5, 3.5))
    counts = sorted(peak)
    axis.plot(counts, [peak[n] for n in counts], marker="o", label="hf_rnn")
    axis.set(xlabel="generated tokens", ylabel="peak MiB above the model", title="generation memory", ylim=(0, None))
    save_plot(figure, axis, path, dpi=110, grid=False)
    report.plots.append(str(path))


def plot_bars(path: Path, title: str, values: dict[str, float], report: Report) -> None:
    figure, axis = new_plot((6, 3.5))
    axis.bar(list(values), list(values.values()))
    axis.set(title=title)
    save_plot(figure, axis, path, dpi=110, grid=False, legend=False)
    report.plots.append(str(path))


def plot_training(path: Path, report: Report) -> None:
    raw = report.raw.get("training")
    if not raw:
        return
    figure, axis = new_plot((7, 3.5))
    names = [n for n in raw if n != "classifier"]
    width = 0.4
    for offset, side in ((-width / 2, "hf_rnn"), (width / 2, "plain")):
        values = [raw[n]["tokens_per_step"] / median(raw[n]["seconds_per_step"][side]) for n in names]
        axis.bar([i + offset for i in range(len(names))], values, width, label=side)
    axis.set_xticks(range(len(names)), names)
    axis.set(ylabel="training tokens/s", title="causal LM training throughput")
    save_plot(figure, axis, path, dpi=110, grid=False)
    report.plots.append(str(path))


