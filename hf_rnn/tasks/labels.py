"""Helpers the supervised text tasks share: label sets, encoding the kept rows, and keeping the predictions.

Errors name the Python parameter (`label_column`, `tags_column`); the script shows them as its flags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import datasets
import numpy as np
from transformers import Trainer, TrainingArguments


def first_rows(dataset: datasets.Dataset, max_rows: int | None) -> datasets.Dataset:
    return dataset if max_rows is None else dataset.select(range(min(max_rows, len(dataset))))


def class_labels_as_names(raw_datasets: datasets.DatasetDict, column: str) -> datasets.DatasetDict:
    """
    A `ClassLabel` column (Hub datasets store labels as ids with their names in the features), or a sequence of
    them, rewritten as the label names, so that `id2label` holds names rather than numbers.
    """
    renamed = {}
    for split, dataset in raw_datasets.items():
        feature = dataset.features.get(column)  # None: an unlabeled test split
        inner = getattr(feature, "feature", None)
        features = dataset.features.copy()
        if isinstance(feature, datasets.ClassLabel):
            features[column] = datasets.Value("string")
            to_names = feature.int2str
        elif isinstance(inner, datasets.ClassLabel):
            features[column] = datasets.Sequence(datasets.Value("string"))
            to_names = lambda rows, inner=inner: [inner.int2str(tags) for tags in rows]  # noqa: E731
        else:
            renamed[split] = dataset
            continue
        renamed[split] = dataset.map(
            lambda rows, to_names=to_names: {column: to_names(rows[column])}, batched=True, features=features
        )
    return datasets.DatasetDict(renamed)


def label_names(values: Iterable, parameter: str) -> list[str]:
    """The sorted distinct labels (numbers in numeric order), as the strings `id2label` holds."""
    distinct = set(values)
    if None in distinct:
        raise ValueError(f"{parameter}: some rows have no label.")
    return [str(value) for value in sorted(distinct, key=lambda v: (isinstance(v, str), v))]


def check_label_sets(
    train_labels: list[str], other_labels: list[str], parameter: str, split: str = "validation"
) -> None:
    """The `split` data (validation or test) has no label the train data lacks: the model could never predict it."""
    unseen = sorted(set(other_labels) - set(train_labels))
    if unseen:
        raise ValueError(
            f"{parameter}: the {split} data ({split}_file) has labels the train data does not: "
            f"{', '.join(map(repr, unseen[:10]))}; the train labels are {', '.join(map(repr, train_labels[:20]))}."
        )


def without_missing_labels(raw_datasets: datasets.DatasetDict, column: str) -> datasets.DatasetDict:
    """
    The `"test"` split without `column` when none of its rows has a label (a Hub test split such as GLUE's holds -1
    in every row): it is then predicted, not scored. Other splits are returned as they are.
    """
    test = raw_datasets.get("test")
    if test is None or column not in test.column_names:
        return raw_datasets
    if any(value is not None and value != -1 for value in test[column]):
        return raw_datasets
    return datasets.DatasetDict({**raw_datasets, "test": test.remove_columns(column)})


def encode_splits(
    raw_datasets: datasets.DatasetDict,
    encode: Callable[[dict[str, list]], dict[str, list]],
    max_train_samples: int | None,
    max_eval_samples: int | None,
    training_args: TrainingArguments,
) -> tuple[datasets.Dataset, dict[str, datasets.Dataset]]:
    """
    The rows kept by `max_train_samples` / `max_eval_samples` (and every test row), encoded by the batched `encode`
    (rank 0 first, so the others read its cache); also the kept raw validation rows, which the predictions files
    line up with.
    """
    kept = {
        "train": first_rows(raw_datasets["train"], max_train_samples),
        "validation": first_rows(raw_datasets["validation"], max_eval_samples),
    }
    if "test" in raw_datasets:
        kept["test"] = raw_datasets["test"]
    with training_args.main_process_first(desc="tokenize"):
        encoded = {
            split: dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc=f"tokenize {split}")
            for split, dataset in kept.items()
        }
    return kept["validation"], encoded


def argmax_logits(logits, labels):
    """Keep only the predicted ids during evaluation (`preprocess_logits_for_metrics`), not every logit."""
    return (logits[0] if isinstance(logits, tuple) else logits).argmax(-1)


def predictions_writer(
    output_dir: str, last_predictions: dict, write: Callable[[Path, np.ndarray], None]
) -> Callable[[Trainer], None]:
    """After training: `write` the final evaluation's predictions (kept by `compute_metrics`) on rank 0."""

    def after_training(trainer: Trainer) -> None:
        if trainer.is_world_process_zero() and "predictions" in last_predictions:
            write(Path(output_dir), last_predictions["predictions"])

    return after_training
