"""SST-2 sentiment: a ULMFiT classifier from the movie-review LM beside a BiLSTM from scratch, dev accuracy.

    python -m benchmarks.movie_lm    # first, once: the language model (runs/movie-lm)
    python -m benchmarks.sst2        # both variants, at most 12 + 8 minutes of training

The GLUE layout of `../shared/data/sst2`: 67,349 training phrases, 872 dev sentences (the published score is dev
accuracy). Model selection never sees the dev set: the first 2,000 training phrases are held out as validation
(each epoch's model is scored there and the best is kept), and the chosen model is scored once on `dev.tsv`
(`--do_predict --test_file`). Both files are rewritten into `--work_dir` with the same column names, as train.py reads
one layout (the dev file's text column is `content`, the training file's `sentence`).

References: Tai et al. (2015) 2-layer LSTM 86.3 (with pretrained word vectors); the Keras tutorial recipe (embedding
128 + LSTM 128, one epoch) 0.8245 on this machine. Target: dev accuracy >= 0.86.
"""

from pathlib import Path

from benchmarks.sentiment import SHARED_DATA, argument_parser, run_benchmark
from benchmarks.sst2_speed import read_tsv, write_tsv

VALIDATION_PHRASES = 2000
BATCH_SIZE = 64
MINUTES = {"ULMFiT": 12.0, "from scratch": 8.0}


def prepare(data_dir: Path, work: Path) -> tuple[Path, Path, Path]:
    """train.tsv (all but the first VALIDATION_PHRASES phrases), validation.tsv and dev.tsv, as `label\tsentence`."""
    work.mkdir(parents=True, exist_ok=True)
    texts, labels = read_tsv(data_dir / "train.tsv")
    return (
        write_tsv(work / "train.tsv", texts[VALIDATION_PHRASES:], labels[VALIDATION_PHRASES:]),
        write_tsv(work / "validation.tsv", texts[:VALIDATION_PHRASES], labels[:VALIDATION_PHRASES]),
        write_tsv(work / "dev.tsv", *read_tsv(data_dir / "dev.tsv")),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__, "sst2", MINUTES)
    parser.add_argument("--data_dir", type=Path, default=SHARED_DATA / "sst2")
    args = parser.parse_args(argv)
    if not (args.data_dir / "train.tsv").is_file():
        parser.error(f"--data_dir {args.data_dir}: no train.tsv there (the shared corpora live in ../shared/data).")
    train, validation, dev = prepare(args.data_dir, args.output_root / "data")
    data_flags = {
        "train_file": train,
        "validation_file": validation,
        "do_predict": True,
        "test_file": dev,
        "per_device_train_batch_size": BATCH_SIZE,
        "num_train_epochs": 6,
        "early_stopping_patience": 2,
    }
    notes = [
        "Command: `THP_MEM_ALLOC_ENABLE=1 OMP_NUM_THREADS=1 python -m benchmarks.sst2` "
        "(after `benchmarks.movie_lm`). Validation: the first "
        f"{VALIDATION_PHRASES:,} phrases of train.tsv (model selection); test accuracy: GLUE's dev.tsv (872 "
        "sentences), scored once with the selected model. SST-2's training phrases are the nodes of each "
        "sentence's parse tree, so held-out phrases share words and sub-phrases with training ones: validation "
        "accuracy runs high, and dev accuracy is the figure. Target: dev accuracy >= 0.86 (Tai et al. 2015: "
        "86.3 with pretrained vectors; the Keras recipe 0.8245 here).",
    ]
    run_benchmark("sst2", "SST-2 sentiment: dev accuracy", args, parser, MINUTES, data_flags, notes)


if __name__ == "__main__":
    main()
