"""Run a causal LM over a text of any length, chunk by chunk, with the recurrent state carried between chunks.

    state = None
    for chunk in token_chunks:                  # (batch, n) id tensors, consecutive pieces of one stream per row
        output, state = read_chunk(model, chunk, state)
    score = score_stream(model, token_chunks)   # summed negative log-likelihood, tokens, perplexity
    text_ids = generate_after_stream(model, state, next_ids, max_new_tokens=50)

Memory stays flat in the stream's length: a recurrent model's whole past is its state, `(batch, hidden)` per layer,
and each chunk is read without autograd. Chunking changes no result: reading a stream in pieces gives the logits
and the state of reading it at once (up to float rounding across kernel calls).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .cache_rnn import CACHE_NAME, RecurrentCache, output_state


@torch.no_grad()
def read_chunk(model, input_ids: torch.LongTensor, state: RecurrentCache | None = None):
    """
    Continue `state` (None: a new stream) with the `(batch, n)` ids of the next chunk.
    Returns the model's output for the chunk and the state after it.
    """
    output = model(input_ids=input_ids, cache=state, use_cache=True)
    return output, output_state(output)


@dataclass
class StreamScore:
    """How well a causal LM predicts a stream: summed negative log-likelihood (nats) over `tokens` predictions."""

    negative_log_likelihood: float
    tokens: int

    @property
    def loss(self) -> float:
        """Mean negative log-likelihood per predicted token."""
        return self.negative_log_likelihood / max(self.tokens, 1)

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)


@torch.no_grad()
def score_stream(model, chunks: Iterable[torch.LongTensor]) -> StreamScore:
    """
    Score consecutive `(batch, n)` chunks of streams: every token after the first of each stream is predicted from
    everything before it, across chunk boundaries (the last logits of a chunk predict the next chunk's first token).
    """
    state, previous_logits = None, None
    total, count = 0.0, 0
    for chunk in chunks:
        output, state = read_chunk(model, chunk, state)
        logits = output.logits
        if previous_logits is not None:  # the boundary: the last position of the last chunk predicts this one's first
            logits = torch.cat([previous_logits, logits], dim=1)
            targets = chunk
        else:
            targets = chunk[:, 1:]
        predicting = logits[:, : targets.shape[1]]
        total += F.cross_entropy(predicting.flatten(0, 1).float(), targets.flatten(), reduction="sum").item()
        count += targets.numel()
        previous_logits = output.logits[:, -1:]
    return StreamScore(negative_log_likelihood=total, tokens=count)


@torch.no_grad()
def generate_after_stream(model, state: RecurrentCache, input_ids: torch.LongTensor, **generate_kwargs):
    """
    `model.generate()` continuing a stream that `state` has read, from `input_ids`, the ids that follow it (at
    least one; not yet read). Returns what generate() returns: `input_ids` followed by the new tokens.

    generate() takes the whole sequence when continuing from a cache; a stream's past is gone, so the state is
    positioned at the start of `input_ids` (it has read none of them) and the past lives on in its tensors only.
    `state` itself is left as it was.
    """
    if input_ids.dim() != 2 or input_ids.shape[1] < 1:
        raise ValueError(f"input_ids must be (batch, n >= 1) ids that follow the stream; got {tuple(input_ids.shape)}.")
    positioned = RecurrentCache(len(state.layers), state.num_state_tensors)
    for index in range(len(state.layers)):
        layer_state = state.get_layer_state(index)
        if layer_state is not None:
            positioned.set_layer_state(index, layer_state)
    return model.generate(input_ids, **{CACHE_NAME: positioned}, **generate_kwargs)


__all__ = ["StreamScore", "generate_after_stream", "read_chunk", "score_stream"]
