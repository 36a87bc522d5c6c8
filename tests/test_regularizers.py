"""AWD-LSTM regularizers (word and locked dropout, weight drop, AR, TAR): on in training only, off by default."""

import pytest
import torch
from helpers import VOCAB_SIZE, seeded, tiny_config
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from hf_rnn import CELL_TYPES, RNNConfig, RNNForCausalLM, RNNModel

# Left and right padding, and a hole: consecutive real tokens are neighbours for the recurrence (and for TAR).
INPUT_IDS = torch.tensor([[4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15], [16, 17, 0, 18, 19, 0], [0, 0, 0, 20, 21, 22]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1]])
LABELS = INPUT_IDS.masked_fill(MASK == 0, -100)

DROPOUTS = {
    "word_dropout": {"word_dropout": 0.5},
    "locked_dropout": {"locked_dropout": True, "embedding_dropout": 0.3, "layer_dropout": 0.3, "output_dropout": 0.3},
    "weight_drop": {"weight_drop": 0.5},
}
ALL_ON = {
    "word_dropout": 0.3,
    "locked_dropout": True,
    "embedding_dropout": 0.2,
    "layer_dropout": 0.2,
    "output_dropout": 0.2,
    "weight_drop": 0.4,
    "activation_regularization": 2.0,
    "temporal_activation_regularization": 1.5,
}
ALL_OFF = {
    "word_dropout": 0.0,
    "locked_dropout": False,
    "weight_drop": 0.0,
    "activation_regularization": 0.0,
    "temporal_activation_regularization": 0.0,
}
FUSED_OPS = {"lstm": "aten::lstm", "gru": "aten::gru", "rnn_tanh": "aten::rnn_tanh", "rnn_relu": "aten::rnn_relu"}


def twins(cell="lstm", head=RNNForCausalLM, base=None, **regularizers):
    """A plain model (`base` config values only) and a regularized one with the same weights."""
    base = base or {}
    plain = seeded(head, tiny_config(cell, **base))
    regularized = head(tiny_config(cell, **base, **regularizers)).eval()
    regularized.load_state_dict(plain.state_dict())
    return plain, regularized


def training_forward(model, seed, **inputs):
    model.train()
    torch.manual_seed(seed)
    return model(**inputs)


@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize("name", DROPOUTS)
def test_each_dropout_regularizer_is_random_in_training_and_changes_the_output(name, cell):
    plain, regularized = twins(cell, **DROPOUTS[name])
    inputs = {"input_ids": INPUT_IDS, "attention_mask": MASK}
    first = training_forward(regularized, 1, **inputs).logits
    again = training_forward(regularized, 1, **inputs).logits
    other = training_forward(regularized, 2, **inputs).logits
    reference = training_forward(plain, 1, **inputs).logits
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert not torch.allclose(first, other)
    assert not torch.allclose(first, reference)


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_regularizers_are_off_in_eval(cell):
    plain, regularized = twins(cell, **ALL_ON)
    with torch.no_grad():
        expected = plain(INPUT_IDS, attention_mask=MASK, labels=LABELS)
        first = regularized(INPUT_IDS, attention_mask=MASK, labels=LABELS)
        second = regularized(INPUT_IDS, attention_mask=MASK, labels=LABELS)
    for output in (first, second):
        torch.testing.assert_close(output.logits, expected.logits, atol=0, rtol=0)
        torch.testing.assert_close(output.loss, expected.loss, atol=0, rtol=0)


