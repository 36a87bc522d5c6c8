"""A causal LM reads a stream chunk by chunk with its state carried: same scores, flat memory, generation after it."""

import pytest
import torch
from helpers import seeded, tiny_config

from hf_rnn import RNNForCausalLM, output_state
from hf_rnn.streaming import generate_after_stream, read_chunk, score_stream

STREAM = torch.randint(4, 37, (2, 60), generator=torch.Generator().manual_seed(0))


def lm(cell: str = "lstm") -> RNNForCausalLM:
    return seeded(RNNForCausalLM, tiny_config(cell, eos_token_id=None, initializer_range=1.0), seed=3)


@pytest.mark.parametrize("chunk_size", [1, 7, 60])
def test_chunked_score_equals_scoring_the_whole_stream(cell, chunk_size):
    model = lm(cell)
    with torch.no_grad():
        logits = model(STREAM).logits
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), STREAM[:, 1:].flatten(), reduction="sum")
    score = score_stream(model, STREAM.split(chunk_size, dim=1))
    assert score.tokens == STREAM[:, 1:].numel()
    assert score.negative_log_likelihood == pytest.approx(expected.item(), rel=1e-5)
    assert score.perplexity == pytest.approx(torch.exp(expected / score.tokens).item(), rel=1e-5)


def test_state_after_chunks_equals_state_after_the_whole_stream_and_stays_the_same_size():
    model = lm("gru")
    state, sizes = None, set()
    for chunk in STREAM.split(11, dim=1):
        _, state = read_chunk(model, chunk, state)
        sizes.add(tuple(t.shape for layer in state.layers for t in layer.recurrent_states.values()))
    with torch.no_grad():
        whole = output_state(model(STREAM, use_cache=True))
    assert len(sizes) == 1  # memory does not grow with the stream
    for layer in range(len(state.layers)):
        torch.testing.assert_close(state.get_layer_state(layer), whole.get_layer_state(layer), atol=1e-6, rtol=0)


@pytest.mark.parametrize("num_beams", [1, 2])
def test_generation_after_a_stream_equals_generation_from_the_whole_text(num_beams):
    model = lm("lstm")
    settings = {"max_new_tokens": 6, "do_sample": False, "num_beams": num_beams}
    state = None
    for chunk in STREAM[:, :-1].split(13, dim=1):
        _, state = read_chunk(model, chunk, state)
    with torch.no_grad():
        expected = model.generate(STREAM, **settings)[:, STREAM.shape[1] :]
        continued = generate_after_stream(model, state, STREAM[:, -1:], **settings)
    assert len(set(expected.flatten().tolist())) > 2  # a guard: the continuation is not one repeated token
    assert torch.equal(continued[:, 1:], expected)
