"""One way to run anything: the steps every kind of run goes through, written once.

Pre-training, evaluation, retrieval and distillation differ in what they build and train; around
that they all do the same (``run_session`` and ``train_once``):

1. the config was validated on construction;
2. the process's distributed environment is read (``torchrun`` or one process) and the device
   resolved; a global batch must divide over the processes;
3. a distributed session is opened and the run's numerics set (threads, deterministic kernels);
4. the run is looked up in the run store: complete, nothing is trained;
5. otherwise the run's lock is taken (one process per config at a time) and the run checked
   again (another process may have finished it meanwhile);
6. the training is built, the run begun (config and provenance: seed, commit, device), trained
   (a failure is recorded in the run and re-raised), and finished (final state, checksum,
   wall time), all writing on rank 0 only; then the processes meet at a barrier.

Where runs read and write is a :class:`Workspace` (run store, results table, feature cache,
progress bars), passed as one thing instead of four arguments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from sslvid.data.dataset import VideoClipDataset, collate_clips
from sslvid.engine.distributed import (
    DistInfo,
    barrier,
    broadcast_object,
    distributed_session,
    env_info,
    resolve_device,
)
from sslvid.engine.loading import batches_per_epoch, make_loader
from sslvid.engine.optim import make_optimizer, make_schedule
from sslvid.engine.trainer import Hooks, Trainer
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunHandle, RunStore, collect_provenance

log = logging.getLogger(__name__)


@dataclass
class Workspace:
    """Where runs read and write, and whether they show progress.

    Args:
        store: the run store (checkpoints and final weights, by config hash).
        results: the tidy results table.
        features: the feature cache of frozen backbones (``sslvid.evaluate.features.FeatureCache``;
            None: the default one, made by the evaluation that needs it).
        progress: show progress bars (rank 0 only).
    """

    store: RunStore = field(default_factory=RunStore)
    results: ResultsStore = field(default_factory=ResultsStore)
    features: Any = None
    progress: bool = True

    @classmethod
    def of(
        cls,
        store: RunStore | None = None,
        results: ResultsStore | None = None,
        features: Any = None,
        progress: bool = True,
        workspace: Workspace | None = None,
    ) -> Workspace:
        """``workspace`` if given, else one from the separate arguments (the defaults where None)."""
        if workspace is not None:
            return workspace
        return cls(store or RunStore(), results or ResultsStore(), features, progress)


@dataclass
class Session:
    """The process's part in a run: its distributed environment and device."""

    info: DistInfo
    device: torch.device


@contextlib.contextmanager
def run_session(config: Any, split_batch: bool = False) -> Iterator[Session]:
    """Steps 2 and 3: the distributed environment, the device, a distributed session and the
    run's numerics (threads, deterministic kernels), restored afterwards.

    Args:
        config: a run config (``device``, ``threads``, ``deterministic``, ``batch_size``...).
        split_batch: the config's ``batch_size`` is global and must divide over the processes.

    Raises:
        ValueError: for a global batch size that the number of processes does not divide.
    """
    info = env_info()
    if split_batch:
        check_batch_split(config, info)
    device = resolve_device(config.device, info)
    with distributed_session(device, info) as info, run_numerics(config, device, info):
        yield Session(info, device)


def check_batch_split(config: Any, info: DistInfo) -> None:
    """Check that the config's global ``batch_size`` divides over the processes.

    Raises:
        ValueError: when it does not.
    """
    if info.is_distributed and config.batch_size % info.world_size:
        raise ValueError(f"batch_size {config.batch_size} (global) is not divisible by {info.world_size} processes")


@dataclass
class Job:
    """One training, as a kind of run builds it for ``train_once``.

    Args:
        trainer: the engine's trainer (None: nothing to train, e.g. model fusion).
        final_state: the contents of ``final.pt`` once trained.
        videos: training videos (recorded in the provenance).
        provenance: extra provenance entries (e.g. the teachers).
        summary: extra entries of the finished provenance, from the training log.
        fit: runs the training (default: ``trainer.fit()``; an empty log without a trainer).
        check: called on rank 0 before the run is begun (e.g. refuse a folder whose config
            does not hash to its name).
    """

    trainer: Trainer | None
    final_state: Callable[[], Mapping[str, Any]]
    videos: int
    provenance: Mapping[str, Any] = field(default_factory=dict)
    summary: Callable[[pd.DataFrame], Mapping[str, Any]] = lambda table: {}
    fit: Callable[[], pd.DataFrame] | None = None
    check: Callable[[], None] | None = None

    def run(self) -> pd.DataFrame:
        if self.fit is not None:
            return self.fit()
        return self.trainer.fit() if self.trainer is not None else pd.DataFrame()


@dataclass
class Outcome:
    """What ``train_once`` did: ``cached`` when the run was complete in the store, else the training log."""

    cached: bool
    table: pd.DataFrame | None = None


