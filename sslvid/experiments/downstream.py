"""Chapter "Downstream summary": action classification and clip retrieval across everything trained.

Benchmark paper (Anonymous, CVPR 2023 submission #3061) §5.1, Table 9 and Figure 4. The ``downstream`` grid
(VCOP, RotNet, CVRL, RSPNet x K400 / SSv2 at 30k, R(2+1)D-18; shared with the out-of-distribution chapter) is
classified and retrieved on both targets; every evaluation the results table holds at this profile and
protocol is summarised per pretext task and backbone; Table 9 is shown as printed beside our best numbers
(only its KD-student row, from the distillation chapter, has a reproduced counterpart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.figures import hit_at_k_curves
from sslvid.evaluate.classify import TASK as CLASSIFICATION
from sslvid.evaluate.neighbours import neighbour_figure, search_neighbours
from sslvid.experiments.study import Study
from sslvid.store.paper_tables import load_paper_table
from sslvid.store.results import compare_with_paper

TARGET_KINDS = ("appearance", "motion")
"""The two downstream targets (UCF101 and Diving48 at paper scale; the paper's Table 9 uses HMDB51 as its second)."""

TABLE9 = "benchmark_t9_sota"
OURS_ROW = "Ours (KD student, RSPNet K400-30k)"
"""The one Table 9 row the paper trained itself."""
PAPER_TARGETS = {"ucf101_top1": "appearance", "hmdb51_top1": "motion"}
"""Table 9's value columns -> our target kinds."""

SUMMARY_COLUMNS = (
    "model",
    "pretext",
    "pretrain_dataset",
    "pretrain_subset",
    "pretrain_epochs",
    "complexity",
    "dataset",
    "value",
)

KNOBS: dict[str, Any] = {"retrieval_k": 5, "neighbours_k": 5}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


# --------------------------------------------------------------------------- computing (or loading)


def downstream_points(study: Study) -> list[dict[str, Any]]:
    """The ``downstream`` grid's points: four tasks x two pre-training pools, R(2+1)D-18 at 30k."""
    return study.grid_points("downstream")


def classification(
    study: Study, points: Sequence[Mapping[str, Any]] | None = None, targets: Sequence[str] = TARGET_KINDS
) -> pd.DataFrame:
    """Top-1 (study protocol) of the grid's models and of the random-init backbone on each target: rows ``task,
    backbone, data, subset, target_kind, target, protocol, top1``."""
    points = downstream_points(study) if points is None else list(points)
    table = study.accuracy(points, target=targets, scratch_backbones=sorted({p["backbone"] for p in points}))
    return table[["task", "backbone", "data", "subset", "target_kind", "target", "protocol", "top1"]]


def retrieval(
    study: Study, points: Sequence[Mapping[str, Any]] | None = None, targets: Sequence[str] = TARGET_KINDS
) -> pd.DataFrame:
    """Clip retrieval hit@k of the grid's models on each target (frozen features, cosine similarity): rows ``task,
    data, target_kind, k, hit`` (percent of test items, videos by default, with a same-class training item among
    their k nearest; NaN for a k above the gallery)."""
    table = study.retrieval(downstream_points(study) if points is None else points, targets)
    return table[["task", "data", "target_kind", "k", "hit"]]


def everything_trained(study: Study, metric: str = "top1_video") -> pd.DataFrame:
    """Every clean classification result of this profile and the study's protocol in the results table (every
    model any chapter evaluated), one row per (evaluation, target): columns ``SUMMARY_COLUMNS``."""
    rows = study.results.rows(
        task=CLASSIFICATION, metric=metric, condition="clean", profile=study.profile, protocol=study.protocol
    )
    rows = rows[rows["dataset"].isin([study.target(k) for k in TARGET_KINDS])]
    return rows.assign(complexity=rows["complexity"].fillna(""))[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def class_counts(study: Study, targets: Sequence[str] = TARGET_KINDS) -> dict[str, int]:
    """Number of classes of each target (for chance levels)."""
    return {kind: study.classes(kind) for kind in targets}


def best_grid_point(study: Study, classified: pd.DataFrame, target: str = "appearance") -> dict[str, Any]:
    """The grid point with the highest top-1 on ``target`` among ``classification`` rows (scratch excluded)."""
    part = classified[(classified["target_kind"] == target) & (classified["task"] != "scratch")]
    if part.empty:
        raise ValueError(f"no pre-trained model was classified on the {target} target")
    best = part.loc[part["top1"].idxmax()]
    return next(p for p in downstream_points(study) if p["task"] == best["task"] and p["data"] == best["data"])


# --------------------------------------------------------------------------- tables


def best_by(results: pd.DataFrame, by: str) -> pd.DataFrame:
    """The best result per ``by`` ("pretext" or "model") and target dataset, with its setting: columns ``dataset,
    <by>, top1, model/pretext, pre-training, evaluations`` (how many results the best was chosen from, a reminder
    that a maximum over many noisy numbers is biased upwards)."""
    if by not in ("pretext", "model"):
        raise ValueError(f"best_by groups by 'pretext' or 'model', got {by!r}")
    other = "model" if by == "pretext" else "pretext"
    groups = results.groupby(["dataset", by])["value"]
    best = results.loc[groups.idxmax()]
    table = best.assign(
        top1=best["value"],
        evaluations=groups.size().to_numpy(),
        **{"pre-training": [_setting(row) for _, row in best.iterrows()]},
    )
    table = table[["dataset", by, "top1", other, "pre-training", "evaluations"]]
    return table.sort_values(["dataset", "top1"], ascending=[True, False], ignore_index=True)


def _setting(row: pd.Series) -> str:
    if row["pretext"] == "scratch":
        return "random initialisation"
    subset = row["pretrain_subset"]
    text = f"{row['pretrain_dataset']}, {int(subset)} per class" if pd.notna(subset) else str(row["pretrain_dataset"])
    if pd.notna(row["pretrain_epochs"]):
        text += f", epoch {int(row['pretrain_epochs'])}"
    if row["complexity"]:
        text += f", {row['complexity']}"
    return text


def gain_over_scratch(results: pd.DataFrame) -> pd.DataFrame:
    """Per target and backbone: its best pre-trained top-1 minus its random-init top-1 (points), columns ``dataset,
    model, scratch, best pre-trained, best pretext, gain``; backbones without a scratch baseline are left out."""
    keys = ["dataset", "model"]
    scratch = results[results["pretext"] == "scratch"].groupby(keys)["value"].mean().rename("scratch")
    trained = results[results["pretext"] != "scratch"]
    best = trained.loc[trained.groupby(keys)["value"].idxmax()].join(scratch, on=keys, how="inner")
    table = best[[*keys, "scratch", "value", "pretext"]].rename(
        columns={"value": "best pre-trained", "pretext": "best pretext"}
    )
    return table.assign(gain=table["best pre-trained"] - table["scratch"]).reset_index(drop=True)


def table9(results: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Table 9 as printed, with our best pre-trained model per target appended: the best of this profile's
    evaluations on the appearance and motion targets (the paper's columns are UCF101 and HMDB51 finetuning at
    16x112), not comparable in value; the row says at which scale they were measured."""
    trained = results[results["pretext"] != "scratch"]
    config = study.pretrain_config({"task": "rspnet", "backbone": "r2plus1d_18"})
    ours = {
        "approach": f"best pre-trained model of this book ({study.profile})",
        "frames_x_size": f"{config.frames}x{config.crop_size}",
        "note": f"{study.protocol}; targets {study.target('appearance')} / {study.target('motion')}",
        **{c: trained.loc[trained["dataset"] == study.target(k), "value"].max() for c, k in PAPER_TARGETS.items()},
        "source": "this run",
    }
    return pd.concat([load_paper_table(TABLE9).assign(source="paper"), pd.DataFrame([ours])], ignore_index=True)


def paper_comparisons(study: Study) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for Table 9 (``{"benchmark_t9_sota": frame}``, columns ``approach, metric, paper,
    reproduced, n, difference``): only its own-model row can have a reproduced value, the best of the distillation
    chapter's ShuffleNet students of RSPNet teachers pre-trained on K400-30k (``distill:*`` protocol)."""
    subset = study.pretrain_config({"task": "rspnet", "backbone": "shufflenet3d", "subset": "30k"}).subset_per_class
    student = study.results.rows(
        metric="top1_video", profile=study.profile, pretext="rspnet+rspnet", pretrain_subset=subset
    )
    student = student[student["protocol"].astype(str).str.startswith("distill:") & student["pretrain_epochs"].isna()]
    ours = pd.DataFrame(
        {
            "approach": OURS_ROW,
            **{c: student["value"].where(student["dataset"] == study.target(k)) for c, k in PAPER_TARGETS.items()},
        }
    )
    return {TABLE9: compare_with_paper(TABLE9, ours, values=list(PAPER_TARGETS), aggfunc="max")}


# --------------------------------------------------------------------------- figures


def retrieval_figure(hits: pd.DataFrame, classes: Mapping[str, int] | None = None) -> Figure:
    """Top-k retrieval curves of ``retrieval`` rows: one panel per target, the best pre-training pool of each
    task; ``classes`` (target kind -> number of classes) draws the chance level of hit@1."""
    best = best_pool_per_task(hits)[["target_kind", "task", "data"]]
    best["color"] = [f"C{i}" for i in best.groupby("target_kind").cumcount()]
    curves = hits.merge(best, on=["target_kind", "task", "data"])
    curves["curve"] = curves["task"] + " (" + curves["data"] + ")"
    chance = {kind: 100.0 / count for kind, count in (classes or {}).items()}
    return hit_at_k_curves(curves, TARGET_KINDS, chance=chance)


def best_pool_per_task(hits: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Per (target kind, task): the pre-training pool with the higher hit@k."""
    part = hits[hits["k"] == k]
    best = part.loc[part.groupby(["target_kind", "task"])["hit"].idxmax()]
    return best[["target_kind", "task", "data", "hit"]].reset_index(drop=True)


def neighbours_figure(
    study: Study, point: Mapping[str, Any], target: str = "appearance", k: int = 5, seed: int = 0
) -> Figure:
    """A test clip of ``target`` beside its ``k`` nearest training clips under ``point``'s frozen features."""
    study.evaluate(point, target=target)  # fills the feature cache the search reads
    search = search_neighbours(study.eval_config(point, target), study.store, study.features, k=k)
    query = int(np.random.default_rng(seed).integers(len(search.test_features)))
    title = (
        f"{point['task']} ({point.get('data', 'K400')}) on {point['backbone']}: {k} nearest training clips "
        f"({search.knn_top1():.0f}% {k}-NN top-1 over all test clips)"
    )
    return neighbour_figure(search, query, title, frames=4)
