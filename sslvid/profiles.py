"""Scales at which the same code runs. A profile changes numbers, never which code runs.

* ``smoke``: the tests and nbval; seconds per chapter.
* ``micro``: the book on a 2-core CPU with the embedded default data and narrow networks.
* ``paper``: the benchmark's settings (§3-4 of the benchmark paper): 16 frames at
  112x112 from frames cached at 128x171, full-width backbones, on GPUs.

Every number a profile sets lives here, in its :class:`Profile`: the clip geometry, width and
batch shared by every kind of run, then per kind the numbers that kind adds (``pretrain``,
``evaluate`` per protocol, ``distill``), the study's evaluation protocol, the distillation
chapter's epochs and the fields a built-in grid sets at this scale only. The configs
(``PretrainConfig``, ``EvalConfig``, ``DistillConfig``) fill their None fields from
:meth:`Profile.defaults`; where each number comes from is said beside the table that holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sslvid.registry import Registry

PROFILES: Registry[Profile] = Registry("profile")

KINDS = ("pretrain", "evaluate", "distill")
"""The kinds of run whose configs fill their numbers from a profile."""

SHAPE_FIELDS = ("frames", "crop_size", "cache_size", "width", "batch_size")
"""The profile's own numbers every kind of run takes (clip geometry, width, batch)."""


@dataclass(frozen=True)
class Profile:
    """The numbers of one scale.

    Args:
        name: profile name.
        data_scale: multiplier of videos per class of the embedded default data.
        frames: frames per clip (T).
        crop_size: spatial size of network input clips (H = W).
        cache_size: (H, W) of frames stored in the decoded-clip cache.
        width: width multiplier of the backbones (1.0 = the published networks).
        batch_size: clips per training batch.
        bench_steps: timed steps when measuring throughput.
        pretrain: ``PretrainConfig`` numbers (epochs, checkpoint spacing, subset, dataset, workers);
            the optimiser's come from each task's recipe (``PretextTask.recipe``), which may also set
            another length with as many checkpoints (micro RotNet and PRP).
        evaluate: ``EvalConfig`` numbers: ``"common"`` to every protocol, then per protocol.
        distill: ``DistillConfig`` numbers.
        study_protocol: the evaluation protocol of the study's tables (``sslvid.experiments.study``).
        chapter_epochs: the distillation chapter's training epochs per kind ("student", "pcl").
        grid_fields: built-in grid name -> fields set on its every point at this scale only.
        chapter_axes: chapter (``sslvid.experiments`` module name) -> grid axis ("task", "backbone") -> the
            values the chapter runs at this scale when its knob for that axis is None: the grid points a
            chapter drops at this scale (it says so, and each dropped point is one knob away).
    """

    name: str
    data_scale: float
    frames: int
    crop_size: int
    cache_size: tuple[int, int]
    width: float
    batch_size: int
    bench_steps: int
    pretrain: Mapping[str, Any] = field(default_factory=dict, compare=False)
    evaluate: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    distill: Mapping[str, Any] = field(default_factory=dict, compare=False)
    study_protocol: str = "linear"
    chapter_epochs: Mapping[str, int] = field(default_factory=dict, compare=False)
    grid_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    chapter_axes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict, compare=False)

    def clip_shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) of one network input clip."""
        return (3, self.frames, self.crop_size, self.crop_size)

    def as_dict(self) -> dict:
        return asdict(self)

    def defaults(self, kind: str, protocol: str | None = None) -> dict[str, Any]:
        """The numbers a config of ``kind`` ("pretrain", "evaluate", "distill") fills its None fields
        with: ``SHAPE_FIELDS``, then the kind's table (for "evaluate", its ``common`` part and the
        ``protocol``'s).

        Raises:
            ValueError: for an unknown kind.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind of run {kind!r}; valid: {', '.join(KINDS)}")
        values = {name: getattr(self, name) for name in SHAPE_FIELDS}
        if kind == "evaluate":
            return values | dict(self.evaluate["common"]) | dict(self.evaluate.get(protocol or "", {}))
        return values | dict(getattr(self, kind))


