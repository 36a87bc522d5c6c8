"""torch.export, ONNX and torch.compile: every head exports with a dynamic batch and length, and the exported program
computes what the eager model does on a batch of another size and length, padded on either side.

The fast suite exports one configuration per head and converts one to ONNX; `-m slow` runs every cell of every head,
through torch.export and through ONNX Runtime.
"""

import functools
import inspect

import pytest
import torch
from helpers import VOCAB_SIZE, seeded, tiny_config
from torch.export import Dim
from torch.utils._pytree import tree_leaves

from hf_rnn import (
    CELL_TYPES,
    RNNForCausalLM,
    RNNForecastConfig,
    RNNForSequenceClassification,
    RNNForTimeSeriesPrediction,
    RNNForTokenClassification,
    RNNModel,
    RNNSeq2SeqConfig,
    RNNSeq2SeqForConditionalGeneration,
)

TOLERANCE = 1e-5
BATCH, TIME, TARGET_TIME = Dim("batch"), Dim("time"), Dim("target_time")
# The example an export traces, and the other batch the exported program then runs: another size and length.
EXAMPLE, OTHER = (2, 5), (5, 8)


def padded_ids(batch_size: int, time_steps: int, seed: int) -> dict[str, torch.Tensor]:
    """Ids and a mask whose rows are padded on the left, on the right, not at all, then padding only, in turn."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(VOCAB_SIZE, (batch_size, time_steps), generator=generator)
    mask = torch.ones(batch_size, time_steps, dtype=torch.long)
    for row in range(batch_size):
        kind = row % 4
        if kind == 0:
            mask[row, :2] = 0
        elif kind == 1:
            mask[row, -1:] = 0
        elif kind == 3:
            mask[row] = 0
    return {"input_ids": ids, "attention_mask": mask}


def token_inputs(batch_size: int, time_steps: int, seed: int) -> dict[str, torch.Tensor]:
    return padded_ids(batch_size, time_steps, seed)


def bare_inputs(batch_size: int, time_steps: int, seed: int) -> dict:
    return {**padded_ids(batch_size, time_steps, seed), "output_hidden_states": True}


def seq2seq_inputs(batch_size: int, time_steps: int, seed: int) -> dict[str, torch.Tensor]:
    source, target = padded_ids(batch_size, time_steps, seed), padded_ids(batch_size, time_steps - 1, seed + 1)
    return {**source, "decoder_input_ids": target["input_ids"], "decoder_attention_mask": target["attention_mask"]}


def forecast_inputs(batch_size: int, time_steps: int, seed: int) -> dict[str, torch.Tensor]:
    # The context length is part of the forecaster's config: only the batch varies.
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(batch_size, 24, 3, generator=generator)
    return {"past_values": values, "past_observed_mask": torch.rand(values.shape, generator=generator) > 0.2}


TOKEN_AXES = {name: {0: BATCH, 1: TIME} for name in ("input_ids", "attention_mask")}
BARE_AXES = {**TOKEN_AXES, "output_hidden_states": None}
TARGET_AXES = {name: {0: BATCH, 1: TARGET_TIME} for name in ("decoder_input_ids", "decoder_attention_mask")}
SEQ2SEQ_AXES = {**TOKEN_AXES, **TARGET_AXES}
FORECAST_AXES = {name: {0: BATCH} for name in ("past_values", "past_observed_mask")}


def bare(cell: str, layers: int) -> RNNModel:
    projection = 5 if cell == "lstm" else 0  # an LSTM's projected state is the one that runs through the steps
    return seeded(RNNModel, tiny_config(cell, num_hidden_layers=layers, bidirectional=True, proj_size=projection))


def seq2seq(cell: str, layers: int, **overrides) -> RNNSeq2SeqForConditionalGeneration:
    values = {"vocab_size": VOCAB_SIZE, "encoder_hidden_size": 8, "decoder_hidden_size": 12, "attention": "bahdanau"}
    values |= {"encoder_cell": cell, "decoder_cell": cell, "encoder_layers": layers, "decoder_layers": layers}
    return seeded(RNNSeq2SeqForConditionalGeneration, RNNSeq2SeqConfig(**values | {"input_feeding": False} | overrides))


def forecaster(cell: str, layers: int) -> RNNForTimeSeriesPrediction:
    values = {"context_length": 24, "prediction_length": 12, "num_input_channels": 3, "segment_length": 6}
    config = RNNForecastConfig(hidden_size=12, cell=cell, num_hidden_layers=layers, **values)
    return seeded(RNNForTimeSeriesPrediction, config)


def classifier(head_class):
    def build(cell: str, layers: int):
        return seeded(head_class, tiny_config(cell, num_hidden_layers=layers, bidirectional=True, num_labels=3))

    return build


# Each head: how to build it (bidirectional wherever the head allows), the inputs it takes, their dynamic axes.
HEADS = {
    "bare": (bare, bare_inputs, BARE_AXES),
    "causal_lm": (
        lambda cell, layers: seeded(RNNForCausalLM, tiny_config(cell, num_hidden_layers=layers)),
        token_inputs,
        TOKEN_AXES,
    ),
    "sequence": (classifier(RNNForSequenceClassification), token_inputs, TOKEN_AXES),
    "token": (classifier(RNNForTokenClassification), token_inputs, TOKEN_AXES),
    "seq2seq": (seq2seq, seq2seq_inputs, SEQ2SEQ_AXES),
    "forecast": (forecaster, forecast_inputs, FORECAST_AXES),
}
# The fast suite: one cell per head, one layer where a second adds nothing new; together every cell and head. The
# slow suite: every cell of every head, two layers.
FAST_CASES = [
    ("bare", "lstm", 2),
    ("causal_lm", "gru", 1),
    ("sequence", "rnn_tanh", 1),
    ("token", "rnn_relu", 1),
    ("seq2seq", "gru", 1),
    ("forecast", "lstm", 1),
]
ALL_CASES = [(head, cell, 2) for head in HEADS for cell in CELL_TYPES]
SLOW_CASES = [pytest.param(*case, marks=pytest.mark.slow) for case in ALL_CASES if case not in FAST_CASES]
ONNX_FAST_CASE = ("token", "lstm", 1)
ONNX_SLOW_CASES = [pytest.param(*case, marks=pytest.mark.slow) for case in ALL_CASES]


@functools.cache
def model_for(head: str, cell: str, layers: int) -> torch.nn.Module:
    return HEADS[head][0](cell, layers)


@functools.cache
def exported(head: str, cell: str, layers: int) -> torch.export.ExportedProgram:
    _, inputs, axes = HEADS[head]
    return torch.export.export(model_for(head, cell, layers), (), inputs(*EXAMPLE, seed=0), dynamic_shapes=axes)


def eager_outputs(model: torch.nn.Module, inputs: dict) -> dict:
    """What the model returns eagerly, without the cache (an exported program returns no state)."""
    if "use_cache" in inspect.signature(model.forward).parameters:
        inputs = {**inputs, "use_cache": False}
    with torch.no_grad():
        return model(**inputs)


@pytest.mark.parametrize(("head", "cell", "layers"), [*FAST_CASES, *SLOW_CASES])
def test_exported_program_equals_eager_on_another_padded_batch(head, cell, layers):
    inputs = HEADS[head][1](*OTHER, seed=1)
    outputs = exported(head, cell, layers).module()(**inputs)
    expected = eager_outputs(model_for(head, cell, layers), inputs)
    assert list(outputs.keys()) == list(expected.keys())
    torch.testing.assert_close(outputs.to_tuple(), expected.to_tuple(), atol=TOLERANCE, rtol=0)


def run_onnx(model: torch.nn.Module, example: dict, axes: dict, inputs: dict) -> list:
    """Export `model` to ONNX (torch.onnx's default exporter, dynamic axes) and run `inputs` in ONNX Runtime."""
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    program = torch.onnx.export(model, (), kwargs=example, dynamic_shapes=axes, dynamo=True)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # no warnings about initializers the optimizer left unused
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options)
    return session.run(
        None, {graph_input.name: inputs[graph_input.name].numpy() for graph_input in session.get_inputs()}
    )


