"""6. A profile of where the time goes in training and generation."""

import time
from pathlib import Path

import torch

from benchmarks.perf.config import Sizes, log
from benchmarks.perf.report import Report
from benchmarks.perf.sections.generation import generate_fixed
from benchmarks.perf.timing import synchronize
from benchmarks.perf.workloads import HFLMLoop, LMBatches, build_lm_pair


def section_profile(report: Report, sizes: Sizes, device: torch.device, out: Path) -> None:
    from torch.profiler import ProfilerActivity, profile

    section = "6. Where the time goes (torch.profiler)"
    log(f"profile: {sizes.big_shape} training step and generate()")
    batches = LMBatches(sizes, device, 4)
    _, hf = build_lm_pair(sizes, sizes.big_shape, device)
    loop = HFLMLoop(hf, batches, sizes.lr)
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    use_cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if use_cuda else [])

    def train_step():
        hf.train()
        loop.step()

    def generate_8():
        hf.eval()
        with torch.no_grad():
            generate_fixed(hf, prompt, 8)

    workloads = {
        f"training step (batch {sizes.batch_size}, bptt {sizes.bptt})": ("profile_train.txt", train_step),
        f"generate() of 8 tokens at batch 1 after a {sizes.prompt_len}-token prompt": ("profile_generate.txt",
                                                                                         generate_8),
    }
    for name, (filename, workload) in workloads.items():
        workload()  # warm-up
        synchronize(device)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            workload()
            synchronize(device)
            wall = time.perf_counter() - start
        averages = prof.key_averages()

        def self_time(event) -> float:
            return event.self_device_time_total if use_cuda else event.self_cpu_time_total

        (out / filename).write_text(averages.table(sort_by="self_device_time_total" if use_cuda else
                                                   "self_cpu_time_total", row_limit=30))
        total = sum(self_time(e) for e in averages)
        top = sorted(averages, key=self_time, reverse=True)[:8]
        kind = "device" if use_cuda else "CPU"
        lines = [
            f"**{sizes.big_shape} {name}**: {wall * 1e3:.1f} ms under the profiler; the ops' self {kind} time adds "
            f"up to {total / 1e3:.1f} ms" + ("" if use_cuda else f" (the other {max(0.0, wall * 1e3 - total / 1e3):.1f}"
                                                             " ms: Python, transformers' bookkeeping, the profiler)")
            + f". Top ops (full table: `{filename}`):",
            "",
            f"| op | self {kind} time (ms) | share of the ops | calls |",
            "|---|---|---|---|",
        ]
        for event in top:
            lines.append(f"| `{event.key}` | {self_time(event) / 1e3:.2f} | {self_time(event) / max(total, 1):.0%} "
                         f"| {event.count} |")
        report.note(section, "\n".join(lines))
        report.raw.setdefault("profile", {})[name] = {
            "wall_s": wall,
            "ops_self_us": total,
            "top_self_us": {e.key: self_time(e) for e in top},
        }


