"""Clip features for evaluation: the test-time clip pipeline, streamed extraction and a feature cache.

Test clips are uint8 frames from the clip cache; each video gives K clips with starts spread
uniformly (``ClipSampler(start="uniform")``), each clip one centre crop of ``crop_size`` pixels
(no resizing), optionally a corruption on the [0, 1] frames, then the Kinetics normalisation.
Features are the backbone's pooled ``forward_features``, extracted by
``sslvid.analysis.embedding.extract_features`` in eval mode without gradients.

A frozen backbone's features are extracted once and cached (``FeatureCache``): one atomic
``.pt`` file per key, the SHA-256 of a spec naming the weights (pre-training run and epoch, or
evaluation run, plus a digest of the state dict), the data (dataset, split, fold, the fingerprint
of the videos: relative paths, labels and file sizes, so two datasets under one layout name never
share features), the sampler, the clip geometry and the profile. A linear probe, retrieval and a
noise sweep then never run the backbone twice over the same clips.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sslvid.analysis.embedding import extract_features
from sslvid.data.dataset import FailureTracker, FrameSource, VideoClipDataset, collate_clips
from sslvid.data.fingerprint import index_fingerprint
from sslvid.data.records import VideoIndex
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import normalize, to_unit_clips
from sslvid.evaluate.corruptions import create_corruption
from sslvid.io import atomic_write_json, atomic_write_with
from sslvid.paths import data_dir
from sslvid.progress import show_bars, tracked
from sslvid.seeding import derive_seed
from sslvid.store.errors import NotCachedError

log = logging.getLogger(__name__)

FEATURE_SCHEMA = 1
"""Bumped when the test-time clip pipeline changes, so old cached features are not reused."""
PIPELINE = "uniform clips, one centre crop, kinetics mean/std"


@dataclass
class ClipFeatures:
    """Features of the clips of a split, with each clip's class and video.

    Args:
        features: (N, D) float32.
        labels: (N,) int64 classes.
        videos: (N,) int64 position of each clip's video in the index (K clips per video).
    """

    features: Tensor
    labels: Tensor
    videos: Tensor

    def __len__(self) -> int:
        return len(self.features)

    @property
    def num_videos(self) -> int:
        return int(torch.unique(self.videos).numel())

    def state(self) -> dict[str, Tensor]:
        return {"features": self.features, "labels": self.labels, "videos": self.videos}


@dataclass(frozen=True)
class Noise:
    """A corruption applied to test clips: registry name, severity 1-5 and the seed of its draws."""

    name: str
    severity: int
    seed: int = 0


def centre_crop(x: Tensor, size: int) -> Tensor:
    """The central ``size`` x ``size`` pixels of clips ``(..., H, W)`` (no resizing).

    Raises:
        ValueError: if a frame is smaller than ``size``.
    """
    h, w = x.shape[-2:]
    if size > min(h, w):
        raise ValueError(f"crop {size} exceeds the frame size {h}x{w}")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def eval_clips(frames: Tensor, crop_size: int, noise: Noise | None = None, batch: int = 0) -> Tensor:
    """Model-ready test clips from uint8 frames: [0, 1], centre crop, optional noise, normalisation.

    Args:
        frames: uint8 (B, K, T, H, W, 3), on the device the model runs on.
        crop_size: side of the centre crop.
        noise: corruption of the [0, 1] frames (drawn from a generator on ``frames``' device,
            seeded by the noise's seed, name, severity and ``batch``).
        batch: the batch's position in the pass (seeds the noise).

    Returns:
        float (B * K, 3, T, crop_size, crop_size).
    """
    x = centre_crop(to_unit_clips(frames.flatten(0, 1)), crop_size)
    if noise is not None:
        seed = derive_seed(noise.seed, "noise", noise.name, noise.severity, batch)
        x = create_corruption(noise.name)(x.contiguous(), noise.severity, seed)
    return normalize(x)


def unreadable_videos(*pairs: tuple[VideoIndex, ClipFeatures]) -> int:
    """Videos of the indexes that gave no features (skipped as unreadable), over (index, features) pairs."""
    return sum(len(index) - features.num_videos for index, features in pairs)


def extract_clip_features(
    backbone: nn.Module,
    index: VideoIndex,
    source: FrameSource,
    sampler: ClipSampler,
    crop_size: int,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int = 0,
    noise: Noise | None = None,
    amp: bool = False,
    progress: bool = False,
    max_failure_fraction: float = 0.05,
) -> ClipFeatures:
    """Pooled features of every clip of every video of ``index`` (unreadable videos skipped and counted).

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D)), run in eval mode.
        index: the videos.
        source: their frames (the clip cache).
        sampler: which clips (``start="uniform"`` for evaluation).
        crop_size: side of the centre crop.
        device: where the model and the clip pipeline run.
        batch_size: videos per batch (``batch_size * K`` clips).
        num_workers: DataLoader workers reading the cache.
        noise: optional corruption of the test clips.
        amp: bf16 autocast on ``device`` (decide it with :func:`inference_bf16`).
        progress: show a progress bar.
        max_failure_fraction: the largest tolerated share of unreadable videos.

    Returns:
        ``ClipFeatures`` with N = readable videos x K rows, video-major.

    Raises:
        RuntimeError: when more than ``max_failure_fraction`` of the videos cannot be read.
    """
    dataset = VideoClipDataset(index, sampler, source=source, seed=0)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate_clips,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    tracker = FailureTracker(max_failure_fraction, index)
    videos: list[Tensor] = []
    desc = f"features/{type(backbone).__name__}" + (f"/{noise.name}-{noise.severity}" if noise is not None else "")
    reported = tracked(loader, desc, len(loader))
    batches = _model_batches(
        tqdm(reported, total=len(loader), desc="features", leave=False, disable=not show_bars(progress), unit="batch"),
        crop_size,
        device,
        noise,
        tracker,
        videos,
    )
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with autocast:
        # a backbone, or any module with its forward_features (a distiller's scores)
        features, labels = extract_features(backbone, batches, device=device, batch_size=batch_size)  # type: ignore[arg-type]
    tracker.end_epoch()
    return ClipFeatures(features.float(), labels.long(), torch.cat(videos).long())


def _model_batches(
    loader: Any,
    crop_size: int,
    device: torch.device,
    noise: Noise | None,
    tracker: FailureTracker,
    videos: list[Tensor],
) -> Iterator[tuple[Tensor, Tensor]]:
    """(clips, labels) per readable batch, recording each clip's video in ``videos``."""
    for position, batch in enumerate(loader):
        tracker.update(batch)
        if batch["size"] == 0:
            continue
        frames = batch["clips"].to(device, non_blocking=True)
        k = frames.shape[1]
        videos.append(batch["video"].repeat_interleave(k))
        yield eval_clips(frames, crop_size, noise, position), batch["label"].repeat_interleave(k)


