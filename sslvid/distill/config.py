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

Numbers (``DISTILL_DEFAULTS``): the distillation papers train their students far longer
than a finetuning (Zhang & Peng 2018 §5.2: 350 epochs, Adam, lr 0.01 halved every 50;
Vu et al. 2022 §IV-A: 200 epochs, SGD lr 0.01, weight decay 5e-4); the benchmark prints no
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
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sslvid.confighash import HashedConfig
from sslvid.errors import ConfigError
from sslvid.profiles import get_profile, list_profiles


SCRATCH = "scratch"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
PROFILE_FIELDS = ("frames", "crop_size", "cache_size", "width", "batch_size")

DISTILL_DEFAULTS: dict[str, dict[str, Any]] = {
    "smoke": {"dataset": "digits-appearance", "epochs": 2, "checkpoint_every": 1, "lr": 0.01, "test_clips": 2,
              "eval_batch_size": 8, "num_workers": 0},
    "micro": {"dataset": "digits-appearance", "epochs": 10, "checkpoint_every": 5, "lr": 0.05, "test_clips": 4,
              "eval_batch_size": 128, "num_workers": 0},
    "paper": {"dataset": "ucf101", "epochs": 100, "checkpoint_every": 10, "lr": 0.01, "test_clips": 10,
              "eval_batch_size": 64, "num_workers": 8},
}
"""Numbers per profile (module docstring); clip geometry, width and batch come from ``sslvid.profiles``."""


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
            return ["give finetune=EvalConfig (a finetuned classifier, optionally with its pretrain=PretrainConfig), "
                    f"pretrain=PretrainConfig (a pretext task) or distill=DistillConfig (a student); got {given}"]
        problems = []
        for name, kind in (("finetune", eval_type), ("pretrain", pretrain_type), ("distill", DistillConfig)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                problems.append(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
        if problems:
            return problems
        if self.finetune is not None and self.finetune.protocol != "finetune":
            problems.append(f"a teacher is finetuned, not evaluated by {self.finetune.protocol!r}")
        if self.finetune is not None and self.pretrain is not None and \
                self.finetune.source != self.pretrain.config_hash():
            problems.append(f"the finetuning starts from {self.finetune.source}, not from the given pre-training "
                            f"run {self.pretrain.config_hash()}")
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
        return {name: getattr(self, name).to_dict() if getattr(self, name) is not None else None
                for name in ("finetune", "pretrain", "distill")}

    def describe(self) -> str:
        """A short label, ``backbone/pretext[/subset]`` or ``backbone/<method>``, for tables and logs."""
        if self.distill is not None:
            return f"{self.backbone}/{self.distill.method}"
        if self.pretrain is None:
            return f"{self.backbone}/{self.finetune.source}"
        subset = f"/{self.pretrain.subset_per_class}pc" if isinstance(self.pretrain.subset_per_class, int) else ""
        return f"{self.backbone}/{self.pretrain.task}{subset}"


@dataclass(frozen=True)
class DistillConfig(HashedConfig):
    """Everything that defines one distillation run. Frozen and validated on construction.

    Fields left None are filled from the profile (``sslvid.profiles``, ``DISTILL_DEFAULTS``).

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
        dataset: the training set (labelled for every method but PCL-KD, which ignores labels).
        data_root: the folder that holds one sub-folder per dataset (``sslvid.data.sources``; not
            hashed; the fingerprints of its splits are).
        fold, train_split, test_split: which split.
        data_seed: generation seed of the default data.
        frames, crop_size, cache_size: clip geometry. width: the student's width multiplier.
        cache_format: how the clip cache stores frames: "uint8" (exact) or "jpeg" (about 8% of its
            size, ~37 dB PSNR; ``sslvid.data.cache``). Hashed unless "uint8": JPEG's loss
            changes the pixels the network sees, so a jpeg run is another run.
        test_clips: clips per test video (uniform starts, centre crop, mean softmax per video).
        epochs, batch_size (global), optimizer, lr, weight_decay, momentum, scheduler,
            warmup_epochs, checkpoint_every: the training numbers.
        seed: initialisation, clip draws, data order.
        amp: bf16 autocast on CUDA.
        eval_batch_size, num_workers, threads, device, deterministic, max_failure_fraction: as in
            ``PretrainConfig`` / ``EvalConfig`` (not hashed).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field (unknown names list the valid ones).
    """

    method: str
    student: str | None = None
    teachers: tuple[TeacherRef, ...] = ()
    profile: str = "micro"
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    student_kwargs: dict[str, Any] = field(default_factory=dict)
    student_source: str = SCRATCH
    dataset: str | None = None
    data_root: str | None = None
    fold: int = 1
    train_split: str = "train"
    test_split: str = "test"
    data_seed: int = 0
    frames: int | None = None
    crop_size: int | None = None
    cache_size: tuple[int, int] | None = None
    cache_format: str = "uint8"
    width: float | None = None
    test_clips: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "sgd"
    lr: float | None = None
    weight_decay: float = 5e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_epochs: int = 0
    checkpoint_every: int | None = None
    seed: int = 0
    amp: bool = True
    eval_batch_size: int | None = None
    num_workers: int | None = None
    threads: int | None = None
    device: str = "auto"
    deterministic: bool = False
    max_failure_fraction: float = 0.05

    UNHASHED: ClassVar[frozenset[str]] = frozenset(
        {"data_root", "eval_batch_size", "num_workers", "threads", "device", "deterministic", "max_failure_fraction"})
    KIND: ClassVar[str] = "distill"
    HASH_SCHEMA: ClassVar[int] = 2
    """2: AE-KD with full CE, SKD-SRL's two-view soft label, PCL-KD's five transformations and memory
    bank, per-sample graph coupling on full maps: runs of schema 1 trained other losses."""
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("train_split", "test_split")

    def __post_init__(self) -> None:
        self._teachers_as_refs()
        self._fill()
        self._normalise()
        self.validate()

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(cls, profile: str, method: str, student: str | None = None,
                    teachers: Sequence[TeacherRef | Mapping[str, Any]] = (), **overrides: Any) -> "DistillConfig":
        """The distillation ``method`` into ``student`` from ``teachers`` at ``profile``, then ``overrides``.

        Raises:
            ConfigError (a ValueError): for unknown fields or any invalid value.
        """
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown DistillConfig fields: {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(f.name for f in dataclasses.fields(cls))}")
        return cls(method=method, student=student, teachers=tuple(teachers), profile=profile, **overrides)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DistillConfig":
        """The config written by ``to_dict`` (e.g. a run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls(**values)

    def _teachers_as_refs(self) -> None:
        teachers = self.teachers
        if isinstance(teachers, (TeacherRef, Mapping)) or not isinstance(teachers, Sequence):
            return  # validate() reports it
        refs = tuple(t if isinstance(t, TeacherRef) else TeacherRef(**t) if isinstance(t, Mapping) else t
                     for t in teachers)
        object.__setattr__(self, "teachers", refs)

    def _fill(self) -> None:
        if self.profile not in list_profiles():
            return  # validate() reports it
        profile = get_profile(self.profile)
        defaults = {name: getattr(profile, name) for name in PROFILE_FIELDS} | DISTILL_DEFAULTS[self.profile]
        self._fill_missing(defaults)

    def _normalise(self) -> None:
        """Coerce numbers to their field's type so ``lr=1`` and ``lr=1.0`` hash the same."""
        for name in ("lr", "weight_decay", "momentum", "width", "max_failure_fraction"):
            self._coerce(name, float)
        for name in ("fold", "data_seed", "frames", "crop_size", "test_clips", "epochs", "batch_size",
                     "warmup_epochs", "checkpoint_every", "seed", "eval_batch_size", "num_workers", "threads"):
            self._coerce(name, int)
        if isinstance(self.cache_size, (list, tuple)):
            try:
                object.__setattr__(self, "cache_size", tuple(int(v) for v in self.cache_size))
            except (TypeError, ValueError):
                pass  # validate() reports it
        if self.data_root is not None:
            object.__setattr__(self, "data_root", str(self.data_root))
        for name in ("method_kwargs", "student_kwargs"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, {str(k): _plain(value[k]) for k in sorted(value)})

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check every field; raise one error that lists every problem.

        Raises:
            ConfigError (a ValueError): naming each invalid field; unknown names list the valid ones.
        """
        self._raise_problems(self._checks())

    def _checks(self) -> list[Callable[[], list[str]]]:
        return [self._check_names, self._check_numbers, self._check_method, self._check_teachers]

    def _check_names(self) -> list[str]:
        from sslvid.backbones import list_backbones
        from sslvid.data.cache import CACHE_FORMATS
        from sslvid.data.sources import list_sources

        problems = []
        checks = [("profile", self.profile, list_profiles()), ("dataset", self.dataset, list_sources()),
                  ("cache_format", self.cache_format, CACHE_FORMATS),
                  ("train_split", self.train_split, ("train", "val", "test")),
                  ("test_split", self.test_split, ("train", "val", "test")),
                  ("optimizer", self.optimizer, OPTIMIZERS), ("scheduler", self.scheduler, SCHEDULERS)]
        if self.student is not None:
            checks.append(("student backbone", self.student, list_backbones()))
        for what, value, valid in checks:
            if value not in valid:
                problems.append(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
        device = str(self.device)
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            problems.append(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
        if self.student_source != SCRATCH and not re.fullmatch(r"[0-9a-f]{16}", str(self.student_source)):
            problems.append("student_source must be 'scratch' or a pre-training run's hash, "
                            f"got {self.student_source!r}")
        return problems

    def _check_numbers(self) -> list[str]:
        rules: list[tuple[str, Any, Callable[[Any], bool], str]] = [
            ("fold", self.fold, lambda v: v >= 1, ">= 1"), ("frames", self.frames, lambda v: v >= 1, ">= 1"),
            ("crop_size", self.crop_size, lambda v: v >= 1, ">= 1"), ("width", self.width, lambda v: v > 0, "> 0"),
            ("test_clips", self.test_clips, lambda v: v >= 1, ">= 1"),
            ("epochs", self.epochs, lambda v: v >= 1, ">= 1"),
            ("batch_size", self.batch_size, lambda v: v >= 2, ">= 2"),
            ("lr", self.lr, lambda v: v > 0, "> 0"), ("weight_decay", self.weight_decay, lambda v: v >= 0, ">= 0"),
            ("momentum", self.momentum, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("warmup_epochs", self.warmup_epochs, lambda v: 0 <= v <= (self.epochs or 0), "in [0, epochs]"),
            ("checkpoint_every", self.checkpoint_every, lambda v: v >= 1, ">= 1"),
            ("eval_batch_size", self.eval_batch_size, lambda v: v >= 1, ">= 1"),
            ("num_workers", self.num_workers, lambda v: v >= 0, ">= 0"),
            ("max_failure_fraction", self.max_failure_fraction, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ]
        if self.threads is not None:
            rules.append(("threads", self.threads, lambda v: v >= 0, ">= 0 or None"))
        problems = [f"{name} must be {rule}, got {value!r}" for name, value, ok, rule in rules
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not ok(value)]
        size = self.cache_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 1 for v in size)):
            problems.append(f"cache_size must be (H, W) of positive ints, got {size!r}")
        elif isinstance(self.crop_size, int) and self.crop_size > min(size):
            problems.append(f"crop_size {self.crop_size} exceeds the cached frame size {size}")
        for name in ("amp", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be True or False, got {getattr(self, name)!r}")
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
            problems.append(f"method {self.method!r} trains no student backbone: "
                            "leave student and student_source unset")
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
            problems += [f"teacher {i} ({t.kind}) scores {t.output}; {self.method!r} distils "
                         f"{cls.teacher_output} logits" for i, t in enumerate(self.teachers)
                         if t.output != cls.teacher_output]
        for i, teacher in enumerate(self.teachers):
            if teacher.clip_geometry() != (self.frames, self.crop_size):
                problems.append(f"teacher {i} ({teacher.describe()}) sees {teacher.clip_geometry()} (frames, crop); "
                                f"the student {(self.frames, self.crop_size)}")
            trained = teacher.finetune or (teacher.distill if teacher.output == "classes" else None)
            if trained is not None and (trained.dataset, trained.fold) != (self.dataset, self.fold):
                problems.append(f"teacher {i} is trained on the classes of {trained.dataset} fold {trained.fold}; "
                                f"the student trains on {self.dataset} fold {self.fold}")
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

    __hash__ = HashedConfig.__hash__

    def num_teachers(self) -> int:
        return len(self.teachers)


def _plain(value: Any) -> Any:
    """Canonical knob values: tuples as lists and whole floats as ints, so ``grid=(2, 2, 2)`` and
    ``[2, 2, 2]``, or ``temperature=4`` and ``4.0``, hash the same (distillers take both)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in sorted(value)}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value




def _unknown_knobs(method: str, cls: type, keys: set[str]) -> list[str]:
    """Problems for method knobs the distiller's constructor does not take."""
    import inspect

    reserved = {"student", "teachers", "crop_size", "frames", "num_classes", "flip", "self"}
    params = set(inspect.signature(cls.__init__).parameters) - reserved
    taken = keys & reserved
    unknown = keys - params - reserved
    problems = []
    if taken:
        problems.append(f"method_kwargs may not set {', '.join(sorted(taken))}: they come from the config")
    if unknown:
        problems.append(f"method_kwargs: {method} has no knob {', '.join(sorted(unknown))}; "
                        f"valid: {', '.join(sorted(params)) or '(none)'}")
    return problems
