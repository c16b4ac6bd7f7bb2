"""Chapter "Task complexity": does a harder pretext task teach a network more? (benchmark §4.3, Table 5).

RotNet, VCOP and PRP are pre-trained at three complexities each (``sslvid.scale.grids.COMPLEXITY``): C1-C3 are
2 / 3 / 4 rotations, 3 / 4 / 5 shuffled clips (6 / 24 / 120 orders, batch halved at 5 clips as in the paper) and
2 / 3 / 4 playback rates ({1,2}, {1,2,4}, {1,2,4,8}), on 3D ShuffleNet and R(2+1)D-18, K400-50k (the study's grid
``task_complexity``). Beside the downstream accuracy the chapter reads each run's pretext accuracy from its log.

Runs shared with the preliminaries chapter (Table 1) have the same config hash and are trained once: RotNet and
PRP at C3 (their task defaults) and VCOP at C1 (3 clips, this project's and the VCOP paper's default), see
:func:`shared_runs_facts`.
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

GRID = "task_complexity"
"""The study's grid of Table 5 (``sslvid.scale.grids.PAPER_GRIDS``)."""

LEVELS = ("C1", "C2", "C3")
"""Complexity levels, least to most complex."""

SIGNIFICANT_SE = 2.0
"""A difference of accuracies counts as more than sampling noise above this many standard errors."""


# ----------------------------------------------------------------------------- settings and runs


def level_kwargs(task: str, level: str) -> dict[str, Any]:
    """The task arguments of complexity ``level`` of ``task``, e.g. ``{"num_rotations": 3}`` (ValueError if none)."""
    return complexity_fields(task, level, batch_size=1)["task_kwargs"]


def num_classes(task: str, level: str) -> int:
    """Classes of the pretext task at ``level``: rotations (RotNet), orders N! (VCOP), rates (PRP)."""
    kwargs = level_kwargs(task, level)
    if task == "vcop":
        return math.factorial(int(kwargs["num_clips"]))
    return int(kwargs["num_rotations"]) if task == "rotnet" else len(kwargs["rates"])


def setting_label(task: str, level: str) -> str:
    """Table 5's wording of a setting: "2 rotations", "3 clips", "2 rates {1,2}"."""
    kwargs = level_kwargs(task, level)
    if task == "prp":
        return f"{len(kwargs['rates'])} rates {{{','.join(map(str, kwargs['rates']))}}}"
    return f"{kwargs['num_rotations']} rotations" if task == "rotnet" else f"{kwargs['num_clips']} clips"


def settings_table(tasks: Sequence[str] = TASKS) -> pd.DataFrame:
    """What C1-C3 mean per task (§4.3). Columns: task, complexity, setting, classes, chance (%)."""
    rows = [
        (t, c, setting_label(t, c), num_classes(t, c)) for t in check_selection(tasks, TASKS, "tasks") for c in LEVELS
    ]
    table = pd.DataFrame(rows, columns=["task", "complexity", "setting", "classes"])
    return table.assign(**{"chance (%)": 100.0 / table["classes"]})


