"""A saved hf_rnn folder is self-contained: it loads with `trust_remote_code=True` where hf_rnn cannot be imported.

One module-scoped fixture saves a causal LM, a sequence classifier, two token classifiers (one with a CRF and
character features) and a bare model, then runs ONE fresh interpreter in which `import hf_rnn` fails and the Hub is
offline. That interpreter loads each folder through the Auto classes with `trust_remote_code=True`, runs it, and
`torch.save`s what it computed; the tests compare those results with the in-process models that were saved.
"""

import json
from pathlib import Path

import pytest
import torch
from helpers import BLOCK_HF_RNN, run_without_hf_rnn, seeded, tiny_config
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

import hf_rnn
from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification, RNNModel, output_state

PACKAGE_DIR = Path(hf_rnn.__file__).parent
BUNDLE_FILES = ("configuration_rnn.py", "modeling_rnn.py", "cache_rnn.py", "characters_rnn.py", "crf_rnn.py")

# folder name -> (model class, the Auto class it registers for, config overrides)
MODELS = {
    # initializer_range=2.0 with seed 0 gives an LM whose greedy continuations are not one repeated token.
    "causal_lm": (RNNForCausalLM, "AutoModelForCausalLM", {"cell": "lstm", "initializer_range": 2.0}),
    "sequence_classifier": (
        RNNForSequenceClassification,
        "AutoModelForSequenceClassification",
        {"cell": "gru", "bidirectional": True, "classifier_pooling": "mean", "num_labels": 3},
    ),
    "token_classifier": (
        RNNForTokenClassification,
        "AutoModelForTokenClassification",
        {"cell": "rnn_tanh", "bidirectional": True, "num_labels": 4},
    ),
    "base_model": (RNNModel, "AutoModel", {"cell": "lstm", "proj_size": 5, "embedding_size": 7}),
    # BiLSTM-CNN-CRF: the CRF's transitions and the spellings table are weights of the saved folder; the IOB2 rule
    # comes from the config.
    "crf_char_tagger": (
        RNNForTokenClassification,
        "AutoModelForTokenClassification",
        {
            "bidirectional": True,
            "id2label": {0: "O", 1: "B-X", 2: "I-X", 3: "B-Y"},
            "crf": True,
            "crf_constraints": "iob2",
            "char_encoder": "cnn",
            "char_alphabet": "abcdefgh",
        },
    ),
}
# The char tagger's vocabulary: ids 0-3 special (no spelling), then words of the alphabet.
SPELLINGS = ["", "", "", ""] + ["".join("abcdefgh"[(i * k) % 8] for k in range(1 + i % 5)) for i in range(4, 37)]
AUTO_CLASSES = {
    "AutoModel": AutoModel,
    "AutoModelForCausalLM": AutoModelForCausalLM,
    "AutoModelForSequenceClassification": AutoModelForSequenceClassification,
    "AutoModelForTokenClassification": AutoModelForTokenClassification,
}

# Fixed inputs, shared verbatim with the subprocess: a left-padded batch of two rows (pad id 0).
INPUT_IDS = [[0, 0, 0, 2, 5, 9, 14], [2, 7, 8, 21, 30, 11, 6]]
ATTENTION_MASK = [[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]]
MAX_NEW_TOKENS = 8
SAMPLING_SEED = 1234

# Runs in a fresh interpreter: hf_rnn blocked, Hub offline. argv: the folder holding the saved models, the output file.
REMOTE_SCRIPT = f"""
{BLOCK_HF_RNN}
import torch
from transformers import (
    AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification,
)

root, out_file = sys.argv[1], sys.argv[2]
input_ids = torch.tensor({INPUT_IDS!r})
attention_mask = torch.tensor({ATTENTION_MASK!r})
results = {{"hf_rnn_blocked": hf_rnn_blocked, "modules": {{}}}}

def load(auto_class, name):
    model = auto_class.from_pretrained(f"{{root}}/{{name}}", trust_remote_code=True)
    results["modules"][name] = {{
        "model": type(model).__module__,
        "config": type(model.config).__module__,
        "model_type": model.config.model_type,
        "training": model.training,
    }}
    return model

config = AutoConfig.from_pretrained(f"{{root}}/causal_lm", trust_remote_code=True)
results["autoconfig_module"] = type(config).__module__

with torch.no_grad():
    lm = load(AutoModelForCausalLM, "causal_lm")
    results["lm_logits"] = lm(input_ids[1:]).logits
    results["lm_logits_padded"] = lm(input_ids, attention_mask=attention_mask).logits
    out = lm(input_ids[1:, :4], use_cache=True)
    out_state = out["cache"] if "cache" in out.keys() else out["past_key_values"]  # 5.24 renamed it
    results["lm_cache_module"] = type(out_state).__module__
    results["lm_logits_continued"] = lm(input_ids[1:, 4:], cache=out_state).logits
    results["lm_greedy"] = lm.generate(
        input_ids, attention_mask=attention_mask, max_new_tokens={MAX_NEW_TOKENS}, do_sample=False
    )
    results["lm_beam"] = lm.generate(
        input_ids, attention_mask=attention_mask, max_new_tokens={MAX_NEW_TOKENS}, do_sample=False, num_beams=3
    )
    torch.manual_seed({SAMPLING_SEED})
    results["lm_sample"] = lm.generate(
        input_ids, attention_mask=attention_mask, max_new_tokens={MAX_NEW_TOKENS}, do_sample=True, top_k=0
    )

    classifier = load(AutoModelForSequenceClassification, "sequence_classifier")
    results["sequence_logits"] = classifier(input_ids, attention_mask=attention_mask).logits

    tagger = load(AutoModelForTokenClassification, "token_classifier")
    results["token_logits"] = tagger(input_ids, attention_mask=attention_mask).logits

    crf_tagger = load(AutoModelForTokenClassification, "crf_char_tagger")
    results["crf_tagger_logits"] = crf_tagger(input_ids, attention_mask=attention_mask).logits
    results["crf_tagger_path"] = crf_tagger.decode(input_ids, attention_mask=attention_mask)

    base = load(AutoModel, "base_model")
    results["base_hidden"] = base(input_ids, attention_mask=attention_mask).last_hidden_state

torch.save(results, out_file)
"""


