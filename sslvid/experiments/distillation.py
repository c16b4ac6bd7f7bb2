"""Chapter "Knowledge distillation": can a small student learn more from pre-trained teachers than alone?

Benchmark §5 (Table 8) distils RSPNet teachers (ShuffleNet and R(2+1)D, pre-trained on the
10k-100k subsets of K400 and finetuned on UCF101) into a ShuffleNet student with adaptive
ensemble KD (Du et al. 2020), and reports the student above both teachers at every subset,
best at 30k; it also groups teachers by complexity, pre-training set and pretext category.
Three companion papers test other ways of distilling:

* graph distillation (Zhang & Peng 2018, ``002``, Table 2): uniform KD, the logits graph
  ``G_l``, the representation graph ``G_r`` and both, with model fusion as the no-training baseline;
* PCL-boosted KD (Camarena et al. 2022, ``003``, Figs. 4-9): a self-supervised student taught
  by a PCL-trained teacher converges faster than PCL alone (accuracy per epoch);
* SKD-SRL (Vu et al. 2022, ``004``, Tables 1-2): self-distillation between two views against
  the same network trained alone.

Every run goes through the shared :class:`~sslvid.experiments.study.Study` (pre-training
runs and teacher finetunings are shared with the other chapters) and ``sslvid.distill``
(distillation runs cached by config hash). Tables are long frames first (one row per model
and setting, ``top1`` in percent), then pivoted into the papers' shapes; every sentence
that quotes a number reads it from those frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.claims import (
    SINGLE,
    Claim,
    Estimate,
    bootstrap_mean,
    paired_difference,
)
from sslvid.analysis.figures import accuracy_curves
from sslvid.analysis.tables import ordered_pivot
from sslvid.distill import DistillConfig, DistillResult, TeacherRef, distill
from sslvid.distill.run import retrieval_condition
from sslvid.evaluate.common import card_test_videos
from sslvid.experiments.study import Outcomes, Study, chapter_claim, check_selection, evidence, kept_outcomes, video_gap
from sslvid.paths import using_cache_dir
from sslvid.profiles import get_profile, list_profiles
from sslvid.scale.grids import SUBSET_VIDEOS
from sslvid.store.outcomes import VideoOutcomes
from sslvid.store.results import compare_with_paper

STUDENT = "shufflenet3d"
"""The benchmark's student (Table 8: ShuffleNet)."""
TABLE8 = "benchmark_t8_kd_subsets_rspnet"
"""Benchmark Table 8 (``sslvid.store.paper_tables.PAPER_TABLES``)."""

TEACHER_BACKBONES = {"shufflenet3d": "teacher_shufflenet", "r2plus1d_18": "teacher_r21d"}
"""Table 8's teachers: our backbone -> the paper table's model name (T1, T2)."""

STUDENT_ROW, ALONE_ROW = "student_shufflenet", "student_alone"
"""Table 8's student row, and our extra row: the same student trained on labels only."""

TARGET_COLUMNS = {"appearance": "ucf101", "motion": "hmdb51"}
"""Our targets -> the distillation papers' datasets. The papers' second set is HMDB51; its stand-in
here is the motion target (``digits-motion``; Diving48 at paper scale), a harder, motion-decided set."""

GRAPH_ROWS = {
    "fusion": "model fusion",
    "ensemble": "model ensemble",
    "kd": "KD uniform",
    "mmgd": "logits graph MMGD",
    "graph_logits": "logits graph G_l",
    "feature_uniform": "feature distill uniform",
    "graph_features": "feature graph G_r",
    "mmgd_features": "MMGD+G_r",
    "graph": "G_l+G_r",
}
"""``sslvid.distill`` methods -> rows of Zhang & Peng 2018 Table 2."""

SKD_ROWS = {
    "independent": ("baseline", "none"),
    "augment": ("baseline + data augmentation", "none"),
    "kd": ("KD", None),
    "self_kd": ("Self-KD", "itself"),
    "skd_srl": ("SKD-SRL", "itself"),
}
"""``sslvid.distill`` methods -> (mechanism, teacher) rows of Vu et al. 2022 Table 2 (KD: our teacher)."""

SKD_BACKBONES = {"r3d_18": "resnet18_3d"}
"""Our backbones that are the networks of Vu et al. 2022 Table 1 (3D ResNet-18)."""

CATEGORY_TEAMS = {"non-contrastive": ("vcop", "rotnet"), "contrastive": ("cvrl", "tdl")}
"""Benchmark §5 "Pretext task categories": the teachers of each category."""


