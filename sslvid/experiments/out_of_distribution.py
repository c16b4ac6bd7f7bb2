"""Chapter "Out of distribution": does the kind of pre-training data decide what transfers?

Benchmark paper (Anonymous, CVPR 2023 submission #3061) §4.4, Table 6, and §5.1 clip retrieval, Figure 4:
R(2+1)D-18 pre-trained on 30k videos of an appearance pool ("K400") or a motion pool ("SSv2"), evaluated on an
appearance and a motion target; a pair is *in distribution* when the pool is of the target's kind.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.claims import Claim, bootstrap_mean_difference
from sslvid.analysis.figures import hit_at_k_curves
from sslvid.analysis.tables import ordered_pivot
from sslvid.experiments.study import TARGETS, Study, chapter_claim, check_selection
from sslvid.pretext import TASKS
from sslvid.store.paper_tables import paper_table_as
from sslvid.store.results import compare_with_paper

PAPER_TABLE = "benchmark_t6_ood_r21d_30k"
"""The transcribed Table 6 (``sslvid.store.paper_tables``)."""
OOD_TASKS = ("vcop", "rotnet", "cvrl", "rspnet")
"""Table 6's tasks, in its column order."""
TARGET_KINDS = ("appearance", "motion")
"""The two downstream targets (UCF101 and Diving48 at paper scale)."""
PRETRAIN_DATA = ("K400", "SSv2")
"""The two pre-training pools of the ``ood`` grid."""
MATCHING_TARGET = {"K400": "appearance", "SSv2": "motion"}
"""The target kind each pre-training pool is of (benchmark §3.2: K400 appearance-heavy, SSv2 temporal)."""
POOL_OF = {kind: data for data, kind in MATCHING_TARGET.items()}
"""The pre-training pool in distribution for each target kind."""
PAPER_PRETRAIN = {"K400": "k400", "SSv2": "ssv2"}
"""Our pre-training data names -> Table 6's."""


def ood_points(study: Study, tasks: Sequence[str] = OOD_TASKS) -> list[dict]:
    """The ``ood`` grid's points (R(2+1)D-18, 30k, K400 and SSv2) of ``tasks`` (``check_selection``), in Table 6's
    task order."""
    tasks = check_selection(tasks, OOD_TASKS, "tasks")
    points = study.grid_points("ood")
    return [p for t in tasks for d in PRETRAIN_DATA for p in points if p["task"] == t and p["data"] == d]


def ood_accuracy(
    study: Study, tasks: Sequence[str] = OOD_TASKS, targets: Sequence[str] = TARGET_KINDS, protocol: str | None = None
) -> pd.DataFrame:
    """Top-1 of every (task, pre-training data, target) of Table 6, computed or loaded: one row per cell with
    ``task, data, target_kind, target, protocol, contrastive, in_distribution, top1`` (%), ``videos`` (tested)."""
    table = _marked(study.accuracy(ood_points(study, tasks), target=targets, protocol=protocol))
    return table[
        ["task", "data", "target_kind", "target", "protocol", "contrastive", "in_distribution", "top1", "videos"]
    ]


def scratch_accuracy(
    study: Study, targets: Sequence[str] = TARGET_KINDS, backbone: str = "r2plus1d_18", protocol: str | None = None
) -> pd.DataFrame:
    """Top-1 of the randomly initialised backbone per target: ``target_kind, target, protocol, top1, videos``."""
    table = study.accuracy([], target=targets, protocol=protocol, scratch_backbones=[backbone])
    return table[["target_kind", "target", "protocol", "top1", "videos"]]


def ood_retrieval(
    study: Study, tasks: Sequence[str] = OOD_TASKS, targets: Sequence[str] = TARGET_KINDS
) -> pd.DataFrame:
    """Clip retrieval hit@k (§5.1, Figure 4) of every Table 6 model per target, frozen features: one row per
    (task, data, target, k) with ``task, data, target_kind, target, contrastive, in_distribution, k, hit`` (%)."""
    table = _marked(study.retrieval(ood_points(study, tasks), targets))
    return table[["task", "data", "target_kind", "target", "contrastive", "in_distribution", "k", "hit"]]


def is_contrastive(task: str) -> bool:
    """Whether ``task`` contrasts positives against negatives (its registry class, benchmark §3.1)."""
    return bool(TASKS.get(task).contrastive)


