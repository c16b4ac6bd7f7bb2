"""Chapter "Lightweight networks": five image methods on five 2D networks, single frames.

Reproduces the lightweight study (Sonawane et al., 2021): SimCLR, MoCo v2, BYOL, Split-Brain and RotNet
(§3.3) pre-trained on five 2D networks (§3.2), applied frame by frame to single-frame "videos" (grid
``lightweight`` of ``sslvid.scale.grids``: ``frames=1``, ``data="STL10"``, the appearance pool below paper
scale), and evaluated with the paper's downstream optimiser on the study's appearance target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sslvid.analysis.claims import Claim, bootstrap_group_difference, extremes, rank_agreement, spearman
from sslvid.analysis.figures import accuracy_curves, saliency_figure
from sslvid.analysis.run_cost import LIGHTWEIGHT_STUDY, cost_table, energy_estimate
from sslvid.analysis.saliency import grad_cam, vanilla_saliency
from sslvid.backbones import VideoBackbone
from sslvid.evaluate.classify import trained_classifier
from sslvid.evaluate.common import open_eval_split, video_clips
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.features import eval_clips
from sslvid.evaluate.models import LinearProbe, set_classifier
from sslvid.evaluate.neighbours import neighbour_figure, search_neighbours
from sslvid.experiments.data_and_backbones import pick_one_per_class
from sslvid.experiments.study import Outcomes, Study, chapter_claim, check_selection, kept_outcomes, video_gap
from sslvid.profiles import get_profile
from sslvid.scale.grids import IMAGE_TASKS, LIGHT_2D
from sslvid.store.paper_tables import load_paper_table, paper_table_as
from sslvid.store.results import compare_with_paper

METHODS: tuple[str, ...] = IMAGE_TASKS
"""The study's techniques in the order of its Table 1: rotnet, moco_v2, splitbrain, simclr, byol."""
BACKBONES: tuple[str, ...] = LIGHT_2D
"""The study's networks in the order of its Table 1 (2D, applied frame by frame)."""
PAPER_NAMES: dict[str, dict[str, str]] = {
    "method": {"moco_v2": "mocov2"},
    "backbone": {b: b.removesuffix("_2d") for b in BACKBONES if b.endswith("_2d")},
}
"""Our task / backbone names -> the names in ``data/paper-tables/lightweight_t1_*.csv``."""
PAPER_SIZE = (3, 1, 224, 224)
"""(C, T, H, W) at which the study counts FLOPs: ImageNet-size single images (its ResNet-18 "1.8 GFLOPs", §3.2)."""
HEAVY = "resnet18_2d"
"""The study's point of comparison: the one network that is not lightweight (§4)."""
DOWNSTREAM_OPTIMISER: dict[str, Any] = {"optimizer": "adam", "lr": 1e-3}
"""The paper's downstream optimiser (§4: categorical cross-entropy with Adam, Kingma & Ba 2015). Its
learning rate is not printed; 1e-3 is Adam's default. Every evaluation of this chapter uses it."""


# --------------------------------------------------------------------------- points and names


