"""Chapter "Out of distribution": Table 6's shape, the paper comparison, and prose worded by the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from sslvid.analysis.claims import CONTRADICTED, HOLDS, INCONCLUSIVE, printed_verdict
from sslvid.evaluate.features import FeatureCache
from sslvid.evaluate.metrics import RETRIEVAL_KS
from sslvid.experiments import out_of_distribution as chapter
from sslvid.experiments.study import Study
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

CELLS = [(t, d, k) for k in chapter.TARGET_KINDS for t in chapter.OOD_TASKS for d in chapter.PRETRAIN_DATA]


def constructed(values: dict[tuple[str, str, str], float]) -> pd.DataFrame:
    """An ``ood_accuracy``-like table with the given (task, data, target kind) -> top1."""
    rows = [
        {"task": t, "data": d, "target_kind": k, "target": f"digits-{k}", "protocol": "linear", "top1": v}
        for (t, d, k), v in values.items()
    ]
    table = pd.DataFrame(rows)
    table["contrastive"] = table["task"].map(chapter.is_contrastive)
    table["in_distribution"] = table["data"].map(chapter.MATCHING_TARGET) == table["target_kind"]
    return table


def as_paper() -> pd.DataFrame:
    """The paper's Table 6 in our long form: every claim of the paper holds in it."""
    return constructed({(r.task, r.data, r.target_kind): r.top1 for r in chapter._paper_long().itertuples()})


@pytest.fixture(scope="module")
def smoke_chapter(tmp_path_factory):
    """RotNet (the cheapest task) through the real study at smoke scale (isolated stores), with retrieval."""
    root = tmp_path_factory.mktemp("ood")
    study = Study(
        "smoke", store=RunStore(root / "runs"), results=ResultsStore(root / "r.csv"), features=FeatureCache(root / "f")
    )
    tasks = ("rotnet",)
    return study, chapter.ood_accuracy(study, tasks), chapter.ood_retrieval(study, tasks)


def test_points_are_table6_runs_and_bad_names_are_listed():
    study = Study("smoke", store=RunStore("/nonexistent/runs"))
    points = chapter.ood_points(study)
    assert [(p["task"], p["data"]) for p in points] == [
        (t, d) for t in chapter.OOD_TASKS for d in chapter.PRETRAIN_DATA
    ]
    assert {p["subset"] for p in points} == {"30k"} and {p["backbone"] for p in points} == {"r2plus1d_18"}
    with pytest.raises(ValueError, match="vcop, rotnet, cvrl, rspnet"):
        chapter.ood_points(study, ["prp"])
    with pytest.raises(ValueError, match="appearance, motion"):
        chapter.ood_accuracy(study, targets=["audio"])


def test_smoke_tables_have_the_papers_shape(smoke_chapter):
    study, accuracy, retrieval = smoke_chapter
    assert len(accuracy) == 4 and accuracy["top1"].between(0, 100).all()
    assert set(accuracy["target"]) == {"digits-appearance", "digits-motion"}
    assert accuracy["in_distribution"].sum() == 2
    table = chapter.table6(accuracy)
    assert list(table.columns) == ["rotnet"] and table.shape == (4, 1)
    assert chapter.paper_table6().shape == (4, 4)
    assert sorted(set(retrieval["k"])) == list(RETRIEVAL_KS) and len(retrieval) == 4 * len(RETRIEVAL_KS)
    curves = retrieval.sort_values("k").groupby(["task", "data", "target_kind"])["hit"]
    assert curves.apply(lambda h: h.dropna().is_monotonic_increasing).all(), "hit@k never falls as k grows"
    assert chapter.retrieval_at(retrieval, 5).shape == (1, 4)


def test_smoke_paper_comparison_joins_every_cell(smoke_chapter):
    study, accuracy, _ = smoke_chapter
    comparison = chapter.ood_comparison(accuracy)
    assert len(comparison) == 16, "the paper's 16 cells, ours joined to 4 of them"
    assert comparison["reproduced"].notna().sum() == 4 and comparison["paper"].notna().all()
    assert set(comparison["target"]) == {"ucf101", "diving48"} and set(comparison["pretrain"]) == {"k400", "ssv2"}
    facts = chapter.scale_facts(comparison)
    both = comparison.dropna(subset=["paper", "reproduced"])
    assert facts["cells"] == 4
    assert facts["mean difference"] == pytest.approx((both["reproduced"] - both["paper"]).mean())


def test_paper_comparisons_reads_the_stores_after_the_chapter(smoke_chapter):
    study, accuracy, _ = smoke_chapter
    runs = len(study.store.runs())
    frames = chapter.paper_comparisons(study, tasks=("rotnet",))
    assert list(frames) == [chapter.PAPER_TABLE] and frames[chapter.PAPER_TABLE]["n"].sum() == 4
    assert len(study.store.runs()) == runs, "nothing trained again"


