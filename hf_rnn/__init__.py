"""hf_rnn: Elman RNN, LSTM and GRU as first-class transformers models.

Importing the package registers the config and every head with the Auto classes, and marks them for
`save_pretrained` to write `auto_map` plus the modeling code, so a saved folder also loads with
`trust_remote_code=True` where hf_rnn is not installed.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .cache_rnn import RecurrentCache
from .configuration_rnn import CELL_TYPES, POOLING_TYPES, RNNConfig
from .modeling_rnn import (
    RNNForCausalLM,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNPreTrainedModel,
)
from .tokenization import TOKENIZER_KINDS, train_tokenizer

__version__ = "0.1.0"

AUTO_CLASSES = {
    RNNModel: AutoModel,
    RNNForCausalLM: AutoModelForCausalLM,
    RNNForSequenceClassification: AutoModelForSequenceClassification,
    RNNForTokenClassification: AutoModelForTokenClassification,
}


def _register() -> None:
    AutoConfig.register(RNNConfig.model_type, RNNConfig, exist_ok=True)
    RNNConfig.register_for_auto_class()
    for model_class, auto_class in AUTO_CLASSES.items():
        auto_class.register(RNNConfig, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_class.__name__)


_register()

__all__ = [
    "CELL_TYPES",
    "POOLING_TYPES",
    "TOKENIZER_KINDS",
    "RNNConfig",
    "RecurrentCache",
    "RNNPreTrainedModel",
    "RNNModel",
    "RNNForCausalLM",
    "RNNForSequenceClassification",
    "RNNForTokenClassification",
    "train_tokenizer",
]
