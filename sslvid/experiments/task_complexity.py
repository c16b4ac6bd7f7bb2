"""Chapter "Task complexity": does a harder pretext task teach a network more? (benchmark §4.3, Table 5).

RotNet, VCOP and PRP are pre-trained at three complexities each (``sslvid.scale.grids.COMPLEXITY``):
C1-C3 are 2 / 3 / 4 rotations, 3 / 4 / 5 shuffled clips (6 / 24 / 120 orders, batch halved at
5 clips as in the paper) and 2 / 3 / 4 playback rates ({1,2}, {1,2,4}, {1,2,4,8}), on 3D ShuffleNet
and R(2+1)D-18, K400-50k (the study's grid ``task_complexity``). Beside the downstream accuracy (Table 5's
shape) the chapter reads each run's own pretext accuracy from its log, and checks the paper's two findings:
more complex is not always better, and the best complexity differs per backbone.

Runs shared with the preliminaries chapter (Table 1) have the same config hash and are trained
once: RotNet and PRP at C3 (their task defaults), and VCOP at C1 (3 clips is this project's VCOP
default, as in the VCOP paper), see :func:`shared_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.claims import Claim, Estimate, bootstrap_mean_difference
from sslvid.analysis.figures import frame_strips
from sslvid.analysis.pretext_views import QUESTIONS, pretext_views
from sslvid.analysis.pretext_views import build_task as build_view_task
from sslvid.analysis.tables import ordered_pivot
from sslvid.data.decode import read_frames
from sslvid.data.sources import open_split
from sslvid.experiments.study import Study, chapter_claim, check_selection
from sslvid.pretext.base import PretextTask
from sslvid.pretext.samplers import ClipOrderSampler, PlaybackRateSampler
from sslvid.scale.grids import complexity_fields
from sslvid.seeding import rng_for
from sslvid.store.paper_tables import PAPER_BACKBONES, from_paper_names, load_paper_table
from sslvid.store.results import compare_with_paper

PAPER_TABLE = "benchmark_t5_task_complexity"
"""The paper table this chapter reproduces (``sslvid.store.paper_tables.PAPER_TABLES``)."""

TASKS = ("rotnet", "vcop", "prp")
"""The non-contrastive tasks of Table 5 (complexity is not defined for the contrastive ones, §4.3)."""

BACKBONES = ("shufflenet3d", "r2plus1d_18")
"""Table 5's networks: small (3D ShuffleNet v1 2.0x) and medium (R(2+1)D-18)."""

LEVELS = ("C1", "C2", "C3")
"""Complexity levels, least to most complex."""

SIGNIFICANT_SE = 2.0
"""A difference of accuracies counts as more than sampling noise above this many standard errors."""


# ----------------------------------------------------------------------------- settings


def level_kwargs(task: str, level: str) -> dict[str, Any]:
    """The task arguments of complexity ``level`` of ``task`` (e.g. ``{"num_rotations": 3}``).

    Raises:
        ValueError: for a task without levels or an unknown level.
    """
    return complexity_fields(task, level, batch_size=1)["task_kwargs"]


def num_classes(task: str, level: str) -> int:
    """Classes of the pretext task at ``level``: rotations (RotNet), orders N! (VCOP), rates (PRP)."""
    kwargs = level_kwargs(task, level)
    if task == "rotnet":
        return int(kwargs["num_rotations"])
    if task == "vcop":
        return math.factorial(int(kwargs["num_clips"]))
    return len(kwargs["rates"])


def setting_label(task: str, level: str) -> str:
    """Table 5's wording of a setting: "2 rotations", "3 clips", "2 rates {1,2}"."""
    kwargs = level_kwargs(task, level)
    if task == "rotnet":
        return f"{kwargs['num_rotations']} rotations"
    if task == "vcop":
        return f"{kwargs['num_clips']} clips"
    rates = kwargs["rates"]
    return f"{len(rates)} rates {{{','.join(map(str, rates))}}}"


def settings_table(tasks: Sequence[str] = TASKS) -> pd.DataFrame:
    """What C1-C3 mean per task (§4.3). Columns: task, complexity, setting, classes, chance (%)."""
    tasks = check_selection(tasks, TASKS, "tasks")
    rows = [
        {
            "task": t,
            "complexity": c,
            "setting": setting_label(t, c),
            "classes": num_classes(t, c),
            "chance (%)": 100.0 / num_classes(t, c),
        }
        for t in tasks
        for c in LEVELS
    ]
    return pd.DataFrame(rows)


