"""Tests for hf_rnn.tokenization: round trips, special tokens, and the transformers recipes (words split in
advance for token classification, targets ending with </s> for sequence to sequence), before and after a reload."""

from __future__ import annotations

import pytest
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, DataCollatorForTokenClassification

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
SEEN_TEXT = (
    "The lazy dog reads one token at a time,  and keeps a hidden state.\n\nThen it is sunny? No!\n\tIndented line.\n"
)


@pytest.fixture(scope="module", params=TOKENIZER_KINDS)
def tok(request):
    return train_tokenizer(CORPUS, kind=request.param, vocab_size=400)


def _roundtrip(tokenizer, text: str) -> str:
    return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)


def test_roundtrip_seen_text(tok):
    ids = tok(SEEN_TEXT)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == SEEN_TEXT


@pytest.mark.parametrize("text", ["The  dog", "\n", "  \n\n ", " dog.\n\tIndented"])
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
    # The first word too carries its space (add_prefix_space), so it is the token it is mid-sentence.
    assert tok.tokenize("The lazy dog.") == [" The", " lazy", " dog", "."]
    ids = tok("The zebra dog")["input_ids"]
    assert ids == [
        tok.convert_tokens_to_ids(" The"),
        tok.unk_token_id,
        tok.convert_tokens_to_ids(" dog"),
    ]


def test_char_tokens_are_single_characters():
    tok = train_tokenizer(CORPUS, kind="char")
    assert tok.tokenize("a b\n") == [" ", "a", " ", "b", "\n"]
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
    assert " xylophone" in rare.get_vocab()
    assert " xylophone" not in common.get_vocab()


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


# CoNLL-2003's first sentences, as a token-classification data set gives them: words and IOB2 tags.
TAGGED = [
    (["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
     ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]),
    (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    (["BRUSSELS", "1996-08-22"], ["B-LOC", "O"]),
    (["The", "European", "Commission", "said", "on", "Thursday", "it", "disagreed", "with", "German", "advice", "."],
     ["O", "B-ORG", "I-ORG", "O", "O", "O", "O", "O", "O", "B-MISC", "O", "O"]),
]  # fmt: skip
TAG_NAMES = sorted({tag for _, tags in TAGGED for tag in tags})


@pytest.fixture(scope="module", params=TOKENIZER_KINDS)
def tagging_tokenizers(request, tmp_path_factory):
    """A tokenizer trained on the tagged sentences as running text, and the same one saved and loaded back."""
    tok = train_tokenizer([" ".join(words) for words, _ in TAGGED], kind=request.param, vocab_size=400)
    folder = tmp_path_factory.mktemp(f"tagging_{request.param}")
    tok.save_pretrained(folder)
    return tok, AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("words", [["EU", "rejects", "German", "call"], TAGGED[3][0]], ids=["short", "long"])
def test_words_split_in_advance_encode_as_running_text(tagging_tokenizers, words):
    for tok in tagging_tokenizers:
        split = tok(words, is_split_into_words=True)
        one_by_one = [tok(word).input_ids for word in words]
        assert tok.unk_token_id not in split.input_ids
        assert split.input_ids == [i for ids in one_by_one for i in ids]
        assert split.input_ids == tok(" ".join(words)).input_ids  # as the pipelines pass text
        assert split.word_ids() == [n for n, ids in enumerate(one_by_one) for _ in ids]
        assert tok.decode(split.input_ids) == " ".join(words)


def test_offsets_span_words_without_their_spaces(tagging_tokenizers):
    # What the token-classification pipeline reports as an entity's start, end and word.
    text = "EU rejects German call"
    for tok in tagging_tokenizers:
        offsets = tok(text, return_offsets_mapping=True).offset_mapping
        spans = [text[start:end] for start, end in offsets if end > start]
        assert "".join(spans) == text.replace(" ", "")


def test_split_words_are_the_same_tokens_after_a_reload(tagging_tokenizers):
    tok, reloaded = tagging_tokenizers
    batch = [words for words, _ in TAGGED]
    assert reloaded(batch, is_split_into_words=True).input_ids == tok(batch, is_split_into_words=True).input_ids
    assert reloaded.add_prefix_space is True


def test_token_classification_recipe_trains_on_known_words(tagging_tokenizers):
    """transformers' token-classification recipe: `Dataset.map` with `is_split_into_words=True`, each word's first
    token labelled through `word_ids()`, batches from `DataCollatorForTokenClassification`."""
    tok = tagging_tokenizers[1]  # as a user loads it from the saved folder
    label2id = {tag: i for i, tag in enumerate(TAG_NAMES)}
    data = Dataset.from_dict({"tokens": [w for w, _ in TAGGED], "ner_tags": [t for _, t in TAGGED]})

    def tokenize_and_align_labels(examples):
        encoded = tok(examples["tokens"], is_split_into_words=True, truncation=True)
        encoded["labels"] = []
        for row, tags in enumerate(examples["ner_tags"]):
            previous, labels = None, []
            for word in encoded.word_ids(row):
                labels.append(-100 if word is None or word == previous else label2id[tags[word]])
                previous = word
            encoded["labels"].append(labels)
        return encoded

    encoded = data.map(tokenize_and_align_labels, batched=True, remove_columns=data.column_names)
    batch = DataCollatorForTokenClassification(tok)([encoded[i] for i in range(len(encoded))])
    real = batch["attention_mask"].bool()
    assert tok.unk_token_id not in batch["input_ids"][real].tolist()
    for row, (_, tags) in enumerate(TAGGED):
        scored = batch["labels"][row][batch["labels"][row] != -100].tolist()
        assert scored == [label2id[tag] for tag in tags]  # one label per word, in order


def test_without_prefix_space_a_text_starts_with_its_own_first_token():
    # For the lines of one running text (a causal LM's): no space appears after a line break.
    tok = train_tokenizer(CORPUS, kind="word", add_prefix_space=False)
    assert tok.tokenize("The lazy dog.\nThe") == ["The", " lazy", " dog", ".", "\n", "The"]
    assert _roundtrip(tok, SEEN_TEXT) == SEEN_TEXT
    assert tok.add_prefix_space is False


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_add_eos_token_ends_sources_and_targets_with_one_eos(kind, tmp_path):
    tok = train_tokenizer(CORPUS, kind=kind, vocab_size=400, add_eos_token=True)
    tok.save_pretrained(tmp_path)
    sources, targets = ["The lazy dog.", "A hidden state."], ["Is it sunny?", "The dog"]
    for t in (tok, AutoTokenizer.from_pretrained(tmp_path)):
        encoded = t(sources, text_target=targets)
        for ids in (*encoded.input_ids, *encoded["labels"]):
            assert ids[-1] == t.eos_token_id and ids.count(t.eos_token_id) == 1
        assert encoded["labels"][0] == tok(text_target=targets[0]).input_ids
        assert t.batch_decode(encoded["labels"], skip_special_tokens=True) == targets
        # Truncation keeps the end of sequence: max_length counts it.
        cut = t(text_target=targets[0], max_length=3, truncation=True).input_ids
        assert len(cut) == 3 and cut[-1] == t.eos_token_id


def test_no_eos_unless_asked(tmp_path):
    tok = train_tokenizer(CORPUS, kind="word")
    tok.save_pretrained(tmp_path)
    for t in (tok, AutoTokenizer.from_pretrained(tmp_path)):
        assert t.eos_token_id not in t("The dog.", text_target="The dog.")["labels"]
