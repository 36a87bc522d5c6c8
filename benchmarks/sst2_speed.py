"""SST-2 sentiment, one epoch: the classic Keras LSTM recipe on TensorFlow beside `scripts/train.py`, in one run.

    python -m benchmarks.sst2_speed                                   # both sides, the whole training set
    python -m benchmarks.sst2_speed --max_train_samples 3000 --results_dir /tmp/sst2   # a smoke test

Data: `../shared/data/sst2/train.tsv` (67,349 phrases, `label<TAB>sentence`) trains, `dev.tsv` (872 sentences,
`label<TAB>content`) is scored. Both sides train for one epoch on the same rows (the first `--max_train_samples`
of them, if given) and report

- examples/s: training examples / training seconds, the seconds from the start of the fit to its end (`model.fit`'s
  `on_train_begin` to `on_train_end`; `Trainer`'s likewise), so vocabulary building, tokenization, model building
  and evaluation are left out and the batching done while training is counted, on both sides alike;
- dev accuracy after that one epoch, and the ratio of the two speeds.

The Keras side is the recipe of Keras' classic `imdb_lstm` example, in Keras 3 on the TensorFlow backend
(`KERAS_BACKEND=tensorflow`, set before keras is imported): `TextVectorization(max_tokens=20000)` adapted on the
training text, `Embedding(20000, 128)`, `LSTM(128, dropout=0.2, recurrent_dropout=0.2)`, `Dense(1, sigmoid)`, Adam
(Keras' defaults), binary cross-entropy, batches of 32 shuffled rows, one epoch. Each batch is padded to its longest
text (no fixed `output_sequence_length`: SST-2's phrases average 9.4 words, so a fixed 200 would have Keras run ~20
LSTM steps per word) and the Embedding masks the padding (`mask_zero=True`), so the LSTM's final state is the text's
own, as hf_rnn's packed sequences give. `recurrent_dropout` rules out the fused LSTM kernels (cuDNN on a
GPU), so Keras runs its generic step loop; it is the tutorial's recipe, kept as written. Its fit time includes the
tracing of its training function (the first steps), as hf_rnn's includes its own first steps. It runs in a child process
(TensorFlow's thread pools stay out of the PyTorch process) and needs TensorFlow, an optional dependency
(`pip install -e '.[benchmarks]'`); without it that side is skipped with a message and the ratio is left out.

The hf_rnn side is `scripts/train.py --task sequence-classification` with the same shape (a word-level tokenizer
capped at 20,000 entries, trained on the training text, which has ~14,600 words; embedding 128; one unidirectional
LSTM layer of 128; the last state into the classifier) and the settings that make it fast on a CPU, chosen by
measurement (`TRAINING_FLAGS`).

Threads: both sides run on `--threads` intra-op threads, 1 by default: what train.py picks for a model this small
(README.md, "Training"), and the count at which neither framework's thread pool stalls when other jobs share the
machine (`python -m benchmarks.threads`). `--threads 0` leaves each framework its own default (train.py's, and
TensorFlow's: every core).

Writes `<results_dir>/sst2_speed.json` and `sst2_speed.md`; the hf_rnn model lands in `--output_dir`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUM_TRAIN_PHRASES = 67_349  # the full train.tsv

# The recipe of Keras' classic imdb_lstm example (see the module docstring).
KERAS_RECIPE = {
    "max_tokens": 20_000,
    "embedding_size": 128,
    "lstm_units": 128,
    "dropout": 0.2,
    "recurrent_dropout": 0.2,
    "batch_size": 32,
    "epochs": 1,
    "optimizer": "adam",  # Keras' defaults: learning rate 1e-3
    "loss": "binary_crossentropy",
    "padding": "to each batch's longest text, masked (mask_zero=True)",
}

# The hf_rnn side: the Keras model's shape, and what makes one epoch fast on a 2-core CPU, each measured with one
# thread on the shared machine (hf_rnn side alone; examples/s as above):
# - batches of texts of similar length (`group_by_length`, train.py's default on real data): batches of 128 then hold
#   3.9x fewer token slots than random ones (SST-2 phrases are 9.4 words on average, up to 52);
# - batch 128 rather than 32: per-step costs (the Adam update of the 1.9M-entry embedding, clipping, Trainer's
#   callbacks) are paid 4x less often; 10,000 rows under bf16: 2,106 examples/s at 32, 4,646 at 128, 5,113 at 256;
# - bf16 autocast (this CPU has AVX512-BF16): 3,789 -> 4,646 examples/s at batch 128;
# - learning rate 5e-3 for the larger batch: full epoch, dev accuracy 0.8406 / 0.8452 / 0.8349 (seeds 42, 1, 2;
#   4,665-5,657 examples/s); 3e-3 gave 0.8326, batch 64 at 2e-3 0.8406 (3,270 examples/s); batch 256 at 8e-3 ran at
#   7,826 examples/s but reached only 0.8188, below Keras' 0.8245.
MODEL_FLAGS = {
    "tokenizer_type": "word",
    "tokenizer_vocab_size": 20_000,
    "cell": "lstm",
    "hidden_size": 128,
    "embedding_size": 128,
    "num_layers": 1,
    "bidirectional": False,
    "classifier_pooling": "last",
}
TRAINING_FLAGS = {
    "per_device_train_batch_size": 128,
    "per_device_eval_batch_size": 256,
    "learning_rate": 5e-3,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.05,
    "train_sampling_strategy": "group_by_length",
    "bf16": True,
    "num_train_epochs": 1,
    "eval_strategy": "no",  # train.py evaluates once after training
    "save_strategy": "no",
    "logging_steps": 50,
    "seed": 42,
    "report_to": "none",
}


def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    """The texts and labels of a GLUE-style TSV (`label<TAB>text`, one header line; GLUE's TSV quotes nothing)."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as file:
        next(file)
        for line in file:
            label, text = line.rstrip("\n").split("\t", 1)
            texts.append(text)
            labels.append(int(label))
    return texts, labels


def write_tsv(path: Path, texts: list[str], labels: list[int], text_column: str = "sentence") -> Path:
    with open(path, "w", encoding="utf-8") as file:
        file.write(f"label\t{text_column}\n")
        file.writelines(f"{label}\t{text}\n" for text, label in zip(texts, labels))
    return path


class FitClock:
    """Seconds from the start of a fit to its end: a Trainer callback and a Keras callback alike (duck-typed)."""

    def __init__(self):
        self.started = None
        self.seconds = None

    def on_train_begin(self, *args, **kwargs):
        self.started = time.perf_counter()

    def on_train_end(self, *args, **kwargs):
        self.seconds = time.perf_counter() - self.started


def tensorflow_missing() -> str | None:
    """Why the Keras side cannot run here (TensorFlow or Keras 3 not installed), or None."""
    missing = [name for name in ("tensorflow", "keras") if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not installed: the Keras/TensorFlow side is skipped "
            "(pip install -e '.[benchmarks]' brings tensorflow-cpu)"
        )
    return None


def run_hf_rnn(
    train_file: Path,
    dev_file: Path,
    output_dir: Path,
    max_train_samples: int | None,
    threads: int,
    changes: dict | None = None,
) -> dict:
    """One epoch of scripts/train.py (in this process); its examples/s and dev accuracy."""
    import torch
    from transformers import TrainerCallback

    from benchmarks.training_runs import as_argv, count_parameters, run_train_script

    class Clock(FitClock, TrainerCallback):
        pass

    clock = Clock()
    flags = {
        "task": "sequence-classification",
        "train_file": train_file,
        "validation_file": dev_file,
        "text_column": "sentence",
        "output_dir": output_dir,
        "overwrite_output_dir": True,
        **MODEL_FLAGS,
        **TRAINING_FLAGS,
        **({"max_train_samples": max_train_samples} if max_train_samples else {}),
        **(changes or {}),
    }
    argv = as_argv(flags)
    if threads:
        torch.set_num_threads(threads)
    run_train_script(argv, callbacks=[clock])
    train_results = json.loads((output_dir / "train_results.json").read_text())
    eval_results = json.loads((output_dir / "eval_results.json").read_text())
    examples = train_results["train_samples"]
    return {
        "train_py_flags": shlex.join(argv),
        "examples": examples,
        "training_seconds": clock.seconds,
        "examples_per_second": examples / clock.seconds,
        "dev_accuracy": eval_results["eval_accuracy"],
        "parameters": count_parameters(output_dir),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def run_keras(train_file: Path, dev_file: Path, max_train_samples: int | None, threads: int | None, seed: int) -> dict:
    """The Keras recipe, one epoch, in this process (`main` calls it in a child process)."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise SystemExit(f"keras runs on {keras.backend.backend()!r}, not TensorFlow: KERAS_BACKEND was set too late")
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(seed)
    recipe = KERAS_RECIPE
    train_texts, train_labels = read_tsv(train_file)
    train_texts, train_labels = train_texts[:max_train_samples], train_labels[:max_train_samples]
    dev_texts, dev_labels = read_tsv(dev_file)

    # Vocabulary and token ids, before the clock starts (as train.py tokenizes before training).
    vectorize = keras.layers.TextVectorization(max_tokens=recipe["max_tokens"], ragged=True)
    vectorize.adapt(tf.constant(train_texts))

    def batches(texts: list[str], labels: list[int], batch_size: int, shuffle: bool) -> tf.data.Dataset:
        ids = vectorize(tf.constant(texts))  # ragged: each batch is padded to its longest text below
        data = tf.data.Dataset.from_tensor_slices((ids, tf.constant(labels, dtype=tf.float32)))
        if shuffle:
            data = data.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(batch_size).map(lambda x, y: (x.to_tensor(), y))
        return data.prefetch(tf.data.AUTOTUNE)

    train_data = batches(train_texts, train_labels, recipe["batch_size"], shuffle=True)
    dev_data = batches(dev_texts, dev_labels, 256, shuffle=False)

    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int64"),
            keras.layers.Embedding(recipe["max_tokens"], recipe["embedding_size"], mask_zero=True),
            keras.layers.LSTM(
                recipe["lstm_units"], dropout=recipe["dropout"], recurrent_dropout=recipe["recurrent_dropout"]
            ),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=recipe["optimizer"], loss=recipe["loss"], metrics=["accuracy"])

    class Clock(FitClock, keras.callbacks.Callback):
        def __init__(self):
            FitClock.__init__(self)
            keras.callbacks.Callback.__init__(self)

    clock = Clock()
    model.fit(train_data, epochs=recipe["epochs"], callbacks=[clock], verbose=2)
    _, dev_accuracy = model.evaluate(dev_data, verbose=0)
    return {
        "recipe": recipe,
        "examples": len(train_texts),
        "training_seconds": clock.seconds,
        "examples_per_second": len(train_texts) / clock.seconds,
        "dev_accuracy": float(dev_accuracy),
        "parameters": int(model.count_params()),
        "vocabulary": int(vectorize.vocabulary_size()),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "TensorFlow's default (every core)",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def run_keras_in_child(args: argparse.Namespace, out_file: Path) -> dict:
    """`run_keras` in a child Python process (TensorFlow's thread pools apart from PyTorch's)."""
    command = [sys.executable, "-m", "benchmarks.sst2_speed", "--keras_worker", str(out_file)]
    command += ["--data_dir", str(args.data_dir), "--seed", str(args.seed), "--threads", str(args.threads)]
    if args.max_train_samples:
        command += ["--max_train_samples", str(args.max_train_samples)]
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads(out_file.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "sst2")
    parser.add_argument("--output_dir", type=Path, default=ROOT / "runs" / "sst2_speed")
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--max_train_samples", type=int, default=None, help="train on the first N phrases only")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads of both sides; 0: each framework's own default (train.py's, TensorFlow's)",
    )
    parser.add_argument(
        "--train_py",
        nargs="+",
        default=[],
        metavar="FLAG=VALUE",
        help="change the hf_rnn side's train.py flags (e.g. per_device_train_batch_size=64 bf16=false)",
    )
    parser.add_argument("--skip_keras", action="store_true", help="run the hf_rnn side alone")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keras_worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    train_file, dev_file = args.data_dir / "train.tsv", args.data_dir / "dev.tsv"
    if not (train_file.exists() and dev_file.exists()):
        parser.error(f"--data_dir {args.data_dir}: no train.tsv and dev.tsv there (see ../shared/data/README.md)")
    if args.max_train_samples is not None and args.max_train_samples < 1:
        parser.error("--max_train_samples must be at least 1")
    if any("=" not in item for item in args.train_py):
        parser.error(f"--train_py takes FLAG=VALUE items; got {args.train_py}")
    changes = dict(item.split("=", 1) for item in args.train_py)

    if args.keras_worker is not None:  # the child process of run_keras_in_child
        results = run_keras(train_file, dev_file, args.max_train_samples, args.threads, args.seed)
        args.keras_worker.write_text(json.dumps(results, indent=2) + "\n")
        return

    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # train.py's thread default then leaves torch's pool alone
    load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="sst2_speed_") as work:
        work = Path(work)
        # dev.tsv names its text column "content", train.tsv "sentence"; train.py reads one text column.
        dev_for_train_py = write_tsv(work / "dev.tsv", *read_tsv(dev_file))
        keras_skipped = "--skip_keras" if args.skip_keras else tensorflow_missing()
        if keras_skipped:
            print(f"sst2_speed: Keras/TensorFlow side skipped: {keras_skipped}", file=sys.stderr)
            keras_results = {"skipped": keras_skipped}
        else:
            keras_results = run_keras_in_child(args, work / "keras.json")
        hf_results = run_hf_rnn(
            train_file, dev_for_train_py, args.output_dir, args.max_train_samples, args.threads, changes
        )

    results = {
        "command": shlex.join(["python", "-m", "benchmarks.sst2_speed", *sys.argv[1:]]),
        "train_examples": hf_results["examples"],
        "full_training_set": hf_results["examples"] == NUM_TRAIN_PHRASES,
        "hf_rnn": hf_results,
        "keras": keras_results,
        "speed_ratio": (
            None
            if "skipped" in keras_results
            else hf_results["examples_per_second"] / keras_results["examples_per_second"]
        ),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_at_start,  # other jobs on a shared machine
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "sst2_speed.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.results_dir / "sst2_speed.md").write_text(results_table(results))
    print(results_table(results))


def results_table(results: dict) -> str:
    hf, keras = results["hf_rnn"], results["keras"]
    lines = [
        f"SST-2, one epoch on {results['train_examples']:,} training phrases"
        + ("" if results["full_training_set"] else " (a capped run, not the full training set)")
        + f", dev accuracy on 872 sentences; `{results['command']}`",
        "",
        "| | examples/s | training seconds | dev accuracy | parameters | threads |",
        "|---|---|---|---|---|---|",
    ]
    if "skipped" in keras:
        lines.append(f"| Keras 3 / TensorFlow | skipped: {keras['skipped']} | | | | |")
    else:
        lines.append(
            f"| Keras {keras['keras']} / TensorFlow {keras['tensorflow']} (batch 32)"
            f" | {keras['examples_per_second']:.0f} | {keras['training_seconds']:.1f}"
            f" | {keras['dev_accuracy']:.4f} | {keras['parameters']:,}"
            f" | {keras['threads']} |"
        )
    lines.append(
        f"| hf_rnn, scripts/train.py "
        f"| {hf['examples_per_second']:.0f} | {hf['training_seconds']:.1f} | {hf['dev_accuracy']:.4f}"
        f" | {hf['parameters']:,} | {hf['threads']} |"
    )
    if results["speed_ratio"] is not None:
        lines += ["", f"hf_rnn / Keras examples/s: **{results['speed_ratio']:.2f}x**"]
    lines += ["", f"train.py flags: `{hf['train_py_flags']}`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
