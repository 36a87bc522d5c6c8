"""save_pretrained / from_pretrained round trips give identical outputs; tied weights stay tied and stored once."""

import pytest
import torch
from helpers import seeded, tiny_config
from safetensors import safe_open
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from hf_rnn import (
    RNNConfig,
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
)

INPUT_IDS = torch.tensor([[0, 0, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]])
MASK = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])


def outputs(model):
    with torch.no_grad():
        out = model(INPUT_IDS, attention_mask=MASK)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def without_path(config):
    return {key: value for key, value in config.to_dict().items() if key != "_name_or_path"}


def stored_keys(folder):
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return set(f.keys())


@pytest.mark.parametrize(
    ("head", "overrides"),
    [
        (RNNForCausalLM, {}),
        (RNNForSequenceClassification, {"bidirectional": True, "num_labels": 3}),
        (RNNForTokenClassification, {"bidirectional": True, "num_labels": 4}),
        (RNNModel, {}),
    ],
)
def test_save_load_reload_give_identical_outputs(head, overrides, cell, tmp_path):
    assert_round_trips_are_identical(seeded(head, tiny_config(cell, **overrides)), tmp_path)


def test_projected_lstm_save_load_reload_give_identical_outputs(tmp_path):
    assert_round_trips_are_identical(seeded(RNNForCausalLM, tiny_config("lstm", proj_size=5)), tmp_path)


def assert_round_trips_are_identical(model, tmp_path):
    head = type(model)
    expected = outputs(model)
    model.save_pretrained(tmp_path / "first")
    loaded = head.from_pretrained(tmp_path / "first").eval()
    torch.testing.assert_close(outputs(loaded), expected, atol=0, rtol=0)
    loaded.save_pretrained(tmp_path / "second")
    reloaded = head.from_pretrained(tmp_path / "second").eval()
    torch.testing.assert_close(outputs(reloaded), expected, atol=0, rtol=0)
    assert without_path(loaded.config) == without_path(reloaded.config)


def test_auto_classes_load_the_registered_heads(tmp_path):
    seeded(RNNForCausalLM, tiny_config()).save_pretrained(tmp_path / "lm")
    config = AutoConfig.from_pretrained(tmp_path / "lm")
    assert isinstance(config, RNNConfig)
    assert type(AutoModelForCausalLM.from_pretrained(tmp_path / "lm")) is RNNForCausalLM
    assert type(AutoModel.from_config(config)) is RNNModel
    assert type(AutoModelForSequenceClassification.from_config(config)) is RNNForSequenceClassification


def test_tied_weights_are_one_tensor_stored_once(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    assert model.lm_head.weight is model.model.embed_tokens.weight
    model.save_pretrained(tmp_path)
    keys = stored_keys(tmp_path)
    assert ("lm_head.weight" in keys) != ("model.embed_tokens.weight" in keys)
    loaded = RNNForCausalLM.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight


def test_tied_weights_stay_tied_through_training(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config()).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model(INPUT_IDS, labels=INPUT_IDS).loss.backward()
    optimizer.step()
    assert model.lm_head.weight is model.model.embed_tokens.weight
    model.save_pretrained(tmp_path)
    loaded = RNNForCausalLM.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.lm_head.weight, model.model.embed_tokens.weight, atol=0, rtol=0)


def test_untied_model_stores_both_matrices(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config(tie_word_embeddings=False))
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    model.save_pretrained(tmp_path)
    assert {"lm_head.weight", "model.embed_tokens.weight"} <= stored_keys(tmp_path)
    loaded = RNNForCausalLM.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.lm_head.weight, model.lm_head.weight, atol=0, rtol=0)


def test_language_model_checkpoint_initialises_a_classifier_body(tmp_path):
    """All heads share `base_model_prefix`, so a pretrained LM body transfers to a classifier."""
    lm = seeded(RNNForCausalLM, tiny_config())
    lm.save_pretrained(tmp_path)
    classifier = RNNForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    for name, tensor in lm.model.state_dict().items():
        torch.testing.assert_close(classifier.model.state_dict()[name], tensor, atol=0, rtol=0)


def test_from_pretrained_does_not_reinitialise_loaded_recurrent_weights(tmp_path, cell):
    model = seeded(RNNModel, tiny_config(cell), seed=7)
    model.save_pretrained(tmp_path)
    torch.manual_seed(99)  # a different seed must not leak into loaded weights
    loaded = RNNModel.from_pretrained(tmp_path)
    for (name, expected), actual in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(actual, expected), name
