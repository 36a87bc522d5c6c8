"""hf_rnn performance suite: one command, every figure a pair or a ratio measured in the same run.

    python -m benchmarks.perf [--quick] [--device cpu|cuda] [--out benchmarks/results] [--sections ...] [--set k=v]

Sections (each one function below): training throughput against hand-written PyTorch loops, bf16 mixed precision,
roofline (fraction of the measured matmul peak), generation (speed, latency against position, memory, no cache,
a GPT-2 of the same size), classification inference (packed / padded / bucketed), and a profile of where the time
goes. Writes `perf.md` (a table per section: the pair, the ratio, the target, met or not), `perf.json` (raw numbers
and the machine) and PNG plots to `--out`.

Timing: every measurement warms up both sides, then runs them interleaved (A B B A A B ...) and takes the median,
because the machines are shared and noisy. On CUDA each timed call is bracketed by `torch.cuda.synchronize()`.
"""

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.reference_models import (
    PlainPackedClassifier,
    PlainRNNLM,
    hf_causal_lm_from_plain,
    hf_classifier_from_plain,
)
from hf_rnn import RNNForCausalLM
from hf_rnn.cache_rnn import RecurrentCache

REPO_ROOT = Path(__file__).resolve().parent.parent
START = time.perf_counter()


@dataclasses.dataclass
class Sizes:
    """Every size and repeat count of the suite; `--set name=value` overrides one, `--quick` swaps in tiny ones."""

    vocab_size: int = 10000
    warmup: int = 2
    repeats: int = 7
    # 1. training throughput (word-LM example sizes: "small" 2x200 and "medium" 2x650)
    lm_shapes: str = "lstm:2x200,lstm:2x650,gru:2x200,gru:2x650"
    bptt: int = 35
    batch_size: int = 20
    lr: float = 20.0  # SGD, gradient norm clipped to 0.25, as in PyTorch's word-LM example
    cls_embedding: int = 128
    cls_hidden: int = 256
    cls_layers: int = 1
    cls_batch: int = 64
    cls_min_len: int = 5
    cls_max_len: int = 120
    # 2. mixed precision and 3. roofline (the "medium" LSTM LM)
    big_shape: str = "lstm:2x650"
    amp_steps: int = 40
    amp_eval_batches: int = 5
    matmul_sizes: str = "1024,2048,3072"
    # 4. generation
    prompt_len: int = 8
    gen_tokens: int = 256
    gen_batches: str = "1,32"
    latency_positions: str = "64,4096"
    latency_window: int = 32
    gen_repeats: int = 3
    gpt2_tokens: int = 2048
    gpt2_layers: int = 4
    memory_tokens: str = "1000,10000"
    memory_repeats: int = 2
    nocache_tokens: int = 128
    # 5. classification inference
    infer_sentences: int = 1024
    infer_batch: int = 64
    infer_repeats: int = 5


QUICK = {
    "vocab_size": 500,
    "warmup": 1,
    "repeats": 3,
    "lm_shapes": "lstm:2x32,gru:2x32",
    "bptt": 10,
    "batch_size": 4,
    "lr": 1.0,
    "cls_embedding": 16,
    "cls_hidden": 24,
    "cls_batch": 8,
    "cls_max_len": 30,
    "big_shape": "lstm:2x64",
    "amp_steps": 6,
    "amp_eval_batches": 2,
    "matmul_sizes": "128,256",
    "gen_tokens": 16,
    "gen_batches": "1,4",
    "latency_positions": "8,64",
    "latency_window": 4,
    "gen_repeats": 2,
    "gpt2_tokens": 64,
    "gpt2_layers": 2,
    "memory_tokens": "20,200",
    "memory_repeats": 1,
    "nocache_tokens": 16,
    "infer_sentences": 64,
    "infer_batch": 16,
    "infer_repeats": 3,
}

SECTIONS = ("training", "amp", "roofline", "generation", "inference", "profile")


def log(message: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def parse_shape(shape: str) -> tuple[str, int, int]:
    """`"lstm:2x650"` -> `("lstm", 2, 650)`."""
    cell, layers_by_hidden = shape.split(":")
    layers, hidden = layers_by_hidden.split("x")
    return cell, int(layers), int(hidden)


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


# ---------------------------------------------------------------------------------------------------------- timing
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def interleaved_times(
    fns: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Seconds per call of each function: `warmup` untimed rounds, then `repeats` rounds in alternating order."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            times[name].append(timed(fns[name], device))
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


# ------------------------------------------------------------------------------------------------------------ report
class Report:
    """Rows of (measurement, A, B, ratio, target, met) per section, raw numbers, and the notes under each table."""

    def __init__(self, device: torch.device, sizes: Sizes, quick: bool):
        self.tables: dict[str, list[dict]] = {}
        self.notes: dict[str, list[str]] = {}
        self.raw: dict[str, dict] = {}
        self.plots: list[str] = []
        self.machine = machine_info(device)
        self.sizes, self.quick = sizes, quick

    def row(self, section, measurement, a_label, a, b_label, b, ratio, target=None, met=None, unit=""):
        self.tables.setdefault(section, []).append(
            {
                "measurement": measurement,
                "a": f"{a_label}: {format_number(a)}{unit}",
                "a_value": a,
                "b_value": b,
                "b": f"{b_label}: {format_number(b)}{unit}" if b_label else "",
                "ratio": ratio,
                "target": target or "",
                "met": "" if met is None else ("met" if met else "NOT met"),
            }
        )
        log(f"  {measurement}: {a_label} {format_number(a)}{unit} | {b_label} {format_number(b)}{unit} | ratio "
            f"{format_number(ratio)} {('(' + target + ')') if target else ''}")

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    def markdown(self) -> str:
        lines = [
            "# hf_rnn performance",
            "",
            f"Machine: {self.machine['device_name']}; torch {self.machine['torch']}, transformers "
            f"{self.machine['transformers']}, {self.machine['threads']} thread(s); "
            f"{'QUICK run (tiny sizes: plumbing only, the numbers mean nothing)' if self.quick else 'full sizes'}.",
            "Every row is measured in one run: both sides warmed up, then interleaved, median of the repeats.",
            "",
        ]
        for section, rows in self.tables.items():
            header = "| measurement | A | B | ratio A/B | target | |"
            lines += [f"## {section}", "", header, "|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(
                    f"| {r['measurement']} | {r['a']} | {r['b']} | {format_number(r['ratio'])} | {r['target']} "
                    f"| {r['met']} |"
                )
            lines.append("")
            for text in self.notes.get(section, []):
                lines += [text, ""]
        for section in self.notes:
            if section not in self.tables:
                lines += [f"## {section}", ""] + [line for text in self.notes[section] for line in (text, "")]
        if self.plots:
            lines += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in self.plots] + [""]
        return "\n".join(lines)

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "perf.md").write_text(self.markdown())
        payload = {
            "machine": self.machine,
            "quick": self.quick,
            "sizes": dataclasses.asdict(self.sizes),
            "tables": self.tables,
            "raw": self.raw,
        }
        (out / "perf.json").write_text(json.dumps(payload, indent=1, default=str))


