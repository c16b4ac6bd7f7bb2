"""Chapter "Preliminaries": which pretext task, which protocol, how many frames (benchmark §4.1, Table 1, Figure 1).

Benchmark paper (Anonymous, CVPR 2023 submission #3061) §3 sets up six pretext tasks (RotNet, VCOP, PRP:
non-contrastive; CVRL, TDL, RSPNet: contrastive) on a small and a medium network (ShuffleNet
V1 2.0x and R(2+1)D-18), and §4.1 runs the preliminary experiments the rest of the study
rests on. This module computes each of them through the shared :class:`~sslvid.experiments.
study.Study` (runs trained once, reused by later chapters) and returns facts and claims
(``claims``: the paper's §4.1 statements with 95% intervals and computed verdicts); the
notebook words them:

1. Table 1: the six tasks x two backbones pre-trained on K400-50k (grid "preliminaries",
   block 0), evaluated with the study's protocol on the appearance target, beside
   random-init ("scratch") baselines, and a paper-vs-reproduced table. Over several
   pre-training seeds (knob ``table1_seeds``) its cells are the mean ± the 95% t interval
   over the seeds, and each task's gap to random init is paired by seed (``seed_difference``);
   from one seed the gap takes the bootstrap over test videos.
2. Linear probe against finetuning (§4.1 reports a drop of 25% for ShuffleNet and 40% for
   R21D, averaged over VCOP, RotNet and PRP).
3. Clip length: the profile's frames against twice as many (§4.1: 16 vs 32 at paper scale).
4. Figure 1: CKA maps between a pre-trained network, its linear-probed version (same
   backbone: the probe leaves it unchanged) and its finetuned version.
5. The pretext tasks' training curves, from the runs' logs.
"""

from __future__ import annotations

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
from sslvid.engine.config import PretrainConfig
from sslvid.evaluate.classify import trained_classifier
from sslvid.evaluate.common import open_eval_split, video_clips
from sslvid.experiments.study import Outcomes, Study, chapter_claim, check_selection, evidence, kept_outcomes
from sslvid.scale.grids import SIX_TASKS
from sslvid.seeding import rng_for
from sslvid.store.paper_tables import PAPER_BACKBONES
from sslvid.store.results import compare_with_paper

TABLE1 = "benchmark_t1_pretext_k400_50k"
"""The paper table of this chapter (``sslvid.store.paper_tables.PAPER_TABLES``)."""

BACKBONES = ("shufflenet3d", "r2plus1d_18")
"""Table 1's networks: ShuffleNet V1 2.0x (small) and R(2+1)D-18 (medium), benchmark §3.2."""

PAPER_TASK_ORDER = ("rotnet", "vcop", "prp", "cvrl", "tdl", "rspnet")
"""Table 1's column order: non-contrastive, then contrastive."""

NON_CONTRASTIVE = ("rotnet", "vcop", "prp")
CONTRASTIVE = ("cvrl", "tdl", "rspnet")

PAPER_LINEAR_DROP = {"shufflenet3d": 25.0, "r2plus1d_18": 40.0}
"""§4.1 (text, no table): average drop (%) from finetuning to linear probing over VCOP, RotNet
and PRP, per network. The paper does not say whether it is in points or relative."""

SCRATCH = "scratch"
CHAPTER = "preliminaries"
"""This chapter's name in the claims table."""
PAIRS = (("pre-trained", "linear probe"), ("finetuned", "linear probe"), ("pre-trained", "finetuned"))
"""Figure 1's three maps, left to right (rows, columns)."""


# ----------------------------------------------------------------------------- (1) Table 1


def table1_points(study: Study) -> list[dict[str, Any]]:
    """The twelve pre-training points of Table 1: six tasks x two backbones on K400-50k (grid block 0)."""
    return study.grid_points("preliminaries", block=0)


def table1_point(study: Study, task: str, backbone: str) -> dict[str, Any]:
    """The Table 1 point of ``task`` on ``backbone``.

    Raises:
        ValueError: for a task or backbone outside Table 1 (listing the valid ones).
    """
    check_selection([task], SIX_TASKS, "task")
    check_selection([backbone], BACKBONES, "backbone")
    return next(p for p in table1_points(study) if p["task"] == task and p["backbone"] == backbone)


