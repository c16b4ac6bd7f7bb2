"""What makes a frozen config findable: its JSON form and a hash that is the same on every machine.

Pre-training, evaluation and distillation configs mix in ``HashedConfig``: the run store files
a run under ``config_hash()``, computed over the fields that change the result (all fields but
the class's ``UNHASHED`` ones), the config's ``KIND`` and its ``HASH_SCHEMA``, and the
fingerprints of the dataset splits the run reads (``data_fingerprint``): ``data_root`` says
where the data lies on this machine and is not hashed, but what lies there is. A copy of the
same videos moved elsewhere hashes the same; another dataset under the same layout name does
not. The fingerprints are computed on the first ``config_hash()`` of a config, not when it is
built, and remembered on disk while the dataset's folders are unchanged
(``sslvid.data.fingerprint``).
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
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ()
    """Names of the fields holding the splits the run reads of ``dataset`` (none: no dataset)."""
    HASHED_UNLESS: ClassVar[dict[str, Any]] = {"cache_format": "uint8"}
    """Fields added after runs were stored, hashed only when they differ from the value given
    here, so the runs stored before they existed keep their hashes."""

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-able values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def hashed_dict(self) -> dict[str, Any]:
        """The fields that define the result, with the kind and hash schema: what ``config_hash`` hashes."""
        return {"kind": self.KIND, "schema": self.HASH_SCHEMA, **self._hashed_fields(), **self._data_entry()}

    def _hashed_fields(self) -> dict[str, Any]:
        """The fields that define the result: all but ``UNHASHED``, and ``HASHED_UNLESS`` at their old value."""
        return {k: v for k, v in self.to_dict().items()
                if k not in self.UNHASHED and not (k in self.HASHED_UNLESS and v == self.HASHED_UNLESS[k])}

    def data_fingerprint(self) -> dict[str, str] | None:
        """``{split: fingerprint}`` of the dataset splits the run reads, computed on first use and kept.

        None for the embedded default data without ``data_root`` (its generation seed and the
        profile name it exactly) and for configs that read no dataset.

        Raises:
            DatasetLayoutError: when the dataset is not under ``data_root``.
        """
        if "_data_fingerprint" not in self.__dict__:
            object.__setattr__(self, "_data_fingerprint", self._compute_data_fingerprint())
        return self.__dict__["_data_fingerprint"]

    def check_split_unchanged(self, index: Any) -> None:
        """Check that a ``VideoIndex`` a run opened still holds the videos this config's hash names.

        Raises:
            DatasetChangedError: when it does not (``sslvid.data.fingerprint.check_unchanged``).
        """
        fingerprints = self.data_fingerprint()
        if fingerprints is not None and index.split in fingerprints:
            from sslvid.data.fingerprint import check_unchanged

            check_unchanged(index, fingerprints[index.split])

    def dataset_id(self) -> str:
        """The dataset's identity in one string, for the results table's ``dataset_fingerprint`` column:
        16 hex digits over ``data_fingerprint()``, or ``default:seed<data_seed>:<profile>`` for the
        generated default data ("" for a config that reads no dataset)."""
        fingerprints = self.data_fingerprint()
        if fingerprints is not None:
            return stable_hash(fingerprints)
        return f"default:seed{getattr(self, 'data_seed')}:{getattr(self, 'profile')}" if self.DATA_SPLITS else ""

    def _compute_data_fingerprint(self) -> dict[str, str] | None:
        if not self.DATA_SPLITS:
            return None
        from sslvid.data.sources import data_fingerprints

        splits = [getattr(self, name) for name in self.DATA_SPLITS]
        return data_fingerprints(getattr(self, "dataset"), splits, getattr(self, "fold"), getattr(self, "data_root"))

    def _data_entry(self) -> dict[str, Any]:
        """``{"data": fingerprints}`` for ``hashed_dict``, or nothing for the default data (whose
        hashes therefore stay as they were before fingerprints existed)."""
        fingerprints = self.data_fingerprint()
        return {"data": fingerprints} if fingerprints is not None else {}

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
