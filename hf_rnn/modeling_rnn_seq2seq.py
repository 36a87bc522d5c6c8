"""hf_rnn encoder-decoder: a recurrent encoder, and a recurrent decoder with global attention, for translation.

Read top to bottom: the encoder output and the decoder cache, attention, the encoder, the decoder, the
`PreTrainedModel` base, the bare model, then the generation head.

The math (Luong et al., 2015, "Effective Approaches to Attention-based Neural Machine Translation"): the decoder's
top layer emits `h_t`; attention scores `h_t` against every encoder state `s` (dot, general, or Bahdanau's additive
score), a masked softmax over the real source tokens gives the context `c_t`, and the attentional vector
`a_t = tanh(W_c [c_t; h_t])` feeds the LM head. With input feeding, `a_{t-1}` is concatenated to the embedding of
the next target token; that makes each step depend on the previous one's attention, so teacher forcing then runs
step by step. Without it, the decoder stack runs over all target positions in one fused call and attention is one
batched product for all positions.

Part of the Hub bundle: imports only torch, transformers and its neighbours (`modeling_rnn.py`, `cache_rnn.py`,
`configuration_rnn*.py`), all copied next to the weights by `save_pretrained`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput
from transformers.utils import can_return_tuple

from .cache_rnn import RecurrentCache, RecurrentStateLayer, output_state, state_argument, state_output
from .configuration_rnn_seq2seq import RNNSeq2SeqConfig
from .modeling_rnn import (
    RecurrentGenerationMixin,
    RNNPreTrainedModel,
    RNNStack,
    check_attention_mask,
    check_inputs_embeds,
    check_label_ids,
    check_token_ids,
    refuse_dynamic_length,
    resolve_use_cache,
)


@dataclass
class RNNEncoderOutput(BaseModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch, src_len, num_directions * encoder_hidden_size)`):
        The encoder states the decoder attends over; zeros at padding.
    final_hidden_state (`torch.FloatTensor` of shape `(batch, num_directions * encoder_hidden_size)`):
        The top encoder layer's final hidden state of each direction (forward, then backward), from which the
        decoder's initial state is bridged. Batch-first and at the top level of the output, so that `generate()`
        expands it for beams together with `last_hidden_state`.
    """

    final_hidden_state: torch.FloatTensor | None = None


class AttentionDecoderCache(RecurrentCache):
    """
    The decoder's state during generation: a `RecurrentCache` of the decoder layers, plus one last layer of
    attention memory with two batch-first slots:

    - slot `INPUT_FEED`: the previous attentional vector `(batch, decoder_hidden_size)` (input feeding only);
    - slot `KEYS`: the projected encoder states `(batch, src_len, attention_size)` of additive attention, computed
      once per source sentence instead of at every step.

    Being ordinary state slots, they are reordered for beam search (`reorder_cache`) and repeated / selected
    (`batch_repeat_interleave`, `batch_select_indices`) together with the recurrent state.
    """

    INPUT_FEED, KEYS = 0, 1

    def __init__(self, num_layers: int, num_state_tensors: int):
        super().__init__(num_layers, num_state_tensors)
        self.memory_layer_idx = num_layers
        self.layers.append(RecurrentStateLayer(number_of_states=2))

    @classmethod
    def from_config(cls, config: RNNSeq2SeqConfig) -> "AttentionDecoderCache":
        return cls(config.decoder_layers, 2 if config.decoder_cell == "lstm" else 1)

    def get_memory(self, slot: int) -> torch.Tensor | None:
        return self.get_recurrent_state(self.memory_layer_idx, slot)

    def set_memory(self, slot: int, value: torch.Tensor) -> None:
        self.update_recurrent_state(value, self.memory_layer_idx, state_idx=slot)


