"""What every pretext task is made of, and the registry of tasks.

A pretext task (benchmark paper §3.1) is four small parts over a backbone's face:

1. how it samples clips from a video: ``clip_sampler()`` returns a sampler whose
   ``sample(video_frames, rng)`` gives frame indices (K, T) and optionally a ``meta`` dict
   (playback rates, clip order...) — see ``sslvid.data.dataset.ClipSampling``;
2. how it makes its labels or views from a batch of raw clips, on the batch's device;
3. its head(s) on top of ``backbone.forward_features`` (B, D);
4. its loss.

``forward(batch)`` runs 2-4 and returns a ``TaskOutput``. The engine first tells the task the
run's length (``plan_steps``); then, per step, it moves the batch to the device, calls
``forward``, steps the optimiser, then calls ``after_step()`` (momentum encoders, queues).
The backbone being pre-trained is ``task.backbone``; it is what downstream evaluation loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import torch
from torch import nn

from sslvid.backbones.base import VideoBackbone
from sslvid.registry import ClassRegistry

TASKS: ClassRegistry[PretextTask] = ClassRegistry("pretext task")

CATEGORIES = ("spatial", "temporal", "spatiotemporal")


@dataclass(frozen=True)
class Recipe:
    """The training numbers a task pre-trains with at one scale; None leaves a field to the
    shared default (``SHARED_RECIPE``) and, for ``batch_size``, ``epochs`` and ``checkpoint_every``,
    to the profile.

    Args:
        optimizer: "sgd", "adam" or "adamw".
        lr: base learning rate (the run's schedule starts from it).
        batch_size: videos per optimiser step, over all processes.
        weight_decay: L2 penalty.
        momentum: SGD momentum (Adam's beta1).
        warmup_epochs: epochs of linear learning-rate warm-up before the schedule.
        epochs, checkpoint_every: the run's length and checkpoint spacing where the task needs another
            length than the profile's (micro only: a profile's checkpoints stand for the paper's epochs
            50/100/150/200, so a task that runs longer saves as many checkpoints, further apart).
        source: where the numbers come from (paper section or released file).
        task_kwargs: the task's own numbers at this scale where they differ from its defaults (the
            authors'), e.g. a momentum encoder's coefficient and queue length; the run's
            ``task_kwargs`` go over them.
    """

    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    warmup_epochs: int | None = None
    epochs: int | None = None
    checkpoint_every: int | None = None
    source: str = ""
    task_kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def values(self) -> dict[str, Any]:
        """The fields it sets (``source`` and ``task_kwargs`` aside), by config field name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("source", "task_kwargs") and getattr(self, f.name) is not None
        }


SHARED_RECIPE = Recipe("sgd", 0.01, None, 5e-4, 0.9, source="the book's shared recipe (benchmarks/pretext_recipes.py)")
"""What a task pre-trains with where its recipe is silent: SGD 0.01, weight decay 5e-4, momentum 0.9."""

CLASSIFICATION_MICRO_RECIPE = Recipe(
    "adam",
    5e-3,
    16,
    5e-4,
    0.9,
    warmup_epochs=1,
    epochs=8,
    checkpoint_every=2,
    source="measured at micro scale (benchmarks/pretext_recipes.py): Adam 5e-3, batch 16, one warm-up epoch, 8 epochs",
)
"""The micro recipe of the pretext tasks that classify a transformation (RotNet, PRP): over the 4 epochs of a
micro run on R(2+1)D it lifted RotNet's accuracy and both tasks' linear probes above the shared SGD recipe's,
where the contrastive tasks lost the digit with it and VCOP stayed at chance (figures in
``benchmarks/pretext_recipes.py``), so those keep the shared recipe. It runs 8 epochs, twice the profile's 4,
with a checkpoint every 2 (still four, standing for the paper's epochs 50-200): in 16-epoch runs on R(2+1)D,
read at epochs 4 and 8, RotNet's probe rose from 36.2 to 48.0 and PRP's rate accuracy from 35% to 59% of its
4 rates, where VCOP, CVRL, TDL and RSPNet gained nothing from 16 (``benchmarks/pretext_recipes.py``; on
ShuffleNet PRP learns its rates too, RotNet stays near chance, and neither probe rises)."""

MOMENTUM_QUEUE_MICRO_RECIPE = replace(
    SHARED_RECIPE,
    task_kwargs={"momentum": 0.9, "queue_size": 128},
    source="the shared recipe; key-encoder momentum and queue scaled to a micro run (benchmarks/pretext_recipes.py)",
)
"""The micro recipe of TDL, a task with a momentum key encoder and a queue of negatives: the shared
optimiser, with the key encoder's momentum at 0.9 and the queue at 128 keys instead of the released
0.999 and 16,384. MoCo's coefficient keeps the key encoder about 1/(1 - m) steps behind the online
one (He et al., 2020 §3.2, and its ablation of m in §4.1: 0.999 best, 0.9 still trains, 0 fails); over
the 64 steps of a micro run 0.999 leaves the keys 94% those of the random initialisation
(0.999^64), so TDL's temporal negative, embedded by the online encoder, outscored every positive
key and its accuracy stayed at exactly 0. The queue keeps its share of the pre-training set
(16,384 of K400-50k's 50,000 videos is a third; 128 of the micro set's 500 a quarter) instead of
outnumbering its videos 33 to 1, so that hardly any key of the anchor's own video from an earlier
epoch is among its negatives. With these TDL learns its task at the same probe, where RSPNet's probe
fell, so RSPNet keeps the released numbers (figures in ``benchmarks/pretext_recipes.py``)."""


