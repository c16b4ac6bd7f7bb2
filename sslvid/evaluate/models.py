"""What evaluation trains: the source backbone, the finetuning module, the linear probe, and its loader.

* ``source_backbone``: the backbone an evaluation starts from: the weights of a pre-training
  run (final, or the checkpoint of an epoch; Split-Brain's two-halves representation is rebuilt
  by the task builder before loading), of a checkpoint file ("file:<sha256 16>", read by
  ``sslvid.backbones.checkpoints``), or a fresh random one ("scratch").
* ``Finetune``: the whole backbone plus a new linear classifier, trained end to end on
  augmented clips (the benchmark's protocol, §4.1 and §5.1).
* ``LinearProbe``: a linear classifier on standardised, cached features of the frozen backbone
  (§4.1 "linear probing": only the linear layer is trained).
* ``FeatureBatches``: shuffled mini-batches of cached features, a loader for the engine.

Every module returns a ``StepOutput`` so the engine's ``Trainer`` drives it like pre-training.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sslvid.backbones import VideoBackbone, create_backbone
from sslvid.backbones.checkpoints import load_checkpoint, read_metadata
from sslvid.data.transforms import horizontal_flip, normalize, random_resized_crop, to_unit_clips
from sslvid.engine.config import PretrainConfig
from sslvid.engine.distributed import DistInfo
from sslvid.engine.pretrain import PretrainResult
from sslvid.engine.step import StepOutput
from sslvid.evaluate.config import EvalConfig
from sslvid.pretext.losses import classification
from sslvid.seeding import derive_seed
from sslvid.store.runs import RunStore

log = logging.getLogger(__name__)

EXTERNAL = "external"
"""The pretext column of weights from a checkpoint file that does not record its pre-training."""


@dataclass(frozen=True)
class SourceInfo:
    """What the evaluated representation was pre-trained with, for the results table's columns.

    Args:
        pretext: pretext task, or "scratch".
        pretrain_dataset: pre-training set ("" from scratch).
        pretrain_subset: videos per class of the pre-training subset (None: all, or scratch).
        pretrain_epochs: the epoch of the evaluated weights (None from scratch).
        complexity: the task's own settings as JSON ("" when the defaults or scratch).
        weights: the weights' name in the feature cache.
    """

    pretext: str
    pretrain_dataset: str = ""
    pretrain_subset: int | None = None
    pretrain_epochs: int | None = None
    complexity: str = ""
    weights: str = ""

    def columns(self) -> dict[str, Any]:
        return {
            "pretext": self.pretext,
            "pretrain_dataset": self.pretrain_dataset,
            "pretrain_subset": self.pretrain_subset,
            "pretrain_epochs": self.pretrain_epochs,
            "complexity": self.complexity,
        }


def pretrain_config_of(config: EvalConfig, store: RunStore) -> PretrainConfig:
    """The ``PretrainConfig`` of the evaluation's source run.

    A run still in progress serves the checkpoints it has written (``source_epoch``), not
    its final weights.

    Raises:
        FileNotFoundError: if the run is not in ``store``, or not complete and no ``source_epoch`` is asked for.
    """
    run = store.run(config.source)
    if not run.exists or (config.source_epoch is None and not run.is_complete):
        raise FileNotFoundError(
            f"no complete pre-training run {config.source} in {store.root}; "
            "pre-train it first (sslvid.engine.pretrain or python -m sslvid pretrain)"
        )
    return PretrainConfig.from_dict(run.config())


def source_info(config: EvalConfig, store: RunStore) -> SourceInfo:
    """The pre-training columns of the evaluation's source (``SourceInfo``).

    Raises:
        FileNotFoundError: for a pre-trained source missing from ``store``.
    """
    if config.from_scratch:
        return SourceInfo("scratch", weights=f"scratch:{config.backbone}")
    if config.from_file:
        return file_source_info(config)
    pre = pretrain_config_of(config, store)
    epoch = config.source_epoch or pre.epochs
    label = "final" if config.source_epoch in (None, pre.epochs) else str(config.source_epoch)
    subset = pre.subset_per_class if isinstance(pre.subset_per_class, int) else None  # None: every video
    return SourceInfo(
        pre.task,
        pre.dataset,
        subset,
        epoch,
        json.dumps(pre.task_kwargs, sort_keys=True) if pre.task_kwargs else "",
        f"pretrain:{config.source}:epoch:{label}",
    )


def file_source_info(config: EvalConfig) -> SourceInfo:
    """The columns of a checkpoint file: the pre-training its sslvid metadata records (a file written by
    ``python -m sslvid export``), else pretext "external" and no pre-training details.

    Raises:
        ConfigError: if the file is missing or unreadable.
    """
    meta = read_metadata(config.checkpoint)
    if "task" not in meta:
        return SourceInfo(EXTERNAL, weights=config.source)
    subset, epochs = meta.get("subset", ""), meta.get("epochs", "")
    return SourceInfo(
        meta["task"],
        meta.get("dataset", ""),
        int(subset) if subset.isdigit() else None,
        int(epochs) if epochs.isdigit() else None,
        meta.get("complexity", ""),
        config.source,
    )


def source_backbone(config: EvalConfig, store: RunStore) -> VideoBackbone:
    """The backbone (no classifier) the evaluation starts from, on the CPU in eval mode.

    From scratch it is initialised from ``derive_seed(seed, "init")`` without touching the
    global RNG; from a run it holds the run's final weights, or those of ``source_epoch``; from
    a file, the file's weights (checked to be the bytes ``source`` names).

    Raises:
        FileNotFoundError: for a run missing from ``store`` or a checkpoint it does not have.
        ValueError: if the run's backbone or width differ from the config's.
        ConfigError (a ValueError): for a checkpoint file that changed, does not load or does not fit the backbone.
    """
    if config.from_file:
        model = create_backbone(config.backbone, num_classes=0, width=config.width, **config.backbone_kwargs)
        load_checkpoint(model, config.checkpoint, f"{config.backbone} at width {config.width:g}", config.source)
        return model.eval()
    if config.from_scratch:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(config.seed, "init"))
            model = create_backbone(config.backbone, num_classes=0, width=config.width, **config.backbone_kwargs)
        return model.eval()
    pre = pretrain_config_of(config, store)
    if (pre.backbone, pre.width) != (config.backbone, config.width):
        raise ValueError(
            f"run {config.source} trained {pre.backbone} at width {pre.width}, "
            f"the evaluation asks for {config.backbone} at width {config.width}"
        )
    run = store.run(config.source)
    epoch = None if config.source_epoch in (None, pre.epochs) and run.is_complete else config.source_epoch
    return PretrainResult(pre, run, run.read_log(), cached=True).backbone(epoch)


def set_classifier(backbone: VideoBackbone, num_classes: int, dropout: float = 0.0) -> VideoBackbone:
    """Give ``backbone`` a fresh linear classifier of ``num_classes`` outputs with ``dropout`` before it."""
    backbone.reset_classifier(num_classes)
    backbone.head_drop = nn.Dropout(dropout)
    return backbone


class Finetune(nn.Module):
    """End-to-end finetuning: augmented clips -> backbone -> linear classifier -> cross-entropy.

    Training clips get one random resized crop (area ``crop_scale``) per clip, with a random
    horizontal flip when ``flip``, then the Kinetics normalisation (all frames of a clip alike).

    Args:
        backbone: a backbone with its classifier (``set_classifier``).
        crop_size: network input side.
        crop_scale: crop area range.
        flip: random horizontal flips.
    """

    num_classes: int  # set by the evaluation that builds it, recorded in its final state

    def __init__(
        self, backbone: VideoBackbone, crop_size: int, crop_scale: tuple[float, float] = (0.5, 1.0), flip: bool = True
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.crop_size, self.crop_scale, self.flip = crop_size, (crop_scale[0], crop_scale[1]), flip

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Batch ``clips`` uint8 (B, K, T, H, W, 3), ``label`` (B,) -> loss and ``acc``."""
        clips = batch["clips"].flatten(0, 1)
        labels = batch["label"].repeat_interleave(batch["clips"].shape[1])
        x = random_resized_crop(to_unit_clips(clips), self.crop_size, None, scale=self.crop_scale)
        if self.flip:
            x = horizontal_flip(x)
        loss, acc = classification(self.backbone(normalize(x)), labels)
        return StepOutput(loss, {"acc": acc}, clips.shape[0])


