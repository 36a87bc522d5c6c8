"""1. Training throughput against hand-written PyTorch loops; 2. bf16 mixed precision (speed and loss)."""

import math
import time

import torch
import torch.nn.functional as F

from benchmarks.perf.config import Sizes, log
from benchmarks.perf.report import Report
from benchmarks.perf.timing import interleaved_times, median, synchronize
from benchmarks.perf.workloads import (
    HFClassifierLoop,
    HFLMLoop,
    LMBatches,
    PlainClassifierLoop,
    PlainLMLoop,
    build_lm_pair,
    variable_length_batches,
)
from benchmarks.reference_models import (
    PlainPackedClassifier,
    hf_causal_lm_from_plain,
    hf_classifier_from_plain,
)
from hf_rnn import RNNForCausalLM
from hf_rnn.cache_rnn import RecurrentCache


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

