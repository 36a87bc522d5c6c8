"""hf_rnn models: Elman RNN, LSTM and GRU stacks as transformers models.

Read top to bottom: padding helpers, dropout, the recurrent stack (the one place where cells, padding and state are
handled), the `PreTrainedModel` base, the bare model, then one thin class per head.

This file, `configuration_rnn.py`, `cache_rnn.py`, `characters_rnn.py` (character-level word features) and `crf_rnn.py`
(the tagger's CRF) form the Hub bundle that `save_pretrained` copies next to the weights: they import nothing of hf_rnn
but each other, so `trust_remote_code=True` loads them anywhere.
"""

import os
import sys

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache
from transformers.generation import GenerationMixin
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple

from .cache_rnn import CACHE_NAME, RecurrentCache, output_state, state_argument, state_output
from .characters_rnn import CharacterWordEncoder
from .configuration_rnn import RNNConfig
from .crf_rnn import NOT_SCORED, LinearChainCRF, iob2_forbidden

# The cell is a config string mapped to the fused torch module, as in PyTorch's word-language-model example.
CELL_MODULES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

# Token ids index an embedding: torch's embedding takes these two dtypes and nothing else.
ID_DTYPES = (torch.long, torch.int32)


def is_exporting() -> bool:
    """True while `torch.export` (also under `torch.onnx.export`) traces the model; older torch cannot tell."""
    exporting = getattr(torch.compiler, "is_exporting", None)
    return exporting is not None and exporting()


def refuse_dynamic_length(length: int | torch.SymInt, loop: str, inputs: str) -> None:
    """
    While exporting, a clear error where a Python loop over time steps (`loop`) meets a dynamic length: the loop can
    only unroll at the example's length, and torch.export would say no more than that a dimension was specialized.
    """
    if is_exporting() and isinstance(length, torch.SymInt):
        raise ValueError(
            f"{loop} is a loop over time steps that exports only at a fixed length: leave the time axis of {inputs} "
            "out of dynamic_shapes (the other axes can stay dynamic)."
        )


def check_values(values: torch.Tensor, bad: torch.Tensor, message, unnamed: str = "a value") -> None:
    """
    The one value check of the inputs: a `ValueError` with `message(found)` if the bool tensor `bad` (shaped like
    `values`) holds any True, `found` being the first bad value.

    Eagerly that is a Python `if` on tensor values, which `torch.compile` cannot keep in its graph and `torch.export`
    cannot trace. There the check is an assert op in the graph (`torch._assert_async`): the compiled or exported
    program raises a RuntimeError with the same message (naming no value: `found` is `unnamed`) when it runs on bad
    input, with no Python branch and no copy to the host. Left out, the error would come from deep inside the
    embedding, naming neither the argument nor the cause.
    """
    if torch.compiler.is_compiling():
        torch._assert_async(~bad.any(), message(unnamed))
    elif bool(bad.any()):
        raise ValueError(message(values[bad][0].item()))


def check_token_ids(ids, vocab_size: int, name: str = "input_ids", field: str = "config.vocab_size") -> torch.Tensor:
    """
    The one check of token ids (`input_ids`, `decoder_input_ids`): a `(batch, time)` tensor of long or int32 ids,
    `time >= 1`, every id in `[0, vocab_size)`. Fails naming the argument instead of deep inside torch. Returns the
    ids to embed: `ids` itself, except when exporting (see below).
    """
    if not isinstance(ids, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.LongTensor of shape (batch, time); got {type(ids).__name__} "
            "(encode with return_tensors='pt', or wrap it in torch.tensor)."
        )
    if ids.dtype not in ID_DTYPES:
        raise TypeError(f"{name} must hold integer token ids (torch.long or torch.int32); got dtype {ids.dtype}.")
    if ids.dim() != 2:
        # A 1-D tensor would run as one unbatched sequence with a wrong cache length, and generate() would fail.
        raise ValueError(
            f"{name} has shape {tuple(ids.shape)}; expected (batch, time). For one sequence add the batch axis: "
            f"{name}.unsqueeze(0)."
        )
    if ids.size(1) == 0:
        raise ValueError(
            f"{name} has shape {tuple(ids.shape)}: no time steps; every sequence needs at least one token "
            "(an empty text encodes to none)."
        )
    outside = (ids < 0) | (ids >= vocab_size)
    check_values(
        ids,
        outside,
        lambda found: f"{name} contains {found}, outside the vocabulary [0, {vocab_size}) of this model "
        f"({field}={vocab_size}); was the text encoded with another tokenizer?",
    )
    if is_exporting():
        # ONNX has no assert: the exporter drops the one above, and ONNX's Gather reads a negative id silently from
        # the end of the table. Any bad id made too large fails the lookup instead of embedding a wrong token.
        return torch.where(outside, vocab_size, ids)
    return ids


def check_inputs_embeds(embeds, embedding_size: int, name: str = "inputs_embeds") -> None:
    """`(batch, time >= 1, embedding_size)` floating-point embeddings, instead of ids."""
    if not isinstance(embeds, torch.Tensor) or not embeds.is_floating_point():
        kind = embeds.dtype if isinstance(embeds, torch.Tensor) else type(embeds).__name__
        raise TypeError(f"{name} must be a floating-point tensor of shape (batch, time, {embedding_size}); got {kind}.")
    if embeds.dim() != 3 or embeds.size(1) == 0 or embeds.size(2) != embedding_size:
        raise ValueError(
            f"{name} has shape {tuple(embeds.shape)}; expected (batch, time >= 1, {embedding_size}) "
            f"(config.embedding_size={embedding_size})."
        )


def check_label_ids(labels, shape: tuple, num_classes: int, field: str, dims: str, name: str = "labels") -> None:
    """
    The one check of class-id targets (LM tokens, tags, classes): a torch.long tensor of `shape` (None matches any
    size), each id in `[0, num_classes)` or -100 (not scored). `dims` names the axes for the message.
    """
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long:
        kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"{name} must be a torch.long tensor of class ids of shape {dims}; got {kind}.")
    fits = labels.dim() == len(shape) and all(want in (None, got) for want, got in zip(shape, labels.shape))
    if not fits:
        wanted = tuple("?" if size is None else size for size in shape)
        raise ValueError(f"{name} has shape {tuple(labels.shape)}; expected {dims} = {wanted}.".replace("'", ""))
    outside = ((labels < 0) | (labels >= num_classes)) & (labels != -100)
    check_values(
        labels,
        outside,
        lambda found: f"{name} contains {found}, outside [0, {num_classes}) ({field}={num_classes}); -100 marks a "
        "position that is not scored.",
    )


