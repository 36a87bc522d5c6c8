"""Text data for training: the embedded default corpus, local files, Hub datasets, and LM block grouping.

Every loader returns a `datasets.DatasetDict` with a `"train"` and a `"validation"` split. When a source has no
validation split, the first `validation_split_percentage` percent of its rows become one, as in transformers'
`run_clm.py`: contiguous rows, so a text file split by lines still reads as running text on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset
from transformers import PreTrainedTokenizerBase

__all__ = [
    "DATA_FILE_BUILDERS",
    "default_lm_corpus",
    "default_lm_datasets",
    "group_texts",
    "load_data_files",
    "load_hub_dataset",
    "load_lm_datasets",
    "nonempty_texts",
    "split_off_validation",
    "tokenize_and_group",
]

# Extension of a local data file -> the `datasets` builder that reads it.
DATA_FILE_BUILDERS = {"txt": "text", "csv": "csv", "json": "json", "jsonl": "json"}


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
    return DATA_FILE_BUILDERS[extension]


def load_data_files(
    train_file: str, validation_file: str | None = None, validation_split_percentage: float = 10
) -> DatasetDict:
    """
    Local `.txt` (one row per line, line breaks kept so rows concatenate back into the text), `.csv`, `.json` or
    `.jsonl` files. Without `validation_file`, the validation split is cut from the train file's first rows.
    """
    builder = _data_file_builder(train_file, "--train_file")
    validation_builder = _data_file_builder(validation_file, "--validation_file")
    if validation_builder is not None and validation_builder != builder:
        raise ValueError(
            f"--validation_file {validation_file!r} and --train_file {train_file!r} must have the same format."
        )
    data_files = {"train": train_file}
    if validation_file is not None:
        data_files["validation"] = validation_file
    options = {"keep_linebreaks": True} if builder == "text" else {}
    raw_datasets = load_dataset(builder, data_files=data_files, **options)
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


def tokenize_and_group(
    raw_datasets: DatasetDict, tokenizer: PreTrainedTokenizerBase, text_column: str, block_size: int
) -> DatasetDict:
    """Tokenize `text_column` of every split and group it into `block_size` blocks of `input_ids`/`labels`."""
    for split, dataset in raw_datasets.items():
        if text_column not in dataset.column_names:
            raise ValueError(
                f"--text_column {text_column!r} is not a column of the {split} data; it has {dataset.column_names}."
            )

    def tokenize(examples: dict[str, list]) -> dict[str, list[list[int]]]:
        return tokenizer(examples[text_column], add_special_tokens=False, return_attention_mask=False)

    tokenized = DatasetDict(
        {
            split: dataset.map(tokenize, batched=True, remove_columns=dataset.column_names, desc=f"tokenize {split}")
            for split, dataset in raw_datasets.items()
        }
    )
    grouped = tokenized.map(
        group_texts, batched=True, fn_kwargs={"block_size": block_size}, desc=f"group into blocks of {block_size}"
    )
    for split, dataset in grouped.items():
        if len(dataset) == 0:
            raise ValueError(
                f"the {split} text is shorter than one block of --block_size={block_size} tokens; "
                "use a smaller --block_size or more text."
            )
    return grouped


def nonempty_texts(dataset: Dataset, text_column: str) -> Iterable[str]:
    """The non-empty strings of one column, streamed (tokenizer training reads them once)."""
    return (text for text in dataset[text_column] if text)