def complexity_points(
    study: Study, tasks: Sequence[str] = TASKS, backbones: Sequence[str] = BACKBONES
) -> list[dict[str, Any]]:
    """The points of the study's grid ``task_complexity`` for ``tasks`` x ``backbones`` x C1-C3.

    Raises:
        ValueError: for an unknown task or backbone (the message lists the valid ones).
    """
    tasks = check_selection(tasks, TASKS, "tasks")
    backbones = check_selection(backbones, BACKBONES, "backbones")
    return [p for p in study.grid_points("task_complexity") if p["task"] in tasks and p["backbone"] in backbones]


def shared_runs(study: Study, points: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Which points are the very runs of Table 1 (grid ``preliminaries``): same config hash.

    Returns:
        columns task, backbone, complexity, setting, batch size, config_hash, table 1 run (bool).
    """
    table1 = {study.pretrain_config(p).config_hash() for p in study.grid_points("preliminaries")}
    rows = []
    for p in points:
        config = study.pretrain_config(p)
        rows.append(
            {
                "task": p["task"],
                "backbone": p["backbone"],
                "complexity": p["complexity"],
                "setting": setting_label(p["task"], p["complexity"]),
                "batch size": config.batch_size,
                "config_hash": config.config_hash(),
                "table 1 run": config.config_hash() in table1,
            }
        )
    return pd.DataFrame(rows)


def shared_runs_facts(shared: pd.DataFrame) -> dict[str, Any]:
    """How many of the chapter's runs are Table 1's (trained once for both chapters), which levels, how many new."""
    same = shared[shared["table 1 run"]]
    levels = same.groupby("task", sort=False)["complexity"].agg(lambda s: "/".join(sorted(set(s))))
    return {
        "runs": len(shared),
        "table 1 runs": len(same),
        "new runs": len(shared) - len(same),
        "table 1 levels": ", ".join(f"{task} at {level}" for task, level in levels.items()) or "none",
    }


# ----------------------------------------------------------------------------- downstream accuracy


def complexity_accuracy(study: Study, points: Sequence[Mapping[str, Any]], target: str = "appearance") -> pd.DataFrame:
    """Pre-train (or load) and evaluate every point with the study's protocol (Table 5's numbers).

    Returns:
        one row per point: task, backbone, data, subset, complexity, setting, target, protocol,
        config_hash, top1 (video-level, percent), test_videos, se (binomial standard error of
        top1, points).
    """
    acc = study.accuracy(points, target=target)
    if acc.empty:
        return acc
    acc.insert(
        acc.columns.get_loc("complexity") + 1,
        "setting",
        [setting_label(t, c) for t, c in zip(acc["task"], acc["complexity"])],
    )
    acc["test_videos"] = acc.pop("videos")
    acc["se"] = standard_error(acc["top1"], acc["test_videos"])
    return acc


def standard_error(top1: pd.Series, videos: pd.Series) -> pd.Series:
    """Binomial standard error (points) of an accuracy ``top1`` (percent) over ``videos`` test videos."""
    p = np.asarray(top1, dtype=float) / 100
    n = np.asarray(videos, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n > 0, 100 * np.sqrt(p * (1 - p) / n), np.nan)
    return pd.Series(se, index=getattr(top1, "index", None))


def complexity_table(acc: pd.DataFrame, value: str = "top1") -> pd.DataFrame:
    """Table 5's shape: rows C1-C3, columns (task, backbone), cells ``value`` (top-1, percent)."""
    _require(acc, ("task", "backbone", "complexity", value))
    order = {"complexity": LEVELS, "task": TASKS, "backbone": BACKBONES}
    return ordered_pivot(acc, "complexity", ["task", "backbone"], value, order)


def paper_accuracy(name: str = PAPER_TABLE) -> pd.DataFrame:
    """A transcribed benchmark table (Table 5, reconstructed, by default) in our names: ``task``, ``backbone``,
    its other keys (Table 5: ``complexity``, ``setting``), ``top1``."""
    paper = load_paper_table(name).rename(columns={"pretext": "task", "ucf101_top1": "top1"})
    paper = paper.assign(backbone=from_paper_names(paper["backbone"]), top1=paper["top1"].astype(float))
    return paper[["task", "backbone", *(c for c in ("complexity", "setting") if c in paper), "top1"]]


