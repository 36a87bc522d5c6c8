"""What the sentiment benchmarks (`benchmarks.sst2`, `benchmarks.imdb`) share: the variants they compare, running each
through `scripts/train.py --task sequence-classification` for a budget of training time, and their report.

Every benchmark has two variants, so the table shows what pretraining is worth:
- "ULMFiT": the classifier starts from the movie-review language model of `benchmarks.movie_lm` (its embedding and
  recurrent layers and its tokenizer) and fine-tunes with ULMFiT's three options: discriminative learning rates,
  gradual unfreezing and the slanted triangular schedule;
- "from scratch": a bidirectional LSTM with a word tokenizer trained on the task's own text, nothing pretrained.
"""

import argparse
import json
import math
import shlex
import time
from pathlib import Path

from benchmarks.plots import new_plot, save_plot
from benchmarks.training_runs import (
    TrainingTimeBudget,
    as_argv,
    claim_output_dir,
    count_parameters,
    run_train_script,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_LM = Path("runs/movie-lm")

# Flags both variants share: by epochs, evaluating and keeping the best epoch on validation accuracy (train.py's
# defaults on real files, spelled out so the recorded command says everything).
COMMON_FLAGS = {
    "task": "sequence-classification",
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 1,
    "load_best_model_at_end": True,
    "metric_for_best_model": "accuracy",
    "train_sampling_strategy": "group_by_length",
    "logging_steps": 50,
    "seed": 42,
    "report_to": "none",
}
ULMFIT_FLAGS = {
    "classifier_pooling": "max",
    "output_dropout": 0.4,
    "discriminative_lr_decay": 2.6,
    "gradual_unfreezing": True,
    "slanted_triangular": True,
    "learning_rate": 2e-3,
}
SCRATCH_FLAGS = {
    "tokenizer_type": "word",
    "tokenizer_vocab_size": 20000,
    "cell": "lstm",
    "bidirectional": True,
    "embedding_size": 256,
    "hidden_size": 256,
    "classifier_pooling": "max",
    "embedding_dropout": 0.3,
    "output_dropout": 0.4,
    "learning_rate": 1e-3,
    "bf16": True,
}


def variant_flags(name: str, lm_dir: Path) -> dict:
    if name == "ULMFiT":
        return {"model_name_or_path": lm_dir, **ULMFIT_FLAGS}
    return dict(SCRATCH_FLAGS)


def run_variant(name: str, flags: dict, minutes: float, output_dir: Path, overwrite: bool) -> dict:
    """Train one variant for at most `minutes` of training steps; its curve, best validation and test scores."""
    claim_output_dir(output_dir, overwrite)
    flags = COMMON_FLAGS | flags | {"output_dir": output_dir}
    budget = TrainingTimeBudget(minutes * 60)
    started = time.perf_counter()
    run_train_script(as_argv(flags), [budget])
    wall_minutes = (time.perf_counter() - started) / 60
    trained = [e for e in budget.evaluations if "accuracy" in e]
    best = max(trained, key=lambda e: e["accuracy"])
    state = json.loads((output_dir / "trainer_state.json").read_text())
    examples = state["global_step"] * flags["per_device_train_batch_size"]
    predict = output_dir / "predict_results.json"
    return {
        "variant": name,
        "train_command": "python scripts/train.py " + shlex.join(as_argv(flags)),
        "best_validation_accuracy": best["accuracy"],
        "best_epoch": best["epoch"],
        "best_minute": best["training_minutes"],
        "epochs": trained[-1]["epoch"],
        "training_minutes": budget.training_seconds / 60,
        "wall_minutes": wall_minutes,
        "examples_per_second": examples / budget.training_seconds,
        "parameters": count_parameters(output_dir),
        "test": json.loads(predict.read_text()) if predict.is_file() else {},
        "curve": trained,
    }


def write_report(name: str, title: str, results: list[dict], notes: list[str], results_dir: Path) -> None:
    """`<name>.json`, `<name>.md` (the table, notes and each variant's command) and `<name>.png` (the curves)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(results, indent=1, default=str))
    has_test = any(r["test"] for r in results)
    lines = [f"# {title}", "", *notes, ""]
    lines += [
        "| variant | best validation accuracy | at epoch (training min) |"
        + (" test accuracy |" if has_test else "")
        + " epochs run | training min | training examples/s | parameters |",
        "|---" * (7 + has_test) + "|",
    ]
    for r in results:
        test = f" {r['test'].get('test_accuracy', math.nan):.4f} |" if has_test else ""
        lines.append(
            f"| {r['variant']} | {r['best_validation_accuracy']:.4f} | {r['best_epoch']:.2f} ({r['best_minute']:.1f}) |"
            f"{test} {r['epochs']:.2f} | {r['training_minutes']:.1f} | {r['examples_per_second']:,.0f} | "
            f"{r['parameters']:,} |"
        )
    lines += ["", "Commands:", ""] + [f"- {r['variant']}: `{r['train_command']}`" for r in results]
    (results_dir / f"{name}.md").write_text("\n".join(lines) + "\n")
    figure, axis = new_plot((6, 4))
    for r in results:
        axis.plot([e["training_minutes"] for e in r["curve"]], [e["accuracy"] for e in r["curve"]], marker="o",
                  label=r["variant"])  # fmt: skip
    axis.set_xlabel("training minutes")
    axis.set_ylabel("validation accuracy")
    save_plot(figure, axis, results_dir / f"{name}.png")


def argument_parser(description: str, benchmark: str, minutes: dict[str, float]) -> argparse.ArgumentParser:
    """The flags both sentiment benchmarks take; each adds those of its data."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(minutes), default=list(minutes))
    defaults = " and ".join(f"{value:g}" for value in minutes.values())
    parser.add_argument("--training_minutes", type=float, nargs="+", help=f"per variant (default: {defaults})")
    parser.add_argument("--lm_dir", type=Path, default=DEFAULT_LM, help="the language model of benchmarks.movie_lm")
    parser.add_argument("--output_root", type=Path, default=Path(f"runs/{benchmark}-benchmark"))
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="replace an earlier run's folders")
    return parser


def run_benchmark(benchmark: str, title: str, args, parser, minutes: dict, data_flags: dict, notes: list[str]) -> None:
    """Each chosen variant in turn on the task's `data_flags`, the report rewritten after each."""
    if "ULMFiT" in args.variants and not (args.lm_dir / "config.json").is_file():
        parser.error(f"--lm_dir {args.lm_dir} holds no model: run `python -m benchmarks.movie_lm` first.")
    budgets = dict(zip(args.variants, args.training_minutes or [minutes[v] for v in args.variants]))
    results = []
    for name, budget in budgets.items():
        flags = variant_flags(name, args.lm_dir) | data_flags
        output_dir = args.output_root / name.replace(" ", "-")
        results.append(run_variant(name, flags, budget, output_dir, args.overwrite_output_dir))
        test = results[-1]["test"].get("test_accuracy")
        print(f"{title}, {name}: validation accuracy {results[-1]['best_validation_accuracy']:.4f}"
              + (f", test accuracy {test:.4f}" if test is not None else ""), flush=True)  # fmt: skip
        write_report(benchmark, title, results, notes, args.results_dir)
