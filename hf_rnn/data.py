"""Text data for training: the embedded default corpora, local files, Hub datasets, and LM block grouping.

Every loader returns a `datasets.DatasetDict` with a `"train"` and a `"validation"` split. When a source has no
validation split, the first `validation_split_percentage` percent of its rows become one, as in transformers'
`run_clm.py`: contiguous rows, so a text file split by lines still reads as running text on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset
from transformers import PreTrainedTokenizerBase

__all__ = [
    "DATA_FILE_BUILDERS",
    "default_sequence_classification_datasets",
    "default_token_classification_datasets",
    "default_translation_datasets",
    "load_classification_datasets",
    "load_parallel_datasets",
    "load_tagging_datasets",
    "check_iob2_tags",
    "check_nonempty_column",
    "check_text_file",
    "read_conll",
    "read_lines",
    "default_lm_corpus",
    "default_lm_datasets",
    "group_texts",
    "load_data_files",
    "load_hub_dataset",
    "load_lm_datasets",
    "nonempty_texts",
    "split_off_validation",
    "tokenize_and_group",
    "tokenize_texts",
]

# Extension of a local data file -> the `datasets` builder that reads it.
DATA_FILE_BUILDERS = {"txt": "text", "csv": "csv", "tsv": "csv", "json": "json", "jsonl": "json"}
# Tab-separated files are read by the csv builder; GLUE-style TSV does not quote its fields.
TSV_OPTIONS = {"delimiter": "\t", "quoting": 3}  # 3: csv.QUOTE_NONE


def default_lm_corpus() -> list[str]:
    """
    English prose and code every Python installation carries: the ~80 documentation topics of `pydoc_data`
    (about 465,000 characters), one text per topic, in the fixed order of their names.
    """
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]


def split_off_validation(dataset: Dataset, validation_split_percentage: float) -> DatasetDict:
    """The first `validation_split_percentage` percent of the rows (at least one) become `"validation"`."""
    if not 0 < validation_split_percentage < 100:
        raise ValueError(
            f"--validation_split_percentage={validation_split_percentage} is invalid; "
            "it must be in (0, 100) when there is no validation file."
        )
    if len(dataset) < 2:
        raise ValueError(
            f"cannot split {len(dataset)} row(s) into train and validation; pass a --validation_file, "
            "or a --train_file with more lines."
        )
    num_validation = min(max(1, round(len(dataset) * validation_split_percentage / 100)), len(dataset) - 1)
    return DatasetDict(
        train=dataset.select(range(num_validation, len(dataset))),
        validation=dataset.select(range(num_validation)),
    )


def default_lm_datasets(validation_split_percentage: float = 10) -> DatasetDict:
    """The embedded default corpus (`default_lm_corpus`) as a `"text"` column, split into train and validation."""
    return split_off_validation(Dataset.from_dict({"text": default_lm_corpus()}), validation_split_percentage)


def check_text_file(path: str, flag: str) -> None:
    """
    `path` is a non-empty file of UTF-8 text (gzip'd if its name ends in .gz); otherwise a `FileNotFoundError` or
    `ValueError` naming `flag`, rather than a decoding or parsing error from deep inside a loader.
    """
    import gzip

    if not Path(path).is_file():
        raise FileNotFoundError(f"{flag} {path!r} does not exist (or is not a file).")
    try:
        data = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{flag} {path!r} is not a readable gzip file: {error}") from None
    if not data.strip():
        raise ValueError(f"{flag} {path!r} is empty.")
    if b"\0" in data:
        raise ValueError(f"{flag} {path!r} is not a text file (it holds NUL bytes: binary data?).")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{flag} {path!r} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}); re-encode it as UTF-8."
        ) from None


def _data_file_builder(path: str | None, flag: str) -> str | None:
    """The `datasets` builder for a local file; a `FileNotFoundError` or `ValueError` naming `flag` otherwise."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise FileNotFoundError(f"{flag} {path!r} does not exist (or is not a file).")
    extension = Path(path).suffix.lstrip(".").lower()
    if extension not in DATA_FILE_BUILDERS:
        allowed = ", ".join(f".{e}" for e in DATA_FILE_BUILDERS)
        raise ValueError(f"{flag} {path!r} has an unsupported extension; use one of {allowed}.")
    check_text_file(path, flag)
    return DATA_FILE_BUILDERS[extension]


def _load_data_file(builder: str, split: str, path: str, flag: str, options: dict) -> Dataset:
    """One local file through its `datasets` builder; a malformed file is a `ValueError` naming `flag`."""
    import logging

    from datasets.exceptions import DatasetGenerationError

    # The builders also log the parser's error; it is raised below as one message instead.
    datasets_logger = logging.getLogger("datasets")
    level = datasets_logger.level
    datasets_logger.setLevel(logging.CRITICAL)
    try:
        return load_dataset(builder, data_files={split: path}, **options)[split]
    except DatasetGenerationError as error:
        cause = error.__cause__ or error
        # The builders wrap the parser's error ("Failed to read file ... with error <class ...>: reason"): keep the
        # reason, on one line.
        reason = " ".join(str(cause).split()).rpartition(">: ")[2] or type(cause).__name__
        kind = {"csv": "CSV/TSV", "json": "JSON/JSON Lines", "text": "text"}.get(builder, builder)
        raise ValueError(f"{flag} {path!r} is not valid {kind}: {reason}") from None
    finally:
        datasets_logger.setLevel(level)


def load_data_files(
    train_file: str, validation_file: str | None = None, validation_split_percentage: float = 10
) -> DatasetDict:
    """
    Local `.txt` (one row per line, line breaks kept so rows concatenate back into the text), `.csv`, `.tsv`,
    `.json` or `.jsonl` files. Without `validation_file`, the validation split is cut from the train file's first rows.
    """
    builder = _data_file_builder(train_file, "--train_file")
    validation_builder = _data_file_builder(validation_file, "--validation_file")
    is_tsv = Path(train_file).suffix.lower() == ".tsv"
    if validation_builder is not None and (
        validation_builder != builder or is_tsv != (Path(validation_file).suffix.lower() == ".tsv")
    ):
        raise ValueError(
            f"--validation_file {validation_file!r} and --train_file {train_file!r} must have the same format."
        )
    data_files = {"train": train_file}
    if validation_file is not None:
        data_files["validation"] = validation_file
    options = {"keep_linebreaks": True} if builder == "text" else TSV_OPTIONS if is_tsv else {}
    # One load per file: files whose columns differ (SST-2's dev.tsv names its text column "content") then load,
    # and the caller's column check can name the flag, rather than `datasets` failing to cast one to the other.
    flags = {"train": "--train_file", "validation": "--validation_file"}
    raw_datasets = DatasetDict(
        {split: _load_data_file(builder, split, path, flags[split], options) for split, path in data_files.items()}
    )
    if validation_file is None:
        raw_datasets = split_off_validation(raw_datasets["train"], validation_split_percentage)
    return raw_datasets


def load_hub_dataset(
    dataset_name: str, dataset_config_name: str | None = None, validation_split_percentage: float = 10
) -> DatasetDict:
    """A dataset from the Hugging Face Hub (needs the network); a missing validation split is cut from train."""
    try:
        raw_datasets = load_dataset(dataset_name, dataset_config_name)
    except (OSError, ValueError) as error:  # offline, unknown name or config
        raise OSError(f"--dataset_name {dataset_name!r} could not be loaded: {error}") from error
    if "train" not in raw_datasets:
        raise ValueError(f"--dataset_name {dataset_name!r} has no 'train' split (it has {list(raw_datasets)}).")
    if "validation" not in raw_datasets:
        raw_datasets = split_off_validation(raw_datasets["train"], validation_split_percentage)
    return DatasetDict(train=raw_datasets["train"], validation=raw_datasets["validation"])


def load_lm_datasets(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    validation_split_percentage: float = 10,
) -> DatasetDict:
    """Train and validation text from the Hub, from local files, or (given neither) the embedded default corpus."""
    if dataset_name is not None and train_file is not None:
        raise ValueError("pass either --dataset_name or --train_file, not both.")
    if validation_file is not None and train_file is None:
        raise ValueError("--validation_file needs a --train_file to go with it.")
    if dataset_name is not None:
        return load_hub_dataset(dataset_name, dataset_config_name, validation_split_percentage)
    if train_file is not None:
        return load_data_files(train_file, validation_file, validation_split_percentage)
    return default_lm_datasets(validation_split_percentage)


def group_texts(examples: dict[str, list[list[int]]], block_size: int) -> dict[str, list[list[int]]]:
    """
    Concatenate every tokenized column and cut it into `block_size` chunks (the remainder is dropped), with
    `labels` a copy of `input_ids`: the model shifts them itself. A batched `Dataset.map` function, as in
    `run_clm.py`.
    """
    concatenated = {key: list(chain.from_iterable(values)) for key, values in examples.items()}
    total_length = len(concatenated["input_ids"]) // block_size * block_size
    result = {
        key: [values[start : start + block_size] for start in range(0, total_length, block_size)]
        for key, values in concatenated.items()
    }
    result["labels"] = [list(block) for block in result["input_ids"]]
    return result


def tokenize_texts(raw_datasets: DatasetDict, tokenizer: PreTrainedTokenizerBase, text_column: str) -> DatasetDict:
    """Tokenize `text_column` of every split: one row of `input_ids` per text, no special tokens, in order."""
    for split, dataset in raw_datasets.items():
        if text_column not in dataset.column_names:
            raise ValueError(
                f"--text_column {text_column!r} is not a column of the {split} data; it has {dataset.column_names}."
            )

    def tokenize(examples: dict[str, list]) -> dict[str, list[list[int]]]:
        return tokenizer(examples[text_column], add_special_tokens=False, return_attention_mask=False)

    return DatasetDict(
        {
            split: dataset.map(tokenize, batched=True, remove_columns=dataset.column_names, desc=f"tokenize {split}")
            for split, dataset in raw_datasets.items()
        }
    )


def tokenize_and_group(
    raw_datasets: DatasetDict, tokenizer: PreTrainedTokenizerBase, text_column: str, block_size: int
) -> DatasetDict:
    """Tokenize `text_column` of every split and group it into `block_size` blocks of `input_ids`/`labels`."""
    grouped = tokenize_texts(raw_datasets, tokenizer, text_column).map(
        group_texts, batched=True, fn_kwargs={"block_size": block_size}, desc=f"group into blocks of {block_size}"
    )
    for split, dataset in grouped.items():
        if len(dataset) == 0:
            raise ValueError(
                f"the {split} text is shorter than one block of --block_size={block_size} tokens; "
                "use a smaller --block_size or more text."
            )
    return grouped


def check_nonempty_column(
    raw_datasets: DatasetDict, column: str, flag: str, sources: dict[str, str], allow_empty: bool = False
) -> None:
    """
    Every row of every split has a non-empty `column`: a string with a visible character, or a non-empty list. An
    empty row encodes to no tokens, which a recurrent model cannot run on (or averages to NaN). Otherwise a
    `ValueError` naming `flag`, the split's source (`sources[split]`), the first bad row and how many there are.
    `allow_empty`: only require strings (running text, where an empty line is just a line break).
    """

    def is_bad(value) -> bool:
        if allow_empty:
            return not isinstance(value, str)
        return not (isinstance(value, str) and value.strip()) and not (isinstance(value, list) and value)

    for split, dataset in raw_datasets.items():
        if column not in dataset.column_names:
            continue  # the caller's column check names the flag
        bad = [i for i, value in enumerate(dataset[column]) if is_bad(value)]
        if not bad:
            continue
        value = dataset[bad[0]][column]
        if value is None:
            what = "no value"
        elif isinstance(value, (str, list)):
            what = f"{value!r}"
        else:
            what = f"{value!r}, not text"
        raise ValueError(
            f"{flag} {column!r}: {len(bad)} row(s) of the {split} data ({sources.get(split, split)}) are empty or not "
            f"text; the first is row {bad[0] + 1} of the {split} split ({what}). Remove or fill them."
        )


IOB2_TAG = re.compile(r"O|[BI]-\S+")


def check_iob2_tags(tags: Iterable[str], flag: str) -> None:
    """
    Every tag is IOB2 ("O", "B-TYPE", "I-TYPE"), as the entity metric (seqeval, strict IOB2) requires; otherwise a
    `ValueError` naming `flag` now, rather than a crash at the first evaluation, after training.
    """
    invalid = sorted({str(tag) for tag in tags if not IOB2_TAG.fullmatch(str(tag))})
    if invalid:
        raise ValueError(
            f"{flag}: the tags {', '.join(map(repr, invalid[:10]))} are not IOB2 ('O', 'B-TYPE' or 'I-TYPE'); the "
            "entity scores need IOB2 tags (convert IOBES or bare 'PER' tags first)."
        )


def nonempty_texts(dataset: Dataset, text_column: str) -> Iterable[str]:
    """The non-empty strings of one column, streamed (tokenizer training reads them once)."""
    return (text for text in dataset[text_column] if text)


# Embedded default data for the classification, tagging and translation tasks. Each is generated from small
# hand-written vocabularies with a seeded `random.Random`, and built so that word order, not word identity,
# decides the answer: a bag-of-words model is at chance on the sentiment task, a tagger that ignores context
# cannot tell a person from a place, and the translation needs reordering.

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


def load_classification_datasets(
    train_file: str | None = None, validation_file: str | None = None, validation_split_percentage: float = 10
) -> DatasetDict:
    """Rows of text and label from local .csv/.tsv/.json/.jsonl files, or the embedded sentiment data."""
    if train_file is None:
        if validation_file is not None:
            raise ValueError("--validation_file needs a --train_file to go with it.")
        return default_sequence_classification_datasets()
    if Path(train_file).suffix.lower() == ".txt":
        raise ValueError(f"--train_file {train_file!r}: classification reads .csv, .tsv, .json or .jsonl files.")
    return load_data_files(train_file, validation_file, validation_split_percentage)


def read_conll(path: str, flag: str) -> dict[str, list[list[str]]]:
    """
    A CoNLL-style file: one token a line with its columns separated by whitespace, the tag in the LAST column,
    a blank line between sentences; `-DOCSTART-` lines are skipped. Returns `"tokens"` and `"ner_tags"` columns.
    """
    check_text_file(path, flag)
    rows, tokens, tags = {"tokens": [], "ner_tags": []}, [], []

    def end_sentence() -> None:
        if tokens:
            rows["tokens"].append(list(tokens))
            rows["ner_tags"].append(list(tags))
        tokens.clear()
        tags.clear()

    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            fields = line.split()
            if not fields:
                end_sentence()
            elif fields[0] == "-DOCSTART-":
                end_sentence()
            elif len(fields) < 2:
                raise ValueError(f"{flag} {path!r} line {number}: expected 'token ... tag', got {line.strip()!r}.")
            else:
                tokens.append(fields[0])
                tags.append(fields[-1])
    end_sentence()
    if not rows["tokens"]:
        raise ValueError(f"{flag} {path!r} holds no sentence (one 'token ... tag' a line, blank between them).")
    return rows


def load_tagging_datasets(
    train_file: str | None = None, validation_file: str | None = None, validation_split_percentage: float = 10
) -> DatasetDict:
    """
    Sentences of tokens and tags: .json/.jsonl files (read with `datasets`), CoNLL-style files (any other
    extension; see `read_conll`, columns `"tokens"` and `"ner_tags"`), or the embedded synthetic entities.
    """
    if train_file is None:
        if validation_file is not None:
            raise ValueError("--validation_file needs a --train_file to go with it.")
        return default_token_classification_datasets()
    files = {"train": (train_file, "--train_file"), "validation": (validation_file, "--validation_file")}
    is_json = {split: Path(path).suffix.lower() in (".json", ".jsonl") for split, (path, _) in files.items() if path}
    for path, flag in files.values():
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{flag} {path!r} does not exist (or is not a file).")
    if len(set(is_json.values())) > 1:
        raise ValueError("--validation_file and --train_file must have the same format (both json or both CoNLL).")
    if is_json["train"]:
        return load_data_files(train_file, validation_file, validation_split_percentage)
    splits = {split: Dataset.from_dict(read_conll(path, flag)) for split, (path, flag) in files.items() if path}
    if validation_file is None:
        return split_off_validation(splits["train"], validation_split_percentage)
    return DatasetDict(splits)


def read_lines(path: str, flag: str) -> list[str]:
    """The lines of a text file (gzip'd if its name ends in .gz), without their line breaks."""
    import gzip

    check_text_file(path, flag)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        return file.read().splitlines()


def load_parallel_datasets(
    train_source_file: str | None = None,
    train_target_file: str | None = None,
    validation_source_file: str | None = None,
    validation_target_file: str | None = None,
    validation_split_percentage: float = 10,
) -> DatasetDict:
    """
    Line-aligned parallel text (one sentence a line, plain or .gz) as `"source"` and `"target"` columns, or (given
    no files) the embedded synthetic translation pairs.
    """
    given = {
        "--train_source_file": train_source_file,
        "--train_target_file": train_target_file,
        "--validation_source_file": validation_source_file,
        "--validation_target_file": validation_target_file,
    }
    if not any(given.values()):
        return default_translation_datasets()
    splits = {}
    for split in ("train", "validation"):
        source_flag, target_flag = f"--{split}_source_file", f"--{split}_target_file"
        if (given[source_flag] is None) != (given[target_flag] is None):
            missing = source_flag if given[source_flag] is None else target_flag
            raise ValueError(f"{missing} is missing: parallel text needs both {source_flag} and {target_flag}.")
        if given[source_flag] is None:
            continue
        sources, targets = read_lines(given[source_flag], source_flag), read_lines(given[target_flag], target_flag)
        if len(sources) != len(targets):
            raise ValueError(
                f"{source_flag} has {len(sources)} lines but {target_flag} has {len(targets)}; they must be aligned."
            )
        pairs = [(s, t) for s, t in zip(sources, targets) if s.strip() and t.strip()]
        splits[split] = Dataset.from_dict({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})
    if "train" not in splits:
        raise ValueError("--validation_source_file needs --train_source_file and --train_target_file.")
    if "validation" not in splits:
        return split_off_validation(splits["train"], validation_split_percentage)
    return DatasetDict(splits)
