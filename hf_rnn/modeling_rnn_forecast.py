"""hf_rnn time-series forecaster: segment-wise recurrence and parallel multi-step decoding (SegRNN).

Read top to bottom: the output classes, instance normalisation, the `PreTrainedModel` base, the bare model
(normalise, embed segments, read them with an `RNNStack`), then the forecasting head (decode all future segments
at once, a point forecast or a distribution per value).

Shapes follow transformers' forecasters (PatchTST): `past_values` `(batch, context_length, num_input_channels)`,
`future_values` `(batch, prediction_length, num_input_channels)`, `prediction_outputs` like `future_values`.
Inside, a batch of B examples with C channels becomes B * C univariate series when `channel_independence` is on.

Part of the Hub bundle: imports only torch, transformers and its neighbours.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.time_series_utils import NormalOutput, StudentTOutput
from transformers.utils import ModelOutput, can_return_tuple

from .cache_rnn import RecurrentCache
from .configuration_rnn_forecast import RNNForecastConfig
from .modeling_rnn import RNNPreTrainedModel, RNNStack

DISTRIBUTION_OUTPUTS = {"normal": NormalOutput, "student_t": StudentTOutput}


@dataclass
class RNNForecastModelOutput(ModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch * series_per_example, num_input_segments, hidden_size)`):
        The top layer's output after each context segment.
    final_state (`RecurrentCache`): every layer's state after the last context segment, where decoding starts.
    loc, scale (`torch.FloatTensor` of shape `(batch, 1, num_input_channels)`): the instance normalisation, undone on
        the forecast (`normalised = (value - loc) / scale`).
    hidden_states (`tuple(torch.FloatTensor)`, *optional*): the segment embeddings, then each layer's output.
    """

    last_hidden_state: torch.FloatTensor | None = None
    final_state: RecurrentCache | None = None
    loc: torch.FloatTensor | None = None
    scale: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class RNNForecastOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, *optional*): with `future_values`: the point loss (`config.loss`) or the
        negative log-likelihood of the distribution, averaged over the observed future values.
    prediction_outputs (`torch.FloatTensor` of shape `(batch, prediction_length, num_input_channels)`): the forecast
        in the units of `past_values` (the distribution's mean when `config.distribution_output` is set).
    distribution_parameters (`tuple(torch.FloatTensor)`, *optional*): the distribution's parameters on the
        normalised scale, each `(batch, prediction_length, num_input_channels)`; `loc` and `scale` map it back.
    loc, scale (`torch.FloatTensor` of shape `(batch, 1, num_input_channels)`): the instance normalisation.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*): as in `RNNForecastModelOutput`.
    """

    loss: torch.FloatTensor | None = None
    prediction_outputs: torch.FloatTensor | None = None
    distribution_parameters: tuple[torch.FloatTensor, ...] | None = None
    loc: torch.FloatTensor | None = None
    scale: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class SampleRNNForecastOutput(ModelOutput):
    r"""
    sequences (`torch.FloatTensor` of shape `(batch, num_samples, prediction_length, num_input_channels)`): sample
        paths (one path, the point forecast, without a distribution).
    """

    sequences: torch.FloatTensor | None = None


def instance_normalization(
    values: torch.Tensor, observed: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    `loc` and `scale` `(batch, 1, channels)` of each window and channel, from its observed values only.

    `"revin"`: mean and standard deviation (at least 1e-5, so a constant series stays finite); `"last_value"`: the
    last observed value and 1; `"none"`: 0 and 1.
    """
    weights = observed.to(values.dtype)
    count = weights.sum(1, keepdim=True).clamp(min=1.0)
    ones = torch.ones_like(count)
    if kind == "none":
        return torch.zeros_like(count), ones
    if kind == "last_value":
        positions = torch.arange(values.size(1), device=values.device)[None, :, None]
        last = torch.where(observed.bool(), positions, -1).amax(1, keepdim=True).clamp(min=0)
        return values.gather(1, last), ones
    loc = (values * weights).sum(1, keepdim=True) / count
    variance = (((values - loc) * weights) ** 2).sum(1, keepdim=True) / count
    return loc, (variance + 1e-10).sqrt().clamp(min=1e-5)