def chapter_epochs(profile: str, kind: str = "student", epochs: int | None = None) -> int:
    """``epochs`` if given, else the chapter's default of ``kind`` ("student" or "pcl") at ``profile``.

    Raises:
        ValueError: for an unknown profile or kind, or epochs < 1.
    """
    if epochs is not None:
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        return int(epochs)
    if profile not in list_profiles() or kind not in get_profile(profile).chapter_epochs:
        raise ValueError(
            f"no default epochs for {profile!r}/{kind!r}; profiles: {', '.join(list_profiles())}, kinds: student, pcl"
        )
    return get_profile(profile).chapter_epochs[kind]


# ---------------------------------------------------------------------- runs


def teacher_ref(study: Study, point: Mapping[str, Any], target: str = "appearance") -> TeacherRef:
    """The finetuned classifier of a grid point as a teacher (its pre-training rides along)."""
    return TeacherRef(
        finetune=study.eval_config(point, target, protocol="finetune"), pretrain=study.pretrain_config(point)
    )


def teacher_measure(study: Study, point: Mapping[str, Any], target: str = "appearance") -> dict[str, Any]:
    """``top1`` (video top-1, %), ``videos`` (test videos behind it) and ``config_hash`` (its evaluation, whose
    per-video outcomes ``Study.outcomes`` reads) of the point's finetuned classifier on ``target``."""
    row = study.accuracy([point], target, protocol="finetune").iloc[0]
    return {"top1": float(row["top1"]), "videos": float(row["videos"]), "config_hash": str(row["config_hash"])}


def distill_config(
    study: Study,
    method: str,
    teachers: Sequence[TeacherRef] = (),
    target: str = "appearance",
    student: str | None = STUDENT,
    epochs: int | None = None,
    **overrides: Any,
) -> DistillConfig:
    """The ``DistillConfig`` of one student at the study's profile, seed and device.

    Args:
        method: a ``sslvid.distill`` method (``list_distillers()``).
        teachers: the teachers (``teacher_ref``), as many as the method takes.
        target: "appearance" or "motion": the labelled set the student trains and is tested on.
        student: the student's backbone (None for teacher-only methods: fusion, ensemble).
        epochs: training epochs (None: the profile's ``chapter_epochs``).
        **overrides: other ``DistillConfig`` fields (``method_kwargs``, ``checkpoint_every``...).
    """
    dataset = study.target(target)
    fields = dict(dataset=dataset, data_root=study.data_root, seed=study.seed, device=study.device, **overrides)
    fields["epochs"] = chapter_epochs(study.profile, "student", epochs)
    return DistillConfig.for_profile(study.profile, method=method, student=student, teachers=list(teachers), **fields)


def run_distill(study: Study, config: DistillConfig) -> DistillResult:
    """Distil ``config`` in the study's stores (found there when it ran before); timed in ``study.timings``."""
    what = f"distill/{config.method}"
    with study.timed(what, {"backbone": config.student or "teachers"}) as row, using_cache_dir(study.cache_dir):
        result = distill(config, study.store, study.results, progress=study.progress)
        row["cached"] = result.cached
    return result


def student_measure(study: Study, config: DistillConfig) -> dict[str, Any]:
    """``top1``, ``videos`` and ``config_hash`` (as ``teacher_measure``) of the student (or fused teachers) of
    ``config``; ``videos`` is NaN for a run whose protocol card names no test videos."""
    result = run_distill(study, config)
    return {
        "top1": result.metric("top1_video"),
        "videos": card_test_videos(result.rows.loc[result.rows["metric"] == "top1_video", "protocol_card"]),
        "config_hash": result.key,
    }


# ---------------------------------------------------------------------- (1) Table 8: teachers per subset


def check_subsets(subsets: Sequence[str]) -> list[str]:
    """``subsets`` as a list, checked against the paper's sizes (``check_selection``: none, or an unknown one,
    raises ValueError)."""
    return check_selection(subsets, list(SUBSET_VIDEOS), "teacher subsets")


def subset_teachers(study: Study, subset: str) -> list[dict[str, Any]]:
    """The two RSPNet teacher points of one subset (grid "distillation", block 0), ShuffleNet first."""
    points = [p for p in study.grid_points("distillation", block=0) if p["subset"] == subset]
    return sorted(points, key=lambda p: list(TEACHER_BACKBONES).index(p["backbone"]))


