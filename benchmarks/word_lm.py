"""Word-level LM: hf_rnn (Trainer, stateful truncated BPTT) beside a plain-PyTorch loop, same recipe and weights.

    python -m benchmarks.word_lm              # the recorded run: 2x200 tied LSTM, 6 epochs per side
    python -m benchmarks.word_lm --epochs 1   # a quick look

Corpus: the English side of Multi30k (`../shared/data/multi30k/{train,val}.en.gz`: 29,000 training and 1,014
validation image captions), lower-cased, split into words and punctuation, `<eos>` after every caption; the
vocabulary is every training word (validation-only words become `<unk>`).

The recipe is PyTorch's word-language-model example: SGD at lr 20, gradient norm clipped at 0.25, bptt 35, 20
streams per batch (10 for evaluation), state carried across batches, lr divided by 4 whenever the validation loss
does not improve on the best so far (checked once an epoch). Both sides start from one initialisation (the plain
model is built under the seed and its weights copied into hf_rnn), read the same batches (`split_into_streams`'s
layout, rewritten in the plain loop), and count only the time spent in training steps.

hf_rnn trains through `hf_rnn.StatefulLMTrainer` (`optim="sgd"`, `max_grad_norm=0.25`,
`lr_scheduler_type="reduce_lr_on_plateau"`). A third run, hf_rnn with the state reset at every batch (same model,
batches and updates), shows what carrying the state is worth. All three report validation perplexity with state
carried through the validation text.

Writes `<results_dir>/word_lm.{json,md,png}`.
"""

import argparse
import copy
import gzip
import json
import math
import re
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers import TrainingArguments  # noqa: E402

from benchmarks.plots import new_plot, save_plot  # noqa: E402
from benchmarks.reference_models import PlainRNNLM, hf_causal_lm_from_plain  # noqa: E402
from benchmarks.training_runs import TrainingTimeBudget  # noqa: E402
from hf_rnn import StatefulLMTrainer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECIALS = ["<pad>", "<unk>", "<s>", "<eos>"]  # hf_rnn's default special ids 0-3


def caption_words(line: str) -> list[str]:
    return re.findall(r"[\w']+|[^\w\s]", line.lower()) + ["<eos>"]


