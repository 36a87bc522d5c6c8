"""ULMFiT's fine-tuning schedule (Howard & Ruder, 2018) on `Trainer`'s own loop, and evaluation in dataset order.

`FineTuningTrainer` is `transformers.Trainer` with the three options of `FineTuningOptions` (the `ModelArguments` of
the same names in `scripts/train.py`), each off by default:
- `discriminative_lr_decay`: one optimizer parameter group per layer group, the head at `learning_rate` and each
  group below at the rate of the group above divided by the decay (`discriminative_parameter_groups`);
- `slanted_triangular`: a learning rate that rises linearly for the first `stlr_cut_frac` of the steps, then falls
  linearly (`SlantedTriangular`, a `LambdaLR` factor, so every group keeps its own ratio to the head's rate);
- `gradual_unfreezing`: epoch k trains the top k + 1 layer groups only (`GradualUnfreezing`, a callback).

The layer groups (`layer_groups`) of a model made of an embedding, recurrent layers and a head, from the top: the head
(every parameter outside the base model: a classifier's output layer, a tagger's CRF, a language model's output
layer), each recurrent layer from the top down, the embedding (with what else feeds the first recurrent layer: a
tagger's character encoder). A parameter two groups use (a language model's output matrix tied to its embedding)
belongs to the higher one, as in ULMFiT, whose last group holds the tied encoder and decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import SequentialSampler
from transformers import PreTrainedModel, Trainer, TrainerCallback
from transformers.trainer_utils import has_length

__all__ = [
    "FineTuningOptions",
    "FineTuningTrainer",
    "GradualUnfreezing",
    "SlantedTriangular",
    "discriminative_parameter_groups",
    "layer_groups",
]


@dataclass(frozen=True)
class FineTuningOptions:
    """ULMFiT's options, as the flags of the same names set them; the defaults leave `Trainer` as it is."""

    discriminative_lr_decay: float = 1.0
    gradual_unfreezing: bool = False
    slanted_triangular: bool = False
    stlr_cut_frac: float = 0.1
    stlr_ratio: float = 32.0

    @classmethod
    def from_arguments(cls, arguments) -> FineTuningOptions:
        """The options from an object with attributes of their names (the run's `ModelArguments`)."""
        return cls(**{name: getattr(arguments, name) for name in cls.__dataclass_fields__})


def layer_groups(model: PreTrainedModel) -> list[list[nn.Parameter]]:
    """
    The model's parameters in ULMFiT's layer groups, from the top: the head, the recurrent layers (top first), the
    embedding and the rest of the base model. Groups left empty (a bare model's head, a tied embedding) are dropped.
    """
    body = model.base_model
    if not (isinstance(getattr(body, "embed_tokens", None), nn.Embedding) and hasattr(body, "rnn")):
        raise ValueError(
            f"{type(model).__name__} is not an embedding, recurrent layers and a head: it has no layer groups for "
            "discriminative_lr_decay or gradual_unfreezing."
        )
    prefix = f"{model.base_model_prefix}."
    head = [p for name, p in model.named_parameters(remove_duplicate=False) if not name.startswith(prefix)]
    candidates = [head, *(list(layer.parameters()) for layer in reversed(body.rnn.layers))]
    candidates.append([*body.embed_tokens.parameters(), *body.parameters()])  # the embedding first, then the rest
    groups, seen = [], set()
    for candidate in candidates:
        group = []
        for parameter in candidate:
            if id(parameter) not in seen:
                seen.add(id(parameter))
                group.append(parameter)
        if group:
            groups.append(group)
    return groups


def discriminative_parameter_groups(
    model: PreTrainedModel,
    learning_rate: float,
    decay: float,
    weight_decay: float = 0.0,
    decay_parameter_names: list[str] | None = None,
) -> list[dict]:
    """
    Optimizer parameter groups: layer group k from the top (`layer_groups`) learns at `learning_rate / decay**k`.
    Each layer group is split, as `Trainer` splits the whole model, into the parameters named in
    `decay_parameter_names` (weight decay `weight_decay`; default: all) and the others (none).
    """
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    decayed = set(names.values()) if decay_parameter_names is None else set(decay_parameter_names)
    optimizer_groups = []
    for depth, parameters in enumerate(layer_groups(model)):
        rate = learning_rate / decay**depth
        with_decay = [p for p in parameters if names[id(p)] in decayed]
        without_decay = [p for p in parameters if names[id(p)] not in decayed]
        for group, group_decay in ((with_decay, weight_decay), (without_decay, 0.0)):
            if group:
                optimizer_groups.append({"params": group, "lr": rate, "weight_decay": group_decay})
    return optimizer_groups


