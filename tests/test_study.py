"""The shared study: grid points resolve to one run whichever chapter asks; evaluations are cached."""

from __future__ import annotations

import math

import pytest

from sslvid.evaluate.common import card_test_videos
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments.study import Study, chapter_claim
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


def test_a_point_asked_by_two_grids_is_one_run(study):
    table1 = study.grid_points("preliminaries", block=0)
    complexity = [p for p in study.grid_points("task_complexity") if p["complexity"] == "C3"]
    hashes1 = {study.pretrain_config(p).config_hash() for p in table1}
    same = {study.pretrain_config(p).config_hash() for p in complexity if p["task"] in ("rotnet", "prp")}
    vcop = {study.pretrain_config(p).config_hash() for p in complexity if p["task"] == "vcop"}
    assert len(same) == 4 and same <= hashes1, "Table 5's C3 of RotNet and PRP is Table 1's run"
    assert len(vcop) == 2 and not vcop & hashes1, "VCOP's C3 (5 clips, half batch) is not (as in the paper)"
    assert len(table1) == 12 and len(hashes1) == 12


def test_points_resolve_to_the_profile_numbers(tmp_path):
    micro = Study("micro", store=RunStore(tmp_path / "runs"))
    config = micro.pretrain_config({"task": "rspnet", "backbone": "shufflenet3d", "data": "SSv2", "subset": "10k"})
    assert (config.dataset, config.subset_per_class, config.frames, config.epochs) == ("digits-motion-pool", 10, 8, 4)
    assert micro.pretrain_config({"task": "rotnet", "backbone": "r3d_18"}).subset_per_class == 50, "default: 50k"
    assert micro.target("motion") == "digits-motion" and micro.protocol == "linear"


def test_paper_scale_passes_data_root_on_as_the_folder_of_datasets(tmp_path):
    paper = Study("paper", data_root=str(tmp_path), store=RunStore(tmp_path / "runs"))
    config = paper.pretrain_config({"task": "vcop", "backbone": "r2plus1d_18", "data": "K400", "subset": "30k"})
    assert config.dataset == "kinetics400" and config.data_root == str(tmp_path)
    assert config.subset_per_class == 75 and config.frames == 16
    evaluation = paper.eval_config(None, "motion", backbone="r2plus1d_18")
    assert evaluation.dataset == "diving48" and evaluation.data_root == str(tmp_path)
    assert paper.protocol == "finetune"


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'huge'; valid: "):
        Study("huge")
    with pytest.raises(ValueError, match="is not a folder"):
        Study("paper", data_root=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="unknown target 'audio'"):
        Study("smoke").target("audio")
    with pytest.raises(ValueError, match="unknown grid 'nope'"):
        Study("smoke").grid_points("nope")


def test_another_seed_is_another_run_over_the_same_stores(study):
    point = {"task": "rotnet", "backbone": "shufflenet3d"}
    other = study.with_seed(1)
    assert (other.seed, study.seed) == (1, 0) and other.store is study.store and other.timings is study.timings
    assert other.pretrain_config(point).config_hash() != study.pretrain_config(point).config_hash()
    assert other.eval_config(point).config_hash() != study.eval_config(point).config_hash()
    assert other.eval_config(None, backbone="shufflenet3d").seed == 1
    with pytest.raises(ValueError, match="distinct"):
        study.accuracy([point], seeds=(0, 0))
    with pytest.raises(ValueError, match="at least one"):
        study.accuracy([point], seeds=())


def test_accuracy_trains_once_and_reads_the_second_time_from_the_stores(study):
    point = {"task": "rotnet", "backbone": "shufflenet3d", "data": "K400", "subset": "50k"}
    first = study.accuracy([point], epochs=(1, None), scratch_backbones=["shufflenet3d"])
    assert list(first["task"]) == ["rotnet", "rotnet", "scratch"]
    assert list(first["epoch"].fillna(-1)) == [1, -1, 0]
    assert first["top1"].between(0, 100).all() and first["protocol"].eq("linear").all()
    runs = len(study.store.runs())
    again = study.accuracy([point], epochs=(1, None), scratch_backbones=["shufflenet3d"])
    assert again["top1"].tolist() == first["top1"].tolist()
    assert len(study.store.runs()) == runs, "nothing trained twice"
    cached = study.timing_table()
    assert cached[cached["what"] == "pretrain"]["cached"].iloc[-1]


def test_a_chapter_claim_starts_unmeasured_and_takes_its_estimate():
    from sslvid.analysis.claims import NOT_MEASURED, Estimate

    claim = chapter_claim("ch", "key", "A beats B.", "A minus B (points)", section="§4.2", table="Table 2")
    assert claim.estimate is None and claim.verdict == NOT_MEASURED
    assert (claim.paper, claim.section, claim.table, claim.digits) == ("benchmark2023", "§4.2", "Table 2", 1)
    assert claim.measured(Estimate(3.0, low=1.0, high=5.0)).estimate.value == 3.0


def test_the_label_budget_reaches_every_trained_evaluation_but_retrieval(tmp_path):
    few = Study("smoke", labels=10, store=RunStore(tmp_path / "runs"))
    point = {"task": "rotnet", "backbone": "r3d_18"}
    assert few.eval_config(point, protocol="linear").train_per_class == 10
    assert few.eval_config(None, protocol="finetune", backbone="r3d_18").train_per_class == 10
    assert few.eval_config(point, protocol="retrieval").train_per_class == "all", "retrieval trains nothing"
    assert few.eval_config(point, train_per_class=20).train_per_class == 20, "a chapter's own budget wins"
    every = Study("smoke", store=RunStore(tmp_path / "runs"))
    assert every.eval_config(point).config_hash() != few.eval_config(point).config_hash()
    assert every.eval_config(point).train_per_class == "all"


def test_the_test_videos_are_read_from_the_protocol_cards_and_a_target_has_its_class_count(study):
    cards = ['{"test_videos": 40}', "", None, {"test_videos": 30}, '{"other": 1}']
    assert card_test_videos(cards) == 30.0
    assert math.isnan(card_test_videos(["", '{"other": 1}'])) and math.isnan(card_test_videos([]))
    assert study.classes("appearance") == 10 and study.target("appearance") == "digits-appearance"


def test_a_timed_block_adds_its_row_to_the_timings(study):
    with study.timed("work", {"task": "rotnet", "backbone": "r3d_18", "other": 1}, epoch=2) as row:
        row["cached"] = True
    (found,) = study.timings
    assert list(found) == ["what", "task", "backbone", "epoch", "cached", "seconds"] and found["cached"] is True