class GlobalAttention(nn.Module):
    """Attention over all encoder states, for all decoder positions at once, with masking of source padding."""

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__()
        self.kind = config.attention
        hidden, memory = config.decoder_hidden_size, config.encoder_output_size
        if self.kind == "luong_general":
            # h·W s, computed as (W^T h)·s: the query is projected, so nothing per source position needs caching.
            self.query_proj = nn.Linear(hidden, memory, bias=False)
        elif self.kind == "bahdanau":
            self.query_proj = nn.Linear(hidden, config.attention_size)
            self.key_proj = nn.Linear(memory, config.attention_size, bias=False)
            self.energy = nn.Linear(config.attention_size, 1, bias=False)
        self.combine = nn.Linear(memory + hidden, hidden, bias=False)  # W_c of the attentional vector

    def project_keys(self, encoder_states: torch.Tensor) -> torch.Tensor | None:
        """`(batch, src_len, encoder_output_size)` -> the additive score's keys `(batch, src_len, attention_size)`."""
        return self.key_proj(encoder_states) if self.kind == "bahdanau" else None

    def forward(
        self,
        queries: torch.Tensor,
        encoder_states: torch.Tensor,
        encoder_mask: torch.Tensor,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            queries: `(batch, tgt_len, decoder_hidden_size)` decoder top-layer outputs `h_t`.
            encoder_states: `(batch, src_len, encoder_output_size)`.
            encoder_mask: `(batch, src_len)` bool, True at real source tokens.
            keys: `project_keys(encoder_states)`, for additive attention (computed here if not given).

        Returns:
            attentional vectors `(batch, tgt_len, decoder_hidden_size)` and weights `(batch, tgt_len, src_len)`.
        """
        if self.kind == "luong_dot":
            scores = queries @ encoder_states.transpose(1, 2)
        elif self.kind == "luong_general":
            scores = self.query_proj(queries) @ encoder_states.transpose(1, 2)
        else:
            keys = self.project_keys(encoder_states) if keys is None else keys
            scores = self.energy(torch.tanh(self.query_proj(queries)[:, :, None] + keys[:, None])).squeeze(-1)
        # The most negative finite value, not -inf: a source with no real token gets uniform weights over zeros
        # rather than NaN. A real token's weight is unchanged: exp(min - max) underflows to exactly 0.
        scores = scores.masked_fill(~encoder_mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        context = weights @ encoder_states
        attentional = torch.tanh(self.combine(torch.cat([context, queries], dim=-1)))
        return attentional, weights


class RNNSeq2SeqEncoder(nn.Module):
    """Source embeddings and a (bidirectional) `RNNStack` on packed sequences; what `get_encoder()` returns."""

    main_input_name = "input_ids"

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__()
        self.vocab_size = config.vocab_size
        stack_config = config.encoder_stack_config()
        self.num_state_tensors = stack_config.num_state_tensors
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_size)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = RNNStack(stack_config)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        output_attentions: bool | None = None,
    ) -> RNNEncoderOutput | tuple:
        """
        Args:
            input_ids: `(batch, src_len)` source ids; or `inputs_embeds` `(batch, src_len, embedding_size)`.
            attention_mask: `(batch, src_len)`, 0 at padding (either side); padding changes no output.
            output_attentions: accepted because generate() always passes it; the encoder has no attention (the
                decoder's attention weights come back as `cross_attentions`).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds to the encoder.")
        if input_ids is not None:
            inputs_embeds = self.embed_tokens(check_token_ids(input_ids, self.vocab_size))
        else:
            check_inputs_embeds(inputs_embeds, self.embed_tokens.embedding_dim)
        check_attention_mask(attention_mask, *inputs_embeds.shape[:2])
        # The stack writes each layer's final state into a cache; the top layer's starts the decoder.
        final_states = RecurrentCache(len(self.rnn.layers), self.num_state_tensors)
        last_hidden_state, all_hidden_states = self.rnn(
            self.embedding_dropout(inputs_embeds),
            attention_mask=attention_mask,
            cache=final_states,
            output_hidden_states=bool(output_hidden_states),
        )
        top_state = final_states.get_layer_state(len(self.rnn.layers) - 1)
        top_hidden = top_state[0] if isinstance(top_state, tuple) else top_state  # (directions, batch, hidden)
        output = RNNEncoderOutput(
            last_hidden_state=last_hidden_state,
            hidden_states=all_hidden_states,
            final_hidden_state=top_hidden.transpose(0, 1).reshape(top_hidden.size(1), -1),
        )
        return output if return_dict is None or return_dict else output.to_tuple()


class RNNAttentionDecoder(nn.Module):
    """
    Target embeddings, the bridge from the encoder's final state, the decoder `RNNStack` and the attention.

    With `share_embeddings` the decoder owns no embedding: the bare model hands it the encoder's.
    """

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__()
        self.hidden_size = config.decoder_hidden_size
        self.input_feeding = config.input_feeding
        stack_config = config.decoder_stack_config()
        self.num_state_tensors = stack_config.num_state_tensors
        if not config.share_embeddings:
            self.embed_tokens = nn.Embedding(config.decoder_vocab_size, config.embedding_size)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        input_size = config.embedding_size + (config.decoder_hidden_size if config.input_feeding else 0)
        self.rnn = RNNStack(stack_config, input_size=input_size)
        # h0 (and c0) of every decoder layer = tanh(W [final forward h; final backward h]).
        self.bridge = nn.Linear(
            config.encoder_output_size, self.num_state_tensors * config.decoder_layers * config.decoder_hidden_size
        )
        self.attention = GlobalAttention(config)

    def start(self, cache: AttentionDecoderCache, encoder_outputs: RNNEncoderOutput) -> None:
        """Fill an empty cache: bridged initial states, a zero input feed, the additive keys."""
        final = encoder_outputs.final_hidden_state
        batch = final.size(0)
        states = torch.tanh(self.bridge(final)).view(batch, self.num_state_tensors, len(self.rnn.layers), -1)
        for index in range(len(self.rnn.layers)):
            layer_state = tuple(states[:, slot, index].unsqueeze(0) for slot in range(self.num_state_tensors))
            cache.set_layer_state(index, layer_state if self.num_state_tensors == 2 else layer_state[0])
        if self.input_feeding:
            cache.set_memory(cache.INPUT_FEED, final.new_zeros(batch, self.hidden_size))
        keys = self.attention.project_keys(encoder_outputs.last_hidden_state)
        if keys is not None:
            cache.set_memory(cache.KEYS, keys)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        encoder_outputs: RNNEncoderOutput,
        encoder_mask: torch.Tensor,
        cache: AttentionDecoderCache,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            inputs_embeds: `(batch, tgt_len, embedding_size)` embeddings of the decoder input ids.
            encoder_outputs: what the encoder returned (batch-expanded for beams by generate()).
            encoder_mask: `(batch, src_len)` bool, True at real source tokens.
            cache: the state to continue from (an empty one starts from the bridged encoder state); updated.
            attention_mask: `(batch, tgt_len)` decoder mask of the new positions; padding leaves the state alone.

        Returns:
            attentional vectors `(batch, tgt_len, decoder_hidden_size)` and attention weights
            `(batch, tgt_len, src_len)`.
        """
        if cache.get_seq_length() == 0:
            self.start(cache, encoder_outputs)
        elif self.input_feeding and cache.get_memory(cache.INPUT_FEED) is None:
            raise ValueError(
                "cache holds no input-feed vector, but this model feeds its attentional vector back (input_feeding="
                "True); pass a cache that this model returned."
            )
        encoder_states = encoder_outputs.last_hidden_state
        keys = cache.get_memory(cache.KEYS)
        inputs_embeds = self.embedding_dropout(inputs_embeds)
        if not self.input_feeding:
            # Teacher forcing in one fused call over all positions, then one batched attention.
            outputs, _ = self.rnn(inputs_embeds, attention_mask=attention_mask, cache=cache)
            attentional, weights = self.attention(outputs, encoder_states, encoder_mask, keys)
        else:
            # Input feeding: step t needs a_{t-1}, so the steps run one after another.
            loop = "Input feeding (input_feeding=True: each target position reads the attention of the one before)"
            refuse_dynamic_length(inputs_embeds.size(1), loop, "decoder_input_ids and decoder_attention_mask")
            feed = cache.get_memory(cache.INPUT_FEED)
            attentional, weights = [], []
            for t in range(inputs_embeds.size(1)):
                step_mask = None if attention_mask is None else attention_mask[:, t : t + 1]
                step_input = torch.cat([inputs_embeds[:, t : t + 1], feed.unsqueeze(1)], dim=-1)
                output, _ = self.rnn(step_input, attention_mask=step_mask, cache=cache)
                step_attentional, step_weights = self.attention(output, encoder_states, encoder_mask, keys)
                if step_mask is None:
                    feed = step_attentional[:, 0]
                else:  # a padding step keeps the previous attentional vector, as the stack keeps its state
                    feed = torch.where(step_mask.bool(), step_attentional[:, 0], feed)
                attentional.append(step_attentional)
                weights.append(step_weights)
            cache.set_memory(cache.INPUT_FEED, feed)
            attentional, weights = torch.cat(attentional, dim=1), torch.cat(weights, dim=1)
        cache.seen_tokens += inputs_embeds.size(1)
        return attentional, weights


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: `decoder_start_token_id`, then `labels[:, :-1]` with -100 -> pad."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class RNNSeq2SeqPreTrainedModel(RNNPreTrainedModel):
    """Weight init, reload handling and statefulness as in `RNNPreTrainedModel`, for the encoder-decoder config."""

    config_class = RNNSeq2SeqConfig
    config: RNNSeq2SeqConfig
    _no_split_modules = ["RNNSeq2SeqEncoder", "RNNAttentionDecoder"]


class RNNSeq2SeqModel(RNNSeq2SeqPreTrainedModel):
    """Encoder and attention decoder; returns the attentional vectors, the decoder cache and the encoder output."""

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__(config)
        self.encoder = RNNSeq2SeqEncoder(config)
        self.decoder = RNNAttentionDecoder(config)
        self.post_init()

    def get_encoder(self) -> RNNSeq2SeqEncoder:
        return self.encoder

    def get_decoder(self) -> RNNAttentionDecoder:
        return self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embed_tokens = value

    def get_decoder_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens if self.config.share_embeddings else self.decoder.embed_tokens

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: RNNEncoderOutput | tuple | None = None,
        past_key_values: AttentionDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache: AttentionDecoderCache | None = None,
    ) -> Seq2SeqModelOutput:
        """
        Args:
            input_ids, attention_mask: `(batch, src_len)` source ids and mask (0 at padding, any side). Not needed
                when `encoder_outputs` are given (generate() passes both the outputs and the source mask).
            decoder_input_ids: `(batch, tgt_len)` target ids starting with `decoder_start_token_id`; when continuing
                from a cache, only the new ids.
            decoder_attention_mask: `(batch, tgt_len)` or, when continuing, `(batch, past + tgt_len)`.
            encoder_outputs: an `RNNEncoderOutput` (or its tuple form), instead of running the encoder again.
            cache (or `past_key_values`, its name before transformers 5.24): an `AttentionDecoderCache` to continue
                from; updated in place.
            use_cache: return the decoder state (default: `config.use_cache` in eval mode).
            output_attentions: return the attention weights `(batch, tgt_len, src_len)` as `cross_attentions`.

        Returns:
            `last_hidden_state` `(batch, tgt_len, decoder_hidden_size)`: the attentional vectors.
        """
        past_key_values = state_argument(cache, past_key_values, AttentionDecoderCache, use_cache)
        use_cache = resolve_use_cache(self, use_cache, past_key_values)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
            )
        elif not isinstance(encoder_outputs, RNNEncoderOutput):
            # The tuple form: (last_hidden_state, [hidden_states], final_hidden_state).
            encoder_outputs = RNNEncoderOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 2 else None,
                final_hidden_state=encoder_outputs[-1],
            )
        encoder_states = encoder_outputs.last_hidden_state
        if attention_mask is None:
            encoder_mask = encoder_states.new_ones(encoder_states.shape[:2], dtype=torch.bool)
        else:
            encoder_mask = check_attention_mask(attention_mask, *encoder_states.shape[:2]).bool()

        if (decoder_input_ids is None) == (decoder_inputs_embeds is None):
            raise ValueError("Pass exactly one of decoder_input_ids, decoder_inputs_embeds (or labels to the LM head).")
        if decoder_input_ids is not None:
            vocab_size = self.config.decoder_vocab_size
            ids = check_token_ids(decoder_input_ids, vocab_size, "decoder_input_ids", "config.decoder_vocab_size")
            decoder_inputs_embeds = self.get_decoder_input_embeddings()(ids)
        else:
            check_inputs_embeds(decoder_inputs_embeds, self.config.embedding_size, "decoder_inputs_embeds")
        batch_size, new_steps = decoder_inputs_embeds.shape[:2]
        if batch_size != encoder_states.size(0):
            raise ValueError(
                f"The decoder inputs hold {batch_size} rows but the source (input_ids or encoder_outputs) holds "
                f"{encoder_states.size(0)}; every target needs its source."
            )
        # generate() passes the mask of the whole target so far; the cache already covers the past columns.
        decoder_attention_mask = check_attention_mask(
            decoder_attention_mask, batch_size, new_steps, "decoder_attention_mask", past=True
        )

        cache = past_key_values if past_key_values is not None else AttentionDecoderCache.from_config(self.config)
        attentional, weights = self.decoder(
            decoder_inputs_embeds,
            encoder_outputs=encoder_outputs,
            encoder_mask=encoder_mask,
            cache=cache,
            attention_mask=decoder_attention_mask,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=attentional,
            cross_attentions=(weights,) if output_attentions else None,
            encoder_last_hidden_state=encoder_states,
            encoder_hidden_states=encoder_outputs.hidden_states,
            **state_output(cache if use_cache else None),
        )


class RNNSeq2SeqForConditionalGeneration(RNNSeq2SeqPreTrainedModel, RecurrentGenerationMixin):
    """Translation head: target-token logits from the attentional vectors; `generate()` with the decoder cache."""

    _tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
    # Trainer passes `num_items_in_batch`, so gradient accumulation weighs every token as one large batch would.
    accepts_loss_kwargs = True

    def __init__(self, config: RNNSeq2SeqConfig):
        super().__init__(config)
        self.model = RNNSeq2SeqModel(config)
        self.output_dropout = nn.Dropout(config.output_dropout)
        self.lm_head = nn.Linear(config.decoder_hidden_size, config.decoder_vocab_size)
        if config.share_embeddings:
            # One embedding matrix (the encoder's) for source, target and, if tied, the output.
            self._tied_weights_keys = {"lm_head.weight": "model.encoder.embed_tokens.weight"}
        self.post_init()

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The model builds its own AttentionDecoderCache on the first forward; a DynamicCache cannot hold its state.
        return False

    def get_encoder(self) -> RNNSeq2SeqEncoder:
        return self.model.encoder

    def get_decoder(self) -> RNNAttentionDecoder:
        return self.model.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Used by `DataCollatorForSeq2Seq(model=...)` to build `decoder_input_ids` in the collator."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: RNNEncoderOutput | tuple | None = None,
        past_key_values: AttentionDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        cache: AttentionDecoderCache | None = None,
    ) -> Seq2SeqLMOutput:
        """
        `labels` `(batch, tgt_len)`: the target ids to predict at each position (-100 is ignored), NOT shifted:
        without `decoder_input_ids`, the decoder reads `labels` shifted right behind `decoder_start_token_id`.
        The loss is the summed cross-entropy divided by `num_items_in_batch` when given (Trainer passes it, so
        gradient accumulation weighs every target token equally), else the mean over scored tokens. The decoder
        state is `cache` (`past_key_values` before transformers 5.24), as in `RNNSeq2SeqModel`.
        """
        if labels is not None:
            # Checked before the shift: the decoder reads them as its inputs.
            targets = decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds
            source = input_ids if input_ids is not None else inputs_embeds
            shape = targets.shape[:2] if targets is not None else (getattr(source, "shape", (None,))[0], None)
            vocab_size = self.config.decoder_vocab_size
            check_label_ids(labels, tuple(shape), vocab_size, "config.decoder_vocab_size", "(batch, tgt_len)")
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            cache=state_argument(cache, past_key_values, AttentionDecoderCache, use_cache),
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.lm_head(self.output_dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            # Explicit: `self.loss_function` would be the causal-LM loss, which shifts labels once more.
            flat_logits, flat_labels = logits.flatten(0, 1).float(), labels.to(logits.device).flatten()
            if num_items_in_batch is None:
                loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100)
            else:
                loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
                if isinstance(num_items_in_batch, torch.Tensor):
                    num_items_in_batch = num_items_in_batch.to(loss.device)
                loss = loss / num_items_in_batch
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            **state_output(output_state(outputs)),
        )


# The heads of this file by the Auto class that builds each (see modeling_rnn.AUTO_HEADS).
AUTO_HEADS = {"AutoModel": "RNNSeq2SeqModel", "AutoModelForSeq2SeqLM": "RNNSeq2SeqForConditionalGeneration"}

__all__ = [
    "AttentionDecoderCache",
    "RNNEncoderOutput",
    "RNNSeq2SeqPreTrainedModel",
    "RNNSeq2SeqModel",
    "RNNSeq2SeqForConditionalGeneration",
]
