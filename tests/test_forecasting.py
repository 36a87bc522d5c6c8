"""Time-series forecasting: RNNForTimeSeriesPrediction (SegRNN-style), its options, saving, remote code, Trainer."""

import math

import pytest
import torch
from helpers import BLOCK_HF_RNN, run_without_hf_rnn
from transformers import AutoModelForTimeSeriesPrediction, Trainer, TrainingArguments

from hf_rnn import RNNForecastConfig, RNNForTimeSeriesPrediction

CONTEXT, HORIZON, CHANNELS, SEGMENT = 48, 24, 3, 12
OPTIONS = {
    "segrnn": {},
    "lstm, two layers": {"cell": "lstm", "num_hidden_layers": 2},
    "channels together": {"channel_independence": False},
    "linear decoding": {"decoding": "linear"},
    "point by point": {"segment_length": 1, "decoding": "linear"},
    "student_t": {"distribution_output": "student_t"},
    "normal, channels together": {"distribution_output": "normal", "channel_independence": False},
    "last value": {"normalization": "last_value"},
}


def forecaster(seed: int = 0, **overrides) -> RNNForTimeSeriesPrediction:
    fields = {
        "context_length": CONTEXT,
        "prediction_length": HORIZON,
        "num_input_channels": CHANNELS,
        "segment_length": SEGMENT,
        "hidden_size": 16,
        **overrides,
    }
    torch.manual_seed(seed)
    return RNNForTimeSeriesPrediction(RNNForecastConfig(**fields)).eval()


