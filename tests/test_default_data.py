"""The embedded default data: layouts, counts, splits, determinism, manifest, motion labels."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import TINY

from sslvid.data.decode import probe, read_frames
from sslvid.data.default import (
    APPEARANCE_CLASSES,
    DEFAULT_SETS,
    DIGIT_LUMA_MARGIN,
    GENERATOR_VERSION,
    GLYPH_SIZE,
    MOTION_CLASSES,
    TEXTURE_LUMA,
    VideoJob,
    class_descriptions,
    default_video_frames,
    generate_default_data,
    glyph,
    load_digits,
    luma,
    plan_videos,
    render_job,
    split_digits,
)
from sslvid.data.layouts import load_index


def _splits(name: str) -> list[str]:
    return [s for s, _ in DEFAULT_SETS[name].per_class]


@pytest.mark.parametrize("name", list(DEFAULT_SETS))
def test_sets_load_through_their_real_layout(tiny_default: Path, name: str) -> None:
    spec = DEFAULT_SETS[name]
    for split in _splits(name):
        index = load_index(spec.layout, tiny_default / name, split=split)
        per_class = spec.videos_per_class(split, TINY)
        assert len(index) == per_class * len(spec.classes)
        assert sorted(index.classes) == sorted(spec.classes)
        assert np.bincount(index.labels(), minlength=len(spec.classes)).tolist() == [per_class] * len(spec.classes)
        for record in index.records[:: max(1, len(index) // 3)]:
            info = probe(record.path)
            assert (info.num_frames, info.fps, info.height, info.width) == (48, 16.0, 64, 64)
            assert record.path.parent.name == index.classes[record.label]


def test_ucf101_and_kinetics_annotation_formats(tiny_default: Path) -> None:
    lists = tiny_default / "digits-motion" / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text().splitlines()[0] == "1 TranslateLeftSlow"
    train_line = (lists / "trainlist01.txt").read_text().splitlines()[0]
    assert train_line == "TranslateLeftSlow/v_TranslateLeftSlow_g08_c01.avi 1"
    assert (lists / "testlist01.txt").read_text().splitlines()[0] == "TranslateLeftSlow/v_TranslateLeftSlow_g01_c01.avi"
    rows = (tiny_default / "digits-motion-pool" / "annotations" / "train.csv").read_text().splitlines()
    assert rows[0] == "label,youtube_id,time_start,time_end,split"
    label, youtube_id, start, end, split = rows[1].split(",")
    assert len(youtube_id) == 11 and (start, end, split) == ("0", "3", "train")
    assert (tiny_default / "digits-motion-pool" / "train" / label / f"{youtube_id}_000000_000003.mp4").is_file()


def test_manifest_is_written_and_second_call_skips(tiny_default: Path) -> None:
    manifest = json.loads((tiny_default / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["scale"] == TINY and manifest["frames"] == 48
    assert manifest["num_videos"] == 242 and manifest["bytes"] > 0 and "MNIST" in manifest["credit"]
    assert manifest["sets"]["digits-motion"]["classes"] == list(MOTION_CLASSES)
    video = next((tiny_default / "digits-appearance" / "UCF-101" / "digit3").iterdir())
    before = video.stat().st_mtime_ns
    again = generate_default_data(tiny_default, seed=0, scale=TINY)
    assert again == manifest and video.stat().st_mtime_ns == before, "present data is neither regenerated nor touched"
    with pytest.raises(ValueError, match="overwrite=True"):
        generate_default_data(tiny_default, seed=1, scale=TINY)


def test_train_and_test_share_no_digit_and_no_video(tiny_default: Path) -> None:
    images, labels = load_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    pools = split_digits(labels, seed=0)
    assert len(pools["train"]) == 4000 and len(pools["test"]) == 1000
    assert not set(pools["train"]) & set(pools["test"])
    jobs = plan_videos(labels, seed=0, scale=1.0)
    test_digits = {j.digit for j in jobs if j.split == "test"}
    train_digits = {j.digit for j in jobs if j.split == "train"}
    assert test_digits <= set(pools["test"]) and not test_digits & train_digits
    assert len({j.rel_path for j in jobs}) == len(jobs) == 7700
    appearance = [j for j in jobs if j.set_name == "digits-appearance" and j.split == "train"]
    assert all(labels[j.digit] == j.label for j in appearance)
    for name in DEFAULT_SETS:  # no digit used twice within a set's split
        for split in _splits(name):
            used = [j.digit for j in jobs if j.set_name == name and j.split == split]
            assert len(set(used)) == len(used)
    for name in ("digits-appearance", "digits-motion"):
        train, test = (load_index("ucf101", tiny_default / name, split=s).records for s in ("train", "test"))
        assert not {r.video_id for r in train} & {r.video_id for r in test}


def test_same_seed_same_frames_and_files_match_the_renderer(tiny_default: Path, tmp_path: Path) -> None:
    first = default_video_frames("digits-motion", "CircleClockwise", 1)
    assert first.shape == (48, 64, 64, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, default_video_frames("digits-motion", "CircleClockwise", 1))
    assert not np.array_equal(first, default_video_frames("digits-motion", "CircleClockwise", 1, seed=1))
    decoded = read_frames(tiny_default / "digits-motion/UCF-101/CircleClockwise/v_CircleClockwise_g08_c02.avi")
    assert np.abs(decoded.astype(int) - _yuv420(first)).mean() < 4  # codec loss only
    # one worker instead of two, a smaller scale: the shared videos are the same files
    generate_default_data(tmp_path, seed=0, scale=0.005, workers=1)
    for rel in (
        "digits-motion/UCF-101/FadeOut/v_FadeOut_g01_c01.avi",
        "digits-appearance/UCF-101/digit7/v_digit7_g08_c01.avi",
    ):
        np.testing.assert_array_equal(read_frames(tmp_path / rel), read_frames(tiny_default / rel))


def _yuv420(frames: np.ndarray) -> np.ndarray:
    """Frames after the RGB -> YUV 4:2:0 -> RGB round trip every encoded video goes through."""
    to_yuv = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames]
    return np.stack([f.reformat(format="rgb24").to_ndarray() for f in to_yuv]).astype(int)


def _digit_layer(label: str, number: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(digit opacity-ish mask (T, H, W) bool, contrast (T,)) of a motion video, against its own background."""
    images, _ = load_digits()
    job = VideoJob("digits-motion", "train", MOTION_CLASSES.index(label), number, digit=11, rel_path="")
    frames = render_job(job, images[job.digit], seed=0).astype(np.float32)
    background = render_job(job, np.zeros((28, 28), np.uint8), seed=0).astype(np.float32)
    diff = np.abs(frames - background).sum(-1)
    return diff > 60, diff.mean(axis=(1, 2))


