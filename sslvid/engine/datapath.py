"""The fast data path to the accelerator: prefetched uint8 batches, channels-last weights, compiled backbones.

What travels to the device is the collated **uint8** batch (``clips`` (B, K, T, H, W, 3)): a
quarter of the bytes of float32. The pretext tasks turn it into float clips, crop, jitter and
normalise it there, in batch and consistently over a clip's frames (``sslvid.data.transforms``).

* :func:`prefetch_to_device` runs the loader's batches through ``prepare`` and copies them to
  the device one batch ahead. On CUDA the copy of batch ``i + 1`` is issued on a side stream
  (``non_blocking`` from the loader's pinned memory) before batch ``i`` is handed to the
  step, so the transfer overlaps the step's kernels; the compute stream waits on the side
  stream before it touches a batch, and ``record_stream`` keeps the caching allocator from
  reusing a batch's memory while the step still reads it. On the CPU it prepares and moves
  batches in turn (a move to the CPU is free).
* :func:`to_channels_last_3d` stores every 5-D parameter and buffer (the Conv3d weights)
  channels-last, so cuDNN can pick its NDHWC kernels (faster with bf16 on tensor cores);
  an option, off by default.
* :func:`compile_backbones` compiles each backbone's ``forward_features`` with
  ``torch.compile`` in place: parameter names (and so checkpoints) do not change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

from sslvid.engine.loading import move_to_device

log = logging.getLogger(__name__)

M = TypeVar("M", bound=nn.Module)

_END = object()


def prefetch_to_device(
    batches: Iterable[Any], device: torch.device, prepare: Callable[[Any], Any | None] | None = None
) -> Iterator[Any | None]:
    """The batches of ``batches`` on ``device``, each prepared, the next one copied while this one is used.

    Args:
        batches: raw loader batches (dicts, lists or tuples of tensors; from a loader with
            ``pin_memory=True`` on CUDA, so that the copies are asynchronous).
        device: where the batches go.
        prepare: raw batch -> batch to move, or None to skip it (the None is yielded).

    Yields:
        each batch on ``device`` (tensors keep their dtype: uint8 clips stay uint8), or None
        where ``prepare`` skipped one.
    """
    if device.type != "cuda":
        for raw in batches:
            batch = prepare(raw) if prepare else raw
            yield None if batch is None else move_to_device(batch, device, non_blocking=True)
        return
    yield from _cuda_prefetch(iter(batches), device, prepare)


def _cuda_prefetch(
    batches: Iterator[Any], device: torch.device, prepare: Callable[[Any], Any | None] | None
) -> Iterator[Any | None]:
    """Side-stream prefetch (module docstring): batch ``i + 1`` is in flight while batch ``i`` is yielded."""
    side = torch.cuda.Stream(device)
    compute = torch.cuda.current_stream(device)

    def load() -> Any:
        raw = next(batches, _END)
        if raw is _END:
            return _END
        batch = prepare(raw) if prepare else raw
        if batch is None:
            return None
        with torch.cuda.stream(side):
            return move_to_device(batch, device, non_blocking=True)

    pending = load()
    while pending is not _END:
        compute.wait_stream(side)
        current = pending
        if current is not None:
            _record_stream(current, compute)
        pending = load()
        yield current


def _record_stream(batch: Any, stream: torch.cuda.Stream) -> None:
    """Mark every CUDA tensor of ``batch`` as used on ``stream`` (see ``Tensor.record_stream``)."""
    if isinstance(batch, torch.Tensor):
        if batch.is_cuda:
            batch.record_stream(stream)
    elif isinstance(batch, dict):
        for value in batch.values():
            _record_stream(value, stream)
    elif isinstance(batch, (list, tuple)):
        for value in batch:
            _record_stream(value, stream)


def to_channels_last_3d(module: nn.Module) -> nn.Module:
    """``module`` with every 5-D parameter and buffer stored channels-last (NDHWC), in place.

    Only 5-D tensors change (``Module.to(memory_format=channels_last_3d)`` would fail on the
    4-D weights of 2-D heads). Call it before the optimiser is built.
    """
    changed = 0
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
            changed += 1
    log.info("channels_last_3d: %d tensors", changed)
    return module


def compile_backbones(module: nn.Module, **compile_kwargs: Any) -> nn.Module:
    """Compile the ``forward_features`` of every backbone inside ``module`` with ``torch.compile``, in place.

    A backbone is any submodule with ``forward_features`` and ``block_names`` (the
    ``VideoBackbone`` face), momentum copies included. ``state_dict`` names are unchanged.
    Compile last: a deep copy of a compiled backbone would still call the original's
    compiled ``forward_features`` (build momentum copies first, as the tasks do). Backbones
    compiled before are left as they are.

    Args:
        module: a pretext task or any module holding backbones.
        **compile_kwargs: passed to ``torch.compile`` (``backend``, ``mode``, ``dynamic``...).
    """
    count = 0
    for sub in module.modules():
        compiled = "forward_features" in vars(sub)
        if hasattr(sub, "block_names") and callable(getattr(sub, "forward_features", None)) and not compiled:
            # nn.Module's type admits only tensors and modules as attributes, not the compiled method
            sub.forward_features = torch.compile(sub.forward_features, **compile_kwargs)  # type: ignore[assignment,arg-type]
            count += 1
    log.info("torch.compile: %d backbones (%s)", count, compile_kwargs or "defaults")
    return module


def accelerate(module: M, channels_last: bool = False, compile: bool = False) -> M:  # noqa: A002
    """Apply the optional speed-ups of a run to ``module`` (already on its device), in place.

    Both are off by default: measure before turning them on (``benchmarks/data_path.py``).

    Args:
        module: the trained module.
        channels_last: store 5-D weights channels-last (:func:`to_channels_last_3d`).
        compile: compile the backbones (:func:`compile_backbones`).
    """
    if channels_last:
        to_channels_last_3d(module)
    if compile:
        compile_backbones(module)
    return module
