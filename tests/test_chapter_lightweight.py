"""Chapter 9 (lightweight networks): table shapes, names, prose wording, probe folding, and one smoke run."""

from __future__ import annotations

import itertools
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from sslvid.analysis.claims import (
    CELLS,
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    PAIRED_VIDEOS,
    PERMUTATION,
    UNPAIRED_VIDEOS,
    VIDEOS,
)
from sslvid.backbones import create_backbone
from sslvid.evaluate.features import FeatureCache
from sslvid.evaluate.models import LinearProbe
from sslvid.experiments import lightweight as ch
from sslvid.experiments.study import Study, evidence
from sslvid.store.outcomes import VideoOutcomes
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

matplotlib.use("Agg")


def _accuracy(values: dict[tuple[str, str], float], epochs: int = 2) -> pd.DataFrame:
    """An ``accuracy_by_epoch``-shaped table: epoch e of a cell has value * e / epochs."""
    rows = [
        {"task": t, "backbone": b, "epoch": e, "final": e == epochs, "top1": v * e / epochs}
        for (t, b), v in values.items()
        for e in range(1, epochs + 1)
    ]
    return pd.DataFrame(rows)


def _paper_like() -> dict[tuple[str, str], float]:
    paper = ch.paper_accuracy()
    return {(t, b): v for t, b, v in paper[["task", "backbone", "top1"]].itertuples(index=False)}


