"""Chapter "Discussion": the benchmark paper's recommendations checked against this book's numbers.

Benchmark paper §6 ("Discussions and analysis": four recommendations) and §7 (six conclusions), plus the
inferences of §4-5 that they rest on. The chapter collects every chapter's "paper vs reproduced" tables
(``paper_comparisons(study)`` of the modules in ``CHAPTERS``; ``collect_comparisons``), measures their
agreement (``agreement_table``) and checks each recommendation or conclusion as a claim on the paper's own
numbers and on ours (``CLAIMS``, ``check_claims``; ``sslvid.analysis.claims``).

By default nothing is trained or evaluated here: under ``Study.cached_only`` a run, an evaluation or a feature
extraction missing from the stores raises ``NotCachedError``, and the chapter that needs it is reported as
"results missing".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.claims import (
    VERDICTS,
    Claim,
    Estimate,
    bootstrap_group_difference,
    bootstrap_mean,
    printed_claims,
    sentence,
    spearman,
    stored_claims,
)
from sslvid.engine.config import PretrainConfig
from sslvid.experiments import (
    distillation,
    downstream,
    lightweight,
    noise_robustness,
    out_of_distribution,
    preliminaries,
    subset_size,
    task_complexity,
)
from sslvid.experiments.study import Study, chapter_claim
from sslvid.pretext.base import TASKS
from sslvid.profiles import get_profile
from sslvid.scale.grids import SIX_TASKS
from sslvid.store.errors import not_cached_cause
from sslvid.store.paper_tables import PAPER_BACKBONES, list_paper_tables, load_paper_table, paper_table_info

CHAPTERS: dict[str, ModuleType] = {
    "2. Preliminaries": preliminaries,
    "3. Subset size and duration": subset_size,
    "4. Task complexity": task_complexity,
    "5. Out of distribution": out_of_distribution,
    "6. Noise robustness": noise_robustness,
    "7. Knowledge distillation": distillation,
    "8. Downstream tasks": downstream,
    "9. Lightweight networks": lightweight,
}
"""Chapter title -> the chapter module whose ``paper_comparisons(study)`` gives its paper tables."""

CHAPTER = "discussion"
"""This chapter's name in the claims table."""
T1, T2, T3, T4 = preliminaries.TABLE1, subset_size.TABLE2, subset_size.TABLE3, subset_size.TABLE4
T5, T6 = task_complexity.PAPER_TABLE, out_of_distribution.PAPER_TABLE
T7, T8 = noise_robustness.TABLE7, distillation.TABLE8
"""The benchmark's Tables 1-8, which the claims read."""

KNOBS: dict[str, Any] = {"compute_missing": False, "epoch_gain_threshold": 1.5}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def chapter_title(module: str) -> str:
    """The title of the chapter that module ``sslvid.experiments.<module>`` backs (the module name if none)."""
    return next((title for title, chapter in CHAPTERS.items() if chapter.__name__.endswith(f".{module}")), module)


# ---------------------------------------------------------------------- collecting the tables


@dataclass
class Collected:
    """Every paper table's ``normalise_comparison`` frame (one per ``list_paper_tables()``), how each chapter
    answered (``chapter``, ``module``, ``status``, ``detail``, ``tables``) and, per table, where its reproduced
    values come from or why they are missing."""

    tables: dict[str, pd.DataFrame]
    chapters: pd.DataFrame
    notes: dict[str, str]


def collect_comparisons(
    study: Study, chapters: Mapping[str, Any] | None = None, compute_missing: bool = False
) -> Collected:
    """Every chapter's ``paper_comparisons`` (``chapters``: title -> module or stand-in; None: ``CHAPTERS``),
    normalised, with NaN frames for what no chapter gave; cached results only unless ``compute_missing``.

    Only ``NotCachedError`` (itself, or as the cause of another error) is caught: the chapter's row reads
    "results missing"; any other error of a chapter is a bug and propagates (a result other than a dict:
    ``TypeError``).
    """
    reader = study if compute_missing else study.cached_only()
    names = list_paper_tables()
    tables: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    rows = []
    for title, source in (CHAPTERS if chapters is None else chapters).items():
        module = getattr(source, "__name__", title).rsplit(".", 1)[-1]
        status, detail, got = _call_chapter(source, reader)
        rows.append(
            {"chapter": title, "module": module, "status": status, "detail": detail, "tables": ", ".join(sorted(got))}
        )
        for name, frame in got.items():
            if name in names and frame.empty:
                notes[name] = f"chapter {title} returned an empty frame"
            elif name in names:
                tables[name], notes[name] = normalise_comparison(name, frame), f"from chapter {title}"
    answered = {row["chapter"]: row["status"] for row in rows}
    for name in set(names) - set(tables):
        title = chapter_title(paper_table_info(name).chapter)
        status = answered.get(title)
        why = {None: "was not collected", "ok": "returned no comparison for this table"}.get(status)
        notes.setdefault(name, f"not reproduced: chapter {title} {why or f'gave no numbers ({status})'}")
    return Collected(
        {n: tables[n] if n in tables else empty_comparison(n) for n in names},
        pd.DataFrame(rows, columns=["chapter", "module", "status", "detail", "tables"]),
        notes,
    )


