"""What is timed: synthetic token streams and sentence batches, and each training loop as a pair (ours, plain)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.perf.config import Sizes, parse_shape
from benchmarks.reference_models import (
    PlainPackedClassifier,
    PlainRNNLM,
    hf_causal_lm_from_plain,
)
from hf_rnn import RNNForCausalLM
from hf_rnn.cache_rnn import RecurrentCache


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

