"""4. Generation: speed, latency against position, memory, no cache, and a GPT-2 of the same size."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.perf.config import REPO_ROOT, Sizes, int_list, log
from benchmarks.perf.plots import plot_latency, plot_memory
from benchmarks.perf.report import Report
from benchmarks.perf.timing import StepClock, interleaved_times, median, timed
from benchmarks.perf.workloads import build_lm_pair
from benchmarks.reference_models import (
    PlainRNNLM,
)


def generate_fixed(model, prompt: torch.Tensor, new_tokens: int, clock: StepClock | None = None, **kwargs):
    """
    generate() of exactly `new_tokens` tokens: the end-of-sequence token is never chosen (`min_new_tokens`, as the
    hand-written beam loop bans it).
    """
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


def generate_without_eos(model, prompt: torch.Tensor, new_tokens: int):
    """
    generate() of `new_tokens` greedy tokens with no end-of-sequence token: the work of the hand-written greedy
    loop, which never checks for one (no stopping criterion or length processor on it; generate() still runs its
    own per-step bookkeeping: the logits copy, the processor list, `_update_model_kwargs_for_generation`).
    """
    from transformers import GenerationConfig

    config = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0)
    return model.generate(prompt, attention_mask=torch.ones_like(prompt), generation_config=config)


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


@torch.no_grad()
def plain_beam_search(
    model: PlainRNNLM, prompt: torch.Tensor, new_tokens: int, num_beams: int, banned: int | None = None
) -> torch.Tensor:
    """
    The hand-written beam search: `num_beams` hypotheses per row ranked by summed log-probabilities, the state of
    each carried along with it; returns each row's best `(batch, prompt + new_tokens)`. No end of sequence:
    every hypothesis runs `new_tokens` tokens (`banned`, the EOS id, is never chosen, as generate() with
    `min_new_tokens` does), so length normalisation ranks them as the raw sums do.
    """
    batch = prompt.size(0)
    logits, hidden = model(prompt)
    log_probs = logits[:, -1].log_softmax(-1)
    if banned is not None:
        log_probs[:, banned] = float("-inf")
    scores, tokens = log_probs.topk(num_beams, dim=-1)  # (batch, beams), best first
    hidden = tuple(h.repeat_interleave(num_beams, dim=1) for h in hidden)  # (layers, batch * beams, size)
    sequences = torch.cat([prompt.repeat_interleave(num_beams, dim=0), tokens.reshape(-1, 1)], dim=1)
    row_offsets = torch.arange(batch, device=prompt.device).unsqueeze(1) * num_beams
    for _ in range(new_tokens - 1):
        logits, hidden = model(sequences[:, -1:], hidden)
        log_probs = logits[:, -1].log_softmax(-1)
        if banned is not None:
            log_probs[:, banned] = float("-inf")
        vocab = log_probs.size(-1)
        candidates = (scores.reshape(-1, 1) + log_probs).view(batch, num_beams * vocab)
        scores, flat = candidates.topk(num_beams, dim=-1)
        parents = (flat // vocab + row_offsets).reshape(-1)
        hidden = tuple(h[:, parents] for h in hidden)
        sequences = torch.cat([sequences[parents], (flat % vocab).reshape(-1, 1)], dim=1)
    return sequences[::num_beams]


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
            "hf_rnn": lambda p=prompt: generate_without_eos(hf, p, sizes.gen_tokens),
            "plain": lambda p=prompt: plain_greedy(plain, p, sizes.gen_tokens),
        }
        same = torch.equal(fns["hf_rnn"](), fns["plain"]())
        times = interleaved_times(fns, device, 1, sizes.gen_repeats)
        hf_tps, plain_tps = (batch * sizes.gen_tokens / median(times[k]) for k in fns)
        raw[f"tokens_per_s_batch_{batch}"] = {"seconds": times, "tokens": batch * sizes.gen_tokens,
                                               "same_tokens": same}
        report.row(section, f"{sizes.big_shape} greedy, batch {batch}, {sizes.gen_tokens} new tokens (tokens/s; "
                   f"same tokens: {'yes' if same else 'no'})", "hf_rnn generate()", hf_tps, "plain loop", plain_tps,
                   hf_tps / plain_tps, ">= 1.0", hf_tps / plain_tps >= 1.0)

    beams = 4
    log(f"generation: beam search, {beams} beams at batch 1")
    prompt = torch.randint(4, sizes.vocab_size, (1, sizes.prompt_len), device=device)
    fns = {
        "hf_rnn": lambda: generate_fixed(hf, prompt, sizes.gen_tokens, num_beams=beams),
        "plain": lambda: plain_beam_search(plain, prompt, sizes.gen_tokens, beams, hf.config.eos_token_id),
    }
    same = torch.equal(fns["hf_rnn"](), fns["plain"]())
    times = interleaved_times(fns, device, 1, sizes.gen_repeats)
    hf_tps, plain_tps = (sizes.gen_tokens / median(times[k]) for k in fns)
    raw["beam_search"] = {"seconds": times, "tokens": sizes.gen_tokens, "beams": beams, "same_tokens": same}
    report.row(section, f"{sizes.big_shape} beam search, {beams} beams, batch 1, {sizes.gen_tokens} new tokens "
               f"(tokens/s; same tokens: {'yes' if same else 'no'})", "hf_rnn generate()", hf_tps, "plain beam loop",
               plain_tps, hf_tps / plain_tps, ">= 1.0", hf_tps / plain_tps >= 1.0)

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
        "Greedy rows: generate() without an end-of-sequence token (`generate_without_eos`), the work of the plain "
        "loop, which never checks for one. Beam rows: both sides never choose it (`min_new_tokens`; the plain beam "
        "loop bans it). On the CPU, generate()'s decode steps run the cell equations on transposed copies of the "
        "weights (`DecodeWeights`); the plain loop calls the fused `nn.LSTM` once per token. "
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
    command = [sys.executable, "-m", "benchmarks.perf.memory_probe", str(tokens), "--device", str(device),
               "--sizes-json", json.dumps(dataclasses.asdict(sizes))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])

