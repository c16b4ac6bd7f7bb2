"""What makes a frozen config findable: its JSON form and a hash that is the same on every machine.

Pre-training, evaluation and distillation configs mix in ``HashedConfig``: the run store files
a run under ``config_hash()``, computed over the fields that change the result (all fields but
the class's ``UNHASHED`` ones), the config's ``KIND`` and its ``HASH_SCHEMA``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from sslvid.errors import ConfigError


def stable_hash(values: Any) -> str:
    """16 hex digits of SHA-256 over canonical JSON of ``values``: stable across runs and machines."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class HashedConfig:
    """Identity of a frozen dataclass config. Subclasses set ``KIND`` and ``UNHASHED``, and
    must set ``__hash__ = HashedConfig.__hash__`` in their body (a frozen dataclass would
    otherwise generate one over its fields, which fails on dict fields)."""

    KIND: ClassVar[str] = ""
    UNHASHED: ClassVar[frozenset[str]] = frozenset()
    HASH_SCHEMA: ClassVar[int] = 1
    """Bumped when a change to the code makes old runs of the same config stale."""

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-able values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def hashed_dict(self) -> dict[str, Any]:
        """The fields that define the result, with the kind and hash schema: what ``config_hash`` hashes."""
        values = {k: v for k, v in self.to_dict().items() if k not in self.UNHASHED}
        return {"kind": self.KIND, "schema": self.HASH_SCHEMA, **values}

    def config_hash(self) -> str:
        """16 hex digits of SHA-256 over canonical JSON of ``hashed_dict()``."""
        return stable_hash(self.hashed_dict())

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def __hash__(self) -> int:
        return hash(self.config_hash())

    def _fill_missing(self, defaults: dict[str, Any]) -> None:
        """Set every field that is still None to its value in ``defaults`` (a profile's numbers)."""
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def _raise_problems(self, checks: Iterable[Callable[[], list[str]]]) -> None:
        """Raise one ``ConfigError`` listing every problem, with root causes first and alone.

        A wrong type (``seed=1.5``) or an unknown profile makes the range and name checks
        speak of values that were never meant (``epochs must be >= 1, got None``), so those
        checks run only when every field has the type its annotation gives and the profile exists.

        Raises:
            ConfigError: naming each invalid field, when there is one.
        """
        problems = self._profile_problems() + field_type_problems(self)
        if not problems:
            problems = list(dict.fromkeys(p for check in checks for p in check()))
        if problems:
            noun = "problem" if len(problems) == 1 else "problems"
            raise ConfigError(f"invalid {type(self).__name__} ({len(problems)} {noun}):\n  - "
                              + "\n  - ".join(problems),
                              hint="fix the fields above (python -m sslvid <command> --help lists the options)")

    def _profile_problems(self) -> list[str]:
        from sslvid.profiles import list_profiles

        profile = getattr(self, "profile", None)
        if profile is None or profile in list_profiles():
            return []
        return [f"unknown profile {profile!r}; valid: {', '.join(list_profiles())}"]

    def _coerce(self, name: str, kind: type) -> None:
        """Coerce field ``name`` to ``kind`` so ``lr=1`` and ``lr=1.0`` hash the same.

        Leaves None, booleans and values that do not convert (or an int field given 2.5) as
        they are: ``validate()`` reports those.
        """
        value = getattr(self, name)
        if isinstance(value, bool) or value is None:
            return
        try:
            coerced = kind(value)
        except (TypeError, ValueError):
            return
        if kind is int and coerced != value:
            return
        object.__setattr__(self, name, coerced)


def field_type_problems(config: Any) -> list[str]:
    """Fields of dataclass ``config`` whose value does not have the type its annotation names.

    Checks the scalar kinds: ``int`` (not a bool, not 1.5), ``float`` (finite), ``bool`` and
    ``str``, each possibly ``| None``; other annotations (tuples, dicts, unions of several
    kinds) are left to the config's own checks.
    """
    hints = typing.get_type_hints(type(config))
    problems = []
    for f in dataclasses.fields(config):
        problem = value_type_problem(getattr(config, f.name), hints.get(f.name, Any))
        if problem:
            problems.append(f"{f.name} {problem}")
    return problems


def value_type_problem(value: Any, annotation: Any) -> str:
    """'' when ``value`` fits a scalar ``annotation``; else what it must be ("must be an integer, got 1.5")."""
    kinds = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union else (annotation,)
    if value is None and type(None) in kinds:
        return ""
    scalars = [k for k in kinds if k in _SCALAR_RULES]
    if len(scalars) != len([k for k in kinds if k is not type(None)]) or len(scalars) != 1:
        return ""  # not a single scalar kind: the config checks it itself
    fits, wanted = _SCALAR_RULES[scalars[0]]
    return "" if fits(value) else f"must be {wanted}, got {value!r}"


_SCALAR_RULES: dict[type, tuple[Callable[[Any], bool], str]] = {
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), "a finite number"),
    bool: (lambda v: isinstance(v, bool), "True or False"),
    str: (lambda v: isinstance(v, str), "a string"),
}
