"""Stateful truncated backpropagation through time for `RNNForCausalLM`, as the classic RNN LM toolkits train.

PyTorch's `word_language_model` and AWD-LSTM do not train on independent blocks: the training text is one token
stream, cut into `batch_size` contiguous streams (one per batch row, `batchify`), and batch k holds positions
`[k * bptt, (k + 1) * bptt)` of every stream. The recurrent state at the end of batch k starts batch k + 1, detached
so that gradients stop at the chunk boundary; evaluation runs the validation text the same way, so that every
validation token is predicted once, from its whole stream's past, and perplexity is exp of the mean loss.

Chunk boundaries: a chunk's inputs never overlap the next chunk's (the carried state has consumed them), and its
targets are the next tokens in the stream, passed as `shift_labels` (which transformers' causal-LM loss and
`Trainer`'s token count read instead of shifting `labels`): the last input of chunk k predicts the first input of
chunk k + 1. Consecutive streams share one token (the last token of stream s is the first of stream s + 1), so
every next-token pair of the text is predicted exactly once.

Under DDP the text is cut into `world_size * batch_size` streams and rank r reads rows `[r * batch_size,
(r + 1) * batch_size)`. The loaders bypass `accelerator.prepare`, whose sharding would deal whole batches
round-robin to the ranks: each rank already holds exactly its own streams, in order, and every rank has the same
number of chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from transformers.trainer_utils import EvalLoopOutput

from .cache_rnn import RecurrentCache, output_state
from .fine_tuning import FineTuningTrainer

# The batch key holding a chunk's position k in its streams; chunk 0 starts from a zero state.
CHUNK_INDEX = "chunk_index"

__all__ = [
    "CHUNK_INDEX",
    "StatefulLMTrainer",
    "StreamChunks",
    "rank_streams",
    "split_into_streams",
    "stream_length",
    "token_stream",
]


def token_stream(data: torch.Tensor | Iterable[int] | Mapping | Any) -> torch.Tensor:
    """
    One 1-D LongTensor of token ids: `data` itself (a 1-D tensor, or a list of ids), or the `input_ids` rows of a
    dataset (a `datasets.Dataset`, or a dict of columns, e.g. from `hf_rnn.data.tokenize_texts`) concatenated in
    order.
    """
    if isinstance(data, torch.Tensor):
        if data.dim() != 1:
            raise ValueError(f"a token stream is a 1-D tensor of ids; got shape {tuple(data.shape)}.")
        return data.long()
    if isinstance(data, (list, tuple)):
        return torch.tensor(data, dtype=torch.long)
    return torch.tensor(list(chain.from_iterable(data["input_ids"])), dtype=torch.long)


def stream_length(num_tokens: int, num_streams: int) -> int:
    """The next-token pairs per stream when `num_tokens` are cut into `num_streams` streams; at least 1."""
    length = (num_tokens - 1) // num_streams
    if length < 1:
        raise ValueError(
            f"{num_tokens} tokens cannot make {num_streams} streams (batch size x processes) of at least one "
            "next-token pair each; use a smaller batch size or more text."
        )
    return length


def split_into_streams(token_ids: torch.Tensor, num_streams: int) -> torch.Tensor:
    """
    Cut a 1-D token stream into `num_streams` contiguous streams, as `word_language_model`'s `batchify`.

    Returns `(num_streams, n + 1)` with `n = (len(token_ids) - 1) // num_streams`: row s is
    `token_ids[s * n : (s + 1) * n + 1]`, so row s ends with the token that starts row s + 1, and the rows hold
    every next-token pair of the first `num_streams * n + 1` tokens exactly once. The rest (fewer than
    `num_streams` tokens) is dropped.
    """
    n = stream_length(len(token_ids), num_streams)
    positions = torch.arange(num_streams)[:, None] * n + torch.arange(n + 1)
    return token_ids[positions]


def rank_streams(token_ids: torch.Tensor, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """
    The `(batch_size, n + 1)` streams process `rank` of `world_size` owns: rows `[rank * batch_size,
    (rank + 1) * batch_size)` of the text cut into `world_size * batch_size` streams.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size}).")
    return split_into_streams(token_ids, world_size * batch_size)[rank * batch_size : (rank + 1) * batch_size]


