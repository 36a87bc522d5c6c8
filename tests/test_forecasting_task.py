"""`scripts/train.py --task time-series-forecasting`: a CSV (or the embedded series) in time order, statistics of the
training rows saved in the model, MSE/MAE in both scales, --do_predict, a forecast plot; bad input named."""

import json

import numpy as np
import pytest
import torch
from helpers import run_train_script
from transformers import AutoModelForTimeSeriesPrediction

from hf_rnn import RNNForTimeSeriesPrediction
from hf_rnn.demo_data import default_seasonal_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = ["--task", "time-series-forecasting", "--max_steps", "30", "--hidden_size", "16", "--save_strategy", "no",
        "--context_length", "48", "--prediction_length", "24", "--segment_length", "12"]  # fmt: skip


def write_csv(path, rows: int = 600, bad_cell: str | None = None) -> np.ndarray:
    hours = np.arange(rows)
    values = np.stack([100 + 10 * np.sin(2 * np.pi * hours / 24), 0.01 * np.cos(2 * np.pi * hours / 12)], axis=1)
    lines = ["date,sales,rate,ignored"] + [
        f"2024-01-01 {h:05d},{a:.6f},{b:.6f},{h}" for h, (a, b) in zip(hours, values)
    ]
    if bad_cell is not None:
        lines[5] = f"2024-01-01 00004,{bad_cell},0.1,4"
    path.write_text("\n".join(lines) + "\n")
    return values


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast") / "run"
    run_train_script([*TINY, "--distribution_output", "normal", "--do_predict", "--output_dir", out])
    return out


def test_embedded_series_run_leaves_a_complete_folder_with_metrics_in_both_scales(embedded_run):
    for name in ("model.safetensors", "config.json", "modeling_rnn_forecast.py", "README.md", "loss.png"):
        assert (embedded_run / name).is_file(), name
    assert (embedded_run / "forecast.png").read_bytes().startswith(PNG_SIGNATURE)
    evaluation = json.loads((embedded_run / "eval_results.json").read_text())
    predicted = json.loads((embedded_run / "predict_results.json").read_text())
    for results, prefix in ((evaluation, "eval"), (predicted, "test")):
        for metric in ("mse", "mae", "mse_standardized", "mae_standardized"):
            assert np.isfinite(results[f"{prefix}_{metric}"]), metric
    # The loss is the standardized NLL; the card names the task and its Auto class.
    assert "AutoModelForTimeSeriesPrediction" in (embedded_run / "README.md").read_text()


def test_saved_model_holds_the_training_rows_statistics_and_forecasts_in_the_data_units(embedded_run):
    model = AutoModelForTimeSeriesPrediction.from_pretrained(embedded_run)
    assert isinstance(model, RNNForTimeSeriesPrediction)
    series = default_seasonal_series().values
    train_rows = len(series) - 2 * int(len(series) * 0.2)  # validation and test: the last 20% each, in time order
    np.testing.assert_allclose(model.config.value_mean, series[:train_rows].mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.config.value_std, series[:train_rows].std(0), rtol=1e-5)
    past = torch.as_tensor(series[-48:])[None]
    with torch.no_grad():
        forecast = model(past_values=past).prediction_outputs[0]
    assert abs(forecast[:, 0].mean().item() - series[-48:, 0].mean()) < 15  # the load channel, around 50, not 0


def test_a_csv_trains_on_the_named_columns_in_time_order(tmp_path):
    values = write_csv(tmp_path / "series.csv")
    out = tmp_path / "run"
    run_train_script([*TINY, "--train_file", tmp_path / "series.csv", "--target_columns", "sales", "rate",
                      "--validation_split_percentage", "10", "--output_dir", out])  # fmt: skip
    model = AutoModelForTimeSeriesPrediction.from_pretrained(out)
    assert model.config.num_input_channels == 2
    np.testing.assert_allclose(model.config.value_mean, values[:480].mean(0), rtol=1e-4, atol=1e-6)
    assert "series.csv" in (out / "README.md").read_text()


