"""Time-series data for forecasting: a CSV of dated columns -> normalised sliding windows for `Trainer`.

    frame = read_series_csv("ETTh1.csv")                       # date column + value columns
    scaler = StandardScaler.fit(frame.values[:8640])           # statistics of the training rows only
    train = ForecastWindows(scaler.transform(frame.values), 96, 96, end=8640)

`ForecastWindows` yields `{"past_values", "future_values"}` dicts, the argument names of
`RNNForTimeSeriesPrediction` (and PatchTST), so `Trainer` batches them with its default collator.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset


@dataclass
class SeriesFrame:
    """Columns of a CSV time series: `dates` (strings, as written) and `values` `(time, channels)` float32."""

    dates: list[str]
    columns: list[str]
    values: np.ndarray


def read_series_csv(path: str | Path, date_column: str = "date", columns: list[str] | None = None) -> SeriesFrame:
    """
    Read a CSV with a header: `date_column` and numeric columns (all of them, or `columns` in that order).
    A missing or non-numeric cell, a ragged row or an unknown column is a `ValueError` naming the file and row.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if len(rows) < 2:
        raise ValueError(f"{path} has no data rows under its header.")
    header, body = rows[0], rows[1:]
    if date_column not in header:
        raise ValueError(f"{path} has no column {date_column!r} (date_column); its columns are {header}.")
    value_columns = columns or [name for name in header if name != date_column]
    unknown = [name for name in value_columns if name not in header]
    if unknown:
        raise ValueError(f"{path} has no column(s) {unknown}; its columns are {header}.")
    date_index, indices = header.index(date_column), [header.index(name) for name in value_columns]
    values = np.empty((len(body), len(indices)), dtype=np.float32)
    for row_number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, row {row_number}: {len(row)} cells, the header has {len(header)}.")
        try:
            values[row_number - 2] = [float(row[i]) for i in indices]
        except ValueError as error:
            raise ValueError(f"{path}, row {row_number}: a value is not a number ({error}).") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{path} holds non-finite values (nan or inf).")
    return SeriesFrame(dates=[row[date_index] for row in body], columns=value_columns, values=values)


@dataclass
class StandardScaler:
    """Per-channel z-normalisation with statistics from the rows it was fitted on (the training split)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> StandardScaler:
        std = values.std(0)
        return cls(mean=values.mean(0), std=np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse_transform(self, values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        if isinstance(values, torch.Tensor):
            return values * torch.as_tensor(self.std, dtype=values.dtype) + torch.as_tensor(
                self.mean, dtype=values.dtype
            )
        return values * self.std + self.mean


class ForecastWindows(Dataset):
    """
    Every window of `values` `(time, channels)` whose FUTURE lies in rows `[start, end)`: the past
    (`context_length` rows) may reach back before `start`, as in the long-horizon forecasting literature.
    Window i's future starts at row `start + i * stride`.
    """

    def __init__(
        self,
        values: np.ndarray,
        context_length: int,
        prediction_length: int,
        start: int = 0,
        end: int | None = None,
        stride: int = 1,
    ):
        end = len(values) if end is None else end
        first_future = max(start, context_length)
        count = math.floor((end - prediction_length - first_future) / stride) + 1
        if count < 1:
            raise ValueError(
                f"rows [{start}, {end}) hold no window of context_length={context_length} and "
                f"prediction_length={prediction_length}."
            )
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.context_length, self.prediction_length = context_length, prediction_length
        self.future_starts = [first_future + i * stride for i in range(count)]

    def __len__(self) -> int:
        return len(self.future_starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        t = self.future_starts[index]
        return {
            "past_values": self.values[t - self.context_length : t],
            "future_values": self.values[t : t + self.prediction_length],
        }


__all__ = ["ForecastWindows", "SeriesFrame", "StandardScaler", "read_series_csv"]
