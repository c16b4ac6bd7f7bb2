"""The frozen, validated config of one pre-training run, and its stable hash.

``PretrainConfig.for_profile("micro", task="rotnet", backbone="r2plus1d_18")`` fills the numbers
of a scale (``sslvid.profiles`` for clip size, width and batch size; ``PRETRAIN_DEFAULTS`` for
epochs, checkpoint spacing and the subset; the task's recipe for its optimiser numbers): a
profile changes numbers, never which code runs.

The hash (``config_hash``) is what the results store files a run under. It covers every field
that changes the result and leaves out those that do not: where and how fast it runs
(``device``, ``num_workers``, ``threads``, ``deterministic``, ``channels_last``,
``torch_compile``), where the data lives on this machine (``data_root``) and when to give up
(``max_failure_fraction``). What lies under ``data_root`` is covered: the fingerprint of the
split read (``sslvid.confighash``), so a moved copy finds its runs and another dataset does
not. It is a SHA-256 of canonical JSON, the same on every machine and Python process.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sslvid.confighash import HashedConfig, value_type_problem
from sslvid.errors import ConfigError
from sslvid.profiles import get_profile, list_profiles


PRETRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    # tests and nbval: a couple of epochs over the tiny default data
    "smoke": {"epochs": 2, "checkpoint_every": 1, "subset_per_class": "all", "num_workers": 0},
    # the book on a CPU: the "50k of K400" analogue (50 of the pools' 200 videos per class,
    # one per class per 1,000 paper videos); four epochs with a checkpoint each, the four
    # points (50/100/150/200 epochs) of the paper's Tables 3 and 4 at 1/50 of its length
    "micro": {"epochs": 4, "checkpoint_every": 1, "subset_per_class": 50, "num_workers": 0},
    # the benchmark: 50k Kinetics-400 videos (125 per class), checkpoints at 50/100/150/200
    # epochs, the grid of its Tables 3 and 4, so one run gives every point of those curves
    "paper": {"epochs": 200, "checkpoint_every": 50, "subset_per_class": 125, "num_workers": 8},
}

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "constant")
SPLITS = ("train", "val", "test")
DEVICES = ("auto", "cpu", "cuda")
PROFILE_FIELDS = ("frames", "crop_size", "cache_size", "width", "batch_size")
ALL_VIDEOS = "all"
"""``subset_per_class`` meaning every video of the split (``--set subset_per_class=all``)."""


@dataclass(frozen=True)
class PretrainConfig(HashedConfig):
    """Everything that defines one pre-training run. Frozen and validated on construction.

    Fields left ``None`` are filled from the profile (``sslvid.profiles`` and
    ``PRETRAIN_DEFAULTS``); ``optimizer``, ``lr``, ``weight_decay``, ``momentum`` and
    ``batch_size`` first from the task's recipe for the profile (``PretextTask.recipe``: its
    authors' numbers at paper scale, the shared micro recipe otherwise). What the user sets
    wins over both. ``batch_size`` is global: under torchrun each of the N processes
    takes ``batch_size / N`` videos per step (it must divide).

    Args:
        task: pretext task name (``sslvid.pretext.list_tasks()``).
        backbone: backbone name (``sslvid.backbones.list_backbones()``).
        profile: "smoke", "micro" or "paper".
        task_kwargs: the task's own knobs (e.g. ``{"num_rotations": 4}``).
        backbone_kwargs: extra backbone builder arguments (not ``width`` / ``num_classes``).
        frames: frames per clip T. crop_size: input H = W. cache_size: (H, W) of cached frames.
        cache_format: how the clip cache stores frames: "uint8" (exact) or "jpeg" (about 8% of its
            size, ~37 dB PSNR; ``sslvid.data.cache``). Hashed unless "uint8": JPEG's loss
            changes the pixels the network sees, so a jpeg run is another run.
        width: backbone width multiplier.
        dataset: a default set or a layout name (``sslvid.data.sources.list_sources()``).
        data_root: the folder that holds one sub-folder per dataset, ``<data_root>/<dataset>``
            (``sslvid.data.sources``; not hashed: it is a path on this machine; the fingerprint
            of the videos found there is, see ``data_fingerprint``).
        split, fold: which split of the dataset.
        subset_per_class: videos per class of a nested class-balanced subset, or ``"all"`` for
            every video of the split (``--set subset_per_class=all`` on the command line). None
            takes the profile's number (smoke: all; micro: 50; paper: 125, the benchmark's 50k of
            Kinetics-400), which classes of UCF101 or HMDB51 do not reach.
        subset_seed: seed of the subset's permutation (fixed so subsets nest across seeds).
        data_seed: generation seed of the default data.
        epochs: pre-training epochs. batch_size: videos per optimiser step, over all processes.
        optimizer: "sgd", "adam" or "adamw". lr, weight_decay, momentum: its numbers (None: the task's recipe).
        scheduler: "cosine" or "constant", stepped per iteration. warmup_epochs: linear warm-up.
        checkpoint_every: write a resumable checkpoint every this many epochs.
        seed: model initialisation, clip positions, data order and task randomness.
        amp: bf16 autocast on CUDA (ignored on CPU).
        num_workers: DataLoader worker processes (not hashed).
        threads: torch intra-op CPU threads during the run (not hashed): None picks half the
            usable cores per process (at least 1) on a CPU run and leaves GPU runs alone, 0
            keeps torch's setting. On a small shared CPU, as many threads as cores next to
            loader workers make OpenMP spin against them (8x slower measured on 2 cores).
        device: "auto", "cpu", "cuda" or "cuda:N" (not hashed).
        deterministic: ask PyTorch for deterministic kernels (not hashed).
        channels_last: store the 5-D (Conv3d) weights channels-last, cuDNN's fast layout (not
            hashed; off by default; ``sslvid.engine.datapath``).
        torch_compile: compile the backbones with ``torch.compile`` (not hashed; off by default).
        max_failure_fraction: stop when more videos than this share fail in an epoch (not hashed).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field (unknown names list the valid ones).
    """

    task: str
    backbone: str
    profile: str = "micro"
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    frames: int | None = None
    crop_size: int | None = None
    cache_size: tuple[int, int] | None = None
    cache_format: str = "uint8"
    width: float | None = None
    dataset: str = "digits-appearance-pool"
    data_root: str | None = None
    split: str = "train"
    fold: int = 1
    subset_per_class: int | str | None = None
    subset_seed: int = 0
    data_seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    scheduler: str = "cosine"
    warmup_epochs: int = 0
    checkpoint_every: int | None = None
    seed: int = 0
    amp: bool = True
    num_workers: int | None = None
    threads: int | None = None
    device: str = "auto"
    deterministic: bool = False
    channels_last: bool = False
    torch_compile: bool = False
    max_failure_fraction: float = 0.05

    UNHASHED: ClassVar[frozenset[str]] = frozenset(
        {"num_workers", "threads", "device", "deterministic", "max_failure_fraction", "data_root",
         "channels_last", "torch_compile"})
    KIND: ClassVar[str] = "pretrain"
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("split",)

    def __post_init__(self) -> None:
        self._fill_from_profile()
        self._normalise()
        self.validate()

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(cls, profile: str, task: str, backbone: str, **overrides: Any) -> "PretrainConfig":
        """The config of ``task`` on ``backbone`` with the numbers of ``profile``, then ``overrides``.

        Raises:
            ConfigError (a ValueError): for an unknown profile, task, backbone or field, or an invalid value.
        """
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown PretrainConfig fields: {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(f.name for f in dataclasses.fields(cls))}")
        return cls(task=task, backbone=backbone, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "PretrainConfig":
        """The config written by ``to_dict`` (e.g. a run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls.for_profile(values.pop("profile"), values.pop("task"), values.pop("backbone"), **values)

    def _fill_from_profile(self) -> None:
        if self.profile not in list_profiles():
            return  # validate() reports it
        profile = get_profile(self.profile)
        defaults = {name: getattr(profile, name) for name in PROFILE_FIELDS} | PRETRAIN_DEFAULTS[self.profile]
        self._fill_missing(defaults | task_recipe(self.task, self.profile))

    def _normalise(self) -> None:
        """Coerce numbers to their field's type so ``lr=1`` and ``lr=1.0`` hash the same."""
        for name in ("lr", "weight_decay", "momentum", "width", "max_failure_fraction"):
            self._coerce(name, float)
        for name in ("frames", "crop_size", "fold", "epochs", "batch_size", "warmup_epochs",
                     "checkpoint_every", "seed", "subset_seed", "data_seed", "num_workers", "subset_per_class",
                     "threads"):
            self._coerce(name, int)
        if isinstance(self.cache_size, (list, tuple)):
            object.__setattr__(self, "cache_size", tuple(int(v) for v in self.cache_size))
        if self.data_root is not None:
            object.__setattr__(self, "data_root", str(self.data_root))
        for name in ("task_kwargs", "backbone_kwargs"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, {str(k): value[k] for k in sorted(value)})

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check every field; raise one error that lists every problem.

        Raises:
            ConfigError (a ValueError): naming each invalid field; unknown names list the valid ones.
        """
        self._raise_problems(self._checks())

    def _checks(self) -> list[Callable[[], list[str]]]:
        return [self._check_names, self._check_numbers, self._check_kwargs]

    def _check_names(self) -> list[str]:
        from sslvid.backbones import list_backbones
        from sslvid.data.cache import CACHE_FORMATS
        from sslvid.data.sources import list_sources

        list_tasks = task_registry().names

        problems = []
        for what, value, valid in (("profile", self.profile, list_profiles()), ("task", self.task, list_tasks()),
                                   ("backbone", self.backbone, list_backbones()),
                                   ("dataset", self.dataset, list_sources()), ("split", self.split, SPLITS),
                                   ("optimizer", self.optimizer, OPTIMIZERS),
                                   ("scheduler", self.scheduler, SCHEDULERS),
                                   ("cache_format", self.cache_format, CACHE_FORMATS)):
            if value not in valid:
                problems.append(f"unknown {what} {value!r}; valid: {', '.join(valid) or '(none registered)'}")
        device = str(self.device)
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            problems.append(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
        return problems

    def _check_numbers(self) -> list[str]:
        rules = [
            ("frames", self.frames, lambda v: v >= 1, ">= 1"),
            ("crop_size", self.crop_size, lambda v: v >= 1, ">= 1"),
            ("width", self.width, lambda v: v > 0, "> 0"),
            ("fold", self.fold, lambda v: v >= 1, ">= 1"),
            ("epochs", self.epochs, lambda v: v >= 1, ">= 1"),
            ("batch_size", self.batch_size, lambda v: v >= 1, ">= 1"),
            ("lr", self.lr, lambda v: v > 0, "> 0"),
            ("weight_decay", self.weight_decay, lambda v: v >= 0, ">= 0"),
            ("momentum", self.momentum, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("warmup_epochs", self.warmup_epochs, lambda v: 0 <= v <= (self.epochs or 0), "in [0, epochs]"),
            ("checkpoint_every", self.checkpoint_every, lambda v: v >= 1, ">= 1"),
            ("num_workers", self.num_workers, lambda v: v >= 0, ">= 0"),
            ("max_failure_fraction", self.max_failure_fraction, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ]
        if self.threads is not None:
            rules.append(("threads", self.threads, lambda v: v >= 0, ">= 0 or None"))
        if self.subset_per_class != ALL_VIDEOS:
            rules.append(("subset_per_class", self.subset_per_class, lambda v: v >= 1,
                          f">= 1, or {ALL_VIDEOS!r} for every video"))
        problems = [f"{name} must be {rule}, got {value!r}" for name, value, ok, rule in rules
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not ok(value)]
        size = self.cache_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 1 for v in size)):
            problems.append(f"cache_size must be (H, W) of positive ints, got {size!r}")
        elif isinstance(self.crop_size, int) and self.crop_size > min(size):
            problems.append(f"crop_size {self.crop_size} exceeds the cached frame size {size}")
        for name in ("amp", "deterministic", "channels_last", "torch_compile"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be True or False, got {getattr(self, name)!r}")
        return problems

    def _check_kwargs(self) -> list[str]:
        from sslvid.backbones.base import BACKBONES

        problems = []
        for what, registry, name, kwargs, reserved in (
            ("task_kwargs", task_registry(), self.task, self.task_kwargs, {"backbone", "frames", "crop_size", "width"}),
            ("backbone_kwargs", BACKBONES, self.backbone, self.backbone_kwargs, {"width", "num_classes"}),
        ):
            if not isinstance(kwargs, Mapping):
                problems.append(f"{what} must be a dict, got {kwargs!r}")
                continue
            taken = reserved & set(kwargs)
            if taken:
                problems.append(f"{what} may not set {', '.join(sorted(taken))}: they are config fields")
            try:
                json.dumps(kwargs, allow_nan=False)
            except (TypeError, ValueError) as err:
                problems.append(f"{what} must be JSON-able numbers, strings, lists and dicts ({err})")
            if name in registry:
                problems += _unknown_arguments(what, name, registry.get(name), set(kwargs) - reserved)
        if not problems and self.task_kwargs and self.task in task_registry():
            problems += self._task_argument_problems()
        return problems

    def _task_argument_problems(self) -> list[str]:
        """What the task's own checks say of ``task_kwargs``: their types against the builder's
        annotations, then the builder itself on a stand-in backbone (no weights; 2-200 ms, so only
        when arguments are given), so a bad value fails here and not an epoch into the run."""
        from sslvid.analysis.pretext_views import build_task

        builder = task_registry().get(self.task)
        hints = typing.get_type_hints(builder.__init__ if inspect.isclass(builder) else builder)
        wrong = [f"task_kwargs.{name} {problem}" for name, value in self.task_kwargs.items()
                 if (problem := value_type_problem(value, hints.get(name, Any)))]
        if wrong:
            return wrong
        try:
            build_task(self.task, frames=self.frames, crop_size=self.crop_size, **self.task_kwargs)
        except (TypeError, ValueError) as err:
            return [f"task_kwargs: {self.task} rejects {self.task_kwargs}: {err}"]
        return []

    def hashed_dict(self) -> dict[str, Any]:
        """``HashedConfig.hashed_dict`` plus the task's definition revision when it is above 1."""
        values = super().hashed_dict()
        revision = getattr(task_registry().get(self.task), "revision", 1)
        return {**values, "task_revision": revision} if revision != 1 else values

    __hash__ = HashedConfig.__hash__


def task_registry() -> Any:
    """The pretext task registry, after importing ``sslvid.pretext`` (which registers the tasks)."""
    importlib.import_module("sslvid.pretext")
    from sslvid.pretext.base import TASKS

    return TASKS




def task_recipe(task: str, profile: str) -> dict[str, Any]:
    """The optimiser fields ``task`` pre-trains with at ``profile`` (``PretextTask.recipe``); the
    shared recipe for a name that is not a registered task (validation reports it)."""
    from sslvid.pretext.base import SHARED_RECIPE

    registry = task_registry()
    if task not in registry:
        return SHARED_RECIPE.values()
    return registry.get(task).recipe(profile)


def _unknown_arguments(what: str, name: str, builder: Callable[..., Any], keys: set[str]) -> list[str]:
    """Problems for ``keys`` that ``builder`` does not accept (none when it takes ``**kwargs``)."""
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return []
    unknown = keys - set(params)
    if not unknown:
        return []
    valid = sorted(set(params) - {"backbone", "frames", "crop_size", "width", "num_classes"})
    return [f"{what}: {name} has no argument {', '.join(sorted(unknown))}; valid: {', '.join(valid) or '(none)'}"]
