"""A dataset's fingerprint: the videos a run reads, named by their content, not by where they lie.

Two datasets with the same layout name (two ``folder`` datasets, two copies of UCF101 that
differ, a re-extracted Kinetics) must not share runs; a copy of the same data moved elsewhere
must. The fingerprint of one split is 16 hex digits of SHA-256 over the layout name, split,
fold, class list and, per video, its path relative to the root, label, id and file size. No
absolute path and no modification time enters it, so a copy hashes the same wherever it lies.

Computing it lists the split (reads its annotation files, checks that every video exists) and
stats every video: a few seconds for Kinetics-400. It is therefore remembered in
``<cache dir>/fingerprints/<key>.json``, keyed by layout, absolute root, split and fold, beside a
*stamp* of the root: the modification times of the root and of its folders two levels down,
and size and time of the files there that are not videos (annotation and split files). Adding,
removing or renaming a video changes its folder's time and so the stamp. A video rewritten in
place under the same name does not: a run that opens the split compares its content with the
fingerprint its config was hashed with (``check_unchanged``) and stops, forgetting the stale
value, rather than file its result under the old data's name; ``forget(root)`` does the same by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from sslvid.data.layouts import VIDEO_EXTENSIONS, load_index
from sslvid.data.records import VideoIndex
from sslvid.io import atomic_write_json
from sslvid.paths import cache_dir

log = logging.getLogger(__name__)

FINGERPRINT_VERSION = 1
STAMP_DEPTH = 2


def _digest(values: Any) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class DatasetChangedError(ValueError):
    """The videos of a split changed after a config's hash named them (a video rewritten in place)."""


def index_fingerprint(index: VideoIndex) -> str:
    """16 hex digits naming a split's content: layout, split, fold, classes and each video's
    path relative to ``index.root``, label, id and size in bytes (-1 when unreadable)."""
    root = Path(index.root)
    videos = [[os.path.relpath(r.path, root), r.label, r.video_id, _size(r.path)] for r in index.records]
    return _digest(
        {
            "version": FINGERPRINT_VERSION,
            "layout": index.dataset,
            "split": index.split,
            "fold": index.fold,
            "classes": list(index.classes),
            "videos": videos,
        }
    )


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def root_stamp(root: str | os.PathLike, depth: int = STAMP_DEPTH) -> str:
    """16 hex digits that change when a folder or annotation file under ``root`` changes (module docstring).

    Covers the modification time of ``root`` and of every folder down to ``depth`` levels, and
    size and modification time of every file there that is not a video; folders below
    ``depth`` and the videos themselves are not visited.
    """
    root = Path(root)
    entries: list[list[Any]] = [[".", os.stat(root).st_mtime_ns]]
    _stamp_folder(root, root, depth, entries)
    return _digest(entries)


def _stamp_folder(folder: Path, root: Path, depth: int, entries: list[list[Any]]) -> None:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        rel = os.path.relpath(entry.path, root)
        if entry.is_dir():
            entries.append([rel, entry.stat().st_mtime_ns])
            if depth > 1:
                _stamp_folder(Path(entry.path), root, depth - 1, entries)
        elif Path(entry.name).suffix.lower() not in VIDEO_EXTENSIONS:
            stat = entry.stat()
            entries.append([rel, stat.st_size, stat.st_mtime_ns])


def _memo_path(layout: str, root: Path, split: str, fold: int) -> Path:
    return cache_dir() / "fingerprints" / f"{_digest([layout, str(root), split, fold])}.json"


def split_fingerprint(layout: str, root: str | os.PathLike, split: str, fold: int = 1) -> str:
    """The fingerprint of one split of the dataset in ``layout`` under ``root``, remembered on disk.

    The first call lists the split and stats its videos (``index_fingerprint``); later calls
    return the remembered value while ``root_stamp(root)`` is unchanged.

    Args:
        layout: a layout name of ``sslvid.data.layouts`` (``folder``, ``ucf101``...).
        root: the dataset's root folder.
        split: "train", "val" or "test". fold: official split number.

    Returns:
        16 hex digits.

    Raises:
        DatasetLayoutError: when the root, an annotation file or a video is missing.
        ValueError: for an unknown layout, split or fold.
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        load_index(layout, root, split=split, fold=fold)  # raises the layout's error, which names the root
    memo = _memo_path(layout, root, split, fold)
    stamp = root_stamp(root)
    remembered = _read_memo(memo)
    if remembered.get("stamp") == stamp and remembered.get("version") == FINGERPRINT_VERSION:
        return remembered["fingerprint"]
    start = time.perf_counter()
    index = load_index(layout, root, split=split, fold=fold)
    fingerprint = index_fingerprint(index)
    seconds = round(time.perf_counter() - start, 3)
    _remember(
        memo,
        {
            "version": FINGERPRINT_VERSION,
            "layout": layout,
            "root": str(root),
            "split": split,
            "fold": fold,
            "stamp": stamp,
            "fingerprint": fingerprint,
            "videos": len(index),
            "seconds": seconds,
        },
    )
    log.info(
        "fingerprint of %s %s/%s%d: %s (%d videos, %.1f s)", layout, root, split, fold, fingerprint, len(index), seconds
    )
    return fingerprint


def _remember(path: Path, entry: dict[str, Any]) -> None:
    """Write a memo entry; a cache folder that cannot be written costs time, not correctness."""
    try:
        atomic_write_json(path, entry)
    except OSError as err:
        log.warning("fingerprint: cannot remember it in %s (%s); it will be computed again", path, err)


def _read_memo(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def check_unchanged(index: VideoIndex, expected: str) -> None:
    """Check that ``index`` holds the videos a config's hash named (``expected``, its split's fingerprint).

    Costs one stat per video, as the clip cache's key does, so runs call it when they open a split.

    Raises:
        DatasetChangedError: when the content differs; the remembered fingerprints of the root are
            dropped first, so the config built again names the data as it is now.
    """
    actual = index_fingerprint(index)
    if actual == expected:
        return
    forget(index.root)
    raise DatasetChangedError(
        f"the videos of {index.dataset}/{index.split} under {index.root} changed after this config's hash was "
        f"computed (fingerprint {expected}, now {actual}; a video rewritten in place?). The remembered fingerprint "
        "is dropped: build the config again (or run the command again) so that its hash names the data as it is."
    )


def forget(root: str | os.PathLike) -> int:
    """Drop every remembered fingerprint of the dataset under ``root``; return how many were dropped.

    Needed only after a video was rewritten in place under the same name (module docstring).
    """
    root = str(Path(root).expanduser().absolute())
    dropped = 0
    for path in (cache_dir() / "fingerprints").glob("*.json"):
        if _read_memo(path).get("root") == root:
            path.unlink(missing_ok=True)
            dropped += 1
    return dropped
