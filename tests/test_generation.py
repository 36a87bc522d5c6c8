"""generate() with the recurrent cache gives what a full recomputation gives."""

import pytest
import torch
from helpers import seeded, tiny_config

from hf_rnn import CACHE_NAME, RecurrentCache, RNNForCausalLM, RNNModel, output_state
from hf_rnn.modeling_rnn import DECODE_KERNEL_MAX_ROWS

NEW_TOKENS = 12


def lm(cell: str, **overrides) -> RNNForCausalLM:
    # No EOS, so every run produces exactly NEW_TOKENS tokens and runs compare position by position.
    return seeded(RNNForCausalLM, tiny_config(cell, eos_token_id=None, **overrides), seed=1)


def greedy_by_recomputation(model, input_ids, steps):
    """Reference decoder: re-run the whole sequence without any cache at every step."""
    sequence = input_ids
    for _ in range(steps):
        logits = model(sequence, use_cache=False).logits
        sequence = torch.cat([sequence, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return sequence


def test_greedy_generate_equals_full_recomputation(cell):
    model = lm(cell)
    prompt = torch.tensor([[5, 9, 2, 17, 30]])
    with torch.no_grad():
        generated = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        reference = greedy_by_recomputation(model, prompt, NEW_TOKENS)
    assert generated.shape[1] == prompt.shape[1] + NEW_TOKENS
    assert torch.equal(generated, reference)


def test_cached_step_logits_equal_full_sequence_logits(cell):
    model = lm(cell)
    ids = torch.tensor([[4, 8, 15, 16, 23, 35]])
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :2], use_cache=True)
        stepwise = [out.logits]
        for t in range(2, ids.shape[1]):
            out = model(ids[:, t : t + 1], cache=output_state(out))
            stepwise.append(out.logits)
    torch.testing.assert_close(torch.cat(stepwise, dim=1), full, atol=1e-6, rtol=0)
    assert output_state(out).get_seq_length() == ids.shape[1]


def test_cached_beam_search_equals_uncached_beam_search(cell):
    model = lm(cell)
    prompt = torch.tensor([[7, 3, 12], [1, 30, 22]])
    kwargs = {"max_new_tokens": NEW_TOKENS, "num_beams": 4, "do_sample": False, "num_return_sequences": 2}
    with torch.no_grad():
        cached = model.generate(prompt, use_cache=True, **kwargs)
        uncached = model.generate(prompt, use_cache=False, **kwargs)
    assert cached.shape == (4, prompt.shape[1] + NEW_TOKENS)
    assert torch.equal(cached, uncached)


def test_sampling_with_cache_equals_sampling_without_cache(cell):
    model = lm(cell)
    prompt = torch.tensor([[6, 6, 19]])
    results = []
    for use_cache in (True, False):
        torch.manual_seed(123)
        with torch.no_grad():
            results.append(
                model.generate(prompt, do_sample=True, top_k=0, max_new_tokens=NEW_TOKENS, use_cache=use_cache)
            )
    assert torch.equal(results[0], results[1])


def test_left_padded_batch_generates_what_each_prompt_generates_alone(cell):
    model = lm(cell)
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        batched = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=NEW_TOKENS, do_sample=False)
        for row, prompt in enumerate(prompts):
            alone = model.generate(torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False)
            assert torch.equal(batched[row, width:], alone[0, len(prompt) :])


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_continues_from_a_returned_cache(num_beams):
    """The cache has read the prompt but its last token: generate() feeds only that token, then one per step."""
    model = lm("lstm")
    prompt = torch.tensor([[3, 14, 15, 9, 26], [4, 1, 5, 9, 2]])
    settings = {"max_new_tokens": NEW_TOKENS, "do_sample": False, "num_beams": num_beams}
    seen_lengths = []
    with torch.no_grad():
        reference = model.generate(prompt, output_scores=True, return_dict_in_generate=True, **settings)
        cache = output_state(model(prompt[:, :-1], use_cache=True))
        hook = model.model.embed_tokens.register_forward_hook(lambda m, a, o: seen_lengths.append(a[0].shape[1]))
        continued = model.generate(
            prompt, **{CACHE_NAME: cache}, output_scores=True, return_dict_in_generate=True, **settings
        )
        hook.remove()
    assert seen_lengths == [1] * NEW_TOKENS
    assert torch.equal(continued.sequences, reference.sequences)
    for step, expected in zip(continued.scores, reference.scores):
        torch.testing.assert_close(step, expected, atol=1e-6, rtol=0)


