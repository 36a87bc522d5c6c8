"""Build hf_rnn models from weights trained elsewhere: plain PyTorch modules, or a Keras model.

    model = from_torch(embedding, lstm, decoder, RNNForCausalLM)   # PyTorch's word_language_model, say
    model = from_keras(keras_model, RNNForSequenceClassification)   # Embedding -> LSTM -> Dense

Both return an hf_rnn model whose outputs are the source model's (logits; for a Keras `Dense` with a softmax or
sigmoid, logits whose softmax is the Keras output), ready for `save_pretrained`, `generate()` and the Hub.
hf_rnn runs one fused torch module per layer, so a source layer `k` (`weight_ih_l{k}`) becomes layer `k` of the
stack (`weight_ih_l0`). Anything the fused torch kernels cannot compute (a Keras GRU with `reset_after=False`, a
cell without biases in torch, a custom activation) is refused with the reason, rather than imported approximately.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_rnn import RNNConfig
from .modeling_rnn import (
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNPreTrainedModel,
)

# Where each head keeps its output layer.
HEAD_LAYERS = {
    RNNForCausalLM: "lm_head",
    RNNForSequenceClassification: "score",
    RNNForTokenClassification: "classifier",
    RNNModel: None,
}


def torch_cell_name(rnn: nn.RNNBase) -> str:
    if isinstance(rnn, nn.LSTM):
        return "lstm"
    if isinstance(rnn, nn.GRU):
        return "gru"
    if isinstance(rnn, nn.RNN):
        return f"rnn_{rnn.nonlinearity}"
    raise TypeError(f"rnn must be an nn.LSTM, nn.GRU or nn.RNN; got {type(rnn).__name__}.")


def build_model(head_class: type, head: nn.Linear | None, **config_fields) -> RNNPreTrainedModel:
    if head_class not in HEAD_LAYERS:
        raise ValueError(f"head_class must be one of {', '.join(c.__name__ for c in HEAD_LAYERS)}; got {head_class}.")
    if HEAD_LAYERS[head_class] is not None and head is None:
        raise ValueError(f"{head_class.__name__} needs its output layer: pass head= (an nn.Linear or Keras Dense).")
    if head_class is not RNNForCausalLM:
        config_fields["tie_word_embeddings"] = False
    if head is not None and head_class is not RNNForCausalLM:
        config_fields.setdefault("num_labels", head.out_features)
    return head_class(RNNConfig(**config_fields)).eval()


@torch.no_grad()
def copy_layers(model: RNNPreTrainedModel, source_parameters: dict[str, torch.Tensor], num_layers: int) -> None:
    """Copy `{weight_ih_l{k}[_reverse]: tensor, ...}` (torch's multi-layer names) into the stack's layers."""
    stack = model.model.rnn if not isinstance(model, RNNModel) else model.rnn
    for k in range(num_layers):
        layer = stack.layers[k]
        for name, parameter in layer.named_parameters():
            source_name = name.replace("_l0", f"_l{k}")
            if source_name not in source_parameters:
                raise ValueError(f"the source has no {source_name} for layer {k} ({name} of hf_rnn's layer).")
            source = source_parameters[source_name]
            if source.shape != parameter.shape:
                expected = tuple(parameter.shape)
                raise ValueError(f"{source_name} has shape {tuple(source.shape)}; hf_rnn expects {expected}.")
            parameter.copy_(source)


@torch.no_grad()
def from_torch(
    embedding: nn.Embedding,
    rnn: nn.LSTM | nn.GRU | nn.RNN,
    head: nn.Linear | None = None,
    head_class: type = RNNForCausalLM,
    **config_fields,
) -> RNNPreTrainedModel:
    """
    An hf_rnn model computing `head(rnn(embedding(input_ids)))` with the given modules' weights.

    Args:
        embedding: `nn.Embedding(vocab_size, embedding_size)`.
        rnn: a (multi-layer, optionally bidirectional) `nn.LSTM` (projections included), `nn.GRU` or `nn.RNN`, with
            biases; its `dropout` becomes `layer_dropout`.
        head: the output `nn.Linear` (vocabulary for the LM, labels for the classifiers); None for `RNNModel`.
            For the LM, a head whose weight *is* the embedding's means tied embeddings.
        head_class: `RNNForCausalLM`, `RNNForSequenceClassification`, `RNNForTokenClassification` or `RNNModel`.
        config_fields: any other `RNNConfig` field (`classifier_pooling`, `pad_token_id`, `id2label`, ...).
    """
    if not rnn.bias:
        raise ValueError("rnn has bias=False; hf_rnn's layers always have biases (import it with zero biases).")
    fields = {
        "vocab_size": embedding.num_embeddings,
        "embedding_size": embedding.embedding_dim,
        "cell": torch_cell_name(rnn),
        "hidden_size": rnn.hidden_size,
        "num_hidden_layers": rnn.num_layers,
        "bidirectional": rnn.bidirectional,
        "proj_size": getattr(rnn, "proj_size", 0),
        "layer_dropout": rnn.dropout,
        "tie_word_embeddings": head is not None and head.weight is embedding.weight,
        **config_fields,
    }
    model = build_model(head_class, head, **fields)
    model.get_input_embeddings().weight.copy_(embedding.weight)
    copy_layers(model, dict(rnn.named_parameters()), rnn.num_layers)
    if head is not None and HEAD_LAYERS[head_class] is not None:
        copy_linear(getattr(model, HEAD_LAYERS[head_class]), head.weight, head.bias)
    return model


def copy_linear(target: nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    if tuple(weight.shape) != tuple(target.weight.shape):
        raise ValueError(f"the output layer has shape {tuple(weight.shape)}; expected {tuple(target.weight.shape)}.")
    with torch.no_grad():
        target.weight.copy_(weight)
        target.bias.copy_(bias if bias is not None else torch.zeros_like(target.bias))


# Keras orders a GRU's gates (update z, reset r, candidate); torch (reset r, update z, candidate n).
KERAS_GRU_TO_TORCH = (1, 0, 2)


def keras_cell_weights(layer, direction: str, k: int) -> tuple[str, dict[str, torch.Tensor], int]:
    """The torch-named parameters of one Keras recurrent layer (`LSTM`, `GRU` or `SimpleRNN`), and its units."""
    kind = type(layer).__name__
    kernel, recurrent, *rest = (torch.as_tensor(w) for w in layer.get_weights())
    bias = rest[0] if rest else None
    units = recurrent.shape[0]
    activation = getattr(layer.activation, "__name__", str(layer.activation))
    if kind == "SimpleRNN":
        if activation not in ("tanh", "relu"):
            raise ValueError(f"a SimpleRNN with activation={activation!r} has no fused torch kernel (tanh or relu).")
        cell = f"rnn_{activation}"
        gates = 1
    elif kind in ("LSTM", "GRU"):
        recurrent_activation = getattr(layer.recurrent_activation, "__name__", str(layer.recurrent_activation))
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(
                f"a Keras {kind} with activation={activation!r}, recurrent_activation={recurrent_activation!r} has "
                "no fused torch kernel, which computes tanh and sigmoid."
            )
        cell, gates = ("lstm", 4) if kind == "LSTM" else ("gru", 3)
    else:
        raise TypeError(f"{kind} is not a recurrent layer hf_rnn imports (LSTM, GRU, SimpleRNN).")
    suffix = f"_l{k}" + ("_reverse" if direction == "backward" else "")
    weight_ih, weight_hh = kernel.T, recurrent.T  # Keras: (inputs, gates * units); torch: (gates * units, inputs)
    bias_ih = bias if bias is not None else torch.zeros(gates * units)
    bias_hh = torch.zeros(gates * units)
    if kind == "GRU":
        if not layer.reset_after:
            raise ValueError(
                "a Keras GRU with reset_after=False applies the reset gate before the recurrent product; torch's "
                "fused GRU (and cuDNN's) applies it after. Retrain with reset_after=True (the Keras default)."
            )
        if bias is not None:  # reset_after: separate input and recurrent biases, as in torch
            bias_ih, bias_hh = bias[0], bias[1]

        def reorder(t: torch.Tensor) -> torch.Tensor:
            return torch.cat([t.reshape(3, units, *t.shape[1:])[i] for i in KERAS_GRU_TO_TORCH])

        weight_ih, weight_hh, bias_ih, bias_hh = map(reorder, (weight_ih, weight_hh, bias_ih, bias_hh))
    # LSTM gates are (input, forget, cell, output) in both libraries.
    parameters = {
        f"weight_ih{suffix}": weight_ih,
        f"weight_hh{suffix}": weight_hh,
        f"bias_ih{suffix}": bias_ih,
        f"bias_hh{suffix}": bias_hh,
    }
    return cell, parameters, units


@torch.no_grad()
def from_keras(keras_model, head_class: type = RNNForSequenceClassification, **config_fields) -> RNNPreTrainedModel:
    """
    An hf_rnn model from a Keras model made of `Embedding`, then recurrent layers (`LSTM`, `GRU`, `SimpleRNN`,
    each optionally in `Bidirectional`), then, except for `RNNModel`, one `Dense` output layer (softmax, sigmoid or
    linear). `Dropout` layers are skipped (inference only). For a `Dense(1, activation="sigmoid")` binary
    classifier, the imported classifier has two labels whose softmax equals (1 - p, p).
    """
    layers = [layer for layer in keras_model.layers if type(layer).__name__ not in ("Dropout", "InputLayer")]
    if not layers or type(layers[0]).__name__ != "Embedding":
        raise ValueError("keras_model must start with an Embedding layer.")
    embedding, *recurrent_layers = layers
    dense = recurrent_layers.pop() if recurrent_layers and type(recurrent_layers[-1]).__name__ == "Dense" else None
    if not recurrent_layers:
        raise ValueError("keras_model has no recurrent layer (LSTM, GRU or SimpleRNN) after its Embedding.")
    parameters, cells, sizes, bidirectional = {}, set(), set(), set()
    for k, layer in enumerate(recurrent_layers):
        wrapped = type(layer).__name__ == "Bidirectional"
        directions = (("forward", layer.forward_layer), ("backward", layer.backward_layer)) if wrapped else (
            ("forward", layer),
        )
        bidirectional.add(wrapped)
        for direction, cell_layer in directions:
            cell, cell_parameters, units = keras_cell_weights(cell_layer, direction, k)
            cells.add(cell)
            sizes.add(units)
            parameters.update(cell_parameters)
    if len(cells) > 1 or len(sizes) > 1 or len(bidirectional) > 1:
        raise ValueError("every recurrent layer of keras_model must have the same cell, units and direction(s).")
    vocab_size, embedding_size = embedding.get_weights()[0].shape
    fields = {
        "vocab_size": vocab_size,
        "embedding_size": embedding_size,
        "cell": cells.pop(),
        "hidden_size": sizes.pop(),
        "num_hidden_layers": len(recurrent_layers),
        "bidirectional": bidirectional.pop(),
        "tie_word_embeddings": False,
        **config_fields,
    }
    head = None
    if dense is not None:
        kernel, *bias = (torch.as_tensor(w) for w in dense.get_weights())
        weight, bias = kernel.T, (bias[0] if bias else torch.zeros(kernel.shape[1]))
        activation = getattr(dense.activation, "__name__", str(dense.activation))
        if activation == "sigmoid" and weight.shape[0] == 1:  # softmax([0, z]) = (1 - sigmoid(z), sigmoid(z))
            weight, bias = torch.cat([torch.zeros_like(weight), weight]), torch.cat([torch.zeros_like(bias), bias])
        elif activation not in ("softmax", "linear"):
            raise ValueError(f"the Dense output layer's activation={activation!r} has no logits equivalent.")
        head = nn.Linear(weight.shape[1], weight.shape[0])
        copy_linear(head, weight, bias)
    model = build_model(head_class, head, **fields)
    model.get_input_embeddings().weight.copy_(torch.as_tensor(embedding.get_weights()[0]))
    copy_layers(model, parameters, len(recurrent_layers))
    if head is not None and HEAD_LAYERS[head_class] is not None:
        copy_linear(getattr(model, HEAD_LAYERS[head_class]), head.weight, head.bias)
    return model


__all__ = ["from_keras", "from_torch"]