def _call_chapter(source: Any, study: Study) -> tuple[str, str, dict[str, pd.DataFrame]]:
    """(status, detail, tables) of one chapter; status "ok" or "results missing"."""
    try:
        got = source.paper_comparisons(study)
    except Exception as error:
        cause = not_cached_cause(error)
        if cause is None:
            raise
        return "results missing", f"{cause}: run the chapter first", {}
    if not isinstance(got, Mapping):
        raise TypeError(f"{source!r}.paper_comparisons returned {type(got).__name__}, not a dict")
    return "ok", "", {str(k): v for k, v in got.items() if isinstance(v, pd.DataFrame)}


def empty_comparison(table: str) -> pd.DataFrame:
    """The paper's cells of ``table`` with NaN reproduced values (keys, ``metric``, ``paper``, ...)."""
    keys = list(paper_table_info(table).keys)
    frame = load_paper_table(table, tidy=True)[[*keys, "metric", "value"]].rename(columns={"value": "paper"})
    frame = frame.astype({k: str for k in keys}).assign(reproduced=np.nan, n=0, difference=np.nan)
    return frame.reset_index(drop=True)


def normalise_comparison(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A chapter's comparison frame in the one shape this chapter reads.

    Keys as text (50.0 -> "50", "10k" stays), a ``metric`` column (when the frame has none: a text column
    holding only the table's value names, else inferred from the paper table: the value column whose printed
    number matches ``paper``), ``n`` and ``difference``.

    Raises:
        ValueError: when the frame lacks ``paper`` / ``reproduced`` or one of the table's keys.
    """
    info = paper_table_info(table)
    keys = list(info.keys)
    missing = [c for c in ("paper", "reproduced", *keys) if c not in frame]
    if missing:
        raise ValueError(f"no column {missing}; it has {', '.join(map(str, frame.columns))}")
    out = frame.copy()
    out[keys] = out[keys].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    out[["paper", "reproduced"]] = out[["paper", "reproduced"]].apply(pd.to_numeric, errors="coerce")
    if "metric" not in out:
        text = [c for c in out.columns if c not in keys and not pd.api.types.is_numeric_dtype(out[c])]
        named = [c for c in text if len(out) and out[c].isin(info.values).all()]
        if named:
            out["metric"] = out[named[0]]
        else:  # per row, the paper value column whose number at the row's keys equals ``paper``
            tidy = load_paper_table(table, tidy=True).astype({k: str for k in keys}).dropna(subset=["value"])
            printed = {(*row[keys], round(float(row["value"]), 6)): row["metric"] for _, row in tidy.iterrows()}
            found = [
                printed.get((*row[keys], round(float(row["paper"]), 6)), info.values[0]) for _, row in out.iterrows()
            ]
            out["metric"] = pd.Series(found, index=out.index, dtype=object)
    if "n" not in out:
        out["n"] = out["reproduced"].notna().astype(int)
    out["difference"] = out["reproduced"] - out["paper"]
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------- the difference of scale


def setup_table(study: Study) -> pd.DataFrame:
    """The paper's setting (benchmark §3.2-3.4) beside this profile's, from the pre-training configs of both
    profiles and the study's protocol and targets: columns ``aspect``, ``paper``, ``here (<profile>)``."""
    here = study.pretrain_config({"task": "vcop", "backbone": "r2plus1d_18"})
    paper = PretrainConfig.for_profile("paper", task="vcop", backbone="r2plus1d_18")
    longer = study.own_lengths(SIX_TASKS, "r2plus1d_18")
    rows = [
        ("clip (frames x height x width)", _clip(paper), _clip(here)),
        ("backbone width", f"{paper.width:g} (published networks)", f"{here.width:g}"),
        (
            "pre-training data",
            "Kinetics-400 / Something-Something v2 subsets",
            f"{here.dataset} (digit videos; 'SSv2' = digits-motion-pool)",
        ),
        ("subset '50k'", "50,000 videos (125 per class of 400)", f"{here.subset_per_class} videos per class"),
        (
            "pre-training epochs",
            f"{paper.epochs} (checkpoints 50, 100, 150, 200)",
            f"{here.epochs} (checkpoint every {here.checkpoint_every}: stand-ins for 50-200)"
            + ("" if longer == "none" else f"; tasks with their own length (epochs/spacing): {longer}"),
        ),
        ("evaluation protocol", "finetuning end to end", study.protocol),
        ("appearance target", "UCF101", study.target("appearance")),
        ("motion target", "Diving48 (HMDB51 in Tables 8-9)", study.target("motion")),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", f"here ({study.profile})"])


def _clip(config: PretrainConfig) -> str:
    return f"{config.frames}x{config.crop_size}x{config.crop_size}"


def scale_notes(study: Study) -> pd.DataFrame:
    """Per paper table, the difference of scale in words (the common part from the study's configs, the rest
    from ``PaperTable.scale``): ``table``, ``paper table``, ``what differs``."""
    here = study.pretrain_config({"task": "vcop", "backbone": "r2plus1d_18"})
    paper = PretrainConfig.for_profile("paper", task="vcop", backbone="r2plus1d_18")
    longer = study.own_lengths(SIX_TASKS, "r2plus1d_18")
    epochs = f"{here.epochs} epochs" + ("" if longer == "none" else f" ({longer}: epochs/checkpoint spacing)")
    fill = {
        "appearance": study.target("appearance"),
        "motion": study.target("motion"),
        "protocol": study.protocol,
        "epochs": here.epochs,
        "clip": _clip(here),
        "clip_hw": f"{here.crop_size}x{here.crop_size}",
    }
    profile = get_profile(study.profile)
    same_length = {grid for grid, fields in profile.grid_fields.items() if "epochs" in fields}

    def common(chapter: str) -> str:  # a chapter whose grid (of the same name) sets one length has no longer tasks
        length = f"{here.epochs} epochs" if chapter in same_length else epochs
        kept = profile.chapter_axes.get(chapter, {})  # the grid points a chapter runs by default at this scale
        only = "".join(f"; {axis} {', '.join(values)} only" for axis, values in kept.items())
        return (
            f"{_clip(here)} clips at width {here.width:g}, {length}, {study.protocol}{only} "
            f"(paper: {_clip(paper)}, width {paper.width:g}, {paper.epochs} epochs, finetuning)"
        )

    return pd.DataFrame(
        {
            "table": info.name,
            "paper table": info.title,
            "what differs": f"{info.scale.format(**fill)}; {common(info.chapter)}",
        }
        for info in map(paper_table_info, list_paper_tables())
    )


# ---------------------------------------------------------------------- agreement


def sign_agreement(table: str, frame: pd.DataFrame) -> tuple[int, int]:
    """(agreeing, compared) pairs of the table's key comparison (``PaperTable.axis``): within each group of equal
    other keys (and metric), the pairs of cells both sides measured, agreeing when ``reproduced`` orders them as
    ``paper`` does; pairs the paper ties are skipped."""
    info = paper_table_info(table)
    if not info.axis or info.axis not in frame:
        return 0, 0
    keys = [k for k in info.keys if k != info.axis and k in frame] + (["metric"] if "metric" in frame else [])
    both = frame.dropna(subset=["paper", "reproduced"])
    agree = compared = 0
    for _, group in both.groupby(keys, dropna=False) if keys else [(None, both)]:
        paper = np.sign(np.subtract.outer(group["paper"].to_numpy(), group["paper"].to_numpy()))
        ours = np.sign(np.subtract.outer(group["reproduced"].to_numpy(), group["reproduced"].to_numpy()))
        pairs = np.triu(paper != 0, 1)  # each pair once, paper ties skipped
        compared += int(pairs.sum())
        agree += int((ours == paper)[pairs].sum())
    return agree, compared


def agreement_claim(table: str, metric: str, frame: pd.DataFrame) -> Claim:
    """Does our table rank its cells as the paper's does? Spearman's rho of the cells both sides
    measured, with its uncertainty (``sslvid.analysis.claims.spearman``: exact permutation p up to
    8 cells, a bootstrap over cells above)."""
    info = paper_table_info(table)
    both = frame.dropna(subset=["paper", "reproduced"])
    claim = chapter_claim(
        CHAPTER,
        f"agreement_{table}_{metric}",
        f"Our cells of {info.title} ({metric}) rank as the paper's do.",
        "Spearman's rho, our cells against the paper's",
        section="",
        table=info.table,
        paper=info.source,
        digits=2,
    )
    rho = spearman(both["paper"], both["reproduced"]) if len(both) else None
    return claim.measured(
        rho, f"{len(both)} cells reproduced: too few, or one side constant" if len(both) else "no cell reproduced"
    )


def agreement(table: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Agreement rows of one table, one per metric.

    Columns: ``table``, ``metric``, ``cells`` (the paper's), ``reproduced`` (cells with both
    numbers), ``spearman`` with its 95% interval (``rho low``, ``rho high``) and ``verdict``
    (``agreement_claim``), ``sign agreement`` (fraction of key-comparison pairs ordered alike,
    NaN when none), ``pairs``, ``mean difference`` and ``mean |difference|`` (reproduced - paper).
    """
    rows = []
    for metric, part in frame.groupby("metric", sort=False) if "metric" in frame else [("", frame)]:
        both = part.dropna(subset=["paper", "reproduced"])
        agree, pairs = sign_agreement(table, part)
        claim = agreement_claim(table, str(metric), part)
        rho = claim.estimate or Estimate(np.nan)
        rows.append(
            {
                "table": table,
                "metric": metric,
                "cells": int(part["paper"].notna().sum()),
                "reproduced": len(both),
                "spearman": rho.value,
                "rho low": rho.low,
                "rho high": rho.high,
                "verdict": claim.verdict,
                "sign agreement": agree / pairs if pairs else np.nan,
                "pairs": pairs,
                "mean difference": both["difference"].mean(),
                "mean |difference|": both["difference"].abs().mean(),
            }
        )
    return rows


def agreement_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``agreement`` of every table, one row per (table, metric)."""
    return pd.DataFrame([row for name, frame in tables.items() for row in agreement(name, frame)])


def agreement_facts(agree: pd.DataFrame) -> dict[str, Any]:
    """The ``agreement_table`` of one or more tables in a few numbers, for the notebook's prose.

    Returns:
        ``tables`` / ``tables measured`` (with a reproduced cell), ``cells`` / ``cells reproduced``,
        ``median rho`` (NaN when none), ``pairs`` and ``pairs agreeing`` (share of key comparisons
        ordered as in the paper), and the count of each rank-agreement verdict.
    """
    measured = agree[agree["reproduced"] > 0]
    signs = measured.dropna(subset=["sign agreement"])
    pairs = int(signs["pairs"].sum())
    verdicts = agree["verdict"].value_counts()
    return {
        "tables": int(agree["table"].nunique()),
        "tables measured": int(measured["table"].nunique()),
        "cells": int(agree["cells"].sum()),
        "cells reproduced": int(measured["reproduced"].sum()),
        "median rho": float(measured["spearman"].median()),
        "pairs": pairs,
        "pairs agreeing": float((signs["sign agreement"] * signs["pairs"]).sum() / pairs) if pairs else np.nan,
        **{v: int(verdicts.get(v, 0)) for v in VERDICTS},
    }


# ---------------------------------------------------------------------- claims


Measure = Callable[[Mapping[str, pd.DataFrame], str], "Estimate | str"]
"""``measure(tables, column)`` -> the claim's quantity as an ``Estimate``, or the reason it is not measured;
``column`` is "paper" (the printed numbers) or "reproduced" (ours)."""


@dataclass(frozen=True)
class PaperClaim:
    """One checkable recommendation or conclusion of the benchmark paper, read on the paper tables.

    Args:
        key: short name. section: where the paper says it. statement: the claim, as checked.
        tables: the paper tables it reads. quantity: what ``measure`` returns, in a line.
        measure: the quantity from the tables (``Measure``).
        direction, threshold: the claim says the quantity is above (">") or below ("<") ``threshold``.
    """

    key: str
    section: str
    statement: str
    tables: tuple[str, ...]
    quantity: str
    measure: Measure
    direction: str = ">"
    threshold: float = 0.0

    def check(self, tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Claim:
        """The claim measured on ``column`` of ``tables`` (``sslvid.analysis.claims.Claim``)."""
        got = self.measure(tables, column)
        names = [paper_table_info(t) for t in self.tables]
        claim = chapter_claim(
            CHAPTER,
            self.key,
            self.statement,
            self.quantity,
            self.direction,
            self.threshold,
            section=self.section,
            table=", ".join(n.table for n in names),
            paper=names[0].source if names else "",
        )
        return claim.measured(got, "") if isinstance(got, Estimate) else claim.measured(None, str(got))


def cells(
    tables: Mapping[str, pd.DataFrame], table: str, column: str = "reproduced", metric: str | None = None
) -> pd.DataFrame:
    """The measured cells of one table and ``metric`` (None: its first value column): its key columns and
    ``value`` (= ``column``, "paper" or "reproduced", else ``ValueError``), NaN rows dropped."""
    if column not in ("paper", "reproduced"):
        raise ValueError(f"column is 'paper' or 'reproduced', got {column!r}")
    info = paper_table_info(table)
    frame = tables.get(table)
    if frame is None or column not in frame:
        return pd.DataFrame(columns=[*info.keys, "value"])
    if "metric" in frame:
        frame = frame[frame["metric"] == (metric or info.values[0])]
    out = frame[[k for k in info.keys if k in frame]].assign(value=pd.to_numeric(frame[column], errors="coerce"))
    return out.dropna(subset=["value"]).reset_index(drop=True)


def _series(frame: pd.DataFrame, by: list[str], axis: str) -> dict[tuple, dict[str, float]]:
    """Group -> {axis value: value}."""
    groups = frame.groupby(by, sort=False, dropna=False)
    return {key: dict(zip(part[axis].astype(str), part["value"].astype(float))) for key, part in groups}


def _margins(frame: pd.DataFrame, by: list[str], axis: str, a: str, b: str) -> list[float]:
    """Per group of ``by`` that has both ``a`` and ``b`` along ``axis``: the value at ``a`` minus that at ``b``."""
    return [v[a] - v[b] for v in _series(frame, by, axis).values() if {a, b} <= set(v)]


SUBSET_ORDER = ("10k", "30k", "50k", "100k")


def _gains_around_30k(tables: Mapping[str, pd.DataFrame], column: str, transformers: bool) -> list[tuple[float, float]]:
    """(gain 10k->30k, gain 30k->largest subset above 30k) per series with all three: Table 2 per task
    (R(2+1)D, CNN series only), Table 3 per backbone (transformers or CNNs) at its last epoch."""
    series = [] if transformers else list(_series(cells(tables, T2, column), ["pretext"], "subset").values())
    t3 = cells(tables, T3, column)
    if len(t3):
        t3 = t3[t3["backbone"].str.lower().str.contains("swin|transformer") == transformers]
        last = t3.assign(e=pd.to_numeric(t3["epochs"], errors="coerce")).sort_values("e")
        series += _series(last.groupby(["backbone", "subset"]).tail(1), ["backbone"], "subset").values()
    out = []
    for values in series:
        larger = [s for s in SUBSET_ORDER[2:] if s in values]
        if "10k" in values and "30k" in values and larger:
            out.append((values["30k"] - values["10k"], values[larger[-1]] - values["30k"]))
    return out


def measure_subset_30k(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§6 recommendation 1 (Tables 2, 3): per CNN series (Table 2's tasks, Table 3's CNNs at their last
    epoch), the gain from 10k to 30k minus the gain from 30k to the largest subset; mean over series."""
    gains = _gains_around_30k(tables, column, transformers=False)
    if not gains:
        return "no series with 10k, 30k and a larger subset (Tables 2, 3)"
    return bootstrap_mean([to30 - beyond for to30, beyond in gains])


def measure_transformer_more_data(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§6 recommendation 2 (Table 3 / Figure 2): the transformers' mean gain beyond 30k minus the CNNs'."""
    cnn = _gains_around_30k(tables, column, transformers=False)
    swin = _gains_around_30k(tables, column, transformers=True)
    if not swin or not cnn:
        return (
            "no transformer rows with 10k, 30k and a larger subset in Table 3 (the paper shows Video Swin in "
            "Figure 2 only)"
        )
    return bootstrap_group_difference([g[1] for g in swin], [g[1] for g in cnn])


def measure_epochs_gain(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§6 recommendation 3, §4.2: the median gain from epoch 100 to 200 over Table 4's tasks and
    Table 3's (backbone, subset) series (points)."""
    gains = [
        subset_size.gains(cells(tables, table, column), "epochs", ["100", "200"], by)["gain"]
        for table, by in ((T4, ["pretext"]), (T3, ["backbone", "subset"]))
    ]
    both = pd.concat(gains, ignore_index=True)
    return bootstrap_mean(both, statistic="median") if len(both) else "no series with epochs 100 and 200 (Tables 3, 4)"


def measure_ood_data(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§6 recommendation 4, §7 conclusion 3 (Table 6): the smaller of two margins, best K400 model minus
    best SSv2 model on UCF101 and best SSv2 minus best K400 on Diving48 (points). One number per margin:
    no interval (the comparison frames carry no test-video counts)."""
    t6 = cells(tables, T6, column, "top1")
    margins = []
    for target, favoured, other in (("ucf101", "k400", "ssv2"), ("diving48", "ssv2", "k400")):
        best = t6[t6["target"] == target].groupby("pretrain")["value"].max()
        if favoured not in best or other not in best:
            return f"Table 6 lacks {target} pre-trained on both K400 and SSv2"
        margins.append(best[favoured] - best[other])
    return Estimate(float(min(margins)), n=2)


def _task_field(field: str, task: str) -> Any:
    """A registered pretext task's ``field`` (``contrastive``, ``category``); None for a name not registered."""
    try:
        return getattr(TASKS.get(task), field)
    except (ValueError, KeyError, AttributeError):
        return None


_contrastive, _category = partial(_task_field, "contrastive"), partial(_task_field, "category")


def measure_ood_task_kind(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§4.4 inference (Table 6): per (task, target) with both pre-training sets, the margin in the predicted
    direction (SSv2 minus K400 for non-contrastive tasks, K400 minus SSv2 for contrastive); mean over pairs."""
    margins = []
    for (_, task), values in _series(cells(tables, T6, column, "top1"), ["target", "pretext"], "pretrain").items():
        kind = _contrastive(task)
        if kind is not None and {"k400", "ssv2"} <= set(values):
            margins.append((values["k400"] - values["ssv2"]) * (1 if kind else -1))
    if not margins:
        return "no task of Table 6 with both K400 and SSv2 pre-training"
    return bootstrap_mean(margins)


def measure_task_families(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§7 conclusion 1 (Table 1): share of backbones whose best contrastive and best non-contrastive tasks
    belong to different categories (spatial, temporal, spatio-temporal; §3.1). A count: no interval."""
    differ = []
    for _, part in cells(tables, T1, column).groupby("backbone"):
        kinds = part["pretext"].map(_contrastive)
        if kinds.nunique() == 2:
            best = [_category(part.loc[part[kinds == k]["value"].idxmax(), "pretext"]) for k in (False, True)]
            differ.append(best[0] != best[1])
    if not differ:
        return "Table 1 lacks contrastive or non-contrastive tasks"
    return Estimate(float(np.mean(differ)), n=len(differ))


def measure_complexity(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§7 conclusion 2, §4.3 (Table 5): share of (task, backbone) series where the hardest complexity C3
    is the best. A count: no interval."""
    series = _series(cells(tables, T5, column), ["pretext", "backbone"], "complexity")
    full = [v for v in series.values() if {"C1", "C2", "C3"} <= set(v)]
    if not full:
        return "no (task, backbone) of Table 5 with C1, C2 and C3"
    return Estimate(float(np.mean([max(v, key=v.get) == "C3" for v in full])), n=len(full))


def _drops(tables: Mapping[str, pd.DataFrame], column: str) -> pd.DataFrame:
    """Table 7's relative drops (%) of registered pretext tasks, with their kind (``contrastive``)."""
    t7 = cells(tables, T7, column, "relative_drop_pct")
    return t7.assign(contrastive=t7["pretext"].map(_contrastive)).dropna(subset=["contrastive"])


def measure_noise_contrastive(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§7 conclusion 4 (Table 7): mean relative drop (%) of the contrastive tasks minus that of the
    non-contrastive ones. (§4.5's inference (i) says the opposite; this checks conclusion 4.)"""
    t7 = _drops(tables, column)
    if t7["contrastive"].nunique() < 2:
        return "Table 7 lacks contrastive or non-contrastive relative drops"
    contrastive = t7["contrastive"].astype(bool)
    return bootstrap_group_difference(t7["value"][contrastive], t7["value"][~contrastive])


def measure_noise_backbone(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§4.5 inference (ii) (Table 7): R(2+1)D's relative drop (%) minus ShuffleNet's, per pretext task;
    mean over the tasks both have."""
    r21d, shufflenet = PAPER_BACKBONES["r2plus1d_18"], PAPER_BACKBONES["shufflenet3d"]
    pairs = _margins(_drops(tables, column), ["pretext"], "backbone", r21d, shufflenet)
    return bootstrap_mean(pairs) if pairs else "Table 7 lacks a task with both backbones"


def measure_kd_student(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§5, §7 conclusion 5 (Table 8): the student minus its best teacher, mean over (subset, target) cells."""
    margins = []
    for metric in paper_table_info(T8).values:
        for values in _series(cells(tables, T8, column, metric), ["subset"], "model").values():
            teachers = [v for m, v in values.items() if m.startswith("teacher")]
            student = [v for m, v in values.items() if m.startswith("student")]
            if teachers and student:
                margins.append(max(student) - max(teachers))
    if not margins:
        return "Table 8 has no subset with both a student and a teacher"
    return bootstrap_mean(margins)


def measure_small_matches_big(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§6 discussion, §7 conclusion 6 (Table 1): the largest margin of ShuffleNet over R(2+1)D over the
    pretext tasks (points). A maximum over single cells: no interval."""
    t1 = cells(tables, T1, column)
    margins = _margins(t1, ["pretext"], "backbone", PAPER_BACKBONES["shufflenet3d"], PAPER_BACKBONES["r2plus1d_18"])
    return Estimate(float(max(margins)), n=len(margins)) if margins else "Table 1 has no task with both backbones"


def measure_more_data(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Estimate | str:
    """§4.2 inference (Table 2): per task, accuracy on the largest subset minus the smallest; mean over tasks."""
    gains = subset_size.gains(cells(tables, T2, column), "subset", SUBSET_ORDER, ["pretext"])["gain"]
    return bootstrap_mean(gains) if len(gains) else "Table 2 has no task with two subset sizes"


def make_claims(epoch_gain_threshold: float = KNOBS["epoch_gain_threshold"]) -> tuple[PaperClaim, ...]:
    """The paper's recommendations and conclusions as checkable claims, in the order the chapter shows them;
    ``epoch_gain_threshold``: points below which the median gain from 100 to 200 epochs is "minimal" (§4.2: 1.5).
    """
    return (
        PaperClaim(
            "subset_30k",
            "§6 recommendation 1",
            "Around 30k pre-training videos are enough for CNNs: beyond 30k the gain is smaller than up to 30k.",
            (T2, T3),
            "gain 10k->30k minus gain beyond 30k, mean over CNN series (points)",
            measure_subset_30k,
        ),
        PaperClaim(
            "transformer_more_data",
            "§6 recommendation 2",
            "Transformers need more data than CNNs: Video Swin gains more beyond 30k than the CNNs.",
            (T3,),
            "transformer minus CNN gain beyond 30k (points)",
            measure_transformer_more_data,
        ),
        PaperClaim(
            "epochs_100_150",
            "§6 recommendation 3, §4.2",
            f"100-150 epochs suffice: the median gain from 100 to 200 epochs is below {epoch_gain_threshold:g} points.",
            (T3, T4),
            "median gain from epoch 100 to 200 (points)",
            measure_epochs_gain,
            "<",
            epoch_gain_threshold,
        ),
        PaperClaim(
            "ood_data_matters",
            "§6 recommendation 4, §7 conclusion 3",
            "For out-of-distribution targets the "
            "pre-training data matters: the best appearance model is K400-pre-trained, the best motion model "
            "SSv2.",
            (T6,),
            "smaller margin of the predicted best pre-training (points)",
            measure_ood_data,
        ),
        PaperClaim(
            "ood_task_kind",
            "§4.4 inference",
            "Non-contrastive tasks learn better from SSv2, contrastive tasks from K400.",
            (T6,),
            "margin in the predicted direction, mean over (task, target) (points)",
            measure_ood_task_kind,
        ),
        PaperClaim(
            "task_families",
            "§7 conclusion 1",
            "Different transformation categories prevail among contrastive and non-contrastive tasks.",
            (T1,),
            "share of backbones whose best tasks differ in category",
            measure_task_families,
            ">",
            0.5,
        ),
        PaperClaim(
            "complexity",
            "§7 conclusion 2, §4.3",
            "A more complex pretext task is not always better: C3 is not the best everywhere.",
            (T5,),
            "share of (task, backbone) series where C3 is best",
            measure_complexity,
            "<",
            1.0,
        ),
        PaperClaim(
            "noise_contrastive",
            "§7 conclusion 4",
            "Contrastive tasks are more robust to noise (smaller relative drop) than non-contrastive ones.",
            (T7,),
            "contrastive minus non-contrastive mean relative drop (%)",
            measure_noise_contrastive,
            "<",
        ),
        PaperClaim(
            "noise_backbone",
            "§4.5 inference (ii)",
            "R(2+1)D is more robust to noise (smaller relative drop) than ShuffleNet.",
            (T7,),
            "R(2+1)D minus ShuffleNet relative drop, mean over tasks (%)",
            measure_noise_backbone,
            "<",
        ),
        PaperClaim(
            "kd_student",
            "§5, §7 conclusion 5",
            "A distilled student beats its teachers.",
            (T8,),
            "student minus best teacher, mean over (subset, target) (points)",
            measure_kd_student,
        ),
        PaperClaim(
            "bigger_not_always_better",
            "§6 discussion, §7 conclusion 6",
            "The network with more parameters "
            "does not always learn better features: ShuffleNet matches R(2+1)D somewhere.",
            (T1,),
            "largest margin of ShuffleNet over R(2+1)D over tasks (points)",
            measure_small_matches_big,
            ">",
            -1e-9,
        ),
        PaperClaim(
            "more_data_helps",
            "§4.2 inference",
            "As a rule accuracy grows with the pre-training subset.",
            (T2,),
            "largest minus smallest subset, mean over tasks (points)",
            measure_more_data,
        ),
    )


CLAIMS: tuple[PaperClaim, ...] = make_claims()
"""The paper's recommendations and conclusions as checkable claims, in the order the chapter shows them."""


def check_claims(tables: Mapping[str, pd.DataFrame], claims: Iterable[PaperClaim] = CLAIMS) -> list[Claim]:
    """Every claim measured on our numbers (``Claim``: value, 95% interval, verdict)."""
    return [claim.check(tables, "reproduced") for claim in claims]


def claims_on_paper(tables: Mapping[str, pd.DataFrame], claims: Iterable[PaperClaim] = CLAIMS) -> pd.DataFrame:
    """Every claim on the paper's own printed numbers (no uncertainty printed: ``printed_verdict``), columns
    ``claim``, ``paper's value``, ``paper's numbers`` (verdict), ``reason``."""
    return printed_claims((spec.check(tables, "paper") for spec in claims), reason=True)


def book_claims(study: Study) -> list[Claim]:
    """Every claim the chapters recorded at the study's profile, read from the claims table beside the
    results (``sslvid.store.claims``), never by running or importing a chapter."""
    return stored_claims(study.claims, study.profile)


# ---------------------------------------------------------------------- chapter entry points


def comparison_status(collected: Collected) -> pd.DataFrame:
    """One row per paper table: ``table``, ``chapter``, ``cells``, ``reproduced``, ``note``."""
    return pd.DataFrame(
        {
            "table": name,
            "chapter": chapter_title(paper_table_info(name).chapter),
            "cells": int(frame["paper"].notna().sum()),
            "reproduced": int(frame.dropna(subset=["paper", "reproduced"]).shape[0]),
            "note": collected.notes.get(name, ""),
        }
        for name, frame in collected.tables.items()
    )


def paper_comparisons(
    study: Study, chapters: Mapping[str, Any] | None = None, compute_missing: bool = False
) -> dict[str, pd.DataFrame]:
    """Every paper table's ``paper_vs_reproduced`` frame, as gathered from the chapters (cached results only)."""
    return collect_comparisons(study, chapters, compute_missing).tables


def table_heading(name: str, collected: Collected, notes: pd.DataFrame) -> str:
    """Markdown heading of one comparison: the paper table, what differs in scale (``notes``: ``scale_notes``),
    where ours come from, and per metric the cells reproduced and the rank-agreement claim (``agreement_claim``)
    in the one renderer's words."""
    info = paper_table_info(name)
    differs = notes.set_index("table").loc[name, "what differs"] if name in set(notes["table"]) else ""
    parts = [
        f"{metric}: {len(both)} of {int(part['paper'].notna().sum())} cells. "
        + sentence(agreement_claim(name, str(metric), part))
        for metric, part in collected.tables[name].groupby("metric", sort=False)
        if len(both := part.dropna(subset=["paper", "reproduced"]))
    ]
    return (
        f"### {info.title[0].upper()}{info.title[1:]}: {info.caption}\n\n"
        f"`{name}` ({info.unit}). **Scale:** {differs}. **Reproduced:** {collected.notes.get(name, '')}. "
        + (" ".join(parts) if parts else "No cell of this table is reproduced yet.")
    )


def agreement_figure(tables: Mapping[str, pd.DataFrame], columns: int = 4) -> Figure | None:
    """Paper (x) against reproduced (y), one panel per table with reproduced cells, one colour per metric;
    None when no table has a reproduced cell."""
    measured = {n: f.dropna(subset=["paper", "reproduced"]) for n, f in tables.items()}
    measured = {n: f for n, f in measured.items() if len(f)}
    if not measured:
        return None
    rows, across = -(-len(measured) // columns), min(columns, len(measured))
    fig, axes = plt.subplots(rows, across, figsize=(3.2 * across, 3 * rows), squeeze=False)
    for ax, (name, frame) in zip(axes.flat, measured.items()):
        for metric, part in frame.groupby("metric"):
            ax.scatter(part["paper"], part["reproduced"], s=14, label=str(metric))
        ax.set_title(paper_table_info(name).title, fontsize=9)
        ax.set_xlabel("paper", fontsize=8)
        ax.set_ylabel("reproduced", fontsize=8)
        ax.tick_params(labelsize=7)
        if frame["metric"].nunique() > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(measured) :]:
        ax.axis("off")
    fig.suptitle("Paper against reproduced, per table (each point is one cell)", fontsize=10)
    fig.tight_layout()
    return fig
