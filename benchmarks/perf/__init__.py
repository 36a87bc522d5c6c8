"""hf_rnn performance suite: one command, every figure a pair or a ratio measured in the same run.

    python -m benchmarks.perf [--quick] [--device cpu|cuda] [--out benchmarks/results] [--sections ...] [--set k=v]

Sections (one module each in `sections/`): training throughput against hand-written PyTorch loops, bf16 mixed precision,
roofline (fraction of the measured matmul peak), generation (speed, latency against position, memory, no cache,
a GPT-2 of the same size), classification inference (packed / padded / bucketed), and a profile of where the time
goes. Writes `perf.md` (a table per section: the pair, the ratio, the target, met or not), `perf.json` (raw numbers
and the machine) and PNG plots to `--out`.

Timing: every measurement warms up both sides, then runs them interleaved (A B B A A B ...) and takes the median,
because the machines are shared and noisy. On CUDA each timed call is bracketed by `torch.cuda.synchronize()`.
"""

DESCRIPTION = __doc__.split("\n\n")[0]