def chosen_axes(
    study: Study, tasks: Sequence[str] | None = None, backbones: Sequence[str] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tasks and backbones the chapter runs: the knobs' values, or for None the profile's (micro: RotNet and PRP
    on R(2+1)D, ``Profile.chapter_axes``); ValueError for an unknown task or backbone (the message lists the valid
    ones)."""
    return study.chapter_axis(CHAPTER, "task", tasks, TASKS), study.chapter_axis(
        CHAPTER, "backbone", backbones, BACKBONES
    )


def left_out_facts(tasks: Sequence[str], backbones: Sequence[str]) -> dict[str, Any]:
    """What the chapter leaves out of Table 5's grid: ``tasks`` and ``backbones`` (names, or "none") and
    ``points``, the count of its 18 points not run."""
    tasks_out = [t for t in TASKS if t not in tasks]
    backbones_out = [b for b in BACKBONES if b not in backbones]
    run = len(tasks) * len(backbones) * len(LEVELS)
    return {
        "tasks": ", ".join(tasks_out) or "none",
        "backbones": ", ".join(backbones_out) or "none",
        "points": len(TASKS) * len(BACKBONES) * len(LEVELS) - run,
        "run": run,
    }


def complexity_points(
    study: Study, tasks: Sequence[str] | None = None, backbones: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The points of the study's grid ``task_complexity`` for ``tasks`` x ``backbones`` x C1-C3 (None: the
    profile's, :func:`chosen_axes`); ValueError for an unknown task or backbone."""
    tasks, backbones = chosen_axes(study, tasks, backbones)
    return [p for p in study.grid_points(GRID) if p["task"] in tasks and p["backbone"] in backbones]


def shared_runs_facts(study: Study, points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many of ``points`` are the very runs of Table 1 (grid ``preliminaries``, same config hash: trained once
    for both chapters), at which levels, and how many are new."""
    table1 = {study.pretrain_config(p).config_hash() for p in study.grid_points("preliminaries")}
    same = [p for p in points if study.pretrain_config(p).config_hash() in table1]
    levels = pd.DataFrame(same, columns=["task", "complexity"]).groupby("task", sort=False)["complexity"]
    return {
        "runs": len(points),
        "table 1 runs": len(same),
        "new runs": len(points) - len(same),
        "table 1 levels": ", ".join(f"{t} at {'/'.join(sorted(set(c)))}" for t, c in levels) or "none",
    }


# ----------------------------------------------------------------------------- downstream accuracy


def complexity_accuracy(study: Study, points: Sequence[Mapping[str, Any]], target: str = "appearance") -> pd.DataFrame:
    """Pre-train (or load) and evaluate every point with the study's protocol (Table 5's numbers): one row per
    point, ``study.accuracy`` columns with ``setting`` after ``complexity``, ``videos`` renamed ``test_videos`` and
    ``se`` (binomial standard error of top1, points)."""
    acc = study.accuracy(points, target=target)
    if acc.empty:
        return acc
    settings = [setting_label(t, c) for t, c in zip(acc["task"], acc["complexity"])]
    acc.insert(acc.columns.get_loc("complexity") + 1, "setting", settings)
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
    order = {"complexity": LEVELS, "task": TASKS, "backbone": BACKBONES}
    return ordered_pivot(acc, "complexity", ["task", "backbone"], value, order)


def paper_accuracy(name: str = PAPER_TABLE) -> pd.DataFrame:
    """A transcribed benchmark table (Table 5, reconstructed, by default) in our names: ``task``, ``backbone``,
    its other keys (Table 5: ``complexity``, ``setting``), ``top1``."""
    paper = load_paper_table(name).rename(columns={"pretext": "task", "ucf101_top1": "top1"})
    paper = paper.assign(backbone=from_paper_names(paper["backbone"]), top1=paper["top1"].astype(float))
    return paper[["task", "backbone", *(c for c in ("complexity", "setting") if c in paper), "top1"]]


def paper_table1_facts() -> dict[str, Any]:
    """Where the transcribed Table 5's C3 equals Table 1 (the README says C3 is Table 1's setting), and the cells
    where it does not."""
    t5 = paper_accuracy().query("complexity == 'C3'").rename(columns={"top1": "t5"})
    both = t5.merge(paper_accuracy("benchmark_t1_pretext_k400_50k"), on=["task", "backbone"])
    differ = both[~np.isclose(both["t5"], both["top1"])]
    return {
        "cells": len(both),
        "same": len(both) - len(differ),
        "differ": "; ".join(f"{r.task} on {r.backbone}: {r.t5:.1f} vs {r.top1:.1f}" for r in differ.itertuples())
        or "none",
    }


def paper_comparison(acc: pd.DataFrame) -> pd.DataFrame:
    """``paper_vs_reproduced`` for Table 5, paper's names: complexity, pretext, backbone, paper, reproduced, n,
    difference."""
    ours = acc.rename(columns={"task": "pretext"})
    return compare_with_paper(PAPER_TABLE, ours, value="top1", rename={"backbone": PAPER_BACKBONES})


KNOBS: dict[str, Any] = {
    "tasks": None,
    "backbones": None,
    "target": "appearance",
}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def paper_comparisons(
    study: Study,
    tasks: Sequence[str] | None = KNOBS["tasks"],
    backbones: Sequence[str] | None = KNOBS["backbones"],
    target: str = KNOBS["target"],
) -> dict[str, pd.DataFrame]:
    """The chapter's paper tables beside our numbers, ``{PAPER_TABLE: paper_comparison}``, from the chapter's
    compute-or-load calls."""
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
    for turn, sign, word in ((int(np.argmax(v)), 1, "peaks"), (int(np.argmin(v)), -1, "dips")):
        if 0 < turn < len(v) - 1 and (sign * steps[:turn] >= 0).all() and (sign * steps[turn:] <= 0).all():
            return f"{word} at {LEVELS[turn]}"
    return "mixed"


def best_levels(acc: pd.DataFrame, value: str = "top1") -> pd.DataFrame:
    """Per task and backbone: the best complexity, the accuracies C1-C3, their trend and the margin over C3.

    Returns:
        columns task, backbone, C1, C2, C3, best, trend, best - C3 (points), spread (points), and where ``acc``
        has them se (the largest standard error of the pair) and test_videos (the fewest behind a level).
    """
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
    Columns: task, backbone, paper best, paper trend, our best, our trend, same best."""
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
    """The paper's two findings (benchmark2023, §4.3, Table 5) on ``best_levels`` rows, with uncertainty: the
    largest margin of C1 or C2 over C3 gets a bootstrap over the test videos of the two evaluations it compares
    (none without ``test_videos``); the share of tasks whose best level differs per backbone, none."""
    first = _claim(
        "not_always_better",
        "A more complex pretext task is not always better: a less complex level beats C3 somewhere.",
        "largest margin of C1 or C2 over C3 over the task/backbone pairs (points)",
    )
    full = ours.dropna(subset=list(LEVELS))
    estimate = None
    if len(full):
        row = full.loc[(full[["C1", "C2"]].max(axis=1) - full["C3"]).idxmax()]
        level = "C1" if row["C1"] >= row["C2"] else "C2"
        videos = float(row.get("test_videos") or np.nan)  # none, 0 or NaN: no interval
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


