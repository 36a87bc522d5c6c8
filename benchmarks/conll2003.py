"""CoNLL-2003 English NER: hf_rnn BiLSTM-CRF taggers trained for a fixed time on this machine, entity F1 on eng.testa.

    python -m benchmarks.conll2003                                   # 3 variants x 16 minutes of training (~55 min)
    python -m benchmarks.conll2003 --variants crf_chars --training_minutes 5
    python -m benchmarks.conll2003 --training_minutes 0.3 --train_flags "--max_train_samples 500 --max_eval_samples 200"

The recipe is Lample et al. (2016)'s BiLSTM-CRF with random word embeddings, sized as Ma & Hovy (2016): word
embeddings of 100 joined to character features of each word, dropout 0.5 on them, a bidirectional LSTM of 200 units
per direction, a linear-chain CRF decoding IOB2-valid tag sequences only. Adam at 2e-3 (batch 32, linear decay over
30 epochs) in place of the paper's SGD, which needs many more epochs than the budget allows. The character features
are a CNN (Ma & Hovy) rather than Lample's character BiLSTM: a one-minute probe on this 2-core CPU timed a step of
the whole tagger at ~87 ms with the CNN and ~95 ms with the character BiLSTM (batch 32, one thread), and bf16
autocast made both slower (92 / 137 ms), so training is fp32. A step takes ~0.1 s at this size: an epoch (439
batches) takes under a minute, so ~16-25 epochs fit in the budget. Two ablations drop one part each: the CRF (a
softmax per word instead) and the character features.

Each variant runs `scripts/train.py --task token-classification` (the same Trainer path a user runs) on eng.train,
evaluating after every epoch on eng.testa: entity precision, recall and F1 (seqeval, strict IOB2, the published
convention). A callback stops training once the time spent in training steps (evaluations excluded) reaches the
budget; the best epoch's model is kept (early stopping after 5 epochs without a better F1).

The vocabulary holds every word of eng.train AND eng.testa (the words only, never their tags): character features
read a token's spelling from its vocabulary id, so a word outside the vocabulary would have none (19.5% of testa's
entity words are not in eng.train), while Lample et al.'s character BiLSTM reads every word. The testa-only words'
embeddings are never trained (they keep their small random initialization). `--train_vocabulary_only` builds the
vocabulary from eng.train alone, as train.py does by itself.

Writes `<results_dir>/conll2003.json`, `conll2003.md` (the table and each variant's train.py command) and
`conll2003.png` (testa F1 against training minutes); the models land in `<output_root>/<variant>`.
"""

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.plots import new_plot, save_plot  # noqa: E402
from benchmarks.training_runs import TrainingTimeBudget, as_argv, claim_output_dir, run_train_script  # noqa: E402
from hf_rnn import RNNForTokenClassification  # noqa: E402
from hf_rnn.tasks.token_classification import read_conll  # noqa: E402
from hf_rnn.tokenization import train_tokenizer  # noqa: E402

REFERENCE = (
    "Lample et al. (2016), BiLSTM-CRF with character BiLSTM: 90.94 test (eng.testb) F1 with pretrained word "
    "embeddings, 83.63 with random ones; eng.testa scores usually run a few points above eng.testb"
)
TARGET_F1 = 0.90  # on eng.testa
RECIPE = {
    "tokenizer_type": "word",
    "tokenizer_vocab_size": 50000,  # every word: a word outside the vocabulary has no character features
    "cell": "lstm",
    "bidirectional": True,
    "embedding_size": 100,
    "hidden_size": 200,  # per direction
    "num_layers": 1,
    "embedding_dropout": 0.5,  # on the word embeddings joined to the character features (Lample et al.)
    "output_dropout": 0.0,
    "crf": True,
    "char_features": "cnn",
    "max_seq_length": 512,  # no sentence cut (punctuation splits "U.S." into four tokens)
    "per_device_train_batch_size": 32,
    "per_device_eval_batch_size": 128,
    "learning_rate": 2e-3,
    "weight_decay": 0.0,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.01,
    "max_grad_norm": 5.0,  # Lample et al. clip at 5
    "num_train_epochs": 30,  # a ceiling for the decay: the time budget or early stopping usually binds first
    "early_stopping_patience": 5,
    "logging_steps": 50,
    "seed": 42,
    "report_to": "none",
}
VARIANTS = {
    "crf_chars": ("BiLSTM-CRF + characters", {}),
    "softmax": ("softmax instead of CRF", {"crf": False}),
    "no_chars": ("no character features", {"char_features": "none"}),
}


class EpochScores(TrainingTimeBudget):
    """The time budget, also noting how many evaluations came during training (train.py evaluates once more after)."""

    during_training = 0

    def on_train_end(self, args, state, control, **kwargs):
        self.during_training = len(self.evaluations)


def build_tokenizer(data_dir: Path, files: list[str], folder: Path) -> None:
    """A word-level tokenizer over every word of `files`, as train.py trains one on the train words (prefix space)."""
    sentences = [sentence for name in files for sentence in read_conll(str(data_dir / name), name)["tokens"]]
    words = [word for sentence in sentences for word in sentence]
    train_tokenizer(words, kind="word", vocab_size=RECIPE["tokenizer_vocab_size"]).save_pretrained(folder)


