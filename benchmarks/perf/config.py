"""The sizes of every measurement (`Sizes`, `--quick`), the section names, and the progress log."""

import dataclasses
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
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