def test_generate_from_a_cache_without_the_sequence_it_read_is_an_error():
    model = lm("gru")
    with torch.no_grad():
        cache = output_state(model(torch.tensor([[3, 14, 15, 9]]), use_cache=True))
        with pytest.raises(ValueError, match="whole sequence"):
            model.generate(torch.tensor([[26]]), **{CACHE_NAME: cache}, max_new_tokens=2)


def test_generation_runs_one_new_token_per_step():
    """With the cache, each decoding step feeds the model one token, not the whole sequence."""
    model = lm("gru")
    seen_lengths = []
    hook = model.model.embed_tokens.register_forward_hook(lambda m, args, out: seen_lengths.append(args[0].shape[1]))
    with torch.no_grad():
        model.generate(torch.tensor([[1, 2, 3, 4]]), max_new_tokens=5, do_sample=False)
    hook.remove()
    assert seen_lengths == [4, 1, 1, 1, 1]


def test_cache_holds_one_state_per_layer_in_batch_first_layout():
    model = lm("lstm", num_hidden_layers=3)
    with torch.no_grad():
        cache = output_state(model(torch.tensor([[1, 2, 3], [4, 5, 6]]), use_cache=True))
    assert isinstance(cache, RecurrentCache)
    assert len(cache.layers) == 3
    h, c = cache.get_layer_state(0)
    assert h.shape == c.shape == (1, 2, model.config.hidden_size)
    assert cache.get_seq_length() == 3


def test_bidirectional_stack_refuses_to_continue_a_cache():
    model = seeded(RNNModel, tiny_config("gru", bidirectional=True))
    cache = output_state(model(torch.tensor([[1, 2, 3]]), use_cache=True))
    with pytest.raises(ValueError, match="bidirectional"):
        model(torch.tensor([[4]]), cache=cache)


def test_assisted_generation_is_refused_for_a_stateful_model():
    model = lm("lstm")
    with pytest.raises(ValueError, match="stateful"):
        model.generate(torch.tensor([[1, 2]]), assistant_model=lm("lstm"), max_new_tokens=2)


@pytest.mark.parametrize("head", ["causal_lm", "bare"])
def test_state_is_accepted_under_both_names_and_returned_under_the_installed_one(head):
    """`cache` (transformers >= 5.24) and `past_key_values` (before) are the same argument on every release."""
    model = lm("lstm") if head == "causal_lm" else seeded(RNNModel, tiny_config("lstm"))
    ids = torch.tensor([[4, 8, 15, 16]])
    with torch.no_grad():
        full = model(ids).last_hidden_state if head == "bare" else model(ids).logits
        continued = {}
        for name in ("cache", "past_key_values"):
            first = model(ids[:, :2], use_cache=True)
            assert CACHE_NAME in first.keys()  # the field generate() reads back
            out = model(ids[:, 2:], **{name: output_state(first)})
            continued[name] = out.last_hidden_state if head == "bare" else out.logits
    for name in continued:
        torch.testing.assert_close(continued[name], full[:, 2:], atol=1e-6, rtol=0)


def test_state_under_both_names_at_once_is_an_error():
    model = lm("gru")
    with torch.no_grad():
        cache = output_state(model(torch.tensor([[1, 2]]), use_cache=True))
        with pytest.raises(ValueError, match="cache.*past_key_values"):
            model(torch.tensor([[3]]), cache=cache, past_key_values=cache)