def lightweight_points(
    study: Study, methods: Sequence[str] | None = None, backbones: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The grid points ``methods`` x ``backbones`` of grid "lightweight" (``methods`` None: all five; ``backbones``
    None: the profile's networks, :func:`chosen_backbones`); ValueError for an unknown."""
    methods = METHODS if methods is None else check_selection(methods, METHODS, "methods")
    backbones = chosen_backbones(study, backbones)
    points = {(p["task"], p["backbone"]): p for p in study.grid_points("lightweight")}
    return [points[(m, b)] for m in METHODS if m in methods for b in BACKBONES if b in backbones]


def chosen_backbones(study: Study, backbones: Sequence[str] | None = None) -> tuple[str, ...]:
    """The networks the chapter runs: ``backbones``, or for None the profile's (``Profile.chapter_axes``; micro:
    ResNet-18, ShuffleNetV2 and SqueezeNet), in Table 1's order; ValueError for an unknown network."""
    chosen = study.chapter_axis(CHAPTER, "backbone", backbones, BACKBONES)
    return tuple(b for b in BACKBONES if b in chosen)


LEFT_OUT_REASONS: dict[str, str] = {
    "micro": "in a micro build of all five, every lightweight network stayed near chance, and these two were the "
    "slowest to pre-train",
}
"""Why a profile's ``chapter_axes`` leave networks out of this chapter (the figures: the profile's note)."""


def left_out_facts(study: Study, backbones: Sequence[str]) -> dict[str, Any]:
    """What the chapter leaves out of Table 1's five networks: ``networks`` (names, or "none"), ``count``, ``run``
    (the number of networks run) and ``sentence``, which says so, and why where the profile chose it."""
    out = [b for b in BACKBONES if b not in backbones]
    sentence = "This run covers all five of the paper's networks."
    if out:
        sentence = (
            f"This run covers {len(BACKBONES) - len(out)} of the paper's five networks; left out: {', '.join(out)} "
            "(the parameter backbones runs them)."
        )
        reason = LEFT_OUT_REASONS.get(study.profile)
        if reason and tuple(backbones) == chosen_backbones(study):
            sentence += f" The {study.profile} profile leaves them out: {reason}."
    return {
        "networks": ", ".join(out) or "none",
        "count": len(out),
        "run": len(BACKBONES) - len(out),
        "sentence": sentence,
    }


def evaluation_config(study: Study, point: Mapping[str, Any]) -> EvalConfig:
    """The chapter's evaluation of ``point`` (final weights): the study's protocol and target, the paper's optimiser."""
    return study.eval_config(point, "appearance", **DOWNSTREAM_OPTIMISER)


def evaluation_facts(study: Study, point: Mapping[str, Any]) -> dict[str, Any]:
    """What the chapter evaluates instead of the paper's STL-10 classifier (the notebook says why): the
    ``dataset``, the ``protocol`` in words, the ``optimizer``, its ``lr`` and the ``epochs``, from the config."""
    config = evaluation_config(study, point)
    protocol = {"linear": "a linear probe on frozen features", "finetune": "finetuning end to end"}[config.protocol]
    return {
        "dataset": config.dataset,
        "protocol": protocol,
        "optimizer": config.optimizer,
        "lr": config.lr,
        "epochs": config.epochs,
    }


def paper_backbone(name: str) -> str:
    """Our network name in the paper tables' spelling."""
    return PAPER_NAMES["backbone"].get(name, name)


# --------------------------------------------------------------------------- accuracy


def pretrain_runs(study: Study, points: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Pre-train (or load) every point: columns ``task, backbone, run, epochs, wall_seconds`` (the run's own
    training time, from its provenance, so a cached run reports the time it took when trained)."""
    rows = []
    for point in points:
        result = study.pretrain(point)
        rows.append(
            {
                "task": point["task"],
                "backbone": point["backbone"],
                "run": result.run.key,
                "epochs": result.config.epochs,
                "wall_seconds": result.run.provenance().get("wall_seconds"),
            }
        )
    return pd.DataFrame(rows)


def accuracy_by_epoch(
    study: Study, points: Sequence[Mapping[str, Any]], epochs: Sequence[int | None] | None = None
) -> pd.DataFrame:
    """Appearance-target accuracy of every point at each of ``epochs`` (None: the final weights; default: every saved
    checkpoint, e.g. the micro runs' epochs 1-4 standing for the study's, every 5 epochs, §4), evaluated with the
    paper's Adam: one row per (point, checkpoint) of ``Study.accuracy`` (``top1`` in percent), the final weights
    carrying their epoch number and ``final`` True."""
    configs = {(p["task"], p["backbone"]): study.pretrain_config(p) for p in points}
    last = {key: config.epochs for key, config in configs.items()}
    if epochs is None:
        lengths = {(c.epochs, c.checkpoint_every or c.epochs) for c in configs.values()}
        if len(lengths) != 1:
            raise ValueError(f"the points train for different epochs or checkpoint spacings: {sorted(lengths)}")
        total, every = lengths.pop()
        epochs = (*range(every, total, every), None)
    table = study.accuracy(points, "appearance", epochs=tuple(epochs), **DOWNSTREAM_OPTIMISER)
    table["final"] = table["epoch"].isna()
    table["epoch"] = [
        int(last[(t, b)]) if pd.isna(e) else int(e) for t, b, e in zip(table["task"], table["backbone"], table["epoch"])
    ]
    return table


def curve_points(
    study: Study,
    methods: Sequence[str] | None = None,
    curve_backbones: Sequence[str] | None = ("shufflenetv2_2d",),
    backbones: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The points whose every checkpoint is evaluated (Fig. 1): ``methods`` x ``curve_backbones`` (None: every
    network the chapter runs, ``backbones`` or the profile's, :func:`chosen_backbones`; empty: none)."""
    if curve_backbones is not None and len(curve_backbones) == 0:
        return []
    return lightweight_points(
        study, methods, chosen_backbones(study, backbones) if curve_backbones is None else curve_backbones
    )


def final_accuracy(acc: pd.DataFrame) -> pd.DataFrame:
    """The rows of the final weights only."""
    return acc[acc["final"]].reset_index(drop=True)


def _chosen_rows(acc: pd.DataFrame, which: str) -> pd.DataFrame:
    """Per cell, the row of the checkpoint with the highest accuracy (``which`` "best", the paper's "max",
    Table 1) or of the final weights ("final"); ValueError for another ``which``."""
    if which not in ("best", "final"):
        raise ValueError(f"which must be 'best' or 'final', got {which!r}")
    if which == "final":
        return final_accuracy(acc)
    rows = acc.sort_values(["top1", "epoch"], ascending=[False, False]).groupby(["task", "backbone"], sort=False)
    return rows.head(1).reset_index(drop=True)


def _table1_grid(rows: pd.DataFrame) -> pd.DataFrame:
    """``top1`` of ``task, backbone`` rows as methods x networks in Table 1's order."""
    grid = rows.pivot(index="task", columns="backbone", values="top1")
    grid = grid.reindex(index=[m for m in METHODS if m in grid.index], columns=[b for b in BACKBONES if b in grid])
    grid.index.name, grid.columns.name = "method", "backbone"
    return grid


def accuracy_grid(acc: pd.DataFrame, which: str = "best") -> pd.DataFrame:
    """Table 1's shape, top-1 in percent of the best checkpoint (``which="best"``) or the final weights, of
    :func:`accuracy_by_epoch` rows."""
    return _table1_grid(_chosen_rows(acc, which))


def paper_accuracy() -> pd.DataFrame:
    """The paper's STL-10 validation accuracy (Table 1) with our names: columns ``task, backbone, top1``
    (percent; the CSV holds fractions), ``contrastive`` (the paper's "C.T." column: BYOL counts there)."""
    back = {"task" if c == "method" else c: {v: k for k, v in m.items()} for c, m in PAPER_NAMES.items()}
    columns = {"method": "task", "backbone": "backbone", "val_acc": "top1", "contrastive": "contrastive"}
    paper = paper_table_as("lightweight_t1_stl10", columns, back)
    return paper.assign(top1=paper["top1"] * 100.0, contrastive=paper["contrastive"].eq("yes"))


def paper_accuracy_grid() -> pd.DataFrame:
    """The paper's Table 1 accuracies (percent) as methods x networks, our names."""
    return _table1_grid(paper_accuracy())


def accuracy_comparison(acc: pd.DataFrame, which: str = "final") -> pd.DataFrame:
    """Table 1 (the maximum over the paper's checkpoints) beside ours (final weights, or ``which="best"`` over
    the checkpoints evaluated), one row per cell: ``paper_vs_reproduced`` columns ``method, backbone`` (paper's
    names), ``paper``, ``reproduced``, ``n``, ``difference`` (points); NaN for cells we did not run."""
    ours = _chosen_rows(acc, which).rename(columns={"task": "method"})
    return compare_with_paper("lightweight_t1_stl10", ours, value="top1", rename=PAPER_NAMES, scale=100.0)


CHAPTER = "lightweight"
"""This chapter's name in the claims table."""
_claim = partial(chapter_claim, CHAPTER, table="Table 1", paper="sonawane2021lightweight")
RANKING_FALLBACK = "per-video outcomes not kept for every cell, or no test-video counts"
"""Why the ranking's interval is over cells when outcomes were asked for."""


def claims(
    ours: pd.DataFrame,
    paper: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    outcomes: Outcomes | None = None,
) -> list[Claim]:
    """Sonawane et al. 2021 (Table 1, §4) checked on our grid (:func:`accuracy_grid`, percent), with uncertainty.

    ``contrastive_better`` (MoCo v2, SimCLR, BYOL beat the others: the mean gap in points) and ``table1_ranking``
    (Spearman's rho against ``paper``, default :func:`paper_accuracy_grid`) are bootstrapped over the test videos
    (Efron & Tibshirani 1993) when ``accuracy`` (:func:`accuracy_by_epoch` rows: ``top1, videos, config_hash``)
    stands behind every cell: paired where ``outcomes`` (``Study.outcomes``) finds every cell's per-video
    outcomes, and for the ranking only then; else over the cells (exact permutation p up to 8 for rho).
    """
    paper = (paper_accuracy_grid() if paper is None else paper).reindex(index=ours.index, columns=ours.columns)
    flags = paper_accuracy().drop_duplicates("task").set_index("task")["contrastive"]
    rows = ours.index.to_series().map(flags).fillna(False).astype(bool).to_numpy()
    yes, no = ours[rows].to_numpy().ravel(), ours[~rows].to_numpy().ravel()
    gap = None
    if np.isfinite(yes).any() and np.isfinite(no).any():
        cells = _cell_rows(ours.stack().dropna(), accuracy)
        if cells is not None:
            contrastive = cells["task"].map(flags).fillna(False).astype(bool)
            a, b = list(cells.index[contrastive]), list(cells.index[~contrastive])
            gap = video_gap(
                cells, lambda acc: np.mean([acc[i] for i in a], 0) - np.mean([acc[i] for i in b], 0), outcomes
            )
        gap = gap or bootstrap_group_difference(yes, no)
    pairs = pd.concat([ours.stack(), paper.stack()], axis=1).dropna()
    rho = None
    mine, theirs = pairs.iloc[:, 0], pairs.iloc[:, 1]
    if outcomes is not None and len(pairs) >= 3 and mine.nunique() > 1 and theirs.nunique() > 1:
        cells = _cell_rows(mine.sort_index(), accuracy)
        if cells is not None and all(kept_outcomes(outcomes, h) is not None for h in cells["config_hash"]):
            fixed = {i: float(theirs[(t, b)]) for i, t, b in zip(cells.index, cells["task"], cells["backbone"])}
            rho = video_gap(cells, rank_agreement(fixed), outcomes)
    if rho is None and len(pairs):
        rho = spearman(mine, theirs)
        if outcomes is not None and not np.isnan(rho.value):
            rho = replace(rho, method=f"{rho.method} ({RANKING_FALLBACK})")
    return [
        _claim(
            "contrastive_better",
            "Contrastive methods (MoCo v2, SimCLR, BYOL) learn better features than the others.",
            "contrastive minus other methods' mean accuracy (points)",
            section="§4",
        ).measured(gap, "the grid lacks contrastive or other methods"),
        _claim(
            "table1_ranking",
            "Our cells rank as the paper's Table 1 does.",
            "Spearman's rho, our cells against the paper's",
            section="§4",
            digits=2,
        ).measured(rho, f"{len(pairs)} cells in common: too few, or constant"),
    ]


def _cell_rows(cells: pd.Series, accuracy: pd.DataFrame | None) -> pd.DataFrame | None:
    """The row of ``accuracy`` behind each cell (top-1 by (task, backbone)), or None when a cell has none, or
    its row no test-video count."""
    if accuracy is None or not {"task", "backbone", "top1", "videos", "config_hash"} <= set(accuracy):
        return None
    rows = []
    for (task, backbone), top1 in cells.items():
        match = accuracy[(accuracy["task"] == task) & (accuracy["backbone"] == backbone)]
        match = match[np.isclose(match["top1"].astype(float), float(top1))]
        if match.empty or pd.isna(match["videos"].iloc[0]):
            return None
        rows.append(match.iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True) if rows else None


def accuracy_facts(ours: pd.DataFrame, paper: pd.DataFrame | None = None) -> dict[str, Any]:
    """Our grid beside the paper's (§5.1, §8) as facts: the best cell of each, the method best on most networks
    (ties included) and on how many networks it is the paper's best, for how many methods ResNet-18
    (``HEAVY``) is the best network here and there, and the best top-1 of ResNet-18 and of the lightweight
    networks (NaN where none was run).

    Args:
        ours: :func:`accuracy_grid` (percent).
        paper: the paper's grid (default :func:`paper_accuracy_grid`), restricted to our cells.
    """
    paper = (paper_accuracy_grid() if paper is None else paper).reindex(index=ours.index, columns=ours.columns)
    cell, paper_cell = ours.stack().idxmax(), paper.stack().idxmax()
    best, paper_best = ours.eq(ours.max(axis=0), axis=1), paper.eq(paper.max(axis=0), axis=1)  # per network
    wins = best.sum(axis=1)
    heavy = HEAVY in ours.columns
    light = ours.drop(columns=[HEAVY], errors="ignore")
    heavy_top1 = float(ours[HEAVY].max()) if heavy else float("nan")
    light_top1 = float(light.max().max()) if not light.empty else float("nan")
    return {
        "best cell": f"{cell[0]} on {cell[1]}",
        "best cell top1": float(ours.loc[cell]),
        "paper best cell": f"{paper_cell[0]} on {paper_cell[1]}",
        "paper best cell top1": float(paper.loc[paper_cell]),
        "top method": wins.idxmax(),
        "top method wins": int(wins.max()),
        "paper top method wins": int(paper_best.sum(axis=1)[wins.idxmax()]),
        "networks": len(ours.columns),
        "same best method": int((best & paper_best).any(axis=0).sum()),
        "methods": len(ours.index),
        "heavy best": int(ours.eq(ours.max(axis=1), axis=0)[HEAVY].sum()) if heavy else 0,
        "paper heavy best": int(paper.eq(paper.max(axis=1), axis=0)[HEAVY].sum()) if heavy else 0,
        "heavy top1": heavy_top1,
        "light top1": light_top1,
        "levels": _levels(heavy_top1, light_top1),
    }


def _levels(heavy_top1: float, light_top1: float) -> str:
    """A sentence without its full stop: the best top-1 of the lightweight networks' cells and of ResNet-18's,
    of those run (NaN: not run)."""
    parts = [f"the best lightweight cell reaches {light_top1:.1f}%"] if not np.isnan(light_top1) else []
    parts += [f"ResNet-18's best cell {heavy_top1:.1f}%"] if not np.isnan(heavy_top1) else []
    text = " and ".join(parts)
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- epochs


def epoch_figure(acc: pd.DataFrame) -> Figure:
    """Accuracy against pre-training epochs, one panel per network, one line per method (the paper's Fig. 2)."""
    figure = accuracy_curves(
        acc,
        x="epoch",
        y="top1",
        group="task",
        facet="backbone",
        ylabel="top-1 (%)",
        title="Appearance-target accuracy at each pre-training checkpoint",
    )
    for ax in figure.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def epoch_table(acc: pd.DataFrame) -> pd.DataFrame:
    """Per (task, backbone): top-1 at the first and last checkpoint, the ``gain`` (points) and ``best_epoch``."""
    rows = []
    for (task, backbone), group in acc.groupby(["task", "backbone"], sort=False):
        top1 = group.sort_values("epoch").set_index("epoch")["top1"]
        first, last = top1.iloc[0], top1.iloc[-1]
        rows.append(
            {
                "task": task,
                "backbone": backbone,
                "first": first,
                "last": last,
                "gain": last - first,
                "best_epoch": int(top1.idxmax()),
            }
        )
    return pd.DataFrame(rows)


def epoch_facts(epochs: pd.DataFrame | None, last_epoch: int) -> dict[str, Any]:
    """What more pre-training did, from :func:`epoch_table` (the paper: no harm from excessive pre-training,
    §5.1): runs that gained from the first to the last checkpoint, runs best at the last, and the methods that
    changed most and least favourably on average ("n/a" without curves)."""
    if epochs is None or epochs.empty:
        epochs = pd.DataFrame({"task": pd.Series(dtype=str), "gain": pd.Series(dtype=float), "best_epoch": 0})
    by_method = epochs.groupby("task", sort=False)["gain"].mean()
    return {
        "runs": len(epochs),
        "gained": int((epochs["gain"] > 0).sum()),
        "best at last": int((epochs["best_epoch"] == last_epoch).sum()),
        "last epoch": last_epoch,
        **extremes(by_method, "gain", {"most": "max", "least": "min"}),
    }


# --------------------------------------------------------------------------- cost


def cost_comparison(runs: pd.DataFrame, profile: str, cpu_watts: float = 15.0) -> pd.DataFrame:
    """Multiply-adds, measured time, energy and CO2 per network (:func:`pretrain_runs`) beside the paper's Table 1.

    The paper's "Avg. FLOPs" are read as multiply-adds of one 224x224 image at full width (its ResNet-18: 1.8 G),
    ours counted so (``PAPER_SIZE``). Energy follows its §7 (Lacoste et al. 2019: 420 g CO2e/kWh, PUE 1) at its
    P100's 250 W or ``cpu_watts`` for our measured time (the micro runs' mean over the methods run).

    Returns:
        one row per network of Table 1, run or not (a network not run has NaN seconds and CPU CO2):
        ``backbone``, ``params (M)``, ``GMACs @224`` (ours), ``paper GFLOPs``,
        ``MMACs, <profile>``, ``train seconds, <profile>``, ``g CO2e @P100``, ``g CO2e @CPU``, ``paper kg CO2e``.
    """
    names = list(BACKBONES)  # the paper's numbers of every network; time and our CO2 of those run (else NaN)
    prof = get_profile(profile)
    seconds = runs.groupby("backbone", sort=False)["wall_seconds"].mean().reindex(names)
    paper = cost_table(names, clip_shape=PAPER_SIZE, width=1.0, throughput=False, train_seconds=seconds.to_dict())
    local = cost_table(names, clip_shape=(3, 1, prof.crop_size, prof.crop_size), width=prof.width, throughput=False)
    printed = load_paper_table("lightweight_t1_cost").set_index("backbone").reindex([paper_backbone(n) for n in names])
    return pd.DataFrame(
        {
            "backbone": names,
            "params (M)": (paper["params"] / 1e6).to_numpy(),
            "GMACs @224": paper["GMACs"].to_numpy(),
            "paper GFLOPs": (printed["avg_flops"] / 1e9).to_numpy(),
            f"MMACs, {profile}": (local["GMACs"] * 1e3).to_numpy(),
            f"train seconds, {profile}": seconds.to_numpy(),
            "g CO2e @P100": (paper["kg_CO2e"] * 1000).to_numpy(),
            "g CO2e @CPU": [energy_estimate(s, cpu_watts)["kg_CO2e"] * 1000 for s in seconds],
            "paper kg CO2e": printed["co2_kg"].to_numpy(),
        }
    )


def cost_paper_comparison(costs: pd.DataFrame) -> pd.DataFrame:
    """The paper's cost rows beside ours: columns ``backbone, metric, paper, reproduced, n, difference``, metric
    ``avg_flops`` (ours: MACs at 224) or ``co2_kg`` (ours: the P100-power estimate of the micro run, so its
    difference measures the workload, not a reproduction error)."""
    ours = pd.DataFrame(
        {
            "backbone": costs["backbone"].map(paper_backbone),
            "avg_flops": costs["GMACs @224"] * 1e9,
            "co2_kg": costs["g CO2e @P100"] / 1000,
        }
    )
    return compare_with_paper("lightweight_t1_cost", ours, values=("avg_flops", "co2_kg"))


def cost_facts(costs: pd.DataFrame, profile: str) -> dict[str, Any]:
    """The cheapest network in multiply-adds and how many times cheaper than the most expensive, and the fastest
    and slowest to train at ``profile`` (from :func:`cost_comparison`)."""
    macs, seconds = (costs.set_index("backbone")[c] for c in ("GMACs @224", f"train seconds, {profile}"))
    return {
        "cheapest": macs.idxmin(),
        "macs ratio": float(macs.max() / macs.min()),
        **extremes(seconds, "seconds", {"fastest": "min", "slowest": "max"}),
    }


def cost_claims(costs: pd.DataFrame, profile: str) -> list[Claim]:
    """Does a network with fewer multiply-adds train faster (here) and emit less CO2 (the paper's Table 1)?
    Spearman's rho of each pair over the networks, with its uncertainty (exact permutation p up to 8)."""
    out = []
    for key, statement, (a, b) in (
        (
            "macs_predict_time",
            "Fewer multiply-adds mean less training time (here).",
            (f"MMACs, {profile}", f"train seconds, {profile}"),
        ),
        (
            "flops_predict_co2",
            "Fewer FLOPs mean less CO2 (the paper's own numbers).",
            ("paper GFLOPs", "paper kg CO2e"),
        ),
    ):
        pairs = costs[[a, b]].dropna()
        rho = spearman(pairs[a], pairs[b]) if len(pairs) else None
        claim = _claim(key, statement, f"Spearman's rho of {a} and {b}", section="§1", digits=2)
        out.append(claim.measured(rho, f"{len(pairs)} networks with both numbers: too few, or constant"))
    return out


def energy_facts(cpu_watts: float) -> dict[str, Any]:
    """The constants of the energy columns (``LIGHTWEIGHT_STUDY``, the paper's §7, and the assumed CPU power):
    ``intensity`` (g CO2e/kWh), ``pue``, ``device`` and ``device watts`` (the paper's), ``cpu watts``."""
    s = LIGHTWEIGHT_STUDY
    return {
        "intensity": s.carbon_intensity_g_per_kwh,
        "pue": s.pue,
        "device": s.device,
        "device watts": s.device_watts,
        "cpu watts": cpu_watts,
    }


# --------------------------------------------------------------------------- best models, saliency, neighbours


def best_models(acc: pd.DataFrame) -> pd.DataFrame:
    """Per method, the network whose final weights scored highest: columns ``task, backbone, top1``."""
    final = final_accuracy(acc).sort_values("top1", ascending=False, kind="stable")
    best = final.groupby("task", sort=False).head(1)
    order = {m: i for i, m in enumerate(METHODS)}
    return best.sort_values("task", key=lambda s: s.map(order))[["task", "backbone", "top1"]].reset_index(drop=True)


def fold_probe(backbone: VideoBackbone, head: LinearProbe) -> VideoBackbone:
    """The backbone with the linear probe folded into its classifier, ``fc(x) = W (x - mean) / std + b``, so that
    saliency explains a class score of the network (``forward``)."""
    weight = head.fc.weight.detach() / head.std
    bias = head.fc.bias.detach() - weight @ head.mean
    set_classifier(backbone, len(bias))
    fc = cast(torch.nn.Linear, backbone.fc)  # set_classifier's head of len(bias) classes
    with torch.no_grad():
        fc.weight.copy_(weight)
        fc.bias.copy_(bias)
    return backbone.eval()


@dataclass
class SaliencyResult:
    """Saliency of one model on some test frames: the figure and the predictions shown."""

    figure: Figure
    table: pd.DataFrame


def saliency_for(study: Study, task: str, backbone: str, frames: int = 4, seed: int = 0) -> SaliencyResult:
    """Saliency maps (§4, §5.2, Fig. 3) of ``task`` on ``backbone``, its probe folded in, on ``frames`` seeded test
    frames of distinct classes (rows: frame, vanilla gradient, Grad-CAM; titles: true -> predicted class), and a
    table ``task, backbone, video, true, predicted``."""
    point = lightweight_points(study, [task], [backbone])[0]
    config = evaluation_config(study, point)
    study.evaluate(point, **DOWNSTREAM_OPTIMISER)
    probed = trained_classifier(config, study.store, study.features)
    if probed.head is None:
        raise ValueError(f"evaluation {config.config_hash()} has no linear probe (protocol {config.protocol!r})")
    model = fold_probe(probed.backbone, probed.head)  # Split-Brain's two halves are rebuilt by its task builder
    split = open_eval_split(config, "test")
    videos = pick_one_per_class(split.index, frames, seed)
    clips = eval_clips(video_clips(config, split, videos), config.crop_size)
    with torch.no_grad():
        predicted = [split.index.classes[p] for p in model(clips).argmax(dim=1).tolist()]
    gradient = vanilla_saliency(model, clips)
    try:
        cam = grad_cam(model, clips)
    except ValueError:  # Split-Brain: two trunks (L and ab), no single last block
        cam = None
    figure = saliency_figure(
        clips[:, :, 0].permute(1, 0, 2, 3),  # (3, N, H, W): the N single frames as one strip
        gradient[:, 0],
        None if cam is None else cam[:, 0],
        max_frames=len(videos),
        title=f"{task} on {backbone}" + ("" if cam is not None else " (no Grad-CAM: two trunks)"),
    )
    truth = [split.index.classes[split.index.records[v].label] for v in videos]
    for ax, true, pred in zip(figure.axes, truth, predicted):
        ax.set_title(f"{true} -> {pred}", fontsize=7, color="tab:green" if pred == true else "tab:red")
    table = pd.DataFrame({"task": task, "backbone": backbone, "video": videos, "true": truth, "predicted": predicted})
    return SaliencyResult(figure, table)


def neighbours(study: Study, best: pd.DataFrame, k: int = 5, seed: int = 0) -> tuple[pd.DataFrame, list[Figure]]:
    """Euclidean nearest neighbours (§4, Fig. 4) in each best model's train and test features (from the feature
    cache its probe filled): a table ``task, backbone, linear top1, <k>-NN top1, neighbour purity, chance``
    (percent; chance = 100 / classes) and one gallery per model, all on the same seeded test query."""
    rows, figures = [], []
    for task, backbone, top1 in best[["task", "backbone", "top1"]].itertuples(index=False):
        point = lightweight_points(study, [task], [backbone])[0]
        study.evaluate(point, **DOWNSTREAM_OPTIMISER)
        search = search_neighbours(evaluation_config(study, point), study.store, study.features, k=k)
        rows.append(
            {
                "task": task,
                "backbone": backbone,
                "linear top1": top1,
                f"{k}-NN top1": search.knn_top1(),
                "neighbour purity": search.purity(),
                "chance": 100.0 / len(search.test.index.classes),
            }
        )
        query = int(np.random.default_rng(seed).integers(len(search.test_features)))
        figures.append(neighbour_figure(search, query, f"{task} on {backbone}: {k} nearest training frames"))
    return pd.DataFrame(rows), figures


def knn_facts(knn: pd.DataFrame) -> dict[str, Any]:
    """Which representation groups classes best by Euclidean distance (:func:`neighbours`): the highest and
    lowest neighbour purity, chance, and for how many models the neighbours' vote beat the linear probe."""
    knn_col = next(c for c in knn.columns if c.endswith("-NN top1"))
    best, worst = knn.loc[knn["neighbour purity"].idxmax()], knn.loc[knn["neighbour purity"].idxmin()]
    return {
        "purest": f"{best['task']} ({best['backbone']})",
        "purest purity": float(best["neighbour purity"]),
        "least pure": f"{worst['task']} ({worst['backbone']})",
        "least purity": float(worst["neighbour purity"]),
        "chance": float(best["chance"]),
        "vote beats probe": int((knn[knn_col] > knn["linear top1"]).sum()),
        "models": len(knn),
    }


# --------------------------------------------------------------------------- the discussion chapter


KNOBS: dict[str, Any] = {
    "methods": None,
    "backbones": None,
    "curve_backbones": ("shufflenetv2_2d",),
    "saliency_frames": 4,
    "knn_k": 5,
    "cpu_watts": 15.0,
}
"""The notebook's knobs and their defaults (its parameters cell, less the study's own: profile, data_root,
seed, device, cache_dir); ``paper_comparisons`` reads the same. ``tests/test_knobs.py`` checks the notebook."""


def paper_comparisons(
    study: Study,
    methods: Sequence[str] | None = KNOBS["methods"],
    backbones: Sequence[str] | None = KNOBS["backbones"],
    cpu_watts: float = KNOBS["cpu_watts"],
) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for the chapter's tables (computed or loaded from the stores):
    ``{"lightweight_t1_stl10": accuracy_comparison, "lightweight_t1_cost": cost_paper_comparison}``."""
    points = lightweight_points(study, methods, backbones)
    runs = pretrain_runs(study, points)
    acc = accuracy_by_epoch(study, points, epochs=(None,))
    return {
        "lightweight_t1_stl10": accuracy_comparison(acc),
        "lightweight_t1_cost": cost_paper_comparison(cost_comparison(runs, study.profile, cpu_watts)),
    }
