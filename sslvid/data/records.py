"""What a dataset adapter returns: a list of videos with labels, independent of the layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

UNLABELLED = -1


@dataclass(frozen=True)
class VideoRecord:
    """One video file of a dataset.

    Args:
        path: absolute path of the video file.
        label: class index into ``VideoIndex.classes``; ``UNLABELLED`` (-1) when unknown.
        video_id: identifier unique within the dataset (e.g. ``ApplyEyeMakeup/v_..._g08_c01``).
    """

    path: Path
    label: int
    video_id: str


@dataclass(frozen=True)
class VideoIndex:
    """The videos of one split of one dataset, as an adapter found them on disk.

    Args:
        dataset: registry name of the layout that produced it (``"ucf101"``, ``"kinetics400"``...).
        root: the dataset root the user pointed at.
        split: ``"train"``, ``"test"`` or ``"val"``.
        fold: official split number (1-3 for UCF101 / HMDB51; 1 where a dataset has one).
        classes: class names; ``records[i].label`` indexes into it.
        records: the videos, in a deterministic order.
    """

    dataset: str
    root: Path
    split: str
    fold: int
    classes: tuple[str, ...]
    records: tuple[VideoRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def labels(self) -> np.ndarray:
        """Labels of all records, shape (N,), int64."""
        return np.array([r.label for r in self.records], dtype=np.int64)

    def select(self, positions: Sequence[int] | np.ndarray) -> VideoIndex:
        """A new index holding ``records[p]`` for each position, in the given order."""
        return replace(self, records=tuple(self.records[int(p)] for p in positions))