def windows(batch: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    series = torch.randn(batch, CONTEXT + HORIZON, CHANNELS, generator=generator).cumsum(1)
    return series[:, :CONTEXT], series[:, CONTEXT:]


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
def test_forecast_has_future_values_shape_and_a_finite_loss(options):
    model = forecaster(**options)
    past, future = windows()
    output = model(past, future_values=future)
    assert output.prediction_outputs.shape == future.shape
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    output.loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("options", [{}, {"cell": "lstm"}, {"distribution_output": "student_t"}], ids=str)
def test_bf16_autocast_trains_in_fp32_weights_and_forecasts_near_fp32(options):
    # The ETTh1 recipe trains under CPU bf16 autocast (TrainingArguments.bf16): the recurrent kernel and the heads
    # must accept its bf16 activations, and the forecast may move by bf16's rounding only.
    model = forecaster(**options)  # eval mode: no dropout, so both passes compute the same function
    past, future = windows()
    reference = model(past, future_values=future)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(past, future_values=future)
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert output.loss.item() == pytest.approx(reference.loss.item(), rel=0.05)
    if isinstance(reference.prediction_outputs, torch.Tensor):  # a point forecast; a distribution gives parameters
        scale = reference.prediction_outputs.abs().max()
        assert (output.prediction_outputs.float() - reference.prediction_outputs).abs().max() < 0.05 * scale
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
def test_auto_classes_save_and_reload_give_identical_forecasts(options, tmp_path):
    model = forecaster(**options)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForTimeSeriesPrediction.from_pretrained(tmp_path)
    assert type(reloaded) is RNNForTimeSeriesPrediction
    past, _ = windows()
    with torch.no_grad():
        assert torch.equal(reloaded(past).prediction_outputs, model(past).prediction_outputs)


def test_forecast_loads_through_remote_code_without_hf_rnn(tmp_path):
    model = forecaster(distribution_output="student_t")
    model.save_pretrained(tmp_path / "model")
    past, _ = windows()
    torch.save(past, tmp_path / "past.pt")
    script = f"""
{BLOCK_HF_RNN}
import torch
from transformers import AutoModelForTimeSeriesPrediction
model = AutoModelForTimeSeriesPrediction.from_pretrained(sys.argv[1], trust_remote_code=True)
past = torch.load(sys.argv[2])
with torch.no_grad():
    torch.manual_seed(0)
    forecast = model(past).prediction_outputs
    samples = model.generate(past, num_samples=5).sequences
    results = {{"blocked": hf_rnn_blocked, "module": type(model).__module__, "forecast": forecast, "samples": samples}}
    torch.save(results, sys.argv[3])
"""
    run_without_hf_rnn(script, tmp_path / "model", tmp_path / "past.pt", tmp_path / "out.pt", work=tmp_path)
    remote = torch.load(tmp_path / "out.pt")
    assert remote["blocked"] and remote["module"].startswith("transformers_modules.")
    with torch.no_grad():
        assert torch.equal(remote["forecast"], model(past).prediction_outputs)
        torch.manual_seed(0)
        assert torch.equal(remote["samples"], model.generate(past, num_samples=5).sequences)


def test_revin_forecasts_in_the_units_of_the_input():
    """Instance normalisation: shifting and scaling the past shifts and scales the forecast the same way."""
    model = forecaster(normalization="revin")
    past, _ = windows()
    with torch.no_grad():
        forecast = model(past).prediction_outputs
        moved = model(past * 250.0 + 1000.0).prediction_outputs
    torch.testing.assert_close(moved, forecast * 250.0 + 1000.0, rtol=1e-4, atol=1e-2)


def test_last_value_normalization_follows_a_shift():
    model = forecaster(normalization="last_value")
    past, _ = windows()
    with torch.no_grad():
        torch.testing.assert_close(model(past + 77.0).prediction_outputs, model(past).prediction_outputs + 77.0)


def test_without_normalization_the_forecast_does_not_follow_a_shift():
    model = forecaster(normalization="none")
    past, _ = windows()
    with torch.no_grad():
        shifted = model(past + 77.0).prediction_outputs - 77.0
        assert not torch.allclose(shifted, model(past).prediction_outputs, atol=1e-2)


@pytest.mark.parametrize("options", [{}, {"channel_independence": False}, {"normalization": "last_value"}])
def test_unobserved_past_values_do_not_change_the_forecast(options):
    model = forecaster(**options)
    past, _ = windows()
    observed = torch.ones_like(past, dtype=torch.bool)
    observed[0, 5:9, 1] = False
    observed[2, -1, 0] = False  # the last value too: "last_value" must take the last observed one
    garbage = past.clone()
    garbage[~observed] = 1e6
    with torch.no_grad():
        clean = model(past, past_observed_mask=observed).prediction_outputs
        torch.testing.assert_close(model(garbage, past_observed_mask=observed).prediction_outputs, clean)


def test_unobserved_future_values_are_left_out_of_the_loss():
    model = forecaster()
    past, future = windows()
    observed = torch.ones_like(future)
    observed[:, -4:] = 0
    garbage = future.clone()
    garbage[:, -4:] = 1e6
    with torch.no_grad():
        expected = ((model(past).prediction_outputs - future)[:, :-4] ** 2).mean()
        actual = model(past, future_values=garbage, future_observed_mask=observed).loss
    torch.testing.assert_close(actual, expected)


def test_independent_channels_do_not_see_each_other_and_joint_channels_do():
    past, _ = windows()
    nudged = past.clone()
    nudged[:, :, 1] += torch.linspace(0, 5, CONTEXT)
    with torch.no_grad():
        independent = forecaster(channel_independence=True)
        changed = independent(nudged).prediction_outputs - independent(past).prediction_outputs
        assert changed[..., [0, 2]].abs().max() == 0 and changed[..., 1].abs().max() > 0
        joint = forecaster(channel_independence=False)
        assert (joint(nudged).prediction_outputs - joint(past).prediction_outputs)[..., 0].abs().max() > 0


def test_segments_are_read_one_recurrent_step_each():
    model = forecaster()
    steps = []
    hook = model.model.rnn.layers[0].register_forward_hook(lambda m, args, out: steps.append(args[0].shape[1]))
    with torch.no_grad():
        model(windows()[0])
    hook.remove()
    assert steps == [CONTEXT // SEGMENT, 1]  # the context in segments, then one step for all future segments


def test_parallel_decoding_equals_decoding_each_future_segment_on_its_own():
    """All future segments in one batched step = each segment decoded alone from the final state."""
    model = forecaster(cell="lstm", num_hidden_layers=2)
    past, _ = windows()
    with torch.no_grad():
        together = model(past).prediction_outputs
        outputs = model.model(past)
        config = model.config
        series = outputs.last_hidden_state.size(0)
        for m in range(config.num_output_segments):
            state = model.model(past).final_state
            position = model.position_embedding.weight[m].expand(series, -1)
            channel = model.channel_embedding(torch.arange(series) % CHANNELS)
            decoded, _ = model.model.rnn(torch.cat([position, channel], -1).unsqueeze(1), cache=state)
            alone = model.head(decoded[:, 0]).reshape(-1, CHANNELS, SEGMENT).transpose(1, 2)
            alone = alone * outputs.scale + outputs.loc
            torch.testing.assert_close(alone, together[:, m * SEGMENT : (m + 1) * SEGMENT], atol=1e-6, rtol=0)


@pytest.mark.parametrize("distribution", ["normal", "student_t"])
def test_sample_paths_are_reproducible_with_a_seed_and_centred_on_the_forecast(distribution):
    model = forecaster(distribution_output=distribution, num_parallel_samples=2000)
    past, future = windows()
    with torch.no_grad():
        torch.manual_seed(3)
        first = model.generate(past).sequences
        torch.manual_seed(3)
        again = model.generate(past).sequences
        mean = model(past).prediction_outputs
        nll = model(past, future_values=future).loss
    assert first.shape == (4, 2000, HORIZON, CHANNELS)
    assert torch.equal(first, again)
    quantiles = first.quantile(torch.tensor([0.1, 0.5, 0.9]), dim=1)
    assert (quantiles[0] <= quantiles[1]).all() and (quantiles[1] <= quantiles[2]).all()
    spread = (quantiles[2] - quantiles[0]).mean()
    assert (first.mean(1) - mean).abs().mean() < 0.1 * spread  # sample mean near the distribution's mean
    assert torch.isfinite(nll)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("segment_length", 10, "must divide context_length"),
        ("prediction_length", 30, "must divide prediction_length"),
        ("decoding", "autoregressive", "decoding='autoregressive' is not supported"),
        ("distribution_output", "poisson", "distribution_output='poisson'"),
        ("normalization", "minmax", "normalization='minmax'"),
        ("cell", "transformer", "cell='transformer'"),
        ("context_length", 0, "context_length=0"),
        ("dropout", 1.0, "dropout=1.0"),
        ("initializer_range", math.nan, "initializer_range=nan"),
    ],
)
def test_an_invalid_config_field_is_named(field, value, match):
    fields = {"context_length": CONTEXT, "prediction_length": HORIZON, "segment_length": SEGMENT, field: value}
    with pytest.raises(ValueError, match=match):
        RNNForecastConfig(**fields)


