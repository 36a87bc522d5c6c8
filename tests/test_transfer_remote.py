"""A folder saved from one head loads into the family's other heads through remote code (ULMFiT-style transfer)."""

import json

import torch
from helpers import BLOCK_HF_RNN, run_without_hf_rnn, seeded, tiny_config

from hf_rnn import RNNForCausalLM, RNNForecastConfig, RNNForTimeSeriesPrediction

# Runs without hf_rnn: loads the LM folder as every other head, and saves each one's body weights.
SCRIPT = f"""
{BLOCK_HF_RNN}
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification

folder, out_file = sys.argv[1], sys.argv[2]
classifier = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True, num_labels=2)
tagger = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=True, num_labels=5)
bare = AutoModel.from_pretrained(folder, trust_remote_code=True)
with torch.no_grad():
    logits = classifier(torch.tensor([[5, 6, 7]])).logits
results = {{
    "blocked": hf_rnn_blocked,
    "classes": [type(m).__name__ for m in (classifier, tagger, bare)],
    "modules": [type(m).__module__ for m in (classifier, tagger, bare)],
    "bodies": [m.state_dict() if m is bare else m.model.state_dict() for m in (classifier, tagger, bare)],
    "logits_shape": tuple(logits.shape),
}}
torch.save(results, out_file)
"""


def test_a_language_model_folder_loads_as_every_head_without_hf_rnn(tmp_path):
    lm = seeded(RNNForCausalLM, tiny_config("lstm"))
    lm.save_pretrained(tmp_path / "lm")
    run_without_hf_rnn(SCRIPT, tmp_path / "lm", tmp_path / "out.pt", work=tmp_path)
    results = torch.load(tmp_path / "out.pt", weights_only=False)
    assert results["blocked"]
    assert results["classes"] == ["RNNForSequenceClassification", "RNNForTokenClassification", "RNNModel"]
    assert all(module.startswith("transformers_modules.") for module in results["modules"])
    assert results["logits_shape"] == (1, 2)
    body = lm.model.state_dict()
    for loaded in results["bodies"]:
        assert loaded.keys() == body.keys()
        for name in body:
            assert torch.equal(loaded[name], body[name]), name  # the pretrained body, bit for bit


def test_auto_map_lists_the_heads_of_the_saved_model_family(tmp_path):
    model = RNNForTimeSeriesPrediction(RNNForecastConfig(context_length=8, prediction_length=4, segment_length=4))
    model.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_rnn_forecast.RNNForecastConfig",
        "AutoModel": "modeling_rnn_forecast.RNNForecastModel",
        "AutoModelForTimeSeriesPrediction": "modeling_rnn_forecast.RNNForTimeSeriesPrediction",
    }
