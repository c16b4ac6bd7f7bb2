"""The decoded-clip cache: equal to decode + resize, failures skipped and counted, atomic, reusable."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sslvid.data.cache as cache_module
from sslvid.data.cache import CacheBuildError, ClipCache, cache_key, prepare_cache, resize_frames
from sslvid.data.decode import VideoDecodeError, read_frames
from sslvid.data.layouts import load_index
from sslvid.data.records import VideoIndex, VideoRecord

SIZE = (40, 40)


@pytest.fixture(scope="session")
def motion_test(tiny_default: Path) -> VideoIndex:
    """digits-motion test split: 24 videos of 48 frames, 64x64."""
    return load_index("ucf101", tiny_default / "digits-motion", split="test")


@pytest.fixture(scope="session")
def motion_cache(motion_test: VideoIndex, tmp_path_factory: pytest.TempPathFactory) -> ClipCache:
    return prepare_cache(motion_test, tmp_path_factory.mktemp("cache"), frame_size=SIZE, workers=2)


def test_cache_equals_decoded_and_resized_frames(motion_test: VideoIndex, motion_cache: ClipCache) -> None:
    assert len(motion_cache) == len(motion_test) == 24
    assert motion_cache.video_ids == tuple(r.video_id for r in motion_test.records)
    assert motion_cache.index == motion_test and len(motion_cache.failed) == 0
    assert motion_cache.frame_size == SIZE and motion_cache.total_frames == 24 * 48
    for i in (0, 7, 23):
        decoded = read_frames(motion_test.records[i].path)
        expected = resize_frames(decoded, SIZE)
        assert motion_cache.num_frames(i) == 48 and motion_cache.fps(i) == 16.0
        np.testing.assert_array_equal(motion_cache.read(i), expected)
        clip = motion_cache.read(i, [30, 2, 4, 4])
        assert clip.shape == (4, 40, 40, 3) and clip.dtype == np.uint8
        np.testing.assert_array_equal(clip, expected[[30, 2, 4, 4]])
    # the filter is an antialiased bilinear one: close to torch's
    reference = F.interpolate(
        torch.from_numpy(decoded).permute(0, 3, 1, 2).float(),
        size=SIZE,
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    assert (reference.round().permute(0, 2, 3, 1).numpy() - expected).__abs__().max() <= 2


def test_read_rejects_bad_indices(motion_cache: ClipCache) -> None:
    with pytest.raises(ValueError, match=r"\[0, 48\)"):
        motion_cache.read(0, [48])
    with pytest.raises(IndexError):
        motion_cache.read(24, [0])


def test_reopen_does_not_decode(
    motion_test: VideoIndex, motion_cache: ClipCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache decoded again")

    monkeypatch.setattr(cache_module, "read_frames", no_decoding)
    again = prepare_cache(motion_test, motion_cache.path.parent, frame_size=SIZE, workers=0)
    assert again.path == motion_cache.path
    np.testing.assert_array_equal(ClipCache.open(motion_cache.path).read(5, [1, 2]), motion_cache.read(5, [1, 2]))


def test_key_depends_on_size_frames_records_and_files(motion_test: VideoIndex, tmp_path: Path) -> None:
    key = cache_key(motion_test, SIZE, None)
    assert key == cache_key(motion_test, SIZE, None) and len(key) == 16
    assert (
        len(
            {
                key,
                cache_key(motion_test, (32, 32), None),
                cache_key(motion_test, SIZE, 16),
                cache_key(motion_test.select([0, 1]), SIZE, None),
            }
        )
        == 4
    )
    copy = tmp_path / "v.avi"
    shutil.copy(motion_test.records[0].path, copy)
    index = VideoIndex("ucf101", tmp_path, "test", 1, ("a",), (VideoRecord(copy, 0, "v"),))
    before = cache_key(index, SIZE, None)
    copy.write_bytes(copy.read_bytes() + b"\0")  # the video was replaced
    assert cache_key(index, SIZE, None) != before


def test_max_frames_keeps_the_centred_window(motion_test: VideoIndex, tmp_path: Path) -> None:
    small = motion_test.select([3, 4])
    cache = prepare_cache(small, tmp_path, frame_size=(32, 24), max_frames=20, workers=0)
    assert [cache.num_frames(i) for i in range(2)] == [20, 20] and cache.source_start(0) == 14
    expected = resize_frames(read_frames(small.records[1].path)[14:34], (32, 24))
    np.testing.assert_array_equal(cache.read(1), expected)


def _leftovers(cache_root: Path) -> list[str]:
    """What a failed prepare left in ``cache_root``, lock files aside."""
    return [p.name for p in cache_root.iterdir() if p.suffix != ".lock"]


def _with_garbage(tiny_default: Path, tmp_path: Path, broken: int) -> VideoIndex:
    """A copy of digits-motion whose first ``broken`` test videos are garbage bytes."""
    root = tmp_path / "digits-motion"
    shutil.copytree(tiny_default / "digits-motion", root)
    index = load_index("ucf101", root, split="test")
    rng = np.random.default_rng(0)
    for record in index.records[:broken]:
        record.path.write_bytes(b"RIFF" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return index


def test_corrupt_videos_are_skipped_and_counted(tiny_default: Path, tmp_path: Path) -> None:
    index = _with_garbage(tiny_default, tmp_path, broken=2)
    cache = prepare_cache(index, tmp_path / "cache", frame_size=SIZE, workers=2, max_failure_fraction=0.1)
    assert cache.failed.tolist() == [0, 1] and cache.num_frames(0) == 0 and cache.num_frames(2) == 48
    assert set(cache.errors) == {0, 1} and cache.total_frames == 22 * 48
    with pytest.raises(VideoDecodeError, match="failed when the cache was prepared"):
        cache.read(1, [0])
    np.testing.assert_array_equal(cache.read(2), resize_frames(read_frames(index.records[2].path), SIZE))


def test_too_many_failures_raise_and_leave_no_cache(tiny_default: Path, tmp_path: Path) -> None:
    index = _with_garbage(tiny_default, tmp_path, broken=3)
    with pytest.raises(CacheBuildError, match=r"3 of 24 videos .*max_failure_fraction=10\.0%") as error:
        prepare_cache(index, tmp_path / "cache", frame_size=SIZE, workers=0, max_failure_fraction=0.1)
    assert index.records[0].path.name in str(error.value)
    assert _leftovers(tmp_path / "cache") == []


def test_interrupted_prepare_leaves_nothing_that_looks_complete(
    motion_test: VideoIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = motion_test.select([0, 1, 2])
    real = cache_module._check_failures

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, "_check_failures", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(small, tmp_path, frame_size=SIZE, workers=0)
    assert _leftovers(tmp_path) == []
    monkeypatch.setattr(cache_module, "_check_failures", real)
    assert len(prepare_cache(small, tmp_path, frame_size=SIZE, workers=0)) == 3


def _read_clip(cache: ClipCache, i: int) -> torch.Tensor:
    return torch.from_numpy(cache.read(i, [0, 2, 4, 6]))


class _Clips(torch.utils.data.Dataset):
    def __init__(self, cache: ClipCache) -> None:
        self.cache = cache

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, i: int) -> torch.Tensor:
        return _read_clip(self.cache, i)


def test_pickles_without_its_memmap_and_works_in_loader_workers(motion_cache: ClipCache) -> None:
    motion_cache.read(0, [0])  # the memmap is open in this process
    clone = pickle.loads(pickle.dumps(motion_cache))
    assert clone._frames is None and len(pickle.dumps(motion_cache)) < 100_000
    np.testing.assert_array_equal(clone.read(9, [3, 1]), motion_cache.read(9, [3, 1]))
    loader = torch.utils.data.DataLoader(_Clips(clone), batch_size=8, num_workers=2)  # each maps the file
    batches = torch.cat(list(loader))
    assert batches.shape == (24, 4, 40, 40, 3)
    assert torch.equal(batches[17], _read_clip(motion_cache, 17))


def test_real_footage_at_paper_size(asl_clips: list[Path], tmp_path: Path) -> None:
    """Real camera clips (640x480 H.264) cached at 128x171 with a frame cap."""
    clips = asl_clips[:2]
    index = VideoIndex("folder", clips[0].parent, "train", 1, ("asl",), tuple(VideoRecord(p, 0, p.stem) for p in clips))
    cache = prepare_cache(index, tmp_path, frame_size=(128, 171), max_frames=32, workers=0)
    decoded = read_frames(clips[1])
    start = (len(decoded) - 32) // 2
    assert cache.num_frames(1) == 32 and cache.source_start(1) == start and cache.fps(1) == pytest.approx(30, abs=1)
    np.testing.assert_array_equal(cache.read(1, [0, 31]), resize_frames(decoded[[start, start + 31]], (128, 171)))


def test_bad_arguments(motion_test: VideoIndex, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        prepare_cache(motion_test.select([]), tmp_path)
    with pytest.raises(ValueError, match="max_failure_fraction"):
        prepare_cache(motion_test, tmp_path, max_failure_fraction=2.0)
    with pytest.raises(FileNotFoundError):
        ClipCache.open(tmp_path)


# ----------------------------------------------------------------------------- the jpeg format


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 arrays."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def motion_jpeg(motion_test: VideoIndex, motion_cache: ClipCache) -> ClipCache:
    """The jpeg cache beside ``motion_cache`` (same index, size and cache root)."""
    return prepare_cache(motion_test, motion_cache.path.parent, frame_size=SIZE, workers=2, cache_format="jpeg")


def test_jpeg_cache_is_close_to_the_uint8_one(motion_cache: ClipCache, motion_jpeg: ClipCache) -> None:
    assert motion_jpeg.path != motion_cache.path and motion_jpeg.path.name.split("-")[-2] == "jpeg"
    assert motion_jpeg.format == "jpeg" and motion_cache.format == "uint8"
    assert motion_jpeg.meta["format"] == "jpeg" and motion_jpeg.meta["jpeg_quality"] == cache_module.JPEG_QUALITY
    assert ClipCache.open(motion_jpeg.path).format == "jpeg"
    assert motion_jpeg.total_frames == motion_cache.total_frames and len(motion_jpeg.failed) == 0
    assert motion_jpeg.nbytes < motion_cache.nbytes / 2
    for i in (0, 11, 23):
        exact, coded = motion_cache.read(i), motion_jpeg.read(i)
        assert coded.shape == exact.shape and coded.dtype == np.uint8
        assert psnr(coded, exact) > 30  # the synthetic digits: hard edges on flat colour
        np.testing.assert_array_equal(motion_jpeg.read(i, [30, 2, 2]), coded[[30, 2, 2]])
    with pytest.raises(ValueError, match=r"\[0, 48\)"):
        motion_jpeg.read(0, [48])


def test_jpeg_cache_of_real_footage(asl_clips: list[Path], tmp_path: Path) -> None:
    """Camera footage at 128x171: close to the exact frames and under a tenth of their size."""
    index = VideoIndex(
        "folder", asl_clips[0].parent, "train", 1, ("asl",), tuple(VideoRecord(p, 0, p.stem) for p in asl_clips[:2])
    )
    exact = prepare_cache(index, tmp_path, frame_size=(128, 171), max_frames=24, workers=0)
    coded = prepare_cache(index, tmp_path, frame_size=(128, 171), max_frames=24, workers=0, cache_format="jpeg")
    assert coded.nbytes < exact.nbytes / 10
    assert psnr(coded.read(1), exact.read(1)) > 33


def test_unknown_format_is_refused(motion_test: VideoIndex, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache_format 'png'; valid: uint8, jpeg"):
        prepare_cache(motion_test, tmp_path, frame_size=SIZE, cache_format="png")


def test_format_changes_the_key_but_uint8_keeps_the_old_one(motion_test: VideoIndex) -> None:
    assert cache_key(motion_test, SIZE, None, "uint8") == cache_key(motion_test, SIZE, None)
    assert cache_key(motion_test, SIZE, None, "jpeg") != cache_key(motion_test, SIZE, None)


def _damaged_copy(cache: ClipCache, tmp_path: Path, damage: str) -> ClipCache:
    """A copy of a jpeg cache whose frames file is damaged: bytes of video 3 flipped, or cut short.

    The flipped bytes lie in the entropy-coded data near the end of a frame, where libjpeg
    decodes without complaint: only the checksum tells.
    """
    copy = Path(shutil.copytree(cache.path, tmp_path / cache.path.name))
    frames = copy / "frames.jpg"
    data = bytearray(frames.read_bytes())
    if damage == "flipped":
        end = int(cache._arrays["byte_offset"][cache._arrays["offset"][3] + 1])
        data[end - 40 : end - 36] = bytes(b ^ 0x5A for b in data[end - 40 : end - 36])
    else:
        data = data[: int(cache._arrays["byte_offset"][cache._arrays["offset"][23] + 5])]
    frames.write_bytes(bytes(data))
    return ClipCache.open(copy)


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_damaged_jpeg_entry_is_an_unreadable_video(
    motion_jpeg: ClipCache, motion_test: VideoIndex, tmp_path: Path, damage: str
) -> None:
    from sslvid.data.dataset import VideoClipDataset, collate_clips
    from sslvid.data.sampling import ClipSampler

    damaged = _damaged_copy(motion_jpeg, tmp_path, damage)
    bad = 3 if damage == "flipped" else 23
    with pytest.raises(VideoDecodeError, match="damaged"):
        damaged.read(bad)
    np.testing.assert_array_equal(damaged.read(2), motion_jpeg.read(2))
    dataset = VideoClipDataset(motion_test, ClipSampler(num_frames=48), source=damaged)
    batch = collate_clips([dataset[i] for i in (2, bad, 5)])
    assert batch["video"].tolist() == [2, 5] and [video for video, _ in batch["failed"]] == [bad]


def test_decode_jpeg_rejects_what_is_not_a_frame_of_the_size() -> None:
    frame = np.zeros((8, 12, 3), np.uint8)
    blob = cache_module.encode_jpeg(frame)
    assert cache_module.decode_jpeg(blob, (8, 12)).shape == (8, 12, 3)
    for data, size in ((blob[:20], (8, 12)), (b"not a jpeg", (8, 12)), (blob, (12, 8))):
        with pytest.raises(VideoDecodeError, match="damaged cached JPEG frame"):
            cache_module.decode_jpeg(data, size)


def test_jpeg_cache_pickles_and_reads_in_loader_workers(motion_jpeg: ClipCache) -> None:
    motion_jpeg.read(0, [0])
    clone = pickle.loads(pickle.dumps(motion_jpeg))
    assert clone._frames is None
    loader = torch.utils.data.DataLoader(_Clips(clone), batch_size=8, num_workers=2)
    assert torch.equal(torch.cat(list(loader))[17], _read_clip(motion_jpeg, 17))