def value_scaling(config: RNNForecastConfig, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`config.value_mean` and `value_std` as `(1, 1, channels)` tensors like `like`; 0 and 1 when unset."""
    if config.value_mean is None:
        return like.new_zeros(1, 1, 1), like.new_ones(1, 1, 1)
    return like.new_tensor(config.value_mean).view(1, 1, -1), like.new_tensor(config.value_std).view(1, 1, -1)


class RNNForecastPreTrainedModel(RNNPreTrainedModel):
    """Weight init and reload handling as in `RNNPreTrainedModel`, for the forecasting config."""

    config_class = RNNForecastConfig
    config: RNNForecastConfig
    base_model_prefix = "model"
    main_input_name = "past_values"
    _is_stateful = False


class RNNForecastModel(RNNForecastPreTrainedModel):
    """Normalise each window, embed its segments, read them with the recurrent stack."""

    def __init__(self, config: RNNForecastConfig):
        super().__init__(config)
        self.segment_embedding = nn.Linear(config.values_per_step, config.hidden_size)
        self.rnn = RNNStack(config.stack_config())
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
    ) -> RNNForecastModelOutput:
        """
        Args:
            past_values: `(batch, context_length, num_input_channels)`; missing values may hold anything finite.
            past_observed_mask: same shape, 1 where observed, 0 where missing (missing values are read as the
                window's normalised 0); default: all observed.
        """
        config = self.config
        expected = (config.context_length, config.num_input_channels)
        if past_values.dim() != 3 or tuple(past_values.shape[1:]) != expected:
            raise ValueError(
                f"past_values has shape {tuple(past_values.shape)}; expected (batch, context_length="
                f"{expected[0]}, num_input_channels={expected[1]})."
            )
        if past_observed_mask is None:
            past_observed_mask = torch.ones_like(past_values, dtype=torch.bool)
        elif past_observed_mask.shape != past_values.shape:
            raise ValueError(
                f"past_observed_mask has shape {tuple(past_observed_mask.shape)}; expected past_values' shape "
                f"{tuple(past_values.shape)}."
            )
        observed = past_observed_mask.bool()
        # The data's own statistics first (config.value_mean / value_std), then each window's.
        value_loc, value_scale = value_scaling(config, past_values)
        standardized = (past_values - value_loc) / value_scale
        loc, scale = instance_normalization(standardized, observed, config.normalization)
        normalized = torch.where(observed, (standardized - loc) / scale, 0.0)
        batch = normalized.size(0)
        if config.channel_independence:  # (batch, time, channels) -> (batch * channels, segments, segment_length)
            segments = normalized.permute(0, 2, 1).reshape(-1, config.num_input_segments, config.segment_length)
        else:  # (batch, segments, segment_length * channels), one segment's values channel after channel
            segments = normalized.reshape(batch, -1, config.segment_length, config.num_input_channels)
            segments = segments.permute(0, 1, 3, 2).reshape(batch, config.num_input_segments, -1)
        embedded = F.relu(self.segment_embedding(segments))
        final_state = RecurrentCache.from_config(config.stack_config())
        last_hidden_state, hidden_states = self.rnn(
            embedded, cache=final_state, output_hidden_states=bool(output_hidden_states)
        )
        return RNNForecastModelOutput(
            last_hidden_state=last_hidden_state,
            final_state=final_state,
            loc=value_loc + value_scale * loc,  # back to the data's units in one affine map
            scale=value_scale * scale,
            hidden_states=hidden_states,
        )


class RNNForTimeSeriesPrediction(RNNForecastPreTrainedModel):
    """Forecasting head: every future segment decoded from the final state at once (or one linear map)."""

    def __init__(self, config: RNNForecastConfig):
        super().__init__(config)
        self.model = RNNForecastModel(config)
        hidden = config.hidden_size
        if config.decoding == "parallel":
            # Each future segment's input: which segment it is, and (channel independence) which channel.
            position_size = hidden // 2 if config.channel_independence else hidden
            self.position_embedding = nn.Embedding(config.num_output_segments, position_size)
            if config.channel_independence:
                self.channel_embedding = nn.Embedding(config.num_input_channels, hidden - position_size)
            values_per_output = config.values_per_step
        else:
            values_per_output = config.prediction_length * config.num_input_channels // config.series_per_example
        self.dropout = nn.Dropout(config.dropout)
        self.distribution_output = (
            DISTRIBUTION_OUTPUTS[config.distribution_output]() if config.distribution_output else None
        )
        num_parameters = len(self.distribution_output.args_dim) if self.distribution_output else 1
        self.head = nn.Linear(hidden, values_per_output * num_parameters)
        self.post_init()

    def decode(self, outputs: RNNForecastModelOutput) -> torch.Tensor:
        """`(batch * series_per_example, outputs per series)` head inputs -> the head's raw values."""
        config = self.config
        if config.decoding == "linear":
            return self.head(self.dropout(outputs.last_hidden_state[:, -1]))
        series = outputs.last_hidden_state.size(0)
        segments = config.num_output_segments
        position = self.position_embedding.weight.repeat(series, 1)  # row s * segments + m: segment m of series s
        if config.channel_independence:
            channels = torch.arange(series, device=position.device) % config.num_input_channels
            channel = self.channel_embedding(channels).repeat_interleave(segments, dim=0)
            position = torch.cat([position, channel], dim=-1)
        state = outputs.final_state
        state.batch_repeat_interleave(segments)  # every future segment starts from its series' final state
        decoded, _ = self.model.rnn(position.unsqueeze(1), cache=state)  # one step, all segments in parallel
        return self.head(self.dropout(decoded[:, 0])).reshape(series, -1)

    def values_to_forecast(self, raw: torch.Tensor, batch: int) -> torch.Tensor:
        """`(batch * series_per_example, values)` -> `(batch, prediction_length, channels[, parameters])`."""
        config = self.config
        channels = config.num_input_channels
        num_parameters = len(self.distribution_output.args_dim) if self.distribution_output else 1
        if config.decoding == "parallel":
            # Per segment: its values, parameter after parameter (the head's layout).
            raw = raw.reshape(-1, config.num_output_segments, num_parameters, config.values_per_step)
            raw = raw.permute(0, 2, 1, 3)
        else:
            raw = raw.reshape(-1, num_parameters, config.prediction_length * channels // config.series_per_example)
        if config.channel_independence:  # (batch * channels, parameters, time) -> (batch, time, channels, parameters)
            forecast = raw.reshape(batch, channels, num_parameters, -1).permute(0, 3, 1, 2)
        else:  # values ordered time-major then channel, as the segments were read
            forecast = raw.reshape(batch, num_parameters, -1, channels).permute(0, 2, 3, 1)
        return forecast[:, : config.prediction_length]

    @can_return_tuple
    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        future_values: torch.Tensor | None = None,
        future_observed_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
    ) -> RNNForecastOutput:
        """
        Args:
            past_values, past_observed_mask: as in `RNNForecastModel`.
            future_values: `(batch, prediction_length, num_input_channels)` targets for the loss.
            future_observed_mask: same shape, 0 where a target is missing (left out of the loss).
        """
        outputs = self.model(past_values, past_observed_mask, output_hidden_states=output_hidden_states)
        forecast = self.values_to_forecast(self.decode(outputs), past_values.size(0))
        loc, scale = outputs.loc, outputs.scale
        parameters = None
        if self.distribution_output is None:
            prediction = forecast[..., 0] * scale + loc
        else:
            # domain_map squeezes a trailing axis of 1 from each parameter: give it one, keep (batch, time, channels).
            parameters = self.distribution_output.domain_map(*(p.unsqueeze(-1) for p in forecast.unbind(-1)))
            distribution = self.distribution_output.distribution(parameters, loc=loc, scale=scale)
            prediction = distribution.mean
        loss = None
        if future_values is not None:
            loss = self.forecast_loss(prediction, parameters, loc, scale, future_values, future_observed_mask)
        return RNNForecastOutput(
            loss=loss,
            prediction_outputs=prediction,
            distribution_parameters=parameters,
            loc=loc,
            scale=scale,
            hidden_states=outputs.hidden_states,
        )

    def forecast_loss(self, prediction, parameters, loc, scale, future_values, future_observed_mask) -> torch.Tensor:
        """
        The point loss or the negative log-likelihood of the distribution (`parameters` with `loc` and `scale`),
        averaged over the observed future values, on the standardized scale (`config.value_mean` / `value_std`),
        where every channel weighs alike.
        """
        if future_values.shape != prediction.shape:
            raise ValueError(
                f"future_values has shape {tuple(future_values.shape)}; expected (batch, prediction_length, "
                f"num_input_channels) = {tuple(prediction.shape)}."
            )
        observed = torch.ones_like(future_values) if future_observed_mask is None else future_observed_mask.float()
        targets = torch.where(observed.bool(), future_values, prediction.detach())  # finite where missing
        value_loc, value_scale = value_scaling(self.config, future_values)
        prediction, targets = (prediction - value_loc) / value_scale, (targets - value_loc) / value_scale
        if parameters is not None:
            distribution = self.distribution_output.distribution(
                parameters, loc=(loc - value_loc) / value_scale, scale=scale / value_scale
            )
            per_value = -distribution.log_prob(targets)
        elif self.config.loss == "mae":
            per_value = (prediction - targets).abs()
        else:
            per_value = (prediction - targets) ** 2
        return (per_value * observed).sum() / observed.sum().clamp(min=1.0)

    @torch.no_grad()
    def generate(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        num_samples: int | None = None,
    ) -> SampleRNNForecastOutput:
        """
        Sample paths `(batch, num_samples, prediction_length, num_input_channels)` from the forecast distribution
        (`config.num_parallel_samples` by default; seed torch for reproducible samples). Without a distribution,
        the one path is the point forecast. Quantiles: `sequences.quantile(q, dim=1)`.
        """
        outputs = self(past_values, past_observed_mask)
        if self.distribution_output is None:
            return SampleRNNForecastOutput(sequences=outputs.prediction_outputs.unsqueeze(1))
        num_samples = num_samples or self.config.num_parallel_samples
        distribution = self.distribution_output.distribution(
            outputs.distribution_parameters, loc=outputs.loc, scale=outputs.scale
        )
        return SampleRNNForecastOutput(sequences=distribution.sample((num_samples,)).transpose(0, 1))


# The heads of this file by the Auto class that builds each (see modeling_rnn.AUTO_HEADS).
AUTO_HEADS = {"AutoModel": "RNNForecastModel", "AutoModelForTimeSeriesPrediction": "RNNForTimeSeriesPrediction"}

__all__ = [
    "RNNForecastModel",
    "RNNForecastOutput",
    "RNNForecastPreTrainedModel",
    "RNNForTimeSeriesPrediction",
    "SampleRNNForecastOutput",
]
