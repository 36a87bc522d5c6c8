"""Configuration of the hf_rnn encoder-decoder with attention (translation)."""

from transformers import PreTrainedConfig

from .configuration_rnn import CELL_TYPES, RNNConfig, check_flag, check_initializer_range, check_probability

ATTENTION_TYPES = ("luong_dot", "luong_general", "bahdanau")


class RNNSeq2SeqConfig(PreTrainedConfig):
    r"""
    Configuration of the recurrent encoder-decoder: a (bidirectional) encoder stack, a decoder stack whose initial
    state is bridged from the encoder's final state, and global attention over the encoder states.

    At every target position t the decoder computes `h_t` (its top layer's output), attends over the encoder states,
    and emits the attentional vector `tanh(W_c [context_t; h_t])` (size `decoder_hidden_size`), which the LM head
    turns into logits (Luong et al., 2015).

    Args:
        vocab_size (`int`, defaults to 10000): source vocabulary size (the encoder's embedding).
        target_vocab_size (`int`, *optional*): target vocabulary size (decoder embedding and LM head). `None` means
            one vocabulary shared by source and target, i.e. `vocab_size`.
        share_embeddings (`bool`, defaults to `False`): encoder and decoder use one embedding matrix; needs a shared
            vocabulary.
        encoder_cell, decoder_cell (`str`, defaults to `"lstm"`): one of `"lstm"`, `"gru"`, `"rnn_tanh"`, `"rnn_relu"`.
        embedding_size (`int`, *optional*): width of source and target embeddings. Defaults to `decoder_hidden_size`,
            so tied output embeddings work out of the box.
        encoder_hidden_size (`int`, defaults to 256): encoder units per layer and direction.
        decoder_hidden_size (`int`, defaults to 512): decoder units per layer; also the attentional vector's size.
        encoder_layers, decoder_layers (`int`, defaults to 2): stacked recurrent layers.
        encoder_bidirectional (`bool`, defaults to `True`): run the encoder in both directions.
        attention (`str`, defaults to `"luong_general"`): the score between decoder state `h` and encoder state `s`:
            `"luong_dot"` (h·s; needs `decoder_hidden_size` equal to the encoder's output size),
            `"luong_general"` (h·W s) or `"bahdanau"` (additive: v·tanh(W_q h + W_k s)).
        attention_size (`int`, *optional*): hidden width of the additive score (`"bahdanau"` only). Defaults to
            `decoder_hidden_size`.
        input_feeding (`bool`, *optional*): feed the previous attentional vector to the decoder together with the
            next token embedding. Supported for every attention type; it makes teacher forcing run step by step
            (a Python loop over target positions) instead of one fused call. Defaults to `True` for `"bahdanau"` and
            `False` for the Luong scores.
        embedding_dropout (`float`): dropout on source and target embeddings.
        layer_dropout (`float`): dropout between stacked recurrent layers (encoder and decoder).
        output_dropout (`float`): dropout on the attentional vector before the LM head.
        tie_word_embeddings (`bool`, defaults to `True`): the LM head shares the decoder's input embedding matrix;
            needs `embedding_size == decoder_hidden_size`.
        initializer_range (`float`, defaults to 0.1): embeddings and linear layers are drawn from U(-r, r).
        pad_token_id, bos_token_id, eos_token_id, decoder_start_token_id: defaults 0, 2, 3, 2, the ids that
            `hf_rnn.train_tokenizer` gives `<pad>`, `<s>`, `</s>` (and `<s>` starts decoding).
    """

    model_type = "hf_rnn_seq2seq"
    keys_to_ignore_at_inference = ["cache", "past_key_values", "encoder_last_hidden_state"]

    is_encoder_decoder: bool = True
    vocab_size: int = 10000
    target_vocab_size: int | None = None
    share_embeddings: bool = False
    encoder_cell: str = "lstm"
    decoder_cell: str = "lstm"
    embedding_size: int | None = None
    encoder_hidden_size: int = 256
    decoder_hidden_size: int = 512
    encoder_layers: int = 2
    decoder_layers: int = 2
    encoder_bidirectional: bool = True
    attention: str = "luong_general"
    attention_size: int | None = None
    input_feeding: bool | None = None
    embedding_dropout: float = 0.0
    layer_dropout: float = 0.0
    output_dropout: float = 0.0
    tie_word_embeddings: bool = True
    initializer_range: float = 0.1
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3
    decoder_start_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.embedding_size is None:
            self.embedding_size = self.decoder_hidden_size
        if self.attention_size is None:
            self.attention_size = self.decoder_hidden_size
        if self.input_feeding is None:
            self.input_feeding = self.attention == "bahdanau"
        self.check_seq2seq_fields()

    def validate(self):
        # Also runs at save time, so values set after construction are checked too.
        super().validate()
        self.check_seq2seq_fields()

    @property
    def decoder_vocab_size(self) -> int:
        """Size of the target vocabulary (decoder embedding, LM head)."""
        return self.vocab_size if self.target_vocab_size is None else self.target_vocab_size

    @property
    def encoder_output_size(self) -> int:
        """Features of each encoder state the decoder attends over (both directions concatenated)."""
        return self.encoder_hidden_size * (2 if self.encoder_bidirectional else 1)

    def encoder_stack_config(self) -> RNNConfig:
        """The encoder's recurrent stack, described as the `RNNConfig` that `RNNStack` is built from."""
        return self._stack_config(
            self.vocab_size,
            self.encoder_cell,
            self.encoder_hidden_size,
            self.encoder_layers,
            self.encoder_bidirectional,
        )

    def decoder_stack_config(self) -> RNNConfig:
        """The decoder's (unidirectional) recurrent stack, as an `RNNConfig`."""
        return self._stack_config(
            self.decoder_vocab_size, self.decoder_cell, self.decoder_hidden_size, self.decoder_layers, False
        )

    def _stack_config(self, vocab_size, cell, hidden_size, num_layers, bidirectional) -> RNNConfig:
        return RNNConfig(
            vocab_size=vocab_size,
            cell=cell,
            embedding_size=self.embedding_size,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            bidirectional=bidirectional,
            layer_dropout=self.layer_dropout,
            initializer_range=self.initializer_range,
            tie_word_embeddings=False,
            pad_token_id=None,
            bos_token_id=None,
            eos_token_id=None,
        )

    def check_seq2seq_fields(self) -> None:
        """Raise a `ValueError` naming the first field (or combination) that cannot build a model."""
        for name in ("encoder_cell", "decoder_cell"):
            value = getattr(self, name)
            if value not in CELL_TYPES:
                raise ValueError(
                    f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, CELL_TYPES))}."
                )
        if self.attention not in ATTENTION_TYPES:
            raise ValueError(
                f"attention={self.attention!r} is not supported; choose one of {', '.join(map(repr, ATTENTION_TYPES))}."
            )
        if self.target_vocab_size is not None and not _is_positive_int(self.target_vocab_size):
            raise ValueError(
                f"target_vocab_size={self.target_vocab_size!r} is invalid; it must be None (shared vocabulary) "
                "or a positive integer."
            )
        # decoder_hidden_size before the sizes that default to it, so that the root cause is named.
        sizes = ("vocab_size", "decoder_hidden_size", "embedding_size", "attention_size", "encoder_hidden_size")
        for name in (*sizes, "encoder_layers", "decoder_layers"):
            value = getattr(self, name)
            if not _is_positive_int(value):
                raise ValueError(f"{name}={value!r} is invalid; it must be a positive integer.")
        for name in ("share_embeddings", "encoder_bidirectional", "input_feeding", "tie_word_embeddings", "use_cache"):
            check_flag(name, getattr(self, name))
        for name in ("embedding_dropout", "layer_dropout", "output_dropout"):
            check_probability(name, getattr(self, name))
        check_initializer_range(self.initializer_range)
        if self.share_embeddings and self.decoder_vocab_size != self.vocab_size:
            raise ValueError(
                f"share_embeddings=True needs one vocabulary, but target_vocab_size={self.target_vocab_size} differs "
                f"from vocab_size={self.vocab_size}; set target_vocab_size=None or share_embeddings=False."
            )
        if self.attention == "luong_dot" and self.decoder_hidden_size != self.encoder_output_size:
            raise ValueError(
                f"attention='luong_dot' scores h·s, so decoder_hidden_size ({self.decoder_hidden_size}) must equal the "
                f"encoder output size ({self.encoder_output_size} = encoder_hidden_size x directions); "
                "change a size or use attention='luong_general'."
            )
        if self.tie_word_embeddings and self.embedding_size != self.decoder_hidden_size:
            raise ValueError(
                f"tie_word_embeddings=True needs embedding_size ({self.embedding_size}) equal to decoder_hidden_size "
                f"({self.decoder_hidden_size}), the size of the attentional vector the LM head reads; change one, "
                "or set tie_word_embeddings=False."
            )
        # pad marks padding on both sides and fills the shifted labels of teacher forcing; decoder_start_token_id
        # begins every target. Neither can be None: the loss and generate() would fail deep inside.
        if not _is_id_below(self.pad_token_id, self._smallest_vocab()):
            raise ValueError(
                f"pad_token_id={self.pad_token_id!r} is invalid; it must be an id in [0, {self._smallest_vocab()}) "
                "(source and target vocabularies): it pads sources and the shifted labels of teacher forcing."
            )
        if not _is_id_below(self.decoder_start_token_id, self.decoder_vocab_size):
            raise ValueError(
                f"decoder_start_token_id={self.decoder_start_token_id!r} is invalid; it must be an id in "
                f"[0, {self.decoder_vocab_size}) (target vocabulary): every target starts with it."
            )
        if self.bos_token_id is not None and not _is_id_below(self.bos_token_id, self.decoder_vocab_size):
            raise ValueError(
                f"bos_token_id={self.bos_token_id!r} is invalid; it must be None or an id in "
                f"[0, {self.decoder_vocab_size}) (target vocabulary)."
            )
        eos = self.eos_token_id if isinstance(self.eos_token_id, list) else [self.eos_token_id]
        if any(v is not None and not _is_id_below(v, self.decoder_vocab_size) for v in eos):
            raise ValueError(
                f"eos_token_id={self.eos_token_id!r} is invalid; it must be None or id(s) in "
                f"[0, {self.decoder_vocab_size}) (target vocabulary)."
            )

    def _smallest_vocab(self) -> int:
        return min(self.vocab_size, self.decoder_vocab_size)


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_id_below(value, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < bound


__all__ = ["RNNSeq2SeqConfig", "ATTENTION_TYPES"]
