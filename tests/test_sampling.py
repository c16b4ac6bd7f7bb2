import numpy as np
import pytest

from sslvid.data.sampling import ClipSampler


def test_consecutive_frames_at_stride():
    sampler = ClipSampler(num_frames=4, stride=3, start="center")
    idx = sampler.sample(100)
    assert idx.shape == (1, 4)
    assert np.all(np.diff(idx[0]) == 3)
    assert sampler.span == 10


def test_center_start_is_centred():
    idx = ClipSampler(num_frames=8, stride=2, start="center").sample(31)
    first, last = idx[0, 0], idx[0, -1]
    assert first == (31 - 15) // 2
    assert first - 0 == 30 - last  # equal margins on both sides


def test_uniform_starts_cover_the_video():
    idx = ClipSampler(num_frames=4, clips_per_video=5, start="uniform").sample(44)
    assert idx.shape == (5, 4)
    assert idx[0, 0] == 0 and idx[-1, -1] == 43
    assert np.all(np.diff(idx[:, 0]) > 0)


def test_random_start_is_seeded_and_in_range():
    sampler = ClipSampler(num_frames=8, stride=2, clips_per_video=3)
    a = sampler.sample(50, np.random.default_rng(7))
    b = sampler.sample(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 49
    starts = np.concatenate([sampler.sample(50, np.random.default_rng(s))[:, 0] for s in range(200)])
    assert starts.min() == 0 and starts.max() == 50 - sampler.span  # every start reachable


def test_short_video_loop_keeps_the_stride():
    idx = ClipSampler(num_frames=6, stride=2, short_video="loop").sample(7, np.random.default_rng(0))
    assert idx[0].tolist() == [0, 2, 4, 6, 1, 3]


def test_short_video_clamp_repeats_last_frame():
    idx = ClipSampler(num_frames=5, stride=2, short_video="clamp", start="center").sample(6)
    assert idx[0].tolist() == [0, 2, 4, 5, 5]


def test_short_video_error_says_how_to_fix():
    with pytest.raises(ValueError, match="short_video='loop'"):
        ClipSampler(num_frames=16, short_video="error").sample(10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_frames": 0},
        {"num_frames": 4, "stride": 0},
        {"num_frames": 4, "start": "middle"},
        {"num_frames": 4, "short_video": "pad"},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        ClipSampler(**kwargs)


def test_empty_video_raises():
    with pytest.raises(ValueError, match="no frames"):
        ClipSampler(num_frames=4).sample(0)
