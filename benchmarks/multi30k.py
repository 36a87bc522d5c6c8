"""Multi30k German -> English: train an hf_rnn encoder-decoder for a fixed time on this machine, report BLEU.

    python -m benchmarks.multi30k                       # 60 minutes of training, then beam search on val
    python -m benchmarks.multi30k --training_minutes 5  # a shorter run

It runs `scripts/train.py` (the same Seq2SeqTrainer path a user runs) on `../shared/data/multi30k`: a BPE
tokenizer trained on the training text of both languages, training on `train`, model selection and the reported
score on `val`. A callback stops training once the time spent in training steps (evaluations excluded) reaches
the budget, and records validation BLEU at every evaluation. The final translations are scored again against the
raw reference lines (the in-training score compares with references that went through the tokenizer).

Writes `<results_dir>/multi30k.json`, `multi30k.md` and `multi30k_bleu.png`; the model lands in `--output_dir`.
"""

import argparse
import gzip
import json
import shlex
import sys
import time
from pathlib import Path

import sacrebleu  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.plots import new_plot, save_plot  # noqa: E402
from benchmarks.training_runs import (  # noqa: E402
    TrainingTimeBudget,
    as_argv,
    count_parameters,
    run_train_script,
)

# Chosen with a one-minute probe on this 2-core CPU: a 512-unit LSTM decoder (256 per direction in the encoder)
# takes ~0.4 s per batch of 64 under bf16 autocast (1.8x faster than fp32), so ~16 epochs fit in an hour.
TRAINING_FLAGS = {
    "tokenizer_type": "bpe",
    "tokenizer_vocab_size": 8000,
    "cell": "lstm",
    "hidden_size": 512,
    "num_layers": 1,
    "attention": "luong_general",
    "embedding_dropout": 0.2,
    "output_dropout": 0.3,
    "per_device_train_batch_size": 64,
    "per_device_eval_batch_size": 128,
    "learning_rate": 2e-3,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.02,
    "label_smoothing_factor": 0.1,
    "num_train_epochs": 16,
    "max_steps": -1,
    "eval_strategy": "steps",
    "eval_steps": 908,  # two epochs of 454 batches
    "save_strategy": "no",
    "logging_steps": 50,
    "generation_num_beams": 5,
    "max_target_length": 80,
    "seed": 42,
    "report_to": "none",
}


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [line.rstrip("\n") for line in file]


def train_flags(data_dir: Path, output_dir: Path, bf16: bool) -> list[str]:
    flags = {
        "task": "translation",
        "train_source_file": data_dir / "train.de.gz",
        "train_target_file": data_dir / "train.en.gz",
        "validation_source_file": data_dir / "val.de.gz",
        "validation_target_file": data_dir / "val.en.gz",
        "source_lang": "de",
        "target_lang": "en",
        "output_dir": output_dir,
        **TRAINING_FLAGS,
        "bf16": bf16,
        # transformers refuses bf16 without a GPU unless told the CPU is meant (this CPU has AMX-BF16).
        "use_cpu": bf16 and not torch.cuda.is_available(),
    }
    return as_argv(flags)


def plot_bleu(evaluations: list[dict], path: Path) -> None:
    figure, axis = new_plot((6, 4))
    minutes = [e["training_minutes"] for e in evaluations]
    axis.plot(minutes, [e["bleu"] for e in evaluations], marker="o", label="BLEU (beam 5)")
    axis.plot(minutes, [e["chrf"] for e in evaluations], marker="s", label="chrF")
    axis.set_xlabel("training time on 2 CPU cores (minutes)")
    axis.set_ylabel("validation score")
    axis.set_title("Multi30k de→en, hf_rnn LSTM encoder-decoder")
    save_plot(figure, axis, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "multi30k")
    parser.add_argument("--output_dir", type=Path, default=ROOT / "runs" / "multi30k")
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--training_minutes", type=float, default=60.0)
    parser.add_argument("--fp32", action="store_true", help="train without bf16 autocast")
    args = parser.parse_args()
    if not (args.data_dir / "train.de.gz").exists():
        parser.error(f"--data_dir {args.data_dir}: no train.de.gz there (see ../shared/data/README.md)")

    budget = TrainingTimeBudget(args.training_minutes * 60)
    flags = train_flags(args.data_dir, args.output_dir, bf16=not args.fp32)
    started = time.perf_counter()
    run_train_script(flags, callbacks=[budget])
    wall_minutes = (time.perf_counter() - started) / 60

    hypotheses = (args.output_dir / "generated_predictions.txt").read_text(encoding="utf-8").splitlines()
    references = read_lines(args.data_dir / "val.en.gz")
    if len(hypotheses) != len(references):
        raise SystemExit(f"{len(hypotheses)} translations for {len(references)} references")
    bleu_metric, chrf_metric = sacrebleu.BLEU(), sacrebleu.CHRF()
    bleu = bleu_metric.corpus_score(hypotheses, [references])
    chrf = chrf_metric.corpus_score(hypotheses, [references])
    eval_results = json.loads((args.output_dir / "eval_results.json").read_text())
    results = {
        "command": shlex.join(["python", "benchmarks/multi30k.py", *sys.argv[1:]]),
        "train_py_flags": shlex.join(flags),
        "training_minutes": budget.training_seconds / 60,
        "wall_minutes": wall_minutes,
        "steps": budget.evaluations[-1]["step"] if budget.evaluations else None,
        "epochs": budget.evaluations[-1]["epoch"] if budget.evaluations else None,
        "parameters": count_parameters(args.output_dir),
        "val_bleu": bleu.score,
        "val_chrf": chrf.score,
        "bleu_signature": str(bleu_metric.get_signature()),
        "in_training_final_bleu": eval_results.get("eval_bleu"),
        "evaluations": budget.evaluations,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "multi30k.json").write_text(json.dumps(results, indent=2) + "\n")
    plot_bleu(budget.evaluations, args.results_dir / "multi30k_bleu.png")
    (args.results_dir / "multi30k.md").write_text(results_table(results))
    print(results_table(results))


def results_table(results: dict) -> str:
    rows = [
        ("command", f"`{results['command']}`"),
        (
            "training time (2 CPU cores)",
            f"{results['training_minutes']:.1f} min ({results['wall_minutes']:.1f} min wall)",
        ),
        ("updates / epochs", f"{results['steps']} / {results['epochs']:.1f}" if results["steps"] else "n/a"),
        ("parameters", f"{results['parameters']:,}"),
        ("val BLEU (sacreBLEU, beam 5)", f"{results['val_bleu']:.2f}"),
        ("val chrF", f"{results['val_chrf']:.2f}"),
        ("BLEU signature", f"`{results['bleu_signature']}`"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    curve = ["", "| training minutes | step | BLEU | chrF |", "|---|---|---|---|"]
    curve += [
        f"| {e['training_minutes']:.1f} | {e['step']} | {e['bleu']:.2f} | {e['chrf']:.2f} |"
        for e in results["evaluations"]
    ]
    return "\n".join(lines + curve) + "\n"


if __name__ == "__main__":
    main()
