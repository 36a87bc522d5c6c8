"""The report: one table per section (pair, ratio, target, met or not) written as perf.md and perf.json."""

import dataclasses
import json
import math
import os
import platform
import time
from pathlib import Path

import torch

from benchmarks.perf.config import Sizes, log


class Report:
    """Rows of (measurement, A, B, ratio, target, met) per section, raw numbers, and the notes under each table."""

    def __init__(self, device: torch.device, sizes: Sizes, quick: bool):
        self.tables: dict[str, list[dict]] = {}
        self.notes: dict[str, list[str]] = {}
        self.raw: dict[str, dict] = {}
        self.plots: list[str] = []
        self.machine = machine_info(device)
        self.sizes, self.quick = sizes, quick

    def row(self, section, measurement, a_label, a, b_label, b, ratio, target=None, met=None, unit=""):
        self.tables.setdefault(section, []).append(
            {
                "measurement": measurement,
                "a": f"{a_label}: {format_number(a)}{unit}",
                "a_value": a,
                "b_value": b,
                "b": f"{b_label}: {format_number(b)}{unit}" if b_label else "",
                "ratio": ratio,
                "target": target or "",
                "met": "" if met is None else ("met" if met else "NOT met"),
            }
        )
        log(f"  {measurement}: {a_label} {format_number(a)}{unit} | {b_label} {format_number(b)}{unit} | ratio "
            f"{format_number(ratio)} {('(' + target + ')') if target else ''}")

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    def markdown(self) -> str:
        lines = [
            "# hf_rnn performance",
            "",
            f"Machine: {self.machine['device_name']}; torch {self.machine['torch']}, transformers "
            f"{self.machine['transformers']}, {self.machine['threads']} thread(s); "
            f"{'QUICK run (tiny sizes: plumbing only, the numbers mean nothing)' if self.quick else 'full sizes'}.",
            "Every row is measured in one run: both sides warmed up, then interleaved, median of the repeats.",
            "",
        ]
        for section, rows in self.tables.items():
            header = "| measurement | A | B | ratio A/B | target | |"
            lines += [f"## {section}", "", header, "|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(
                    f"| {r['measurement']} | {r['a']} | {r['b']} | {format_number(r['ratio'])} | {r['target']} "
                    f"| {r['met']} |"
                )
            lines.append("")
            for text in self.notes.get(section, []):
                lines += [text, ""]
        for section in self.notes:
            if section not in self.tables:
                lines += [f"## {section}", ""] + [line for text in self.notes[section] for line in (text, "")]
        if self.plots:
            lines += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in self.plots] + [""]
        return "\n".join(lines)

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "perf.md").write_text(self.markdown())
        payload = {
            "machine": self.machine,
            "quick": self.quick,
            "sizes": dataclasses.asdict(self.sizes),
            "tables": self.tables,
            "raw": self.raw,
        }
        (out / "perf.json").write_text(json.dumps(payload, indent=1, default=str))


def format_number(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e4:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return f"{value:.3g}"


def machine_info(device: torch.device) -> dict:
    import transformers

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    info = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "cpu_bf16": any(f in flags.split() for f in ("avx512_bf16", "amx_bf16")),
        "device": str(device),
        "device_name": f"CPU {cpu_model} ({os.cpu_count()} cores)",
        "mkldnn": torch.backends.mkldnn.is_available(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    return info