class LinearProbe(nn.Module):
    """A linear classifier on standardised features of a frozen backbone.

    Features are standardised with the training features' mean and standard deviation (fixed
    buffers), then one ``nn.Linear`` gives the class scores.

    Args:
        mean: (D,) feature mean. std: (D,) feature standard deviation.
        num_classes: outputs.
    """

    mean: Tensor
    std: Tensor
    num_classes: int  # set by the evaluation that builds it, recorded in its final state

    def __init__(self, mean: Tensor, std: Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean.detach().float().clone())
        self.register_buffer("std", std.detach().float().clamp_min(1e-6).clone())
        self.fc = nn.Linear(len(mean), num_classes)

    @classmethod
    def for_features(cls, features: Tensor, num_classes: int) -> LinearProbe:
        """A probe standardising with the statistics of ``features`` (N, D)."""
        return cls(
            features.mean(dim=0),
            features.std(dim=0) if len(features) > 1 else torch.ones(features.shape[1]),
            num_classes,
        )

    def logits(self, features: Tensor) -> Tensor:
        """Class scores (N, C) of features (N, D)."""
        return self.fc((features.float() - self.mean) / self.std)

    def forward(self, batch: dict[str, Tensor]) -> StepOutput:
        """Batch ``features`` (B, D), ``label`` (B,) -> loss and ``acc``."""
        loss, acc = classification(self.logits(batch["features"]), batch["label"])
        return StepOutput(loss, {"acc": acc}, len(batch["label"]))


