"""Chapter "Noise robustness": the Table-1 models tested on noisy clips (benchmark paper §4.5, Table 7).

The benchmark (Anonymous, CVPR 2023 submission #3061, §4.5) tests the six pretext tasks' K400-50k models on
ShuffleNet v1 2.0x and R(2+1)D-18, finetuned on UCF101, under Gaussian, shot, impulse and speckle noise
(Hendrycks & Dietterich 2019); Table 7 prints per model the noisy accuracy and its relative drop, averaged
over the four noises at severity 1. Here the same is measured on the study's appearance target, every frame
of every test clip corrupted (``sslvid.evaluate.robustness``). Models are named ``"<task>/<backbone>"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from sslvid.analysis.claims import (
    Claim,
    Estimate,
    bootstrap_group_difference,
    bootstrap_mean,
    extremes,
    printed_claims,
    spearman,
    video_statistic,
)
from sslvid.analysis.embedding import to_display_frames
from sslvid.analysis.figures import tsne_figure
from sslvid.engine.distributed import env_info, resolve_device
from sslvid.evaluate.classify import Context, eval_features, trained_classifier
from sslvid.evaluate.common import card_test_videos, open_eval_split
from sslvid.evaluate.corruptions import NOISES, SEVERITIES, create_corruption
from sslvid.evaluate.features import ClipFeatures, Noise, eval_clips
from sslvid.evaluate.robustness import METRICS, TASK, noise_robustness, noise_table
from sslvid.experiments.study import Study, chapter_claim, evidence
from sslvid.pretext.base import TASKS
from sslvid.seeding import rng_for
from sslvid.store.outcomes import VideoOutcomes
from sslvid.store.paper_tables import OUR_BACKBONES, PAPER_BACKBONES, paper_table_as
from sslvid.store.results import compare_with_paper

TABLE7 = "benchmark_t7_noise_ucf101"
"""The paper table this chapter reproduces (``sslvid.store.paper_tables.PAPER_TABLES``)."""
TARGET = "appearance"
TABLE_COLUMNS = (
    "task",
    "backbone",
    "category",
    "contrastive",
    "clean_top1",
    "noisy_top1",
    "abs_drop",
    "rel_drop_pct",
    "noises",
)
KNOBS: dict[str, Any] = {
    "severities": [1, 3, 5],
    "curve_models": ["rotnet/r2plus1d_18", "prp/r2plus1d_18"],
    "tsne_model": "rotnet/r2plus1d_18",
    "tsne_noise": "gaussian",
    "tsne_severity": 5,
    "tsne_clips": 300,
    "gallery_video": 0,
}
"""The notebook's knobs and their defaults (its parameters cell, less the study's own: profile, data_root,
seed, device, cache_dir); ``paper_comparisons`` reads the same. ``tests/test_knobs.py`` checks the notebook.
The curve models are the paper's most and least robust (Table 7: RotNet and PRP on R21D)."""


# ---------------------------------------------------------------------- models and measurements


def noise_points(study: Study) -> list[dict[str, Any]]:
    """The 12 models of Table 1 / Table 7 (grid ``"noise"``: six tasks x two backbones, K400-50k)."""
    return study.grid_points("noise")


def model_point(study: Study, name: str) -> dict[str, Any]:
    """The grid point of model ``"<task>/<backbone>"``; ValueError listing the valid names for another."""
    points = {f"{p['task']}/{p['backbone']}": p for p in noise_points(study)}
    if name not in points:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(points)}")
    return points[name]


def check_severities(severities: Sequence[int]) -> tuple[int, ...]:
    """Sorted unique severities; ValueError for none or one outside 1..5."""
    chosen = tuple(sorted(set(severities)))
    if not chosen or any(s not in SEVERITIES for s in chosen):
        raise ValueError(f"severities must be a non-empty subset of {SEVERITIES}, got {tuple(severities)}")
    return chosen


