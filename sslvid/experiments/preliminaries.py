"""Chapter "Preliminaries": which pretext task, which protocol, how many frames (benchmark §4.1, Table 1, Figure 1).

The benchmark paper's (Anonymous, CVPR 2023 submission #3061) preliminary experiments, through the shared
:class:`~sslvid.experiments.study.Study`: (1) Table 1, six pretext tasks x two networks pre-trained on K400-50k
(grid "preliminaries", block 0) beside random init, over one or several pre-training seeds; (2) linear probe
against finetuning; (3) the profile's clip length against twice as many frames; (4) Figure 1's CKA maps of a
pre-trained network and its linear-probed and finetuned versions; (5) the pretext tasks' training curves.
It returns facts and claims (``claims``, with 95% intervals and computed verdicts); the notebook words them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from sslvid.analysis.cka import CKAResult, cka_map
from sslvid.analysis.claims import Claim, Estimate, seed_difference, spearman, video_mean_difference
from sslvid.analysis.figures import accuracy_curves, cka_heatmaps
from sslvid.analysis.tables import ordered_pivot, seed_estimates, seed_table
from sslvid.backbones import VideoBackbone
from sslvid.data.default import FACTORS, video_scenes
from sslvid.engine.config import PretrainConfig
from sslvid.engine.pretrain import build_index, build_task
from sslvid.evaluate.classify import trained_classifier
from sslvid.evaluate.common import open_eval_split, video_clips
from sslvid.evaluate.readout import feature_readout as readout
from sslvid.experiments.study import Outcomes, Study, chapter_claim, check_selection, evidence, kept_outcomes
from sslvid.scale.grids import SIX_TASKS
from sslvid.seeding import rng_for
from sslvid.store.paper_tables import PAPER_BACKBONES
from sslvid.store.results import compare_with_paper

TABLE1 = "benchmark_t1_pretext_k400_50k"
"""The paper table of this chapter (``sslvid.store.paper_tables.PAPER_TABLES``)."""

BACKBONES = ("shufflenet3d", "r2plus1d_18")
"""Table 1's networks: ShuffleNet V1 2.0x (small) and R(2+1)D-18 (medium), benchmark §3.2."""

NON_CONTRASTIVE = ("rotnet", "vcop", "prp")
CONTRASTIVE = ("cvrl", "tdl", "rspnet")
PAPER_TASK_ORDER = (*NON_CONTRASTIVE, *CONTRASTIVE)
"""Table 1's column order: non-contrastive, then contrastive."""

PAPER_LINEAR_DROP = {"shufflenet3d": 25.0, "r2plus1d_18": 40.0}
"""§4.1 (text, no table): average drop (%) from finetuning to linear probing over VCOP, RotNet
and PRP, per network. The paper does not say whether it is in points or relative."""

SCRATCH = "scratch"
CHAPTER = "preliminaries"
"""This chapter's name in the claims table."""
PAIRS = (("pre-trained", "linear probe"), ("finetuned", "linear probe"), ("pre-trained", "finetuned"))
"""Figure 1's three maps, left to right (rows, columns)."""
HASH_COLUMNS = ("config_hash_linear", "config_hash_finetune", "config_hash", "config_hash_doubled")
"""Columns of ``protocol_comparison`` and ``frames_comparison`` naming each accuracy's evaluation (not shown)."""
LEARNED_FACTOR = 2.0
"""A pretext task counts as learned when its last epoch's accuracy is at least this multiple of chance."""

_claim = partial(chapter_claim, CHAPTER, section="§4.1")


# ----------------------------------------------------------------------------- (1) Table 1
def table1_points(study: Study) -> list[dict[str, Any]]:
    """The twelve pre-training points of Table 1: six tasks x two backbones on K400-50k (grid block 0)."""
    return study.grid_points("preliminaries", block=0)


def table1_point(study: Study, task: str, backbone: str) -> dict[str, Any]:
    """The Table 1 point of ``task`` on ``backbone``; a ValueError for one outside Table 1 lists the valid ones."""
    check_selection([task], SIX_TASKS, "task")
    check_selection([backbone], BACKBONES, "backbone")
    return next(p for p in table1_points(study) if p["task"] == task and p["backbone"] == backbone)


