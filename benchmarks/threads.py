"""How many threads a small-batch CPU training step should use: SST-2 steps at 1 and 2 threads, with and without a
competing busy process.

    python -m benchmarks.threads                        # about a minute
    python -m benchmarks.threads --results_dir /tmp/t   # elsewhere than benchmarks/results
    python -m benchmarks.threads --hidden_size 512 --batch_sizes 64   # a larger model

The step is the one `benchmarks.sst2_speed` trains: an LSTM classifier of SST-2's shape (embedding 128, one
unidirectional LSTM layer of 128) on batches of SST-2 phrases of similar length (as `group_by_length` makes them):
forward and backward under bf16 autocast, gradient clipping and fused AdamW, as `Trainer` runs it. Each setting
times the same batches after a warm-up, in one process (`torch.set_num_threads` between settings). "busy" runs one
more Python process spinning on a core beside it (`while True: pass`), as another job on a shared machine would.
On a shared machine "none" still has the other jobs beside it (their load average is recorded); to measure the
process with the cores to itself, give it priority over them, e.g. on Linux with autogroup scheduling:
`setsid bash -c 'echo -20 > /proc/self/autogroup; exec nice -n -20 python -m benchmarks.threads --competitor none'`.

Writes `<results_dir>/threads.json` and `threads.md`. The measured choice is train.py's thread default
(`hf_rnn/training/threads.py`; README.md, "Training").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from hf_rnn import RNNConfig, RNNForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent


def sst2_batches(train_file: Path, batch_size: int, count: int, seed: int) -> tuple[list[dict], int]:
    """`count` batches of SST-2 phrases of similar length (ids of a whitespace vocabulary), and the vocabulary size."""
    rows = [line.rstrip("\n").split("\t", 1) for line in open(train_file, encoding="utf-8").readlines()[1:]]
    vocabulary = {word: i + 1 for i, (word, _) in enumerate(Counter(w for _, t in rows for w in t.split()).items())}
    rng = random.Random(seed)
    sample = sorted(rng.sample(rows, batch_size * count), key=lambda row: len(row[1].split()))
    batches = []
    for start in range(0, len(sample), batch_size):
        chunk = sample[start : start + batch_size]
        ids = [[vocabulary[w] for w in text.split()] for _, text in chunk]
        length = max(map(len, ids))
        batches.append(
            {
                "input_ids": torch.tensor([row + [0] * (length - len(row)) for row in ids]),
                "attention_mask": torch.tensor([[1] * len(row) + [0] * (length - len(row)) for row in ids]),
                "labels": torch.tensor([int(label) for label, _ in chunk]),
            }
        )
    rng.shuffle(batches)
    return batches, len(vocabulary) + 1


def time_steps(model, optimizer, batches: list[dict], warmup: int) -> list[float]:
    """Seconds of each training step over `batches` (after `warmup` untimed ones)."""
    seconds = []
    for index, batch in enumerate(batches[:warmup] + batches):
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if index >= warmup:
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--hidden_size", type=int, default=128, help="the LSTM's (and embedding's) width")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per setting")
    parser.add_argument(
        "--competitor",
        choices=["none", "busy", "both"],
        default="both",
        help="run without the busy competitor, beside it, or both (default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    results = []
    for busy in {"none": (False,), "busy": (True,), "both": (False, True)}[args.competitor]:
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for batch_size in args.batch_sizes:
                batches, vocab_size = sst2_batches(args.data_dir / "train.tsv", batch_size, args.steps, args.seed)
                for threads in args.threads:
                    torch.manual_seed(args.seed)
                    config = RNNConfig(vocab_size=vocab_size, hidden_size=args.hidden_size, num_hidden_layers=1,
                                       num_labels=2, output_dropout=0.1)  # fmt: skip
                    model = RNNForSequenceClassification(config).train()
                    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)  # Trainer's default
                    torch.set_num_threads(threads)
                    seconds = time_steps(model, optimizer, batches, warmup=5)
                    row = {
                        "busy_competitor": busy,
                        "batch_size": batch_size,
                        "hidden_size": args.hidden_size,
                        "threads": threads,
                        "median_step_ms": 1000 * statistics.median(seconds),
                        "examples_per_second": batch_size * len(seconds) / sum(seconds),
                        "load_average": os.getloadavg()[0],
                        "niceness": os.nice(0),
                    }
                    print(json.dumps(row), flush=True)
                    results.append(row)
        finally:
            if competitor is not None:
                competitor.kill()
                competitor.wait()

    args.results_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "command": " ".join(["python", "-m", "benchmarks.threads", *sys.argv[1:]]),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "results": results,
    }
    (args.results_dir / "threads.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        f"`{summary['command']}` ({os.cpu_count()} CPUs, torch {torch.__version__})",
        "",
        "| competitor | LSTM width | batch | threads | nice | median step (ms) | examples/s | load average (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {'busy process' if r['busy_competitor'] else 'none'} | {r['hidden_size']} | {r['batch_size']} "
        f"| {r['threads']} | {r['niceness']} | {r['median_step_ms']:.1f} | {r['examples_per_second']:.0f} "
        f"| {r['load_average']:.1f} |"
        for r in results
    ]
    (args.results_dir / "threads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
