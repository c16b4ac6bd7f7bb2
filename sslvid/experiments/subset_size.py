"""Chapter "Pre-training subset size and duration": benchmark paper §4.2, Tables 2-4 and Figure 2.

From the study's shared runs (grid ``subset_duration``): Table 2 (block 0), the six tasks on R(2+1)D-18 over K400
subsets of 10k/30k/50k videos; Table 3 and Figure 2 left (block 1), RSPNet per backbone over 10k-100k at several
epochs; Table 4, the six tasks on R(2+1)D-18, K400-50k, per checkpoint; Figure 2 right, CKA maps of RSPNet.

Epochs: the paper saves checkpoints at 50/100/150/200 of 200 epochs; checkpoint ``e`` of a run of ``E`` epochs
stands for the paper's epoch ``200 * e / E`` (micro: 1-4 of 4 -> 50-200, RotNet and PRP 2, 4, 6, 8 of 8; smoke:
1, 2 of 2 -> 100, 200).

Paper-named frames (``to_paper_frame``) have columns ``pretext``, ``backbone`` (``PAPER_BACKBONES``), ``subset``,
``epochs`` (the paper's epoch) and ``value`` (top-1 %).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from sslvid.analysis.cka import CKAResult, cka_map
from sslvid.analysis.claims import Claim, Estimate, bootstrap_combination, bootstrap_mean
from sslvid.analysis.figures import accuracy_curves, cka_heatmaps
from sslvid.analysis.tables import ordered_pivot
from sslvid.evaluate.common import open_eval_split, video_clips
from sslvid.evaluate.features import eval_clips
from sslvid.experiments.study import Study, chapter_claim, check_selection
from sslvid.scale.grids import SIX_TASKS, SUBSET_VIDEOS
from sslvid.seeding import rng_for
from sslvid.store.errors import NotCachedError
from sslvid.store.paper_tables import load_paper_table, to_paper_names
from sslvid.store.results import compare_with_paper

TABLE2 = "benchmark_t2_subset_size_r21d"
TABLE3 = "benchmark_t3_rspnet_subset_epochs"
TABLE4 = "benchmark_t4_epochs_r21d_50k"
PAPER_EPOCHS = 200
"""The paper's pre-training length; its checkpoints are 50, 100, 150, 200 (§4.2)."""
TABLE3_BACKBONES = ("shufflenet3d", "r2plus1d_18", "swin3d_t")
"""Backbones of grid block 1 (the paper tabulates the first two; Swin only in Figure 2)."""
MEDIUM = "r2plus1d_18"


# ----------------------------------------------------------------------------- epochs and points


def checkpoint_epochs(study: Study, point: Mapping[str, Any]) -> list[int | None]:
    """The saved checkpoints of a point's pre-training, the last one as None (the final weights), so that the
    final evaluation is the very one other chapters ask for (same config hash)."""
    config = study.pretrain_config(point)
    every = config.checkpoint_every or config.epochs
    return [*range(every, config.epochs, every), None]


def paper_epoch(epoch: int | None, total: int) -> int:
    """The paper's epoch that checkpoint ``epoch`` of ``total`` stands for (None: the final one)."""
    return round(PAPER_EPOCHS * (total if epoch is None else epoch) / total)


def select_checkpoints(study: Study, point: Mapping[str, Any], paper_epochs: Sequence[int] | None) -> list[int | None]:
    """The checkpoints of ``point`` whose paper epoch is in ``paper_epochs`` (None: all of them); ValueError, listing
    the valid ones, if none of ``paper_epochs`` is a checkpoint at this profile."""
    saved = checkpoint_epochs(study, point)
    if paper_epochs is None:
        return saved
    total = study.pretrain_config(point).epochs
    chosen = [e for e in saved if paper_epoch(e, total) in set(paper_epochs)]
    if not chosen:
        valid = ", ".join(str(paper_epoch(e, total)) for e in saved)
        raise ValueError(
            f"no checkpoint stands for paper epochs {list(paper_epochs)} at the {study.profile} profile; valid: {valid}"
        )
    return chosen