# ---------------------------------------------------------------------- the cache


def weights_digest(module: nn.Module) -> str:
    """16 hex digits of SHA-256 over a module's state dict (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


CPU_BF16_BACKBONES = frozenset({"c3d", "mobilenetv2_3d", "r2plus1d_18", "r3d_18"})
"""The networks whose frozen features bf16 autocast makes faster on a CPU (1.3x to 3x at micro shapes, features
within 0.4-1.1% of float32's, ``benchmarks/cpu_inference_speed.py``); the others (ShuffleNet, SqueezeNet) gain
nothing and extract in float32. Training stays float32 on a CPU, whose bf16 weight gradients are wrong."""


def inference_bf16(backbone: str, amp: bool, device: torch.device) -> bool:
    """Whether features of the network ``backbone`` are extracted under bf16 autocast on ``device``: with ``amp``
    on CUDA, and on a CPU for the networks of ``CPU_BF16_BACKBONES``."""
    if not amp:
        return False
    return device.type == "cuda" or (device.type == "cpu" and backbone in CPU_BF16_BACKBONES)


def feature_spec(
    weights: str,
    index: VideoIndex,
    sampler: ClipSampler,
    crop_size: int,
    cache_size: tuple[int, int],
    profile: str,
    noise: Noise | None = None,
    batch_size: int | None = None,
    cache_format: str = "uint8",
    bf16: bool = False,
) -> dict[str, Any]:
    """What a cached feature file depends on (its key is the hash of this dict).

    Args:
        weights: names the backbone's weights: where they come from
            (``"pretrain:<hash>:epoch:<e|final>"``, ``"scratch:<backbone>"``, ``"eval:<hash>"``)
            and ``"|<weights_digest>"`` of their values.
        index: the videos. sampler: the clips. crop_size, cache_size, profile: the geometry.
        noise: the corruption, if any, with its constants and rounding (so features of a noise whose
            definition changed are extracted again); its draws depend on the batch size, so it is
            part of the key then.
        batch_size: videos per batch (only recorded with ``noise``).
        cache_format: the clip cache's storage format; recorded unless "uint8" (so the keys of
            features extracted before formats existed stay valid), since JPEG changes the pixels.
        bf16: extracted under bf16 autocast (:func:`inference_bf16`); recorded when True, since it
            changes the features' values.
    """
    spec = {
        "schema": FEATURE_SCHEMA,
        "pipeline": PIPELINE,
        "weights": weights,
        "dataset": index.dataset,
        "split": index.split,
        "fold": index.fold,
        "videos": index_fingerprint(index),
        "num_videos": len(index),
        "frames": sampler.num_frames,
        "stride": sampler.stride,
        "clips_per_video": sampler.clips_per_video,
        "start": sampler.start,
        "short_video": sampler.short_video,
        "crop_size": crop_size,
        "cache_size": list(cache_size),
        "profile": profile,
    }
    if noise is not None:
        corruption = create_corruption(noise.name)
        spec["noise"] = {
            "name": noise.name,
            "severity": noise.severity,
            "seed": noise.seed,
            "batch_size": batch_size,
            "constant": corruption.constant(noise.severity),
            "uint8": corruption.uint8,
            "reference": corruption.paper,
        }
    if cache_format != "uint8":
        spec["cache_format"] = cache_format
    if bf16:
        spec["precision"] = "bf16"
    return spec


def default_features_root() -> Path:
    """``<data dir>/features``: where cached features go unless a root is given."""
    return data_dir() / "features"


class FeatureCache:
    """Cached clip features, one ``<key>.pt`` (+ ``<key>.json`` spec) per spec.

    Args:
        root: folder of the cache; default ``default_features_root()``.
        read_only: never extract: a miss in ``get_or_compute`` raises ``NotCachedError``.
    """

    def __init__(self, root: str | os.PathLike | None = None, read_only: bool = False) -> None:
        self.root = Path(root) if root is not None else default_features_root()
        self.read_only = read_only
        self.extractions = 0
        """How many times this object ran an extraction (cache misses)."""

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    @staticmethod
    def key(spec: Mapping[str, Any]) -> str:
        """16 hex digits of SHA-256 over canonical JSON of ``spec``."""
        text = json.dumps(dict(spec), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, spec: Mapping[str, Any]) -> Path:
        return self.root / f"{self.key(spec)}.pt"

    def load(self, spec: Mapping[str, Any]) -> ClipFeatures | None:
        """The cached features of ``spec``, or None."""
        path = self.path(spec)
        if not path.is_file():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        return ClipFeatures(state["features"], state["labels"], state["videos"])

    def save(self, spec: Mapping[str, Any], features: ClipFeatures, seconds: float | None = None) -> Path:
        """Write ``features`` for ``spec`` atomically (the ``.json`` spec first, the ``.pt`` last)."""
        path = self.path(spec)
        atomic_write_json(
            path.with_suffix(".json"),
            {"spec": dict(spec), "clips": len(features), "dim": int(features.features.shape[1]), "seconds": seconds},
        )
        atomic_write_with(path, lambda handle: torch.save(features.state(), handle))
        return path

    def get_or_compute(self, spec: Mapping[str, Any], compute: Callable[[], ClipFeatures]) -> ClipFeatures:
        """The cached features of ``spec``; on a miss ``compute()`` them (once, under a file lock) and save them.

        Raises:
            NotCachedError: on a miss in a read-only cache.
        """
        found = self.load(spec)
        if found is not None:
            log.info("features: cache hit %s", self.key(spec))
            return found
        if self.read_only:
            raise NotCachedError(f"features {self.key(spec)} are not cached in {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / f".{self.key(spec)}.lock")):
            found = self.load(spec)
            if found is not None:
                return found
            start = time.perf_counter()
            features = compute()
            self.extractions += 1
            seconds = round(time.perf_counter() - start, 3)
            self.save(spec, features, seconds)
            log.info("features: extracted %d clips in %.1f s -> %s", len(features), seconds, self.key(spec))
        return features
