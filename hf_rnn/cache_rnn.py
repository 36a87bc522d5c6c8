"""The recurrent state of an hf_rnn stack, held in a transformers `Cache`.

Each recurrent layer gets one `RecurrentStateLayer`, a `LinearAttentionLayer` (the layer type transformers uses
for Mamba's recurrent state) whose state slots hold h (slot 0) and, for an LSTM, c (slot 1). Slots are stored
batch-first, `(batch, num_directions, size)`, so the inherited `reorder_cache` (beam search) selects beams on
dim 0 as it does for every other cache.
"""

import dataclasses

import torch
from transformers.cache_utils import Cache, LinearAttentionLayer
from transformers.modeling_outputs import BaseModelOutputWithPast

# transformers 5.24 renamed the state's argument and output field from `past_key_values` to `cache`: generate() passes
# it under that name and reads it back from that output field. The bundle runs under whatever transformers the
# downloading user has, so the name is read off the installed release, here and nowhere else.
CACHE_NAME = "cache" if "cache" in {f.name for f in dataclasses.fields(BaseModelOutputWithPast)} else "past_key_values"


class RecurrentStateLayer(LinearAttentionLayer):
    """The state of one recurrent layer."""

    # Shapes are static, but generate() must not take the 4-D mask path meant for compiled attention caches.
    is_compileable = False

    def update_recurrent_state(self, recurrent_states: torch.Tensor, state_idx: int = 0, **kwargs) -> torch.Tensor:
        # Assign rather than copy in place: the state may carry autograd history (truncated BPTT), and an
        # in-place copy into a tensor from an earlier step would break its backward.
        self.recurrent_states[state_idx] = recurrent_states
        if self.device is None:
            self.dtype, self.device = recurrent_states.dtype, recurrent_states.device
        self.is_recurrent_states_initialized[state_idx] = True
        self.has_previous_state[state_idx] = True
        return recurrent_states

    def batch_repeat_interleave(self, repeats: int) -> None:
        for i in range(self.number_of_states):
            if self.is_recurrent_states_initialized[i]:
                self.recurrent_states[i] = self.recurrent_states[i].repeat_interleave(repeats, dim=0)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        for i in range(self.number_of_states):
            if self.is_recurrent_states_initialized[i]:
                self.recurrent_states[i] = self.recurrent_states[i][indices, ...]


class RecurrentCache(Cache):
    """
    Recurrent state of a stack of `num_layers` RNN layers, plus the number of time steps it has consumed.

    `get_layer_state` / `set_layer_state` speak torch's layout: `h` or `(h, c)` with tensors of shape
    `(num_directions, batch, size)`, exactly what `nn.LSTM`/`nn.GRU`/`nn.RNN` take as `hx` and return as `h_n`.
    """

    def __init__(self, num_layers: int, num_state_tensors: int):
        super().__init__(layers=[RecurrentStateLayer(number_of_states=num_state_tensors) for _ in range(num_layers)])
        # Subclasses may append non-recurrent layers (the decoder's attention memory): this counts the stack's.
        self.num_recurrent_layers = num_layers
        self.num_state_tensors = num_state_tensors
        self.seen_tokens = 0
        # Set by generate() for the one forward that reads the token it has just chosen (see `take_decode_step`).
        self.next_step_is_generated = False

    @classmethod
    def from_config(cls, config) -> "RecurrentCache":
        return cls(config.num_hidden_layers, config.num_state_tensors)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        # generate() uses this to slice the prompt it has already fed; it counts columns, padding included.
        return self.seen_tokens

    @property
    def is_compileable(self) -> bool:
        return False

    def reset(self) -> None:
        super().reset()
        self.seen_tokens = 0
        self.next_step_is_generated = False

    def take_decode_step(self) -> bool:
        """
        Whether the forward now reading this cache is a decode step of generate(): one token per row, chosen by the
        model from its own vocabulary, its mask column all ones, this cache the one the previous step returned. Such a
        step needs none of the checks a caller's input gets. True once per time generate() marks a step.
        """
        marked, self.next_step_is_generated = self.next_step_is_generated, False
        return marked

    @property
    def batch_size(self) -> int | None:
        """Rows of the stored state, or None while the cache is empty."""
        first = self.get_recurrent_state(0, 0)
        return None if first is None else first.shape[0]

    def get_layer_state(self, layer_idx: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None:
        """The state to start layer `layer_idx` from, in torch's `hx` layout, or None for a zero state."""
        slots = [self.get_recurrent_state(layer_idx, i) for i in range(self.num_state_tensors)]
        if slots[0] is None:
            return None
        slots = [s.transpose(0, 1).contiguous() for s in slots]
        return tuple(slots) if self.num_state_tensors == 2 else slots[0]

    def set_layer_state(self, layer_idx: int, state: torch.Tensor | tuple[torch.Tensor, ...]) -> None:
        """Store the final state `h_n` (or `(h_n, c_n)`) that a torch recurrent layer returned."""
        slots = state if isinstance(state, tuple) else (state,)
        for i, slot in enumerate(slots):
            self.update_recurrent_state(slot.transpose(0, 1), layer_idx, state_idx=i)

    def detach_(self) -> "RecurrentCache":
        """Cut the autograd history of every state (truncated backpropagation through time)."""
        for layer in self.layers:
            for i, state in layer.recurrent_states.items():
                if state is not None:
                    layer.recurrent_states[i] = state.detach()
        return self


def state_argument(
    cache: Cache | None, past_key_values: Cache | None, expected: type | None = None, use_cache: bool | None = None
) -> Cache | None:
    """
    The recurrent state a forward was given under either name (`cache`, or `past_key_values` as before 5.24), or
    None. Both at once, a cache of another kind (a `DynamicCache` holds attention keys, not a recurrent state), or a
    cache with `use_cache=False` (it would be neither continued nor returned) is an error: a state silently dropped
    would make generation restart from zero. Whether the state fits the model is checked where it is read
    (`RNNStack.check_cache`).
    """
    if cache is not None and past_key_values is not None:
        raise ValueError("Pass the recurrent state as `cache` or as `past_key_values`, not both.")
    state = past_key_values if cache is None else cache
    expected = expected or RecurrentCache
    if state is not None and not isinstance(state, expected):
        raise TypeError(
            f"cache must be a {expected.__name__} (what this model returns with use_cache=True), or None; got "
            f"{type(state).__name__}."
        )
    if state is not None and use_cache is False:
        raise ValueError(
            "cache was given with use_cache=False, which would ignore it; pass use_cache=True (or leave it unset) "
            "to continue from the cache, or drop the cache to start from a zero state."
        )
    return state


def state_output(state: Cache | None) -> dict:
    """The output field that holds the state, under the installed transformers' name: `Output(**state_output(s))`."""
    return {CACHE_NAME: state}


def output_state(output) -> Cache | None:
    """The recurrent state in a model output, whatever the installed transformers calls its field."""
    return getattr(output, CACHE_NAME)


__all__ = ["CACHE_NAME", "RecurrentCache", "RecurrentStateLayer", "output_state", "state_argument", "state_output"]