# ---------------------------------------------------------------------------- evaluation numbers
# From the benchmark paper: finetuning end to end for 100 epochs (§4.4), 16-frame clips at 112x112
# (§4.1, Table 9), top-1 accuracy (§3.2), clip retrieval with k in {1, 5, 10, 20, 50} (§3.2, §5.1) on
# the 10 clips of each video averaged (VCOP's protocol, Xu et al. 2019). The paper prints neither its
# finetuning optimiser, learning rate, batch, test clips or crops, nor its linear-probe recipe (§4.1
# only reports the drop); ours: SGD (momentum 0.9, weight decay 5e-4), lr 0.01, cosine, batch 32,
# dropout 0.5, random resized crops (area 0.5-1), 10 test clips per video (Xu et al. 2019); linear
# probe on standardised cached features of 10 centre crops per training video, SGD lr 0.1, no weight
# decay, 100 epochs, batch 256. Micro: the same recipe for a few epochs on the embedded sets.
EVAL_TRAINING = {
    "optimizer": "sgd",
    "weight_decay": 5e-4,
    "momentum": 0.9,
    "scheduler": "cosine",
    "warmup_epochs": 0,
    "crop_scale": (0.5, 1.0),
}
EVAL_RETRIEVAL = {"retrieval_level": "video"}

# ---------------------------------------------------------------------------- distillation numbers
# The distillation papers train students far longer than a finetuning (Zhang & Peng 2018 §5.2: 350
# epochs, Adam, lr 0.01 halved every 50; Vu et al. 2022 §IV-A: 200 epochs, SGD lr 0.01, weight decay
# 5e-4); the benchmark prints no distillation recipe (§5 points to its supplementary). Paper: the
# finetuning recipe above for 100 epochs; micro a few epochs on the embedded data; smoke two.
DISTILL_TRAINING = {
    "optimizer": "sgd",
    "weight_decay": 5e-4,
    "momentum": 0.9,
    "scheduler": "cosine",
    "warmup_epochs": 0,
}
# Pre-training: the shared optimiser numbers; each task's recipe (PretextTask.recipe) sets its own.
PRETRAIN_TRAINING = {"scheduler": "cosine", "warmup_epochs": 0, "dataset": "digits-appearance-pool"}


@PROFILES.register("smoke")
def _smoke() -> Profile:
    # tests and nbval: a couple of epochs over the tiny default data
    return Profile(
        "smoke",
        data_scale=0.04,
        frames=4,
        crop_size=32,
        cache_size=(40, 40),
        width=0.125,
        batch_size=4,
        bench_steps=1,
        pretrain={**PRETRAIN_TRAINING, "epochs": 2, "checkpoint_every": 1, "subset_per_class": "all", "num_workers": 0},
        evaluate={
            "common": {
                **EVAL_TRAINING,
                **EVAL_RETRIEVAL,
                "dataset": "digits-appearance",
                "train_clips": 1,
                "test_clips": 2,
                "eval_batch_size": 8,
                "num_workers": 0,
            },
            "finetune": {"epochs": 2, "lr": 0.01, "checkpoint_every": 1, "dropout": 0.0},
            "linear": {"epochs": 5, "batch_size": 8, "lr": 0.1, "checkpoint_every": 5, "weight_decay": 0.0},
        },
        distill={
            **DISTILL_TRAINING,
            "dataset": "digits-appearance",
            "epochs": 2,
            "checkpoint_every": 1,
            "lr": 0.01,
            "test_clips": 2,
            "eval_batch_size": 8,
            "num_workers": 0,
        },
        study_protocol="linear",
        chapter_epochs={"student": 2, "pcl": 2},
    )