def train_once(
    config: Any, run: RunHandle, session: Session, build: Callable[[], Job], record: Mapping[str, Any] | None = None
) -> Outcome:
    """Steps 4 to 6: train ``run`` unless it is complete, one process at a time per config.

    Args:
        config: the run's config (its ``to_dict()`` is written as ``config.json``, its ``seed`` recorded).
        run: the run's handle in the run store.
        session: from ``run_session``.
        build: builds the training (called only when there is something to train, holding the lock).
        record: entries added to the stored config (e.g. ``{"kind": "eval"}``).

    Raises:
        whatever the training raises, after recording the failure in the run (rank 0).
    """
    info = session.info
    if broadcast_object(run.is_complete, info):
        return Outcome(cached=True)
    with run.lock() if not info.is_distributed else contextlib.nullcontext():
        if run.is_complete:  # another process finished it while we waited for the lock
            return Outcome(cached=True)
        start = time.perf_counter()
        job = build()
        if info.is_main:
            if job.check is not None:
                job.check()
            provenance = collect_provenance(
                config.seed,
                describe_device(session.device, info.world_size),
                world_size=info.world_size,
                videos=job.videos,
                **job.provenance,
            )
            run.begin(config.to_dict() | dict(record or {}), provenance)
        with run.failure_recorded(active=info.is_main):
            table = job.run()
            if info.is_main:
                trainer = job.trainer
                epoch, step = (trainer.epoch, trainer.step) if trainer is not None else (0, 0)
                run.finish(
                    job.final_state(),
                    {
                        "wall_seconds": round(time.perf_counter() - start, 3),
                        "epochs": epoch,
                        "steps": step,
                        **job.summary(table),
                    },
                )
        barrier(info)
    return Outcome(cached=False, table=table)


def clip_loader(dataset: VideoClipDataset, config: Any, info: DistInfo, device: torch.device) -> Any:
    """The training loader of every kind of run: ``config.batch_size`` split over the processes, clips
    collated, order seeded by ``config.seed``, ``config.num_workers`` workers, pinned memory on CUDA."""
    return make_loader(
        dataset,
        config.batch_size // info.world_size,
        collate_fn=collate_clips,
        seed=config.seed,
        num_workers=config.num_workers,
        info=info,
        pin_memory=device.type == "cuda",
    )


def config_trainer(
    config: Any,
    module: torch.nn.Module,
    loader: Any,
    run: RunHandle | None,
    info: DistInfo,
    device: torch.device,
    hooks: Hooks,
    progress: bool,
    desc: str,
    **options: Any,
) -> Trainer:
    """The engine's ``Trainer`` of ``module`` over ``loader`` with the config's training numbers (the shared
    ``Training`` part: optimiser, learning rate, weight decay, momentum, schedule over ``epochs`` with its
    warm-up, checkpoint spacing, seed, AMP); ``options``: other ``Trainer`` fields."""
    steps = batches_per_epoch(loader)
    optimizer = make_optimizer(
        config.optimizer, module, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum
    )
    return Trainer(
        module=module,
        loader=loader,
        optimizer=optimizer,
        epochs=config.epochs,
        device=device,
        schedule=make_schedule(config.scheduler, config.epochs * steps, config.warmup_epochs * steps),
        run=run,
        checkpoint_every=config.checkpoint_every,
        seed=config.seed,
        amp=config.amp,
        info=info,
        hooks=hooks,
        progress=progress,
        desc=desc,
        **options,
    )


def run_threads(requested: int | None, device: torch.device, info: DistInfo, workers: int = 0) -> int | None:
    """Intra-op CPU threads for a run: ``requested``; for None on a CPU, the usable cores shared by
    the processes on this node, halved when ``workers`` loader processes run beside them (at least
    1); None means "leave torch's setting".

    Reading the clip cache costs little (memory-mapped uint8 frames), so without loader workers
    every core computes: a micro R(2+1)D step ran 2x faster with 2 threads and no workers than
    with 1 thread and 2 workers on a 2-core machine."""
    if requested == 0 or (requested is None and device.type != "cpu"):
        return None
    if requested is not None:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", info.world_size))
    return max(1, cores // ((2 if workers else 1) * per_node))


@contextlib.contextmanager
def run_numerics(config: Any, device: torch.device, info: DistInfo) -> Iterator[None]:
    """Threads, deterministic kernels (or cuDNN autotuning on CUDA) for the run only; restored afterwards."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.get_num_threads(),
    )
    threads = run_threads(config.threads, device, info, workers=getattr(config, "num_workers", 0) or 0)
    if threads is not None:
        torch.set_num_threads(threads)
        log.info("run: %d CPU threads", threads)
    torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = previous[2]
        torch.set_num_threads(previous[3])


def describe_device(device: torch.device, world_size: int = 1) -> str:
    """``"cuda: <name> xN"`` or ``"cpu: <threads> threads xN"`` (recorded in a run's provenance)."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)} x{world_size}"
    return f"cpu: {torch.get_num_threads()} threads x{world_size}"
