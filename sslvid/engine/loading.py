"""Data loading for the engine: the epoch travels with each index, so workers can persist.

A dataset like ``VideoClipDataset`` draws an item's clips from ``rng_for(seed, "clip", epoch,
i)`` and is told the epoch by ``set_epoch``. With persistent DataLoader workers each worker
holds its own copy of the dataset, so a ``set_epoch`` call in the main process never reaches
them. Here the sampler yields ``(epoch, i)`` pairs and ``EpochIndexed`` sets the epoch of the
worker's copy before reading item ``i``: workers persist across epochs (no re-spawn, no
re-opened memmaps) and every item still depends only on the seed, the epoch and the index.

Because each key names its epoch, the batches of several epochs can also stream back to back
through one iterator (``EpochBatchSampler.set_epochs``, used by ``epoch_batches``): workers
prefetch the next epoch's first batches while the current epoch ends, so an epoch boundary
costs no pipeline refill.

The order is ``DistributedSampler``'s (seeded by ``seed + epoch``) in every case, with one
replica for a single process, so a run and its resumed continuation see the same batches.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from sslvid.engine.distributed import DistInfo
from sslvid.errors import ConfigError


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` pairs: this process's share of a seeded shuffle of ``range(n)``.

    Args:
        n: dataset length.
        seed: shuffle seed (the order of epoch ``e`` is seeded by ``seed + e``).
        shuffle: shuffle, or keep ``0..n-1``.
        info: rank and world size; each process gets a disjoint share (padded to equal length).
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True, info: DistInfo | None = None) -> None:
        info = info or DistInfo()
        positions: Any = range(n)  # stands for the dataset (typed as one): the sampler reads only its length
        self.inner: DistributedSampler[Any] = DistributedSampler(
            positions, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=False
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch of the next iteration (order and clip draws)."""
        self.epoch = epoch
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        return ((epoch, i) for i in self.inner)

    def __len__(self) -> int:
        return len(self.inner)


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` keys for the epochs ``first..last``, one epoch after the other.

    Batches never straddle an epoch: each epoch is ``batches_per_epoch`` batches.

    Args:
        sampler: the per-epoch order of this process.
        batch_size: keys per batch.
        drop_last: drop each epoch's incomplete last batch.
    """

    def __init__(self, sampler: EpochSampler, batch_size: int, drop_last: bool = True) -> None:
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last
        self.first = self.last = 0

    @property
    def batches_per_epoch(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Iterate one epoch."""
        self.set_epochs(epoch, epoch)

    def set_epochs(self, first: int, last: int) -> None:
        """Iterate the epochs ``first..last`` (inclusive) back to back."""
        self.first, self.last = first, last

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for epoch in range(self.first, self.last + 1):
            self.sampler.set_epoch(epoch)
            keys = iter(self.sampler)
            while batch := list(itertools.islice(keys, self.batch_size)):
                if len(batch) == self.batch_size or not self.drop_last:
                    yield batch

    def __len__(self) -> int:
        return self.batches_per_epoch * max(0, self.last - self.first + 1)


class EpochIndexed(Dataset):
    """A dataset with ``set_epoch`` read by ``(epoch, index)`` keys (see the module docstring).

    Args:
        dataset: any dataset with ``set_epoch(epoch)`` and integer ``__getitem__``.
    """

    def __init__(self, dataset: Any) -> None:
        if not callable(getattr(dataset, "set_epoch", None)):
            raise TypeError(f"{type(dataset).__name__} has no set_epoch(epoch)")
        self.dataset = dataset
        self._epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if epoch != self._epoch:
            self.dataset.set_epoch(epoch)
            self._epoch = epoch
        return self.dataset[index]


def make_loader(
    dataset: Any,
    batch_size: int,
    *,
    collate_fn: Callable[[Sequence[Any]], Any],
    seed: int = 0,
    shuffle: bool = True,
    num_workers: int = 0,
    info: DistInfo | None = None,
    pin_memory: bool = False,
    drop_last: bool = True,
    prefetch_factor: int = 4,
) -> DataLoader:
    """A DataLoader over ``dataset`` with persistent workers and an epoch-carrying sampler.

    Args:
        dataset: a dataset with ``set_epoch`` (e.g. ``VideoClipDataset``).
        batch_size: items per batch on this process (the global batch divided by the world size).
        collate_fn: batch builder (``collate_clips``).
        seed: shuffle seed. shuffle: shuffle or keep order.
        num_workers: worker processes (0: load in this process).
        info: rank and world size for the distributed share.
        pin_memory: pin batches for fast host-to-GPU copies.
        drop_last: drop the last, incomplete batch (what pre-training wants).
        prefetch_factor: batches each worker prepares ahead.

    Raises:
        ValueError: when ``drop_last`` leaves no batch at all (fewer items than ``batch_size``).
    """
    sampler = EpochSampler(len(dataset), seed=seed, shuffle=shuffle, info=info)
    batches = EpochBatchSampler(sampler, batch_size, drop_last)
    if batches.batches_per_epoch == 0:
        raise ConfigError(
            f"{len(sampler)} items per process are fewer than one batch of {batch_size}",
            hint=f"choose a batch size of at most {len(sampler)} (--batch-size, or "
            "--set batch_size=...) or a bigger subset",
        )
    workers: dict[str, Any] = (
        {"persistent_workers": True, "prefetch_factor": prefetch_factor} if num_workers > 0 else {}
    )
    # The loader's own generator: DataLoader draws a worker base seed from it for every new
    # iterator (once with persistent workers, every epoch without), which must not shift the
    # global RNG that the model's randomness uses, or results would depend on num_workers.
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        EpochIndexed(dataset),
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        generator=generator,
        **workers,
    )


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Tell the loader's batch sampler, or else its sampler, which epoch comes next."""
    for sampler in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        set_epoch = getattr(sampler, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
            return


def batches_per_epoch(loader: DataLoader) -> int:
    """Optimiser steps in one epoch of ``loader``."""
    return getattr(loader.batch_sampler, "batches_per_epoch", None) or len(loader)


def epoch_batches(loader: DataLoader, first: int, last: int) -> Iterator[tuple[int, Iterator[Any]]]:
    """``(epoch, batches of that epoch)`` for the epochs ``first..last``.

    With an ``EpochBatchSampler`` one iterator streams every epoch (workers prefetch across
    epoch boundaries); any other loader is iterated once per epoch after ``set_loader_epoch``.
    Each epoch's batches must be consumed before the next epoch's are asked for.
    """
    if first > last:
        return
    sampler = loader.batch_sampler
    if isinstance(sampler, EpochBatchSampler):
        sampler.set_epochs(first, last)
        stream = iter(loader)
        for epoch in range(first, last + 1):
            yield epoch, itertools.islice(stream, sampler.batches_per_epoch)
        return
    for epoch in range(first, last + 1):
        set_loader_epoch(loader, epoch)
        yield epoch, iter(loader)


def move_to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """``batch`` with every tensor (in dicts, lists and tuples) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(move_to_device(v, device, non_blocking) for v in batch)
    return batch
