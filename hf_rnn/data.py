"""Generic text data loading: local files, Hub datasets, validation splits and column checks.

Every loader returns a `datasets.DatasetDict` with a `"train"` and a `"validation"` split. When a source has no
validation split, the first `validation_split_percentage` percent of its rows become one, as in transformers'
`run_clm.py`: contiguous rows, so a text file split by lines still reads as running text on both sides.

Errors are `ValueError`s (or `FileNotFoundError`s) naming the Python parameter that brought the bad value
(`train_file`, `text_column`); `scripts/train.py` shows them as its flags. Task-specific readers (CoNLL, parallel
text, LM grouping) live with their task in `hf_rnn.tasks`; the generated default data in `hf_rnn.demo_data`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset
from transformers import PreTrainedTokenizerBase

__all__ = [
    "DATA_FILE_BUILDERS",
    "DATA_SOURCES",
    "check_columns",
    "check_nonempty_column",
    "check_text_file",
    "load_data_files",
    "load_hub_dataset",
    "load_task_datasets",
    "nonempty_texts",
    "read_lines",
    "split_off_validation",
    "tokenize_texts",
]

# Extension of a local data file -> the `datasets` builder that reads it.
DATA_FILE_BUILDERS = {"txt": "text", "csv": "csv", "tsv": "csv", "json": "json", "jsonl": "json"}
# Tab-separated files are read by the csv builder; GLUE-style TSV does not quote its fields.
TSV_OPTIONS = {"delimiter": "\t", "quoting": 3}  # 3: csv.QUOTE_NONE
# Where each split comes from, as the parameters that name it (in error messages).
DATA_SOURCES = {
    "train": "train_file / dataset_name",
    "validation": "validation_file / dataset_name",
    "test": "test_file / dataset_name",
}


def split_off_validation(dataset: Dataset, validation_split_percentage: float) -> DatasetDict:
    """The first `validation_split_percentage` percent of the rows (at least one) become `"validation"`."""
    if not 0 < validation_split_percentage < 100:
        raise ValueError(
            f"validation_split_percentage={validation_split_percentage} is invalid; "
            "it must be in (0, 100) when there is no validation file."
        )
    if len(dataset) < 2:
        raise ValueError(
            f"cannot split {len(dataset)} row(s) into train and validation; pass a validation_file, "
            "or a train_file with more lines."
        )
    num_validation = min(max(1, round(len(dataset) * validation_split_percentage / 100)), len(dataset) - 1)
    return DatasetDict(
        train=dataset.select(range(num_validation, len(dataset))),
        validation=dataset.select(range(num_validation)),
    )


def check_text_file(path: str, parameter: str) -> None:
    """
    `path` is a non-empty file of UTF-8 text (gzip'd if its name ends in .gz); otherwise a `FileNotFoundError` or
    `ValueError` naming `parameter`, rather than a decoding or parsing error from deep inside a loader.
    """
    import gzip

    if not Path(path).is_file():
        raise FileNotFoundError(f"{parameter} {path!r} does not exist (or is not a file).")
    try:
        data = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{parameter} {path!r} is not a readable gzip file: {error}") from None
    if not data.strip():
        raise ValueError(f"{parameter} {path!r} is empty.")
    if b"\0" in data:
        raise ValueError(f"{parameter} {path!r} is not a text file (it holds NUL bytes: binary data?).")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{parameter} {path!r} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}); "
            "re-encode it as UTF-8."
        ) from None


def _data_file_builder(path: str | None, parameter: str) -> str | None:
    """The `datasets` builder for a local file; a `FileNotFoundError` or `ValueError` naming `parameter` otherwise."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise FileNotFoundError(f"{parameter} {path!r} does not exist (or is not a file).")
    extension = Path(path).suffix.lstrip(".").lower()
    if extension not in DATA_FILE_BUILDERS:
        allowed = ", ".join(f".{e}" for e in DATA_FILE_BUILDERS)
        raise ValueError(f"{parameter} {path!r} has an unsupported extension; use one of {allowed}.")
    check_text_file(path, parameter)
    return DATA_FILE_BUILDERS[extension]


def _load_data_file(builder: str, split: str, path: str, parameter: str, options: dict) -> Dataset:
    """One local file through its `datasets` builder; a malformed file is a `ValueError` naming `parameter`."""
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
        raise ValueError(f"{parameter} {path!r} is not valid {kind}: {reason}") from None
    finally:
        datasets_logger.setLevel(level)


def load_data_files(
    train_file: str,
    validation_file: str | None = None,
    validation_split_percentage: float = 10,
    test_file: str | None = None,
) -> DatasetDict:
    """
    Local `.txt` (one row per line, line breaks kept so rows concatenate back into the text), `.csv`, `.tsv`,
    `.json` or `.jsonl` files. Without `validation_file`, the validation split is cut from the train file's first rows.
    A `test_file` (same format) becomes a `"test"` split.
    """
    builder = _data_file_builder(train_file, "train_file")
    is_tsv = Path(train_file).suffix.lower() == ".tsv"
    parameters = {"train": "train_file", "validation": "validation_file", "test": "test_file"}
    data_files = {"train": train_file, "validation": validation_file, "test": test_file}
    data_files = {split: path for split, path in data_files.items() if path is not None}
    for split, path in data_files.items():
        if split != "train" and (
            _data_file_builder(path, parameters[split]) != builder or is_tsv != (Path(path).suffix.lower() == ".tsv")
        ):
            raise ValueError(f"{parameters[split]} {path!r} and train_file {train_file!r} must have the same format.")
    options = {"keep_linebreaks": True} if builder == "text" else TSV_OPTIONS if is_tsv else {}
    # One load per file: files whose columns differ (SST-2's dev.tsv names its text column "content") then load,
    # and the caller's column check can name the parameter, rather than `datasets` failing to cast one to the other.
    raw_datasets = DatasetDict(
        {split: _load_data_file(builder, split, path, parameters[split], options) for split, path in data_files.items()}
    )
    if validation_file is None:
        test = raw_datasets.pop("test", None)
        raw_datasets = split_off_validation(raw_datasets["train"], validation_split_percentage)
        if test is not None:
            raw_datasets["test"] = test
    return raw_datasets


def load_hub_dataset(
    dataset_name: str,
    dataset_config_name: str | None = None,
    validation_split_percentage: float = 10,
    with_test: bool = False,
) -> DatasetDict:
    """
    A dataset from the Hugging Face Hub (needs the network); a missing validation split is cut from train. With
    `with_test`, its `"test"` split too, which it must have.
    """
    try:
        raw_datasets = load_dataset(dataset_name, dataset_config_name)
    except (OSError, ValueError) as error:  # offline, unknown name or config
        raise OSError(f"dataset_name {dataset_name!r} could not be loaded: {error}") from error
    if "train" not in raw_datasets:
        raise ValueError(f"dataset_name {dataset_name!r} has no 'train' split (it has {list(raw_datasets)}).")
    if with_test and "test" not in raw_datasets:
        raise ValueError(
            f"dataset_name {dataset_name!r} has no 'test' split to predict (it has {list(raw_datasets)}); pass "
            "train_file and test_file instead."
        )
    test = {"test": raw_datasets["test"]} if with_test else {}
    if "validation" not in raw_datasets:
        raw_datasets = split_off_validation(raw_datasets["train"], validation_split_percentage)
    return DatasetDict(train=raw_datasets["train"], validation=raw_datasets["validation"], **test)


def load_task_datasets(
    dataset_name: str | None,
    dataset_config_name: str | None,
    train_file: str | None,
    validation_file: str | None,
    validation_split_percentage: float,
    load_files,
    test_file: str | None = None,
    with_test: bool = False,
) -> DatasetDict:
    """
    `dataset_name` from the Hub (with its `"test"` split if `with_test`), else the task's
    `load_files(train_file, validation_file, percentage)`, which also takes `test_file=` when there is one.
    """
    if dataset_name is not None:
        if train_file is not None:
            raise ValueError("pass either dataset_name or train_file, not both.")
        if test_file is not None:
            raise ValueError("pass either dataset_name or test_file, not both: the Hub dataset's 'test' split is used.")
        return load_hub_dataset(dataset_name, dataset_config_name, validation_split_percentage, with_test)
    if test_file is None:
        return load_files(train_file, validation_file, validation_split_percentage)
    return load_files(train_file, validation_file, validation_split_percentage, test_file=test_file)


def check_columns(raw_datasets: DatasetDict, columns: dict[str, str]) -> None:
    """Every split holds each `{parameter: column}`; otherwise a `ValueError` naming the parameter and the source."""
    for split, dataset in raw_datasets.items():
        for parameter, column in columns.items():
            if column not in dataset.column_names:
                raise ValueError(
                    f"{parameter} {column!r} is not a column of the {split} data ({DATA_SOURCES[split]}); "
                    f"it has {dataset.column_names}."
                )


def tokenize_texts(raw_datasets: DatasetDict, tokenizer: PreTrainedTokenizerBase, text_column: str) -> DatasetDict:
    """Tokenize `text_column` of every split: one row of `input_ids` per text, no special tokens, in order."""
    for split, dataset in raw_datasets.items():
        if text_column not in dataset.column_names:
            raise ValueError(
                f"text_column {text_column!r} is not a column of the {split} data; it has {dataset.column_names}."
            )

    def tokenize(examples: dict[str, list]) -> dict[str, list[list[int]]]:
        return tokenizer(examples[text_column], add_special_tokens=False, return_attention_mask=False)

    return DatasetDict(
        {
            split: dataset.map(tokenize, batched=True, remove_columns=dataset.column_names, desc=f"tokenize {split}")
            for split, dataset in raw_datasets.items()
        }
    )


def check_nonempty_column(
    raw_datasets: DatasetDict,
    column: str,
    parameter: str,
    sources: dict[str, str] = DATA_SOURCES,
    allow_empty: bool = False,
) -> None:
    """
    Every row of every split has a non-empty `column`: a string with a visible character, or a non-empty list. An
    empty row encodes to no tokens, which a recurrent model cannot run on (or averages to NaN). Otherwise a
    `ValueError` naming `parameter`, the split's source (`sources[split]`), the first bad row and how many there are.
    `allow_empty`: only require strings (running text, where an empty line is just a line break).
    """

    def is_bad(value) -> bool:
        if allow_empty:
            return not isinstance(value, str)
        return not (isinstance(value, str) and value.strip()) and not (isinstance(value, list) and value)

    for split, dataset in raw_datasets.items():
        if column not in dataset.column_names:
            continue  # the caller's column check names the parameter
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
            f"{parameter} {column!r}: {len(bad)} row(s) of the {split} data ({sources.get(split, split)}) are empty or "
            f"not text; the first is row {bad[0] + 1} of the {split} split ({what}). Remove or fill them."
        )


def nonempty_texts(dataset: Dataset, text_column: str) -> Iterable[str]:
    """The non-empty strings of one column, streamed (tokenizer training reads them once)."""
    return (text for text in dataset[text_column] if text)


def read_lines(path: str, parameter: str) -> list[str]:
    """The lines of a text file (gzip'd if its name ends in .gz), without their line breaks."""
    import gzip

    check_text_file(path, parameter)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        return file.read().splitlines()
