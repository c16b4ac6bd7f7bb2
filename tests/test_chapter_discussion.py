"""Chapter 10 (discussion): collecting the chapters' comparisons, agreement statistics and the paper's claims.

Every test builds its own tables; the other chapters are stood in for by small objects.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sslvid.analysis.claims import (
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    Claim,
    printed_verdict,
)
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import discussion as chapter
from sslvid.experiments.study import Study
from sslvid.store.errors import NotCachedError
from sslvid.store.paper_tables import list_paper_tables, load_paper_table
from sslvid.store.results import ResultsStore, paper_vs_reproduced
from sslvid.store.runs import RunStore

T1 = "benchmark_t1_pretext_k400_50k"
T2 = "benchmark_t2_subset_size_r21d"
T6 = "benchmark_t6_ood_r21d_30k"
T7 = "benchmark_t7_noise_ucf101"
T8 = "benchmark_t8_kd_subsets_rspnet"


@pytest.fixture
def study(tmp_path) -> Study:
    return Study(
        "smoke",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def paper_tables() -> dict[str, pd.DataFrame]:
    """Every table with NaN reproduced values."""
    return {name: chapter.empty_comparison(name) for name in list_paper_tables()}


def with_reproduced(table: str, values: dict[tuple, float], metric: str | None = None) -> pd.DataFrame:
    """The NaN frame of ``table`` with ``reproduced`` set at the given key tuples (the table's key order)."""
    frame = chapter.empty_comparison(table)
    keys = chapter.paper_table_info(table).keys
    for key, value in values.items():
        mask = np.logical_and.reduce([frame[k] == v for k, v in zip(keys, key)])
        if metric is not None:
            mask &= frame["metric"] == metric
        assert mask.sum() >= 1, key
        frame.loc[mask, "reproduced"] = value
    frame["difference"] = frame["reproduced"] - frame["paper"]
    return frame


def t1_chapter_frame() -> pd.DataFrame:
    """What chapter 2 would return for Table 1: ``paper_vs_reproduced`` of two of our rows."""
    ours = pd.DataFrame(
        {"backbone": ["r2plus1d_18", "shufflenet3d"], "pretext": ["rspnet", "rspnet"], "value": [40.0, 30.0]}
    )
    return paper_vs_reproduced(
        load_paper_table(T1),
        ours,
        on=["backbone", "pretext"],
        paper_value="ucf101_top1",
        rename={"backbone": {"r2plus1d_18": "r21d", "shufflenet3d": "shufflenet_v1_2x"}},
    )


# ---------------------------------------------------------------------- collecting


def test_collect_reads_uncached_chapters_as_missing_and_lets_bugs_fail(study):
    def uncached(_study):
        raise RuntimeError("wrapped") from NotCachedError("run abc is not complete")

    def broken(_study):
        raise ZeroDivisionError("boom")

    chapters = {
        "2. Preliminaries": SimpleNamespace(paper_comparisons=lambda s: {T1: t1_chapter_frame()}),
        "3. Subset size and duration": SimpleNamespace(paper_comparisons=uncached),
    }
    with pytest.raises(ZeroDivisionError):
        chapter.collect_comparisons(
            study, {**chapters, "6. Noise robustness": SimpleNamespace(paper_comparisons=broken)}
        )
    collected = chapter.collect_comparisons(study, chapters)
    assert list(collected.tables) == list_paper_tables()
    status = collected.chapters.set_index("chapter")["status"].to_dict()
    assert status == {"2. Preliminaries": "ok", "3. Subset size and duration": "results missing"}
    t1 = collected.tables[T1].set_index(["backbone", "pretext"])
    assert t1.loc[("r21d", "rspnet"), "reproduced"] == 40.0
    assert t1.loc[("r21d", "rspnet"), "difference"] == pytest.approx(40.0 - 78.0)
    assert t1["reproduced"].notna().sum() == 2
    assert collected.tables[T2]["reproduced"].isna().all()
    assert len(collected.tables[T2]) == len(load_paper_table(T2))
    assert "Subset size" in collected.notes[T2] and "results missing" in collected.notes[T2]
    assert "Noise robustness" in collected.notes[T7] and "not collected" in collected.notes[T7]
    assert "not collected" in collected.notes["benchmark_t9_sota"]
    status_table = chapter.comparison_status(collected).set_index("table")
    assert status_table.loc[T1, "reproduced"] == 2
    assert status_table.loc[T2, "reproduced"] == 0


def test_cached_only_study_trains_nothing(study, tmp_path):
    point = {"task": "rotnet", "backbone": "shufflenet3d"}
    reader = study.cached_only()
    with pytest.raises(NotCachedError):
        reader.pretrain(point)
    with pytest.raises(NotCachedError):
        reader.evaluate(point, "appearance")
    assert reader.store.find(study.pretrain_config(point)) is None
    assert not any((tmp_path / "runs").glob("*/final.pt"))


def test_normalise_infers_the_metric_of_a_two_value_table():
    paper = load_paper_table(T7)
    ours = pd.DataFrame({"backbone": ["r21d"], "pretext": ["rotnet"], "value": [5.0]})
    frame = paper_vs_reproduced(paper, ours, on=["backbone", "pretext"], paper_value="relative_drop_pct")
    normal = chapter.normalise_comparison(T7, frame)
    assert set(normal["metric"]) == {"relative_drop_pct"}
    with pytest.raises(ValueError, match="reproduced"):
        chapter.normalise_comparison(T7, frame.drop(columns=["reproduced"]))


# ---------------------------------------------------------------------- agreement


def test_agreement_statistics_on_a_constructed_table():
    table = "benchmark_t4_epochs_r21d_50k"
    frame = chapter.empty_comparison(table)
    frame["reproduced"] = frame["paper"] + 2.0  # same order, shifted
    frame["difference"] = frame["reproduced"] - frame["paper"]
    (row,) = chapter.agreement(table, frame)
    assert row["spearman"] == pytest.approx(1.0)
    assert row["sign agreement"] == pytest.approx(1.0)
    assert row["mean difference"] == pytest.approx(2.0)
    assert row["pairs"] == 6 * 6  # six tasks, four epochs each: 6 pairs per task
    frame["reproduced"] = -frame["paper"]
    (row,) = chapter.agreement(table, frame)
    assert row["spearman"] == pytest.approx(-1.0)
    assert row["sign agreement"] == pytest.approx(0.0)


def test_agreement_of_an_unreproduced_table_is_nan_and_not_measured():
    agree = chapter.agreement_table(paper_tables())
    assert set(agree["table"]) == set(list_paper_tables())
    assert (agree["reproduced"] == 0).all() and agree["spearman"].isna().all()
    assert (agree["verdict"] == NOT_MEASURED).all()
    facts = chapter.agreement_facts(agree)
    assert (facts["tables measured"], facts["cells reproduced"], facts[NOT_MEASURED]) == (0, 0, len(agree))
    assert chapter.agreement_figure(paper_tables()) is None


def test_agreement_verdicts_carry_their_uncertainty():
    tables = paper_tables()
    t4 = "benchmark_t4_epochs_r21d_50k"
    frame = tables[t4]
    tables[t4] = frame.assign(reproduced=-frame["paper"], difference=-2 * frame["paper"])
    agree = chapter.agreement_table(tables).set_index("table")
    assert agree.loc[t4, "spearman"] == pytest.approx(-1.0) and agree.loc[t4, "verdict"] == CONTRADICTED
    assert agree.loc[t4, "rho high"] < 0
    facts = chapter.agreement_facts(agree.reset_index())
    assert (facts["tables measured"], facts["pairs agreeing"], facts[CONTRADICTED]) == (1, 0.0, 1)
    # three cells ordered as the paper's: rho 1, but 1 of 3! orderings gives p = 1/6, which decides nothing
    # the paper: 46.3 < 50.4 < 51.5
    few = with_reproduced(T2, {("10k", "vcop"): 1.0, ("30k", "vcop"): 2.0, ("50k", "vcop"): 3.0})
    claim = chapter.agreement_claim(T2, "ucf101_top1", few)
    assert claim.estimate.value == pytest.approx(1.0) and claim.estimate.p_greater == pytest.approx(1 / 6)
    assert claim.verdict == INCONCLUSIVE


# ---------------------------------------------------------------------- claims


def test_claims_on_the_papers_numbers():
    on_paper = chapter.claims_on_paper(paper_tables()).set_index("claim")
    assert on_paper.loc["noise_contrastive", "paper's numbers"] == CONTRADICTED  # its own Table 7 contradicts it
    assert on_paper.loc["ood_data_matters", "paper's numbers"] == HOLDS
    assert on_paper.loc["transformer_more_data", "paper's numbers"] == NOT_MEASURED
    ours = chapter.check_claims(paper_tables())
    assert len(ours) == 12 and {c.verdict for c in ours} == {NOT_MEASURED}
    assert all(c.reason for c in ours)


def verdict_of(measure, tables, threshold=0.0, direction=">"):
    """The verdict of a measure's quantity read as "above ``threshold``" (or below)."""
    got = measure(tables)
    estimate, reason = (None, got) if isinstance(got, str) else (got, "")
    return Claim(
        "k", "discussion", "s", "benchmark2023", "§", "q", direction, threshold, estimate, reason=reason
    ).verdict


def test_ood_claims_single_cells_have_no_interval():
    good = {
        T6: with_reproduced(
            T6,
            {
                ("ucf101", "k400", "rspnet"): 60.0,
                ("ucf101", "ssv2", "rspnet"): 50.0,
                ("diving48", "k400", "rotnet"): 20.0,
                ("diving48", "ssv2", "rotnet"): 30.0,
            },
        )
    }
    margin = chapter.measure_ood_data(good)
    assert margin.value == pytest.approx(10.0) and not margin.has_interval
    assert verdict_of(chapter.measure_ood_data, good) == INCONCLUSIVE  # one cell per side decides nothing
    assert printed_verdict(Claim("k", "d", "s", "p", "§", "q", estimate=margin)) == HOLDS
    assert "lacks" in chapter.measure_ood_data({})
    kind = chapter.measure_ood_task_kind(good)
    assert kind.value == pytest.approx(10.0) and kind.n == 2  # rspnet +10 from K400, rotnet +10 from SSv2


def test_subset_claims():
    rising = {
        ("10k", "vcop"): 10.0,
        ("30k", "vcop"): 20.0,
        ("50k", "vcop"): 21.0,
        ("10k", "prp"): 10.0,
        ("30k", "prp"): 19.0,
        ("50k", "prp"): 20.0,
        ("10k", "tdl"): 10.0,
        ("30k", "tdl"): 21.0,
        ("50k", "tdl"): 21.5,
    }
    est = chapter.measure_subset_30k({T2: with_reproduced(T2, rising)})
    assert est.value == pytest.approx(np.mean([9.0, 8.0, 10.5])) and est.n == 3 and est.low > 0
    assert verdict_of(chapter.measure_subset_30k, {T2: with_reproduced(T2, rising)}) == HOLDS
    falling = {
        ("10k", "vcop"): 20.0,
        ("50k", "vcop"): 10.0,
        ("10k", "tdl"): 20.0,
        ("50k", "tdl"): 10.0,
        ("10k", "prp"): 1.0,
        ("50k", "prp"): 5.0,
    }
    est = chapter.measure_more_data({T2: with_reproduced(T2, falling)})
    assert est.value == pytest.approx((-10 - 10 + 4) / 3) and est.low < 0


def test_transformer_claim_reads_extra_rows():
    t3 = "benchmark_t3_rspnet_subset_epochs"
    frame = with_reproduced(
        t3, {("200", "10k", "r21d"): 10.0, ("200", "30k", "r21d"): 20.0, ("200", "100k", "r21d"): 21.0}
    )
    swin = pd.DataFrame(
        {
            "epochs": "200",
            "subset": ["10k", "30k", "100k"],
            "backbone": "swin3d_t",
            "metric": "ucf101_top1",
            "paper": np.nan,
            "reproduced": [5.0, 10.0, 20.0],
        }
    )
    est = chapter.measure_transformer_more_data({t3: pd.concat([frame, swin], ignore_index=True)})
    assert est.value == pytest.approx(9.0) and not est.has_interval  # one series each: no interval
    assert isinstance(chapter.measure_transformer_more_data({t3: frame}), str)


def test_epoch_claim_uses_its_threshold():
    t4 = "benchmark_t4_epochs_r21d_50k"
    tables = {
        t4: with_reproduced(
            t4,
            {
                ("100", "vcop"): 10.0,
                ("200", "vcop"): 12.0,
                ("100", "prp"): 10.0,
                ("200", "prp"): 12.5,
                ("100", "tdl"): 10.0,
                ("200", "tdl"): 12.2,
            },
        )
    }
    est = chapter.measure_epochs_gain(tables)
    assert est.value == pytest.approx(2.2) and est.high <= 2.5
    claims = {c.key: c for c in chapter.make_claims(epoch_gain_threshold=3.0)}
    assert claims["epochs_100_150"].check(tables).verdict == HOLDS
    assert {c.key: c for c in chapter.make_claims(1.5)}["epochs_100_150"].check(tables).verdict == CONTRADICTED


def test_noise_kd_and_architecture_claims():
    noise = {
        T7: with_reproduced(
            T7,
            {
                ("r21d", "rotnet"): 50.0,
                ("r21d", "cvrl"): 10.0,
                ("shufflenet_v1_2x", "rotnet"): 20.0,
                ("shufflenet_v1_2x", "cvrl"): 20.0,
            },
            metric="relative_drop_pct",
        )
    }
    contrastive = chapter.measure_noise_contrastive(noise)
    assert contrastive.value == pytest.approx(15.0 - 35.0)
    backbone = chapter.measure_noise_backbone(noise)
    assert backbone.value == pytest.approx((30.0 - 10.0) / 2) and backbone.n == 2
    kd = {
        T8: with_reproduced(
            T8,
            {("teacher_shufflenet", "10k"): 30.0, ("teacher_r21d", "10k"): 40.0, ("student_shufflenet", "10k"): 35.0},
            metric="ucf101_top1",
        )
    }
    assert chapter.measure_kd_student(kd).value == pytest.approx(-5.0)
    arch = {
        T1: with_reproduced(
            T1,
            {
                ("shufflenet_v1_2x", "rspnet"): 50.0,
                ("r21d", "rspnet"): 40.0,
                ("shufflenet_v1_2x", "vcop"): 10.0,
                ("r21d", "vcop"): 20.0,
            },
        )
    }
    assert chapter.measure_small_matches_big(arch).value == pytest.approx(10.0)
    assert chapter.measure_task_families(arch).value == pytest.approx(1.0)  # vcop (temporal) vs rspnet


def test_book_claims_come_from_the_store(study):
    from sslvid.analysis.claims import Estimate, record_claims

    recorded = [Claim("a", "preliminaries", "s", "benchmark2023", "§4.1", "q", estimate=Estimate(1.0, 0.5, 1.5, 3))]
    record_claims(study.claims, study.profile, "preliminaries", recorded)
    assert chapter.book_claims(study) == recorded
    assert chapter.book_claims(study.cached_only()) == recorded


# ---------------------------------------------------------------------- scale and entry point


def test_scale_notes_and_setup_read_the_profile(study):
    notes = chapter.scale_notes(study)
    assert list(notes["table"]) == list_paper_tables()
    assert notes["what differs"].str.contains("4x32x32 clips at width 0.125").all()
    assert notes["what differs"].str.contains("16x112x112").all()
    setup = chapter.setup_table(study).set_index("aspect")
    assert setup.loc["clip (frames x height x width)", "paper"] == "16x112x112"
    assert setup.loc["evaluation protocol", "here (smoke)"] == "linear"
    collected = chapter.collect_comparisons(
        study, {"2. Preliminaries": SimpleNamespace(paper_comparisons=lambda s: {T1: t1_chapter_frame()})}
    )
    heading = chapter.table_heading(T1, collected, notes)
    assert heading.startswith("### Benchmark Table 1") and "2 of 12 cells" in heading


def test_micro_scale_notes_name_the_longer_runs_where_a_chapter_has_them():
    notes = chapter.scale_notes(Study("micro")).set_index("table")["what differs"]
    assert "rotnet 8/2, prp 8/2" in notes["benchmark_t1_pretext_k400_50k"]
    assert "rotnet 8/2" not in notes["lightweight_t1_stl10"], "the lightweight grid keeps one length"
    assert "task rotnet, prp only; backbone r2plus1d_18 only" in notes["benchmark_t5_task_complexity"]
    assert "only" not in notes["benchmark_t1_pretext_k400_50k"]
    setup = chapter.setup_table(Study("micro")).set_index("aspect")
    assert setup.loc["pre-training epochs", "here (micro)"].startswith("4 (checkpoint every 1")


def test_paper_comparisons_covers_every_table(study):
    tables = chapter.paper_comparisons(study, chapters={})
    assert list(tables) == list_paper_tables()
    for frame in tables.values():
        assert {"paper", "reproduced", "n", "difference", "metric"} <= set(frame.columns)


def test_normalise_reads_a_metric_column_under_another_name():
    paper = load_paper_table(T8)
    ours = pd.DataFrame({"model": ["student_shufflenet"], "subset": ["10k"], "top1": [50.0]})
    frames = [
        paper_vs_reproduced(
            paper, ours if column == "ucf101_top1" else ours.iloc[0:0], ["model", "subset"], column, value="top1"
        ).assign(column=column)
        for column in ("ucf101_top1", "hmdb51_top1")
    ]
    normal = chapter.normalise_comparison(T8, pd.concat(frames, ignore_index=True))
    measured = normal.dropna(subset=["reproduced"])
    assert list(measured["metric"]) == ["ucf101_top1"]
    assert (normal.groupby("metric")["paper"].count() == 4 * 3).all()


def test_normalise_takes_a_text_column_of_value_names_over_inference():
    """A column of the table's value names (a pandas string column, as ``assign`` of a str makes) is the metric,
    even where the paper numbers would infer another one."""
    frame = pd.DataFrame({"model": ["student_shufflenet"], "subset": ["10k"], "paper": [999.0], "reproduced": [50.0]})
    normal = chapter.normalise_comparison(T8, frame.assign(column="hmdb51_top1"))
    assert list(normal["metric"]) == ["hmdb51_top1"]


def test_an_empty_frame_falls_back_to_the_papers_cells_and_an_unreadable_one_fails(study):
    chapters = {
        "8. Downstream tasks": SimpleNamespace(
            paper_comparisons=lambda s: {"benchmark_t9_sota": pd.DataFrame(), "not_a_paper_table": pd.DataFrame()}
        )
    }
    collected = chapter.collect_comparisons(study, chapters)
    assert collected.tables["benchmark_t9_sota"]["reproduced"].isna().all()
    assert "empty frame" in collected.notes["benchmark_t9_sota"]
    unreadable = {"2. Preliminaries": SimpleNamespace(paper_comparisons=lambda s: {T1: pd.DataFrame({"x": [1]})})}
    with pytest.raises(ValueError, match="no column"):
        chapter.collect_comparisons(study, unreadable)


def test_one_subset_series_decides_nothing():
    falling = {("10k", "vcop"): 20.0, ("30k", "vcop"): 15.0, ("50k", "vcop"): 5.0}
    claim = {c.key: c for c in chapter.make_claims()}["subset_30k"].check({T2: with_reproduced(T2, falling)})
    assert claim.estimate.value == pytest.approx(5.0) and claim.verdict == INCONCLUSIVE


def test_snapshot_results_store_reads_once_and_refuses_writes(tmp_path):
    path = tmp_path / "r.csv"
    ResultsStore(path).upsert([{"config_hash": "a", "task": "classify", "metric": "top1_video", "value": 50.0}])
    snapshot = ResultsStore(path, read_only=True)
    assert snapshot.has("a", "classify", ["top1_video"])
    ResultsStore(path).upsert([{"config_hash": "b", "task": "classify", "metric": "top1_video", "value": 60.0}])
    assert not snapshot.has("b", "classify", ["top1_video"])  # the snapshot was taken before
    mutated = snapshot.table()
    mutated.loc[0, "value"] = -1.0  # callers get a copy
    assert snapshot.rows("a")["value"].iloc[0] == 50.0
    with pytest.raises(NotCachedError):
        snapshot.upsert([{"config_hash": "c", "task": "classify", "metric": "top1_video", "value": 1.0}])
