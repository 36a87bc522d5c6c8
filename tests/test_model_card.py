"""Model cards: valid Hub metadata (the Hub's own `model-index` format) and a body that says how to use the model.

`ModelCard.validate()` asks the Hub, so the metadata is checked offline: the YAML front matter parses, round-trips
through `huggingface_hub.ModelCardData` / `metadata_load`, and `model_index_to_eval_results` reads the exact metric
values back.
"""

import types

import pytest
import yaml
from helpers import run_scripts_concurrently, seeded, succeeded, tiny_config
from huggingface_hub import ModelCard, ModelCardData, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results
from transformers import Seq2SeqTrainingArguments
from transformers.modelcard import extract_hyperparameters_from_trainer

from hf_rnn import (
    RNNForCausalLM,
    RNNForecastConfig,
    RNNForSequenceClassification,
    RNNForTimeSeriesPrediction,
    RNNForTokenClassification,
    RNNSeq2SeqConfig,
    RNNSeq2SeqForConditionalGeneration,
)
from hf_rnn.model_card import (
    MODEL_CARDS_DIR,
    TASKS,
    card_hyperparameters,
    card_license,
    describe_data,
    hub_dataset,
    render_model_card,
    training_command,
    write_model_card,
)
from hf_rnn.plots import plot_loss
from hf_rnn.tasks import TASKS as TASK_REGISTRY

REPO_ID = "someone/my-rnn"
COMMAND = "accelerate launch scripts/train.py --task {task} --cell gru --hidden_size 64 --max_steps 30"


def build(task: str):
    if task == "causal-lm":
        return seeded(RNNForCausalLM, tiny_config(cell="lstm"))
    if task == "sequence-classification":
        config = tiny_config(cell="gru", bidirectional=True, num_labels=2, id2label={0: "negative", 1: "positive"})
        return seeded(RNNForSequenceClassification, config)
    if task == "token-classification":
        labels = {0: "O", 1: "B-PER", 2: "I-PER"}
        return seeded(RNNForTokenClassification, tiny_config(cell="rnn_tanh", num_labels=3, id2label=labels))
    if task == "time-series-forecasting":
        config = RNNForecastConfig(context_length=8, prediction_length=4, segment_length=4, hidden_size=8)
        return seeded(RNNForTimeSeriesPrediction, config)
    config = RNNSeq2SeqConfig(
        vocab_size=40, encoder_cell="gru", decoder_cell="lstm", encoder_hidden_size=8, decoder_hidden_size=8,
        encoder_layers=1, decoder_layers=1, attention="bahdanau",
    )  # fmt: skip
    return seeded(RNNSeq2SeqForConditionalGeneration, config)


# task -> (metrics as the training script has them, what the card should report, the cells in the tags)
CASES = {
    "causal-lm": (
        {"eval_loss": 1.2345678, "perplexity": 3.4368, "eval_runtime": 2.5, "eval_samples_per_second": 90.1,
         "epoch": 3.0},
        {"loss": 1.2345678, "perplexity": 3.4368},
        ["lstm"],
    ),
    "sequence-classification": (
        {"eval_loss": 0.3, "eval_accuracy": 0.9125, "eval_f1": 0.9087, "eval_steps_per_second": 4.0},
        {"loss": 0.3, "accuracy": 0.9125, "f1": 0.9087},
        ["gru"],
    ),
    "token-classification": (
        {"eval_precision": 0.81, "eval_recall": 0.78, "eval_f1": 0.7947, "eval_accuracy": 0.95, "eval_samples": 200},
        {"precision": 0.81, "recall": 0.78, "f1": 0.7947, "accuracy": 0.95},
        ["rnn_tanh"],
    ),
    "translation": (
        {"eval_loss": 2.1, "eval_bleu": 23.57, "eval_chrf": 51.2},
        {"loss": 2.1, "bleu": 23.57, "chrf": 51.2},
        ["gru", "lstm"],
    ),
    "time-series-forecasting": (
        {"eval_loss": 0.25, "eval_mse": 8.5, "eval_mae": 1.7, "eval_mse_standardized": 0.19, "eval_runtime": 0.3},
        {"loss": 0.25, "mse": 8.5, "mae": 1.7, "mse_standardized": 0.19},
        ["gru"],
    ),
}  # fmt: skip
HYPERPARAMETERS = {"learning_rate": 0.002, "per_device_train_batch_size": 16, "lr_scheduler_type": "cosine"}


