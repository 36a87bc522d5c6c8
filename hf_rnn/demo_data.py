"""Data that ships with the package, so every task trains with no download: the causal LM reads the Python
documentation every Python installation carries; the other tasks read seeded synthetic data.

Each generator draws from small hand-written vocabularies with a seeded `random.Random`, and builds its data so that
word order, not word identity, decides the answer: a bag-of-words model is at chance on the sentiment task, a tagger
that ignores context cannot tell a person from a place, and the translation needs reordering.
"""

from __future__ import annotations

from datasets import Dataset, DatasetDict

from .data import split_off_validation

__all__ = [
    "default_seasonal_series",
    "default_lm_corpus",
    "default_lm_datasets",
    "default_sequence_classification_datasets",
    "default_token_classification_datasets",
    "default_translation_datasets",
]


def default_lm_corpus() -> list[str]:
    """
    English prose and code every Python installation carries: the ~80 documentation topics of `pydoc_data`
    (about 465,000 characters), one text per topic, in the fixed order of their names.
    """
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]


def default_lm_datasets(validation_split_percentage: float = 10) -> DatasetDict:
    """The embedded default corpus (`default_lm_corpus`) as a `"text"` column, split into train and validation."""
    return split_off_validation(Dataset.from_dict({"text": default_lm_corpus()}), validation_split_percentage)


POSITIVE_WORDS = ("good", "great", "fun", "moving", "brilliant", "charming", "clever", "superb", "lovely", "fresh")
NEGATIVE_WORDS = ("bad", "dull", "boring", "awful", "weak", "terrible", "silly", "bland", "poor", "messy")
SENTIMENT_SUBJECTS = (
    "the movie", "the film", "the plot", "the acting", "the story", "the ending", "the script", "this show",
)  # fmt: skip
# `{subject}` then two adjectives of opposite polarity; the label is the polarity of the adjective that is not
# negated. Swapping the two adjectives keeps every word and flips the label.
SENTIMENT_TEMPLATES = (
    ("{subject} was {a} and not {b}", "a"),
    ("{subject} was not {a} but {b}", "b"),
    ("i found {subject} {a} , not {b}", "a"),
    ("{subject} is not {a} , it is {b}", "b"),
    ("nobody would call {subject} {a} ; it was {b}", "b"),
)
SENTIMENT_LABELS = ("negative", "positive")


def default_sequence_classification_datasets(
    num_train: int = 4000, num_validation: int = 400, seed: int = 0
) -> DatasetDict:
    """
    Sentiment with negation: `"sentence"` and `"label"` ("negative" / "positive") columns. Every sentence comes
    with its mirror (the two adjectives swapped, the opposite label) in the same split, so each multiset of words
    appears equally often with both labels: only the order of "not" and the adjectives tells them apart. The
    splits share no (subject, template, adjective pair).
    """
    import random

    rng = random.Random(seed)
    combinations = [
        (subject, template, positive, negative)
        for subject in SENTIMENT_SUBJECTS
        for template in SENTIMENT_TEMPLATES
        for positive in POSITIVE_WORDS
        for negative in NEGATIVE_WORDS
    ]
    rng.shuffle(combinations)
    num_train_pairs, num_validation_pairs = num_train // 2, num_validation // 2
    if num_train_pairs + num_validation_pairs > len(combinations):
        raise ValueError(f"the sentiment generator has {len(combinations)} sentence pairs; ask for fewer.")

    def mirrored_pairs(chosen: list[tuple]) -> dict[str, list[str]]:
        rows = {"sentence": [], "label": []}
        for subject, (template, kept), positive, negative in chosen:
            for a, b in ((positive, negative), (negative, positive)):
                rows["sentence"].append(template.format(subject=subject, a=a, b=b))
                rows["label"].append(SENTIMENT_LABELS[int((a if kept == "a" else b) in POSITIVE_WORDS)])
        return rows

    train = combinations[:num_train_pairs]
    validation = combinations[num_train_pairs : num_train_pairs + num_validation_pairs]
    return DatasetDict(
        train=Dataset.from_dict(mirrored_pairs(train)).shuffle(seed=seed),
        validation=Dataset.from_dict(mirrored_pairs(validation)).shuffle(seed=seed),
    )


