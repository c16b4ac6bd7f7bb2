"""The optimisers and learning-rate schedules a run can name: one registry each.

A config's ``optimizer`` and ``scheduler`` are valid when they are names in these registries
(``sslvid.engine.configparts.Training``), so adding one here makes it a valid config value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from sslvid.registry import Registry

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer")
SCHEDULES: Registry[Callable[[int], float]] = Registry("lr schedule")


@OPTIMIZERS.register("sgd")
def _sgd(
    params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def _adam(
    params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(
    params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)


@SCHEDULES.register("constant")
def _constant(total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    return lambda step: min(1.0, (step + 1) / warmup_steps) if step < warmup_steps else 1.0


@SCHEDULES.register("cosine")
def _cosine(total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def make_optimizer(name: str, module: nn.Module, **kwargs: Any) -> torch.optim.Optimizer:
    """Optimiser ``name`` ("sgd", "adam", "adamw") over the trainable parameters of ``module``.

    Raises:
        ValueError: for an unknown name (listing the valid ones).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    return OPTIMIZERS.create(name, params=params, **kwargs)


def make_schedule(name: str, total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """Learning-rate multiplier per global step (0-based): "cosine" (to 0) or "constant", with linear warm-up.

    Raises:
        ValueError: for an unknown name (listing the valid ones).
    """
    return SCHEDULES.create(name, total_steps=total_steps, warmup_steps=warmup_steps)
