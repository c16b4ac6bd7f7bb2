"""Videos of random frames, for measuring the data path and the cost of tasks without a dataset.

* :func:`build_synthetic_cache` writes a decoded-clip cache (the format of
  ``sslvid.data.cache``: one uint8 memmap, ``index.npz``, ``meta.json``) filled with random
  frames, so training reads it exactly as it reads a cache of real videos: at paper scale
  128x171 frames without a single Kinetics video on the machine.
* :class:`RandomFrames` is the same in memory (a ``FrameSource``), for tiny measurements.
* :func:`synthetic_index` is the ``VideoIndex`` of such videos (labels cycle over classes).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sslvid.data.cache import ClipCache
from sslvid.data.records import VideoIndex, VideoRecord
from sslvid.io import atomic_write_json, atomic_write_with

log = logging.getLogger(__name__)

SYNTHETIC = "synthetic"


def synthetic_index(videos: int, classes: int = 10, root: str | os.PathLike = "/synthetic") -> VideoIndex:
    """An index of ``videos`` made-up videos, labels ``i % classes`` (no files exist).

    Raises:
        ValueError: for fewer than one video or class.
    """
    if videos < 1 or classes < 1:
        raise ValueError(f"need at least one video and one class, got videos={videos}, classes={classes}")
    records = tuple(VideoRecord(Path(root) / f"v{i:06d}.mp4", i % classes, f"v{i:06d}") for i in range(videos))
    return VideoIndex(SYNTHETIC, Path(root), "train", 1, tuple(f"class{c}" for c in range(classes)), records)


class RandomFrames:
    """An in-memory ``FrameSource`` of ``videos`` videos of ``frames`` random uint8 frames (H, W, 3).

    Every video shares one random block of frames (memory stays at one video's size).

    Args:
        videos: number of videos. frames: frames per video. size: (H, W). seed: the frames' seed.
    """

    def __init__(self, videos: int, frames: int, size: tuple[int, int], seed: int = 0) -> None:
        self.videos, self.frames = videos, frames
        self.block = np.random.default_rng(seed).integers(0, 256, (frames, *size, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return self.videos

    def num_frames(self, i: int) -> int:
        return self.frames

    def read(self, i: int, frame_indices: np.ndarray) -> np.ndarray:
        """Frames ``frame_indices`` of video ``i``: uint8 (T, H, W, 3)."""
        return self.block[np.asarray(frame_indices, dtype=np.int64)]


def build_synthetic_cache(
    root: str | os.PathLike,
    videos: int,
    frames: int,
    size: Sequence[int] = (128, 171),
    classes: int = 10,
    seed: int = 0,
    chunk_frames: int = 1024,
) -> ClipCache:
    """A clip cache of ``videos`` videos of ``frames`` random frames each at ``size``; reused if present.

    Args:
        root: folder holding caches; the cache is ``<root>/synthetic-<videos>x<frames>-<H>x<W>-s<seed>``.
        videos: number of videos. frames: frames per video. size: (H, W) of the frames.
        classes: labels cycle over this many classes.
        seed: seed of the random frames.
        chunk_frames: frames generated and written at a time (bounds the memory used).

    Returns:
        the opened cache (``cache.index`` is its ``VideoIndex``).

    Raises:
        ValueError: for non-positive sizes.
    """
    height, width = int(size[0]), int(size[1])
    if min(videos, frames, height, width, chunk_frames) < 1:
        raise ValueError(
            f"videos, frames, size and chunk_frames must be positive, got "
            f"{videos}, {frames}, {(height, width)}, {chunk_frames}"
        )
    final = Path(root) / f"{SYNTHETIC}-{videos}x{frames}-{height}x{width}-s{seed}"
    if (final / "meta.json").is_file():
        return ClipCache(final)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write(tmp, synthetic_index(videos, classes), frames, (height, width), seed, chunk_frames)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("synthetic cache: %d videos x %d frames at %dx%d in %s", videos, frames, height, width, final)
    return ClipCache(final)


def _write(folder: Path, index: VideoIndex, frames: int, size: tuple[int, int], seed: int, chunk: int) -> None:
    """Write frames, index then meta (last) in the layout ``ClipCache`` reads."""
    n, total = len(index), len(index) * frames
    rng = np.random.default_rng(seed)
    with open(folder / "frames.u8", "wb") as handle:
        for start in range(0, total, chunk):
            handle.write(rng.integers(0, 256, (min(chunk, total - start), *size, 3), dtype=np.uint8).tobytes())
    arrays = {
        "offset": np.arange(n, dtype=np.int64) * frames,
        "num_frames": np.full(n, frames, np.int64),
        "ok": np.ones(n, bool),
        "source_frames": np.full(n, frames, np.int64),
        "source_start": np.zeros(n, np.int64),
        "fps": np.full(n, 25.0),
    }
    # numpy's stubs type savez's keyword arrays as its allow_pickle flag
    atomic_write_with(folder / "index.npz", lambda h: np.savez(h, **arrays))  # type: ignore[arg-type]
    meta = {
        "version": 1,
        "key": f"{SYNTHETIC}-s{seed}",
        "dataset": index.dataset,
        "root": str(index.root),
        "split": index.split,
        "fold": index.fold,
        "classes": list(index.classes),
        "frame_size": list(size),
        "max_frames": None,
        "total_frames": total,
        "num_videos": n,
        "records": [{"path": str(r.path), "label": r.label, "video_id": r.video_id} for r in index.records],
        "errors": {},
        "prepare_seconds": 0.0,
    }
    atomic_write_json(folder / "meta.json", json.loads(json.dumps(meta)))