@pytest.fixture(params=list(TASKS))
def card(request, tmp_path):
    task = request.param
    metrics, expected, cells = CASES[task]
    card = write_model_card(
        tmp_path,
        task=task,
        model=build(task),
        metrics=metrics,
        dataset_name="someone/some-data",
        dataset_config_name="default",
        dataset_description="Some Data",
        training_command=COMMAND.format(task=task),
        hyperparameters=HYPERPARAMETERS,
        repo_id=REPO_ID,
    )
    return {"task": task, "path": tmp_path / "README.md", "card": card, "expected": expected, "cells": cells}


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_there_is_one_template_per_task():
    assert sorted(path.stem for path in MODEL_CARDS_DIR.glob("*.md")) == sorted(TASKS)


def test_front_matter_has_the_hub_metadata(card):
    text = card["path"].read_text(encoding="utf-8")
    assert text == str(card["card"])
    metadata = front_matter(text)
    task = card["task"]
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == TASKS[task]["pipeline_tag"]
    assert metadata["tags"] == ["hf_rnn", "rnn", *card["cells"], task]
    assert metadata["datasets"] == ["someone/some-data"]
    assert metadata["metrics"] == list(card["expected"])


def test_metadata_round_trips_through_huggingface_hub(card):
    metadata = front_matter(card["path"].read_text(encoding="utf-8"))
    assert metadata_load(card["path"]) == metadata
    assert ModelCard.load(card["path"]).data.to_dict() == metadata
    assert ModelCardData(**metadata).to_dict() == metadata


def test_model_index_carries_exactly_the_given_metric_values(card):
    metadata = front_matter(card["path"].read_text(encoding="utf-8"))
    model_name, results = model_index_to_eval_results(metadata["model-index"])
    assert model_name == "my-rnn"
    assert {result.metric_type: result.metric_value for result in results} == card["expected"]
    for result in results:
        assert result.task_type == TASKS[card["task"]]["pipeline_tag"]
        assert (result.dataset_type, result.dataset_name, result.dataset_config) == (
            "someone/some-data",
            "Some Data",
            "default",
        )
        assert result.dataset_split == "validation"


def test_body_documents_training_and_both_ways_to_load(card):
    body = card["card"].text
    task, auto_class = card["task"], TASKS[card["task"]]["auto_class"]
    assert "{{" not in body and "{%" not in body and "}}" not in body
    assert COMMAND.format(task=task) in body
    for name, value in HYPERPARAMETERS.items():
        assert f"| {name} | {value} |" in body
    assert "import hf_rnn" in body
    assert f'{auto_class}.from_pretrained("{REPO_ID}")' in body
    assert f'{auto_class}.from_pretrained("{REPO_ID}", trust_remote_code=True)' in body
    if task != "time-series-forecasting":  # the text tasks: a tokenizer and a pipeline (series have neither)
        assert f'AutoTokenizer.from_pretrained("{REPO_ID}", trust_remote_code=True)' in body
        assert f'pipeline("{TASKS[task]["pipeline_task"]}", model="{REPO_ID}"' in body
    assert "## Limitations" in body
    assert f"{build(task).num_parameters():,} parameters" in body
    for cell in card["cells"]:
        assert f"| {cell} |" in body  # the architecture table


def test_metric_table_shows_every_reported_metric(card):
    body = card["card"].text
    for name in card["expected"]:
        assert f"| {name} | " in body
    assert "runtime" not in body and "per_second" not in body


def test_translation_card_names_the_hf_rnn_pipeline_task():
    card = render_model_card(
        task="translation", model=build("translation"), metrics={}, training_command="x", hyperparameters={}
    )
    assert card.data.pipeline_tag == "translation"
    assert "`hf-rnn-translation`" in card.text
    assert "| attention | bahdanau |" in card.text
    assert card.data.datasets is None and card.data.eval_results is None  # no data id, no metrics: omitted


def test_classification_cards_list_the_labels():
    card = render_model_card(
        task="token-classification",
        model=build("token-classification"),
        metrics={"eval_f1": 0.5},
        training_command="x",
        hyperparameters={},
    )
    assert "`O`, `B-PER`, `I-PER`" in card.text


