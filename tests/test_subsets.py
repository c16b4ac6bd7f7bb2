from pathlib import Path

import numpy as np
import pytest

from sslvid.data.records import UNLABELLED, VideoIndex, VideoRecord
from sslvid.data.subsets import balanced_subset, nested_subsets


def make_index(per_class: int, classes: int) -> VideoIndex:
    records = tuple(
        VideoRecord(Path(f"/v/{c}_{i}.mp4"), c, f"{c}_{i}") for c in range(classes) for i in range(per_class)
    )
    return VideoIndex("folder", Path("/v"), "train", 1, tuple(map(str, range(classes))), records)


def test_subsets_are_balanced_and_nested():
    pool = make_index(per_class=200, classes=10)
    subsets = nested_subsets(pool, [20, 60, 100, 200], seed=3)
    ids = {n: {r.video_id for r in s.records} for n, s in subsets.items()}
    for n, subset in subsets.items():
        assert len(subset) == 10 * n
        assert np.all(np.bincount(subset.labels(), minlength=10) == n)
    assert ids[20] < ids[60] < ids[100] <= ids[200]


def test_subsets_are_deterministic_from_the_seed():
    labels = make_index(50, 4).labels()
    np.testing.assert_array_equal(balanced_subset(labels, 10, seed=1), balanced_subset(labels, 10, seed=1))
    assert not np.array_equal(balanced_subset(labels, 10, seed=1), balanced_subset(labels, 10, seed=2))


def test_unlabelled_videos_are_left_out():
    labels = np.array([0, 0, 1, 1, UNLABELLED, UNLABELLED])
    chosen = balanced_subset(labels, 2, seed=0)
    assert chosen.tolist() == [0, 1, 2, 3]


def test_too_few_videos_per_class_is_a_clear_error():
    labels = np.array([0] * 5 + [1] * 3)
    with pytest.raises(ValueError, match="at most 3 videos per class"):
        balanced_subset(labels, 4, seed=0)


def test_no_labels_is_a_clear_error():
    with pytest.raises(ValueError, match="need labels"):
        balanced_subset(np.full(4, UNLABELLED), 1, seed=0)
