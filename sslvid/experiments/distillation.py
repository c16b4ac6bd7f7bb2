"""Chapter "Knowledge distillation": can a small student learn more from pre-trained teachers than alone?

Benchmark §5 (Table 8): RSPNet teachers pre-trained on the 10k-100k subsets distilled into a ShuffleNet
student with adaptive ensemble KD (Du et al. 2020), and teacher groups by complexity, pre-training set and
pretext category; graph distillation (Zhang & Peng 2018, Table 2); PCL-boosted KD (Camarena et al. 2022,
Figs. 4-9); SKD-SRL (Vu et al. 2022, Tables 1-2). Runs go through the shared ``Study`` and ``sslvid.distill``
(cached by config hash); tables are long frames (one row per model, ``top1`` in percent) pivoted into the
papers' shapes.
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

from sslvid.analysis.claims import SINGLE, Claim, Estimate, bootstrap_mean, paired_difference
from sslvid.analysis.figures import accuracy_curves
from sslvid.analysis.tables import ordered_pivot
from sslvid.distill import DistillConfig, DistillResult, TeacherRef, distill
from sslvid.distill.run import retrieval_condition
from sslvid.evaluate.common import card_test_videos
from sslvid.experiments.study import Outcomes, Study, chapter_claim, check_selection, evidence, kept_outcomes, video_gap
from sslvid.paths import using_cache_dir
from sslvid.profiles import get_profile
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
"""Our targets -> the distillation papers' datasets (the motion target stands in for HMDB51)."""
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
    """``epochs`` if given (>= 1, else ValueError), else the profile's default of ``kind`` ("student" or "pcl")."""
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    return int(epochs) if epochs is not None else get_profile(profile).chapter_epochs[kind]


def teacher_ref(study: Study, point: Mapping[str, Any], target: str = "appearance") -> TeacherRef:
    """The finetuned classifier of a grid point as a teacher (its pre-training rides along)."""
    return TeacherRef(
        finetune=study.eval_config(point, target, protocol="finetune"), pretrain=study.pretrain_config(point)
    )


def teacher_measure(study: Study, point: Mapping[str, Any], target: str = "appearance") -> dict[str, Any]:
    """``top1`` (video top-1, %), ``videos`` (test videos behind it) and ``config_hash`` of the point's finetuned
    classifier on ``target``."""
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
    """The ``DistillConfig`` of one student (None for the teacher-only fusion and ensemble) of ``method`` at the
    study's profile, seed and device, trained and tested on ``target``; ``overrides``: other fields."""
    fields = dict(data_root=study.data_root, seed=study.seed, device=study.device, **overrides)
    fields.update(dataset=study.target(target), epochs=chapter_epochs(study.profile, "student", epochs))
    return DistillConfig.for_profile(study.profile, method=method, student=student, teachers=list(teachers), **fields)


def run_distill(study: Study, config: DistillConfig) -> DistillResult:
    """Distil ``config`` in the study's stores (found there when it ran before); timed in ``study.timings``."""
    point = {"backbone": config.student or "teachers"}
    with study.timed(f"distill/{config.method}", point) as row, using_cache_dir(study.cache_dir):
        result = distill(config, study.store, study.results, progress=study.progress)
        row["cached"] = result.cached
    return result


def student_measure(study: Study, config: DistillConfig) -> dict[str, Any]:
    """``top1``, ``videos`` (NaN when its protocol card names none) and ``config_hash`` of ``config``'s student."""
    result = run_distill(study, config)
    return {
        "top1": result.metric("top1_video"),
        "videos": card_test_videos(result.rows.loc[result.rows["metric"] == "top1_video", "protocol_card"]),
        "config_hash": result.key,
    }


def check_subsets(subsets: Sequence[str]) -> list[str]:
    """``subsets`` as a list, checked against the paper's sizes (``check_selection``)."""
    return check_selection(subsets, list(SUBSET_VIDEOS), "teacher subsets")


def subset_teachers(study: Study, subset: str) -> list[dict[str, Any]]:
    """The two RSPNet teacher points of one subset (grid "distillation", block 0), ShuffleNet first."""
    check_subsets([subset])
    points = [p for p in study.grid_points("distillation", block=0) if p["subset"] == subset]
    return sorted(points, key=lambda p: list(TEACHER_BACKBONES).index(p["backbone"]))


