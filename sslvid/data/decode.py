"""Video decoding: frame count, rate and size of a file, and its frames as RGB uint8 arrays.

Two backends read the same files through FFmpeg: decord (fast random access; optional) and
PyAV (always installed; decodes sequentially). ``backend="auto"`` tries decord and falls back
to PyAV when decord is not installed or fails on the file. Both run one decoding thread,
because the data loader already runs one process per worker.

Frame indices are checked against the frame count the backend reports (decord's index of the
file; PyAV's count of the stream's packets): a negative index or one past that count is a
caller error and raises ``ValueError``. Containers sometimes promise frames that do not decode
(a truncated download, a broken tail). PyAV then stops at the last frame it can decode and
returns that frame for the requested indices past it, with one logged warning per call; a file
with no decodable frame at all raises ``VideoDecodeError``.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")
_THREADS = 1  # data loader workers parallelise; one decoding thread each
T = TypeVar("T")


class VideoDecodeError(RuntimeError):
    """A video file could not be read by any backend tried.

    Args:
        message: what went wrong; names the file and each backend's error.
        path: the file.
        errors: backend name -> that backend's error, as text.
    """

    def __init__(
        self, message: str, path: str | os.PathLike | None = None, errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.errors = dict(errors or {})


class FrameIndexError(ValueError):
    """Frame indices outside ``[0, num_frames)`` of a video (a caller error, never retried)."""


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` reports about a video file.

    Args:
        num_frames: frames the backend counts in the file.
        fps: average frame rate (frames per second); 0.0 when the container gives none.
        height: frame height in pixels.
        width: frame width in pixels.
    """

    num_frames: int
    fps: float
    height: int
    width: int

    @property
    def duration(self) -> float:
        """Length in seconds (``num_frames / fps``); 0.0 when the rate is unknown."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def available_backends() -> list[str]:
    """The concrete backends importable here (a subset of ``["decord", "pyav"]``)."""
    found = []
    for name, module in (("decord", "decord"), ("pyav", "av")):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        found.append(name)
    return found


def probe(path: str | os.PathLike, backend: str = "auto") -> VideoInfo:
    """Frame count, frame rate and frame size of a video file.

    Args:
        path: the video file.
        backend: "auto" (decord, then PyAV), "decord" or "pyav".

    Raises:
        ValueError: for an unknown backend.
        VideoDecodeError: when the file is missing or no backend tried can read it.
    """
    return _dispatch(Path(path), backend, {"decord": _decord_probe, "pyav": _pyav_probe})


def read_frames(
    path: str | os.PathLike, indices: Sequence[int] | np.ndarray | None = None, backend: str = "auto"
) -> np.ndarray:
    """Decode frames of a video file as RGB.

    Args:
        path: the video file.
        indices: frame numbers to return, in the order given (repeats allowed), shape (T,);
            None returns every frame the file yields.
        backend: "auto" (decord, then PyAV), "decord" or "pyav".

    Returns:
        uint8 array of shape (T, H, W, 3), RGB.

    Raises:
        ValueError: for an unknown backend, empty or non-integer indices, or indices outside
            ``[0, num_frames)`` (``FrameIndexError``).
        VideoDecodeError: when the file is missing or no backend tried can decode it.
    """
    wanted = None if indices is None else _as_index_array(indices)
    readers: dict[str, Callable[[Path], np.ndarray]] = {
        "decord": lambda p: _decord_read(p, wanted),
        "pyav": lambda p: _pyav_read(p, wanted),
    }
    return _dispatch(Path(path), backend, readers)


# --- dispatch -------------------------------------------------------------------------------


def _dispatch(path: Path, backend: str, calls: dict[str, Callable[[Path], T]]) -> T:
    """Run ``calls[name](path)`` for the backends ``backend`` names, the first success wins."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if not path.is_file():
        raise VideoDecodeError(f"cannot decode {path}: no such file", path, {})
    order = ("decord", "pyav") if backend == "auto" else (backend,)
    errors: dict[str, str] = {}
    for name in order:
        try:
            return calls[name](path)
        except FrameIndexError:
            raise
        except ImportError as exc:
            errors[name] = f"not installed ({exc})"
        except Exception as exc:  # noqa: BLE001 - each library raises its own types
            errors[name] = f"{type(exc).__name__}: {exc}"
            if name != order[-1]:
                log.warning("%s failed on %s (%s); trying %s", name, path, errors[name], order[-1])
    detail = "; ".join(f"{name}: {err}" for name, err in errors.items())
    raise VideoDecodeError(f"cannot decode {path} (backend={backend}): {detail}", path, errors)


