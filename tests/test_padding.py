"""Padding never changes a result: any side, any batch neighbours, every cell and head."""

import pytest
import torch
from helpers import VOCAB_SIZE, seeded, tiny_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_rnn import (
    CELL_TYPES,
    POOLING_TYPES,
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    output_state,
)
from hf_rnn.modeling_rnn import PaddingLayout, length_groups

TOLERANCE = 1e-5

# A batch: 1-4 sequences of 1-9 real tokens, each padded on its own side ("left" or "right").
batches = st.lists(
    st.tuples(
        st.lists(st.integers(0, VOCAB_SIZE - 1), min_size=1, max_size=9),
        st.sampled_from(["left", "right"]),
    ),
    min_size=1,
    max_size=4,
)
property_settings = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pad_batch(batch, extra_padding: int = 0):
    """Pad each sequence on its own side to a common width (plus `extra_padding` columns for everyone)."""
    width = max(len(ids) for ids, _ in batch) + extra_padding
    input_ids = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    spans = []
    for row, (ids, side) in enumerate(batch):
        start = width - len(ids) if side == "left" else 0
        input_ids[row, start : start + len(ids)] = torch.tensor(ids)
        mask[row, start : start + len(ids)] = 1
        spans.append(slice(start, start + len(ids)))
    return input_ids, mask, spans


_models = {}


def model_for(head, cell, **overrides):
    key = (head, cell, tuple(sorted(overrides.items())))
    if key not in _models:
        _models[key] = seeded(head, tiny_config(cell, **overrides))
    return _models[key]


# Heads with one output per position: the causal LM, and the tagger in both directions.
PER_TOKEN_HEADS = {
    "lm": (RNNForCausalLM, {}),
    "tagger": (RNNForTokenClassification, {"bidirectional": False, "num_labels": 3}),
    "bidirectional-tagger": (RNNForTokenClassification, {"bidirectional": True, "num_labels": 3}),
}