class FeatureBatches:
    """Shuffled mini-batches of cached features: a loader the engine's ``Trainer`` can iterate.

    Each epoch is a permutation seeded by ``seed + epoch``; under DDP each process takes every
    ``world_size``-th item of it (padded by wrapping, as ``DistributedSampler``). Batches are
    dicts ``{"features": (B, D), "label": (B,)}``.

    Args:
        features: (N, D). labels: (N,).
        batch_size: items per batch on this process.
        seed: shuffle seed.
        info: rank and world size.
        drop_last: drop the incomplete last batch (kept when it is the only one).
        device: where the features are held (batches are then already on it).
    """

    batch_sampler = None

    def __init__(
        self,
        features: Tensor,
        labels: Tensor,
        batch_size: int,
        seed: int = 0,
        info: DistInfo | None = None,
        drop_last: bool = True,
        device: torch.device | None = None,
    ) -> None:
        self.features, self.labels = features.to(device or features.device), labels.to(device or labels.device)
        self.batch_size, self.seed, self.info = batch_size, seed, info or DistInfo()
        self.per_process = -(-len(features) // self.info.world_size)
        self.drop_last = drop_last and self.per_process >= batch_size
        self.epoch = 0

    @property
    def sampler(self) -> FeatureBatches:
        """Itself: the engine calls ``loader.sampler.set_epoch``."""
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        full, rest = divmod(self.per_process, self.batch_size)
        return full + (0 if self.drop_last or not rest else 1)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        order = torch.randperm(len(self.features), generator=torch.Generator().manual_seed(self.seed + self.epoch))
        total = self.per_process * self.info.world_size
        order = order.repeat(-(-total // len(order)))[:total][self.info.rank :: self.info.world_size]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = order[start : start + self.batch_size].to(self.features.device)
            yield {"features": self.features[rows], "label": self.labels[rows]}
