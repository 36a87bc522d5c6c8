"""transformers pipelines run saved hf_rnn models, with the package imported and through remote code.

A module-scoped fixture saves five folders (model + tokenizer): a char-level LM, a sentence classifier, two word-level
taggers (one with a CRF and character features) and a bare encoder. The in-process tests check each pipeline against
the model's own outputs; one subprocess, in which `import hf_rnn` fails and the Hub is offline, runs the same
pipelines with `trust_remote_code=True` and must return what they return in process.
"""

import json

import pytest
import torch
from helpers import BLOCK_HF_RNN, run_without_hf_rnn, seeded, tiny_config, zen_of_python
from transformers import pipeline

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification, RNNModel, train_tokenizer
from hf_rnn.characters_rnn import spelling_alphabet
from hf_rnn.tokenization import token_spellings

# Three prompts of different lengths: batches of two are left-padded.
PROMPTS = ["Beautiful is", "Simple", "Errors should never"]
TEXTS = ["Beautiful is better than ugly.", "Simple", "Errors should never pass silently."]
TAG_TEXTS = ["Beautiful is better than ugly.", "Errors should never pass silently.", "Now is better than never."]
MAX_NEW_TOKENS = 5
SENTIMENT = {0: "neg", 1: "pos"}
TAGS = {0: "O", 1: "B-X", 2: "I-X"}

# Runs all five pipelines on the saved folders; executed both here and, verbatim, in the remote-code subprocess, so
# the two sides make exactly the same calls. Returns plain JSON data.
RUN_PIPELINES = f"""
import json

from transformers import pipeline

PROMPTS, TEXTS, TAG_TEXTS = {PROMPTS!r}, {TEXTS!r}, {TAG_TEXTS!r}


def run_pipelines(root, **load_kwargs):
    generate = dict(max_new_tokens={MAX_NEW_TOKENS}, do_sample=False)
    results = {{"model_modules": {{}}}}

    generator = pipeline("text-generation", model=f"{{root}}/generator", **load_kwargs)
    classifier = pipeline("text-classification", model=f"{{root}}/classifier", **load_kwargs)
    tagger = pipeline("token-classification", model=f"{{root}}/tagger", **load_kwargs)
    crf_tagger = pipeline("token-classification", model=f"{{root}}/crf_tagger", **load_kwargs)
    extractor = pipeline("feature-extraction", model=f"{{root}}/encoder", **load_kwargs)
    for task, pipe in [("text-generation", generator), ("text-classification", classifier),
                       ("token-classification", tagger), ("crf-token-classification", crf_tagger),
                       ("feature-extraction", extractor)]:
        results["model_modules"][task] = type(pipe.model).__module__

    results["text-generation"] = {{
        "single": [generator(prompt, **generate) for prompt in PROMPTS],
        "batched": generator(PROMPTS, batch_size=2, **generate),
    }}
    results["text-classification"] = {{
        "single": [classifier(text, top_k=None) for text in TEXTS],
        "batched": classifier(TEXTS, top_k=None, batch_size=3),
        "top1": [classifier(text) for text in TEXTS],
    }}
    results["token-classification"] = {{
        "none": [tagger(text, aggregation_strategy="none") for text in TAG_TEXTS],
        "none_batched": tagger(TAG_TEXTS, aggregation_strategy="none", batch_size=3),
        "simple": [tagger(text, aggregation_strategy="simple") for text in TAG_TEXTS],
    }}
    results["crf-token-classification"] = {{
        "none": [crf_tagger(text, aggregation_strategy="none") for text in TAG_TEXTS],
        "none_batched": crf_tagger(TAG_TEXTS, aggregation_strategy="none", batch_size=3),
    }}
    results["feature-extraction"] = [extractor(text) for text in TEXTS]
    # numpy scalars (token-classification scores) -> Python numbers
    return json.loads(json.dumps(results, default=lambda value: value.item()))
"""

REMOTE_SCRIPT = f"""
{BLOCK_HF_RNN}
if not hf_rnn_blocked:
    raise SystemExit("hf_rnn is still importable")

{RUN_PIPELINES}

results = run_pipelines(sys.argv[1], trust_remote_code=True)
with open(sys.argv[2], "w") as handle:
    json.dump(results, handle)
"""


