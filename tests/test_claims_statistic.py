"""A function of several models' accuracies on the same test videos, with the paired or unpaired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from sslvid.analysis.claims import (
    PAIRED_VIDEOS,
    SINGLE,
    UNPAIRED_VIDEOS,
    VIDEOS,
    paired_difference,
    paired_statistic,
    video_statistic,
)
from sslvid.store.outcomes import VideoOutcomes

VIDEOS_400 = [f"v{i:03d}" for i in range(400)]


def _kept(key: str, correct: np.ndarray) -> VideoOutcomes:
    return VideoOutcomes.of(key, "top1_video", VIDEOS_400, correct.tolist())


@pytest.fixture
def models() -> dict[str, VideoOutcomes]:
    """Three models that share most of their right and wrong videos (positively correlated outcomes)."""
    rng = np.random.default_rng(1)
    easy = rng.random(400) < 0.6
    flip = rng.random((3, 400)) < np.array([[0.04], [0.08], [0.12]])
    return {name: _kept(name, easy ^ f) for name, f in zip(("a", "b", "c"), flip)}


def test_a_difference_through_the_statistic_is_the_paired_difference(models):
    found = paired_statistic({"a": models["a"], "b": models["b"]}, lambda acc: acc["a"] - acc["b"])
    direct = paired_difference(models["a"], models["b"])
    assert found.method == PAIRED_VIDEOS and found.n == 400
    assert found.value == pytest.approx(direct.value)
    assert found.low == pytest.approx(direct.low, abs=1.0) and found.high == pytest.approx(direct.high, abs=1.0)


def test_a_nonlinear_statistic_is_computed_on_every_draw(models):
    """``a`` minus the better of ``b`` and ``c``: the observed value and an interval around it."""
    better = paired_statistic(models, lambda acc: acc["a"] - np.maximum(acc["b"], acc["c"]))
    observed = models["a"].accuracy - max(models["b"].accuracy, models["c"].accuracy)
    assert better.value == pytest.approx(observed) and better.low <= observed <= better.high


def test_paired_is_tighter_than_unpaired_on_correlated_models(models):
    accuracies = {k: (v.accuracy, 400.0) for k, v in models.items()}
    gap = lambda acc: acc["a"] - (acc["b"] + acc["c"]) / 2  # noqa: E731
    paired = video_statistic(accuracies, gap, models)
    unpaired = video_statistic(accuracies, gap)
    assert paired.method == PAIRED_VIDEOS and unpaired.method == VIDEOS
    assert paired.value == pytest.approx(unpaired.value)
    assert paired.high - paired.low < 0.7 * (unpaired.high - unpaired.low)


def test_a_missing_outcome_falls_back_and_says_so(models):
    accuracies = {k: (v.accuracy, 400.0) for k, v in models.items()}
    found = video_statistic(accuracies, lambda acc: acc["a"] - acc["b"], {**models, "c": None})
    assert found.method == UNPAIRED_VIDEOS and found.has_interval
    nocount = video_statistic({**accuracies, "c": (50.0, float("nan"))}, lambda acc: acc["a"] - acc["c"], None)
    assert nocount.method == SINGLE and not nocount.has_interval


def test_stale_or_misaligned_outcomes_raise(models):
    accuracies = {k: (v.accuracy, 400.0) for k, v in models.items()}
    with pytest.raises(ValueError, match="average to"):
        video_statistic({**accuracies, "a": (1.0, 400.0)}, lambda acc: acc["a"], models)
    with pytest.raises(ValueError, match="outcomes of"):
        video_statistic(accuracies, lambda acc: acc["a"], {"a": models["a"]})
    other = VideoOutcomes.of("d", "top1_video", [f"w{i}" for i in range(400)], models["a"].correct.tolist())
    with pytest.raises(ValueError, match="shared test videos"):
        paired_statistic({"a": models["a"], "d": other}, lambda acc: acc["a"] - acc["d"])
