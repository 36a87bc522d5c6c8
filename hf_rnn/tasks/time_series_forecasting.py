"""Time-series forecasting: the next `prediction_length` values of every target column from the `context_length`
before them, with `RNNForTimeSeriesPrediction` (SegRNN-style).

Data: a CSV with a date column and value columns (`train_file`), split in time order (train, then validation, then
test: the last `validation_split_percentage` percent of the rows each, unless `validation_file` / `test_file` are
given), or a generated multi-seasonal series (`hf_rnn.demo_data`). The training rows' mean and standard deviation
are saved in the model's config, so the model reads and returns the data's own units. Metrics: MSE and MAE in the
data's units and on the standardized scale. After training: `forecast.png` (history, truth, forecast and, for a
probabilistic model, its 10-90% band); with `do_predict`, the test windows' metrics in `predict_results.json`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForTimeSeriesPrediction, EvalPrediction, Trainer

from ..configuration_rnn_forecast import RNNForecastConfig
from ..demo_data import default_seasonal_series
from ..modeling_rnn_forecast import RNNForTimeSeriesPrediction
from ..time_series import ForecastWindows, StandardScaler, read_series_csv
from .base import Task, TaskSetup, check_number
from .models import apply_config_overrides, check_saved_model

logger = logging.getLogger(__name__)


class TimeSeriesForecastingTask(Task):
    name = "time-series-forecasting"
    head = "ForTimeSeriesPrediction"
    auto_class = AutoModelForTimeSeriesPrediction
    embedded_data = "a generated hourly series with daily and weekly seasons, trend and noise (`hf_rnn.demo_data`)"
    card = {
        "pipeline_tag": "time-series-forecasting",
        "pipeline_task": "time-series-forecasting",
        "task_name": "Time Series Forecasting",
        "auto_class": "AutoModelForTimeSeriesPrediction",
    }
    test_split = "data"
    # Measured on the embedded series on 2 CPU cores: a one-layer GRU over segments of 24 learns both seasons in
    # about a minute; the validation and test parts are the last fifth of the rows each.
    training_defaults = {
        "cell": "gru",
        "hidden_size": 128,
        "output_dropout": 0.1,
        "max_steps": 600,
        "per_device_train_batch_size": 64,
        "per_device_eval_batch_size": 256,
        "learning_rate": 3e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.05,
        "logging_steps": 0.05,
        "eval_strategy": "steps",
        "eval_steps": 0.25,
        "save_steps": 0.25,
        "save_total_limit": 1,
        "validation_split_percentage": 20,
        "label_names": ["future_values"],
    }

    def check_arguments(self, model_args, data_args, training_args) -> None:
        super().check_arguments(model_args, data_args, training_args)
        for name in ("context_length", "prediction_length"):
            check_number(name, getattr(data_args, name), 1, what="a whole number of time steps")
        check_number("validation_split_percentage", data_args.validation_split_percentage, 0, inclusive=False)
        if data_args.validation_split_percentage >= 50:
            raise ValueError("validation_split_percentage must be below 50: validation and test take it each.")
        if data_args.dataset_name is not None:
            raise ValueError("`task` time-series-forecasting reads a CSV (train_file), not dataset_name.")

    def loss_label(self, config) -> str:
        # `forecast_loss`: per observed future value, on the standardized scale
        if config.distribution_output is not None:
            return "loss (negative log-likelihood per value, standardized)"
        return f"loss ({'absolute' if config.loss == 'mae' else 'squared'} error per value, standardized)"

    def prepare(self, model_args, data_args, training_args) -> TaskSetup:
        check_saved_model(self, model_args)
        splits = load_splits(data_args)
        train, _, train_end = splits["train"]
        columns = train.columns
        scaler = StandardScaler.fit(train.values[:train_end])  # the training rows' statistics only
        context, horizon = data_args.context_length, data_args.prediction_length
        windows = {
            split: series_windows(frame.values, context, horizon, start, end, split)
            for split, (frame, start, end) in splits.items()
        }
        model = load_or_build_model(self, model_args, data_args, columns, scaler)
        logger.info(
            f"{len(columns)} columns {columns}; {len(windows['train'])} train, {len(windows['validation'])} "
            f"validation and {len(windows['test'])} test windows of {context} + {horizon} steps"
        )

        def compute_metrics(prediction: EvalPrediction) -> dict:
            return forecast_metrics(prediction.predictions, prediction.label_ids, scaler)

        def after_training(trainer: Trainer) -> None:
            if trainer.is_world_process_zero():
                output_path = Path(training_args.output_dir) / "forecast.png"
                plot_forecast(trainer.model, windows["validation"], columns[0], output_path)

        return TaskSetup(
            model=model,
            tokenizer=None,
            train_dataset=windows["train"],
            eval_dataset=windows["validation"],
            compute_metrics=compute_metrics,
            preprocess_logits_for_metrics=point_forecast,
            after_training=after_training,
            test_dataset=windows["test"],
        )


def load_splits(data_args) -> dict:
    """
    Each split's series and the rows whose futures it forecasts, `{split: (SeriesFrame, start, end)}`. The train
    series is cut in time order into train, validation and test (`validation_split_percentage` of its rows each),
    except for a part given as its own file (`validation_file`, `test_file`), all of whose windows count.
    """
    if data_args.train_file is None:
        if data_args.validation_file or data_args.test_file:
            raise ValueError("validation_file and test_file need a train_file to go with them.")
        frame = default_seasonal_series()
    else:
        frame = read_series_csv(data_args.train_file, data_args.date_column, data_args.target_columns)
    rows = len(frame.values)
    share = int(rows * data_args.validation_split_percentage / 100)
    files = {"validation": data_args.validation_file, "test": data_args.test_file}
    end = rows - share * sum(path is None for path in files.values())
    splits = {"train": (frame, 0, end)}
    for split, path in files.items():
        if path is None:
            splits[split] = (frame, end, end + share)
            end += share
        else:
            own = read_series_csv(path, data_args.date_column, frame.columns)
            splits[split] = (own, 0, len(own.values))
    return splits


def series_windows(values, context: int, horizon: int, start: int, end: int, split: str) -> ForecastWindows:
    try:
        return ForecastWindows(values, context, horizon, start, end)
    except ValueError:
        raise ValueError(
            f"the {split} rows [{start}, {end}) hold no window of context_length={context} plus "
            f"prediction_length={horizon}; use a longer series, a larger validation_split_percentage, or shorter "
            "lengths."
        ) from None


def load_or_build_model(task: Task, model_args, data_args, columns: list[str], scaler: StandardScaler):
    channels = len(columns)
    if model_args.model_name_or_path is not None:
        model = task.auto_class.from_pretrained(model_args.model_name_or_path)
        saved = (model.config.context_length, model.config.prediction_length, model.config.num_input_channels)
        if saved != (data_args.context_length, data_args.prediction_length, channels):
            raise ValueError(
                f"model_name_or_path forecasts {saved[1]} steps of {saved[2]} columns from {saved[0]}; this run asks "
                f"for {data_args.prediction_length} of {channels} from {data_args.context_length} (context_length, "
                "prediction_length, target_columns)."
            )
        return model
    config = RNNForecastConfig(
        context_length=data_args.context_length,
        prediction_length=data_args.prediction_length,
        num_input_channels=channels,
        segment_length=model_args.segment_length,
        cell=model_args.cell,
        hidden_size=model_args.hidden_size,
        num_hidden_layers=model_args.num_layers,
        dropout=model_args.output_dropout,
        distribution_output=model_args.distribution_output,
        value_mean=scaler.mean.tolist(),
        value_std=scaler.std.tolist(),
        column_names=list(columns),
    )
    return RNNForTimeSeriesPrediction(apply_config_overrides(config, model_args.config_overrides))


def point_forecast(outputs, labels):
    """Only the forecast (`prediction_outputs`, first in the outputs tuple) is gathered for the metrics."""
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def forecast_metrics(predictions: np.ndarray, targets: np.ndarray, scaler: StandardScaler) -> dict[str, float]:
    """MSE and MAE in the data's units, and on the standardized scale (every column weighs alike)."""
    error = predictions - targets
    standardized = error / scaler.std
    return {
        "mse": float(np.mean(error**2)),
        "mae": float(np.mean(np.abs(error))),
        "mse_standardized": float(np.mean(standardized**2)),
        "mae_standardized": float(np.mean(np.abs(standardized))),
    }


