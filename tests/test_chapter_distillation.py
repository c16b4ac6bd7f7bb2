"""Chapter "Knowledge distillation": paper-shaped tables, sentences worded by the numbers, the paper
comparisons, and one real pass through the smallest runs at the smoke profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sslvid.analysis.claims import CELLS, HOLDS, INCONCLUSIVE, NOT_MEASURED, PAIRED_VIDEOS, UNPAIRED_VIDEOS, VIDEOS
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import distillation as ch
from sslvid.experiments.study import Study
from sslvid.store.outcomes import VideoOutcomes
from sslvid.store.paper_tables import PAPER_TABLES, load_paper_table
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore


def _study(tmp_path: Path) -> Study:
    return Study(
        "smoke",
        device="cpu",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def _t8(student: dict[str, float], alone: float = 50.0, target: str = "appearance") -> pd.DataFrame:
    """Constructed Table 8 results: teachers at 40 / 45 %, the given student per subset."""
    rows = []
    for subset, value in student.items():
        rows += [
            {"model": "teacher_shufflenet", "subset": subset, "target": target, "top1": 40.0},
            {"model": "teacher_r21d", "subset": subset, "target": target, "top1": 45.0},
            {"model": "student_shufflenet", "subset": subset, "target": target, "top1": value},
        ]
    rows.append({"model": "student_alone", "subset": None, "target": target, "top1": alone})
    return pd.DataFrame(rows)


def test_table8_has_the_papers_rows_and_subset_columns_in_order() -> None:
    table = ch.table8(_t8({"50k": 60.0, "10k": 55.0}))
    assert list(table.index) == ["teacher_shufflenet", "teacher_r21d", "student_shufflenet", "student_alone"]
    assert list(table.columns) == [("appearance", "10k"), ("appearance", "50k")]
    assert table.loc["student_alone"].tolist() == [50.0, 50.0]


def test_table8_claims_average_over_subsets() -> None:
    found = {c.key: c for c in ch.table8_claims(_t8({"10k": 55.0, "50k": 60.0}))}
    beats = found["student_beats_teachers_appearance"]
    assert beats.estimate.value == pytest.approx(12.5) and beats.estimate.n == 2 and beats.verdict == HOLDS
    mixed = {c.key: c for c in ch.table8_claims(_t8({"10k": 44.0, "50k": 60.0}, alone=58.0))}
    assert mixed["student_beats_teachers_appearance"].estimate.value == pytest.approx(7.0)
    assert mixed["student_beats_teachers_appearance"].verdict == INCONCLUSIVE  # -1 and +15: undecided
    assert mixed["distillation_helps_appearance"].estimate.value == pytest.approx(-6.0)
    one = {c.key: c for c in ch.table8_claims(_t8({"10k": 46.0}))}["student_beats_teachers_appearance"]
    assert one.estimate.value == pytest.approx(1.0) and one.verdict == INCONCLUSIVE  # one point, one seed


def test_table8_comparison_covers_every_paper_cell() -> None:
    frame = ch.table8_comparison(_t8({"10k": 55.0, "30k": 70.0}))
    paper = load_paper_table("benchmark_t8_kd_subsets_rspnet")
    assert len(frame) == 2 * len(paper)  # UCF101 and HMDB51 columns, every cell once
    ucf = frame[frame["metric"] == "ucf101_top1"].set_index(["model", "subset"])
    assert ucf.loc[("student_shufflenet", "30k"), "reproduced"] == 70.0
    assert ucf.loc[("student_shufflenet", "30k"), "difference"] == pytest.approx(70.0 - 94.6)
    assert (
        ucf["reproduced"].notna().sum() == 6 and frame.loc[frame["metric"] == "hmdb51_top1", "reproduced"].isna().all()
    )


def test_graph_claims_and_comparison() -> None:
    results = pd.DataFrame(
        {
            "method": ["kd", "graph_logits", "graph_features", "graph"],
            "row": [ch.GRAPH_ROWS[m] for m in ("kd", "graph_logits", "graph_features", "graph")],
            "top1": [50.0, 52.0, 48.0, 49.0],
        }
    )
    (claim,) = ch.graph_claims(results)
    assert claim.estimate.value == pytest.approx((2.0 - 2.0 - 1.0) / 3) and claim.verdict == INCONCLUSIVE
    assert ch.graph_claims(results.iloc[1:])[0].verdict == NOT_MEASURED
    frame = ch.graph_comparison(results)
    assert set(frame["metric"]) == {"ucf101_acc", "hmdb51_acc", "ccv_map"}
    ucf = frame[frame["metric"] == "ucf101_acc"].set_index("method")
    assert ucf.loc["G_l+G_r", "reproduced"] == 49.0 and pd.isna(ucf.loc["model fusion", "reproduced"])


def test_pcl_claim_reads_the_last_epoch() -> None:
    curves = pd.DataFrame(
        {
            "run": ["PCL alone"] * 3 + ["PCL + KD"] * 3,
            "epoch": [1, 2, 3] * 2,
            "hit@1": [20.0, 30.0, 40.0, 35.0, 42.0, 45.0],
        }
    )
    (claim,) = ch.pcl_claims(curves)
    assert claim.estimate.value == pytest.approx(5.0) and claim.verdict == INCONCLUSIVE  # one run each
    assert ch.pcl_claims(curves.iloc[:3])[0].verdict == NOT_MEASURED


def test_pcl_claim_compares_the_runs_paired_over_test_videos() -> None:
    """The last epoch's per-video hits of both runs give the difference an interval over the test videos."""
    videos = [f"v{i:03d}" for i in range(300)]
    rng = np.random.default_rng(0)
    alone = rng.random(300) < 0.4
    taught = alone.copy()
    taught[np.flatnonzero(~alone)[:30]] = True  # right wherever PCL alone is, and on 30 more videos
    hits = {
        "h-alone": VideoOutcomes.of("h-alone", "video_hit@1", videos, alone.tolist(), "video_hit@1"),
        "h-kd": VideoOutcomes.of("h-kd", "video_hit@1", videos[1:], taught[1:].tolist(), "video_hit@1"),
    }
    asked: list[tuple[str, str]] = []

    def outcomes(key: str, condition: str) -> VideoOutcomes | None:
        asked.append((key, condition))
        return hits.get(key)

    curves = pd.DataFrame(
        {
            "run": ["PCL alone"] * 2 + ["PCL + KD"] * 2,
            "epoch": [1, 2] * 2,
            "hit@1": [20.0, 30.0, 25.0, 41.0],
            "config_hash": ["h-alone"] * 2 + ["h-kd"] * 2,
        }
    )
    (claim,) = ch.pcl_claims(curves, outcomes)
    assert sorted(asked) == [("h-alone", "video_hit@1"), ("h-kd", "video_hit@1")]
    est = claim.estimate
    assert est.n == 299 and est.method == "paired bootstrap over 299 shared test videos (1 not in every run)"
    assert est.value == pytest.approx((taught[1:].mean() - alone[1:].mean()) * 100)
    assert est.low > 0 and claim.verdict == HOLDS and "of the test videos" in claim.quantity
    missing = ch.pcl_claims(curves, lambda key, condition: None)[0]
    assert (missing.estimate.value, missing.estimate.method, missing.verdict) == (11.0, ch.PCL_UNPAIRED, INCONCLUSIVE)
    assert ch.pcl_claims(curves.drop(columns=["config_hash"]), outcomes)[0].estimate.n == 1


