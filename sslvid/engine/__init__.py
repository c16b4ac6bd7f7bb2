"""The engine: one training loop (checkpoints, resume, results cache, progress, AMP, DDP) that
every kind of training goes through. Pre-training is ``pretrain(PretrainConfig...)``."""
from sslvid.engine.config import PretrainConfig
from sslvid.engine.pretrain import (
    PretrainResult,
    build_backbone,
    build_index,
    build_task,
    build_trainer,
    find_pretrained,
    pretrain,
)
from sslvid.engine.optim import make_optimizer, make_schedule
from sslvid.engine.trainer import Hooks, Trainer

__all__ = [
    "Hooks",
    "PretrainConfig",
    "PretrainResult",
    "Trainer",
    "build_backbone",
    "build_index",
    "build_task",
    "build_trainer",
    "find_pretrained",
    "make_optimizer",
    "make_schedule",
    "pretrain",
]
