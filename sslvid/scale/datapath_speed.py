"""How fast the engine's data path feeds the network: clips per second and the share of step time spent waiting.

:func:`measure_data_path` trains a few epochs with the engine's own trainer
(``build_trainer``: clip cache -> persistent DataLoader workers -> pinned uint8 batches ->
side-stream copy to the device -> augmentation on the device -> bf16 step) and reads its log:
``seconds`` per epoch (ending with a host-device synchronisation, so GPU work is included)
and ``data_seconds``, the time the loop was blocked on the next batch. The first epoch (worker
start-up, cuDNN autotuning, compilation) is not counted.

With ``synthetic=True`` (the default) it reads a clip cache of random frames at the profile's
cache size (``build_synthetic_cache``; 128x171 at paper scale), so it runs without a dataset.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataPathResult:
    """What :func:`measure_data_path` reports.

    Args:
        task, backbone, profile, device: what was measured.
        batch_size: videos per step. clips_per_video: network input clips per video (K).
        steps: timed steps (after the warm-up epoch). seconds: their wall time.
        data_seconds: the part of it blocked on the next batch.
        videos_per_s, clips_per_s: throughput over the timed steps.
        data_wait_fraction: data_seconds / seconds.
        step_ms: mean wall time per step.
        workers: DataLoader workers. threads: CPU threads of the step (None on CUDA).
    """

    task: str
    backbone: str
    profile: str
    device: str
    batch_size: int
    clips_per_video: int
    steps: int
    seconds: float
    data_seconds: float
    videos_per_s: float
    clips_per_s: float
    data_wait_fraction: float
    step_ms: float
    workers: int
    threads: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_data_path(
    task: str = "rotnet",
    backbone: str = "r2plus1d_18",
    profile: str = "micro",
    device: str = "cpu",
    steps: int = 8,
    epochs: int = 3,
    workers: int | None = None,
    batch_size: int | None = None,
    synthetic: bool = True,
    frames_per_video: int = 64,
    cache_root: str | os.PathLike | None = None,
    threads: int | None = None,
    **config_overrides: Any,
) -> DataPathResult:
    """Train ``epochs`` epochs of ``steps`` steps with the engine and report the data path's figures.

    Args:
        task, backbone, profile: what to train, at which scale (frames, crop, width, batch).
        device: "cpu", "cuda" or "cuda:N".
        steps: steps per epoch. epochs: epochs (the first is warm-up; at least 2).
        workers: DataLoader workers (default: the profile's).
        batch_size: videos per step (default: the profile's).
        synthetic: read a cache of random frames (else the profile's dataset, ``steps`` batches of it).
        frames_per_video: frames of each synthetic video (enough for the task's sampler).
        cache_root: where the synthetic cache goes (default: a temporary folder, removed after).
        threads: CPU threads of the step (default: the engine's choice).
        **config_overrides: more ``PretrainConfig`` fields (``channels_last``, ``torch_compile``,
            ``amp``, ``task_kwargs``...).

    Raises:
        ValueError: for fewer than 2 epochs or an invalid config.
        RuntimeError: if CUDA is asked for and not available.
    """
    from sslvid.engine.config import PretrainConfig

    if epochs < 2:
        raise ValueError(f"epochs must be >= 2 (the first is warm-up), got {epochs}")
    overrides = {
        k: v for k, v in {"num_workers": workers, "batch_size": batch_size, "threads": threads}.items() if v is not None
    }
    config = PretrainConfig.for_profile(
        profile,
        task=task,
        backbone=backbone,
        device=device,
        epochs=epochs,
        checkpoint_every=epochs,
        **overrides,
        **config_overrides,
    )
    videos = steps * config.batch_size
    if not synthetic:
        return _measure(config.replace(subset_per_class=None), None, videos)
    with tempfile.TemporaryDirectory(prefix="sslvid-datapath-") as tmp:
        from sslvid.scale.synthetic import build_synthetic_cache

        cache = build_synthetic_cache(cache_root or tmp, videos, frames_per_video, config.cache_size)
        return _measure(config, (cache.index, cache), videos)


def _measure(config: Any, source: tuple | None, videos: int) -> DataPathResult:
    from sslvid.engine.pretrain import build_index, build_source, build_trainer
    from sslvid.engine.runner import run_threads

    if source is None:
        index = build_index(config)
        index = index.select(range(min(videos, len(index))))
        source = (index, build_source(index, config, workers=config.num_workers))
    trainer = build_trainer(config, progress=False, source=source)
    before = torch.get_num_threads()
    threads = run_threads(config.threads, trainer.device, trainer.info, workers=config.num_workers or 0)
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        table = trainer.fit()
    finally:
        torch.set_num_threads(before)
    timed = table.iloc[1:]
    steps = int(table["step"].iloc[-1] - table["step"].iloc[0])
    seconds, waited = float(timed["seconds"].sum()), float(timed["data_seconds"].sum())
    clips, batch = _clips_per_video(trainer), config.batch_size
    log.info(
        "data path %s/%s on %s: %d steps in %.2f s, %.2f s waiting",
        config.task,
        config.backbone,
        trainer.device,
        steps,
        seconds,
        waited,
    )
    return DataPathResult(
        config.task,
        config.backbone,
        config.profile,
        str(trainer.device),
        batch,
        clips,
        steps,
        round(seconds, 4),
        round(waited, 4),
        steps * batch / seconds,
        steps * batch * clips / seconds,
        waited / seconds if seconds else float("nan"),
        1000 * seconds / max(steps, 1),
        config.num_workers,
        threads if trainer.device.type == "cpu" else None,
    )


def _clips_per_video(trainer: Any) -> int:
    """K, the clips one video gives the task (from one dataset item)."""
    item = trainer.loader.dataset[(1, 0)]
    return int(item["clips"].shape[0]) if item.get("ok") else 1