def assert_bitwise_equal(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Same weights, same CPU kernels: the outputs must be identical to the last bit (padded batches included)."""
    assert actual.shape == expected.shape
    assert torch.equal(actual, expected), f"max abs difference {(actual - expected).abs().max().item():.3g}"


def build(name: str):
    model_class, _, overrides = MODELS[name]
    model = seeded(model_class, tiny_config(**overrides))
    if model.config.char_encoder:
        model.model.char_encoder.set_spellings(SPELLINGS)
    if model.config.crf:  # transitions that matter (they start at zero)
        with torch.no_grad():
            for parameter in model.crf.parameters():
                parameter.normal_()
    return model


def reference_outputs(models: dict) -> dict:
    """What the subprocess computes, computed here on the in-memory models that were saved."""
    input_ids, attention_mask = torch.tensor(INPUT_IDS), torch.tensor(ATTENTION_MASK)
    lm = models["causal_lm"]
    with torch.no_grad():
        out = lm(input_ids[1:, :4], use_cache=True)
        reference = {
            "lm_logits": lm(input_ids[1:]).logits,
            "lm_logits_padded": lm(input_ids, attention_mask=attention_mask).logits,
            "lm_logits_continued": lm(input_ids[1:, 4:], cache=output_state(out)).logits,
            "lm_greedy": lm.generate(
                input_ids, attention_mask=attention_mask, max_new_tokens=MAX_NEW_TOKENS, do_sample=False
            ),
            "lm_beam": lm.generate(
                input_ids, attention_mask=attention_mask, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=3
            ),
        }
        torch.manual_seed(SAMPLING_SEED)
        reference["lm_sample"] = lm.generate(
            input_ids, attention_mask=attention_mask, max_new_tokens=MAX_NEW_TOKENS, do_sample=True, top_k=0
        )
        reference["sequence_logits"] = models["sequence_classifier"](input_ids, attention_mask=attention_mask).logits
        reference["token_logits"] = models["token_classifier"](input_ids, attention_mask=attention_mask).logits
        crf_tagger = models["crf_char_tagger"]
        reference["crf_tagger_logits"] = crf_tagger(input_ids, attention_mask=attention_mask).logits
        reference["crf_tagger_path"] = crf_tagger.decode(input_ids, attention_mask=attention_mask)
        reference["base_hidden"] = models["base_model"](input_ids, attention_mask=attention_mask).last_hidden_state
    return reference


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Save every model into its own folder under one root; return the root and the in-memory models."""
    root = tmp_path_factory.mktemp("saved")
    models = {name: build(name) for name in MODELS}
    for name, model in models.items():
        model.save_pretrained(root / name)
    return root, models


@pytest.fixture(scope="module")
def reference(saved):
    return reference_outputs(saved[1])


@pytest.fixture(scope="module")
def remote(saved, tmp_path_factory):
    """Run the remote-code script once, in a fresh interpreter that cannot import hf_rnn, and load its results."""
    root, _ = saved
    work = tmp_path_factory.mktemp("remote")
    out_file = work / "results.pt"
    run_without_hf_rnn(REMOTE_SCRIPT, root, out_file, work=work)
    results = torch.load(out_file, weights_only=False)
    results["modules_cache"] = work / "hf_modules"
    return results


@pytest.mark.parametrize("name", list(MODELS))
def test_saved_folder_has_auto_map_and_the_copied_hub_bundle(saved, name):
    root, _ = saved
    model_class, auto_name, _ = MODELS[name]
    folder = root / name
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "hf_rnn"
    assert config["architectures"] == [model_class.__name__]
    # Every head of the family, whichever was saved: the folder loads into each of them through remote code.
    assert config["auto_map"] == {
        "AutoConfig": "configuration_rnn.RNNConfig",
        **{auto: f"modeling_rnn.{head}" for auto, head in hf_rnn.modeling_rnn.AUTO_HEADS.items()},
    }
    assert config["auto_map"][auto_name] == f"modeling_rnn.{model_class.__name__}"
    for file_name in BUNDLE_FILES:
        copied = folder / file_name
        assert copied.is_file(), f"{file_name} was not copied next to the weights"
        assert copied.read_text() == (PACKAGE_DIR / file_name).read_text()
    assert (folder / "model.safetensors").is_file()


def test_remote_code_subprocess_cannot_import_hf_rnn_and_loads_from_transformers_modules(remote):
    assert remote["hf_rnn_blocked"] is True
    assert remote["autoconfig_module"].startswith("transformers_modules.")
    assert set(remote["modules"]) == set(MODELS)
    for name, info in remote["modules"].items():
        assert info["model"].startswith("transformers_modules."), (name, info)
        assert info["model"].endswith(".modeling_rnn"), (name, info)
        assert info["config"].startswith("transformers_modules."), (name, info)
        assert info["model_type"] == "hf_rnn"
        assert info["training"] is False, f"{name} was not put in eval mode by from_pretrained"
    assert remote["lm_cache_module"].startswith("transformers_modules.")
    assert remote["lm_cache_module"].endswith(".cache_rnn")
    # The modules really were materialised in the fresh cache, from the saved folder.
    cached = {path.name for path in remote["modules_cache"].rglob("*.py")}
    assert set(BUNDLE_FILES) <= cached


def test_remote_causal_lm_logits_are_bitwise_identical(reference, remote):
    for key in ("lm_logits", "lm_logits_padded", "lm_logits_continued"):
        assert_bitwise_equal(remote[key], reference[key])


def test_remote_causal_lm_greedy_beam_and_sampled_generations_are_identical(reference, remote):
    prompt_length = len(INPUT_IDS[0])
    greedy_new = reference["lm_greedy"][:, prompt_length:]
    # Guard: the comparison means something only if the continuations are not one token repeated.
    assert greedy_new.shape[1] > 1 and len(set(greedy_new.flatten().tolist())) > 1
    for key in ("lm_greedy", "lm_beam", "lm_sample"):
        assert torch.equal(remote[key], reference[key]), (key, remote[key], reference[key])


def test_remote_sequence_classifier_logits_on_a_left_padded_batch_are_identical(reference, remote):
    assert remote["sequence_logits"].shape == (2, MODELS["sequence_classifier"][2]["num_labels"])
    assert_bitwise_equal(remote["sequence_logits"], reference["sequence_logits"])


def test_remote_token_classifier_logits_are_identical(reference, remote):
    assert remote["token_logits"].shape == (2, len(INPUT_IDS[0]), MODELS["token_classifier"][2]["num_labels"])
    assert_bitwise_equal(remote["token_logits"], reference["token_logits"])


def test_remote_crf_char_tagger_logits_and_viterbi_path_are_identical(reference, remote):
    assert remote["crf_tagger_logits"].shape == (2, len(INPUT_IDS[0]), 4)
    assert_bitwise_equal(remote["crf_tagger_logits"], reference["crf_tagger_logits"])
    assert torch.equal(remote["crf_tagger_path"], reference["crf_tagger_path"])
    real = torch.tensor(ATTENTION_MASK).bool()
    assert torch.equal(reference["crf_tagger_logits"].argmax(-1)[real], reference["crf_tagger_path"][real])


def test_remote_base_model_hidden_states_are_identical(reference, remote):
    assert remote["base_hidden"].shape == (2, len(INPUT_IDS[0]), 5)  # proj_size
    assert_bitwise_equal(remote["base_hidden"], reference["base_hidden"])


@pytest.mark.parametrize("name", list(MODELS))
def test_auto_class_without_trust_remote_code_loads_the_installed_hf_rnn_class(saved, name):
    root, models = saved
    model_class, auto_name, _ = MODELS[name]
    assert type(AutoConfig.from_pretrained(root / name)) is hf_rnn.RNNConfig
    loaded = AUTO_CLASSES[auto_name].from_pretrained(root / name)
    assert type(loaded) is model_class
    assert not loaded.training
    input_ids, attention_mask = torch.tensor(INPUT_IDS), torch.tensor(ATTENTION_MASK)
    with torch.no_grad():
        expected = models[name](input_ids, attention_mask=attention_mask)[0]
        actual = loaded(input_ids, attention_mask=attention_mask)[0]
    assert_bitwise_equal(actual, expected)
