"""What every distiller is made of, the registry of distillers, and frozen teachers.

A distiller is a small ``nn.Module`` the engine trains like a pretext task: ``forward(batch)``
returns a ``StepOutput`` (loss, detached metrics, batch size). It holds

* the student under ``backbone`` (the run store's convention: checkpoints keep it under the
  ``"backbone."`` prefix), a ``VideoBackbone`` with its classifier head for the
  label-supervised methods, without one for PCL-KD;
* its own heads and learned weights (graph edges, projectors), registered as usual;
* the teachers in a :class:`Teachers` set: frozen, always in eval mode, moved with the
  distiller by ``to`` but *not* registered as submodules, so they are neither trained,
  wrapped by DDP, nor written into every checkpoint (they live in the run store already).

``predict(x)`` gives the logits a trained distiller classifies with (the student for every
method but the two teacher-only baselines, fusion and ensemble).

Batches are ``sslvid.data.dataset.collate_clips`` dicts: ``clips`` uint8 (B, K, T, H, W, 3) on
the device, ``label`` (B,) (see ``sslvid.pretext.base``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.data.sampling import ClipSampler
from sslvid.engine.step import StepOutput
from sslvid.registry import ClassRegistry

DISTILLERS: ClassRegistry[Distiller] = ClassRegistry("distiller")


class Teachers:
    """Frozen teachers outside the module tree (module docstring).

    Each teacher shows the backbone face: ``forward_features``, ``forward_head``,
    ``forward_intermediates`` and ``forward`` (logits).

    Args:
        models: the teachers; put in eval mode with gradients off.
    """

    def __init__(self, models: Sequence[nn.Module] = ()) -> None:
        self.models = [m.eval().requires_grad_(False) for m in models]

    def __len__(self) -> int:
        return len(self.models)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.models)

    def to(self, *args: Any, **kwargs: Any) -> Teachers:
        """Move every teacher (``nn.Module.to`` arguments)."""
        self.models = [m.to(*args, **kwargs) for m in self.models]
        return self

    @torch.no_grad()
    def logits(self, x: Tensor) -> Tensor:
        """Every teacher's logits: clips (B, 3, T, H, W) -> (M, B, C).

        Raises:
            ValueError: if there are no teachers or their class counts differ.
        """
        if not self.models:
            raise ValueError("no teachers")
        out = [m(x).float() for m in self.models]
        if len({o.shape for o in out}) != 1:
            raise ValueError(f"teachers disagree on the output shape: {[tuple(o.shape) for o in out]}")
        return torch.stack(out)

    @torch.no_grad()
    def features(self, x: Tensor) -> list[Tensor]:
        """Every teacher's pooled features: clips (B, 3, T, H, W) -> M tensors (B, D_m)."""
        # the teachers are modules with a backbone's face (VideoBackbone, PretextTeacher), which nn.Module's type lacks
        return [m.forward_features(x).float() for m in self.models]  # type: ignore[operator]

    @torch.no_grad()
    def intermediates(self, x: Tensor, index: int) -> list[Tensor]:
        """Every teacher's output of block ``index``: M tensors (B, C_m, T_m, H_m, W_m)."""
        return [m.forward_intermediates(x, [index])[0].float() for m in self.models]  # type: ignore[operator]


class Distiller(nn.Module):
    """Base class of distillers. Subclasses set the class attributes and implement ``forward``.

    Class attributes:
        name: registry name.
        paper: the method's source, "Author et al. Year, venue, section".
        teacher_count: (fewest, most) teachers the method takes (most None: any number).
        teacher_output: what the teachers' logits score: ``"classes"`` of the training set
            (classifiers finetuned on it, or distilled students) or ``"pretext"`` (a pretext
            task's head: a pre-training run, or a PCL-trained student; PCL-KD).
        student_head: True when the student ends in a classifier over the dataset's classes.
        needs_student: False for the teacher-only baselines (fusion, ensemble).

    Args:
        student: the student backbone (``VideoBackbone``), kept as ``self.backbone``.
        teachers: the frozen teachers.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    teacher_count: ClassVar[tuple[int, int | None]] = (0, 0)
    teacher_output: ClassVar[str] = "classes"
    student_head: ClassVar[bool] = True
    needs_student: ClassVar[bool] = True

    def __init__(self, student: VideoBackbone, teachers: Sequence[nn.Module] | Teachers = ()) -> None:
        super().__init__()
        self.backbone = student
        self.teachers = teachers if isinstance(teachers, Teachers) else Teachers(teachers)
        check_teacher_count(type(self), len(self.teachers))

    def to(self, *args: Any, **kwargs: Any) -> Distiller:
        """``nn.Module.to`` for the distiller and its teachers."""
        self.teachers.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def clip_sampler(self, frames: int) -> ClipSampler:
        """One clip of ``frames`` frames per video, at a random start."""
        return ClipSampler(num_frames=frames)

    def predict(self, x: Tensor) -> Tensor:
        """Class logits of clips ``x`` (B, 3, T, H, W) -> (B, C): the student's."""
        return self.backbone(x)

    def forward(self, batch: dict[str, Any]) -> StepOutput:  # noqa: D401
        """One distillation step on a batch."""
        raise NotImplementedError

    @torch.no_grad()
    def after_step(self) -> None:
        """Called after each optimiser step. Default: nothing."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, source, how many teachers it takes and what their logits score."""
        low, high = cls.teacher_count
        return {
            "method": cls.name,
            "paper": cls.paper,
            "min_teachers": low,
            "max_teachers": high,
            "teacher_output": cls.teacher_output,
        }


def no_student() -> VideoBackbone:
    """The student of a method that trains none (fusion, ensemble): an identity, never asked for its features."""
    return cast(VideoBackbone, nn.Identity())


def check_teacher_count(cls: type[Distiller], count: int) -> None:
    """Raise unless ``cls`` takes ``count`` teachers.

    Raises:
        ValueError: naming the method and the number it takes.
    """
    low, high = cls.teacher_count
    if count < low or (high is not None and count > high):
        want = f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
        raise ValueError(f"distiller {cls.name!r} takes {want} teachers, got {count}")


def create_distiller(name: str, **kwargs: Any) -> Distiller:
    """Build the distiller ``name`` (``student=...``, ``teachers=...``, ``num_classes``, its knobs).

    Raises:
        ValueError: for an unknown name (listing the valid ones) or a wrong number of teachers.
    """
    return DISTILLERS.create(name, **kwargs)


def list_distillers() -> list[str]:
    """Registered distiller names, sorted."""
    return DISTILLERS.names()


def distiller_class(name: str) -> type[Distiller]:
    """The class registered under ``name``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return DISTILLERS.get(name)
