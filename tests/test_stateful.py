"""Stateful truncated BPTT (`hf_rnn.stateful`), as PyTorch's word_language_model and AWD-LSTM train.

Spec: the training text is cut into `batch_size` contiguous streams (`world_size * batch_size` under DDP, rank r
reading its own rows); batch k holds positions [k * bptt, (k + 1) * bptt) of every stream and predicts every
next-token pair of the text exactly once, the pair across a chunk boundary included. The recurrent state carries
from batch to batch, detached (gradients stop at the boundary), and restarts from zero at each epoch; with
gradient accumulation each micro-batch continues the previous one. Evaluation carries the state over each
validation stream, and `eval_loss` is the mean next-token loss over every validation token.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import VOCAB_SIZE, run_train_script, seeded, tiny_config
from transformers import TrainingArguments

from hf_rnn import (
    RecurrentCache,
    RNNForCausalLM,
    StatefulLMTrainer,
    StreamChunks,
    output_state,
    rank_streams,
    split_into_streams,
)
from hf_rnn.stateful import CHUNK_INDEX

STREAMS = 3  # batch rows
PAIRS = 16  # next-token pairs per stream
TEXT_LENGTH = STREAMS * PAIRS + 1


pytestmark = pytest.mark.usefixtures("one_thread")


def random_text(length: int = TEXT_LENGTH, seed: int = 0) -> torch.Tensor:
    return torch.randint(4, VOCAB_SIZE, (length,), generator=torch.Generator().manual_seed(seed))


def chunk_pairs(chunks: StreamChunks) -> list[tuple[int, int]]:
    """Every (input, target) pair the chunks predict, in order."""
    pairs = []
    for k in range(len(chunks)):
        batch = chunks[k]
        pairs += zip(batch["input_ids"].flatten().tolist(), batch["shift_labels"].flatten().tolist())
    return pairs


def stateful_trainer(
    model,
    output_dir,
    bptt: int,
    train_text=None,
    eval_text=None,
    trainer_class=StatefulLMTrainer,
    carry_state: bool = True,
    **overrides,
):
    """A `StatefulLMTrainer` with `STREAMS` streams, plain SGD at a constant rate, no clipping, no logging."""
    values = {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": STREAMS,
        "per_device_eval_batch_size": STREAMS,
        "optim": "sgd",
        "learning_rate": 1.0,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.0,
        "max_grad_norm": 0.0,
        "use_cpu": True,
        "report_to": [],
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
        "seed": 0,
    }
    values.update(overrides)
    return trainer_class(
        model=model,
        args=TrainingArguments(**values),
        bptt=bptt,
        carry_state=carry_state,
        train_dataset=random_text() if train_text is None else train_text,
        eval_dataset=eval_text,
    )


def layer_states(cache: RecurrentCache, num_layers: int) -> list[torch.Tensor]:
    states = [cache.get_layer_state(i) for i in range(num_layers)]
    return [t for state in states for t in (state if isinstance(state, tuple) else (state,))]


def run_chunks_in_order(model, chunks: list[dict]) -> RecurrentCache:
    """The reference: the model alone, each chunk continuing from the state of the one before."""
    cache = None
    with torch.no_grad():
        for batch in chunks:
            cache = output_state(model(input_ids=batch["input_ids"], cache=cache, use_cache=True))
    return cache


# The layout


def test_each_batch_row_continues_its_stream_where_the_previous_batch_ended():
    token_ids = torch.arange(103)  # 4 streams of 25 pairs; chunks of 7, 7, 7, 4
    chunks = StreamChunks(token_ids, batch_size=4, bptt=7)
    assert len(chunks) == 4
    assert [chunks[k]["input_ids"].shape for k in range(4)] == [(4, 7)] * 3 + [(4, 4)]
    for k in range(1, len(chunks)):
        previous, current = chunks[k - 1], chunks[k]
        assert torch.equal(current["input_ids"][:, 0], previous["input_ids"][:, -1] + 1)
        # The last input of a chunk predicts the first input of the next one: the boundary pair is kept.
        assert torch.equal(previous["shift_labels"][:, -1], current["input_ids"][:, 0])
        assert current[CHUNK_INDEX] == k
    rows = torch.cat([chunks[k]["input_ids"] for k in range(len(chunks))], dim=1)
    assert torch.equal(rows, torch.arange(4)[:, None] * 25 + torch.arange(25))  # contiguous, like batchify
    assert all(torch.equal(chunks[k]["labels"], chunks[k]["input_ids"]) for k in range(len(chunks)))


def test_every_next_token_pair_of_the_text_is_predicted_exactly_once():
    pairs = chunk_pairs(StreamChunks(torch.arange(103), batch_size=4, bptt=7))
    assert sorted(pairs) == [(i, i + 1) for i in range(100)]  # 4 * 25 pairs; the last 2 tokens are dropped


def test_each_rank_owns_disjoint_streams_and_the_ranks_cover_the_text():
    token_ids = torch.arange(103)
    ranks = [StreamChunks(token_ids, batch_size=2, bptt=7, rank=r, world_size=2) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])  # every rank takes the same number of steps
    rank0, rank1 = (chunk_pairs(chunks) for chunks in ranks)
    assert set(rank0).isdisjoint(rank1)
    assert sorted(rank0 + rank1) == [(i, i + 1) for i in range(100)]
    # Rank r reads rows [2r, 2r + 2) of the text cut into world_size * batch_size streams.
    assert torch.equal(rank_streams(token_ids, 2, rank=1, world_size=2), split_into_streams(token_ids, 4)[2:])
    # Rank 0's rows start the first and second quarters of the text, rank 1's the third and fourth.
    assert [chunks[0]["input_ids"][:, 0].tolist() for chunks in ranks] == [[0, 25], [50, 75]]


def test_text_too_short_for_the_streams_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot make 8 streams"):
        StreamChunks(torch.arange(8), batch_size=4, bptt=2, rank=0, world_size=2)


# Training with the carried state


def test_two_half_chunks_with_carried_state_compute_what_one_full_chunk_computes(cell, tmp_path):
    model = seeded(RNNForCausalLM, tiny_config(cell))
    half = stateful_trainer(model, tmp_path / "half", bptt=PAIRS // 2)
    full = stateful_trainer(model, tmp_path / "full", bptt=PAIRS)
    first, second = half.get_train_dataloader()
    (whole,) = full.get_train_dataloader()

    loss_first, out_first = half.compute_loss(model, first, return_outputs=True)
    loss_second, out_second = half.compute_loss(model, second, return_outputs=True)
    loss_whole, out_whole = full.compute_loss(model, whole, return_outputs=True)

    logits = torch.cat([out_first.logits, out_second.logits], dim=1)
    torch.testing.assert_close(logits, out_whole.logits, atol=1e-6, rtol=0)
    torch.testing.assert_close((loss_first + loss_second) / 2, loss_whole, atol=1e-6, rtol=0)  # equal halves
    for carried, reference in zip(layer_states(half.carried_state, 2), layer_states(full.carried_state, 2)):
        torch.testing.assert_close(carried, reference, atol=1e-6, rtol=0)
    # Not vacuous: the second half from a zero state gives other logits.
    restarted = model(input_ids=second["input_ids"]).logits
    assert (restarted - out_second.logits).abs().max() > 1e-3


def test_gradient_of_a_chunk_stops_at_its_start(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    trainer = stateful_trainer(model, tmp_path, bptt=PAIRS // 2)
    first, second = trainer.get_train_dataloader()

    trainer.compute_loss(model, first)
    assert not any(state.requires_grad for state in layer_states(trainer.carried_state, 2))
    model.zero_grad()
    trainer.compute_loss(model, second).backward()
    truncated = {name: p.grad.clone() for name, p in model.named_parameters()}

    # The reference: the second chunk from a constant copy of the state the first chunk left.
    model.zero_grad()
    start = run_chunks_in_order(model, [first])
    model(
        input_ids=second["input_ids"], labels=second["labels"], shift_labels=second["shift_labels"],
        cache=start, use_cache=True,
    ).loss.backward()  # fmt: skip
    for name, p in model.named_parameters():
        torch.testing.assert_close(truncated[name], p.grad, atol=1e-6, rtol=0, msg=lambda m, n=name: f"{n}: {m}")

    # Not vacuous: full backpropagation through both chunks gives the second chunk's loss other gradients.
    model.zero_grad()
    inputs = torch.cat([first["input_ids"], second["input_ids"]], dim=1)
    logits = model(input_ids=inputs).logits[:, PAIRS // 2 :]
    F.cross_entropy(logits.flatten(0, 1), second["shift_labels"].flatten()).backward()
    assert max((truncated[n] - p.grad).abs().max().item() for n, p in model.named_parameters()) > 1e-4


class RecordingTrainer(StatefulLMTrainer):
    """Keeps the chunk index and logits of every training chunk."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        self.recorded.append((inputs[CHUNK_INDEX], outputs.logits.detach().clone()))
        return (loss, outputs) if return_outputs else loss