def sampling_check(study: Study, tasks: Sequence[str] = TASKS, video_frames: int = 48) -> pd.DataFrame:
    """Whether each task's sample fits in the pool's videos at this profile, per complexity. A VCOP tuple longer
    than the video loops, so a later clip repeats an earlier one frame for frame: orders that only swap identical
    clips look alike, and at most ``1 / prod(g!)`` of them can be told apart (``g``: sizes of the groups of
    identical clips).

    Returns:
        one row per task and level: task, complexity, setting, frames per clip, frames needed, video frames,
        looped (the sampler wraps around to the video's start), distinct clips (VCOP), ceiling (%) (the best
        pretext accuracy possible on such a video).
    """
    rows = []
    for task in check_selection(tasks, TASKS, "tasks"):
        config = study.pretrain_config({"task": task, "backbone": BACKBONES[0], "complexity": "C1"})
        for level in LEVELS:
            built = build_view_task(task, frames=config.frames, crop_size=config.crop_size, **level_kwargs(task, level))
            sampler, distinct, ceiling = built.clip_sampler(), None, 100.0
            if isinstance(sampler, ClipOrderSampler):  # VCOP: the tuple, its gaps shrunk on a short video
                need = sampler.span_for(video_frames)
                ordered = sampler.ordered(video_frames, np.random.default_rng(0))
                counts = np.unique(ordered, axis=0, return_counts=True)[1]
                distinct, ceiling = len(counts), 100.0 / math.prod(math.factorial(int(c)) for c in counts)
            elif isinstance(sampler, PlaybackRateSampler):  # PRP: a clip at the top rate
                need = max((sampler.num_frames - 1) * r + math.ceil(r / 2) + 1 for r in sampler.rates)
            else:  # RotNet: one clip
                need = (sampler.num_frames - 1) * sampler.stride + 1
            setting = setting_label(task, level)
            rows.append(
                (task, level, setting, config.frames, need, video_frames, need > video_frames, distinct, ceiling)
            )
    columns = ["task", "complexity", "setting", "frames per clip", "frames needed", "video frames", "looped"]
    return pd.DataFrame(rows, columns=[*columns, "distinct clips", "ceiling (%)"])


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
    """The accuracy each run reached on its own pretext task in its last pre-training epoch (run log): the mean
    over the epoch's training batches (augmented clips, the network still changing), so a training accuracy, not
    a held-out one, beside the chance of a uniform guess.

    Returns:
        one row per point: task, backbone, complexity, setting, classes, chance (%), pretext acc (%),
        acc / chance, epochs, and with ``check`` (``sampling_check``) its ceiling (%) per task and level.
    """
    rows = []
    for point in points:
        log = study.pretrain(point).log
        if log.empty or not {"acc", "chance"} <= set(log):
            raise ValueError(f"the run of {point} logged no pretext accuracy or chance ({', '.join(log.columns)})")
        last = log.sort_values("epoch").iloc[-1]
        task, level = point["task"], point["complexity"]
        acc, chance, epoch = float(last["acc"]), float(last["chance"]), int(last["epoch"])
        labels = (task, point["backbone"], level, setting_label(task, level), num_classes(task, level))
        rows.append((*labels, 100 * chance, 100 * acc, acc / chance, epoch))
    columns = ["task", "backbone", "complexity", "setting", "classes", "chance (%)", "pretext acc (%)"]
    table = pd.DataFrame(rows, columns=[*columns, "acc / chance", "epochs"])
    if check is not None and not table.empty:
        table = table.merge(check[["task", "complexity", "ceiling (%)"]], on=["task", "complexity"], how="left")
    return table


