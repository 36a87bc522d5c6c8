"""Character-level word features (`config.char_encoder`): each token's spelling, from the saved table of the
vocabulary's spellings, read by a character BiLSTM or CNN and joined to its word embedding. A token's features depend
on its spelling only (not on padding, its batch, or the table's width), they reach the tagger, they are saved with
the model, and they carry what word embeddings cannot: the form of words the tagger never trained on."""

import random
import string

import pytest
import torch
from helpers import VOCAB_SIZE, seeded, tiny_config, zen_of_python

from hf_rnn import RNNConfig, RNNForTokenClassification, train_tokenizer
from hf_rnn.characters_rnn import CharacterWordEncoder, spelling_alphabet
from hf_rnn.tasks.token_classification import new_tagger
from hf_rnn.tokenization import token_spellings
from hf_rnn.training.arguments import ModelArguments

ALPHABET = string.ascii_letters
# Ids 0-3 are special (no spelling); 4 and 5 are spelt alike; 11 is longer than the table (10), 12 fills it.
SPELLINGS = ["", "", "", "", "Paris", "Paris", "paris", "a", "Lincoln", "lives", "in", "x" * 12 + "Tail", "Washington"]
SPELLINGS += [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(VOCAB_SIZE - len(SPELLINGS))]
ENCODERS = ("lstm", "cnn")


def char_config(encoder: str, **overrides) -> RNNConfig:
    values = {"char_encoder": encoder, "char_alphabet": ALPHABET, "char_max_word_length": 10, "bidirectional": True}
    return tiny_config("lstm", num_labels=3, **{**values, **overrides})


def char_tagger(encoder: str, seed: int = 0, **overrides) -> RNNForTokenClassification:
    model = seeded(RNNForTokenClassification, char_config(encoder, **overrides), seed=seed)
    model.model.char_encoder.set_spellings(SPELLINGS)
    return model


@pytest.fixture(scope="module", params=ENCODERS)
def tagger(request) -> RNNForTokenClassification:
    return char_tagger(request.param)


def test_spellings_table_holds_character_ids_and_keeps_both_ends_of_a_long_word():
    encoder = char_tagger("cnn").model.char_encoder
    table = encoder.spellings
    assert table.shape == (VOCAB_SIZE, 10) and torch.all(table[:4] == 0)
    assert table[4, :6].tolist() == [2 + ALPHABET.index(c) for c in "Paris"] + [0]
    long_word = "".join(ALPHABET[i - 2] for i in table[11].tolist())
    assert long_word == "xxxxx" + "xTail"  # first and last 5 of "x" * 12 + "Tail"
    encoder.set_spellings(["", "", "", "", "é!"])
    assert encoder.spellings[4, :3].tolist() == [1, 1, 0]  # outside the alphabet: the unknown character


@torch.no_grad()
def test_a_tokens_features_depend_on_its_spelling_only(tagger):
    encoder = tagger.model.char_encoder
    alone = encoder(torch.tensor([[4]]))[0, 0]
    batch = encoder(torch.tensor([[0, 0, 7, 4], [5, 8, 9, 10]]))
    torch.testing.assert_close(batch[0, 3], alone, atol=1e-6, rtol=0)  # other words and padding around it
    torch.testing.assert_close(batch[1, 0], alone, atol=1e-6, rtol=0)  # another id spelt alike
    assert not torch.allclose(encoder(torch.tensor([[6]]))[0, 0], alone)  # "paris" is not "Paris"
    assert torch.all(batch[0, :2] == 0)  # special tokens have no characters


@pytest.mark.parametrize("encoder", ENCODERS)
@torch.no_grad()
def test_the_tables_width_does_not_change_a_words_features(encoder):
    narrow, wide = char_tagger(encoder), char_tagger(encoder, char_max_word_length=16)
    weights = {k: v for k, v in narrow.state_dict().items() if not k.endswith("spellings")}
    wide.load_state_dict(weights, strict=False)
    ids = torch.tensor([[4, 7, 8, 9, 10, 12]])  # words of at most 10 characters, so the same in both tables
    torch.testing.assert_close(wide.model.char_encoder(ids), narrow.model.char_encoder(ids), atol=1e-6, rtol=0)


@torch.no_grad()
def test_padding_does_not_change_a_char_taggers_logits(tagger):
    rows = [[4, 7, 8, 9], [10, 11], [5, 6, 12]]
    input_ids = torch.tensor([[4, 7, 8, 9], [0, 0, 10, 11], [5, 6, 12, 0]])  # none, left, right
    mask = (input_ids != 0).long()
    logits = tagger(input_ids, attention_mask=mask).logits
    for row, ids in enumerate(rows):
        alone = tagger(torch.tensor([ids])).logits[0]
        torch.testing.assert_close(logits[row, mask[row].bool()], alone, atol=1e-5, rtol=0)


@torch.no_grad()
def test_the_tagger_reads_the_spellings(tagger):
    input_ids = torch.tensor([[4, 9, 10]])
    before = tagger(input_ids).logits
    encoder = tagger.model.char_encoder
    saved = encoder.spellings.clone()
    try:
        encoder.set_spellings(SPELLINGS[:4] + ["London"] + SPELLINGS[5:])  # the same id, another word
        assert not torch.allclose(tagger(input_ids).logits[0, 0], before[0, 0])
    finally:
        encoder.spellings.copy_(saved)


