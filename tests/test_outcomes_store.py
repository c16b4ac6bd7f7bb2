"""Per-video outcomes kept beside an evaluation's run: written atomically, read back checked."""

from __future__ import annotations

import numpy as np
import pytest

from sslvid.io import DamagedFileError
from sslvid.store.outcomes import VideoOutcomes, outcomes_path, read_outcomes, write_outcomes
from sslvid.store.runs import RunStore

KEY = "0123456789abcdef"


def _kept(tmp_path, correct=(True, False, True, True)) -> tuple[RunStore, VideoOutcomes]:
    store = RunStore(tmp_path / "runs")
    outcomes = VideoOutcomes.of(KEY, "top1_video", [f"v{i}" for i in reversed(range(len(correct)))], correct)
    write_outcomes(store.run(KEY), outcomes)
    return store, outcomes


def test_outcomes_are_sorted_by_video_and_read_back_equal(tmp_path):
    store, outcomes = _kept(tmp_path)
    assert outcomes.videos == ("v0", "v1", "v2", "v3")
    assert outcomes.correct.tolist() == [True, True, False, True], "each outcome moved with its video"
    back = read_outcomes(store, KEY)
    assert back is not None and back.videos == outcomes.videos and back.metric == "top1_video"
    np.testing.assert_array_equal(back.correct, outcomes.correct)
    assert back.accuracy == pytest.approx(75.0)
    assert not list(outcomes_path(store.run(KEY)).parent.glob(".*.tmp")), "no temporary file left"


def test_an_evaluation_without_outcomes_reads_none(tmp_path):
    assert read_outcomes(RunStore(tmp_path / "runs"), KEY) is None


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"1101"', '"1111"'), "sha256 differs"),
        (lambda text: text.replace('"1101"', '"101"'), "4 videos but outcomes"),
        (lambda text: text.replace(KEY, "fedcba9876543210"), "names evaluation"),
        (lambda text: text.replace("sslvid-video-outcomes/1", "other/2"), "not an outcomes file"),
    ],
    ids=["truncated", "flipped", "short", "other-run", "format"],
)
def test_a_damaged_outcomes_file_raises_naming_it(tmp_path, edit, problem):
    store, _ = _kept(tmp_path)
    path = outcomes_path(store.run(KEY))
    path.write_text(edit(path.read_text()))
    with pytest.raises(DamagedFileError, match=problem) as err:
        read_outcomes(store, KEY)
    assert err.value.path == path and "unpaired" in err.value.recovery


def test_outcomes_of_another_run_or_repeated_videos_are_refused(tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ValueError, match="do not belong"):
        write_outcomes(store.run("ffffffffffffffff"), VideoOutcomes.of(KEY, "top1_video", ["a"], [True]))
    with pytest.raises(ValueError, match="repeated"):
        VideoOutcomes.of(KEY, "top1_video", ["a", "a"], [True, False])
    with pytest.raises(ValueError, match="sorted and unique"):
        VideoOutcomes(KEY, "top1_video", ("b", "a"), np.array([True, False]))


def _noisy(tmp_path, condition="gaussian/1", correct=(False, False, True)) -> tuple[RunStore, VideoOutcomes]:
    store = RunStore(tmp_path / "runs")
    outcomes = VideoOutcomes.of(KEY, "top1_video", ["b", "a", "c"], correct, condition)
    write_outcomes(store.run(KEY), outcomes)
    return store, outcomes


def test_each_noise_condition_keeps_its_own_file_beside_the_clean_one(tmp_path):
    store, clean = _kept(tmp_path)
    _noisy(tmp_path, "gaussian/1", (False, False, True))
    _noisy(tmp_path, "shot-imagenet-c/5", (True, True, True))
    names = sorted(p.name for p in store.run(KEY).dir.glob("outcomes*.json"))
    assert names == ["outcomes.json", "outcomes@gaussian-1.json", "outcomes@shot-imagenet-c-5.json"]
    gauss = read_outcomes(store, KEY, "gaussian/1")
    assert gauss is not None and gauss.condition == "gaussian/1" and gauss.correct.tolist() == [False, False, True]
    assert read_outcomes(store, KEY, "shot-imagenet-c/5").accuracy == pytest.approx(100.0)
    back = read_outcomes(store, KEY, "clean")
    assert back is not None and back.condition == "clean" and back.accuracy == clean.accuracy
    assert read_outcomes(store, KEY, "speckle/1") is None, "a condition not measured has no outcomes"


def test_a_condition_file_that_names_another_condition_or_was_edited_is_damaged(tmp_path):
    store, _ = _noisy(tmp_path)
    path = outcomes_path(store.run(KEY), "gaussian/1")
    path.rename(outcomes_path(store.run(KEY), "gaussian/2"))
    with pytest.raises(DamagedFileError, match="under condition 'gaussian/1', not 'gaussian/2'"):
        read_outcomes(store, KEY, "gaussian/2")
    store, _ = _noisy(tmp_path)
    path.write_text(path.read_text().replace('"condition": "gaussian/1"', '"condition": "gaussian/1 "'))
    with pytest.raises(DamagedFileError):
        read_outcomes(store, KEY, "gaussian/1")
    store, _ = _noisy(tmp_path)
    path.write_text(path.read_text().replace('"001"', '"101"'))
    with pytest.raises(DamagedFileError, match="sha256 differs"):
        read_outcomes(store, KEY, "gaussian/1")


def test_the_condition_is_part_of_the_digest(tmp_path):
    """A clean file copied over a noisy one (same videos and outcomes) is not taken for the noisy test."""
    store, _ = _kept(tmp_path, correct=(True, False, True))
    _noisy(tmp_path, "gaussian/1", (True, False, True))
    clean_text = outcomes_path(store.run(KEY)).read_text()
    outcomes_path(store.run(KEY), "gaussian/1").write_text(clean_text)
    with pytest.raises(DamagedFileError, match="under condition 'clean'"):
        read_outcomes(store, KEY, "gaussian/1")


@pytest.mark.parametrize("condition", ["", "../x", ".hidden/1", "a b/1", "a/b/c"])
def test_a_condition_that_cannot_name_a_file_is_refused(tmp_path, condition):
    with pytest.raises(ValueError, match="cannot name"):
        outcomes_path(RunStore(tmp_path / "runs").run(KEY), condition)
