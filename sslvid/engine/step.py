"""What one training step of any module returns to the engine's ``Trainer``.

The trainer drives every kind of training (pre-training, finetuning, linear probing,
distillation) the same way: it calls the module on a batch and reads back the loss, the
metrics to log and the batch size. Any object with those three attributes will do: pretext
tasks return their ``TaskOutput`` (``sslvid.pretext.base``), which has the same fields; the
engine itself knows nothing of pretext tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch


class StepResult(Protocol):
    """The face of a step's output that the trainer reads."""

    loss: torch.Tensor
    metrics: dict[str, Any]
    batch_size: int


@dataclass
class StepOutput:
    """The result of one training step.

    Args:
        loss: scalar tensor to minimise.
        metrics: detached scalars to log (e.g. ``{"acc": 0.5}``).
        batch_size: samples (clips, videos or feature rows) the step covered; losses and metrics
            are averaged over an epoch weighted by it.
    """

    loss: torch.Tensor
    metrics: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 0
