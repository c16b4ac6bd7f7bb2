"""Clips of videos as a PyTorch dataset, with corrupt videos skipped and counted.

Data flows videos -> frames (decoded from files, or read from the clip cache) -> clips.
A video that cannot be read does not stop a run: its sample is marked failed, the collate
function drops it, and a ``FailureTracker`` counts failures per epoch, logs a summary and
stops the run with a clear error past a configurable fraction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from sslvid.data.decode import VideoDecodeError, probe, read_frames
from sslvid.data.records import VideoIndex
from sslvid.data.sampling import ClipSampler
from sslvid.errors import DataError, failure_hint
from sslvid.seeding import rng_for

log = logging.getLogger(__name__)


class FrameSource(Protocol):
    """Where a dataset reads frames: the video files, or the decoded-clip cache."""

    def __len__(self) -> int: ...

    def num_frames(self, i: int) -> int: ...

    def read(self, i: int, frame_indices: np.ndarray) -> np.ndarray: ...


class SelectedSource:
    """The videos at ``positions`` of another frame source, renumbered 0..len-1 (the frames of a
    ``VideoIndex.select`` of that source's index, e.g. a label budget of a training split).

    Args:
        source: the full source.
        positions: (N,) positions into ``source``, in the order of the selected index.
    """

    def __init__(self, source: FrameSource, positions: Sequence[int] | np.ndarray) -> None:
        self.source = source
        self.positions = [int(p) for p in positions]

    def __len__(self) -> int:
        return len(self.positions)

    def num_frames(self, i: int) -> int:
        return self.source.num_frames(self.positions[i])

    def read(self, i: int, frame_indices: np.ndarray) -> np.ndarray:
        return self.source.read(self.positions[i], frame_indices)


class DecodedSource:
    """Frames decoded from the video files of an index on every read (no cache).

    Args:
        index: the videos.
        backend: decoder backend passed to ``read_frames`` ("auto", "decord", "pyav").
    """

    def __init__(self, index: VideoIndex, backend: str = "auto") -> None:
        self.index = index
        self.backend = backend
        self._lengths: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.index)

    def num_frames(self, i: int) -> int:
        """Frame count of video ``i`` (probed once, then remembered)."""
        if i not in self._lengths:
            self._lengths[i] = probe(self.index.records[i].path, backend=self.backend).num_frames
        return self._lengths[i]

    def read(self, i: int, frame_indices: np.ndarray) -> np.ndarray:
        """Frames ``frame_indices`` of video ``i``, uint8 (T, H, W, 3)."""
        return read_frames(self.index.records[i].path, frame_indices, backend=self.backend)


class ClipSampling(Protocol):
    """Anything that picks the frames of a video's clips, like ``ClipSampler``.

    ``sample`` returns the frame indices (K, T), or ``(indices, meta)`` where ``meta`` is a
    dict of numbers or arrays describing the draw (a pretext task's playback rates, clip
    order...) that the dataset passes on with the clips.
    """

    def sample(self, video_frames: int, rng: np.random.Generator) -> np.ndarray | tuple[np.ndarray, dict]: ...


class VideoClipDataset(Dataset):
    """``K`` clips from each video of an index, drawn by a clip sampler.

    Each item is a dict: ``clips`` uint8 tensor (K, T, H, W, 3) (or whatever ``transform``
    returns, stacked over K), ``label`` (int, -1 when unlabelled), ``video`` (position in
    the index), ``frame_indices`` (K, T), ``meta`` (the sampler's meta, if it gives one) and
    ``ok`` (True). An unreadable video gives ``{"ok": False, "video": i, "error": message}``;
    ``collate_clips`` drops it.

    Clip positions are drawn from ``rng_for(seed, epoch, i)``, so they depend only on the
    seed, the epoch and the video, never on worker scheduling. Call ``set_epoch`` before
    each epoch (the DataLoader must not use persistent workers for it to reach them).

    Args:
        index: the videos.
        sampler: which frames make each clip.
        source: where frames come from; default: decode the files (``DecodedSource``).
        transform: optional callable on one clip, uint8 tensor (T, H, W, 3) -> tensor.
        seed: sampling seed.
    """

    def __init__(
        self,
        index: VideoIndex,
        sampler: ClipSampler | ClipSampling,
        source: FrameSource | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        self.index = index
        self.sampler = sampler
        self.source = source if source is not None else DecodedSource(index)
        if len(self.source) != len(index):
            raise ValueError(f"frame source has {len(self.source)} videos, the index {len(index)}")
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose clip positions ``__getitem__`` draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        try:
            length = self.source.num_frames(i)
            if length < 1:
                raise VideoDecodeError(f"{self.index.records[i].path}: no decodable frame")
            drawn = self.sampler.sample(length, rng_for(self.seed, "clip", self.epoch, i))
            indices, meta = drawn if isinstance(drawn, tuple) else (drawn, None)
            clips = [torch.from_numpy(np.ascontiguousarray(self.source.read(i, row))) for row in indices]
        except (VideoDecodeError, OSError) as err:
            log.warning("skipping video %d (%s): %s", i, self.index.records[i].video_id, err)
            return {"ok": False, "video": i, "error": str(err)}
        if self.transform is not None:
            clips = [self.transform(c) for c in clips]
        item = {
            "ok": True,
            "clips": torch.stack(clips),
            "label": self.index.records[i].label,
            "video": i,
            "frame_indices": torch.from_numpy(indices),
        }
        if meta is not None:
            item["meta"] = meta
        return item


def collate_clips(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack the readable samples of a batch; list the failed ones under ``"failed"``.

    Returns a dict with the stacked fields of ``VideoClipDataset`` items (``clips``
    (B, K, ...), ``label`` (B,), ``video`` (B,), ``frame_indices`` (B, K, T), ``meta``
    collated field by field), plus
    ``failed``: list of (video, error) pairs, and ``size``: readable samples (0 if none).
    """
    good = [{k: v for k, v in s.items() if k != "ok"} for s in samples if s["ok"]]
    failed = [(s["video"], s["error"]) for s in samples if not s["ok"]]
    batch = default_collate(good) if good else {}
    batch["failed"] = failed
    batch["size"] = len(good)
    return batch


class FailureTracker:
    """Counts unreadable videos over an epoch; stops the run past a failure fraction.

    Args:
        max_failure_fraction: the largest tolerated share of failed samples in an epoch.
        index: optional, to name failed files in messages.
    """

    def __init__(self, max_failure_fraction: float = 0.05, index: VideoIndex | None = None) -> None:
        if not 0.0 <= max_failure_fraction <= 1.0:
            raise ValueError(f"max_failure_fraction must lie in [0, 1], got {max_failure_fraction}")
        self.max_failure_fraction = max_failure_fraction
        self.index = index
        self.seen = 0
        self.failed: dict[int, str] = {}

    def update(self, batch: dict[str, Any]) -> None:
        """Count one collated batch (from ``collate_clips``)."""
        self.seen += batch["size"] + len(batch["failed"])
        self.failed.update(dict(batch["failed"]))

    @property
    def fraction(self) -> float:
        """Failed samples over samples seen this epoch."""
        return len(self.failed) / self.seen if self.seen else 0.0

    def _names(self, limit: int = 5) -> str:
        videos = sorted(self.failed)[:limit]
        if self.index is None:
            return ", ".join(map(str, videos))
        return ", ".join(str(self.index.records[v].path) for v in videos)

    def end_epoch(self) -> dict[str, Any]:
        """Log the epoch's summary, reset the counts and return the summary.

        Raises:
            RuntimeError: if the failed fraction exceeds ``max_failure_fraction``.
        """
        summary = {"seen": self.seen, "failed": len(self.failed), "fraction": self.fraction}
        if self.failed:
            log.warning("%d of %d videos unreadable this epoch: %s", len(self.failed), self.seen, self._names())
        if self.fraction > self.max_failure_fraction:
            raise DataError(
                f"{len(self.failed)} of {self.seen} videos ({self.fraction:.1%}) could not be read, "
                f"more than max_failure_fraction={self.max_failure_fraction:.1%}; first: {self._names()}.",
                hint=failure_hint(self.fraction),
            )
        self.seen, self.failed = 0, {}
        return summary
