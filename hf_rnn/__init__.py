"""hf_rnn: Elman RNN, LSTM and GRU as first-class transformers models.

Importing the package registers the configs and every head with the Auto classes, and the translation pipeline
(task `hf_rnn.TRANSLATION_TASK`). It also marks the classes for `save_pretrained` to write `auto_map` plus the
modeling code, so a saved folder loads with `trust_remote_code=True` where hf_rnn is not installed.
"""

import importlib

import transformers
from transformers import AutoConfig

from . import modeling_rnn, modeling_rnn_forecast, modeling_rnn_seq2seq
from .cache_rnn import CACHE_NAME, RecurrentCache, output_state
from .characters_rnn import CharacterWordEncoder, spelling_alphabet
from .configuration_rnn import CELL_TYPES, CHAR_ENCODERS, POOLING_TYPES, RNNConfig
from .configuration_rnn_forecast import RNNForecastConfig
from .configuration_rnn_seq2seq import ATTENTION_TYPES, RNNSeq2SeqConfig
from .crf_rnn import LinearChainCRF
from .modeling_rnn import (
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNPreTrainedModel,
)
from .modeling_rnn_forecast import RNNForecastModel, RNNForTimeSeriesPrediction
from .modeling_rnn_seq2seq import AttentionDecoderCache, RNNSeq2SeqForConditionalGeneration, RNNSeq2SeqModel
from .pipelines import TRANSLATION_TASK, TranslationPipeline, register_pipelines
from .tokenization import TOKENIZER_KINDS, token_spellings, train_tokenizer

__version__ = "0.1.0"

# Each config with the heads the Auto classes build from it: its modeling file's AUTO_HEADS, the same list that
# every saved folder carries in its auto_map.
AUTO_CLASSES = {
    config_class: {getattr(module, head): getattr(transformers, auto) for auto, head in module.AUTO_HEADS.items()}
    for config_class, module in (
        (RNNConfig, modeling_rnn),
        (RNNSeq2SeqConfig, modeling_rnn_seq2seq),
        (RNNForecastConfig, modeling_rnn_forecast),
    )
}


def _register() -> None:
    for config_class, heads in AUTO_CLASSES.items():
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        config_class.register_for_auto_class()
        for model_class, auto_class in heads.items():
            auto_class.register(config_class, model_class, exist_ok=True)
            model_class.register_for_auto_class(auto_class.__name__)
    register_pipelines()


_register()

# hf_rnn.stateful imports transformers' Trainer and hf_rnn.metrics imports evaluate (a second or more each): they
# load on first use, not with the models.
STATEFUL_NAMES = ("StatefulLMTrainer", "StreamChunks", "rank_streams", "split_into_streams", "token_stream")
LAZY_SUBMODULES = ("metrics", "stateful")


def __getattr__(name: str):
    if name in STATEFUL_NAMES:
        from . import stateful

        return getattr(stateful, name)
    if name in LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ATTENTION_TYPES",
    "CACHE_NAME",
    "CELL_TYPES",
    "CHAR_ENCODERS",
    "POOLING_TYPES",
    "TOKENIZER_KINDS",
    "RNNConfig",
    "RecurrentCache",
    "output_state",
    "RNNPreTrainedModel",
    "RNNModel",
    "RNNForCausalLM",
    "RNNForSequenceClassification",
    "RNNForTokenClassification",
    "LinearChainCRF",
    "CharacterWordEncoder",
    "spelling_alphabet",
    "token_spellings",
    "RNNSeq2SeqConfig",
    "AttentionDecoderCache",
    "RNNSeq2SeqModel",
    "RNNSeq2SeqForConditionalGeneration",
    "RNNForecastConfig",
    "RNNForecastModel",
    "RNNForTimeSeriesPrediction",
    "TRANSLATION_TASK",
    "TranslationPipeline",
    "train_tokenizer",
    "StatefulLMTrainer",
    "StreamChunks",
    "split_into_streams",
    "rank_streams",
    "token_stream",
]
