"""3. Roofline: the fraction of the measured matmul peak that a training step reaches."""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from benchmarks.perf.config import Sizes, int_list, log, parse_shape
from benchmarks.perf.report import Report
from benchmarks.perf.timing import interleaved_times, median
from benchmarks.perf.workloads import HFLMLoop, LMBatches, PlainLMLoop, build_lm_pair
from benchmarks.reference_models import (
    PlainRNNLM,
    hf_causal_lm_from_plain,
)


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