def pretext_facts(pretext: pd.DataFrame, near_chance: float = 1.2) -> dict[str, Any]:
    """Did harder settings end less solved? Facts from ``pretext_accuracy`` (raw and against chance); runs below
    ``near_chance`` times chance count as not having learned their task."""
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
        "capped": ", ".join(f"{r.task} {r.complexity} on {r.backbone}" for r in capped.itertuples()) or "none",
        "near chance": ", ".join(f"{r.task} {r.complexity} on {r.backbone}" for r in weak.itertuples()) or "none",
        "near chance factor": near_chance,
    }


# ----------------------------------------------------------------------------- figures


def complexity_figure(acc: pd.DataFrame, paper: pd.DataFrame | None = None, value: str = "top1") -> Figure:
    """Accuracy against complexity: one panel per task, one line per backbone (error bars: ``se``). With ``paper``
    (``paper_accuracy()``), a second row shows the paper's Table 5 (UCF101 finetuning), on its own axis since the
    two are measured on different data and protocols."""
    label = "top-1 (%)"
    if {"target", "protocol"} <= set(acc.columns) and len(acc):
        label = f"{acc['target'].iloc[0]}, {acc['protocol'].iloc[0]} top-1 (%)"
    rows = [("reproduced", acc, label)]
    if paper is not None:
        rows.append(("paper (Table 5)", paper, "UCF101 finetune top-1 (%)"))
    return _complexity_panels(rows, value)


def pretext_accuracy_figure(pretext: pd.DataFrame) -> Figure:
    """Pretext accuracy at the end of pre-training against complexity, chance dashed; one panel per task."""
    return _complexity_panels([("", pretext, "pretext accuracy, last epoch (%)")], "pretext acc (%)", chance=True)


def _complexity_panels(rows: Sequence[tuple[str, pd.DataFrame, str]], value: str, chance: bool = False) -> Figure:
    """One row of panels (one per task) per ``(name, frame, y label)``, one line per backbone."""
    tasks = [t for t in TASKS if t in set(rows[0][1]["task"])]
    size = (3.4 * len(tasks), 2.8 * len(rows))
    fig, axes = plt.subplots(len(rows), len(tasks), figsize=size, squeeze=False, layout="constrained", sharey="row")
    x = range(len(LEVELS))
    for r, (name, frame, ylabel) in enumerate(rows):
        for ax, task in zip(axes[r], tasks):
            part = frame[frame["task"] == task]
            for backbone in [b for b in BACKBONES if b in set(part["backbone"])]:
                line = part[part["backbone"] == backbone].set_index("complexity").reindex(LEVELS)
                errors = line["se"] if "se" in line else None
                ax.errorbar(x, line[value], yerr=errors, marker="o", capsize=3, label=backbone)
            ax.set_xticks(x, LEVELS)
            ax.grid(alpha=0.3)
            if chance:
                guess = part.groupby("complexity")["chance (%)"].first().reindex(LEVELS)
                ax.plot(x, guess, "k--", lw=1, label="chance")
            ax.set_title(f"{task}, {name}" if name else task, fontsize=10)
        axes[r, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8)
    return fig


def example_video(study: Study, seed: int = 0) -> tuple[np.ndarray, str]:
    """One video of the pool the chapter's runs pre-train on (K400-50k's stand-in), picked by ``seed``: uint8
    frames (F, H, W, 3) and a caption (dataset and video id)."""
    config = study.pretrain_config({"task": "rotnet", "backbone": BACKBONES[0], "data": "K400", "subset": "50k"})
    index = open_split(
        config.dataset, config.split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    )
    record = index.records[int(rng_for(seed, "task-complexity-video").integers(len(index)))]
    return read_frames(record.path), f"{config.dataset}: {record.video_id}"


def complexity_strips(task: str, video: np.ndarray, frames: int, crop_size: int, seed: int = 0) -> Figure:
    """What ``task`` asks at each complexity on one video (uint8 frames (F, H, W, 3)): the task's own views, C1
    rows first, at the runs' clip length ``frames`` and crop; ``seed`` seeds clip positions and augmentations
    alike for every level. ValueError for an unknown task or a malformed video."""
    check_selection([task], TASKS, "tasks")
    clips, labels = [], []
    for level in LEVELS:
        kwargs = level_kwargs(task, level)
        for label, clip in pretext_views(task, video, seed=seed, frames=frames, crop_size=crop_size, **kwargs):
            clips.append(clip)
            labels.append(f"{level}: {label}")
    settings = ", ".join(f"{lv} = {setting_label(task, lv)}" for lv in LEVELS)
    return frame_strips(clips, labels, title=f"{QUESTIONS[task]}\n{settings}")
