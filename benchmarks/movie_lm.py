"""ULMFiT's first stage for the sentiment benchmarks: a word-level LSTM LM on 50,000 unlabeled movie reviews.

    python -m benchmarks.movie_lm                          # the recorded run (at most 30 minutes of training)
    python -m benchmarks.movie_lm --training_minutes 5     # a shorter run, same recipe

`../shared/data/imdb/unsup.txt.gz` (IMDB's unlabeled half: in-domain text for IMDB and SST-2, both movie reviews;
none of its reviews is in IMDB's labeled training file) is the corpus: its last 500 reviews validate, the rest train.
No downloaded text, vectors or models. It runs `scripts/train.py --task causal-lm` as a user would:

- a lower-casing word-level tokenizer of 20,000 entries trained on the training reviews (lower case because SST-2's
  text is lower case; the classifiers reuse this tokenizer with the model);
- a 2-layer LSTM of 768 units projected to 256 (LSTMP), 256-wide tied embeddings, dropout between layers and
  before the output, stateful truncated BPTT over 64 streams of 70 tokens (ULMFiT's BPTT length);
- Adam at a constant rate after a short warmup, bf16 autocast, a callback stopping training at the budget.

The folder (`--output_dir`, default `runs/movie-lm`) is what `benchmarks.sst2` and `benchmarks.imdb` start their
classifiers from. Writes `<results_dir>/movie_lm.{json,md,png}`.
"""

import argparse
import gzip
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch

from benchmarks.plots import new_plot, save_plot
from benchmarks.training_runs import (
    TrainingTimeBudget,
    as_argv,
    claim_output_dir,
    count_parameters,
    run_train_script,
)
from hf_rnn.tokenization import train_tokenizer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "imdb" / "unsup.txt.gz"
VALIDATION_REVIEWS = 500
VOCAB_SIZE = 20_000

# Sized with short probes on this 2-core CPU: ~2 s a step of 64 x 70 tokens on one thread, so the 30-minute budget
# covers ~900 steps (~4M tokens, a quarter of a pass over the ~14.7M training tokens).
TRAINING_FLAGS = {
    "task": "causal-lm",
    "cell": "lstm",
    "num_layers": 2,
    "hidden_size": 768,
    "proj_size": 256,
    "embedding_size": 256,
    "embedding_dropout": 0.05,
    "layer_dropout": 0.1,
    "output_dropout": 0.1,
    "stateful_bptt": True,
    "block_size": 70,
    "per_device_train_batch_size": 64,
    "per_device_eval_batch_size": 64,
    "learning_rate": 2e-3,
    # Constant: in 80-step probes on 3,000 reviews a cosine decay left the validation loss ~1 nat above the
    # training loss (6.8-7.3 against 6.2) where a constant rate kept them level (5.99 against 6.03).
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_steps": 0.01,
    "max_grad_norm": 0.25,
    "eval_strategy": "steps",
    "eval_steps": 0.1,
    "save_strategy": "no",
    "logging_steps": 0.01,
    "num_sample_generations": 0,
    "bf16": True,
    "seed": 42,
    "report_to": "none",
}


def prepare_corpus(corpus: Path, work: Path) -> tuple[Path, Path, Path]:
    """Training and validation review files (one review a line) and the tokenizer folder trained on the former."""
    with gzip.open(corpus, "rt", encoding="utf-8") as file:
        reviews = [line.strip() for line in file if line.strip()]
    work.mkdir(parents=True, exist_ok=True)
    train_file, validation_file = work / "train.txt", work / "validation.txt"
    train_file.write_text("\n".join(reviews[:-VALIDATION_REVIEWS]) + "\n", encoding="utf-8")
    validation_file.write_text("\n".join(reviews[-VALIDATION_REVIEWS:]) + "\n", encoding="utf-8")
    tokenizer = train_tokenizer(reviews[:-VALIDATION_REVIEWS], kind="word", vocab_size=VOCAB_SIZE, lowercase=True)
    tokenizer_dir = work / "tokenizer"
    tokenizer.save_pretrained(tokenizer_dir)
    return train_file, validation_file, tokenizer_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--training_minutes", type=float, default=30.0)
    parser.add_argument("--max_steps", type=int, default=3000, help="a ceiling; the time budget binds first")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--output_dir", type=Path, default=Path("runs/movie-lm"))
    parser.add_argument("--work_dir", type=Path, default=Path("runs/movie-lm-data"))
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="replace an earlier run's model")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        parser.error(f"--corpus {args.corpus} does not exist (the shared corpora live in ../shared/data).")
    claim_output_dir(args.output_dir, args.overwrite_output_dir)
    train_file, validation_file, tokenizer_dir = prepare_corpus(args.corpus, args.work_dir)
    flags = TRAINING_FLAGS | {
        "tokenizer_name": tokenizer_dir,
        "train_file": train_file,
        "validation_file": validation_file,
        "max_steps": args.max_steps,
        "output_dir": args.output_dir,
    }
    budget = TrainingTimeBudget(args.training_minutes * 60)
    started = time.perf_counter()
    run_train_script(as_argv(flags), [budget])
    wall_minutes = (time.perf_counter() - started) / 60
    final = json.loads((args.output_dir / "all_results.json").read_text())
    result = {
        "command": "python -m benchmarks.movie_lm " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "train_command": "python scripts/train.py " + shlex.join(as_argv(flags)),
        "training_minutes": budget.training_seconds / 60,
        "wall_minutes": wall_minutes,
        "parameters": count_parameters(args.output_dir),
        "threads": torch.get_num_threads(),
        "validation_perplexity": final.get("perplexity"),
        "validation_loss": final.get("eval_loss"),
        "curve": budget.evaluations,
    }
    write_report(result, args.results_dir)
    print(f"movie LM: validation perplexity {result['validation_perplexity']:.2f} after "
          f"{result['training_minutes']:.1f} min of training", flush=True)  # fmt: skip


def write_report(result: dict, results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "movie_lm.json").write_text(json.dumps(result, indent=1, default=str))
    curve = result["curve"]
    lines = [
        "# Movie-review language model (ULMFiT's first stage for the sentiment benchmarks)",
        "",
        f"Command: `{result['command'].strip()}`, which runs",
        "",
        f"    {result['train_command']}",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {result['parameters']:,} |",
        f"| training minutes | {result['training_minutes']:.1f} ({result['wall_minutes']:.1f} wall) |",
        f"| torch threads | {result['threads']} |",
        f"| validation perplexity (500 held-out reviews, word level) | {result['validation_perplexity']:.2f} |",
        "",
        "| training minutes | " + " | ".join(f"{e['training_minutes']:.1f}" for e in curve) + " |",
        "|---" * (len(curve) + 1) + "|",
        "| validation perplexity | " + " | ".join(f"{math.exp(e['loss']):.1f}" for e in curve) + " |",
    ]
    (results_dir / "movie_lm.md").write_text("\n".join(lines) + "\n")
    figure, axis = new_plot((6, 4))
    axis.plot([e["training_minutes"] for e in curve], [math.exp(e["loss"]) for e in curve], marker="o", label="LM")
    axis.set_xlabel("training minutes")
    axis.set_ylabel("validation perplexity")
    save_plot(figure, axis, results_dir / "movie_lm.png")


if __name__ == "__main__":
    main()
