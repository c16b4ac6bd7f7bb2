"""Chapter "Noise robustness" (benchmark §4.5, Table 7): tables, facts, claims and figures from constructed results.

Nothing here trains: results rows are written into an isolated results table under the config
hashes the study would use, so the chapter's compute-or-load functions find them.
"""

from __future__ import annotations

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
    NOT_MEASURED,
    PAIRED_VIDEOS,
    SINGLE,
    UNPAIRED_VIDEOS,
    VIDEOS,
)
from sslvid.evaluate.classify import TASK as CLEAN_TASK
from sslvid.evaluate.corruptions import NOISES
from sslvid.evaluate.features import FeatureCache
from sslvid.evaluate.robustness import TASK as NOISE_TASK
from sslvid.evaluate.robustness import drops, noise_definition
from sslvid.experiments import noise_robustness as ch
from sslvid.experiments.study import Study
from sslvid.store.outcomes import VideoOutcomes
from sslvid.store.paper_tables import load_paper_table
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

matplotlib.use("Agg")


@pytest.fixture
def study(tmp_path) -> Study:
    return Study(
        "smoke",
        store=RunStore(tmp_path / "runs"),
        results=ResultsStore(tmp_path / "r.csv"),
        features=FeatureCache(tmp_path / "f"),
    )


def model_rows(
    config_hash: str,
    task: str,
    backbone: str,
    clean: float,
    noisy: dict[str, float],
    severity: int = 1,
    test_videos: int | None = None,
) -> list[dict]:
    """Results rows of one model: clean top-1 and, per noise, noisy top-1 and drops (video and clip level)."""
    common = {
        "config_hash": config_hash,
        "model": backbone,
        "pretext": task,
        "protocol": "linear",
        "dataset": "digits-appearance",
    }
    rows = [{**common, "task": CLEAN_TASK, "metric": m, "value": clean} for m in ("top1_clip", "top1_video")]
    for noise, value in noisy.items():
        metrics = {
            "top1_clip": value,
            "top1_video": value,
            **drops({"top1_clip": clean, "top1_video": clean}, {"top1_clip": value, "top1_video": value}),
        }
        card = {**noise_definition(noise, severity), **({"test_videos": test_videos} if test_videos else {})}
        rows += [
            {
                **common,
                "task": NOISE_TASK,
                "condition": f"{noise}/{severity}",
                "metric": m,
                "value": v,
                "protocol_card": card,
            }
            for m, v in metrics.items()
        ]
    return rows


def paper_like_rows(study: Study, clean: float = 80.0) -> pd.DataFrame:
    """Rows for the 12 models whose relative drops equal the paper's (same drop under every noise)."""
    paper = ch.paper_table7().set_index(["task", "backbone"])["rel_drop_pct"]
    rows = []
    for point in ch.noise_points(study):
        rel = paper[(point["task"], point["backbone"])]
        key = study.eval_config(point, "appearance").config_hash()
        rows += model_rows(key, point["task"], point["backbone"], clean, {n: clean * (1 - rel / 100) for n in NOISES})
    return study.results.upsert(rows)