def _marked(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``contrastive`` (of its task) and ``in_distribution`` (pool of the target's kind)."""
    in_distribution = table["data"].map(MATCHING_TARGET) == table["target_kind"]
    return table.assign(contrastive=table["task"].map(is_contrastive), in_distribution=in_distribution)


def table6(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 6's shape: rows (target kind, pre-training data), columns the tasks in Table 6's order; top-1."""
    order = {"target_kind": TARGET_KINDS, "data": PRETRAIN_DATA, "task": OOD_TASKS}
    return ordered_pivot(accuracy, ["target_kind", "data"], "task", "top1", order)


def paper_table6() -> pd.DataFrame:
    """The paper's Table 6 in the same shape as :func:`table6` (finetuned top-1 on UCF101 / Diving48)."""
    return table6(_paper_long())


def ood_comparison(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 6 beside ours, in the paper's names: ``target, pretrain, pretext, paper, reproduced, n, difference``
    (below paper scale a probe on digits against a finetuning: compare orderings, :func:`direction_table`)."""
    ours = pd.DataFrame(
        {
            "target": accuracy["target_kind"].map(lambda k: TARGETS[k]["paper"]),
            "pretrain": accuracy["data"].map(PAPER_PRETRAIN),
            "pretext": accuracy["task"],
            "value": accuracy["top1"],
        }
    )
    return compare_with_paper(PAPER_TABLE, ours)


def data_effect(table: pd.DataFrame, value: str = "top1") -> pd.DataFrame:
    """SSv2 minus K400 pre-training per (task, target kind) with both pools, from rows ``task, data, target_kind,
    value``: columns ``task, target_kind, K400, SSv2, ssv2_minus_k400``."""
    wide = table.pivot_table(index=["task", "target_kind"], columns="data", values=value).reset_index()
    wide = wide.dropna(subset=[d for d in PRETRAIN_DATA if d in wide.columns])
    if not set(PRETRAIN_DATA) <= set(wide.columns):
        return pd.DataFrame(columns=["task", "target_kind", *PRETRAIN_DATA, "ssv2_minus_k400"])
    wide["ssv2_minus_k400"] = wide["SSv2"] - wide["K400"]
    wide.columns.name = None
    rank = {name: i for i, name in enumerate((*TARGET_KINDS, *OOD_TASKS))}
    wide = wide.sort_values(["target_kind", "task"], key=lambda column: column.map(rank), ignore_index=True)
    return wide[["task", "target_kind", *PRETRAIN_DATA, "ssv2_minus_k400"]]


def direction_table(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Which pool won per (task, target), in the paper and here: ``task, target_kind, paper: SSv2 - K400,
    ours: SSv2 - K400, paper winner, our winner, agree`` (winner "tie" when equal)."""
    ours, paper = data_effect(accuracy), data_effect(_paper_long())
    merged = ours.merge(paper, on=["task", "target_kind"], suffixes=("", "_paper"))
    columns = {"ssv2_minus_k400_paper": "paper: SSv2 - K400", "ssv2_minus_k400": "ours: SSv2 - K400"}
    table = merged[["task", "target_kind", *columns]].rename(columns=columns)
    table["paper winner"] = table["paper: SSv2 - K400"].map(_winner)
    table["our winner"] = table["ours: SSv2 - K400"].map(_winner)
    table["agree"] = table["paper winner"] == table["our winner"]
    return table


def gap_table(accuracy: pd.DataFrame) -> pd.DataFrame:
    """In- minus out-of-distribution top-1 per (task, target kind): columns ``task, contrastive, target_kind,
    in-distribution data, in-distribution top1, out-of-distribution top1, gap``."""
    effect = data_effect(accuracy)
    k400 = effect["target_kind"].map(POOL_OF) == "K400"
    table = effect[["task"]].assign(contrastive=effect["task"].map(is_contrastive), target_kind=effect["target_kind"])
    table["in-distribution data"] = effect["target_kind"].map(POOL_OF)
    table["in-distribution top1"] = effect["K400"].where(k400, effect["SSv2"])
    table["out-of-distribution top1"] = effect["SSv2"].where(k400, effect["K400"])
    return table.assign(gap=table["in-distribution top1"] - table["out-of-distribution top1"])


def retrieval_at(retrieval: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Hit@k per model and target, Figure 4's bars: rows task, columns (target kind, data); ValueError for an
    unmeasured k."""
    _check_k(retrieval, k)
    return ordered_pivot(retrieval[retrieval["k"] == k], "task", ["target_kind", "data"], "hit", {"task": OOD_TASKS})


def _check_k(retrieval: pd.DataFrame, k: int) -> None:
    measured = sorted(set(retrieval["k"]))
    if k not in measured:
        raise ValueError(f"hit@{k} was not measured; measured k: {', '.join(map(str, measured))}")


def _paper_long() -> pd.DataFrame:
    """Table 6 as rows ``task, data, target_kind, top1``."""
    kinds = {TARGETS[k]["paper"]: k for k in TARGET_KINDS}
    data = {v: k for k, v in PAPER_PRETRAIN.items()}
    columns = {"pretext": "task", "pretrain": "data", "target": "target_kind", "top1": "top1"}
    return paper_table_as(PAPER_TABLE, columns, {"data": data, "target_kind": kinds})


def _winner(difference: float) -> str:
    return "SSv2" if difference > 0 else "K400" if difference < 0 else "tie"


KNOBS: dict[str, Any] = {"tasks": list(OOD_TASKS), "protocol": None, "scratch_baseline": True, "retrieval_k": 5}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def paper_comparisons(study: Study, tasks: Sequence[str] = tuple(KNOBS["tasks"])) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced per paper table of this chapter, from ``ood_accuracy`` (after the chapter: the stores)."""
    return {PAPER_TABLE: ood_comparison(ood_accuracy(study, tasks))}


def structure_figure(accuracy: pd.DataFrame) -> Figure:
    """One panel per task: x = target kind, a bar per pool (hatched when in distribution); the paper's Table 6
    in a first row, on its own y axis."""
    sources = [("paper\n(finetune)", _paper_long()), (f"reproduced\n({accuracy['protocol'].iloc[0]})", accuracy)]
    tasks = [t for t in OOD_TASKS if t in set(accuracy["task"])]
    fig, axes = plt.subplots(
        len(sources), len(tasks), figsize=(2.4 * len(tasks) + 1.2, 2.5 * len(sources)), squeeze=False, sharey="row"
    )
    colours = {"K400": "tab:blue", "SSv2": "tab:orange"}
    for row, (label, table) in enumerate(sources):
        for ax, task in zip(axes[row], tasks):
            top1 = table[table["task"] == task].set_index(["target_kind", "data"])["top1"]
            for (i, kind), (j, data) in itertools.product(enumerate(TARGET_KINDS), enumerate(PRETRAIN_DATA)):
                if (kind, data) in top1.index:
                    hatch = "//" if MATCHING_TARGET[data] == kind else None
                    x, height = i + (j - 0.5) * 0.38, float(top1[kind, data])
                    ax.bar(x, height, 0.38, color=colours[data], hatch=hatch, edgecolor="white")
            ax.set_xticks(range(len(TARGET_KINDS)), TARGET_KINDS, fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            ax.set_title(task if row == 0 else "", fontsize=9)
        axes[row, 0].set_ylabel(f"{label}\ntop-1 (%)", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    labels = [f"pre-trained on {d}" for d in colours]
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False, fontsize=8, bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def retrieval_curves(retrieval: pd.DataFrame) -> Figure:
    """Figure 4's analogue: one panel per target, hit@k against k; colour = task, dashed = SSv2."""
    curves = retrieval.assign(
        curve=retrieval["task"] + ", " + retrieval["data"],
        color=retrieval["task"].map({t: f"C{i}" for i, t in enumerate(OOD_TASKS)}),
        linestyle=retrieval["data"].map({"K400": "-", "SSv2": "--"}),
    )
    titles = {kind: f"{kind} target ({target})" for kind, target in zip(retrieval["target_kind"], retrieval["target"])}
    return hit_at_k_curves(curves, TARGET_KINDS, titles)


CHAPTER = "out_of_distribution"

_claim = partial(chapter_claim, CHAPTER, section="§4.4", table="Table 6")


def _cells(table: pd.DataFrame, value: str, better: Mapping[tuple[str, str], str]) -> list[tuple]:
    """(value of the ``better`` pool, its test videos, value of the other pool, its test videos) per (task, target
    kind) of ``better``, in its order, that has both pools."""
    videos = table["videos"] if "videos" in table else pd.Series(np.nan, index=table.index)
    by = table.assign(videos=videos).set_index(["task", "target_kind", "data"])
    cells = []
    for (task, kind), pool in better.items():
        a, b = (task, kind, pool), (task, kind, "K400" if pool == "SSv2" else "SSv2")
        if a in by.index and b in by.index:
            cells.append((by.loc[a, value], by.loc[a, "videos"], by.loc[b, value], by.loc[b, "videos"]))
    return cells


def _mean_difference(key: str, statement: str, quantity: str, cells: list[tuple], reason: str) -> Claim:
    """The claim measured as the mean difference of ``cells`` (bootstrap over test videos), or not for ``reason``."""
    return _claim(key, statement, quantity).measured(bootstrap_mean_difference(cells) if cells else None, reason)


def claims(table: pd.DataFrame, value: str = "top1", what: str = "top-1", key_suffix: str = "") -> list[Claim]:
    """The paper's §4.4 statements (benchmark2023, §4.4, Table 6; Figure 4 for retrieval): non-contrastive tasks
    transfer better from SSv2, contrastive ones from K400, and the best model per target was pre-trained on the
    pool of its kind. Margins in points of ``value``, mean over (task, target), bootstrap over ``videos``."""
    out = []
    for contrastive, better, worse in ((False, "SSv2", "K400"), (True, "K400", "SSv2")):
        kind = "contrastive" if contrastive else "non-contrastive"
        part = table[table["task"].map(is_contrastive) == contrastive]
        out.append(
            _mean_difference(
                f"{kind.replace('-', '_')}_from_{better.lower()}{key_suffix}",
                f"{kind.capitalize()} tasks learn more from {better} than from {worse} pre-training.",
                f"{better} minus {worse} {what}, mean over (task, target) (points)",
                _cells(part, value, dict.fromkeys(zip(part["task"], part["target_kind"]), better)),
                f"no {kind} task with both pools",
            )
        )
    for kind in TARGET_KINDS:
        expected = POOL_OF[kind]
        other = next(d for d in PRETRAIN_DATA if d != expected)
        part = table[table["target_kind"] == kind]
        best = [part[part["data"] == d].sort_values(value).tail(1) for d in (expected, other)]
        rows = [b.iloc[0] for b in best if not b.empty]
        cells = [(r[value], r.get("videos", np.nan)) for r in rows]
        out.append(
            _mean_difference(
                f"best_on_{kind}{key_suffix}",
                f"The best model on the {kind} target was pre-trained on {expected}.",
                f"best {expected} model minus best {other} model, {what} (points)",
                [(*cells[0], *cells[1])] if len(cells) == 2 else [],
                f"the {kind} target lacks a pool",
            )
        )
    return out


def context_claims(accuracy: pd.DataFrame, scratch: pd.DataFrame | None = None) -> list[Claim]:
    """Three more readings of Table 6 (benchmark2023, §4.4, §6 recommendation 4), top-1 margins with a bootstrap
    over test videos: the in-distribution pool wins, our better pool is the paper's, and (per ``scratch`` row)
    pre-training beats random initialisation."""
    paper = data_effect(_paper_long())
    paper_pool = {(r.task, r.target_kind): _winner(r.ssv2_minus_k400) for r in paper.itertuples() if r.ssv2_minus_k400}
    out = [
        _mean_difference(
            "in_distribution_helps",
            "Pre-training on the pool of the target's kind beats the other pool.",
            "in- minus out-of-distribution top-1, mean over (task, target) (points)",
            _cells(accuracy, "top1", {(t, k): POOL_OF[k] for t, k in zip(accuracy["task"], accuracy["target_kind"])}),
            "no cell with both pools",
        ),
        _mean_difference(
            "paper_direction",
            "The better pre-training pool per task and target is the paper's.",
            "our margin in the paper's direction, mean over (task, target) (points)",
            _cells(accuracy, "top1", paper_pool),
            "no cell with both pools",
        ),
    ]
    for floor in scratch.itertuples() if scratch is not None else []:
        models = accuracy[accuracy["target_kind"] == floor.target_kind]
        videos = models["videos"] if "videos" in models else pd.Series(np.nan, index=models.index)
        out.append(
            _mean_difference(
                f"pretraining_beats_scratch_{floor.target_kind}",
                "A pre-trained R(2+1)D-18 beats the randomly initialised one.",
                "pre-trained minus random initialisation, mean over models (points)",
                [(m, n, floor.top1, getattr(floor, "videos", np.nan)) for m, n in zip(models["top1"], videos)],
                "no pre-trained model",
            )
        )
    return out


def retrieval_claims(retrieval: pd.DataFrame, k: int = 5) -> list[Claim]:
    """The §4.4 statements read on clip retrieval hit@``k`` (Figure 4 reads top@5); ValueError for an unmeasured k."""
    _check_k(retrieval, k)
    return claims(retrieval[retrieval["k"] == k], value="hit", what=f"hit@{k}", key_suffix=f"_hit{k}")


def scale_facts(comparison: pd.DataFrame) -> dict[str, Any]:
    """How far our Table 6 is from the paper's (from :func:`ood_comparison`): ``cells`` with both a paper and a
    reproduced number and their ``mean difference`` (points; NaN without such a cell)."""
    both = comparison.dropna(subset=["paper", "reproduced"])
    return {"cells": len(both), "mean difference": float(both["difference"].mean())}