def plot_forecast(model, windows: ForecastWindows, column: str, path: Path) -> None:
    """The last window of `windows`, first column: history, truth, forecast and, if probabilistic, a 10-90% band."""
    from matplotlib.figure import Figure

    window = windows[len(windows) - 1]
    past = window["past_values"][None].to(model.device)
    model.eval()
    with torch.no_grad():
        forecast = model(past_values=past).prediction_outputs[0, :, 0].cpu()
        band = None
        if model.config.distribution_output is not None:
            samples = model.generate(past_values=past).sequences[0, :, :, 0].cpu()
            band = samples.quantile(torch.tensor([0.1, 0.9]), dim=0)
    history, truth = window["past_values"][:, 0], window["future_values"][:, 0]
    future_steps = range(len(history), len(history) + len(truth))
    figure = Figure(figsize=(9, 4), layout="tight")
    axes = figure.add_subplot()
    axes.plot(range(len(history)), history, color="gray", label="history")
    axes.plot(future_steps, truth, color="black", label="truth")
    axes.plot(future_steps, forecast, color="tab:blue", label="forecast")
    if band is not None:
        axes.fill_between(future_steps, band[0], band[1], color="tab:blue", alpha=0.2, label="10-90% of samples")
    axes.set_xlabel("time step")
    axes.set_ylabel(column)
    axes.set_title(f"{column}: the last validation window")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=100)


__all__ = ["TimeSeriesForecastingTask"]