@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize("head", list(PER_TOKEN_HEADS))
@property_settings
@given(batch=batches, extra=st.integers(0, 3))
def test_padding_does_not_change_per_token_logits(cell, head, batch, extra):
    head_class, overrides = PER_TOKEN_HEADS[head]
    model = model_for(head_class, cell, **overrides)
    input_ids, mask, spans = pad_batch(batch, extra)
    with torch.no_grad():
        padded = model(input_ids, attention_mask=mask).logits
        for row, (ids, _) in enumerate(batch):
            alone = model(torch.tensor([ids])).logits[0]
            torch.testing.assert_close(padded[row, spans[row]], alone, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize("pooling", POOLING_TYPES)
@property_settings
@given(batch=batches, extra=st.integers(0, 3))
def test_padding_does_not_change_bidirectional_classifier_logits(cell, pooling, batch, extra):
    model = model_for(RNNForSequenceClassification, cell, bidirectional=True, num_labels=3, classifier_pooling=pooling)
    input_ids, mask, _ = pad_batch(batch, extra)
    with torch.no_grad():
        padded = model(input_ids, attention_mask=mask).logits
        alone = torch.cat([model(torch.tensor([ids])).logits for ids, _ in batch])
    torch.testing.assert_close(padded, alone, atol=TOLERANCE, rtol=0)


def assert_each_row_is_its_result_alone(model, padded, batch, spans) -> None:
    """Every layer's outputs at a row's real positions, and its final state, equal that row run on its own."""
    with torch.no_grad():
        for row, (ids, _) in enumerate(batch):
            alone = model(torch.tensor([ids]), use_cache=True, output_hidden_states=True)
            for layer in range(model.config.num_hidden_layers):
                torch.testing.assert_close(
                    padded.hidden_states[layer + 1][row, spans[row]], alone.hidden_states[layer + 1][0]
                )
                for mine, reference in zip(
                    output_state(padded).layers[layer].recurrent_states.values(),
                    output_state(alone).layers[layer].recurrent_states.values(),
                ):
                    torch.testing.assert_close(mine[row], reference[0])


def test_padding_does_not_change_final_state_or_hidden_states(cell):
    model = model_for(RNNModel, cell)
    batch = [([5, 6, 7, 8], "left"), ([9, 10], "right"), ([11, 12, 13], "left")]
    input_ids, mask, spans = pad_batch(batch, extra_padding=2)
    with torch.no_grad():
        padded = model(input_ids, attention_mask=mask, use_cache=True, output_hidden_states=True)
        assert_each_row_is_its_result_alone(model, padded, batch, spans)


def test_padding_positions_output_zeros():
    model = model_for(RNNModel, "gru")
    input_ids, mask, _ = pad_batch([([1, 2, 3], "left"), ([4], "right")], extra_padding=1)
    with torch.no_grad():
        hidden = model(input_ids, attention_mask=mask).last_hidden_state
    assert torch.all(hidden[mask == 0] == 0)
    assert torch.all(hidden[mask == 1].abs().sum(-1) > 0)


def test_all_padding_row_keeps_its_state(cell):
    """A row with no real token in a step (possible mid-batch) leaves its cached state untouched."""
    model = model_for(RNNForCausalLM, cell)
    with torch.no_grad():
        first = model(torch.tensor([[3, 4, 5], [6, 7, 8]]), use_cache=True)
        before = [s.clone() for layer in output_state(first).layers for s in layer.recurrent_states.values()]
        step = model(
            torch.tensor([[9], [0]]),
            attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
            cache=output_state(first),
        )
        after = [s for layer in output_state(step).layers for s in layer.recurrent_states.values()]
    for old, new in zip(before, after):
        torch.testing.assert_close(new[1], old[1], atol=0, rtol=0)
        assert not torch.allclose(new[0], old[0])


# Each layout PaddingLayout can choose, with a batch that takes it: (padding sides, extra columns), what it runs.
LAYOUTS = {
    "equal lengths, right padded": ([([5, 6, 7], "right"), ([8, 9, 10], "right")], 2, "columns"),
    "equal lengths, left padded": ([([5, 6, 7], "left"), ([8, 9, 10], "left")], 2, "columns"),
    "right padding": ([([5, 6, 7, 8], "right"), ([9, 10], "right"), ([11, 12, 13], "right")], 1, "packed"),
    "right padding, longest first": ([([5, 6, 7, 8], "right"), ([9, 10, 11], "right"), ([12], "right")], 0, "packed"),
    "left padding": ([([5, 6, 7, 8], "left"), ([9, 10], "left"), ([11, 12, 13], "left")], 1, "realigned"),
    "mixed padding": ([([5, 6, 7, 8], "left"), ([9, 10], "right"), ([11, 12, 13], "left")], 2, "realigned"),
}


def layout_kind(layout: PaddingLayout) -> str:
    if layout.columns is not None:
        return "columns"
    if layout.runs_aligned:
        return "aligned"
    if not layout.is_packed:
        return "plain"
    return "packed" if layout.order is None else "realigned"


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_padding_layout_gives_each_row_its_result_alone(cell, name, bidirectional):
    batch, extra, kind = LAYOUTS[name]
    input_ids, mask, spans = pad_batch(batch, extra_padding=extra)
    assert layout_kind(PaddingLayout(mask, mask.size(1))) == kind
    model = model_for(RNNModel, cell, bidirectional=bidirectional)
    with torch.no_grad():
        padded = model(input_ids, attention_mask=mask, use_cache=True, output_hidden_states=True)
        assert torch.all(padded.last_hidden_state[mask == 0] == 0)
        assert_each_row_is_its_result_alone(model, padded, batch, spans)


def assert_stateless_rows_are_their_results_alone(model, input_ids, mask, batch, spans) -> None:
    """Without a cache: zeros at padding, and every layer's outputs at a row's tokens as that row run alone."""
    with torch.no_grad():
        padded = model(input_ids, attention_mask=mask, use_cache=False, output_hidden_states=True)
        assert torch.all(padded.last_hidden_state[mask == 0] == 0)
        for row, (ids, _) in enumerate(batch):
            alone = model(torch.tensor([ids]), use_cache=False, output_hidden_states=True)
            for layer in range(1, model.config.num_hidden_layers + 1):
                torch.testing.assert_close(padded.hidden_states[layer][row, spans[row]], alone.hidden_states[layer][0])


VARYING_LENGTHS = [name for name, (_, _, kind) in LAYOUTS.items() if kind in ("packed", "realigned")]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("name", VARYING_LENGTHS)
def test_without_a_state_varying_lengths_run_aligned_and_give_each_row_its_result_alone(cell, name, bidirectional):
    """No cache asked for: the padded tensor runs through the fused kernel (no packing), each row still exact."""
    batch, extra, _ = LAYOUTS[name]
    input_ids, mask, spans = pad_batch(batch, extra_padding=extra)
    # An all-padding row beside them outputs zeros.
    input_ids, mask = torch.cat([input_ids, input_ids[:1]]), torch.cat([mask, torch.zeros_like(mask[:1])])
    assert layout_kind(PaddingLayout(mask, mask.size(1), needs_state=False)) == "aligned"
    model = model_for(RNNModel, cell, bidirectional=bidirectional)
    assert_stateless_rows_are_their_results_alone(model, input_ids, mask, batch, spans)


def test_length_groups_partition_the_rows_and_cut_each_group_to_its_longest_row():
    lengths = torch.tensor([3, 40, 0, 7, 38, 2, 5, 39, 1, 36, 4, 6, 41, 3, 37, 2, 35, 40, 5, 1])
    groups, order = length_groups(lengths)
    assert len(groups) > 1  # the long and the short rows apart
    rows = torch.cat([group_rows for group_rows, _ in groups])
    assert sorted(rows.tolist()) == list(range(len(lengths)))
    assert torch.equal(rows[order], torch.arange(len(lengths)))
    for group_rows, length in groups:
        assert length == max(1, int(lengths[group_rows].max()))
        assert torch.equal(group_rows, group_rows.sort().values)
    assert length_groups(torch.tensor([5, 3, 4])) == ([(None, 5)], None)


def long_and_short_rows():
    """20 rows, long ones (25-30 tokens) among short ones (1-4), padded on either side: several length groups."""
    generator = torch.Generator().manual_seed(0)
    lengths = [1, 2, 30, 3, 28, 2, 1, 29, 4, 27, 3, 2, 30, 1, 26, 2, 25, 3, 1, 2]
    return [
        (torch.randint(1, VOCAB_SIZE, (n,), generator=generator).tolist(), "left" if i % 3 == 0 else "right")
        for i, n in enumerate(lengths)
    ]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_batch_run_in_length_groups_gives_each_row_its_result_alone(cell, bidirectional):
    batch = long_and_short_rows()
    input_ids, mask, spans = pad_batch(batch, extra_padding=2)
    layout = PaddingLayout(mask, mask.size(1), needs_state=False)
    assert layout.runs_aligned and len(layout.groups) > 1
    model = model_for(RNNModel, cell, bidirectional=bidirectional)
    assert_stateless_rows_are_their_results_alone(model, input_ids, mask, batch, spans)


@pytest.mark.parametrize("rows", ["one group", "length groups"])
@pytest.mark.parametrize("pooling", POOLING_TYPES)
def test_padding_does_not_change_a_bidirectional_classifiers_gradients(cell, pooling, rows):
    """Training on the aligned layout: the padded batch's summed loss has the gradients of its rows run alone."""
    if rows == "one group":
        batch = [([5, 6, 7, 8], "right"), ([9, 10], "left"), ([11, 12, 13], "right")]
    else:
        batch = long_and_short_rows()
    labels = torch.arange(len(batch)) % 3
    model = model_for(
        RNNForSequenceClassification, cell, bidirectional=True, num_labels=3, classifier_pooling=pooling
    ).train()
    input_ids, mask, _ = pad_batch(batch, extra_padding=2)

    def gradients(loss):
        model.zero_grad()
        loss.backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    padded = gradients(model(input_ids, attention_mask=mask, labels=labels).loss * len(batch))
    losses = [model(torch.tensor([ids]), labels=labels[i : i + 1]).loss for i, (ids, _) in enumerate(batch)]
    alone = gradients(sum(losses))
    model.eval()
    assert padded.keys() == alone.keys()
    for name in padded:
        torch.testing.assert_close(padded[name], alone[name], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_all_padding_rows_beside_padded_rows_output_zeros_and_keep_their_state(cell, side):
    """Empty rows in every packed layout: zeros out, state untouched; the other rows as if alone."""
    model = model_for(RNNModel, cell)
    input_ids, mask, spans = pad_batch([([5, 6, 7], side), ([8, 9], side), ([4, 4, 4], side)])
    mask[2] = 0
    assert layout_kind(PaddingLayout(mask, mask.size(1))) == ("packed" if side == "right" else "realigned")
    with torch.no_grad():
        first = model(torch.tensor([[1], [2], [3]]), use_cache=True)
        before = [s.clone() for layer in output_state(first).layers for s in layer.recurrent_states.values()]
        padded = model(input_ids, attention_mask=mask, cache=output_state(first))
        assert torch.all(padded.last_hidden_state[2] == 0)
        after = [s for layer in output_state(padded).layers for s in layer.recurrent_states.values()]
        for old, new in zip(before, after):
            torch.testing.assert_close(new[2], old[2], atol=0, rtol=0)
        for row in range(2):
            start = model(torch.tensor([[row + 1]]), use_cache=True)
            alone = model(input_ids[row : row + 1, spans[row]], cache=output_state(start))
            torch.testing.assert_close(padded.last_hidden_state[row, spans[row]], alone.last_hidden_state[0])


def test_a_mask_without_padding_runs_the_plain_tensor():
    mask = torch.ones(3, 5, dtype=torch.long)
    assert layout_kind(PaddingLayout(mask, 5)) == "plain"
    assert layout_kind(PaddingLayout(None, 5)) == "plain"
