from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sslvid.data.dataset import FailureTracker, VideoClipDataset, collate_clips
from sslvid.data.decode import VideoDecodeError
from sslvid.data.records import VideoIndex, VideoRecord
from sslvid.data.sampling import ClipSampler


class ArraySource:
    """Videos as in-memory arrays whose pixel value encodes (video, frame); None = corrupt."""

    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def num_frames(self, i):
        if self.lengths[i] is None:
            raise VideoDecodeError(f"video {i} is corrupt")
        return self.lengths[i]

    def read(self, i, frame_indices):
        frames = np.zeros((len(frame_indices), 4, 4, 3), dtype=np.uint8)
        frames[..., 0] = i
        frames[..., 1] = np.asarray(frame_indices)[:, None, None]
        return frames


def make_index(n):
    records = tuple(VideoRecord(Path(f"/v/{i}.mp4"), i % 2, str(i)) for i in range(n))
    return VideoIndex("folder", Path("/v"), "train", 1, ("a", "b"), records)


def test_items_hold_the_sampled_frames():
    ds = VideoClipDataset(
        make_index(3), ClipSampler(num_frames=4, stride=2, clips_per_video=2), ArraySource([30, 30, 30])
    )
    item = ds[1]
    assert item["ok"] and item["clips"].shape == (2, 4, 4, 4, 3)
    assert torch.all(item["clips"][..., 0] == 1)
    np.testing.assert_array_equal(item["clips"][:, :, 0, 0, 1].numpy(), item["frame_indices"].numpy())
    assert item["label"] == 1


def test_sampling_depends_on_seed_epoch_and_video_only():
    sampler = ClipSampler(num_frames=4)
    ds = VideoClipDataset(make_index(4), sampler, ArraySource([100] * 4), seed=5)
    first = [ds[i]["frame_indices"] for i in range(4)]
    again = [ds[i]["frame_indices"] for i in reversed(range(4))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    ds.set_epoch(1)
    assert any(not torch.equal(a, ds[i]["frame_indices"]) for i, a in enumerate(first))


def test_corrupt_videos_are_skipped_and_counted():
    lengths = [20, None, 20, 20, None, 20, 20, 20]
    ds = VideoClipDataset(make_index(8), ClipSampler(num_frames=4), ArraySource(lengths))
    tracker = FailureTracker(max_failure_fraction=0.5, index=ds.index)
    sizes = []
    for batch in DataLoader(ds, batch_size=3, collate_fn=collate_clips, num_workers=2):
        tracker.update(batch)
        sizes.append(batch["size"])
        if batch["size"]:
            assert batch["clips"].shape[0] == batch["size"]
    summary = tracker.end_epoch()
    assert summary == {"seen": 8, "failed": 2, "fraction": 0.25}
    assert sum(sizes) == 6


def test_too_many_failures_stop_the_run_with_names():
    ds = VideoClipDataset(make_index(4), ClipSampler(num_frames=4), ArraySource([None, None, 10, 10]))
    tracker = FailureTracker(max_failure_fraction=0.25, index=ds.index)
    tracker.update(collate_clips([ds[i] for i in range(4)]))
    with pytest.raises(RuntimeError, match=r"2 of 4 videos .*/v/0.mp4"):
        tracker.end_epoch()


def test_transform_is_applied_per_clip():
    ds = VideoClipDataset(
        make_index(1),
        ClipSampler(num_frames=2, clips_per_video=3),
        ArraySource([10]),
        transform=lambda c: c.permute(3, 0, 1, 2).float() / 255,
    )
    assert ds[0]["clips"].shape == (3, 3, 2, 4, 4)
    assert ds[0]["clips"].dtype == torch.float32


def test_source_and_index_must_agree():
    with pytest.raises(ValueError, match="frame source has 2 videos"):
        VideoClipDataset(make_index(3), ClipSampler(num_frames=2), ArraySource([5, 5]))


class RateSampler:
    """A sampler that also reports what it drew, as pretext tasks' samplers do."""

    def sample(self, video_frames, rng):
        rate = int(rng.integers(1, 4))
        return np.arange(4)[None, :] * rate, {"rate": rate}


def test_sampler_meta_travels_with_the_clips():
    ds = VideoClipDataset(make_index(6), RateSampler(), ArraySource([40] * 6))
    batch = collate_clips([ds[i] for i in range(6)])
    strides = batch["frame_indices"][:, 0, 1] - batch["frame_indices"][:, 0, 0]
    assert torch.equal(batch["meta"]["rate"], strides)
