"""IMDB sentiment (long reviews): a ULMFiT classifier from the movie-review LM beside a BiLSTM from scratch.

    python -m benchmarks.movie_lm    # first, once: the language model (runs/movie-lm)
    python -m benchmarks.imdb        # both variants, at most 20 + 8 minutes of training

`../shared/data/imdb/train.jsonl.gz` holds IMDB's 25,000 labeled training reviews (230 words on average), sorted by
label. Validation is every tenth row (rows 0, 10, 20, ...: 2,500 reviews, 1,250 of each label), training the other
22,500; the official test half is not in the shared data, so the score is validation accuracy, and the same
validation selects each variant's best epoch. Reviews are cut to their first `--max_seq_length` (256) tokens: an
epoch over whole reviews of the language model's body would take most of the budget on 2 cores. The benchmark also
reports training examples/s, where an RNN's cost linear in the length is what a long document pays.

References: a BiLSTM from scratch 86-89%; ULMFiT 95.4% on the test set (94.4% with an LM pretrained on IMDB text only,
for many GPU hours). Target: validation accuracy >= 0.93.
"""

import gzip
import json
from pathlib import Path

from benchmarks.sentiment import SHARED_DATA, argument_parser, run_benchmark

VALIDATION_EVERY = 10
BATCH_SIZE = 32
MINUTES = {"ULMFiT": 20.0, "from scratch": 8.0}


def prepare(data_file: Path, work: Path) -> tuple[Path, Path]:
    """train.jsonl and validation.jsonl (every VALIDATION_EVERY-th review) of `text` and `label` rows."""
    work.mkdir(parents=True, exist_ok=True)
    with gzip.open(data_file, "rt", encoding="utf-8") as file:
        rows = [json.loads(line) for line in file]
    splits = {"train": [], "validation": []}
    for index, row in enumerate(rows):
        splits["validation" if index % VALIDATION_EVERY == 0 else "train"].append(row)
    paths = work / "train.jsonl", work / "validation.jsonl"
    for path, split in zip(paths, splits.values()):
        path.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in split))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__, "imdb", MINUTES)
    parser.add_argument("--max_seq_length", type=int, default=256)
    parser.add_argument("--data_file", type=Path, default=SHARED_DATA / "imdb" / "train.jsonl.gz")
    args = parser.parse_args(argv)
    if not args.data_file.is_file():
        parser.error(f"--data_file {args.data_file} does not exist (the shared corpora live in ../shared/data).")
    train, validation = prepare(args.data_file, args.output_root / "data")
    data_flags = {
        "train_file": train,
        "validation_file": validation,
        "text_column": "text",
        "max_seq_length": args.max_seq_length,
        "per_device_train_batch_size": BATCH_SIZE,
        "per_device_eval_batch_size": 64,
        "num_train_epochs": 4,
        "early_stopping_patience": 2,
    }
    notes = [
        "Command: `THP_MEM_ALLOC_ENABLE=1 OMP_NUM_THREADS=1 python -m benchmarks.imdb` "
        "(after `benchmarks.movie_lm`). Validation: rows 0, 10, "
        "20, ... of train.jsonl.gz (2,500 reviews, balanced), which also selects the best epoch; training: the "
        f"other 22,500; reviews cut to their first {args.max_seq_length} tokens. Target: validation accuracy "
        ">= 0.93 (BiLSTM from scratch 86-89%; ULMFiT 95.4% test, 94.4% with IMDB-only LM pretraining).",
    ]
    run_benchmark("imdb", "IMDB sentiment: validation accuracy", args, parser, MINUTES, data_flags, notes)


if __name__ == "__main__":
    main()