def _as_index_array(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``indices`` as a 1-D int64 array; a ValueError for anything else or for no indices."""
    arr = np.asarray(indices)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"indices must be a non-empty 1-D sequence of ints, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"indices must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_range(indices: np.ndarray, num_frames: int, path: Path) -> None:
    """Raise ``FrameIndexError`` unless every index lies in ``[0, num_frames)``."""
    bad = indices[(indices < 0) | (indices >= num_frames)]
    if bad.size:
        shown = ", ".join(map(str, bad[:5].tolist())) + (", ..." if bad.size > 5 else "")
        raise FrameIndexError(
            f"frame indices [{shown}] out of range for {path}: it has {num_frames} frames (valid 0..{num_frames - 1})"
        )


def _as_frames(arr: Any, count: int) -> np.ndarray:
    """Check a decoded batch is (count, H, W, 3) and return it as contiguous uint8."""
    out = np.ascontiguousarray(np.asarray(arr), dtype=np.uint8)
    if out.ndim != 4 or out.shape[0] != count or out.shape[-1] != 3:
        raise RuntimeError(f"decoder returned shape {out.shape}, expected ({count}, H, W, 3)")
    return out


# --- decord ---------------------------------------------------------------------------------


def _decord_reader(path: Path) -> Any:
    """An open ``decord.VideoReader`` with one thread (decord imported only when used)."""
    decord = importlib.import_module("decord")
    return decord.VideoReader(str(path), num_threads=_THREADS)


def _decord_batch(reader: Any, indices: list[int]) -> np.ndarray:
    """Frames ``indices`` from a decord reader as a NumPy array, whatever bridge is set."""
    batch = reader.get_batch(indices)
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)


def _decord_probe(path: Path) -> VideoInfo:
    reader = _decord_reader(path)
    num_frames = len(reader)
    if num_frames == 0:
        raise RuntimeError("no video frames")
    height, width = _decord_batch(reader, [0]).shape[1:3]
    return VideoInfo(num_frames, float(reader.get_avg_fps()), int(height), int(width))


def _decord_read(path: Path, indices: np.ndarray | None) -> np.ndarray:
    reader = _decord_reader(path)
    num_frames = len(reader)
    if num_frames == 0:
        raise RuntimeError("no video frames")
    if indices is None:
        indices = np.arange(num_frames)
    _check_range(indices, num_frames, path)
    return _as_frames(_decord_batch(reader, indices.tolist()), len(indices))


# --- PyAV -----------------------------------------------------------------------------------


def _pyav_open(path: Path) -> Any:
    """An open PyAV container (PyAV imported only when used)."""
    av = importlib.import_module("av")
    return av.open(str(path))


def _pyav_video_stream(container: Any) -> Any:
    """The first video stream, set to decode with one thread."""
    if not container.streams.video:
        raise RuntimeError("no video stream")
    stream = container.streams.video[0]
    stream.codec_context.thread_count = _THREADS
    return stream


def _pyav_count(path: Path) -> int:
    """Frames in the first video stream, counted from its packets (demuxed, not decoded).

    Container headers (``stream.frames``, the duration) are often absent (Matroska) or promise
    frames a truncated file does not hold, so the packets are counted instead.
    """
    with _pyav_open(path) as container:
        stream = _pyav_video_stream(container)
        return sum(1 for packet in container.demux(stream) if packet.size > 0)


def _pyav_probe(path: Path) -> VideoInfo:
    num_frames = _pyav_count(path)
    if num_frames == 0:
        raise RuntimeError("no video packets")
    with _pyav_open(path) as container:
        stream = _pyav_video_stream(container)
        rate = stream.average_rate or stream.guessed_rate
        ctx = stream.codec_context
        return VideoInfo(num_frames, float(rate) if rate else 0.0, int(ctx.height), int(ctx.width))


def _pyav_decode(path: Path, wanted: set[int] | None, stop: int | None) -> tuple[dict[int, Any], int, Any]:
    """Decode sequentially up to frame ``stop`` (None: to the end), keeping frames in ``wanted``.

    Returns the kept frames (index -> ``av.VideoFrame``), the number of frames decoded and the
    last decoded frame. Decoding errors after the first frame end the stream early (logged).
    """
    kept: dict[int, Any] = {}
    decoded, last = 0, None
    with _pyav_open(path) as container:
        stream = _pyav_video_stream(container)
        try:
            for frame in container.decode(stream):
                if wanted is None or decoded in wanted:
                    kept[decoded] = frame
                last, decoded = frame, decoded + 1
                if stop is not None and decoded > stop:
                    break
        except Exception as exc:  # noqa: BLE001 - FFmpeg errors on a broken tail
            if last is None:
                raise
            log.warning("decoding %s stopped after %d frames: %s", path, decoded, exc)
    if last is None:
        raise RuntimeError("no decodable video frames")
    return kept, decoded, last


def _pyav_read(path: Path, indices: np.ndarray | None) -> np.ndarray:
    if indices is None:
        kept, decoded, _ = _pyav_decode(path, None, None)
        return _as_frames([kept[i].to_ndarray(format="rgb24") for i in range(decoded)], decoded)
    _check_range(indices, _pyav_count(path), path)
    kept, decoded, last = _pyav_decode(path, set(indices.tolist()), int(indices.max()))
    arrays = {i: frame.to_ndarray(format="rgb24") for i, frame in kept.items()}
    missing = [i for i in indices.tolist() if i not in arrays]
    if missing:  # the container promised more frames than decode
        log.warning(
            "%s: only %d frames decode; repeating the last one for indices %s", path, decoded, sorted(set(missing))[:5]
        )
        arrays.update(dict.fromkeys(missing, last.to_ndarray(format="rgb24")))
    return _as_frames([arrays[i] for i in indices.tolist()], len(indices))