def noise_rows(
    study: Study, points: Sequence[Mapping[str, Any]], severities: Sequence[int] = (1,), noises: Sequence[str] = NOISES
) -> pd.DataFrame:
    """Results rows (``condition`` "<noise>/<severity>", ``metric`` in ``robustness.METRICS``) of every point under
    every noise and severity, plus ``noise`` and ``severity``; measured once, after the clean evaluation."""
    severities = check_severities(severities)
    conditions = [f"{n}/{s}" for n in noises for s in severities]
    frames = []
    for point in points:
        config = study.eval_config(point, TARGET)
        cached = all(study.results.has(config.config_hash(), TASK, METRICS, condition=c) for c in conditions)
        if not cached:
            study.evaluate(point, TARGET)
        with study.timed(f"noise/{len(conditions)} conditions", point, cached=cached):
            frames.append(noise_robustness(config, noises, severities, workspace=study.workspace))
    rows = pd.concat(frames, ignore_index=True)
    parts = rows["condition"].str.split("/", expand=True)
    return rows.assign(noise=parts[0], severity=parts[1].astype(int))


def _traits(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the ``category`` and ``contrastive`` flag of its ``task`` (benchmark §3.1)."""
    tasks = table["task"].map(TASKS.get)
    return table.assign(category=tasks.map(lambda t: t.category), contrastive=tasks.map(lambda t: bool(t.contrastive)))


# ---------------------------------------------------------------------- Table 7


def table7_from_rows(rows: pd.DataFrame, severity: int = 1) -> pd.DataFrame:
    """Table 7's shape from noise rows, one row per model, mean over the noises at ``severity``: ``TABLE_COLUMNS``,
    accuracies in percent (clean = noisy + absolute drop), ``abs_drop`` in points, ``rel_drop_pct`` in percent
    of clean (the mean of the noises' relative drops, as the paper)."""
    table = noise_table(rows, severity=severity, level="video").rename(columns={"model": "backbone", "pretext": "task"})
    table = _traits(table.assign(clean_top1=table["noisy_top1"] + table["abs_drop"]))
    return table[list(TABLE_COLUMNS)].sort_values(["backbone", "task"]).reset_index(drop=True)


def table7_rows(study: Study, severity: int = 1) -> pd.DataFrame:
    """The noise rows behind Table 7 (``table7_from_rows``), which ``claims`` bootstraps over and
    ``evidence_facts`` counts."""
    return noise_rows(study, noise_points(study), (severity,))


def evidence_facts(rows: pd.DataFrame, seeds: int = 1) -> dict[str, Any]:
    """``Study.evidence`` of noise rows (``table7_rows``; their protocol cards name the test videos), plus
    ``conditions``: the most noisy tests of one model."""
    frame = rows.groupby("config_hash").agg(
        videos=("protocol_card", card_test_videos), conditions=("condition", "nunique")
    )
    return {**evidence(frame, seeds), "conditions": int(frame["conditions"].max()) if len(frame) else 0}


def paper_table7() -> pd.DataFrame:
    """The paper's Table 7 in this chapter's columns: task, backbone (our names), noisy_top1, rel_drop_pct."""
    columns = {
        "pretext": "task",
        "backbone": "backbone",
        "noisy_top1": "noisy_top1",
        "relative_drop_pct": "rel_drop_pct",
    }
    return paper_table_as(TABLE7, columns, {"backbone": OUR_BACKBONES})


def paper_comparisons(study: Study) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for Table 7: ``{TABLE7: frame}`` with columns ``backbone, pretext, metric``
    ("noisy_top1", "relative_drop_pct"), ``paper``, ``reproduced``, ``n``, ``difference``."""
    return {
        TABLE7: compare_with_paper(
            TABLE7,
            table7_from_rows(table7_rows(study)).rename(columns={"task": "pretext"}),
            values={"noisy_top1": "noisy_top1", "relative_drop_pct": "rel_drop_pct"},
            rename={"backbone": PAPER_BACKBONES},
        )
    }


# ---------------------------------------------------------------------- the paper's inferences

CHAPTER = "noise_robustness"
"""This chapter's name in the claims table."""


def _claim(key: str, statement: str, quantity: str, got: Estimate | str, direction: str = "<") -> Claim:
    claim = chapter_claim(CHAPTER, key, statement, quantity, direction, section="§4.5", table="Table 7")
    return claim.measured(got, "") if isinstance(got, Estimate) else claim.measured(None, got)


NoiseOutcomes = Callable[[str, str | None], VideoOutcomes | None]
"""Per-video outcomes of an evaluation by config hash and condition (``Study.outcomes``; None: clean)."""
Rel = Callable[[Any], np.ndarray]
"""The (D,) relative drops (percent) of a table row over one draw of the test videos."""
VideoEstimate = Callable[[Callable[[Rel], np.ndarray], Sequence[Any]], Estimate]
"""``quantity(rel)`` over the test videos of the given table rows (``_video_draws``)."""


def _video_draws(
    table: pd.DataFrame, rows: pd.DataFrame | None, outcomes: NoiseOutcomes | None, severity: int
) -> VideoEstimate | None:
    """A bootstrap over test videos of the relative drops of ``table``'s models, from their noise ``rows`` at
    ``severity`` (paired when every outcome is kept: ``video_statistic``); None without rows, or when a model's
    rows name no test videos (stored before they were counted)."""
    if rows is None or rows.empty or "protocol_card" not in rows:
        return None
    wanted = rows[rows["condition"].isin({f"{n}/{severity}" for n in NOISES})]
    found = outcomes or (lambda _hash, _condition: None)
    cells: dict[str, tuple[float, float, VideoOutcomes | None]] = {}  # "<row>|clean" or "<row>|<condition>"
    noisy: dict[Any, list[str]] = {}  # table row: the noisy keys its relative drop averages
    for i, r in table.iterrows():
        mine = wanted[(wanted["pretext"] == r["task"]) & (wanted["model"] == r["backbone"])]
        by = mine.pivot_table(index="condition", columns="metric", values="value", aggfunc="first")
        videos = card_test_videos(mine["protocol_card"])
        if by.empty or not {"top1_video", "abs_drop_video"} <= set(by.columns) or np.isnan(videos):
            return None
        key = str(mine["config_hash"].iloc[0])
        clean = (by["top1_video"] + by["abs_drop_video"]).iloc[0]
        for name, condition, value in [("clean", None, clean), *((c, str(c), v) for c, v in by["top1_video"].items())]:
            cells[f"{i}|{name}"] = (float(value), videos, found(key, condition))  # top-1 %, test videos, outcomes
        noisy[i] = [f"{i}|{c}" for c in by.index]

    def rel(acc: Mapping[str, np.ndarray], row: Any) -> np.ndarray:
        clean = acc[f"{row}|clean"]
        mean_noisy = np.mean([acc[k] for k in noisy[row]], axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(clean > 0, 100.0 * (clean - mean_noisy) / clean, np.nan)

    def estimate(quantity: Callable[[Rel], np.ndarray], rows: Sequence[Any]) -> Estimate:
        keys = [k for row in rows for k in (f"{row}|clean", *noisy[row])]
        kept = None if outcomes is None else {k: cells[k][2] for k in keys}
        return video_statistic({k: cells[k][:2] for k in keys}, lambda acc: quantity(lambda r: rel(acc, r)), kept)

    return estimate


def claims(
    table: pd.DataFrame, rows: pd.DataFrame | None = None, outcomes: NoiseOutcomes | None = None, severity: int = 1
) -> list[Claim]:
    """The benchmark's §4.5 inferences (Table 7) checked on a table of relative drops (``task, backbone,
    rel_drop_pct``: ours, or ``paper_table7()``), each with a 95% interval and a computed verdict.

    With the noise ``rows`` behind it (``table7_rows``, at ``severity``), a percentile bootstrap over the test
    videos every model and noise shares (Efron & Tibshirani 1993), paired where ``outcomes`` (``Study.outcomes``)
    finds every test's per-video outcomes; else over the models, a statement about one model resting on single
    cells. Models at 0% clean accuracy (no relative drop) are left out, as are draws where one's clean is 0.
    """
    table = _traits(table)
    table = table[np.isfinite(table["rel_drop_pct"].astype(float))]
    videos = _video_draws(table, rows, outcomes, severity)
    out = []
    for backbone, want in (("r2plus1d_18", "least"), ("shufflenet3d", "most")):
        part = table[table["backbone"] == backbone]
        st = part["category"] == "spatiotemporal"
        out.append(
            _claim(
                f"spatiotemporal_{want}_robust_{backbone}",
                f"On {backbone} the spatio-temporal tasks (PRP, RSPNet) are the {want} robust.",
                "spatio-temporal minus other tasks' mean relative drop (%)",
                _gap(part, part.index[st], part.index[~st], videos),
                ">" if want == "least" else "<",
            )
        )
    for backbone in ("r2plus1d_18", "shufflenet3d"):
        part = table[table["backbone"] == backbone]
        out.append(
            _claim(
                f"non_contrastive_robust_{backbone}",
                f"On {backbone} non-contrastive tasks drop less than contrastive ones.",
                "non-contrastive minus contrastive mean relative drop (%)",
                _gap(part, part.index[~part["contrastive"]], part.index[part["contrastive"]], videos),
            )
        )
    for contrastive in (False, True):
        kind = "contrastive" if contrastive else "non-contrastive"
        out.append(
            _claim(
                f"r21d_robust_{kind.replace('-', '_')}",
                f"For {kind} tasks R(2+1)D-18 drops less than ShuffleNet.",
                "R(2+1)D minus ShuffleNet relative drop, mean over tasks (%)",
                _backbone_gap(table[table["contrastive"] == contrastive], videos),
            )
        )
    for task, side, word, extreme in (("rotnet", "<", "most", "smallest"), ("prp", ">", "least", "largest")):
        out.append(
            _claim(
                f"{word}_robust_{task}_r2plus1d_18",
                f"The {word} robust model is {task} on r2plus1d_18.",
                f"its relative drop minus the {extreme} of the others (%)",
                _extreme(table, task, "r2plus1d_18", side, videos),
                side,
            )
        )
    return out


def _gap(table: pd.DataFrame, a: pd.Index, b: pd.Index, videos: VideoEstimate | None) -> Estimate | str:
    """Mean relative drop of rows ``a`` minus that of rows ``b``: over test videos, or over the models."""
    if not len(a) or not len(b):
        return "one of the two groups has no model"
    if videos is not None:
        return videos(lambda rel: np.mean([rel(i) for i in a], 0) - np.mean([rel(i) for i in b], 0), [*a, *b])
    return bootstrap_group_difference(table.loc[a, "rel_drop_pct"], table.loc[b, "rel_drop_pct"])


def _backbone_gap(table: pd.DataFrame, videos: VideoEstimate | None) -> Estimate | str:
    """R(2+1)D minus ShuffleNet relative drop of each task that has both, mean over the tasks."""
    index = table.rename_axis("index").reset_index().pivot_table("index", "task", "backbone", aggfunc="first")
    pairs = [(int(r), int(s)) for r, s in index.reindex(columns=["r2plus1d_18", "shufflenet3d"]).dropna().to_numpy()]
    if not pairs:
        return "no task with both backbones"
    if videos is not None:
        return videos(lambda rel: np.mean([rel(r) - rel(s) for r, s in pairs], axis=0), [i for p in pairs for i in p])
    return bootstrap_mean([table.loc[r, "rel_drop_pct"] - table.loc[s, "rel_drop_pct"] for r, s in pairs])


def _extreme(table: pd.DataFrame, task: str, backbone: str, side: str, videos: VideoEstimate | None) -> Estimate | str:
    """One model's relative drop minus the smallest (``side`` "<") or largest (">") of the others'."""
    is_mine = (table["task"] == task) & (table["backbone"] == backbone)
    mine, rest = table.index[is_mine], table.index[~is_mine]
    if not len(mine) or not len(rest):
        return "the model or the others are missing (or have no relative drop: 0% clean accuracy)"
    pick = np.min if side == "<" else np.max
    if videos is not None:
        return videos(lambda rel: rel(mine[0]) - pick([rel(i) for i in rest], axis=0), [mine[0], *rest])
    return Estimate(float(table.loc[mine[0], "rel_drop_pct"] - pick(table.loc[rest, "rel_drop_pct"])), n=1)


def rank_agreement(table: pd.DataFrame) -> Claim:
    """Do our models rank by relative drop as the paper's Table 7? Spearman's rho over the models both have."""
    merged = paper_table7().merge(table, on=["task", "backbone"], suffixes=("_paper", ""))
    rho = spearman(merged["rel_drop_pct_paper"], merged["rel_drop_pct"])
    return _claim(
        "table7_ranking",
        "The models rank by relative drop as in the paper's Table 7.",
        "Spearman's rho of the relative drops, ours against the paper's",
        rho if not np.isnan(rho.value) else f"{len(merged)} models in common: too few, or constant",
        ">",
    )


def rho_facts(rho: Estimate | None) -> dict[str, float]:
    """A Spearman estimate as facts: ``rho``, ``rho low``, ``rho high`` (NaN when not measured)."""
    rho = rho or Estimate(float("nan"))
    return {"rho": rho.value, "rho low": rho.low, "rho high": rho.high}


def claims_on_paper() -> pd.DataFrame:
    """The same statements on the paper's own Table 7 (``printed_claims``: claim, paper's value, verdict)."""
    return printed_claims(claims(paper_table7()))


# ---------------------------------------------------------------------- facts on Table 7


def robustness_facts(table: pd.DataFrame) -> dict[str, Any]:
    """Table 7 here as facts: the most and least robust model and task (relative drop), the steadier backbone
    here and in the paper, and how many drops are negative (a model better on noisy clips)."""
    models = table.set_index(table["task"] + "/" + table["backbone"])["rel_drop_pct"]
    by_task = table.groupby("task")["rel_drop_pct"].mean().sort_values()
    return {
        **extremes(models, "drop", {"most robust": "min", "least robust": "max"}),
        **extremes(table.groupby("backbone")["rel_drop_pct"].mean(), "drop", {"steadier backbone": "min"}),
        "paper steadier backbone": paper_table7().groupby("backbone")["rel_drop_pct"].mean().idxmin(),
        "most robust task": by_task.index[0],
        "least robust task": by_task.index[-1],
        "negative drops": int((table["rel_drop_pct"] < 0).sum()),
        "models": len(table),
        "noises": int(table["noises"].max()) if "noises" in table else len(NOISES),
    }


def abs_vs_rel(table: pd.DataFrame) -> dict[str, Any]:
    """Ranking by absolute drop against relative drop: Spearman's rho and the model each ranking puts first."""
    by_abs, by_rel = table.sort_values("abs_drop").iloc[0], table.sort_values("rel_drop_pct").iloc[0]
    return {
        **rho_facts(spearman(table["abs_drop"], table["rel_drop_pct"])),
        "smallest absolute drop": f"{by_abs['task']}/{by_abs['backbone']}",
        "smallest relative drop": f"{by_rel['task']}/{by_rel['backbone']}",
    }


def chance_facts(table: pd.DataFrame, chance: float, margin: float = 5.0) -> dict[str, Any]:
    """Models whose clean accuracy is within ``margin`` points of chance (little accuracy to lose)."""
    near = table[table["clean_top1"] < chance + margin]
    return {
        "chance": chance,
        "margin": margin,
        "models": len(table),
        "near chance": len(near),
        "near chance models": ", ".join(f"{r.task}/{r.backbone} ({r.clean_top1:.1f}%)" for r in near.itertuples())
        or "none",
    }


def chance_level(study: Study) -> float:
    """Chance top-1 (percent) on the appearance target's test split: 100 / number of classes."""
    return 100.0 / study.classes(TARGET)


# ---------------------------------------------------------------------- severity curves


def severity_curves(
    study: Study,
    models: Sequence[str] = KNOBS["curve_models"],
    severities: Sequence[int] = KNOBS["severities"],
    noises: Sequence[str] = NOISES,
) -> pd.DataFrame:
    """Accuracy against severity of ``models`` ("<task>/<backbone>") per noise: ``curves_from_rows``."""
    return curves_from_rows(noise_rows(study, [model_point(study, m) for m in models], severities, noises))


def curves_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Accuracy against severity from noise rows, severity 0 being clean (drops 0): columns ``model, noise,
    severity, top1, abs_drop, rel_drop_pct`` (video level), one row per (model, noise, severity)."""
    wanted = {"top1_video": "top1", "abs_drop_video": "abs_drop", "rel_drop_video": "rel_drop_pct"}
    picked = rows[rows["metric"].isin(wanted)].assign(model=rows["pretext"] + "/" + rows["model"])
    wide = (
        picked.pivot_table(index=["model", "noise", "severity"], columns="metric", values="value", aggfunc="mean")
        .rename(columns=wanted)
        .reset_index()
    )
    clean = wide.groupby(["model", "noise"]).first().reset_index()
    clean = clean.assign(severity=0, top1=clean["top1"] + clean["abs_drop"], abs_drop=0.0, rel_drop_pct=0.0)
    curves = pd.concat([clean, wide], ignore_index=True)[["model", "noise", "severity", *wanted.values()]]
    return curves.sort_values(["model", "noise", "severity"]).reset_index(drop=True)


def severity_figure(curves: pd.DataFrame, chance: float | None = None) -> Figure:
    """Top-1 against severity, one panel per noise, one line per model (severity 0 = clean clips)."""
    noises = list(dict.fromkeys(curves["noise"]))
    fig, axes = plt.subplots(1, len(noises), figsize=(3.0 * len(noises), 3.0), sharey=True, squeeze=False)
    for ax, noise in zip(axes[0], noises):
        for model, part in curves[curves["noise"] == noise].groupby("model"):
            ax.plot(part["severity"], part["top1"], marker="o", label=model)
        if chance is not None:
            ax.axhline(chance, color="0.5", linestyle="--", linewidth=1, label="chance")
        ax.set_title(noise, fontsize=10)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_xticks(sorted(curves["severity"].unique()))
    axes[0][0].set_ylabel("top-1 (%)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def severity_facts(curves: pd.DataFrame) -> dict[str, Any]:
    """Per model: clean accuracy and the mean over noises at the highest severity; whether accuracy ever rose
    with severity (noise in the estimate, or a model near chance)."""
    top = int(curves["severity"].max())
    per_model = []
    for model, part in curves.groupby("model"):
        worst = part[part["severity"] == top].set_index("noise")["top1"]
        per_model.append(
            f"{model} {part[part['severity'] == 0]['top1'].mean():.1f}% -> {worst.mean():.1f}%"
            + (f" (lowest under {worst.idxmin()} noise, {worst.min():.1f}%)" if len(worst) else "")
        )
    rose = (curves.sort_values("severity").groupby(["model", "noise"])["top1"].diff() > 1e-9).any()
    return {"top severity": top, "models": "; ".join(per_model) or "none", "never rose": not rose}


# ---------------------------------------------------------------------- absolute vs relative drops


def drops_figure(table: pd.DataFrame) -> Figure:
    """Two panels per model at severity 1: clean vs noisy top-1 (diagonal = no drop), absolute vs relative drop."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.2))
    markers = {"shufflenet3d": "o", "r2plus1d_18": "s"}
    _model_scatter(left, table, "clean_top1", "noisy_top1", markers)
    _model_scatter(right, table, "abs_drop", "rel_drop_pct", markers)
    low = min(table["clean_top1"].min(), table["noisy_top1"].min())
    high = max(table["clean_top1"].max(), table["noisy_top1"].max())
    left.plot([low, high], [low, high], color="0.5", linestyle="--", linewidth=1)
    left.set(xlabel="clean top-1 (%)", ylabel="noisy top-1 (%), mean of noises", title="clean vs noisy")
    right.set(xlabel="absolute drop (points)", ylabel="relative drop (% of clean)", title="absolute vs relative drop")
    right.axhline(0, color="0.8", linewidth=1)
    right.axvline(0, color="0.8", linewidth=1)
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ranking_figure(table: pd.DataFrame) -> Figure:
    """Our relative drop against the paper's, one point per model (a shared ranking lies on a rising line)."""
    merged = paper_table7().merge(table, on=["task", "backbone"], suffixes=("_paper", ""))
    fig, ax = plt.subplots(figsize=(5.0, 4.2))
    _model_scatter(ax, merged, "rel_drop_pct_paper", "rel_drop_pct")
    ax.set(
        xlabel="paper: relative drop (%), UCF101 finetuned",
        ylabel="here: relative drop (%)",
        title="Table 7: relative drop, paper vs here",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _model_scatter(ax: plt.Axes, table: pd.DataFrame, x: str, y: str, markers: Mapping[str, str] | None = None) -> None:
    """``y`` against ``x``, one point per model labelled with its task, one series per backbone (``markers``:
    backbone -> marker, "^" for another; None: matplotlib's default)."""
    for backbone, part in table.groupby("backbone"):
        ax.scatter(part[x], part[y], marker=markers.get(backbone, "^") if markers else None, label=backbone)
        for task, at in zip(part["task"], zip(part[x], part[y])):
            ax.annotate(task, at, fontsize=7, xytext=(3, 3), textcoords="offset points")


# ---------------------------------------------------------------------- what noise looks like


def gallery_clip(study: Study, video: int = 0) -> tuple[torch.Tensor, str]:
    """Frames of test video ``video`` as the evaluation reads them, uint8 (1, 1, T, H, W, 3), and its class;
    IndexError for a video outside the test split."""
    config = study.eval_config(noise_points(study)[0], TARGET)
    split = open_eval_split(config, config.test_split)
    if not 0 <= video < len(split.index):
        raise IndexError(f"video {video} outside the test split's {len(split.index)} videos")
    frames = split.source.read(video, np.arange(min(config.frames, split.source.num_frames(video))))
    return torch.from_numpy(frames)[None, None], split.index.classes[split.index.records[video].label]


def noise_gallery(
    frames: torch.Tensor,
    crop_size: int,
    noises: Sequence[str] = NOISES,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    title: str = "",
) -> Figure:
    """The middle frame of one clip (uint8 (1, 1, T, H, W, 3)), clean and under each noise (rows) and severity
    (columns), as the network sees it (centre crop, noise on [0, 1], as ``eval_clips``; seeded by ``seed``)."""
    severities = check_severities(severities)
    clean = to_display_frames(eval_clips(frames, crop_size)[0])
    middle = clean.shape[0] // 2
    fig, axes = plt.subplots(
        len(noises), len(severities) + 1, figsize=(1.5 * (len(severities) + 1), 1.5 * len(noises)), squeeze=False
    )
    for row, noise in enumerate(noises):
        axes[row][0].imshow(clean[middle], interpolation="nearest")
        axes[row][0].set_ylabel(noise, fontsize=9)
        for col, severity in enumerate(severities, start=1):
            noisy = to_display_frames(eval_clips(frames, crop_size, Noise(noise, severity, seed))[0])
            axes[row][col].imshow(noisy[middle], interpolation="nearest")
            if row == 0:
                axes[row][col].set_title(f"severity {severity}", fontsize=8)
            axes[row][col].set_xlabel(f"c = {create_corruption(noise).constant(severity):g}", fontsize=7)
    axes[0][0].set_title("clean", fontsize=8)
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    fig.suptitle(title or f"frame {middle} of one test clip under each noise", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- clean vs noisy features


def clip_features(
    study: Study, point: Mapping[str, Any], noises: Sequence[Noise | None] = (None,)
) -> tuple[list[ClipFeatures], list[str]]:
    """Test-clip features of a model's evaluation backbone, clean (None) or under each noise (same clips, same
    order), read from the feature cache its clean and noisy evaluations filled (measured first); and the classes."""
    study.evaluate(point, TARGET)
    for noise in noises:
        if noise is not None:
            noise_rows(study, [point], (noise.severity,), (noise.name,))
    config = study.eval_config(point, TARGET)
    ctx = Context(study.store, study.results, study.features, study.progress)
    model = trained_classifier(config, study.store, study.features)
    device = resolve_device(config.device, env_info())
    split = open_eval_split(config, config.test_split)
    return [eval_features(config, model, split, ctx, device, noise) for noise in noises], list(split.index.classes)


def cosine_similarity(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Per-row cosine similarity ``(N,)`` of two feature sets ``(N, D)`` of the same clips."""
    if clean.shape != noisy.shape:
        raise ValueError(f"clean and noisy features differ in shape: {tuple(clean.shape)} vs {tuple(noisy.shape)}")
    return torch.nn.functional.cosine_similarity(clean.double(), noisy.double(), dim=1, eps=1e-12)


def centred_cosine(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Per-clip cosine similarity ``(N,)`` after subtracting the clean features' mean over clips from both
    (pooled post-ReLU features share a large common component that makes any two clips' raw cosine near 1)."""
    centre = clean.double().mean(dim=0, keepdim=True)
    return cosine_similarity(clean.double() - centre, noisy.double() - centre)


def feature_shift_table(study: Study, severity: int = 1, noises: Sequence[str] = NOISES) -> pd.DataFrame:
    """Per model, columns ``task, backbone, cosine``: the mean centred cosine similarity between each test
    clip's clean and noisy features, over clips and ``noises`` at ``severity`` (from the feature cache)."""
    rows = []
    for point in noise_points(study):
        (clean, *noisy), _ = clip_features(study, point, [None, *(Noise(n, severity, study.seed) for n in noises)])
        sims = [float(centred_cosine(clean.features, feats.features).mean()) for feats in noisy]
        rows.append({"task": point["task"], "backbone": point["backbone"], "cosine": float(np.mean(sims))})
    return pd.DataFrame(rows)


def shift_agreement(shift: pd.DataFrame, table: pd.DataFrame) -> dict[str, Any]:
    """Do models whose features moved less under noise lose less accuracy? Spearman's rho of the centred cosine
    against minus the relative drop, and the steadiest model."""
    merged = shift.merge(table, on=["task", "backbone"])
    steady = merged.loc[merged["cosine"].idxmax()]
    return {
        **rho_facts(spearman(merged["cosine"], -merged["rel_drop_pct"])),
        "models": len(merged),
        "steadiest": f"{steady['task']}/{steady['backbone']}",
        "steadiest cosine": float(steady["cosine"]),
    }


def subsample(n: int, clips: int, seed: int) -> np.ndarray:
    """``min(n, clips)`` sorted positions out of ``n``, seeded."""
    if clips < 4:
        raise ValueError(f"t-SNE needs at least 4 clips, got tsne_clips={clips}")
    return np.sort(rng_for(seed, "tsne-clips").permutation(n)[: min(n, clips)])


def clean_vs_noisy_figure(
    clean: torch.Tensor,
    noisy: torch.Tensor,
    labels: torch.Tensor,
    class_names: Sequence[str] | None,
    condition: str,
    seed: int = 0,
    title: str = "",
) -> Figure:
    """Side-by-side t-SNE of the same N clips' clean and noisy ``(N, D)`` features, coloured by their ``(N,)``
    labels; ``condition`` ("<noise>/<severity>") titles the noisy panel."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.4))
    tsne_figure(clean, labels, class_names, seed=seed, title=f"clean ({len(labels)} clips)", ax=left)
    tsne_figure(noisy, labels, class_names, seed=seed, title=f"{condition} ({len(labels)} clips)", ax=right)
    left.get_legend().remove()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tsne_clean_vs_noisy(
    study: Study, model: str = "rotnet/r2plus1d_18", noise: str = "gaussian", severity: int = 5, clips: int = 300
) -> Figure:
    """t-SNE of one model's clean and noisy features of ``clips`` seeded test clips (§4.5 "qualitative", in the
    paper's supplement); the noise is measured first if it was not."""
    point = model_point(study, model)
    create_corruption(noise).constant(severity)
    (clean, noisy), classes = clip_features(study, point, [None, Noise(noise, severity, study.seed)])
    keep = torch.from_numpy(subsample(len(clean), clips, study.seed))
    sims = centred_cosine(clean.features, noisy.features).mean()
    return clean_vs_noisy_figure(
        clean.features[keep],
        noisy.features[keep],
        clean.labels[keep],
        classes,
        f"{noise}/{severity}",
        study.seed,
        f"{model}: clean vs {noise} noise at severity {severity} (mean centred cosine similarity {float(sims):.3f})",
    )
