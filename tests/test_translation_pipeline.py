"""The translation pipeline (transformers 5 removed its own) translates with a saved hf_rnn folder.

A module-scoped fixture trains the reversal model of test_seq2seq.py (ids 4-13) and saves it next to a character
tokenizer whose ten letters a-j get exactly those ids, so the pipeline must turn "abc" into "cba".
"""

import pytest
import torch
from helpers import train_reversal_model
from transformers import pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from hf_rnn import TRANSLATION_TASK, RNNSeq2SeqForConditionalGeneration, TranslationPipeline, train_tokenizer

LETTERS = "abcdefghij"
TEXTS = ["abc", "hgfe", "jjiab", "abcdefg", "ddb"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, one_thread):
    tokenizer = train_tokenizer([LETTERS], kind="char", add_prefix_space=False)  # the task's alphabet has no space
    assert [tokenizer.convert_tokens_to_ids(c) for c in LETTERS] == list(range(4, 14))
    folder = tmp_path_factory.mktemp("translator")
    train_reversal_model("luong_general").save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def translator(folder):
    return pipeline(TRANSLATION_TASK, model=str(folder))


def generate_and_decode(translator, text: str, **generate_kwargs) -> list[str]:
    """What the pipeline must return, computed by hand: tokenizer -> model.generate -> decode."""
    encoded = translator.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        output_ids = translator.model.generate(**encoded, **generate_kwargs)
    return translator.tokenizer.batch_decode(output_ids, skip_special_tokens=True)


def test_translation_task_is_registered_on_import():
    assert TRANSLATION_TASK in PIPELINE_REGISTRY.get_supported_tasks()
    _, implementation, _ = PIPELINE_REGISTRY.check_task(TRANSLATION_TASK)
    assert implementation["impl"] is TranslationPipeline


def test_pipeline_loads_the_saved_model_and_tokenizer(translator):
    assert isinstance(translator, TranslationPipeline)
    assert isinstance(translator.model, RNNSeq2SeqForConditionalGeneration)
    assert not translator.model.training


def test_pipeline_translates_a_batch_of_strings(translator):
    results = translator(TEXTS, batch_size=2)
    assert results == [{"translation_text": text[::-1]} for text in TEXTS]


def test_pipeline_output_equals_generate_and_decode(translator):
    for text in TEXTS:
        # Without a length setting the pipeline allows up to 256 new tokens.
        expected = generate_and_decode(translator, text, max_new_tokens=256)
        assert translator(text) == [{"translation_text": t} for t in expected]
        assert translator(text, max_new_tokens=3) == [
            {"translation_text": t} for t in generate_and_decode(translator, text, max_new_tokens=3)
        ]


def test_batched_translation_equals_one_text_at_a_time(translator):
    one_by_one = [translator(text)[0] for text in TEXTS]
    assert translator(TEXTS, batch_size=3) == one_by_one
    assert translator(TEXTS, batch_size=len(TEXTS), num_beams=2) == [translator(t, num_beams=2)[0] for t in TEXTS]


def test_max_new_tokens_is_honoured(translator):
    assert translator(TEXTS, max_new_tokens=2) == [{"translation_text": text[::-1][:2]} for text in TEXTS]


def test_generation_settings_given_at_construction_apply_to_every_call(folder):
    short = pipeline(TRANSLATION_TASK, model=str(folder), max_new_tokens=1)
    assert short(TEXTS) == [{"translation_text": text[-1]} for text in TEXTS]


def test_beam_search_returns_the_requested_number_of_sequences(translator):
    kwargs = {"num_beams": 3, "num_return_sequences": 3, "length_penalty": 0.6, "max_new_tokens": 9}
    results = translator(TEXTS[:2], **kwargs)
    assert len(results) == 2 and all(len(result) == 3 for result in results)
    for text, result in zip(TEXTS[:2], results):
        assert [r["translation_text"] for r in result] == generate_and_decode(translator, text, **kwargs)
        assert result[0]["translation_text"] == text[::-1]
        assert len({r["translation_text"] for r in result}) == 3