def test_a_saved_char_tagger_reloads_its_spellings_and_outputs(tmp_path):
    model = char_tagger("lstm", crf=True)
    model.save_pretrained(tmp_path)
    reloaded = RNNForTokenClassification.from_pretrained(tmp_path)
    assert reloaded.config.char_encoder == "lstm" and reloaded.config.char_alphabet == ALPHABET
    assert torch.equal(reloaded.model.char_encoder.spellings, model.model.char_encoder.spellings)
    input_ids, mask = torch.tensor([[0, 4, 11, 8], [6, 7, 9, 10]]), torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])
    with torch.no_grad():
        assert torch.equal(
            reloaded(input_ids, attention_mask=mask).logits, model(input_ids, attention_mask=mask).logits
        )


def test_char_features_need_input_ids():
    model = char_tagger("cnn")
    with pytest.raises(ValueError, match="input_ids"):
        model(inputs_embeds=torch.zeros(1, 3, model.config.embedding_size))


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"char_encoder": "gru"}, "char_encoder="),
        ({"char_alphabet": ""}, "char_alphabet="),
        ({"char_alphabet": "abca"}, "char_alphabet="),
        ({"char_hidden_size": 0}, "char_hidden_size="),
        ({"char_embedding_size": -1}, "char_embedding_size="),
        ({"char_max_word_length": 2.5}, "char_max_word_length="),
    ],
)
def test_char_fields_are_validated_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        char_config("lstm", **overrides)


def test_token_spellings_of_a_tokenizer_leave_special_tokens_unspelt():
    tokenizer = train_tokenizer(zen_of_python().splitlines(), kind="word")
    spellings = token_spellings(tokenizer)
    assert len(spellings) == len(tokenizer)
    assert all(spellings[i] == "" for i in tokenizer.all_special_ids)
    (beautiful,) = tokenizer("Beautiful", add_special_tokens=False)["input_ids"]
    # The vocabulary holds " Beautiful" (the prefix space); its spelling is the word's own characters.
    assert spellings[beautiful] == "Beautiful" and set("Beautiful") <= set(spelling_alphabet(spellings))


# Capitalised words are names (tag 1), others not (tag 0); half the words of each kind never occur in training, so
# their word embeddings stay random: only their spelling tells. Every first letter, in both cases, occurs in training.
def capitalisation_data(seed: int = 0, letters: str = "abcd"):
    rng = random.Random(seed)
    words = []
    for i in range(40):
        word = letters[(i // 2) % len(letters)] + "".join(rng.choice(letters) for _ in range(rng.randint(2, 6)))
        words.append(word.capitalize() if i % 2 else word)
    spellings = ["", "", "", ""] + words
    return spellings, [4 + i for i in range(20)], [4 + i for i in range(20, 40)]


def name_accuracy(char_encoder: str | None, steps: int = 120) -> float:
    spellings, seen, unseen = capitalisation_data()
    overrides = {"char_encoder": char_encoder, "char_alphabet": spelling_alphabet(spellings)} if char_encoder else {}
    torch.manual_seed(0)
    config = tiny_config(vocab_size=len(spellings), num_hidden_layers=1, hidden_size=16, num_labels=2, **overrides)
    model = RNNForTokenClassification(config).train()
    if char_encoder:
        model.model.char_encoder.set_spellings(spellings)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    rng = random.Random(1)

    def batch(words):
        ids = torch.tensor([[rng.choice(words) for _ in range(6)] for _ in range(16)])
        return ids, torch.tensor([[int(spellings[i][0].isupper()) for i in row] for row in ids.tolist()])

    for _ in range(steps):
        ids, tags = batch(seen)
        loss = model(ids, labels=tags).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    ids, tags = batch(unseen)
    return (model.eval().decode(ids) == tags).float().mean().item()


@pytest.mark.parametrize("encoder", ENCODERS)
def test_char_features_tag_words_never_seen_in_training_by_their_form(encoder, one_thread):
    assert name_accuracy(encoder) > 0.95


def test_without_char_features_unseen_words_are_a_guess(one_thread):
    assert name_accuracy(None) < 0.8  # the control: the task needs the spellings


def test_encoder_module_outputs_its_declared_size():
    for encoder, size in (("lstm", 2 * 7), ("cnn", 7)):
        config = char_config(encoder, char_hidden_size=7)
        assert config.char_output_size == size
        module = CharacterWordEncoder(config)
        module.set_spellings(SPELLINGS)
        assert module(torch.tensor([[4, 5]])).shape == (1, 2, size)


def test_the_tagging_task_builds_a_crf_char_tagger_that_spells_its_vocabulary():
    tokenizer = train_tokenizer(zen_of_python().splitlines(), kind="word")
    model_args = ModelArguments(task="token-classification", hidden_size=8, crf=True, char_features="cnn")
    model = new_tagger(model_args, tokenizer, ["B-X", "I-X", "O"])
    assert model.config.crf and model.config.crf_constraints == "iob2" and model.config.bidirectional
    assert model.config.char_encoder == "cnn" and model.crf.forbidden_starts == [1]  # I-X
    assert model.config.char_alphabet == spelling_alphabet(token_spellings(tokenizer))
    table = model.model.char_encoder.spellings
    (beautiful,) = tokenizer("Beautiful", add_special_tokens=False)["input_ids"]
    assert "".join(model.config.char_alphabet[i - 2] for i in table[beautiful] if i) == "Beautiful"
    assert torch.all(table[tokenizer.all_special_ids] == 0)