@pytest.mark.parametrize("misspelt", ["past_key_value", "caches", "attention_masks"])
def test_a_misspelt_keyword_is_an_error_not_ignored(misspelt):
    """An ignored state argument would restart from a zero state and silently change the text."""
    model = lm("lstm")
    with torch.no_grad():
        cache = output_state(model(torch.tensor([[1, 2]]), use_cache=True))
        with pytest.raises(TypeError, match=misspelt):
            model(torch.tensor([[3]]), **{misspelt: cache})
        with pytest.raises((TypeError, ValueError), match=misspelt):
            model.generate(torch.tensor([[1, 2]]), max_new_tokens=2, **{misspelt: cache})


def test_a_cache_of_another_kind_is_an_error():
    from transformers import DynamicCache

    model = lm("lstm")
    with pytest.raises(TypeError, match="RecurrentCache"):
        model(torch.tensor([[3]]), cache=DynamicCache())


def test_state_handling_logs_no_deprecation_warning():
    """The name change of 5.24 stays inside hf_rnn: forward, generate and beam search warn about nothing."""
    import logging

    from hf_rnn import RNNSeq2SeqConfig, RNNSeq2SeqForConditionalGeneration

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    library_logger = logging.getLogger("transformers")
    library_logger.addHandler(handler)
    warning_once = logging.Logger.warning_once
    warning_once.cache_clear()  # a warning already given once in this process would otherwise stay silent
    try:
        model = lm("lstm")
        translator = seeded(
            RNNSeq2SeqForConditionalGeneration,
            RNNSeq2SeqConfig(vocab_size=20, hidden_size=8, pad_token_id=0, bos_token_id=1, eos_token_id=2),
        )
        prompt = torch.tensor([[3, 4, 5]])
        with torch.no_grad():
            out = model(prompt, use_cache=True)
            model(torch.tensor([[6]]), cache=output_state(out))
            for num_beams in (1, 3):
                model.generate(prompt, max_new_tokens=3, num_beams=num_beams, do_sample=False)
                translator.generate(prompt, max_new_tokens=3, num_beams=num_beams)
                for name in ("cache", "past_key_values"):  # either name, on every release
                    state = output_state(model(prompt, use_cache=True))
                    whole = torch.cat([prompt, prompt], 1)
                    model.generate(whole, max_new_tokens=2, num_beams=num_beams, **{name: state})
    finally:
        library_logger.removeHandler(handler)
    messages = [record.getMessage() for record in records]
    assert not [m for m in messages if "deprecat" in m.lower()], messages


# generate()'s decode steps take a lean path (no mask, no input or cache checks): it must change no token.
DECODE_MODES = {
    "greedy": {"do_sample": False},
    "sampling": {"do_sample": True, "top_k": 0},
    "beams": {"do_sample": False, "num_beams": 4, "num_return_sequences": 2},
}


def generate_with_and_without_decode_steps(model, monkeypatch, **kwargs) -> tuple[torch.Tensor, torch.Tensor, int]:
    """generate() as it runs, and with every step through the general path; and how many lean steps it took."""
    taken = []
    take = RecurrentCache.take_decode_step

    def counting(self):
        taken.append(take(self))
        return taken[-1]

    results = []
    for lean in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(RecurrentCache, "take_decode_step", counting)
            if not lean:
                patch.setattr(RNNForCausalLM, "is_decode_step", lambda *args: False)
            torch.manual_seed(123)
            with torch.no_grad():
                results.append(model.generate(**kwargs))
    return results[0], results[1], sum(taken)


@pytest.mark.parametrize("mode", list(DECODE_MODES))
def test_lean_decode_steps_generate_what_the_checked_path_generates(cell, mode, monkeypatch):
    model = lm(cell)
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    lean, checked, lean_steps = generate_with_and_without_decode_steps(
        model,
        monkeypatch,
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=NEW_TOKENS,
        **DECODE_MODES[mode],
    )
    assert lean_steps == NEW_TOKENS - 1  # every step after the prompt's
    assert torch.equal(lean, checked)


