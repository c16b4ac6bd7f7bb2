"""Parts every evaluation shares: the splits and their clip caches, frozen-feature lookups, the
protocol card and the rows that go into the results table."""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from sslvid.data.dataset import FrameSource, SelectedSource, VideoClipDataset, collate_clips
from sslvid.data.records import VideoIndex
from sslvid.data.sampling import ClipSampler
from sslvid.data.sources import open_split
from sslvid.data.subsets import balanced_subset
from sslvid.engine.pretrain import build_source
from sslvid.engine.runner import describe_device  # noqa: F401 (evaluation modules import it from here)
from sslvid.errors import DataError
from sslvid.evaluate.config import ALL_LABELS, EvalConfig
from sslvid.evaluate.features import (
    ClipFeatures,
    FeatureCache,
    Noise,
    extract_clip_features,
    feature_spec,
    inference_bf16,
    weights_digest,
)
from sslvid.evaluate.metrics import VIDEO_SCORE
from sslvid.evaluate.models import SourceInfo, source_backbone
from sslvid.store.runs import RunStore, collect_provenance

log = logging.getLogger(__name__)


@dataclass
class Split:
    """One split of the evaluation's dataset and its decoded-clip cache."""

    index: VideoIndex
    source: FrameSource


def open_eval_split(config: EvalConfig, split: str) -> Split:
    """The ``split`` ("train" / "test") of the config's dataset and fold, with its clip cache (built once).

    Raises:
        ValueError: for a dataset that cannot be opened, or an unlabelled split.
        DatasetChangedError: when the videos changed after the config's hash was computed.
    """
    index = open_split(
        config.dataset, split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    )
    config.check_split_unchanged(index)
    if len(index) and (index.labels() < 0).any():
        raise ValueError(f"{config.dataset}/{split} has unlabelled videos: evaluation needs labels")
    return Split(index, build_source(index, config, workers=config.num_workers or 1))


def labelled_videos(config: EvalConfig, train: Split) -> Split:
    """The training videos within the config's label budget (``EvalConfig.train_per_class``): a
    class-balanced subset of ``train``, nested across budgets; ``train`` itself for "all".

    Raises:
        DataError: when a class has fewer videos than the budget (the message names the classes).
    """
    budget = config.train_per_class
    if budget == ALL_LABELS:
        return train
    try:
        keep = balanced_subset(train.index.labels(), int(budget), seed=0, classes=train.index.classes)
    except ValueError as err:
        raise DataError(
            f"label budget train_per_class={budget} on {config.dataset}/{config.train_split}: {err}",
            hint="lower train_per_class, or set it to 'all'",
        ) from err
    return Split(train.index.select(keep), SelectedSource(train.source, keep))


def official_folds(dataset: str) -> tuple[int, ...]:
    """The official splits of ``dataset``: (1, 2, 3) for UCF101 and HMDB51, (1,) elsewhere.

    Raises:
        ValueError: for an unknown dataset, listing the valid names.
    """
    from sslvid.data.default import DEFAULT_SETS
    from sslvid.data.layouts import DATASETS

    if dataset in DEFAULT_SETS:
        return (1,)
    return tuple(DATASETS.meta(dataset)["folds"])


def check_same_classes(train: VideoIndex, test: VideoIndex) -> int:
    """The number of classes, after checking the two splits share their class list.

    Raises:
        ValueError: if the class lists differ.
    """
    if train.classes != test.classes:
        raise ValueError(f"{train.dataset}: the {train.split} and {test.split} splits list different classes")
    return train.num_classes


def eval_sampler(config: EvalConfig, clips: int) -> ClipSampler:
    """``clips`` clips per video, starts spread uniformly over the video (deterministic)."""
    return ClipSampler(num_frames=config.frames, stride=config.stride, clips_per_video=clips, start="uniform")


def video_clips(
    config: EvalConfig, split: Split, videos: Iterable[int], per_video: int = 1, seed: int = 0
) -> torch.Tensor:
    """uint8 ``(V, per_video, T, H, W, 3)``: ``per_video`` clips of each of ``videos`` (positions in ``split``), spread
    over the video as in testing (``eval_sampler``); unreadable videos are left out (``collate_clips``)."""
    dataset = VideoClipDataset(split.index, eval_sampler(config, per_video), source=split.source, seed=seed)
    return collate_clips([dataset[int(v)] for v in videos])["clips"]


