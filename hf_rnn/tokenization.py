"""Train small character-, word- or byte-level BPE tokenizers for RNN language models.

Every tokenizer returned here is a ``transformers.PreTrainedTokenizerFast`` whose
``decode`` restores the original text exactly (spaces and newlines included),
because the text-generation pipeline decodes new ids and appends them to the prompt.
Everything it does lives in its ``tokenizer.json``, so the folder it saves behaves the
same when ``AutoTokenizer.from_pretrained`` loads it back, without hf_rnn.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized

from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

__all__ = [
    "BOS_TOKEN",
    "EOS_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "UNK_TOKEN",
    "token_spellings",
    "train_tokenizer",
]

TOKENIZER_KINDS = ("char", "word", "bpe")
PADDING_SIDES = ("left", "right")

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
# The trainers assign ids in list order, so these get ids 0, 1, 2, 3 in every kind.
SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN]

# Byte-level BPE always keeps its full 256-symbol alphabet (so it never needs <unk>);
# a smaller vocab_size would silently be exceeded.
MIN_BPE_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)

# Oniguruma's "." does not match "\n", hence the explicit class.
_CHAR_PATTERN = r"[\s\S]"
# A word or a single punctuation mark keeps at most one leading space (GPT-2 style, so
# ordinary prose needs no separate space tokens); every other whitespace character is
# its own token, so any run of spaces, tabs and newlines can be rebuilt exactly.
_WORD_PATTERN = r" ?\w+| ?[^\w\s]|\s"


def _build_tokenizer(
    kind: str, vocab_size: int, min_frequency: int, show_progress: bool
) -> tuple[Tokenizer, trainers.Trainer]:
    """Return an untrained ``tokenizers.Tokenizer`` and its matching trainer."""
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIAL_TOKENS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=show_progress,
        )
        return tokenizer, trainer

    pattern = _CHAR_PATTERN if kind == "char" else _WORD_PATTERN
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    # Tokens already carry their own whitespace, so decoding is plain concatenation.
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=show_progress,
    )
    return tokenizer, trainer


def train_tokenizer(
    texts: Iterable[str],
    kind: str = "bpe",
    vocab_size: int = 8000,
    min_frequency: int = 1,
    lowercase: bool = False,
    model_max_length: int = 1_000_000,
    padding_side: str = "left",
    add_prefix_space: bool = True,
    add_eos_token: bool = False,
    show_progress: bool = False,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer of the given ``kind`` on ``texts``.

    ``vocab_size`` caps the vocabulary, special tokens included, for every kind
    (for "bpe" it must be at least ``MIN_BPE_VOCAB_SIZE``).

    ``add_prefix_space``: encode every text as if a space came before it, as GPT-2's
    and RoBERTa's ``add_prefix_space=True`` and SentencePiece do (``decode`` drops that
    space again). A word then encodes the same at the start of a text as after a
    space; ``is_split_into_words=True`` encodes each word as a text of its own, so this
    makes ``tokenizer(words, is_split_into_words=True)`` encode as running text does
    (``" ".join(words)``). Without it, a word-level vocabulary holds ``" word"`` and
    every word but a text's first becomes ``<unk>``. Pass False for texts that are
    consecutive pieces of one running text, such as a causal LM's lines: the space
    would otherwise follow every line break.

    ``add_eos_token``: end every encoding with ``</s>``, as T5's and Marian's
    tokenizers do, so that ``tokenizer(text_target=...)`` gives the labels a
    sequence-to-sequence model learns to stop with. Otherwise no BOS/EOS tokens are
    added by encoding; callers add them where they need them.
    """
    if kind not in TOKENIZER_KINDS:
        allowed = ", ".join(repr(k) for k in TOKENIZER_KINDS)
        raise ValueError(f"kind={kind!r} is not supported; choose one of {allowed}")
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    if kind == "bpe" and vocab_size < MIN_BPE_VOCAB_SIZE:
        raise ValueError(
            f"vocab_size must be at least {MIN_BPE_VOCAB_SIZE} for kind='bpe' "
            f"(256 bytes + {len(SPECIAL_TOKENS)} special tokens), got {vocab_size}"
        )
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side={padding_side!r} is not supported; choose 'left' or 'right'")

    tokenizer, trainer = _build_tokenizer(kind, vocab_size, min_frequency, show_progress)
    steps = [normalizers.Lowercase()] if lowercase else []
    if add_prefix_space:
        # Before training too, so the vocabulary holds each word as it follows a space.
        steps.append(normalizers.Prepend(" "))
        # Both decoders return the whole text as one string, so Strip removes only its first space.
        tokenizer.decoder = decoders.Sequence([tokenizer.decoder, decoders.Strip(" ", 1, 0)])
    if steps:
        tokenizer.normalizer = normalizers.Sequence(steps)
    # Offsets leave out the space a token starts with (as RoBERTa's do), so the token-classification pipeline's
    # entities span their words alone; the prefix space is in no offset already.
    post_processors = [processors.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True)]
    if add_eos_token:
        post_processors.append(
            processors.TemplateProcessing(
                single=f"$A {EOS_TOKEN}",
                pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}",
                special_tokens=[(EOS_TOKEN, SPECIAL_TOKENS.index(EOS_TOKEN))],
            )
        )
    # In tokenizer.json, which a reload keeps (transformers rebuilds a post-processor only where there is none).
    tokenizer.post_processor = processors.Sequence(post_processors)

    # Count characters while streaming, so generators need not be materialised.
    n_chars = 0

    def counted() -> Iterator[str]:
        nonlocal n_chars
        for text in texts:
            n_chars += len(text)
            yield text

    length = len(texts) if isinstance(texts, Sized) else None
    tokenizer.train_from_iterator(counted(), trainer=trainer, length=length)
    if n_chars == 0:
        raise ValueError("texts is empty: the corpus must contain at least one character")

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=UNK_TOKEN,
        pad_token=PAD_TOKEN,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        model_max_length=model_max_length,
        padding_side=padding_side,
        add_prefix_space=add_prefix_space,
        # The default clean-up removes spaces before punctuation, breaking round trips.
        clean_up_tokenization_spaces=False,
    )


def token_spellings(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """
    Every token id's text as it decodes, without the prefix space (`" EU"`, byte-level `"ĠEU"` -> `"EU"`), and ""
    for special tokens: the spellings that character-level word features read (`CharacterWordEncoder.set_spellings`).
    """
    special = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return [
        "" if token_id in special else tokenizer.convert_tokens_to_string([token]).strip()
        for token_id, token in enumerate(tokens)
    ]