def test_skd_claims_and_comparisons() -> None:
    results = pd.DataFrame(
        {
            "method": ["independent", "skd_srl", "kd"],
            "mechanism": ["baseline", "SKD-SRL", "KD"],
            "teacher": ["none", "itself", "r2plus1d_18"],
            "backbone": ["shufflenet3d"] * 3,
            "top1": [50.0, 47.0, 52.0],
        }
    )
    (claim,) = ch.skd_claims(results)
    assert claim.estimate.value == pytest.approx(-3.0) and claim.verdict == INCONCLUSIVE  # no interval
    table1 = ch.skd_comparison(results)
    ours = table1[(table1["metric"] == "ucf101_top1") & (table1["backbone"] == "shufflenet3d")]
    assert len(ours) == 2 and ours["paper"].isna().all()  # another network: rows of its own
    as_r18 = ch.skd_comparison(results.assign(backbone="r3d_18"))
    cells = as_r18[(as_r18["metric"] == "ucf101_top1") & (as_r18["method"] == "skd_srl")].set_index("backbone")
    assert cells.loc["resnet18_3d", "reproduced"] == 47.0 and pd.isna(cells.loc["resnet50_3d", "reproduced"])
    assert "r3d_18" not in set(as_r18["backbone"])
    table2 = ch.skd_mechanism_comparison(results).set_index(["mechanism", "teacher"])
    assert table2.loc[("baseline", "none"), "reproduced"] == 50.0
    assert pd.isna(table2.loc[("KD", "resnet50_3d"), "reproduced"])