def table1_accuracy(
    study: Study, target: str = "appearance", protocol: str | None = None, seeds: Sequence[int] | None = None
) -> pd.DataFrame:
    """Table 1 as tidy rows: every point's accuracy and a scratch row per backbone (benchmark Table 1).

    Pre-trains and evaluates what the stores lack.

    Args:
        seeds: pre-train and evaluate every model (scratch included) with each of these seeds
            (``Study.accuracy``); None: the study's seed only.

    Returns:
        one row per (task, backbone[, seed]), tasks ``SIX_TASKS`` + "scratch"; columns of
        ``Study.accuracy`` (task, backbone, data, subset, epoch, target, protocol, config_hash, top1,
        videos; ``seed`` when ``seeds`` is given).
    """
    return study.accuracy(table1_points(study), target, protocol, scratch_backbones=BACKBONES, seeds=seeds)


def table1_estimates(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 1's shape (backbones as rows, paper names; tasks in the paper's order, then scratch), each cell an
    ``Estimate``: the mean top-1 over the rows' seeds with its 95% t interval (``analysis.tables.seed_estimates``;
    from one seed, no interval)."""
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
    """The paper's Table 1 (finetuned on UCF101) beside ours: one row per (backbone, pretext).

    Returns:
        ``paper_vs_reproduced`` columns backbone, pretext, paper, reproduced, n, difference
        (scratch rows are left out: the paper has none).
    """
    ours = accuracy[accuracy["task"] != SCRATCH].rename(columns={"task": "pretext"})
    return compare_with_paper(TABLE1, ours, value="top1", rename={"backbone": PAPER_BACKBONES})


def rank_agreement(comparison: pd.DataFrame) -> dict[str, Estimate]:
    """Per backbone (paper name), Spearman's rho of the tasks' paper and reproduced accuracies with its
    uncertainty (``sslvid.analysis.claims.spearman``: exact permutation p up to 8 tasks).

    Args:
        comparison: ``table1_vs_paper`` rows.
    """
    both = comparison.dropna(subset=["paper", "reproduced"])
    return {
        str(backbone): spearman(part["paper"], part["reproduced"])
        for backbone, part in both.groupby("backbone", sort=False)
    }


def table1_facts(accuracy: pd.DataFrame) -> dict[str, Any]:
    """What Table 1 says here, as facts: per backbone the best non-contrastive and contrastive task,
    the scratch baseline and the tasks that beat it (the notebook words them).

    Args:
        accuracy: ``table1_accuracy`` rows (columns task, backbone, top1, protocol, target).

    Returns:
        ``{backbone: {"best_non_contrastive", "best_non_contrastive_top1", "best_contrastive",
        "best_contrastive_top1", "scratch_top1", "above_scratch", "tasks"}}`` (NaN / None where not measured).
    """
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
        base = float(scores[SCRATCH]) if SCRATCH in scores else float("nan")
        row["scratch_top1"] = base
        row["above_scratch"] = int((tasks > base).sum()) if SCRATCH in scores else None
        facts[backbone] = row
    return facts


def scratch_gaps(accuracy: pd.DataFrame, outcomes: Outcomes | None = None) -> pd.DataFrame:
    """Each Table 1 model against the same network from random initialisation, with a 95% interval.

    Over several seeds the gap is paired by seed (``seed_difference``: a t interval of the per-seed
    differences); from one seed it takes the bootstrap over test videos (``video_mean_difference``: paired
    when ``outcomes`` finds both evaluations' per-video outcomes, unpaired otherwise).

    Args:
        accuracy: ``table1_accuracy`` rows (columns task, backbone, top1, videos, config_hash[, seed]).
        outcomes: per-video outcomes by config hash (``Study.outcomes``), for one seed.

    Returns:
        one row per (backbone, task) measured with its network's scratch baseline, in Table 1's order;
        columns backbone, task, gap (pre-trained minus scratch top-1, points), low, high (its 95% interval,
        NaN without one), n (seeds or test videos behind it), method.
    """
    columns = ["backbone", "task", "gap", "low", "high", "n", "method"]
    seeds = evidence(accuracy)["seeds"]
    rows = []
    for backbone in BACKBONES:
        mine = accuracy[accuracy["backbone"] == backbone]
        base = mine[mine["task"] == SCRATCH]
        for task in PAPER_TASK_ORDER:
            model = mine[mine["task"] == task]
            if model["top1"].notna().sum() == 0 or base["top1"].notna().sum() == 0:
                continue
            if seeds > 1:
                found = seed_difference(_by_seed(model), _by_seed(base))
            else:
                found = _difference(_pair(model, base), "a", "b", ("na", "nb"), ("ha", "hb"), outcomes)
            if found is not None:
                rows.append([backbone, task, found.value, found.low, found.high, found.n, found.method])
    return pd.DataFrame(rows, columns=columns)


def gap_facts(gaps: pd.DataFrame, accuracy: pd.DataFrame) -> dict[str, Any]:
    """How many seeds stand behind Table 1, how its gaps to random init got their intervals, and how many
    gaps lie above zero with their whole interval (the notebook words them).

    Args:
        gaps: ``scratch_gaps`` rows.
        accuracy: ``table1_accuracy`` rows.
    """
    methods = sorted(set(gaps["method"]))
    return {
        "seeds": max(1, evidence(accuracy)["seeds"]),
        "gaps": len(gaps),
        "gaps_above": int((gaps["low"] > 0).sum()),
        "gaps_below": int((gaps["high"] < 0).sum()),
        "gap_method": "; ".join(methods) if methods else "none measured",
    }


def _by_seed(rows: pd.DataFrame) -> dict[int, float]:
    """Top-1 per seed of one cell's rows (averaged over a seed's rows), seeds without a value left out."""
    return {int(s): float(v) for s, v in rows.groupby("seed")["top1"].mean().dropna().items()}


HASH_COLUMNS = ("config_hash_linear", "config_hash_finetune", "config_hash", "config_hash_doubled")
"""Columns of ``protocol_comparison`` and ``frames_comparison`` naming each accuracy's evaluation (not shown)."""


