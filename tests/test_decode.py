"""Decoding real video (the shared ASL clips) and broken files with decord and PyAV."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sslvid.data import decode
from sslvid.data.decode import VideoDecodeError, VideoInfo, available_backends, probe, read_frames

REPO = Path(__file__).resolve().parents[1]
BACKENDS = available_backends()


def needs_decord() -> None:
    pytest.importorskip("decord", reason="decord is optional; PyAV covers decoding without it")


@pytest.fixture
def broken_files(tmp_path: Path) -> dict[str, Path]:
    """A garbage .mp4 (random bytes), an empty .mp4 and a path that does not exist."""
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {"garbage": garbage, "empty": empty, "missing": tmp_path / "missing.mp4"}


# --- real clips -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_probe_reports_the_clips_format(asl_clips: list[Path], backend: str) -> None:
    for clip in asl_clips:
        info = probe(clip, backend=backend)
        assert (info.height, info.width) == (480, 640)
        assert info.fps == pytest.approx(30.0)
        assert 47 <= info.num_frames <= 109
        assert info.duration == pytest.approx(info.num_frames / 30.0)


def test_backends_agree_on_probe(asl_clips: list[Path]) -> None:
    needs_decord()
    for clip in asl_clips:
        assert probe(clip, backend="decord") == probe(clip, backend="pyav"), clip.name


def test_backends_agree_on_frames(asl_clip: Path, asl_clips: list[Path]) -> None:
    needs_decord()
    a = read_frames(asl_clip, backend="decord")
    b = read_frames(asl_clip, backend="pyav")
    assert a.shape == b.shape == (probe(asl_clip).num_frames, 480, 640, 3)
    assert a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(np.int16) - b).mean() < 1.0
    other = asl_clips[-1]
    n = probe(other).num_frames
    picks = [n - 1, 0, n // 2]
    a, b = read_frames(other, picks, backend="decord"), read_frames(other, picks, backend="pyav")
    assert np.abs(a.astype(np.int16) - b).mean() < 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_indices_pick_frames_in_order_with_repeats(asl_clip: Path, backend: str) -> None:
    every = read_frames(asl_clip, backend="pyav")
    last = len(every) - 1
    picked = read_frames(asl_clip, [5, 0, 5, last], backend=backend)
    assert picked.shape == (4, 480, 640, 3)
    assert np.array_equal(picked, every[[5, 0, 5, last]])
    assert np.array_equal(read_frames(asl_clip, np.array([3]), backend=backend), every[3:4])


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_out_of_range_indices_raise_value_error(asl_clip: Path, backend: str) -> None:
    n = probe(asl_clip).num_frames
    for bad in ([n], [0, -1]):
        with pytest.raises(ValueError, match=f"out of range.*{n} frames"):
            read_frames(asl_clip, bad, backend=backend)


@pytest.mark.parametrize("bad", [[], [[0, 1]], [0.5]])
def test_malformed_indices_raise_value_error(asl_clip: Path, bad: list) -> None:
    with pytest.raises(ValueError, match="indices"):
        read_frames(asl_clip, bad)


def test_unknown_backend_lists_the_valid_ones(asl_clip: Path) -> None:
    with pytest.raises(ValueError, match="auto, decord, pyav"):
        read_frames(asl_clip, backend="opencv")


# --- broken files ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["garbage", "empty", "missing"])
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_unreadable_files_raise_video_decode_error(broken_files: dict[str, Path], kind: str, backend: str) -> None:
    path = broken_files[kind]
    for call in (lambda: read_frames(path, backend=backend), lambda: probe(path, backend=backend)):
        with pytest.raises(VideoDecodeError, match=path.name) as caught:
            call()
        assert isinstance(caught.value, RuntimeError)
        assert caught.value.path == path


def test_auto_error_names_both_backends(broken_files: dict[str, Path]) -> None:
    needs_decord()
    with pytest.raises(VideoDecodeError) as caught:
        read_frames(broken_files["garbage"])
    assert set(caught.value.errors) == {"decord", "pyav"}
    assert "decord:" in str(caught.value) and "pyav:" in str(caught.value)


_TRUNCATED_SCRIPT = """
import json, sys
from sslvid.data.decode import VideoDecodeError, read_frames
out = {}
for backend in sys.argv[2:]:
    try:
        frames = read_frames(sys.argv[1], backend=backend)
        out[backend] = list(frames.shape)
    except VideoDecodeError as exc:
        out[backend] = str(exc)
print(json.dumps(out))
"""


def test_truncated_file_decodes_what_it_has_without_crashing(asl_clip: Path, tmp_path: Path) -> None:
    data = asl_clip.read_bytes()
    truncated = tmp_path / f"truncated{asl_clip.suffix}"
    truncated.write_bytes(data[: int(len(data) * 0.3)])
    n = probe(asl_clip).num_frames
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # A subprocess, so that a crash (segfault) or a hang fails this test instead of the session.
    done = subprocess.run(
        [sys.executable, "-c", _TRUNCATED_SCRIPT, str(truncated), "auto", *BACKENDS],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for backend, result in json.loads(done.stdout.splitlines()[-1]).items():
        if isinstance(result, str):
            assert "truncated" in result, backend  # a VideoDecodeError naming the file
        else:
            assert 0 < result[0] < n and result[1:] == [480, 640, 3], (backend, result)


def test_frames_a_container_promises_but_lacks_repeat_the_last(
    asl_clip: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    every = read_frames(asl_clip, backend="pyav")
    n = len(every)
    monkeypatch.setattr(decode, "_pyav_count", lambda path: n + 10)
    with caplog.at_level(logging.WARNING, logger="sslvid.data.decode"):
        frames = read_frames(asl_clip, [1, n + 5, n - 1], backend="pyav")
    assert np.array_equal(frames, every[[1, n - 1, n - 1]])
    assert "repeating the last" in caplog.text


# --- fallback -------------------------------------------------------------------------------


def test_auto_falls_back_to_pyav_when_decord_fails(
    asl_clip: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_reader(path: Path) -> None:
        raise RuntimeError("decord exploded")

    expected = read_frames(asl_clip, [0, 7], backend="pyav")
    monkeypatch.setattr(decode, "_decord_reader", broken_reader)
    with caplog.at_level(logging.WARNING, logger="sslvid.data.decode"):
        assert np.array_equal(read_frames(asl_clip, [0, 7]), expected)
        assert probe(asl_clip) == probe(asl_clip, backend="pyav")
    assert "decord exploded" in caplog.text
    with pytest.raises(VideoDecodeError, match="decord exploded"):
        read_frames(asl_clip, backend="decord")


def test_auto_works_without_decord_installed(asl_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing_module(path: Path) -> None:
        raise ImportError("No module named 'decord'")

    monkeypatch.setattr(decode, "_decord_reader", missing_module)
    assert read_frames(asl_clip, [2]).shape == (1, 480, 640, 3)
    with pytest.raises(VideoDecodeError, match="decord: not installed"):
        read_frames(asl_clip, [2], backend="decord")


def test_video_decode_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(VideoDecodeError("cannot decode x.mp4")))
    assert str(error) == "cannot decode x.mp4"


def test_video_info_duration_without_rate() -> None:
    assert VideoInfo(10, 0.0, 4, 4).duration == 0.0