@pytest.fixture
def study(tmp_path):
    return Study(
        "smoke",
        overrides={"threads": 1},
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def test_points_cover_the_grid_and_reject_unknown_names(study):
    points = ch.lightweight_points(study)
    assert len(points) == 25
    assert {(p["task"], p["backbone"]) for p in points} == set(itertools.product(ch.METHODS, ch.BACKBONES))
    assert all(p["frames"] == 1 for p in points)
    with pytest.raises(ValueError, match="valid: rotnet"):
        ch.lightweight_points(study, methods=["dino"])
    with pytest.raises(ValueError, match="resnet18_2d"):
        ch.lightweight_points(study, backbones=["resnet50"])


def test_the_micro_profile_runs_resnet18_and_the_two_cheapest_lightweight_networks():
    micro = Study("micro")
    kept = ch.chosen_backbones(micro)
    assert kept == ("resnet18_2d", "shufflenetv2_2d", "squeezenet_2d") and ch.HEAVY in kept
    assert {p["backbone"] for p in ch.lightweight_points(micro)} == set(kept)
    assert len(ch.lightweight_points(micro, backbones=ch.BACKBONES)) == 25, "one parameter away"
    facts = ch.left_out_facts(micro, kept)
    assert (facts["networks"], facts["count"], facts["run"]) == ("efficientnet_lite0, mobilenetv2_2d", 2, 3)
    assert (
        facts["sentence"].startswith("This run covers 3 of")
        and "The micro profile leaves them out" in facts["sentence"]
    )
    chosen = ch.left_out_facts(micro, ("resnet18_2d",))["sentence"]
    assert "left out: efficientnet_lite0, mobilenetv2_2d, shufflenetv2_2d, squeezenet_2d" in chosen
    assert "profile" not in chosen, "a reader's own choice gets no profile's reason"
    everything = ch.left_out_facts(Study("paper"), ch.BACKBONES)
    assert (
        everything["networks"] == "none"
        and everything["sentence"] == "This run covers all five of the paper's networks."
    )
    assert ch.chosen_backbones(Study("paper")) == ch.BACKBONES
    curves = ch.curve_points(micro, ["rotnet"], None, ch.BACKBONES)
    assert len(curves) == 5, "curve_backbones None follows the backbones chosen"
    assert ch.chosen_backbones(micro, ["squeezenet_2d", "resnet18_2d"]) == ("resnet18_2d", "squeezenet_2d")


def test_the_facts_give_the_best_heavy_and_lightweight_cells():
    grid = pd.DataFrame({"resnet18_2d": [29.4, 19.4], "squeezenet_2d": [12.6, 14.0]}, index=["rotnet", "moco_v2"])
    facts = ch.accuracy_facts(grid)
    assert (facts["heavy top1"], facts["light top1"]) == (29.4, 14.0)
    assert facts["levels"] == "The best lightweight cell reaches 14.0% and ResNet-18's best cell 29.4%"
    alone = ch.accuracy_facts(grid[["squeezenet_2d"]])
    assert np.isnan(alone["heavy top1"]) and alone["levels"] == "The best lightweight cell reaches 14.0%"
    assert ch.accuracy_facts(grid[["resnet18_2d"]])["levels"] == "ResNet-18's best cell 29.4%"


def test_paper_grid_is_five_by_five_in_percent():
    grid = ch.paper_accuracy_grid()
    assert grid.shape == (5, 5)
    assert list(grid.index) == list(ch.METHODS) and list(grid.columns) == list(ch.BACKBONES)
    assert grid.notna().all().all()
    assert grid.loc["byol", "resnet18_2d"] == pytest.approx(78.0)
    assert grid.loc["moco_v2", "squeezenet_2d"] == pytest.approx(10.0)


def test_accuracy_grid_uses_best_or_final_checkpoint():
    acc = _accuracy({("byol", "resnet18_2d"): 60.0, ("rotnet", "resnet18_2d"): 40.0})
    acc.loc[(acc["task"] == "rotnet") & (acc["epoch"] == 1), "top1"] = 55.0  # best at the first checkpoint
    best, final = ch.accuracy_grid(acc, "best"), ch.accuracy_grid(acc, "final")
    assert list(best.index) == ["rotnet", "byol"]  # the paper's row order
    assert best.loc["rotnet", "resnet18_2d"] == 55.0 and final.loc["rotnet", "resnet18_2d"] == 40.0
    with pytest.raises(ValueError, match="best"):
        ch.accuracy_grid(acc, "max")


def test_accuracy_comparison_maps_names_and_converts_fractions():
    acc = _accuracy({("moco_v2", "mobilenetv2_2d"): 61.0})
    table = ch.accuracy_comparison(acc)
    assert len(table) == 25
    row = table[(table["method"] == "mocov2") & (table["backbone"] == "mobilenetv2")].iloc[0]
    assert row["paper"] == pytest.approx(51.0) and row["reproduced"] == pytest.approx(61.0)
    assert row["difference"] == pytest.approx(10.0) and row["n"] == 1
    assert table["reproduced"].notna().sum() == 1


def test_accuracy_claims_carry_their_uncertainty():
    paper = _paper_like()
    agree = {c.key: c for c in ch.claims(ch.accuracy_grid(_accuracy(paper)))}
    assert agree["table1_ranking"].estimate.value == pytest.approx(1.0) and agree["table1_ranking"].verdict == HOLDS
    gap = agree["contrastive_better"].estimate
    assert gap.has_interval and gap.low <= gap.value <= gap.high
    flipped = {cell: 100.0 - value for cell, value in paper.items()}
    disagree = {c.key: c for c in ch.claims(ch.accuracy_grid(_accuracy(flipped)))}
    assert disagree["table1_ranking"].verdict == CONTRADICTED
    assert disagree["contrastive_better"].estimate.value == pytest.approx(-gap.value)
    facts = ch.accuracy_facts(ch.accuracy_grid(_accuracy(paper)))
    assert (facts["top method"], facts["top method wins"], facts["paper top method wins"]) == ("byol", 4, 4)
    assert facts["same best method"] == 5 and facts["heavy best"] > facts["methods"] / 2


TEST_VIDEOS = [f"v{i:03d}" for i in range(400)]
CELLS_2X2 = {
    ("byol", "resnet18_2d"): 42.0,
    ("simclr", "resnet18_2d"): 41.0,
    ("rotnet", "resnet18_2d"): 39.0,
    ("splitbrain", "resnet18_2d"): 38.5,
    ("byol", "mobilenetv2_2d"): 40.5,
    ("simclr", "mobilenetv2_2d"): 40.0,
    ("rotnet", "mobilenetv2_2d"): 38.0,
    ("splitbrain", "mobilenetv2_2d"): 37.5,
}


def _final_rows() -> pd.DataFrame:
    """``accuracy_by_epoch``'s final rows of the cells above, each evaluated on the same 400 test videos."""
    rows = _accuracy(CELLS_2X2, epochs=1)
    return rows.assign(videos=400.0, config_hash=[f"{t}-{b}" for t, b in zip(rows["task"], rows["backbone"])])


def _kept(rows: pd.DataFrame) -> dict[str, VideoOutcomes]:
    """Each cell right on the first ``4 * top1`` of the videos: nested outcomes, so strongly correlated."""
    return {
        r.config_hash: VideoOutcomes.of(r.config_hash, "top1_video", TEST_VIDEOS, [i < 4 * r.top1 for i in range(400)])
        for r in rows.itertuples()
    }


def test_the_contrastive_gap_is_paired_over_test_videos_where_every_cell_kept_its_outcomes():
    rows = _final_rows()
    grid, kept = ch.accuracy_grid(rows, "final"), _kept(rows)
    paired = {c.key: c for c in ch.claims(grid, accuracy=rows, outcomes=kept.get)}["contrastive_better"]
    unpaired = {c.key: c for c in ch.claims(grid, accuracy=rows)}["contrastive_better"]
    cells = {c.key: c for c in ch.claims(grid)}["contrastive_better"]
    for found in (paired, unpaired, cells):
        assert found.estimate.value == pytest.approx(2.625)
    assert (paired.estimate.method, paired.estimate.n, paired.verdict) == (PAIRED_VIDEOS, 400, HOLDS)
    assert (unpaired.estimate.method, cells.estimate.method) == (VIDEOS, CELLS)
    assert paired.estimate.high - paired.estimate.low < unpaired.estimate.high - unpaired.estimate.low
    partly = {k: v for k, v in kept.items() if k != "rotnet-mobilenetv2_2d"}
    fallback = {c.key: c for c in ch.claims(grid, accuracy=rows, outcomes=partly.get)}["contrastive_better"]
    assert fallback.estimate.method == UNPAIRED_VIDEOS and fallback.estimate.low == unpaired.estimate.low
    uncounted = {c.key: c for c in ch.claims(grid, accuracy=rows.assign(videos=np.nan))}["contrastive_better"]
    assert uncounted.estimate.method == CELLS, "cells without test-video counts keep the bootstrap over cells"


def _shuffled(rows: pd.DataFrame, seed: int = 0) -> dict[str, VideoOutcomes]:
    """Each cell right on ``4 * top1`` videos drawn at random: outcomes independent across cells."""
    rng = np.random.default_rng(seed)
    kept = {}
    for r in rows.itertuples():
        right = set(rng.choice(400, int(round(4 * r.top1)), replace=False).tolist())
        kept[r.config_hash] = VideoOutcomes.of(
            r.config_hash, "top1_video", TEST_VIDEOS, [i in right for i in range(400)]
        )
    return kept


def test_the_ranking_is_bootstrapped_over_test_videos_where_every_cell_kept_its_outcomes():
    rows = _final_rows()
    grid = ch.accuracy_grid(rows, "final")
    over_cells = {c.key: c for c in ch.claims(grid)}["table1_ranking"].estimate
    nested = {c.key: c for c in ch.claims(grid, accuracy=rows, outcomes=_kept(rows).get)}["table1_ranking"]
    est = nested.estimate
    assert (est.method, est.n, est.p_greater, est.p_less) == (PAIRED_VIDEOS, 400, None, None)
    assert est.value == pytest.approx(over_cells.value), "the same rho, another interval"
    # nested outcomes keep every resample's order of the cells, up to ties: the ranking is near certain here
    assert 0 < est.low <= est.value <= est.high and nested.verdict == HOLDS
    assert est.high - est.low < over_cells.high - over_cells.low
    independent = {c.key: c for c in ch.claims(grid, accuracy=rows, outcomes=_shuffled(rows).get)}["table1_ranking"]
    assert independent.estimate.method == PAIRED_VIDEOS and independent.estimate.low < 0 < independent.estimate.high
    assert independent.verdict == INCONCLUSIVE, "cells 0.5 to 4.5 points apart on 400 videos do not decide a ranking"
    partly = {k: v for k, v in _kept(rows).items() if k != "rotnet-mobilenetv2_2d"}
    fallback = {c.key: c for c in ch.claims(grid, accuracy=rows, outcomes=partly.get)}["table1_ranking"].estimate
    assert fallback.method == f"{over_cells.method} ({ch.RANKING_FALLBACK})"
    assert (fallback.value, fallback.low, fallback.high) == (over_cells.value, over_cells.low, over_cells.high)
    assert over_cells.method in (CELLS, PERMUTATION)


def test_the_chapters_evidence_counts_its_cells_and_their_test_videos():
    assert evidence(ch.final_accuracy(_final_rows())) == {"seeds": 1, "models": 8, "test_videos": 400}


def test_epoch_facts_count_gains():
    acc = _accuracy({("byol", "resnet18_2d"): 60.0, ("rotnet", "resnet18_2d"): 40.0}, epochs=3)
    acc.loc[(acc["task"] == "rotnet") & (acc["epoch"] == 3), "top1"] = 5.0
    rows = ch.epoch_table(acc)
    assert rows.set_index("task").loc["rotnet", "best_epoch"] == 2
    facts = ch.epoch_facts(rows, 3)
    assert (facts["gained"], facts["best at last"], facts["runs"]) == (1, 1, 2)
    assert (facts["most"], facts["most gain"], facts["least"]) == ("byol", pytest.approx(40.0), "rotnet")
    assert ch.epoch_facts(None, 0)["most"] == "n/a"


def test_cost_comparison_counts_paper_size_macs_and_words_the_ranking():
    runs = pd.DataFrame(
        {
            "task": "rotnet",
            "backbone": ["resnet18_2d", "shufflenetv2_2d", "mobilenetv2_2d"],
            "wall_seconds": [30.0, 10.0, 20.0],
        }
    )
    costs = ch.cost_comparison(runs, "smoke", cpu_watts=10.0)
    r18 = costs.set_index("backbone").loc["resnet18_2d"]
    assert r18["GMACs @224"] == pytest.approx(1.8, rel=0.05)  # the paper's "1.8 GFLOPs"
    assert r18["paper GFLOPs"] == pytest.approx(1.8)
    assert r18["g CO2e @P100"] == pytest.approx(250 * 30 / 3.6e6 * 420)
    assert r18["g CO2e @CPU"] == pytest.approx(10 * 30 / 3.6e6 * 420)
    facts = ch.cost_facts(costs, "smoke")
    assert (facts["fastest"], facts["slowest"]) == ("shufflenetv2_2d", "resnet18_2d")
    found = {c.key: c for c in ch.cost_claims(costs, "smoke")}
    assert found["macs_predict_time"].estimate.value == pytest.approx(1.0)
    assert found["macs_predict_time"].verdict == INCONCLUSIVE  # three networks: 1 of 3! orderings, p = 1/6
    tidy = ch.cost_paper_comparison(costs)
    assert set(tidy["metric"]) == {"avg_flops", "co2_kg"} and set(tidy["backbone"]) >= {"resnet18", "shufflenetv2"}


def test_fold_probe_reproduces_the_probe_logits():
    torch.manual_seed(0)
    backbone = create_backbone("shufflenetv2_2d", num_classes=0, width=0.25).eval()
    clips = torch.randn(3, 3, 1, 32, 32)
    features = backbone.forward_features(clips).detach()
    head = LinearProbe(features.mean(0) + 0.3, features.std(0) + 0.5, 4)
    expected = head.logits(features)
    folded = ch.fold_probe(backbone, head)
    assert torch.allclose(folded(clips), expected, atol=1e-4)


def test_knn_vote_and_facts():
    from sslvid.evaluate.neighbours import majority_vote

    assert majority_vote([2, 1, 1, 2, 3]) == 2  # tie between 1 and 2: the nearer wins
    knn = pd.DataFrame(
        {
            "task": ["byol", "rotnet"],
            "backbone": ["resnet18_2d"] * 2,
            "linear top1": [50.0, 40.0],
            "5-NN top1": [60.0, 30.0],
            "neighbour purity": [55.0, 20.0],
            "chance": [10.0, 10.0],
        }
    )
    facts = ch.knn_facts(knn)
    assert (facts["purest"], facts["least pure"]) == ("byol (resnet18_2d)", "rotnet (resnet18_2d)")
    assert (facts["vote beats probe"], facts["models"]) == (1, 2)


def test_the_chapter_evaluates_with_the_papers_optimiser_and_says_what_stands_for_stl10(study):
    point = ch.lightweight_points(study, ["rotnet"], ["shufflenetv2_2d"])[0]
    config = ch.evaluation_config(study, point)
    assert (config.optimizer, config.lr) == ("adam", 1e-3), "§4: Adam"
    assert study.eval_config(point).optimizer != "adam", "the chapter, not the study's default, sets it"
    facts = ch.evaluation_facts(study, point)
    assert facts["dataset"] == "digits-appearance" and (facts["optimizer"], facts["lr"]) == ("adam", 1e-3)
    assert facts["protocol"] == "a linear probe on frozen features" and facts["epochs"] == config.epochs


def test_energy_facts_are_the_papers_constants_and_the_assumed_cpu_power():
    facts = ch.energy_facts(65.0)
    assert (facts["intensity"], facts["pue"], facts["device watts"]) == (420.0, 1.0, 250.0), "§7"
    assert facts["device"] == "NVIDIA Tesla P100" and facts["cpu watts"] == 65.0


def test_the_default_checkpoints_follow_the_runs_spacing(monkeypatch):
    asked = []

    def accuracy(self, points, target, epochs, **kwargs):
        asked.append(epochs)
        return pd.DataFrame({"task": ["rotnet"] * len(epochs), "backbone": "resnet18_2d", "epoch": list(epochs)})

    monkeypatch.setattr(Study, "accuracy", accuracy)
    spaced = Study("smoke", overrides={"epochs": 6, "checkpoint_every": 2})
    point = {"task": "rotnet", "backbone": "resnet18_2d"}
    table = ch.accuracy_by_epoch(spaced, [point])
    assert asked == [(2, 4, None)], "only the checkpoints a run saves"
    assert list(table["epoch"]) == [2, 4, 6] and list(table["final"]) == [False, False, True]


def test_smoke_chapter_end_to_end(study):
    methods, backbones = ["splitbrain", "rotnet"], ["shufflenetv2_2d"]
    points = ch.lightweight_points(study, methods, backbones)
    acc = ch.accuracy_by_epoch(study, points, epochs=(None,))
    assert len(acc) == 2 and acc["final"].all() and acc["top1"].between(0, 100).all()
    cards = study.results.table().set_index("config_hash").loc[list(acc["config_hash"]), "protocol_card"]
    assert all(json.loads(card)["optimizer"] == "adam" for card in cards)
    best = ch.best_models(acc)
    assert list(best["task"]) == ["rotnet", "splitbrain"]
    shown = ch.saliency_for(study, "splitbrain", "shufflenetv2_2d", frames=2)  # two trunks: no Grad-CAM row
    assert len(shown.table) == 2 and len(shown.figure.axes) == 4
    knn, figures = ch.neighbours(study, best.head(1), k=3)
    assert knn["neighbour purity"].between(0, 100).all()
    assert len(figures) == 1
    comparisons = ch.paper_comparisons(study, methods, backbones)
    assert set(comparisons) == {"lightweight_t1_stl10", "lightweight_t1_cost"}
    stl = comparisons["lightweight_t1_stl10"]
    assert stl["reproduced"].notna().sum() == 2
    cost = comparisons["lightweight_t1_cost"]
    ran, flops = cost["backbone"] == "shufflenetv2", cost["metric"] == "avg_flops"
    assert np.isfinite(cost.loc[flops, "reproduced"]).all() and flops.sum() == 5, "multiply-adds need no run"
    co2 = cost[~flops]
    assert np.isfinite(co2.loc[ran, "reproduced"]).all() and co2.loc[~ran, "reproduced"].isna().all()