def test_group_claims_compare_the_student_with_its_best_teacher() -> None:
    groups = pd.DataFrame(
        {
            "group": ["g1"] * 3,
            "kind": ["complexity"] * 3,
            "role": ["teacher", "teacher", "student"],
            "model": ["a", "b", "s"],
            "top1": [30.0, 40.0, 35.0],
        }
    )
    (claim,) = ch.group_claims(groups)
    assert claim.estimate.value == pytest.approx(-5.0) and claim.verdict == INCONCLUSIVE  # one group: no interval
    assert ch.group_claims(groups.iloc[0:0])[0].verdict == NOT_MEASURED


def test_bad_knobs_raise_with_the_valid_names(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ValueError, match="10k, 30k, 50k, 100k"):
        ch.check_subsets(["20k"])
    with pytest.raises(ValueError, match="valid: complexity/rotnet/shufflenet3d"):
        ch.check_groups(study, ["nope"])
    assert ch.check_groups(study, ["dataset/vcop"])["dataset/vcop"]["student"] == ch.STUDENT
    assert len(ch.group_definitions(study)["category/contrastive"]["teachers"]) == 2
    with pytest.raises(ValueError, match=r"rows of Table 2\) \[.aekd.\]; valid: fusion"):
        ch.graph_results(study, "50k", ["aekd"])
    with pytest.raises(ValueError, match="valid: independent"):
        ch.skd_results(study, ["graph"], "50k")
    with pytest.raises(ValueError, match="valid: teacher_subsets"):
        ch.paper_comparisons(study, nope=1)
    assert ch.chapter_epochs("micro") == 5 and ch.chapter_epochs("micro", "pcl", 7) == 7
    with pytest.raises(ValueError, match=">= 1"):
        ch.chapter_epochs("smoke", epochs=0)


def test_paper_comparisons_from_real_smoke_runs(tmp_path: Path) -> None:
    study = _study(tmp_path)
    comparisons = ch.paper_comparisons(
        study, teacher_subsets=("10k",), graph_subset="10k", graph_methods=("fusion",), skd_methods=("independent",)
    )
    assert (
        set(comparisons)
        == {
            "benchmark_t8_kd_subsets_rspnet",
            "graphkd_t2_ablation",
            "graphkd_t1_sota",
            "skdsrl_t1_baseline",
            "skdsrl_t2_mechanisms_ucf101_r18",
        }
        <= set(PAPER_TABLES)
    )
    t8 = comparisons["benchmark_t8_kd_subsets_rspnet"]
    ours = t8[(t8["metric"] == "ucf101_top1") & (t8["subset"] == "10k")]
    assert ours["reproduced"].between(0, 100).all() and (ours["n"] == 1).all()
    fusion = comparisons["graphkd_t2_ablation"].set_index(["metric", "method"])
    assert 0 <= fusion.loc[("ucf101_acc", "model fusion"), "reproduced"] <= 100
    assert (
        comparisons["graphkd_t1_sota"].set_index(["metric", "method"]).loc[("ucf101_acc", "AlexNet random init"), "n"]
        == 1
    )
    again = ch.paper_comparisons(
        study, teacher_subsets=("10k",), graph_subset="10k", graph_methods=("fusion",), skd_methods=("independent",)
    )
    pd.testing.assert_frame_equal(again["benchmark_t8_kd_subsets_rspnet"], t8)  # read back from the stores


# ---------------------------------------------------------------------- paired claims and their evidence

TEST_VIDEOS = [f"v{i:03d}" for i in range(300)]