def test_wrong_input_shapes_are_named():
    model = forecaster()
    past, future = windows()
    with pytest.raises(ValueError, match="past_values has shape"):
        model(past[:, 1:])
    with pytest.raises(ValueError, match="past_observed_mask has shape"):
        model(past, past_observed_mask=torch.ones(4, CONTEXT, 1))
    with pytest.raises(ValueError, match="future_values has shape"):
        model(past, future_values=future[:, 1:])


def periodic_windows(count: int, seed: int) -> dict[str, torch.Tensor]:
    """Windows of a two-season series (periods 12 and 24) with trend and noise, at random offsets."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(4000, dtype=torch.float32)
    series = (
        torch.sin(2 * math.pi * time / 12)
        + 0.5 * torch.sin(2 * math.pi * time / 24 + 1.0)
        + 0.002 * time
        + 0.05 * torch.randn(time.shape, generator=generator)
    )
    starts = torch.randint(0, len(time) - CONTEXT - HORIZON, (count,), generator=generator)
    rows = torch.stack([series[s : s + CONTEXT + HORIZON] for s in starts.tolist()]).unsqueeze(-1)
    return {"past_values": rows[:, :CONTEXT], "future_values": rows[:, CONTEXT:]}


class WindowDataset(torch.utils.data.Dataset):
    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors["past_values"])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {name: tensor[index] for name, tensor in self.tensors.items()}


def test_trainer_learns_a_seasonal_series_far_better_than_the_naive_forecast(tmp_path, one_thread):
    model = forecaster(num_input_channels=1, hidden_size=32, dropout=0.0)
    model.train()
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=600, per_device_train_batch_size=32, learning_rate=3e-3,
        lr_scheduler_type="constant", report_to=[], save_strategy="no", use_cpu=True, label_names=["future_values"],
        disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=WindowDataset(periodic_windows(2000, seed=0)))
    trainer.train()
    test = periodic_windows(200, seed=1)
    metrics = trainer.evaluate(WindowDataset(test))
    naive = ((test["past_values"][:, -1:] - test["future_values"]) ** 2).mean().item()  # repeat the last value
    print(f"eval MSE {metrics['eval_loss']:.4f}, naive MSE {naive:.4f}")
    assert metrics["eval_loss"] < 0.05 * naive, (metrics["eval_loss"], naive)


def test_windows_keep_their_future_inside_the_split_and_may_look_back_before_it():
    from hf_rnn.time_series import ForecastWindows

    values = torch.arange(100, dtype=torch.float32).unsqueeze(-1).numpy()
    windows = ForecastWindows(values, context_length=10, prediction_length=5, start=40, end=60)
    assert len(windows) == 16  # futures starting at 40..55 end by row 60
    first, last = windows[0], windows[len(windows) - 1]
    assert first["past_values"][:, 0].tolist() == list(range(30, 40))
    assert first["future_values"][:, 0].tolist() == list(range(40, 45))
    assert last["future_values"][-1, 0].item() == 59
    with pytest.raises(ValueError, match="no window"):
        ForecastWindows(values, context_length=10, prediction_length=30, start=90, end=100)


def test_scaler_uses_the_statistics_it_was_fitted_on_and_round_trips(tmp_path):
    from hf_rnn.time_series import StandardScaler, read_series_csv

    lines = ["date,a,b"] + [f"2024-01-01 {h:02d}:00,{h},{10 * h + 5}" for h in range(24)]
    (tmp_path / "series.csv").write_text("\n".join(lines) + "\n")
    frame = read_series_csv(tmp_path / "series.csv")
    assert frame.columns == ["a", "b"] and frame.values.shape == (24, 2)
    scaler = StandardScaler.fit(frame.values[:12])
    train = scaler.transform(frame.values[:12])
    assert abs(train.mean(0)).max() < 1e-6 and abs(train.std(0) - 1).max() < 1e-5
    assert scaler.transform(frame.values)[12:].mean() > 1  # later rows are not re-centred on their own mean
    restored = scaler.inverse_transform(torch.as_tensor(scaler.transform(frame.values)))
    torch.testing.assert_close(restored, torch.as_tensor(frame.values), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("date,a\n", "no data rows"),
        ("day,a\n1,2\n", "no column 'date'"),
        ("date,a\n2024,1\n2025\n", "row 3: 1 cells"),
        ("date,a\n2024,x\n", "row 2: a value is not a number"),
        ("date,a\n2024,nan\n", "non-finite"),
    ],
)
def test_a_malformed_series_csv_is_named_with_its_row(tmp_path, text, match):
    from hf_rnn.time_series import read_series_csv

    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_series_csv(tmp_path / "bad.csv")


@pytest.mark.parametrize("options", [{"normalization": "none"}, {"distribution_output": "student_t"}])
def test_saved_data_statistics_standardize_inside_and_the_forecast_keeps_the_data_units(options):
    """value_mean / value_std: the model reads and returns the data's units, and its loss is the standardized one."""
    mean, std = [100.0, -5.0, 0.5], [20.0, 0.1, 3.0]
    plain, scaled = forecaster(**options), forecaster(**options, value_mean=mean, value_std=std)
    scaled.load_state_dict(plain.state_dict())
    past, future = windows()
    m, s = torch.tensor(mean), torch.tensor(std)
    with torch.no_grad():
        expected = plain((past - m) / s, future_values=(future - m) / s)
        actual = scaled(past, future_values=future)
    torch.testing.assert_close(actual.prediction_outputs, expected.prediction_outputs * s + m, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(actual.loss, expected.loss, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("stats", "match"),
    [
        ({"value_mean": [0.0, 0.0, 0.0]}, "go together"),
        ({"value_mean": [0.0], "value_std": [1.0]}, "one number per channel"),
        ({"value_mean": [0.0, 0.0, 0.0], "value_std": [1.0, 0.0, 1.0]}, "must be positive"),
        ({"value_mean": [0.0, math.nan, 0.0], "value_std": [1.0, 1.0, 1.0]}, "finite"),
    ],
)
def test_invalid_data_statistics_are_named(stats, match):
    with pytest.raises(ValueError, match=match):
        RNNForecastConfig(context_length=CONTEXT, prediction_length=HORIZON, num_input_channels=CHANNELS, **stats)
