"""The heads learn: a classifier and a tagger solve small generated tasks that need word order.

Spec: "A classifier and a tagger actually learn a small task the test generates (a task that needs order, e.g.
negation, so a bag of words cannot solve it): accuracy well above chance, asserted."

Each task is built so that an order-blind model is at chance by construction (asserted on the data itself). The
model trains with a plain Adam loop on mini-batches padded on a random side, and held-out accuracy is measured
with left and with right padding, which must not change a single prediction.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
import torch
from helpers import seeded, tiny_config

from hf_rnn import RNNForSequenceClassification, RNNForTokenClassification

PAD_ID = 0
NOT = 4  # negation word; the tagging tasks reuse the id as their trigger word
TRIGGER = NOT
POSITIVE = tuple(range(5, 9))
NEGATIVE = tuple(range(9, 13))
SENTIMENT = POSITIVE + NEGATIVE
FILLERS = tuple(range(13, 29))
HIGH_FILLERS = frozenset(FILLERS[len(FILLERS) // 2 :])
VOCAB_SIZE = 29

TRAIN_SEED, HELD_OUT_SEED, MODEL_SEED = 0, 1, 0


pytestmark = pytest.mark.usefixtures("one_thread")


def config_for(cell: str, bidirectional: bool = False):
    return tiny_config(
        cell, vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=1, num_labels=2, bidirectional=bidirectional
    )


# ---------------------------------------------------------------------------------------------------------------
# Padding, training, evaluation


def pad_batch(sequences, side: str, labels=None) -> dict[str, torch.Tensor]:
    """Pad to the longest row on `side` ("left" or "right"); per-token `labels` are padded with -100."""
    width = max(len(s) for s in sequences)

    def pad(row, value):
        filler = [value] * (width - len(row))
        return list(row) + filler if side == "right" else filler + list(row)

    batch = {
        "input_ids": torch.tensor([pad(s, PAD_ID) for s in sequences]),
        "attention_mask": torch.tensor([pad([1] * len(s), 0) for s in sequences]),
    }
    if labels is not None:
        if isinstance(labels[0], list):
            batch["labels"] = torch.tensor([pad(row, -100) for row in labels])
        else:
            batch["labels"] = torch.tensor(labels)
    return batch


def train(model, sequences, labels, steps: int, batch_size: int = 32, lr: float = 1e-2, seed: int = 0):
    """Plain Adam loop on random mini-batches, each padded on a randomly chosen side."""
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        rows = rng.sample(range(len(sequences)), batch_size)
        batch = pad_batch([sequences[i] for i in rows], rng.choice(("left", "right")), [labels[i] for i in rows])
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model, sequences, side: str) -> torch.Tensor:
    return model(**pad_batch(sequences, side)).logits.argmax(-1)


def sequence_accuracy(model, sequences, labels, side: str) -> float:
    return (predict(model, sequences, side) == torch.tensor(labels)).float().mean().item()


def real_token_predictions(model, sequences, side: str) -> list[list[int]]:
    """Per sequence, the predicted tag of each real token (padding dropped), whatever the padding side."""
    predicted = predict(model, sequences, side)
    mask = pad_batch(sequences, side)["attention_mask"].bool()
    return [row[keep].tolist() for row, keep in zip(predicted, mask)]


def token_accuracy(model, sequences, tags, side: str) -> float:
    predicted = real_token_predictions(model, sequences, side)
    pairs = [(p, t) for row_p, row_t in zip(predicted, tags) for p, t in zip(row_p, row_t, strict=True)]
    return sum(p == t for p, t in pairs) / len(pairs)


def seen_fraction(held_out, training) -> float:
    seen = set(map(tuple, training))
    return sum(tuple(s) in seen for s in held_out) / len(held_out)


# ---------------------------------------------------------------------------------------------------------------
# Sequence classification: sentiment with negation


def negation_pairs(num_pairs: int, seed: int) -> tuple[list[list[int]], list[int]]:
    """
    Pairs of sequences made of the same tokens, with opposite labels.

    Each sequence holds fillers, one sentiment word and one `NOT`. The label is the word's polarity (1 positive,
    0 negative), flipped when `NOT` immediately precedes the word. In one sequence of each pair "NOT word" is
    adjacent; the other has the same tokens with `NOT` anywhere else (before with a gap, or after the word).
    """
    rng = random.Random(seed)
    sequences, labels = [], []
    for _ in range(num_pairs):
        length = rng.randint(4, 10)
        fillers = [rng.choice(FILLERS) for _ in range(length - 2)]
        word = rng.choice(SENTIMENT)
        polarity = int(word in POSITIVE)

        cut = rng.randint(0, len(fillers))
        sequences.append(fillers[:cut] + [NOT, word] + fillers[cut:])
        labels.append(1 - polarity)

        not_at, word_at = rng.sample(range(length), 2)
        while not_at == word_at - 1:
            not_at, word_at = rng.sample(range(length), 2)
        rest = iter(fillers)
        sequences.append([NOT if i == not_at else word if i == word_at else next(rest) for i in range(length)])
        labels.append(polarity)
    return sequences, labels


def negation_label(sequence: list[int]) -> int:
    """The task's rule, restated independently of the generator."""
    (word_at,) = [i for i, token in enumerate(sequence) if token in SENTIMENT]
    polarity = int(sequence[word_at] in POSITIVE)
    negated = word_at > 0 and sequence[word_at - 1] == NOT
    return 1 - polarity if negated else polarity