def test_state_restarts_from_zero_at_each_epoch(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    trainer = stateful_trainer(
        model, tmp_path, PAIRS // 2, trainer_class=RecordingTrainer, num_train_epochs=2, learning_rate=0.0
    )
    trainer.train()  # learning rate 0: both epochs run the same weights

    assert [index for index, _ in trainer.recorded] == [0, 1, 0, 1]
    (_, epoch1_first), (_, epoch1_second), (_, epoch2_first), (_, epoch2_second) = trainer.recorded
    torch.testing.assert_close(epoch2_first, epoch1_first, atol=1e-6, rtol=0)
    torch.testing.assert_close(epoch2_second, epoch1_second, atol=1e-6, rtol=0)
    # Not vacuous: the first chunk continuing the state that epoch 1 ended with gives other logits.
    first, second = trainer.get_train_dataloader()
    carried = run_chunks_in_order(model, [first, second])
    continued = model(input_ids=first["input_ids"], cache=carried, use_cache=True).logits
    assert (continued - epoch1_first).abs().max() > 1e-3


def test_without_carried_state_every_training_chunk_starts_from_zero(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    trainer = stateful_trainer(
        model, tmp_path, PAIRS // 2, trainer_class=RecordingTrainer, carry_state=False, num_train_epochs=1,
        learning_rate=0.0,
    )  # fmt: skip
    trainer.train()

    first, second = trainer.get_train_dataloader()
    (_, recorded_first), (_, recorded_second) = trainer.recorded
    with torch.no_grad():
        from_zero = model(input_ids=second["input_ids"]).logits
        carried = run_chunks_in_order(model, [first])
        continued = model(input_ids=second["input_ids"], cache=carried, use_cache=True).logits
    torch.testing.assert_close(recorded_second, from_zero, atol=1e-6, rtol=0)
    assert (recorded_second - continued).abs().max() > 1e-3  # carrying would have given these


def test_gradient_accumulation_continues_the_streams_micro_batch_after_micro_batch(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    initial = seeded(RNNForCausalLM, tiny_config())
    trainer = stateful_trainer(model, tmp_path, bptt=PAIRS // 4, gradient_accumulation_steps=2, max_steps=1)
    chunks = list(trainer.get_train_dataloader())
    trainer.train()  # one SGD step (learning rate 1) over chunks 0 and 1

    # The state after the step is the one from running chunks 0 and 1 in order with the weights they saw.
    reference = run_chunks_in_order(initial, chunks[:2])
    for carried, expected in zip(layer_states(trainer.carried_state, 2), layer_states(reference, 2)):
        torch.testing.assert_close(carried, expected, atol=1e-6, rtol=0)
    # The update is minus the gradient of the mean loss over both micro-batches, each from its detached start.
    start = run_chunks_in_order(initial, chunks[:1])
    first = initial(input_ids=chunks[0]["input_ids"], use_cache=True).logits
    second = initial(input_ids=chunks[1]["input_ids"], cache=start, use_cache=True).logits
    targets = torch.cat([chunks[0]["shift_labels"], chunks[1]["shift_labels"]], dim=1)
    F.cross_entropy(torch.cat([first, second], dim=1).flatten(0, 1), targets.flatten()).backward()
    trained = dict(model.named_parameters())
    for name, p in initial.named_parameters():
        torch.testing.assert_close(trained[name].detach(), p.detach() - p.grad, atol=1e-6, rtol=0, msg=name)
    assert max(p.grad.abs().max().item() for p in initial.parameters()) > 1e-2  # the step moved the weights


# Evaluation


def test_eval_loss_is_the_mean_next_token_loss_over_the_whole_validation_streams(tmp_path):
    model = seeded(RNNForCausalLM, tiny_config())
    validation = random_text(length=3 * 21 + 2, seed=1)  # 3 streams of 21 pairs: chunks of 8, 8, 5
    trainer = stateful_trainer(model, tmp_path, bptt=8, eval_text=validation)
    eval_loss = trainer.evaluate()["eval_loss"]

    # Directly: each stream in one forward from a zero state, the mean over all 63 predicted tokens.
    streams = split_into_streams(validation, 3)
    assert streams.shape == (3, 22)
    with torch.no_grad():
        logits = model(input_ids=streams[:, :-1]).logits
    expected = F.cross_entropy(logits.flatten(0, 1), streams[:, 1:].flatten()).item()
    assert eval_loss == pytest.approx(expected, abs=1e-6)
    # Not vacuous: the mean of per-chunk means (what a plain Trainer reports) weighs the short last chunk wrongly.
    chunk_means = [
        F.cross_entropy(logits[:, start : start + 8].flatten(0, 1), streams[:, start + 1 : start + 9].flatten())
        for start in (0, 8, 16)
    ]
    assert abs(torch.stack(chunk_means).mean().item() - expected) > 1e-4


# scripts/train.py


def test_train_script_with_stateful_bptt_trains_and_reports_perplexity(tmp_path):
    (tmp_path / "train.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 20)
    (tmp_path / "validation.txt").write_text("the lazy dog jumps over the quick brown fox.\n" * 3)
    out = tmp_path / "run"
    run_train_script([
        "--stateful_bptt", "--train_file", str(tmp_path / "train.txt"), "--validation_file",
        str(tmp_path / "validation.txt"), "--block_size", "16", "--per_device_train_batch_size", "4",
        "--per_device_eval_batch_size", "2", "--num_train_epochs", "2", "--hidden_size", "16", "--logging_steps", "1",
        "--eval_strategy", "no", "--save_strategy", "no", "--num_sample_generations", "0", "--use_cpu",
        "--report_to", "none", "--output_dir", str(out),
    ])  # fmt: skip

    results = json.loads((out / "all_results.json").read_text())
    assert math.isfinite(results["eval_loss"])
    assert results["perplexity"] == pytest.approx(math.exp(results["eval_loss"]), rel=1e-9)
    log_history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    # 900 characters: 4 streams of 224 pairs, 14 chunks of 16 per epoch.
    assert sum("loss" in entry for entry in log_history) == 28
    assert json.loads((out / "config.json").read_text())["architectures"] == ["RNNForCausalLM"]


def test_stateful_bptt_with_another_task_is_a_user_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        run_train_script(["--task", "translation", "--stateful_bptt"])
    assert stopped.value.code == 2
    assert "--stateful_bptt is for --task causal-lm" in capsys.readouterr().err