def format_number(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e4:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return f"{value:.3g}"


def machine_info(device: torch.device) -> dict:
    import transformers

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    info = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "cpu_bf16": any(f in flags.split() for f in ("avx512_bf16", "amx_bf16")),
        "device": str(device),
        "device_name": f"CPU {cpu_model} ({os.cpu_count()} cores)",
        "mkldnn": torch.backends.mkldnn.is_available(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


# -------------------------------------------------------------------------------------------------------------- data
def markov_streams(vocab_size: int, batch_size: int, length: int, seed: int = 0, successors: int = 4) -> torch.Tensor:
    """
    `(batch_size, length)` token streams from a fixed sparse Markov chain (each token has `successors` likely
    next tokens), so a language model's loss has somewhere to go: from ln(vocab) down towards ln(successors).
    """
    generator = torch.Generator().manual_seed(seed)
    table = torch.randint(0, vocab_size, (vocab_size, successors), generator=generator)
    streams = torch.empty(batch_size, length, dtype=torch.long)
    streams[:, 0] = torch.randint(0, vocab_size, (batch_size,), generator=generator)
    choices = torch.randint(0, successors, (batch_size, length), generator=generator)
    for t in range(1, length):
        streams[:, t] = table[streams[:, t - 1], choices[:, t]]
    return streams


class LMBatches:
    """Consecutive `(input, target)` windows of `bptt` tokens over `batch_size` streams, cycled (word-LM style)."""

    def __init__(self, sizes: Sizes, device: torch.device, num_batches: int, seed: int = 0):
        self.streams = markov_streams(sizes.vocab_size, sizes.batch_size, num_batches * sizes.bptt + 1, seed)
        self.streams = self.streams.to(device)
        self.bptt, self.num_batches = sizes.bptt, num_batches

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = (index % self.num_batches) * self.bptt
        return self.streams[:, start : start + self.bptt], self.streams[:, start + 1 : start + 1 + self.bptt]


def variable_length_batches(
    num_sentences: int, batch_size: int, vocab_size: int, min_len: int, max_len: int, device, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """
    Right-padded batches `(input_ids, attention_mask, lengths, labels)` of sentences with long-tailed lengths
    (log-normal, median about a third of `max_len`, clipped to [min_len, max_len]), in random order.
    """
    generator = torch.Generator().manual_seed(seed)
    median_len = max(min_len, max_len / 3)
    lengths = torch.exp(torch.randn(num_sentences, generator=generator) * 0.6 + math.log(median_len))
    lengths = lengths.round().clamp(min_len, max_len).long()
    batches = []
    for start in range(0, num_sentences, batch_size):
        batch_lengths = lengths[start : start + batch_size]
        time_steps = int(batch_lengths.max())
        mask = (torch.arange(time_steps)[None, :] < batch_lengths[:, None]).long()
        ids = torch.randint(4, vocab_size, (len(batch_lengths), time_steps), generator=generator) * mask
        labels = ids[:, 0] % 2  # learnable: the first token's parity
        batches.append(tuple(t.to(device) for t in (ids, mask, batch_lengths, labels)))
    return batches


def bucketed(batches, batch_size: int):
    """The same sentences regrouped into batches of similar length (sorted by length), padded to their longest."""
    rows = [(ids[i, : int(n)], int(n), label) for ids, _, lengths, labels in batches for i, (n, label) in
            enumerate(zip(lengths, labels))]
    rows.sort(key=lambda row: row[1])
    device = batches[0][0].device
    result = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        time_steps = max(n for _, n, _ in chunk)
        ids = torch.zeros(len(chunk), time_steps, dtype=torch.long, device=device)
        for i, (tokens, n, _) in enumerate(chunk):
            ids[i, :n] = tokens
        lengths = torch.tensor([n for _, n, _ in chunk], device=device)
        mask = (torch.arange(time_steps, device=device)[None, :] < lengths[:, None]).long()
        labels = torch.stack([label for _, _, label in chunk])
        result.append((ids, mask, lengths, labels))
    return result


# ---------------------------------------------------------------------------------------------------- training loops
class PlainLMLoop:
    """PyTorch word-LM example's training step: state carried and detached between windows, clip 0.25, SGD."""

    def __init__(self, model: PlainRNNLM, batches: LMBatches, lr: float, autocast_dtype=None):
        self.model, self.batches, self.step_index, self.hidden = model.train(), batches, 0, None
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.autocast_dtype = autocast_dtype

    def step(self) -> torch.Tensor:
        inputs, targets = self.batches[self.step_index]
        self.step_index += 1
        if self.hidden is not None:
            self.hidden = tuple(h.detach() for h in self.hidden) if isinstance(self.hidden, tuple) else (
                self.hidden.detach()
            )
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(inputs.device, self.autocast_dtype):
            logits, self.hidden = self.model(inputs, self.hidden)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 0.25)
        self.optimizer.step()
        return loss.detach()


class HFLMLoop:
    """The same step through hf_rnn's public API: state in a `RecurrentCache`, loss from `labels`."""

    def __init__(self, model: RNNForCausalLM, batches: LMBatches, lr: float, autocast_dtype=None):
        self.model, self.batches, self.step_index = model.train(), batches, 0
        self.cache = RecurrentCache.from_config(model.config)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.autocast_dtype = autocast_dtype

    def step(self) -> torch.Tensor:
        inputs, targets = self.batches[self.step_index]
        self.step_index += 1
        targets = targets.contiguous()
        self.cache.detach_()
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(inputs.device, self.autocast_dtype):
            # shift_labels: the targets are already the next tokens (the window is shifted by the data, not here).
            output = self.model(inputs, cache=self.cache, use_cache=True, labels=targets,
                                shift_labels=targets)
        output.loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 0.25)
        self.optimizer.step()
        return output.loss.detach()


def autocast(device: torch.device, dtype):
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None)