def table8_results(
    study: Study,
    subsets: Sequence[str],
    targets: Sequence[str] = ("appearance",),
    method: str = "aekd",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Benchmark §5 "Pre-training subset size" (Table 8): per subset and target, both RSPNet teachers, the student
    distilled from them (``method``) and, our addition, the student trained on labels alone (``independent``).

    Returns:
        columns ``model`` (``teacher_shufflenet``, ``teacher_r21d``, ``student_shufflenet``, ``student_alone``),
        ``subset`` (None for the student alone), ``target``, ``top1``, ``EVIDENCE_COLUMNS``.
    """
    rows = []
    for target in targets:
        for subset in check_subsets(subsets):
            points, cell = subset_teachers(study, subset), {"subset": subset, "target": target}
            for p in points:
                rows.append({"model": TEACHER_BACKBONES[p["backbone"]], **cell, **teacher_measure(study, p, target)})
            teachers = [teacher_ref(study, p, target) for p in points]
            config = distill_config(study, method, teachers, target, epochs=student_epochs)
            rows.append({"model": STUDENT_ROW, **cell, **student_measure(study, config)})
        alone = distill_config(study, "independent", [], target, epochs=student_epochs)
        rows.append({"model": ALONE_ROW, "subset": None, "target": target, **student_measure(study, alone)})
    return pd.DataFrame(rows, columns=["model", "subset", "target", "top1", *EVIDENCE_COLUMNS])


def table8(results: pd.DataFrame) -> pd.DataFrame:
    """Table 8's shape: models as rows (T1, T2, student, then the student alone in every subset), one column per
    (target, subset) in the paper's order."""
    subsets = [s for s in SUBSET_VIDEOS if s in set(results["subset"].dropna())]
    alone = results[results["model"] == ALONE_ROW]
    frame = pd.concat(
        [results[results["model"] != ALONE_ROW]] + [alone.assign(subset=s) for s in subsets], ignore_index=True
    )
    order = {
        "model": (*TEACHER_BACKBONES.values(), STUDENT_ROW, ALONE_ROW),
        "target": list(dict.fromkeys(frame["target"])),
        "subset": subsets,
    }
    return ordered_pivot(frame, "model", ["target", "subset"], "top1", order)


CHAPTER = "distillation"
EVIDENCE_COLUMNS = ("videos", "config_hash")
"""Columns of the results frames behind the claims' bootstrap over test videos (not shown on the page)."""


def evidence_facts(*frames: pd.DataFrame, seeds: int = 1) -> dict[str, Any]:
    """``seeds``, ``models`` and ``test_videos`` behind the chapter's top-1 numbers (``evidence`` over the rows of
    ``frames``, each run counted once by its config hash)."""
    parts = [f for f in frames if len(f) and "top1" in f]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["top1", "videos"])
    if "config_hash" in rows:  # each run once
        rows = rows[rows["config_hash"].isna() | ~rows["config_hash"].duplicated()]
    return evidence(rows, seeds)


_claim = partial(chapter_claim, CHAPTER, section="§5")


