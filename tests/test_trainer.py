"""Trainer integration: gradient accumulation must weigh every scored item exactly as one big batch would.

Spec: "Trainer with gradient accumulation 2 x batch b gives the same parameter update as batch 2b."

Every run below is one plain-SGD step (lr 1, no momentum, no weight decay, no clipping, constant schedule), so
the parameter change is exactly -grad and two runs agree iff their gradients agree. The examples have different
lengths and the two micro-batches hold different numbers of real tokens: that is where a loss averaged per
micro-batch gives a wrong gradient, and where `num_items_in_batch` (LM, tagger) makes it right.
"""

from __future__ import annotations

import pytest
import torch
from helpers import VOCAB_SIZE, seeded, tiny_config
from transformers import Trainer, TrainerState, TrainingArguments

from hf_rnn import RNNForCausalLM, RNNForSequenceClassification, RNNForTokenClassification
from hf_rnn.training import StopOnNonFiniteTraining, TrainingDiverged

PAD_ID = 0
BATCH = 2  # b: per-device batch of the accumulating run; the full-batch run uses 2b
NUM_LABELS = 3
HEADS = {
    "causal_lm": RNNForCausalLM,
    "token_classification": RNNForTokenClassification,
    "crf_token_classification": RNNForTokenClassification,
    "sequence_classification": RNNForSequenceClassification,
}
CONFIG_OVERRIDES = {"crf_token_classification": {"crf": True}}  # the tagger's CRF: a per-sentence likelihood
# Causal LM trains on right padding (the standard); the classifiers get left padding, which the recurrent stack
# must also ignore.
PADDING_SIDE = {
    "causal_lm": "right",
    "token_classification": "left",
    "crf_token_classification": "left",
    "sequence_classification": "left",
}
# Sequential order: first micro-batch = the two short examples (6 scored tokens), second = the two long ones (18).
LENGTHS = (2, 4, 9, 9)


pytestmark = pytest.mark.usefixtures("one_thread")


def make_examples(head: str) -> list[dict]:
    generator = torch.Generator().manual_seed(1234)
    examples = []
    for length in LENGTHS:
        ids = torch.randint(4, VOCAB_SIZE, (length,), generator=generator).tolist()
        if head == "causal_lm":
            labels = list(ids)
        elif head.endswith("token_classification"):
            labels = torch.randint(0, NUM_LABELS, (length,), generator=generator).tolist()
        else:
            labels = int(torch.randint(0, NUM_LABELS, (), generator=generator))
        examples.append({"input_ids": ids, "labels": labels})
    return examples


def make_collator(padding_side: str):
    """Pads `input_ids` with PAD_ID, builds `attention_mask`, pads per-token labels with -100."""

    def pad(row: list[int], width: int, value: int) -> list[int]:
        filler = [value] * (width - len(row))
        return row + filler if padding_side == "right" else filler + row

    def collate(features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        batch = {
            "input_ids": torch.tensor([pad(f["input_ids"], width, PAD_ID) for f in features]),
            "attention_mask": torch.tensor([pad([1] * len(f["input_ids"]), width, 0) for f in features]),
        }
        if isinstance(features[0]["labels"], list):
            batch["labels"] = torch.tensor([pad(f["labels"], width, -100) for f in features])
        else:
            batch["labels"] = torch.tensor([f["labels"] for f in features])
        return batch

    return collate


def build_model(head: str, model_class=None):
    config = tiny_config("lstm", num_labels=NUM_LABELS, **CONFIG_OVERRIDES.get(head, {}))
    return seeded(model_class or HEADS[head], config, seed=0)


def one_sgd_step(model, head: str, output_dir, per_device_batch: int, accumulation: int) -> dict[str, torch.Tensor]:
    """Run Trainer for exactly one optimizer step on the 2b examples; return the parameters afterwards."""
    args = TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=per_device_batch,
        gradient_accumulation_steps=accumulation,
        max_steps=1,
        optim="sgd",
        learning_rate=1.0,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=0.0,  # <= 0 turns clipping off
        train_sampling_strategy="sequential",
        dataloader_drop_last=False,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=make_examples(head),
        data_collator=make_collator(PADDING_SIDE[head]),
    )
    trainer.train()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def updates_from_both_runs(head: str, tmp_path, model_class=None):
    initial = {name: p.detach().clone() for name, p in build_model(head, model_class).named_parameters()}
    accumulated = one_sgd_step(build_model(head, model_class), head, tmp_path / "ga", BATCH, 2)
    full_batch = one_sgd_step(build_model(head, model_class), head, tmp_path / "full", 2 * BATCH, 1)
    return initial, accumulated, full_batch


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


