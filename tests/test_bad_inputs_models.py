"""Bad inputs to the models, configs, caches and pipelines: each fails naming the argument, or has a defined result."""

import math

import pytest
import torch
from helpers import seeded, tiny_config
from transformers import AutoModelForCausalLM, DynamicCache, pipeline

from hf_rnn import (
    TRANSLATION_TASK,
    RNNConfig,
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNSeq2SeqConfig,
    RNNSeq2SeqForConditionalGeneration,
    output_state,
)

IDS = torch.tensor([[1, 2, 3], [4, 5, 6]])


def lm(cell="lstm", **overrides):
    return seeded(RNNForCausalLM, tiny_config(cell, **overrides))


def state(model, ids):
    with torch.no_grad():
        return output_state(model(torch.tensor(ids), use_cache=True))


def seq2seq(**overrides):
    values = {"vocab_size": 30, "encoder_hidden_size": 8, "decoder_hidden_size": 16, "decoder_layers": 2}
    return seeded(RNNSeq2SeqForConditionalGeneration, RNNSeq2SeqConfig(**{**values, **overrides}))


def seq2seq_state(model, batch_size=1):
    with torch.no_grad():
        out = model(torch.full((batch_size, 3), 4), decoder_input_ids=torch.full((batch_size, 1), 2), use_cache=True)
    return output_state(out)


