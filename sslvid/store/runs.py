"""The results cache of training runs: one folder per config hash, found again and never recomputed.

A run lives in ``<root>/<hash>/``::

    config.json          the full config (``to_dict()``), written when the run starts
    provenance.json      seed, git commit, package versions, device, start / end, wall time
    log.csv              tidy per-epoch table (rewritten atomically after every epoch)
    checkpoints/epoch_0005.pt   resumable state every k epochs
    final.pt             the trained weights: {"backbone": state dict, "task": state dict, ...}
    COMPLETE             written last: a run without it is partial (resumable), never a result

Every file is written atomically (``sslvid.io``), so a killed run leaves either the old file or
the new one, never half of one. Loading uses ``torch.load(weights_only=True)``.

The store knows nothing about training. Its one convention about contents: a trained module
keeps its backbone under the attribute ``backbone``, so a checkpoint's ``"model"`` state dict
holds the backbone's tensors under the ``"backbone."`` prefix (``load_backbone``).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
from filelock import FileLock

from sslvid.io import atomic_write_json, atomic_write_text, atomic_write_with
from sslvid.paths import data_dir

log = logging.getLogger(__name__)

COMPLETE_MARKER = "COMPLETE"
BACKBONE_PREFIX = "backbone."
PACKAGES = ("torch", "torchvision", "numpy", "pandas", "av", "decord", "sslvid")


class HashedConfig(Protocol):
    """Anything the store can file: a stable ``config_hash()`` and a JSON-able ``to_dict()``."""

    def config_hash(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


def default_runs_root() -> Path:
    """``<data dir>/runs``: where runs are stored unless a root is given."""
    return data_dir() / "runs"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git(*args: str) -> str | None:
    """Output of ``git <args>`` run in the sslvid checkout, or None when git or the checkout is absent."""
    checkout = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages results depend on (None when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect_provenance(seed: int, device: str, **extra: Any) -> dict[str, Any]:
    """Seed, git commit (``"unknown"`` outside a checkout), dirty flag, package versions, device, platform.

    ``git_dirty`` is True when the checkout has changes or untracked (not ignored) files beside
    the commit: the commit alone then does not name the code that ran.

    Args:
        seed: the run's seed.
        device: a description of where it ran, e.g. ``"cpu"`` or ``"cuda: NVIDIA H100 x2"``.
        **extra: more JSON-able entries (world size, threads...).
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit else None
    return {
        "seed": seed,
        "git_commit": commit or "unknown",
        "git_dirty": bool(status) if status is not None else None,
        "packages": package_versions(),
        "device": device,
        "platform": platform.platform(),
        **extra,
    }


def _key_of(config: HashedConfig | str) -> str:
    return config if isinstance(config, str) else config.config_hash()