# Every name below is a person's given name, a surname, a place and the start of a company's name, depending
# only on the words around it ("Mr. Lincoln", "in Lincoln", "Lincoln Bank").
AMBIGUOUS_NAMES = (
    "Jordan", "Paris", "Chelsea", "Sydney", "Georgia", "Florence", "Austin", "Dallas", "Victoria", "Madison",
    "Lincoln", "Orlando", "Houston", "Charlotte", "Adelaide", "Regina", "Phoenix", "Trenton",
)  # fmt: skip
TITLES = ("Mr.", "Ms.", "Dr.")
COMPANY_WORDS = ("Bank", "Group", "Labs", "Motors")
# Slots: PER (given name, optionally a surname), TPER (a title, then a one-word name), LOC, ORG (two words).
TAGGING_TEMPLATES = (
    "TPER lives in LOC .",
    "PER flew from LOC to LOC .",
    "PER visited LOC with TPER .",
    "TPER works at ORG in LOC .",
    "In LOC , PER met TPER .",
    "LOC is far from LOC , said PER .",
    "ORG hired PER last year .",
    "PER and PER moved to LOC .",
)


def default_token_classification_datasets(
    num_train: int = 3000, num_validation: int = 300, seed: int = 0
) -> DatasetDict:
    """
    Synthetic named entities in IOB2 (`"tokens"` and `"ner_tags"` columns, tags as strings: B-/I-PER, B-/I-LOC,
    B-/I-ORG, O). The entities are drawn from one pool of ambiguous names, so the same word is a person, a
    place or part of a company name according to its context only.
    """
    import random

    rng = random.Random(seed)

    def entity(slot: str) -> tuple[list[str], list[str]]:
        if slot == "TPER":
            return [rng.choice(TITLES), rng.choice(AMBIGUOUS_NAMES)], ["O", "B-PER"]
        if slot == "PER":
            words = rng.sample(AMBIGUOUS_NAMES, rng.choice((1, 2)))
            return words, ["B-PER"] + ["I-PER"] * (len(words) - 1)
        if slot == "LOC":
            return [rng.choice(AMBIGUOUS_NAMES)], ["B-LOC"]
        return [rng.choice(AMBIGUOUS_NAMES), rng.choice(COMPANY_WORDS)], ["B-ORG", "I-ORG"]

    def sentences(count: int) -> dict[str, list[list[str]]]:
        rows = {"tokens": [], "ner_tags": []}
        for _ in range(count):
            tokens, tags = [], []
            for word in rng.choice(TAGGING_TEMPLATES).split():
                words, word_tags = entity(word) if word in ("TPER", "PER", "LOC", "ORG") else ([word], ["O"])
                tokens += words
                tags += word_tags
            rows["tokens"].append(tokens)
            rows["ner_tags"].append(tags)
        return rows

    return DatasetDict(
        train=Dataset.from_dict(sentences(num_train)), validation=Dataset.from_dict(sentences(num_validation))
    )


# A word-for-word dictionary into an invented language whose sentences are subject-object-verb, with adjectives
# after their noun, determiners after the noun and the place phrase first: "the big dog sees a small cat in the
# garden" becomes "gardeno la en , hundo la granda mirka un eta vidas".
TRANSLATION_NOUNS = {
    "dog": "hundo", "cat": "mirka", "bird": "fogel", "man": "varo", "woman": "nisa", "child": "kindo",
    "horse": "kaval", "farmer": "bauro", "king": "rejo", "teacher": "lerano", "fish": "pesko", "girl": "tira",
}  # fmt: skip
TRANSLATION_VERBS = {
    "sees": "vidas", "likes": "amas", "follows": "sekvas", "helps": "helpas", "finds": "trovas",
    "calls": "vokas", "watches": "rigardas", "feeds": "nutras",
}  # fmt: skip
TRANSLATION_ADJECTIVES = {
    "big": "granda", "small": "eta", "old": "malnova", "young": "juna", "happy": "gaja", "angry": "kolera",
    "red": "ruga", "black": "nigra",
}  # fmt: skip
TRANSLATION_DETERMINERS = {"the": "la", "a": "un"}
TRANSLATION_PLACES = {"garden": "gardeno", "house": "domo", "river": "rivero", "market": "bazaro"}
TRANSLATION_PREPOSITIONS = {"in": "en", "near": "apud", "behind": "malantau"}