def paper_table1_check() -> pd.DataFrame:
    """Table 5's C3 beside Table 1 in the paper's transcriptions (the README says C3 is Table 1's setting).

    Returns:
        columns task, backbone, table 5 C3, table 1, same (bool).
    """
    t5 = paper_accuracy().query("complexity == 'C3'").rename(columns={"top1": "table 5 C3"})
    t1 = paper_accuracy("benchmark_t1_pretext_k400_50k").rename(columns={"top1": "table 1"})
    both = t5.merge(t1, on=["task", "backbone"])
    both["same"] = np.isclose(both["table 5 C3"], both["table 1"])
    return both[["task", "backbone", "table 5 C3", "table 1", "same"]].reset_index(drop=True)


def paper_table1_facts(check: pd.DataFrame) -> dict[str, Any]:
    """Where the transcribed Table 5's C3 equals Table 1 (``paper_table1_check``), and the cells where it does not."""
    differ = check[~check["same"]]
    return {
        "cells": len(check),
        "same": int(check["same"].sum()),
        "differ": "; ".join(
            f"{r['task']} on {r['backbone']}: {r['table 5 C3']:.1f} vs {r['table 1']:.1f}"
            for r in differ.to_dict("records")
        )
        or "none",
    }


def paper_comparison(acc: pd.DataFrame) -> pd.DataFrame:
    """``paper_vs_reproduced`` for Table 5: one row per (complexity, pretext, backbone), paper's names.

    Returns:
        columns complexity, pretext, backbone, paper, reproduced, n, difference.
    """
    _require(acc, ("task", "backbone", "complexity", "top1"))
    ours = acc.rename(columns={"task": "pretext"})
    return compare_with_paper(PAPER_TABLE, ours, value="top1", rename={"backbone": PAPER_BACKBONES})


KNOBS: dict[str, Any] = {
    "tasks": ("rotnet", "vcop", "prp"),
    "backbones": ("shufflenet3d", "r2plus1d_18"),
    "target": "appearance",
}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def paper_comparisons(
    study: Study,
    tasks: Sequence[str] = KNOBS["tasks"],
    backbones: Sequence[str] = KNOBS["backbones"],
    target: str = KNOBS["target"],
) -> dict[str, pd.DataFrame]:
    """The chapter's paper tables beside our numbers: ``{"benchmark_t5_task_complexity": frame}``.

    Computes what is missing, else reads the run store and results table (same calls as the chapter).
    """
    acc = complexity_accuracy(study, complexity_points(study, tasks, backbones), target)
    return {PAPER_TABLE: paper_comparison(acc)}


# ----------------------------------------------------------------------------- the paper's findings


def trend(values: Sequence[float]) -> str:
    """How values ordered C1..Cn move: "rises", "falls", "peaks at C2", "dips at C2", "flat" or "mixed"."""
    v = list(values)
    steps = np.sign(np.diff(v))
    if len(v) < 2 or not steps.any():
        return "flat"
    if (steps > 0).all():
        return "rises"
    if (steps < 0).all():
        return "falls"
    best, worst = int(np.argmax(v)), int(np.argmin(v))
    if 0 < best < len(v) - 1 and (steps[:best] >= 0).all() and (steps[best:] <= 0).all():
        return f"peaks at {LEVELS[best]}"
    if 0 < worst < len(v) - 1 and (steps[:worst] <= 0).all() and (steps[worst:] >= 0).all():
        return f"dips at {LEVELS[worst]}"
    return "mixed"