def table_of(values: dict[tuple[str, str], tuple[float, float]]) -> pd.DataFrame:
    """A Table-7-shaped frame from {(task, backbone): (clean, noisy)}."""
    rows = [
        {
            "task": t,
            "backbone": b,
            "clean_top1": c,
            "noisy_top1": n,
            "abs_drop": c - n,
            "rel_drop_pct": 100 * (c - n) / c,
            "noises": 4,
        }
        for (t, b), (c, n) in values.items()
    ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- Table 7 and the paper


def test_table7_has_the_papers_shape_and_reads_the_drops(study):
    rows = paper_like_rows(study)
    table = ch.table7_from_rows(rows.assign(noise="", severity=1))
    assert list(table.columns) == list(ch.TABLE_COLUMNS)
    assert len(table) == 12 and set(table["backbone"]) == {"shufflenet3d", "r2plus1d_18"}
    assert (table["noises"] == 4).all()
    assert np.allclose(table["clean_top1"], 80.0)
    paper = ch.paper_table7().merge(table, on=["task", "backbone"], suffixes=("_paper", ""))
    assert np.allclose(paper["rel_drop_pct"], paper["rel_drop_pct_paper"])
    assert table.set_index("task").loc["cvrl", "category"].tolist() == ["spatial", "spatial"]


def test_paper_comparisons_reads_cached_results_without_training(study):
    paper_like_rows(study)
    comparisons = ch.paper_comparisons(study)
    assert list(comparisons) == [ch.TABLE7]
    frame = comparisons[ch.TABLE7]
    assert len(frame) == 24 and set(frame["metric"]) == {"noisy_top1", "relative_drop_pct"}
    assert (frame["n"] == 1).all()
    rel = frame[frame["metric"] == "relative_drop_pct"]
    assert np.allclose(rel["difference"], 0.0, atol=1e-9)
    printed = load_paper_table(ch.TABLE7).set_index(["backbone", "pretext"])["noisy_top1"]
    noisy = frame[frame["metric"] == "noisy_top1"].set_index(["backbone", "pretext"])["paper"]
    assert np.allclose(noisy.sort_index(), printed.sort_index())
    assert not (study.store.root.exists() and any(study.store.root.iterdir())), "nothing may be trained"


def test_noise_rows_adds_noise_and_severity(study):
    paper_like_rows(study)
    rows = ch.noise_rows(study, ch.noise_points(study)[:2], (1,))
    assert set(rows["noise"]) == set(NOISES) and set(rows["severity"]) == {1}
    assert study.timings[-1]["cached"] is True


# ---------------------------------------------------------------------- the paper's inferences


def test_claims_on_the_papers_own_table():
    verdicts = ch.claims_on_paper().set_index("claim")["paper's numbers"]
    # §4.5: spatio-temporal least robust on R21D and most robust on ShuffleNet
    assert verdicts["spatiotemporal_least_robust_r2plus1d_18"] == HOLDS
    assert verdicts["spatiotemporal_most_robust_shufflenet3d"] == HOLDS
    # non-contrastive drops less on both backbones (R21D 33.3 vs 58.0; ShuffleNet 26.5 vs 41.3)
    assert verdicts["non_contrastive_robust_r2plus1d_18"] == HOLDS
    # "R21D more robust than ShuffleNet" is contradicted by the paper's own numbers
    assert verdicts["r21d_robust_non_contrastive"] == CONTRADICTED == verdicts["r21d_robust_contrastive"]
    # RotNet/R21D is the smallest drop (10.7), but the largest is CVRL/R21D (78.4), not PRP/R21D (70.1)
    assert verdicts["most_robust_rotnet_r2plus1d_18"] == HOLDS
    assert verdicts["least_robust_prp_r2plus1d_18"] == CONTRADICTED


def test_claims_on_our_numbers_carry_intervals():
    found = {c.key: c for c in ch.claims(ch.paper_table7())}
    gap = found["non_contrastive_robust_r2plus1d_18"]
    assert gap.estimate.value == pytest.approx(33.3 - 58.0, abs=0.1) and gap.estimate.n == 3
    assert gap.estimate.has_interval and gap.estimate.low <= gap.estimate.value <= gap.estimate.high
    # a statement about one model rests on single cells: no interval, so it cannot hold on our numbers
    assert not found["most_robust_rotnet_r2plus1d_18"].estimate.has_interval
    assert found["most_robust_rotnet_r2plus1d_18"].verdict == INCONCLUSIVE
    missing = {c.key: c for c in ch.claims(ch.paper_table7().query("backbone == 'r2plus1d_18'"))}
    assert missing["r21d_robust_contrastive"].verdict == NOT_MEASURED


V = 400
TEST_VIDEOS = [f"v{i:03d}" for i in range(V)]


def counted_rows(study: Study) -> tuple[pd.DataFrame, dict[tuple[str, str | None], VideoOutcomes]]:
    """Paper-like noise rows of the 12 models on the same 400 test videos (named on the cards), and their
    nested per-video outcomes: clean right on the first 320 videos, each noise on the first ``4 * noisy``."""
    paper = ch.paper_table7().set_index(["task", "backbone"])["rel_drop_pct"]
    rows, kept = [], {}
    for point in ch.noise_points(study):
        key = study.eval_config(point, "appearance").config_hash()
        noisy = round(4 * 80.0 * (1 - paper[(point["task"], point["backbone"])] / 100)) / 4
        rows += model_rows(key, point["task"], point["backbone"], 80.0, dict.fromkeys(NOISES, noisy), test_videos=V)
        kept[(key, None)] = VideoOutcomes.of(key, "top1_video", TEST_VIDEOS, [i < 320 for i in range(V)])
        for noise in NOISES:
            correct = [i < 4 * noisy for i in range(V)]
            kept[(key, f"{noise}/1")] = VideoOutcomes.of(key, "top1_video", TEST_VIDEOS, correct, f"{noise}/1")
    stored = study.results.upsert(rows)
    return stored[stored["task"] == NOISE_TASK].reset_index(drop=True), kept


def test_claims_take_the_paired_bootstrap_over_test_videos_where_outcomes_are_kept(study):
    rows, kept = counted_rows(study)
    table = ch.table7_from_rows(rows)
    paired = {c.key: c for c in ch.claims(table, rows, lambda key, condition: kept.get((key, condition)))}
    unpaired = {c.key: c for c in ch.claims(table, rows)}
    over_models = {c.key: c for c in ch.claims(table)}
    assert set(paired) == set(over_models) and len(paired) == 8
    for key, claim in paired.items():
        assert claim.estimate.value == pytest.approx(over_models[key].estimate.value, abs=1e-9), key
        assert (claim.estimate.method, claim.estimate.n) == (PAIRED_VIDEOS, V), key
        assert unpaired[key].estimate.method == VIDEOS, key
    most = paired["most_robust_rotnet_r2plus1d_18"]
    assert most.estimate.has_interval and over_models["most_robust_rotnet_r2plus1d_18"].estimate.method == SINGLE
    assert over_models["non_contrastive_robust_r2plus1d_18"].estimate.method == CELLS
    gap = "non_contrastive_robust_r2plus1d_18"
    assert (
        paired[gap].estimate.high - paired[gap].estimate.low < unpaired[gap].estimate.high - unpaired[gap].estimate.low
    )
    some = {k: v for k, v in kept.items() if k[1] != "speckle/1"}
    fallback = {c.key: c for c in ch.claims(table, rows, lambda key, condition: some.get((key, condition)))}
    assert fallback[gap].estimate.method == UNPAIRED_VIDEOS


def test_a_model_at_zero_clean_accuracy_is_left_out_as_on_the_models_path(study):
    rows, kept = counted_rows(study)
    dead = ch.noise_points(study)[0]
    key = study.eval_config(dead, "appearance").config_hash()
    zero = (rows["config_hash"] == key) & rows["metric"].isin(["top1_video", "abs_drop_video"])
    rows.loc[zero, "value"] = 0.0
    rows.loc[(rows["config_hash"] == key) & (rows["metric"] == "rel_drop_video"), "value"] = np.nan
    kept = {
        k: VideoOutcomes.of(k[0], "top1_video", TEST_VIDEOS, [False] * V, k[1] or "clean") if k[0] == key else v
        for k, v in kept.items()
    }
    table = ch.table7_from_rows(rows)
    paired = {c.key: c for c in ch.claims(table, rows, lambda k, condition: kept.get((k, condition)))}
    over_models = {c.key: c for c in ch.claims(table)}
    for name, claim in paired.items():
        assert claim.estimate.method == PAIRED_VIDEOS and np.isfinite(claim.estimate.value), name
        assert claim.estimate.value == pytest.approx(over_models[name].estimate.value, abs=1e-9), name


def test_rows_without_test_video_counts_keep_the_bootstrap_over_models(study):
    rows = paper_like_rows(study)
    noisy = rows[rows["task"] == NOISE_TASK]
    found = {c.key: c for c in ch.claims(ch.table7_from_rows(noisy), noisy, lambda key, condition: None)}
    assert found["non_contrastive_robust_r2plus1d_18"].estimate.method == CELLS
    assert ch.evidence_facts(noisy)["test_videos"] == "not recorded"


def test_the_evidence_counts_models_test_videos_and_noisy_tests(study):
    rows, _ = counted_rows(study)
    assert ch.evidence_facts(rows) == {"seeds": 1, "models": 12, "test_videos": V, "conditions": len(NOISES)}


def test_rank_agreement_with_table7():
    paper = ch.paper_table7()
    same = table_of({(r.task, r.backbone): (80.0, 80.0 * (1 - r.rel_drop_pct / 100)) for r in paper.itertuples()})
    claim = ch.rank_agreement(same)
    assert claim.estimate.value == pytest.approx(1.0) and claim.estimate.n == 12 and claim.verdict == HOLDS
    reversed_ = ch.rank_agreement(same.assign(rel_drop_pct=-same["rel_drop_pct"]))
    assert reversed_.estimate.value == pytest.approx(-1.0) and reversed_.verdict == CONTRADICTED


def test_robustness_facts():
    paper = ch.paper_table7()
    table = table_of({(r.task, r.backbone): (80.0, 80.0 * (1 - r.rel_drop_pct / 100)) for r in paper.itertuples()})
    facts = ch.robustness_facts(table)
    assert facts["most robust"] == "rotnet/r2plus1d_18" and facts["least robust"] == "cvrl/r2plus1d_18"
    assert facts["steadier backbone"] == facts["paper steadier backbone"] == "shufflenet3d"
    assert facts["negative drops"] == 0 and facts["models"] == 12
    assert ch.robustness_facts(table.assign(rel_drop_pct=-table["rel_drop_pct"]))["negative drops"] == 12


def test_chance_facts_flag_models_near_chance():
    table = table_of({("rotnet", "shufflenet3d"): (12.0, 11.0), ("vcop", "shufflenet3d"): (60.0, 40.0)})
    facts = ch.chance_facts(table, chance=10.0)
    assert (facts["near chance"], facts["models"], facts["near chance models"]) == (1, 2, "rotnet/shufflenet3d (12.0%)")
    assert ch.chance_facts(table.iloc[1:], chance=10.0)["near chance models"] == "none"


def test_abs_vs_rel_when_orders_differ():
    # a weak model loses few points but a large share; a strong one loses more points but a smaller share
    table = table_of(
        {
            ("tdl", "shufflenet3d"): (20.0, 12.0),
            ("rspnet", "shufflenet3d"): (90.0, 75.0),
            ("vcop", "r2plus1d_18"): (60.0, 40.0),
        }
    )
    facts = ch.abs_vs_rel(table)
    assert facts["smallest absolute drop"] == "tdl/shufflenet3d"
    assert facts["smallest relative drop"] == "rspnet/shufflenet3d"
    assert facts["rho"] == pytest.approx(-0.5)


# ---------------------------------------------------------------------- curves


def curve_rows(tops: dict[int, float], clean: float = 50.0) -> pd.DataFrame:
    rows = []
    for severity, top in tops.items():
        for noise in ("gaussian", "shot"):
            value = top - (5 if noise == "shot" else 0)
            rows += model_rows("h", "rotnet", "r2plus1d_18", clean, {noise: value}, severity)
    table = pd.DataFrame([r for r in rows if r["task"] == NOISE_TASK])
    parts = table["condition"].str.split("/", expand=True)
    return table.assign(noise=parts[0], severity=parts[1].astype(int))


def test_curves_start_at_the_clean_accuracy():
    curves = ch.curves_from_rows(curve_rows({1: 45.0, 3: 30.0, 5: 20.0}))
    assert list(curves.columns) == ["model", "noise", "severity", "top1", "abs_drop", "rel_drop_pct"]
    assert len(curves) == 2 * 4
    clean = curves[curves["severity"] == 0]
    assert np.allclose(clean["top1"], 50.0) and (clean["rel_drop_pct"] == 0).all()
    facts = ch.severity_facts(curves)
    assert facts["top severity"] == 5 and facts["never rose"]
    assert facts["models"] == "rotnet/r2plus1d_18 50.0% -> 17.5% (lowest under shot noise, 15.0%)"
    assert not ch.severity_facts(ch.curves_from_rows(curve_rows({1: 30.0, 3: 40.0})))["never rose"]
    fig = ch.severity_figure(curves, chance=10.0)
    assert len(fig.axes) == 2


# ---------------------------------------------------------------------- figures and features


def test_drops_and_ranking_figures_draw_every_model():
    paper = ch.paper_table7()
    table = table_of({(r.task, r.backbone): (60.0, 60.0 * (1 - r.rel_drop_pct / 200)) for r in paper.itertuples()})
    fig = ch.drops_figure(table)
    assert len(fig.axes) == 2 and sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 12
    fig = ch.ranking_figure(table)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 12


def test_noise_gallery_has_a_cell_per_noise_and_severity():
    frames = torch.randint(0, 256, (1, 1, 4, 40, 40, 3), dtype=torch.uint8)
    fig = ch.noise_gallery(frames, crop_size=32, severities=(1, 5))
    assert len(fig.axes) == len(NOISES) * 3
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (32, 32, 3)


def test_cosine_similarity_subsample_and_tsne_figure(monkeypatch):
    # the layout is under test, not t-SNE itself (tested in test_figures): a projection stands in for it
    monkeypatch.setattr(
        "sslvid.analysis.figures.tsne_embedding",
        lambda x, seed=0, perplexity=30.0: np.asarray(x, dtype=np.float64)[:, :2],
    )
    clean = torch.randn(40, 8)
    assert torch.allclose(ch.cosine_similarity(clean, 2 * clean), torch.ones(40, dtype=torch.float64))
    assert torch.allclose(ch.cosine_similarity(clean, -clean), -torch.ones(40, dtype=torch.float64))
    with pytest.raises(ValueError, match="differ in shape"):
        ch.cosine_similarity(clean, clean[:3])
    offset = clean + 100.0  # a shared component makes raw cosines near 1 for any pairing of clips
    shuffled = offset[torch.randperm(40, generator=torch.Generator().manual_seed(0))]
    assert ch.cosine_similarity(offset, shuffled).mean() > 0.99
    assert abs(float(ch.centred_cosine(offset, shuffled).mean())) < 0.3
    assert torch.allclose(ch.centred_cosine(offset, offset), torch.ones(40, dtype=torch.float64))
    keep = ch.subsample(40, 20, seed=0)
    assert len(keep) == 20 and len(set(keep)) == 20 and (np.diff(keep) > 0).all()
    assert np.array_equal(keep, ch.subsample(40, 20, seed=0))
    with pytest.raises(ValueError, match="at least 4"):
        ch.subsample(40, 2, seed=0)
    labels = torch.arange(20) % 4
    fig = ch.clean_vs_noisy_figure(clean[keep], clean[keep] + 0.1, labels, list("abcd"), "gaussian/5")
    assert len(fig.axes) == 2 and "gaussian/5" in fig.axes[1].get_title()


def test_shift_agreement_reads_the_steadiest_model():
    shift = pd.DataFrame({"task": ["a", "b", "c"], "backbone": ["x"] * 3, "cosine": [0.99, 0.9, 0.5]})
    table = table_of({("a", "x"): (50, 45), ("b", "x"): (50, 40), ("c", "x"): (50, 20)})
    facts = ch.shift_agreement(shift, table)
    assert facts["steadiest"] == "a/x" and facts["rho"] == pytest.approx(1.0) and facts["models"] == 3


# ---------------------------------------------------------------------- input checks


def test_bad_names_and_severities_raise(study):
    with pytest.raises(ValueError, match="valid: vcop/shufflenet3d"):
        ch.model_point(study, "rotnet/resnet50")
    assert ch.model_point(study, "prp/r2plus1d_18")["task"] == "prp"
    with pytest.raises(ValueError, match="subset of"):
        ch.check_severities((0, 6))
    assert ch.check_severities((5, 1, 1)) == (1, 5)