@PROFILES.register("micro")
def _micro() -> Profile:
    # Pre-training: the "50k of K400" analogue (50 of the pools' 200 videos per class, one per class
    # per 1,000 paper videos); four epochs with a checkpoint each, the four points (50/100/150/200
    # epochs) of the paper's Tables 3 and 4 at 1/50 of its length (RotNet and PRP: eight, a checkpoint
    # every two, their recipe's: CLASSIFICATION_MICRO_RECIPE). Study: a micro finetuning of every
    # model would cost most of the book's CPU budget, a linear probe reads features extracted once.
    # Distillation chapter: half of the distillation's 10 epochs, so a student trains as long as a
    # teacher's finetuning (5 epochs).
    return Profile(
        "micro",
        data_scale=1.0,
        frames=8,
        crop_size=32,
        cache_size=(40, 40),
        width=0.25,
        batch_size=32,
        bench_steps=5,
        pretrain={**PRETRAIN_TRAINING, "epochs": 4, "checkpoint_every": 1, "subset_per_class": 50, "num_workers": 0},
        evaluate={
            "common": {
                **EVAL_TRAINING,
                **EVAL_RETRIEVAL,
                "dataset": "digits-appearance",
                "train_clips": 2,
                "test_clips": 2,
                "eval_batch_size": 128,
                "num_workers": 0,
            },
            "finetune": {"epochs": 5, "lr": 0.01, "checkpoint_every": 5, "dropout": 0.0},
            "linear": {"epochs": 30, "batch_size": 256, "lr": 0.1, "checkpoint_every": 30, "weight_decay": 0.0},
        },
        distill={
            **DISTILL_TRAINING,
            "dataset": "digits-appearance",
            "epochs": 10,
            "checkpoint_every": 5,
            "lr": 0.05,
            "test_clips": 4,
            "eval_batch_size": 128,
            "num_workers": 0,
        },
        study_protocol="linear",
        chapter_epochs={"student": 5, "pcl": 3},
        # The lightweight chapter draws every method's accuracy against the same epochs: its runs keep the
        # profile's 4, RotNet's longer micro recipe (CLASSIFICATION_MICRO_RECIPE) included.
        grid_fields={"lightweight": {"epochs": 4, "checkpoint_every": 1}},
        # Table 5 at micro: VCOP's task has no answer in the default data (the digit's look never changes within a
        # video and its position does not tell the clips' order, chapter 2) and no ShuffleNet model of Table 1
        # beats random initialisation, so the chapter runs RotNet and PRP on R(2+1)D: its other 12 points
        # compared numbers at chance, for a fifth of the build.
        # The lightweight chapter at micro: ResNet-18 and the two cheapest lightweight networks. Every lightweight
        # network stayed near chance at micro (top-1 9.0-14.2% of 10 classes; ResNet-18 15.6-29.4%), and
        # EfficientNet-lite0 and MobileNetV2 took 106 s and 70 s of pre-training against ShuffleNetV2's 58 s and
        # SqueezeNet's 30 s (clean build of 00b94ba).
        chapter_axes={
            "task_complexity": {"task": ("rotnet", "prp"), "backbone": ("r2plus1d_18",)},
            "lightweight": {"backbone": ("resnet18_2d", "shufflenetv2_2d", "squeezenet_2d")},
        },
    )


@PROFILES.register("paper")
def _paper() -> Profile:
    # Pre-training: the benchmark's 50k Kinetics-400 videos (125 per class), checkpoints at
    # 50/100/150/200 epochs, the grid of its Tables 3 and 4, so one run gives every point of those
    # curves. Distillation chapter: 100 epochs, the distillation's and PCL's (Camarena et al. 2022 §4).
    # Lightweight grid: Sonawane et al.'s single frames at 96x96, 200 epochs.
    return Profile(
        "paper",
        data_scale=1.0,
        frames=16,
        crop_size=112,
        cache_size=(128, 171),
        width=1.0,
        batch_size=32,
        bench_steps=20,
        pretrain={
            **PRETRAIN_TRAINING,
            "epochs": 200,
            "checkpoint_every": 50,
            "subset_per_class": 125,
            "num_workers": 8,
        },
        evaluate={
            "common": {
                **EVAL_TRAINING,
                **EVAL_RETRIEVAL,
                "dataset": "ucf101",
                "train_clips": 10,
                "test_clips": 10,
                "eval_batch_size": 16,
                "num_workers": 8,
            },
            "finetune": {"epochs": 100, "lr": 0.01, "checkpoint_every": 10, "dropout": 0.5},
            "linear": {"epochs": 100, "batch_size": 256, "lr": 0.1, "checkpoint_every": 25, "weight_decay": 0.0},
        },
        distill={
            **DISTILL_TRAINING,
            "dataset": "ucf101",
            "epochs": 100,
            "checkpoint_every": 10,
            "lr": 0.01,
            "test_clips": 10,
            "eval_batch_size": 64,
            "num_workers": 8,
        },
        study_protocol="finetune",
        chapter_epochs={"student": 100, "pcl": 100},
        grid_fields={"lightweight": {"crop_size": 96, "cache_size": [96, 96], "epochs": 200, "checkpoint_every": 10}},
    )


def get_profile(name: str) -> Profile:
    """The profile called ``name`` ("smoke", "micro", "paper").

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return PROFILES.create(name)


def list_profiles() -> list[str]:
    return PROFILES.names()