def _difference(
    frame: pd.DataFrame, a: str, b: str, videos: tuple[str, str], hashes: tuple[str, str], outcomes: Outcomes | None
) -> Estimate | None:
    """Mean over the rows of ``frame`` of column ``a`` minus ``b`` with a bootstrap over test videos: paired
    when ``outcomes`` finds the per-video outcomes of both evaluations (columns ``hashes``) of every row,
    else unpaired from the accuracies and their test videos (columns ``videos``); None without a row."""
    both = frame.dropna(subset=[a, b])
    if both.empty:
        return None
    cells = [(r[a], r.get(videos[0], np.nan), r[b], r.get(videos[1], np.nan)) for _, r in both.iterrows()]
    pairs = None
    if outcomes is not None:
        pairs = [
            (kept_outcomes(outcomes, r.get(hashes[0])), kept_outcomes(outcomes, r.get(hashes[1])))
            for _, r in both.iterrows()
        ]
    return video_mean_difference(cells, pairs)


def _only(values: pd.Series) -> Any:
    """The one evaluation of a cell; NaN for a cell averaged over several (its accuracy is then no one's)."""
    return values.iloc[0] if len(values) == 1 else np.nan


def _pair(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One row of ``_difference``'s columns from the rows of two cells: their mean top-1 (``a``, ``b``), fewest
    test videos (``na``, ``nb``) and evaluation (``ha``, ``hb``; ``_only``), NaN for a column the rows lack."""
    row = {}
    for x, rows in (("a", a), ("b", b)):
        row[x] = rows["top1"].mean()
        row[f"n{x}"] = rows["videos"].min() if "videos" in rows else np.nan
        row[f"h{x}"] = _only(rows["config_hash"]) if "config_hash" in rows else np.nan
    return pd.DataFrame([row])


PAPER = "benchmark2023"
_claim = partial(chapter_claim, CHAPTER, section="§4.1", paper=PAPER)


def claims(
    comparison: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    drops: pd.DataFrame | None = None,
    frames: pd.DataFrame | None = None,
    outcomes: Outcomes | None = None,
) -> list[Claim]:
    """The paper's §4.1 statements checked on this chapter's numbers (benchmark2023, §4.1, Table 1).

    Args:
        comparison: ``table1_vs_paper`` rows (rank agreement per network).
        accuracy: ``table1_accuracy`` rows (R(2+1)D against ShuffleNet; over several seeds, paired by seed
            with ``seed_difference``).
        drops: ``protocol_comparison`` rows (linear probe against finetuning).
        frames: ``frames_comparison`` rows (clip length).
        outcomes: per-video outcomes by config hash (``Study.outcomes``): differences of two models on
            the same test videos then take the paired bootstrap (``paired_mean_difference``) where every
            model of the comparison has them, the unpaired one otherwise (and say so in the method).
        A part left None gives its claims "not measured".
    """
    out = []
    for ours in BACKBONES:
        name = PAPER_BACKBONES.get(ours, ours)
        base = _claim(
            f"table1_order_{ours}",
            f"The pretext tasks rank on {ours} as in the paper's Table 1.",
            "Spearman's rho, our task order against the paper's",
            table="Table 1",
            digits=2,
        )
        rho = rank_agreement(comparison).get(name) if comparison is not None else None
        out.append(base.measured(rho, f"fewer than 3 tasks of {ours} measured"))
    small, medium = BACKBONES
    duel = _claim(
        "medium_beats_small",
        "R(2+1)D beats ShuffleNet on every pretext task but CVRL.",
        "R(2+1)D minus ShuffleNet top-1, mean over tasks (points)",
        table="Table 1",
    )
    found = None
    if accuracy is not None and evidence(accuracy)["seeds"] > 1:
        found = _seed_duel(accuracy[accuracy["task"] != SCRATCH], medium, small)
    elif accuracy is not None and len(accuracy):
        cells = dict(tuple(accuracy[accuracy["task"] != SCRATCH].groupby(["task", "backbone"])))
        tasks = sorted({t for t, _ in cells if (t, medium) in cells and (t, small) in cells})
        if tasks:
            flat = pd.concat([_pair(cells[(t, medium)], cells[(t, small)]) for t in tasks], ignore_index=True)
            found = _difference(flat, "a", "b", ("na", "nb"), ("ha", "hb"), outcomes)
    out.append(duel.measured(found, "a network of Table 1 is missing"))
    for backbone in BACKBONES:
        claim = _claim(
            f"linear_below_finetune_{backbone}",
            "A linear probe scores below finetuning: over "
            f"VCOP, RotNet and PRP the paper reports a drop of {PAPER_LINEAR_DROP[backbone]:g}% on "
            f"{backbone}.",
            "finetune minus linear top-1, mean over VCOP, RotNet, PRP (points)",
        )
        part = (
            drops[(drops["backbone"] == backbone) & drops["task"].isin(NON_CONTRASTIVE)]
            if drops is not None
            else pd.DataFrame()
        )
        videos, hashes = ("videos_finetune", "videos_linear"), ("config_hash_finetune", "config_hash_linear")
        found = _difference(part, "finetune", "linear", videos, hashes, outcomes) if len(part) else None
        out.append(claim.measured(found, f"{backbone} is not in finetune_backbones"))
    longer = _claim(
        "frames_doubled_help",
        "Clips of twice the frames (32 against 16) mostly perform better.",
        "top-1 with doubled frames minus the profile's, mean over the tasks measured (points)",
    )
    videos, hashes = ("videos_doubled", "videos"), ("config_hash_doubled", "config_hash")
    found = _difference(frames, "top1_doubled", "top1", videos, hashes, outcomes) if frames is not None else None
    out.append(longer.measured(found, "frames_tasks is empty"))
    return out


def _seed_duel(pretrained: pd.DataFrame, medium: str, small: str) -> Estimate | None:
    """Per seed, the mean over tasks of ``medium`` minus ``small`` top-1 (tasks both measured at that seed),
    with the t interval over seeds (``seed_difference``); None when no seed measured both on a task."""
    wide = pretrained.pivot_table(index=["seed", "task"], columns="backbone", values="top1", aggfunc="mean")
    if not {small, medium} <= set(wide.columns):
        return None
    both = wide[[medium, small]].dropna().groupby(level="seed").mean()
    if both.empty:
        return None
    return seed_difference(both[medium].to_dict(), both[small].to_dict())


# ----------------------------------------------------------------------------- (2) linear vs finetune


def protocol_comparison(
    study: Study,
    backbones: Sequence[str] = ("shufflenet3d",),
    tasks: Sequence[str] = SIX_TASKS,
    target: str = "appearance",
) -> pd.DataFrame:
    """Linear probe against finetuning for Table 1 models of ``backbones`` (benchmark §4.1).

    Args:
        study: the shared study.
        backbones: networks to evaluate both ways (each finetuning costs ~5 linear probes).
        tasks: pretext tasks (scratch is always added).
        target: "appearance" or "motion".

    Returns:
        one row per (backbone, task), tasks + "scratch"; columns backbone, task, linear,
        finetune (top-1 %), videos_linear, videos_finetune (test videos behind each), config_hash_linear,
        config_hash_finetune (their evaluations), drop (finetune - linear, points), relative_drop_pct
        (100 drop / finetune).

    Raises:
        ValueError: for a backbone or task outside Table 1.
    """
    check_selection(backbones, BACKBONES, "backbone", allow_empty=True)
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    points = [p for p in table1_points(study) if p["backbone"] in backbones and p["task"] in tasks]
    frames = [
        study.accuracy(points, target, protocol, scratch_backbones=tuple(backbones)).assign(protocol=protocol)
        for protocol in ("linear", "finetune")
    ]
    return protocol_drop(pd.concat(frames, ignore_index=True))


def protocol_drop(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Tidy accuracies of both protocols -> one row per (backbone, task) with the drop.

    Args:
        accuracy: rows with columns backbone, task, protocol ("linear" / "finetune"), top1
            (and ``videos``, carried as ``videos_linear`` / ``videos_finetune``; ``config_hash`` as
            ``config_hash_linear`` / ``config_hash_finetune``, for the paired bootstrap of the claims).
    """
    keys, protocols = ["backbone", "task"], ["linear", "finetune"]
    wide = ordered_pivot(accuracy, keys, "protocol", "top1").reindex(columns=protocols)
    for column, aggfunc in (("videos", "min"), ("config_hash", _only)):
        if column in accuracy:
            carried = ordered_pivot(accuracy, keys, "protocol", column, aggfunc=aggfunc)
            for protocol in protocols:
                wide[f"{column}_{protocol}"] = carried.get(protocol, np.nan)
    wide = wide.reset_index()
    wide.columns.name = None
    wide["drop"] = wide["finetune"] - wide["linear"]
    wide["relative_drop_pct"] = 100 * wide["drop"] / wide["finetune"]
    order = {t: i for i, t in enumerate((*PAPER_TASK_ORDER, SCRATCH))}
    return wide.sort_values(
        ["backbone", "task"], key=lambda s: s.map(order) if s.name == "task" else s, ignore_index=True
    )


# ----------------------------------------------------------------------------- (3) clip length


def frames_comparison(
    study: Study,
    tasks: Sequence[str] = ("rotnet",),
    backbone: str = "shufflenet3d",
    target: str = "appearance",
    protocol: str | None = None,
) -> pd.DataFrame:
    """The same Table 1 point pre-trained and evaluated with the profile's frames and with twice as many (§4.1: 16
    against 32 at paper scale, 8 against 16 at micro).

    Returns:
        one row per task; columns task, backbone, frames, frames_doubled, top1, top1_doubled, gain (points),
        videos, videos_doubled (test videos behind each accuracy), config_hash, config_hash_doubled (their
        evaluations).

    Raises:
        ValueError: for a task or backbone outside Table 1.
    """
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    rows = []
    for task in tasks:
        point = table1_point(study, task, backbone)
        frames = study.pretrain_config(point).frames
        short, long = (study.accuracy([p], target, protocol).iloc[0] for p in (point, {**point, "frames": 2 * frames}))
        measured = {
            f"{c}{s}": r[c] for c in ("top1", "videos", "config_hash") for s, r in (("", short), ("_doubled", long))
        }
        rows.append({"task": task, "backbone": backbone, "frames": frames, "frames_doubled": 2 * frames, **measured})
    table = pd.DataFrame(rows)
    if len(table):
        table.insert(table.columns.get_loc("top1_doubled") + 1, "gain", table["top1_doubled"] - table["top1"])
    return table


# ----------------------------------------------------------------------------- (4) Figure 1: CKA


def protocol_backbones(study: Study, point: Mapping[str, Any], target: str = "appearance") -> dict[str, VideoBackbone]:
    """The pre-trained backbone of ``point`` and its linear-probed and finetuned versions (CPU, eval mode).

    Evaluates ``point`` with both protocols first when the stores lack them.

    Returns:
        {"pre-trained", "linear probe", "finetuned"} -> backbone.
    """
    models: dict[str, VideoBackbone] = {"pre-trained": study.pretrain(point).backbone()}
    for name, protocol in (("linear probe", "linear"), ("finetuned", "finetune")):
        study.evaluate(point, target, protocol)
        config = study.eval_config(point, target, protocol)
        models[name] = trained_classifier(config, study.store, study.features).backbone
    return models


def weight_change(models: Mapping[str, VideoBackbone]) -> pd.DataFrame:
    """How far each network's trunk weights are from each other's: the probe's sanity check.

    Compares the parameters and buffers the two state dicts share (the finetuned classifier
    is not in the pre-trained backbone, so it is left out).

    Returns:
        one row per pair of ``PAIRS``; columns a, b, tensors (compared), max_abs_difference,
        relative_change (||w_a - w_b|| / ||w_b|| over float tensors).
    """
    rows = []
    for a, b in PAIRS:
        sa, sb = models[a].state_dict(), models[b].state_dict()
        shared = [k for k in sa if k in sb and sa[k].shape == sb[k].shape and sa[k].is_floating_point()]
        diff = [(sa[k].double() - sb[k].double()) for k in shared]
        norm_b = float(torch.sqrt(sum(sb[k].double().square().sum() for k in shared)))
        norm_d = float(torch.sqrt(sum(d.square().sum() for d in diff)))
        rows.append(
            {
                "a": a,
                "b": b,
                "tensors": len(shared),
                "max_abs_difference": max((float(d.abs().max()) for d in diff), default=float("nan")),
                "relative_change": norm_d / norm_b if norm_b else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def cka_clips(study: Study, point: Mapping[str, Any], clips: int = 256, target: str = "appearance") -> torch.Tensor:
    """Up to ``clips`` test clips of the target, uint8 ``(N, T, H, W, 3)``, from videos drawn with the study's seed.

    Clips are spread uniformly over each video as in testing (``test_clips`` per video), so
    the videos drawn are ``ceil(clips / test_clips)`` at most.

    Raises:
        ValueError: if ``clips`` < 4 (CKA needs batches of at least 4).
    """
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
    """Figure 1's three minibatch CKA maps (``PAIRS``) over every block of the networks.

    Args:
        models: ``protocol_backbones`` output.
        clips: uint8 ``(N, T, H, W, 3)`` (``cka_clips``).
        crop_size: the networks' input side (frames are centre-cropped to it).
        batch_size: CKA minibatch size (>= 4).

    Returns:
        (rows, columns) -> ``CKAResult``, in the order of ``PAIRS``.
    """
    return {(a, b): cka_map(models[a], clips, models[b], batch_size=batch_size, crop_size=crop_size) for a, b in PAIRS}


def cka_figure(maps: Mapping[tuple[str, str], CKAResult], point: Mapping[str, Any]) -> Figure:
    """The three maps side by side, as the benchmark's Figure 1 (rows: first network; columns: second)."""
    titles = [f"{a} vs {b}" for a, b in maps]
    return cka_heatmaps(
        list(maps.values()),
        titles,
        suptitle=f"CKA maps of {point['task']} on {point['backbone']} "
        f"({point.get('data', 'K400')}-{point.get('subset', '50k')})",
    )


def cka_diagonal(maps: Mapping[tuple[str, str], CKAResult]) -> pd.DataFrame:
    """CKA of each block with the same block of the other network, per map.

    Returns:
        one row per block; one column per map ("a vs b"), values in [0, 1] (1: same representation).
    """
    columns = {}
    for (a, b), result in maps.items():
        n = min(len(result.layers_a), len(result.layers_b))
        columns[f"{a} vs {b}"] = pd.Series(np.diag(result.matrix)[:n], index=list(result.layers_a[:n]))
    table = pd.DataFrame(columns)
    table.index.name = "block"
    return table


def cka_facts(diagonal: pd.DataFrame, change: pd.DataFrame, threshold: float = 0.9) -> dict[str, Any]:
    """What Figure 1 shows here, as facts: the probe's identity check, and which blocks finetuning changed
    (the notebook words them; the paper, §4.1 Figure 1, found most layers changed by finetuning).

    Args:
        diagonal: ``cka_diagonal`` rows.
        change: ``weight_change`` rows.
        threshold: a block "kept" its representation when its diagonal CKA is at least this.
    """
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
    """The per-epoch pre-training logs of Table 1's runs (``PretrainResult.log``), one table.

    Returns:
        columns task, backbone, epoch, loss, relative_loss (loss / first epoch's loss), acc
        (the pretext task's own accuracy where it has one, else NaN), chance (a uniform guess's
        accuracy among the task's candidates, NaN where the run's log has none), seconds.
    """
    frames = []
    for point in points if points is not None else table1_points(study):
        log = study.pretrain(point).log
        part = pd.DataFrame(
            {
                "task": point["task"],
                "backbone": point["backbone"],
                "epoch": log["epoch"],
                "loss": log["loss"],
                "acc": log["acc"] if "acc" in log else np.nan,
                "chance": log["chance"] if "chance" in log else np.nan,
                "seconds": log["seconds"] if "seconds" in log else np.nan,
            }
        )
        part["relative_loss"] = part["loss"] / part["loss"].iloc[0]
        frames.append(part)
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


LEARNED_FACTOR = 2.0
"""A pretext task counts as learned when its last epoch's accuracy is at least this multiple of chance."""


def pretext_final_table(logs: pd.DataFrame) -> pd.DataFrame:
    """Last epoch's loss, relative loss, pretext accuracy and chance (both in %, as chapter 4's table), and
    ``acc / chance`` per (task, backbone), and the run's seconds. The accuracy is over the augmented training
    clips of that epoch (the run's log)."""
    last = logs.sort_values("epoch").groupby(["task", "backbone"], sort=False).tail(1)
    seconds = logs.groupby(["task", "backbone"])["seconds"].sum().rename("train_seconds")
    final = last.set_index(["task", "backbone"])
    table = final[["epoch", "loss", "relative_loss"]].assign(
        **{
            "pretext acc (%)": 100 * final["acc"],
            "chance (%)": 100 * final["chance"],
            "acc / chance": final["acc"] / final["chance"],
        }
    )
    table = table.join(seconds)
    order = {t: i for i, t in enumerate(PAPER_TASK_ORDER)}
    return table.sort_index(key=lambda s: s.map(order) if s.name == "task" else s)


def recipe_facts() -> dict[str, Any]:
    """The micro pre-training recipes the chapter's text names, read from the configs: RotNet's (that of the
    classification tasks, RotNet and PRP) and VCOP's (the shared one of the other tasks)."""
    facts: dict[str, Any] = {}
    for kind, task in (("classification", "rotnet"), ("shared", "vcop")):
        config = PretrainConfig.for_profile("micro", task=task, backbone=BACKBONES[-1])
        facts |= {
            f"{kind} optimizer": config.optimizer,
            f"{kind} lr": config.lr,
            f"{kind} batch": config.batch_size,
            f"{kind} warmup": config.warmup_epochs,
        }
    return facts


def curves_facts(logs: pd.DataFrame) -> dict[str, Any]:
    """Which runs lowered their pretext loss over pre-training (``pretext_final_table``) and which did not."""
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
    """Paper vs reproduced for this chapter's paper tables: ``{TABLE1: table1_vs_paper(...)}``.

    Computes (or loads from the stores) Table 1 at the study's protocol on ``KNOBS["target"]``, over the
    pre-training seeds ``KNOBS["table1_seeds"]``.
    """
    return {TABLE1: table1_vs_paper(table1_accuracy(study, KNOBS["target"], seeds=KNOBS["table1_seeds"]))}