def test_negation_task_defeats_a_bag_of_words():
    """Every token multiset occurs equally often with each label, so the best bag-of-words model scores 0.5."""
    sequences, labels = negation_pairs(500, HELD_OUT_SEED)
    assert labels == [negation_label(s) for s in sequences]
    by_bag = defaultdict(Counter)
    for sequence, label in zip(sequences, labels):
        by_bag[tuple(sorted(sequence))][label] += 1
    assert all(counts[0] == counts[1] for counts in by_bag.values())
    best_bag_of_words = sum(max(counts.values()) for counts in by_bag.values()) / len(sequences)
    assert best_bag_of_words == 0.5
    # Polarity alone is also at chance: the sentiment word's own polarity agrees with the label half the time.
    agrees = sum(int(next(t for t in s if t in SENTIMENT) in POSITIVE) == y for s, y in zip(sequences, labels))
    assert agrees == len(sequences) // 2


CLASSIFIERS = {
    "lstm": ("lstm", False),
    "bidirectional_gru": ("gru", True),
}


@pytest.mark.parametrize("variant", list(CLASSIFIERS))
def test_classifier_learns_negation_that_bag_of_words_cannot(variant):
    cell, bidirectional = CLASSIFIERS[variant]
    model = seeded(RNNForSequenceClassification, config_for(cell, bidirectional), MODEL_SEED)
    train_x, train_y = negation_pairs(2000, TRAIN_SEED)
    test_x, test_y = negation_pairs(250, HELD_OUT_SEED)
    assert seen_fraction(test_x, train_x) < 0.1  # held out: almost every test sequence is new

    before = sequence_accuracy(model, test_x, test_y, "right")
    train(model, train_x, train_y, steps=300)
    for side in ("left", "right"):
        accuracy = sequence_accuracy(model, test_x, test_y, side)
        assert accuracy >= 0.9, f"{variant}: held-out accuracy {accuracy:.3f} with {side} padding (chance is 0.5)"
    assert sequence_accuracy(model, test_x, test_y, "right") > before + 0.25  # it learned; it did not start there
    assert torch.equal(predict(model, test_x, "left"), predict(model, test_x, "right"))


# ---------------------------------------------------------------------------------------------------------------
# Token classification: tags that depend on the left or on the right context


def trigger_seen_before(num_sequences: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """Fillers with one `TRIGGER` at a random position; a token's tag is 1 iff the trigger came strictly earlier."""
    rng = random.Random(seed)
    sequences, tags = [], []
    for _ in range(num_sequences):
        length = rng.randint(4, 14)
        sequence = [rng.choice(FILLERS) for _ in range(length)]
        trigger_at = rng.randrange(length)
        sequence[trigger_at] = TRIGGER
        sequences.append(sequence)
        tags.append([int(i > trigger_at) for i in range(length)])
    return sequences, tags


def next_token_is_high(num_sequences: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """I.i.d. fillers; a token's tag is 1 iff the NEXT token is in the upper half of the fillers (0 at the end)."""
    rng = random.Random(seed)
    sequences, tags = [], []
    for _ in range(num_sequences):
        length = rng.randint(3, 14)
        sequence = [rng.choice(FILLERS) for _ in range(length)]
        sequences.append(sequence)
        tags.append([int(i + 1 < length and sequence[i + 1] in HIGH_FILLERS) for i in range(length)])
    return sequences, tags


def context_free_accuracy(sequences, tags) -> float:
    """Accuracy of the best tagger that sees only the current token, fitted on the evaluation data itself."""
    by_token = defaultdict(Counter)
    for sequence, row in zip(sequences, tags):
        for token, tag in zip(sequence, row, strict=True):
            by_token[token][tag] += 1
    return sum(max(c.values()) for c in by_token.values()) / sum(sum(c.values()) for c in by_token.values())


def majority_accuracy(tags) -> float:
    counts = Counter(tag for row in tags for tag in row)
    return max(counts.values()) / sum(counts.values())


TAGGING_TASKS = {
    # name: (generator, cell, bidirectional)
    "trigger_seen_before_needs_left_context": (trigger_seen_before, "lstm", False),
    "next_token_is_high_needs_right_context": (next_token_is_high, "lstm", True),
}


@pytest.mark.parametrize("task", list(TAGGING_TASKS))
def test_tagging_task_defeats_a_context_free_tagger(task):
    generate = TAGGING_TASKS[task][0]
    sequences, tags = generate(300, HELD_OUT_SEED)
    assert majority_accuracy(tags) < 0.6
    assert context_free_accuracy(sequences, tags) < 0.62


@pytest.mark.parametrize("task", list(TAGGING_TASKS))
def test_tagger_learns_a_task_that_needs_context(task):
    generate, cell, bidirectional = TAGGING_TASKS[task]
    model = seeded(RNNForTokenClassification, config_for(cell, bidirectional), MODEL_SEED)
    train_x, train_y = generate(3000, TRAIN_SEED)
    test_x, test_y = generate(300, HELD_OUT_SEED)
    assert seen_fraction(test_x, train_x) < 0.1
    baseline = max(majority_accuracy(test_y), context_free_accuracy(test_x, test_y))
    assert baseline < 0.65

    train(model, train_x, train_y, steps=200)
    for side in ("left", "right"):
        accuracy = token_accuracy(model, test_x, test_y, side)
        assert accuracy >= 0.9, f"{task}: held-out token accuracy {accuracy:.3f} with {side} padding"
        assert accuracy > baseline + 0.25, f"{task}: {accuracy:.3f} is not well above the baseline {baseline:.3f}"
    assert real_token_predictions(model, test_x, "left") == real_token_predictions(model, test_x, "right")