def manual_plain_forward(model, input_ids, dropout):
    """The textbook RNN LM on the model's own modules: embedding, dropout, layers, dropout, decoder."""
    hidden = F.dropout(model.model.embed_tokens(input_ids), dropout["embedding_dropout"])
    for index, layer in enumerate(model.model.rnn.layers):
        if index > 0:
            hidden = F.dropout(hidden, dropout["layer_dropout"])
        hidden, _ = layer(hidden)
    return model.lm_head(F.dropout(hidden, dropout["output_dropout"]))


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_defaults_are_the_plain_model(cell):
    dropout = {"embedding_dropout": 0.2, "layer_dropout": 0.3, "output_dropout": 0.4}
    default = seeded(RNNForCausalLM, tiny_config(cell, **dropout))
    explicit = seeded(RNNForCausalLM, tiny_config(cell, **dropout, **ALL_OFF))
    for name, value in ALL_OFF.items():
        assert getattr(default.config, name) == value
    inputs = {"input_ids": INPUT_IDS, "attention_mask": MASK, "labels": LABELS}
    with torch.no_grad():
        for a, b in (
            (default(**inputs), explicit(**inputs)),
            (training_forward(default, 5, **inputs), training_forward(explicit, 5, **inputs)),
        ):
            torch.testing.assert_close(a.logits, b.logits, atol=0, rtol=0)
            torch.testing.assert_close(a.loss, b.loss, atol=0, rtol=0)
        # Same random draws as plain nn.Dropout in the textbook model (no padding: no packing either).
        trained = training_forward(default, 7, input_ids=INPUT_IDS[:2]).logits
        default.train()
        torch.manual_seed(7)
        textbook = manual_plain_forward(default, INPUT_IDS[:2], dropout)
    torch.testing.assert_close(trained, textbook, atol=0, rtol=0)


def lm_head_inputs(model):
    """Collects what the LM head receives: the top layer's outputs after output dropout."""
    captured = []
    model.lm_head.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    return captured


def expected_ar(dropped, mask):
    return dropped[mask.bool()].pow(2).mean()


def expected_tar(top, mask):
    steps = [top[row][mask[row].bool()] for row in range(top.size(0))]
    return torch.cat([(h[1:] - h[:-1]).pow(2) for h in steps]).mean()


@pytest.mark.parametrize("cell", CELL_TYPES)
@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 0.0), (0.0, 3.0), (2.0, 3.0)])
def test_ar_and_tar_add_exactly_their_term_to_the_training_loss(cell, alpha, beta):
    base = {"output_dropout": 0.4, "layer_dropout": 0.2}
    plain, regularized = twins(
        cell, base=base, activation_regularization=alpha, temporal_activation_regularization=beta
    )
    dropped = lm_head_inputs(regularized)
    inputs = {"input_ids": INPUT_IDS, "attention_mask": MASK, "labels": LABELS, "output_hidden_states": True}
    output = training_forward(regularized, 3, **inputs)
    reference = training_forward(plain, 3, **inputs)
    torch.testing.assert_close(output.logits, reference.logits, atol=0, rtol=0)
    top = output.hidden_states[-1]
    expected = alpha * expected_ar(dropped[0], MASK) + beta * expected_tar(top, MASK)
    assert expected > 0
    torch.testing.assert_close(output.loss - reference.loss, expected)


def test_ar_and_tar_are_divided_by_num_items_in_batch_like_the_loss():
    """Gradient accumulation: summed over tokens and divided by Trainer's item count, as the LM loss is."""
    alpha, beta, num_items = 2.0, 3.0, torch.tensor(40)
    plain, regularized = twins(activation_regularization=alpha, temporal_activation_regularization=beta)
    inputs = {"input_ids": INPUT_IDS, "attention_mask": MASK, "labels": LABELS, "num_items_in_batch": num_items}
    output = training_forward(regularized, 0, output_hidden_states=True, **inputs)
    reference = training_forward(plain, 0, **inputs)
    top = output.hidden_states[-1]
    real_tokens, pairs = int(MASK.sum()), int(MASK.sum()) - MASK.size(0)
    expected = (alpha * expected_ar(top, MASK) * real_tokens + beta * expected_tar(top, MASK) * pairs) / num_items
    torch.testing.assert_close(output.loss - reference.loss, expected)


def test_ar_and_tar_need_labels_and_training():
    plain, regularized = twins(activation_regularization=2.0, temporal_activation_regularization=3.0)
    assert training_forward(regularized, 0, input_ids=INPUT_IDS).loss is None
    with torch.no_grad():
        plain.eval(), regularized.eval()
        torch.testing.assert_close(
            regularized(INPUT_IDS, labels=INPUT_IDS).loss, plain(INPUT_IDS, labels=INPUT_IDS).loss, atol=0, rtol=0
        )


