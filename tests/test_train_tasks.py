"""scripts/train.py on the sequence-classification, token-classification and translation tasks, end to end on tiny
settings, plus the embedded default data they train on (hf_rnn/data.py) and their shipped metrics.

Spec: `python scripts/train.py --task T` trains on the embedded default data (or on files in the formats the
transformers example scripts read) and leaves a complete model folder: weights, config with auto_map, modeling
code, tokenizer, `all_results.json` with the task's metrics, `loss.png` and the task's predictions; the folder
loads with the task's Auto class and works in the task's pipeline. A user error stops before training with exit
status 2 and one message naming the flag.

The training runs start together (one module fixture) as subprocesses, under the `slow` marker; the error cases run
the script in this process (`helpers.run_train_script`).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import seqeval.metrics
import sklearn.metrics
from helpers import ScriptRun, run_scripts_concurrently, run_train_script, seeded, succeeded, tiny_config
from seqeval.scheme import IOB2
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    pipeline,
)

import hf_rnn
from hf_rnn import RNNForCausalLM, train_tokenizer
from hf_rnn.demo_data import (
    default_sequence_classification_datasets,
    default_token_classification_datasets,
    default_translation_datasets,
)
from hf_rnn.metrics import available_metrics, load_metric
from hf_rnn.tasks import TASKS
from hf_rnn.tasks.labels import class_labels_as_names, without_missing_labels
from hf_rnn.tasks.sequence_classification import load_classification_datasets
from hf_rnn.tasks.token_classification import read_conll
from hf_rnn.tasks.translation import load_parallel_datasets
from hf_rnn.training import parse_arguments

TINY_RUN = [
    "--max_steps", "4",
    "--per_device_train_batch_size", "4",
    "--per_device_eval_batch_size", "8",
    "--eval_steps", "2",
    "--logging_steps", "1",
    "--max_train_samples", "32",
    "--max_eval_samples", "8",
    "--save_strategy", "no",
    "--hidden_size", "16",
]  # fmt: skip
TINY_TRANSLATION = ["--max_target_length", "8", "--generation_num_beams", "2", "--num_sample_generations", "2"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMMON_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "all_results.json")

CSV_ROWS = [("a fine film", "pos"), ("dull and long", "neg"), ("not bad at all", "pos")]
CSV_TRAIN = "text,sentiment\n" + "".join(f'"{text}",{label}\n' for text, label in CSV_ROWS * 6)
CSV_VALIDATION = 'text,sentiment\n"fine, not dull",pos\n"long and dull",neg\n'
CONLL_TRAIN = (
    "-DOCSTART- -X- -X- O\n\n"
    + "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n" * 4
    + ("Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n") * 4
)
CONLL_VALIDATION = "Peter NNP B-NP B-PER\nrejects VBZ B-VP O\nEU NNP B-NP B-ORG\n"
CSV_TEST = 'text,sentiment\n"a fine film",pos\n"dull and long",neg\n"not bad",pos\n'
# Sentences of different lengths, so that padding would shift a misaligned prediction.
CONLL_TEST = (
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nrejects VBZ B-VP O\nEU NNP B-NP B-ORG\n"
)
UNTAGGED_TEST = [["Peter", "Blackburn", "rejects", "EU"], ["German"], ["EU", "rejects"]]
PARALLEL = [("ein Hund läuft", "a dog runs"), ("eine Katze schläft", "a cat sleeps"), ("ein Mann isst", "a man eats")]


def write_gzip(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write("".join(f"{line}\n" for line in lines))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, ScriptRun]:
    root = tmp_path_factory.mktemp("train_tasks")
    (root / "train.csv").write_text(CSV_TRAIN)
    (root / "validation.csv").write_text(CSV_VALIDATION)
    (root / "eng.train").write_text(CONLL_TRAIN)
    (root / "eng.testa").write_text(CONLL_VALIDATION)
    (root / "test.csv").write_text(CSV_TEST)
    (root / "eng.testb").write_text(CONLL_TEST)
    tagged = [{"tokens": tokens, "ner_tags": tags} for tokens, tags in zip(*read_conll_text(CONLL_TRAIN))]
    (root / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in tagged))
    (root / "untagged.jsonl").write_text("".join(json.dumps({"tokens": words}) + "\n" for words in UNTAGGED_TEST))
    # A language model folder as `--task causal-lm` leaves one (untrained: only its body and tokenizer matter here).
    tokenizer = train_tokenizer([text for text, _ in CSV_ROWS], kind="word", vocab_size=40)
    seeded(RNNForCausalLM, tiny_config(vocab_size=len(tokenizer))).save_pretrained(root / "language_model")
    tokenizer.save_pretrained(root / "language_model")
    write_gzip(root / "train.de.gz", [source for source, _ in PARALLEL] * 8)
    write_gzip(root / "train.en.gz", [target for _, target in PARALLEL] * 8)
    (root / "val.de").write_text("".join(f"{source}\n" for source, _ in PARALLEL))
    (root / "val.en").write_text("".join(f"{target}\n" for _, target in PARALLEL))

    classification = ["--task", "sequence-classification", *TINY_RUN]
    tagging = ["--task", "token-classification", *TINY_RUN]
    translation = ["--task", "translation", *TINY_RUN, *TINY_TRANSLATION]
    arguments = {
        "classification_default": classification,
        "tagging_default": tagging,
        "translation_default": translation,
        "classification_csv": [*classification, "--train_file", "train.csv", "--validation_file", "validation.csv",
                               "--text_column", "text", "--label_column", "sentiment", "--do_predict", "--test_file",
                               "test.csv"],
        # Enough steps that the predicted tags vary, so that a misaligned prediction would show.
        "tagging_conll": [*tagging, "--train_file", "eng.train", "--validation_file", "eng.testa", "--do_predict",
                          "--test_file", "eng.testb", "--max_steps", "40", "--learning_rate", "0.01"],
        "classification_on_language_model": [
            *(flag for flag in classification if flag not in ("--hidden_size", "16")), "--max_steps", "-1",
            "--num_train_epochs", "3", "--model_name_or_path", "language_model", "--train_file", "train.csv",
            "--validation_file", "validation.csv", "--text_column", "text", "--label_column", "sentiment",
            "--discriminative_lr_decay", "2.6", "--gradual_unfreezing", "--slanted_triangular"],
        "tagging_untagged_test": [*tagging, "--train_file", "train.jsonl", "--do_predict", "--test_file",
                                  "untagged.jsonl"],
        "tagging_crf_chars": [*tagging, "--train_file", "eng.train", "--validation_file", "eng.testa", "--crf",
                              "--char_features", "cnn"],
        "translation_parallel_text": [*translation, "--train_source_file", "train.de.gz", "--train_target_file",
                                      "train.en.gz", "--validation_source_file", "val.de", "--validation_target_file",
                                      "val.en", "--source_lang", "de", "--target_lang", "en"],
    }  # fmt: skip
    return run_scripts_concurrently(root, arguments)


def assert_complete_folder(out: Path, architecture: str, auto_class: str, modeling_file: str) -> dict:
    for name in (*COMMON_FILES, modeling_file, "configuration_rnn.py"):
        assert (out / name).is_file(), name
    assert (out / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [architecture]
    assert config["auto_map"][auto_class] == f"{modeling_file[:-3]}.{architecture}"
    return json.loads((out / "all_results.json").read_text())


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_sequence_classification_default_run_reports_accuracy_and_f1(runs):
    out = succeeded(runs["classification_default"])
    results = assert_complete_folder(
        out, "RNNForSequenceClassification", "AutoModelForSequenceClassification", "modeling_rnn.py"
    )
    assert 0 <= results["eval_accuracy"] <= 1 and 0 <= results["eval_f1"] <= 1
    assert results["train_samples"] == 32 and results["eval_samples"] == 8
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"} and config["bidirectional"] is True
    predictions = [json.loads(line) for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 8 and {"text", "label", "prediction"} <= set(predictions[0])
    correct = sum(row["label"] == row["prediction"] for row in predictions)
    assert correct / 8 == pytest.approx(results["eval_accuracy"])


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_sequence_classifier_folder_loads_and_classifies_in_the_pipeline(runs):
    out = succeeded(runs["classification_default"])
    assert isinstance(AutoModelForSequenceClassification.from_pretrained(out), hf_rnn.RNNForSequenceClassification)
    classifier = pipeline("text-classification", model=str(out))
    result = classifier("the movie was not good but great")
    assert result[0]["label"] in ("negative", "positive")


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_token_classification_default_run_reports_seqeval_scores(runs):
    out = succeeded(runs["tagging_default"])
    results = assert_complete_folder(
        out, "RNNForTokenClassification", "AutoModelForTokenClassification", "modeling_rnn.py"
    )
    for name in ("eval_precision", "eval_recall", "eval_f1", "eval_accuracy"):
        assert 0 <= results[name] <= 1, name
    labels = set(json.loads((out / "config.json").read_text())["label2id"])
    assert labels == {"O", "B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG"}
    sentences = (out / "eval_predictions.txt").read_text().strip().split("\n\n")
    assert len(sentences) == 8
    assert all(len(line.split()) == 3 for sentence in sentences for line in sentence.splitlines())


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_tagger_folder_loads_and_tags_running_text_in_the_pipeline(runs):
    out = succeeded(runs["tagging_default"])
    assert isinstance(AutoModelForTokenClassification.from_pretrained(out), hf_rnn.RNNForTokenClassification)
    tokenizer = AutoTokenizer.from_pretrained(out)
    # Words are the same tokens in running text as in the split-into-words training input.
    words = ["Mr.", "Lincoln", "lives", "in", "Paris", "."]
    assert tokenizer(" ".join(words)).input_ids == tokenizer(words, is_split_into_words=True).input_ids
    assert tokenizer.unk_token_id not in tokenizer(" ".join(words)).input_ids
    tagger = pipeline("token-classification", model=str(out))
    tags = tagger("Mr. Lincoln lives in Paris .")
    assert len(tags) <= 7 and all(tag["entity"] in tagger.model.config.label2id for tag in tags)


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_crf_char_tagger_run_saves_its_crf_and_spellings_and_tags_in_the_pipeline(runs):
    out = succeeded(runs["tagging_crf_chars"])
    results = assert_complete_folder(
        out, "RNNForTokenClassification", "AutoModelForTokenClassification", "modeling_rnn.py"
    )
    assert 0 <= results["eval_f1"] <= 1
    assert (out / "crf_rnn.py").is_file() and (out / "characters_rnn.py").is_file()
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert model.config.crf is True and model.config.char_encoder == "cnn"
    tokenizer = AutoTokenizer.from_pretrained(out)
    (peter,) = tokenizer("Peter", add_special_tokens=False)["input_ids"]
    spelt = "".join(model.config.char_alphabet[i - 2] for i in model.model.char_encoder.spellings[peter] if i)
    assert spelt == "Peter"
    text = "Peter Blackburn rejects EU"
    entities = pipeline("token-classification", model=str(out))(text)
    path = model.decode(**tokenizer(text, return_tensors="pt"))[0]
    tags = [model.config.id2label[t] for t in path.tolist()]
    assert [e["entity"] for e in entities] == [tag for tag in tags if tag != "O"]


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_translation_default_run_reports_bleu_and_chrf_and_samples(runs):
    run = runs["translation_default"]
    out = succeeded(run)
    results = assert_complete_folder(
        out, "RNNSeq2SeqForConditionalGeneration", "AutoModelForSeq2SeqLM", "modeling_rnn_seq2seq.py"
    )
    assert 0 <= results["eval_bleu"] <= 100 and 0 <= results["eval_chrf"] <= 100
    generation_config = json.loads((out / "generation_config.json").read_text())
    # The length derived from the train targets, capped by --max_target_length 8: 8 tokens after <s>.
    assert generation_config["num_beams"] == 2 and generation_config["max_length"] == 9
    assert generation_config.get("max_new_tokens") is None
    assert generation_config["decoder_start_token_id"] == 2 and generation_config["eos_token_id"] == 3
    # Evaluation left it as the task set it (max_length above, not generate()'s default of 20), so no warning.
    assert "Both `max_new_tokens`" not in run.stderr
    assert len((out / "generated_predictions.txt").read_text().splitlines()) == 8
    samples = (out / "samples.txt").read_text()
    assert samples.count("=== sample ") == 2 and "reference:" in samples
    assert "reference:" in run.stdout  # also logged to the console


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_translation_folder_loads_and_translates_in_the_pipeline(runs):
    out = succeeded(runs["translation_default"])
    model = AutoModelForSeq2SeqLM.from_pretrained(out)
    assert isinstance(model, hf_rnn.RNNSeq2SeqForConditionalGeneration)
    translator = pipeline(hf_rnn.TRANSLATION_TASK, model=str(out))
    result = translator(["the dog sees a cat", "a king"], max_new_tokens=4)
    assert len(result) == 2 and all(isinstance(row["translation_text"], str) for row in result)


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_csv_with_string_labels_trains_a_classifier_with_those_labels(runs):
    out = succeeded(runs["classification_csv"])
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}  # sorted
    results = json.loads((out / "all_results.json").read_text())
    assert results["eval_samples"] == 2 and "eval_f1" in results


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_conll_files_train_a_tagger_on_their_last_column(runs):
    out = succeeded(runs["tagging_conll"])
    config = json.loads((out / "config.json").read_text())
    assert set(config["label2id"]) == {"B-ORG", "B-MISC", "B-PER", "I-PER", "O"}
    results = json.loads((out / "all_results.json").read_text())
    assert results["train_samples"] == 8 and results["eval_samples"] == 1  # -DOCSTART- is no sentence
    assert (out / "eval_predictions.txt").read_text().splitlines()[0].split()[:2] == ["Peter", "B-PER"]


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_gzipped_parallel_text_trains_a_translator_with_a_shared_bpe_tokenizer(runs):
    run = runs["translation_parallel_text"]
    out = succeeded(run)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.backend_tokenizer.model.__class__.__name__ == "BPE"
    assert tokenizer.unk_token_id not in tokenizer("ein Hund läuft a dog runs").input_ids  # both sides learned
    results = json.loads((out / "all_results.json").read_text())
    assert results["eval_samples"] == 3 and "eval_bleu" in results and "eval_chrf" in results
    assert "(de -> en)" in run.stdout


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_a_classifier_predicts_the_test_file_as_run_glue_does(runs):
    out = succeeded(runs["classification_csv"])
    lines = (out / "predict_results.txt").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 4
    predicted = [line.split("\t") for line in lines[1:]]
    assert [index for index, _ in predicted] == ["0", "1", "2"] and {label for _, label in predicted} <= {"neg", "pos"}
    scores = json.loads((out / "predict_results.json").read_text())
    truth = ["pos", "neg", "pos"]
    accuracy = sum(label == true for (_, label), true in zip(predicted, truth)) / 3
    assert scores["test_accuracy"] == pytest.approx(accuracy) and scores["test_samples"] == 3
    assert "test_f1" in json.loads((out / "all_results.json").read_text())


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_a_classifier_fine_tuned_from_a_language_model_keeps_its_tokenizer_and_names_it_in_the_card(runs):
    out = succeeded(runs["classification_on_language_model"])
    language_model = out.parent / "language_model"
    assert AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(language_model).get_vocab()
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["RNNForSequenceClassification"] and config["bidirectional"] is False
    card = (out / "README.md").read_text()
    assert "Started from the embedding and recurrent layers of `language_model` (a `RNNForCausalLM`)" in card
    assert "| discriminative_lr_decay | 2.6 |" in card and "| gradual_unfreezing | True |" in card
    # The slanted triangle starts at learning_rate / 32.
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert history[0]["learning_rate"] == pytest.approx(3e-3 / 32)


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_a_tagger_predicts_the_test_file_as_run_ner_does_one_line_per_sentence(runs):
    import torch

    out = succeeded(runs["tagging_conll"])
    predicted = [line.split() for line in (out / "predictions.txt").read_text().splitlines()]
    words, truth = read_conll_text(CONLL_TEST)
    assert [len(tags) for tags in predicted] == [len(sentence) for sentence in words] == [3, 1, 4]
    scores = json.loads((out / "predict_results.json").read_text())
    assert scores["test_f1"] == pytest.approx(seqeval.metrics.f1_score(truth, predicted, mode="strict", scheme=IOB2))
    # Each line is what the saved tagger predicts for that sentence alone (no padding), word by word.
    model, tokenizer = AutoModelForTokenClassification.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    for sentence, tags in zip(words, predicted):
        encoded = tokenizer(sentence, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            ids = model(**encoded).logits[0].argmax(-1).tolist()
        firsts = [encoded.word_ids().index(word) for word in range(len(sentence))]
        assert tags == [model.config.id2label[ids[position]] for position in firsts]


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_a_test_file_without_tags_is_predicted_and_not_scored(runs):
    out = succeeded(runs["tagging_untagged_test"])
    predicted = [line.split() for line in (out / "predictions.txt").read_text().splitlines()]
    assert [len(tags) for tags in predicted] == [len(words) for words in UNTAGGED_TEST]
    scores = json.loads((out / "predict_results.json").read_text())
    assert scores["test_samples"] == 3 and not any(name in scores for name in ("test_f1", "test_loss"))


def read_conll_text(text: str) -> tuple[list[list[str]], list[list[str]]]:
    sentences = [block.splitlines() for block in text.replace("-DOCSTART- -X- -X- O\n\n", "").strip().split("\n\n")]
    return [[line.split()[0] for line in s] for s in sentences], [[line.split()[-1] for line in s] for s in sentences]


# The defaults: sized for the embedded data, and by epochs with the best model kept on the user's data.

TASK_METRICS = {"sequence-classification": "accuracy", "token-classification": "f1"}


@pytest.mark.parametrize("task", TASK_METRICS)
@pytest.mark.parametrize("data", [["--train_file", "mine.csv"], ["--dataset_name", "someone/data"]])
def test_on_real_data_training_runs_by_epochs_keeps_the_best_model_and_stops_early(task, data):
    model_args, _, args = parse_arguments(["--task", task, *data])
    assert args.max_steps == -1 and args.num_train_epochs == 10
    assert args.eval_strategy == "epoch" and args.save_strategy == "epoch"
    assert args.load_best_model_at_end and args.metric_for_best_model == TASK_METRICS[task]
    assert args.greater_is_better and model_args.early_stopping_patience == 3
    assert args.train_sampling_strategy == "group_by_length"


@pytest.mark.parametrize("task", TASK_METRICS)
def test_the_embedded_data_keeps_its_step_budget(task):
    model_args, _, args = parse_arguments(["--task", task])
    assert args.max_steps == TASKS[task].training_defaults["max_steps"] and args.eval_strategy == "steps"
    assert not args.load_best_model_at_end and model_args.early_stopping_patience is None
    assert args.train_sampling_strategy == "random"


def test_explicit_flags_win_over_the_real_data_defaults():
    data = ["--task", "token-classification", "--train_file", "eng.train"]
    flags = ["--num_train_epochs", "2", "--metric_for_best_model", "loss", "--early_stopping_patience", "1",
             "--train_sampling_strategy", "random"]  # fmt: skip
    model_args, _, args = parse_arguments([*data, *flags])
    assert args.num_train_epochs == 2 and args.metric_for_best_model == "loss" and not args.greater_is_better
    assert model_args.early_stopping_patience == 1 and args.train_sampling_strategy == "random"
    _, _, args = parse_arguments([*data, "--max_steps", "50"])
    assert args.max_steps == 50
    # Saving follows the evaluation strategy the caller chose, so that the best model can be loaded.
    _, _, args = parse_arguments([*data, "--eval_strategy", "steps", "--eval_steps", "100", "--save_steps", "100"])
    assert args.eval_strategy == args.save_strategy == "steps" and args.load_best_model_at_end
    # Without evaluations there is no best model to keep or to stop at.
    model_args, _, args = parse_arguments([*data, "--eval_strategy", "no"])
    assert not args.load_best_model_at_end and model_args.early_stopping_patience is None
    _, _, args = parse_arguments([*data, "--save_strategy", "no"])
    assert args.eval_strategy == "epoch" and not args.load_best_model_at_end


def test_a_json_config_with_a_train_file_gets_the_real_data_defaults(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"task": "sequence-classification", "train_file": "x.csv", "num_train_epochs": 4}))
    _, _, args = parse_arguments([str(config)])
    assert args.num_train_epochs == 4 and args.max_steps == -1 and args.metric_for_best_model == "accuracy"


def test_a_test_file_may_lack_labels_and_a_hub_test_split_of_minus_ones_counts_as_unlabeled(tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    (tmp_path / "train.csv").write_text(CSV_TRAIN)
    (tmp_path / "test.csv").write_text('text\n"so so"\n')
    splits = load_classification_datasets(str(tmp_path / "train.csv"), test_file=str(tmp_path / "test.csv"))
    assert set(splits) == {"train", "validation", "test"} and splits["test"].column_names == ["text"]
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    glue = Dataset.from_dict({"sentence": ["a", "b"], "label": [-1, -1]}, features=features)
    labeled = Dataset.from_dict({"sentence": ["a", "b"], "label": [0, 1]}, features=features)
    assert without_missing_labels(DatasetDict(train=labeled, test=glue), "label")["test"].column_names == ["sentence"]
    assert "label" in without_missing_labels(DatasetDict(train=labeled, test=labeled), "label")["test"].column_names


# User errors, in-process: each stops before training with exit status 2 and one message naming the flag.


@pytest.fixture(scope="module")
def error_files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_task_errors")
    (root / "train.csv").write_text(CSV_TRAIN)
    (root / "neutral.csv").write_text('text,sentiment\n"so so",neutral\n')
    (root / "content.csv").write_text('content,sentiment\n"so so",pos\n')  # SST-2's dev.tsv names it "content"
    row = json.dumps({"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]})
    (root / "train.jsonl").write_text(f"{row}\n{row}\n")
    (root / "train.de").write_text("ein Hund\n")
    (root / "train.en").write_text("a dog\nand more\n")
    causal_lm = root / "causal_lm"
    seeded(RNNForCausalLM, tiny_config()).save_pretrained(causal_lm)
    train_tokenizer(["abc"], kind="char").save_pretrained(causal_lm)
    return root


@pytest.mark.parametrize(
    ("arguments", "expected_in_message"),
    [
        (["--task", "sequence-classification", "--train_file", "{root}/missing.csv"], ["--train_file", "missing.csv"]),
        (["--task", "sequence-classification", "--train_file", "{root}/train.csv"], ["--text_column", "'sentence'"]),
        (
            ["--task", "sequence-classification", "--train_file", "{root}/train.csv", "--text_column", "text"],
            ["--label_column", "'label'", "sentiment"],
        ),
        (
            [
                "--task",
                "sequence-classification",
                "--train_file",
                "{root}/train.csv",
                "--validation_file",
                "{root}/neutral.csv",
                "--text_column",
                "text",
                "--label_column",
                "sentiment",
            ],
            ["--label_column", "--validation_file", "'neutral'"],
        ),  # fmt: skip
        (
            [
                "--task",
                "sequence-classification",
                "--train_file",
                "{root}/train.csv",
                "--validation_file",
                "{root}/content.csv",
                "--text_column",
                "text",
                "--label_column",
                "sentiment",
            ],
            ["--text_column", "'text'", "validation", "--validation_file", "content"],
        ),  # fmt: skip
        (
            ["--task", "token-classification", "--train_file", "{root}/train.jsonl", "--tags_column", "tags"],
            ["--tags_column", "'tags'", "ner_tags"],
        ),
        (["--task", "token-classification", "--train_file", "{root}/missing.conll"], ["--train_file", "missing.conll"]),
        (
            [
                "--task",
                "translation",
                "--train_source_file",
                "{root}/train.de",
                "--train_target_file",
                "{root}/train.en",
            ],
            ["--train_source_file", "--train_target_file", "aligned"],
        ),  # fmt: skip
        (["--task", "translation", "--train_source_file", "{root}/train.de"], ["--train_target_file", "missing"]),
        (
            ["--task", "sequence-classification", "--model_name_or_path", "{root}/causal_lm", "--bidirectional", "1"],
            ["--bidirectional", "--model_name_or_path", "RNNForCausalLM", "left to right"],
        ),
        (
            ["--task", "token-classification", "--model_name_or_path", "{root}/causal_lm", "--hidden_size", "64"],
            ["--hidden_size", "--model_name_or_path"],
        ),
        (["--task", "sequence-classification", "--do_predict"], ["--do_predict", "--test_file"]),
        (
            ["--task", "token-classification", "--train_file", "{root}/train.jsonl", "--test_file", "{root}/t.jsonl"],
            ["--test_file", "--do_predict"],
        ),
        (["--task", "translation", "--do_predict"], ["--do_predict", "--task translation"]),
        (
            ["--task", "translation", "--model_name_or_path", "{root}/causal_lm"],
            ["--model_name_or_path", "RNNForCausalLM", "--task translation"],
        ),
        (["--task", "causal-lm", "--bidirectional", "true"], ["--bidirectional", "causal-lm"]),
    ],
)
def test_user_error_stops_before_training_naming_the_flag(error_files, capsys, arguments, expected_in_message):
    out = error_files / "out"
    argv = [argument.format(root=error_files) for argument in arguments]
    with pytest.raises(SystemExit) as stopped:
        run_train_script([*argv, "--max_steps", "1", "--output_dir", str(out)])
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and ": error: " in errors[0]
    for expected in expected_in_message:
        assert expected in errors[0]
    assert not out.exists()


# The embedded default data (hf_rnn/data.py).


def test_sentiment_default_is_at_chance_for_a_bag_of_words():
    for split in default_sequence_classification_datasets().values():
        labels_by_bag = defaultdict(Counter)
        for sentence, label in zip(split["sentence"], split["label"]):
            labels_by_bag[tuple(sorted(sentence.split()))][label] += 1
        # Every multiset of words comes as often with one label as with the other.
        assert all(counts["positive"] == counts["negative"] for counts in labels_by_bag.values())
        assert len(labels_by_bag) > 100


def test_sentiment_default_is_deterministic_balanced_and_its_splits_disjoint():
    first, second = default_sequence_classification_datasets(), default_sequence_classification_datasets()
    assert first["train"]["sentence"] == second["train"]["sentence"]
    assert Counter(first["train"]["label"]) == {"positive": 2000, "negative": 2000}
    assert not set(first["train"]["sentence"]) & set(first["validation"]["sentence"])


def test_tagging_default_gives_the_same_word_different_tags_by_context():
    train = default_token_classification_datasets()["train"]
    tags_of = defaultdict(set)
    for tokens, tags in zip(train["tokens"], train["ner_tags"]):
        assert len(tokens) == len(tags)
        seqeval.metrics.f1_score([tags], [tags], mode="strict", scheme=IOB2)  # valid IOB2
        for token, tag in zip(tokens, tags):
            tags_of[token].add(tag)
    assert {"B-PER", "I-PER", "B-LOC", "B-ORG"} <= tags_of["Lincoln"]
    ambiguous = [token for token, tags in tags_of.items() if len({tag[2:] for tag in tags if tag != "O"}) == 3]
    assert len(ambiguous) >= 15  # every name is a person, a place and a company


def test_translation_default_needs_reordering_and_is_deterministic():
    splits = default_translation_datasets()
    assert splits["train"]["source"] == default_translation_datasets()["train"]["source"]
    assert not set(splits["train"]["source"]) & set(splits["validation"]["source"])
    verbs = hf_rnn.demo_data.TRANSLATION_VERBS
    for source, target in zip(splits["train"]["source"][:200], splits["train"]["target"][:200]):
        source_words, target_words = source.split(), target.split()
        verb = next(word for word in source_words if word in verbs)
        assert source_words.index(verb) < len(source_words) - 2  # subject-verb-object in the source ...
        assert target_words[-1] == verbs[verb]  # ... subject-object-verb in the target


def test_conll_reader_takes_the_last_column_and_skips_docstart(tmp_path):
    path = tmp_path / "data.conll"
    path.write_text(CONLL_TRAIN)
    rows = read_conll(str(path), "--train_file")
    assert rows["tokens"][0] == ["EU", "rejects", "German"] and rows["ner_tags"][0] == ["B-ORG", "O", "B-MISC"]
    assert len(rows["tokens"]) == 8


def test_parallel_text_reads_gzip_and_plain_lines(tmp_path):
    write_gzip(tmp_path / "s.gz", ["ein Hund", "eine Katze"])
    (tmp_path / "t.txt").write_text("a dog\na cat\n")
    splits = load_parallel_datasets(str(tmp_path / "s.gz"), str(tmp_path / "t.txt"), validation_split_percentage=50)
    assert splits["validation"]["source"] == ["ein Hund"] and splits["train"]["target"] == ["a cat"]


# Shipped metrics.


def test_task_metrics_ship_with_the_package():
    assert {"accuracy_f1", "seqeval_f1", "sacrebleu_chrf"} <= set(available_metrics())


def test_accuracy_f1_equals_scikit_learn():
    predictions, references = [0, 2, 1, 1, 2, 0, 2], [0, 1, 1, 2, 2, 0, 0]
    scores = load_metric("accuracy_f1").compute(predictions=predictions, references=references)
    assert scores["accuracy"] == sklearn.metrics.accuracy_score(references, predictions)
    assert scores["f1"] == sklearn.metrics.f1_score(references, predictions, average="macro")
    binary = load_metric("accuracy_f1").compute(predictions=[1, 0, 1], references=[1, 1, 1], average="binary")
    assert binary["f1"] == sklearn.metrics.f1_score([1, 1, 1], [1, 0, 1])


def test_seqeval_f1_equals_seqeval_in_strict_iob2():
    references = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    predictions = [["B-PER", "I-PER", "O", "B-PER"], ["I-ORG", "I-ORG", "O"]]  # an I- start is no entity (strict)
    scores = load_metric("seqeval_f1").compute(predictions=predictions, references=references)
    strict = {"mode": "strict", "scheme": IOB2}
    assert scores["f1"] == seqeval.metrics.f1_score(references, predictions, **strict)
    assert scores["precision"] == seqeval.metrics.precision_score(references, predictions, **strict)
    assert scores["recall"] == seqeval.metrics.recall_score(references, predictions, **strict)
    assert scores["PER"]["f1"] == pytest.approx(2 / 3) and scores["ORG"]["f1"] == 0.0
    lenient = load_metric("seqeval_f1").compute(predictions=predictions, references=references, mode=None)
    assert lenient["f1"] == seqeval.metrics.f1_score(references, predictions) > scores["f1"]


def test_hub_class_label_ids_become_their_names():
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence

    features = Features({"label": ClassLabel(names=["neg", "pos"]), "tags": Sequence(ClassLabel(names=["O", "B-PER"]))})
    rows = Dataset.from_dict({"label": [0, 1], "tags": [[0, 1], [1]]}, features=features)
    splits = DatasetDict(train=rows, validation=rows)
    assert list(class_labels_as_names(splits, "label")["validation"]["label"]) == ["neg", "pos"]
    assert list(class_labels_as_names(splits, "tags")["train"]["tags"]) == [["O", "B-PER"], ["B-PER"]]


def test_tagging_default_defeats_a_tagger_that_ignores_context():
    splits = default_token_classification_datasets()
    tag_counts = defaultdict(Counter)
    for tokens, tags in zip(splits["train"]["tokens"], splits["train"]["ner_tags"]):
        for token, tag in zip(tokens, tags):
            tag_counts[token][tag] += 1
    # Each word's most frequent train tag, wherever it stands.
    validation_tokens = splits["validation"]["tokens"]
    guesses = [[tag_counts[token].most_common(1)[0][0] for token in tokens] for tokens in validation_tokens]
    references = list(splits["validation"]["ner_tags"])
    assert seqeval.metrics.f1_score(references, guesses, mode="strict", scheme=IOB2) < 0.4


def test_translation_default_defeats_a_word_for_word_translation_in_source_order():
    validation = default_translation_datasets()["validation"]
    dictionary = {
        **hf_rnn.demo_data.TRANSLATION_NOUNS,
        **hf_rnn.demo_data.TRANSLATION_VERBS,
        **hf_rnn.demo_data.TRANSLATION_ADJECTIVES,
        **hf_rnn.demo_data.TRANSLATION_DETERMINERS,
        **hf_rnn.demo_data.TRANSLATION_PLACES,
        **hf_rnn.demo_data.TRANSLATION_PREPOSITIONS,
    }
    word_for_word = [" ".join(dictionary[word] for word in source.split()) for source in validation["source"]]
    scores = load_metric("sacrebleu_chrf").compute(predictions=word_for_word, references=list(validation["target"]))
    assert scores["bleu"] < 10  # every word right, the order wrong