# (error, message pattern, config kwargs)
BAD_CONFIGS = {
    "num_layers-vs-num_hidden_layers": (ValueError, "num_layers=3 and num_hidden_layers=2", {"num_layers": 3}),
    "initializer_range-nan": (ValueError, "^initializer_range=nan.*finite positive", {"initializer_range": math.nan}),
    "initializer_range-inf": (ValueError, "^initializer_range=inf.*finite positive", {"initializer_range": math.inf}),
    "initializer_range-negative": (ValueError, "^initializer_range=-0.1", {"initializer_range": -0.1}),
    "word_dropout-nan": (ValueError, r"^word_dropout=nan.*\[0, 1\)", {"word_dropout": math.nan}),
    "activation_regularization-inf": (
        ValueError,
        "^activation_regularization=inf",
        {"activation_regularization": math.inf},
    ),
    "num_labels-0": (ValueError, "^num_labels=0.*>= 1", {"num_labels": 0}),
    "num_labels-negative": (ValueError, "^num_labels=-1.*>= 1", {"num_labels": -1}),
    "use_cache-str": (ValueError, "^use_cache='no'.*True or False", {"use_cache": "no"}),
    "tie_word_embeddings-int": (ValueError, "^tie_word_embeddings=1.*True or False", {"tie_word_embeddings": 1}),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_rnn_config(case):
    error, pattern, values = BAD_CONFIGS[case]
    if case == "num_layers-vs-num_hidden_layers":
        values = {**values, "num_hidden_layers": 2}
    with pytest.raises(error, match=pattern):
        RNNConfig(**values)


def test_num_layers_alone_or_agreeing_is_still_an_alias():
    assert RNNConfig(num_layers=3).num_hidden_layers == 3
    assert RNNConfig(num_layers=3, num_hidden_layers=3).num_hidden_layers == 3
    assert RNNConfig().num_hidden_layers == 2


BAD_SEQ2SEQ_CONFIGS = {
    "decoder_start_token_id-None": ("^decoder_start_token_id=None", {"decoder_start_token_id": None}),
    "pad_token_id-None": ("^pad_token_id=None", {"pad_token_id": None}),
    "initializer_range-nan": ("^initializer_range=nan", {"initializer_range": math.nan}),
    "initializer_range-inf": ("^initializer_range=inf", {"initializer_range": math.inf}),
    "use_cache-str": ("^use_cache='yes'", {"use_cache": "yes"}),
}


@pytest.mark.parametrize("case", BAD_SEQ2SEQ_CONFIGS)
def test_bad_seq2seq_config(case):
    pattern, values = BAD_SEQ2SEQ_CONFIGS[case]
    with pytest.raises(ValueError, match=pattern):
        RNNSeq2SeqConfig(**values)


# Inputs to every forward: (error, message pattern, keyword arguments)
BAD_FORWARD_INPUTS = {
    "input_ids-1d": (ValueError, r"^input_ids has shape \(3,\); expected \(batch, time\)", {"input_ids": IDS[0]}),
    "input_ids-float": (TypeError, r"^input_ids must hold integer.*torch\.long.*float32", {"input_ids": IDS.float()}),
    "input_ids-bool": (TypeError, r"^input_ids must hold integer.*torch\.bool", {"input_ids": IDS > 2}),
    "input_ids-uint8": (TypeError, r"^input_ids must hold integer.*torch\.uint8", {"input_ids": IDS.byte()}),
    "input_ids-list": (TypeError, r"^input_ids must be a torch\.LongTensor.*got list", {"input_ids": IDS.tolist()}),
    "input_ids-length-0": (
        ValueError,
        r"^input_ids has shape \(2, 0\): no time steps",
        {"input_ids": torch.zeros(2, 0, dtype=torch.long)},
    ),
    "input_ids-out-of-vocab": (ValueError, "^input_ids contains 37", {"input_ids": IDS + 34}),
    "input_ids-negative": (ValueError, "^input_ids contains -1", {"input_ids": IDS - 2}),
    "attention_mask-values": (
        ValueError,
        r"^attention_mask must hold only 0 \(padding\) and 1 \(token\); found 2",
        {"input_ids": IDS, "attention_mask": torch.full((2, 3), 2)},
    ),
    "attention_mask-fraction": (
        ValueError,
        "^attention_mask must hold only 0.*found 0.5",
        {"input_ids": IDS, "attention_mask": torch.full((2, 3), 0.5)},
    ),
    "attention_mask-1d": (
        ValueError,
        r"^attention_mask has shape \(3,\); expected \(batch=2",
        {"input_ids": IDS, "attention_mask": torch.ones(3)},
    ),
    "attention_mask-batch": (
        ValueError,
        r"^attention_mask has shape \(1, 3\)",
        {"input_ids": IDS, "attention_mask": torch.ones(1, 3)},
    ),
    "attention_mask-list": (
        TypeError,
        "^attention_mask must be a tensor",
        {"input_ids": IDS, "attention_mask": [[1, 1, 1], [1, 1, 1]]},
    ),
    "inputs_embeds-width": (
        ValueError,
        r"^inputs_embeds has shape \(2, 3, 7\).*embedding_size=12",
        {"inputs_embeds": torch.zeros(2, 3, 7)},
    ),
    "inputs_embeds-2d": (ValueError, r"^inputs_embeds has shape \(3, 12\)", {"inputs_embeds": torch.zeros(3, 12)}),
    "inputs_embeds-long": (
        TypeError,
        "^inputs_embeds must be a floating-point",
        {"inputs_embeds": torch.zeros(2, 3, 12, dtype=torch.long)},
    ),
}
HEADS = {
    "bare": lambda: seeded(RNNModel, tiny_config()),
    "causal_lm": lm,
    "sequence": lambda: seeded(RNNForSequenceClassification, tiny_config()),
    "token": lambda: seeded(RNNForTokenClassification, tiny_config()),
}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("case", BAD_FORWARD_INPUTS)
def test_bad_forward_input(case, head):
    error, pattern, inputs = BAD_FORWARD_INPUTS[case]
    with pytest.raises(error, match=pattern):
        HEADS[head]()(**inputs)


@pytest.mark.parametrize(
    ("case", "error", "pattern"),
    [
        ("input_ids-1d", ValueError, r"^input_ids has shape \(3,\)"),
        ("decoder_input_ids-1d", ValueError, r"^decoder_input_ids has shape \(1,\)"),
        ("input_ids-float", TypeError, "^input_ids must hold integer"),
        ("input_ids-length-0", ValueError, r"^input_ids has shape \(1, 0\): no time steps"),
        ("decoder_input_ids-length-0", ValueError, r"^decoder_input_ids has shape \(1, 0\): no time steps"),
        ("attention_mask-values", ValueError, "^attention_mask must hold only 0"),
        ("decoder_attention_mask-values", ValueError, "^decoder_attention_mask must hold only 0"),
        ("decoder-batch", ValueError, "decoder inputs hold 2 rows but the source"),
        ("labels-1d", ValueError, r"^labels has shape \(2,\); expected \(batch, tgt_len\)"),
        ("labels-float", TypeError, "^labels must be a torch.long"),
        ("labels-out-of-vocab", ValueError, r"^labels contains 99, outside \[0, 30\)"),
        ("labels-vs-decoder_input_ids", ValueError, r"^labels has shape \(1, 3\); expected .* = \(1, 2\)"),
    ],
)
def test_bad_seq2seq_forward_input(case, error, pattern):
    inputs = {"input_ids": torch.tensor([[4, 5, 6]]), "decoder_input_ids": torch.tensor([[2, 7]])}
    changes = {
        "input_ids-1d": {"input_ids": torch.tensor([4, 5, 6])},
        "decoder_input_ids-1d": {"decoder_input_ids": torch.tensor([2])},
        "input_ids-float": {"input_ids": torch.tensor([[4.0, 5.0]])},
        "input_ids-length-0": {"input_ids": torch.zeros(1, 0, dtype=torch.long)},
        "decoder_input_ids-length-0": {"decoder_input_ids": torch.zeros(1, 0, dtype=torch.long)},
        "attention_mask-values": {"attention_mask": torch.tensor([[1, 2, 1]])},
        "decoder_attention_mask-values": {"decoder_attention_mask": torch.tensor([[1, 3]])},
        "decoder-batch": {"decoder_input_ids": torch.tensor([[2, 7], [2, 8]])},
        "labels-1d": {"decoder_input_ids": None, "labels": torch.tensor([5, 9])},
        "labels-float": {"decoder_input_ids": None, "labels": torch.tensor([[5.0, 9.0]])},
        "labels-out-of-vocab": {"decoder_input_ids": None, "labels": torch.tensor([[5, 99]])},
        "labels-vs-decoder_input_ids": {"labels": torch.tensor([[5, 6, 7]])},
    }
    with pytest.raises(error, match=pattern):
        seq2seq()(**{**inputs, **changes[case]})


BAD_LABELS = {
    "causal_lm-shape": (lm, IDS, torch.tensor([[1, 2], [3, 4]]), ValueError, r"^labels has shape \(2, 2\)"),
    "causal_lm-float": (lm, IDS, IDS.float(), TypeError, "^labels must be a torch.long"),
    "causal_lm-int32": (lm, IDS, IDS.int(), TypeError, "^labels must be a torch.long.*int32"),
    "causal_lm-out-of-vocab": (lm, IDS, IDS + 90, ValueError, r"^labels contains 91.*config\.vocab_size=37"),
    "token-shape": (
        lambda: seeded(RNNForTokenClassification, tiny_config(num_labels=3)),
        IDS,
        torch.tensor([1, 2, 0]),
        ValueError,
        r"^labels has shape \(3,\); expected \(batch, time\) = \(2, 3\)",
    ),
    "token-out-of-range": (
        lambda: seeded(RNNForTokenClassification, tiny_config(num_labels=3)),
        IDS,
        torch.tensor([[0, 1, 3], [0, -100, 2]]),
        ValueError,
        r"^labels contains 3, outside \[0, 3\) \(config\.num_labels=3\)",
    ),
    "sequence-batch": (
        lambda: seeded(RNNForSequenceClassification, tiny_config(num_labels=3)),
        IDS,
        torch.tensor([1]),
        ValueError,
        r"^labels has shape \(1,\); expected \(batch,\) = \(2,\)",
    ),
    "sequence-out-of-range": (
        lambda: seeded(RNNForSequenceClassification, tiny_config(num_labels=3)),
        IDS,
        torch.tensor([1, 5]),
        ValueError,
        r"^labels contains 5, outside \[0, 3\)",
    ),
    "sequence-multi-label-width": (
        lambda: seeded(RNNForSequenceClassification, tiny_config(num_labels=3)),
        IDS,
        torch.zeros(2, 2),
        ValueError,
        r"^labels .* do not fit multi_label_classification with config\.num_labels=3",
    ),
    "sequence-regression-ids": (
        lambda: seeded(RNNForSequenceClassification, tiny_config(num_labels=1)),
        IDS,
        torch.tensor([0, 1]),
        ValueError,
        r"^labels .* do not fit regression",
    ),
}


@pytest.mark.parametrize("case", BAD_LABELS)
def test_bad_labels(case):
    build, ids, labels, error, pattern = BAD_LABELS[case]
    with pytest.raises(error, match=pattern):
        build()(ids, labels=labels)


def test_good_labels_still_give_a_loss():
    # One model per problem type: transformers' loss stores the first one it infers in config.problem_type.
    def sequence(num_labels):
        return seeded(RNNForSequenceClassification, tiny_config(num_labels=num_labels))

    assert sequence(3)(IDS, labels=torch.tensor([[1], [2]])).loss.isfinite()  # (batch, 1) class ids
    assert sequence(3)(IDS, labels=torch.zeros(2, 3)).loss.isfinite()  # multi-label
    assert sequence(1)(IDS, labels=torch.tensor([0.5, 1.0])).loss.isfinite()  # regression
    assert lm()(IDS, labels=IDS.masked_fill(IDS == 1, -100)).loss.isfinite()


# Caches that cannot be this model's: (model, cache builder, pattern). Forward and generate() both refuse them.
BAD_CACHES = {
    "more-layers": (lm, lambda: state(lm(num_hidden_layers=3), [[1, 2]]), "^cache holds the state of 3 recurrent"),
    "lstm-state-to-gru": (lambda: lm("gru"), lambda: state(lm(), [[1, 2]]), r"^cache holds \(h, c\).*not an LSTM"),
    "gru-state-to-lstm": (lm, lambda: state(lm("gru"), [[1, 2]]), "^cache holds h only.*is an LSTM"),
    "hidden-size": (
        lm,
        lambda: state(lm(hidden_size=16), [[1, 2]]),
        r"^cache layer 0 holds a state of shape \(1, 1, 16\)",
    ),
    "batch": (lm, lambda: state(lm(), [[1, 2]]), "^cache holds the state of 1 sequences, but the input has 2 rows"),
}


@pytest.mark.parametrize("case", BAD_CACHES)
@pytest.mark.parametrize("call", ["forward", "generate"])
def test_cache_of_another_model_or_batch_is_refused(case, call):
    build, cache_of, pattern = BAD_CACHES[case]
    model, cache = build(), cache_of()
    ids = torch.tensor([[1, 2, 3], [1, 2, 3]]) if case == "batch" else torch.tensor([[1, 2, 3]])
    with torch.no_grad(), pytest.raises(ValueError, match=pattern):
        if call == "forward":
            model(ids[:, 2:], cache=cache)
        else:
            model.generate(ids, cache=cache, max_new_tokens=2)


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("use_cache-False", "^cache was given with use_cache=False"),
        ("prompt-not-longer-than-cache", "^cache has consumed 3 tokens, but input_ids has 3"),
    ],
)
def test_generate_does_not_silently_drop_or_misuse_a_cache(case, pattern):
    model = lm()
    prompt = torch.tensor([[1, 2, 3]])
    kwargs = {
        "use_cache-False": {"use_cache": False},
        "prompt-not-longer-than-cache": {},
    }[case]
    cache = state(model, [[1, 2, 3]] if case == "prompt-not-longer-than-cache" else [[1, 2]])
    with torch.no_grad(), pytest.raises(ValueError, match=pattern):
        model.generate(prompt, cache=cache, max_new_tokens=2, **kwargs)