def test_unknown_task_is_a_value_error_naming_task_and_the_choices():
    with pytest.raises(ValueError, match="task") as error:
        render_model_card(
            task="summarization", model=build("causal-lm"), metrics={}, training_command="x", hyperparameters={}
        )
    for task in TASKS:
        assert task in str(error.value)
    assert "summarization" in str(error.value)


def test_missing_templates_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("hf_rnn.model_card.MODEL_CARDS_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="model_cards"):
        render_model_card(
            task="causal-lm", model=build("causal-lm"), metrics={}, training_command="x", hyperparameters={}
        )


def test_training_command_names_the_launcher_and_quotes_arguments(monkeypatch):
    argv = ["scripts/train.py", "--task", "causal-lm", "--sample_prompt", "Beautiful is"]
    for name in ("ACCELERATE_DYNAMO_BACKEND", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    assert training_command(argv) == "python scripts/train.py --task causal-lm --sample_prompt 'Beautiful is'"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "1")
    assert training_command(argv).startswith("torchrun scripts/train.py ")
    monkeypatch.setenv("ACCELERATE_DYNAMO_BACKEND", "no")
    assert training_command(argv).startswith("accelerate launch scripts/train.py ")


# What a card says about a training run: transformers' own wording, what it does not claim, the loss plot's unit.


def test_hyperparameters_are_those_of_transformers_cards_with_plain_values(tmp_path):
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path), lr_scheduler_type="cosine", optim="adamw_torch_fused", max_steps=30,
        gradient_accumulation_steps=2, weight_decay=0.01, report_to="none",
    )  # fmt: skip
    hyperparameters = card_hyperparameters(args)
    transformers_own = extract_hyperparameters_from_trainer(types.SimpleNamespace(args=args))
    assert list(hyperparameters)[: len(transformers_own)] == list(transformers_own)  # its names, in its order
    assert hyperparameters["lr_scheduler_type"] == "cosine" and hyperparameters["training_steps"] == 30
    assert hyperparameters["total_train_batch_size"] == 2 * args.per_device_train_batch_size
    assert hyperparameters["optimizer"].startswith("Use adamw_torch_fused with betas=(0.9,0.999)")
    assert (hyperparameters["weight_decay"], hyperparameters["max_grad_norm"]) == (0.01, 1.0)
    card = render_model_card(
        task="causal-lm", model=build("causal-lm"), metrics={}, training_command="x", hyperparameters=hyperparameters
    )
    assert "| lr_scheduler_type | cosine |" in card.text
    assert "SchedulerType" not in card.text and "OptimizerNames" not in card.text  # no enum reprs


def test_metrics_are_rounded_as_transformers_cards_round_them():
    card = render_model_card(
        task="causal-lm", model=build("causal-lm"), metrics={"eval_loss": 1.2345678, "perplexity": 3.5},
        training_command="x", hyperparameters={},
    )  # fmt: skip
    assert "| loss | 1.2346 |" in card.text and "| perplexity | 3.5 |" in card.text
    assert card.data.eval_results[0].metric_value == 1.2345678  # model-index keeps the exact value


def test_a_local_dataset_folder_is_no_hub_dataset(tmp_path):
    folder = tmp_path / "private" / "sst2"
    folder.mkdir(parents=True)
    assert hub_dataset(str(folder)) is None and hub_dataset("stanfordnlp/sst2") == "stanfordnlp/sst2"
    description = describe_data("sequence-classification", str(folder))
    assert description == "the local dataset `sst2`"  # not "the Hub dataset", and no local path published
    assert describe_data("sequence-classification", "stanfordnlp/sst2") == "the Hub dataset `stanfordnlp/sst2`"
    card = render_model_card(
        task="sequence-classification", model=build("sequence-classification"), metrics={"eval_accuracy": 0.5},
        training_command="x", hyperparameters={}, dataset_name=hub_dataset(str(folder)),
        dataset_description=description,
    )  # fmt: skip
    assert card.data.datasets is None
    assert "huggingface.co/datasets" not in card.text