def table8_results(
    study: Study,
    subsets: Sequence[str],
    targets: Sequence[str] = ("appearance",),
    method: str = "aekd",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Table 8's runs: per subset and target, both teachers, their multi-teacher student and the student alone.

    Benchmark §5 "Pre-training subset size": RSPNet teachers (ShuffleNet, R(2+1)D) pre-trained on
    one subset and finetuned; a ShuffleNet student distilled from both (AE-KD, ``method``). The
    student trained on labels alone (``independent``, same recipe) is our addition: it tells
    whether the teachers, not the labels, made the student good.

    Returns:
        columns ``model`` (``teacher_shufflenet``, ``teacher_r21d``, ``student_shufflenet``,
        ``student_alone``), ``subset`` (None for the student alone), ``target``, ``top1``, and
        ``EVIDENCE_COLUMNS``: ``videos`` (test videos behind ``top1``) and ``config_hash`` (the run whose
        per-video outcomes the claims compare paired).
    """
    rows = []
    for target in targets:
        for subset in check_subsets(subsets):
            points = subset_teachers(study, subset)
            for point in points:
                model = TEACHER_BACKBONES[point["backbone"]]
                rows.append(
                    {"model": model, "subset": subset, "target": target, **teacher_measure(study, point, target)}
                )
            config = distill_config(
                study, method, [teacher_ref(study, p, target) for p in points], target, epochs=student_epochs
            )
            rows.append({"model": STUDENT_ROW, "subset": subset, "target": target, **student_measure(study, config)})
        alone = distill_config(study, "independent", [], target, epochs=student_epochs)
        rows.append({"model": ALONE_ROW, "subset": None, "target": target, **student_measure(study, alone)})
    return pd.DataFrame(rows, columns=["model", "subset", "target", "top1", *EVIDENCE_COLUMNS])


def table8(results: pd.DataFrame) -> pd.DataFrame:
    """Table 8's shape: models as rows (T1, T2, student, then ours: the student alone), subsets as columns.

    Args:
        results: ``table8_results``.

    Returns:
        one column per (target, subset) in the paper's order (the student alone fills every subset).
    """
    frame = results.copy()
    subsets = [s for s in SUBSET_VIDEOS if s in set(frame["subset"].dropna())]
    alone = frame[frame["model"] == ALONE_ROW]
    frame = pd.concat(
        [frame[frame["model"] != ALONE_ROW]] + [alone.assign(subset=s) for s in subsets], ignore_index=True
    )
    order = {
        "model": (*TEACHER_BACKBONES.values(), STUDENT_ROW, ALONE_ROW),
        "target": list(dict.fromkeys(frame["target"])),
        "subset": subsets,
    }
    return ordered_pivot(frame, "model", ["target", "subset"], "top1", order)


CHAPTER = "distillation"
"""This chapter's name in the claims table."""
EVIDENCE_COLUMNS = ("videos", "config_hash")
"""Columns of the results frames behind the claims' bootstrap over test videos (not shown on the page)."""


def evidence_facts(*frames: pd.DataFrame, seeds: int = 1) -> dict[str, Any]:
    """How many seeds, models and test videos stand behind the chapter's top-1 numbers (``Study.evidence``
    over the rows of ``frames`` that carry ``EVIDENCE_COLUMNS``, each run counted once by its config hash).

    Returns:
        ``seeds``, ``models`` (distinct runs), ``test_videos`` (one count, a range, or "not recorded").
    """
    parts = [f for f in frames if len(f) and "top1" in f]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["top1", "videos"])
    if "config_hash" in rows:
        named = rows["config_hash"].notna()
        rows = pd.concat([rows[~named], rows[named].drop_duplicates("config_hash")])
    return evidence(rows, seeds)


_claim = partial(chapter_claim, CHAPTER, section="§5")


