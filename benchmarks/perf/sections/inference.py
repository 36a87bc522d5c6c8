"""5. Classification inference: exact (masked), padded and bucketed batches against plain PyTorch."""

from pathlib import Path

import torch

from benchmarks.perf.config import Sizes, log
from benchmarks.perf.plots import plot_bars
from benchmarks.perf.report import Report
from benchmarks.perf.timing import interleaved_times, median
from benchmarks.perf.workloads import bucketed, variable_length_batches
from benchmarks.reference_models import (
    PlainPackedClassifier,
    hf_classifier_from_plain,
)


def section_inference(report: Report, sizes: Sizes, device: torch.device, out: Path) -> None:
    section = "5. Classification inference: exact vs padded vs bucketed"
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
        "exact": lambda: hf_pass(batches, True),
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
    report.row(section, "hf_rnn exact (attention_mask) vs padded to the longest (sentences/s)", "exact",
               sps["exact"], "padded", sps["padded"], sps["exact"] / sps["padded"], "> 1", sps["exact"] > sps["padded"])
    report.row(section, "hf_rnn bucketed by length vs random batches, both exact (sentences/s)", "bucketed",
               sps["bucketed"], "random", sps["exact"], sps["bucketed"] / sps["exact"], "> 1 if it helps",
               sps["bucketed"] > sps["exact"])
    report.row(section, "hf_rnn exact vs the hand-written packed classifier (sentences/s)", "hf_rnn",
               sps["exact"], "plain", sps["plain packed"], sps["exact"] / sps["plain packed"], ">= 1.0",
               sps["exact"] >= sps["plain packed"])
    report.note(section, (
        f"{sizes.infer_sentences} sentences, log-normal lengths {sizes.cls_min_len}-{sizes.cls_max_len}, bi-LSTM "
        f"{sizes.cls_layers}x{sizes.cls_hidden}, batch {sizes.infer_batch}, `torch.no_grad()`, eval mode. "
        f"Real tokens {real_tokens:,}; padded to the longest per batch {padded_tokens:,}. 'padded' runs the "
        "recurrence over the padding (no `attention_mask`, so its final states are wrong for short rows: the cost "
        "of ignoring the padding, not a usable classifier). 'exact' gets the `attention_mask`: on the CPU without a "
        "cache hf_rnn runs rows of similar lengths together through the fused kernel, each row's tokens first "
        "(`PaddingLayout.runs_aligned`), where the plain classifier packs."
    ))
    plot_bars(out / "inference_throughput.png", "classification inference (sentences/s)", sps, report)