def test_word_dropout_drops_a_word_type_everywhere_and_scales_the_rest():
    p = 0.5
    model = RNNModel(tiny_config(word_dropout=p))
    input_ids = torch.tensor([[5, 6, 5, 7, 5], [6, 5, 8, 8, 9]])
    embedded = training_forward(model, 0, input_ids=input_ids, output_hidden_states=True).hidden_states[0]
    scale = embedded / model.embed_tokens(input_ids)  # (batch, time, features): one value per word type
    assert torch.all(scale == scale[..., :1])
    for word in input_ids.unique():
        values = scale[input_ids == word][:, 0]
        assert torch.all(values == values[0])
        assert values[0].item() in (0.0, 1 / (1 - p))  # exact: 1 / (1 - 0.5) is a power of two
    assert sorted(scale[..., 0].unique().tolist()) == [0.0, 1 / (1 - p)]


def capture_layer_inputs(model):
    """The inputs of the layers above the first: what the dropout between layers returns."""
    captured = []
    model.model.rnn.layer_dropout.register_forward_hook(lambda module, args, output: captured.append(output))
    return captured


@pytest.mark.parametrize("layout", ["plain-tensor", "aligned", "packed"])
def test_locked_dropout_shares_one_mask_per_sequence_across_time(layout):
    """
    Embedding, layer and output dropout: a feature is dropped at every time step of a row or at none, on each layer
    input layout: no padding, padding run as a padded tensor (no state asked for), packed (a state asked for).
    """
    padded = layout != "plain-tensor"
    p = 0.5
    plain, regularized = twins(
        "gru", base={"embedding_dropout": p, "layer_dropout": p, "output_dropout": p}, locked_dropout=True
    )
    input_ids = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 12, 13], [14, 15, 16, 17, 18]])
    # Right padding only, so that the packed layer input unpacks to the input's positions.
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]) if padded else None
    layer_inputs, head_inputs = capture_layer_inputs(regularized), lm_head_inputs(regularized)
    output = training_forward(
        regularized, 0, input_ids=input_ids, attention_mask=mask, output_hidden_states=True,
        use_cache=layout == "packed",
    )
    layer_input = layer_inputs[0]
    assert isinstance(layer_input, PackedSequence) == (layout == "packed")
    if layout == "packed":
        layer_input, _ = pad_packed_sequence(layer_input, batch_first=True, total_length=input_ids.size(1))
    real = torch.ones_like(input_ids, dtype=torch.bool) if mask is None else mask.bool()
    undropped = (plain.model.embed_tokens(input_ids), output.hidden_states[1], output.hidden_states[-1])
    for dropped, before in zip((output.hidden_states[0], layer_input, head_inputs[0]), undropped):
        for row in range(input_ids.size(0)):
            steps, reference = dropped[row][real[row]], before[row][real[row]]
            kept = steps != 0
            assert torch.all(kept == kept[:1]), "the mask changes across time steps"
            assert kept.any() and not kept.all()
            torch.testing.assert_close(steps[kept], reference[kept] / (1 - p))
        first_steps = dropped[:, 0] != 0
        assert not torch.all(first_steps == first_steps[:1]), "every sequence got the same mask"


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_weight_drop_keeps_parameter_names_and_fused_kernel_and_trains_raw_weights(cell):
    plain, regularized = twins(cell, weight_drop=0.5)
    assert list(regularized.state_dict()) == list(plain.state_dict())
    parameters = dict(regularized.named_parameters())
    regularized.train()
    with torch.profiler.profile() as profile:
        loss = regularized(INPUT_IDS, attention_mask=MASK, labels=LABELS).loss
    fused_calls = [event for event in profile.events() if event.name == FUSED_OPS[cell]]
    assert len(fused_calls) == regularized.config.num_hidden_layers
    loss.backward()
    for layer in regularized.model.rnn.layers:
        assert layer.weight_hh_l0.grad is not None and layer.weight_hh_l0.grad.abs().sum() > 0
    # The raw parameters are back in place: same objects, and eval runs on them.
    assert all(parameters[name] is parameter for name, parameter in regularized.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(
            regularized.eval()(INPUT_IDS, attention_mask=MASK).logits,
            plain(INPUT_IDS, attention_mask=MASK).logits,
            atol=0,
            rtol=0,
        )


def test_weight_drop_drops_both_directions_of_a_bidirectional_layer():
    plain, regularized = twins(
        "lstm", head=RNNModel, base={"bidirectional": True, "num_hidden_layers": 1}, weight_drop=0.5
    )
    half = regularized.config.hidden_size
    dropped = training_forward(regularized, 0, input_ids=INPUT_IDS).last_hidden_state
    reference = training_forward(plain, 0, input_ids=INPUT_IDS).last_hidden_state
    assert not torch.allclose(dropped[..., :half], reference[..., :half])
    assert not torch.allclose(dropped[..., half:], reference[..., half:])


def test_weight_drop_survives_save_and_load(tmp_path):
    plain, regularized = twins("lstm", **ALL_ON)
    regularized.save_pretrained(tmp_path)
    reloaded = RNNForCausalLM.from_pretrained(tmp_path)
    for name, value in ALL_ON.items():
        assert getattr(reloaded.config, name) == value
    reloaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded(INPUT_IDS, attention_mask=MASK).logits,
            plain(INPUT_IDS, attention_mask=MASK).logits,
            atol=0,
            rtol=0,
        )
        inputs = {"input_ids": INPUT_IDS, "attention_mask": MASK, "labels": LABELS}
        trained = training_forward(reloaded, 1, **inputs)
        torch.testing.assert_close(trained.logits, training_forward(regularized, 1, **inputs).logits)
        assert not torch.allclose(trained.logits, training_forward(reloaded, 2, **inputs).logits)
        assert not torch.allclose(trained.logits, training_forward(plain, 1, **inputs).logits)


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_padding_does_not_change_results_with_regularizers_on(cell):
    _, model = twins(cell, **ALL_ON)
    with torch.no_grad():
        padded = model(INPUT_IDS, attention_mask=MASK).logits
        for row in range(INPUT_IDS.size(0)):
            real = MASK[row].bool()
            alone = model(INPUT_IDS[row][real][None]).logits[0]
            torch.testing.assert_close(padded[row][real], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", CELL_TYPES)
def test_padding_does_not_change_training_logits_or_loss_under_a_fixed_seed(cell):
    """Locked masks are drawn per sequence, so a padded batch gets the same masks as an unpadded one."""
    _, model = twins(cell, **ALL_ON)
    unpadded = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 12, 13]])
    padded = torch.tensor([[0, 0, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 0, 0]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]])
    # Padding's logits are never scored: the left-padded row's first token has no prediction, as unpadded.
    labels = padded.masked_fill(mask == 0, -100)
    labels[0, 2] = -100
    expected = training_forward(model, 4, input_ids=unpadded, labels=unpadded)
    output = training_forward(model, 4, input_ids=padded, attention_mask=mask, labels=labels)
    torch.testing.assert_close(output.logits[mask.bool()], expected.logits.flatten(0, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(output.loss, expected.loss, atol=1e-5, rtol=0)


INVALID = [
    ("word_dropout", {"word_dropout": 1.0}),
    ("word_dropout", {"word_dropout": "0.1"}),
    ("weight_drop", {"weight_drop": -0.1}),
    ("weight_drop", {"weight_drop": True}),
    ("locked_dropout", {"locked_dropout": 1}),
    ("activation_regularization", {"activation_regularization": -1.0}),
    ("activation_regularization", {"activation_regularization": True}),
    ("temporal_activation_regularization", {"temporal_activation_regularization": float("nan")}),
    ("temporal_activation_regularization", {"temporal_activation_regularization": float("inf")}),
]


@pytest.mark.parametrize(("field", "values"), INVALID, ids=[f"{f}-{v}" for f, v in INVALID])
def test_invalid_regularizer_value_raises_value_error_naming_the_field_and_range(field, values):
    with pytest.raises(ValueError, match=rf"^{field}=.*(\[0, 1\)|True or False|>= 0)"):
        RNNConfig(vocab_size=VOCAB_SIZE, **values)