def _centres(mask: np.ndarray) -> np.ndarray:
    """Circular centre of mass (T, 2) as (y, x) on the 64-pixel torus."""
    angles = 2 * np.pi * np.arange(64) / 64
    centres = []
    for m in mask:
        ys, xs = np.nonzero(m)
        centres.append([np.angle(np.exp(1j * angles[c]).mean()) % (2 * np.pi) * 64 / (2 * np.pi) for c in (ys, xs)])
    return np.array(centres)


def _velocity(label: str) -> np.ndarray:
    steps = np.diff(_centres(_digit_layer(label)[0]), axis=0)
    return ((steps + 32) % 64 - 32).mean(axis=0)


@pytest.mark.parametrize("direction, axis, sign", [("Right", 1, 1), ("Left", 1, -1), ("Down", 0, 1), ("Up", 0, -1)])
def test_translate_labels_move_the_digit_that_way(direction: str, axis: int, sign: int) -> None:
    slow, fast = _velocity(f"Translate{direction}Slow"), _velocity(f"Translate{direction}Fast")
    assert 0.3 < sign * slow[axis] < 0.7 and abs(slow[1 - axis]) < 0.1
    assert 1.0 < sign * fast[axis] < 2.0 and abs(fast[1 - axis]) < 0.2


@pytest.mark.parametrize("label, sign", [("CircleClockwise", 1), ("CircleAnticlockwise", -1)])
def test_circle_labels_turn_the_right_way(label: str, sign: int) -> None:
    lag = 4  # frames (a 36-60 degree turn): the big digit's centre wobbles by a pixel frame to frame
    centres = _centres(_digit_layer(label)[0])
    steps = (centres[lag:] - centres[:-lag] + 32) % 64 - 32
    (vy, vx), (wy, wx) = steps[:-lag].T, steps[lag:].T
    turning = vx * wy - vy * wx  # image y points down: positive = clockwise on screen
    assert np.mean(np.sign(turning) == sign) > 0.9