def table8_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Benchmark §5 / §7 conclusion 5 (benchmark2023, Table 8) per target: the distilled student beats its best
    teacher, and the same student trained alone; margins in points, mean over the subsets (``_margin``)."""
    out = []
    for target, part in results.groupby("target", sort=False):
        cells = part[part["model"] != ALONE_ROW]
        student, teacher = cells["model"] == STUDENT_ROW, cells["model"].isin(TEACHER_BACKBONES.values())
        students, alone = list(cells.index[student]), list(part.index[part["model"] == ALONE_ROW][:1])
        beats_alone = [(s, alone) for s in students] if alone else []
        out += [
            _claim(
                f"student_beats_teachers_{target}",
                "The distilled student beats both of its teachers "
                f"({TARGET_COLUMNS.get(target, target)} in the paper).",
                "student minus best teacher, mean over subsets (points)",
                table="Table 8",
            ).measured(
                _group_margin(cells, "subset", student, teacher, outcomes), "no subset with student and teachers"
            ),
            _claim(
                f"distillation_helps_{target}",
                "Distillation beats the same student trained on labels alone.",
                "student minus student alone, mean over subsets (points)",
                table="Table 8",
            ).measured(_margin(part.loc[students + alone], beats_alone, outcomes), "the student alone was not run"),
        ]
    return out


def _margin(rows: pd.DataFrame, pairs: Sequence[tuple[Any, list]], outcomes: Outcomes | None) -> Estimate | None:
    """Mean over ``pairs`` (a run, the runs it is set against; labels of ``rows``) of its top1 minus the best of
    theirs, with a bootstrap over test videos (Efron & Tibshirani 1993; ``video_gap``: paired when ``outcomes``
    finds every run's, drawing ``rows`` in their order), else over the pairs; None without a pair."""
    if not pairs:
        return None

    def margin(acc: Mapping[Any, np.ndarray]) -> np.ndarray:  # per draw
        return np.mean([acc[s] - np.max([acc[r] for r in refs], axis=0) for s, refs in pairs], axis=0)

    return video_gap(rows, margin, outcomes) or bootstrap_mean(
        [float(rows.loc[s, "top1"] - rows.loc[refs, "top1"].max()) for s, refs in pairs]
    )


def _group_margin(
    rows: pd.DataFrame, by: str, student: pd.Series, teacher: pd.Series, outcomes: Outcomes | None
) -> Estimate | None:
    """``_margin`` of the first student against the teachers (masks of ``rows``) of each group of ``by``."""
    pairs = []
    for _, part in rows.groupby(by, sort=False) if len(rows) else []:
        mine, theirs = part.index[student[part.index]], part.index[teacher[part.index]]
        if len(mine) and len(theirs):
            pairs.append((mine[0], list(theirs)))
    return _margin(rows.loc[[s for s, _ in pairs] + [t for _, ts in pairs for t in ts]], pairs, outcomes)


def _method_margin(
    results: pd.DataFrame, order: Sequence[str], pairs: Sequence[tuple[str, list]], outcomes: Outcomes | None
) -> Estimate | None:
    """``_margin`` of the ``pairs`` of methods that all ran (each method's first row), drawn in ``order``."""
    rows = results.drop_duplicates("method").set_index("method", drop=False) if len(results) else results
    pairs = [(m, refs) for m, refs in pairs if {m, *refs} <= set(rows.index)]
    return _margin(rows.loc[[m for m in order if m in rows.index]], pairs, outcomes)


def table8_figure(results: pd.DataFrame) -> Figure:
    """Table 8 as grouped bars per target panel, the student alone as a dashed line."""
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


def group_definitions(study: Study) -> dict[str, dict[str, Any]]:
    """Benchmark §5's teacher groups beyond subsets ("distillation" grid, blocks 1-3): name -> {"kind", "teachers":
    grid points, "student": backbone}; ``complexity/<task>/<backbone>`` (C1-C3, the teachers' network as student),
    ``dataset/<task>`` (K400 and SSv2, ShuffleNet student), ``category/<non-contrastive|contrastive>``."""
    groups: dict[str, dict[str, Any]] = {}
    for p in study.grid_points("distillation", block=1):
        group = {"kind": "complexity", "teachers": [], "student": p["backbone"]}
        groups.setdefault(f"complexity/{p['task']}/{p['backbone']}", group)["teachers"].append(p)
    for p in study.grid_points("distillation", block=2):
        group = {"kind": "dataset", "teachers": [], "student": STUDENT}
        groups.setdefault(f"dataset/{p['task']}", group)["teachers"].append(p)
    category = study.grid_points("distillation", block=3)
    for team, tasks in CATEGORY_TEAMS.items():
        teachers = [p for p in category if p["task"] in tasks]
        groups[f"category/{team}"] = {"kind": "category", "teachers": teachers, "student": "r2plus1d_18"}
    return groups


def check_groups(study: Study, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The named groups of ``group_definitions`` (``check_selection``)."""
    groups = group_definitions(study)
    return {n: groups[n] for n in check_selection(names, list(groups), "teacher groups", allow_empty=True)}


def group_results(
    study: Study,
    names: Sequence[str],
    target: str = "appearance",
    method: str = "aekd",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Benchmark §5: every teacher of each named group finetuned, and one student distilled from all of them.

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
    """Benchmark §5 (benchmark2023): the student beats its best teacher, mean over the groups (``_margin``)."""
    role = results["role"] if len(results) else pd.Series(dtype=object)
    found = _group_margin(results, "group", role == "student", role == "teacher", outcomes)
    return [
        _claim(
            "student_beats_group_teachers",
            "A student distilled from a group of teachers beats its best teacher.",
            "student minus best teacher, mean over groups (points)",
        ).measured(found, "no teacher group was run (knob teacher_groups)")
    ]


def graph_results(
    study: Study, subset: str, methods: Sequence[str], target: str = "appearance", student_epochs: int | None = None
) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 2 with Table 8's teachers of one subset: each method's student (fusion and ensemble:
    the teachers combined); columns ``method``, ``row`` (the paper's row name), ``top1``, ``EVIDENCE_COLUMNS``."""
    check_selection(methods, list(GRAPH_ROWS), "methods (rows of Table 2)", allow_empty=True)
    teachers = [teacher_ref(study, p, target) for p in subset_teachers(study, subset)]
    rows = []
    for method in methods:
        student = None if method in ("fusion", "ensemble") else STUDENT
        config = distill_config(study, method, teachers, target, student=student, epochs=student_epochs)
        rows.append({"method": method, "row": GRAPH_ROWS[method], **student_measure(study, config)})
    return pd.DataFrame(rows, columns=["method", "row", "top1", *EVIDENCE_COLUMNS])


def graph_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Zhang & Peng 2018 (zhang2018graph, §4, Table 2): each graph variant beats uniform KD, mean over the variants
    run (``_margin``)."""
    graphs = ("graph_logits", "graph_features", "graph")
    found = _method_margin(results, ["kd", *graphs], [(g, ["kd"]) for g in graphs], outcomes)
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


def pcl_curves(study: Study, epochs: int | None = None) -> pd.DataFrame:
    """Camarena et al. 2022 §3: 1-NN clip retrieval hit@1 (%) on the appearance set after every epoch of PCL alone
    (also the teacher) and of the PCL student it taught; columns ``run``, ``epoch``, ``hit@1``, ``config_hash``."""
    common: dict[str, Any] = dict(epochs=chapter_epochs(study.profile, "pcl", epochs), checkpoint_every=1)
    alone = distill_config(study, "pcl_kd", [], "appearance", **common)
    taught = distill_config(study, "pcl_kd", [TeacherRef(distill=alone)], "appearance", **common)
    rows = []
    for name, config in (("PCL alone", alone), ("PCL + KD", taught)):
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
        curves, y="hit@1", group="run", ylabel="1-NN retrieval hit@1 (%)", title="PCL with and without a teacher"
    )


PCL_UNPAIRED = f"{SINGLE} (the runs' per-video hits are not stored)"
"""The method of the PCL claim read from the curves alone."""


def pcl_claims(curves: pd.DataFrame, outcomes: Callable[[str, str], VideoOutcomes | None] | None = None) -> list[Claim]:
    """Camarena et al. 2022 (§4, Figs. 4-6): with a teacher, PCL ends higher; the taught run minus PCL alone at the
    last epoch (hit@1 points). Paired over the test videos when ``outcomes`` finds both runs' per-video hits at 1
    (``sslvid.distill.run.retrieval_condition``), else the curves' last point with no interval."""
    wide = curves.pivot_table(index="epoch", columns="run", values="hit@1").dropna() if len(curves) else None
    got, quantity = None, "PCL + KD minus PCL alone at the last epoch, 1-NN hit@1 (points)"
    if wide is not None and not wide.empty and {"PCL alone", "PCL + KD"} <= set(wide.columns):
        last = wide.index.max()
        got = Estimate(float(wide.loc[last, "PCL + KD"] - wide.loc[last, "PCL alone"]), n=1)
        if outcomes is not None:
            keys = curves.groupby("run")["config_hash"].last() if "config_hash" in curves else {}  # last() skips NaN
            alone, taught = (
                kept_outcomes(lambda key: outcomes(key, retrieval_condition(1)), keys.get(run))
                for run in ("PCL alone", "PCL + KD")
            )
            if alone is None or taught is None:
                got = replace(got, method=PCL_UNPAIRED)
            else:
                got = paired_difference(taught, alone)
                quantity = "PCL + KD minus PCL alone at the last epoch, 1-NN hit@1 of the test videos (points)"
    return [
        _claim(
            "pcl_teacher_helps",
            "With a teacher, PCL ends with better features.",
            quantity,
            section="§4",
            paper="camarena2022boosting",
        ).measured(got, "the PCL curves are incomplete")
    ]


def skd_results(
    study: Study,
    methods: Sequence[str],
    subset: str,
    student: str = STUDENT,
    target: str = "appearance",
    student_epochs: int | None = None,
) -> pd.DataFrame:
    """Vu et al. 2022 Tables 1-2: the student trained alone, with augmentation, with KD from the R(2+1)D teacher
    of ``subset`` (for their 3D ResNet-50), by Self-KD and by SKD-SRL; columns ``method``, ``mechanism``,
    ``teacher``, ``backbone``, ``top1``, ``EVIDENCE_COLUMNS``."""
    check_selection(methods, list(SKD_ROWS), "methods (rows of SKD-SRL Table 2)", allow_empty=True)
    rows = []
    for method in methods:
        mechanism, teacher_name = SKD_ROWS[method]
        teachers = []
        if method == "kd":
            point = subset_teachers(study, subset)[-1]
            teachers, teacher_name = [teacher_ref(study, point, target)], point["backbone"]
        config = distill_config(study, method, teachers, target, student=student, epochs=student_epochs)
        row = {"method": method, "mechanism": mechanism, "teacher": teacher_name, "backbone": student}
        rows.append({**row, **student_measure(study, config)})
    return pd.DataFrame(rows, columns=["method", "mechanism", "teacher", "backbone", "top1", *EVIDENCE_COLUMNS])


def skd_claims(results: pd.DataFrame, outcomes: Outcomes | None = None) -> list[Claim]:
    """Vu et al. 2022 (vu2022skdsrl, §4, Table 1): SKD-SRL beats the same student trained alone (``_margin``)."""
    got = _method_margin(results, ["skd_srl", "independent"], [("skd_srl", ["independent"])], outcomes)
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


def compare(
    paper_name: str,
    ours: pd.DataFrame,
    on: Sequence[str],
    columns: Mapping[str, str],
    rename: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """``compare_with_paper`` of each paper value column (``columns``: -> our target, "" for none) against our rows
    (``on``, ``target``, ``top1``) of that target, stacked: ``metric, *on, paper, reproduced, n, difference``."""
    frames = [
        compare_with_paper(
            paper_name, ours[ours["target"] == t].dropna(subset=list(on)), on, rename=rename, values={c: "top1"}
        )
        for c, t in columns.items()
    ]
    return pd.concat(frames, ignore_index=True)[["metric", *on, "paper", "reproduced", "n", "difference"]]


GRAPH_COLUMNS = {"ucf101_acc": "appearance", "hmdb51_acc": "", "ccv_map": ""}
"""Zhang & Peng 2018's value columns (Tables 1-2) -> our target (HMDB51 and CCV: not run)."""


def table8_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Benchmark Table 8 (UCF101 -> appearance, HMDB51 -> motion) beside ours, less the student alone."""
    ours = results[results["model"] != ALONE_ROW]
    return compare(TABLE8, ours, ["model", "subset"], {"ucf101_top1": "appearance", "hmdb51_top1": "motion"})


def graph_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 2 beside ours (UCF101 -> appearance; HMDB51 and CCV: not run)."""
    return compare(
        "graphkd_t2_ablation", results.assign(target="appearance", method=results["row"]), ["method"], GRAPH_COLUMNS
    )


def graph_sota_comparison(graph: pd.DataFrame, skd: pd.DataFrame) -> pd.DataFrame:
    """Zhang & Peng 2018 Table 1 beside our student alone ("random init") and graph student (G_l+G_r)."""
    ours = {
        "AlexNet random init": skd[skd["method"] == "independent"],
        "Graph distillation G_l+G_r": graph[graph["method"] == "graph"],
    }
    rows = [{"method": m, "top1": float(f["top1"].iloc[0])} for m, f in ours.items() if len(f)]
    frame = pd.DataFrame(rows, columns=["method", "top1"]).assign(target="appearance")
    return compare("graphkd_t1_sota", frame, ["method"], GRAPH_COLUMNS)


def skd_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """SKD-SRL Table 1 (baseline and SKD-SRL on UCF101) beside ours (apart from theirs unless ``r3d_18``)."""
    ours = results[results["method"].isin(["independent", "skd_srl"])]
    ours = ours.assign(
        target="appearance", method=ours["method"].map({"independent": "baseline", "skd_srl": "skd_srl"})
    )
    return compare(
        "skdsrl_t1_baseline",
        ours,
        ["method", "backbone"],
        {"ucf101_top1": "appearance", "hmdb51_top1": "", "k400_top1": ""},
        rename={"backbone": SKD_BACKBONES},
    )


def skd_mechanism_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """SKD-SRL Table 2 (mechanisms on UCF101) beside ours (our KD row's R(2+1)D teacher is a row of its own)."""
    ours = results.assign(target="appearance")
    return compare("skdsrl_t2_mechanisms_ucf101_r18", ours, ["mechanism", "teacher"], {"ucf101_top1": "appearance"})


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
    """Paper vs reproduced per paper table of the chapter, from the chapter's compute-or-load functions at ``KNOBS``
    (``knobs`` override them): after the chapter has run, read from the stores."""
    check_selection(sorted(knobs), list(KNOBS), "knobs", allow_empty=True)
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
