"""The paired bootstrap over shared test videos, against the unpaired one it replaces where outcomes are kept."""

from __future__ import annotations

import numpy as np
import pytest

from sslvid.analysis.claims import (
    PAIRED_VIDEOS,
    UNPAIRED_VIDEOS,
    VIDEOS,
    bootstrap_accuracy_difference,
    bootstrap_mean_difference,
    is_paired,
    paired_difference,
    paired_mean_difference,
    paired_statistic,
    video_mean_difference,
    video_statistic,
)
from sslvid.store.outcomes import VideoOutcomes

VIDEOS_400 = [f"video{i:03d}" for i in range(400)]


def _model(name: str, correct: np.ndarray, videos: list[str] = VIDEOS_400) -> VideoOutcomes:
    return VideoOutcomes.of(name, "top1_video", videos, correct.tolist())


def _correlated(seed: int = 0) -> tuple[VideoOutcomes, VideoOutcomes]:
    """Two models right on mostly the same videos (a is b plus 20 more of 400): 5 points apart."""
    rng = np.random.default_rng(seed)
    b = rng.random(400) < 0.5
    a = b.copy()
    a[np.flatnonzero(~b)[:20]] = True
    return _model("a", a), _model("b", b)


def test_a_model_against_itself_differs_by_exactly_zero():
    a, _ = _correlated()
    found = paired_difference(a, a)
    assert (found.value, found.low, found.high) == (0.0, 0.0, 0.0)
    assert found.method == PAIRED_VIDEOS and found.n == 400


def test_pairing_narrows_the_interval_of_correlated_models():
    a, b = _correlated()
    paired = paired_difference(a, b)
    unpaired = bootstrap_accuracy_difference(a.accuracy, b.accuracy, 400, 400)
    assert paired.value == pytest.approx(unpaired.value) == pytest.approx(5.0)
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 2
    assert paired.low > 0 > unpaired.low, "only the paired interval sees that a is right wherever b is"
    one = paired_mean_difference([(a, b)], seed=3)
    assert (one.low, one.high) == (paired_difference(a, b, seed=3).low, paired_difference(a, b, seed=3).high)


def test_cells_on_the_same_videos_are_resampled_jointly():
    a, b = _correlated()
    c, d = _correlated(seed=1)
    both = paired_mean_difference([(a, b), (c, d)])
    assert both.value == pytest.approx((paired_difference(a, b).value + paired_difference(c, d).value) / 2)
    twice = paired_mean_difference([(a, b), (a, b)])
    assert (twice.low, twice.high) == (paired_difference(a, b).low, paired_difference(a, b).high), (
        "the same cell twice is no more evidence when its videos are resampled once per draw"
    )


def test_models_on_disjoint_videos_raise():
    a, b = _correlated()
    other = _model("c", b.correct, [f"clip{i:03d}" for i in range(400)])
    with pytest.raises(ValueError, match="share none: a has 400, c has 400"):
        paired_difference(a, other)
    with pytest.raises(ValueError, match="share none"):
        paired_mean_difference([(a, b), (a, other)])
    with pytest.raises(ValueError, match="share none"):
        paired_statistic({"a": a, "c": other}, lambda acc: acc["a"] - acc["c"])
    with pytest.raises(ValueError, match="no cell"):
        paired_mean_difference([])


def test_models_on_different_videos_pair_over_the_shared_ones():
    """A corrupt video skipped in one run and not the other leaves that video out of the comparison."""
    a, b = _correlated()
    fewer = _model("d", b.correct[1:], VIDEOS_400[1:])  # video000 unreadable in this run
    other = _model("e", a.correct[:-1], VIDEOS_400[:-1])  # video399 unreadable in this one
    found = paired_difference(other, fewer)
    assert found.n == 398 and found.method == "paired bootstrap over 398 shared test videos (2 not in every run)"
    assert is_paired(found.method) and not is_paired(UNPAIRED_VIDEOS)
    expected = (a.correct[1:-1].mean() - b.correct[1:-1].mean()) * 100
    assert found.value == pytest.approx(expected)
    same = paired_difference(
        _model("a", a.correct[1:-1], VIDEOS_400[1:-1]), _model("b", b.correct[1:-1], VIDEOS_400[1:-1])
    )
    assert (found.low, found.high) == (same.low, same.high), "the same resamples as a run over the shared videos"
    cells = paired_mean_difference([(a, b), (a, fewer)])
    assert cells.n == 399 and cells.method.endswith("(1 not in every run)")
    stat = paired_statistic({"a": other, "b": fewer}, lambda acc: acc["a"] - acc["b"])
    assert (stat.value, stat.n, stat.method) == (pytest.approx(expected), 398, found.method)
    checked = video_statistic(
        {"a": (other.accuracy, 399), "b": (fewer.accuracy, 399)},
        lambda acc: acc["a"] - acc["b"],
        {"a": other, "b": fewer},
    )
    assert checked.value == pytest.approx(expected), "the value is over the shared videos, like its interval"
    with pytest.raises(ValueError, match="average to"):
        video_statistic(
            {"a": (other.accuracy + 1, 399), "b": (fewer.accuracy, 399)}, lambda acc: acc["a"], {"a": other, "b": fewer}
        )


def test_cells_of_other_test_sets_are_resampled_each_on_their_own():
    a, b = _correlated()
    clips = [f"clip{i:03d}" for i in range(400)]
    c, d = _model("c", a.correct, clips), _model("d", b.correct, clips)
    both = paired_mean_difference([(a, b), (c, d)])
    assert both.method == PAIRED_VIDEOS and both.n == 400 and both.value == pytest.approx(5.0)


def test_missing_outcomes_fall_back_to_the_unpaired_bootstrap_and_say_so():
    a, b = _correlated()
    cells = [(a.accuracy, 400, b.accuracy, 400)]
    assert video_mean_difference(cells).method == VIDEOS
    fallback = video_mean_difference(cells, [(a, None)])
    assert fallback.method == UNPAIRED_VIDEOS
    unpaired = bootstrap_mean_difference(cells)
    assert (fallback.value, fallback.low, fallback.high) == (unpaired.value, unpaired.low, unpaired.high)
    paired = video_mean_difference(cells, [(a, b)])
    assert paired.method == PAIRED_VIDEOS and paired.low > 0
    with pytest.raises(ValueError, match="average to"):
        video_mean_difference([(a.accuracy + 1, 400, b.accuracy, 400)], [(a, b)])
    with pytest.raises(ValueError, match="outcome pairs"):
        video_mean_difference(cells, [])