class PlainClassifierLoop:
    def __init__(self, model: PlainPackedClassifier, batches):
        self.model, self.batches, self.step_index = model.train(), batches, 0
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(self) -> torch.Tensor:
        ids, _, lengths, labels = self.batches[self.step_index % len(self.batches)]
        self.step_index += 1
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(ids, lengths), labels)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


class HFClassifierLoop:
    def __init__(self, model, batches):
        self.model, self.batches, self.step_index = model.train(), batches, 0
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(self) -> torch.Tensor:
        ids, mask, _, labels = self.batches[self.step_index % len(self.batches)]
        self.step_index += 1
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.model(ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def build_lm_pair(sizes: Sizes, shape: str, device: torch.device, seed: int = 0):
    """A `PlainRNNLM` and the hf_rnn causal LM with the same weights (tied, like the word-LM example's --tied)."""
    cell, layers, hidden = parse_shape(shape)
    torch.manual_seed(seed)
    plain = PlainRNNLM(sizes.vocab_size, hidden, hidden, layers, cell=cell, tie=True).to(device)
    return plain, hf_causal_lm_from_plain(plain)


# ------------------------------------------------------------------------------------------------ 1. training speed
def section_training(report: Report, sizes: Sizes, device: torch.device) -> None:
    section = "1. Training throughput: hf_rnn vs hand-written PyTorch"
    tokens_per_step = sizes.batch_size * sizes.bptt
    num_batches = sizes.warmup + 2 * sizes.repeats
    batches = LMBatches(sizes, device, num_batches)
    raw = report.raw.setdefault("training", {})
    for shape in sizes.lm_shapes.split(","):
        log(f"training LM {shape}")
        plain, hf = build_lm_pair(sizes, shape, device)
        loops = {"hf_rnn": HFLMLoop(hf, batches, sizes.lr), "plain": PlainLMLoop(plain, batches, sizes.lr)}
        times = interleaved_times({k: loop.step for k, loop in loops.items()}, device, sizes.warmup, sizes.repeats)
        hf_tps, plain_tps = (tokens_per_step / median(times[k]) for k in ("hf_rnn", "plain"))
        raw[shape] = {"seconds_per_step": times, "tokens_per_step": tokens_per_step}
        report.row(section, f"causal LM {shape}, bptt {sizes.bptt}, batch {sizes.batch_size} (tokens/s)",
                   "hf_rnn", hf_tps, "plain", plain_tps, hf_tps / plain_tps, ">= 1.0", hf_tps / plain_tps >= 1.0)

    log("training packed classifier")
    cls_batches = variable_length_batches(sizes.cls_batch * 8, sizes.cls_batch, sizes.vocab_size, sizes.cls_min_len,
                                          sizes.cls_max_len, device)
    torch.manual_seed(0)
    plain = PlainPackedClassifier(sizes.vocab_size, sizes.cls_embedding, sizes.cls_hidden, sizes.cls_layers, 2).to(
        device
    )
    hf = hf_classifier_from_plain(plain)
    loops = {"hf_rnn": HFClassifierLoop(hf, cls_batches), "plain": PlainClassifierLoop(plain, cls_batches)}
    # One timed call = one pass over all batches, so every call sees the same lengths.
    fns = {k: (lambda loop=loop: [loop.step() for _ in cls_batches]) for k, loop in loops.items()}
    times = interleaved_times(fns, device, 1, max(3, sizes.repeats // 2))
    sentences = sum(len(b[0]) for b in cls_batches)
    hf_sps, plain_sps = (sentences / median(times[k]) for k in ("hf_rnn", "plain"))
    raw["classifier"] = {"seconds_per_pass": times, "sentences_per_pass": sentences}
    report.row(section, f"packed biLSTM classifier {sizes.cls_layers}x{sizes.cls_hidden}, batch {sizes.cls_batch}, "
               f"lengths {sizes.cls_min_len}-{sizes.cls_max_len} (sentences/s)", "hf_rnn", hf_sps, "plain", plain_sps,
               hf_sps / plain_sps, ">= 1.0", hf_sps / plain_sps >= 1.0)
    report.note(section, (
        f"Both sides start from identical weights (`benchmarks/reference_models.py`) and see identical batches. LM: "
        f"vocabulary {sizes.vocab_size}, tied embeddings, SGD lr {sizes.lr}, clip 0.25, state carried and detached "
        "between windows; hf_rnn runs through `RecurrentCache` and its own `labels` loss. Classifier: Adam, right "
        "padded batches; hf_rnn gets the `attention_mask`, plain gets `pack_padded_sequence` with the lengths."
    ))


# -------------------------------------------------------------------------------------------------- 2. mixed precision
def section_amp(report: Report, sizes: Sizes, device: torch.device) -> None:
    section = "2. Mixed precision: bf16 autocast vs fp32"
    log(f"mixed precision {sizes.big_shape}, {sizes.amp_steps} steps each")
    batches = LMBatches(sizes, device, sizes.amp_steps)
    evaluation = LMBatches(sizes, device, sizes.amp_eval_batches, seed=1)
    plain, _ = build_lm_pair(sizes, sizes.big_shape, device)
    loops = {
        "bf16": HFLMLoop(hf_causal_lm_from_plain(plain), batches, sizes.lr, autocast_dtype=torch.bfloat16),
        "fp32": HFLMLoop(hf_causal_lm_from_plain(plain), batches, sizes.lr),
    }
    del plain
    times = {k: [] for k in loops}
    losses = {k: [] for k in loops}
    for step in range(sizes.amp_steps):
        for name in loops if step % 2 == 0 else reversed(list(loops)):
            synchronize(device)
            start = time.perf_counter()
            loss = loops[name].step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
            losses[name].append(float(loss))
    timed_steps = {k: v[sizes.warmup :] for k, v in times.items()}
    tokens = sizes.batch_size * sizes.bptt
    bf16_tps, fp32_tps = (tokens / median(timed_steps[k]) for k in ("bf16", "fp32"))
    eval_loss = {k: lm_eval_loss(loop.model, evaluation) for k, loop in loops.items()}
    relative = eval_loss["bf16"] / eval_loss["fp32"] - 1
    report.raw["amp"] = {"seconds_per_step": times, "train_loss": losses, "eval_loss": eval_loss}
    report.row(section, f"training throughput {sizes.big_shape} (tokens/s)", "bf16", bf16_tps, "fp32", fp32_tps,
               bf16_tps / fp32_tps, ">= 1.5", bf16_tps / fp32_tps >= 1.5)
    report.row(section, f"held-out loss after {sizes.amp_steps} steps", "bf16", eval_loss["bf16"], "fp32",
               eval_loss["fp32"], eval_loss["bf16"] / eval_loss["fp32"], "within 1%", abs(relative) <= 0.01)
    report.note(section, (
        f"Two copies of one initialisation train on the same {sizes.amp_steps} batches, steps interleaved; the "
        f"first {sizes.warmup} steps are not timed. The loss is the fp32 evaluation loss on {sizes.amp_eval_batches} "
        f"held-out batches from the same Markov source (start: ln(vocab) = {math.log(sizes.vocab_size):.2f}; a "
        "perfect model reaches ln 4 = 1.39)."
    ))


@torch.no_grad()
def lm_eval_loss(model: RNNForCausalLM, batches: LMBatches) -> float:
    model.eval()
    cache = RecurrentCache.from_config(model.config)
    total = 0.0
    for index in range(batches.num_batches):
        inputs, targets = batches[index]
        logits = model(inputs, cache=cache, use_cache=True).logits
        total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1)))
    model.train()
    return total / batches.num_batches


