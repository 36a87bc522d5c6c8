"""Every invalid config value or combination is a ValueError naming the field; bad inputs fail clearly."""

import pytest
import torch
from helpers import seeded, tiny_config
from transformers import AutoConfig

from hf_rnn import RNNConfig, RNNForCausalLM, RNNModel

INVALID = [
    ("cell", {"cell": "transformer"}),
    ("cell", {"cell": "LSTM"}),
    ("vocab_size", {"vocab_size": 0}),
    ("hidden_size", {"hidden_size": -4}),
    ("hidden_size", {"hidden_size": 2.5}),
    ("num_hidden_layers", {"num_hidden_layers": 0}),
    ("num_hidden_layers", {"num_layers": 0}),
    ("embedding_size", {"embedding_size": 0}),
    ("proj_size", {"proj_size": -1}),
    ("proj_size", {"proj_size": 4, "cell": "gru"}),
    ("proj_size", {"proj_size": 12, "hidden_size": 12}),
    ("embedding_dropout", {"embedding_dropout": -0.1}),
    ("layer_dropout", {"layer_dropout": 1.0}),
    ("output_dropout", {"output_dropout": "0.5"}),
    ("classifier_pooling", {"classifier_pooling": "attention"}),
    ("bidirectional", {"bidirectional": "yes"}),
    ("initializer_range", {"initializer_range": 0.0}),
    ("pad_token_id", {"pad_token_id": 100, "vocab_size": 50}),
    ("bos_token_id", {"bos_token_id": -1}),
    ("eos_token_id", {"eos_token_id": [3, 99], "vocab_size": 50}),
]


@pytest.mark.parametrize(("field", "values"), INVALID, ids=[f"{f}-{v}" for f, v in INVALID])
def test_invalid_config_value_raises_value_error_naming_the_field(field, values):
    with pytest.raises(ValueError, match=field):
        RNNConfig(**values)


def test_error_lists_the_allowed_cells():
    with pytest.raises(ValueError) as error:
        RNNConfig(cell="lstmm")
    for allowed in ("'lstm'", "'gru'", "'rnn_tanh'", "'rnn_relu'"):
        assert allowed in str(error.value)


def test_invalid_value_set_after_construction_is_caught_at_save_time(tmp_path):
    config = RNNConfig()
    config.layer_dropout = 2.0
    with pytest.raises(ValueError, match="layer_dropout"):
        config.save_pretrained(tmp_path)


def test_bidirectional_causal_lm_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="bidirectional"):
        RNNForCausalLM(tiny_config(bidirectional=True))


def test_tied_embeddings_with_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="tie_word_embeddings.*embedding_size"):
        RNNForCausalLM(tiny_config(embedding_size=7))
    assert RNNForCausalLM(tiny_config(embedding_size=7, tie_word_embeddings=False)).lm_head.in_features == 12


def test_embedding_size_defaults_to_the_stack_output_so_tying_works():
    assert RNNConfig(hidden_size=64).embedding_size == 64
    assert RNNConfig(hidden_size=64, proj_size=16).embedding_size == 16


def test_num_layers_is_an_alias_of_num_hidden_layers():
    config = RNNConfig(num_layers=3)
    assert config.num_hidden_layers == config.num_layers == 3


def test_config_round_trips_through_auto_config(tmp_path):
    config = RNNConfig(cell="gru", hidden_size=33, num_hidden_layers=3, bidirectional=True, layer_dropout=0.25)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, RNNConfig)

    def fields(c):
        return {key: value for key, value in c.to_dict().items() if key != "_name_or_path"}

    assert fields(loaded) == fields(config)


@pytest.mark.parametrize("bad_id", [-1, 37, 1000])
def test_input_ids_outside_the_vocabulary_raise_a_clear_error(bad_id):
    model = seeded(RNNModel, tiny_config())
    with pytest.raises(ValueError, match=rf"input_ids contains {bad_id}.*vocab_size=37"):
        model(torch.tensor([[1, 2, bad_id]]))


def test_mismatched_attention_mask_raises_naming_it():
    model = seeded(RNNModel, tiny_config())
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(2, 3))


def test_both_or_neither_of_input_ids_and_inputs_embeds_is_an_error():
    model = seeded(RNNModel, tiny_config())
    with pytest.raises(ValueError, match="input_ids or inputs_embeds"):
        model()
    with pytest.raises(ValueError, match="input_ids or inputs_embeds"):
        model(torch.tensor([[1]]), inputs_embeds=torch.zeros(1, 1, 12))
