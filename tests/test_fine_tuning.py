"""Transfer learning as ULMFiT does it (hf_rnn/fine_tuning.py, hf_rnn/tasks/models.py).

Spec: `--task sequence-classification` (or token-classification) `--model_name_or_path <a language model folder>`
builds the task's model on the language model's body: its embedding and recurrent layers load bit for bit, the head
is new, the folder's tokenizer is the run's, and the result loads through remote code without hf_rnn. The
FineTuningTrainer options do what the paper says: layer group k from the top learns at lr / decay**k
(`--discriminative_lr_decay`), the rate follows the slanted triangle (`--slanted_triangular`), and epoch k trains
exactly the top k + 1 layer groups (`--gradual_unfreezing`). Evaluation keeps the dataset's order when training
batches are grouped by length.
"""

from __future__ import annotations

import json

import datasets
import pytest
import torch
from helpers import BLOCK_HF_RNN, run_train_script, run_without_hf_rnn, seeded, tiny_config
from transformers import AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification, train_tokenizer
from hf_rnn.fine_tuning import FineTuningOptions, FineTuningTrainer, SlantedTriangular, layer_groups
from hf_rnn.model_card import card_hyperparameters, describe_base_model
from hf_rnn.tasks import get_task
from hf_rnn.training import check_run_arguments, parse_arguments

TEXTS = ["a fine film", "dull and long", "not bad at all", "so very boring", "great fun", "long and dull"]
CSV = "text,sentiment\n" + "".join(f'"{text}",{"pos" if i % 2 == 0 else "neg"}\n' for i, text in enumerate(TEXTS * 4))
CONLL = "EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n\n" * 4


@pytest.fixture(scope="module")
def language_model_folder(tmp_path_factory):
    """A (untrained) two-layer LSTM language model saved with a word tokenizer, as `--task causal-lm` leaves one."""
    folder = tmp_path_factory.mktemp("ulmfit") / "lm"
    tokenizer = train_tokenizer([*TEXTS, "EU rejects German Peter Blackburn"], kind="word", vocab_size=40)
    lm = seeded(RNNForCausalLM, tiny_config("lstm", vocab_size=len(tokenizer)))
    lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder.parent / "train.csv").write_text(CSV)
    (folder.parent / "eng.train").write_text(CONLL)
    return folder


def prepared(task: str, argv: list[str], tmp_path):
    """The task's model, tokenizer and datasets for `argv`, as train.py builds them before training."""
    model_args, data_args, training_args = parse_arguments(
        ["--task", task, *argv, "--output_dir", str(tmp_path / "out"), "--report_to", "none"]
    )
    check_run_arguments(model_args, data_args, training_args)
    return get_task(task).prepare(model_args, data_args, training_args)


CLASSIFICATION_DATA = ["--train_file", "{root}/train.csv", "--text_column", "text", "--label_column", "sentiment"]


def data_flags(flags: list[str], folder) -> list[str]:
    return [flag.format(root=folder.parent) for flag in flags]


@pytest.mark.parametrize(
    ("task", "head", "data"),
    [
        ("sequence-classification", "score", CLASSIFICATION_DATA),
        ("token-classification", "classifier", ["--train_file", "{root}/eng.train"]),
    ],
)
def test_a_language_model_folder_lends_its_body_bit_for_bit_and_its_tokenizer(
    language_model_folder, tmp_path, task, head, data
):
    argv = ["--model_name_or_path", str(language_model_folder), *data_flags(data, language_model_folder)]
    setup = prepared(task, argv, tmp_path)
    lm = RNNForCausalLM.from_pretrained(language_model_folder)
    body, loaded = lm.model.state_dict(), setup.model.model.state_dict()
    assert loaded.keys() == body.keys()
    for name in body:
        assert torch.equal(loaded[name], body[name]), name
    names = {name for name, _ in setup.model.named_parameters()}
    assert {f"{head}.weight", f"{head}.bias"} <= names and not any(name.startswith("lm_head") for name in names)
    assert setup.model.config.bidirectional is False  # the language model's direction
    assert len(setup.model.config.id2label) > 1
    assert setup.tokenizer.get_vocab() == AutoTokenizer.from_pretrained(language_model_folder).get_vocab()


def test_a_new_head_takes_its_own_pooling_and_dropout_but_not_a_new_shape(language_model_folder, tmp_path, capsys):
    data = data_flags(CLASSIFICATION_DATA, language_model_folder)
    argv = ["--model_name_or_path", str(language_model_folder), *data, "--classifier_pooling", "max"]
    setup = prepared("sequence-classification", [*argv, "--output_dropout", "0.3"], tmp_path)
    assert setup.model.config.classifier_pooling == "max" and setup.model.config.output_dropout == 0.3
    with pytest.raises(SystemExit):
        run_train_script(["--task", "sequence-classification", *argv, "--hidden_size", "64", "--output_dir",
                          str(tmp_path / "refused")])  # fmt: skip
    assert "--hidden_size cannot be combined with --model_name_or_path" in capsys.readouterr().err