def test_fade_labels_fade() -> None:
    fade_in, fade_out = _digit_layer("FadeIn")[1], _digit_layer("FadeOut")[1]
    assert fade_in[0] < 1e-3 and fade_out[-1] < 1e-3
    assert np.all(np.diff(fade_in) >= 0) and np.all(np.diff(fade_out) <= 0) and fade_in[-1] > 5


def test_colour_digits_on_coloured_backgrounds() -> None:
    frames = np.stack([default_video_frames("digits-appearance", c, 0)[0] for c in range(10)]).astype(np.float32)
    assert frames.std(axis=-1).mean() > 5  # not grey: the channels differ
    assert len({tuple(f[0, 0].astype(int)) for f in frames}) == 10  # backgrounds differ between videos


def test_big_digits_contrast_with_gentle_backgrounds() -> None:
    images, labels = load_digits()
    assert glyph(images[0]).shape == (GLYPH_SIZE, GLYPH_SIZE) and glyph(np.zeros((28, 28), np.uint8)).max() == 0
    for kind in ("digits-appearance", "digits-motion"):
        for label in range(10):
            digit = int(np.flatnonzero(labels == label)[0])
            job = VideoJob(kind, "train", label, 0, digit=digit, rel_path="")
            frame = luma(render_job(job, images[digit], seed=0, frames=8)[0] / 255.0)
            background = luma(render_job(job, np.zeros((28, 28), np.uint8), seed=0, frames=8)[0] / 255.0)
            assert background.max() - background.min() <= TEXTURE_LUMA + 0.01  # a gentle texture
            lift = frame - background
            assert lift.min() > -0.01 and lift.max() >= DIGIT_LUMA_MARGIN - 0.01  # bright digit, clear margin
            if kind == "digits-appearance":  # never cut by the frame edges: its strokes span ~31 of 64 px
                rows = np.flatnonzero((lift > DIGIT_LUMA_MARGIN / 2).any(axis=1))
                assert 26 <= rows[-1] - rows[0] + 1 <= GLYPH_SIZE


def test_descriptions_and_errors() -> None:
    assert list(class_descriptions("motion")) == list(MOTION_CLASSES)
    assert list(class_descriptions("appearance")) == list(APPEARANCE_CLASSES)
    with pytest.raises(ValueError, match="appearance, motion"):
        class_descriptions("colour")
    with pytest.raises(ValueError, match="digits-motion"):
        default_video_frames("digits", 0)
    with pytest.raises(ValueError, match="FadeIn"):
        default_video_frames("digits-motion", "Spin")
    with pytest.raises(ValueError, match="split"):
        default_video_frames("digits-motion-pool", 0, split="test")


def test_interrupted_or_replaced_data_is_regenerated(tmp_path: Path) -> None:
    first = generate_default_data(tmp_path, seed=0, scale=0.005, workers=1, frames=8)
    assert first["num_videos"] == 66 and first["frames"] == 8
    (tmp_path / "manifest.json").unlink()  # as if generation had been interrupted
    stray = tmp_path / "digits-motion" / "UCF-101" / "FadeIn" / "v_FadeIn_g25_c07.avi"
    stray.write_bytes(b"left over")
    generate_default_data(tmp_path, seed=0, scale=0.005, workers=1, frames=8)
    assert not stray.exists() and (tmp_path / "manifest.json").is_file()
    replaced = generate_default_data(tmp_path, seed=1, scale=0.005, workers=1, frames=8, overwrite=True)
    assert replaced["seed"] == 1
    index = load_index("ucf101", tmp_path / "digits-appearance", split="test")
    assert probe(index.records[0].path).num_frames == 8
    # data from an older generator version is stale: regenerated without overwrite=True
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["params"]["generator_version"] = manifest["generator_version"] = GENERATOR_VERSION - 1
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    current = generate_default_data(tmp_path, seed=1, scale=0.005, workers=1, frames=8)
    assert current["generator_version"] == GENERATOR_VERSION and current["params"] == replaced["params"]
