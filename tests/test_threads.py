"""train.py's thread default: one torch thread for a small model on the CPU, unless the environment says otherwise."""

import pytest
import torch
from helpers import tiny_config

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.training import apply_default_torch_threads, default_torch_threads
from hf_rnn.training.threads import SMALL_MODEL_PARAMETERS, compute_parameters


def sst2_classifier(hidden_size: int = 128) -> RNNForSequenceClassification:
    """The SST-2 benchmark's shape: a 20,000-word embedding, one unidirectional LSTM layer, two labels."""
    config = RNNConfig(vocab_size=20_000, hidden_size=hidden_size, num_hidden_layers=1, num_labels=2)
    return RNNForSequenceClassification(config)


def test_compute_parameters_leave_out_the_input_embedding():
    model = sst2_classifier()
    embedding = model.get_input_embeddings().weight.numel()
    assert compute_parameters(model) == model.num_parameters() - embedding
    assert compute_parameters(model) == 4 * 128 * (128 + 128) + 8 * 128 + 2 * 128 + 2  # LSTM and classifier


def test_compute_parameters_count_a_tied_output_layer_once():
    model = RNNForCausalLM(tiny_config(num_hidden_layers=1))
    assert model.lm_head.weight is model.get_input_embeddings().weight
    # named_parameters names the shared matrix once, as the embedding's
    untied = sum(p.numel() for name, p in model.named_parameters() if "embed_tokens" not in name)
    assert compute_parameters(model) == untied + model.lm_head.weight.numel()


def test_a_small_model_on_the_cpu_gets_one_thread():
    assert default_torch_threads(sst2_classifier(), "cpu", environ={}) == 1


@pytest.mark.parametrize("variable", ["OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_the_environment_wins(variable):
    assert default_torch_threads(sst2_classifier(), "cpu", environ={variable: "2"}) is None


def test_a_larger_model_keeps_torchs_default():
    model = sst2_classifier(hidden_size=512)  # the width of the translation and character-LM benchmarks
    assert compute_parameters(model) >= SMALL_MODEL_PARAMETERS
    assert default_torch_threads(model, "cpu", environ={}) is None


def test_a_gpu_run_keeps_torchs_default():
    assert default_torch_threads(sst2_classifier(), "cuda", environ={}) is None


def test_apply_sets_the_default(monkeypatch):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert apply_default_torch_threads(sst2_classifier(), "cpu") == 1
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert apply_default_torch_threads(sst2_classifier(), "cpu") is None
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