def epoch_scale(study: Study) -> dict[str, Any]:
    """How this profile's checkpoints map to the paper's epochs: ``epochs`` (RSPNet's pre-training epochs at this
    profile, a checkpoint every ``every``), ``paper epochs`` (the paper's 200), ``pairs`` (``"e → paper epoch"``
    for each checkpoint the chapter reads, checkpoint e standing for the paper's epoch paper·e/epochs) and
    ``longer`` (the tasks whose recipe runs another length, as ``"task E/every"``, or "none"; their checkpoints
    map the same way, paper·e/E)."""
    point = {"task": "rspnet", "backbone": MEDIUM}
    config = study.pretrain_config(point)
    total = config.epochs
    pairs = ", ".join(f"{e or total} → {paper_epoch(e, total)}" for e in checkpoint_epochs(study, point))
    return {
        "epochs": total,
        "every": config.checkpoint_every or total,
        "paper epochs": PAPER_EPOCHS,
        "pairs": pairs,
        "longer": study.own_lengths(SIX_TASKS, MEDIUM),
    }


def table2_points(study: Study, tasks: Sequence[str] = SIX_TASKS) -> list[dict[str, Any]]:
    """Grid block 0 (Table 2): ``tasks`` x subsets 10k/30k/50k on R(2+1)D-18, K400; ValueError for another task."""
    check_selection(tasks, SIX_TASKS, "task")
    return [p for p in study.grid_points("subset_duration", block=0) if p["task"] in tasks]


def table3_points(study: Study, backbones: Sequence[str] = TABLE3_BACKBONES[:2]) -> list[dict[str, Any]]:
    """Grid block 1 (Table 3, Figure 2): RSPNet on ``backbones`` x subsets 10k-100k, K400; ValueError for a
    backbone outside the block."""
    check_selection(backbones, TABLE3_BACKBONES, "backbone")
    return [p for p in study.grid_points("subset_duration", block=1) if p["backbone"] in backbones]


def table4_points(study: Study, tasks: Sequence[str] = SIX_TASKS) -> list[dict[str, Any]]:
    """The six tasks on R(2+1)D-18, K400-50k (Table 4; the 50k row of Table 2)."""
    return [p for p in table2_points(study, tasks) if p["subset"] == "50k"]


# ----------------------------------------------------------------------------- accuracy and paper layout


def accuracy_over_epochs(
    study: Study, points: Sequence[Mapping[str, Any]], paper_epochs: Sequence[int] | None = None
) -> pd.DataFrame:
    """Top-1 of each point at the checkpoints standing for ``paper_epochs`` (None: all), trained and evaluated
    if missing: ``study.accuracy`` columns, ``epoch`` the checkpoint (the final one as its number) and
    ``paper_epoch`` the paper's epoch it stands for."""
    frames = []
    for point in points:
        table = study.accuracy([point], target="appearance", epochs=select_checkpoints(study, point, paper_epochs))
        total = study.pretrain_config(point).epochs
        table["epoch"] = [total if pd.isna(e) else int(e) for e in table["epoch"]]
        table["paper_epoch"] = [paper_epoch(e, total) for e in table["epoch"]]
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def subset_accuracy(study: Study, tasks: Sequence[str] = SIX_TASKS) -> pd.DataFrame:
    """Table 2: final top-1 of the six tasks on R(2+1)D-18 per subset; ``study.accuracy`` columns."""
    return study.accuracy(table2_points(study, tasks), target="appearance")


def rspnet_accuracy(
    study: Study, backbones: Sequence[str] = TABLE3_BACKBONES[:2], paper_epochs: Sequence[int] | None = (100, 200)
) -> pd.DataFrame:
    """Table 3: RSPNet per backbone and subset at the checkpoints of ``paper_epochs`` (``accuracy_over_epochs``)."""
    return accuracy_over_epochs(study, table3_points(study, backbones), paper_epochs)


def epochs_accuracy(
    study: Study, tasks: Sequence[str] = SIX_TASKS, paper_epochs: Sequence[int] | None = None
) -> pd.DataFrame:
    """Table 4: the six tasks on R(2+1)D-18 K400-50k at each checkpoint (``accuracy_over_epochs``)."""
    return accuracy_over_epochs(study, table4_points(study, tasks), paper_epochs)