class RunHandle:
    """The folder of one run, ``<root>/<key>/``, and the files in it (module docstring).

    Args:
        root: the store's root.
        key: the run's config hash.
    """

    def __init__(self, root: Path, key: str) -> None:
        if not key or os.sep in key or key.startswith("."):
            raise ValueError(f"invalid run key {key!r}")
        self.key = key
        self.dir = Path(root) / key

    def __repr__(self) -> str:
        state = "complete" if self.is_complete else "partial" if self.exists else "absent"
        return f"RunHandle({self.key!r}, {state}, {self.dir})"

    # ---------------------------------------------------------------- paths and state
    @property
    def config_path(self) -> Path:
        return self.dir / "config.json"

    @property
    def provenance_path(self) -> Path:
        return self.dir / "provenance.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "log.csv"

    @property
    def final_path(self) -> Path:
        return self.dir / "final.pt"

    @property
    def checkpoint_dir(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def exists(self) -> bool:
        return self.config_path.is_file()

    @property
    def is_complete(self) -> bool:
        """True once ``COMPLETE`` is written: the run's results can be used."""
        return (self.dir / COMPLETE_MARKER).is_file()

    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoint_dir / f"epoch_{epoch:04d}.pt"

    @contextmanager
    def lock(self, timeout: float = -1) -> Iterator[None]:
        """Hold the run's file lock (two processes never train the same config at once)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.dir / ".lock"), timeout=timeout):
            yield

    # ---------------------------------------------------------------- writing
    def begin(self, config: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Start (or resume) the run: write ``config.json`` unless present, and a ``running`` provenance.

        A resumed run keeps the ``config.json`` of its first attempt (fields that are not
        hashed, like the number of workers, may differ between attempts; each attempt's device
        and commit are listed under ``attempts``).
        """
        if not self.exists:
            atomic_write_json(self.config_path, json.loads(json.dumps(dict(config), default=str)))
        previous = self.provenance() if self.provenance_path.is_file() else {}
        started = previous.get("started", _now())
        attempt = {"started": _now(), **{k: provenance[k] for k in ("device", "git_commit") if k in provenance}}
        attempts = previous.get("attempts", []) + [attempt]
        atomic_write_json(self.provenance_path, {**provenance, "status": "running", "started": started,
                                                 "attempts": attempts})

    def save_checkpoint(self, epoch: int, state: Mapping[str, Any]) -> Path:
        """Write ``checkpoints/epoch_XXXX.pt`` atomically (tensors, numbers, strings, dicts, lists)."""
        path = self.checkpoint_path(epoch)
        atomic_write_with(path, lambda handle: torch.save(dict(state), handle))
        log.info("checkpoint %s", path)
        return path

    def write_log(self, rows: pd.DataFrame) -> None:
        """Replace ``log.csv`` atomically with ``rows``."""
        atomic_write_text(self.log_path, rows.to_csv(index=False))

    def finish(self, final_state: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Write ``final.pt``, the finished provenance, then the ``COMPLETE`` marker (last)."""
        atomic_write_with(self.final_path, lambda handle: torch.save(dict(final_state), handle))
        previous = self.provenance() if self.provenance_path.is_file() else {}
        atomic_write_json(self.provenance_path, {**previous, **provenance, "status": "complete", "ended": _now()})
        atomic_write_text(self.dir / COMPLETE_MARKER, _now() + "\n")

    # ---------------------------------------------------------------- reading
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def provenance(self) -> dict[str, Any]:
        return json.loads(self.provenance_path.read_text())

    def read_log(self) -> pd.DataFrame:
        """The per-epoch log table (empty when nothing was logged yet)."""
        return pd.read_csv(self.log_path) if self.log_path.is_file() else pd.DataFrame()

    def checkpoints(self) -> dict[int, Path]:
        """Epoch -> checkpoint path, sorted by epoch (temporary files are ignored)."""
        found = {}
        for path in self.checkpoint_dir.glob("epoch_*.pt"):
            try:
                found[int(path.stem.split("_")[1])] = path
            except (IndexError, ValueError):
                continue
        return dict(sorted(found.items()))

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint of the highest epoch, or None."""
        found = self.checkpoints()
        return found[max(found)] if found else None

    @staticmethod
    def load(path: str | os.PathLike) -> dict[str, Any]:
        """``torch.load(path, weights_only=True)`` onto the CPU."""
        return torch.load(path, map_location="cpu", weights_only=True)

    def load_checkpoint(self, epoch: int | None = None) -> dict[str, Any]:
        """The checkpoint of ``epoch`` (None: the latest).

        Raises:
            FileNotFoundError: when there is no such checkpoint (the message lists those present).
        """
        found = self.checkpoints()
        if epoch is None and found:
            epoch = max(found)
        if epoch not in found:
            raise FileNotFoundError(f"run {self.key} has no checkpoint of epoch {epoch}; has: {list(found)}")
        return self.load(found[epoch])

    def load_final(self) -> dict[str, Any]:
        """The contents of ``final.pt``.

        Raises:
            FileNotFoundError: if the run is not complete.
        """
        if not self.is_complete:
            raise FileNotFoundError(f"run {self.key} in {self.dir} is not complete")
        return self.load(self.final_path)

    def load_backbone(self, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The backbone's state dict: of the finished run, or of the checkpoint of ``epoch``.

        Raises:
            FileNotFoundError: if the run is not complete, or has no checkpoint of ``epoch``.
        """
        if epoch is None:
            return self.load_final()["backbone"]
        model = self.load_checkpoint(epoch)["model"]
        return {k[len(BACKBONE_PREFIX):]: v for k, v in model.items() if k.startswith(BACKBONE_PREFIX)}


class RunStore:
    """Finished and partial runs under one root, each found by its config hash.

    Args:
        root: folder of the store; default ``default_runs_root()`` (``<data dir>/runs``).
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_root()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def run(self, config: HashedConfig | str) -> RunHandle:
        """The handle of the run of ``config`` (or of a hash), whether it exists or not."""
        return RunHandle(self.root, _key_of(config))

    def find(self, config: HashedConfig | str) -> RunHandle | None:
        """The complete run of ``config`` (or of a hash), or None when it was never finished."""
        handle = self.run(config)
        return handle if handle.is_complete else None

    def latest_checkpoint(self, config: HashedConfig | str) -> Path | None:
        """The latest checkpoint of the run of ``config``, complete or not, or None."""
        return self.run(config).latest_checkpoint()

    def load_backbone(self, config: HashedConfig | str, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The backbone state dict of the run of ``config`` (final, or at ``epoch``); see ``RunHandle``."""
        return self.run(config).load_backbone(epoch)

    def runs(self, complete_only: bool = True) -> list[RunHandle]:
        """Handles of the stored runs, sorted by key."""
        if not self.root.is_dir():
            return []
        handles = [RunHandle(self.root, p.name) for p in sorted(self.root.iterdir())
                   if p.is_dir() and not p.name.startswith(".")]
        return [h for h in handles if h.exists and (h.is_complete or not complete_only)]

    def table(self, complete_only: bool = True) -> pd.DataFrame:
        """One row per run: hash, complete flag, the config's fields and the wall time."""
        rows = []
        for handle in self.runs(complete_only):
            prov = handle.provenance() if handle.provenance_path.is_file() else {}
            rows.append({"run": handle.key, "complete": handle.is_complete, **handle.config(),
                         "wall_seconds": prov.get("wall_seconds")})
        return pd.DataFrame(rows)
