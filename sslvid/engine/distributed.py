"""DistributedDataParallel plumbing: torchrun detection, process group set-up, rank-0 helpers.

A run launched with ``torchrun --nproc_per_node N`` has ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` in its environment; anything else is a single process (world size 1), where
every helper here is a no-op. The backend is NCCL on CUDA and gloo on the CPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from sslvid.errors import DeviceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) run.

    Args:
        rank: global rank. world_size: number of processes. local_rank: rank on this node.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only process that writes files and shows progress."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment (defaults: a single process)."""
    return DistInfo(
        int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
    )


def resolve_device(spec: str, info: DistInfo) -> torch.device:
    """The device named by ``spec`` ("auto", "cpu", "cuda", "cuda:N") for this process.

    Under torchrun "auto" and "cuda" mean ``cuda:<local rank>``.

    Raises:
        RuntimeError: if CUDA is asked for and not available.
    """
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device {spec!r} asked for, but CUDA is not available on this machine",
            hint="use --device cpu (or device='cpu'), or 'auto' to take a GPU when there is one",
        )
    if spec == "cuda":
        return torch.device("cuda", info.local_rank if info.is_distributed else torch.cuda.current_device())
    return torch.device(spec)


@contextmanager
def distributed_session(device: torch.device, info: DistInfo | None = None) -> Iterator[DistInfo]:
    """Join the process group for the body when launched by torchrun; leave it afterwards.

    A group that is already initialised (by the caller) is used and left alone.
    """
    info = info or env_info()
    owns = info.is_distributed and not dist.is_initialized()
    if owns:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
        log.info("joined %s process group: rank %d of %d", backend, info.rank, info.world_size)
    try:
        yield info
    finally:
        if owns and dist.is_initialized():
            dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op for one process)."""
    if info.is_distributed:
        dist.barrier()


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every process (pickled; for small decisions, not tensors)."""
    if not info.is_distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: Any, info: DistInfo) -> list[Any]:
    """Every process's ``obj``, in rank order."""
    if not info.is_distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The element-wise sum of ``tensor`` over processes (in place; returned for chaining)."""
    if info.is_distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


@contextmanager
def main_process_first(info: DistInfo) -> Iterator[None]:
    """Rank 0 runs the body first (it writes caches), the others after it (they only read)."""
    if not info.is_main:
        barrier(info)
    try:
        yield
    finally:
        if info.is_main:
            barrier(info)