def to_paper_frame(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Our accuracy rows in the paper tables' names (the module's paper-named frame)."""
    frame = accuracy.rename(columns={"task": "pretext", "top1": "value", "paper_epoch": "epochs"})
    frame["backbone"] = to_paper_names(frame["backbone"])
    return frame


def paper_frame(name: str) -> pd.DataFrame:
    """Paper table ``name`` with its value column called ``value`` (like ``to_paper_frame``)."""
    return load_paper_table(name).rename(columns={"ucf101_top1": "value"})


def table2(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 2's layout: subsets (rows, 10k first) x tasks (columns, the paper's order), top-1 %."""
    return ordered_pivot(accuracy, "subset", "task", "top1", {"subset": list(SUBSET_VIDEOS), "task": SIX_TASKS})


def table3(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 3's layout: paper epochs (rows) x (subset, backbone) (columns), top-1 %."""
    order = {"subset": list(SUBSET_VIDEOS), "backbone": TABLE3_BACKBONES}
    return ordered_pivot(accuracy, "paper_epoch", ["subset", "backbone"], "top1", order).rename_axis("paper epochs")


def table4(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 4's layout: paper epochs (rows) x tasks (columns), top-1 %."""
    return ordered_pivot(accuracy, "paper_epoch", "task", "top1", {"task": SIX_TASKS}).rename_axis("paper epochs")


def compare_table(name: str, accuracy: pd.DataFrame, total_epochs: int | Mapping[str, int]) -> pd.DataFrame:
    """Paper table ``name`` (Table 2, 3 or 4) vs reproduced: its key columns, ``paper, reproduced, n, difference``;
    Tables 3 and 4 (keyed by the paper's ``epochs``) add ``our_epoch``, the checkpoint of a run of ``total_epochs``
    (one number, or per task for a table with a ``pretext`` column) that stands for it."""
    merged = compare_with_paper(name, to_paper_frame(accuracy))
    if "epochs" in merged:  # paper epoch x total / 200; NaN where no checkpoint stands for it
        if isinstance(total_epochs, Mapping):
            totals: Any = merged["pretext"].map(total_epochs)
            described = ", ".join(f"{t} {e}" for t, e in total_epochs.items())
        else:
            totals, described = total_epochs, str(total_epochs)
        ours = merged["epochs"].astype(int) * totals / PAPER_EPOCHS
        merged["our_epoch"] = ours.where(ours == ours.round()).astype("Int64")
        merged.attrs["scale"] = f"our_epoch of {described} stands for the paper's epochs of {PAPER_EPOCHS}"
    return merged


KNOBS: dict[str, Any] = {
    "table2_tasks": ("vcop", "rotnet", "prp", "cvrl", "tdl", "rspnet"),
    "table3_backbones": ("shufflenet3d", "r2plus1d_18"),
    "table3_epochs": (100, 200),
    "table4_epochs": (100, 200),
    "cka_backbone": "r2plus1d_18",
    "cka_subsets": ("10k", "100k"),
    "cka_clips": 256,
}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def paper_comparisons(
    study: Study,
    tasks: Sequence[str] = KNOBS["table2_tasks"],
    table3_backbones: Sequence[str] = KNOBS["table3_backbones"],
    table3_epochs: Sequence[int] | None = KNOBS["table3_epochs"],
    table4_epochs: Sequence[int] | None = KNOBS["table4_epochs"],
) -> dict[str, pd.DataFrame]:
    """The chapter's paper-vs-reproduced tables (``compare_table``) keyed by paper-table name, from the notebook's
    compute-or-load calls with its knobs. A read-only study (``Study.cached_only``) leaves out a table whose runs
    are not cached, and raises the first ``NotCachedError`` if none is."""
    total = {t: study.pretrain_config({"task": t, "backbone": MEDIUM}).epochs for t in SIX_TASKS}
    builders: dict[str, tuple[Callable[[], pd.DataFrame], int | Mapping[str, int]]] = {
        # each table's rows and the length of the runs behind them (Table 4: per task)
        TABLE2: (lambda: subset_accuracy(study, tasks), total),
        TABLE3: (lambda: rspnet_accuracy(study, table3_backbones, table3_epochs), total["rspnet"]),
        TABLE4: (lambda: epochs_accuracy(study, tasks, table4_epochs), total),
    }
    tables, missing = {}, []
    for name, (build, epochs) in builders.items():
        try:
            tables[name] = compare_table(name, build(), epochs)
        except NotCachedError as error:  # a read-only study (chapter 10) lacks this table's runs
            missing.append(error)
    if missing and not tables:
        raise missing[0]
    return tables


# ----------------------------------------------------------------------------- gains (ours and the paper's)


def gains(frame: pd.DataFrame, along: str, order: Sequence[Any], by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by`` in a paper-named frame, ``value`` from the first to the last of ``order`` present along
    column ``along``: columns ``by`` + ``from, to, first, last, gain`` (last - first) and ``monotone`` (the values
    never fall); groups with fewer than two of ``order`` are dropped."""
    rank = {v: i for i, v in enumerate(order)}
    rows = []
    for key, part in frame[frame[along].isin(rank)].groupby(list(by), sort=False):
        series = part.groupby(along)["value"].mean().sort_index(key=lambda index: index.map(rank.get))
        if len(series) > 1:
            first, last = series.iloc[0], series.iloc[-1]
            monotone = bool((series.diff().dropna() >= 0).all())
            keys = key if isinstance(key, tuple) else (key,)
            rows.append([*keys, series.index[0], series.index[-1], first, last, last - first, monotone])
    return pd.DataFrame(rows, columns=[*by, "from", "to", "first", "last", "gain", "monotone"])


def _side_by_side(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    pick = {"gain": "gain", "monotone": "never fell"}
    ours, theirs = (t[["pretext", *pick]].rename(columns=pick) for t in (ours, theirs))
    return ours.merge(theirs, on="pretext", how="left", suffixes=(" here", " in paper"))


def subset_gains(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 2 per task: the gain from the smallest to the largest subset (points) and whether accuracy never
    fell, here beside the paper: ``pretext, gain here, never fell here, gain in paper, never fell in paper``."""
    subsets = list(SUBSET_VIDEOS)
    ours = gains(to_paper_frame(accuracy), "subset", subsets, ["pretext"])
    return _side_by_side(ours, gains(paper_frame(TABLE2), "subset", subsets, ["pretext"]))


def architecture_gains(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Figure 2 left / Table 3 at the final epoch: per backbone, the gain (points) from 10k to 30k and from 30k to
    100k, ours beside the paper's at epoch 200 (Swin is not tabulated): ``backbone, step, gain here, gain in paper``."""
    ours = to_paper_frame(accuracy)
    ours = ours[ours["epochs"] == ours["epochs"].max()]
    theirs = paper_frame(TABLE3)
    theirs = theirs[theirs["epochs"] == PAPER_EPOCHS]
    parts = []
    for step in (("10k", "30k"), ("30k", "100k")):
        mine, paper = (gains(t, "subset", step, ["backbone"]).set_index("backbone")["gain"] for t in (ours, theirs))
        parts.append(
            pd.DataFrame({"step": "->".join(step), "gain here": mine, "gain in paper": paper.reindex(mine.index)})
        )
    return pd.concat(parts).rename_axis("backbone").reset_index()


def duration_gains(frame: pd.DataFrame, by: Sequence[str], after: int = 100) -> pd.DataFrame:
    """Gain from the paper epoch ``after`` to the last epoch, per group of ``by`` (``gains``)."""
    return gains(frame, "epochs", sorted(e for e in frame["epochs"].dropna().unique() if e >= after), list(by))


def epoch_gains(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 4: per task, the gain from the first to the last checkpoint, ours beside the paper's."""
    epochs = sorted(accuracy["paper_epoch"].unique())
    ours = gains(to_paper_frame(accuracy), "epochs", epochs, ["pretext"])
    if ours.empty:
        return ours
    theirs = paper_frame(TABLE4)
    span = sorted(e for e in theirs["epochs"].unique() if epochs[0] <= e <= epochs[-1])
    return _side_by_side(ours, gains(theirs, "epochs", span, ["pretext"]))


CHAPTER = "subset_size"
"""This chapter's name in the claims table."""


_claim = partial(chapter_claim, CHAPTER, section="§4.2")


def claims(
    acc2: pd.DataFrame | None = None,
    acc3: pd.DataFrame | None = None,
    acc4: pd.DataFrame | None = None,
    after: int = 100,
    outlier: str = "prp",
) -> list[Claim]:
    """The paper's statements on subset size and duration (benchmark2023, §4.2 and §6, Tables 2-4): averages over
    tasks or runs with a bootstrap over them, one backbone's saturation with a bootstrap over the test videos of
    its three evaluations (``videos`` of ``Study.accuracy``). ``acc2``, ``acc3``, ``acc4``: ``subset_accuracy``,
    ``rspnet_accuracy``, ``epochs_accuracy`` rows (None: not measured); ``after``: the paper epoch after which gains
    are "minimal" (§4.2); ``outlier``: Table 4's task that keeps gaining (§4.2: PRP)."""
    acc2, acc3, acc4 = (a if a is not None and len(a) else None for a in (acc2, acc3, acc4))
    saturation = []
    for backbone in [] if acc3 is None else acc3["backbone"].unique():
        final = acc3[(acc3["backbone"] == backbone) & (acc3["epoch"] == acc3["epoch"].max())]
        final = final.assign(videos=final.get("videos", np.nan))
        by = final.groupby("subset").agg(top1=("top1", "mean"), videos=("videos", "min"))
        terms = [(w, *by.loc[s]) for w, s in ((-1.0, "10k"), (2.0, "30k"), (-1.0, "100k")) if s in by.index]
        claim = _claim(
            f"saturates_{backbone}",
            f"{backbone} gains more from 10k to 30k videos than from 30k to 100k.",
            "gain 10k->30k minus gain 30k->100k (points)",
            section="§6 recommendation 1",
            table="Table 3",
        )
        estimate = bootstrap_combination(terms) if len(terms) == 3 else None
        saturation.append(claim.measured(estimate, "no 10k, 30k and 100k runs"))
    gain = [] if acc2 is None else subset_gains(acc2)["gain here"].dropna()
    late = [] if acc3 is None else duration_gains(to_paper_frame(acc3), ["backbone", "subset"], after)["gain"]
    table = pd.DataFrame() if acc4 is None else epoch_gains(acc4)
    rest = table[table["pretext"] != outlier]["gain here"].dropna() if len(table) else []

    def mean(values: Any) -> Estimate | None:
        return bootstrap_mean(values) if len(values) else None

    return [
        _claim(
            "more_data_helps",
            "As a rule accuracy grows with the pre-training subset.",
            "largest minus smallest subset, mean over tasks (points)",
            table="Table 2",
        ).measured(mean(gain), "no task with two subsets"),
        *saturation,
        _claim(
            "minimal_after_100",
            f"After {after} epochs the gains are minimal (below 1.5 points).",
            f"gain from paper epoch {after} to the last, mean over runs (points)",
            "<",
            1.5,
            table="Table 3",
        ).measured(mean(late), f"no run with two checkpoints from epoch {after}"),
        _claim(
            "epochs_small_gain",
            f"Longer pre-training gains little (below 2 points) for every task but {outlier}.",
            f"gain over the checkpoints, mean over the tasks but {outlier} (points)",
            "<",
            2.0,
            table="Table 4",
        ).measured(mean(rest), "fewer than two checkpoints"),
    ]


# ----------------------------------------------------------------------------- figures


def subset_figure(accuracy: pd.DataFrame) -> Figure:
    """Figure 2 left: final top-1 against subset size (thousands of videos at paper scale), one line per backbone."""
    final = accuracy[accuracy["epoch"] == accuracy["epoch"].max()].copy()
    x, title = "subset (paper, k videos)", "RSPNet: accuracy against pre-training subset size (final checkpoint)"
    final[x] = final["subset"].map(lambda s: SUBSET_VIDEOS[s] // 1000)
    return accuracy_curves(final, x=x, y="top1", group="backbone", title=title)


# ----------------------------------------------------------------------------- CKA


def cka_clips_tensor(study: Study, point: Mapping[str, Any], count: int) -> torch.Tensor:
    """``count`` (at least 4) model-ready clips ``(N, 3, T, H, W)`` from the appearance test split, one per video,
    videos drawn with the study's seed (the evaluation's pipeline: centre crop, normalisation)."""
    if count < 4:
        raise ValueError(f"CKA needs at least 4 clips, got cka_clips={count}")
    config = study.eval_config(point, "appearance")
    split = open_eval_split(config, "test")
    order = rng_for(study.seed, "cka-clips", config.dataset).permutation(len(split.index))[:count]
    return eval_clips(video_clips(config, split, order, 1, study.seed), config.crop_size)


def subset_cka(
    study: Study, backbone: str = MEDIUM, subsets: Sequence[str] = ("10k", "100k"), clips: int = 256
) -> dict[str, CKAResult]:
    """CKA maps of RSPNet on ``backbone`` pre-trained on two subsets of ``SUBSET_VIDEOS`` (Figure 2 right, §4.2):
    ``{"<small>", "<large>", "<small> vs <large>"}``, each network's layers against themselves, then the
    small-subset network (rows) against the large-subset one (columns). ValueError unless two subsets."""
    if len(subsets) != 2:
        raise ValueError(f"give two subsets to compare, got {list(subsets)}")
    check_selection(subsets, list(SUBSET_VIDEOS), "subset")
    points = [{"task": "rspnet", "backbone": backbone, "data": "K400", "subset": s} for s in subsets]
    small, large = (study.pretrain(p).backbone() for p in points)
    x = cka_clips_tensor(study, points[0], clips)
    cka = partial(cka_map, batch_size=max(4, min(len(x), 128)))
    return {subsets[0]: cka(small, x), subsets[1]: cka(large, x), " vs ".join(subsets): cka(small, x, large)}


def cka_figure(maps: Mapping[str, CKAResult], backbone: str = MEDIUM) -> Figure:
    """The maps of ``subset_cka`` side by side (one colour scale)."""
    title = f"RSPNet {backbone}: CKA between layers, by pre-training subset"
    return cka_heatmaps(list(maps.values()), list(maps), suptitle=title)


def cka_table(maps: Mapping[str, CKAResult]) -> pd.DataFrame:
    """One row per map: ``map``, ``layers``, ``clips``, mean CKA between different layers (self-maps; higher: more
    layers look alike, i.e. wider blocks, the paper's "more distinct block structure" as a number) or over all
    pairs (cross maps), and the mean of the diagonal (cross maps: same layer, two subsets)."""
    rows = []
    for name, result in maps.items():
        m = result.matrix
        off = ~np.eye(len(m), dtype=bool) if m.shape[0] == m.shape[1] else np.ones_like(m, dtype=bool)
        rows.append((name, m.shape[0], result.examples, float(m[off].mean()), float(np.diag(m).mean())))
    return pd.DataFrame(rows, columns=["map", "layers", "clips", "mean CKA, different layers", "mean CKA, same layer"])


def cka_facts(table: pd.DataFrame) -> dict[str, Any]:
    """The two self-maps' mean CKA between different layers (higher: wider blocks; the paper, §4.2, saw more
    distinct blocks with more data) and the cross map's layer for layer; ValueError without two self-maps."""
    cross = table["map"].str.contains(" vs ")
    selfs = table[~cross]
    if len(selfs) != 2:
        raise ValueError(f"need two self-maps, got {list(selfs['map'])}")
    (small, small_cka), (large, large_cka) = selfs[["map", "mean CKA, different layers"]].itertuples(index=False)
    same_layer = table.loc[cross, "mean CKA, same layer"]
    return {
        "small": small,
        "large": large,
        "small cka": float(small_cka),
        "large cka": float(large_cka),
        "cross cka": float(same_layer.iloc[0]) if len(same_layer) else float("nan"),
    }
