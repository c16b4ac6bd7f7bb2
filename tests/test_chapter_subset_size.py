"""Chapter 3 (subset size and duration): points, epoch mapping, paper layouts, prose, comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sslvid.analysis.cka import CKAResult
from sslvid.analysis.claims import HOLDS, INCONCLUSIVE, NOT_MEASURED
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import subset_size as ch
from sslvid.experiments.study import Study
from sslvid.scale.grids import SIX_TASKS
from sslvid.store.errors import NotCachedError
from sslvid.store.paper_tables import load_paper_table
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore


@pytest.fixture
def study(tmp_path) -> Study:
    return Study(
        "smoke",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def _rows(values: dict[tuple, float], columns: tuple[str, ...]) -> pd.DataFrame:
    """``study.accuracy``-like rows from {key tuple: top1}."""
    return pd.DataFrame([{**dict(zip(columns, key)), "top1": v} for key, v in values.items()])


def _paper_as_ours(name: str, shift: float = 0.0) -> pd.DataFrame:
    """A paper table turned into our accuracy rows (our backbone names, paper_epoch, epoch of 4)."""
    paper = load_paper_table(name).rename(columns={"pretext": "task", "ucf101_top1": "top1", "epochs": "paper_epoch"})
    paper["top1"] += shift
    if "backbone" in paper:
        paper["backbone"] = paper["backbone"].map({"r21d": "r2plus1d_18", "shufflenet_v1_2x": "shufflenet3d"})
    else:
        paper["backbone"] = "r2plus1d_18"
    if "paper_epoch" in paper:
        paper["epoch"] = paper["paper_epoch"] // 50
    return paper


# ----------------------------------------------------------------------------- epochs and points


def test_paper_epoch_maps_checkpoints_onto_200():
    assert [ch.paper_epoch(e, 4) for e in (1, 2, 3, None)] == [50, 100, 150, 200]
    assert [ch.paper_epoch(e, 2) for e in (1, None)] == [100, 200]


def test_checkpoints_at_smoke_and_selection(study):
    point = ch.table4_points(study)[0]
    assert ch.checkpoint_epochs(study, point) == [1, None]
    assert ch.select_checkpoints(study, point, (100, 200)) == [1, None]
    assert ch.select_checkpoints(study, point, (200,)) == [None]
    with pytest.raises(ValueError, match="valid: 100, 200"):
        ch.select_checkpoints(study, point, (50,))
    assert ch.epoch_scale(study) == {
        "epochs": 2,
        "every": 1,
        "paper epochs": 200,
        "pairs": "1 → 100, 2 → 200",
        "longer": "none",
    }
    micro = ch.epoch_scale(Study("micro"))
    assert (micro["epochs"], micro["every"], micro["longer"]) == (4, 1, "rotnet 8/2, prp 8/2")
    assert ch.epoch_scale(Study("micro", overrides={"epochs": 6}))["longer"] == "none", "one chosen length for all"


def test_grid_points_of_the_three_tables(study):
    t2 = ch.table2_points(study)
    assert len(t2) == 18 and {p["backbone"] for p in t2} == {"r2plus1d_18"}
    assert {p["subset"] for p in t2} == {"10k", "30k", "50k"}
    assert len(ch.table4_points(study)) == 6
    t3 = ch.table3_points(study)
    assert len(t3) == 8 and {p["task"] for p in t3} == {"rspnet"}
    assert len(ch.table3_points(study, ("swin3d_t",))) == 4
    with pytest.raises(ValueError, match="valid: shufflenet3d"):
        ch.table3_points(study, ("resnet50",))
    with pytest.raises(ValueError, match="valid: vcop"):
        ch.table2_points(study, ("jigsaw",))


# ----------------------------------------------------------------------------- layouts and comparisons


def test_tables_have_the_papers_shape_and_compare_exactly():
    acc2 = _paper_as_ours(ch.TABLE2)
    t2 = ch.table2(acc2)
    assert t2.shape == (3, 6) and list(t2.index) == ["10k", "30k", "50k"] and list(t2.columns) == list(SIX_TASKS)
    cmp2 = ch.compare_table(ch.TABLE2, acc2, total_epochs=4)
    assert len(cmp2) == 18 and (cmp2["difference"].abs() < 1e-9).all() and (cmp2["n"] == 1).all()
    assert "our_epoch" not in cmp2

    acc3 = _paper_as_ours(ch.TABLE3, shift=-10)
    assert ch.table3(acc3).shape == (4, 8)
    cmp3 = ch.compare_table(ch.TABLE3, acc3, total_epochs=4)
    assert len(cmp3) == 32 and np.allclose(cmp3["difference"], -10)
    assert list(cmp3.loc[cmp3["epochs"] == "150", "our_epoch"].unique()) == [3]

    acc4 = _paper_as_ours(ch.TABLE4)
    assert ch.table4(acc4).shape == (4, 6)
    cmp4 = ch.compare_table(ch.TABLE4, acc4[acc4["paper_epoch"] >= 100], total_epochs=2)
    assert cmp4.loc[cmp4["epochs"] == "50", "reproduced"].isna().all()
    assert cmp4.loc[cmp4["epochs"] == "50", "our_epoch"].isna().all()
    assert list(cmp4.loc[cmp4["epochs"] == "100", "our_epoch"].unique()) == [1]
    lengths = {task: 8 if task in ("rotnet", "prp") else 4 for task in SIX_TASKS}
    per_task = ch.compare_table(ch.TABLE4, acc4, total_epochs=lengths)
    at_100 = per_task[per_task["epochs"] == "100"].set_index("pretext")["our_epoch"]
    assert (at_100["rotnet"], at_100["prp"], at_100["vcop"]) == (4, 4, 2), "each task's own checkpoint"


def test_gains_first_last_and_monotone():
    frame = pd.DataFrame(
        {"pretext": ["a"] * 3 + ["b"] * 3, "subset": ["30k", "10k", "50k"] * 2, "value": [5.0, 1.0, 4.0, 2.0, 1.0, 3.0]}
    )
    g = ch.gains(frame, "subset", ["10k", "30k", "50k"], ["pretext"]).set_index("pretext")
    assert g.loc["a", "gain"] == 3.0 and not g.loc["a", "monotone"]
    assert g.loc["b", "gain"] == 2.0 and g.loc["b", "monotone"]


# ----------------------------------------------------------------------------- claims


def test_subset_claims_and_gains():
    found = {c.key: c for c in ch.claims(acc2=_paper_as_ours(ch.TABLE2))}
    gains = ch.subset_gains(_paper_as_ours(ch.TABLE2)).set_index("pretext")["gain here"]
    claim = found["more_data_helps"]
    assert claim.estimate.value == pytest.approx(gains.mean()) and claim.estimate.n == 6
    assert gains["prp"] == pytest.approx(28.7) and gains["tdl"] <= 0
    assert found["minimal_after_100"].verdict == NOT_MEASURED
    flat = _paper_as_ours(ch.TABLE2)
    flat["top1"] = 20.0
    assert {c.key: c for c in ch.claims(acc2=flat)}["more_data_helps"].estimate.value == 0.0


def test_saturation_claims_use_the_test_videos():
    cols = ("backbone", "subset", "epoch", "paper_epoch", "task")
    acc = _rows(
        {
            ("shufflenet3d", "10k", 4, 200, "rspnet"): 10,
            ("shufflenet3d", "30k", 4, 200, "rspnet"): 40,
            ("shufflenet3d", "100k", 4, 200, "rspnet"): 41,
            ("r2plus1d_18", "10k", 4, 200, "rspnet"): 10,
            ("r2plus1d_18", "30k", 4, 200, "rspnet"): 11,
            ("r2plus1d_18", "100k", 4, 200, "rspnet"): 12,
        },
        cols,
    )
    acc["videos"] = 400
    found = {c.key: c for c in ch.claims(acc3=acc)}
    assert found["saturates_shufflenet3d"].estimate.value == pytest.approx(30.0 - 1.0)
    assert found["saturates_shufflenet3d"].verdict == HOLDS
    assert found["saturates_r2plus1d_18"].estimate.value == pytest.approx(0.0)
    assert found["saturates_r2plus1d_18"].verdict == INCONCLUSIVE  # 1 point then 1 point: undecided
    table = ch.architecture_gains(acc).set_index(["backbone", "step"])
    assert table.loc[("r21d", "30k->100k"), "gain in paper"] == pytest.approx(1.7)


def test_duration_and_epoch_claims():
    acc3 = _paper_as_ours(ch.TABLE3)
    minimal = {c.key: c for c in ch.claims(acc3=acc3)}["minimal_after_100"]
    late = ch.duration_gains(ch.to_paper_frame(acc3), ["backbone", "subset"])
    assert minimal.estimate.value == pytest.approx(late["gain"].mean()) and late["gain"].max() == pytest.approx(1.4)
    early = acc3[acc3["paper_epoch"] == 50]
    assert {c.key: c for c in ch.claims(acc3=early)}["minimal_after_100"].verdict == NOT_MEASURED
    acc4 = _paper_as_ours(ch.TABLE4)
    epochs = {c.key: c for c in ch.claims(acc4=acc4)}["epochs_small_gain"]
    rest = ch.epoch_gains(acc4).query("pretext != 'prp'")["gain here"]
    assert epochs.estimate.value == pytest.approx(rest.mean()) and epochs.estimate.n == 5


def _cka(matrix) -> CKAResult:
    m = np.asarray(matrix, dtype=float)
    names = tuple(f"l{i}" for i in range(len(m)))
    return CKAResult(m, names, names, examples=8, batches=1)


def test_cka_numbers_and_facts():
    narrow = _cka([[1, 0.2, 0.2], [0.2, 1, 0.2], [0.2, 0.2, 1]])
    wide = _cka([[1, 0.9, 0.8], [0.9, 1, 0.9], [0.8, 0.9, 1]])
    assert ch.cka_table({"10k": narrow})["mean CKA, different layers"].iloc[0] == pytest.approx(0.2)
    table = ch.cka_table({"10k": narrow, "100k": wide, "10k vs 100k": _cka(np.full((3, 3), 0.5))})
    assert list(table["mean CKA, same layer"]) == pytest.approx([1.0, 1.0, 0.5])
    facts = ch.cka_facts(table)
    assert (facts["small"], facts["large"]) == ("10k", "100k")
    assert facts["large cka"] > facts["small cka"] and facts["cross cka"] == pytest.approx(0.5)
    swapped = ch.cka_facts(ch.cka_table({"10k": wide, "100k": narrow}))
    assert swapped["large cka"] < swapped["small cka"] and np.isnan(swapped["cross cka"])


# ----------------------------------------------------------------------------- real smoke runs


def test_paper_comparisons_keys_and_read_only_behaviour(study, monkeypatch):
    with pytest.raises(NotCachedError):
        ch.paper_comparisons(study.cached_only())
    monkeypatch.setattr(ch, "subset_accuracy", lambda s, tasks: _paper_as_ours(ch.TABLE2))
    monkeypatch.setattr(ch, "rspnet_accuracy", lambda s, backbones, epochs: _paper_as_ours(ch.TABLE3))
    monkeypatch.setattr(ch, "epochs_accuracy", lambda s, tasks, epochs: _paper_as_ours(ch.TABLE4))
    got = ch.paper_comparisons(study)
    assert set(got) == {ch.TABLE2, ch.TABLE3, ch.TABLE4}
    assert all({"paper", "reproduced", "n", "difference"} <= set(f.columns) for f in got.values())


def test_real_smoke_runs_checkpoints(study):
    acc4 = ch.epochs_accuracy(study, ("rotnet",))
    assert sorted(acc4["paper_epoch"]) == [100, 200] and sorted(acc4["epoch"]) == [1, 2]
    assert acc4["top1"].between(0, 100).all() and ch.table4(acc4).shape == (2, 1)
    final = study.accuracy(ch.table4_points(study, ("rotnet",)))  # the same evaluation, from the results table
    assert acc4.loc[acc4["epoch"] == 2, "top1"].iloc[0] == pytest.approx(final["top1"].iloc[0])
    assert len(study.results.table()["config_hash"].unique()) == 2  # checkpoint 1 and the final weights


def test_real_smoke_cka_clips_and_maps(study):
    point = ch.table3_points(study, ("shufflenet3d",))[0]
    clips = ch.cka_clips_tensor(study, point, 6)
    assert clips.shape[:2] == (6, 3) and clips.dtype.is_floating_point
    with pytest.raises(ValueError, match="at least 4"):
        ch.cka_clips_tensor(study, point, 3)
    maps = ch.subset_cka(study, "shufflenet3d", ("10k", "30k"), clips=8)
    assert list(maps) == ["10k", "30k", "10k vs 30k"]
    diagonal = np.diag(maps["10k"].matrix)  # a layer against itself: 1, or 0 for a zero-variance layer
    assert (np.isclose(diagonal, 1.0, atol=1e-6) | (diagonal == 0)).all() and np.isclose(diagonal, 1.0).any()
    assert maps["10k vs 30k"].matrix.shape == (len(maps["10k"].layers_a), len(maps["30k"].layers_a))