def test_micro_batches_hold_different_numbers_of_scored_tokens():
    """Precondition of the accumulation tests: equal-sized micro-batches would hide a per-batch mean."""
    for head in ("causal_lm", "token_classification"):
        examples = make_examples(head)
        collate = make_collator(PADDING_SIDE[head])
        counts = []
        for half in (examples[:BATCH], examples[BATCH:]):
            labels = collate(half)["labels"]
            labels = labels[:, 1:] if head == "causal_lm" else labels  # the LM predicts from position 1 on
            counts.append(int(labels.ne(-100).sum()))
        assert counts[0] != counts[1], (head, counts)
        assert min(counts) * 2 < max(counts), (head, counts)


@pytest.mark.parametrize("head", list(HEADS))
def test_trainer_detects_which_heads_take_num_items_in_batch(head, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], disable_tqdm=True)
    trainer = Trainer(model=build_model(head), args=args, data_collator=make_collator("right"))
    # LM and tagger normalise by `num_items_in_batch`; the sequence classifier returns a mean and opts out.
    assert trainer.model_accepts_loss_kwargs is (head != "sequence_classification")


@pytest.mark.parametrize("head", list(HEADS))
def test_gradient_accumulation_matches_full_batch_update(head, tmp_path):
    initial, accumulated, full_batch = updates_from_both_runs(head, tmp_path)
    # The step is not vacuous: parameters moved by far more than the tolerance...
    step = max_difference(initial, full_batch)
    assert step > 1e-2, f"one SGD step barely moved the {head} parameters ({step:.2e})"
    assert max_difference(initial, accumulated) > 1e-2
    # ...and GA 2 x b lands on the same parameters as one batch of 2b.
    for name, value in full_batch.items():
        torch.testing.assert_close(accumulated[name], value, atol=1e-6, rtol=0, msg=lambda m, n=name: f"{n}: {m}")


class CausalLMWithPlainMeanLoss(RNNForCausalLM):
    """Negative control: still takes **kwargs (so Trainer skips its GA division) but drops `num_items_in_batch`."""

    def forward(self, input_ids=None, attention_mask=None, labels=None, num_items_in_batch=None, **kwargs):
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)


class CausalLMWithPerMicroBatchMean(RNNForCausalLM):
    """Negative control: opts out of loss kwargs, so Trainer divides a per-micro-batch token mean by GA."""

    accepts_loss_kwargs = False


@pytest.mark.parametrize("model_class", [CausalLMWithPlainMeanLoss, CausalLMWithPerMicroBatchMean])
def test_accumulation_check_catches_a_loss_that_ignores_num_items_in_batch(model_class, tmp_path):
    """The comparison has teeth: a mean-per-micro-batch loss gives a clearly different update under GA."""
    initial, accumulated, full_batch = updates_from_both_runs("causal_lm", tmp_path, model_class)
    step = max_difference(initial, full_batch)
    assert max_difference(accumulated, full_batch) > 0.1 * step


@pytest.mark.parametrize("head", ["causal_lm", "token_classification", "crf_token_classification"])
def test_loss_with_num_items_equal_to_real_token_count_is_the_mean(head):
    model = build_model(head)
    batch = make_collator("right")(make_examples(head))
    mean_loss = model(**batch).loss
    scored = batch["labels"][:, 1:] if head == "causal_lm" else batch["labels"]
    num_items = scored.ne(-100).sum()
    torch.testing.assert_close(model(**batch, num_items_in_batch=num_items).loss, mean_loss)
    # With one item the loss is the plain sum over scored tokens, so num_items_in_batch really divides.
    summed = model(**batch, num_items_in_batch=torch.tensor(1)).loss
    torch.testing.assert_close(summed, mean_loss * num_items)


def test_sequence_classifier_loss_is_a_mean_whatever_num_items_in_batch_says():
    """`accepts_loss_kwargs = False` promises a per-batch mean; a stray `num_items_in_batch` must not rescale it."""
    model = build_model("sequence_classification")
    batch = make_collator("left")(make_examples("sequence_classification"))
    mean_loss = model(**batch).loss
    expected = torch.nn.functional.cross_entropy(model(**batch).logits, batch["labels"])
    torch.testing.assert_close(mean_loss, expected)
    torch.testing.assert_close(model(**batch, num_items_in_batch=torch.tensor(1)).loss, mean_loss)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_stop_on_non_finite_training_finds_one_bad_weight(bad):
    model = RNNForSequenceClassification(tiny_config(num_labels=2))
    check = StopOnNonFiniteTraining()
    check.on_step_end(None, TrainerState(global_step=3), None, model=model)  # finite: nothing happens
    with torch.no_grad():
        model.get_input_embeddings().weight[5, 2] = bad
    with pytest.raises(TrainingDiverged, match="at step 3"):
        check.on_step_end(None, TrainerState(global_step=3), None, model=model)


def test_stop_on_non_finite_training_takes_large_finite_half_precision_weights():
    model = RNNForSequenceClassification(tiny_config(num_labels=2)).half()
    with torch.no_grad():
        model.get_input_embeddings().weight.fill_(60000.0)  # their sum overflows float16, not float32
    StopOnNonFiniteTraining().on_step_end(None, TrainerState(global_step=1), None, model=model)