def check_attention_mask(mask, batch_size: int, time_steps: int, name: str = "attention_mask", past: bool = False):
    """
    The one check of a padding mask: `(batch, time)` of 1 (token) and 0 (padding), bool or numeric; with
    `past=True` it may also cover the columns a cache already consumed, `(batch, past + time)`, as generate()
    passes it. Returns the mask of the `time_steps` new columns (None stays None).
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape (batch, time); got {type(mask).__name__}.")
    expected = f"(batch={batch_size}, time{'>=' if past else '='}{time_steps})"
    fits = mask.dim() == 2 and (mask.size(1) >= time_steps if past else mask.size(1) == time_steps)
    if not fits or mask.size(0) != batch_size:
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}; expected {expected}, a 2-D mask of 1 (token) and 0 (padding)."
        )
    # Any nonzero would count as a token: a 2 or a 0.5 is a bug upstream (a summed or averaged mask), not padding.
    check_values(
        mask,
        (mask != 0) & (mask != 1),
        lambda found: f"{name} must hold only 0 (padding) and 1 (token); found {found}.",
        unnamed="another value",
    )
    return mask[:, -time_steps:]


def real_tokens_first(attention_mask: torch.Tensor) -> torch.Tensor:
    """
    Per row, the positions of the real tokens (in order) followed by the padding positions.

    `attention_mask` is `(batch, time)`; the result is a `(batch, time)` gather index. Gathering with it turns any
    padding (left, right, or holes) into right padding, which is what `pack_padded_sequence` understands.
    """
    is_pad = (attention_mask == 0).to(torch.int8)
    return torch.sort(is_pad, dim=1, stable=True).indices


# `length_groups`: rows are split into groups at multiples of this many rows (sorted by length), and a group costs
# its longest length times (its rows + GROUP_STEP_COST_ROWS): a kernel step's fixed cost, in rows' worth of work.
GROUP_BLOCK_ROWS = 8
GROUP_STEP_COST_ROWS = 8


def length_groups(lengths: torch.Tensor) -> tuple[list[tuple[torch.Tensor | None, int]], torch.Tensor | None]:
    """
    Rows of similar lengths grouped, so that each group runs the fused kernel only up to its own longest row.

    `lengths`: `(batch,)` on the host. Returns `[(rows, length), ...]`, each group's row indices (in ascending order;
    None for the whole batch in one group) and its longest length (at least 1), and the permutation that puts the
    groups' concatenated rows back in batch order (None with one group). The split points, at multiples of
    `GROUP_BLOCK_ROWS` of the rows sorted by length, minimise the modelled cost (a small dynamic program).
    """
    batch = lengths.numel()
    ranked = torch.sort(lengths.clamp(min=1), descending=True, stable=True)
    longest = ranked.values.tolist()
    cuts = list(range(0, batch, GROUP_BLOCK_ROWS)) + [batch]
    # best[j]: cheapest cost of the first cuts[j] sorted rows, each group starting at a cut.
    best, start_of = [0] + [float("inf")] * (len(cuts) - 1), [0] * len(cuts)
    for j in range(1, len(cuts)):
        for i in range(j):
            cost = best[i] + longest[cuts[i]] * (cuts[j] - cuts[i] + GROUP_STEP_COST_ROWS)
            if cost < best[j]:
                best[j], start_of[j] = cost, i
    bounds, j = [], len(cuts) - 1
    while j > 0:
        bounds.append((cuts[start_of[j]], cuts[j]))
        j = start_of[j]
    if len(bounds) == 1:
        return [(None, longest[0])], None
    groups = [(ranked.indices[a:b].sort().values, longest[a]) for a, b in reversed(bounds)]
    order = torch.cat([rows for rows, _ in groups])
    return groups, torch.empty_like(order).scatter_(0, order, torch.arange(batch))


def reverse_rows(sequence: torch.Tensor, reversal: torch.Tensor) -> torch.Tensor:
    """`(batch, time, features)` with each row's tokens reversed in place (`PaddingLayout.reversal`)."""
    return sequence.gather(1, reversal.expand(-1, -1, sequence.size(-1)))


def map_packed(fn, sequence: torch.Tensor | PackedSequence) -> torch.Tensor | PackedSequence:
    """Apply an elementwise `fn` to a padded tensor or to the data of a `PackedSequence`."""
    if isinstance(sequence, PackedSequence):
        return sequence._replace(data=fn(sequence.data))
    return fn(sequence)


def packed_row_batch_index(sequence: PackedSequence) -> torch.Tensor:
    """`(packed_rows,)`: for each row of `sequence.data`, the batch row (in the caller's order) it belongs to."""
    batch_sizes = sequence.batch_sizes
    slots = torch.arange(int(batch_sizes[0]))
    # Packed data is time-major: step t holds the first batch_sizes[t] sequences in sorted order.
    sorted_rows = slots.expand(len(batch_sizes), -1)[slots < batch_sizes[:, None]]
    if sequence.sorted_indices is None:
        return sorted_rows.to(sequence.data.device)
    return sequence.sorted_indices[sorted_rows.to(sequence.sorted_indices.device)]