def test_lean_decode_steps_equal_full_recomputation_of_a_left_padded_batch(cell):
    model = lm(cell)
    input_ids = torch.tensor([[5, 6, 7, 8, 9], [0, 0, 0, 10, 11]])
    attention_mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]])
    with torch.no_grad():
        generated = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=NEW_TOKENS, do_sample=False)
        sequence, mask = input_ids, attention_mask
        for _ in range(NEW_TOKENS):
            logits = model(sequence, attention_mask=mask, use_cache=False).logits
            sequence = torch.cat([sequence, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    assert torch.equal(generated, sequence)


def test_a_direct_forward_after_generate_still_checks_its_input():
    model = lm("lstm")
    with torch.no_grad():
        out = model.generate(torch.tensor([[3, 4]]), max_new_tokens=3, do_sample=False, return_dict_in_generate=True)
        state = output_state(out)
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model(torch.tensor([[10_000]]), cache=state)


# generate()'s CPU decode steps run torch's cell equations on transposed copies of the weights (DecodeWeights).
DECODE_SHAPES = {
    "lstm": {"cell": "lstm"},
    "lstm with projection": {"cell": "lstm", "hidden_size": 16, "proj_size": 12},
    "gru": {"cell": "gru"},
    "rnn_tanh": {"cell": "rnn_tanh"},
    "rnn_relu": {"cell": "rnn_relu"},
}


@pytest.mark.parametrize("rows", [2, DECODE_KERNEL_MAX_ROWS + 1], ids=["transposed", "fused"])
@pytest.mark.parametrize("shape", list(DECODE_SHAPES))
def test_decode_steps_equal_the_forward(shape, rows):
    """Small batches step on transposed weight copies, larger ones through the fused layers: both as the forward."""
    overrides = dict(DECODE_SHAPES[shape])
    model = lm(overrides.pop("cell"), **overrides)
    ids = torch.randint(1, model.config.vocab_size, (rows, 6), generator=torch.Generator().manual_seed(rows))
    with torch.no_grad():
        full = model(ids).logits
        state = output_state(model(ids[:, :2], use_cache=True))
        steps = []
        for t in range(2, ids.shape[1]):
            state.next_step_is_generated = True  # as generate() marks its decode steps
            steps.append(model(ids[:, t : t + 1], cache=state).logits)
    assert ("_decode_weights" in model.__dict__) == (rows <= DECODE_KERNEL_MAX_ROWS)
    torch.testing.assert_close(torch.cat(steps, dim=1), full[:, 2:], atol=1e-6, rtol=0)
    assert state.get_seq_length() == ids.shape[1]


def test_decode_weights_follow_a_change_of_the_weights(cell):
    model = lm(cell)
    prompt = torch.tensor([[5, 9, 2, 17, 30]])
    with torch.no_grad():
        before = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        torch.manual_seed(7)
        for parameter in model.parameters():  # in place, as an optimizer step
            parameter.copy_(torch.randn_like(parameter))
        after = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        assert torch.equal(after, greedy_by_recomputation(model, prompt, NEW_TOKENS))
        model.load_state_dict(lm(cell).state_dict())
        assert torch.equal(model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False), before)
    assert not torch.equal(before, after)


def test_decode_steps_with_gradients_on_take_the_forward():
    model = lm("gru")
    state = output_state(model(torch.tensor([[3, 4]]), use_cache=True))
    state.next_step_is_generated = True
    logits = model(torch.tensor([[5]]), cache=state).logits
    assert logits.requires_grad and "_decode_weights" not in model.__dict__


def test_a_model_made_under_inference_mode_generates_through_the_fused_layers():
    """Its parameters keep no version counter, so no transposed copy could tell that they changed."""
    with torch.inference_mode():
        model = lm("lstm")
        prompt = torch.tensor([[5, 9, 2, 17, 30]])
        generated = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        assert torch.equal(generated, greedy_by_recomputation(model, prompt, NEW_TOKENS))
    assert "_decode_weights" not in model.__dict__
