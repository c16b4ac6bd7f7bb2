"""Chapter "Preliminaries": which pretext task, which protocol, how many frames (benchmark §4.1, Table 1, Figure 1).

Benchmark paper (Anonymous, CVPR 2023 submission #3061) §3 sets up six pretext tasks (RotNet, VCOP, PRP:
non-contrastive; CVRL, TDL, RSPNet: contrastive) on a small and a medium network (ShuffleNet
V1 2.0x and R(2+1)D-18), and §4.1 runs the preliminary experiments the rest of the study
rests on. This module computes each of them through the shared :class:`~sslvid.experiments.
study.Study` (runs trained once, reused by later chapters) and words the results from the
numbers:

1. Table 1: the six tasks x two backbones pre-trained on K400-50k (grid "preliminaries",
   block 0), evaluated with the study's protocol on the appearance target, beside
   random-init ("scratch") baselines, and a paper-vs-reproduced table.
2. Linear probe against finetuning (§4.1 reports a drop of 25% for ShuffleNet and 40% for
   R21D, averaged over VCOP, RotNet and PRP).
3. Clip length: the profile's frames against twice as many (§4.1: 16 vs 32 at paper scale).
4. Figure 1: CKA maps between a pre-trained network, its linear-probed version (same
   backbone: the probe leaves it unchanged) and its finetuned version.
5. The pretext tasks' training curves, from the runs' logs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from sslvid.analysis.cka import CKAResult, cka_map
from sslvid.analysis.figures import accuracy_curves, cka_heatmaps
from sslvid.backbones import VideoBackbone
from sslvid.data.dataset import VideoClipDataset, collate_clips
from sslvid.evaluate.classify import trained_classifier
from sslvid.evaluate.common import eval_sampler, open_eval_split
from sslvid.experiments.study import Study, agreement_level, check_selection
from sslvid.scale.grids import SIX_TASKS
from sslvid.seeding import rng_for
from sslvid.store.paper_tables import PAPER_BACKBONES, load_paper_table
from sslvid.store.results import paper_vs_reproduced

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


def table1_accuracy(study: Study, target: str = "appearance", protocol: str | None = None) -> pd.DataFrame:
    """Table 1 as tidy rows: every point's accuracy and a scratch row per backbone (benchmark Table 1).

    Pre-trains and evaluates what the stores lack.

    Returns:
        one row per (task, backbone), tasks ``SIX_TASKS`` + "scratch"; columns of
        ``Study.accuracy`` (task, backbone, data, subset, epoch, target, protocol, config_hash, top1).
    """
    return study.accuracy(table1_points(study), target, protocol, scratch_backbones=BACKBONES)


def table1_pivot(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Table 1's shape: backbones as rows (paper names), tasks in the paper's order then scratch as columns.

    Args:
        accuracy: ``table1_accuracy`` rows (columns task, backbone, top1).
    """
    table = accuracy.pivot_table(index="backbone", columns="task", values="top1", aggfunc="mean")
    columns = [t for t in (*PAPER_TASK_ORDER, SCRATCH) if t in table.columns]
    rows = [b for b in BACKBONES if b in table.index]
    table = table.loc[rows, columns]
    table.index = [PAPER_BACKBONES.get(b, b) for b in table.index]
    table.index.name, table.columns.name = "backbone", "pretext"
    return table


