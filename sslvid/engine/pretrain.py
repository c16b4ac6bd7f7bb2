"""Pre-train any pretext task on any backbone from one config: cached, resumable, CPU or GPUs.

``pretrain(config)`` looks the config's hash up in the results store and returns at once when
that run is complete. Otherwise it builds the pipeline and hands it to the one training loop
(``sslvid.engine.trainer``), which resumes from the run's latest checkpoint if there is one:

    index (open_split) -> nested class-balanced subset -> clip cache (memmap frames at the
    profile's cache size) -> VideoClipDataset(index, task.clip_sampler(), source=cache)
    -> DataLoader(collate_clips, persistent workers) -> FailureTracker -> Trainer

The same function runs under ``torchrun``: the global batch is split over the processes, rank 0
prepares the data and the cache first, and only rank 0 writes to the store. A task with
parameters that some steps leave unused sets the class attribute
``ddp_find_unused_parameters = True`` (passed to DistributedDataParallel).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import pandas as pd
import torch

from sslvid.backbones import VideoBackbone, create_backbone
from sslvid.data.dataset import FailureTracker, FrameSource, VideoClipDataset
from sslvid.data.records import VideoIndex
from sslvid.data.sources import open_split
from sslvid.data.subsets import balanced_subset
from sslvid.engine.config import ALL_VIDEOS, PretrainConfig, task_registry
from sslvid.engine.datapath import accelerate
from sslvid.engine.distributed import DistInfo, all_gather_object, main_process_first, resolve_device
from sslvid.engine.loading import batches_per_epoch
from sslvid.engine.runner import Job, Session, Workspace, clip_loader, config_trainer, run_session, train_once
from sslvid.engine.trainer import Hooks, Trainer
from sslvid.paths import cache_dir
from sslvid.pretext.base import PretextTask
from sslvid.seeding import seed_everything
from sslvid.store.runs import RunHandle, RunStore

log = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    """A finished pre-training run.

    Args:
        config: the run's config.
        run: its folder in the results store.
        log: the per-epoch table (run, epoch, step, loss, acc, lr, seconds, failed_videos, ...).
        cached: True when it was found in the store and nothing was trained.
    """

    config: PretrainConfig
    run: RunHandle
    log: pd.DataFrame
    cached: bool

    @property
    def key(self) -> str:
        """The config hash the run is filed under."""
        return self.run.key

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    def provenance(self) -> dict[str, Any]:
        """Seed, git commit, package versions, device and wall time of the run."""
        return self.run.provenance()

    def checkpoint_epochs(self) -> list[int]:
        """Epochs with a stored checkpoint (for accuracy against pre-training epochs)."""
        return list(self.run.checkpoints())

    def backbone(self, epoch: int | None = None) -> VideoBackbone:
        """The pre-trained backbone (``task.backbone``) on the CPU in eval mode: final weights, or
        those of the checkpoint of ``epoch``.

        Raises:
            FileNotFoundError: if there is no checkpoint of ``epoch``.
        """
        model = build_task(self.config).backbone  # the task's representation, whatever its type
        model.load_state_dict(self.run.load_backbone(epoch))
        return model.eval()


# ---------------------------------------------------------------------- builders


def build_backbone(config: PretrainConfig) -> VideoBackbone:
    """A fresh backbone of ``config`` (no head): ``create_backbone(name, width=..., **backbone_kwargs)``."""
    return create_backbone(config.backbone, num_classes=0, width=config.width, **config.backbone_kwargs)


def build_task(config: PretrainConfig) -> PretextTask:
    """A fresh pretext task of ``config`` over a fresh backbone.

    A task whose builder takes ``width`` builds its representation from the backbone's name
    itself (Split-Brain's two half-width halves): it gets ``backbone=<name>, width=...``.
    Every other task gets a built backbone.
    """
    builder = task_registry().get(config.task)
    if "width" in inspect.signature(builder).parameters:
        backbone: Any = config.backbone
        extra = {"width": config.width}
    else:
        backbone, extra = build_backbone(config), {}
    return builder(backbone=backbone, frames=config.frames, crop_size=config.crop_size, **extra, **config.task_kwargs)


def build_index(config: PretrainConfig) -> VideoIndex:
    """The videos the run trains on: the split, then its class-balanced subset if asked for.

    Raises:
        ValueError: for a dataset that cannot be opened, or a subset bigger than a class (the
            message names the short classes and how to ask for every video).
        DatasetChangedError: when the videos changed after the config's hash was computed.
    """
    index = open_split(
        config.dataset, config.split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    )
    config.check_split_unchanged(index)
    if config.subset_per_class == ALL_VIDEOS:
        return index
    try:
        positions = balanced_subset(index.labels(), int(config.subset_per_class), config.subset_seed, index.classes)
    except ValueError as err:
        raise ValueError(
            f"{config.dataset}/{config.split}: {err}. To pre-train on every video, set "
            f"subset_per_class={ALL_VIDEOS!r} (command line: --set subset_per_class={ALL_VIDEOS})"
        ) from None
    return index.select(positions)


class CacheSettings(Protocol):
    """What ``build_source`` reads of a config: pre-training, evaluation and distillation configs have it."""

    @property
    def cache_size(self) -> tuple[int, int] | None: ...

    @property
    def cache_format(self) -> str: ...

    @property
    def max_failure_fraction(self) -> float: ...


def build_source(index: VideoIndex, config: CacheSettings, workers: int = 2) -> FrameSource:
    """The decoded-clip cache of ``index`` at the config's cache size and format (built once, then mapped)."""
    from sslvid.data.cache import prepare_cache

    height, width = config.cache_size
    return prepare_cache(
        index,
        cache_dir(),
        frame_size=(height, width),
        workers=max(1, workers),
        max_failure_fraction=config.max_failure_fraction,
        cache_format=config.cache_format,
    )


# ---------------------------------------------------------------------- entry points


def find_pretrained(config: PretrainConfig, store: RunStore | None = None) -> PretrainResult | None:
    """The complete run of ``config`` from the store, or None (nothing is built or trained)."""
    store = store or RunStore()
    run = store.find(config)
    return PretrainResult(config, run, run.read_log(), cached=True) if run is not None else None


def pretrain(
    config: PretrainConfig, store: RunStore | None = None, progress: bool = True, workspace: Workspace | None = None
) -> PretrainResult:
    """Pre-train ``config`` unless the store holds it; resume a partial run; return the result.

    Args:
        config: the run (validated on construction).
        store: the results store (default: ``RunStore()`` under the data dir).
        progress: show progress bars (rank 0 only).
        workspace: where to read and write instead of ``store`` and ``progress``.

    Raises:
        ValueError: for a global batch size that the number of processes does not divide, or
            a subset with fewer videos than one batch.
        RuntimeError: when more than ``max_failure_fraction`` of the videos fail in an epoch.
    """
    space = Workspace.of(store, progress=progress, workspace=workspace)
    with run_session(config, split_batch=True) as session:
        run = space.store.run(config)
        outcome = train_once(config, run, session, lambda: _job(config, run, session, space.progress))
    if outcome.cached:
        log.info("pretrain %s: found in %s", run.key, run.dir)
        return PretrainResult(config, run, run.read_log(), cached=True)
    log.info("pretrain %s: done in %s", run.key, run.dir)
    return PretrainResult(config, run, outcome.table, cached=False)


def _job(config: PretrainConfig, run: RunHandle, session: Session, progress: bool) -> Job:
    """The pre-training of ``config`` for ``train_once``: its trainer, and what its run records."""
    start = time.perf_counter()
    trainer = build_trainer(config, run, session.info, session.device, progress)

    def wall(table: pd.DataFrame) -> dict[str, float]:
        return {"wall_seconds": round(float(table["seconds"].sum()) + _setup_seconds(start, table, trainer), 3)}

    task = cast(PretextTask, trainer.module)  # build_trainer's module is the task
    videos = len(trainer.loader.dataset)  # type: ignore[arg-type]  # a VideoClipDataset, which has a length
    return Job(
        trainer,
        final_state=lambda: _final_state(task, trainer),
        videos=videos,
        summary=wall,
        check=lambda: _check_stored_config(run, config.data_root),
    )


def build_trainer(
    config: PretrainConfig,
    run: RunHandle | None = None,
    info: DistInfo | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    source: tuple[VideoIndex, FrameSource] | None = None,
) -> Trainer:
    """The engine's trainer for ``config``, as ``pretrain`` runs it (its module is the task).

    Builds the index and the clip cache (rank 0 first), seeds, the task on ``device``, the
    dataset, the loader (persistent workers, this process's share of the global batch) and the
    failure hook. Nothing is trained and nothing written; ``run`` is where ``fit`` will
    checkpoint (None: nowhere). Benchmarks and tests drive it directly; they may pass
    ``source``, an (index, frame source) pair read instead of the config's dataset (e.g. a
    synthetic clip cache).
    """
    info = info or DistInfo()
    device = device or resolve_device(config.device, info)
    if source is not None:
        index, frames = source
    else:
        with main_process_first(info):
            index = build_index(config)
            frames = build_source(index, config, workers=config.num_workers)
    seed_everything(config.seed)
    task = accelerate(build_task(config).to(device), config.channels_last, config.torch_compile)
    dataset = VideoClipDataset(index, task.clip_sampler(), source=frames, seed=config.seed)
    loader = clip_loader(dataset, config, info, device)
    failures = FailureHook(FailureTracker(config.max_failure_fraction, index), info)
    return _trainer(config, task, loader, run, info, device, failures, progress)


def _trainer(
    config: PretrainConfig,
    task: PretextTask,
    loader: Any,
    run: RunHandle | None,
    info: DistInfo,
    device: torch.device,
    failures: FailureHook,
    progress: bool,
) -> Trainer:
    task.plan_steps(config.epochs * batches_per_epoch(loader))
    hooks = Hooks(prepare=failures.prepare, after_step=task.after_step, end_epoch=failures.end_epoch)
    return config_trainer(
        config,
        task,
        loader,
        run,
        info,
        device,
        hooks,
        progress,
        f"{config.task}/{config.backbone}",
        find_unused_parameters=bool(getattr(task, "ddp_find_unused_parameters", False)),
    )


class FailureHook:
    """Counts unreadable videos per epoch (over every process) and drops them from batches.

    A batch left with fewer than two readable videos is skipped: batch norm cannot train on one.
    """

    def __init__(self, tracker: FailureTracker, info: DistInfo) -> None:
        self.tracker = tracker
        self.info = info
        self.kept = 0

    def prepare(self, batch: dict[str, Any]) -> dict[str, Any] | None:
        self.tracker.update(batch)
        if batch["size"] < 2:
            return None
        self.kept += 1
        return {k: v for k, v in batch.items() if k not in ("failed", "size")}

    def end_epoch(self, epoch: int) -> Mapping[str, float]:
        """The epoch's failed-video count.

        Raises:
            RuntimeError: on every process when too many videos failed; when none of this
                process's batches kept two readable videos (with the failure summary).
        """
        nothing_learnt = self._nothing_readable(epoch) if not self.kept else None
        self.kept = 0
        tracker = self.tracker
        if self.info.is_distributed:
            parts = all_gather_object((tracker.seen, tracker.failed), self.info)
            tracker = FailureTracker(self.tracker.max_failure_fraction, self.tracker.index)
            tracker.seen = sum(seen for seen, _ in parts)
            for _, failed in parts:
                tracker.failed.update(failed)
            self.tracker.seen, self.tracker.failed = 0, {}
        failed = int(tracker.end_epoch()["failed"])  # raises first when the failures pass the tolerance
        if nothing_learnt:
            raise RuntimeError(nothing_learnt)
        return {"failed_videos": failed}

    def _nothing_readable(self, epoch: int) -> str:
        tracker = self.tracker
        first = sorted(tracker.failed)[:5]
        names = [str(tracker.index.records[i].path) if tracker.index is not None else str(i) for i in first]
        return (
            f"epoch {epoch} made no training step: {len(tracker.failed)} of {tracker.seen} videos could not be "
            f"read (first: {', '.join(names) or 'none'}) and no batch kept two readable videos; "
            f"max_failure_fraction={tracker.max_failure_fraction} tolerated the failures, but a run that "
            "learnt nothing is not saved. Check the files (e.g. with ffprobe) or the dataset's path"
        )


def _check_stored_config(run: RunHandle, data_root: str | None) -> None:
    """Refuse to resume a folder whose stored config does not hash to its name.

    The stored config is read with this attempt's ``data_root``: a moved copy of the dataset
    resumes the run its content names, wherever the first attempt found it.

    Raises:
        ValueError: for a hash collision, or a config stored under older hash rules.
    """
    stored = {**run.config(), "data_root": data_root} if run.exists else {}
    if run.exists and PretrainConfig.from_dict(stored).config_hash() != run.key:
        raise ValueError(f"{run.dir} holds a config that does not hash to {run.key}; move the folder away")


def _final_state(task: PretextTask, trainer: Trainer) -> dict[str, Any]:
    """``final.pt``: the backbone's state dict, the rest of the task's, epoch and step."""
    backbone = task.backbone.state_dict()
    rest = {k: v for k, v in task.state_dict().items() if not k.startswith("backbone.")}
    return {"backbone": backbone, "task": rest, "epoch": trainer.epoch, "step": trainer.step}


def _setup_seconds(start: float, table: pd.DataFrame, trainer: Trainer) -> float:
    """This attempt's time outside the epochs it trained (data, cache, model set-up, writing)."""
    trained = table["seconds"].tail(max(0, len(table) - trainer.resumed_epoch)).sum() if len(table) else 0.0
    return max(0.0, time.perf_counter() - start - float(trained))
