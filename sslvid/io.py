"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one.

Every file sslvid writes for later (caches, checkpoints, results, manifests) goes through
here: write to a temporary file in the same folder, flush and fsync, then ``os.replace``.
The temporary file is created with mode 0666 less the process's umask, like any other file
the user writes. A process killed part-way leaves its temporary file (``.<name>.<random>.tmp``)
behind; the owner of a folder removes those with ``remove_stale_temporaries`` while it holds
the folder's lock.

A stored file that is there but cannot be read (truncated, overwritten, edited into another
format) raises ``DamagedFileError``, which names the file and says how to recover.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sslvid.errors import UserError

TEMP_SUFFIX = ".tmp"


class DamagedFileError(UserError, RuntimeError):
    """A stored file exists but cannot be trusted; the message names it and the way to recover.

    Args:
        path: the damaged file.
        problem: what is wrong with it ("truncated: 120 bytes, the record says 4096").
        recovery: what the user can do ("delete the folder X to train the run again").
    """

    def __init__(self, path: str | os.PathLike, problem: str, recovery: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.recovery = recovery
        super().__init__(f"{self.path} is damaged: {problem}. To recover: {recovery}", hint=recovery)


def _open_exclusive(folder: Path, name: str) -> tuple[int, str]:
    """A new, uniquely named temporary file in ``folder`` opened for writing (mode 0666 & ~umask)."""
    while True:
        tmp = str(folder / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_exclusive(path.parent, path.name)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(folder: str | os.PathLike, name: str = "*") -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder`` (of file ``name``, or of any).

    Only call it while holding the lock that guards the folder's writers: a live writer's
    temporary file looks the same.

    Returns:
        the removed paths.
    """
    removed = []
    for tmp in Path(folder).glob(f".{name}.*{TEMP_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes (hex), read in chunks of ``chunk`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike, recovery: str) -> Any:
    """The JSON in ``path``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        DamagedFileError: if it is not valid UTF-8 JSON (naming the file and ``recovery``).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFileError(path, f"not valid JSON ({err})", recovery) from None


def atomic_write_with(path: str | os.PathLike, writer: Callable[[IO[bytes]], object]) -> None:
    """Call ``writer(handle)`` on a binary temporary file, then rename it to ``path``.

    Use it for writers that take a file object: ``np.save``, ``torch.save``, ``df.to_csv``.
    """
    with atomic_open(path, "wb") as handle:
        writer(handle)
