"""The results cache of training runs: one folder per config hash, found again and never recomputed.

A run lives in ``<root>/<hash>/``::

    config.json          the full config (``to_dict()``), written when the run starts
    provenance.json      seed, git commit, package versions, device, start / end, wall time, status
    checksums.json       size and sha256 of every checkpoint and of final.pt, written after each
    log.csv              tidy per-epoch table (rewritten atomically after every epoch)
    checkpoints/epoch_0005.pt   the state every k epochs (weights, epoch, step, log)
    checkpoints/resume_0005.pt  what only resuming needs beside it (the optimiser's state); dropped
                                 when the run completes, so a finished run keeps its weights only
    final.pt             the trained weights: {"backbone": state dict, "task": state dict, ...}
    outcomes.json        an evaluation's per-test-video outcomes (``sslvid.store.outcomes``), after COMPLETE
    outcomes@gaussian-1.json   the same under one test condition (noise robustness), one per condition
    COMPLETE             written last of the results (then the resume files go): a run without it is
                         partial (resumable), never a result

Every file is written atomically (``sslvid.io``), so a killed run leaves either the old file or
the new one, never half of one. Loading uses ``torch.load(weights_only=True)``.

Nothing is trusted unchecked: a run counts as complete only when ``final.pt`` has the size and
sha256 recorded for it; a checkpoint that fails its record or does not load is skipped when a
run resumes (the previous good one is used, with a warning naming the file); a store file that
cannot be read raises ``sslvid.io.DamagedFileError``, naming the file and how to recover.

The run's lock is ``<root>/.<hash>.lock`` beside its folder, so a run that fails before it starts
leaves no folder behind; one that fails before its first checkpoint is removed, a later failure
is recorded in ``provenance.json`` (``status: failed``). A run killed outright still says
``running`` there; with its lock free, ``RunHandle.state`` reports it as ``interrupted``, and the
next attempt records it so and clears the temporary files the killed writer left.

The store knows nothing about training. Its one convention about contents: a trained module
keeps its backbone under the attribute ``backbone``, so a checkpoint's ``"model"`` state dict
holds the backbone's tensors under the ``"backbone."`` prefix (``load_backbone``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import pickle
import platform
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
from filelock import FileLock, Timeout

from sslvid.io import (
    DamagedFileError,
    atomic_write_json,
    atomic_write_text,
    atomic_write_with,
    file_digest,
    read_json,
    remove_stale_temporaries,
)
from sslvid.paths import data_dir
from sslvid.store.errors import NotCachedError

log = logging.getLogger(__name__)

COMPLETE_MARKER = "COMPLETE"
CHECKSUMS = "checksums.json"
STATES = ("absent", "running", "interrupted", "failed", "partial", "complete", "damaged")
"""What ``RunHandle.state`` reports."""
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


_VERIFIED: dict[str, tuple[int, int, str]] = {}
"""Files whose checksum matched: path -> (size, mtime_ns, sha256), so each is hashed once per change."""

_LOAD_ERRORS = (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError)
"""What ``torch.load`` raises for a truncated or foreign file (not for a missing or unreadable one)."""


def _epoch_of(checkpoint: Path) -> int | None:
    """The epoch of ``checkpoints/epoch_XXXX.pt``, or None for another name."""
    match = re.fullmatch(r"epoch_(\d+)\.pt", checkpoint.name)
    return int(match[1]) if match else None


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
        return f"RunHandle({self.key!r}, {self.state}, {self.dir})"

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
    def checksums_path(self) -> Path:
        return self.dir / CHECKSUMS

    @property
    def lock_path(self) -> Path:
        """``<root>/.<key>.lock``: outside the run's folder, so taking it creates no folder."""
        return self.dir.parent / f".{self.key}.lock"

    @property
    def exists(self) -> bool:
        return self.config_path.is_file()

    @property
    def is_complete(self) -> bool:
        """True once ``COMPLETE`` is written and ``final.pt`` matches its recorded size and checksum.

        Raises:
            DamagedFileError: if ``COMPLETE`` is there but ``final.pt`` is missing or damaged.
        """
        if not (self.dir / COMPLETE_MARKER).is_file():
            return False
        self.verify(self.final_path, self._final_recovery())
        return True

    @property
    def state(self) -> str:
        """One of ``STATES``: ``interrupted`` is a run whose provenance says running but whose lock
        is free (its process was killed); ``damaged`` a run whose files fail their records."""
        if not self.exists:
            return "absent"
        try:
            if self.is_complete:
                return "complete"
            status = self.provenance().get("status") if self.provenance_path.is_file() else None
        except DamagedFileError:
            return "damaged"
        if status == "running":
            return "running" if self.lock_is_held() else "interrupted"
        return "failed" if status == "failed" else "partial"

    def lock_is_held(self) -> bool:
        """True while some process holds the run's lock (trains it)."""
        if not self.lock_path.is_file():
            return False
        probe = FileLock(str(self.lock_path), timeout=0)
        try:
            probe.acquire()
        except Timeout:
            return True
        probe.release()
        return False

    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoint_dir / f"epoch_{epoch:04d}.pt"

    def resume_path(self, epoch: int) -> Path:
        """``checkpoints/resume_XXXX.pt``: the resume-only part of the checkpoint of ``epoch``."""
        return self.checkpoint_dir / f"resume_{epoch:04d}.pt"

    @contextmanager
    def lock(self, timeout: float = -1) -> Iterator[None]:
        """Hold the run's file lock (two processes never train the same config at once)."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.lock_path), timeout=timeout):
            yield

    # ---------------------------------------------------------------- writing
    def begin(self, config: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Start (or resume) the run: write ``config.json`` unless present, and a ``running`` provenance.

        A resumed run keeps the ``config.json`` of its first attempt (fields that are not
        hashed, like the number of workers, may differ between attempts; each attempt's device
        and commit are listed under ``attempts``, an attempt that was killed is marked
        ``interrupted``). Call it holding the run's lock: it removes temporary files that
        killed writers left.
        """
        self._remove_stale_temporaries()
        if not self.exists:
            atomic_write_json(self.config_path, json.loads(json.dumps(dict(config), default=str)))
        previous = self.provenance() if self.provenance_path.is_file() else {}
        started = previous.get("started", _now())
        attempt = {"started": _now(), **{k: provenance[k] for k in ("device", "git_commit") if k in provenance}}
        attempts = previous.get("attempts", [])
        if previous.get("status") == "running" and attempts:  # its process died without a word
            attempts[-1] = {**attempts[-1], "status": "interrupted"}
        attempts = attempts + [attempt]
        atomic_write_json(
            self.provenance_path, {**provenance, "status": "running", "started": started, "attempts": attempts}
        )

    def save_checkpoint(self, epoch: int, state: Mapping[str, Any], resume_keys: tuple[str, ...] = ()) -> Path:
        """Write ``checkpoints/epoch_XXXX.pt`` atomically (tensors, numbers, strings, dicts, lists).

        Args:
            epoch: the epoch the state ends.
            state: what to save.
            resume_keys: the entries of ``state`` that only resuming needs (an optimiser's state).
                They go to ``checkpoints/resume_XXXX.pt`` beside it, which ``finish`` removes: a
                complete run is never resumed, and its checkpoints serve as weights only.
        """
        path = self.checkpoint_path(epoch)
        kept = {k: v for k, v in state.items() if k not in resume_keys}
        resume = {k: v for k, v in state.items() if k in resume_keys}
        if resume:
            resume_path = self.resume_path(epoch)
            atomic_write_with(resume_path, lambda handle: torch.save(resume, handle))
            self._record(resume_path)
        atomic_write_with(path, lambda handle: torch.save(kept, handle))
        self._record(path)
        log.info("checkpoint %s", path)
        return path

    def write_log(self, rows: pd.DataFrame) -> None:
        """Replace ``log.csv`` atomically with ``rows``."""
        atomic_write_text(self.log_path, rows.to_csv(index=False))

    def finish(self, final_state: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
        """Write ``final.pt`` and its checksum, the finished provenance, then the ``COMPLETE`` marker; then drop
        the checkpoints' resume files (a complete run is never resumed)."""
        atomic_write_with(self.final_path, lambda handle: torch.save(dict(final_state), handle))
        self._record(self.final_path)
        previous = self.provenance() if self.provenance_path.is_file() else {}
        atomic_write_json(self.provenance_path, {**previous, **provenance, "status": "complete", "ended": _now()})
        atomic_write_text(self.dir / COMPLETE_MARKER, _now() + "\n")
        self._drop_resume_states()

    def abandon(self, error: BaseException) -> None:
        """Clean up after a failed attempt (rank 0, holding the lock): remove the folder when the
        run has nothing to resume from, else record the failure (``status``, ``error``) in its
        provenance. An interrupt (Ctrl-C) is recorded as ``interrupted``."""
        if (self.dir / COMPLETE_MARKER).is_file():
            return
        self._remove_stale_temporaries()
        if not self.checkpoints():
            shutil.rmtree(self.dir, ignore_errors=True)
            log.info("run %s failed before its first checkpoint; removed %s", self.key, self.dir)
            return
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        previous = self.provenance() if self.provenance_path.is_file() else {}
        atomic_write_json(
            self.provenance_path,
            {**previous, "status": status, "ended": _now(), "error": f"{type(error).__name__}: {error}"[:2000]},
        )

    @contextmanager
    def failure_recorded(self, active: bool = True) -> Iterator[None]:
        """Run the body; if it raises, ``abandon`` the run (when ``active``, i.e. on rank 0) and re-raise."""
        try:
            yield
        except BaseException as error:
            if active:
                self.abandon(error)
            raise

    def _drop_resume_states(self) -> None:
        """Remove a complete run's ``resume_XXXX.pt`` files, their records first (a process killed in
        between leaves an unrecorded file, loaded unchecked, never a record without its file)."""
        found = sorted(self.checkpoint_dir.glob("resume_*.pt"))
        records = self.checksums()
        kept = {name: record for name, record in records.items() if not name.startswith("checkpoints/resume_")}
        if len(kept) < len(records):
            atomic_write_json(self.checksums_path, kept)
        for path in found:
            path.unlink(missing_ok=True)

    def _record(self, path: Path) -> None:
        """Write ``path``'s size and sha256 into ``checksums.json``."""
        records = self.checksums()
        records[path.relative_to(self.dir).as_posix()] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
        atomic_write_json(self.checksums_path, records)

    def _remove_stale_temporaries(self) -> None:
        for folder in (self.dir, self.checkpoint_dir):
            for tmp in remove_stale_temporaries(folder):
                log.info("removed %s, left by a writer that was killed", tmp)

    # ---------------------------------------------------------------- reading
    def config(self) -> dict[str, Any]:
        """The run's config as stored.

        Raises:
            DamagedFileError: if ``config.json`` is not valid JSON.
        """
        return read_json(
            self.config_path, f"move the folder {self.dir} away; asking for the run again trains it from the start"
        )

    def provenance(self) -> dict[str, Any]:
        """Seed, commit, versions, device, times and status of the run.

        Raises:
            DamagedFileError: if ``provenance.json`` is not valid JSON.
        """
        return read_json(
            self.provenance_path,
            "delete it; the run's next attempt writes a new one (the record of earlier attempts is lost)",
        )

    def checksums(self) -> dict[str, dict[str, Any]]:
        """``{file relative to the run folder: {"bytes": size, "sha256": hex}}`` (empty when none recorded).

        Raises:
            DamagedFileError: if ``checksums.json`` is not valid JSON.
        """
        if not self.checksums_path.is_file():
            return {}
        return read_json(self.checksums_path, "delete it; the run's files are then loaded without a check")

    def verify(self, path: Path, recovery: str) -> None:
        """Check that ``path`` exists and matches the size and sha256 recorded for it (files written
        before checksums were recorded are only checked for existence).

        Raises:
            DamagedFileError: naming the file, what is wrong and ``recovery``.
        """
        if not path.is_file():
            raise DamagedFileError(path, "it is missing", recovery)
        record = self.checksums().get(path.relative_to(self.dir).as_posix())
        if record is None:
            return
        stat = path.stat()
        if stat.st_size != record["bytes"]:
            raise DamagedFileError(
                path,
                f"truncated or overwritten: {stat.st_size} bytes, the run's record "
                f"({self.checksums_path.name}) says {record['bytes']}",
                recovery,
            )
        seen = (stat.st_size, stat.st_mtime_ns, record["sha256"])
        if _VERIFIED.get(str(path)) == seen:
            return
        if file_digest(path) != record["sha256"]:
            raise DamagedFileError(path, f"its sha256 differs from the one in {self.checksums_path.name}", recovery)
        _VERIFIED[str(path)] = seen

    def read_log(self) -> pd.DataFrame:
        """The per-epoch log table (empty when nothing was logged yet).

        Raises:
            DamagedFileError: if ``log.csv`` does not parse.
        """
        if not self.log_path.is_file():
            return pd.DataFrame()
        try:
            return pd.read_csv(self.log_path)
        except (ValueError, UnicodeDecodeError) as err:  # pandas' parser errors are ValueErrors
            raise DamagedFileError(
                self.log_path,
                f"not a log table ({err})",
                "delete it; a resumed run writes it again, a complete run's per-epoch log is lost",
            ) from None

    def checkpoints(self) -> dict[int, Path]:
        """Epoch -> checkpoint path, sorted by epoch (temporary files are ignored)."""
        found = {}
        for path in self.checkpoint_dir.glob("epoch_*.pt"):
            if (epoch := _epoch_of(path)) is not None:
                found[epoch] = path
        return dict(sorted(found.items()))

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint of the highest epoch, or None."""
        found = self.checkpoints()
        return found[max(found)] if found else None

    @staticmethod
    def load(path: str | os.PathLike, recovery: str = "delete it and train its run again") -> dict[str, Any]:
        """``torch.load(path, weights_only=True)`` onto the CPU.

        Raises:
            pickle.UnpicklingError: if the file holds objects other than tensors and plain data.
            DamagedFileError: if it cannot be read (truncated, not a torch file).
        """
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except _LOAD_ERRORS as err:
            if isinstance(err, pickle.UnpicklingError) and "weights only load failed" in str(err).lower():
                raise
            raise DamagedFileError(path, f"torch cannot read it ({_first_line(err)})", recovery) from None

    def load_checkpoint(self, epoch: int | None = None) -> dict[str, Any]:
        """The checkpoint of ``epoch`` (None: the latest), checked against its record.

        Raises:
            FileNotFoundError: when there is no such checkpoint (the message lists those present).
            DamagedFileError: when it is truncated or does not load.
        """
        found = self.checkpoints()
        if epoch is None and found:
            epoch = max(found)
        if epoch not in found:
            raise FileNotFoundError(f"run {self.key} has no checkpoint of epoch {epoch}; has: {list(found)}")
        return self.load_checkpoint_file(found[epoch])

    def load_checkpoint_file(self, path: Path, resumable: bool = False) -> dict[str, Any]:
        """The checkpoint at ``path`` (one of ``checkpoints()``), checked against its record.

        Args:
            path: the checkpoint.
            resumable: also load its ``resume_XXXX.pt`` (what ``save_checkpoint`` split off) into
                the result, when the run has one (a complete run has none; a checkpoint written
                before the split holds everything itself).

        Raises:
            DamagedFileError: when it, or its recorded resume file, is missing, truncated or does not load.
        """
        recovery = (
            f"delete it; resuming {self.dir} then starts from the previous checkpoint and trains this epoch again "
            "(a complete run, which keeps no optimiser state, trains again from epoch 1)"
        )
        self.verify(path, recovery)
        state = self.load(path, recovery)
        epoch = _epoch_of(path)
        resume_path = self.resume_path(epoch) if resumable and epoch is not None else None
        if resume_path is not None and (resume_path.is_file() or self._is_recorded(resume_path)):
            self.verify(resume_path, recovery)
            state |= self.load(resume_path, recovery)
        return state

    def _is_recorded(self, path: Path) -> bool:
        return path.relative_to(self.dir).as_posix() in self.checksums()

    def latest_good_checkpoint(
        self, accept: Callable[[Mapping[str, Any]], bool] | None = None
    ) -> tuple[Path, dict[str, Any]] | None:
        """The newest checkpoint that passes its record, loads and is accepted, with what resuming needs, or None.

        A damaged checkpoint (or resume file) is skipped with a warning naming it; the one before it is tried.

        Args:
            accept: a test of a loaded checkpoint (None: any); the ones it rejects are skipped too (a trainer
                rejects a complete run's checkpoints, whose resume files were dropped, short of its last epoch).
        """
        for _, path in sorted(self.checkpoints().items(), reverse=True):
            try:
                state = self.load_checkpoint_file(path, resumable=True)
            except DamagedFileError as err:
                log.warning("%s; trying the checkpoint before it", err)
                continue
            if accept is None or accept(state):
                return path, state
            log.info("%s cannot be resumed from; trying the checkpoint before it", path)
        return None

    def load_final(self) -> dict[str, Any]:
        """The contents of ``final.pt``, checked against its record.

        Raises:
            FileNotFoundError: if the run is not complete.
            DamagedFileError: if ``final.pt`` is missing, truncated or does not load.
        """
        if not self.is_complete:
            raise FileNotFoundError(f"run {self.key} in {self.dir} is not complete")
        return self.load(self.final_path, self._final_recovery())

    def _final_recovery(self) -> str:
        return (
            f"delete {self.dir / COMPLETE_MARKER} and ask for the run again: it writes final.pt anew from its "
            "checkpoint of the last epoch, or, without one, trains again from epoch 1 (a complete run keeps no "
            f"optimiser state); or move the folder {self.dir} away to train it from the start"
        )

    def load_backbone(self, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The backbone's state dict: of the finished run, or of the checkpoint of ``epoch``.

        Raises:
            FileNotFoundError: if the run is not complete, or has no checkpoint of ``epoch``.
        """
        if epoch is None:
            return self.load_final()["backbone"]
        model = self.load_checkpoint(epoch)["model"]
        return {k[len(BACKBONE_PREFIX) :]: v for k, v in model.items() if k.startswith(BACKBONE_PREFIX)}


class RunStore:
    """Finished and partial runs under one root, each found by its config hash.

    Args:
        root: folder of the store; default ``default_runs_root()`` (``<data dir>/runs``).
        read_only: hand out complete runs only: asking ``run`` for one that is not complete
            raises ``NotCachedError`` (training asks for a handle before it trains, so nothing
            is trained; complete runs read as usual).
    """

    def __init__(self, root: str | os.PathLike | None = None, read_only: bool = False) -> None:
        self.root = Path(root) if root is not None else default_runs_root()
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r}{', read_only=True' if self.read_only else ''})"

    def run(self, config: HashedConfig | str) -> RunHandle:
        """The handle of the run of ``config`` (or of a hash), whether it exists or not.

        Raises:
            NotCachedError: in a read-only store, for a run that is not complete.
        """
        handle = RunHandle(self.root, _key_of(config))
        if self.read_only and not handle.is_complete:
            raise NotCachedError(f"run {handle.key} is not complete in {self.root}")
        return handle

    def find(self, config: HashedConfig | str) -> RunHandle | None:
        """The complete run of ``config`` (or of a hash), or None when it was never finished.

        Raises:
            DamagedFileError: if the run is marked complete but its ``final.pt`` fails its record.
        """
        handle = RunHandle(self.root, _key_of(config))
        return handle if handle.is_complete else None

    def latest_checkpoint(self, config: HashedConfig | str) -> Path | None:
        """The latest checkpoint of the run of ``config``, complete or not, or None."""
        return self.run(config).latest_checkpoint()

    def load_backbone(self, config: HashedConfig | str, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The backbone state dict of the run of ``config`` (final, or at ``epoch``); see ``RunHandle``."""
        return self.run(config).load_backbone(epoch)

    def runs(self, complete_only: bool = True) -> list[RunHandle]:
        """Handles of the stored runs, sorted by key (with ``complete_only``, those whose state is complete)."""
        if not self.root.is_dir():
            return []
        handles = [
            RunHandle(self.root, p.name)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.name.startswith(".")
        ]
        return [h for h in handles if h.exists and (not complete_only or h.state == "complete")]

    def table(self, complete_only: bool = True) -> pd.DataFrame:
        """One row per run: hash, complete flag, state (``STATES``), the config's fields and the wall time.

        Raises:
            DamagedFileError: if a listed run's ``config.json`` or ``provenance.json`` is damaged.
        """
        rows = []
        for handle in self.runs(complete_only):
            state = handle.state
            prov = handle.provenance() if handle.provenance_path.is_file() and state != "damaged" else {}
            rows.append(
                {
                    "run": handle.key,
                    "complete": state == "complete",
                    "state": state,
                    **handle.config(),
                    "wall_seconds": prov.get("wall_seconds"),
                }
            )
        return pd.DataFrame(rows)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