@dataclass
class SlantedTriangular:
    """
    ULMFiT's slanted triangular learning rate (eq. 3), as the factor of the peak rate after `step` of `total_steps`
    optimizer steps: with cut = floor(total_steps * cut_frac),
        p = step / cut                                        while step < cut,
            1 - (step - cut) / (cut * (1 / cut_frac - 1))     after,
        factor = (1 + p * (ratio - 1)) / ratio,
    from 1 / ratio up to 1 at `cut`, and down to 1 / ratio at the last step. A callable object rather than a
    function, so that `LambdaLR.state_dict()` saves it with a checkpoint.
    """

    total_steps: int
    cut_frac: float = 0.1
    ratio: float = 32.0

    def __call__(self, step: int) -> float:
        cut = max(1, math.floor(self.total_steps * self.cut_frac))  # a run of fewer than 1 / cut_frac steps still rises
        p = step / cut if step < cut else 1 - (step - cut) / (cut * (1 / self.cut_frac - 1))
        return (1 + max(p, 0.0) * (self.ratio - 1)) / self.ratio


class GradualUnfreezing(TrainerCallback):
    """
    Epoch k (counted from 0) trains the top k + 1 of `groups` (`layer_groups`): the others have `requires_grad` off,
    so they get no gradient and the optimizer leaves them as they are (no weight decay either). Derived from the epoch
    at each epoch's start, so a resumed run freezes what the interrupted one did; everything is trainable again after
    training.
    """

    def __init__(self, groups: list[list[nn.Parameter]]):
        self.groups = groups

    def on_epoch_begin(self, args, state, control, **kwargs):
        trained = math.floor((state.epoch or 0) + 1e-6) + 1
        self.set_trainable(trained)

    def on_train_end(self, args, state, control, **kwargs):
        self.set_trainable(len(self.groups))

    def set_trainable(self, top_groups: int) -> None:
        for depth, parameters in enumerate(self.groups):
            for parameter in parameters:
                parameter.requires_grad_(depth < top_groups)


class FineTuningTrainer(Trainer):
    """
    `Trainer` with ULMFiT's options (`fine_tuning`; see the module docstring). Evaluation and prediction also keep the
    dataset's order with `train_sampling_strategy="group_by_length"`: transformers 5 groups evaluation batches by
    length too, which would shuffle the predictions the tasks write next to their rows.
    """

    def __init__(self, *args, fine_tuning: FineTuningOptions | None = None, **kwargs):
        self.fine_tuning = fine_tuning or FineTuningOptions()
        super().__init__(*args, **kwargs)
        if self.fine_tuning.gradual_unfreezing:
            self.add_callback(GradualUnfreezing(layer_groups(self.model)))

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        decay = self.fine_tuning.discriminative_lr_decay
        if self.optimizer is None and decay != 1.0:
            opt_model = self.model if model is None else model
            optimizer_class, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)) or (
                {"params", "model", "optimizer_dict"} & set(optimizer_kwargs)
            ):
                raise ValueError(
                    f"discriminative_lr_decay needs an optimizer of parameter groups; optim {self.args.optim} "
                    "builds its own."
                )
            groups = discriminative_parameter_groups(
                opt_model,
                self.args.learning_rate,
                decay,
                self.args.weight_decay,
                self.get_decay_parameter_names(opt_model),
            )
            self.optimizer = optimizer_class(groups, **optimizer_kwargs)
        return super().create_optimizer(model)  # Trainer's own when no optimizer is set yet

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None and self.fine_tuning.slanted_triangular:
            options = self.fine_tuning
            schedule = SlantedTriangular(num_training_steps, options.stlr_cut_frac, options.stlr_ratio)
            self.lr_scheduler = LambdaLR(optimizer or self.optimizer, schedule)
            self._created_lr_scheduler = True  # as for Trainer's own: a later train() call builds a fresh one
        return super().create_scheduler(num_training_steps, optimizer)

    def _get_eval_sampler(self, eval_dataset):
        grouped = self.args.train_sampling_strategy == "group_by_length"
        if not grouped or eval_dataset is None or not has_length(eval_dataset):
            return super()._get_eval_sampler(eval_dataset)
        # Trainer's choice without grouping: in order, or (None) split in order across the processes by Accelerate.
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None