def run_pipelines_in_process(root) -> dict:
    namespace = {}
    exec(RUN_PIPELINES, namespace)
    return namespace["run_pipelines"](root)


def assert_same_structure(actual, expected, path="results"):
    """Nested dicts/lists equal, floats up to float32 rounding."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), path
        for key in expected:
            assert_same_structure(actual[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same_structure(a, e, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=0, abs=1e-6), path
    else:
        assert actual == expected, path


def calibrate_tagger(model: RNNForTokenClassification, tokenizer) -> None:
    """Centre the head's bias on the tag texts, so that a random tagger predicts a mix of tags, not one everywhere."""
    encoded = tokenizer(TAG_TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        emissions = model.emission_scores(encoded.input_ids, encoded.attention_mask, None)[0]
        model.classifier.bias -= emissions[encoded.attention_mask.bool()].mean(0)


@pytest.fixture(scope="module")
def word_tokenizer():
    return train_tokenizer(zen_of_python().splitlines(), kind="word")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, char_tokenizer, word_tokenizer):
    """Save each model with its tokenizer in one folder; return the root and {name: (folder, model, tokenizer)}."""
    root = tmp_path_factory.mktemp("pipelines")

    def config(tokenizer, **overrides):
        special = {
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
        return tiny_config(vocab_size=len(tokenizer), **special, **overrides)

    labels = {"id2label": SENTIMENT, "label2id": {v: k for k, v in SENTIMENT.items()}}
    tags = {"id2label": TAGS, "label2id": {v: k for k, v in TAGS.items()}}
    # initializer_range=2.0 with seed 0 gives an LM whose greedy continuations differ between prompts.
    entries = {
        "generator": (
            seeded(RNNForCausalLM, config(char_tokenizer, cell="lstm", initializer_range=2.0)),
            char_tokenizer,
        ),
        "classifier": (
            seeded(RNNForSequenceClassification, config(char_tokenizer, cell="gru", initializer_range=1.0, **labels)),
            char_tokenizer,
        ),
        "tagger": (
            seeded(RNNForTokenClassification, config(word_tokenizer, bidirectional=True, **tags), seed=1),
            word_tokenizer,
        ),
        "encoder": (seeded(RNNModel, config(char_tokenizer, cell="gru", bidirectional=True)), char_tokenizer),
    }
    spellings = token_spellings(word_tokenizer)
    chars = {"crf": True, "char_encoder": "lstm", "char_alphabet": spelling_alphabet(spellings)}
    crf_config = config(word_tokenizer, bidirectional=True, initializer_range=1.0, **tags, **chars)
    crf_tagger = seeded(RNNForTokenClassification, crf_config, seed=2)
    crf_tagger.model.char_encoder.set_spellings(spellings)
    with torch.no_grad():  # transitions as an IOB2 tagger learns them: I-X neither follows O nor starts a sentence
        crf_tagger.crf.transitions[0, 2] = crf_tagger.crf.start_transitions[2] = -1.0
    entries["crf_tagger"] = (crf_tagger, word_tokenizer)
    calibrate_tagger(*entries["tagger"])
    calibrate_tagger(*entries["crf_tagger"])
    models = {}
    for name, (model, tokenizer) in entries.items():
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        models[name] = (root / name, model, tokenizer)
    return root, models


@pytest.fixture(scope="module")
def in_process(saved):
    return run_pipelines_in_process(saved[0])


@pytest.fixture(scope="module")
def remote(saved, tmp_path_factory):
    """Run the five pipelines with trust_remote_code=True in one interpreter that cannot import hf_rnn."""
    work = tmp_path_factory.mktemp("remote_pipelines")
    out_file = work / "results.json"
    run_without_hf_rnn(REMOTE_SCRIPT, saved[0], out_file, work=work)
    return json.loads(out_file.read_text())


def test_pipelines_load_the_installed_hf_rnn_classes(in_process):
    assert in_process["model_modules"] == {
        "text-generation": RNNForCausalLM.__module__,
        "text-classification": RNNForSequenceClassification.__module__,
        "token-classification": RNNForTokenClassification.__module__,
        "crf-token-classification": RNNForTokenClassification.__module__,
        "feature-extraction": RNNModel.__module__,
    }
    assert RNNModel.__module__ == "hf_rnn.modeling_rnn"


def test_text_generation_pipeline_matches_model_generate(saved, in_process):
    _, model, tokenizer = saved[1]["generator"]
    continuations = []
    for prompt, [output] in zip(PROMPTS, in_process["text-generation"]["single"]):
        encoded = tokenizer(prompt, return_tensors="pt")
        ids = model.generate(**encoded, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        new_text = tokenizer.decode(ids[0, encoded.input_ids.shape[1] :], skip_special_tokens=True)
        assert output["generated_text"].startswith(prompt)
        assert output["generated_text"] == prompt + new_text
        continuations.append(new_text)
    # Guard: a model that ignored its prompt (or generated nothing) would make this test vacuous.
    assert all(continuations) and len(set(continuations)) > 1, continuations


def test_text_generation_pipeline_return_full_text_false_gives_only_the_continuation(saved, in_process):
    generator = pipeline("text-generation", model=str(saved[1]["generator"][0]))
    for prompt, [full] in zip(PROMPTS, in_process["text-generation"]["single"]):
        [new] = generator(prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, return_full_text=False)
        assert prompt + new["generated_text"] == full["generated_text"]


def test_text_generation_pipeline_left_padded_batches_equal_one_at_a_time(in_process):
    results = in_process["text-generation"]
    assert results["batched"] == results["single"]


def test_text_classification_pipeline_labels_and_scores_match_model_logits(saved, in_process):
    _, model, tokenizer = saved[1]["classifier"]
    results = in_process["text-classification"]
    for text, scores, [top] in zip(TEXTS, results["single"], results["top1"]):
        with torch.no_grad():
            probabilities = model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0]
        expected = {SENTIMENT[i]: p.item() for i, p in enumerate(probabilities)}
        assert len(scores) == len(SENTIMENT)
        assert {entry["label"]: entry["score"] for entry in scores} == pytest.approx(expected, rel=0, abs=1e-6)
        best = int(probabilities.argmax())
        assert top["label"] == SENTIMENT[best]
        assert top["score"] == pytest.approx(probabilities[best].item(), rel=0, abs=1e-6)


def test_text_classification_pipeline_batched_equals_unbatched(in_process):
    results = in_process["text-classification"]
    assert_same_structure(results["batched"], results["single"])


def test_token_classification_pipeline_entities_match_model_argmax(saved, in_process):
    _, model, tokenizer = saved[1]["tagger"]
    predicted_tags = set()
    for text, entities in zip(TAG_TEXTS, in_process["token-classification"]["none"]):
        encoded = tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            probabilities = model(**encoded).logits.softmax(-1)[0]
        tags = probabilities.argmax(-1).tolist()
        predicted_tags.update(TAGS[t] for t in tags)
        expected = [
            (index, TAGS[tag], offsets[index][0], offsets[index][1])
            for index, tag in enumerate(tags)
            if TAGS[tag] != "O"
        ]
        assert [(e["index"], e["entity"], e["start"], e["end"]) for e in entities] == expected
        for entity in entities:
            assert entity["score"] == pytest.approx(probabilities[entity["index"]].max().item(), rel=0, abs=1e-6)
            # The token, its leading space included, reads as the text its offsets span (they leave the space out).
            assert tokenizer.convert_tokens_to_string([entity["word"]]) == text[entity["start"] : entity["end"]]
    # Guard: the calibrated random tagger predicts every tag somewhere, so filtering and grouping are exercised.
    assert predicted_tags == set(TAGS.values())


def test_token_classification_pipeline_batched_equals_unbatched(in_process):
    results = in_process["token-classification"]
    assert_same_structure(results["none_batched"], results["none"])


def test_token_classification_simple_aggregation_groups_adjacent_entity_tokens(saved, in_process):
    _, model, tokenizer = saved[1]["tagger"]
    for text, groups in zip(TAG_TEXTS, in_process["token-classification"]["simple"]):
        encoded = tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            tags = [TAGS[t] for t in model(**encoded).logits.argmax(-1)[0].tolist()]
        # Runs of tokens: a "B-" tag or a change of entity type starts a new run; "O" runs are dropped.
        runs = []
        for tag, (start, end) in zip(tags, offsets):
            kind = tag.split("-", 1)[-1]
            if runs and runs[-1][0] == kind and not tag.startswith("B-"):
                runs[-1][2] = end
            else:
                runs.append([kind, start, end])
        expected = [(kind, start, end) for kind, start, end in runs if kind != "O"]
        assert expected, "guard: the tagger predicts at least one entity per text"
        assert [(g["entity_group"], g["start"], g["end"]) for g in groups] == expected
        for group in groups:
            assert group["word"] == text[group["start"] : group["end"]]


def test_crf_tagger_pipeline_entities_are_the_viterbi_path_scored_by_max_marginals(saved, in_process):
    _, model, tokenizer = saved[1]["crf_tagger"]
    predicted_tags, changed_by_transitions = set(), False
    for text, entities in zip(TAG_TEXTS, in_process["crf-token-classification"]["none"]):
        encoded = tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            path = model.decode(**encoded)[0].tolist()
            confidence = model(**encoded).logits.softmax(-1)[0]
            emissions = model.emission_scores(encoded.input_ids, None, None)[0][0]
        predicted_tags.update(TAGS[t] for t in path)
        changed_by_transitions |= path != emissions.argmax(-1).tolist()
        expected = [(i, TAGS[tag], offsets[i][0], offsets[i][1]) for i, tag in enumerate(path) if TAGS[tag] != "O"]
        assert [(e["index"], e["entity"], e["start"], e["end"]) for e in entities] == expected
        for entity in entities:
            assert entity["score"] == pytest.approx(confidence[entity["index"]].max().item(), rel=0, abs=1e-6)
        assert all(TAGS[tag] != "I-X" or TAGS[previous] != "O" for previous, tag in zip([0, *path], path))
    # Guards: every tag is predicted, and the CRF's transitions overrule the per-token best somewhere.
    assert predicted_tags == set(TAGS.values()) and changed_by_transitions


def test_crf_tagger_pipeline_batched_equals_unbatched(in_process):
    results = in_process["crf-token-classification"]
    assert_same_structure(results["none_batched"], results["none"])


def test_feature_extraction_pipeline_returns_the_last_hidden_state(saved, in_process):
    folder, model, tokenizer = saved[1]["encoder"]
    extractor = pipeline("feature-extraction", model=str(folder))
    for text, features in zip(TEXTS, in_process["feature-extraction"]):
        encoded = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state
        expected_shape = (1, encoded.input_ids.shape[1], model.config.hidden_size * 2)
        assert hidden.shape == expected_shape
        assert torch.tensor(features).shape == expected_shape
        torch.testing.assert_close(torch.tensor(features), hidden, rtol=0, atol=1e-6)
        as_tensor = extractor(text, return_tensors=True)
        assert as_tensor.shape == expected_shape
        torch.testing.assert_close(as_tensor, hidden, rtol=0, atol=1e-6)


def test_remote_code_pipelines_load_classes_from_transformers_modules(remote):
    assert set(remote["model_modules"]) == {
        "text-generation",
        "text-classification",
        "token-classification",
        "crf-token-classification",
        "feature-extraction",
    }
    for task, module in remote["model_modules"].items():
        assert module.startswith("transformers_modules."), (task, module)
        assert module.endswith(".modeling_rnn"), (task, module)


@pytest.mark.parametrize(
    "task",
    [
        "text-generation",
        "text-classification",
        "token-classification",
        "crf-token-classification",
        "feature-extraction",
    ],
)
def test_remote_code_pipeline_outputs_equal_in_process_outputs(remote, in_process, task):
    # Same weights, same kernels, same calls: identical to the last bit, not merely close.
    assert remote[task] == in_process[task]