def read_corpus(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Training and validation token ids, and the vocabulary (specials first, then by training frequency)."""
    splits = {}
    for split in ("train", "val"):
        with gzip.open(data_dir / f"{split}.en.gz", "rt", encoding="utf-8") as file:
            splits[split] = [word for line in file for word in caption_words(line)]
    counts = Counter(word for word in splits["train"] if word not in SPECIALS)
    vocabulary = SPECIALS + [word for word, _ in counts.most_common()]
    ids = {word: index for index, word in enumerate(vocabulary)}
    unknown = ids["<unk>"]
    as_ids = [torch.tensor([ids.get(word, unknown) for word in splits[s]]) for s in ("train", "val")]
    return as_ids[0], as_ids[1], vocabulary


# --- the plain-PyTorch side: the word-language-model example's loop ---------------------------------------------


def batchify(token_ids: torch.Tensor, num_streams: int) -> torch.Tensor:
    """`(num_streams, n + 1)` contiguous streams, consecutive streams sharing one token (hf_rnn's layout)."""
    n = (len(token_ids) - 1) // num_streams
    return token_ids[torch.arange(num_streams)[:, None] * n + torch.arange(n + 1)]


def detached(hidden):
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


def plain_evaluate(model: PlainRNNLM, streams: torch.Tensor, bptt: int) -> float:
    model.eval()
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for start in range(0, streams.size(1) - 1, bptt):
            end = min(start + bptt, streams.size(1) - 1)
            logits, hidden = model(streams[:, start:end], hidden)
            targets = streams[:, start + 1 : end + 1]
            total += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum").item()
            count += targets.numel()
    return total / count


def train_plain(model: PlainRNNLM, train_ids, val_ids, args) -> dict:
    torch.manual_seed(args.seed)
    streams, val_streams = batchify(train_ids, args.batch_size), batchify(val_ids, args.eval_batch_size)
    lr, best, seconds, step, evaluations = args.lr, math.inf, 0.0, 0, []
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = None
        for start in range(0, streams.size(1) - 1, args.bptt):
            began = time.perf_counter()
            end = min(start + args.bptt, streams.size(1) - 1)
            hidden = detached(hidden) if hidden is not None else None
            model.zero_grad()
            logits, hidden = model(streams[:, start:end], hidden)
            loss = F.cross_entropy(logits.flatten(0, 1), streams[:, start + 1 : end + 1].flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(parameter.grad, alpha=-lr)
            seconds += time.perf_counter() - began
            step += 1
        val_loss = plain_evaluate(model, val_streams, args.bptt)
        evaluations.append({"epoch": epoch, "step": step, "training_minutes": seconds / 60, "loss": val_loss})
        print(f"plain   epoch {epoch}: val ppl {math.exp(val_loss):.2f} (lr {lr:g}, {seconds:.0f} s of training)")
        if val_loss < best:
            best = val_loss
        else:
            lr /= 4
    return {"evaluations": evaluations, "training_seconds": seconds, "steps": step}


# --- the hf_rnn side: Trainer ------------------------------------------------------------------------------------


def train_hf(model, train_ids, val_ids, args, output_dir: Path, carry_state: bool) -> dict:
    training_args = TrainingArguments(
        output_dir=str(output_dir),
        optim="sgd",
        learning_rate=args.lr,
        max_grad_norm=args.clip,
        weight_decay=0.0,
        lr_scheduler_type="reduce_lr_on_plateau",
        # The example's rule: lr / 4 as soon as an epoch's validation loss is not the best so far.
        lr_scheduler_kwargs={"factor": 0.25, "patience": 0, "threshold": 0.0},
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.eval_batch_size,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        seed=args.seed,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    budget = TrainingTimeBudget(math.inf)
    trainer = StatefulLMTrainer(
        model=model,
        args=training_args,
        bptt=args.bptt,
        carry_state=carry_state,
        train_dataset=train_ids,
        eval_dataset=val_ids,
        callbacks=[budget],
    )
    trainer.train()
    evaluations = [
        {"epoch": round(e["epoch"]), "step": e["step"], "training_minutes": e["training_minutes"], "loss": e["loss"]}
        for e in budget.evaluations
    ]
    name = "hf_rnn" if carry_state else "hf_rnn, state reset every batch"
    for e in evaluations:
        print(f"{name} epoch {e['epoch']}: val ppl {math.exp(e['loss']):.2f}")
    return {"evaluations": evaluations, "training_seconds": budget.training_seconds, "steps": trainer.state.global_step}


def plot_runs(runs: dict[str, dict], path: Path) -> None:
    figure, axis = new_plot((6, 4))
    for (label, run), marker in zip(runs.items(), "osx"):
        epochs = [e["epoch"] for e in run["evaluations"]]
        axis.plot(epochs, [math.exp(e["loss"]) for e in run["evaluations"]], marker=marker, label=label)
    axis.set_xlabel("epoch (same updates on every side)")
    axis.set_ylabel("validation perplexity")
    axis.set_yscale("log")
    axis.set_title("Multi30k English, word level, 2x200 LSTM")
    save_plot(figure, axis, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "multi30k")
    parser.add_argument("--results_dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--output_dir", type=Path, default=ROOT / "runs" / "word_lm")
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--size", type=int, default=200, help="embedding and hidden units")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--batch_size", type=int, default=20)
    parser.add_argument("--eval_batch_size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1111)
    args = parser.parse_args()
    if not (args.data_dir / "train.en.gz").exists():
        parser.error(f"--data_dir {args.data_dir}: no train.en.gz there (see ../shared/data/README.md)")

    train_ids, val_ids, vocabulary = read_corpus(args.data_dir)
    print(f"{len(train_ids):,} training and {len(val_ids):,} validation tokens, vocabulary {len(vocabulary):,}")
    torch.manual_seed(args.seed)
    plain = PlainRNNLM(len(vocabulary), args.size, args.size, args.layers, args.cell, tie=True, dropout=args.dropout)
    hf_stateful = hf_causal_lm_from_plain(plain)
    hf_reset = copy.deepcopy(hf_stateful)

    runs = {
        "plain PyTorch": train_plain(plain, train_ids, val_ids, args),
        "hf_rnn": train_hf(hf_stateful, train_ids, val_ids, args, args.output_dir / "stateful", carry_state=True),
        "hf_rnn, no carried state": train_hf(
            hf_reset, train_ids, val_ids, args, args.output_dir / "reset", carry_state=False
        ),
    }
    tokens = len(batchify(train_ids, args.batch_size)[0]) - 1
    for run in runs.values():
        run["tokens_per_second"] = tokens * args.batch_size * args.epochs / run["training_seconds"]
        run["val_perplexity"] = math.exp(run["evaluations"][-1]["loss"])
    results = {
        "command": shlex.join(["python", "benchmarks/word_lm.py", *sys.argv[1:]]),
        "settings": vars(args) | {"data_dir": str(args.data_dir), "results_dir": str(args.results_dir)},
        "train_tokens": len(train_ids),
        "val_tokens": len(val_ids),
        "vocabulary": len(vocabulary),
        "parameters": sum(p.numel() for p in hf_stateful.parameters()),
        "runs": runs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "word_lm.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    plot_runs(runs, args.results_dir / "word_lm.png")
    (args.results_dir / "word_lm.md").write_text(results_table(results))
    print(results_table(results))


def results_table(results: dict) -> str:
    runs = results["runs"]
    plain = runs["plain PyTorch"]
    lines = [
        f"`{results['command']}`: {results['train_tokens']:,} training tokens, vocabulary {results['vocabulary']:,}, "
        f"{results['parameters']:,} parameters, {next(iter(runs.values()))['steps']} updates per side.",
        "",
        "| run | val perplexity | vs plain | training tokens/s | vs plain |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['val_perplexity']:.2f} | {run['val_perplexity'] / plain['val_perplexity']:.4f} "
            f"| {run['tokens_per_second']:,.0f} | {run['tokens_per_second'] / plain['tokens_per_second']:.3f} |"
        )
    lines += ["", "| epoch | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for index, evaluation in enumerate(plain["evaluations"]):
        perplexities = [f"{math.exp(run['evaluations'][index]['loss']):.2f}" for run in runs.values()]
        lines.append(f"| {evaluation['epoch']} | " + " | ".join(perplexities) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