def table1_accuracy(
    study: Study, target: str = "appearance", protocol: str | None = None, seeds: Sequence[int] | None = None
) -> pd.DataFrame:
    """Table 1 as tidy rows (benchmark Table 1): ``Study.accuracy`` of every point and a scratch row per backbone,
    with each of ``seeds`` (a ``seed`` column; None: the study's seed only), trained where the stores lack them."""
    return study.accuracy(table1_points(study), target, protocol, scratch_backbones=BACKBONES, seeds=seeds)


def table1_estimates(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 1's shape (backbones as rows, paper names; tasks in the paper's order, then scratch), each cell an
    ``Estimate``: the mean top-1 over the rows' seeds with its 95% t interval (from one seed, no interval)."""
    order = {"backbone": BACKBONES, "task": (*PAPER_TASK_ORDER, SCRATCH)}
    table = seed_estimates(accuracy, "backbone", "task", "top1", order)
    table.index = [PAPER_BACKBONES.get(b, b) for b in table.index]
    table.index.name, table.columns.name = "backbone", "pretext"
    return table


def table1_table(accuracy: pd.DataFrame, caption: str | None = None) -> Styler:
    """Table 1 for the page: "mean ± half the 95% interval" over seeds per cell (the value alone from one
    seed), top-1 in %, the best mean of each network (row) in bold."""
    return seed_table(table1_estimates(accuracy), caption, unit="%", best_in="row")


