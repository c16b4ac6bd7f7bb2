"""Where sslvid keeps generated data, caches and results, without hard-coded user paths.

Everything lives under one home folder: ``$SSLVID_HOME`` if set, else the repository
root when sslvid runs from a checkout (the ``data/`` folder there is git-ignored), else
``~/.cache/sslvid``. Real datasets are never looked for here: users pass ``data_root``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from pathlib import Path

_CACHE_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sslvid_cache_dir", default=None)


def project_home() -> Path:
    """The folder that holds ``data/`` (generated data, caches, results)."""
    if os.environ.get("SSLVID_HOME"):
        return Path(os.environ["SSLVID_HOME"]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.home() / ".cache" / "sslvid"


def data_dir() -> Path:
    """``<home>/data``: default data, the clip cache and results live below it."""
    return project_home() / "data"


def default_data_dir(profile: str = "micro") -> Path:
    """Root of the embedded default data generated for ``profile`` (sizes differ per profile)."""
    return data_dir() / ("default" if profile != "smoke" else "default-smoke")


def cache_dir() -> Path:
    """Root of the decoded-clip caches: the folder of an enclosing ``using_cache_dir``, else
    ``$SSLVID_CACHE_DIR`` if set (e.g. a fast local disk), else ``<data>/cache``."""
    enclosing = _CACHE_DIR.get()
    if enclosing is not None:
        return enclosing
    if os.environ.get("SSLVID_CACHE_DIR"):
        return Path(os.environ["SSLVID_CACHE_DIR"]).expanduser().resolve()
    return data_dir() / "cache"


@contextlib.contextmanager
def using_cache_dir(folder: str | os.PathLike | None) -> Iterator[None]:
    """``cache_dir()`` is ``folder`` inside the block (None: unchanged), for this thread or task only;
    the environment is left alone, so other code of the process is not redirected."""
    if folder is None:
        yield
        return
    token = _CACHE_DIR.set(Path(folder).expanduser().resolve())
    try:
        yield
    finally:
        _CACHE_DIR.reset(token)


def shared_dir() -> Path | None:
    """The ``shared/`` folder beside the checkout (real ASL clips, paper tables), if present."""
    candidate = project_home().parent / "shared"
    return candidate if candidate.is_dir() else None