class StreamChunks(Dataset):
    """
    The batches of stateful truncated BPTT over one process's streams; item k is a whole batch:

        input_ids     (batch_size, time)  stream positions [k * bptt, (k + 1) * bptt); the last chunk may be shorter
        labels        (batch_size, time)  the same ids (transformers' convention; the loss reads shift_labels)
        shift_labels  (batch_size, time)  the next token of every input, across the chunk boundary included
        chunk_index   k                   0 starts the streams from a zero state
    """

    def __init__(self, token_ids: torch.Tensor, batch_size: int, bptt: int, rank: int = 0, world_size: int = 1):
        if bptt < 1 or batch_size < 1:
            raise ValueError(f"bptt ({bptt}) and batch_size ({batch_size}) must be positive.")
        self.streams = rank_streams(token_ids, batch_size, rank, world_size)
        self.bptt = bptt

    def __len__(self) -> int:
        return math.ceil((self.streams.size(1) - 1) / self.bptt)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        if not 0 <= index < len(self):
            raise IndexError(f"chunk {index} of {len(self)}")
        start = index * self.bptt
        end = min(start + self.bptt, self.streams.size(1) - 1)
        input_ids = self.streams[:, start:end].clone()
        return {
            "input_ids": input_ids,
            "labels": input_ids.clone(),
            "shift_labels": self.streams[:, start + 1 : end + 1].clone(),
            CHUNK_INDEX: index,
        }


def only_item(items: list):
    """Collate function for a loader of batch size 1 over `StreamChunks`, whose items are batches already."""
    return items[0]


