"""One small registry class, used for every kind of named thing in sslvid.

Backbones, datasets (layouts), pretext tasks, distillers and corruptions each own one
``Registry``. Builders are registered with a decorator and created by name; an unknown
name raises ``ValueError`` listing the valid ones (timm's pattern, with a better error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> builder mapping for one kind of thing.

    Args:
        kind: what the registry holds, used in error messages ("backbone", "dataset").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., T]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, name: str | None = None, **meta: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a builder under ``name`` (default: the function's name).

        Extra keyword arguments are stored as metadata (e.g. ``capacity="small"``).

        Raises:
            ValueError: if the name is already taken.
        """

        def decorator(builder: Callable[..., T]) -> Callable[..., T]:
            key = name or builder.__name__
            if key in self._builders:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._builders[key] = builder
            self._meta[key] = dict(meta)
            return builder

        return decorator

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._builders)

    def get(self, name: str) -> Callable[..., T]:
        """The builder registered under ``name``.

        Raises:
            ValueError: for an unknown name; the message lists the valid names.
        """
        try:
            return self._builders[name]
        except KeyError:
            valid = ", ".join(self.names())
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {valid}") from None

    def meta(self, name: str) -> dict[str, Any]:
        """Metadata recorded for ``name`` at registration."""
        self.get(name)
        return dict(self._meta[name])

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the thing registered under ``name`` with ``kwargs``."""
        return self.get(name)(**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __len__(self) -> int:
        return len(self._builders)


class ClassRegistry(Registry[T]):
    """A registry whose builders are the classes themselves (pretext tasks, distillers).

    ``get`` returns the class, so its class attributes (a task's ``contrastive``, a distiller's
    ``needs_student``) can be read before anything is built.
    """

    def get(self, name: str) -> type[T]:
        """The class registered under ``name``.

        Raises:
            ValueError: for an unknown name; the message lists the valid names.
        """
        return cast("type[T]", super().get(name))