# ---------------------------------------------------------------------------------------------------------- 3. roofline
def lm_training_step_flops(cell: str, layers: int, hidden: int, embedding: int, vocab: int, tokens: int) -> int:
    """
    Matrix-multiply FLOPs of one training step of an RNN LM (elementwise gate math, softmax, optimizer ignored).

    Per token, each weight matrix W (m x n) costs 2mn FLOPs forward and 4mn backward (input grad + weight grad),
    so 6mn in all. The matrices: per layer l, W_ih (G*H x in_l) and W_hh (G*H x H), G = 4 gates (LSTM) or 3 (GRU);
    the decoder (V x H). The embedding is a gather (0 FLOPs). Hence
    `6 * tokens * (sum_l G*H*(in_l + H) + H*V)`, in_0 = embedding size, in_l = H above.
    """
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[cell]
    per_token = sum(gates * hidden * ((embedding if layer == 0 else hidden) + hidden) for layer in range(layers))
    per_token += hidden * vocab
    return 6 * tokens * per_token


def unrolled_lm_step(plain: PlainRNNLM, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    """The same LM written with explicit matmuls per time step (what the fused kernel does), forward + backward."""
    hidden_size = plain.hidden_size
    layer_input = plain.encoder(inputs)
    batch, time_steps = inputs.shape
    for k in range(plain.num_layers):
        w_ih, w_hh = getattr(plain.rnn, f"weight_ih_l{k}"), getattr(plain.rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(plain.rnn, f"bias_ih_l{k}"), getattr(plain.rnn, f"bias_hh_l{k}")
        input_gates = layer_input @ w_ih.T + b_ih  # all time steps at once, as cuDNN/oneDNN do
        h = layer_input.new_zeros(batch, hidden_size)
        c = layer_input.new_zeros(batch, hidden_size)
        outputs = []
        for t in range(time_steps):
            hidden_gates = h @ w_hh.T + b_hh
            if plain.cell == "lstm":
                i, f, g, o = (input_gates[:, t] + hidden_gates).chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                xr, xz, xn = input_gates[:, t].chunk(3, dim=-1)
                hr, hz, hn = hidden_gates.chunk(3, dim=-1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            outputs.append(h)
        layer_input = torch.stack(outputs, dim=1)
    logits = plain.decoder(layer_input)
    F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)).backward()


def count_flops(fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    per_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), per_op


def matmul_peak(sizes: Sizes, device: torch.device) -> dict[str, dict[int, float]]:
    """FLOP/s of square `torch.mm` per dtype and size, fp32 and bf16 interleaved."""
    results = {"fp32": {}, "bf16": {}}
    square_sizes = int_list(sizes.matmul_sizes)
    if device.type == "cuda":
        square_sizes = sorted(set(square_sizes) | {8192})  # a GPU needs large matrices to reach its peak
    for n in square_sizes:
        operands = {name: [torch.randn(n, n, device=device, dtype=dtype) for _ in range(2)]
                    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
        fns = {name: (lambda a=a, b=b: torch.mm(a, b)) for name, (a, b) in operands.items()}
        times = interleaved_times(fns, device, sizes.warmup, sizes.repeats)
        for name in fns:
            results[name][n] = 2 * n**3 / min(times[name])  # min: a peak is the best the machine can do
    return results


def section_roofline(report: Report, sizes: Sizes, device: torch.device) -> None:
    section = "3. Roofline: fraction of the measured matmul peak"
    log("roofline: matmul peak")
    peaks = matmul_peak(sizes, device)
    fp32_peak, bf16_peak = max(peaks["fp32"].values()), max(peaks["bf16"].values())
    report.row(section, f"matmul peak, square sizes {sizes.matmul_sizes} (GFLOP/s)", "bf16", bf16_peak / 1e9, "fp32",
               fp32_peak / 1e9, bf16_peak / fp32_peak)

    cell, layers, hidden = parse_shape(sizes.big_shape)
    tokens = sizes.batch_size * sizes.bptt
    analytic = lm_training_step_flops(cell, layers, hidden, hidden, sizes.vocab_size, tokens)
    batches = LMBatches(sizes, device, sizes.warmup + 2 * sizes.repeats)
    plain, hf = build_lm_pair(sizes, sizes.big_shape, device)

    log("roofline: FlopCounterMode cross-check")
    counted_fused, per_op_fused = count_flops(HFLMLoop(hf_causal_lm_from_plain(plain), batches, sizes.lr).step)
    inputs, targets = batches[0]
    counted_unrolled, per_op_unrolled = count_flops(lambda: unrolled_lm_step(plain, inputs, targets))
    plain.zero_grad(set_to_none=True)
    report.row(section, f"FLOPs of one {sizes.big_shape} training step (GFLOP): analytic vs FlopCounterMode on an "
               "unrolled copy", "analytic", analytic / 1e9, "counted", counted_unrolled / 1e9,
               analytic / counted_unrolled, "~1.0", abs(analytic / counted_unrolled - 1) < 0.02)
    report.row(section, "FlopCounterMode on hf_rnn itself (GFLOP): the fused RNN op is not counted", "analytic",
               analytic / 1e9, "counted", counted_fused / 1e9, analytic / max(counted_fused, 1))

    log(f"roofline: {sizes.big_shape} training step, fp32 and bf16")
    loops = {
        "hf_rnn fp32": HFLMLoop(hf, batches, sizes.lr),
        "plain fp32": PlainLMLoop(plain, batches, sizes.lr),
        "hf_rnn bf16": HFLMLoop(hf_causal_lm_from_plain(plain), batches, sizes.lr, autocast_dtype=torch.bfloat16),
    }
    times = interleaved_times({k: loop.step for k, loop in loops.items()}, device, sizes.warmup, sizes.repeats)
    achieved = {k: analytic / median(v) for k, v in times.items()}
    report.raw["roofline"] = {
        "matmul_flops_per_s": peaks,
        "analytic_step_flops": analytic,
        "flop_counter_unrolled": {"total": counted_unrolled, "per_op": per_op_unrolled},
        "flop_counter_hf_rnn": {"total": counted_fused, "per_op": per_op_fused},
        "seconds_per_step": times,
        "achieved_flops_per_s": achieved,
    }
    fraction = achieved["hf_rnn fp32"] / fp32_peak
    report.row(section, f"{sizes.big_shape} LM training, fraction of fp32 peak", "hf_rnn",
               achieved["hf_rnn fp32"] / 1e9, "fp32 peak", fp32_peak / 1e9, fraction, ">= 0.5", fraction >= 0.5,
               unit=" GFLOP/s")
    report.row(section, f"{sizes.big_shape} LM training fp32, hf_rnn vs plain (GFLOP/s)", "hf_rnn",
               achieved["hf_rnn fp32"] / 1e9, "plain", achieved["plain fp32"] / 1e9,
               achieved["hf_rnn fp32"] / achieved["plain fp32"])
    report.row(section, f"{sizes.big_shape} LM training bf16 autocast, fraction of bf16 peak", "hf_rnn bf16",
               achieved["hf_rnn bf16"] / 1e9, "bf16 peak", bf16_peak / 1e9, achieved["hf_rnn bf16"] / bf16_peak,
               unit=" GFLOP/s")
    report.note(section, (
        "Peak: best of the repeats of a square `torch.mm` per size, best size. FLOPs of a step: "
        "`6 * tokens * (sum_l G*H*(in_l + H) + H*V)` (G = 4 LSTM / 3 GRU gates; 2 FLOPs per multiply-add forward, "
        "twice that backward; elementwise gate math, softmax and the optimizer left out). "
        "`torch.utils.flop_counter.FlopCounterMode` has no formula for the fused recurrent ops (`aten::lstm`, "
        "`mkldnn_rnn_layer`, `_cudnn_rnn`): on hf_rnn it sees only the decoder. Run on a copy of the model written "
        "with one matmul per time step it counts every matmul, which checks the formula. "
        f"Per-op counts: hf_rnn {per_op_fused}; unrolled {per_op_unrolled}."
    ))


# -------------------------------------------------------------------------------------------------------- 4. generation
class StepClock:
    """A logits processor that only notes the time of each generation step (one call per new token)."""

    def __init__(self, device: torch.device):
        self.device, self.stamps = device, []

    def __call__(self, input_ids, scores):
        synchronize(self.device)
        self.stamps.append(time.perf_counter())
        return scores

    def per_token_seconds(self) -> list[float]:
        """Seconds spent on token i (i >= 1), the gap between consecutive steps."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]


def generate_fixed(model, prompt: torch.Tensor, new_tokens: int, clock: StepClock | None = None, **kwargs):
    from transformers import LogitsProcessorList

    return model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=0,
        logits_processor=LogitsProcessorList([clock]) if clock else None,
        **kwargs,
    )


@torch.no_grad()
def plain_greedy(model: PlainRNNLM, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """The hand-written generation loop: feed the prompt, then one argmax token at a time with the state."""
    logits, hidden = model(prompt)
    tokens = [prompt]
    for _ in range(new_tokens):
        next_token = logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(next_token)
        logits, hidden = model(next_token, hidden)
    return torch.cat(tokens, dim=1)


def gpt2_same_size(target_parameters: int, vocab_size: int, positions: int, layers: int):
    """A randomly initialised GPT-2 with `layers` blocks whose width (multiple of 64) best matches the count."""
    from transformers import GPT2Config, GPT2LMHeadModel

    def count(width: int) -> int:
        # embeddings (tied head) + positions + per block: attention 4d^2 + MLP 8d^2 + biases and norms
        return vocab_size * width + positions * width + layers * (12 * width * width + 13 * width) + 2 * width

    width = min(range(64, 2049, 64), key=lambda w: abs(count(w) - target_parameters))
    config = GPT2Config(vocab_size=vocab_size, n_positions=positions, n_embd=width, n_layer=layers,
                        n_head=max(1, width // 64), bos_token_id=2, eos_token_id=3, pad_token_id=0)
    torch.manual_seed(0)
    return GPT2LMHeadModel(config).eval()


def windowed_latency(per_token: list[float], prompt_len: int, position: int, window: int) -> float:
    """Median per-token seconds around sequence `position` (prompt included) over +-`window` tokens."""
    index = position - prompt_len  # per_token[i] is the token at position prompt_len + i + 1
    lo, hi = max(0, index - window), min(len(per_token), index + window + 1)
    return median(per_token[lo:hi])


def smoothed_curve(runs: list[list[float]], prompt_len: int, window: int, step: int) -> tuple[list[int], list[float]]:
    """Latency vs position: per position, the median over runs of the windowed median."""
    length = min(len(r) for r in runs)
    positions = list(range(prompt_len + 1 + window, prompt_len + length - window, step))
    values = [median([windowed_latency(r, prompt_len, p, window) for r in runs]) for p in positions]
    return positions, values


def crossing_position(positions, rnn, transformer) -> int | None:
    """First position from which the transformer's per-token latency stays above the RNN's; None if it never does."""
    for i in range(len(positions)):
        if all(t > r for t, r in zip(transformer[i:], rnn[i:])):
            return positions[i]
    return None


def section_generation(report: Report, sizes: Sizes, device: torch.device, out: Path) -> None:
    section = "4. Generation"
    plain, hf = build_lm_pair(sizes, sizes.big_shape, device)
    plain.eval()
    hf.eval()
    raw = report.raw.setdefault("generation", {})

    for batch in int_list(sizes.gen_batches):
        log(f"generation: tokens/s at batch {batch}")
        prompt = torch.randint(4, sizes.vocab_size, (batch, sizes.prompt_len), device=device)
        fns = {
            "hf_rnn": lambda p=prompt: generate_fixed(hf, p, sizes.gen_tokens),
            "plain": lambda p=prompt: plain_greedy(plain, p, sizes.gen_tokens),
        }
        times = interleaved_times(fns, device, 1, sizes.gen_repeats)
        hf_tps, plain_tps = (batch * sizes.gen_tokens / median(times[k]) for k in fns)
        raw[f"tokens_per_s_batch_{batch}"] = {"seconds": times, "tokens": batch * sizes.gen_tokens}
        report.row(section, f"{sizes.big_shape} greedy, batch {batch}, {sizes.gen_tokens} new tokens (tokens/s)",
                   "hf_rnn generate()", hf_tps, "plain loop", plain_tps, hf_tps / plain_tps)

    early, late = int_list(sizes.latency_positions)
    gpt2_positions = sizes.prompt_len + sizes.gpt2_tokens + 1
    gpt2 = gpt2_same_size(hf.num_parameters(), sizes.vocab_size, gpt2_positions, sizes.gpt2_layers).to(device)
    log(f"generation: per-token latency to position {late}; GPT-2 ({gpt2.num_parameters():,} parameters vs "
        f"{hf.num_parameters():,}) to {gpt2_positions - 1}")
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    rnn_runs, gpt2_runs, rnn_totals, gpt2_totals = [], [], [], []
    generate_fixed(hf, prompt, 8)
    generate_fixed(gpt2, prompt, 8)
    rnn_tokens = late - sizes.prompt_len + sizes.latency_window + 1
    for _ in range(sizes.gen_repeats):
        clock = StepClock(device)
        rnn_totals.append(timed(lambda c=clock: generate_fixed(hf, prompt, rnn_tokens, c), device))
        rnn_runs.append(clock.per_token_seconds())
        clock = StepClock(device)
        gpt2_totals.append(timed(lambda c=clock: generate_fixed(gpt2, prompt, sizes.gpt2_tokens, c), device))
        gpt2_runs.append(clock.per_token_seconds())
    at_early, at_late = (median([windowed_latency(r, sizes.prompt_len, p, sizes.latency_window) for r in rnn_runs])
                         for p in (early, late))
    report.row(section, f"hf_rnn per-token latency at position {late} vs {early} (ms)", f"@{late}", at_late * 1e3,
               f"@{early}", at_early * 1e3, at_late / at_early, "<= 1.1", at_late / at_early <= 1.1)

    rnn_2k = [sum(r[: sizes.gpt2_tokens - 1]) for r in rnn_runs]
    gpt2_2k = [sum(r[: sizes.gpt2_tokens - 1]) for r in gpt2_runs]
    rnn_tps, gpt2_tps = ((sizes.gpt2_tokens - 1) / median(v) for v in (rnn_2k, gpt2_2k))
    step = max(1, sizes.latency_window // 2)
    positions, rnn_curve = smoothed_curve([r[: sizes.gpt2_tokens - 1] for r in rnn_runs], sizes.prompt_len,
                                          sizes.latency_window, step)
    _, gpt2_curve = smoothed_curve(gpt2_runs, sizes.prompt_len, sizes.latency_window, step)
    gpt2_curve = gpt2_curve[: len(positions)]
    crossing = crossing_position(positions, rnn_curve, gpt2_curve)
    report.row(section, f"{sizes.gpt2_tokens} tokens at batch 1 vs a random GPT-2 of the same size (tokens/s)",
               "hf_rnn", rnn_tps, "GPT-2", gpt2_tps, rnn_tps / gpt2_tps)
    if crossing is None:
        where = "GPT-2 is not slower per token than hf_rnn at any position measured"
    elif crossing == positions[0]:
        where = f"hf_rnn is faster per token at every position measured (from {positions[0]})"
    else:
        where = f"GPT-2 becomes slower per token than hf_rnn from position {crossing} on"
    report.note(section, (
        f"Latency curves: {where}. GPT-2: {sizes.gpt2_layers} blocks, width {gpt2.config.n_embd}, "
        f"{gpt2.num_parameters():,} parameters vs hf_rnn's {hf.num_parameters():,}, vocabulary {sizes.vocab_size}, "
        "default attention implementation, KV cache. Per-token latency is the gap between consecutive calls of a "
        "logits processor inside `generate()`, median over a window of "
        f"+-{sizes.latency_window} positions and over {sizes.gen_repeats} runs."
    ))
    raw["latency"] = {"rnn_per_token_s": rnn_runs, "gpt2_per_token_s": gpt2_runs, "rnn_total_s": rnn_totals,
                      "gpt2_total_s": gpt2_totals, "crossing_position": crossing,
                      "gpt2_parameters": gpt2.num_parameters(), "hf_rnn_parameters": hf.num_parameters()}
    long_positions, long_curve = smoothed_curve(rnn_runs, sizes.prompt_len, sizes.latency_window, step * 4)
    plot_latency(out / "generation_latency.png", (long_positions, long_curve), (positions, gpt2_curve), crossing,
                 report)
    gpt2 = None  # free it before the memory probes

    log(f"generation: use_cache=True vs False, {sizes.nocache_tokens} tokens")
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    fns = {
        "use_cache=True": lambda: generate_fixed(hf, prompt, sizes.nocache_tokens),
        "use_cache=False": lambda: generate_fixed(hf, prompt, sizes.nocache_tokens, use_cache=False),
    }
    times = interleaved_times(fns, device, 1, sizes.gen_repeats)
    cached, uncached = (median(times[k]) for k in fns)
    raw["use_cache"] = times
    report.row(section, f"{sizes.nocache_tokens} tokens at batch 1, use_cache=True vs False (tokens/s)",
               "cache", sizes.nocache_tokens / cached, "no cache", sizes.nocache_tokens / uncached, uncached / cached)

    token_counts = int_list(sizes.memory_tokens)
    log(f"generation: peak memory for {token_counts} tokens (fresh subprocess each)")
    peaks = {n: [] for n in token_counts}
    for repeat in range(sizes.memory_repeats):
        for n in token_counts if repeat % 2 == 0 else reversed(token_counts):
            peaks[n].append(memory_probe(sizes, device, n))
    growth = {n: median([p["peak_mib"] for p in v]) for n, v in peaks.items()}
    total = {n: median([p["total_peak_mib"] for p in v]) for n, v in peaks.items()}
    few, many = token_counts[0], token_counts[-1]
    extra = growth[many] - growth[few]
    flat = extra <= max(1.0, 0.1 * growth[few])
    raw["peak_memory"] = peaks
    report.row(section, f"peak memory of the generating process, {many} vs {few} tokens (MiB)", f"{many}",
               total[many], f"{few}", total[few], total[many] / total[few])
    report.row(section, f"peak memory above the loaded, warmed-up model, {many} vs {few} tokens (MiB)", f"{many}",
               growth[many], f"{few}", growth[few], growth[many] / growth[few] if growth[few] >= 0.5 else "n/a",
               "flat: at most max(1 MiB, 10%) more", flat)
    report.note(section, (
        "Peak memory: each measurement runs in a fresh Python process (`--memory-probe`), which builds the model, "
        "warms generate() up and then "
        + ("resets and reads `torch.cuda.max_memory_allocated`." if device.type == "cuda" else
           "resets the kernel's RSS high-water mark (`/proc/self/clear_refs` <- 5) and reports `VmHWM` after "
           "generation minus `VmRSS` before it: every allocation, torch's included (tracemalloc sees none of "
           "torch's). Where the reset is not allowed, a 1 ms psutil RSS sampler stands in.")
    ))
    plot_memory(out / "generation_memory.png", growth, report)


def memory_probe(sizes: Sizes, device: torch.device, tokens: int) -> dict:
    """
    Peak memory while generating `tokens` tokens, measured in a fresh process: `peak_mib` above the loaded,
    warmed-up model, and `total_peak_mib` of the whole process (CPU: RSS; CUDA: allocated by torch).
    """
    command = [sys.executable, "-m", "benchmarks.perf", "--memory-probe", str(tokens), "--device", str(device),
               "--sizes-json", json.dumps(dataclasses.asdict(sizes))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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


# ---------------------------------------------------------------------------------------- 5. classification inference
def section_inference(report: Report, sizes: Sizes, device: torch.device, out: Path) -> None:
    section = "5. Classification inference: packed vs padded vs bucketed"
    log(f"inference: {sizes.infer_sentences} sentences, batch {sizes.infer_batch}")
    batches = variable_length_batches(sizes.infer_sentences, sizes.infer_batch, sizes.vocab_size, sizes.cls_min_len,
                                      sizes.cls_max_len, device, seed=2)
    by_length = bucketed(batches, sizes.infer_batch)
    torch.manual_seed(0)
    plain = PlainPackedClassifier(sizes.vocab_size, sizes.cls_embedding, sizes.cls_hidden, sizes.cls_layers, 2).to(
        device
    ).eval()
    hf = hf_classifier_from_plain(plain).eval()

    @torch.no_grad()
    def hf_pass(data, use_mask: bool):
        for ids, mask, _, _ in data:
            hf(ids, attention_mask=mask if use_mask else None)

    @torch.no_grad()
    def plain_pass(data):
        for ids, _, lengths, _ in data:
            plain(ids, lengths)

    fns = {
        "packed": lambda: hf_pass(batches, True),
        "padded": lambda: hf_pass(batches, False),
        "bucketed": lambda: hf_pass(by_length, True),
        "plain packed": lambda: plain_pass(batches),
    }
    times = interleaved_times(fns, device, 1, sizes.infer_repeats)
    sps = {k: sizes.infer_sentences / median(v) for k, v in times.items()}
    padded_tokens = sum(b[0].numel() for b in batches)
    real_tokens = sum(int(b[2].sum()) for b in batches)
    report.raw["inference"] = {"seconds_per_pass": times, "sentences_per_s": sps, "real_tokens": real_tokens,
                               "padded_tokens": padded_tokens,
                               "bucketed_padded_tokens": sum(b[0].numel() for b in by_length)}
    report.row(section, "hf_rnn packed vs padded to the longest (sentences/s)", "packed", sps["packed"], "padded",
               sps["padded"], sps["packed"] / sps["padded"], "> 1", sps["packed"] > sps["padded"])
    report.row(section, "hf_rnn bucketed by length (packed) vs random batches (packed) (sentences/s)", "bucketed",
               sps["bucketed"], "random", sps["packed"], sps["bucketed"] / sps["packed"], "> 1 if it helps",
               sps["bucketed"] > sps["packed"])
    report.row(section, "hf_rnn packed vs the hand-written packed classifier (sentences/s)", "hf_rnn",
               sps["packed"], "plain", sps["plain packed"], sps["packed"] / sps["plain packed"], ">= 1.0",
               sps["packed"] >= sps["plain packed"])
    report.note(section, (
        f"{sizes.infer_sentences} sentences, log-normal lengths {sizes.cls_min_len}-{sizes.cls_max_len}, bi-LSTM "
        f"{sizes.cls_layers}x{sizes.cls_hidden}, batch {sizes.infer_batch}, `torch.no_grad()`, eval mode. "
        f"Real tokens {real_tokens:,}; padded to the longest per batch {padded_tokens:,}. 'padded' runs the "
        "recurrence over the padding (no `attention_mask`, so its final states are wrong for short rows: the cost "
        "of not packing, not a usable classifier)."
    ))
    plot_bars(out / "inference_throughput.png", "classification inference (sentences/s)", sps, report)


# ------------------------------------------------------------------------------------------------------- 6. profile
def section_profile(report: Report, sizes: Sizes, device: torch.device, out: Path) -> None:
    from torch.profiler import ProfilerActivity, profile

    section = "6. Where the time goes (torch.profiler)"
    log(f"profile: {sizes.big_shape} training step and generate()")
    batches = LMBatches(sizes, device, 4)
    _, hf = build_lm_pair(sizes, sizes.big_shape, device)
    loop = HFLMLoop(hf, batches, sizes.lr)
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    use_cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if use_cuda else [])

    def train_step():
        hf.train()
        loop.step()

    def generate_8():
        hf.eval()
        with torch.no_grad():
            generate_fixed(hf, prompt, 8)

    workloads = {
        f"training step (batch {sizes.batch_size}, bptt {sizes.bptt})": ("profile_train.txt", train_step),
        f"generate() of 8 tokens at batch 1 after a {sizes.prompt_len}-token prompt": ("profile_generate.txt",
                                                                                         generate_8),
    }
    for name, (filename, workload) in workloads.items():
        workload()  # warm-up
        synchronize(device)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            workload()
            synchronize(device)
            wall = time.perf_counter() - start
        averages = prof.key_averages()

        def self_time(event) -> float:
            return event.self_device_time_total if use_cuda else event.self_cpu_time_total

        (out / filename).write_text(averages.table(sort_by="self_device_time_total" if use_cuda else
                                                   "self_cpu_time_total", row_limit=30))
        total = sum(self_time(e) for e in averages)
        top = sorted(averages, key=self_time, reverse=True)[:8]
        kind = "device" if use_cuda else "CPU"
        lines = [
            f"**{sizes.big_shape} {name}**: {wall * 1e3:.1f} ms under the profiler; the ops' self {kind} time adds "
            f"up to {total / 1e3:.1f} ms" + ("" if use_cuda else f" (the other {max(0.0, wall * 1e3 - total / 1e3):.1f}"
                                                             " ms: Python, transformers' bookkeeping, the profiler)")
            + f". Top ops (full table: `{filename}`):",
            "",
            f"| op | self {kind} time (ms) | share of the ops | calls |",
            "|---|---|---|---|",
        ]
        for event in top:
            lines.append(f"| `{event.key}` | {self_time(event) / 1e3:.2f} | {self_time(event) / max(total, 1):.0%} "
                         f"| {event.count} |")
        report.note(section, "\n".join(lines))
        report.raw.setdefault("profile", {})[name] = {
            "wall_s": wall,
            "ops_self_us": total,
            "top_self_us": {e.key: self_time(e) for e in top},
        }


# --------------------------------------------------------------------------------------------------------- plots
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_latency(path: Path, rnn, gpt2, crossing, report: Report) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(rnn[0], [v * 1e3 for v in rnn[1]], label="hf_rnn")
    axis.plot(gpt2[0], [v * 1e3 for v in gpt2[1]], label="GPT-2 (same size)")
    if crossing is not None:
        axis.axvline(crossing, color="gray", linestyle="--", label=f"GPT-2 slower from {crossing}")
    axis.set(xlabel="position", ylabel="ms per token (batch 1)", title="generation latency vs position")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    report.plots.append(str(path))


def plot_memory(path: Path, peak: dict[int, float], report: Report) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5))
    counts = sorted(peak)
    axis.plot(counts, [peak[n] for n in counts], marker="o", label="hf_rnn")
    axis.set(xlabel="generated tokens", ylabel="peak MiB above the model", title="generation memory", ylim=(0, None))
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    report.plots.append(str(path))


def plot_bars(path: Path, title: str, values: dict[str, float], report: Report) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar(list(values), list(values.values()))
    axis.set(title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    report.plots.append(str(path))


def plot_training(path: Path, report: Report) -> None:
    raw = report.raw.get("training")
    if not raw:
        return
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.5))
    names = [n for n in raw if n != "classifier"]
    width = 0.4
    for offset, side in ((-width / 2, "hf_rnn"), (width / 2, "plain")):
        values = [raw[n]["tokens_per_step"] / median(raw[n]["seconds_per_step"][side]) for n in names]
        axis.bar([i + offset for i in range(len(names))], values, width, label=side)
    axis.set_xticks(range(len(names)), names)
    axis.set(ylabel="training tokens/s", title="causal LM training throughput")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    report.plots.append(str(path))


# ---------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds: checks the plumbing only")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help=f"override a size: {', '.join(f.name for f in dataclasses.fields(Sizes))}")
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes-json", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_sizes(args: argparse.Namespace) -> Sizes:
    if args.sizes_json:
        return Sizes(**json.loads(args.sizes_json))
    sizes = Sizes(**(QUICK if args.quick else {}))
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        field_type = type(getattr(sizes, name))
        setattr(sizes, name, field_type(value))
    return sizes


def main(argv=None) -> None:
    args = parse_args(argv)
    sizes = build_sizes(args)
    device = torch.device(args.device)
    if args.memory_probe is not None:
        run_memory_probe(sizes, device, args.memory_probe)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(device, sizes, args.quick)
    log(f"hf_rnn perf on {report.machine['device_name']}, {report.machine['threads']} thread(s), "
        f"{'quick' if args.quick else 'full'} sizes -> {out}")
    chosen = [s for s in args.sections.split(",") if s]
    for name in chosen:
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}; choose from {SECTIONS}")
    runners = {
        "training": lambda: section_training(report, sizes, device),
        "amp": lambda: section_amp(report, sizes, device),
        "roofline": lambda: section_roofline(report, sizes, device),
        "generation": lambda: section_generation(report, sizes, device, out),
        "inference": lambda: section_inference(report, sizes, device, out),
        "profile": lambda: section_profile(report, sizes, device, out),
    }
    for name in SECTIONS:
        if name in chosen:
            runners[name]()
            report.write(out)  # partial results survive a later failure
    plot_training(out / "training_throughput.png", report)
    report.write(out)
    log(f"done: {out / 'perf.md'}")


if __name__ == "__main__":
    main()