class StatefulLMTrainer(FineTuningTrainer):
    """
    `Trainer` for stateful truncated BPTT of an `RNNForCausalLM` (see the module docstring for the layout), with
    ULMFiT's fine-tuning options (`hf_rnn.fine_tuning`) for fine-tuning a language model on new text.

    `train_dataset` and `eval_dataset` are token streams: a 1-D tensor or list of ids, or a dataset whose
    `input_ids` rows are concatenated in order (`hf_rnn.data.tokenize_texts(...)["train"]`); `eval_dataset` may
    also be a dict of them. `args.per_device_train_batch_size` (`per_device_eval_batch_size`) is the number of
    streams per process, `bptt` the chunk length. The recurrent state carries from batch to batch, detached, and
    restarts from zero at each epoch (at chunk 0); with gradient accumulation each micro-batch continues the
    previous one. There is no shuffling, and no data collator (the batches are built here). `eval_loss` is the mean
    cross-entropy over every next-token pair of the evaluation streams, so `exp(eval_loss)` is the classic
    perplexity. Resuming from a checkpoint mid-epoch restarts the state from zero there (it is not saved).
    `carry_state=False` starts every training chunk from a zero state instead (evaluation still carries it).
    """

    def __init__(
        self,
        model=None,
        args=None,
        *,
        bptt: int = 35,
        carry_state: bool = True,
        train_dataset=None,
        eval_dataset=None,
        **kwargs,
    ):
        if bptt < 1:
            raise ValueError(f"bptt={bptt} is invalid; it is the chunk length in tokens, at least 1.")
        for name in ("compute_metrics", "compute_loss_func", "preprocess_logits_for_metrics"):
            if kwargs.get(name) is not None:
                raise ValueError(f"StatefulLMTrainer does not take {name}: its loss and eval_loss are fixed.")
        if eval_dataset is not None:
            eval_dataset = (
                {name: token_stream(data) for name, data in eval_dataset.items()}
                if isinstance(eval_dataset, dict)
                else token_stream(eval_dataset)
            )
        train_dataset = token_stream(train_dataset) if train_dataset is not None else None
        super().__init__(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)
        if self.args.label_smoothing_factor > 0:
            raise ValueError("StatefulLMTrainer does not support label_smoothing_factor (it would shift the labels).")
        if self.args.n_gpu > 1:
            raise ValueError(
                "StatefulLMTrainer cannot run under DataParallel (one process, several GPUs): its recurrent state "
                "cannot be scattered. Launch one process per GPU (torchrun or accelerate launch)."
            )
        self.bptt = bptt
        # False: the same chunks, each training chunk from a zero state (the ablation of what carrying is worth).
        self.carry_state = carry_state
        # The state after the last training chunk, detached: where the next training chunk starts.
        self.carried_state: RecurrentCache | None = None

    def stream_chunks(self, token_ids: torch.Tensor, batch_size: int) -> StreamChunks:
        """This process's chunks of `token_ids` cut into `batch_size` streams per process."""
        return StreamChunks(token_ids, batch_size, self.bptt, self.args.process_index, self.args.world_size)

    def stream_loader(self, chunks: StreamChunks) -> DataLoader:
        # Not through accelerator.prepare: each process already holds exactly its own streams, in order.
        return DataLoader(
            chunks,
            batch_size=1,
            shuffle=False,
            collate_fn=only_item,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )

    def get_train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise ValueError("Trainer: training requires a train_dataset.")
        return self.stream_loader(self.stream_chunks(self.train_dataset, self.args.per_device_train_batch_size))

    def get_eval_dataloader(self, eval_dataset: str | torch.Tensor | None = None) -> DataLoader:
        if eval_dataset is None and self.eval_dataset is None:
            raise ValueError("Trainer: evaluation requires an eval_dataset.")
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        eval_dataset = self.eval_dataset if eval_dataset is None else token_stream(eval_dataset)
        return self.stream_loader(self.stream_chunks(eval_dataset, self.args.per_device_eval_batch_size))

    def get_test_dataloader(self, test_dataset) -> DataLoader:
        return self.get_eval_dataloader(token_stream(test_dataset))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The loss of one training chunk, continuing from `carried_state` (zero at chunk 0), which it updates."""
        inputs = dict(inputs)
        state = self.carried_state if inputs.pop(CHUNK_INDEX) > 0 and self.carry_state else None
        loss, outputs = super().compute_loss(
            model,
            {**inputs, "cache": state, "use_cache": True},
            return_outputs=True,
            num_items_in_batch=num_items_in_batch,
        )
        # Detaching replaces the stored tensors; the graph of this chunk keeps its own, for backward.
        self.carried_state = output_state(outputs).detach_()
        return (loss, outputs) if return_outputs else loss

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ) -> EvalLoopOutput:
        """Run every evaluation stream with its state carried; `<prefix>_loss` is the mean over all its tokens."""
        model = self._wrap_model(self.model, training=False)
        model.eval()
        self.callback_handler.eval_dataloader = dataloader
        summed = torch.zeros(2, dtype=torch.float64, device=self.args.device)  # loss, predicted tokens
        state = None
        with torch.no_grad():
            for inputs in dataloader:
                inputs = self._prepare_inputs(inputs)
                with self.compute_loss_context_manager():
                    outputs = model(
                        input_ids=inputs["input_ids"],
                        cache=state if inputs[CHUNK_INDEX] > 0 else None,
                        use_cache=True,
                    )
                state = output_state(outputs)
                targets = inputs["shift_labels"]
                summed[0] += F.cross_entropy(
                    outputs.logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum"
                )
                summed[1] += targets.ne(-100).sum()
                self.control = self.callback_handler.on_prediction_step(self.args, self.state, self.control)
        summed = self.accelerator.reduce(summed, reduction="sum")  # every process's own streams
        metrics = {f"{metric_key_prefix}_loss": (summed[0] / summed[1]).item()}
        num_rows = len(dataloader) * self.args.per_device_eval_batch_size * self.args.world_size
        return EvalLoopOutput(predictions=None, label_ids=None, metrics=metrics, num_samples=num_rows)
