"""The frozen, validated config of one pre-training run, and its stable hash.

``PretrainConfig.for_profile("micro", task="rotnet", backbone="r2plus1d_18")`` fills the numbers
of a scale (``sslvid.profiles``: clip size, width, batch size, epochs, checkpoint spacing and the
subset; the task's recipe for its optimiser numbers and, where it needs another, its length): a
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

import importlib
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sslvid.confighash import REQUIRED, HashedConfig, config_field, value_type_problem
from sslvid.engine.configparts import Clips, Data, Runtime, Training, backbone_field, split_field
from sslvid.profiles import get_profile

ALL_VIDEOS = "all"
"""``subset_per_class`` meaning every video of the split (``--set subset_per_class=all``)."""


def _tasks() -> list[str]:
    return task_registry().names()


@dataclass(frozen=True)
class PretrainConfig(HashedConfig, Runtime, Training, Clips, Data):
    """Everything that defines one pre-training run. Frozen and validated on construction.

    The shared parts (``sslvid.engine.configparts``: ``Data``, ``Clips``, ``Training``,
    ``Runtime``) plus the task, backbone and split. Fields left ``None`` are filled from the
    profile (``Profile.defaults("pretrain")``); ``optimizer``, ``lr``, ``weight_decay``,
    ``momentum``, ``batch_size``, ``warmup_epochs`` and, where a task needs another length,
    ``epochs`` and ``checkpoint_every`` first from the task's recipe for the profile
    (``PretextTask.recipe``: its authors' numbers at paper scale, the measured micro recipes
    otherwise). What the user sets wins over both; a user's ``epochs`` without a
    ``checkpoint_every`` takes the profile's spacing, not the recipe's. ``batch_size`` is global: under torchrun
    each of the N processes takes ``batch_size / N`` videos per step (it must divide).

    Args:
        task: pretext task name (``sslvid.pretext.list_tasks()``).
        backbone: backbone name (``sslvid.backbones.list_backbones()``).
        profile: "smoke", "micro" or "paper".
        task_kwargs: the task's own knobs (e.g. ``{"num_rotations": 4}``).
        backbone_kwargs: extra backbone builder arguments (not ``width`` / ``num_classes``).
        split: which split of the dataset.
        subset_per_class: videos per class of a nested class-balanced subset, or ``"all"`` for
            every video of the split (``--set subset_per_class=all`` on the command line). None
            takes the profile's number (smoke: all; micro: 50; paper: 125, the benchmark's 50k of
            Kinetics-400), which classes of UCF101 or HMDB51 do not reach.
        subset_seed: seed of the subset's permutation (fixed so subsets nest across seeds).
        channels_last: store the 5-D (Conv3d) weights channels-last, cuDNN's fast layout (not
            hashed; off by default; ``sslvid.engine.datapath``).
        torch_compile: compile the backbones with ``torch.compile`` (not hashed; off by default).
        dataset, fold, data_seed, frames, crop_size, cache_size, cache_format, width, epochs, batch_size,
            optimizer, lr, weight_decay, momentum, scheduler, warmup_epochs, checkpoint_every,
            seed, amp, data_root, num_workers, threads, device, deterministic,
            max_failure_fraction: the shared parts' fields (``sslvid.engine.configparts``).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field (unknown names list the valid ones).
    """

    task: str = config_field(REQUIRED, names=_tasks)
    backbone: str = backbone_field()
    profile: str = "micro"
    task_kwargs: dict[str, Any] = config_field(default_factory=dict)
    backbone_kwargs: dict[str, Any] = config_field(default_factory=dict)
    split: str = split_field("train")
    subset_per_class: int | str | None = None
    subset_seed: int = 0
    channels_last: bool = config_field(False, hashed=False)
    torch_compile: bool = config_field(False, hashed=False)

    KIND: ClassVar[str] = "pretrain"
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("split",)
    REFILL_ON: ClassVar[tuple[str, ...]] = ("profile", "task")

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(cls, profile: str, task: str, backbone: str, **overrides: Any) -> PretrainConfig:
        """The config of ``task`` on ``backbone`` with the numbers of ``profile``, then ``overrides``.

        Raises:
            ConfigError (a ValueError): for an unknown profile, task, backbone or field, or an invalid value.
        """
        cls.check_known_fields(overrides)
        return cls(task=task, backbone=backbone, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PretrainConfig:
        """The config written by ``to_dict`` (e.g. a run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls.for_profile(values.pop("profile"), values.pop("task"), values.pop("backbone"), **values)

    def _profile_defaults(self) -> dict[str, Any]:
        recipe = task_recipe(self.task, self.profile)
        if self.epochs is not None:  # a length the caller chose keeps the profile's checkpoint spacing
            recipe.pop("checkpoint_every", None)
        return get_profile(self.profile).defaults("pretrain") | recipe

    def _before_fill(self) -> None:
        """The task's own numbers at this scale (its recipe's ``task_kwargs``) under those the caller set."""
        if isinstance(self.task_kwargs, Mapping):
            object.__setattr__(self, "task_kwargs", task_defaults(self.task, self.profile) | dict(self.task_kwargs))

    def replace(self, **changes: Any) -> PretrainConfig:
        """A copy with ``changes`` applied; a new task or profile also takes its own recipe's task numbers
        in place of the old ones (those the caller set are kept)."""
        if {"task", "profile"} & set(changes) and "task_kwargs" not in changes:
            own = task_defaults(self.task, self.profile)
            changes["task_kwargs"] = {k: v for k, v in self.task_kwargs.items() if k not in own or v != own[k]}
        return super().replace(**changes)

    # ----------------------------------------------------------------- validation
    def _checks(self) -> list[Callable[[], list[str]]]:
        return [self._check_subset, self._check_kwargs]

    def _check_subset(self) -> list[str]:
        value = self.subset_per_class
        if value == ALL_VIDEOS or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return []
        return [f"subset_per_class must be >= 1, or {ALL_VIDEOS!r} for every video, got {value!r}"]

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
        wrong = [
            f"task_kwargs.{name} {problem}"
            for name, value in self.task_kwargs.items()
            if (problem := value_type_problem(value, hints.get(name, Any)))
        ]
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


def task_registry() -> Any:
    """The pretext task registry, after importing ``sslvid.pretext`` (which registers the tasks)."""
    importlib.import_module("sslvid.pretext")
    from sslvid.pretext.base import TASKS

    return TASKS


def _registered_task(task: Any) -> Any:
    """The class registered as pretext task ``task``; None for anything else (validation reports it)."""
    registry = task_registry()
    return registry.get(task) if isinstance(task, str) and task in registry else None


def task_defaults(task: str, profile: str) -> dict[str, Any]:
    """The task's own numbers its recipe sets for ``profile`` (``PretextTask.task_defaults``); none for a
    name that is not a registered task or an unknown profile (validation reports those)."""
    registered = _registered_task(task)
    return registered.task_defaults(profile) if registered is not None and isinstance(profile, str) else {}


def task_recipe(task: str, profile: str) -> dict[str, Any]:
    """The training fields ``task`` pre-trains with at ``profile`` (``PretextTask.recipe``); the
    shared recipe for a name that is not a registered task (validation reports it)."""
    from sslvid.pretext.base import SHARED_RECIPE

    registered = _registered_task(task)
    return registered.recipe(profile) if registered is not None else SHARED_RECIPE.values()


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
