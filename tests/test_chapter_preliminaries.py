"""Chapter "Preliminaries": table shapes, the facts and verdicts of its claims, and the CKA sanity check."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from sslvid.analysis.cka import CKAResult
from sslvid.analysis.claims import (
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    PAIRED_VIDEOS,
    SEEDS,
    UNPAIRED_VIDEOS,
    VIDEOS,
)
from sslvid.backbones import create_backbone
from sslvid.engine.pretrain import build_index
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments import preliminaries as chapter
from sslvid.experiments.study import Study, evidence
from sslvid.store.outcomes import VideoOutcomes, write_outcomes
from sslvid.store.paper_tables import load_paper_table
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore


def _accuracy(scores: dict[tuple[str, str], float], protocol: str = "linear", videos: float = 200) -> pd.DataFrame:
    """Rows shaped like ``table1_accuracy``: (task, backbone) -> top1, each over ``videos`` test videos."""
    return pd.DataFrame(
        [
            {
                "task": t,
                "backbone": b,
                "data": "K400",
                "subset": "50k",
                "epoch": None,
                "target": "digits-appearance",
                "protocol": protocol,
                "config_hash": f"{t}{b}",
                "top1": v,
                "videos": videos,
            }
            for (t, b), v in scores.items()
        ]
    )


def _paper_like(offset: float = 0.0, scratch: float = 10.0) -> pd.DataFrame:
    """Our rows equal to the paper's Table 1 (plus ``offset``), with scratch rows."""
    paper = load_paper_table(chapter.TABLE1)
    back = {v: k for k, v in chapter.PAPER_BACKBONES.items()}
    scores = {(r.pretext, back[r.backbone]): r.ucf101_top1 + offset for r in paper.itertuples()}
    scores.update({("scratch", b): scratch for b in chapter.BACKBONES})
    return _accuracy(scores)