def _with_evidence(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the chapter builds it: each run's test videos (300) and config hash."""
    keys = [f"{r.model if 'model' in frame else r.method}-{getattr(r, 'subset', '')}" for r in frame.itertuples()]
    return frame.assign(videos=300.0, config_hash=keys)


def _outcomes(frame: pd.DataFrame) -> dict[str, VideoOutcomes]:
    """Each run right on the first ``3 * top1`` of the same 300 videos: nested, so strongly correlated."""
    return {
        r.config_hash: VideoOutcomes.of(r.config_hash, "top1_video", TEST_VIDEOS, [i < 3 * r.top1 for i in range(300)])
        for r in frame.itertuples()
    }


def test_table8_claims_are_paired_where_every_run_kept_its_outcomes() -> None:
    t8 = _with_evidence(_t8({"10k": 47.0, "50k": 48.0}, alone=46.0))
    kept = _outcomes(t8)
    paired = {c.key: c for c in ch.table8_claims(t8, kept.get)}
    unpaired = {c.key: c for c in ch.table8_claims(t8)}
    for key in ("student_beats_teachers_appearance", "distillation_helps_appearance"):
        assert paired[key].estimate.value == pytest.approx(unpaired[key].estimate.value)
        assert (paired[key].estimate.method, paired[key].estimate.n) == (PAIRED_VIDEOS, 300)
        assert unpaired[key].estimate.method == VIDEOS
    assert paired["student_beats_teachers_appearance"].estimate.value == pytest.approx(2.5)
    assert paired["student_beats_teachers_appearance"].verdict == HOLDS, "nested outcomes: the gain is certain"
    assert unpaired["student_beats_teachers_appearance"].verdict == INCONCLUSIVE, "2.5 points on 300 videos"
    partly = {k: v for k, v in kept.items() if k != "teacher_r21d-50k"}
    fallback = {c.key: c for c in ch.table8_claims(t8, partly.get)}["student_beats_teachers_appearance"]
    assert fallback.estimate.method == UNPAIRED_VIDEOS
    assert fallback.estimate.low == unpaired["student_beats_teachers_appearance"].estimate.low
    old = {c.key: c for c in ch.table8_claims(_t8({"10k": 47.0, "50k": 48.0}), kept.get)}
    assert old["student_beats_teachers_appearance"].estimate.method == CELLS, "frames without counts: over subsets"


def test_the_other_student_claims_take_the_paired_bootstrap_too() -> None:
    graph = _with_evidence(pd.DataFrame({"method": ["kd", "graph_logits", "graph"], "top1": [40.0, 42.0, 43.0]}))
    skd = _with_evidence(pd.DataFrame({"method": ["independent", "skd_srl"], "top1": [30.0, 33.0]}))
    groups = _with_evidence(
        pd.DataFrame(
            {
                "group": ["g", "g", "g"],
                "kind": "complexity",
                "role": ["teacher", "teacher", "student"],
                "model": ["t1", "t2", "s"],
                "top1": [40.0, 44.0, 47.0],
            }
        )
    )
    for claim_of, frame, value in (
        (ch.graph_claims, graph, 2.5),
        (ch.skd_claims, skd, 3.0),
        (ch.group_claims, groups, 3.0),
    ):
        (paired,) = claim_of(frame, _outcomes(frame).get)
        (unpaired,) = claim_of(frame, {}.get)
        assert paired.estimate.value == pytest.approx(value) == pytest.approx(unpaired.estimate.value)
        assert (paired.estimate.method, unpaired.estimate.method) == (PAIRED_VIDEOS, UNPAIRED_VIDEOS)
        assert paired.verdict == HOLDS


def test_the_evidence_counts_each_run_once_with_its_test_videos() -> None:
    t8 = _with_evidence(_t8({"10k": 47.0, "50k": 48.0}))
    skd = _with_evidence(pd.DataFrame({"method": ["independent", "skd_srl"], "top1": [30.0, 31.0]}))
    facts = ch.evidence_facts(t8, t8, skd)
    assert facts == {"seeds": 1, "models": len(t8) + 2, "test_videos": 300}
    mixed = ch.evidence_facts(t8, skd.assign(videos=[150.0, 300.0]))
    assert mixed["test_videos"] == "150-300"
    assert ch.evidence_facts(_t8({"10k": 47.0}), pd.DataFrame())["test_videos"] == "not recorded"
    assert ch.evidence_facts()["models"] == 0