def best_levels(acc: pd.DataFrame, value: str = "top1") -> pd.DataFrame:
    """Per task and backbone: the best complexity, the accuracies C1-C3, their trend and the margin over C3.

    Returns:
        columns task, backbone, C1, C2, C3, best, trend, best - C3 (points), spread (points), and
        se (largest standard error of the pair, when ``acc`` has column ``se``), test_videos (the
        fewest behind a level, when ``acc`` has the column).
    """
    _require(acc, ("task", "backbone", "complexity", value))
    keys = ["task", "backbone"]
    wide = acc.pivot_table(index=keys, columns="complexity", values=value, sort=False).reindex(columns=list(LEVELS))
    table = wide.assign(
        best=wide.idxmax(axis=1),
        trend=[trend(row.dropna().to_numpy()) for _, row in wide.iterrows()],
        **{"best - C3": wide.max(axis=1) - wide["C3"], "spread": wide.max(axis=1) - wide.min(axis=1)},
    )
    extra = {c: how for c, how in (("se", "max"), ("test_videos", "min")) if c in acc}
    table = table.join(acc.groupby(keys, sort=False).agg(extra)) if extra else table
    return table.reset_index().rename_axis(columns=None)


def findings_table(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Our best complexity and trend beside the paper's, per task and backbone (both from ``best_levels``).

    Returns:
        columns task, backbone, paper best, paper trend, our best, our trend, same best.
    """
    paper, ours = (
        t[["task", "backbone", "best", "trend"]].rename(columns={"best": f"{who} best", "trend": f"{who} trend"})
        for t, who in ((paper, "paper"), (ours, "our"))
    )
    merged = paper.merge(ours, on=["task", "backbone"])
    return merged.assign(**{"same best": merged["paper best"] == merged["our best"]})


def not_always_better(best: pd.DataFrame) -> pd.DataFrame:
    """The task/backbone pairs where a less complex level beat C3 (a tie with C3 does not count)."""
    return best[best["best - C3"] > 0]


def backbone_disagreements(best: pd.DataFrame) -> list[str]:
    """Tasks whose best complexity differs between backbones (among tasks with two or more backbones)."""
    counts = best.groupby("task", sort=False)[["backbone", "best"]].nunique()
    return list(counts.index[(counts["backbone"] > 1) & (counts["best"] > 1)])


CHAPTER = "task_complexity"
"""This chapter's name in the claims table."""

_claim = partial(chapter_claim, CHAPTER, section="§4.3", table="Table 5")


def claims(ours: pd.DataFrame) -> list[Claim]:
    """The paper's two findings of §4.3 (benchmark2023, §4.3, Table 5) on ``best_levels`` rows, with uncertainty.

    * ``not_always_better`` (i): a more complex task is not always better. Quantity: over the
      task/backbone pairs, the largest margin of a less complex level (C1 or C2) over C3, points;
      its interval is a bootstrap over the test videos of the two evaluations it compares (none
      without ``test_videos``).
    * ``best_differs_per_backbone`` (ii): the best complexity differs per backbone. Quantity: the
      share of tasks run on two backbones whose best level differs; a count of argmaxes, no interval.
    """
    first = _claim(
        "not_always_better",
        "A more complex pretext task is not always better: a less complex level beats C3 somewhere.",
        "largest margin of C1 or C2 over C3 over the task/backbone pairs (points)",
    )
    full = ours.dropna(subset=list(LEVELS))
    estimate = None
    if len(full):
        lower = full[["C1", "C2"]].max(axis=1)
        row = full.loc[(lower - full["C3"]).idxmax()]
        level = "C1" if row["C1"] >= row["C2"] else "C2"
        videos = row.get("test_videos", np.nan)
        videos = np.nan if videos is None or not videos or pd.isna(videos) else float(videos)
        estimate = bootstrap_mean_difference([(row[level], videos, row["C3"], videos)])
    second = _claim(
        "best_differs_per_backbone",
        "The best complexity differs per backbone.",
        "share of tasks on two backbones whose best level differs",
        digits=2,
    )
    two = [t for t, g in ours.groupby("task", sort=False) if g["backbone"].nunique() > 1]
    share = Estimate(len(backbone_disagreements(ours)) / len(two), n=len(two)) if two else None
    return [
        first.measured(estimate, "no task/backbone pair with C1, C2 and C3"),
        second.measured(share, "only one backbone was run"),
    ]


def findings_facts(ours: pd.DataFrame, paper: pd.DataFrame) -> dict[str, Any]:
    """Numbers for the notebook's prose: pairs where a less complex level beat C3 (ours, the paper's),
    pairs whose best level matches the paper's, and pairs whose spread exceeds ``SIGNIFICANT_SE``
    standard errors (NaN without standard errors)."""
    table = findings_table(ours, paper)
    has_se = "se" in ours and ours["se"].notna().any()
    return {
        "pairs": len(ours),
        "not C3 here": len(not_always_better(ours)),
        "not C3 paper": len(not_always_better(paper)),
        "paper pairs": len(paper),
        "same best": int(table["same best"].sum()) if len(table) else 0,
        "compared": len(table),
        "clear": int((ours["spread"] > SIGNIFICANT_SE * ours["se"]).sum()) if has_se else float("nan"),
        "mean se": float(ours["se"].mean()) if has_se else float("nan"),
    }


# ----------------------------------------------------------------------------- do the clips fit the videos?


def frames_needed(task: PretextTask, video_frames: int | None = None) -> int:
    """Frames of a video that one sample of ``task`` spans (RotNet: a clip; VCOP: the tuple; PRP: the top rate).

    VCOP's sampler shrinks the gap between its clips on a short video (``ClipOrderSampler.step_for``):
    with ``video_frames`` given, its span on such a video."""
    sampler = task.clip_sampler()
    if isinstance(sampler, ClipOrderSampler):
        return sampler.span if video_frames is None else sampler.span_for(video_frames)
    if isinstance(sampler, PlaybackRateSampler):
        t = sampler.num_frames
        return max((t - 1) * s + math.ceil(s / 2) + 1 for s in sampler.rates)
    return (sampler.num_frames - 1) * sampler.stride + 1


def order_ceiling(sampler: ClipOrderSampler, video_frames: int) -> tuple[int, float]:
    """VCOP on a short video: distinct clips of the tuple, and the best order accuracy possible (percent).

    When the tuple is longer than the video, the sampler loops and a later clip repeats an
    earlier one frame for frame; orders that only swap identical clips cannot be told apart,
    so at most ``1 / prod(g!)`` of them are (``g``: sizes of the groups of identical clips).
    """
    ordered = sampler.ordered(video_frames, np.random.default_rng(0))
    _, counts = np.unique(ordered, axis=0, return_counts=True)
    return len(counts), 100.0 / math.prod(math.factorial(int(c)) for c in counts)


def sampling_check(study: Study, tasks: Sequence[str] = TASKS, video_frames: int = 48) -> pd.DataFrame:
    """Whether each task's sample fits in the pool's videos at this profile, per complexity.

    Returns:
        one row per task and level: task, complexity, setting, frames per clip, frames needed,
        video frames, looped (the sampler wraps around to the video's start), distinct clips
        (VCOP), ceiling (%) (the best pretext accuracy possible on such a video).
    """
    rows = []
    for task in check_selection(tasks, TASKS, "tasks"):
        config = study.pretrain_config({"task": task, "backbone": BACKBONES[0], "complexity": "C1"})
        for level in LEVELS:
            built = build_view_task(task, frames=config.frames, crop_size=config.crop_size, **level_kwargs(task, level))
            need = frames_needed(built, video_frames)
            distinct, ceiling = order_ceiling(built.clip_sampler(), video_frames) if task == "vcop" else (None, 100.0)
            rows.append(
                {
                    "task": task,
                    "complexity": level,
                    "setting": setting_label(task, level),
                    "frames per clip": config.frames,
                    "frames needed": need,
                    "video frames": video_frames,
                    "looped": need > video_frames,
                    "distinct clips": distinct,
                    "ceiling (%)": ceiling,
                }
            )
    return pd.DataFrame(rows)


def sampling_facts(check: pd.DataFrame) -> dict[str, Any]:
    """Which settings do not fit the videos here (``sampling_check``): they wrap around to the video's start,
    and a VCOP tuple whose clips repeat caps the order accuracy that can be reached."""
    looped = check[check["looped"]]
    return {
        "video frames": int(check["video frames"].iloc[0]),
        "clip frames": int(check["frames per clip"].iloc[0]),
        "settings": len(check),
        "looped": len(looped),
        "looped settings": ", ".join(
            f"{r['task']} {r['complexity']} ({r['setting']}, needs {r['frames needed']} "
            f"frames, ceiling {r['ceiling (%)']:.0f}%)"
            for r in looped.to_dict("records")
        )
        or "none",
    }


# ----------------------------------------------------------------------------- pretext accuracy


def pretext_accuracy(
    study: Study, points: Sequence[Mapping[str, Any]], check: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The accuracy each run reached on its own pretext task in its last pre-training epoch (run log).

    The log's ``acc`` is the mean over the epoch's training batches (augmented clips, the network still
    changing), so it is a training accuracy, not a held-out one; its ``chance`` that of a uniform guess.

    Args:
        study: the study.
        points: grid points of ``complexity_points``.
        check: optional ``sampling_check`` table, whose ``ceiling (%)`` is added per task and level.

    Returns:
        one row per point: task, backbone, complexity, setting, classes, chance (%),
        pretext acc (%), acc / chance, epochs (and ceiling (%) with ``check``).
    """
    rows = []
    for point in points:
        log = study.pretrain(point).log
        if log.empty or not {"acc", "chance"} <= set(log):
            raise ValueError(f"the run of {point} logged no pretext accuracy or chance ({', '.join(log.columns)})")
        last = log.sort_values("epoch").iloc[-1]
        task, level = point["task"], point["complexity"]
        rows.append(
            {
                "task": task,
                "backbone": point["backbone"],
                "complexity": level,
                "setting": setting_label(task, level),
                "classes": num_classes(task, level),
                "chance (%)": 100 * float(last["chance"]),
                "pretext acc (%)": 100 * float(last["acc"]),
                "acc / chance": float(last["acc"] / last["chance"]),
                "epochs": int(last["epoch"]),
            }
        )
    table = pd.DataFrame(rows)
    if check is not None and not table.empty:
        table = table.merge(check[["task", "complexity", "ceiling (%)"]], on=["task", "complexity"], how="left")
    return table


def pretext_facts(pretext: pd.DataFrame, near_chance: float = 1.2) -> dict[str, Any]:
    """Did harder settings end less solved? Facts from ``pretext_accuracy`` (raw and against chance).

    Args:
        pretext: the table of ``pretext_accuracy``.
        near_chance: runs whose accuracy is below this multiple of chance count as not having learned their task.
    """
    _require(pretext, ("task", "backbone", "complexity", "pretext acc (%)", "acc / chance"))
    groups = list(pretext.groupby(["task", "backbone"], sort=False))

    def trends(column: str) -> dict[tuple, str]:
        return {k: trend(g.set_index("complexity")[column].reindex(LEVELS).dropna().to_numpy()) for k, g in groups}

    raw, ratio = trends("pretext acc (%)"), trends("acc / chance")
    capped = pretext[pretext["ceiling (%)"] < 100] if "ceiling (%)" in pretext else pretext.iloc[0:0]
    weak = pretext[pretext["acc / chance"] < near_chance]
    return {
        "pairs": len(raw),
        "falling": sum(t == "falls" for t in raw.values()),
        "not falling": ", ".join(f"{t} on {b} ({raw[(t, b)]})" for t, b in raw if raw[(t, b)] != "falls") or "none",
        "ratio rises": sum(t == "rises" for t in ratio.values()),
        "ratio falls": sum(t == "falls" for t in ratio.values()),
        "capped": ", ".join(f"{r['task']} {r['complexity']} on {r['backbone']}" for r in capped.to_dict("records"))
        or "none",
        "near chance": ", ".join(f"{r.task} {r.complexity} on {r.backbone}" for r in weak.itertuples()) or "none",
        "near chance factor": near_chance,
    }


# ----------------------------------------------------------------------------- figures


def complexity_figure(acc: pd.DataFrame, paper: pd.DataFrame | None = None, value: str = "top1") -> Figure:
    """Accuracy against complexity: one panel per task, one line per backbone (error bars: ``se``).

    With ``paper`` (``paper_accuracy()``), a second row shows the paper's Table 5 (UCF101 finetuning),
    on its own axis since the two are measured on different data and protocols.
    """
    _require(acc, ("task", "backbone", "complexity", value))
    tasks = [t for t in TASKS if t in set(acc["task"])]
    rows = [("reproduced", acc)] + ([("paper (Table 5)", paper)] if paper is not None else [])
    fig, axes = plt.subplots(
        len(rows),
        len(tasks),
        figsize=(3.4 * len(tasks), 2.8 * len(rows)),
        squeeze=False,
        layout="constrained",
        sharey="row",
    )
    for r, (name, frame) in enumerate(rows):
        for c, task in enumerate(tasks):
            _complexity_panel(axes[r, c], frame[frame["task"] == task], value)
            axes[r, c].set_title(f"{task}, {name}", fontsize=10)
        axes[r, 0].set_ylabel(_ylabel(frame, name))
    axes[0, -1].legend(fontsize=8)
    return fig


def _complexity_panel(ax: plt.Axes, frame: pd.DataFrame, value: str) -> None:
    for backbone in [b for b in BACKBONES if b in set(frame["backbone"])]:
        part = frame[frame["backbone"] == backbone].set_index("complexity").reindex(LEVELS)
        errors = part["se"] if "se" in part else None
        ax.errorbar(range(len(LEVELS)), part[value], yerr=errors, marker="o", capsize=3, label=backbone)
    ax.set_xticks(range(len(LEVELS)), LEVELS)
    ax.grid(alpha=0.3)


def _ylabel(frame: pd.DataFrame, name: str) -> str:
    if name.startswith("paper"):
        return "UCF101 finetune top-1 (%)"
    if {"target", "protocol"} <= set(frame.columns) and len(frame):
        return f"{frame['target'].iloc[0]}, {frame['protocol'].iloc[0]} top-1 (%)"
    return "top-1 (%)"


def pretext_accuracy_figure(pretext: pd.DataFrame) -> Figure:
    """Pretext accuracy at the end of pre-training against complexity, chance dashed; one panel per task."""
    _require(pretext, ("task", "backbone", "complexity", "pretext acc (%)", "chance (%)"))
    tasks = [t for t in TASKS if t in set(pretext["task"])]
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(3.4 * len(tasks), 2.8), squeeze=False, layout="constrained", sharey="row"
    )
    for ax, task in zip(axes[0], tasks):
        part = pretext[pretext["task"] == task]
        _complexity_panel(ax, part, "pretext acc (%)")
        chance = part.groupby("complexity")["chance (%)"].first().reindex(LEVELS)
        ax.plot(range(len(LEVELS)), chance, "k--", lw=1, label="chance")
        ax.set_title(task, fontsize=10)
    axes[0, 0].set_ylabel("pretext accuracy, last epoch (%)")
    axes[0, -1].legend(fontsize=8)
    return fig


def example_video(study: Study, seed: int = 0) -> tuple[np.ndarray, str]:
    """One video of the pool the chapter's runs pre-train on (K400-50k's stand-in), picked by ``seed``.

    Returns:
        uint8 frames (F, H, W, 3) and a caption (dataset and video id).
    """
    config = study.pretrain_config({"task": "rotnet", "backbone": BACKBONES[0], "data": "K400", "subset": "50k"})
    index = open_split(
        config.dataset, config.split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    )
    record = index.records[int(rng_for(seed, "task-complexity-video").integers(len(index)))]
    return read_frames(record.path), f"{config.dataset}: {record.video_id}"


def complexity_strips(
    task: str,
    video: np.ndarray,
    frames: int,
    crop_size: int,
    seed: int = 0,
    levels: Sequence[str] = LEVELS,
    max_frames: int = 8,
) -> Figure:
    """What ``task`` asks at each complexity on one video: the task's own views, C1 rows first.

    Args:
        task: "rotnet", "vcop" or "prp".
        video: uint8 frames (F, H, W, 3).
        frames, crop_size: the runs' clip length and crop (``study.pretrain_config(point)``).
        seed: seeds the clip positions and augmentations (the same for every level).
        levels: complexities to show.
        max_frames: most frames per row.

    Raises:
        ValueError: for an unknown task or level, or a malformed video.
    """
    check_selection([task], TASKS, "tasks")
    levels = check_selection(levels, LEVELS, "levels")
    clips, labels = [], []
    for level in levels:
        for label, clip in pretext_views(
            task, video, seed=seed, frames=frames, crop_size=crop_size, **level_kwargs(task, level)
        ):
            clips.append(clip)
            labels.append(f"{level}: {label}")
    settings = ", ".join(f"{lv} = {setting_label(task, lv)}" for lv in levels)
    return frame_strips(clips, labels, max_frames=max_frames, title=f"{QUESTIONS[task]}\n{settings}")


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"table has no column {missing}; it has {', '.join(map(str, frame.columns))}")