def test_forward_with_a_cache_and_use_cache_false_is_an_error():
    model = lm()
    with torch.no_grad(), pytest.raises(ValueError, match="^cache was given with use_cache=False"):
        model(torch.tensor([[3]]), cache=state(model, [[1, 2]]), use_cache=False)


def test_generate_from_a_cache_feeds_only_the_tokens_after_it():
    """transformers 5.24 does not slice a prompt for linear-attention caches: the prompt ran twice."""
    model = lm(initializer_range=1.0)  # logits far enough apart that a wrong state changes them
    prompt = torch.tensor([[3, 14, 15, 9, 26]])
    fed = []
    hook = model.model.embed_tokens.register_forward_hook(lambda m, args, out: fed.append(args[0].tolist()))
    with torch.no_grad():
        reference = model.generate(
            prompt, max_new_tokens=3, do_sample=False, output_logits=True, return_dict_in_generate=True
        )
        cache = state(model, prompt[:, :-1].tolist())
        fed.clear()
        continued = model.generate(
            prompt, cache=cache, max_new_tokens=3, do_sample=False, output_logits=True, return_dict_in_generate=True
        )
    hook.remove()
    assert fed[0] == [[26]]
    for expected, got in zip(reference.logits, continued.logits):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_a_dynamic_cache_is_refused_by_both_model_kinds():
    with torch.no_grad():
        with pytest.raises(TypeError, match="^cache must be a RecurrentCache.*got DynamicCache"):
            lm()(IDS, cache=DynamicCache())
        model = seq2seq()
        source = torch.tensor([[4, 5, 6]])
        with pytest.raises(TypeError, match="^cache must be a AttentionDecoderCache.*got DynamicCache"):
            model(source, decoder_input_ids=torch.tensor([[2]]), cache=DynamicCache())
        with pytest.raises(TypeError, match="^cache must be a AttentionDecoderCache.*got DynamicCache"):
            model.generate(source, cache=DynamicCache(), max_new_tokens=2)


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("more-layers", "^cache holds the state of 2 recurrent layers, but this model has 1"),
        ("batch", "^cache holds the state of 2 sequences, but the input has 1 rows"),
        ("no-input-feed", "^cache holds no input-feed vector"),
        ("use_cache-False", "^cache was given with use_cache=False"),
    ],
)
def test_seq2seq_cache_of_another_model_or_batch_is_refused(case, pattern):
    model = seq2seq(decoder_layers=1, input_feeding=case == "no-input-feed")
    other = {"more-layers": seq2seq(), "batch": model, "no-input-feed": seq2seq(decoder_layers=1)}.get(case, model)
    cache = seq2seq_state(other, batch_size=2 if case == "batch" else 1)
    kwargs = {"use_cache": False} if case == "use_cache-False" else {}
    with torch.no_grad(), pytest.raises(ValueError, match=pattern):
        model(torch.tensor([[4, 5, 6]]), decoder_input_ids=torch.tensor([[7]]), cache=cache, **kwargs)


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("1d", r"^input_ids has shape \(3,\); expected \(batch, time\)"),
        ("length-0", r"^input_ids has shape \(1, 0\): no time steps"),
        ("float", "^input_ids must hold integer"),
    ],
)
@pytest.mark.parametrize("kind", ["causal_lm", "seq2seq"])
def test_generate_checks_the_prompt_before_indexing_it(case, pattern, kind):
    ids = {"1d": torch.tensor([4, 5, 6]), "length-0": torch.zeros(1, 0, dtype=torch.long)}.get(case)
    ids = torch.tensor([[4.0, 5.0]]) if ids is None else ids
    model = lm() if kind == "causal_lm" else seq2seq()
    with pytest.raises((ValueError, TypeError), match=pattern):
        model.generate(ids, max_new_tokens=2)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_max_pooling_of_a_row_without_tokens_gives_zeros_like_mean(cell, bidirectional):
    """It gave logits near -1e38 (torch.finfo.min through amax); now every pooling gives zeros for that row."""
    ids = torch.tensor([[1, 2, 3], [0, 0, 0]])
    mask = torch.tensor([[1, 1, 1], [0, 0, 0]])
    for pooling in ("max", "mean", "last"):
        config = tiny_config(cell, classifier_pooling=pooling, bidirectional=bidirectional, num_labels=2)
        model = seeded(RNNForSequenceClassification, config)
        with torch.no_grad():
            logits = model(ids, attention_mask=mask).logits
            alone = model.model(ids[:1]).last_hidden_state
        assert logits.isfinite().all()
        torch.testing.assert_close(logits[1], model.score.bias)  # zeros pooled: only the bias is left
        if pooling == "max":  # the row with tokens is still the maximum over its own positions
            torch.testing.assert_close(logits[0], model.score(alone.amax(1))[0])