def assert_onnx_equals_eager(model: torch.nn.Module, example: dict, axes: dict, inputs: dict) -> None:
    outputs = run_onnx(model, example, axes, inputs)
    expected = tree_leaves(eager_outputs(model, inputs).to_tuple())
    assert len(outputs) == len(expected)
    for output, value in zip(outputs, expected):
        torch.testing.assert_close(torch.from_numpy(output), value, atol=TOLERANCE, rtol=0)


# The exporter's notes on how it names the dynamic axes.
ONNX_WARNINGS = ("ignore:# The axis name", "ignore:# ONNX model has different number of inputs")


@pytest.mark.filterwarnings(*ONNX_WARNINGS)
@pytest.mark.parametrize(("head", "cell", "layers"), [ONNX_FAST_CASE, *ONNX_SLOW_CASES])
def test_onnx_program_equals_eager_on_another_padded_batch(head, cell, layers):
    _, inputs, axes = HEADS[head]
    model = model_for(head, cell, layers)
    assert_onnx_equals_eager(model, inputs(*EXAMPLE, seed=0), axes, inputs(*OTHER, seed=1))


def test_out_of_vocabulary_ids_still_fail_eagerly_naming_the_id():
    with pytest.raises(ValueError, match=r"^input_ids contains 40, outside the vocabulary \[0, 37\)"):
        model_for("causal_lm", "gru", 1)(torch.tensor([[1, 40, 2]]))


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"input_ids": torch.tensor([[1, 40, 2]])}, r"input_ids contains a value, outside the vocabulary \[0, 37\)"),
        ({"input_ids": torch.tensor([[1, -1, 2]])}, r"input_ids contains a value, outside the vocabulary"),
        ({"attention_mask": torch.tensor([[1, 2, 1]])}, r"attention_mask must hold only 0 \(padding\) and 1"),
    ],
)
def test_exported_program_refuses_bad_inputs_with_the_same_message(change, pattern):
    inputs = {"input_ids": torch.tensor([[1, 5, 2]]), "attention_mask": torch.tensor([[1, 1, 1]])} | change
    with pytest.raises(RuntimeError, match=pattern):
        exported("causal_lm", "gru", 1).module()(**inputs)


