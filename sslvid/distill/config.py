"""The frozen, validated config of one distillation run, its teachers, and its stable hash.

``DistillConfig.for_profile("micro", method="aekd", student="shufflenet3d", teachers=[...])``
fills the numbers of a scale; a profile changes numbers, never which code runs.

A teacher is a :class:`TeacherRef` to the run store: a classifier finetuned on the training
set (its ``EvalConfig``, whose ``source`` names the pre-training run; the ``PretrainConfig``
may ride along so a missing run can be trained), a pre-trained pretext task (its
``PretrainConfig``; PCL-KD), or the student of another distillation run (its
``DistillConfig``: a PCL-trained teacher, or a chain of students). Teachers of any backbone,
task, subset size or pre-training set can be mixed; they must see the student's clips (same
dataset, frames and crop size).

Numbers (``Profile.defaults("distill")`` of ``sslvid.profiles``, which holds them): the distillation
papers train their students far longer than a finetuning (Zhang & Peng 2018 §5.2: 350 epochs, Adam,
lr 0.01 halved every 50; Vu et al. 2022 §IV-A: 200 epochs, SGD lr 0.01, weight decay 5e-4); the benchmark prints no
distillation recipe (§5 points to its supplementary). "paper" uses the finetuning recipe of
``sslvid.evaluate`` for 100 epochs (SGD, momentum 0.9, weight decay 5e-4, cosine); "micro" a
few epochs on the embedded data; "smoke" two.

The hash covers every field that changes a number; teachers enter by their own hashes. Left
out: where it runs (``device``, ``num_workers``, ``threads``, ``deterministic``,
``eval_batch_size``), where the data lives (``data_root``; the fingerprints of the train and
test splits found there are hashed) and when to give up (``max_failure_fraction``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sslvid.confighash import REQUIRED, HashedConfig, config_field
from sslvid.engine.configparts import AT_LEAST_1, Clips, Data, Runtime, Training, backbone_field, split_field
from sslvid.errors import ConfigError
from sslvid.profiles import get_profile

SCRATCH = "scratch"


@dataclass(frozen=True)
class TeacherRef:
    """One teacher in the run store: a finetuned classifier, a pretext task, or a distilled student.

    Give one of ``finetune`` (optionally with its ``pretrain``), ``pretrain`` alone, or ``distill``.

    Args:
        finetune: the teacher's finetuning (an ``EvalConfig`` with protocol "finetune", or its
            ``to_dict()``): a classifier over the training set's classes.
        pretrain: the pre-training run (a ``PretrainConfig`` or its ``to_dict()``). Alone: the
            pretext task is the teacher (its head's logits; PCL-KD). Beside ``finetune``: the
            run the finetuning starts from, so that ``distill`` can pre-train it when missing.
        distill: a distillation run (a ``DistillConfig`` or its dict) whose student teaches: a
            classifier, or the rotation head of a PCL-trained student (``pcl_kd``).

    Raises:
        ConfigError (a ValueError): when none or a wrong combination is given, the finetuning is not a
            finetuning, or the finetuning and pre-training disagree.
    """

    finetune: Any = None
    pretrain: Any = None
    distill: Any = None

    def __post_init__(self) -> None:
        from sslvid.engine.config import PretrainConfig
        from sslvid.evaluate.config import EvalConfig

        for name, kind in (("finetune", EvalConfig), ("pretrain", PretrainConfig), ("distill", DistillConfig)):
            if isinstance(getattr(self, name), Mapping):
                object.__setattr__(self, name, kind.from_dict(getattr(self, name)))
        problems = self._problems(EvalConfig, PretrainConfig)
        if problems:
            raise ConfigError("invalid TeacherRef: " + "; ".join(problems))

    def _problems(self, eval_type: type, pretrain_type: type) -> list[str]:
        given = [name for name in ("finetune", "pretrain", "distill") if getattr(self, name) is not None]
        if not given or (self.distill is not None and len(given) > 1):
            return [
                "give finetune=EvalConfig (a finetuned classifier, optionally with its pretrain=PretrainConfig), "
                f"pretrain=PretrainConfig (a pretext task) or distill=DistillConfig (a student); got {given}"
            ]
        problems = []
        for name, kind in (("finetune", eval_type), ("pretrain", pretrain_type), ("distill", DistillConfig)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                problems.append(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
        if problems:
            return problems
        if self.finetune is not None and self.finetune.protocol != "finetune":
            problems.append(f"a teacher is finetuned, not evaluated by {self.finetune.protocol!r}")
        if (
            self.finetune is not None
            and self.pretrain is not None
            and self.finetune.source != self.pretrain.config_hash()
        ):
            problems.append(
                f"the finetuning starts from {self.finetune.source}, not from the given pre-training "
                f"run {self.pretrain.config_hash()}"
            )
        return problems

    @property
    def kind(self) -> str:
        """``"finetune"``, ``"pretrain"`` or ``"distill"``: where the teacher comes from."""
        return "finetune" if self.finetune is not None else "distill" if self.distill is not None else "pretrain"

    @property
    def output(self) -> str:
        """What the teacher's logits score: ``"classes"`` of the training set, or ``"pretext"`` labels."""
        from sslvid.distill.base import DISTILLERS

        if self.kind == "distill" and self.distill.method in DISTILLERS:
            return "classes" if DISTILLERS.get(self.distill.method).student_head else "pretext"
        return "classes" if self.kind == "finetune" else "pretext"

    @property
    def backbone(self) -> str:
        """The teacher's backbone name."""
        return self.distill.student if self.distill is not None else self.config().backbone

    def config(self) -> Any:
        """The config that names the teacher's run (finetuning, pre-training or distillation)."""
        return {"finetune": self.finetune, "pretrain": self.pretrain, "distill": self.distill}[self.kind]

    def clip_geometry(self) -> tuple[int, int]:
        """(frames, crop_size) of the clips the teacher was trained on."""
        return int(self.config().frames), int(self.config().crop_size)

    def key(self) -> dict[str, str]:
        """The teacher's identity: the hash of the run that names it."""
        return {self.kind: self.config().config_hash()}

    def to_dict(self) -> dict[str, Any]:
        return {
            name: getattr(self, name).to_dict() if getattr(self, name) is not None else None
            for name in ("finetune", "pretrain", "distill")
        }

    def describe(self) -> str:
        """A short label, ``backbone/pretext[/subset]`` or ``backbone/<method>``, for tables and logs."""
        if self.distill is not None:
            return f"{self.backbone}/{self.distill.method}"
        if self.pretrain is None:
            return f"{self.backbone}/{self.finetune.source}"
        subset = f"/{self.pretrain.subset_per_class}pc" if isinstance(self.pretrain.subset_per_class, int) else ""
        return f"{self.backbone}/{self.pretrain.task}{subset}"


@dataclass(frozen=True)
class DistillConfig(HashedConfig, Runtime, Training, Clips, Data):
    """Everything that defines one distillation run. Frozen and validated on construction.

    The shared parts (``sslvid.engine.configparts``) plus the method, student and teachers.
    Fields left None are filled from the profile (``Profile.defaults("distill")``).

    Args:
        method: distiller name (``sslvid.distill.list_distillers()``).
        student: the student's backbone name; None for the teacher-only baselines (fusion,
            ensemble).
        teachers: the teachers (``TeacherRef`` or their dicts), as many as the method takes.
        profile: "smoke", "micro" or "paper".
        method_kwargs: the method's own knobs (``temperature``, ``alpha``, ``tolerance``...).
        student_kwargs: extra backbone builder arguments of the student.
        student_source: "scratch" (random initialisation) or the hash of a pre-training run of
            the student's backbone whose weights start the student.
        train_split, test_split: which split.
        test_clips: clips per test video (uniform starts, centre crop, mean softmax per video).
        eval_batch_size: videos per batch when testing (not hashed).
        dataset, fold, data_seed, frames, crop_size, cache_size, cache_format, width (the student's), epochs,
            batch_size (global, at least 2), optimizer, lr, weight_decay, momentum, scheduler,
            warmup_epochs, checkpoint_every, seed, amp, data_root, num_workers, threads, device,
            deterministic, max_failure_fraction: the shared parts' fields (``sslvid.engine.configparts``).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field (unknown names list the valid ones).
    """

    method: str = config_field(REQUIRED)
    student: str | None = backbone_field(None, what="student backbone")
    teachers: tuple[TeacherRef, ...] = ()
    profile: str = "micro"
    method_kwargs: dict[str, Any] = config_field(default_factory=dict, plain=True)
    student_kwargs: dict[str, Any] = config_field(default_factory=dict, plain=True)
    student_source: str = SCRATCH
    train_split: str = split_field("train")
    test_split: str = split_field("test")
    test_clips: int | None = config_field(check=AT_LEAST_1)
    eval_batch_size: int | None = config_field(check=AT_LEAST_1, hashed=False)

    KIND: ClassVar[str] = "distill"
    HASH_SCHEMA: ClassVar[int] = 2
    """2: AE-KD with full CE, SKD-SRL's two-view soft label, PCL-KD's five transformations and memory
    bank, per-sample graph coupling on full maps: runs of schema 1 trained other losses."""
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("train_split", "test_split")

    def _before_fill(self) -> None:
        self._teachers_as_refs()

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(
        cls,
        profile: str,
        method: str,
        student: str | None = None,
        teachers: Sequence[TeacherRef | Mapping[str, Any]] = (),
        **overrides: Any,
    ) -> DistillConfig:
        """The distillation ``method`` into ``student`` from ``teachers`` at ``profile``, then ``overrides``.

        Raises:
            ConfigError (a ValueError): for unknown fields or any invalid value.
        """
        cls.check_known_fields(overrides)
        refs = tuple(TeacherRef(**t) if isinstance(t, Mapping) else t for t in teachers)
        return cls(method=method, student=student, teachers=refs, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DistillConfig:
        """The config written by ``to_dict`` (e.g. a run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls(**values)

    def _teachers_as_refs(self) -> None:
        teachers = self.teachers
        if isinstance(teachers, (TeacherRef, Mapping)) or not isinstance(teachers, Sequence):
            return  # validate() reports it
        refs = tuple(
            t if isinstance(t, TeacherRef) else TeacherRef(**t) if isinstance(t, Mapping) else t for t in teachers
        )
        object.__setattr__(self, "teachers", refs)

    def _profile_defaults(self) -> dict[str, Any]:
        return get_profile(self.profile).defaults("distill")

    # ----------------------------------------------------------------- validation
    def _checks(self) -> list[Callable[[], list[str]]]:
        return [self._check_student, self._check_method, self._check_teachers]

    def _check_student(self) -> list[str]:
        problems = []
        if self.batch_size == 1:
            problems.append("batch_size must be >= 2, got 1")
        if self.student_source != SCRATCH and not re.fullmatch(r"[0-9a-f]{16}", str(self.student_source)):
            problems.append(
                f"student_source must be 'scratch' or a pre-training run's hash, got {self.student_source!r}"
            )
        return problems

    def _check_method(self) -> list[str]:
        from sslvid.distill.base import DISTILLERS

        if self.method not in DISTILLERS:
            return [f"unknown method {self.method!r}; valid: {', '.join(DISTILLERS.names())}"]
        cls = DISTILLERS.get(self.method)
        problems = []
        if cls.needs_student and self.student is None:
            problems.append(f"method {self.method!r} trains a student: give student=<backbone>")
        if not cls.needs_student and (self.student is not None or self.student_source != SCRATCH):
            problems.append(
                f"method {self.method!r} trains no student backbone: leave student and student_source unset"
            )
        for what, value in (("method_kwargs", self.method_kwargs), ("student_kwargs", self.student_kwargs)):
            if not isinstance(value, Mapping):
                problems.append(f"{what} must be a dict, got {value!r}")
                continue
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as err:
                problems.append(f"{what} must be JSON-able numbers, strings, lists and dicts ({err})")
        if isinstance(self.method_kwargs, Mapping):
            problems += _unknown_knobs(self.method, cls, set(self.method_kwargs))
        if isinstance(self.student_kwargs, Mapping) and {"width", "num_classes"} & set(self.student_kwargs):
            problems.append("student_kwargs may not set width or num_classes: they are config fields")
        return problems

    def _check_teachers(self) -> list[str]:
        from sslvid.distill.base import DISTILLERS, check_teacher_count

        if not isinstance(self.teachers, tuple) or not all(isinstance(t, TeacherRef) for t in self.teachers):
            return [f"teachers must be a list of TeacherRef (or their dicts), got {self.teachers!r}"]
        problems = []
        if self.method in DISTILLERS:
            cls = DISTILLERS.get(self.method)
            try:
                check_teacher_count(cls, len(self.teachers))
            except ValueError as err:
                problems.append(str(err))
            problems += [
                f"teacher {i} ({t.kind}) scores {t.output}; {self.method!r} distils {cls.teacher_output} logits"
                for i, t in enumerate(self.teachers)
                if t.output != cls.teacher_output
            ]
        for i, teacher in enumerate(self.teachers):
            if teacher.clip_geometry() != (self.frames, self.crop_size):
                problems.append(
                    f"teacher {i} ({teacher.describe()}) sees {teacher.clip_geometry()} (frames, crop); "
                    f"the student {(self.frames, self.crop_size)}"
                )
            trained = teacher.finetune or (teacher.distill if teacher.output == "classes" else None)
            if trained is not None and (trained.dataset, trained.fold) != (self.dataset, self.fold):
                problems.append(
                    f"teacher {i} is trained on the classes of {trained.dataset} fold {trained.fold}; "
                    f"the student trains on {self.dataset} fold {self.fold}"
                )
        return problems

    # ----------------------------------------------------------------- identity
    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-able values (teachers as their dicts, tuples as lists)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["teachers"] = [t.to_dict() for t in self.teachers]
        return json.loads(json.dumps(values))

    def hashed_dict(self) -> dict[str, Any]:
        """The fields that define the result, teachers by their hashes: what ``config_hash`` hashes."""
        values = self._hashed_fields()
        values["teachers"] = [t.key() for t in self.teachers]
        return {"kind": self.KIND, "schema": self.HASH_SCHEMA, **values, **self._data_entry()}

    def num_teachers(self) -> int:
        return len(self.teachers)


def _unknown_knobs(method: str, cls: type, keys: set[str]) -> list[str]:
    """Problems for method knobs the distiller's constructor does not take."""
    import inspect

    reserved = {"student", "teachers", "crop_size", "frames", "num_classes", "flip", "self"}
    params = set(inspect.signature(cls).parameters) - reserved
    taken = keys & reserved
    unknown = keys - params - reserved
    problems = []
    if taken:
        problems.append(f"method_kwargs may not set {', '.join(sorted(taken))}: they come from the config")
    if unknown:
        problems.append(
            f"method_kwargs: {method} has no knob {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(params)) or '(none)'}"
        )
    return problems
