"""Plain-PyTorch reference models, the yardstick the benchmarks hold hf_rnn against.

`PlainRNNLM` is PyTorch's `examples/word_language_model/model.py` reduced to what hf_rnn's causal LM computes:
embedding, one multi-layer fused `nn.LSTM`/`nn.GRU`, linear decoder (optionally tied). `PlainPackedClassifier`
is the textbook packed classifier: embedding, bidirectional LSTM over `pack_padded_sequence`, linear layer on
the final states. Both are initialised exactly like hf_rnn (`RNNPreTrainedModel._init_weights`): embedding and
output layer U(-0.1, 0.1) with a zero bias, torch's default U(-1/sqrt(hidden), 1/sqrt(hidden)) for the cell.

`hf_causal_lm_from_plain` and `hf_classifier_from_plain` build the equivalent hf_rnn model carrying the very
same weights, so both sides of a comparison start from one initialisation. hf_rnn runs one single-layer torch
module per layer (`model.model.rnn.layers[k]`), whose `*_l0` parameters are the plain module's `*_l{k}` ones.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification

PLAIN_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
INIT_RANGE = 0.1  # hf_rnn's default `initializer_range`


def init_like_hf_rnn(embedding: nn.Embedding, output_layer: nn.Linear) -> None:
    """U(-0.1, 0.1) embedding and output weights, zero output bias; the cell keeps torch's default init."""
    nn.init.uniform_(embedding.weight, -INIT_RANGE, INIT_RANGE)
    if output_layer.weight is not embedding.weight:
        nn.init.uniform_(output_layer.weight, -INIT_RANGE, INIT_RANGE)
    nn.init.zeros_(output_layer.bias)


class PlainRNNLM(nn.Module):
    """Embedding -> multi-layer `nn.LSTM`/`nn.GRU` (batch first) -> linear decoder; the word-LM example's model."""

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int,
        cell: str = "lstm",
        tie: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if tie and embedding_size != hidden_size:
            raise ValueError(f"tie=True needs embedding_size ({embedding_size}) == hidden_size ({hidden_size}).")
        self.cell, self.tie, self.dropout_p = cell, tie, dropout
        self.vocab_size, self.embedding_size, self.hidden_size, self.num_layers = (
            vocab_size,
            embedding_size,
            hidden_size,
            num_layers,
        )
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, embedding_size)
        self.rnn = PLAIN_CELLS[cell](embedding_size, hidden_size, num_layers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie:
            self.decoder.weight = self.encoder.weight
        init_like_hf_rnn(self.encoder, self.decoder)

    def forward(self, input_ids: torch.Tensor, hidden=None):
        """`input_ids` `(batch, time)` -> logits `(batch, time, vocab)` and the final state (torch's `h_n` layout)."""
        embedded = self.drop(self.encoder(input_ids))
        output, hidden = self.rnn(embedded, hidden)
        return self.decoder(self.drop(output)), hidden


class PlainPackedClassifier(nn.Module):
    """Embedding -> (bi)LSTM/GRU over `pack_padded_sequence` -> linear layer on the top layer's final states."""

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int,
        num_labels: int,
        cell: str = "lstm",
        bidirectional: bool = True,
    ):
        super().__init__()
        self.cell, self.bidirectional = cell, bidirectional
        self.vocab_size, self.embedding_size, self.hidden_size, self.num_layers, self.num_labels = (
            vocab_size,
            embedding_size,
            hidden_size,
            num_layers,
            num_labels,
        )
        self.num_directions = 2 if bidirectional else 1
        self.encoder = nn.Embedding(vocab_size, embedding_size)
        self.rnn = PLAIN_CELLS[cell](
            embedding_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional
        )
        self.classifier = nn.Linear(hidden_size * self.num_directions, num_labels)
        init_like_hf_rnn(self.encoder, self.classifier)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Right-padded `input_ids` `(batch, time)` and `lengths` `(batch,)` -> logits `(batch, num_labels)`."""
        packed = pack_padded_sequence(self.encoder(input_ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.rnn(packed)
        h_n = hidden[0] if isinstance(hidden, tuple) else hidden
        # h_n: (num_layers * num_directions, batch, hidden); the top layer's directions are the last ones.
        final = torch.cat(list(h_n[-self.num_directions :]), dim=-1)
        return self.classifier(final)


@torch.no_grad()
def copy_stacked_rnn(stacked: nn.RNNBase, layers: nn.ModuleList) -> None:
    """Copy a multi-layer torch RNN's `*_l{k}[_reverse]` parameters into single-layer modules' `*_l0[_reverse]`."""
    for index, layer in enumerate(layers):
        for name, parameter in layer.named_parameters():
            source = name.replace("_l0", f"_l{index}")
            parameter.copy_(getattr(stacked, source))


def hf_causal_lm_from_plain(plain: PlainRNNLM) -> RNNForCausalLM:
    """The hf_rnn causal LM that computes what `plain` computes, with a copy of its weights (same device/dtype)."""
    config = RNNConfig(
        vocab_size=plain.vocab_size,
        cell=plain.cell,
        embedding_size=plain.embedding_size,
        hidden_size=plain.hidden_size,
        num_hidden_layers=plain.num_layers,
        layer_dropout=plain.dropout_p,
        embedding_dropout=plain.dropout_p,
        output_dropout=plain.dropout_p,
        tie_word_embeddings=plain.tie,
    )
    parameter = next(plain.parameters())
    model = RNNForCausalLM(config).to(device=parameter.device, dtype=parameter.dtype)
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(plain.encoder.weight)
        if not plain.tie:
            model.lm_head.weight.copy_(plain.decoder.weight)
        model.lm_head.bias.copy_(plain.decoder.bias)
    copy_stacked_rnn(plain.rnn, model.model.rnn.layers)
    return model.train(plain.training)


def hf_classifier_from_plain(plain: PlainPackedClassifier) -> RNNForSequenceClassification:
    """The hf_rnn classifier (`classifier_pooling="last"`) equivalent to `plain`, with a copy of its weights."""
    config = RNNConfig(
        vocab_size=plain.vocab_size,
        cell=plain.cell,
        embedding_size=plain.embedding_size,
        hidden_size=plain.hidden_size,
        num_hidden_layers=plain.num_layers,
        bidirectional=plain.bidirectional,
        num_labels=plain.num_labels,
        classifier_pooling="last",
        tie_word_embeddings=False,
    )
    parameter = next(plain.parameters())
    model = RNNForSequenceClassification(config).to(device=parameter.device, dtype=parameter.dtype)
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(plain.encoder.weight)
        model.score.weight.copy_(plain.classifier.weight)
        model.score.bias.copy_(plain.classifier.bias)
    copy_stacked_rnn(plain.rnn, model.model.rnn.layers)
    return model.train(plain.training)


__all__ = [
    "PlainRNNLM",
    "PlainPackedClassifier",
    "hf_causal_lm_from_plain",
    "hf_classifier_from_plain",
    "copy_stacked_rnn",
]