@pytest.fixture
def study(tmp_path):
    return Study(
        "smoke",
        device="cpu",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def test_table1_points_are_six_tasks_on_two_backbones(study):
    points = chapter.table1_points(study)
    assert len(points) == 12
    assert {(p["task"], p["backbone"]) for p in points} == {
        (t, b) for t in chapter.SIX_TASKS for b in chapter.BACKBONES
    }
    assert all(p["data"] == "K400" and p["subset"] == "50k" for p in points)


def test_table1_vs_paper_matches_cells_and_drops_scratch():
    comparison = chapter.table1_vs_paper(_paper_like(offset=-5.0))
    assert len(comparison) == 12 and "scratch" not in set(comparison["pretext"])
    assert comparison["difference"].to_numpy() == pytest.approx(np.full(12, -5.0))
    assert (comparison["n"] == 1).all()
    ranks = chapter.rank_agreement(comparison)
    assert [ranks[b].value for b in ("shufflenet_v1_2x", "r21d")] == pytest.approx([1.0, 1.0])
    assert ranks["r21d"].p_greater == pytest.approx(1 / 720)  # six tasks in the paper's order: 1 of 6! orderings


def test_rank_claims_read_the_exact_test():
    same = {c.key: c for c in chapter.claims(chapter.table1_vs_paper(_paper_like()))}
    assert same["table1_order_r2plus1d_18"].verdict == HOLDS
    reversed_rows = _paper_like()
    reversed_rows["top1"] = -reversed_rows["top1"]
    against = {c.key: c for c in chapter.claims(chapter.table1_vs_paper(reversed_rows))}
    assert against["table1_order_r2plus1d_18"].verdict == CONTRADICTED
    # Spearman 3/7 = 0.43 over six tasks (what this chapter once called "partly agrees"): p = 0.21, undecided
    partly = pd.DataFrame(
        {
            "backbone": "r21d",
            "pretext": list(chapter.PAPER_TASK_ORDER),
            "paper": [1.0, 2, 3, 4, 5, 6],
            "reproduced": [3.0, 1, 6, 2, 4, 5],
        }
    )
    claim = {c.key: c for c in chapter.claims(partly)}["table1_order_r2plus1d_18"]
    assert claim.estimate.value == pytest.approx(3 / 7) and claim.estimate.n == 6
    assert claim.estimate.p_greater == pytest.approx(0.2097, abs=1e-4)
    assert claim.verdict == INCONCLUSIVE


def test_an_unmeasured_part_gives_not_measured_claims():
    found = {c.key: c.verdict for c in chapter.claims()}
    assert set(found.values()) == {NOT_MEASURED}
    assert set(found) == {
        "table1_order_shufflenet3d",
        "table1_order_r2plus1d_18",
        "medium_beats_small",
        "linear_below_finetune_shufflenet3d",
        "linear_below_finetune_r2plus1d_18",
        "frames_doubled_help",
    }


def test_table1_facts_and_the_duel_claim():
    facts = chapter.table1_facts(_paper_like(scratch=50.0))
    assert facts["shufflenet3d"]["best_contrastive"] == "rspnet"
    assert facts["r2plus1d_18"]["best_non_contrastive"] == "vcop"
    assert facts["shufflenet3d"]["best_non_contrastive_top1"] == pytest.approx(40.8)
    # a scratch of 50%: ShuffleNet beats it with CVRL and RSPNet; R21D with VCOP, CVRL and RSPNet
    assert (facts["shufflenet3d"]["above_scratch"], facts["r2plus1d_18"]["above_scratch"]) == (2, 3)
    duel = {c.key: c for c in chapter.claims(accuracy=_paper_like())}["medium_beats_small"]
    paper = load_paper_table(chapter.TABLE1).pivot_table(index="pretext", columns="backbone", values="ucf101_top1")
    assert duel.estimate.value == pytest.approx((paper["r21d"] - paper["shufflenet_v1_2x"]).mean())
    assert duel.estimate.n == 200 and duel.estimate.has_interval
    assert evidence(_paper_like()) == {"seeds": 1, "models": 14, "test_videos": 200}


def test_protocol_drop_and_its_claim():
    rows = []
    for task, linear, fine in (
        ("rotnet", 20, 40),
        ("vcop", 30, 40),
        ("prp", 10, 40),
        ("cvrl", 50, 45),
        ("scratch", 12, 35),
    ):
        rows += [
            {"backbone": "shufflenet3d", "task": task, "protocol": "linear", "top1": linear, "videos": 300},
            {"backbone": "shufflenet3d", "task": task, "protocol": "finetune", "top1": fine, "videos": 300},
        ]
    drops = chapter.protocol_drop(pd.DataFrame(rows))
    assert list(drops["task"]) == ["rotnet", "vcop", "prp", "cvrl", "scratch"]
    assert drops.set_index("task").loc["prp", "relative_drop_pct"] == pytest.approx(75.0)
    found = {c.key: c for c in chapter.claims(drops=drops)}
    drop = found["linear_below_finetune_shufflenet3d"]
    assert drop.estimate.value == pytest.approx(20.0) and drop.estimate.low > 0 and drop.verdict == HOLDS
    assert found["linear_below_finetune_r2plus1d_18"].verdict == NOT_MEASURED


TEST_VIDEOS = [f"v{i:03d}" for i in range(200)]


def _kept(accuracy: pd.DataFrame) -> dict[str, VideoOutcomes]:
    """Outcomes of each row over the same 200 videos, right on the first ``2 * top1``: nested, so correlated."""
    return {
        r.config_hash: VideoOutcomes.of(r.config_hash, "top1_video", TEST_VIDEOS, [i < 2 * r.top1 for i in range(200)])
        for r in accuracy.itertuples()
    }


def test_the_duel_is_paired_where_every_models_outcomes_are_kept():
    small = {"rotnet": 30.0, "vcop": 40.0, "prp": 35.0}
    accuracy = _accuracy(
        {**{(t, "shufflenet3d"): v for t, v in small.items()}, **{(t, "r2plus1d_18"): v + 4 for t, v in small.items()}}
    )
    kept = _kept(accuracy)
    paired = {c.key: c for c in chapter.claims(accuracy=accuracy, outcomes=kept.get)}["medium_beats_small"]
    unpaired = {c.key: c for c in chapter.claims(accuracy=accuracy)}["medium_beats_small"]
    assert paired.estimate.value == pytest.approx(unpaired.estimate.value) == pytest.approx(4.0)
    assert (paired.estimate.method, paired.verdict) == (PAIRED_VIDEOS, HOLDS)
    assert (unpaired.estimate.method, unpaired.verdict) == (VIDEOS, INCONCLUSIVE)
    partly = {k: v for k, v in kept.items() if k != "vcopshufflenet3d"}
    fallback = {c.key: c for c in chapter.claims(accuracy=accuracy, outcomes=partly.get)}["medium_beats_small"]
    assert fallback.estimate.method == UNPAIRED_VIDEOS and fallback.estimate.low == unpaired.estimate.low
    epochs = pd.concat([accuracy, accuracy.assign(epoch=1, top1=accuracy["top1"] + 1, config_hash="later")])
    averaged = {c.key: c for c in chapter.claims(accuracy=epochs, outcomes=kept.get)}["medium_beats_small"]
    assert averaged.estimate.method == UNPAIRED_VIDEOS, "a cell averaged over two evaluations is no one's outcomes"


def test_the_protocol_drop_carries_its_evaluations_for_a_paired_claim():
    rows = [
        {"backbone": "shufflenet3d", "task": t, "protocol": p, "top1": v, "videos": 200, "config_hash": f"{t}{p}"}
        for t, linear in (("rotnet", 30.0), ("vcop", 31.0), ("prp", 29.0))
        for p, v in (("linear", linear), ("finetune", linear + 3))
    ]
    drops = chapter.protocol_drop(pd.DataFrame(rows))
    assert drops.set_index("task").loc["vcop", "config_hash_finetune"] == "vcopfinetune"
    kept = _kept(pd.DataFrame(rows))
    found = {c.key: c for c in chapter.claims(drops=drops, outcomes=kept.get)}["linear_below_finetune_shufflenet3d"]
    assert found.estimate.method == PAIRED_VIDEOS and found.estimate.value == pytest.approx(3.0)
    assert found.verdict == HOLDS


def test_the_study_reads_a_rows_outcomes_by_its_evaluation(study):
    key = "0123456789abcdef"
    assert study.outcomes({"config_hash": key}) is None, "an evaluation from before outcomes were kept"
    write_outcomes(study.store.run(key), VideoOutcomes.of(key, "top1_video", ["b", "a"], [True, False]))
    found = study.outcomes(pd.Series({"config_hash": key, "top1": 50.0}))
    assert found is not None and found.videos == ("a", "b") and found.accuracy == 50.0
    assert study.cached_only().outcomes(key).correct.tolist() == [False, True]


def test_frames_claim_is_inconclusive_on_one_small_test_set():
    table = pd.DataFrame(
        [
            {
                "task": "rotnet",
                "backbone": "shufflenet3d",
                "frames": 8,
                "frames_doubled": 16,
                "top1": 30.0,
                "top1_doubled": 31.0,
                "gain": 1.0,
                "videos": 50,
                "videos_doubled": 50,
            }
        ]
    )
    claim = {c.key: c for c in chapter.claims(frames=table)}["frames_doubled_help"]
    assert claim.estimate.value == pytest.approx(1.0) and claim.verdict == INCONCLUSIVE  # one point is no win
    table.loc[0, ["top1_doubled", "gain", "videos", "videos_doubled"]] = [60.0, 30.0, 400, 400]
    assert {c.key: c for c in chapter.claims(frames=table)}["frames_doubled_help"].verdict == HOLDS


def test_bad_names_list_the_valid_ones(study):
    with pytest.raises(ValueError, match="valid: shufflenet3d, r2plus1d_18"):
        chapter.protocol_comparison(study, backbones=("resnet50",))
    with pytest.raises(ValueError, match="valid: vcop"):
        chapter.frames_comparison(study, tasks=("jigsaw",))
    with pytest.raises(ValueError, match="valid: shufflenet3d"):
        chapter.table1_point(study, "vcop", "swin3d_t")


def test_weight_change_sees_an_unchanged_probe_and_a_changed_finetune():
    torch.manual_seed(0)
    pre = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    probe = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    probe.load_state_dict(pre.state_dict())
    tuned = create_backbone("shufflenet3d", num_classes=0, width=0.125)
    tuned.load_state_dict(pre.state_dict())
    with torch.no_grad():
        next(tuned.parameters()).add_(1.0)
    change = chapter.weight_change({"pre-trained": pre, "linear probe": probe, "finetuned": tuned}).set_index(
        ["a", "b"]
    )
    assert change.loc[("pre-trained", "linear probe"), "max_abs_difference"] == 0
    assert change.loc[("pre-trained", "finetuned"), "max_abs_difference"] == pytest.approx(1.0)
    assert change.loc[("pre-trained", "finetuned"), "relative_change"] > 0


def _map(diag: list[float]) -> CKAResult:
    names = tuple(f"b{i}" for i in range(len(diag)))
    return CKAResult(np.diag(diag), names, names, examples=16, batches=1)


def test_cka_diagonal_and_facts():
    maps = {
        ("pre-trained", "linear probe"): _map([1, 1, 1, 1]),
        ("finetuned", "linear probe"): _map([0.95, 0.5, 0.4, 0.3]),
        ("pre-trained", "finetuned"): _map([0.95, 0.5, 0.4, 0.3]),
    }
    diagonal = chapter.cka_diagonal(maps)
    assert list(diagonal.columns) == [
        "pre-trained vs linear probe",
        "finetuned vs linear probe",
        "pre-trained vs finetuned",
    ]
    change = pd.DataFrame(
        [
            {
                "a": a,
                "b": b,
                "tensors": 3,
                "max_abs_difference": 0.0 if b == "linear probe" else 0.2,
                "relative_change": 0.0 if b == "linear probe" else 0.1,
            }
            for a, b in chapter.PAIRS
        ]
    )
    facts = chapter.cka_facts(diagonal, change)
    assert facts["probe identical"] and (facts["blocks"], facts["moved"]) == (4, 3)
    assert (facts["most changed"], facts["most changed cka"], facts["where"]) == ("b3", pytest.approx(0.3), "late")


def test_curves_facts_name_runs_whose_loss_did_not_fall_and_tasks_not_learned():
    logs = pd.DataFrame(
        {
            "task": ["rotnet"] * 2 + ["vcop"] * 2 + ["cvrl"] * 2,
            "backbone": "shufflenet3d",
            "epoch": [1, 2] * 3,
            "loss": [2.0, 1.0, 1.0, 1.2, 4.0, 3.9],
            "acc": [0.3, 0.6, 0.17, 0.3, 0.01, 0.02],
            "chance": [0.25, 0.25, 1 / 6, 1 / 6, 1 / 63, 1 / 63],
            "seconds": 1.0,
        }
    )
    logs["relative_loss"] = logs["loss"] / logs.groupby("task")["loss"].transform("first")
    final = chapter.pretext_final_table(logs)
    assert final.loc[("rotnet", "shufflenet3d"), "acc / chance"] == pytest.approx(2.4)
    assert final.loc[("vcop", "shufflenet3d"), ["pretext acc (%)", "chance (%)"]].tolist() == pytest.approx(
        [30, 100 / 6]
    )
    facts = chapter.curves_facts(logs)
    assert (facts["fell"], facts["runs"], facts["did not fall"]) == (2, 3, "vcop on shufflenet3d")
    assert facts["steepest"] == "rotnet on shufflenet3d" and facts["steepest ratio"] == pytest.approx(0.5)
    assert (facts["learned"], facts["not learned"]) == (1, "cvrl on shufflenet3d, vcop on shufflenet3d"), (
        "1.8x chance (VCOP) and 1.3x (CVRL) are below the 2x of a learned task"
    )


def test_paper_comparisons_keys_from_cached_results(study, monkeypatch):
    asked = []
    monkeypatch.setattr(chapter, "table1_accuracy", lambda s, target, seeds=None: asked.append(seeds) or _paper_like())
    comparisons = chapter.paper_comparisons(study)
    assert asked == [chapter.KNOBS["table1_seeds"]], "the discussion reads Table 1 over the notebook's seeds"
    assert list(comparisons) == [chapter.TABLE1]
    assert {"paper", "reproduced", "difference"} <= set(comparisons[chapter.TABLE1].columns)


def _seeded(scores: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """``_accuracy`` rows of several seeds: (task, backbone) -> top1 of seed 0, 1, ..."""
    count = len(next(iter(scores.values())))
    return pd.concat(
        [
            _accuracy({k: v[s] for k, v in scores.items()}).assign(
                seed=s, config_hash=lambda f, s=s: f["config_hash"] + str(s)
            )
            for s in range(count)
        ],
        ignore_index=True,
    )


def test_table1_over_seeds_shows_mean_and_interval_and_pairs_gaps_by_seed():
    rows = _seeded(
        {
            ("rotnet", "shufflenet3d"): [40.0, 42.0, 44.0],
            ("vcop", "shufflenet3d"): [30.0, 30.0, 30.0],
            ("scratch", "shufflenet3d"): [20.0, 23.0, 26.0],
            ("rotnet", "r2plus1d_18"): [50.0, 52.0, 54.0],
            ("vcop", "r2plus1d_18"): [31.0, 32.0, 33.0],
            ("scratch", "r2plus1d_18"): [25.0, 25.0, 25.0],
        }
    )
    cells = chapter.table1_estimates(rows)
    cell = cells.loc["shufflenet_v1_2x", "rotnet"]
    assert (cell.value, cell.n, cell.method) == (pytest.approx(42.0), 3, SEEDS)
    assert cell.high - cell.value == pytest.approx(4.303 * 2 / np.sqrt(3), abs=1e-3)  # t(0.975, 2) * sd / sqrt(3)
    assert list(cells.columns) == ["rotnet", "vcop", "scratch"]
    html = chapter.table1_table(rows, "Table 1").to_html()
    assert "42.0 ± 5.0" in html and "30.0 ± 0.0" in html
    gaps = chapter.scratch_gaps(rows).set_index(["backbone", "task"])
    gap = gaps.loc[("shufflenet3d", "rotnet")]
    # paired by seed: 20, 19, 18 -> mean 19, sd 1
    assert (gap["gap"], gap["n"], gap["method"]) == (pytest.approx(19.0), 3, SEEDS)
    assert gap["high"] - gap["gap"] == pytest.approx(4.303 / np.sqrt(3), abs=1e-3)
    facts = chapter.gap_facts(chapter.scratch_gaps(rows), rows)
    # VCOP on ShuffleNet: 10, 7, 4 points above scratch, mean 7 ± 7.5: the only gap whose interval holds zero
    assert (facts["seeds"], facts["gaps"], facts["gaps_above"], facts["gaps_below"]) == (3, 4, 3, 0)
    assert facts["gap_method"] == SEEDS
    duel = {c.key: c for c in chapter.claims(accuracy=rows)}["medium_beats_small"]
    assert duel.estimate.method == SEEDS and duel.estimate.n == 3
    assert duel.estimate.value == pytest.approx(6.0)  # per seed, over RotNet and VCOP: 5.5, 6.0, 6.5
    assert duel.estimate.high - duel.estimate.value == pytest.approx(4.303 * 0.5 / np.sqrt(3), abs=1e-3)
    assert evidence(rows) == {"seeds": 3, "models": 6, "test_videos": 200}


def test_one_seed_keeps_the_bootstrap_over_test_videos():
    rows = _accuracy({("rotnet", "shufflenet3d"): 40.0, ("scratch", "shufflenet3d"): 20.0})
    cells = chapter.table1_estimates(rows)
    assert not cells.loc["shufflenet_v1_2x", "rotnet"].has_interval
    assert "±" not in chapter.table1_table(rows).to_html()
    gap = chapter.scratch_gaps(rows).iloc[0]
    assert (gap["gap"], gap["n"], gap["method"]) == (pytest.approx(20.0), 200, VIDEOS) and gap["low"] > 0
    paired = chapter.scratch_gaps(rows, _kept(rows).get).iloc[0]
    assert paired["method"] == PAIRED_VIDEOS
    assert chapter.gap_facts(chapter.scratch_gaps(rows), rows)["seeds"] == 1
    assert chapter.scratch_gaps(rows.assign(seed=0)).iloc[0]["method"] == VIDEOS, "one named seed: still videos"


@pytest.mark.usefixtures("one_thread")
def test_table1_with_two_seeds_at_smoke_scale(study, monkeypatch):
    """Two seeds of a shrunken Table 1 (RotNet on ShuffleNet and its scratch baseline): per-seed rows of
    distinct runs, mean ± interval cells and gaps paired by seed."""
    point = chapter.table1_point(study, "rotnet", "shufflenet3d")
    monkeypatch.setattr(chapter, "table1_points", lambda s: [point])
    monkeypatch.setattr(chapter, "BACKBONES", ("shufflenet3d",))
    accuracy = chapter.table1_accuracy(study, seeds=(0, 1))
    assert list(zip(accuracy["task"], accuracy["seed"])) == [
        ("rotnet", 0),
        ("scratch", 0),
        ("rotnet", 1),
        ("scratch", 1),
    ]
    assert accuracy["config_hash"].nunique() == 4, "a seed is a run of its own"
    assert accuracy["top1"].between(0, 100).all()
    cell = chapter.table1_estimates(accuracy).loc["shufflenet_v1_2x", "rotnet"]
    assert cell.n == 2 and cell.has_interval
    assert "±" in chapter.table1_table(accuracy).to_html()
    gaps = chapter.scratch_gaps(accuracy, study.outcomes)
    assert gaps[["task", "n", "method"]].values.tolist() == [["rotnet", 2, SEEDS]]
    assert evidence(accuracy) == {"seeds": 2, "models": 2, "test_videos": accuracy["videos"].iloc[0]}


def test_recipe_facts_read_the_micro_recipes_from_the_configs():
    from sslvid.pretext.base import CLASSIFICATION_MICRO_RECIPE as RECIPE
    from sslvid.pretext.base import SHARED_RECIPE

    facts = chapter.recipe_facts()
    assert (facts["classification optimizer"], facts["classification lr"], facts["classification batch"]) == (
        RECIPE.optimizer,
        RECIPE.lr,
        RECIPE.batch_size,
    )
    assert (facts["shared optimizer"], facts["shared lr"], facts["shared batch"]) == (SHARED_RECIPE.optimizer, 0.01, 32)
    assert (facts["classification epochs"], facts["shared epochs"]) == (RECIPE.epochs, 4)


def _readout_rows() -> pd.DataFrame:
    rows = []
    for backbone in chapter.BACKBONES:
        for task, hue, digit in (("scratch", 50.0, 20.0), ("cvrl", 25.0, 15.0), ("rotnet", 40.0, 30.0)):
            for factor, accuracy, chance in (("class", digit, 10.0), ("background_hue", hue, 20.0)):
                rows.append([backbone, task, factor, chance, accuracy, accuracy - 4, accuracy + 4])
    return pd.DataFrame(rows, columns=["backbone", "task", "factor", "chance", "accuracy", "low", "high"])


def test_readout_table_puts_chance_above_one_row_per_model() -> None:
    table = chapter.readout_table(_readout_rows())
    assert list(table.columns) == ["class", "background_hue"]
    assert table.index[0] == ("", "chance") and table.iloc[0].tolist() == [10.0, 20.0]
    assert len(table) == 1 + 3 * len(chapter.BACKBONES)
    assert table.loc[("r2plus1d_18", "cvrl"), "background_hue"] == 25.0


def test_readout_facts_average_by_task_family_and_mark_what_is_missing() -> None:
    facts = chapter.readout_facts(_readout_rows())
    assert facts["background_hue_scratch"] == 50.0 and facts["background_hue_contrastive"] == 25.0
    assert facts["class_non_contrastive"] == 30.0 and facts["class_best"] == 30.0
    assert facts["background_hue_chance"] == 20.0
    assert np.isnan(facts["heading_best"]) and np.isnan(facts["digit_hue_scratch"])  # not measured: NaN, still glued


def test_vcop_order_check_reads_the_pools_own_trajectories(study, monkeypatch):
    """The default data's digit bounces inside VCOP's tuples, its positions do not tell their order and its look does
    not change: a property of the generator this check exists to show (it fails once the generator gives VCOP an
    answer)."""
    facts = chapter.vcop_order_check(study)
    config = study.pretrain_config(chapter.table1_point(study, "vcop", "r2plus1d_18"))
    assert facts["data"] == "the default data" and facts["tuples"] == len(build_index(config))
    assert facts["clips"] == 3 and facts["random_pct"] == pytest.approx(100 / 3)
    assert facts["bounce_pct"] > 80 and facts["look_changes_pct"] == 0
    assert 0 <= facts["ordered_pct"] <= 100

    def real_data(index):
        raise ValueError(f"{index.root} is not a set of the generated default data")

    monkeypatch.setattr(chapter, "video_scenes", real_data)  # videos with no known trajectories
    real = chapter.vcop_order_check(study)
    assert real["data"] == "real data" and math.isnan(real["ordered_pct"]) and real["tuples"] == 0
    assert math.isnan(real["look_changes_pct"])


def test_vcop_order_check_counts_a_digit_whose_look_changes(study, monkeypatch):
    """A digit that brightens over its video, the cue VCOP orders by at once (benchmarks/pretext_recipes.py), shows
    in every tuple."""
    scenes = chapter.video_scenes

    def brightening(index):
        return [dataclasses.replace(s, opacity=np.linspace(0.8, 1.0, len(s.opacity))) for s in scenes(index)]

    monkeypatch.setattr(chapter, "video_scenes", brightening)
    assert chapter.vcop_order_check(study)["look_changes_pct"] == 100