def test_the_license_is_the_given_one_or_the_local_base_models(tmp_path):
    assert card_license(None) is None  # no license chosen: the card claims none
    assert card_license("apache-2.0", str(tmp_path)) == "apache-2.0"
    assert card_license(None, "someone/hub-model") is None  # a Hub model's card is not fetched
    assert card_license(None, str(tmp_path)) is None  # a folder without a card
    card = render_model_card(
        task="causal-lm", model=build("causal-lm"), metrics={}, training_command="x", hyperparameters={},
        license="mit",
    )  # fmt: skip
    card.save(tmp_path / "README.md")
    assert front_matter((tmp_path / "README.md").read_text())["license"] == "mit"
    assert card_license(None, str(tmp_path)) == "mit"  # continuing from that model keeps its license


@pytest.mark.parametrize("task", ["causal-lm", "sequence-classification", "token-classification", "translation"])
def test_the_card_shows_the_regularizers_its_task_uses(task):
    model = build(task)
    values = {"word_dropout": 0.1, "locked_dropout": True, "weight_drop": 0.2, "activation_regularization": 2.0,
              "temporal_activation_regularization": 1.0}  # fmt: skip
    for name, value in values.items():
        if hasattr(model.config, name):
            setattr(model.config, name, value)
    card = render_model_card(task=task, model=model, metrics={}, training_command="x", hyperparameters={})
    for name, value in values.items():
        shown = f"| {name} | {value} |" in card.text
        assert shown == (name in TASK_REGISTRY[task].regularizers), name


@pytest.mark.parametrize(
    ("task", "config_changes", "label"),
    [
        ("causal-lm", {}, "loss (nats per token)"),
        ("causal-lm", {"activation_regularization": 2.0}, "loss (nats per token; training adds the AR/TAR penalties)"),
        ("sequence-classification", {}, "loss (cross-entropy, nats per example)"),
        ("sequence-classification", {"problem_type": "regression"}, "loss (squared error per example)"),
        ("token-classification", {}, "loss (nats per labelled token)"),
        ("translation", {}, "loss (nats per target token)"),
        ("time-series-forecasting", {}, "loss (squared error per value, standardized)"),
        ("time-series-forecasting", {"distribution_output": "student_t"},
         "loss (negative log-likelihood per value, standardized)"),
    ],
)  # fmt: skip
def test_the_loss_plot_says_what_the_task_loss_measures(tmp_path, task, config_changes, label):
    config = build(task).config
    for name, value in config_changes.items():
        setattr(config, name, value)
    assert TASK_REGISTRY[task].loss_label(config) == label
    history = [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7}, {"step": 2, "eval_loss": 0.8}]
    figure = plot_loss(history, tmp_path / "loss.png", ylabel=label)
    assert figure.axes[0].get_ylabel() == label
    assert (tmp_path / "loss.png").is_file()


@pytest.mark.slow  # trains in a subprocess
def test_a_trained_classifier_card_on_a_local_dataset_folder(tmp_path):
    """The card `scripts/train.py` writes: the flags' license, no Hub dataset, plain hyperparameters, regularizers."""
    folder = tmp_path / "sst2"
    folder.mkdir()
    for split, rows in (("train", 64), ("validation", 16)):
        lines = [f"this film is {'good' if i % 2 else 'bad'},{i % 2}" for i in range(rows)]
        (folder / f"{split}.csv").write_text("sentence,label\n" + "\n".join(lines) + "\n")
    arguments = [
        "--task", "sequence-classification", "--dataset_name", "sst2", "--max_steps", "4", "--hidden_size", "8",
        "--eval_steps", "2", "--save_strategy", "no", "--license", "apache-2.0", "--word_dropout", "0.1",
        "--locked_dropout", "--lr_scheduler_type", "cosine", "--optim", "adamw_torch",
    ]  # fmt: skip
    out = succeeded(run_scripts_concurrently(tmp_path, {"run": arguments})["run"])
    text = (out / "README.md").read_text()
    metadata = front_matter(text)
    assert metadata["license"] == "apache-2.0"
    assert "datasets" not in metadata and "huggingface.co/datasets" not in text
    assert metadata["model-index"][0]["results"][0]["dataset"]["name"] == "the local dataset `sst2`"
    assert "| lr_scheduler_type | cosine |" in text and "Use adamw_torch with" in text
    assert "SchedulerType" not in text and "OptimizerNames" not in text
    assert "| word_dropout | 0.1 |" in text and "| locked_dropout | True |" in text
