"""Tests for hf_rnn.tokenization."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from hf_rnn.tokenization import (
    BOS_TOKEN,
    EOS_TOKEN,
    PAD_TOKEN,
    TOKENIZER_KINDS,
    UNK_TOKEN,
    train_tokenizer,
)

_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A recurrent network reads one token at a time,  and keeps a hidden state.",
    "Is it raining?  No, it is sunny!\nThen let us walk.",
    "Numbers like 42 and 1999 appear; so do (brackets) and 'quotes'.",
    "\tIndented line with a tab.\n\nBlank line above.",
    'She said: "hello there" -- and left.',
]
# A few dozen lines with punctuation, double spaces, tabs and newlines.
CORPUS = [f"{s} Line {i}.\n" for i in range(6) for s in _SENTENCES]

# Built only from characters and words that occur in CORPUS, so every kind must restore it.
SEEN_TEXT = "The lazy dog reads one token at a time,  and keeps a hidden state.\n\nIs it sunny? No!\n\tIndented line.\n"


@pytest.fixture(scope="module", params=TOKENIZER_KINDS)
def tok(request):
    return train_tokenizer(CORPUS, kind=request.param, vocab_size=400)


def _roundtrip(tokenizer, text: str) -> str:
    return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)


def test_roundtrip_seen_text(tok):
    ids = tok(SEEN_TEXT)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == SEEN_TEXT


@pytest.mark.parametrize("text", ["The  dog", "\n", "  \n\n ", " dog.\n\tThe"])
def test_roundtrip_whitespace(tok, text):
    assert _roundtrip(tok, text) == text


def test_roundtrip_whole_corpus(tok):
    for line in CORPUS:
        assert _roundtrip(tok, line) == line


def test_no_bos_eos_added(tok):
    ids = tok("The dog.")["input_ids"]
    assert tok.bos_token_id not in ids
    assert tok.eos_token_id not in ids


def test_special_tokens(tok):
    assert [tok.pad_token, tok.unk_token, tok.bos_token, tok.eos_token] == [
        PAD_TOKEN,
        UNK_TOKEN,
        BOS_TOKEN,
        EOS_TOKEN,
    ]
    assert [tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id] == [
        0,
        1,
        2,
        3,
    ]
    assert tok.convert_tokens_to_ids([PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN]) == [
        0,
        1,
        2,
        3,
    ]
    # Specials are atomic when written in text, and skipped on decode.
    ids = tok(f"{BOS_TOKEN}The dog.{EOS_TOKEN}")["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3
    assert tok.decode(ids, skip_special_tokens=True) == "The dog."


def test_defaults(tok):
    assert tok.padding_side == "left"
    assert tok.model_max_length == 1_000_000


def test_save_and_reload(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in [SEEN_TEXT, *CORPUS[:6], "zebra  unseen\n"]:
        ids = tok(text)["input_ids"]
        assert reloaded(text)["input_ids"] == ids
        assert reloaded.decode(ids) == tok.decode(ids)
    assert reloaded.get_vocab() == tok.get_vocab()
    assert reloaded.padding_side == "left"
    assert reloaded.model_max_length == tok.model_max_length
    assert [
        reloaded.pad_token_id,
        reloaded.unk_token_id,
        reloaded.bos_token_id,
        reloaded.eos_token_id,
    ] == [
        0,
        1,
        2,
        3,
    ]


def test_left_padding(tok):
    batch = tok(["The dog.", "The quick brown fox jumps over the lazy dog."], padding=True)
    short, long = batch["input_ids"]
    short_mask, long_mask = batch["attention_mask"]
    assert len(short) == len(long)
    n_real = len(tok("The dog.")["input_ids"])
    n_pad = len(short) - n_real
    assert n_pad > 0
    assert short[:n_pad] == [tok.pad_token_id] * n_pad
    assert short_mask == [0] * n_pad + [1] * n_real
    assert short[n_pad:] == tok("The dog.")["input_ids"]
    assert all(long_mask)


def test_right_padding():
    tok = train_tokenizer(CORPUS, kind="word", padding_side="right")
    batch = tok(["The dog.", "The quick brown fox jumps over the lazy dog."], padding=True)
    assert batch["attention_mask"][0][0] == 1
    assert batch["attention_mask"][0][-1] == 0
    assert batch["input_ids"][0][-1] == tok.pad_token_id


def test_word_tokens_are_readable_and_unseen_word_is_unk():
    tok = train_tokenizer(CORPUS, kind="word")
    assert tok.tokenize("The lazy dog.") == ["The", " lazy", " dog", "."]
    ids = tok("The zebra dog")["input_ids"]
    assert ids == [
        tok.convert_tokens_to_ids("The"),
        tok.unk_token_id,
        tok.convert_tokens_to_ids(" dog"),
    ]


def test_char_tokens_are_single_characters():
    tok = train_tokenizer(CORPUS, kind="char")
    assert tok.tokenize("a b\n") == ["a", " ", "b", "\n"]
    assert tok("a\u00e9")["input_ids"][-1] == tok.unk_token_id  # "é" never seen
    vocab = set(tok.get_vocab()) - {PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN}
    assert vocab == set("".join(CORPUS))


def test_bpe_unseen_text_has_no_unk_and_roundtrips():
    tok = train_tokenizer(CORPUS, kind="bpe", vocab_size=400)
    text = "Zebras quizzically juxtapose \u00e9t\u00e9 \u65e5\u672c \U0001f600  \r\n!"
    ids = tok(text)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text


_BPE = train_tokenizer(CORPUS, kind="bpe", vocab_size=300)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60).filter(lambda s: "<" not in s))
def test_bpe_roundtrips_any_text(text):
    assert _roundtrip(_BPE, text) == text


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_lowercase(kind):
    tok = train_tokenizer(CORPUS, kind=kind, lowercase=True)
    assert _roundtrip(tok, SEEN_TEXT) == SEEN_TEXT.lower()
    assert tok("THE DOG")["input_ids"] == tok("the dog")["input_ids"]
    if kind != "bpe":  # the byte alphabet always contains upper-case symbols
        assert not any(c.isupper() for t in tok.get_vocab() if t not in (PAD_TOKEN, UNK_TOKEN) for c in t)


@pytest.mark.parametrize(("kind", "vocab_size"), [("char", 10), ("word", 25), ("bpe", 270), ("bpe", 300)])
def test_vocab_size_is_an_exact_cap(kind, vocab_size):
    # The corpus has more symbols than the cap, so the cap (specials included) is reached exactly.
    tok = train_tokenizer(CORPUS, kind=kind, vocab_size=vocab_size)
    assert len(tok) == vocab_size
    assert max(tok.get_vocab().values()) == vocab_size - 1


def test_vocab_size_keeps_most_frequent():
    tok = train_tokenizer(CORPUS, kind="char", vocab_size=5)
    # Space is by far the most frequent character, so it takes the only non-special slot.
    assert tok.convert_ids_to_tokens(4) == " "


def test_large_vocab_size_is_upper_bound_only():
    tok = train_tokenizer(CORPUS, kind="word", vocab_size=100_000)
    assert len(tok) < 200


def test_min_frequency():
    rare = train_tokenizer([*CORPUS, "xylophone"], kind="word", min_frequency=1)
    common = train_tokenizer([*CORPUS, "xylophone"], kind="word", min_frequency=2)
    assert "xylophone" in rare.get_vocab()
    assert "xylophone" not in common.get_vocab()


def test_accepts_generator():
    tok = train_tokenizer((line for line in CORPUS), kind="word")
    assert _roundtrip(tok, SEEN_TEXT) == SEEN_TEXT


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kind": "foo"}, "kind"),
        ({"kind": "BPE"}, "kind"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"vocab_size": -5, "kind": "word"}, "vocab_size"),
        ({"vocab_size": 100, "kind": "bpe"}, "vocab_size"),
        ({"padding_side": "middle"}, "padding_side"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train_tokenizer(CORPUS, **kwargs)


def test_bad_kind_message_lists_choices():
    with pytest.raises(ValueError) as excinfo:
        train_tokenizer(CORPUS, kind="foo")
    message = str(excinfo.value)
    assert "kind='foo'" in message
    for kind in TOKENIZER_KINDS:
        assert repr(kind) in message


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
@pytest.mark.parametrize("texts", [[], [""], ["", ""]], ids=["none", "empty", "empties"])
def test_empty_corpus(kind, texts):
    with pytest.raises(ValueError, match="texts"):
        train_tokenizer(texts, kind=kind)
    with pytest.raises(ValueError, match="texts"):
        train_tokenizer(iter(texts), kind=kind)
