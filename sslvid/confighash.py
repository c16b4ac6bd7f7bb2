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

A config is a frozen dataclass built from small shared parts (``sslvid.engine.configparts``) and
its own fields. What a config does with a field follows from the field: its annotation says how
a value is coerced (``lr=1`` becomes 1.0, a list of sizes a tuple, a dict's keys sorted) and
which type it must have; its ``config_field`` metadata says which names are valid (read from
the registry that holds them), which range a number must lie in, and whether the hash leaves it
out. Every config fills the fields left None from its profile (``sslvid.profiles``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from sslvid.errors import ConfigError


def stable_hash(values: Any) -> str:
    """16 hex digits of SHA-256 over canonical JSON of ``values``: stable across runs and machines."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


REQUIRED: Any = dataclasses.MISSING
"""``config_field(REQUIRED, ...)``: a field without a default (the caller must give it)."""

Rule = tuple[Callable[[Any], bool], str]
"""A range rule of a number field: (predicate on a value of the right type, what it must be: ">= 1")."""


def config_field(
    default: Any = None,
    *,
    check: Rule | None = None,
    names: Callable[[], Sequence[str]] | None = None,
    what: str | None = None,
    hashed: bool = True,
    plain: bool = False,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A config dataclass field with what validation and hashing need to know of it.

    Args:
        default: the default value (None: filled from the profile, or left unset; ``REQUIRED``: none).
        check: the range rule of a number (``(lambda v: v >= 1, ">= 1")``); None values are not checked.
        names: returns the valid values of a name field (a registry's ``names``); None values are not checked.
        what: how an unknown name is called in the error ("unknown <what> 'x'"); default: the field name.
        hashed: False for fields that do not change a result (where and how fast it runs).
        plain: for dict fields: write tuples as lists and whole floats as ints, so equal knobs hash the same.
        default_factory: instead of ``default``, for mutable defaults.
    """
    metadata = {"check": check, "names": names, "what": what, "hashed": hashed, "plain": plain}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class _Unhashed:
    """``cls.UNHASHED``: the names of the fields declared ``config_field(hashed=False)``."""

    def __get__(self, instance: Any, owner: type) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(owner) if f.metadata.get("hashed") is False)


class ConfigPart:
    """A group of config fields shared by several configs (a frozen, keyword-only dataclass mixin).

    A part may add checks that read more than one field (``_part_checks``); each calls
    ``super()._part_checks()`` so that a config's parts all speak.
    """

    def _part_checks(self) -> list[str]:
        return []


class HashedConfig(ConfigPart):
    """Identity, construction and validation of a frozen dataclass config.

    Subclasses set ``KIND`` (and ``DATA_SPLITS``, ``HASH_SCHEMA``), declare their fields with
    ``config_field`` where a field has a rule, and say where their profile numbers come from
    (``_profile_defaults``). Construction then fills None fields from the profile, coerces
    values to their annotated types and validates; ``UNHASHED`` and ``__hash__`` follow.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every subclass is a dataclass (declared for type checkers)
    KIND: ClassVar[str] = ""
    UNHASHED: ClassVar[frozenset[str]] = _Unhashed()  # type: ignore[assignment]
    """Fields that do not enter the hash: those declared ``config_field(hashed=False)``."""
    REFILL_ON: ClassVar[tuple[str, ...]] = ("profile",)
    """Fields whose change in ``replace`` refills the numbers that came from the profile."""
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
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in self.UNHASHED and not (k in self.HASHED_UNLESS and v == self.HASHED_UNLESS[k])
        }

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
        """A copy with ``changes`` applied (and validated).

        When a change names a field of ``REFILL_ON`` (the profile; an evaluation's protocol), the
        numbers this config took from its profile are taken afresh for the new one, so none stays
        stale; numbers that differ from the profile's (set by the caller) are kept.
        """
        if not set(changes) & set(self.REFILL_ON):
            return dataclasses.replace(self, **changes)
        own = self._profile_defaults()
        kept = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        kept = {name: None if name in own and _same(value, own[name]) else value for name, value in kept.items()}
        return type(self)(**(kept | changes))

    def __hash__(self) -> int:
        return hash(self.config_hash())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every config the hash of its ``config_hash`` (a frozen dataclass would otherwise
        generate one over its fields, which fails on dict fields)."""
        super().__init_subclass__(**kwargs)
        cls.__hash__ = HashedConfig.__hash__  # type: ignore[method-assign]

    # ----------------------------------------------------------------- construction
    def __post_init__(self) -> None:
        self._before_fill()
        self._fill()
        self._normalise()
        self.validate()

    def _before_fill(self) -> None:
        """What a config does to its given values before the profile fills the rest (default: nothing)."""

    def _profile_defaults(self) -> dict[str, Any]:
        """The numbers this config fills its None fields with (its profile's; ``sslvid.profiles``)."""
        return {}

    def _fill(self) -> None:
        if getattr(self, "profile", None) in _profiles():
            self._fill_missing(self._profile_defaults())

    @classmethod
    def check_known_fields(cls, names: Iterable[str]) -> None:
        """Check that every name in ``names`` is a field.

        Raises:
            ConfigError: naming the unknown fields and listing the valid ones.
        """
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = set(names) - set(valid)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}; valid: {', '.join(valid)}")

    def _normalise(self) -> None:
        """Coerce every field to its annotated type so ``lr=1`` and ``lr=1.0`` hash the same: numbers,
        tuples of numbers (from lists), dicts (keys sorted; ``plain`` fields canonical), paths (as str).
        Values that do not convert are left as they are for ``validate()`` to report."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            kinds = [k for k in _union_kinds(hints.get(f.name, Any)) if k is not type(None)]
            value = getattr(self, f.name)
            number = next((k for k in kinds if k in (int, float)), None)
            tuple_kind = next(
                (
                    typing.get_args(k)
                    for k in kinds
                    if typing.get_origin(k) is tuple and typing.get_args(k)[0] in (int, float)
                ),
                None,
            )
            if number is not None:
                self._coerce(f.name, number)
            elif tuple_kind and isinstance(value, (list, tuple)):
                try:
                    object.__setattr__(self, f.name, tuple(tuple_kind[0](v) for v in value))
                except (TypeError, ValueError):
                    pass  # validate() reports it
            elif isinstance(value, Mapping) and any(typing.get_origin(k) is dict for k in kinds):
                plain = _plain if f.metadata.get("plain") else (lambda v: v)
                object.__setattr__(self, f.name, {str(k): plain(value[k]) for k in sorted(value)})
            elif str in kinds and isinstance(value, os.PathLike):
                object.__setattr__(self, f.name, os.fspath(value))

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check every field; raise one error that lists every problem.

        Raises:
            ConfigError (a ValueError): naming each invalid field; unknown names list the valid ones.
        """
        self._raise_problems([self._check_fields, self._part_checks, *self._checks()])

    def _checks(self) -> list[Callable[[], list[str]]]:
        """The config's own checks beyond its fields' rules and its parts' checks (default: none)."""
        return []

    def _check_fields(self) -> list[str]:
        """Problems of the fields declared with ``names`` or ``check`` (None values are not checked)."""
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata.get("names") is not None:
                valid = list(f.metadata["names"]())
                if value not in valid:
                    problems.append(
                        f"unknown {f.metadata.get('what') or f.name} {value!r}; "
                        f"valid: {', '.join(map(str, valid)) or '(none registered)'}"
                    )
            if f.metadata.get("check") is not None:
                ok, rule = f.metadata["check"]
                if not ok(value):
                    problems.append(f"{f.name} must be {rule}, got {value!r}")
        return problems

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
            raise ConfigError(
                f"invalid {type(self).__name__} ({len(problems)} {noun}):\n  - " + "\n  - ".join(problems),
                hint="fix the fields above (python -m sslvid <command> --help lists the options)",
            )

    def _profile_problems(self) -> list[str]:
        profile = getattr(self, "profile", None)
        if profile is None or profile in _profiles():
            return []
        return [f"unknown profile {profile!r}; valid: {', '.join(_profiles())}"]

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
    kinds = _union_kinds(annotation)
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


def _union_kinds(annotation: Any) -> tuple[Any, ...]:
    """The kinds of a union annotation (``int | None`` -> ``(int, NoneType)``), or the annotation alone."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _plain(value: Any) -> Any:
    """Canonical knob values: tuples as lists and whole floats as ints, so ``grid=(2, 2, 2)`` and
    ``[2, 2, 2]``, or ``temperature=4`` and ``4.0``, hash the same."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in sorted(value)}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _same(value: Any, default: Any) -> bool:
    """Whether a field's value is its profile default (lists and tuples alike)."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return type(value) is type(default) and value == default if isinstance(value, bool) else value == default


def _profiles() -> list[str]:
    from sslvid.profiles import list_profiles

    return list_profiles()
