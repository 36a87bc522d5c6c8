"""Configuration of the hf_rnn recurrent family (Elman RNN, LSTM, GRU)."""

import math
import re

from transformers import PreTrainedConfig

CELL_TYPES = ("lstm", "gru", "rnn_tanh", "rnn_relu")
POOLING_TYPES = ("last", "mean", "max")
CHAR_ENCODERS = ("lstm", "cnn")
CRF_CONSTRAINTS = ("iob2",)
IOB2_TAG = re.compile(r"O|[BI]-\S+")


class RNNConfig(PreTrainedConfig):
    r"""
    Configuration of every hf_rnn model: one recurrent stack, chosen by `cell`, shared by all heads.

    Args:
        vocab_size (`int`, defaults to 10000): number of token ids the embedding accepts.
        cell (`str`, defaults to `"lstm"`): one of `"lstm"`, `"gru"`, `"rnn_tanh"`, `"rnn_relu"`.
        embedding_size (`int`, *optional*): width of the token embeddings. Defaults to the stack's output
            size (`proj_size` if set, else `hidden_size`), so tied embeddings work out of the box.
        hidden_size (`int`, defaults to 512): hidden units per layer and direction.
        num_hidden_layers (`int`, defaults to 2): stacked recurrent layers (alias `num_layers`).
        bidirectional (`bool`, defaults to `False`): run each layer in both directions (encoders, classifiers,
            taggers; not a causal LM).
        proj_size (`int`, defaults to 0): LSTM output projection (LSTMP); 0 disables it. Must be < `hidden_size`.
        embedding_dropout (`float`): dropout on the embeddings.
        layer_dropout (`float`): dropout between stacked recurrent layers.
        output_dropout (`float`): dropout on the top layer's output, before any head.
        word_dropout (`float`, defaults to 0.0): in training, drop whole word types: each row of the embedding
            matrix is zeroed with this probability (everywhere in the batch) and the kept rows are scaled by
            1 / (1 - p), as AWD-LSTM's embedding dropout. In [0, 1); applies to `input_ids`, not `inputs_embeds`.
        locked_dropout (`bool`, defaults to `False`): make `embedding_dropout`, `layer_dropout` and
            `output_dropout` variational (AWD-LSTM's locked dropout): one mask per sequence and feature, shared by
            all its time steps. A pooled `(batch, features)` output has no time axis and keeps plain dropout.
        weight_drop (`float`, defaults to 0.0): in training, DropConnect on every layer's hidden-to-hidden weights
            (`weight_hh_l0`, and `weight_hh_l0_reverse`): one mask per forward pass, shared by all time steps.
            In [0, 1).
        activation_regularization (`float`, defaults to 0.0): AWD-LSTM's AR (alpha): in training, the causal LM
            adds alpha * the mean of the squared top-layer outputs (after `output_dropout`) over real tokens and
            features to its loss. Non-negative.
        temporal_activation_regularization (`float`, defaults to 0.0): AWD-LSTM's TAR (beta): in training, the
            causal LM adds beta * the mean of the squared differences between the top-layer outputs (before
            `output_dropout`) of consecutive real tokens to its loss. Non-negative.
        classifier_pooling (`str`, defaults to `"last"`): how sequence classification summarises a sequence:
            `"last"` (final state of each direction), `"mean"` or `"max"` over the non-padding positions.
        crf (`bool`, defaults to `False`): the tagger's output layer is a linear-chain CRF (BiLSTM-CRF, Lample et al.
            2016): trained by the sequences' negative log-likelihood, decoded by Viterbi. See
            `RNNForTokenClassification`. Other heads ignore it.
        crf_constraints (`str`, *optional*): `"iob2"`: decoding never outputs a tag sequence IOB2 forbids ("I-X" first
            or after anything but "B-X" / "I-X"), read from `id2label`, whose names must then all be IOB2 ("O",
            "B-X", "I-X"). Needs `crf=True`. None (default): every sequence is allowed.
        char_encoder (`str`, *optional*): character-level word features joined to each word embedding: `"lstm"` (a
            character BiLSTM, Lample et al. 2016) or `"cnn"` (a character CNN with max-pooling, Ma & Hovy 2016);
            None (default) for none. The model reads each token's spelling from a saved table of the vocabulary's
            spellings (`CharacterWordEncoder.set_spellings`), so it needs `input_ids`, not `inputs_embeds`.
        char_alphabet (`str`, defaults to `""`): the characters with an id of their own (others share one); required
            with `char_encoder`. `characters_rnn.spelling_alphabet` makes it from the vocabulary.
        char_embedding_size (`int`, defaults to 25): width of the character embeddings.
        char_hidden_size (`int`, defaults to 25): the character BiLSTM's units per direction (word features: twice
            this), or the CNN's filters (word features: this many).
        char_max_word_length (`int`, defaults to 20): characters kept per token; a longer spelling keeps its first
            and last halves.
        initializer_range (`float`, defaults to 0.1): embeddings and output layers are drawn from
            U(-r, r), as in the PyTorch word-language-model example; recurrent weights keep torch's default.
        tie_word_embeddings (`bool`, defaults to `True`): share the LM output matrix with the input embeddings.
    """

    model_type = "hf_rnn"
    attribute_map = {"num_layers": "num_hidden_layers"}
    keys_to_ignore_at_inference = ["cache", "past_key_values"]  # the state: "cache" from transformers 5.24

    vocab_size: int = 10000
    cell: str = "lstm"
    embedding_size: int | None = None
    hidden_size: int = 512
    # None until __post_init__, which sets 2: only so that a conflicting `num_layers` alias can be told apart.
    num_hidden_layers: int | None = None
    bidirectional: bool = False
    proj_size: int = 0
    embedding_dropout: float = 0.0
    layer_dropout: float = 0.0
    output_dropout: float = 0.0
    word_dropout: float = 0.0
    locked_dropout: bool = False
    weight_drop: float = 0.0
    activation_regularization: float = 0.0
    temporal_activation_regularization: float = 0.0
    classifier_pooling: str = "last"
    crf: bool = False
    crf_constraints: str | None = None
    char_encoder: str | None = None
    char_alphabet: str = ""
    char_embedding_size: int = 25
    char_hidden_size: int = 25
    char_max_word_length: int = 20
    initializer_range: float = 0.1
    use_cache: bool = True
    tie_word_embeddings: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3

    def __post_init__(self, **kwargs):
        # The alias would silently overwrite the field (transformers sets extra kwargs last): two values is an error.
        alias = kwargs.get("num_layers")
        if alias is not None and self.num_hidden_layers is not None and alias != self.num_hidden_layers:
            raise ValueError(
                f"num_layers={alias!r} and num_hidden_layers={self.num_hidden_layers!r} disagree; num_layers is an "
                "alias of num_hidden_layers, pass only one of them."
            )
        # transformers would turn a negative count into an empty id2label map; name the value that was passed.
        num_labels = kwargs.get("num_labels")
        if num_labels is not None and (type(num_labels) is not int or num_labels < 1):
            raise ValueError(
                f"num_labels={num_labels!r} is invalid; a classification head needs num_labels >= 1 (1: regression)."
            )
        super().__post_init__(**kwargs)
        if self.num_hidden_layers is None:
            self.num_hidden_layers = 2
        if self.embedding_size is None:
            self.embedding_size = self.output_size
        self.check_recurrent_fields()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction that a recurrent layer emits (`proj_size` for LSTMP, else `hidden_size`)."""
        return self.proj_size if self.proj_size else self.hidden_size

    @property
    def char_output_size(self) -> int:
        """Character features per word: both directions' final states (BiLSTM), one per filter (CNN), or none."""
        return {"lstm": 2 * self.char_hidden_size, "cnn": self.char_hidden_size}.get(self.char_encoder, 0)

    @property
    def num_state_tensors(self) -> int:
        """Recurrent state tensors per layer: (h, c) for an LSTM, h otherwise."""
        return 2 if self.cell == "lstm" else 1

    def validate(self):
        # Also runs at save time, so values set after construction are checked too.
        super().validate()
        self.check_recurrent_fields()

    def check_recurrent_fields(self) -> None:
        """Raise a `ValueError` naming the first field (or combination) that cannot build a model."""
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell={self.cell!r} is not supported; choose one of {', '.join(map(repr, CELL_TYPES))}.")
        # proj_size first: a bad one also yields a bad default embedding_size, and the root cause should be named.
        if isinstance(self.proj_size, bool) or not isinstance(self.proj_size, int) or self.proj_size < 0:
            raise ValueError(f"proj_size={self.proj_size!r} is invalid; it must be 0 (off) or a positive integer.")
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "embedding_size"):
            check_positive_int(name, getattr(self, name))
        if self.proj_size and self.cell != "lstm":
            raise ValueError(f"proj_size={self.proj_size} needs cell='lstm' (got cell={self.cell!r}); use proj_size=0.")
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size={self.proj_size} must be smaller than hidden_size={self.hidden_size} (torch's LSTMP rule)."
            )
        for name in ("embedding_dropout", "layer_dropout", "output_dropout", "word_dropout", "weight_drop"):
            check_probability(name, getattr(self, name))
        for name in ("locked_dropout", "bidirectional", "use_cache", "tie_word_embeddings", "crf"):
            check_flag(name, getattr(self, name))
        for name in ("activation_regularization", "temporal_activation_regularization"):
            value = getattr(self, name)
            if not is_real(value) or not 0.0 <= value < math.inf:
                raise ValueError(f"{name}={value!r} is invalid; a regularization weight must be finite and >= 0.")
        if self.classifier_pooling not in POOLING_TYPES:
            raise ValueError(
                f"classifier_pooling={self.classifier_pooling!r} is not supported; "
                f"choose one of {', '.join(map(repr, POOLING_TYPES))}."
            )
        self.check_crf_constraints()
        self.check_char_fields()
        check_initializer_range(self.initializer_range)
        # transformers turns num_labels into an id2label map; an empty one would build a head with no output.
        if not self.num_labels or self.num_labels < 1:
            raise ValueError(
                f"num_labels={self.num_labels!r} (id2label has {len(self.id2label or {})} entries) is invalid; "
                "a classification head needs num_labels >= 1 (1 means regression)."
            )
        for name in ("pad_token_id", "bos_token_id"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 <= value < self.vocab_size):
                raise ValueError(f"{name}={value!r} is invalid; it must be None or an id in [0, {self.vocab_size}).")
        eos = self.eos_token_id if isinstance(self.eos_token_id, list) else [self.eos_token_id]
        if any(v is not None and not (isinstance(v, int) and 0 <= v < self.vocab_size) for v in eos):
            raise ValueError(
                f"eos_token_id={self.eos_token_id!r} is invalid; it must be None or id(s) in [0, {self.vocab_size})."
            )

    def check_crf_constraints(self) -> None:
        if self.crf_constraints is None:
            return
        if self.crf_constraints not in CRF_CONSTRAINTS:
            raise ValueError(
                f"crf_constraints={self.crf_constraints!r} is not supported; choose one of "
                f"{', '.join(map(repr, CRF_CONSTRAINTS))}, or None."
            )
        if self.crf is not True:
            raise ValueError(
                f"crf_constraints={self.crf_constraints!r} constrains a CRF's decoding: it needs crf=True."
            )
        tags = [str(self.id2label[index]) for index in range(self.num_labels)]
        invalid = [tag for tag in tags if not IOB2_TAG.fullmatch(tag)]
        if invalid or all(tag.startswith("I-") for tag in tags):
            raise ValueError(
                f"crf_constraints='iob2' reads the tags from id2label, which must be IOB2 ('O', 'B-TYPE', 'I-TYPE') "
                f"with at least one that can start a sentence; got {tags[:20]}."
            )

    def check_char_fields(self) -> None:
        if self.char_encoder is None:
            return
        if self.char_encoder not in CHAR_ENCODERS:
            raise ValueError(
                f"char_encoder={self.char_encoder!r} is not supported; choose one of "
                f"{', '.join(map(repr, CHAR_ENCODERS))}, or None for no character features."
            )
        for name in ("char_embedding_size", "char_hidden_size", "char_max_word_length"):
            check_positive_int(name, getattr(self, name))
        alphabet = self.char_alphabet
        if not isinstance(alphabet, str) or not alphabet or len(set(alphabet)) != len(alphabet):
            raise ValueError(
                f"char_alphabet={alphabet!r} is invalid; char_encoder={self.char_encoder!r} needs a non-empty string "
                "of distinct characters (characters_rnn.spelling_alphabet of the vocabulary's spellings)."
            )


def is_real(value) -> bool:
    """An int or a float, not a bool (True would pass for 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is invalid; it must be a positive integer.")


def check_probability(name: str, value) -> None:
    if not is_real(value) or not 0.0 <= value < 1.0:  # NaN fails the comparison too
        raise ValueError(f"{name}={value!r} is invalid; a dropout probability must be in [0, 1).")


def check_flag(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is invalid; it must be True or False.")


def check_initializer_range(value) -> None:
    # NaN or inf would fill every embedding and output weight with NaN, silently.
    if not is_real(value) or not 0.0 < value < math.inf:
        raise ValueError(f"initializer_range={value!r} is invalid; it must be a finite positive number.")


__all__ = ["RNNConfig", "CELL_TYPES", "CHAR_ENCODERS", "CRF_CONSTRAINTS", "POOLING_TYPES"]
