"""Chapter "Task complexity" (benchmark §4.3, Table 5): tables, prose and figures on constructed and smoke inputs."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sslvid.analysis.claims import CONTRADICTED, HOLDS, INCONCLUSIVE, NOT_MEASURED  # noqa: E402
from sslvid.evaluate.features import FeatureCache  # noqa: E402
from sslvid.experiments import task_complexity as ch  # noqa: E402
from sslvid.experiments.study import Study, evidence  # noqa: E402
from sslvid.store.paper_tables import PAPER_TABLES  # noqa: E402
from sslvid.store.results import ResultsStore  # noqa: E402
from sslvid.store.runs import RunStore  # noqa: E402


@pytest.fixture()
def study(tmp_path) -> Study:
    return Study(
        "smoke",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def accuracies(
    values: dict[tuple[str, str], tuple[float, float, float]], se: float | None = None, videos: int | None = None
) -> pd.DataFrame:
    """A constructed ``complexity_accuracy`` table: (task, backbone) -> top1 at C1, C2, C3 (over ``videos``)."""
    rows = [
        {"task": t, "backbone": b, "complexity": level, "top1": v}
        for (t, b), levels in values.items()
        for level, v in zip(ch.LEVELS, levels)
    ]
    frame = pd.DataFrame(rows)
    if se is not None:
        frame["se"] = se
    if videos is not None:
        frame["test_videos"] = videos
    return frame


RISING = {(t, b): (10.0, 20.0, 30.0) for t in ch.TASKS for b in ch.BACKBONES}


def test_settings_follow_table5():
    table = ch.settings_table()
    assert len(table) == 9
    assert ch.setting_label("rotnet", "C1") == "2 rotations"
    assert ch.setting_label("vcop", "C3") == "5 clips"
    assert ch.setting_label("prp", "C2") == "3 rates {1,2,4}"
    assert [ch.num_classes("vcop", c) for c in ch.LEVELS] == [6, 24, 120]
    assert table.set_index(["task", "complexity"]).loc[("prp", "C3"), "chance (%)"] == pytest.approx(25.0)


def test_points_and_bad_names(study):
    points = ch.complexity_points(study)
    assert len(points) == 18
    assert {p["complexity"] for p in points} == set(ch.LEVELS)
    assert len(ch.complexity_points(study, ["prp"], ["shufflenet3d"])) == 3
    with pytest.raises(ValueError, match="valid: rotnet, vcop, prp"):
        ch.complexity_points(study, ["cvrl"])
    with pytest.raises(ValueError, match="valid: shufflenet3d, r2plus1d_18"):
        ch.complexity_points(study, backbones=["c3d"])


def test_micro_runs_the_profiles_share_of_the_grid_and_says_what_it_left_out(tmp_path):
    micro = Study("micro", store=RunStore(tmp_path / "runs"), results=ResultsStore(tmp_path / "r.csv"))
    assert ch.chosen_axes(micro) == (("rotnet", "prp"), ("r2plus1d_18",))
    assert len(ch.complexity_points(micro)) == 6
    assert ch.chosen_axes(micro, ch.TASKS, ch.BACKBONES) == (ch.TASKS, ch.BACKBONES)  # one knob away
    assert len(ch.complexity_points(micro, ch.TASKS, ch.BACKBONES)) == 18
    facts = ch.left_out_facts(*ch.chosen_axes(micro))
    assert facts == {"tasks": "vcop", "backbones": "shufflenet3d", "points": 12, "run": 6}
    assert ch.left_out_facts(ch.TASKS, ch.BACKBONES)["tasks"] == "none"


def test_every_profile_keeps_only_values_of_its_chapters_grids():
    from sslvid.profiles import get_profile, list_profiles
    from sslvid.scale.grids import PAPER_GRIDS

    grids = {"task_complexity": "task_complexity", "lightweight": "lightweight"}  # chapter -> its grid
    for name in list_profiles():
        for chapter, axes in get_profile(name).chapter_axes.items():
            blocks = PAPER_GRIDS[grids[chapter]].blocks
            for axis, kept in axes.items():
                values = {v for block in blocks for v in block.axes.get(axis, ())}
                assert kept and set(kept) <= values, (name, chapter, axis)


def test_shared_runs_are_table1_runs(study):
    facts = ch.shared_runs_facts(study, ch.complexity_points(study))
    assert set(facts["table 1 levels"].split(", ")) == {"rotnet at C3", "vcop at C1", "prp at C3"}
    assert (facts["runs"], facts["table 1 runs"], facts["new runs"]) == (18, 6, 12)


def test_complexity_table_has_table5_shape():
    table = ch.complexity_table(accuracies(RISING))
    assert list(table.index) == list(ch.LEVELS)
    assert list(table.columns) == [(t, b) for t in ch.TASKS for b in ch.BACKBONES]
    assert table.loc["C2", ("vcop", "r2plus1d_18")] == 20.0


@pytest.mark.parametrize(
    "values, expected",
    [
        ((1, 2, 3), "rises"),
        ((3, 2, 1), "falls"),
        ((1, 3, 2), "peaks at C2"),
        ((3, 1, 2), "dips at C2"),
        ((2, 2, 2), "flat"),
        ((1, 1, 2), "mixed"),
    ],
)
def test_trend(values, expected):
    assert ch.trend(values) == expected


def test_findings_are_contradicted_when_accuracy_rises_with_complexity():
    ours = ch.best_levels(accuracies(RISING, videos=500))
    found = {c.key: c for c in ch.claims(ours)}
    first = found["not_always_better"]
    assert first.estimate.value == pytest.approx(-10.0) and first.verdict == CONTRADICTED
    assert found["best_differs_per_backbone"].estimate.value == 0.0
    facts = ch.findings_facts(ours, ch.best_levels(ch.paper_accuracy()))
    assert (facts["not C3 here"], facts["pairs"], facts["not C3 paper"]) == (0, 6, 5)


def test_findings_when_middle_level_wins_and_backbones_differ():
    values = dict(RISING)
    values[("rotnet", "shufflenet3d")] = (10.0, 25.0, 12.0)
    values[("prp", "r2plus1d_18")] = (30.0, 20.0, 10.0)
    ours = ch.best_levels(accuracies(values, se=1.0, videos=100))
    row = ours.set_index(["task", "backbone"]).loc[("rotnet", "shufflenet3d")]
    assert row["best"] == "C2" and row["best - C3"] == pytest.approx(13.0) and row["trend"] == "peaks at C2"
    found = {c.key: c for c in ch.claims(ours)}
    first = found["not_always_better"]
    # prp on R(2+1)D: C1 30% against C3 10% over 100 test videos each, 20 points with an interval above 0
    assert first.estimate.value == pytest.approx(20.0) and first.estimate.n == 100 and first.verdict == HOLDS
    second = found["best_differs_per_backbone"]
    assert second.estimate.value == pytest.approx(2 / 3) and second.verdict == INCONCLUSIVE  # no interval
    facts = ch.findings_facts(ours, ch.best_levels(ch.paper_accuracy()))
    assert facts["not C3 here"] == 2 and facts["clear"] == 6
    single = {c.key: c for c in ch.claims(ours[ours["backbone"] == "shufflenet3d"])}
    assert single["best_differs_per_backbone"].verdict == NOT_MEASURED


def test_a_one_point_win_on_few_videos_is_inconclusive():
    values = {("rotnet", "shufflenet3d"): (31.0, 20.0, 30.0)}
    claim = {c.key: c for c in ch.claims(ch.best_levels(accuracies(values, videos=100)))}["not_always_better"]
    assert claim.estimate.value == pytest.approx(1.0) and claim.verdict == INCONCLUSIVE
    no_counts = {c.key: c for c in ch.claims(ch.best_levels(accuracies(values)))}["not_always_better"]
    assert not no_counts.estimate.has_interval and no_counts.verdict == INCONCLUSIVE


def test_a_tie_with_c3_is_not_a_less_complex_win():
    values = dict(RISING)
    values[("prp", "r2plus1d_18")] = (5.0, 5.0, 5.0)
    best = ch.best_levels(accuracies(values))
    assert ch.not_always_better(best).empty
    assert best.set_index(["task", "backbone"]).loc[("prp", "r2plus1d_18"), "trend"] == "flat"


def test_paper_findings_from_reconstructed_table():
    paper = ch.best_levels(ch.paper_accuracy())
    assert set(ch.backbone_disagreements(paper)) == {"vcop", "prp"}
    assert len(ch.not_always_better(paper)) == 5
    differ = ch.paper_table1_facts()["differ"].split("; ")
    assert {cell.split(" ")[0] for cell in differ} == {"vcop"}  # only VCOP's cells differ from Table 1


def test_paper_comparison_joins_every_cell():
    acc = accuracies(RISING)
    frame = ch.paper_comparison(acc)
    assert len(frame) == 18
    assert set(frame["backbone"]) == {"shufflenet_v1_2x", "r21d"}
    assert frame["paper"].notna().all() and frame["reproduced"].notna().all()
    cell = frame[(frame["complexity"] == "C1") & (frame["pretext"] == "rotnet") & (frame["backbone"] == "r21d")]
    assert cell["difference"].iloc[0] == pytest.approx(10.0 - 48.3)


def test_paper_comparisons_keys(study, monkeypatch):
    monkeypatch.setattr(ch, "complexity_accuracy", lambda *a, **k: accuracies(RISING))
    frames = ch.paper_comparisons(study)
    assert list(frames) == [ch.PAPER_TABLE]
    assert set(frames) <= set(PAPER_TABLES)
    assert {"paper", "reproduced", "difference"} <= set(frames[ch.PAPER_TABLE].columns)


def test_standard_error():
    se = ch.standard_error(pd.Series([50.0, 0.0]), pd.Series([100, 100]))
    assert se.iloc[0] == pytest.approx(5.0) and se.iloc[1] == 0.0


def test_sampling_check_finds_looped_vcop_tuples(study):
    short = ch.sampling_check(study, ["vcop"], video_frames=12)  # smoke: 4-frame clips; 4 and 5 touching clips loop
    capped = short[short["ceiling (%)"] < 100]
    assert not capped.empty and capped["looped"].all()
    assert ch.sampling_facts(short)["looped"] == int(short["looped"].sum()) > 0
    fitted = ch.sampling_check(study, ["vcop"], video_frames=24)  # the gaps shrink: 5 clips of 4 frames fit
    assert not fitted["looped"].any() and (fitted["ceiling (%)"] == 100).all()
    long = ch.sampling_check(study, video_frames=1000)
    assert not long["looped"].any() and (long["ceiling (%)"] == 100).all()
    assert ch.sampling_facts(long)["looped"] == 0 and ch.sampling_facts(long)["looped settings"] == "none"


def test_pretext_facts():
    pretext = pd.DataFrame(
        [
            {
                "task": "rotnet",
                "backbone": "shufflenet3d",
                "complexity": c,
                "pretext acc (%)": a,
                "acc / chance": r,
                "ceiling (%)": 100.0,
            }
            for c, a, r in (("C1", 90, 1.8), ("C2", 70, 2.1), ("C3", 50, 2.0))
        ]
        + [
            {
                "task": "vcop",
                "backbone": "shufflenet3d",
                "complexity": c,
                "pretext acc (%)": a,
                "acc / chance": r,
                "ceiling (%)": cap,
            }
            for c, a, r, cap in (("C1", 40, 2.4, 100.0), ("C2", 45, 10.8, 50.0), ("C3", 1, 1.1, 25.0))
        ]
    )
    facts = ch.pretext_facts(pretext)
    assert (facts["pairs"], facts["falling"], facts["not falling"]) == (2, 1, "vcop on shufflenet3d (peaks at C2)")
    assert facts["capped"] == "vcop C2 on shufflenet3d, vcop C3 on shufflenet3d"
    assert facts["near chance"] == "vcop C3 on shufflenet3d"


def test_figures_and_strips(study):
    acc = accuracies(RISING, se=2.0)
    fig = ch.complexity_figure(acc, ch.paper_accuracy())
    assert len(fig.axes) == 6
    plt.close(fig)
    video = np.random.default_rng(0).integers(0, 255, (48, 40, 40, 3), dtype=np.uint8)
    fig = ch.complexity_strips("rotnet", video, frames=4, crop_size=32)
    assert len(fig.axes) == (2 + 3 + 4) * 4  # one row per rotation of each level, 4 frames a row
    plt.close(fig)
    with pytest.raises(ValueError, match="valid: rotnet, vcop, prp"):
        ch.complexity_strips("tdl", video, frames=4, crop_size=32)


def test_one_run_end_to_end(study):
    """One smoke pre-training of RotNet C1 on ShuffleNet: accuracy, pretext accuracy and the comparison."""
    point = ch.complexity_points(study, ["rotnet"], ["shufflenet3d"])[:1]
    acc = ch.complexity_accuracy(study, point)
    assert list(acc[["task", "complexity", "setting"]].iloc[0]) == ["rotnet", "C1", "2 rotations"]
    assert 0 <= acc["top1"].iloc[0] <= 100 and acc["test_videos"].iloc[0] > 0 and acc["se"].notna().all()
    pretext = ch.pretext_accuracy(study, point, ch.sampling_check(study, ["rotnet"]))
    assert pretext["classes"].iloc[0] == 2 and pretext["chance (%)"].iloc[0] == 50.0
    assert 0 <= pretext["pretext acc (%)"].iloc[0] <= 100 and pretext["ceiling (%)"].iloc[0] == 100.0
    frame = ch.paper_comparison(acc)
    assert frame["reproduced"].notna().sum() == 1


def test_evidence_counts_the_test_videos_under_this_chapters_column_name():
    acc = pd.DataFrame({"top1": [40.0, 50.0], "test_videos": [500, 500]})
    assert evidence(acc) == {"seeds": 1, "models": 2, "test_videos": 500}
