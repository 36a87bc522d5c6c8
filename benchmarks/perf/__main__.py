"""`python -m benchmarks.perf`: the command line, and the sections run in order."""

import argparse
import dataclasses
from pathlib import Path

import torch

from benchmarks.perf import DESCRIPTION
from benchmarks.perf.config import QUICK, REPO_ROOT, SECTIONS, Sizes, log
from benchmarks.perf.plots import plot_training
from benchmarks.perf.report import Report
from benchmarks.perf.sections.generation import section_generation
from benchmarks.perf.sections.inference import section_inference
from benchmarks.perf.sections.profile import section_profile
from benchmarks.perf.sections.roofline import section_roofline
from benchmarks.perf.sections.training import section_amp, section_training


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds: checks the plumbing only")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help=f"override a size: {', '.join(f.name for f in dataclasses.fields(Sizes))}")
    return parser.parse_args(argv)


def build_sizes(args: argparse.Namespace) -> Sizes:
    sizes = Sizes(**(QUICK if args.quick else {}))
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        field_type = type(getattr(sizes, name))
        setattr(sizes, name, field_type(value))
    return sizes


def main(argv=None) -> None:
    args = parse_args(argv)
    sizes = build_sizes(args)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(device, sizes, args.quick)
    log(f"hf_rnn perf on {report.machine['device_name']}, {report.machine['threads']} thread(s), "
        f"{'quick' if args.quick else 'full'} sizes -> {out}")
    chosen = [s for s in args.sections.split(",") if s]
    for name in chosen:
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}; choose from {SECTIONS}")
    runners = {
        "training": lambda: section_training(report, sizes, device),
        "amp": lambda: section_amp(report, sizes, device),
        "roofline": lambda: section_roofline(report, sizes, device),
        "generation": lambda: section_generation(report, sizes, device, out),
        "inference": lambda: section_inference(report, sizes, device, out),
        "profile": lambda: section_profile(report, sizes, device, out),
    }
    for name in SECTIONS:
        if name in chosen:
            runners[name]()
            report.write(out)  # partial results survive a later failure
    plot_training(out / "training_throughput.png", report)
    report.write(out)
    log(f"done: {out / 'perf.md'}")


if __name__ == "__main__":
    main()
