"""The engine: one training loop (checkpoints, resume, results cache, progress, AMP, DDP) that
every kind of training goes through, and one run skeleton around it (``sslvid.engine.runner``:
session, store lookup, lock, record). Pre-training is ``pretrain(PretrainConfig...)``."""

from sslvid.engine.config import PretrainConfig
from sslvid.engine.optim import make_optimizer, make_schedule
from sslvid.engine.pretrain import (
    PretrainResult,
    build_backbone,
    build_index,
    build_task,
    build_trainer,
    find_pretrained,
    pretrain,
)
from sslvid.engine.runner import Workspace, run_session, train_once
from sslvid.engine.trainer import Hooks, Trainer

__all__ = [
    "Hooks",
    "PretrainConfig",
    "PretrainResult",
    "Trainer",
    "Workspace",
    "build_backbone",
    "build_index",
    "build_task",
    "build_trainer",
    "find_pretrained",
    "make_optimizer",
    "make_schedule",
    "pretrain",
    "run_session",
    "train_once",
]