def table1_vs_paper(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 (finetuned on UCF101) beside ours: one row per (backbone, pretext).

    Returns:
        ``paper_vs_reproduced`` columns backbone, pretext, paper, reproduced, n, difference
        (scratch rows are left out: the paper has none).
    """
    ours = accuracy[accuracy["task"] != SCRATCH].rename(columns={"task": "pretext"})
    return paper_vs_reproduced(load_paper_table(TABLE1), ours, on=["backbone", "pretext"], paper_value="ucf101_top1",
                               value="top1", rename={"backbone": PAPER_BACKBONES})


def rank_agreement(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per backbone, Spearman rank correlation of the tasks' paper and reproduced accuracies.

    Args:
        comparison: ``table1_vs_paper`` rows.

    Returns:
        columns backbone, tasks (compared), spearman (NaN with fewer than 3 tasks).
    """
    rows = []
    for backbone, part in comparison.dropna(subset=["paper", "reproduced"]).groupby("backbone", sort=False):
        rho = part["paper"].rank().corr(part["reproduced"].rank()) if len(part) >= 3 else float("nan")
        rows.append({"backbone": backbone, "tasks": len(part), "spearman": rho})
    return pd.DataFrame(rows, columns=["backbone", "tasks", "spearman"])


def table1_summary(accuracy: pd.DataFrame) -> str:
    """What Table 1 says here, in the terms of §4.1: best tasks, scratch baselines, which backbone wins.

    Args:
        accuracy: ``table1_accuracy`` rows (columns task, backbone, top1, protocol, target).
    """
    top1 = accuracy.pivot_table(index="task", columns="backbone", values="top1", aggfunc="mean")
    protocol, target = accuracy["protocol"].iloc[0], accuracy["target"].iloc[0]
    parts = [f"With the {protocol} protocol on {target}:"]
    for backbone in [b for b in BACKBONES if b in top1.columns]:
        parts.append(_backbone_sentence(top1[backbone].dropna(), backbone))
    if all(b in top1.columns for b in BACKBONES):
        parts.append(_backbone_duel(top1.drop(index=SCRATCH, errors="ignore")))
    return " ".join(parts)


def _backbone_sentence(scores: pd.Series, backbone: str) -> str:
    """Best non-contrastive and contrastive task of one backbone, and how many tasks beat its scratch."""
    tasks = scores.drop(index=SCRATCH, errors="ignore")
    best = {name: tasks.reindex(group).dropna() for name, group in
            (("non-contrastive", NON_CONTRASTIVE), ("contrastive", CONTRASTIVE))}
    said = [f"the best {kind} task is {s.idxmax()} ({s.max():.1f}%)" for kind, s in best.items() if len(s)]
    text = f"On {backbone}, " + " and ".join(said)
    if SCRATCH in scores:
        base = scores[SCRATCH]
        above = tasks[tasks > base]
        text += (f"; {len(above)} of {len(tasks)} tasks beat random initialisation ({base:.1f}%)"
                 + (f", {', '.join(sorted(set(tasks.index) - set(above.index)))} did not" if len(above) < len(tasks)
                    else ""))
    return text + "."


def _backbone_duel(top1: pd.DataFrame) -> str:
    """For how many tasks the medium network beat the small one (the paper: all but CVRL)."""
    small, medium = BACKBONES
    both = top1[[small, medium]].dropna()
    wins = both.index[both[medium] > both[small]].tolist()
    losses = sorted(set(both.index) - set(wins))
    verdict = f"{medium} beat {small} on {len(wins)} of {len(both)} tasks"
    if losses:
        verdict += f" (not on {', '.join(losses)})"
    return verdict + "; the paper's R21D beat ShuffleNet on every task but CVRL."


def comparison_summary(comparison: pd.DataFrame, protocol: str, target: str = "digits-appearance") -> str:
    """How our Table 1 relates to the paper's: rank agreement per backbone, and whether the levels compare.

    Args:
        comparison: ``table1_vs_paper`` rows.
        protocol: our protocol ("linear" or "finetune").
        target: our downstream dataset (the levels compare only when finetuned on "ucf101").
    """
    ranks = rank_agreement(comparison)
    said = [f"For {r.backbone} the order of the tasks {_rank_words(r.spearman)} (Spearman {r.spearman:.2f} "
            f"over {r.tasks} tasks)"
            for r in ranks.itertuples() if not np.isnan(r.spearman)]
    same = protocol == "finetune" and target == "ucf101"
    caveat = ("Both sides are finetuned UCF101 accuracies, so the levels compare too." if same else
              f"The paper finetunes on UCF101, we use the {protocol} protocol on {target}: the levels do not "
              "compare, only the order of the tasks does.")
    return caveat + (" " + "; ".join(said) + "." if said else "")


def _rank_words(rho: float) -> str:
    """A rank correlation in words (levels of ``study.agreement_level``)."""
    return {"undefined": "cannot be compared with the paper's", "strong": "largely agrees with the paper's",
            "partial": "partly agrees with the paper's", "none": "is unrelated to the paper's",
            "opposite": "runs against the paper's"}[agreement_level(rho)]


# ----------------------------------------------------------------------------- (2) linear vs finetune


def protocol_comparison(study: Study, backbones: Sequence[str] = ("shufflenet3d",),
                        tasks: Sequence[str] = SIX_TASKS, target: str = "appearance") -> pd.DataFrame:
    """Linear probe against finetuning for Table 1 models of ``backbones`` (benchmark §4.1).

    Args:
        study: the shared study.
        backbones: networks to evaluate both ways (each finetuning costs ~5 linear probes).
        tasks: pretext tasks (scratch is always added).
        target: "appearance" or "motion".

    Returns:
        one row per (backbone, task), tasks + "scratch"; columns backbone, task, linear,
        finetune (top-1 %), drop (finetune - linear, points), relative_drop_pct (100 drop / finetune).

    Raises:
        ValueError: for a backbone or task outside Table 1.
    """
    check_selection(backbones, BACKBONES, "backbone", allow_empty=True)
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    points = [p for p in table1_points(study) if p["backbone"] in backbones and p["task"] in tasks]
    frames = [study.accuracy(points, target, protocol, scratch_backbones=tuple(backbones)).assign(protocol=protocol)
              for protocol in ("linear", "finetune")]
    return protocol_drop(pd.concat(frames, ignore_index=True))


def protocol_drop(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Tidy accuracies of both protocols -> one row per (backbone, task) with the drop.

    Args:
        accuracy: rows with columns backbone, task, protocol ("linear" / "finetune"), top1.
    """
    wide = accuracy.pivot_table(index=["backbone", "task"], columns="protocol", values="top1", aggfunc="mean")
    wide = wide.reindex(columns=["linear", "finetune"]).reset_index()
    wide.columns.name = None
    wide["drop"] = wide["finetune"] - wide["linear"]
    wide["relative_drop_pct"] = 100 * wide["drop"] / wide["finetune"]
    order = {t: i for i, t in enumerate((*PAPER_TASK_ORDER, SCRATCH))}
    return wide.sort_values(["backbone", "task"], key=lambda s: s.map(order) if s.name == "task" else s,
                            ignore_index=True)


def protocol_summary(drops: pd.DataFrame) -> str:
    """The drop from finetuning to linear probing per backbone, against §4.1's 25% / 40%.

    Args:
        drops: ``protocol_drop`` rows.
    """
    parts = []
    for backbone, part in drops.groupby("backbone", sort=False):
        tasks = part[part["task"] != SCRATCH]
        lower = tasks[tasks["drop"] > 0]["task"].tolist()
        three = tasks[tasks["task"].isin(NON_CONTRASTIVE)]
        text = (f"On {backbone} the linear probe scored below finetuning for {len(lower)} of {len(tasks)} "
                f"pre-trained models")
        if len(three):
            mean_points, mean_rel = three["drop"].mean(), three["relative_drop_pct"].mean()
            direction = "drop" if mean_points > 0 else "gain"
            text += (f"; over {', '.join(three['task'])} the average {direction} is {abs(mean_points):.1f} points "
                     f"({abs(mean_rel):.0f}% of the finetuned accuracy)")
            if backbone in PAPER_LINEAR_DROP:
                text += f", where the paper reports a drop of {PAPER_LINEAR_DROP[backbone]:.0f}%"
        scratch = part[part["task"] == SCRATCH]
        if len(scratch):
            s = scratch.iloc[0]
            text += (f". From random initialisation finetuning reached {s['finetune']:.1f}% and a probe "
                     f"of the random features {s['linear']:.1f}%")
        parts.append(text + ".")
    return " ".join(parts)


# ----------------------------------------------------------------------------- (3) clip length


def doubled_frames(study: Study, point: Mapping[str, Any]) -> tuple[int, int]:
    """The profile's clip length for ``point`` and twice it (8 and 16 at micro; the paper's 16 and 32)."""
    base = study.pretrain_config(point).frames
    return base, 2 * base


def frames_comparison(study: Study, tasks: Sequence[str] = ("rotnet",), backbone: str = "shufflenet3d",
                      target: str = "appearance", protocol: str | None = None) -> pd.DataFrame:
    """The same Table 1 point pre-trained and evaluated with the profile's frames and with twice as many (§4.1).

    Returns:
        one row per task; columns task, backbone, frames, frames_doubled, top1, top1_doubled, gain (points).

    Raises:
        ValueError: for a task or backbone outside Table 1.
    """
    check_selection(tasks, SIX_TASKS, "task", allow_empty=True)
    rows = []
    for task in tasks:
        base_point = table1_point(study, task, backbone)
        base, doubled = doubled_frames(study, base_point)
        short = study.accuracy([base_point], target, protocol)["top1"].iloc[0]
        long = study.accuracy([{**base_point, "frames": doubled}], target, protocol)["top1"].iloc[0]
        rows.append({"task": task, "backbone": backbone, "frames": base, "frames_doubled": doubled,
                     "top1": short, "top1_doubled": long, "gain": long - short})
    return pd.DataFrame(rows)


def frames_summary(table: pd.DataFrame, profile: str) -> str:
    """Whether doubling the clip length helped here, against §4.1 ("32 frames mostly provides better performance").

    Args:
        table: ``frames_comparison`` rows.
        profile: the study's profile (names the base clip length).
    """
    helped = table[table["gain"] > 0]
    details = ", ".join(f"{r.task} on {r.backbone} {r.top1:.1f}% -> {r.top1_doubled:.1f}% ({r.gain:+.1f} points)"
                        for r in table.itertuples())
    base, doubled = int(table["frames"].iloc[0]), int(table["frames_doubled"].iloc[0])
    verdict = ("helped in every case" if len(helped) == len(table) else "helped in no case" if helped.empty
               else f"helped in {len(helped)} of {len(table)} cases")
    return (f"The {profile} profile's clips have {base} frames; doubling them to {doubled} (as the paper's 16 -> 32) "
            f"{verdict}: {details}. The paper found that 32 frames mostly perform better, and kept 16 for cost.")


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
        rows.append({"a": a, "b": b, "tensors": len(shared),
                     "max_abs_difference": max((float(d.abs().max()) for d in diff), default=float("nan")),
                     "relative_change": norm_d / norm_b if norm_b else float("nan")})
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
    per_video = config.test_clips
    dataset = VideoClipDataset(split.index, eval_sampler(config, per_video), source=split.source, seed=study.seed)
    order = rng_for(study.seed, "cka-clips", config.dataset).permutation(len(dataset))
    picks = sorted(int(i) for i in order[: -(-clips // per_video)])
    batch = collate_clips([dataset[i] for i in picks])
    frames = batch["clips"]
    return frames.reshape(-1, *frames.shape[-4:])[:clips]


def cka_maps(models: Mapping[str, VideoBackbone], clips: torch.Tensor, crop_size: int,
             batch_size: int = 64) -> dict[tuple[str, str], CKAResult]:
    """Figure 1's three minibatch CKA maps (``PAIRS``) over every block of the networks.

    Args:
        models: ``protocol_backbones`` output.
        clips: uint8 ``(N, T, H, W, 3)`` (``cka_clips``).
        crop_size: the networks' input side (frames are centre-cropped to it).
        batch_size: CKA minibatch size (>= 4).

    Returns:
        (rows, columns) -> ``CKAResult``, in the order of ``PAIRS``.
    """
    return {(a, b): cka_map(models[a], clips, models[b], batch_size=batch_size, crop_size=crop_size)
            for a, b in PAIRS}


def cka_figure(maps: Mapping[tuple[str, str], CKAResult], point: Mapping[str, Any]) -> Figure:
    """The three maps side by side, as the benchmark's Figure 1 (rows: first network; columns: second)."""
    titles = [f"{a} vs {b}" for a, b in maps]
    return cka_heatmaps(list(maps.values()), titles,
                        suptitle=f"CKA maps of {point['task']} on {point['backbone']} "
                                 f"({point.get('data', 'K400')}-{point.get('subset', '50k')})")


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


def cka_summary(diagonal: pd.DataFrame, change: pd.DataFrame, threshold: float = 0.9) -> str:
    """What Figure 1 shows here: the probe's identity check, and which blocks finetuning changed.

    Args:
        diagonal: ``cka_diagonal`` rows.
        change: ``weight_change`` rows.
        threshold: a block "kept" its representation when its diagonal CKA is at least this.
    """
    probe = change[(change["a"] == "pre-trained") & (change["b"] == "linear probe")].iloc[0]
    probe_cka = diagonal["pre-trained vs linear probe"]
    identical = probe["max_abs_difference"] == 0
    text = (f"The linear probe trains only a layer on top: its backbone is "
            + ("bit-for-bit the pre-trained one" if identical else
               f"NOT the pre-trained one (max weight difference {probe['max_abs_difference']:.2g})")
            + f", and its blocks' CKA with the pre-trained blocks ranges {probe_cka.min():.2f}-{probe_cka.max():.2f}. ")
    tuned = diagonal["pre-trained vs finetuned"]
    moved = tuned[tuned < threshold]
    fine = change[(change["a"] == "pre-trained") & (change["b"] == "finetuned")].iloc[0]
    text += (f"Finetuning moved the trunk's weights by {100 * fine['relative_change']:.1f}% (relative norm) and left "
             f"{len(tuned) - len(moved)} of {len(tuned)} blocks with CKA >= {threshold} to their pre-trained selves")
    if len(moved):
        text += (f"; the most changed block is {tuned.idxmin()} (CKA {tuned.min():.2f}), "
                 f"{_where(tuned.index.get_loc(tuned.idxmin()), len(tuned))} of the network")
    return text + ". " + _paper_fig1_words(len(moved), len(tuned))


def _where(position: int, blocks: int) -> str:
    third = position / max(1, blocks - 1)
    return "early" if third < 1 / 3 else "in the middle" if third < 2 / 3 else "late"


def _paper_fig1_words(moved: int, blocks: int) -> str:
    ours = "agrees" if moved > blocks / 2 else "does not agree"
    return (f"The paper (R21D, VCOP) found the majority of layers changed by finetuning; here {moved} of {blocks} "
            f"blocks fell below the threshold, which {ours} with it.")


# ----------------------------------------------------------------------------- (5) pretext training curves


def pretext_logs(study: Study, points: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The per-epoch pre-training logs of Table 1's runs (``PretrainResult.log``), one table.

    Returns:
        columns task, backbone, epoch, loss, relative_loss (loss / first epoch's loss), acc
        (the pretext task's own accuracy where it has one, else NaN), seconds.
    """
    frames = []
    for point in points if points is not None else table1_points(study):
        log = study.pretrain(point).log
        part = pd.DataFrame({"task": point["task"], "backbone": point["backbone"], "epoch": log["epoch"],
                             "loss": log["loss"], "acc": log["acc"] if "acc" in log else np.nan,
                             "seconds": log["seconds"] if "seconds" in log else np.nan})
        part["relative_loss"] = part["loss"] / part["loss"].iloc[0]
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def pretext_curves_figure(logs: pd.DataFrame) -> Figure:
    """Pretext loss relative to the first epoch's, per task, one panel per backbone."""
    return accuracy_curves(logs, x="epoch", y="relative_loss", group="task", facet="backbone",
                           ylabel="loss / first epoch's loss", title="Pre-training curves of Table 1's runs")


def pretext_final_table(logs: pd.DataFrame) -> pd.DataFrame:
    """Last epoch's loss, relative loss and pretext accuracy per (task, backbone), and the run's seconds."""
    last = logs.sort_values("epoch").groupby(["task", "backbone"], sort=False).tail(1)
    seconds = logs.groupby(["task", "backbone"])["seconds"].sum().rename("train_seconds")
    table = last.set_index(["task", "backbone"])[["epoch", "loss", "relative_loss", "acc"]].join(seconds)
    order = {t: i for i, t in enumerate(PAPER_TASK_ORDER)}
    return table.sort_index(key=lambda s: s.map(order) if s.name == "task" else s)


def curves_summary(logs: pd.DataFrame) -> str:
    """Which runs lowered their pretext loss over pre-training and which did not."""
    final = pretext_final_table(logs)
    down = final[final["relative_loss"] < 1]
    flat = [f"{t} on {b}" for t, b in final.index.difference(down.index)]
    text = f"{len(down)} of {len(final)} runs ended with a lower pretext loss than after their first epoch"
    if flat:
        text += f"; {', '.join(flat)} did not"
    if len(down):
        t, b = down["relative_loss"].idxmin()
        text += f". The steepest fall: {t} on {b}, to {down['relative_loss'].min():.2f} of its first epoch's loss"
    return text + "."


# ----------------------------------------------------------------------------- the chapter's comparisons


KNOBS: dict[str, Any] = {
    "target": "appearance", "finetune_backbones": ("shufflenet3d",), "frames_tasks": ("rotnet",),
    "frames_backbone": "shufflenet3d", "cka_task": "vcop", "cka_backbone": "shufflenet3d", "cka_clips": 256,
    "cka_batch": 64,
}
"""The notebook's knobs and their defaults (its parameters cell, less the study's own: profile, data_root,
seed, device, cache_dir); ``paper_comparisons`` reads the same. ``tests/test_knobs.py`` checks the notebook."""


def paper_comparisons(study: Study) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for this chapter's paper tables: ``{TABLE1: table1_vs_paper(...)}``.

    Computes (or loads from the stores) Table 1 at the study's protocol on ``KNOBS["target"]``.
    """
    return {TABLE1: table1_vs_paper(table1_accuracy(study, KNOBS["target"]))}


def cost_table(study: Study) -> pd.DataFrame:
    """Seconds this chapter's study object spent, by kind of work (cached work counts ~0 s).

    Returns:
        columns what, runs, seconds (summed).
    """
    timings = study.timing_table()
    if timings.empty:
        return pd.DataFrame(columns=["what", "runs", "seconds"])
    return (timings.groupby("what")["seconds"].agg(runs="count", seconds="sum").reset_index()
            .sort_values("seconds", ascending=False, ignore_index=True))
