"""Teachers from the run store: finetuned classifiers (``sslvid.evaluate``), pretext tasks, distilled students.

A finetuned teacher is found (or trained, once) by ``sslvid.evaluate.classify.finetune`` under
its ``EvalConfig`` hash, and loaded with ``trained_classifier``; its pre-training run must be
in the store, or come with the reference so that ``pretrain`` can make it. A pretext teacher
is a finished pre-training run rebuilt with its task head (:class:`PretextTeacher`). A
distilled teacher is the student of a distillation run (found or trained by ``distill``): its
classifier, or for a PCL-trained student what its ``as_teacher`` gives (its transformation head).
Loading one needs the distillation itself, which this module does not import: the caller
(``sslvid.distill.run``) passes it in as ``distilled``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.data.sources import open_split
from sslvid.distill.config import DistillConfig, TeacherRef
from sslvid.engine.pretrain import build_task, pretrain
from sslvid.pretext.base import PretextTask
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

log = logging.getLogger(__name__)


class PretextTeacher(nn.Module):
    """A backbone and a pretext head shown with the backbone face: ``forward`` gives the head's logits.

    Args:
        backbone: the trained backbone (``forward_features`` (B, 3, T, H, W) -> (B, D)).
        head: the pretext head on pooled features, (B, D) -> (B, K) (RotNet's rotation
            classifier, for PCL-KD).
    """

    def __init__(self, backbone: VideoBackbone, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head
        self.feature_dim = backbone.feature_dim

    @classmethod
    def of_task(cls, task: PretextTask) -> PretextTeacher:
        """The teacher of a pretext task with a ``backbone`` and a ``head`` on pooled features.

        Raises:
            ValueError: if the task has no ``head`` module.
        """
        head = getattr(task, "head", None)
        if not isinstance(head, nn.Module):
            raise ValueError(f"pretext task {type(task).__name__} has no head on pooled features to distil from")
        return cls(task.backbone, head)

    def forward_features(self, x: Tensor) -> Tensor:
        """Clips (B, 3, T, H, W) -> pooled features (B, D)."""
        return self.backbone.forward_features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """Features (B, D) -> the pretext head's logits."""
        return self.head(features)

    def forward_intermediates(self, x: Tensor, indices: int | list[int] | None = None) -> list[Tensor]:
        """The backbone's block outputs (see ``VideoBackbone.forward_intermediates``)."""
        return self.backbone.forward_intermediates(x, indices)

    def forward(self, x: Tensor) -> Tensor:
        """Clips (B, 3, T, H, W) -> logits of the pretext head."""
        return self.forward_head(self.forward_features(x))


DistilledTeacher = Callable[[TeacherRef, RunStore, ResultsStore | None, bool], nn.Module]
"""Loads (training it first if missing) the student of a distillation run as a teacher:
``sslvid.distill.run.distilled_teacher``."""


def load_teacher(
    ref: TeacherRef,
    store: RunStore,
    results: ResultsStore | None = None,
    progress: bool = False,
    distilled: DistilledTeacher | None = None,
) -> nn.Module:
    """The teacher of ``ref`` on the CPU in eval mode, trained first if the store lacks it.

    Args:
        ref: the teacher reference.
        store: the run store (pre-training, finetuning and distillation runs).
        results: where a teacher's own finetuning numbers go (default ``ResultsStore()``).
        progress: show progress bars while a missing teacher trains.
        distilled: loads a distilled student as a teacher (needed for ``ref.kind == "distill"``).

    Raises:
        FileNotFoundError: when a finetuned teacher's pre-training run is missing and the
            reference does not carry its ``PretrainConfig``.
        ValueError: for a distilled teacher without ``distilled``.
    """
    if ref.kind == "distill":
        if distilled is None:
            raise ValueError("a distilled teacher needs distilled=sslvid.distill.run.distilled_teacher")
        return distilled(ref, store, results, progress)
    if ref.pretrain is not None:
        pretrain(ref.pretrain, store=store, progress=progress)  # found in the store, or trained once
    if ref.kind == "pretrain":
        return pretext_teacher(ref, store)
    from sslvid.evaluate.classify import finetune, trained_classifier

    finetune(ref.finetune, store=store, results=results, progress=progress)
    return trained_classifier(ref.finetune, store).backbone.eval()


def pretext_teacher(ref: TeacherRef, store: RunStore) -> PretextTeacher:
    """The finished pre-training run of ``ref`` as a :class:`PretextTeacher` (backbone and task head).

    Raises:
        FileNotFoundError: if the run is not complete in ``store``.
    """
    run = store.find(ref.pretrain)
    if run is None:
        raise FileNotFoundError(f"pre-training run {ref.pretrain.config_hash()} is not complete in {store.root}")
    final = run.load_final()
    task = build_task(ref.pretrain)
    task.load_state_dict({**{f"backbone.{k}": v for k, v in final["backbone"].items()}, **final["task"]})
    return PretextTeacher.of_task(task).eval()


def check_teacher_datasets(config: DistillConfig) -> None:
    """Refuse classifier teachers trained on another dataset than the student's, before anything trains.

    A finetuned teacher, or a distilled student with a classifier, scores the classes of the
    training split it learnt; the student learns its own training split's classes. Two
    ``folder`` datasets (or two copies of a layout) share the layout name but not their classes,
    so the fingerprints of the two training splits must agree (``HashedConfig.data_fingerprint``;
    checked where both have a ``data_root``, the default data being named by its set). Pretext
    teachers (PCL-KD) score pretext labels and may come from any dataset.

    Raises:
        ValueError: naming the teacher, both datasets with their class counts, and what to do.
    """
    student = _training_split_fingerprint(config)
    for i, ref in enumerate(config.teachers):
        trained = ref.finetune or (ref.distill if ref.output == "classes" else None)
        teacher = _training_split_fingerprint(trained) if trained is not None else None
        if trained is None or student is None or teacher is None or teacher == student:
            continue
        theirs, ours = _classes(trained), _classes(config)
        counts = (
            "the same number of classes but other videos or class names"
            if len(theirs) == len(ours)
            else f"{len(theirs)} classes against the student's {len(ours)}"
        )
        raise ValueError(
            f"teacher {i} ({ref.describe()}) was trained on {trained.dataset} at {trained.data_root} "
            f"({trained.train_split} split: {len(theirs)} classes); the student trains on {config.dataset} at "
            f"{config.data_root} ({config.train_split} split: {len(ours)} classes): {counts}. A classifier "
            "teacher must be trained on the student's training set: finetune the teacher on the student's "
            "data_root, or distil on the teacher's."
        )


def _training_split_fingerprint(config: Any) -> str | None:
    """The fingerprint of the training split of a config with a ``data_root`` (None without one)."""
    fingerprints = config.data_fingerprint()
    return fingerprints[config.train_split] if fingerprints is not None else None


def _classes(config: Any) -> tuple[str, ...]:
    """The class names of a config's training split."""
    return open_split(
        config.dataset, config.train_split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    ).classes


def load_teachers(
    refs: tuple[TeacherRef, ...],
    store: RunStore,
    results: ResultsStore | None = None,
    progress: bool = False,
    distilled: DistilledTeacher | None = None,
) -> list[nn.Module]:
    """Every teacher of ``refs`` (see :func:`load_teacher`), in order."""
    teachers = []
    for i, ref in enumerate(refs):
        log.info("teacher %d: %s (%s)", i, ref.describe(), ref.key())
        teachers.append(load_teacher(ref, store, results, progress, distilled))
    return teachers