def table8_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Benchmark §5 / §7 conclusion 5 (benchmark2023, Table 8) per target: the distilled student beats its
    best teacher, and beats the same student trained on labels alone. Margins in points, mean over the
    subsets, with a percentile bootstrap over the test videos (Efron & Tibshirani 1993): paired when
    ``outcomes`` (``Study.outcomes``) finds every model's per-video outcomes (all are tested on the target's
    test split), unpaired from the accuracies and test-video counts otherwise; frames without counts
    (``videos``) fall back to a bootstrap over the subsets (one seed per model).

    Args:
        results: ``table8_results``.
        outcomes: per-video outcomes by config hash (None: unpaired).
    """
    out = []
    for target, part in results.groupby("target", sort=False):
        cells = part[part["model"] != ALONE_ROW]
        student, teacher = cells["model"] == STUDENT_ROW, cells["model"].isin(TEACHER_BACKBONES.values())
        alone = part[part["model"] == ALONE_ROW]
        out.append(
            _claim(
                f"student_beats_teachers_{target}",
                "The distilled student beats both of its teachers "
                f"({TARGET_COLUMNS.get(target, target)} in the paper).",
                "student minus best teacher, mean over subsets (points)",
                table="Table 8",
            ).measured(
                _student_margin(cells, "subset", student, teacher, outcomes), "no subset with student and teachers"
            )
        )
        out.append(
            _claim(
                f"distillation_helps_{target}",
                "Distillation beats the same student trained on labels alone.",
                "student minus student alone, mean over subsets (points)",
                table="Table 8",
            ).measured(_beats_alone(cells, alone, outcomes), "the student alone was not run")
        )
    return out


def _student_margin(
    rows: pd.DataFrame, by: str, student: pd.Series, teacher: pd.Series, outcomes: Outcomes | None
) -> Estimate | None:
    """Student minus best teacher per group of ``by`` (``student``, ``teacher``: which rows are which), mean over
    the groups with both: over test videos (``video_gap``), else over the groups; None without such a group."""
    students, teachers = [], []
    for _, part in rows.groupby(by, sort=False) if len(rows) else []:
        mine, theirs = part.index[student[part.index]], part.index[teacher[part.index]]
        if len(mine) and len(theirs):
            students.append(mine[0])
            teachers.append(list(theirs))
    if not students:
        return None
    used = rows.loc[students + [t for ts in teachers for t in ts]]

    def margin(acc: Mapping[Any, np.ndarray]) -> np.ndarray:  # per draw: student minus best teacher, mean over groups
        return np.mean([acc[s] - np.max([acc[t] for t in ts], axis=0) for s, ts in zip(students, teachers)], axis=0)

    return video_gap(used, margin, outcomes) or bootstrap_mean(
        [float(used.loc[s, "top1"] - used.loc[ts, "top1"].max()) for s, ts in zip(students, teachers)]
    )


def _beats_alone(cells: pd.DataFrame, alone: pd.DataFrame, outcomes: Outcomes | None) -> Estimate | None:
    """Student minus the student alone, mean over the subsets (``table8_claims``)."""
    students = list(cells.index[cells["model"] == STUDENT_ROW])
    if alone.empty or not students:
        return None
    base = alone.index[0]
    used = pd.concat([cells.loc[students], alone.loc[[base]]])
    found = video_gap(used, lambda acc: np.mean([acc[s] - acc[base] for s in students], axis=0), outcomes)
    if found is not None:
        return found
    return bootstrap_mean([float(used.loc[s, "top1"] - used.loc[base, "top1"]) for s in students])


def table8_figure(results: pd.DataFrame) -> Figure:
    """Grouped bars of Table 8: per target panel, the teachers and the student at each subset, and the
    student alone as a dashed line."""
    targets = list(dict.fromkeys(results["target"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets) + 1.0, 3.0), squeeze=False, sharey=True)
    models = [*TEACHER_BACKBONES.values(), STUDENT_ROW]
    for ax, target in zip(axes[0], targets):
        part = results[results["target"] == target]
        wide = part[part["model"].isin(models)].pivot_table(index="subset", columns="model", values="top1")
        wide = wide.reindex([s for s in SUBSET_VIDEOS if s in wide.index])
        x = np.arange(len(wide))
        for i, model in enumerate(m for m in models if m in wide):
            ax.bar(x + (i - 1) * 0.27, wide[model], width=0.27, label=model)
        alone = part.loc[part["model"] == ALONE_ROW, "top1"]
        if len(alone):
            ax.axhline(float(alone.iloc[0]), color="k", linestyle="--", linewidth=1, label=ALONE_ROW)
        ax.set_xticks(x, wide.index)
        ax.set_xlabel("teachers' pre-training subset")
        ax.set_title(target)
    axes[0][0].set_ylabel("video top-1 (%)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- (2) teacher groups


def group_definitions(study: Study) -> dict[str, dict[str, Any]]:
    """Every teacher group of benchmark §5 beyond subsets, from the "distillation" grid's blocks 1-3.

    Names are ``complexity/<task>/<backbone>`` (C1-C3 of one task; the student is the teachers'
    network, as in the paper), ``dataset/<task>`` (K400 and SSv2 pre-training, R(2+1)D teachers;
    ShuffleNet student) and ``category/<non-contrastive|contrastive>`` (VCOP+RotNet or CVRL+TDL,
    R(2+1)D teachers and student, as in the paper).

    Returns:
        name -> {"kind", "teachers": grid points, "student": backbone}.
    """
    groups: dict[str, dict[str, Any]] = {}
    for p in study.grid_points("distillation", block=1):
        name = f"complexity/{p['task']}/{p['backbone']}"
        groups.setdefault(name, {"kind": "complexity", "teachers": [], "student": p["backbone"]})["teachers"].append(p)
    for p in study.grid_points("distillation", block=2):
        groups.setdefault(f"dataset/{p['task']}", {"kind": "dataset", "teachers": [], "student": STUDENT})[
            "teachers"
        ].append(p)
    category = study.grid_points("distillation", block=3)
    for team, tasks in CATEGORY_TEAMS.items():
        groups[f"category/{team}"] = {
            "kind": "category",
            "teachers": [p for p in category if p["task"] in tasks],
            "student": "r2plus1d_18",
        }
    return groups


def check_groups(study: Study, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The named groups of ``group_definitions``.

    Raises:
        ValueError: for an unknown group name (lists the valid ones).
    """
    groups = group_definitions(study)
    return {n: groups[n] for n in check_selection(names, list(groups), "teacher groups", allow_empty=True)}


