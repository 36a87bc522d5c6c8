"""Configuration of the hf_rnn time-series forecaster (a SegRNN-style recurrent model)."""

import math

from transformers import PreTrainedConfig

from .configuration_rnn import CELL_TYPES, RNNConfig

NORMALIZATION_TYPES = ("revin", "last_value", "none")
DECODING_TYPES = ("parallel", "linear")
DISTRIBUTION_TYPES = (None, "normal", "student_t")
POINT_LOSSES = ("mse", "mae")


class RNNForecastConfig(PreTrainedConfig):
    r"""
    Configuration of `RNNForTimeSeriesPrediction`: `context_length` past values of `num_input_channels` series in,
    `prediction_length` future values out, with the argument names of transformers' forecasters (PatchTST).

    The model (Lin et al., 2023, "SegRNN"): each series is normalised per window, cut into segments of
    `segment_length` values, each segment embedded by a linear layer and read by one recurrent step, so the
    recurrence runs `context_length / segment_length` steps instead of `context_length`. With
    `decoding="parallel"` every future segment is one more recurrent step from the final state, all segments at once
    (a batch), each told which segment (and channel) it is by learned embeddings; with `"linear"` one linear layer
    maps the final state to the whole horizon.

    Args:
        context_length (`int`, defaults to 96): past time steps the model reads.
        prediction_length (`int`, defaults to 96): future time steps it forecasts.
        num_input_channels (`int`, defaults to 1): series (columns) per example.
        segment_length (`int`, defaults to 24): values per segment; must divide `context_length` and, for parallel
            decoding, `prediction_length`. 1 reads the series point by point.
        cell (`str`, defaults to `"gru"`): `"lstm"`, `"gru"`, `"rnn_tanh"` or `"rnn_relu"`.
        hidden_size (`int`, defaults to 512): recurrent units (also the segment embedding width).
        num_hidden_layers (`int`, defaults to 1): stacked recurrent layers.
        channel_independence (`bool`, defaults to `True`): every channel is its own univariate series through shared
            weights (a channel embedding tells the decoder which); `False` reads all channels of a time step as one
            vector.
        normalization (`str`, defaults to `"revin"`): per-window instance normalisation, undone on the forecast:
            `"revin"` (subtract the mean, divide by the standard deviation of the observed past values),
            `"last_value"` (subtract the last observed value, as SegRNN), or `"none"`.
        decoding (`str`, defaults to `"parallel"`): `"parallel"` (SegRNN's parallel multi-step forecasting) or
            `"linear"`.
        dropout (`float`, defaults to 0.1): dropout on the decoder outputs.
        distribution_output (`str`, *optional*): `None` for point forecasts trained with `loss`; `"normal"` or
            `"student_t"` for a distribution per future value, trained by negative log-likelihood, sampled by
            `generate()`.
        loss (`str`, defaults to `"mse"`): `"mse"` or `"mae"`, for point forecasts.
        num_parallel_samples (`int`, defaults to 100): sample paths `generate()` draws from a distribution.
        value_mean, value_std (`list[float]`, *optional*): per-channel statistics of the training data, saved with
            the model. When set, the model takes and returns values in the data's own units but works (and computes
            its loss) on `(value - value_mean) / value_std`, so that channels of different scales weigh alike.
        column_names (`list[str]`, *optional*): the name of each channel (the training data's columns), which
            `hf_rnn.time_series.forecast_frame` reads from a DataFrame.
        initializer_range (`float`, defaults to 0.1): embeddings and linear layers are drawn from U(-r, r).
    """

    model_type = "hf_rnn_forecast"

    context_length: int = 96
    prediction_length: int = 96
    num_input_channels: int = 1
    segment_length: int = 24
    cell: str = "gru"
    hidden_size: int = 512
    num_hidden_layers: int = 1
    channel_independence: bool = True
    normalization: str = "revin"
    decoding: str = "parallel"
    dropout: float = 0.1
    distribution_output: str | None = None
    loss: str = "mse"
    num_parallel_samples: int = 100
    initializer_range: float = 0.1
    value_mean: list[float] | None = None
    value_std: list[float] | None = None
    column_names: list[str] | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.check_forecast_fields()

    def validate(self):
        # Also runs at save time, so values set after construction are checked too.
        super().validate()
        self.check_forecast_fields()

    @property
    def num_input_segments(self) -> int:
        return self.context_length // self.segment_length

    @property
    def num_output_segments(self) -> int:
        return math.ceil(self.prediction_length / self.segment_length)

    @property
    def series_per_example(self) -> int:
        """Rows of the recurrent batch each example becomes: one per channel when channels are independent."""
        return self.num_input_channels if self.channel_independence else 1

    @property
    def values_per_step(self) -> int:
        """Values one segment carries: `segment_length`, times the channels when they are read together."""
        return self.segment_length * (1 if self.channel_independence else self.num_input_channels)

    def stack_config(self) -> RNNConfig:
        """The recurrent stack, described as the `RNNConfig` that `RNNStack` is built from."""
        return RNNConfig(
            vocab_size=1,
            cell=self.cell,
            embedding_size=self.hidden_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            initializer_range=self.initializer_range,
            tie_word_embeddings=False,
            pad_token_id=None,
            bos_token_id=None,
            eos_token_id=None,
        )

    def check_forecast_fields(self) -> None:
        """Raise a `ValueError` naming the first field (or combination) that cannot build a model."""
        for name in (
            "context_length",
            "prediction_length",
            "num_input_channels",
            "segment_length",
            "hidden_size",
            "num_hidden_layers",
            "num_parallel_samples",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid; it must be a positive integer.")
        choices = {
            "cell": CELL_TYPES,
            "normalization": NORMALIZATION_TYPES,
            "decoding": DECODING_TYPES,
            "distribution_output": DISTRIBUTION_TYPES,
            "loss": POINT_LOSSES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not supported; choose one of {', '.join(map(repr, allowed))}."
                )
        if self.context_length % self.segment_length:
            raise ValueError(
                f"segment_length={self.segment_length} must divide context_length={self.context_length}: the context "
                "is read in whole segments."
            )
        if self.decoding == "parallel" and self.prediction_length % self.segment_length:
            raise ValueError(
                f"segment_length={self.segment_length} must divide prediction_length={self.prediction_length} for "
                "decoding='parallel', which forecasts whole segments; or use decoding='linear'."
            )
        if not isinstance(self.channel_independence, bool):
            raise ValueError(
                f"channel_independence={self.channel_independence!r} is invalid; it must be True or False."
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout!r} is invalid; a dropout probability must be in [0, 1).")
        for name in ("value_mean", "value_std"):
            stats = getattr(self, name)
            if stats is None:
                continue
            if not isinstance(stats, (list, tuple)) or len(stats) != self.num_input_channels:
                raise ValueError(f"{name} must list one number per channel ({self.num_input_channels}); got {stats!r}.")
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in stats):
                raise ValueError(f"{name}={stats!r} is invalid; every value must be a finite number.")
        names = self.column_names
        if names is not None and (not isinstance(names, (list, tuple)) or len(names) != self.num_input_channels):
            raise ValueError(f"column_names must name each of the {self.num_input_channels} channels; got {names!r}.")
        if (self.value_mean is None) != (self.value_std is None):
            raise ValueError("value_mean and value_std go together: give both, or neither.")
        if self.value_std is not None and min(self.value_std) <= 0:
            raise ValueError(f"value_std={self.value_std!r} is invalid; every standard deviation must be positive.")
        value = self.initializer_range
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"initializer_range={value!r} is invalid; it must be positive and finite.")


__all__ = ["RNNForecastConfig", "DECODING_TYPES", "DISTRIBUTION_TYPES", "NORMALIZATION_TYPES"]