def test_config_overrides_set_the_fields_without_a_flag_of_their_own(tmp_path):
    # run_clm.py's --config_overrides: the ETTh1 recipe's last-value normalisation and MAE loss from train.py.
    write_csv(tmp_path / "series.csv")
    out = tmp_path / "run"
    run_train_script([*TINY, "--max_steps", "2", "--train_file", tmp_path / "series.csv", "--output_dir", out,
                      "--config_overrides", "normalization=last_value,loss=mae,dropout=0.3"])  # fmt: skip
    config = AutoModelForTimeSeriesPrediction.from_pretrained(out).config
    assert (config.normalization, config.loss, config.dropout) == ("last_value", "mae", 0.3)
    assert config.segment_length == 12  # the flags still apply underneath


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--context_length", "0"], "--context_length=0"),
        (["--segment_length", "10"], "--segment_length=10 must divide --context_length=48"),
        (["--target_columns", "missing"], "no column(s) ['missing']"),
        (["--validation_split_percentage", "60"], "--validation_split_percentage must be below 50"),
        (["--prediction_length", "240"], "the validation rows [360, 480) hold no window"),
        (["--dataset_name", "x/y"], "reads a CSV (--train_file)"),
        (["--config_overrides", "normalisation=last_value"], "normalisation isn't in the original config"),
        (["--config_overrides", "loss=huber"], "loss='huber' is not supported; choose one of 'mse', 'mae'"),
        (["--config_overrides", "loss"], "--config_overrides='loss' cannot set RNNForecastConfig"),
        (["--config_overrides", "loss=mae", "--model_name_or_path", "x"], "--config_overrides cannot be combined"),
    ],
)
def test_bad_forecasting_input_is_one_line_naming_the_flag(tmp_path, capsys, flags, message):
    write_csv(tmp_path / "series.csv")
    with pytest.raises(SystemExit) as stopped:
        run_train_script([*TINY, "--train_file", tmp_path / "series.csv", *flags, "--output_dir", tmp_path / "run"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert message in error, error
    assert not (tmp_path / "run").exists()


def test_a_non_numeric_cell_names_the_file_and_row(tmp_path, capsys):
    write_csv(tmp_path / "series.csv", bad_cell="n/a")
    with pytest.raises(SystemExit):
        run_train_script([*TINY, "--train_file", tmp_path / "series.csv", "--output_dir", tmp_path / "run"])
    assert "series.csv, row 6: a value is not a number" in capsys.readouterr().err


def test_forecast_frame_continues_a_dataframe_in_the_data_units_with_dates_and_quantiles(embedded_run):
    import pandas as pd

    from hf_rnn.time_series import forecast_frame

    series = default_seasonal_series()
    frame = pd.DataFrame(series.values[-100:], columns=series.columns)
    frame.insert(0, "date", series.dates[-100:])
    model = AutoModelForTimeSeriesPrediction.from_pretrained(embedded_run)
    forecast = forecast_frame(embedded_run, frame, quantiles=(0.1, 0.9))  # a folder: loaded for the caller
    assert list(forecast["date"]) == list(pd.date_range(pd.Timestamp(series.dates[-1]), periods=25, freq="h")[1:])
    columns = model.config.column_names
    assert columns == series.columns
    with torch.no_grad():
        expected = model(past_values=torch.as_tensor(series.values[-48:])[None]).prediction_outputs[0].numpy()
    np.testing.assert_allclose(forecast[columns].to_numpy(), expected, rtol=1e-5, atol=1e-5)
    for column in columns:
        assert (forecast[f"{column}_q10"] <= forecast[f"{column}_q90"]).all()
    from_array = forecast_frame(model, series.values[-48:])  # an array: no dates, same numbers
    np.testing.assert_allclose(from_array[columns].to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_forecast_frame_names_what_is_missing(embedded_run):
    import pandas as pd

    from hf_rnn.time_series import forecast_frame

    series = default_seasonal_series()
    frame = pd.DataFrame(series.values[-100:], columns=series.columns)
    with pytest.raises(ValueError, match=r"no column\(s\) \['price'\]"):
        forecast_frame(embedded_run, frame.drop(columns=["price"]))
    with pytest.raises(ValueError, match="context_length=48"):
        forecast_frame(embedded_run, frame.iloc[-10:])
