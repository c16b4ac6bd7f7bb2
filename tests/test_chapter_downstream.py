"""Chapter "Downstream summary": summaries over the results table, worded from the numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import downstream as chapter
from sslvid.experiments.study import Study
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore


@pytest.fixture()
def study(tmp_path):
    return Study(
        "smoke",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "results.csv"),
        features=FeatureCache(tmp_path / "features"),
    )


def _results(rows):
    frame = pd.DataFrame(rows, columns=["model", "pretext", "pretrain_dataset", "pretrain_subset", "value", "dataset"])
    frame["pretrain_epochs"] = np.nan
    frame["complexity"] = ""
    return frame[list(chapter.SUMMARY_COLUMNS)]


RESULTS = _results(
    [
        ("r2plus1d_18", "scratch", "", np.nan, 20.0, "digits-appearance"),
        ("r2plus1d_18", "rotnet", "digits-appearance-pool", 30, 31.0, "digits-appearance"),
        ("r2plus1d_18", "vcop", "digits-motion-pool", 30, 18.0, "digits-appearance"),
        ("shufflenet3d", "scratch", "", np.nan, 25.0, "digits-appearance"),
        ("shufflenet3d", "rotnet", "digits-appearance-pool", 50, 22.0, "digits-appearance"),
    ]
)


def test_best_by_pretext_and_model_keep_the_setting_and_the_count():
    by_task = chapter.best_by(RESULTS, "pretext")
    rotnet = by_task[by_task["pretext"] == "rotnet"].iloc[0]
    assert rotnet["top1"] == 31.0 and rotnet["model"] == "r2plus1d_18" and rotnet["evaluations"] == 2
    assert rotnet["pre-training"] == "digits-appearance-pool, 30 per class"
    by_model = chapter.best_by(RESULTS, "model")
    assert by_model.set_index("model").loc["shufflenet3d", "pretext"] == "scratch"
    with pytest.raises(ValueError, match="'pretext' or 'model'"):
        chapter.best_by(RESULTS, "dataset")


def test_gain_over_scratch_is_signed(study):
    gains = chapter.gain_over_scratch(RESULTS).set_index("model")
    assert gains.loc["r2plus1d_18", "gain"] == pytest.approx(11.0)
    assert gains.loc["shufflenet3d", "gain"] == pytest.approx(-3.0)


def test_best_pool_per_task_names_the_winning_pool():
    hits = pd.DataFrame(
        {
            "task": ["vcop", "cvrl", "vcop", "cvrl"],
            "data": ["SSv2", "K400", "K400", "SSv2"],
            "target_kind": ["appearance", "appearance", "motion", "motion"],
            "k": 5,
            "hit": [40.0, 35.0, 30.0, 50.0],
        }
    )
    best = chapter.best_pool_per_task(hits)
    assert len(best) == 4 and set(best["data"]) == {"SSv2", "K400"}


def test_table9_keeps_the_paper_rows_and_only_its_own_row_can_be_reproduced(study):
    table = chapter.table9(RESULTS, study)
    assert len(table) == len(chapter.load_paper_table(chapter.TABLE9)) + 1
    assert table.iloc[-1]["ucf101_top1"] == 31.0 and table.iloc[-1]["source"] == "this run"
    comparison = chapter.paper_comparisons(study)[chapter.TABLE9]
    assert comparison["reproduced"].isna().all(), "no distilled student in an empty results table"
    subset = study.pretrain_config({"task": "rspnet", "backbone": "shufflenet3d", "subset": "30k"}).subset_per_class
    row = {
        "config_hash": "abc",
        "task": "action_recognition",
        "metric": "top1_video",
        "condition": "clean",
        "protocol": "distill:kd",
        "pretext": "rspnet+rspnet",
        "pretrain_subset": subset,
        "profile": "smoke",
        "dataset": study.target("appearance"),
        "value": 42.0,
        "model": "shufflenet3d",
    }
    study.results.upsert([row])
    comparison = chapter.paper_comparisons(study)[chapter.TABLE9]
    ours = comparison[comparison["reproduced"].notna()]
    assert list(ours["approach"]) == [chapter.OURS_ROW] and ours["reproduced"].iloc[0] == 42.0


def test_the_grid_is_classified_and_retrieved_on_both_targets(study):
    points = chapter.downstream_points(study)[:1]
    classified = chapter.classification(study, points)
    assert set(classified["target_kind"]) == {"appearance", "motion"}
    assert set(classified["task"]) == {points[0]["task"], "scratch"}
    hits = chapter.retrieval(study, points, targets=("appearance",))
    assert sorted(hits["k"]) == sorted(set(hits["k"])) and hits["hit"].dropna().between(0, 100).all()
    everything = chapter.everything_trained(study)
    assert len(everything) == 4, "two models x two targets"
    assert chapter.best_grid_point(study, classified)["task"] == points[0]["task"]
