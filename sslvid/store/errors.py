"""The error a read-only store raises for what it does not hold."""

from __future__ import annotations


class NotCachedError(LookupError):
    """A run, evaluation or feature set that the stores do not hold, asked for from a read-only store.

    Read-only stores (``RunStore(read_only=True)``, ``ResultsStore(read_only=True)``,
    ``FeatureCache(read_only=True)``) raise it instead of training, evaluating, extracting or
    writing, so a reader (the discussion chapter) finds out what is missing without computing it.
    """


def not_cached_cause(error: BaseException | None) -> NotCachedError | None:
    """The ``NotCachedError`` behind ``error`` (itself, its cause or its context), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, NotCachedError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