def run_variant(name: str, args, tokenizer: Path | None) -> dict:
    label, changes = VARIANTS[name]
    output_dir = args.output_root / name
    claim_output_dir(output_dir, args.overwrite_output_dir)
    flags = {
        "task": "token-classification",
        "train_file": args.data_dir / "eng.train",
        "validation_file": args.data_dir / "eng.testa",
        "output_dir": output_dir,
        **({"tokenizer_name": tokenizer} if tokenizer else {}),
        **RECIPE,
        **changes,
    }
    argv = as_argv(flags) + shlex.split(args.train_flags)
    scores = EpochScores(args.training_minutes * 60)
    started = time.perf_counter()
    run_train_script(argv, callbacks=[scores])
    wall_minutes = (time.perf_counter() - started) / 60

    epochs = scores.evaluations[: scores.during_training]
    best = max(epochs, key=lambda e: e["f1"])
    trained = json.loads((output_dir / "train_results.json").read_text())
    model = RNNForTokenClassification.from_pretrained(output_dir)
    return {
        "variant": name,
        "label": label,
        "train_py_command": shlex.join(["python", "scripts/train.py", *argv]),
        "best": {key: best[key] for key in ("f1", "precision", "recall", "accuracy", "epoch", "training_minutes")},
        "final_f1": scores.evaluations[-1]["f1"],  # the kept model, evaluated again after training
        "epochs": trained["epoch"],
        "training_minutes": scores.training_seconds / 60,
        "wall_minutes": wall_minutes,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),  # the spellings table is a buffer
        "train_sentences_per_second": trained["train_samples"] * trained["epoch"] / scores.training_seconds,
        "evaluations": epochs,
    }


def plot_f1(runs: list[dict], path: Path) -> None:
    figure, axis = new_plot((6, 4))
    for run in runs:
        minutes = [e["training_minutes"] for e in run["evaluations"]]
        axis.plot(minutes, [e["f1"] for e in run["evaluations"]], marker="o", label=run["label"])
    axis.axhline(TARGET_F1, color="gray", linestyle="--", label=f"target {TARGET_F1}")
    axis.set_xlabel("training time on 2 CPU cores (minutes)")
    axis.set_ylabel("eng.testa entity F1 (seqeval, IOB2)")
    axis.set_title("CoNLL-2003 English NER, hf_rnn taggers")
    save_plot(figure, axis, path)


def results_table(results: dict) -> str:
    lines = [
        f"`{results['command']}` ({results['training_minutes_per_variant']:g} minutes of training per variant, "
        f"torch {results['torch']} on {results['threads']} thread(s)).",
        "",
        "| variant | best testa F1 | precision | recall | at minute / epoch | epochs run | training min (wall) "
        "| parameters | train sentences/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        best = run["best"]
        lines.append(
            f"| {run['label']} | {best['f1']:.4f} | {best['precision']:.4f} | {best['recall']:.4f} "
            f"| {best['training_minutes']:.1f} / {best['epoch']:.2f} | {run['epochs']:.2f} "
            f"| {run['training_minutes']:.1f} ({run['wall_minutes']:.1f}) | {run['parameters']:,} "
            f"| {run['train_sentences_per_second']:.0f} |"
        )
    lines += ["", f"Reference: {results['reference']}. Target here: {TARGET_F1} F1 on eng.testa.", ""]
    lines += [f"Vocabulary: {results['vocabulary']}.", "", "Each variant's train.py command:", ""]
    for run in results["runs"]:
        lines += [f"- {run['label']}:", "", "  ```bash", f"  {run['train_py_command']}", "  ```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--training_minutes", type=float, default=16.0, help="per variant")
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "conll2003")
    parser.add_argument("--output_root", type=Path, default=ROOT / "runs" / "conll2003-benchmark")
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="replace an earlier run's folders")
    parser.add_argument("--train_vocabulary_only", action="store_true", help="no eng.testa words in the vocabulary")
    parser.add_argument("--train_flags", default="", help='more train.py flags, e.g. "--max_train_samples 500"')
    args = parser.parse_args()
    for name in ("eng.train", "eng.testa"):
        if not (args.data_dir / name).is_file():
            parser.error(f"--data_dir {args.data_dir}: no {name} there (see ../shared/data/README.md)")

    tokenizer, vocabulary = None, "the words of eng.train (train.py's own tokenizer)"
    if not args.train_vocabulary_only:
        tokenizer = args.output_root / "tokenizer"
        build_tokenizer(args.data_dir, ["eng.train", "eng.testa"], tokenizer)
        vocabulary = f"every word of eng.train and eng.testa (no tags), the tokenizer saved at {tokenizer}"
    runs = [run_variant(name, args, tokenizer) for name in args.variants]
    results = {
        "command": shlex.join(["python", "-m", "benchmarks.conll2003", *sys.argv[1:]]),
        "training_minutes_per_variant": args.training_minutes,
        "vocabulary": vocabulary,
        "reference": REFERENCE,
        "target_testa_f1": TARGET_F1,
        "runs": runs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "conll2003.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    plot_f1(runs, args.results_dir / "conll2003.png")
    (args.results_dir / "conll2003.md").write_text(results_table(results))
    print(results_table(results))


if __name__ == "__main__":
    main()
