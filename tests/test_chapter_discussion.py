"""Chapter 10 (discussion): collecting the chapters' comparisons, agreement statistics and the paper's claims.

Every test builds its own tables; the other chapters are stood in for by small objects.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

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
    return Study("smoke", store=RunStore(tmp_path / "runs"), results=ResultsStore(tmp_path / "r.csv"),
                 features=FeatureCache(tmp_path / "f"))


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
    ours = pd.DataFrame({"backbone": ["r2plus1d_18", "shufflenet3d"], "pretext": ["rspnet", "rspnet"],
                         "value": [40.0, 30.0]})
    return paper_vs_reproduced(load_paper_table(T1), ours, on=["backbone", "pretext"], paper_value="ucf101_top1",
                               rename={"backbone": {"r2plus1d_18": "r21d", "shufflenet3d": "shufflenet_v1_2x"}})


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
        chapter.collect_comparisons(study, {**chapters, "6. Noise robustness":
                                            SimpleNamespace(paper_comparisons=broken)})
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


def test_agreement_of_an_unreproduced_table_is_nan_and_the_summary_says_so():
    agree = chapter.agreement_table(paper_tables())
    assert set(agree["table"]) == set(list_paper_tables())
    assert (agree["reproduced"] == 0).all() and agree["spearman"].isna().all()
    assert "No paper table has reproduced numbers" in chapter.agreement_summary(agree)
    assert chapter.agreement_figure(paper_tables()) is None


def test_agreement_summary_words_disagreement():
    tables = paper_tables()
    frame = tables["benchmark_t4_epochs_r21d_50k"]
    tables["benchmark_t4_epochs_r21d_50k"] = frame.assign(reproduced=-frame["paper"], difference=-2 * frame["paper"])
    text = chapter.agreement_summary(chapter.agreement_table(tables))
    assert "1 of 15 paper tables" in text
    assert "0% come out the same way" in text and "less often than" in text


# ---------------------------------------------------------------------- claims


def test_claims_on_the_papers_numbers():
    checked = chapter.check_claims(paper_tables()).set_index("claim")
    assert checked.loc["noise_contrastive", "paper's numbers"] == chapter.FAILS  # its own Table 7 contradicts it
    assert checked.loc["ood_data_matters", "paper's numbers"] == chapter.HOLDS
    assert checked.loc["transformer_more_data", "paper's numbers"] == chapter.UNMEASURED
    assert (checked["our numbers"] == chapter.UNMEASURED).all()
    assert "12 could not be measured" in chapter.claims_summary(checked.reset_index())


def test_ood_claim_flips_with_the_numbers():
    good = {T6: with_reproduced(T6, {("ucf101", "k400", "rspnet"): 60.0, ("ucf101", "ssv2", "rspnet"): 50.0,
                                     ("diving48", "k400", "rotnet"): 20.0, ("diving48", "ssv2", "rotnet"): 30.0})}
    verdict = chapter.claim_ood_data_matters(good)
    assert verdict.verdict == chapter.HOLDS and "rotnet pre-trained on ssv2 (30.0)" in verdict.evidence
    bad = {T6: with_reproduced(T6, {("ucf101", "k400", "rspnet"): 40.0, ("ucf101", "ssv2", "rspnet"): 50.0,
                                    ("diving48", "ssv2", "rotnet"): 30.0})}
    assert chapter.claim_ood_data_matters(bad).verdict == chapter.FAILS
    assert chapter.claim_ood_data_matters({}).verdict == chapter.UNMEASURED
    kind = chapter.claim_ood_task_kind(good)
    assert kind.verdict == chapter.HOLDS and "2 of 2" in kind.evidence


def test_subset_claims():
    rising = {("10k", "vcop"): 10.0, ("30k", "vcop"): 20.0, ("50k", "vcop"): 21.0}
    verdict = chapter.claim_subset_30k({T2: with_reproduced(T2, rising)})
    assert verdict.verdict == chapter.HOLDS and "+10.0" in verdict.evidence and "+1.0" in verdict.evidence
    late = {("10k", "vcop"): 10.0, ("30k", "vcop"): 11.0, ("50k", "vcop"): 20.0}
    assert chapter.claim_subset_30k({T2: with_reproduced(T2, late)}).verdict == chapter.FAILS
    falling = {("10k", "vcop"): 20.0, ("50k", "vcop"): 10.0, ("10k", "tdl"): 20.0, ("50k", "tdl"): 10.0,
               ("10k", "prp"): 1.0, ("50k", "prp"): 5.0}
    verdict = chapter.claim_more_data_helps({T2: with_reproduced(T2, falling)})
    assert verdict.verdict == chapter.FAILS and "1 of 3" in verdict.evidence


def test_transformer_claim_reads_extra_rows():
    t3 = "benchmark_t3_rspnet_subset_epochs"
    frame = with_reproduced(t3, {("200", "10k", "r21d"): 10.0, ("200", "30k", "r21d"): 20.0,
                                 ("200", "100k", "r21d"): 21.0})
    swin = pd.DataFrame({"epochs": "200", "subset": ["10k", "30k", "100k"], "backbone": "swin3d_t",
                         "metric": "ucf101_top1", "paper": np.nan, "reproduced": [5.0, 10.0, 20.0]})
    verdict = chapter.claim_transformer_more_data({t3: pd.concat([frame, swin], ignore_index=True)})
    assert verdict.verdict == chapter.HOLDS and "+10.0" in verdict.evidence
    assert chapter.claim_transformer_more_data({t3: frame}).verdict == chapter.UNMEASURED


def test_epoch_claim_uses_its_threshold():
    t4 = "benchmark_t4_epochs_r21d_50k"
    tables = {t4: with_reproduced(t4, {("100", "vcop"): 10.0, ("200", "vcop"): 12.0})}
    assert chapter.claim_epochs_100_150(tables, threshold=1.5).verdict == chapter.FAILS
    assert chapter.claim_epochs_100_150(tables, threshold=3.0).verdict == chapter.HOLDS
    claims = {c.key: c for c in chapter.make_claims(epoch_gain_threshold=3.0)}
    assert claims["epochs_100_150"].check(tables, "reproduced").verdict == chapter.HOLDS


def test_noise_kd_and_architecture_claims():
    noise = {T7: with_reproduced(T7, {("r21d", "rotnet"): 50.0, ("r21d", "cvrl"): 10.0,
                                      ("shufflenet_v1_2x", "rotnet"): 20.0, ("shufflenet_v1_2x", "cvrl"): 20.0},
                                 metric="relative_drop_pct")}
    assert chapter.claim_noise_contrastive(noise).verdict == chapter.HOLDS
    assert chapter.claim_noise_backbone(noise).verdict == chapter.FAILS
    kd = {T8: with_reproduced(T8, {("teacher_shufflenet", "10k"): 30.0, ("teacher_r21d", "10k"): 40.0,
                                   ("student_shufflenet", "10k"): 35.0}, metric="ucf101_top1")}
    verdict = chapter.claim_kd_student(kd)
    assert verdict.verdict == chapter.FAILS and "0 of 1" in verdict.evidence
    arch = {T1: with_reproduced(T1, {("shufflenet_v1_2x", "rspnet"): 50.0, ("r21d", "rspnet"): 40.0,
                                     ("shufflenet_v1_2x", "vcop"): 10.0, ("r21d", "vcop"): 20.0})}
    verdict = chapter.claim_bigger_not_always_better(arch)
    assert verdict.verdict == chapter.HOLDS and "1 of 2 tasks (rspnet)" in verdict.evidence
    families = chapter.claim_task_families(arch)
    assert families.verdict == chapter.HOLDS  # vcop (temporal) vs rspnet (spatiotemporal)


def test_claims_summary_names_disagreements():
    checked = pd.DataFrame({"claim": ["a", "b", "c"], "paper's numbers": [chapter.HOLDS, chapter.FAILS, chapter.HOLDS],
                            "our numbers": [chapter.HOLDS, chapter.HOLDS, chapter.UNMEASURED]})
    text = chapter.claims_summary(checked)
    assert "2 hold on this book's numbers" in text and "1 could not be measured" in text
    assert "differ for b" in text


# ---------------------------------------------------------------------- scale and entry point


def test_scale_notes_and_setup_read_the_profile(study):
    notes = chapter.scale_notes(study)
    assert list(notes["table"]) == list_paper_tables()
    assert notes["what differs"].str.contains("4x32x32 clips at width 0.125").all()
    assert notes["what differs"].str.contains("16x112x112").all()
    setup = chapter.setup_table(study).set_index("aspect")
    assert setup.loc["clip (frames x height x width)", "paper"] == "16x112x112"
    assert setup.loc["evaluation protocol", "here (smoke)"] == "linear"
    collected = chapter.collect_comparisons(study, {"preliminaries": SimpleNamespace(
        paper_comparisons=lambda s: {T1: t1_chapter_frame()})})
    heading = chapter.table_heading(T1, collected, notes)
    assert heading.startswith("### Benchmark Table 1") and "2 of 12 cells" in heading


def test_paper_comparisons_covers_every_table(study):
    tables = chapter.paper_comparisons(study, chapters={})
    assert list(tables) == list_paper_tables()
    for frame in tables.values():
        assert {"paper", "reproduced", "n", "difference", "metric"} <= set(frame.columns)


def test_normalise_reads_a_metric_column_under_another_name():
    paper = load_paper_table(T8)
    ours = pd.DataFrame({"model": ["student_shufflenet"], "subset": ["10k"], "top1": [50.0]})
    frames = [paper_vs_reproduced(paper, ours if column == "ucf101_top1" else ours.iloc[0:0], ["model", "subset"],
                                  column, value="top1").assign(column=column)
              for column in ("ucf101_top1", "hmdb51_top1")]
    normal = chapter.normalise_comparison(T8, pd.concat(frames, ignore_index=True))
    measured = normal.dropna(subset=["reproduced"])
    assert list(measured["metric"]) == ["ucf101_top1"]
    assert (normal.groupby("metric")["paper"].count() == 4 * 3).all()


def test_an_empty_frame_falls_back_to_the_papers_cells_and_an_unreadable_one_fails(study):
    chapters = {"8. Downstream tasks": SimpleNamespace(paper_comparisons=lambda s: {
        "benchmark_t9_sota": pd.DataFrame(), "not_a_paper_table": pd.DataFrame()})}
    collected = chapter.collect_comparisons(study, chapters)
    assert collected.tables["benchmark_t9_sota"]["reproduced"].isna().all()
    assert "empty frame" in collected.notes["benchmark_t9_sota"]
    unreadable = {"2. Preliminaries": SimpleNamespace(paper_comparisons=lambda s: {T1: pd.DataFrame({"x": [1]})})}
    with pytest.raises(ValueError, match="no column"):
        chapter.collect_comparisons(study, unreadable)


def test_subset_claim_needs_a_gain_up_to_30k():
    falling = {("10k", "vcop"): 20.0, ("30k", "vcop"): 15.0, ("50k", "vcop"): 5.0}
    assert chapter.claim_subset_30k({T2: with_reproduced(T2, falling)}).verdict == chapter.FAILS


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