@dataclass
class TaskOutput:
    """The result of one pretext step.

    Args:
        loss: scalar tensor to minimise.
        metrics: detached scalars to log (e.g. ``{"acc": 0.5}``: the pretext accuracy where
            the task has a classification, or the contrastive top-1 of the positive).
        batch_size: clips (or videos) the step covered.
    """

    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)
    batch_size: int = 0


class PretextTask(nn.Module):
    """Base class of pretext tasks. Subclasses set the class attributes and implement
    ``clip_sampler`` and ``forward``.

    Class attributes:
        name: registry name.
        category: "spatial", "temporal" or "spatiotemporal" (benchmark §3.1).
        contrastive: whether the loss contrasts positives against negatives (§3.1).
        paper: the method's source, "Author et al. Year, venue".
        paper_recipe: optimiser, lr, batch and weight decay at paper scale, as the method's
            authors train it (the benchmark keeps data, epochs and backbones equal across tasks,
            not optimisers). Temperatures and queue sizes are the task's own defaults.
        micro_recipe: the numbers at micro scale (and smoke, with the profile's batch, epochs and
            checkpoint spacing). Default:
            ``SHARED_RECIPE`` for every task, measured in ``benchmarks/pretext_recipes.py``; a task
            overrides it only with a measured reason.

    Batch layout passed to ``forward`` (see ``sslvid.data.dataset.collate_clips``):
        ``clips``: uint8 (B, K, T, H, W, 3) raw frames of K clips per video, on the device;
        ``meta``: the sampler's meta, each entry a tensor with leading dim B;
        ``label``: (B,) dataset labels (unused by pretext tasks).
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    contrastive: ClassVar[bool] = False
    paper: ClassVar[str] = ""
    revision: ClassVar[int] = 1
    """Bumped when a change to the task's definition (losses, views, labels) changes what its runs
    learn; a revision above 1 enters the config hash, so runs of an older definition are not reused."""
    paper_recipe: ClassVar[Recipe] = Recipe()
    micro_recipe: ClassVar[Recipe] = SHARED_RECIPE

    def __init__(self, backbone: VideoBackbone) -> None:
        super().__init__()
        self.backbone = backbone

    def clip_sampler(self) -> Any:
        """The sampler that draws this task's clips from one video."""
        raise NotImplementedError

    def forward(self, batch: dict[str, Any]) -> TaskOutput:  # noqa: D401
        """One pretext step on a batch: views/labels, heads, loss."""
        raise NotImplementedError

    @torch.no_grad()
    def after_step(self) -> None:
        """Called after each optimiser step (momentum encoders, queues). Default: nothing."""

    def plan_steps(self, total_steps: int) -> None:
        """Told by the engine, before training, how many optimiser steps the run takes.

        Schedules over the whole run (BYOL's target momentum) read it. Default: nothing.
        """

    @classmethod
    def recipe(cls, profile: str) -> dict[str, Any]:
        """Training fields for ``profile``: the task's recipe over ``SHARED_RECIPE``.

        "paper" reads ``paper_recipe``, "micro" ``micro_recipe``, any other scale (smoke)
        ``micro_recipe`` without its batch size, epochs and checkpoint spacing (the profile's are kept).
        """
        own = cls.paper_recipe if profile == "paper" else cls.micro_recipe
        if profile not in ("paper", "micro"):
            own = replace(own, batch_size=None, epochs=None, checkpoint_every=None)
        return SHARED_RECIPE.values() | own.values()

    @classmethod
    def task_defaults(cls, profile: str) -> dict[str, Any]:
        """The task's own numbers its recipe sets for ``profile`` (``Recipe.task_kwargs``; smoke reads micro's)."""
        return dict((cls.paper_recipe if profile == "paper" else cls.micro_recipe).task_kwargs)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, category, contrastive flag and source, for tables grouped by category."""
        return {"task": cls.name, "category": cls.category, "contrastive": cls.contrastive, "paper": cls.paper}


def create_task(name: str, **kwargs: Any) -> PretextTask:
    """Build the pretext task ``name`` (``backbone=...`` and the task's own knobs).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return TASKS.create(name, **kwargs)


def list_tasks() -> list[str]:
    """Registered pretext task names, sorted."""
    return TASKS.names()