class PaddingLayout:
    """
    How a padded batch maps onto the fused kernel's input and back, computed once per forward.

    Built from an `attention_mask` of shape `(batch, time)`, from the cheapest layout that is exact:
    - `None`, or a mask without padding: the plain tensor (no packing cost);
    - rows that all hold the same number of tokens in the same columns (equal lengths, left or right padded): the
      plain tensor cut to those columns, its outputs padded back with zeros;
    - right padding (each row's tokens first): packed as it is, `pack_padded_sequence`'s own layout;
    - any other padding (left, mixed, holes): each row's tokens gathered to its front, packed, scattered back;
    - on the CPU when no final state is needed (`needs_state=False`: no cache), instead of packing: each row's tokens
      gathered to its front as above, then the plain padded tensor (`runs_aligned`). torch runs a `PackedSequence`
      through its own step-by-step loop on the CPU, oneDNN's fused kernel only on a plain tensor, which is faster
      even over the padding (benchmarks/README). Padding after a row's tokens never reaches their outputs; the
      backward direction reads each row reversed in place (`reversal`), so its padding comes last as well. The
      rows run in `groups` of similar lengths, each cut to its longest row (`length_groups`), so that short rows
      do not run over a long row's padding. The final states would be read after the padding, hence a cache keeps
      the packed path.
    While exporting nothing is packed (packing has data-dependent sizes): `step_mask` goes to the layers, whose
    traced loop (`scan_layer`) skips padding steps itself.
    """

    def __init__(self, attention_mask: torch.Tensor | None, time_steps: int, needs_state: bool = True):
        self.time_steps = time_steps
        self.step_mask = attention_mask.bool() if attention_mask is not None and is_exporting() else None
        self.is_packed = False
        self.runs_aligned = False
        self.columns = None  # (first, end): the one block of columns every row's tokens fill
        self.order = None  # the realignment gather index, for padding that is not right padding
        self.has_empty_rows = False
        if attention_mask is None or self.step_mask is not None:
            return
        # Per row, the token count and the sum of the token positions, in one copy to the host: a row of n tokens
        # is right padded exactly when its positions sum to 0 + ... + (n - 1), left padded when they sum to
        # (time - n) + ... + (time - 1). Everything below is then decided without another device sync.
        mask = attention_mask.bool()
        if bool(mask.all()):
            return
        positions = torch.arange(time_steps, device=mask.device)
        counts = torch.stack([mask.sum(dim=1), (mask * positions).sum(dim=1)]).cpu()
        lengths, position_sums = counts[0], counts[1]
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest == time_steps:
            return
        right_padded = bool((position_sums == lengths * (lengths - 1) // 2).all())
        if shortest == longest > 0:
            left_padded = bool((position_sums == lengths * (2 * time_steps - lengths - 1) // 2).all())
            if right_padded or left_padded:
                self.columns = (0, shortest) if right_padded else (time_steps - shortest, time_steps)
                return
        if not right_padded:
            self.order = real_tokens_first(attention_mask).unsqueeze(-1)
        if not needs_state and mask.device.type == "cpu":
            self.runs_aligned = True
            self.groups, self.group_order = length_groups(lengths)
            lengths = lengths.to(mask.device)[:, None]
            self.is_token = positions < lengths  # (batch, time) in the aligned layout
            # Each row's tokens reversed in place, padding left where it is: the index is its own inverse.
            self.reversal = torch.where(self.is_token, lengths - 1 - positions, positions).unsqueeze(-1)
            return
        self.is_packed = True
        # A row with no token still needs one step for packing; its output and state are discarded below.
        self.lengths = lengths.clamp(min=1)
        # Rows already longest first need no sorting (torch sorts and reorders the batch otherwise).
        self.sorted = bool((self.lengths[:-1] >= self.lengths[1:]).all())
        self.has_empty_rows = shortest == 0
        if self.has_empty_rows:
            self.empty_rows = (lengths == 0).to(mask.device)

    def pack(self, inputs: torch.Tensor) -> torch.Tensor | PackedSequence:
        """`(batch, time, features)` -> the kernel's input."""
        if self.columns is not None:
            return inputs[:, self.columns[0] : self.columns[1]]
        if not (self.is_packed or self.runs_aligned):
            return inputs
        if self.order is not None:
            inputs = inputs.gather(1, self.order.expand(-1, -1, inputs.size(-1)))
        if self.runs_aligned:
            return inputs
        return pack_padded_sequence(inputs, self.lengths, batch_first=True, enforce_sorted=self.sorted)

    def unpack(self, outputs: torch.Tensor | PackedSequence) -> torch.Tensor:
        """The kernel's output -> `(batch, time, features)` at the input's positions, zeros at padding."""
        if self.columns is not None:
            first, end = self.columns
            return F.pad(outputs, (0, 0, first, self.time_steps - end))
        if self.runs_aligned:
            aligned = outputs.masked_fill(~self.is_token.unsqueeze(-1), 0.0)
        elif not self.is_packed:
            return outputs
        else:
            aligned, _ = pad_packed_sequence(outputs, batch_first=True, total_length=self.time_steps)
        if self.order is not None:
            index = self.order.expand(-1, -1, aligned.size(-1))
            aligned = aligned.new_empty(aligned.shape).scatter_(1, index, aligned)
        if self.has_empty_rows:
            aligned = aligned.masked_fill(self.empty_rows[:, None, None], 0.0)
        return aligned

    def keep_state_of_empty_rows(self, new_state: State, old_state: State | None) -> State:
        """A row with no real token must leave its state as it was (all-padding step in a batch)."""
        if not self.has_empty_rows:
            return new_state
        keep = self.empty_rows[None, :, None]

        def restore(new, old):
            return torch.where(keep, torch.zeros_like(new) if old is None else old, new)

        if isinstance(new_state, tuple):
            old = old_state if old_state is not None else (None, None)
            return tuple(restore(n, o) for n, o in zip(new_state, old))
        return restore(new_state, old_state)


class SequenceDropout(nn.Dropout):
    """
    `nn.Dropout`, or with `locked=True` variational dropout (AWD-LSTM's locked dropout): one mask per sequence and
    feature, shared by all of the sequence's time steps.

    Takes `(batch, time, features)`, a `PackedSequence` of such sequences (each packed row gets its sequence's
    mask, so padding never changes a mask), or `(batch, features)` (no time axis: plain dropout).
    """

    def __init__(self, p: float, locked: bool = False):
        super().__init__(p)
        self.locked = locked

    def forward(self, sequence: torch.Tensor | PackedSequence) -> torch.Tensor | PackedSequence:
        if not (self.training and self.p > 0):
            return sequence  # an identity: not even a call into torch (it runs on every generated token)
        if not self.locked:
            return map_packed(super().forward, sequence)
        if isinstance(sequence, PackedSequence):
            mask = self.sequence_mask(sequence.data, int(sequence.batch_sizes[0]))
            return sequence._replace(data=sequence.data * mask[packed_row_batch_index(sequence)])
        if sequence.dim() != 3:
            return super().forward(sequence)
        return sequence * self.sequence_mask(sequence, sequence.size(0)).unsqueeze(1)

    def sequence_mask(self, like: torch.Tensor, batch_size: int) -> torch.Tensor:
        """`(batch, features)` of 0 and 1 / (1 - p); drawn the same way on the packed and the padded path."""
        keep = 1.0 - self.p
        return like.new_empty(batch_size, like.size(-1)).bernoulli_(keep).div_(keep)


class RNNStack(nn.Module):
    """
    `num_hidden_layers` fused recurrent layers (`nn.LSTM`, `nn.GRU` or `nn.RNN`), run on packed sequences.

    One torch module per layer, so that dropout between layers and per-layer outputs are available; each
    layer still runs as a single fused (oneDNN / cuDNN) call over the whole sequence, with `config.weight_drop`
    (DropConnect on the hidden-to-hidden weights) too.
    """

    def __init__(self, config: RNNConfig, input_size: int | None = None):
        super().__init__()
        input_size = config.embedding_size if input_size is None else input_size
        layer_output_size = config.output_size * config.num_directions
        self.layers = nn.ModuleList(
            build_recurrent_layer(config, input_size if i == 0 else layer_output_size)
            for i in range(config.num_hidden_layers)
        )
        self.layer_dropout = SequenceDropout(config.layer_dropout, locked=config.locked_dropout)
        self.weight_drop = config.weight_drop
        self.output_size = layer_output_size

    def forward(
        self,
        inputs: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: RecurrentCache | None = None,
        output_hidden_states: bool = False,
        check_cache: bool = True,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """
        Args:
            inputs: `(batch, time, input_size)`.
            attention_mask: `(batch, time)`, 1 for real tokens, 0 for padding (any side); padding never changes
                an output or a state.
            cache: read as the initial state (zeros if empty) and updated with the final state of every row.
            output_hidden_states: also return every layer's output.
            check_cache: check that `cache` fits (False only for a cache this stack returned for the same rows).

        Returns:
            `(batch, time, num_directions * output_size)` top-layer outputs (zeros at padding), and the tuple
            (inputs, layer 1 output, ..., layer N output) if `output_hidden_states`.
        """
        if cache is not None and check_cache:
            self.check_cache(cache, inputs.size(0))
        layout = PaddingLayout(attention_mask, inputs.size(1), needs_state=cache is not None)
        sequence = layout.pack(inputs)
        all_hidden_states = (inputs,) if output_hidden_states else None
        for index, layer in enumerate(self.layers):
            if index > 0:
                sequence = self.layer_dropout(sequence)
            if layout.runs_aligned:  # no cache on this layout
                sequence = self.run_layer_aligned(layer, sequence, layout)
            else:
                initial_state = cache.get_layer_state(index) if cache is not None else None
                sequence, final_state = self.run_layer(layer, sequence, initial_state, layout.step_mask)
                if cache is not None:
                    cache.set_layer_state(index, layout.keep_state_of_empty_rows(final_state, initial_state))
            if output_hidden_states:
                all_hidden_states += (layout.unpack(sequence),)
        outputs = all_hidden_states[-1] if output_hidden_states else layout.unpack(sequence)
        return outputs, all_hidden_states

    def check_cache(self, cache: RecurrentCache, batch_size: int) -> None:
        """
        Fail naming `cache` when its state cannot be this stack's for a batch of `batch_size` rows: another layer
        count or cell silently runs or crashes deep inside torch, another batch size crashes there.
        """
        if cache.num_recurrent_layers != len(self.layers):
            raise ValueError(
                f"cache holds the state of {cache.num_recurrent_layers} recurrent layers, but this model has "
                f"{len(self.layers)}; pass a cache that this model returned."
            )
        is_lstm = isinstance(self.layers[0], nn.LSTM)
        if cache.num_state_tensors != (2 if is_lstm else 1):
            held = "(h, c), an LSTM's state," if cache.num_state_tensors == 2 else "h only, a GRU's or RNN's state,"
            raise ValueError(
                f"cache holds {held} per layer, but this model's cell is {'an LSTM' if is_lstm else 'not an LSTM'}; "
                "pass a cache that this model returned."
            )
        for index, layer in enumerate(self.layers):
            directions = 2 if layer.bidirectional else 1
            sizes = (layer.proj_size or layer.hidden_size, layer.hidden_size) if is_lstm else (layer.hidden_size,)
            for slot, size in enumerate(sizes):
                state = cache.get_recurrent_state(index, slot)  # batch-first: (batch, directions, size)
                if state is None or tuple(state.shape) == (batch_size, directions, size):
                    continue
                if state.size(0) != batch_size:
                    raise ValueError(
                        f"cache holds the state of {state.size(0)} sequences, but the input has {batch_size} rows; "
                        "a cache holds one row per sequence (generate() does not expand a cache you pass for "
                        "num_beams or num_return_sequences > 1)."
                    )
                raise ValueError(
                    f"cache layer {index} holds a state of shape {tuple(state.shape)} (batch, directions, size), but "
                    f"this model needs ({batch_size}, {directions}, {size}); pass a cache that this model returned."
                )

    def run_layer_aligned(self, layer: nn.RNNBase, sequence: torch.Tensor, layout: PaddingLayout) -> torch.Tensor:
        """
        One layer on the aligned layout (`PaddingLayout.runs_aligned`), `(batch, time, features)` in and out: per
        length group and direction one fused call from a zero state, the backward direction over each row reversed in
        place, so that both read a row's tokens before its padding. Outputs at padding are left as they come.
        """
        weights = self.layer_weights(layer)
        outputs = []
        for rows, length in layout.groups:
            part = sequence[:, :length] if rows is None else sequence[rows, :length]
            output = run_one_direction(layer, weights, "_l0", part)
            if layer.bidirectional:
                reversal = layout.reversal[:, :length] if rows is None else layout.reversal[rows, :length]
                backward = run_one_direction(layer, weights, "_l0_reverse", reverse_rows(part, reversal))
                output = torch.cat([output, reverse_rows(backward, reversal)], dim=-1)
            outputs.append(F.pad(output, (0, 0, 0, sequence.size(1) - length)))
        if layout.group_order is None:
            return outputs[0]
        return torch.cat(outputs).index_select(0, layout.group_order.to(sequence.device))

    def layer_weights(self, layer: nn.RNNBase) -> dict[str, torch.Tensor]:
        """The layer's parameters by name; in training with `weight_drop`, hidden-to-hidden ones DropConnect-ed."""
        weights = dict(layer.named_parameters())
        if self.training and self.weight_drop > 0:
            # The dropped copies stand in for the parameters during this one call (AWD-LSTM's WeightDrop without its
            # renamed `_raw` parameters): the fused kernel runs on them, gradients reach the raw weights, and the
            # parameter names, hence state_dict keys and saved checkpoints, stay those of a plain layer.
            weights |= {
                name: F.dropout(weight, self.weight_drop)
                for name, weight in weights.items()
                if name.startswith("weight_hh")
            }
        return weights

    def run_layer(
        self,
        layer: nn.RNNBase,
        sequence: torch.Tensor | PackedSequence,
        initial_state: State | None,
        step_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor | PackedSequence, State]:
        """
        One fused layer call (while exporting, `scan_layer`, which skips the steps where `step_mask` is False); in
        training with `weight_drop`, on DropConnect-ed hidden-to-hidden weights.
        """
        if not (self.training and self.weight_drop > 0 or is_exporting()):
            return layer(sequence, initial_state)
        weights = self.layer_weights(layer)
        if is_exporting():
            return scan_layer(layer, weights, sequence, initial_state, step_mask)
        return functional_call(layer, weights, (sequence, initial_state))


# torch's fused multi-layer functions, which `nn.LSTM`, `nn.GRU` and `nn.RNN` call, by `nn.RNNBase.mode`.
FUSED_FUNCTIONS = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}


def run_one_direction(layer: nn.RNNBase, weights: dict[str, torch.Tensor], suffix: str, inputs: torch.Tensor):
    """
    The fused kernel on one direction of `layer` (`suffix` "_l0" or "_l0_reverse"), from a zero state, over
    `(batch, time, input_size)`: what `layer` computes for that direction, as a unidirectional layer.
    """
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if layer.bias else [])
    names += ["weight_hr"] if layer.proj_size else []
    params = [weights[name + suffix] for name in names]
    h0 = inputs.new_zeros(1, inputs.size(0), layer.proj_size or layer.hidden_size)
    hx = (h0, inputs.new_zeros(1, inputs.size(0), layer.hidden_size)) if layer.mode == "LSTM" else h0
    return FUSED_FUNCTIONS[layer.mode](inputs, hx, params, layer.bias, 1, 0.0, layer.training, False, True)[0]


# torch's cell equations, from each step's pre-activations (the input's and the state's products already taken),
# shared by the traced loop that exporters capture (`scan_layer`) and the CPU decode step (`decode_cell`).
def lstm_update(gates: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """`gates` = x W_ih^T + h W_hh^T + biases, `(..., 4 * hidden)` in torch's i, f, g, o order; `c` None is zeros."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c_next = torch.sigmoid(i) * torch.tanh(g)
    if c is not None:
        c_next = c_next + torch.sigmoid(f) * c
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def gru_update(input_gates: torch.Tensor, hidden_gates: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """`input_gates` = x W_ih^T + b_ih and `hidden_gates` = h W_hh^T + b_hh, apart: the reset gate scales the latter."""
    x_r, x_z, x_n = input_gates.chunk(3, dim=-1)
    h_r, h_z, h_n = hidden_gates.chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)


def elman_update(pre_activation: torch.Tensor, cell: str) -> torch.Tensor:
    """`cell` "rnn_tanh" or "rnn_relu" (RNNConfig.cell, or `nn.RNNBase.mode` lower-cased)."""
    return torch.tanh(pre_activation) if cell == "rnn_tanh" else torch.relu(pre_activation)


def scan_layer(
    layer: nn.RNNBase,
    weights: dict[str, torch.Tensor],
    inputs: torch.Tensor,
    initial_state: State | None,
    step_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, State]:
    """
    What `layer(inputs, initial_state)` computes on packed sequences, as a loop over time that exporters capture.

    torch 2.13 cannot export the fused kernels with a dynamic length (tracing steps `nn.LSTM`, `nn.GRU` and `nn.RNN`
    through the example's length) nor packing (its sizes depend on the data). torch's cell equations in a `scan`
    over time export with dynamic batch and length, and become an ONNX `Scan`. A step where `step_mask`
    `(batch, time)` is False (padding, on any side) keeps the state and outputs zeros, which is what packing gives:
    each row's final state is its state after its last token, and the backward direction, which reads each row
    reversed, starts from its last token.

    `weights`: the layer's parameters by name (or stand-ins for them); `inputs`: `(batch, time, input_size)`.
    Returns the outputs `(batch, time, num_directions * output_size)` and the final state in torch's `h_n` (or
    `(h_n, c_n)`) layout. Both directions run in one loop, as a leading axis of every tensor.
    """
    # The scan operator itself, not its wrapper `scan()`: the wrapper compiles the loop body with Dynamo, whose cache
    # outlives one export and can tie a later export's dynamic length to an earlier example's. A prototype API of
    # torch (tested with 2.13), imported only when exporting.
    from torch._higher_order_ops.scan import scan_op

    cell = layer.mode.lower()  # "lstm", "gru", "rnn_tanh" or "rnn_relu", as in RNNConfig.cell
    suffixes = ("_l0", "_l0_reverse") if layer.bidirectional else ("_l0",)
    directions = len(suffixes)

    def stacked(name: str) -> torch.Tensor:  # (directions, ...)
        return torch.stack([weights[name + suffix] for suffix in suffixes])

    def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        # (directions, rows, in) -> (directions, rows, out). bmm, not `@`: torch 2.13's ONNX exporter fails to
        # decompose a batched `@` inside a scan.
        product = torch.bmm(x, weight.transpose(1, 2))
        return product if bias is None else product + bias.unsqueeze(1)

    batch_size, time_steps = inputs.shape[:2]
    if step_mask is None:
        step_mask = inputs.new_ones(batch_size, time_steps, dtype=torch.bool)
    # Each direction's rows in its reading order; the input's share of every step in one product, as the kernel does.
    rows = torch.stack([inputs, inputs.flip(1)][:directions]).flatten(1, 2)
    projected = linear(rows, stacked("weight_ih"), stacked("bias_ih")).unflatten(1, (batch_size, time_steps))
    is_token = torch.stack([step_mask, step_mask.flip(1)][:directions]).unsqueeze(-1)
    if initial_state is None:
        h0 = inputs.new_zeros(directions, batch_size, layer.proj_size or layer.hidden_size)
        initial_state = (h0, inputs.new_zeros(directions, batch_size, layer.hidden_size)) if cell == "lstm" else h0
    state = initial_state if isinstance(initial_state, tuple) else (initial_state,)
    # The loop's constants go in as arguments: its body may close over no tensor of the traced graph.
    constants = (stacked("weight_hh"), stacked("bias_hh")) + ((stacked("weight_hr"),) if layer.proj_size else ())

    def step(*args: torch.Tensor) -> list[torch.Tensor]:
        """scan's convention: the state, one step of each input, the constants in; the next state, the output out."""
        h, c = args[0], args[1] if cell == "lstm" else None
        x, real, w_hh, b_hh, *projection = args[len(state) :]  # (directions, batch, gates), (directions, batch, 1)
        if cell == "lstm":
            h_next, c_next = lstm_update(x + linear(h, w_hh, b_hh), c)
            h_next = linear(h_next, projection[0]) if projection else h_next
            next_state = [torch.where(real, h_next, h), torch.where(real, c_next, c)]
        elif cell == "gru":
            h_next = gru_update(x, linear(h, w_hh, b_hh), h)
            next_state = [torch.where(real, h_next, h)]
        else:
            h_next = elman_update(x + linear(h, w_hh, b_hh), cell)
            next_state = [torch.where(real, h_next, h)]
        return [*next_state, torch.where(real, h_next, 0.0)]

    steps = [projected.permute(2, 0, 1, 3), is_token.permute(2, 0, 1, 3)]  # time first, as scan reads them
    if isinstance(time_steps, int) and time_steps == 1:  # a length fixed at one step needs no loop
        *final_state, outputs = step(*state, steps[0][0], steps[1][0], *constants)
        outputs = outputs.unsqueeze(0)
    else:
        *final_state, outputs = scan_op(step, list(state), steps, constants)
    outputs = outputs.permute(1, 2, 0, 3)  # (directions, batch, time, size), each in its reading order
    outputs = torch.cat([outputs[0], outputs[1].flip(1)], dim=-1) if directions == 2 else outputs[0]
    return outputs, tuple(final_state) if cell == "lstm" else final_state[0]


def build_recurrent_layer(config: RNNConfig, input_size: int) -> nn.RNNBase:
    """One fused single-layer recurrent module for `config.cell`."""
    kwargs = {
        "input_size": input_size,
        "hidden_size": config.hidden_size,
        "batch_first": True,
        "bidirectional": config.bidirectional,
    }
    if config.cell == "lstm":
        kwargs["proj_size"] = config.proj_size
    elif config.cell.startswith("rnn_"):
        kwargs["nonlinearity"] = config.cell.removeprefix("rnn_")
    return CELL_MODULES[config.cell](**kwargs)


class RNNPreTrainedModel(PreTrainedModel):
    config_class = RNNConfig
    config: RNNConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["RNNStack"]
    # The state summarises the whole past: generate() cannot roll it back (no assisted decoding).
    _is_stateful = True

    def save_pretrained(self, *args, **kwargs):
        # auto_map names every head of the family, not only the saved one, so that where hf_rnn is not installed a
        # folder saved from any head loads into every other (an LM's folder into a classifier, ULMFiT-style) through
        # remote code. Each modeling file lists its heads in AUTO_HEADS.
        module = sys.modules[type(self).__module__]
        file_name = module.__name__.rsplit(".", 1)[-1]
        family = {auto_class: f"{file_name}.{head}" for auto_class, head in module.AUTO_HEADS.items()}
        self.config.auto_map = {**family, **(getattr(self.config, "auto_map", None) or {})}
        return super().save_pretrained(*args, **kwargs)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        folder = args[0] if args else kwargs.get("pretrained_model_name_or_path")
        config_file = os.path.join(str(folder), kwargs.get("subfolder") or "", "config.json")
        # Without it the class's default config is built and the weights fail to fit ("ignore_mismatched_sizes").
        # AutoModel*.from_pretrained fails earlier, in AutoConfig, before any of this code runs.
        if kwargs.get("config") is None and os.path.isdir(str(folder)) and not os.path.isfile(config_file):
            raise ValueError(
                f"pretrained_model_name_or_path={str(folder)!r} is a folder without config.json, so nothing says how "
                "to build the model its weights belong to (a training run stopped before saving?). Save the config "
                "there (config.save_pretrained(folder)) or pass config=..."
            )
        loaded = super().from_pretrained(*args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        model._own_cpu_parameters()
        return loaded

    @torch.no_grad()
    def _own_cpu_parameters(self) -> None:
        # CPU weights loaded from safetensors can sit at unaligned offsets of the memory-mapped file; oneDNN's
        # packed-sequence kernels then round differently and a reloaded model's outputs are no longer bitwise
        # those of the saved one. Aligned copies of our own fix that, and detach the model from the file.
        for parameter in self.parameters():
            if parameter.device.type == "cpu":
                parameter.data = parameter.data.clone()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """U(-r, r) for embeddings and output layers (PyTorch word-LM example); torch's default for cells."""
        bound = self.config.initializer_range
        if isinstance(module, nn.Embedding):
            init.uniform_(module.weight, -bound, bound)
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, LinearChainCRF):
            # No preference between tags at first: the CRF starts as independent per-token softmaxes.
            for parameter in module.parameters():
                init.zeros_(parameter)
        elif isinstance(module, CharacterWordEncoder):
            init.zeros_(module.spellings)  # no spelling until set_spellings (a loaded table is kept)
        elif isinstance(module, nn.RNNBase):
            # transformers' default covers nn.LSTM only (with xavier); keep torch's own scheme for every cell.
            cell_bound = module.hidden_size**-0.5
            for parameter in module.parameters():
                init.uniform_(parameter, -cell_bound, cell_bound)


class RNNModel(RNNPreTrainedModel):
    """Embeddings and the recurrent stack; returns the top layer's outputs and the final recurrent state."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_size)
        self.char_encoder = CharacterWordEncoder(config) if config.char_encoder else None
        self.embedding_dropout = SequenceDropout(config.embedding_dropout, locked=config.locked_dropout)
        self.rnn = RNNStack(config, input_size=config.embedding_size + config.char_output_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values: RecurrentCache | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        cache: RecurrentCache | None = None,
    ) -> BaseModelOutputWithPast:
        """
        Args:
            input_ids: `(batch, time)` token ids (with `config.char_encoder`, the only input: spellings come from ids).
            attention_mask: `(batch, time)` or, when continuing from a cache, `(batch, past + time)`
                (as generate() passes it); 0 marks padding on any side.
            inputs_embeds: `(batch, time, embedding_size)`, instead of `input_ids`.
            cache (or `past_key_values`, its name before transformers 5.24): a `RecurrentCache` to continue from;
                updated in place.
            use_cache: return the final state (default: `config.use_cache` in eval mode).

        Returns:
            `last_hidden_state` `(batch, time, num_directions * output_size)`, the state as `cache` (transformers
            >= 5.24) or `past_key_values` (see `output_state`), and `hidden_states` (embeddings, then each layer) if
            `output_hidden_states`.
        """
        past_key_values = state_argument(cache, past_key_values, use_cache=use_cache)
        # generate()'s decode steps feed back its own tokens on its own state: the checks are for a caller's input.
        decode_step = past_key_values is not None and past_key_values.take_decode_step()
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        if input_ids is not None:
            if not decode_step:
                input_ids = check_token_ids(input_ids, self.config.vocab_size)
            inputs_embeds = self.embed(input_ids)
        elif self.char_encoder is not None:
            raise ValueError(
                f"char_encoder={self.config.char_encoder!r} reads each token's spelling from its id: pass input_ids, "
                "not inputs_embeds."
            )
        else:
            check_inputs_embeds(inputs_embeds, self.config.embedding_size)
        batch_size, time_steps = inputs_embeds.shape[:2]
        use_cache = resolve_use_cache(self, use_cache, past_key_values)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        if past_key_values is not None and past_key_values.get_seq_length() > 0 and self.config.bidirectional:
            raise ValueError(
                "A cache cannot be continued by a bidirectional stack (config.bidirectional=True): "
                "its backward direction needs the whole sequence."
            )
        if use_cache and past_key_values is None:
            past_key_values = RecurrentCache.from_config(self.config)
        # generate() passes the mask of the whole sequence; the cached state already covers the past columns.
        attention_mask = check_attention_mask(attention_mask, batch_size, time_steps, past=True)

        hidden_states = self.embedding_dropout(inputs_embeds)
        last_hidden_state, all_hidden_states = self.rnn(
            hidden_states,
            attention_mask=attention_mask,
            cache=past_key_values if use_cache else None,
            output_hidden_states=output_hidden_states,
            check_cache=not decode_step,
        )
        if use_cache:
            past_key_values.seen_tokens += time_steps
        return BaseModelOutputWithPast(
            last_hidden_state=last_hidden_state,
            hidden_states=all_hidden_states,
            **state_output(past_key_values if use_cache else None),
        )

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The recurrent stack's input for checked token ids: embeddings (and spellings), `(..., input_size)`."""
        inputs_embeds = self.embed_tokens(input_ids)
        if self.training and self.config.word_dropout > 0:
            inputs_embeds = self.drop_word_types(inputs_embeds, input_ids)
        if self.char_encoder is not None:
            # Word dropout hides a word's embedding, not its spelling (as Lample et al.'s unknown-word training).
            inputs_embeds = torch.cat([inputs_embeds, self.char_encoder(input_ids)], dim=-1)
        return inputs_embeds

    def drop_word_types(self, inputs_embeds: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """
        Word dropout (AWD-LSTM's embedding dropout): zero every occurrence of a random `word_dropout` share of the
        vocabulary, scale the other words by 1 / (1 - p). Same values and gradients as embedding with a row-dropped
        matrix, without materialising one: `(batch, time, embedding_size)` in and out.
        """
        keep = 1.0 - self.config.word_dropout
        word_scale = inputs_embeds.new_empty(self.embed_tokens.num_embeddings, 1).bernoulli_(keep).div_(keep)
        return inputs_embeds * word_scale[input_ids]


def resolve_use_cache(model: PreTrainedModel, use_cache: bool | None, cache: Cache | None) -> bool:
    """
    Whether a forward returns its state: as asked; by default when continuing a `cache` (in training too: truncated
    backpropagation through time), else `config.use_cache` in eval mode. While exporting there is no state: an
    exported program takes and returns tensors, and the state is a `Cache` object.
    """
    if is_exporting():
        if use_cache or cache is not None:
            raise ValueError(
                "A recurrent cache cannot be exported: an exported program takes and returns tensors, and the state "
                "is a Cache object. Export with use_cache=False (the default while exporting) and no cache; the "
                "exported program then returns no state."
            )
        return False
    if use_cache is None:
        return cache is not None or (model.config.use_cache and not model.training)
    return use_cache


def reject_unknown_kwargs(kwargs: dict, allowed: tuple[str, ...]) -> None:
    """A misspelt keyword must fail, not vanish: an ignored state or label argument would silently change results."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"forward() got unexpected keyword arguments {unknown}; besides its parameters it accepts {list(allowed)}."
        )


def activation_penalty(
    config: RNNConfig,
    hidden_states: torch.Tensor,
    dropped_hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """
    AWD-LSTM's activation regularization (AR) plus temporal activation regularization (TAR), over real tokens only.

    `hidden_states` `(batch, time, features)` are the top layer's outputs, `dropped_hidden_states` the same after
    the output dropout, `attention_mask` `(batch, time)` (None: no padding). Returns the scalar

        alpha * sum over real tokens of mean_features(dropped ** 2) / n_tokens
        + beta * sum over consecutive real tokens of mean_features((h_t - h_t-1) ** 2) / n_pairs

    with `alpha = config.activation_regularization`, `beta = config.temporal_activation_regularization`; padding
    in between (any side, or holes) is skipped, as the recurrence skips it.
    With `num_items_in_batch` (Trainer's count of label tokens over all accumulated micro-batches and devices),
    both sums are divided by it instead of n_tokens and n_pairs, as the LM loss is: the penalties are then
    weighted per token like the loss, and accumulated micro-batches add up to the penalty of one large batch
    rather than to `gradient_accumulation_steps` times it.
    """
    batch_size, time_steps, features = hidden_states.shape
    if attention_mask is None:
        attention_mask = hidden_states.new_ones(batch_size, time_steps)

    def per_item(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return total / (count.clamp(min=1) if num_items_in_batch is None else num_items_in_batch)

    penalty = hidden_states.new_zeros((), dtype=torch.float32)
    if config.activation_regularization:
        real = attention_mask.bool()
        squares = dropped_hidden_states.float().pow(2).mean(-1)
        penalty = penalty + config.activation_regularization * per_item((squares * real).sum(), real.sum())
    if config.temporal_activation_regularization:
        # Real tokens first, so that consecutive real tokens are neighbours whatever the padding.
        order = real_tokens_first(attention_mask)
        aligned = hidden_states.float().gather(1, order.unsqueeze(-1).expand(-1, -1, features))
        aligned_real = attention_mask.gather(1, order).bool()
        pairs = aligned_real[:, 1:] & aligned_real[:, :-1]
        changes = (aligned[:, 1:] - aligned[:, :-1]).pow(2).mean(-1)
        penalty = penalty + config.temporal_activation_regularization * per_item((changes * pairs).sum(), pairs.sum())
    return penalty


class RecurrentGenerationMixin(GenerationMixin):
    """
    `generate()` for the heads whose cache is a recurrent state (`RecurrentCache` and its subclasses).

    Continuing from a cache, generate() is given the whole sequence (transformers' convention): the tokens the
    cache has read, then the new ones. transformers 5.23 cuts the part the cache has read; 5.24 cuts nothing for a
    cache of linear-attention layers (Mamba's expect new tokens only), and the state would read those tokens
    twice. Cutting here, by the cache's own count, gives the same on every release. A caller's cache of B rows
    meeting B * num_beams (or num_return_sequences) rows is expanded the way generate() expanded the inputs. The
    ids are checked before generate() indexes their time axis.
    """

    def generate(self, inputs: torch.Tensor | None = None, *args, **kwargs):
        ids = kwargs.get(self.main_input_name) if inputs is None else inputs
        if ids is not None:
            check_token_ids(ids, self.config.vocab_size, self.main_input_name)
        # Either name on every release: generate() itself only knows the installed release's. (Which kind of
        # cache is checked by forward, which knows the kind it needs.)
        for name in {"cache", "past_key_values"} - {CACHE_NAME}:
            if name in kwargs:
                kwargs[CACHE_NAME] = state_argument(kwargs.get(CACHE_NAME), kwargs.pop(name), Cache)
        state = kwargs.get(CACHE_NAME)
        rows = state.batch_size if isinstance(state, RecurrentCache) else None
        if rows is not None and ids is not None and rows != ids.shape[0]:
            # Checked here, before generate() repeats the inputs for beams (prepare_inputs_for_generation then
            # repeats the cache likewise): a cache of other sequences must not be stretched over these.
            raise ValueError(
                f"cache holds the state of {rows} sequences, but the input has {ids.shape[0]} rows; a cache holds "
                "one row per sequence."
            )
        return super().generate(inputs, *args, **kwargs)

    def prepare_inputs_for_generation(self, input_ids: torch.LongTensor, *args, **kwargs) -> dict:
        state = kwargs.get(CACHE_NAME)
        if not args and self.is_decode_step(input_ids, state, kwargs):
            return self.decode_step_inputs(input_ids, state, kwargs)
        model_inputs = super().prepare_inputs_for_generation(input_ids, *args, **kwargs)
        ids_name = "decoder_input_ids" if self.config.is_encoder_decoder else "input_ids"
        state = model_inputs.get(CACHE_NAME)
        if not isinstance(state, RecurrentCache) or model_inputs.get(ids_name) is None:
            return model_inputs
        rows = state.batch_size
        if rows is not None and rows != input_ids.shape[0] and input_ids.shape[0] % rows == 0:
            state.batch_repeat_interleave(input_ids.shape[0] // rows)
        consumed = state.get_seq_length()
        if consumed == 0:
            return model_inputs
        if input_ids.shape[1] <= consumed:
            raise ValueError(
                f"cache has consumed {consumed} tokens, but {ids_name} has {input_ids.shape[1]}; to continue from "
                f"it, pass generate() the whole sequence: the {consumed} tokens the cache covers, then at least one "
                "new token."
            )
        model_inputs[ids_name] = input_ids[:, consumed:]
        return model_inputs

    def is_decode_step(self, input_ids: torch.LongTensor, state: Cache | None, kwargs: dict) -> bool:
        """
        Whether generate() is past the prompt of a decoder-only model: it feeds back the one token per row it has just
        chosen, on the state the previous step returned, and has extended the mask by a column of ones.
        """
        return (
            not self.config.is_encoder_decoder
            and isinstance(state, RecurrentCache)
            and not kwargs.get("is_first_iteration")
            and kwargs.get("next_sequence_length") == 1
            and state.get_seq_length() + 1 == input_ids.shape[1]
            and state.batch_size == input_ids.shape[0]
        )

    def decode_step_inputs(self, input_ids: torch.LongTensor, state: RecurrentCache, kwargs: dict) -> dict:
        """
        The lean inputs of a decode step, what `GenerationMixin.prepare_inputs_for_generation` would give without its
        per-step work (signature inspection, copies): the new token, the state, and every other keyword it forwards.
        The mask is left out: its new column is all ones, and the past columns are in the state already. The state
        is marked so that the forward skips the checks of input it would give a caller (`take_decode_step`).
        """
        not_forwarded = {"next_sequence_length", "labels", "is_first_iteration", "inputs_embeds", "attention_mask"}
        model_inputs = {key: value for key, value in kwargs.items() if key not in not_forwarded}
        model_inputs["input_ids"] = input_ids[:, -1:]
        state.next_step_is_generated = True
        return model_inputs


class RNNForCausalLM(RNNPreTrainedModel, RecurrentGenerationMixin):
    """Recurrent language model: next-token logits, generation with the recurrent state as the cache."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    # Trainer passes `num_items_in_batch`, so gradient accumulation weighs every token as one large batch would.
    accepts_loss_kwargs = True

    def __init__(self, config: RNNConfig):
        if config.bidirectional:
            raise ValueError(
                "bidirectional=True cannot make a causal language model: the backward direction would read the "
                "tokens it has to predict. Use bidirectional=False."
            )
        if config.tie_word_embeddings and config.embedding_size != config.output_size:
            raise ValueError(
                f"tie_word_embeddings=True needs embedding_size ({config.embedding_size}) equal to the stack's output "
                f"size ({config.output_size}: proj_size if set, else hidden_size); change one, or untie."
            )
        super().__init__(config)
        self.model = RNNModel(config)
        self.output_dropout = SequenceDropout(config.output_dropout, locked=config.locked_dropout)
        self.lm_head = nn.Linear(config.output_size, config.vocab_size)
        self.post_init()

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The model builds its own RecurrentCache on the first forward; a DynamicCache cannot hold its state.
        return False

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.embed_tokens = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        past_key_values: RecurrentCache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        cache: RecurrentCache | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **loss_kwargs,
    ) -> CausalLMOutputWithPast:
        """
        `labels` `(batch, time)` are the input ids themselves (shifted inside; -100 is ignored). The one loss keyword
        accepted is `shift_labels`, the targets already shifted (stateful training: they cross the chunk boundary);
        it is not a named parameter because `Trainer` takes every parameter named `*label*` for a required label.
        `logits_to_keep` computes logits for the last N positions only (0 = all). `num_items_in_batch` (from
        `Trainer`) divides the summed loss, so gradient accumulation weighs every token equally. In training, the
        loss also holds the AR and TAR penalties of the config (see `activation_penalty`). The state is `cache`
        (`past_key_values` before transformers 5.24), as in `RNNModel`.
        """
        reject_unknown_kwargs(loss_kwargs, allowed=("shift_labels",))
        state = state_argument(cache, past_key_values, use_cache=use_cache)
        if (
            state is not None
            and state.next_step_is_generated
            and labels is None
            and not (output_hidden_states or self.config.output_hidden_states)
            and runs_decode_kernels(self, input_ids)
        ):
            state.take_decode_step()
            return self.decode_step(input_ids, state)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            cache=state,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        # Dropout before selecting positions: AR needs the dropped outputs of every position (an identity in eval).
        dropped_hidden_states = self.output_dropout(hidden_states)
        if isinstance(logits_to_keep, int):
            kept = dropped_hidden_states[:, -logits_to_keep:] if logits_to_keep else dropped_hidden_states
        else:
            kept = dropped_hidden_states[:, logits_to_keep]
        logits = self.lm_head(kept)
        loss = None
        if labels is not None:
            vocab_size = self.config.vocab_size
            check_label_ids(labels, hidden_states.shape[:2], vocab_size, "config.vocab_size", "(batch, time)")
            loss = self.loss_function(
                logits=logits,
                labels=labels,
                vocab_size=self.config.vocab_size,
                num_items_in_batch=num_items_in_batch,
                **loss_kwargs,
            )
            if self.training and (
                self.config.activation_regularization or self.config.temporal_activation_regularization
            ):
                mask = check_attention_mask(attention_mask, *hidden_states.shape[:2], past=True)
                loss = loss + activation_penalty(
                    self.config, hidden_states, dropped_hidden_states, mask, num_items_in_batch
                )
        return CausalLMOutputWithPast(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, **state_output(output_state(outputs))
        )


    def decode_step(self, input_ids: torch.LongTensor, state: RecurrentCache) -> CausalLMOutputWithPast:
        """
        One generate() decode step, `input_ids` `(batch, 1)` continuing `state` (updated in place): what the forward
        computes in eval mode, up to float rounding. Up to `DECODE_KERNEL_MAX_ROWS` rows on the transposed weights of
        `DecodeWeights`, more through the fused layers.
        """
        hidden = self.model.embed(input_ids)
        weights = DecodeWeights.of(self) if input_ids.size(0) <= DECODE_KERNEL_MAX_ROWS else None
        if weights is not None:
            hidden = hidden[:, 0]
            for index, layer in enumerate(self.model.rnn.layers):
                hidden = decode_cell(layer.mode, weights.layers[index], hidden, state, index)
            logits = linear_transposed(hidden, weights.head).unsqueeze(1)
        else:  # the stack's fused layers, without the model's input checks
            hidden, _ = self.model.rnn(hidden, cache=state, check_cache=False)
            logits = self.lm_head(hidden)
        state.seen_tokens += 1
        return CausalLMOutputWithPast(logits=logits, **state_output(state))


# Up to this many rows a decode step runs on `DecodeWeights`, beyond it on the fused kernels: generate() with an
# lstm:2x650 on this 2-core CPU, per token, transposed / fused: 2.19 / 3.70 ms at batch 1, 4.63 / 5.26 at 8, 5.76 /
# 6.11 at 16, 8.21 / 7.72 at 32.
DECODE_KERNEL_MAX_ROWS = 16


def runs_decode_kernels(model: "RNNForCausalLM", input_ids: torch.Tensor | None) -> bool:
    """Whether a generate() decode step takes `RNNForCausalLM.decode_step`: inference on the CPU, in eval mode."""
    return (
        input_ids is not None
        and input_ids.device.type == "cpu"
        and not model.training
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and not is_exporting()
    )


def linear_transposed(inputs: torch.Tensor, weight_and_bias: tuple[torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
    """`F.linear` for a weight stored transposed, `(in, out)` contiguous: `(rows, in)` -> `(rows, out)`."""
    weight_t, bias = weight_and_bias
    return torch.mm(inputs, weight_t) if bias is None else torch.addmm(bias, inputs, weight_t)


class DecodeWeights:
    """
    A causal LM's recurrent and output weights for one-token decode steps on the CPU, each transposed into a
    contiguous `(in, out)` copy. A decode step at small batch is matrix-vector products, and this layout reads about
    1.6x faster than torch's `(out, in)` (lstm:2x650 at batch 1: the LM head 1.0 ms against 1.6, an LSTM layer's
    step 0.7 ms against 1.4 in the fused kernel, which also re-lays its weights out on every call; see
    benchmarks/README). Built on the first decode step and kept on the model until one of its source parameters
    changes (storage or version counter: an optimizer step, `load_state_dict`, `.to()`), at the cost of one extra
    copy of those weights in memory.
    """

    def __init__(self, model: "RNNForCausalLM", key: tuple):
        self.key = key
        self.layers = []
        for layer in model.model.rnn.layers:
            w_ih, w_hh = layer.weight_ih_l0.detach().t().contiguous(), layer.weight_hh_l0.detach().t().contiguous()
            b_ih = layer.bias_ih_l0.detach() if layer.bias else None
            b_hh = layer.bias_hh_l0.detach() if layer.bias else None
            weights = {"ih": (w_ih, b_ih), "hh": (w_hh, b_hh)}
            if layer.mode != "GRU":  # one bias for both products (a GRU's reset gate needs them apart)
                weights = {"ih": (w_ih, None if b_ih is None else b_ih + b_hh), "hh": (w_hh, None)}
            if layer.proj_size:
                weights["hr"] = (layer.weight_hr_l0.detach().t().contiguous(), None)
            self.layers.append(weights)
        head = model.lm_head
        self.head = (head.weight.detach().t().contiguous(), None if head.bias is None else head.bias.detach())

    @staticmethod
    def source_parameters(model: "RNNForCausalLM") -> list[torch.Tensor]:
        return list(model.model.rnn.parameters()) + list(model.lm_head.parameters())

    @classmethod
    def of(cls, model: "RNNForCausalLM") -> "DecodeWeights | None":
        """
        The model's decode weights, rebuilt when a parameter has changed since they were made; None for a model
        made under `torch.inference_mode()`, whose parameters keep no version counter to tell a change by.
        """
        parameters = cls.source_parameters(model)
        if any(p.is_inference() for p in parameters):
            return None
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in parameters)
        current = model.__dict__.get("_decode_weights")  # a plain attribute: not a buffer, never saved
        if current is None or current.key != key:
            current = model.__dict__["_decode_weights"] = cls(model, key)
        return current


def decode_cell(mode: str, weights: dict, inputs: torch.Tensor, state: RecurrentCache, index: int) -> torch.Tensor:
    """
    One time step of recurrent layer `index` (`nn.RNNBase.mode`), torch's cell equations on `DecodeWeights`:
    `inputs` `(batch, input_size)` -> the layer's output `(batch, output_size)`; the layer's state in `state` is
    read (zeros if empty) and replaced.
    """
    h = state.get_recurrent_state(index, 0)  # batch-first: (batch, 1, size); None on the first step
    if mode == "GRU":
        h_prev = inputs.new_zeros(inputs.size(0), weights["hh"][0].size(0)) if h is None else h[:, 0]
        h_next = gru_update(linear_transposed(inputs, weights["ih"]), linear_transposed(h_prev, weights["hh"]), h_prev)
    else:
        # LSTM and Elman layers carry both biases in "ih": the state's product adds in place, skipped from zeros.
        pre_activation = linear_transposed(inputs, weights["ih"])
        if h is not None:
            pre_activation = pre_activation.addmm_(h[:, 0], weights["hh"][0])
        if mode == "LSTM":
            c = state.get_recurrent_state(index, 1)
            h_next, c_next = lstm_update(pre_activation, None if c is None else c[:, 0])
            if "hr" in weights:
                h_next = linear_transposed(h_next, weights["hr"])
            state.update_recurrent_state(c_next.unsqueeze(1), index, state_idx=1)
        else:
            h_next = elman_update(pre_activation, mode.lower())
    state.update_recurrent_state(h_next.unsqueeze(1), index, state_idx=0)
    return h_next


def pool_sequence(
    hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, pooling: str, num_directions: int
) -> torch.Tensor:
    """
    Summarise `(batch, time, features)` states into `(batch, features)` over the real tokens only.

    `"last"` takes the forward direction at the last real token and the backward direction at the first one,
    i.e. each direction's final state. A row with no real token (all padding) pools to zeros with every method.
    """
    if attention_mask is None:
        attention_mask = hidden_states.new_ones(hidden_states.shape[:2])
    mask = attention_mask.bool()
    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    if pooling == "max":
        pooled = hidden_states.masked_fill(~mask.unsqueeze(-1), torch.finfo(hidden_states.dtype).min).amax(1)
        # A row with no token would keep the dtype's minimum (logits near -1e38): it pools to zeros, as in "mean".
        return pooled.masked_fill(~mask.any(1, keepdim=True), 0.0)
    positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, -1).amax(1).clamp(min=0)
    rows = torch.arange(hidden_states.size(0), device=hidden_states.device)
    forward_final = hidden_states[rows, last]
    if num_directions == 1:
        return forward_final
    first = torch.where(mask, positions, mask.size(1)).amin(1).clamp(max=mask.size(1) - 1)
    half = hidden_states.size(-1) // 2
    return torch.cat([forward_final[:, :half], hidden_states[rows, first, half:]], dim=-1)


class RNNForSequenceClassification(RNNPreTrainedModel):
    """Sentence-level head: pooled recurrent states -> `num_labels` logits (classification or regression)."""

    # The regression and multi-label losses are per-batch means; let Trainer scale them for accumulation.
    accepts_loss_kwargs = False

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = RNNModel(config)
        self.output_dropout = SequenceDropout(config.output_dropout, locked=config.locked_dropout)
        self.score = nn.Linear(self.model.rnn.output_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> SequenceClassifierOutput:
        """
        `labels`: `(batch,)` class ids, `(batch, num_labels)` floats for multi-label, or floats for regression.
        The loss is a per-batch mean; `num_items_in_batch` is accepted (Trainer's loss keyword) and does not scale it.
        """
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_hidden_states=output_hidden_states,
        )
        pooled = pool_sequence(
            outputs.last_hidden_state, attention_mask, self.config.classifier_pooling, self.config.num_directions
        )
        logits = self.score(self.output_dropout(pooled))
        loss = None
        if labels is not None:
            self.check_labels(labels, logits.size(0))
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)

    def check_labels(self, labels: torch.Tensor, batch_size: int) -> None:
        """The labels the loss (chosen as transformers does, from `problem_type` or the labels) can score."""
        num_labels, problem_type = self.config.num_labels, self.config.problem_type
        is_float = isinstance(labels, torch.Tensor) and labels.is_floating_point()
        if problem_type is None:  # as ForSequenceClassificationLoss will choose it
            is_ids = isinstance(labels, torch.Tensor) and labels.dtype in (torch.long, torch.int32)
            problem_type = "single_label_classification" if is_ids else "multi_label_classification"
            if num_labels == 1:
                problem_type = "regression"
        if problem_type == "single_label_classification":
            column = isinstance(labels, torch.Tensor) and labels.dim() == 2  # (batch, 1) is accepted as well
            shape, dims = ((batch_size, 1), "(batch, 1)") if column else ((batch_size,), "(batch,)")
            check_label_ids(labels, shape, num_labels, "config.num_labels", dims)
            return
        if problem_type == "regression":  # the loss squeezes both sides
            expected, fits = (batch_size,), is_float and labels.numel() == batch_size
        else:
            expected = (batch_size, num_labels)
            fits = is_float and tuple(labels.shape) == expected
        if not fits:
            kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else None
            raise ValueError(
                f"labels ({kind}, shape {shape}) do not fit {problem_type} with config.num_labels={num_labels}: "
                f"expected floats of shape {expected}, or class ids of shape (batch,) with num_labels > 1."
            )


class RNNForTokenClassification(RNNPreTrainedModel):
    """
    Tagging head: `num_labels` scores per token, read as a softmax per token or, with `config.crf`, through a
    linear-chain CRF over the sentence (BiLSTM-CRF, Lample et al. 2016; `crf_rnn.LinearChainCRF`).

    With the CRF:
    - the loss is each row's negative log-likelihood of its tags, summed over rows and divided by the scored tokens
      (labels other than -100; Trainer's `num_items_in_batch` when given): per token, as the softmax head's
      cross-entropy, so learning rates carry over and accumulated batches add up to one large batch. A real token
      labelled -100 (a word's continuation piece, a special token) stays a link of the chain with its tag summed
      over, so training and decoding run over the same tokens (see `LinearChainCRF.negative_log_likelihood`).
    - the logits, in eval mode, are max-marginal scores (`LinearChainCRF.max_marginals`): per token and tag, the
      score of the best tag sequence through that tag minus that of the best sequence overall (<= 0). Their argmax
      is the Viterbi path, which `pipeline("token-classification")` and the Trainer's metrics read; their softmax
      is a confidence in that choice, not a probability. In training mode the logits are the emission scores
      (decoding would be wasted work). `decode` returns the path itself. With `config.crf_constraints="iob2"`,
      decoding only outputs IOB2-valid sequences.
    """

    # Trainer passes `num_items_in_batch`, so gradient accumulation weighs every token as one large batch would.
    accepts_loss_kwargs = True

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = RNNModel(config)
        self.output_dropout = SequenceDropout(config.output_dropout, locked=config.locked_dropout)
        self.classifier = nn.Linear(self.model.rnn.output_size, config.num_labels)
        self.crf = None
        if config.crf:
            tags = [config.id2label[index] for index in range(config.num_labels)]
            self.crf = LinearChainCRF(config.num_labels, *(iob2_forbidden(tags) if config.crf_constraints else ()))
        self.post_init()

    def emission_scores(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        output_hidden_states: bool | None = None,
    ) -> tuple[torch.Tensor, BaseModelOutputWithPast, torch.Tensor]:
        """`(batch, time, num_labels)` scores, the bare model's outputs, and the `(batch, time)` bool real tokens."""
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_hidden_states=output_hidden_states,
        )
        emissions = self.classifier(self.output_dropout(outputs.last_hidden_state))
        batch_size, time_steps = emissions.shape[:2]
        if attention_mask is None:
            real = torch.ones(batch_size, time_steps, dtype=torch.bool, device=emissions.device)
        else:  # checked by the model, which reads its last `time_steps` columns too
            real = attention_mask[:, -time_steps:].bool()
        return emissions, outputs, real

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> TokenClassifierOutput:
        """`labels`: `(batch, time)` tag ids, -100 where no tag is scored (padding, continuation sub-words)."""
        emissions, outputs, real = self.emission_scores(input_ids, attention_mask, inputs_embeds, output_hidden_states)
        if labels is not None:
            check_label_ids(labels, emissions.shape[:2], self.config.num_labels, "config.num_labels", "(batch, time)")
        if self.crf is None:
            loss = None
            if labels is not None:
                loss = self.loss_function(emissions, labels, self.config, num_items_in_batch=num_items_in_batch)
            return TokenClassifierOutput(loss=loss, logits=emissions, hidden_states=outputs.hidden_states)
        loop = "The CRF's recursion over the sentence (crf=True)"
        refuse_dynamic_length(emissions.size(1), loop, "input_ids and attention_mask")
        loss = None
        if labels is not None:
            total = self.crf.negative_log_likelihood(emissions, real, labels).sum()
            count = num_items_in_batch
            if count is None:
                count = ((labels != NOT_SCORED) & real).sum().clamp(min=1)
            loss = total / (count.to(total.device) if torch.is_tensor(count) else count)
        logits = emissions if self.training else self.crf.max_marginals(emissions, real)[0]
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)

    @torch.no_grad()
    def decode(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.LongTensor:
        """
        The predicted tags, `(batch, time)` tag ids with -100 at padding: the Viterbi path with a CRF, each token's
        best score otherwise. Call it in eval mode (dropout would change the scores).
        """
        emissions, _, real = self.emission_scores(input_ids, attention_mask, inputs_embeds)
        if self.crf is None:
            return emissions.argmax(-1).masked_fill(~real, NOT_SCORED)
        return self.crf.viterbi(emissions, real)[0]


# The heads of this file by the Auto class that builds each: written into every saved folder's auto_map, and what
# `import hf_rnn` registers.
AUTO_HEADS = {
    "AutoModel": "RNNModel",
    "AutoModelForCausalLM": "RNNForCausalLM",
    "AutoModelForSequenceClassification": "RNNForSequenceClassification",
    "AutoModelForTokenClassification": "RNNForTokenClassification",
}

__all__ = [
    "RNNPreTrainedModel",
    "RNNModel",
    "RNNForCausalLM",
    "RNNForSequenceClassification",
    "RNNForTokenClassification",
    "RNNStack",
    "RecurrentGenerationMixin",
]
