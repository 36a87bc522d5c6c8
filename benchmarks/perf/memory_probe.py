"""Peak memory of one generation, measured alone in a fresh process (the generation section starts one per size).

    python -m benchmarks.perf.memory_probe TOKENS --device cpu --sizes-json '{...}'

Prints one JSON line: `tokens`, `peak_mib` above the loaded, warmed-up model, `total_peak_mib`, `method`.
"""

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.perf.config import Sizes
from benchmarks.perf.sections.generation import generate_fixed
from benchmarks.perf.workloads import build_lm_pair


def run_memory_probe(sizes: Sizes, device: torch.device, tokens: int) -> None:
    _, hf = build_lm_pair(sizes, sizes.big_shape, device)
    hf.eval()
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    generate_fixed(hf, prompt, 16)
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        generate_fixed(hf, prompt, tokens)
        torch.cuda.synchronize(device)
        total = torch.cuda.max_memory_allocated(device)
        peak, method = total - base, "cuda.max_memory_allocated"
    else:
        base = proc_status_kib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            generate_fixed(hf, prompt, tokens)
            total, method = proc_status_kib("VmHWM") * 1024, "VmHWM after clear_refs"
        except OSError:
            total, method = sampled_peak_rss(lambda: generate_fixed(hf, prompt, tokens)), "psutil sampler"
        peak = total - base * 1024
    print(json.dumps({"tokens": tokens, "peak_mib": peak / 2**20, "total_peak_mib": total / 2**20, "method": method}))


def proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def sampled_peak_rss(fn: Callable[[], object]) -> int:
    import threading

    import psutil

    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], process.memory_info().rss)



def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tokens", type=int)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes-json", required=True)
    args = parser.parse_args(argv)
    run_memory_probe(Sizes(**json.loads(args.sizes_json)), torch.device(args.device), args.tokens)


if __name__ == "__main__":
    main()