def table1_vs_paper(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 (finetuned on UCF101) beside ours, scratch left out: ``paper_vs_reproduced`` rows of
    columns backbone, pretext, paper, reproduced, n, difference."""
    ours = accuracy[accuracy["task"] != SCRATCH].rename(columns={"task": "pretext"})
    return compare_with_paper(TABLE1, ours, value="top1", rename={"backbone": PAPER_BACKBONES})


def rank_agreement(comparison: pd.DataFrame) -> dict[str, Estimate]:
    """Per backbone (paper name) of ``table1_vs_paper`` rows, Spearman's rho of the tasks' paper and reproduced
    accuracies with its uncertainty (``sslvid.analysis.claims.spearman``: exact permutation p up to 8 tasks)."""
    both = comparison.dropna(subset=["paper", "reproduced"])
    return {str(b): spearman(part["paper"], part["reproduced"]) for b, part in both.groupby("backbone", sort=False)}


def table1_facts(accuracy: pd.DataFrame) -> dict[str, Any]:
    """What Table 1 (``table1_accuracy`` rows) says, per backbone: ``{backbone: {"best_non_contrastive",
    "best_non_contrastive_top1", "best_contrastive", "best_contrastive_top1", "scratch_top1", "above_scratch",
    "tasks"}}`` (NaN / None where not measured)."""
    top1 = ordered_pivot(accuracy, "task", "backbone", "top1")
    facts: dict[str, Any] = {}
    for backbone in [b for b in BACKBONES if b in top1.columns]:
        scores = top1[backbone].dropna()
        tasks = scores.drop(index=SCRATCH, errors="ignore")
        row: dict[str, Any] = {"tasks": len(tasks)}
        for kind, group in (("non_contrastive", NON_CONTRASTIVE), ("contrastive", CONTRASTIVE)):
            part = tasks.reindex(group).dropna()
            row[f"best_{kind}"] = part.idxmax() if len(part) else None
            row[f"best_{kind}_top1"] = float(part.max()) if len(part) else float("nan")
        row["scratch_top1"] = float(scores[SCRATCH]) if SCRATCH in scores else float("nan")
        row["above_scratch"] = int((tasks > row["scratch_top1"]).sum()) if SCRATCH in scores else None
        facts[backbone] = row
    return facts


def scratch_gaps(accuracy: pd.DataFrame, outcomes: Outcomes | None = None) -> pd.DataFrame:
    """Each Table 1 model (``table1_accuracy`` rows) minus the same network from random initialisation: one row
    per (backbone, task) measured with its scratch baseline, in Table 1's order; columns backbone, task, gap (top-1
    points), low, high (its 95% interval: over several seeds paired by seed, ``seed_difference``; from one seed
    the bootstrap over test videos, ``_difference``), n (seeds or test videos behind it), method."""
    seeds = evidence(accuracy)["seeds"]
    wide = _wide(accuracy, ["backbone", "seed"] if seeds > 1 else "backbone", "task", (*PAPER_TASK_ORDER, SCRATCH))
    rows = []
    for backbone, task in itertools.product(BACKBONES, PAPER_TASK_ORDER):
        part = wide[wide.index.get_level_values("backbone") == backbone]
        if seeds > 1:
            model, base = (part[t].droplevel("backbone").dropna().to_dict() for t in (task, SCRATCH))
            found = seed_difference(model, base) if model and base else None
        else:
            found = _difference(part, task, SCRATCH, outcomes)
        if found is not None:
            rows.append([backbone, task, found.value, found.low, found.high, found.n, found.method])
    return pd.DataFrame(rows, columns=["backbone", "task", "gap", "low", "high", "n", "method"])


def gap_facts(gaps: pd.DataFrame, accuracy: pd.DataFrame) -> dict[str, Any]:
    """How many seeds stand behind Table 1 (``table1_accuracy`` rows), how its gaps to random init
    (``scratch_gaps`` rows) got their intervals, and how many lie above or below zero with their whole interval."""
    methods = sorted(set(gaps["method"]))
    return {
        "seeds": max(1, evidence(accuracy)["seeds"]),
        "gaps": len(gaps),
        "gaps_above": int((gaps["low"] > 0).sum()),
        "gaps_below": int((gaps["high"] < 0).sum()),
        "gap_method": "; ".join(methods) if methods else "none measured",
    }


def _only(values: pd.Series) -> Any:
    """The one evaluation of a cell; NaN for a cell averaged over several (its accuracy is then no one's)."""
    return values.iloc[0] if len(values) == 1 else np.nan


def _wide(accuracy: pd.DataFrame, index: str | list[str], columns: str, values: Sequence[str]) -> pd.DataFrame:
    """Mean top-1 per ``index`` x each of ``values`` of column ``columns``, with the cell's fewest test videos
    (``videos_<value>``) and its one evaluation (``config_hash_<value>``, ``_only``) where ``accuracy`` has them."""
    wide = ordered_pivot(accuracy, index, columns, "top1").reindex(columns=list(values))
    for column, aggfunc in (("videos", "min"), ("config_hash", _only)):
        if column in accuracy:
            carried = ordered_pivot(accuracy, index, columns, column, aggfunc=aggfunc)
            for value in values:
                wide[f"{column}_{value}"] = carried.get(value, np.nan)
    return wide


def _difference(
    frame: pd.DataFrame | None, a: str, b: str, outcomes: Outcomes | None, columns: Sequence[str] = ()
) -> Estimate | None:
    """Mean over the rows of ``frame`` of column ``a`` minus ``b`` with a bootstrap over test videos
    (``video_mean_difference``): paired when ``outcomes`` finds both evaluations' per-video outcomes of every row,
    else unpaired from the accuracies and their test videos. ``columns`` names the test videos of ``a`` and ``b``
    and their evaluations (default ``videos_<a>``, ``videos_<b>``, ``config_hash_<a>``, ``config_hash_<b>``).
    None without a row measured both ways."""
    videos_a, videos_b, hash_a, hash_b = columns or [f"{c}_{x}" for c in ("videos", "config_hash") for x in (a, b)]
    if frame is None or not {a, b} <= set(frame.columns):
        return None
    both = frame.dropna(subset=[a, b])
    if both.empty:
        return None
    cells = [(r[a], r.get(videos_a, np.nan), r[b], r.get(videos_b, np.nan)) for _, r in both.iterrows()]
    pairs = None
    if outcomes is not None:
        pairs = [
            (kept_outcomes(outcomes, r.get(hash_a)), kept_outcomes(outcomes, r.get(hash_b))) for _, r in both.iterrows()
        ]
    return video_mean_difference(cells, pairs)


def claims(
    comparison: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    drops: pd.DataFrame | None = None,
    frames: pd.DataFrame | None = None,
    outcomes: Outcomes | None = None,
) -> list[Claim]:
    """The paper's §4.1 statements (benchmark2023, §4.1, Table 1) checked on ``table1_vs_paper`` rows (rank
    agreement per network), ``table1_accuracy`` rows (R(2+1)D against ShuffleNet; over several seeds, paired by
    seed), ``protocol_comparison`` rows (linear probe against finetuning) and ``frames_comparison`` rows (clip
    length); a part left None gives its claims "not measured". With ``outcomes`` (``Study.outcomes``) a difference
    of two models takes the paired bootstrap where every model of it has them (``_difference``)."""
    ranks = rank_agreement(comparison) if comparison is not None else {}
    out = [
        _claim(
            f"table1_order_{ours}",
            f"The pretext tasks rank on {ours} as in the paper's Table 1.",
            "Spearman's rho, our task order against the paper's",
            table="Table 1",
            digits=2,
        ).measured(ranks.get(PAPER_BACKBONES.get(ours, ours)), f"fewer than 3 tasks of {ours} measured")
        for ours in BACKBONES
    ]
    small, medium = BACKBONES
    found = None
    if accuracy is not None and len(accuracy):
        pretrained = accuracy[accuracy["task"] != SCRATCH]
        seeds = evidence(accuracy)["seeds"]
        wide = _wide(pretrained, ["seed", "task"] if seeds > 1 else "task", "backbone", (medium, small))
        if seeds > 1:  # per seed, the mean over the tasks it measured on both networks
            per_seed = wide[[medium, small]].dropna().groupby(level="seed").mean()
            found = seed_difference(per_seed[medium].to_dict(), per_seed[small].to_dict()) if len(per_seed) else None
        else:
            found = _difference(wide, medium, small, outcomes)
    duel = _claim(
        "medium_beats_small",
        "R(2+1)D beats ShuffleNet on every pretext task but CVRL.",
        "R(2+1)D minus ShuffleNet top-1, mean over tasks (points)",
        table="Table 1",
    )
    out.append(duel.measured(found, "a network of Table 1 is missing"))
    probed = drops[drops["task"].isin(NON_CONTRASTIVE)] if drops is not None else pd.DataFrame(columns=["backbone"])
    for backbone in BACKBONES:
        claim = _claim(
            f"linear_below_finetune_{backbone}",
            "A linear probe scores below finetuning: over "
            f"VCOP, RotNet and PRP the paper reports a drop of {PAPER_LINEAR_DROP[backbone]:g}% on {backbone}.",
            "finetune minus linear top-1, mean over VCOP, RotNet, PRP (points)",
        )
        found = _difference(probed[probed["backbone"] == backbone], "finetune", "linear", outcomes)
        out.append(claim.measured(found, f"{backbone} is not in finetune_backbones"))
    longer = _claim(
        "frames_doubled_help",
        "Clips of twice the frames (32 against 16) mostly perform better.",
        "top-1 with doubled frames minus the profile's, mean over the tasks measured (points)",
    )
    columns = ("videos_doubled", "videos", "config_hash_doubled", "config_hash")
    out.append(longer.measured(_difference(frames, "top1_doubled", "top1", outcomes, columns), "frames_tasks is empty"))
    return out


# ----------------------------------------------------------------------------- (1b) what the features encode
READOUT_FACTORS = ("class", *FACTORS)


def feature_readout(study: Study, target: str = "appearance") -> pd.DataFrame:
    """What Table 1's frozen features encode (``sslvid.evaluate.readout``): for each network from random
    initialisation and after each task (the study's seed), a probe's test accuracy of the class and of each
    nuisance factor of the default data, in %; columns backbone, task, factor, chance, accuracy, low, high (its
    95% interval). Empty on a real dataset, whose videos have no known nuisance factors."""
    columns = ["backbone", "task", "factor", "chance", "accuracy", "low", "high"]
    if study.data_root is not None:
        return pd.DataFrame(columns=columns)
    models = [(b, SCRATCH, study.eval_config(None, target, "linear", backbone=b)) for b in BACKBONES]
    models += [(p["backbone"], p["task"], study.eval_config(p, target, "linear")) for p in table1_points(study)]
    with study.timed("feature readout", {"task": "all", "backbone": "all"}):
        tables = [readout(c, study.store, study.features).assign(backbone=b, task=t) for b, t, c in models]
    table = pd.concat(tables, ignore_index=True)
    table[["chance", "accuracy", "low", "high"]] *= 100
    return table[columns]


def vcop_order_check(study: Study, backbone: str = "r2plus1d_18") -> dict[str, Any]:
    """Can where the digit sits tell VCOP's clips apart? Over one VCOP tuple per video of Table 1's pre-training
    set, drawn by VCOP's own sampler (Xu et al. 2019 §3: N clips of T frames, ``interval`` apart) at the study's
    settings, from each video's scene as the generator drew it:

    * ``bounce_pct``: tuples in which the digit turns back off a wall between its first and last frame;
    * ``ordered_pct``: tuples whose clips' mean digit positions, projected on the video's heading, are in the
      clips' temporal order or its reverse (the order a network could read from positions; NaN where no video
      has one heading, as in a motion set);
    * ``random_pct``: the same for N positions drawn at random, 2 / N! (33.3% for 3 clips);
    * ``look_changes_pct``: tuples whose clips show the digit differently (their mean opacity differs; its
      glyph and colour are drawn once per video), the cue of time a clip's pooled features hold most readily
      (``benchmarks/pretext_recipes.py``: VCOP orders a digit that brightens at once, one that only moves not);
    * ``tuples``, ``clips`` (N), ``span`` (frames from the first clip's start to the last one's end).

    On real data (no known trajectories) every number is NaN and ``data`` says so.
    """
    config = study.pretrain_config(table1_point(study, "vcop", backbone))
    sampler = build_task(config).clip_sampler()
    facts: dict[str, Any] = {"clips": sampler.num_clips, "random_pct": 200.0 / math.factorial(sampler.num_clips)}
    found: dict[str, list[bool]] = {"bounce_pct": [], "ordered_pct": [], "look_changes_pct": []}  # per tuple
    try:
        scenes = video_scenes(build_index(config))
    except ValueError:  # real data: no known trajectories
        return {**facts, "data": "real data", "tuples": 0, "span": float("nan"), **dict.fromkeys(found, float("nan"))}
    rng = rng_for(study.seed, "vcop order check")
    for scene in scenes:
        clips = sampler.ordered(len(scene.positions), rng)  # (N, T) frame indices, in time order
        if not math.isnan(scene.heading):  # a motion video's class is its motion: it has no one heading
            heading = np.array([math.sin(scene.heading), math.cos(scene.heading)])  # (y, x), as the generator moves
            along = scene.positions[clips].mean(axis=1) @ heading  # (N,) mean position of each clip on the heading
            steps = np.diff(along)
            found["ordered_pct"].append(bool((steps > 0).all() or (steps < 0).all()))
        path = np.diff(scene.positions[clips.min() : clips.max() + 1], axis=0)  # (span - 1, 2) frame-to-frame moves
        found["bounce_pct"].append(bool((np.sign(path[1:]) * np.sign(path[:-1]) < 0).any()))
        opacity = scene.opacity[clips].mean(axis=1)  # (N,) the digit's mean opacity in each clip
        found["look_changes_pct"].append(bool(np.ptp(opacity) > 1e-6))
    return {
        **facts,
        "data": "the default data",
        "tuples": len(scenes),
        "span": int(sampler.span),
        **{name: 100.0 * float(np.mean(flags)) if flags else float("nan") for name, flags in found.items()},
    }


def readout_table(readout_rows: pd.DataFrame) -> pd.DataFrame:
    """``feature_readout`` as one row per network and initialisation, one column per factor (test accuracy %),
    under a first row of chance (the most common value's share)."""
    wide = readout_rows.pivot_table(index=["backbone", "task"], columns="factor", values="accuracy", sort=False)
    chance = readout_rows.groupby("factor", sort=False)["chance"].first().to_frame("chance").T
    chance.index = pd.MultiIndex.from_tuples([("", "chance")], names=wide.index.names)
    return pd.concat([chance, wide])[[f for f in READOUT_FACTORS if f in wide.columns]]


def readout_facts(readout_rows: pd.DataFrame) -> dict[str, Any]:
    """Per factor (``READOUT_FACTORS``, NaN where not measured): its chance, the mean accuracy from random
    initialisation, after the contrastive and after the other tasks, and the best of all networks."""
    facts: dict[str, Any] = {}
    for factor in READOUT_FACTORS:
        rows = readout_rows[readout_rows["factor"] == factor]
        groups = {
            "scratch": rows["task"] == SCRATCH,
            "contrastive": rows["task"].isin(CONTRASTIVE),
            "non_contrastive": rows["task"].isin(NON_CONTRASTIVE),
        }
        facts[f"{factor}_chance"] = float(rows["chance"].mean()) if len(rows) else float("nan")
        facts[f"{factor}_best"] = float(rows["accuracy"].max()) if len(rows) else float("nan")
        for name, mask in groups.items():
            facts[f"{factor}_{name}"] = float(rows.loc[mask, "accuracy"].mean()) if mask.any() else float("nan")
    return facts


# ----------------------------------------------------------------------------- (2) linear vs finetune
def protocol_comparison(
    study: Study,
    backbones: Sequence[str] = ("shufflenet3d",),
    tasks: Sequence[str] = SIX_TASKS,
    target: str = "appearance",
) -> pd.DataFrame:
    """Linear probe against finetuning for the Table 1 models of ``backbones`` and ``tasks``, scratch added
    (benchmark §4.1; a finetuning costs ~5 linear probes): ``protocol_drop`` of their accuracies."""
    check_selection(backbones, BACKBONES, "backbone", allow_empty=True)
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    points = [p for p in table1_points(study) if p["backbone"] in backbones and p["task"] in tasks]
    frames = [
        study.accuracy(points, target, protocol, scratch_backbones=tuple(backbones)).assign(protocol=protocol)
        for protocol in ("linear", "finetune")
    ]
    return protocol_drop(pd.concat(frames, ignore_index=True))


def protocol_drop(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Tidy accuracies of both protocols (columns backbone, task, protocol, top1[, videos, config_hash]) -> one row
    per (backbone, task) in Table 1's order: backbone, task, linear, finetune (top-1 %), videos_<protocol>,
    config_hash_<protocol> (``_wide``), drop (finetune - linear, points), relative_drop_pct (100 drop / finetune)."""
    wide = _wide(accuracy, ["backbone", "task"], "protocol", ("linear", "finetune")).reset_index()
    wide.columns.name = None
    wide["drop"] = wide["finetune"] - wide["linear"]
    wide["relative_drop_pct"] = 100 * wide["drop"] / wide["finetune"]
    return wide.sort_values(["backbone", "task"], key=_task_order, ignore_index=True)


def _task_order(labels: pd.Series) -> pd.Series:
    """Sort key of table columns or index levels: tasks in Table 1's order, then scratch; other labels as they are."""
    return labels.map({t: i for i, t in enumerate((*PAPER_TASK_ORDER, SCRATCH))}) if labels.name == "task" else labels


# ----------------------------------------------------------------------------- (3) clip length
def frames_comparison(
    study: Study,
    tasks: Sequence[str] = ("rotnet",),
    backbone: str = "shufflenet3d",
    target: str = "appearance",
    protocol: str | None = None,
) -> pd.DataFrame:
    """The same Table 1 point pre-trained and evaluated with the profile's frames and with twice as many (§4.1: 16
    against 32 at paper scale, 8 against 16 at micro): one row per task; columns task, backbone, frames,
    frames_doubled, top1, top1_doubled, gain (points), videos, videos_doubled, config_hash, config_hash_doubled."""
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    rows = []
    for task in tasks:
        point = table1_point(study, task, backbone)
        frames = study.pretrain_config(point).frames
        short, long = (study.accuracy([p], target, protocol).iloc[0] for p in (point, {**point, "frames": 2 * frames}))
        rows.append({"task": task, "backbone": backbone, "frames": frames, "frames_doubled": 2 * frames})
        rows[-1] |= {"top1": short["top1"], "top1_doubled": long["top1"], "gain": long["top1"] - short["top1"]}
        rows[-1] |= {f"{c}{s}": r[c] for c in ("videos", "config_hash") for s, r in (("", short), ("_doubled", long))}
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- (4) Figure 1: CKA
def protocol_backbones(study: Study, point: Mapping[str, Any], target: str = "appearance") -> dict[str, VideoBackbone]:
    """The pre-trained backbone of ``point`` and its linear-probed and finetuned versions (CPU, eval mode), as
    {"pre-trained", "linear probe", "finetuned"} -> backbone; evaluates what the stores lack."""
    models: dict[str, VideoBackbone] = {"pre-trained": study.pretrain(point).backbone()}
    for name, protocol in (("linear probe", "linear"), ("finetuned", "finetune")):
        study.evaluate(point, target, protocol)
        config = study.eval_config(point, target, protocol)
        models[name] = trained_classifier(config, study.store, study.features).backbone
    return models


def weight_change(models: Mapping[str, VideoBackbone]) -> pd.DataFrame:
    """The probe's sanity check: how far apart each pair of ``PAIRS`` is in the float tensors their state dicts
    share (not the finetuned classifier); columns a, b, tensors, max_abs_difference, relative_change
    (||w_a - w_b|| / ||w_b||)."""
    rows = []
    for a, b in PAIRS:
        sa, sb = models[a].state_dict(), models[b].state_dict()
        shared = [k for k in sa if k in sb and sa[k].shape == sb[k].shape and sa[k].is_floating_point()]
        diff = [(sa[k].double() - sb[k].double()) for k in shared]
        norm_b = float(torch.sqrt(sum(sb[k].double().square().sum() for k in shared)))
        norm_d = float(torch.sqrt(sum(d.square().sum() for d in diff)))
        largest = max((float(d.abs().max()) for d in diff), default=float("nan"))
        change = norm_d / norm_b if norm_b else float("nan")
        rows.append({"a": a, "b": b, "tensors": len(shared), "max_abs_difference": largest, "relative_change": change})
    return pd.DataFrame(rows)


def cka_clips(study: Study, point: Mapping[str, Any], clips: int = 256, target: str = "appearance") -> torch.Tensor:
    """Up to ``clips`` (at least 4) test clips of the target, uint8 ``(N, T, H, W, 3)``, spread over each video as
    in testing (``test_clips`` per video), from ``ceil(clips / test_clips)`` videos drawn with the study's seed."""
    if clips < 4:
        raise ValueError(f"CKA needs at least 4 clips, got {clips}")
    config = study.eval_config(point, target, "linear")
    split = open_eval_split(config, config.test_split)
    order = rng_for(study.seed, "cka-clips", config.dataset).permutation(len(split.index))
    picks = sorted(order[: -(-clips // config.test_clips)])
    return video_clips(config, split, picks, config.test_clips, study.seed).flatten(0, 1)[:clips]


def cka_maps(
    models: Mapping[str, VideoBackbone], clips: torch.Tensor, crop_size: int, batch_size: int = 64
) -> dict[tuple[str, str], CKAResult]:
    """Figure 1's three minibatch CKA maps (``PAIRS`` -> ``CKAResult``) over every block of the networks
    (``protocol_backbones``), on uint8 ``(N, T, H, W, 3)`` clips centre-cropped to ``crop_size``."""
    return {(a, b): cka_map(models[a], clips, models[b], batch_size=batch_size, crop_size=crop_size) for a, b in PAIRS}


def cka_figure(maps: Mapping[tuple[str, str], CKAResult], point: Mapping[str, Any]) -> Figure:
    """The three maps side by side, as the benchmark's Figure 1 (rows: first network; columns: second)."""
    where = f"{point['task']} on {point['backbone']} ({point.get('data', 'K400')}-{point.get('subset', '50k')})"
    return cka_heatmaps(list(maps.values()), [f"{a} vs {b}" for a, b in maps], suptitle=f"CKA maps of {where}")


def cka_diagonal(maps: Mapping[tuple[str, str], CKAResult]) -> pd.DataFrame:
    """CKA of each block with the same block of the other network: one row per block, one column per map
    ("a vs b"), values in [0, 1] (1: same representation)."""
    columns = {}
    for (a, b), result in maps.items():
        n = min(len(result.layers_a), len(result.layers_b))
        columns[f"{a} vs {b}"] = pd.Series(np.diag(result.matrix)[:n], index=list(result.layers_a[:n]))
    return pd.DataFrame(columns).rename_axis("block")


def cka_facts(diagonal: pd.DataFrame, change: pd.DataFrame, threshold: float = 0.9) -> dict[str, Any]:
    """What Figure 1 shows (``cka_diagonal``, ``weight_change`` rows): the probe's identity check, and which
    blocks finetuning changed, "kept" at a diagonal CKA of at least ``threshold`` (§4.1 Figure 1: most changed)."""
    probe = change[(change["a"] == "pre-trained") & (change["b"] == "linear probe")].iloc[0]
    fine = change[(change["a"] == "pre-trained") & (change["b"] == "finetuned")].iloc[0]
    probe_cka, tuned = diagonal["pre-trained vs linear probe"], diagonal["pre-trained vs finetuned"]
    third = tuned.index.get_loc(tuned.idxmin()) / max(1, len(tuned) - 1)
    return {
        "probe identical": bool(probe["max_abs_difference"] == 0),
        "probe max difference": float(probe["max_abs_difference"]),
        "probe cka min": float(probe_cka.min()),
        "probe cka max": float(probe_cka.max()),
        "finetune change pct": 100 * float(fine["relative_change"]),
        "threshold": threshold,
        "blocks": len(tuned),
        "moved": int((tuned < threshold).sum()),
        "most changed": str(tuned.idxmin()),
        "most changed cka": float(tuned.min()),
        "where": "early" if third < 1 / 3 else "in the middle" if third < 2 / 3 else "late",
    }


# ----------------------------------------------------------------------------- (5) pretext training curves
def pretext_logs(study: Study, points: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The per-epoch pre-training logs of Table 1's runs (``PretrainResult.log``) as one table: task, backbone,
    epoch, loss, acc (the pretext task's own, NaN without one), chance (a uniform guess's among the task's
    candidates, NaN where not logged), seconds, relative_loss (loss / first epoch's loss)."""
    frames = []
    for point in points if points is not None else table1_points(study):
        log = study.pretrain(point).log
        logged = {c: log[c] if c in log else np.nan for c in ("epoch", "loss", "acc", "chance", "seconds")}
        part = pd.DataFrame({"task": point["task"], "backbone": point["backbone"], **logged})
        frames.append(part.assign(relative_loss=part["loss"] / part["loss"].iloc[0]))
    return pd.concat(frames, ignore_index=True)


def pretext_curves_figure(logs: pd.DataFrame) -> Figure:
    """Pretext loss relative to the first epoch's, per task, one panel per backbone."""
    return accuracy_curves(
        logs,
        x="epoch",
        y="relative_loss",
        group="task",
        facet="backbone",
        ylabel="loss / first epoch's loss",
        title="Pre-training curves of Table 1's runs",
    )


def pretext_final_table(logs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, backbone), the last epoch's loss, relative loss, pretext accuracy (over that epoch's augmented
    training clips) and chance (both in %, as chapter 4's table), ``acc / chance`` and the run's seconds."""
    last = logs.sort_values("epoch").groupby(["task", "backbone"], sort=False).tail(1)
    seconds = logs.groupby(["task", "backbone"])["seconds"].sum().rename("train_seconds")
    final = last.set_index(["task", "backbone"])
    table = final[["epoch", "loss", "relative_loss"]].copy()
    table["pretext acc (%)"], table["chance (%)"] = 100 * final["acc"], 100 * final["chance"]
    table["acc / chance"] = final["acc"] / final["chance"]
    return table.join(seconds).sort_index(key=_task_order)


def recipe_facts() -> dict[str, Any]:
    """The micro pre-training recipes the chapter's text names, read from the configs: RotNet's (that of the
    classification tasks, RotNet and PRP) and VCOP's (the shared one of the other tasks), with their epochs."""
    facts: dict[str, Any] = {}
    for kind, task in (("classification", "rotnet"), ("shared", "vcop")):
        config = PretrainConfig.for_profile("micro", task=task, backbone=BACKBONES[-1])
        facts |= {
            f"{kind} optimizer": config.optimizer,
            f"{kind} lr": config.lr,
            f"{kind} batch": config.batch_size,
            f"{kind} warmup": config.warmup_epochs,
            f"{kind} epochs": config.epochs,
        }
    return facts


def curves_facts(logs: pd.DataFrame) -> dict[str, Any]:
    """Which runs lowered their pretext loss over pre-training and learned their task (``pretext_final_table``)."""
    final = pretext_final_table(logs)
    down = final[final["relative_loss"] < 1]
    steepest = down["relative_loss"].idxmin() if len(down) else None
    learned = final[final["acc / chance"] >= LEARNED_FACTOR]
    return {
        "runs": len(final),
        "learned": len(learned),
        "learned factor": LEARNED_FACTOR,
        "not learned": ", ".join(f"{t} on {b}" for t, b in final.index.difference(learned.index)) or "none",
        "fell": len(down),
        "did not fall": ", ".join(f"{t} on {b}" for t, b in final.index.difference(down.index)) or "none",
        "steepest": f"{steepest[0]} on {steepest[1]}" if steepest else "none",
        "steepest ratio": float(down["relative_loss"].min()) if len(down) else float("nan"),
    }


# ----------------------------------------------------------------------------- the chapter's comparisons
KNOBS: dict[str, Any] = {
    "target": "appearance",
    "table1_seeds": (0,),
    "finetune_backbones": ("shufflenet3d",),
    "frames_tasks": ("rotnet",),
    "frames_backbone": "shufflenet3d",
    "cka_task": "vcop",
    "cka_backbone": "shufflenet3d",
    "cka_clips": 256,
    "cka_batch": 64,
}
"""The notebook's knobs and their defaults (its parameters cell, less the study's own: profile, data_root,
seed, device, cache_dir); ``paper_comparisons`` reads the same. ``tests/test_knobs.py`` checks the notebook."""


def paper_comparisons(study: Study) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for this chapter's paper tables: ``{TABLE1: table1_vs_paper(...)}`` of Table 1 at the
    study's protocol on ``KNOBS["target"]``, over the pre-training seeds ``KNOBS["table1_seeds"]``."""
    return {TABLE1: table1_vs_paper(table1_accuracy(study, KNOBS["target"], seeds=KNOBS["table1_seeds"]))}