def frozen_features(
    config: EvalConfig,
    split: Split,
    clips: int,
    info: SourceInfo,
    store: RunStore,
    cache: FeatureCache,
    device: torch.device,
    progress: bool = False,
    noise: Noise | None = None,
) -> ClipFeatures:
    """Features of the source backbone (no finetuning) over ``split``, from the feature cache or extracted once.

    The weights are named by their source and a digest of their values, so a cache entry never
    outlives a re-trained run or a change of the initialisation.
    """
    sampler = eval_sampler(config, clips)
    backbone = source_backbone(config, store)
    bf16 = inference_bf16(config.backbone, config.amp, device)
    spec = feature_spec(
        f"{info.weights}|{weights_digest(backbone)}",
        split.index,
        sampler,
        config.crop_size,
        config.cache_size,
        config.profile,
        noise,
        config.eval_batch_size,
        config.cache_format,
        bf16,
    )

    def compute() -> ClipFeatures:
        return extract_clip_features(
            backbone,
            split.index,
            split.source,
            sampler,
            config.crop_size,
            device,
            config.eval_batch_size,
            config.num_workers or 0,
            noise,
            bf16,
            progress,
            config.max_failure_fraction,
        )

    return cache.get_or_compute(spec, compute)


def protocol_card(config: EvalConfig, devices: str, **measured: Any) -> dict[str, Any]:
    """Everything a number was measured under: clips, crops, frames, resolution, split, epochs, batch, devices.

    Args:
        config: the evaluation.
        devices: where it ran (``describe_device``).
        **measured: counts of the run (videos, clips, failed videos...).
    """
    card: dict[str, Any] = {
        "protocol": config.protocol,
        "source": config.source,
        "source_epoch": config.source_epoch,
        "dataset": config.dataset,
        "fold": config.fold,
        "train_split": config.train_split,
        "test_split": config.test_split,
        "frames": config.frames,
        "stride": config.stride,
        "resolution": f"{config.crop_size}x{config.crop_size}",
        "cached_frames": f"{config.cache_size[0]}x{config.cache_size[1]}",
        "width": config.width,
        "test_clips_per_video": config.test_clips,
        "test_crops": "1 centre crop per clip",
        "video_score": VIDEO_SCORE,
        "seed": config.seed,
        "profile": config.profile,
        "devices": devices,
        "config_hash": config.config_hash(),
    }
    if config.from_file:
        card["checkpoint"] = config.checkpoint
    if config.protocol == "finetune":
        card["train_crops"] = (
            f"1 random clip per video per epoch, random resized crop (area {config.crop_scale[0]}"
            f"-{config.crop_scale[1]})" + (", horizontal flip" if config.flip else "")
        )
    if config.protocol in ("finetune", "linear"):
        card["labelled_videos_per_class"] = config.train_per_class
    if config.protocol in ("linear", "retrieval"):
        card["train_clips_per_video"] = config.train_clips
        card["train_crops"] = "1 centre crop per clip (frozen features)"
    if config.protocol == "retrieval":
        item = (
            "video (mean of its clips' pooled features)"
            if config.retrieval_level == "video"
            else "clip (its pooled features)"
        )
        card["retrieval_level"] = config.retrieval_level
        card["similarity"] = (
            f"cosine; each query and gallery item is a {item}; a hit at k when one of the k "
            "nearest training items shares the query's class; k above the gallery: NaN"
        )
        del card["video_score"]
    for name in (
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "weight_decay",
        "momentum",
        "scheduler",
        "warmup_epochs",
        "dropout",
    ):
        if getattr(config, name) is not None:
            card[name] = getattr(config, name)
    return {**card, **measured}


def card_test_videos(cards: Iterable[Any]) -> float:
    """The fewest test videos named on protocol cards (``protocol_card``'s ``test_videos``; JSON text as the
    results table stores a card, or a dict), NaN when no card names them (rows stored before they were counted)."""
    found = [json.loads(c) if isinstance(c, str) and c else c if isinstance(c, dict) else {} for c in cards]
    return min((float(c["test_videos"]) for c in found if c.get("test_videos") is not None), default=float("nan"))


def result_rows(
    config: EvalConfig,
    info: SourceInfo,
    task: str,
    metrics: Mapping[str, float],
    card: Mapping[str, Any],
    condition: str = "clean",
) -> list[dict[str, Any]]:
    """One results-table row per metric of one evaluation (``sslvid.store.results.COLUMNS``)."""
    provenance = collect_provenance(config.seed, card.get("devices", ""))
    commit = provenance["git_commit"] + ("+dirty" if provenance.get("git_dirty") else "")
    time = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    common = {
        "config_hash": config.config_hash(),
        "model": config.backbone,
        "width": config.width,
        "source": config.source,
        **info.columns(),
        "task": task,
        "protocol": config.protocol,
        "dataset": config.dataset,
        "dataset_fingerprint": config.dataset_id(),
        "split": config.test_split,
        "fold": config.fold,
        "condition": condition,
        "protocol_card": dict(card),
        "profile": config.profile,
        "seed": config.seed,
        "commit": commit,
        "time": time,
        "unreadable_videos": card.get("unreadable_videos"),
    }
    return [{**common, "metric": metric, "value": float(value)} for metric, value in metrics.items()]