def test_from_pretrained_on_a_folder_without_config_names_it(tmp_path):
    lm().save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(ValueError, match="^pretrained_model_name_or_path=.* folder without config.json"):
        RNNForCausalLM.from_pretrained(tmp_path)
    # The Auto classes fail inside AutoConfig before any hf_rnn code runs (documented, not fixable from here).
    with pytest.raises(ValueError, match="model_type"):
        AutoModelForCausalLM.from_pretrained(tmp_path)


@pytest.fixture(scope="module")
def empty_text_pipelines(char_tokenizer):
    vocab_size = len(char_tokenizer)
    heads = {
        "text-generation": RNNForCausalLM(tiny_config(vocab_size=vocab_size)),
        "text-classification": RNNForSequenceClassification(tiny_config(vocab_size=vocab_size)),
        "token-classification": RNNForTokenClassification(tiny_config(vocab_size=vocab_size, num_labels=3)),
        "feature-extraction": RNNModel(tiny_config(vocab_size=vocab_size)),
        TRANSLATION_TASK: seq2seq(vocab_size=vocab_size),
    }
    return {task: pipeline(task, model=model.eval(), tokenizer=char_tokenizer) for task, model in heads.items()}


@pytest.mark.parametrize(
    "task", ["text-classification", "token-classification", "feature-extraction", TRANSLATION_TASK]
)
def test_empty_text_in_a_pipeline_is_a_clear_error(task, empty_text_pipelines):
    kwargs = {"max_new_tokens": 2} if task == TRANSLATION_TASK else {}
    with pytest.raises(ValueError, match=r"^input_ids has shape \(1, 0\): no time steps.*empty text"):
        empty_text_pipelines[task]("", **kwargs)


def test_empty_prompt_in_text_generation_starts_from_bos(empty_text_pipelines):
    """transformers' text-generation pipeline turns an empty prompt into input_ids=None: generate() starts at BOS."""
    out = empty_text_pipelines["text-generation"]("", max_new_tokens=3, do_sample=False)
    assert isinstance(out[0]["generated_text"], str) and len(out[0]["generated_text"]) >= 1
