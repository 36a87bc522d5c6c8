"""Weights trained elsewhere (plain PyTorch modules, Keras layers) import into hf_rnn models that compute the same."""

import os

import pytest
import torch
from torch import nn

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification
from hf_rnn.weight_import import from_keras, from_torch

VOCAB, EMBED, HIDDEN, LABELS = 30, 10, 12, 3
IDS = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]])


def torch_rnn(cell: str, **kwargs) -> nn.RNNBase:
    if cell == "lstm":
        return nn.LSTM(EMBED, HIDDEN, batch_first=True, **kwargs)
    if cell == "gru":
        return nn.GRU(EMBED, HIDDEN, batch_first=True, **kwargs)
    return nn.RNN(EMBED, HIDDEN, batch_first=True, nonlinearity=cell.removeprefix("rnn_"), **kwargs)


@pytest.mark.parametrize("layers", [1, 3])
def test_torch_language_model_imports_with_the_same_logits(cell, layers):
    torch.manual_seed(0)
    embedding, rnn, decoder = nn.Embedding(VOCAB, EMBED), torch_rnn(cell, num_layers=layers), nn.Linear(HIDDEN, VOCAB)
    with torch.no_grad():
        expected = decoder(rnn(embedding(IDS))[0])
        model = from_torch(embedding, rnn, decoder, RNNForCausalLM)
        torch.testing.assert_close(model(IDS).logits, expected, atol=1e-5, rtol=0)


def test_torch_lstm_with_projections_and_tied_decoder_imports():
    torch.manual_seed(0)
    embedding, rnn = nn.Embedding(VOCAB, 6), nn.LSTM(6, HIDDEN, num_layers=2, proj_size=6, batch_first=True)
    decoder = nn.Linear(6, VOCAB)
    decoder.weight = embedding.weight  # tied, as word_language_model's --tied
    with torch.no_grad():
        expected = decoder(rnn(embedding(IDS))[0])
        model = from_torch(embedding, rnn, decoder, RNNForCausalLM)
        assert model.config.tie_word_embeddings and model.config.proj_size == 6
        torch.testing.assert_close(model(IDS).logits, expected, atol=1e-5, rtol=0)


def test_torch_bidirectional_tagger_imports_with_the_same_logits(cell):
    torch.manual_seed(0)
    embedding, rnn = nn.Embedding(VOCAB, EMBED), torch_rnn(cell, num_layers=2, bidirectional=True)
    classifier = nn.Linear(2 * HIDDEN, LABELS)
    with torch.no_grad():
        expected = classifier(rnn(embedding(IDS))[0])
        model = from_torch(embedding, rnn, classifier, RNNForTokenClassification)
        torch.testing.assert_close(model(IDS).logits, expected, atol=1e-5, rtol=0)


def test_torch_classifier_on_the_final_states_imports_with_the_same_logits():
    torch.manual_seed(0)
    embedding, rnn, score = nn.Embedding(VOCAB, EMBED), torch_rnn("gru", bidirectional=True), nn.Linear(2 * HIDDEN, 2)
    with torch.no_grad():
        h_n = rnn(embedding(IDS))[1]  # (directions, batch, hidden): each direction's final state
        expected = score(torch.cat([h_n[0], h_n[1]], dim=-1))
        model = from_torch(embedding, rnn, score, RNNForSequenceClassification, classifier_pooling="last")
        torch.testing.assert_close(model(IDS).logits, expected, atol=1e-5, rtol=0)


def test_torch_import_refuses_what_hf_rnn_cannot_compute():
    with pytest.raises(ValueError, match="bias=False"):
        from_torch(nn.Embedding(VOCAB, EMBED), nn.LSTM(EMBED, HIDDEN, bias=False), nn.Linear(HIDDEN, VOCAB))
    with pytest.raises(ValueError, match="head="):
        from_torch(nn.Embedding(VOCAB, EMBED), nn.LSTM(EMBED, HIDDEN), None, RNNForSequenceClassification)


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


KERAS_CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "SimpleRNN", "rnn_relu": "SimpleRNN"}


def keras_recurrent(keras, cell: str, **kwargs):
    layer_class = getattr(keras.layers, KERAS_CELLS[cell])
    if cell.startswith("rnn_"):
        kwargs["activation"] = cell.removeprefix("rnn_")
    return layer_class(HIDDEN, **kwargs)


def keras_predict(model, ids: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(model.predict(ids.numpy(), verbose=0)).float()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_keras_sentiment_classifier_imports_with_the_same_probabilities(keras, cell, bidirectional):
    """The classic Keras recipe: Embedding -> (Bi)LSTM -> Dense(1, sigmoid); also with GRU and SimpleRNN."""
    keras.utils.set_random_seed(0)
    recurrent = keras_recurrent(keras, cell)
    layers = [keras.Input((IDS.shape[1],), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED)]
    layers += [keras.layers.Bidirectional(recurrent) if bidirectional else recurrent]
    source = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
    expected = keras_predict(source, IDS)[:, 0]
    model = from_keras(source, RNNForSequenceClassification)
    with torch.no_grad():
        probabilities = model(IDS).logits.softmax(-1)[:, 1]
    torch.testing.assert_close(probabilities, expected, atol=1e-5, rtol=0)


def test_keras_stacked_tagger_imports_with_the_same_probabilities(keras, cell):
    keras.utils.set_random_seed(0)
    source = keras.Sequential([
        keras.Input((IDS.shape[1],), dtype="int32"),
        keras.layers.Embedding(VOCAB, EMBED),
        keras.layers.Bidirectional(keras_recurrent(keras, cell, return_sequences=True)),
        keras.layers.Dropout(0.5),
        keras.layers.Bidirectional(keras_recurrent(keras, cell, return_sequences=True)),
        keras.layers.Dense(LABELS, activation="softmax"),
    ])  # fmt: skip
    expected = keras_predict(source, IDS)
    model = from_keras(source, RNNForTokenClassification)
    with torch.no_grad():
        torch.testing.assert_close(model(IDS).logits.softmax(-1), expected, atol=1e-5, rtol=0)


def test_keras_gru_without_reset_after_is_refused(keras):
    source = keras.Sequential([
        keras.Input((4,), dtype="int32"),
        keras.layers.Embedding(VOCAB, EMBED),
        keras.layers.GRU(HIDDEN, reset_after=False),
        keras.layers.Dense(2),
    ])  # fmt: skip
    with pytest.raises(ValueError, match="reset_after"):
        from_keras(source)