def test_a_classifier_on_a_language_model_loads_through_remote_code_without_hf_rnn(language_model_folder, tmp_path):
    data = data_flags(CLASSIFICATION_DATA, language_model_folder)
    setup = prepared("sequence-classification", ["--model_name_or_path", str(language_model_folder), *data], tmp_path)
    model = setup.model.eval()
    model.save_pretrained(tmp_path / "classifier")
    auto_map = json.loads((tmp_path / "classifier" / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForSequenceClassification"] == "modeling_rnn.RNNForSequenceClassification"
    inputs = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        expected = model(inputs).logits
    script = f"""
{BLOCK_HF_RNN}
import torch
from transformers import AutoModelForSequenceClassification
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
with torch.no_grad():
    logits = model(torch.tensor([[5, 6, 7, 8]])).logits
torch.save({{"blocked": hf_rnn_blocked, "logits": logits, "module": type(model).__module__}}, sys.argv[2])
"""
    run_without_hf_rnn(script, tmp_path / "classifier", tmp_path / "out.pt", work=tmp_path)
    results = torch.load(tmp_path / "out.pt")
    assert results["blocked"] and results["module"].startswith("transformers_modules.")
    assert torch.equal(results["logits"], expected)


def test_the_card_names_the_language_model_the_body_came_from(language_model_folder, monkeypatch):
    monkeypatch.chdir(language_model_folder.parent)
    classifier = RNNForSequenceClassification(tiny_config())
    described = describe_base_model(str(language_model_folder), classifier)
    assert "`lm`" in described and "RNNForCausalLM" in described
    assert "new `RNNForSequenceClassification` head" in described
    assert str(language_model_folder.parent) not in described  # no absolute path is published
    assert describe_base_model("lm", RNNForCausalLM(tiny_config())) == "`lm`, trained further"
    assert describe_base_model(None, classifier) is None


# The layer groups and the optimizer.


def test_layer_groups_run_from_the_head_down_to_the_embedding():
    classifier = RNNForSequenceClassification(tiny_config(num_labels=2))
    groups = layer_groups(classifier)
    body = classifier.model
    expected = [
        [classifier.score.weight, classifier.score.bias],
        list(body.rnn.layers[1].parameters()),
        list(body.rnn.layers[0].parameters()),
        [body.embed_tokens.weight],
    ]
    assert [[id(p) for p in group] for group in groups] == [[id(p) for p in group] for group in expected]
    # A language model's output matrix is its embedding: the tied matrix trains with the head, as in ULMFiT.
    lm = RNNForCausalLM(tiny_config())
    lm_groups = [{id(p) for p in group} for group in layer_groups(lm)]
    assert lm_groups == [
        {id(lm.lm_head.weight), id(lm.lm_head.bias)},
        {id(p) for p in lm.model.rnn.layers[1].parameters()},
        {id(p) for p in lm.model.rnn.layers[0].parameters()},
    ]
    assert lm.lm_head.weight is lm.model.embed_tokens.weight
    # A tagger's CRF is head; its character encoder feeds the first layer, with the embedding.
    tagger = RNNForTokenClassification(tiny_config(num_labels=3, crf=True, char_encoder="cnn", char_alphabet="abc"))
    tagger_groups = [{id(p) for p in group} for group in layer_groups(tagger)]
    assert {id(p) for p in tagger.crf.parameters()} <= tagger_groups[0]
    assert tagger_groups[-1] == {id(tagger.model.embed_tokens.weight), *map(id, tagger.model.char_encoder.parameters())}
    assert sum(map(len, tagger_groups)) == len(list(tagger.parameters()))


def training_arguments(tmp_path, **overrides) -> TrainingArguments:
    values = {"output_dir": str(tmp_path), "report_to": "none", "use_cpu": True, "save_strategy": "no",
              "logging_strategy": "no", "learning_rate": 1e-2, "per_device_train_batch_size": 4, "seed": 0}  # fmt: skip
    return TrainingArguments(**{**values, **overrides})


def test_discriminative_rates_divide_the_learning_rate_by_the_decay_per_group_below_the_head(tmp_path):
    classifier = RNNForSequenceClassification(tiny_config(num_labels=2))
    args, options = training_arguments(tmp_path, weight_decay=0.1), FineTuningOptions(discriminative_lr_decay=2.6)
    optimizer = FineTuningTrainer(model=classifier, args=args, fine_tuning=options).create_optimizer()
    rate_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    grouped = sum(len(group["params"]) for group in optimizer.param_groups)
    assert grouped == len(rate_of) == len(list(classifier.parameters()))  # each parameter in one group
    for depth, group in enumerate(layer_groups(classifier)):
        for parameter in group:
            assert rate_of[id(parameter)] == pytest.approx(1e-2 / 2.6**depth)
    for name, parameter in classifier.named_parameters():
        assert decay_of[id(parameter)] == (0.0 if "bias" in name else 0.1), name  # as Trainer decides
    # Without the option, Trainer's own optimizer: one rate.
    plain = FineTuningTrainer(model=classifier, args=training_arguments(tmp_path)).create_optimizer()
    assert {group["lr"] for group in plain.param_groups} == {1e-2}


# The schedule and the unfreezing, on Trainer's own loop.


def rows(num_rows: int, lengths=None) -> datasets.Dataset:
    generator = torch.Generator().manual_seed(0)
    lengths = lengths or [6] * num_rows
    ids = [torch.randint(4, 37, (length,), generator=generator).tolist() for length in lengths]
    return datasets.Dataset.from_dict({"input_ids": ids, "labels": [i % 2 for i in range(num_rows)]})


def pad_batch(features: list[dict]) -> dict[str, torch.Tensor]:
    width = max(len(row["input_ids"]) for row in features)
    ids = torch.tensor([row["input_ids"] + [0] * (width - len(row["input_ids"])) for row in features])
    mask = torch.tensor([[1] * len(row["input_ids"]) + [0] * (width - len(row["input_ids"])) for row in features])
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([row["labels"] for row in features])}


class RecordRates(TrainerCallback):
    """The learning rate of every optimizer group at each step, before the step is taken."""

    def __init__(self):
        self.rates = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.rates.append([group["lr"] for group in optimizer.param_groups])


def test_slanted_triangular_factor_is_ulmfits_formula():
    schedule = SlantedTriangular(total_steps=1000, cut_frac=0.1, ratio=32)
    cut = 100
    assert schedule(0) == pytest.approx(1 / 32)
    assert schedule(50) == pytest.approx((1 + 0.5 * 31) / 32)
    assert schedule(cut) == pytest.approx(1.0)
    assert schedule(550) == pytest.approx((1 + (1 - 450 / (cut * 9)) * 31) / 32)
    assert schedule(1000) == pytest.approx(1 / 32)


def test_each_step_uses_the_slanted_triangular_rate_of_its_group(tmp_path, one_thread):
    classifier = seeded(RNNForSequenceClassification, tiny_config(num_labels=2)).train()
    args = training_arguments(tmp_path, max_steps=20)
    options = FineTuningOptions(slanted_triangular=True, discriminative_lr_decay=2.0)
    recorder = RecordRates()
    trainer = FineTuningTrainer(
        model=classifier, args=args, fine_tuning=options, train_dataset=rows(16), callbacks=[recorder]
    )
    trainer.train()
    depth_of = {id(p): depth for depth, group in enumerate(layer_groups(classifier)) for p in group}
    depths = [depth_of[id(group["params"][0])] for group in trainer.optimizer.param_groups]
    assert sorted(set(depths)) == [0, 1, 2, 3]  # head, two LSTM layers, embedding
    schedule = SlantedTriangular(20, 0.1, 32)
    assert len(recorder.rates) == 20
    for step, rates in enumerate(recorder.rates):
        expected = [1e-2 / 2.0**depth * schedule(step) for depth in depths]
        assert rates == pytest.approx(expected), step


class RecordWeights(TrainerCallback):
    def __init__(self):
        self.at_epoch_begin, self.at_epoch_end, self.trainable = [], [], []

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        self.at_epoch_begin.append({n: p.detach().clone() for n, p in model.named_parameters()})

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.at_epoch_end.append({n: p.detach().clone() for n, p in model.named_parameters()})
        self.trainable.append({n for n, p in model.named_parameters() if p.requires_grad})  # during the epoch


def test_gradual_unfreezing_trains_exactly_the_top_k_plus_one_groups_in_epoch_k(tmp_path, one_thread):
    classifier = seeded(RNNForSequenceClassification, tiny_config(num_labels=2)).train()
    names = {id(p): n for n, p in classifier.named_parameters()}
    groups = [{names[id(p)] for p in group} for group in layer_groups(classifier)]  # head, layer 1, layer 0, embedding
    # Weight decay too: a frozen parameter must not even decay.
    args = training_arguments(tmp_path, num_train_epochs=5, weight_decay=0.1)
    options = FineTuningOptions(gradual_unfreezing=True)
    recorder = RecordWeights()
    FineTuningTrainer(
        model=classifier, args=args, fine_tuning=options, train_dataset=rows(8), callbacks=[recorder]
    ).train()
    assert len(recorder.at_epoch_end) == 5
    for epoch, (before, after) in enumerate(zip(recorder.at_epoch_begin, recorder.at_epoch_end)):
        trained = set().union(*groups[: epoch + 1])
        assert recorder.trainable[epoch] == trained, epoch
        for name in before:
            changed = not torch.equal(before[name], after[name])
            assert changed == (name in trained), (epoch, name)
    assert all(p.requires_grad for p in classifier.parameters())  # everything trainable after training


def test_predictions_keep_the_dataset_order_when_training_batches_are_grouped_by_length(tmp_path):
    classifier = seeded(RNNForSequenceClassification, tiny_config(num_labels=2))
    dataset = rows(12, lengths=list(range(2, 14)))  # shortest first: grouping by length would reverse them
    args = training_arguments(tmp_path, train_sampling_strategy="group_by_length", per_device_eval_batch_size=4)
    predicted = FineTuningTrainer(model=classifier, args=args, data_collator=pad_batch).predict(dataset)
    with torch.no_grad():
        one_by_one = [classifier(torch.tensor([row])).logits[0] for row in dataset["input_ids"]]
    assert torch.allclose(torch.as_tensor(predicted.predictions), torch.stack(one_by_one), atol=1e-5)
    # Trainer alone would not: transformers 5 groups evaluation batches by length too.
    shuffled = Trainer(model=classifier, args=args, data_collator=pad_batch).predict(dataset)
    assert not torch.allclose(torch.as_tensor(shuffled.predictions), torch.stack(one_by_one), atol=1e-5)


# The flags.


def test_ulmfit_flags_reach_the_trainer_and_the_card(tmp_path):
    model_args, data_args, args = parse_arguments(["--task", "sequence-classification", "--discriminative_lr_decay",
                                                   "2.6", "--gradual_unfreezing", "--slanted_triangular"])  # fmt: skip
    expected = FineTuningOptions(discriminative_lr_decay=2.6, gradual_unfreezing=True, slanted_triangular=True)
    assert FineTuningOptions.from_arguments(model_args) == expected
    # The slanted triangle is the whole schedule; frozen layers have no gradients, which DDP must expect.
    assert args.lr_scheduler_type == "constant" and args.warmup_steps == 0 and args.ddp_find_unused_parameters is True
    shown = card_hyperparameters(args, model_args)
    assert shown["discriminative_lr_decay"] == 2.6 and shown["gradual_unfreezing"] and shown["stlr_ratio"] == 32
    # The task hands them to its trainer (on the embedded data: a quick setup).
    args.output_dir = str(tmp_path)
    setup = get_task("sequence-classification").prepare(model_args, data_args, args)
    assert issubclass(setup.trainer_class, FineTuningTrainer) and setup.trainer_kwargs["fine_tuning"] == expected
    plain_model_args, _, plain = parse_arguments(["--task", "sequence-classification"])
    assert plain.ddp_find_unused_parameters is False
    assert "gradual_unfreezing" not in card_hyperparameters(plain, plain_model_args)


@pytest.mark.parametrize(
    ("arguments", "expected_in_message"),
    [
        (["--task", "translation", "--discriminative_lr_decay", "2.6"], ["--discriminative_lr_decay", "translation"]),
        (["--task", "time-series-forecasting", "--gradual_unfreezing"], ["--gradual_unfreezing", "time-series"]),
        (["--task", "translation", "--slanted_triangular"], ["--slanted_triangular", "translation"]),
        (["--slanted_triangular", "--lr_scheduler_type", "cosine"], ["--slanted_triangular", "--lr_scheduler_type"]),
        (["--slanted_triangular", "--stlr_cut_frac", "1.5"], ["--stlr_cut_frac"]),
        (["--discriminative_lr_decay", "0"], ["--discriminative_lr_decay=0"]),
        (["--early_stopping_patience", "2"], ["--early_stopping_patience", "--metric_for_best_model"]),
        (["--early_stopping_patience", "0", "--metric_for_best_model", "loss"], ["--early_stopping_patience=0"]),
    ],
)
def test_a_fine_tuning_flag_that_cannot_work_stops_before_training(tmp_path, capsys, arguments, expected_in_message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stopped:
        run_train_script([*arguments, "--max_steps", "1", "--output_dir", str(out)])
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1
    for expected in expected_in_message:
        assert expected in errors[0]
    assert not out.exists()