def test_a_cache_cannot_be_exported():
    example = {**token_inputs(*EXAMPLE, seed=0), "use_cache": True}
    with pytest.raises(ValueError, match="^A recurrent cache cannot be exported.*use_cache=False"):
        torch.export.export(model_for("causal_lm", "gru", 1), (), example)


def test_input_feeding_refuses_a_dynamic_target_length():
    model = seq2seq("gru", 1, input_feeding=True)
    with pytest.raises(ValueError, match=r"^Input feeding .* exports only at a fixed length: .*decoder_input_ids"):
        torch.export.export(model, (), seq2seq_inputs(*EXAMPLE, seed=0), dynamic_shapes=SEQ2SEQ_AXES)


@pytest.mark.slow
def test_input_feeding_exports_at_a_fixed_target_length():
    model = seq2seq("lstm", 2, input_feeding=True)
    axes = SEQ2SEQ_AXES | {name: {0: BATCH} for name in ("decoder_input_ids", "decoder_attention_mask")}
    program = torch.export.export(model, (), seq2seq_inputs(*EXAMPLE, seed=0), dynamic_shapes=axes)
    # Another batch size and source length, the example's target length.
    source, target = padded_ids(*OTHER, seed=1), padded_ids(OTHER[0], EXAMPLE[1] - 1, seed=2)
    inputs = {**source, "decoder_input_ids": target["input_ids"], "decoder_attention_mask": target["attention_mask"]}
    outputs, expected = program.module()(**inputs), eager_outputs(model, inputs)
    torch.testing.assert_close(outputs.logits, expected.logits, atol=TOLERANCE, rtol=0)


# Tagger variants: a CRF output layer, character features of each word.
def crf_tagger() -> RNNForTokenClassification:
    return seeded(
        RNNForTokenClassification, tiny_config(num_hidden_layers=1, bidirectional=True, num_labels=3, crf=True)
    )


def character_tagger(encoder: str) -> RNNForTokenClassification:
    values = {"char_encoder": encoder, "char_alphabet": "abcdefgh", "char_max_word_length": 6}
    config = tiny_config("gru", num_hidden_layers=1, bidirectional=True, num_labels=3, **values)
    model = seeded(RNNForTokenClassification, config)
    model.model.char_encoder.set_spellings(["", "", "", ""] + [f"{a}{b}e" for a in "abcdefgh" for b in "ab"])
    return model


FIXED_LENGTH_AXES = {name: {0: BATCH} for name in TOKEN_AXES}


def test_crf_tagger_refuses_a_dynamic_length():
    with pytest.raises(ValueError, match=r"^The CRF's recursion .* exports only at a fixed length: .*input_ids"):
        torch.export.export(crf_tagger(), (), token_inputs(*EXAMPLE, seed=0), dynamic_shapes=TOKEN_AXES)


@pytest.mark.slow
@pytest.mark.filterwarnings(*ONNX_WARNINGS)
def test_crf_tagger_exports_at_a_fixed_length():
    model, example, inputs = crf_tagger(), token_inputs(*EXAMPLE, seed=0), token_inputs(OTHER[0], EXAMPLE[1], seed=1)
    program = torch.export.export(model, (), example, dynamic_shapes=FIXED_LENGTH_AXES)
    expected = eager_outputs(model, inputs).logits
    torch.testing.assert_close(program.module()(**inputs).logits, expected, atol=TOLERANCE, rtol=0)
    assert_onnx_equals_eager(model, example, FIXED_LENGTH_AXES, inputs)


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_tagger_with_character_features_exports(encoder):
    # Every position's spelling is read (not each distinct token's), and the character LSTM runs the traced loop.
    model, inputs = character_tagger(encoder), token_inputs(*OTHER, seed=1)
    program = torch.export.export(model, (), token_inputs(*EXAMPLE, seed=0), dynamic_shapes=TOKEN_AXES)
    expected = eager_outputs(model, inputs).logits
    torch.testing.assert_close(program.module()(**inputs).logits, expected, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
@pytest.mark.filterwarnings(*ONNX_WARNINGS)
@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_tagger_with_character_features_through_onnx(encoder):
    example, inputs = token_inputs(*EXAMPLE, seed=0), token_inputs(*OTHER, seed=1)
    assert_onnx_equals_eager(character_tagger(encoder), example, TOKEN_AXES, inputs)


def test_compiled_forward_keeps_one_graph_through_the_input_checks():
    model = model_for("causal_lm", "gru", 1)
    ids = torch.tensor([[1, 5, 2, 7]])
    # allow_rnn: without it Dynamo itself refuses nn.GRU / nn.LSTM / nn.RNN modules, checks or no checks.
    with torch._dynamo.config.patch(allow_rnn=True), torch.no_grad():
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(ids).logits, model(ids).logits, atol=TOLERANCE, rtol=0)
        with pytest.raises(RuntimeError, match=r"input_ids contains a value, outside the vocabulary \[0, 37\)"):
            compiled(ids + 40)