def group_results(
    study: Study,
    names: Sequence[str],
    target: str = "appearance",
    method: str = "aekd",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Benchmark §5 (complexities, pre-training sets, pretext categories): every teacher of each named
    group finetuned, and one student distilled from all of them.

    Returns:
        columns ``group``, ``kind``, ``role`` ("teacher"/"student"), ``model`` (a teacher's
        ``task/backbone/data/subset/complexity`` or the student's backbone), ``top1``, ``EVIDENCE_COLUMNS``.
    """
    rows = []
    for name, group in check_groups(study, names).items():
        base = {"group": name, "kind": group["kind"]}
        for p in group["teachers"]:
            label = "/".join(str(p[k]) for k in ("task", "backbone", "data", "subset", "complexity") if k in p)
            rows.append({**base, "role": "teacher", "model": label, **teacher_measure(study, p, target)})
        teachers = [teacher_ref(study, p, target) for p in group["teachers"]]
        config = distill_config(study, method, teachers, target, student=group["student"], epochs=student_epochs)
        rows.append({**base, "role": "student", "model": group["student"], **student_measure(study, config)})
    return pd.DataFrame(rows, columns=["group", "kind", "role", "model", "top1", *EVIDENCE_COLUMNS])


def group_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Benchmark §5 (benchmark2023): the student outperforms its teachers in most teacher groups. Quantity:
    student minus best teacher, mean over the groups run, with a bootstrap over test videos (paired when
    ``outcomes`` finds every model's, as ``table8_claims``), or over the groups for frames without counts."""
    role = results["role"] if len(results) else pd.Series(dtype=object)
    found = _student_margin(results, "group", role == "student", role == "teacher", outcomes)
    return [
        _claim(
            "student_beats_group_teachers",
            "A student distilled from a group of teachers beats its best teacher.",
            "student minus best teacher, mean over groups (points)",
        ).measured(found, "no teacher group was run (knob teacher_groups)")
    ]


# ---------------------------------------------------------------------- (3) graph distillation ablation


def graph_results(
    study: Study, subset: str, methods: Sequence[str], target: str = "appearance", student_epochs: int | None = None
) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 2 with Table 8's teachers of one subset: each method's student (or, for
    fusion and ensemble, the teachers combined) tested on ``target``.

    Raises:
        ValueError: for a method that is not a row of the paper's Table 2 (lists them).

    Returns:
        columns ``method``, ``row`` (the paper's row name), ``top1``, ``EVIDENCE_COLUMNS``.
    """
    unknown = [m for m in methods if m not in GRAPH_ROWS]
    if unknown:
        raise ValueError(f"methods {unknown} are not rows of Table 2; valid: {', '.join(GRAPH_ROWS)}")
    teachers = [teacher_ref(study, p, target) for p in subset_teachers(study, check_subsets([subset])[0])]
    rows = []
    for method in methods:
        student = None if method in ("fusion", "ensemble") else STUDENT
        config = distill_config(study, method, teachers, target, student=student, epochs=student_epochs)
        rows.append({"method": method, "row": GRAPH_ROWS[method], **student_measure(study, config)})
    return pd.DataFrame(rows, columns=["method", "row", "top1", *EVIDENCE_COLUMNS])


def graph_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Zhang & Peng 2018 (zhang2018graph, §4, Table 2): each graph variant beats uniform KD. Quantity: graph
    variant minus uniform KD, mean over the variants run (points), with a bootstrap over test videos (paired
    when ``outcomes`` finds every run's, as ``table8_claims``), or over the variants for frames without counts."""
    rows = results.drop_duplicates("method").set_index("method", drop=False) if len(results) else results
    graphs = [m for m in ("graph_logits", "graph_features", "graph") if m in rows.index]
    found = None
    if graphs and "kd" in rows.index:
        found = video_gap(
            rows.loc[["kd", *graphs]], lambda acc: np.mean([acc[g] - acc["kd"] for g in graphs], axis=0), outcomes
        ) or bootstrap_mean([float(rows.loc[g, "top1"] - rows.loc["kd", "top1"]) for g in graphs])
    return [
        _claim(
            "graphs_beat_kd",
            "Distillation along the graphs beats uniform KD.",
            "graph variant minus uniform KD, mean over variants (points)",
            section="§4",
            table="Table 2",
            paper="zhang2018graph",
        ).measured(found, "uniform KD or the graph variants were not run")
    ]


# ---------------------------------------------------------------------- (4) PCL-boosted convergence


def pcl_configs(
    study: Study, epochs: int | None = None, teacher_backbone: str = STUDENT, student: str = STUDENT
) -> dict[str, DistillConfig]:
    """Camarena et al. 2022 §3: the PCL baseline (no teacher; it also serves as the teacher, trained
    the same epochs) and the PCL student taught by it. Checkpoints every epoch for the curves."""
    common: dict[str, Any] = dict(
        target="appearance", epochs=chapter_epochs(study.profile, "pcl", epochs), checkpoint_every=1
    )
    teacher = distill_config(study, "pcl_kd", [], student=teacher_backbone, **common)
    baseline = (
        teacher if teacher_backbone == student else distill_config(study, "pcl_kd", [], student=student, **common)
    )
    taught = distill_config(study, "pcl_kd", [TeacherRef(distill=teacher)], student=student, **common)
    return {"PCL alone": baseline, "PCL + KD": taught}


def pcl_curves(
    study: Study, epochs: int | None = None, teacher_backbone: str = STUDENT, student: str = STUDENT
) -> pd.DataFrame:
    """Accuracy per epoch of PCL alone and of PCL + KD: 1-nearest-neighbour clip retrieval (hit@1, %)
    of the student's features on the appearance set after every epoch (``sslvid.distill.test_checkpoints``).

    Returns:
        columns ``run``, ``epoch``, ``hit@1`` and ``config_hash`` (the run's, whose folder keeps its test
        videos' hits at the last epoch: ``pcl_claims``).
    """
    rows = []
    for name, config in pcl_configs(study, epochs, teacher_backbone, student).items():
        result = run_distill(study, config)
        hits = result.rows[result.rows["metric"] == "hit@1"]
        rows += [
            {"run": name, "epoch": int(e), "hit@1": float(v), "config_hash": result.key}
            for e, v in zip(hits["pretrain_epochs"], hits["value"])
        ]
    columns = ["run", "epoch", "hit@1", "config_hash"]
    return pd.DataFrame(rows, columns=columns).sort_values(["run", "epoch"], ignore_index=True)


def pcl_figure(curves: pd.DataFrame) -> Figure:
    """Accuracy against epochs, PCL alone vs PCL + KD (Camarena et al. 2022, Figs. 4-6)."""
    return accuracy_curves(
        curves,
        x="epoch",
        y="hit@1",
        group="run",
        ylabel="1-NN retrieval hit@1 (%)",
        title="PCL with and without a teacher",
    )


PCL_UNPAIRED = f"{SINGLE} (the runs' per-video hits are not stored)"
"""The method of the PCL claim read from the curves alone."""


def pcl_claims(curves: pd.DataFrame, outcomes: Callable[[str, str], VideoOutcomes | None] | None = None) -> list[Claim]:
    """Camarena et al. 2022 (§4, Figs. 4-6): with a teacher, PCL converges faster and ends higher. Quantity: the
    taught run minus PCL alone at the last epoch (hit@1 points).

    With ``outcomes`` (``Study.outcomes``) finding both runs' per-test-video hits at 1 (kept at their last
    epoch, ``sslvid.distill.run.retrieval_condition``), the difference is that of the test videos' hit@1
    (each video's clips averaged into one query, VCOP's search) with the paired bootstrap over the test
    videos they share (``paired_difference``): the interval of these two runs on this test set. One seed
    each, so it says nothing of seed-to-seed variation. Without them (runs stored before the hits were
    kept, or curves without ``config_hash``) it is the clip-level curves' last point, one number with no
    interval (the epochs of one run are not independent samples), and the verdict is inconclusive.
    """
    wide = curves.pivot_table(index="epoch", columns="run", values="hit@1").dropna() if len(curves) else None
    got, quantity = None, "PCL + KD minus PCL alone at the last epoch, 1-NN hit@1 (points)"
    if wide is not None and not wide.empty and {"PCL alone", "PCL + KD"} <= set(wide.columns):
        last = wide.index.max()
        got = Estimate(float(wide.loc[last, "PCL + KD"] - wide.loc[last, "PCL alone"]), n=1)
        kept = _pcl_hits(curves, outcomes)
        if kept is not None:
            got = paired_difference(kept["PCL + KD"], kept["PCL alone"])
            quantity = "PCL + KD minus PCL alone at the last epoch, 1-NN hit@1 of the test videos (points)"
        elif outcomes is not None:
            got = replace(got, method=PCL_UNPAIRED)
    return [
        _claim(
            "pcl_teacher_helps",
            "With a teacher, PCL ends with better features.",
            quantity,
            section="§4",
            paper="camarena2022boosting",
        ).measured(got, "the PCL curves are incomplete")
    ]


def _pcl_hits(
    curves: pd.DataFrame, outcomes: Callable[[str, str], VideoOutcomes | None] | None
) -> dict[str, VideoOutcomes] | None:
    """Both PCL runs' per-test-video hits at 1, or None when either is not found."""
    if outcomes is None or "config_hash" not in curves:
        return None
    keys = curves.dropna(subset=["config_hash"]).groupby("run")["config_hash"].last()
    hits: Outcomes = lambda key: outcomes(key, retrieval_condition(1))  # noqa: E731
    found = {name: kept_outcomes(hits, keys.get(name)) for name in ("PCL alone", "PCL + KD")}
    if any(kept is None for kept in found.values()):
        return None
    return {name: kept for name, kept in found.items() if kept is not None}


# ---------------------------------------------------------------------- (5) SKD-SRL


def skd_results(
    study: Study,
    methods: Sequence[str],
    subset: str,
    student: str = STUDENT,
    target: str = "appearance",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Vu et al. 2022 Tables 1-2: the student trained alone, with augmentation, with KD from the R(2+1)D
    teacher of ``subset`` (our stand-in for their 3D ResNet-50), by Self-KD and by SKD-SRL.

    Raises:
        ValueError: for a method that is not a row of their Table 2 (lists them).

    Returns:
        columns ``method``, ``mechanism``, ``teacher``, ``backbone``, ``top1``, ``EVIDENCE_COLUMNS``.
    """
    check_selection(methods, list(SKD_ROWS), "methods (rows of SKD-SRL Table 2)", allow_empty=True)
    rows = []
    for method in methods:
        mechanism, teacher_name = SKD_ROWS[method]
        teachers = []
        if method == "kd":
            point = subset_teachers(study, check_subsets([subset])[0])[-1]
            teachers, teacher_name = [teacher_ref(study, point, target)], point["backbone"]
        config = distill_config(study, method, teachers, target, student=student, epochs=student_epochs)
        measured = student_measure(study, config)
        rows.append(
            {"method": method, "mechanism": mechanism, "teacher": teacher_name, "backbone": student, **measured}
        )
    return pd.DataFrame(rows, columns=["method", "mechanism", "teacher", "backbone", "top1", *EVIDENCE_COLUMNS])


def skd_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Vu et al. 2022 (vu2022skdsrl, §4, Table 1): SKD-SRL beats the same student trained alone (+23.3 points on
    UCF101 with 3D ResNet-18 there). One difference of two single-seed runs, with a bootstrap over the test
    videos (paired when ``outcomes`` finds both runs', as ``table8_claims``); no interval without counts."""
    rows = results.drop_duplicates("method").set_index("method", drop=False) if len(results) else results
    got = None
    if {"independent", "skd_srl"} <= set(rows.index):
        got = video_gap(
            rows.loc[["skd_srl", "independent"]], lambda acc: acc["skd_srl"] - acc["independent"], outcomes
        ) or Estimate(float(rows.loc["skd_srl", "top1"] - rows.loc["independent", "top1"]))
    return [
        _claim(
            "skd_beats_independent",
            "SKD-SRL beats the student trained alone.",
            "SKD-SRL minus independent training (points)",
            section="§4",
            table="Table 1",
            paper="vu2022skdsrl",
        ).measured(got, "SKD-SRL and the independent baseline were not both run")
    ]


# ---------------------------------------------------------------------- paper vs reproduced


def compare(
    paper_name: str,
    ours: pd.DataFrame,
    on: Sequence[str],
    columns: Mapping[str, str],
    rename: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """``compare_with_paper`` for each of the paper table's value columns against our rows of its target, stacked.

    Args:
        paper_name: a ``PAPER_TABLES`` name.
        ours: our rows with the ``on`` columns, ``target`` and ``top1``.
        on: columns naming a cell in both tables.
        columns: the paper's value column -> our target that it stands for ("" when we have none:
            its ``reproduced`` stays NaN).
        rename: per column of ``on``, our value -> the paper's.

    Returns:
        columns ``metric`` (the paper's value column), ``on``, ``paper``, ``reproduced``, ``n``, ``difference``.
    """
    frames = [
        compare_with_paper(
            paper_name, ours[ours["target"] == t].dropna(subset=list(on)), on, rename=rename, values={c: "top1"}
        )
        for c, t in columns.items()
    ]
    return pd.concat(frames, ignore_index=True)[["metric", *on, "paper", "reproduced", "n", "difference"]]


def table8_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Benchmark Table 8 (UCF101 -> appearance, HMDB51 -> motion) beside ours; the student alone is not
    a cell of the paper and is left out."""
    ours = results[results["model"] != ALONE_ROW]
    return compare(
        TABLE8,
        ours,
        ["model", "subset"],
        {"ucf101_top1": "appearance", "hmdb51_top1": "motion"},
    )


def graph_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 2 beside ours (UCF101 -> appearance; HMDB51 and CCV: not run)."""
    ours = results.assign(target="appearance", method=results["row"])
    return compare(
        "graphkd_t2_ablation", ours, ["method"], {"ucf101_acc": "appearance", "hmdb51_acc": "", "ccv_map": ""}
    )


def graph_sota_comparison(graph: pd.DataFrame, skd: pd.DataFrame) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 1: only two rows have a counterpart here, and loosely — "random init"
    is our student trained alone from scratch (ShuffleNet, not AlexNet) and G_l+G_r our graph student;
    the earlier methods were not run (NaN)."""
    rows = []
    alone = skd[skd["method"] == "independent"]
    if len(alone):
        rows.append({"method": "AlexNet random init", "top1": float(alone["top1"].iloc[0])})
    full = graph[graph["method"] == "graph"]
    if len(full):
        rows.append({"method": "Graph distillation G_l+G_r", "top1": float(full["top1"].iloc[0])})
    ours = pd.DataFrame(rows, columns=["method", "top1"]).assign(target="appearance")
    return compare("graphkd_t1_sota", ours, ["method"], {"ucf101_acc": "appearance", "hmdb51_acc": "", "ccv_map": ""})


def skd_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """SKD-SRL Table 1 (baseline and SKD-SRL; UCF101 -> appearance). Our student is the chapter's
    network: unless it is ``r3d_18`` (their 3D ResNet-18) its rows stand apart from theirs."""
    ours = results[results["method"].isin(["independent", "skd_srl"])].assign(target="appearance")
    ours = ours.assign(method=ours["method"].map({"independent": "baseline", "skd_srl": "skd_srl"}))
    return compare(
        "skdsrl_t1_baseline",
        ours,
        ["method", "backbone"],
        {"ucf101_top1": "appearance", "hmdb51_top1": "", "k400_top1": ""},
        rename={"backbone": SKD_BACKBONES},
    )


def skd_mechanism_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """SKD-SRL Table 2 (mechanisms on UCF101): our KD row's teacher is R(2+1)D, not their 3D ResNet-50,
    so it stands in its own row."""
    return compare(
        "skdsrl_t2_mechanisms_ucf101_r18",
        results.assign(target="appearance"),
        ["mechanism", "teacher"],
        {"ucf101_top1": "appearance"},
    )


KNOBS: dict[str, Any] = {
    "teacher_subsets": ("10k", "50k"),
    "targets": ("appearance",),
    "kd_method": "aekd",
    "student_epochs": None,
    "teacher_groups": (),
    "graph_subset": "50k",
    "graph_methods": ("fusion", "kd", "graph_logits", "graph"),
    "pcl_epochs": None,
    "skd_methods": ("independent", "skd_srl"),
}
"""The notebook's default knobs (its parameters cell): what ``paper_comparisons`` reads back."""


def paper_comparisons(study: Study, **knobs: Any) -> dict[str, pd.DataFrame]:
    """Paper vs reproduced for every paper table of the chapter (keys: ``PAPER_TABLES`` names).

    Calls the chapter's compute-or-load functions with ``KNOBS`` (``knobs`` override them),
    so after the chapter has run everything is read from the stores.

    Raises:
        ValueError: for an unknown knob (lists the valid ones).
    """
    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise ValueError(f"unknown knobs {sorted(unknown)}; valid: {', '.join(KNOBS)}")
    k = {**KNOBS, **knobs}
    t8 = table8_results(study, k["teacher_subsets"], k["targets"], k["kd_method"], k["student_epochs"])
    graph = graph_results(study, k["graph_subset"], k["graph_methods"], student_epochs=k["student_epochs"])
    skd = skd_results(study, k["skd_methods"], k["graph_subset"], student_epochs=k["student_epochs"])
    return {
        TABLE8: table8_comparison(t8),
        "graphkd_t2_ablation": graph_comparison(graph),
        "graphkd_t1_sota": graph_sota_comparison(graph, skd),
        "skdsrl_t1_baseline": skd_comparison(skd),
        "skdsrl_t2_mechanisms_ucf101_r18": skd_mechanism_comparison(skd),
    }
