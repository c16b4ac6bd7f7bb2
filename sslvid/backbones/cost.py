"""What a backbone costs: parameters, multiply-adds and measured clips per second.

Multiply-adds (MACs) are counted with ``torch.utils.flop_counter.FlopCounterMode`` on the
``meta`` device, so a full-width network on 16x112x112 clips costs no memory or time.
FlopCounterMode counts 2 FLOPs per multiply-add; :func:`count_flops` returns MACs, the unit
of torchvision's "GFLOPS" column (R(2+1)D-18: 40.52 at 16x112x112) and of most video papers.
Convolutions and matrix products are counted; norms, activations and pooling are not.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from sslvid.backbones.base import BACKBONES, CAPACITIES, clip_batch

logger = logging.getLogger(__name__)

PAPER_CLIP: tuple[int, int, int, int] = (3, 16, 112, 112)
"""(C, T, H, W) of the benchmark paper's clips (§3.2)."""


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (shared ones once); works on the meta device."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, clip_shape: Sequence[int] = PAPER_CLIP, batch_size: int = 1) -> int:
    """Multiply-adds (MACs, not FLOPs) of one forward pass over ``batch_size`` clips.

    The model runs on the ``meta`` device with stand-in tensors for its parameters and
    buffers: nothing is computed or allocated, and ``model`` itself is left untouched
    (it may live on any device, or already on ``meta``). Runs in eval mode.

    Args:
        model: the network; it is called as ``model(x)`` with ``x`` of shape ``(B, C, T, H, W)``.
        clip_shape: ``(C, T, H, W)`` of one clip.
        batch_size: clips B per forward pass.

    Returns:
        multiply-adds, i.e. FlopCounterMode's FLOPs / 2.

    Raises:
        ValueError: if ``clip_shape`` does not have four entries.
    """
    named = itertools.chain(model.named_parameters(remove_duplicate=False), model.named_buffers(remove_duplicate=False))
    stand_ins = {name: torch.empty_like(t, device="meta") for name, t in named}
    x = clip_batch(batch_size, clip_shape, device="meta")
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            functional_call(model, stand_ins, (x,), tie_weights=False)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def _model_device(model: nn.Module) -> torch.device:
    return next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_throughput(
    model: nn.Module,
    clip_shape: Sequence[int],
    batch_size: int = 2,
    steps: int = 5,
    train: bool = False,
    warmup: int = 1,
) -> float:
    """Clips per second of ``model`` on random clips, on the device the model lives on.

    Inference runs ``model(x)`` under ``torch.inference_mode`` in eval mode. Training runs
    forward, a mean-square loss of the output, backward and an SGD step (momentum 0.9), on a
    deep copy so that ``model``'s weights and batch-norm statistics stay as they were.
    ``warmup`` untimed steps come first; the rate uses the median step time, which is robust
    to other processes briefly taking the CPU.

    Args:
        model: the network, called as ``model(x)`` with ``x`` of shape ``(B, C, T, H, W)``.
        clip_shape: ``(C, T, H, W)`` of one clip.
        batch_size: clips B per step.
        steps: timed steps.
        train: time training steps instead of inference.
        warmup: untimed steps before timing.

    Returns:
        ``batch_size / median seconds per step``.

    Raises:
        ValueError: if ``steps < 1``, ``batch_size < 1`` or ``clip_shape`` is not (C, T, H, W).
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    device = _model_device(model)
    x = clip_batch(batch_size, clip_shape, device=device)
    was_training = model.training
    step = _train_step(copy.deepcopy(model).train(), x) if train else _inference_step(model, x)
    try:
        for _ in range(warmup):
            step()
        seconds = [_timed(step, device) for _ in range(steps)]
    finally:
        model.train(was_training)
    return batch_size / statistics.median(seconds)


def _timed(step: Callable[[], None], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    step()
    _synchronize(device)
    return time.perf_counter() - start


def _inference_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    model.eval()

    def step() -> None:
        with torch.inference_mode():
            model(x)

    return step


def _train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(x).float().square().mean().backward()
        optimizer.step()

    return step


def backbone_table(
    names: Sequence[str] | None = None,
    clip_shape: Sequence[int] = PAPER_CLIP,
    width: float = 1.0,
    throughput: bool = True,
    batch_size: int = 2,
    steps: int = 3,
) -> pd.DataFrame:
    """One row per backbone: name, capacity, params, GMACs and measured clips/s, for the book.

    Parameters and GMACs (per clip) are counted on the meta device at ``clip_shape`` and
    ``width``; with ``throughput`` the network is also built for real on the CPU and timed
    (train and inference clips/s), which is slow for full-width networks on big clips.

    Args:
        names: backbones to list (default: the 3D networks, small to big).
        clip_shape: ``(C, T, H, W)`` of one clip.
        width: width multiplier passed to every builder.
        throughput: measure clips/s (else those columns are NaN).
        batch_size: clips per timed step.
        steps: timed steps per measurement.

    Returns:
        DataFrame with columns name, capacity, width, params, GMACs, train_clips_per_s,
        infer_clips_per_s.

    Raises:
        ValueError: for an unknown backbone name.
    """
    names = list(names) if names is not None else _names_by_capacity()
    rows = [_table_row(name, tuple(clip_shape), width, throughput, batch_size, steps) for name in names]
    return pd.DataFrame(rows)


def _names_by_capacity() -> list[str]:
    """The spatio-temporal (3D) networks, small to big; 2D per-frame networks are listed by name."""
    names = [n for n in BACKBONES.names() if BACKBONES.meta(n).get("kind", "3d") == "3d"]
    return sorted(names, key=lambda n: (CAPACITIES.index(BACKBONES.meta(n)["capacity"]), n))


def _table_row(
    name: str, clip_shape: tuple[int, ...], width: float, throughput: bool, batch_size: int, steps: int
) -> dict[str, object]:
    with torch.device("meta"):
        meta_model = BACKBONES.create(name, width=width)
    row: dict[str, object] = {
        "name": name,
        "capacity": BACKBONES.meta(name)["capacity"],
        "width": width,
        "params": count_parameters(meta_model),
        "GMACs": count_flops(meta_model, clip_shape) / 1e9,
        "train_clips_per_s": math.nan,
        "infer_clips_per_s": math.nan,
    }
    if throughput:
        model = BACKBONES.create(name, width=width)
        row["train_clips_per_s"] = measure_throughput(model, clip_shape, batch_size, steps, train=True)
        row["infer_clips_per_s"] = measure_throughput(model, clip_shape, batch_size, steps, train=False)
    logger.info("costed %s at width %s on %s", name, width, clip_shape)
    return row
