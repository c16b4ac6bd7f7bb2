"""What makes a frozen config findable: its JSON form and a hash that is the same on every machine.

Pre-training, evaluation and distillation configs mix in ``HashedConfig``: the run store files
a run under ``config_hash()``, computed over the fields that change the result (all fields but
the class's ``UNHASHED`` ones), the config's ``KIND`` and its ``HASH_SCHEMA``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, ClassVar


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