def test_the_papers_own_numbers_satisfy_its_claims():
    found = {c.key: c for c in chapter.claims(as_paper())}
    assert {printed_verdict(c) for c in found.values()} == {HOLDS}
    assert found["best_on_appearance"].estimate.value > 0 and found["best_on_motion"].estimate.value > 0
    assert {c.verdict for c in found.values()} == {INCONCLUSIVE}  # printed numbers: no test videos, no interval
    directions = chapter.direction_table(as_paper())
    assert directions["agree"].all() and len(directions) == 8
    direction = {c.key: c for c in chapter.context_claims(as_paper())}["paper_direction"]
    assert direction.estimate.value > 0 and printed_verdict(direction) == HOLDS


def test_reversed_numbers_contradict_the_claims_given_enough_test_videos():
    reversed_ = as_paper()
    reversed_["data"] = reversed_["data"].map({"K400": "SSv2", "SSv2": "K400"})
    reversed_["videos"] = 2000
    found = {c.key: c for c in chapter.claims(reversed_)}
    assert found["non_contrastive_from_ssv2"].estimate.value < 0
    assert found["non_contrastive_from_ssv2"].estimate.n == 2000
    assert found["best_on_appearance"].verdict == CONTRADICTED
    directions = chapter.direction_table(reversed_)
    assert not directions["agree"].any()
    context = {c.key: c for c in chapter.context_claims(reversed_)}
    assert context["paper_direction"].verdict == CONTRADICTED
    assert context["paper_direction"].estimate.value == pytest.approx(
        -chapter.direction_table(as_paper())["paper: SSv2 - K400"].abs().mean()
    )


def test_scale_facts_without_a_shared_cell_are_empty():
    comparison = pd.DataFrame({"paper": [50.0, None], "reproduced": [None, 30.0], "difference": [None, None]})
    facts = chapter.scale_facts(comparison)
    assert facts["cells"] == 0 and pd.isna(facts["mean difference"])


def test_gap_is_in_minus_out_of_distribution():
    values = {cell: 10.0 for cell in CELLS}
    values[("vcop", "SSv2", "motion")] = 25.0  # in distribution for motion
    values[("cvrl", "SSv2", "appearance")] = 30.0  # out of distribution for appearance
    gaps = chapter.gap_table(constructed(values)).set_index(["task", "target_kind"])
    assert gaps.loc[("vcop", "motion"), "gap"] == 15.0
    assert gaps.loc[("cvrl", "appearance"), "gap"] == -20.0
    assert gaps.loc[("cvrl", "appearance"), "in-distribution data"] == "K400"
    helps = {c.key: c for c in chapter.context_claims(constructed(values))}["in_distribution_helps"]
    assert helps.estimate.value == pytest.approx((15.0 - 20.0) / 8) and helps.verdict == INCONCLUSIVE


def test_scratch_claims_average_over_the_models():
    values = {cell: 20.0 for cell in CELLS}
    values[("rspnet", "K400", "motion")] = 50.0
    scratch = pd.DataFrame(
        {
            "target_kind": ["appearance", "motion"],
            "target": ["a", "m"],
            "protocol": "linear",
            "top1": [30.0, 30.0],
            "videos": [400, 400],
        }
    )
    accuracy = constructed(values).assign(videos=400)
    found = {c.key: c for c in chapter.context_claims(accuracy, scratch)}
    assert found["pretraining_beats_scratch_appearance"].estimate.value == pytest.approx(-10.0)
    assert found["pretraining_beats_scratch_appearance"].verdict == CONTRADICTED
    assert found["pretraining_beats_scratch_motion"].estimate.value == pytest.approx((7 * -10.0 + 20.0) / 8)


def test_retrieval_claims_reject_unmeasured_k():
    retrieval = pd.DataFrame(
        {"task": ["vcop"], "data": ["K400"], "target_kind": ["motion"], "target": ["m"], "k": [1], "hit": [5.0]}
    )
    with pytest.raises(ValueError, match="measured k: 1"):
        chapter.retrieval_claims(retrieval, k=5)
    assert {c.key for c in chapter.retrieval_claims(retrieval, k=1)} >= {"best_on_motion_hit1"}


def test_a_best_shared_by_both_pools_is_no_win():
    values = {cell: 10.0 for cell in CELLS}
    values[("vcop", "K400", "motion")] = values[("vcop", "SSv2", "motion")] = 40.0
    found = {c.key: c for c in chapter.claims(constructed(values))}
    assert found["best_on_motion"].estimate.value == 0.0 and found["best_on_motion"].verdict == INCONCLUSIVE
    assert found["non_contrastive_from_ssv2"].estimate.value == 0.0, "ties are not wins"


def test_smoke_figures_draw_every_panel(smoke_chapter):
    import matplotlib.pyplot as plt

    _, accuracy, retrieval = smoke_chapter
    figure = chapter.structure_figure(accuracy)
    assert len(figure.axes) == 2, "one task: a paper panel and ours"
    curves = chapter.retrieval_curves(retrieval)
    assert len(curves.axes) == 2 and len(curves.axes[1].lines) == 2
    plt.close(figure)
    plt.close(curves)