def _translated_sentence(rng) -> tuple[str, str]:
    """One source sentence and its translation (see `TRANSLATION_NOUNS` for the target's word order)."""

    def noun_phrase() -> tuple[list[str], list[str]]:
        determiner, noun = rng.choice(list(TRANSLATION_DETERMINERS)), rng.choice(list(TRANSLATION_NOUNS))
        adjective = rng.choice([None, *TRANSLATION_ADJECTIVES])
        source = [determiner, *([adjective] if adjective else []), noun]
        target = [TRANSLATION_NOUNS[noun], TRANSLATION_DETERMINERS[determiner]]
        return source, target + ([TRANSLATION_ADJECTIVES[adjective]] if adjective else [])

    (subject, subject_t), (obj, obj_t) = noun_phrase(), noun_phrase()
    verb = rng.choice(list(TRANSLATION_VERBS))
    source, target = [*subject, verb, *obj], [*subject_t, *obj_t, TRANSLATION_VERBS[verb]]
    if rng.random() < 0.5:
        preposition, place = rng.choice(list(TRANSLATION_PREPOSITIONS)), rng.choice(list(TRANSLATION_PLACES))
        source += [preposition, "the", place]
        target = [TRANSLATION_PLACES[place], "la", TRANSLATION_PREPOSITIONS[preposition], ",", *target]
    return " ".join(source), " ".join(target)


def default_translation_datasets(num_train: int = 6000, num_validation: int = 200, seed: int = 0) -> DatasetDict:
    """
    Synthetic English -> invented-language pairs (`"source"` and `"target"` columns): a word-for-word dictionary
    plus reordering (subject-object-verb, adjective after noun, noun before determiner, place phrase first).
    Validation pairs never occur in train.
    """
    import random

    rng = random.Random(seed)
    seen, rows = set(), {"train": {"source": [], "target": []}, "validation": {"source": [], "target": []}}
    for split, count in (("validation", num_validation), ("train", num_train)):
        while len(rows[split]["source"]) < count:
            source, target = _translated_sentence(rng)
            if source in seen:
                continue
            seen.add(source)
            rows[split]["source"].append(source)
            rows[split]["target"].append(target)
    return DatasetDict({split: Dataset.from_dict(columns) for split, columns in rows.items()})


def default_seasonal_series(length: int = 4000, seed: int = 0):
    """
    An hourly series of three channels with a daily and a weekly season, a trend and noise (`hf_rnn.time_series.
    SeriesFrame`): what the forecasting task trains on with no data file. A naive forecast (the last value) is far
    off; a model that learns the seasons is not.
    """
    import numpy as np

    from .time_series import SeriesFrame

    rng = np.random.default_rng(seed)
    hours = np.arange(length, dtype=np.float64)
    daily, weekly = np.sin(2 * np.pi * hours / 24), np.sin(2 * np.pi * hours / 168)
    channels = {
        "load": 50 + 10 * daily + 5 * weekly + 0.002 * hours + rng.normal(0, 1.0, length),
        "temperature": 15 + 6 * np.sin(2 * np.pi * (hours - 6) / 24) + rng.normal(0, 0.5, length),
        "price": 3 + 0.5 * daily * (1 + 0.5 * weekly) + rng.normal(0, 0.05, length),
    }
    start = np.datetime64("2024-01-01T00:00")
    dates = [str(start + np.timedelta64(int(h), "h")).replace("T", " ") for h in hours]
    values = np.stack(list(channels.values()), axis=1).astype(np.float32)
    return SeriesFrame(dates=dates, columns=list(channels), values=values)
