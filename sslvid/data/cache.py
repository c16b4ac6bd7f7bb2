"""The decoded-clip cache: every video of an index decoded once into resized frames.

Decoding is the known bottleneck of video SSL: users of RSPNet (Chen et al., 2021) and
VideoMAE (Tong et al., 2022) report idle GPUs waiting on the decoder. A prepare step decodes
each video once, resizes its frames to exactly ``frame_size`` (128x171 at paper scale, as C3D,
Tran et al. 2015, VCOP, Xu et al. 2019, and PRP, Yao et al. 2020, do) and stores all frames in
one file; training then reads clips by index without decoding the videos. A cache is keyed by
the index, the frame size, ``max_frames``, the storage format and each file's size and
modification time.

Two storage formats, one code path (``CACHE_FORMATS``):

* ``"uint8"``: raw frames in one memmap, exact and the fastest to read; 65.7 kB per 128x171
  frame, so K400-50k at 250 frames per video takes about 821 GB. Right for micro scale.
* ``"jpeg"``: each frame a baseline JPEG (quality ``JPEG_QUALITY``, 4:2:0 chroma), decoded on
  read by Pillow's libjpeg-turbo in the loader workers: about 8% of the uint8 size at 128x171
  and a PSNR of about 37 dB against the uint8 frames (``benchmarks/clip_cache_formats.py``
  measures both, and clips per second per core). Each frame carries a CRC-32, so a damaged
  entry raises ``VideoDecodeError`` (counted as an unreadable video) instead of giving noise.

On disk (``<cache_root>/<dataset>-<split><fold>-<H>x<W>[-<max_frames>f][-jpeg]-<hash>/``)::

    frames.u8    (uint8) all frames of all videos, concatenated: uint8 (N_frames, H, W, 3), C order
    frames.jpg   (jpeg) the JPEG files of all frames of all videos, concatenated
    index.npz    per video: offset, num_frames, ok, source_frames, source_start, fps; for jpeg
                 also per frame: byte_offset (N_frames + 1,) into frames.jpg and crc32 (N_frames,)
    meta.json    the key, format, sizes, records (path, label, video_id) and errors of failed videos

The folder is built under a temporary name and renamed when complete, so an interrupted
prepare never leaves a cache that looks complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from PIL import Image

from sslvid.data.decode import VideoDecodeError, probe, read_frames
from sslvid.data.records import VideoIndex, VideoRecord
from sslvid.errors import DataError, failure_hint
from sslvid.io import atomic_write_json, atomic_write_with

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_INDEX, _META = "index.npz", "meta.json"
CACHE_FORMATS = ("uint8", "jpeg")
"""Storage formats of the frames (module docstring); "uint8" is exact, "jpeg" about 13x smaller."""
_FRAME_FILES = {"uint8": "frames.u8", "jpeg": "frames.jpg"}
JPEG_QUALITY = 85
"""Quality of the cached JPEG frames (4:2:0 chroma): about 37 dB PSNR at 128x171."""


class CacheBuildError(DataError):
    """Too many videos of an index could not be decoded while preparing a cache."""


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize frames to exactly ``size`` with PIL's antialiased bilinear filter.

    (The same filter as torchvision's ``Resize(antialias=True)``.)

    Args:
        frames: uint8 (T, H0, W0, 3).
        size: (H, W) of the output.

    Returns:
        uint8 (T, H, W, 3); ``frames`` itself when it already has that size.
    """
    height, width = size
    if frames.shape[1:3] == (height, width):
        return frames
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for t, frame in enumerate(frames):
        out[t] = np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR))
    return out


def check_cache_format(cache_format: str) -> str:
    """``cache_format`` itself when it names a storage format.

    Raises:
        ValueError: for an unknown format, listing the valid ones.
    """
    if cache_format not in CACHE_FORMATS:
        raise ValueError(f"unknown cache_format {cache_format!r}; valid: {', '.join(CACHE_FORMATS)}")
    return cache_format


def encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """One frame as a baseline JPEG file with 4:2:0 chroma (what the "jpeg" cache stores).

    Args:
        frame: uint8 (H, W, 3) RGB.
        quality: libjpeg quality, 1-95.
    """
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality, subsampling=2)
    return buffer.getvalue()


def decode_jpeg(data: bytes | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The RGB frame of one cached JPEG file.

    Args:
        data: the file's bytes.
        size: (H, W) the frame must have.

    Returns:
        uint8 (H, W, 3).

    Raises:
        VideoDecodeError: when the bytes are not a JPEG of that size (truncated or damaged).
    """
    try:
        # an ndarray is a buffer; numpy's type stubs declare it one only from Python 3.12
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:  # type: ignore[arg-type]
            frame = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:  # Pillow's ways of saying "not a valid image"
        raise VideoDecodeError(f"damaged cached JPEG frame: {err}") from None
    if frame.shape[:2] != tuple(size):
        raise VideoDecodeError(f"damaged cached JPEG frame: {frame.shape[1]}x{frame.shape[0]}, not {size[1]}x{size[0]}")
    return frame


# ----------------------------------------------------------------------------- the cache


class ClipCache:
    """Read-only access to a prepared cache (``prepare_cache``); positions follow the index's records.

    Picklable and safe in DataLoader workers: the memmap opens lazily in each process and is
    not pickled. Implements the ``FrameSource`` protocol of ``sslvid.data.dataset``. Reads
    either storage format (``format``); caches written before formats existed are uint8.

    Args:
        path: the cache folder.

    Raises:
        FileNotFoundError: if ``path`` is not a complete cache.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not (self.path / _META).is_file():
            raise FileNotFoundError(f"{self.path} is not a complete clip cache (no {_META})")
        self.meta: dict[str, Any] = json.loads((self.path / _META).read_text())
        with np.load(self.path / _INDEX) as arrays:
            self._arrays = {k: arrays[k] for k in arrays.files}
        self._frames: np.ndarray | None = None

    @classmethod
    def open(cls, path: str | os.PathLike) -> ClipCache:
        """Open an existing cache folder."""
        return cls(path)

    def __len__(self) -> int:
        return len(self._arrays["offset"])

    def __repr__(self) -> str:
        return (
            f"ClipCache({self.path.name}: {len(self)} videos, {self.total_frames} {self.format} frames "
            f"of {self.frame_size[0]}x{self.frame_size[1]}, {len(self.failed)} failed)"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_frames"] = None  # each process maps the file itself
        return state

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the cached frames."""
        return tuple(self.meta["frame_size"])

    @property
    def total_frames(self) -> int:
        return int(self.meta["total_frames"])

    @property
    def format(self) -> str:
        """Storage format of the frames, one of ``CACHE_FORMATS``."""
        return self.meta.get("format", "uint8")

    @property
    def nbytes(self) -> int:
        """Size of the frames file on disk, in bytes."""
        return (self.path / _FRAME_FILES[self.format]).stat().st_size if self.total_frames else 0

    @property
    def video_ids(self) -> tuple[str, ...]:
        """``video_id`` of each position, as in the ``VideoIndex`` the cache was built from."""
        return tuple(r["video_id"] for r in self.meta["records"])

    @property
    def index(self) -> VideoIndex:
        """The ``VideoIndex`` the cache was built from."""
        m = self.meta
        records = tuple(VideoRecord(Path(r["path"]), r["label"], r["video_id"]) for r in m["records"])
        return VideoIndex(m["dataset"], Path(m["root"]), m["split"], m["fold"], tuple(m["classes"]), records)

    @property
    def failed(self) -> np.ndarray:
        """Positions of the videos that could not be decoded, int64 (F,)."""
        return np.flatnonzero(~self._arrays["ok"])

    @property
    def errors(self) -> dict[int, str]:
        """Position -> error message of each failed video."""
        return {int(k): v for k, v in self.meta["errors"].items()}

    def num_frames(self, i: int) -> int:
        """Frames cached for video ``i`` (0 for a failed video)."""
        return int(self._arrays["num_frames"][i])

    def fps(self, i: int) -> float:
        """Frame rate of video ``i``'s source file (0.0 when unknown or failed)."""
        return float(self._arrays["fps"][i])

    def source_start(self, i: int) -> int:
        """Source frame number of cached frame 0 of video ``i`` (non-zero only under ``max_frames``)."""
        return int(self._arrays["source_start"][i])

    def _memmap(self) -> np.ndarray:
        """uint8 (N_frames, H, W, 3) frames, or the bytes (N_bytes,) of the JPEG files."""
        if self._frames is None:
            path = self.path / _FRAME_FILES[self.format]
            if self.total_frames == 0:
                self._frames = np.zeros((0, *self.frame_size, 3) if self.format == "uint8" else 0, np.uint8)
            elif self.format == "uint8":
                shape = (self.total_frames, *self.frame_size, 3)
                self._frames = np.memmap(path, np.uint8, mode="r", shape=shape)
            else:  # the file's own length: a truncated file fails its checksums, not the opening
                self._frames = np.memmap(path, np.uint8, mode="r")
        return self._frames

    def _decode_jpeg_frames(self, i: int, frames: np.ndarray) -> np.ndarray:
        """Decode cache-wide frame numbers ``frames`` of video ``i`` after checking their CRC-32."""
        data, starts, crcs = self._memmap(), self._arrays["byte_offset"], self._arrays["crc32"]
        out = np.empty((len(frames), *self.frame_size, 3), np.uint8)
        for row, frame in enumerate(frames):
            blob = data[starts[frame] : starts[frame + 1]]
            if zlib.crc32(blob) != crcs[frame]:  # type: ignore[arg-type]  # an ndarray is a buffer (see above)
                raise VideoDecodeError(
                    f"{self.meta['records'][i]['path']}: cached JPEG frame {frame} of "
                    f"{self.path / _FRAME_FILES['jpeg']} is damaged (checksum mismatch); "
                    "delete the cache folder to rebuild it"
                )
            out[row] = decode_jpeg(blob, self.frame_size)
        return out

    def read(self, i: int, frame_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Frames ``frame_indices`` of video ``i`` (all when None), in the order given.

        Returns:
            uint8 (T, H, W, 3), a copy (safe to modify).

        Raises:
            IndexError: for a position outside the cache.
            VideoDecodeError: if video ``i`` failed to decode when the cache was prepared, or
                (jpeg) one of its wanted frames is damaged on disk.
            ValueError: for frame indices outside ``[0, num_frames(i))``.
        """
        if not -len(self) <= i < len(self):
            raise IndexError(f"video {i} out of range for a cache of {len(self)} videos")
        if not self._arrays["ok"][i]:
            raise VideoDecodeError(
                f"{self.meta['records'][i]['path']} failed when the cache was prepared: "
                f"{self.errors.get(i % len(self), 'unknown error')}"
            )
        count = self.num_frames(i)
        wanted = np.arange(count) if frame_indices is None else np.asarray(frame_indices, dtype=np.int64)
        if wanted.ndim != 1 or (wanted.size and (wanted.min() < 0 or wanted.max() >= count)):
            raise ValueError(f"frame indices must be 1-D in [0, {count}) for video {i}, got {wanted!r}")
        frames = int(self._arrays["offset"][i]) + wanted
        if self.format == "jpeg":
            return self._decode_jpeg_frames(i, frames)
        return np.array(self._memmap()[frames])


# ----------------------------------------------------------------------------- preparing


@dataclass(frozen=True)
class _Decoded:
    """What a worker returns for one video: uint8 (T, H, W, 3) frames, or (jpeg) T JPEG files."""

    frames: np.ndarray | list[bytes] | None
    source_frames: int
    source_start: int
    fps: float
    error: str | None


def _file_stamp(path: Path) -> list[int]:
    """[size, mtime_ns] of a file ([-1, -1] when missing): a regenerated video changes the key."""
    try:
        stat = os.stat(path)
    except OSError:
        return [-1, -1]
    return [stat.st_size, stat.st_mtime_ns]


def cache_key(
    index: VideoIndex, frame_size: tuple[int, int], max_frames: int | None, cache_format: str = "uint8"
) -> str:
    """A short hash (16 hex digits) of everything that determines a cache's contents.

    It covers the index (dataset, root, split, fold, each record) and each file's size and
    modification time, so replacing the videos (e.g. regenerating the default data) gives a
    new cache instead of stale frames; and the storage format with its quality, except for
    "uint8", whose keys stay those of the caches built before formats existed.
    """
    blob = {
        "version": CACHE_VERSION,
        "dataset": index.dataset,
        "root": str(Path(index.root).absolute()),
        "split": index.split,
        "fold": index.fold,
        "frame_size": list(frame_size),
        "max_frames": max_frames,
        "records": [[str(r.path), r.label, r.video_id, *_file_stamp(r.path)] for r in index.records],
    }
    if cache_format != "uint8":
        blob["format"] = [cache_format, JPEG_QUALITY]
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir_name(
    index: VideoIndex, frame_size: tuple[int, int], max_frames: int | None, cache_format: str = "uint8"
) -> str:
    """``<dataset>-<split><fold>-<H>x<W>[-<max_frames>f][-jpeg]-<hash>``: readable and unique."""
    limit = f"-{max_frames}f" if max_frames else ""
    kind = "" if cache_format == "uint8" else f"-{cache_format}"
    height, width = frame_size
    key = cache_key(index, frame_size, max_frames, cache_format)
    return f"{index.dataset}-{index.split}{index.fold}-{height}x{width}{limit}{kind}-{key}"


def _window(count: int, max_frames: int | None) -> tuple[int, int]:
    """(start, length) of the kept frames: the centred ``max_frames`` (frame rate unchanged)."""
    if max_frames is None or count <= max_frames:
        return 0, count
    return (count - max_frames) // 2, max_frames


def _decode_one(task: tuple[str, tuple[int, int], int | None, str]) -> _Decoded:
    """Worker: decode, trim, resize and (jpeg) encode one video; a failure becomes an error message."""
    path, size, max_frames, cache_format = task
    try:
        fps = probe(path).fps
        frames = read_frames(path)
        if len(frames) == 0:
            raise VideoDecodeError(f"cannot decode {path}: no frames", path)
        start, length = _window(len(frames), max_frames)
        kept = np.ascontiguousarray(resize_frames(frames[start : start + length], size))
        stored = [encode_jpeg(frame) for frame in kept] if cache_format == "jpeg" else kept
        return _Decoded(stored, len(frames), start, fps, None)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped and counted
        return _Decoded(None, 0, 0, 0.0, f"{type(exc).__name__}: {exc}")


def _decode_all(tasks: list[tuple], workers: int) -> Iterator[_Decoded]:
    if workers <= 1:
        yield from map(_decode_one, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_decode_one, tasks, chunksize=max(1, min(16, len(tasks) // (8 * workers))))


def _write_frames(
    tmp: Path, index: VideoIndex, size: tuple[int, int], max_frames: int | None, workers: int, cache_format: str
) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    """Decode every video into ``tmp``'s frames file; return the index arrays and the errors."""
    n = len(index)
    arrays = {
        "offset": np.zeros(n, np.int64),
        "num_frames": np.zeros(n, np.int64),
        "ok": np.zeros(n, bool),
        "source_frames": np.zeros(n, np.int64),
        "source_start": np.zeros(n, np.int64),
        "fps": np.zeros(n, np.float64),
    }
    errors: dict[int, str] = {}
    tasks = [(str(r.path), size, max_frames, cache_format) for r in index.records]
    offset, started = 0, time.perf_counter()
    byte_offsets, crcs = [0], []  # per frame, jpeg only
    with open(tmp / _FRAME_FILES[cache_format], "wb") as handle:
        for i, result in enumerate(_decode_all(tasks, workers)):
            arrays["offset"][i] = offset
            if result.error is not None:
                errors[i] = result.error
                log.warning("clip cache: skipping %s: %s", index.records[i].path, result.error)
            else:
                frames = result.frames
                assert frames is not None  # decoded without error
                if isinstance(frames, list):  # jpeg: one blob per frame
                    for blob in frames:
                        handle.write(blob)
                        byte_offsets.append(byte_offsets[-1] + len(blob))
                        crcs.append(zlib.crc32(blob))
                else:
                    handle.write(frames.tobytes())
                count = len(frames)
                offset += count
                arrays["num_frames"][i], arrays["ok"][i] = count, True
                arrays["source_frames"][i], arrays["source_start"][i] = result.source_frames, result.source_start
                arrays["fps"][i] = result.fps
            if (i + 1) % 500 == 0:
                log.info("clip cache: %d/%d videos decoded (%.0f s)", i + 1, n, time.perf_counter() - started)
        handle.flush()
        os.fsync(handle.fileno())
    if cache_format == "jpeg":
        arrays["byte_offset"], arrays["crc32"] = np.asarray(byte_offsets, np.int64), np.asarray(crcs, np.uint32)
    return arrays, errors


def _check_failures(index: VideoIndex, errors: dict[int, str], max_failure_fraction: float) -> None:
    """Raise ``CacheBuildError`` when more than ``max_failure_fraction`` of the videos failed."""
    if not errors:
        return
    fraction = len(errors) / len(index)
    log.warning("clip cache: %d of %d videos could not be decoded (%.1f%%)", len(errors), len(index), 100 * fraction)
    if fraction > max_failure_fraction:
        shown = "; ".join(f"{index.records[i].path} ({errors[i]})" for i in sorted(errors)[:3])
        raise CacheBuildError(
            f"{len(errors)} of {len(index)} videos ({fraction:.1%}) of {index.dataset}/{index.split} could not be "
            f"decoded, more than max_failure_fraction={max_failure_fraction:.1%}. First failures: {shown}.",
            hint=failure_hint(fraction),
        )


def _meta(
    index: VideoIndex,
    key: str,
    size: tuple[int, int],
    max_frames: int | None,
    total: int,
    errors: dict[int, str],
    seconds: float,
    cache_format: str,
) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "key": key,
        "dataset": index.dataset,
        "root": str(Path(index.root).absolute()),
        "split": index.split,
        "fold": index.fold,
        "classes": list(index.classes),
        "frame_size": list(size),
        "format": cache_format,
        "jpeg_quality": JPEG_QUALITY if cache_format == "jpeg" else None,
        "max_frames": max_frames,
        "total_frames": total,
        "num_videos": len(index),
        "records": [{"path": str(r.path), "label": r.label, "video_id": r.video_id} for r in index.records],
        "errors": {str(i): e for i, e in sorted(errors.items())},
        "prepare_seconds": round(seconds, 2),
    }


def _remove_stale_builds(cache_root: Path, name: str) -> None:
    """Delete temporary folders of earlier, interrupted builds of ``name`` whose process is gone."""
    for tmp in cache_root.glob(f".{name}.*.tmp"):
        pid = int(tmp.name.split(".")[-3]) if tmp.name.split(".")[-3].isdigit() else -1
        if pid == os.getpid() or not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_cache(
    index: VideoIndex,
    cache_root: str | os.PathLike,
    frame_size: tuple[int, int] = (128, 171),
    max_frames: int | None = None,
    workers: int = 2,
    max_failure_fraction: float = 0.1,
    cache_format: str = "uint8",
) -> ClipCache:
    """Decode every video of ``index`` once into a clip cache (module docstring); reuse it if present.

    Args:
        index: the videos, in the order the cache's positions follow.
        cache_root: folder holding the caches; one sub-folder per (index, frame_size, max_frames,
            cache_format).
        frame_size: (H, W) every frame is resized to (128x171 paper scale, 40x40 micro).
        max_frames: keep at most this many frames per video, the centred window (frame rate
            unchanged); None keeps all.
        workers: decoding processes (<= 1: in this process).
        max_failure_fraction: the largest tolerated share of videos that fail to decode.
        cache_format: how frames are stored, one of ``CACHE_FORMATS``: "uint8" (exact) or
            "jpeg" (about 12x smaller, decoded on read; module docstring).

    Returns:
        the opened ``ClipCache``.

    Raises:
        ValueError: for an empty index, a bad frame size, max_frames, fraction or format.
        CacheBuildError: when more than ``max_failure_fraction`` of the videos fail to decode
            (the message names the first failures); no cache is left behind.
    """
    size = (int(frame_size[0]), int(frame_size[1]))
    _check_args(index, size, max_frames, max_failure_fraction)
    check_cache_format(cache_format)
    cache_root = Path(cache_root)
    name = cache_dir_name(index, size, max_frames, cache_format)
    final = cache_root / name
    if (final / _META).is_file():
        log.info("clip cache: using %s", final)
        return ClipCache(final)
    cache_root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_root / f".{name}.lock")):  # a second process waits, then opens it
        if not (final / _META).is_file():
            _remove_stale_builds(cache_root, name)
            tmp = cache_root / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            tmp.mkdir()
            try:
                _build(tmp, index, size, max_frames, workers, max_failure_fraction, name, cache_format)
                _publish(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return ClipCache(final)


def _check_args(index: VideoIndex, size: tuple[int, int], max_frames: int | None, fraction: float) -> None:
    if len(index) == 0:
        raise ValueError(f"cannot cache an empty index ({index.dataset}/{index.split})")
    if min(size) < 1:
        raise ValueError(f"frame_size must be positive (H, W), got {size}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"max_failure_fraction must lie in [0, 1], got {fraction}")


def _build(
    tmp: Path,
    index: VideoIndex,
    size: tuple[int, int],
    max_frames: int | None,
    workers: int,
    max_failure_fraction: float,
    name: str,
    cache_format: str,
) -> None:
    """Fill ``tmp`` with a complete cache (frames, index, then meta last)."""
    started = time.perf_counter()
    log.info(
        "clip cache: decoding %d videos of %s/%s at %dx%d (%s) into %s",
        len(index),
        index.dataset,
        index.split,
        size[0],
        size[1],
        cache_format,
        name,
    )
    arrays, errors = _write_frames(tmp, index, size, max_frames, workers, cache_format)
    _check_failures(index, errors, max_failure_fraction)
    # numpy's stubs type savez's keyword arrays as its allow_pickle flag
    atomic_write_with(tmp / _INDEX, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]
    total = int(arrays["num_frames"].sum())
    seconds = time.perf_counter() - started
    meta = _meta(index, name.rsplit("-", 1)[1], size, max_frames, total, errors, seconds, cache_format)
    atomic_write_json(tmp / _META, meta)
    log.info(
        "clip cache: %d frames (%.1f MB) in %.1f s, %d failed",
        total,
        (tmp / _FRAME_FILES[cache_format]).stat().st_size / 1e6,
        seconds,
        len(errors),
    )


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished build into place; if another process won the race, keep theirs."""
    if final.is_dir() and not (final / _META).is_file():
        log.warning("clip cache: replacing incomplete folder %s", final)
        shutil.rmtree(final)
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / _META).is_file():
            raise
        log.info("clip cache: %s was completed by another process; using it", final)
