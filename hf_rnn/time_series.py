"""Time-series data for forecasting: a CSV of dated columns -> normalised sliding windows for `Trainer`.

    frame = read_series_csv("ETTh1.csv")                       # date column + value columns
    scaler = StandardScaler.fit(frame.values[:8640])           # statistics of the training rows only
    train = ForecastWindows(scaler.transform(frame.values), 96, 96, end=8640)

`ForecastWindows` yields `{"past_values", "future_values"}` dicts, the argument names of
`RNNForTimeSeriesPrediction` (and PatchTST), so `Trainer` batches them with its default collator.
`forecast_frame(model_or_folder, frame)` forecasts the rows after a pandas DataFrame (or an array), as a DataFrame.
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


@torch.no_grad()
def forecast_frame(model, frame, date_column: str = "date", quantiles: tuple[float, ...] = (), num_samples: int = 200):
    """
    Forecast the `prediction_length` rows that follow `frame`, from its last `context_length` rows.

    Args:
        model: an `RNNForTimeSeriesPrediction`, or a saved folder or Hub id (loaded with
            `AutoModelForTimeSeriesPrediction`).
        frame: a pandas DataFrame holding the model's columns (`config.column_names`, else every column but
            `date_column`, in order) and, if present, `date_column`; or an array `(time, channels)`.
        quantiles: for a probabilistic model, also these quantiles of `num_samples` sample paths, as columns
            `<column>_q<percent>` (e.g. `load_q10`).
    Returns:
        A DataFrame of `prediction_length` rows in the data's units, one column per channel; its `date_column`
        continues the input's dates at their last step (an integer index without dates).
    """
    import pandas as pd
    from transformers import AutoModelForTimeSeriesPrediction

    if isinstance(model, (str, Path)):
        model = AutoModelForTimeSeriesPrediction.from_pretrained(model)
    config = model.config
    dates = None
    if isinstance(frame, pd.DataFrame):
        columns = config.column_names or [name for name in frame.columns if name != date_column]
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise ValueError(f"frame has no column(s) {missing}; the model forecasts {columns}.")
        values = frame[columns].to_numpy(dtype=np.float32, copy=True)
        if date_column in frame.columns:
            dates = pd.to_datetime(frame[date_column])
    else:
        values = np.asarray(frame, dtype=np.float32)
        columns = config.column_names or [f"channel_{i}" for i in range(values.shape[-1])]
    if values.ndim != 2 or values.shape[1] != config.num_input_channels or len(values) < config.context_length:
        raise ValueError(
            f"frame holds {values.shape} values; the model reads the last context_length={config.context_length} "
            f"rows of num_input_channels={config.num_input_channels} columns."
        )
    model.eval()
    past = torch.as_tensor(values[-config.context_length :])[None].to(model.device)
    forecast = model(past_values=past).prediction_outputs[0].cpu().numpy()
    result = pd.DataFrame(forecast, columns=columns)
    if quantiles:
        if config.distribution_output is None:
            raise ValueError("quantiles need a probabilistic model (config.distribution_output); this one is not.")
        samples = model.generate(past_values=past, num_samples=num_samples).sequences[0].cpu()
        levels = samples.quantile(torch.tensor(quantiles, dtype=samples.dtype), dim=0).numpy()
        for level, values_at in zip(quantiles, levels):
            for index, column in enumerate(columns):
                result[f"{column}_q{round(level * 100):g}"] = values_at[:, index]
    if dates is not None and len(dates) > 1:
        step = dates.iloc[-1] - dates.iloc[-2]
        result.insert(0, date_column, [dates.iloc[-1] + step * (k + 1) for k in range(len(result))])
    return result


__all__ = ["ForecastWindows", "SeriesFrame", "StandardScaler", "forecast_frame", "read_series_csv"]
