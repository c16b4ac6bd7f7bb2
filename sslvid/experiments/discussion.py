"""Chapter "Discussion": the benchmark paper's recommendations checked against this book's numbers.

Benchmark paper §6 ("Discussions and analysis": four recommendations) and §7 (six
conclusions), plus the inferences of §4-5 that they rest on. The chapter

1. collects every chapter's "paper vs reproduced" tables (``paper_comparisons(study)`` of the
   modules in ``CHAPTER_MODULES``), one for every table in ``data/paper-tables/``; a chapter
   module that is missing, or whose results are not in the stores, gives a table with NaN
   reproduced values and a note naming the chapter that produces it (``collect_comparisons``);
2. states per table how this profile's setting differs from the paper's (``scale_notes``);
3. measures the agreement per table and metric: Spearman rank correlation of the cells, the
   sign agreement of the table's key comparisons, the mean difference (``agreement_table``);
4. checks each recommendation or conclusion as a claim on the paper's own numbers and on ours
   (``CLAIMS``, ``check_claims``): "holds", "does not hold" or "not measured", with numbers.

By default nothing is trained or evaluated here: the study is wrapped so that a run, an
evaluation or a feature extraction missing from the stores raises ``NotCachedError``
(``cached_only``, which also reads the results table once instead of once per lookup), and the
chapter that needs it is reported as "results missing".
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from sslvid.engine.config import PretrainConfig
from sslvid.evaluate.features import FeatureCache
from sslvid.experiments.study import Study
from sslvid.pretext.base import TASKS
from sslvid.store.paper_tables import PAPER_BACKBONES, list_paper_tables, load_paper_table, paper_table_info
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunHandle, RunStore

CHAPTER_MODULES: dict[str, str] = {
    "preliminaries": "2. Preliminaries",
    "subset_size": "3. Subset size and duration",
    "task_complexity": "4. Task complexity",
    "out_of_distribution": "5. Out of distribution",
    "noise_robustness": "6. Noise robustness",
    "distillation": "7. Knowledge distillation",
    "downstream": "8. Downstream tasks",
    "lightweight": "9. Lightweight networks",
}
"""Module name in ``sslvid.experiments`` -> the chapter it backs."""

TABLE_CHAPTER: dict[str, str] = {
    "benchmark_t1_pretext_k400_50k": "preliminaries",
    "benchmark_t2_subset_size_r21d": "subset_size",
    "benchmark_t3_rspnet_subset_epochs": "subset_size",
    "benchmark_t4_epochs_r21d_50k": "subset_size",
    "benchmark_t5_task_complexity": "task_complexity",
    "benchmark_t6_ood_r21d_30k": "out_of_distribution",
    "benchmark_t7_noise_ucf101": "noise_robustness",
    "benchmark_t8_kd_subsets_rspnet": "distillation",
    "benchmark_t9_sota": "downstream",
    "graphkd_t1_sota": "distillation",
    "graphkd_t2_ablation": "distillation",
    "lightweight_t1_cost": "lightweight",
    "lightweight_t1_stl10": "lightweight",
    "skdsrl_t1_baseline": "distillation",
    "skdsrl_t2_mechanisms_ucf101_r18": "distillation",
}
"""Paper table -> the chapter module whose ``paper_comparisons`` produces it."""

VALUE_COLUMNS = ("paper", "reproduced", "n", "difference")
"""The columns of a ``paper_vs_reproduced`` frame besides its key columns."""

KEY_COMPARISONS: dict[str, tuple[str, str]] = {
    "benchmark_t1_pretext_k400_50k": ("backbone", "R(2+1)D against ShuffleNet, per pretext task"),
    "benchmark_t2_subset_size_r21d": ("subset", "subset sizes against each other, per pretext task"),
    "benchmark_t3_rspnet_subset_epochs": ("subset", "subset sizes against each other, per backbone and epochs"),
    "benchmark_t4_epochs_r21d_50k": ("epochs", "pre-training lengths against each other, per pretext task"),
    "benchmark_t5_task_complexity": ("complexity", "complexities against each other, per task and backbone"),
    "benchmark_t6_ood_r21d_30k": ("pretrain", "K400 against SSv2 pre-training, per task and target"),
    "benchmark_t7_noise_ucf101": ("backbone", "R(2+1)D against ShuffleNet, per pretext task"),
    "benchmark_t8_kd_subsets_rspnet": ("model", "student against teachers, per subset"),
    "benchmark_t9_sota": ("approach", "approaches against each other"),
    "graphkd_t1_sota": ("method", "methods against each other"),
    "graphkd_t2_ablation": ("method", "distillation variants against each other"),
    "lightweight_t1_cost": ("backbone", "backbones against each other"),
    "lightweight_t1_stl10": ("method", "methods against each other, per backbone"),
    "skdsrl_t1_baseline": ("method", "SKD-SRL against independent training, per backbone"),
    "skdsrl_t2_mechanisms_ucf101_r18": ("mechanism", "training mechanisms against each other"),
}
"""Per table: the key column whose values are compared pairwise (the other keys held fixed), and what that means."""


# ---------------------------------------------------------------------- cached-only study


class NotCachedError(LookupError):
    """A run, evaluation or feature set that the stores do not hold, asked for in cached-only mode."""


class CachedRunStore(RunStore):
    """A run store that hands out complete runs only: asking for a missing run raises ``NotCachedError``.

    Training and evaluation ask the store for a run's handle before they train; a complete
    run is read as usual, so cached results load while nothing new is trained.
    """

    def run(self, config: Any) -> RunHandle:
        handle = super().run(config)
        if not handle.is_complete:
            raise NotCachedError(f"run {handle.key} is not complete in {self.root}")
        return handle

    def find(self, config: Any) -> RunHandle | None:
        handle = super().run(config)
        return handle if handle.is_complete else None


class CachedFeatureCache(FeatureCache):
    """A feature cache that never extracts: a miss raises ``NotCachedError``."""

    def get_or_compute(self, spec: Mapping[str, Any], compute: Callable[[], Any]) -> Any:
        found = self.load(spec)
        if found is None:
            raise NotCachedError(f"features {self.key(spec)} are not cached in {self.root}")
        return found


class SnapshotResultsStore(ResultsStore):
    """The results table read once and kept in memory; writing raises ``NotCachedError``.

    Chapters look up every evaluation in the results table; reading the CSV for each lookup
    costs about half a second per call at a few thousand rows, so a read-only pass over all
    chapters reads it once instead.
    """

    def __init__(self, path: Any = None, timeout: float = -1) -> None:
        super().__init__(path, timeout)
        self._snapshot: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        if self._snapshot is None:
            self._snapshot = super().table()
        return self._snapshot.copy()

    def upsert(self, rows: Any) -> pd.DataFrame:
        raise NotCachedError(f"a result missing from {self.path} would be written: nothing is computed here")

    def delete(self, config_hash: str) -> int:
        raise NotCachedError(f"{self.path} is read-only here")


def cached_only(study: Study) -> Study:
    """A copy of ``study`` over the same stores that reads what is cached and trains or evaluates nothing."""
    return dataclasses.replace(study, store=CachedRunStore(study.store.root),
                               features=CachedFeatureCache(study.features.root),
                               results=SnapshotResultsStore(study.results.path), timings=[])


# ---------------------------------------------------------------------- collecting the tables


@dataclass
class Collected:
    """Every paper table's comparison frame, and how each chapter answered.

    Args:
        tables: paper table name -> ``paper_vs_reproduced`` frame (key columns, ``metric``,
            ``paper``, ``reproduced``, ``n``, ``difference``), one per ``list_paper_tables()``.
        chapters: one row per chapter module: ``chapter``, ``module``, ``status``, ``detail``, ``tables``.
        notes: paper table name -> where its reproduced values come from, or why they are missing.
    """

    tables: dict[str, pd.DataFrame]
    chapters: pd.DataFrame
    notes: dict[str, str]


ChapterSource = str | ModuleType | Any
"""A chapter: a module name in ``sslvid.experiments``, or any object with ``paper_comparisons(study)``."""


def collect_comparisons(study: Study, chapters: Mapping[str, ChapterSource] | Iterable[str] | None = None,
                        compute_missing: bool = False) -> Collected:
    """Every chapter's ``paper_comparisons``, normalised, with NaN frames for what no chapter gave.

    Args:
        study: the shared study.
        chapters: chapter name -> module name or object with ``paper_comparisons`` (tests pass
            stand-ins here), or module names; None: ``CHAPTER_MODULES``.
        compute_missing: let the chapters train and evaluate what the stores lack (False: cached
            results only, ``cached_only``).

    Returns:
        a ``Collected``; never raises for a chapter that is missing or fails.
    """
    sources = _chapter_sources(chapters)
    reader = study if compute_missing else cached_only(study)
    tables: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    rows = []
    for name, source in sources.items():
        status, detail, got = _call_chapter(source, reader)
        rows.append({"chapter": CHAPTER_MODULES.get(name, name), "module": name, "status": status,
                     "detail": detail, "tables": ", ".join(sorted(got))})
        for table_name, frame in got.items():
            if table_name not in set(list_paper_tables()):
                continue
            if frame.empty:
                notes[table_name] = f"chapter {CHAPTER_MODULES.get(name, name)} returned an empty frame"
                continue
            try:
                tables[table_name] = normalise_comparison(table_name, frame)
                notes[table_name] = f"from chapter {CHAPTER_MODULES.get(name, name)}"
            except ValueError as error:
                notes[table_name] = f"chapter {CHAPTER_MODULES.get(name, name)} gave an unreadable frame ({error})"
    chapter_table = pd.DataFrame(rows, columns=["chapter", "module", "status", "detail", "tables"])
    for table_name in list_paper_tables():
        if table_name not in tables:
            tables[table_name] = empty_comparison(table_name)
            notes[table_name] = _missing_note(table_name, chapter_table, notes.get(table_name))
    return Collected({n: tables[n] for n in list_paper_tables()}, chapter_table, notes)


def _chapter_sources(chapters: Mapping[str, ChapterSource] | Iterable[str] | None) -> dict[str, ChapterSource]:
    if chapters is None:
        return {name: name for name in CHAPTER_MODULES}
    if isinstance(chapters, Mapping):
        return dict(chapters)
    return {name: name for name in chapters}


def _call_chapter(source: ChapterSource, study: Study) -> tuple[str, str, dict[str, pd.DataFrame]]:
    """(status, detail, tables) of one chapter; statuses: ok, module missing, no paper_comparisons,
    results missing, failed."""
    if isinstance(source, str):
        try:
            source = importlib.import_module(f"sslvid.experiments.{source}")
        except ModuleNotFoundError as error:
            return "module missing", str(error), {}
    compare = getattr(source, "paper_comparisons", None)
    if not callable(compare):
        return "no paper_comparisons", f"{source!r} has no paper_comparisons(study)", {}
    try:
        got = compare(study)
    except Exception as error:  # a chapter's failure must not stop the discussion
        cause = _not_cached_cause(error)
        if cause is not None:
            return "results missing", f"{cause}: run the chapter first", {}
        return "failed", f"{type(error).__name__}: {error}", {}
    if not isinstance(got, Mapping):
        return "failed", f"paper_comparisons returned {type(got).__name__}, not a dict", {}
    frames = {str(k): v for k, v in got.items() if isinstance(v, pd.DataFrame)}
    return "ok", "", frames


def _not_cached_cause(error: BaseException) -> NotCachedError | None:
    """The ``NotCachedError`` behind ``error`` (itself, or its cause or context), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, NotCachedError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _missing_note(table: str, chapters: pd.DataFrame, earlier: str | None) -> str:
    producer = TABLE_CHAPTER.get(table)
    title = CHAPTER_MODULES.get(producer, producer)
    if earlier:
        return earlier
    row = chapters[chapters["module"] == producer]
    if row.empty:
        return f"not reproduced: chapter {title} was not collected"
    status = row["status"].iloc[0]
    if status == "ok":
        return f"not reproduced: chapter {title} returned no comparison for this table"
    return f"not reproduced: chapter {title} gave no numbers ({status})"


def empty_comparison(table: str) -> pd.DataFrame:
    """The paper's cells of ``table`` with NaN reproduced values (keys, ``metric``, ``paper``, ...)."""
    info = paper_table_info(table)
    tidy = load_paper_table(table, tidy=True)
    frame = tidy[[*info.keys, "metric", "value"]].rename(columns={"value": "paper"})
    frame = frame.astype({k: str for k in info.keys})
    frame["reproduced"] = np.nan
    frame["n"] = 0
    frame["difference"] = np.nan
    return frame.reset_index(drop=True)


def normalise_comparison(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A chapter's comparison frame in the one shape this chapter reads.

    Keys as text, a ``metric`` column (inferred from the paper table when the frame has
    none: the value column whose printed number matches ``paper``), ``n`` and ``difference``.

    Raises:
        ValueError: when the frame lacks ``paper`` / ``reproduced`` or one of the table's keys.
    """
    info = paper_table_info(table)
    missing = [c for c in ("paper", "reproduced", *info.keys) if c not in frame]
    if missing:
        raise ValueError(f"no column {missing}; it has {', '.join(map(str, frame.columns))}")
    out = frame.copy()
    for key in info.keys:
        out[key] = out[key].map(_as_text)
    out["paper"] = pd.to_numeric(out["paper"], errors="coerce")
    out["reproduced"] = pd.to_numeric(out["reproduced"], errors="coerce")
    if "metric" not in out:
        named = [c for c in out.columns if c not in info.keys and out[c].dtype == object
                 and len(out) and out[c].isin(info.values).all()]
        out["metric"] = out[named[0]] if named else _infer_metric(table, out)
    if "n" not in out:
        out["n"] = out["reproduced"].notna().astype(int)
    out["difference"] = out["reproduced"] - out["paper"]
    return out.reset_index(drop=True)


def _as_text(value: Any) -> str:
    """A key cell as the paper tables write it: 50.0 -> "50", "10k" stays."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _infer_metric(table: str, frame: pd.DataFrame) -> pd.Series:
    """Per row, the paper value column whose number at the row's keys equals ``paper``."""
    info = paper_table_info(table)
    if len(info.values) == 1:
        return pd.Series(info.values[0], index=frame.index)
    if frame.empty:
        return pd.Series(dtype=object, index=frame.index)
    tidy = load_paper_table(table, tidy=True).astype({k: str for k in info.keys})
    lookup = {(*(row[k] for k in info.keys), round(float(row["value"]), 6)): row["metric"]
              for _, row in tidy.dropna(subset=["value"]).iterrows()}
    return frame.apply(lambda row: lookup.get((*(row[k] for k in info.keys),
                                               round(float(row["paper"]), 6) if pd.notna(row["paper"]) else None),
                                              info.values[0]), axis=1)


# ---------------------------------------------------------------------- the difference of scale


def setup_table(study: Study) -> pd.DataFrame:
    """The paper's setting beside this profile's: one row per aspect, columns ``aspect``, ``paper``, ``here``.

    Read from the pre-training configs of both profiles and the study's protocol and targets
    (benchmark §3.2-3.4).
    """
    here = study.pretrain_config({"task": "rotnet", "backbone": "r2plus1d_18"})
    paper = PretrainConfig.for_profile("paper", task="rotnet", backbone="r2plus1d_18")
    rows = [
        ("clip (frames x height x width)", _clip(paper), _clip(here)),
        ("backbone width", f"{paper.width:g} (published networks)", f"{here.width:g}"),
        ("pre-training data", "Kinetics-400 / Something-Something v2 subsets",
         f"{here.dataset} (digit videos; 'SSv2' = digits-motion-pool)"),
        ("subset '50k'", "50,000 videos (125 per class of 400)", f"{here.subset_per_class} videos per class"),
        ("pre-training epochs", f"{paper.epochs} (checkpoints 50, 100, 150, 200)",
         f"{here.epochs} (checkpoint every {here.checkpoint_every}: stand-ins for 50-200)"),
        ("evaluation protocol", "finetuning end to end", study.protocol),
        ("appearance target", "UCF101", study.target("appearance")),
        ("motion target", "Diving48 (HMDB51 in Tables 8-9)", study.target("motion")),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", f"here ({study.profile})"])


def _clip(config: PretrainConfig) -> str:
    return f"{config.frames}x{config.crop_size}x{config.crop_size}"


TABLE_SCALE: dict[str, str] = {
    "benchmark_t1_pretext_k400_50k": "pre-training on the '50k' subset; UCF101 finetuning -> {appearance} {protocol}",
    "benchmark_t2_subset_size_r21d": "subsets 10k/30k/50k are videos per class of the digit pool, not Kinetics "
                                     "videos; UCF101 finetuning -> {appearance} {protocol}",
    "benchmark_t3_rspnet_subset_epochs": "the paper's epochs 50/100/150/200 (of 200) stand for the same fractions "
                                         "of this profile's {epochs} epochs; UCF101 finetuning -> {appearance} "
                                         "{protocol}",
    "benchmark_t4_epochs_r21d_50k": "the paper's epochs 50/100/150/200 (of 200) stand for the same fractions of "
                                    "this profile's {epochs} epochs; UCF101 finetuning -> {appearance} {protocol}",
    "benchmark_t5_task_complexity": "same complexities (rotations, clips, rates) on {clip} clips; the paper's "
                                    "table is reconstructed from a garbled extraction",
    "benchmark_t6_ood_r21d_30k": "K400/SSv2 -> the appearance/motion digit pools; UCF101/Diving48 -> "
                                 "{appearance}/{motion} {protocol}",
    "benchmark_t7_noise_ucf101": "the same four noises at severity 1, on {clip} digit clips ({appearance} "
                                 "{protocol}) instead of UCF101 at 112x112",
    "benchmark_t8_kd_subsets_rspnet": "finetuned RSPNet teachers and a distilled ShuffleNet student; "
                                      "UCF101/HMDB51 -> {appearance}/{motion}",
    "benchmark_t9_sota": "published methods are not re-run; only the paper's own row (KD student) has a "
                         "counterpart here",
    "graphkd_t1_sota": "AlexNet on UCF101/HMDB51/CCV in the paper; earlier methods are not re-run here",
    "graphkd_t2_ablation": "the distillation variants with this book's video teachers and student, on "
                           "{appearance}/{motion}; CCV has no counterpart",
    "lightweight_t1_cost": "the paper's average FLOPs and CO2 of its GPU runs vs chapter 9's count and "
                           "CO2 estimate (its assumptions)",
    "lightweight_t1_stl10": "STL-10 (96x96 images, 0-1 scale) -> single {clip_hw} digit frames, {protocol} "
                            "on {appearance}",
    "skdsrl_t1_baseline": "3D ResNets trained on UCF101/HMDB51/K400 -> this book's backbones on {appearance}/"
                          "{motion}",
    "skdsrl_t2_mechanisms_ucf101_r18": "mechanisms of 3D ResNet-18 on UCF101 -> this book's student on "
                                       "{appearance}",
}
"""Per table, what its cells stand for here (filled by ``scale_notes``)."""


def scale_notes(study: Study) -> pd.DataFrame:
    """Per paper table, the difference of scale in words: ``table``, ``paper table``, ``what differs``.

    The common part (clips, width, epochs, protocol) is read from the study's configs; the
    table-specific part from ``TABLE_SCALE``.
    """
    here = study.pretrain_config({"task": "rotnet", "backbone": "r2plus1d_18"})
    paper = PretrainConfig.for_profile("paper", task="rotnet", backbone="r2plus1d_18")
    fill = {"appearance": study.target("appearance"), "motion": study.target("motion"),
            "protocol": study.protocol, "epochs": here.epochs, "clip": _clip(here),
            "clip_hw": f"{here.crop_size}x{here.crop_size}"}
    common = (f"{_clip(here)} clips at width {here.width:g}, {here.epochs} epochs, {study.protocol} "
              f"(paper: {_clip(paper)}, width {paper.width:g}, {paper.epochs} epochs, finetuning)")
    rows = []
    for name in list_paper_tables():
        info = paper_table_info(name)
        rows.append({"table": name, "paper table": f"{_paper_short(info.source)} {info.table}",
                     "what differs": f"{TABLE_SCALE.get(name, '').format(**fill)}; {common}"})
    return pd.DataFrame(rows)


def _paper_short(source: str) -> str:
    names = {"benchmark2023": "benchmark", "sonawane2021lightweight": "lightweight", "zhang2018graph": "graph KD",
             "vu2022skdsrl": "SKD-SRL"}
    return names.get(source, source)


# ---------------------------------------------------------------------- agreement


def sign_agreement(table: str, frame: pd.DataFrame) -> tuple[int, int]:
    """(agreeing, compared) pairs of the table's key comparison (``KEY_COMPARISONS``).

    Within each group of equal other keys (and metric), every pair of cells where both the
    paper and we have a number is compared: it agrees when ``reproduced`` orders the two
    cells as ``paper`` does. Pairs the paper ties are skipped.
    """
    axis = KEY_COMPARISONS.get(table, (None, ""))[0]
    if axis is None or axis not in frame:
        return 0, 0
    keys = [k for k in paper_table_info(table).keys if k != axis and k in frame]
    keys += ["metric"] if "metric" in frame else []
    both = frame.dropna(subset=["paper", "reproduced"])
    agree = compared = 0
    groups = [group for _, group in both.groupby(keys, dropna=False)] if keys else [both]
    for group in groups:
        for (_, a), (_, b) in itertools.combinations(group.iterrows(), 2):
            paper_sign = np.sign(a["paper"] - b["paper"])
            if paper_sign == 0:
                continue
            compared += 1
            agree += int(np.sign(a["reproduced"] - b["reproduced"]) == paper_sign)
    return agree, compared


def agreement(table: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Agreement rows of one table, one per metric.

    Columns: ``table``, ``metric``, ``cells`` (the paper's), ``reproduced`` (cells with both
    numbers), ``spearman`` (rank correlation over those cells, NaN below 3 or when either side
    is constant), ``sign agreement`` (fraction of key-comparison pairs ordered alike, NaN when
    none), ``pairs``, ``mean difference`` and ``mean |difference|`` (reproduced - paper).
    """
    rows = []
    for metric, part in frame.groupby("metric", sort=False) if "metric" in frame else [("", frame)]:
        both = part.dropna(subset=["paper", "reproduced"])
        agree, pairs = sign_agreement(table, part)
        rows.append({"table": table, "metric": metric, "cells": int(part["paper"].notna().sum()),
                     "reproduced": len(both), "spearman": _spearman(both["paper"], both["reproduced"]),
                     "sign agreement": agree / pairs if pairs else np.nan, "pairs": pairs,
                     "mean difference": both["difference"].mean() if len(both) else np.nan,
                     "mean |difference|": both["difference"].abs().mean() if len(both) else np.nan})
    return rows


def _spearman(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return np.nan
    return float(spearmanr(a, b).statistic)


def agreement_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``agreement`` of every table, one row per (table, metric)."""
    rows = [row for name, frame in tables.items() for row in agreement(name, frame)]
    return pd.DataFrame(rows)


def agreement_summary(agree: pd.DataFrame) -> str:
    """A paragraph on how far the reproduced tables agree with the paper's, read from ``agreement_table``."""
    measured = agree[agree["reproduced"] > 0]
    if measured.empty:
        return ("No paper table has reproduced numbers yet: run the chapters 2-9 first (at this profile), "
                "then this chapter reads their results.")
    tables = measured["table"].nunique()
    rho = measured["spearman"].dropna()
    signs = measured.dropna(subset=["sign agreement"])
    text = (f"{tables} of {agree['table'].nunique()} paper tables have reproduced numbers "
            f"({int(measured['reproduced'].sum())} of {int(agree['cells'].sum())} cells). ")
    if len(rho):
        best, worst = measured.loc[rho.idxmax()], measured.loc[rho.idxmin()]
        text += (f"The rank correlation with the paper's cells ranges from {worst['spearman']:.2f} "
                 f"({worst['table']}, {worst['metric']}) to {best['spearman']:.2f} ({best['table']}, "
                 f"{best['metric']}); its median over {len(rho)} measured table-metrics is {rho.median():.2f}. ")
    if len(signs):
        pairs = int(signs["pairs"].sum())
        agreeing = float((signs["sign agreement"] * signs["pairs"]).sum())
        share = agreeing / pairs
        verdict = "more often than" if share > 0.5 else "no more often than" if share == 0.5 else "less often than"
        text += (f"Of the {pairs} key comparisons that both sides measured, {share:.0%} come out the same way "
                 f"as in the paper: {verdict} a coin toss would. ")
    return text.strip()


# ---------------------------------------------------------------------- claims


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a claim: "holds", "does not hold" or "not measured", with its evidence."""

    verdict: str
    evidence: str


HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measured"


@dataclass(frozen=True)
class Claim:
    """One checkable recommendation or conclusion of the paper.

    Args:
        key: short name.
        source: where the paper says it.
        statement: the claim, as checked.
        tables: the paper tables it reads.
        check: ``check(tables, column)`` -> ``Verdict``; ``column`` is "paper" or "reproduced".
    """

    key: str
    source: str
    statement: str
    tables: tuple[str, ...]
    check: Callable[[Mapping[str, pd.DataFrame], str], Verdict]


def cells(tables: Mapping[str, pd.DataFrame], table: str, column: str = "reproduced",
          metric: str | None = None) -> pd.DataFrame:
    """The measured cells of one table: its key columns and ``value`` (= ``column``), NaN rows dropped.

    Args:
        metric: keep this metric only (None: the table's first value column).

    Raises:
        ValueError: for a column other than "paper" / "reproduced".
    """
    if column not in ("paper", "reproduced"):
        raise ValueError(f"column is 'paper' or 'reproduced', got {column!r}")
    info = paper_table_info(table)
    frame = tables.get(table)
    if frame is None or column not in frame:
        return pd.DataFrame(columns=[*info.keys, "value"])
    metric = metric or info.values[0]
    if "metric" in frame:
        frame = frame[frame["metric"] == metric]
    keys = [k for k in info.keys if k in frame]
    out = frame[keys].copy()
    out["value"] = pd.to_numeric(frame[column], errors="coerce")
    return out.dropna(subset=["value"]).reset_index(drop=True)


def _series(frame: pd.DataFrame, by: list[str], axis: str) -> dict[tuple, dict[str, float]]:
    """Group -> {axis value: value}."""
    out: dict[tuple, dict[str, float]] = {}
    for _, row in frame.iterrows():
        out.setdefault(tuple(row[b] for b in by), {})[str(row[axis])] = float(row["value"])
    return out


SUBSET_ORDER = ("10k", "30k", "50k", "100k")


def _is_transformer(backbone: str) -> bool:
    return "swin" in backbone.lower() or "transformer" in backbone.lower()


def _subset_series(tables: Mapping[str, pd.DataFrame], column: str, transformers: bool) -> dict[str, dict[str, float]]:
    """Accuracy per subset: Table 2 per task (R(2+1)D), Table 3 per backbone at its last epoch."""
    series: dict[str, dict[str, float]] = {}
    if not transformers:
        for (task,), values in _series(cells(tables, "benchmark_t2_subset_size_r21d", column), ["pretext"],
                                       "subset").items():
            series[f"Table 2 {task}"] = values
    t3 = cells(tables, "benchmark_t3_rspnet_subset_epochs", column)
    if len(t3):
        t3 = t3[t3["backbone"].map(_is_transformer) == transformers]
        last = t3.assign(e=pd.to_numeric(t3["epochs"], errors="coerce")).sort_values("e").groupby(
            ["backbone", "subset"]).tail(1)
        for (backbone,), values in _series(last, ["backbone"], "subset").items():
            series[f"Table 3 {backbone}"] = values
    return series


def _gains_around_30k(series: Mapping[str, Mapping[str, float]]) -> list[tuple[str, float, float]]:
    """(series, gain 10k->30k, gain 30k->largest subset above 30k) of series that have all three."""
    out = []
    for name, values in series.items():
        larger = [s for s in SUBSET_ORDER[2:] if s in values]
        if "10k" in values and "30k" in values and larger:
            out.append((name, values["30k"] - values["10k"], values[larger[-1]] - values["30k"]))
    return out


def claim_subset_30k(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§6 recommendation 1: around 30k pre-training videos is effective for CNNs (Tables 2, 3).

    Holds when, averaged over the series (Table 2's tasks, Table 3's CNN backbones at their last
    epoch), going from 10k to 30k gains and going beyond 30k gains less than that.
    """
    gains = _gains_around_30k(_subset_series(tables, column, transformers=False))
    if not gains:
        return Verdict(UNMEASURED, "no series with 10k, 30k and a larger subset (Tables 2, 3)")
    to30 = float(np.mean([g[1] for g in gains]))
    beyond = float(np.mean([g[2] for g in gains]))
    verdict = HOLDS if 0 < to30 and beyond < to30 else FAILS
    return Verdict(verdict, f"over {len(gains)} series, 10k -> 30k gained {to30:+.1f} points on average and "
                            f"30k -> the largest subset a further {beyond:+.1f}")


def claim_transformer_more_data(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§6 recommendation 2: CNNs need less data, transformers more (Table 3 / Figure 2 with Video Swin).

    Holds when the transformer's gain from 30k to its largest subset exceeds the CNNs' mean gain.
    """
    cnn = _gains_around_30k(_subset_series(tables, column, transformers=False))
    swin = [g for g in _gains_around_30k(_subset_series(tables, column, transformers=True))]
    if not swin or not cnn:
        return Verdict(UNMEASURED, "no transformer rows with 10k, 30k and a larger subset in Table 3 "
                                   "(the paper shows Video Swin in Figure 2 only)")
    cnn_gain = float(np.mean([g[2] for g in cnn]))
    swin_gain = float(np.mean([g[2] for g in swin]))
    verdict = HOLDS if swin_gain > cnn_gain else FAILS
    return Verdict(verdict, f"beyond 30k the transformer gained {swin_gain:+.1f} points, the CNN series "
                            f"{cnn_gain:+.1f} on average")


def claim_epochs_100_150(tables: Mapping[str, pd.DataFrame], column: str = "reproduced",
                         threshold: float = 1.5) -> Verdict:
    """§6 recommendation 3: 100-150 epochs suffice; §4.2: gains after 100 epochs are minimal (< 1.5 points).

    Holds when the median gain from epoch 100 to 200 over Table 4's tasks and Table 3's
    (backbone, subset) series is below ``threshold`` points.
    """
    gains = []
    for table, by in (("benchmark_t4_epochs_r21d_50k", ["pretext"]),
                      ("benchmark_t3_rspnet_subset_epochs", ["backbone", "subset"])):
        for group, values in _series(cells(tables, table, column), by, "epochs").items():
            if "100" in values and "200" in values:
                gains.append((" ".join(group), values["200"] - values["100"]))
    if not gains:
        return Verdict(UNMEASURED, "no series with epochs 100 and 200 (Tables 3, 4)")
    median = float(np.median([g for _, g in gains]))
    top = max(gains, key=lambda g: g[1])
    verdict = HOLDS if median < threshold else FAILS
    return Verdict(verdict, f"from 100 to 200 epochs the median gain over {len(gains)} series is {median:+.1f} "
                            f"points (threshold {threshold}); the largest is {top[1]:+.1f} ({top[0]})")


def _best(frame: pd.DataFrame) -> pd.Series:
    return frame.loc[frame["value"].idxmax()]


def claim_ood_data_matters(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§6 recommendation 4 and §7 conclusion 3: for out-of-distribution targets the pre-training data matters.

    Table 6: holds when the best model on the appearance target (UCF101) was pre-trained on
    K400 and the best on the motion target (Diving48) on SSv2, as in §4.4.
    """
    t6 = cells(tables, "benchmark_t6_ood_r21d_30k", column, "top1")
    parts = {t: t6[t6["target"] == t] for t in ("ucf101", "diving48")}
    if any(p.empty for p in parts.values()):
        return Verdict(UNMEASURED, "Table 6 lacks one of its two targets")
    best = {t: _best(p) for t, p in parts.items()}
    verdict = HOLDS if best["ucf101"]["pretrain"] == "k400" and best["diving48"]["pretrain"] == "ssv2" else FAILS
    return Verdict(verdict, "; ".join(f"best on {t}: {b['pretext']} pre-trained on {b['pretrain']} ({b['value']:.1f})"
                                      for t, b in best.items()))


def _contrastive(task: str) -> bool | None:
    try:
        return bool(TASKS.get(task).contrastive)
    except (ValueError, KeyError, AttributeError):
        return None


def _category(task: str) -> str | None:
    try:
        return TASKS.get(task).category
    except (ValueError, KeyError, AttributeError):
        return None


def claim_ood_task_kind(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§4.4 inference: non-contrastive tasks (VCOP, RotNet) learn better from SSv2, contrastive ones from K400.

    Table 6: holds when every (task, target) pair with both pre-training sets follows the pattern.
    """
    t6 = cells(tables, "benchmark_t6_ood_r21d_30k", column, "top1")
    follow, total = 0, 0
    for (_target, task), values in _series(t6, ["target", "pretext"], "pretrain").items():
        kind = _contrastive(task)
        if kind is None or not {"k400", "ssv2"} <= set(values):
            continue
        total += 1
        follow += int((values["k400"] > values["ssv2"]) == kind)
    if not total:
        return Verdict(UNMEASURED, "no task of Table 6 with both K400 and SSv2 pre-training")
    verdict = HOLDS if follow == total else FAILS
    return Verdict(verdict, f"{follow} of {total} (task, target) pairs follow the pattern")


def claim_task_families(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§7 conclusion 1: different transformation categories prevail among contrastive and non-contrastive tasks.

    Table 1: holds when, on every backbone, the best non-contrastive task and the best
    contrastive task belong to different categories (spatial, temporal, spatio-temporal; §3.1).
    """
    t1 = cells(tables, "benchmark_t1_pretext_k400_50k", column)
    found = []
    for backbone, part in t1.groupby("backbone"):
        kinds = part["pretext"].map(_contrastive)
        if kinds.nunique() < 2:
            continue
        best = {k: _best(part[kinds == k])["pretext"] for k in (False, True)}
        found.append((backbone, best[False], best[True]))
    if not found:
        return Verdict(UNMEASURED, "Table 1 lacks contrastive or non-contrastive tasks")
    differ = all(_category(a) != _category(b) for _, a, b in found)
    return Verdict(HOLDS if differ else FAILS, "; ".join(
        f"{bb}: best non-contrastive {a} ({_category(a)}), best contrastive {b} ({_category(b)})"
        for bb, a, b in found))


def claim_complexity(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§7 conclusion 2 / §4.3: a more complex pretext task does not always give better features.

    Table 5: holds when the hardest complexity (C3) is not the best in at least one (task, backbone) series.
    """
    series = _series(cells(tables, "benchmark_t5_task_complexity", column), ["pretext", "backbone"], "complexity")
    full = {k: v for k, v in series.items() if {"C1", "C2", "C3"} <= set(v)}
    if not full:
        return Verdict(UNMEASURED, "no (task, backbone) of Table 5 with C1, C2 and C3")
    c3_best = [k for k, v in full.items() if max(v, key=v.get) == "C3"]
    verdict = HOLDS if len(c3_best) < len(full) else FAILS
    return Verdict(verdict, f"C3 was the best complexity in {len(c3_best)} of {len(full)} (task, backbone) series")


def _drops(tables: Mapping[str, pd.DataFrame], column: str) -> pd.DataFrame:
    t7 = cells(tables, "benchmark_t7_noise_ucf101", column, "relative_drop_pct")
    if len(t7):
        t7 = t7.assign(contrastive=t7["pretext"].map(_contrastive)).dropna(subset=["contrastive"])
    return t7


def claim_noise_contrastive(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§7 conclusion 4: contrastive tasks are more robust to noise than non-contrastive ones.

    Table 7: holds when the mean relative drop (%) of the contrastive tasks is below that of the
    non-contrastive ones. (§4.5's inference (i) says the opposite; this checks conclusion 4.)
    """
    t7 = _drops(tables, column)
    if t7.empty or t7["contrastive"].nunique() < 2:
        return Verdict(UNMEASURED, "Table 7 lacks contrastive or non-contrastive relative drops")
    mean = t7.groupby("contrastive")["value"].mean()
    verdict = HOLDS if mean[True] < mean[False] else FAILS
    return Verdict(verdict, f"mean relative drop under noise: contrastive {mean[True]:.1f}%, "
                            f"non-contrastive {mean[False]:.1f}%")


def claim_noise_backbone(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§4.5 inference (ii): R(2+1)D is more robust to noise than ShuffleNet.

    Table 7: holds when R(2+1)D's mean relative drop (%) is below ShuffleNet's.
    """
    t7 = _drops(tables, column)
    r21d, shuffle = PAPER_BACKBONES["r2plus1d_18"], PAPER_BACKBONES["shufflenet3d"]
    mean = t7.groupby("backbone")["value"].mean() if len(t7) else pd.Series(dtype=float)
    if r21d not in mean or shuffle not in mean:
        return Verdict(UNMEASURED, "Table 7 lacks one of the two backbones")
    verdict = HOLDS if mean[r21d] < mean[shuffle] else FAILS
    return Verdict(verdict, f"mean relative drop under noise: R(2+1)D {mean[r21d]:.1f}%, ShuffleNet {mean[shuffle]:.1f}%")


def claim_kd_student(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§5 / §7 conclusion 5: the distilled student beats its teachers (Table 8, both targets).

    Holds when, for every subset and target measured, the student beats its best teacher.
    """
    results = []
    for metric in paper_table_info("benchmark_t8_kd_subsets_rspnet").values:
        t8 = cells(tables, "benchmark_t8_kd_subsets_rspnet", column, metric)
        for (subset,), values in _series(t8, ["subset"], "model").items():
            teachers = [v for m, v in values.items() if m.startswith("teacher")]
            student = [v for m, v in values.items() if m.startswith("student")]
            if teachers and student:
                results.append((subset, metric, max(student) - max(teachers)))
    if not results:
        return Verdict(UNMEASURED, "Table 8 has no subset with both a student and a teacher")
    wins = sum(margin > 0 for *_, margin in results)
    mean = float(np.mean([m for *_, m in results]))
    verdict = HOLDS if wins == len(results) else FAILS
    return Verdict(verdict, f"the student beat its best teacher in {wins} of {len(results)} (subset, target) "
                            f"cells, by {mean:+.1f} points on average")


def claim_bigger_not_always_better(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§6 discussion / §7 conclusion 6: the network with the most parameters does not always learn better features.

    Table 1: holds when ShuffleNet matches or beats R(2+1)D on at least one pretext task.
    """
    small, big = PAPER_BACKBONES["shufflenet3d"], PAPER_BACKBONES["r2plus1d_18"]
    pairs = [(task, v) for (task,), v in _series(cells(tables, "benchmark_t1_pretext_k400_50k", column),
                                                  ["pretext"], "backbone").items() if {small, big} <= set(v)]
    if not pairs:
        return Verdict(UNMEASURED, "Table 1 has no task with both backbones")
    small_wins = [task for task, v in pairs if v[small] >= v[big]]
    verdict = HOLDS if small_wins else FAILS
    named = f" ({', '.join(small_wins)})" if small_wins else ""
    return Verdict(verdict, f"ShuffleNet matched or beat R(2+1)D on {len(small_wins)} of {len(pairs)} tasks{named}")


def claim_more_data_helps(tables: Mapping[str, pd.DataFrame], column: str = "reproduced") -> Verdict:
    """§4.2 inference: as a rule accuracy grows with the subset size (Table 2: all tasks but TDL).

    Holds when at least half of Table 2's tasks do better on their largest subset than on their smallest.
    """
    series = _series(cells(tables, "benchmark_t2_subset_size_r21d", column), ["pretext"], "subset")
    spans = {task: [s for s in SUBSET_ORDER if s in v] for (task,), v in series.items()}
    gains = {task: series[(task,)][s[-1]] - series[(task,)][s[0]] for task, s in spans.items() if len(s) >= 2}
    if not gains:
        return Verdict(UNMEASURED, "Table 2 has no task with two subset sizes")
    grew = [t for t, g in gains.items() if g > 0]
    verdict = HOLDS if 2 * len(grew) >= len(gains) else FAILS
    return Verdict(verdict, f"{len(grew)} of {len(gains)} tasks gained from the smallest to the largest subset "
                            f"(mean {np.mean(list(gains.values())):+.1f} points)")


def make_claims(epoch_gain_threshold: float = 1.5) -> tuple[Claim, ...]:
    """The paper's recommendations and conclusions as checkable claims, in the order the chapter shows them.

    Args:
        epoch_gain_threshold: points of accuracy below which the median gain from 100 to 200
            epochs counts as "minimal" (the paper's §4.2 says < 1.5).
    """
    epochs = functools.partial(claim_epochs_100_150, threshold=epoch_gain_threshold)
    return (
        Claim("subset_30k", "§6 recommendation 1", "Around 30k pre-training videos are enough for CNNs: "
              "beyond 30k the gain is smaller than up to 30k.",
              ("benchmark_t2_subset_size_r21d", "benchmark_t3_rspnet_subset_epochs"), claim_subset_30k),
        Claim("transformer_more_data", "§6 recommendation 2", "Transformers need more data than CNNs: "
              "Video Swin gains more beyond 30k than the CNNs.", ("benchmark_t3_rspnet_subset_epochs",),
              claim_transformer_more_data),
        Claim("epochs_100_150", "§6 recommendation 3, §4.2", "100-150 epochs suffice: the median gain from 100 to "
              f"200 epochs is below {epoch_gain_threshold:g} points.",
              ("benchmark_t3_rspnet_subset_epochs", "benchmark_t4_epochs_r21d_50k"), epochs),
        Claim("ood_data_matters", "§6 recommendation 4, §7 conclusion 3", "For out-of-distribution targets the "
              "pre-training data matters: the best appearance model is K400-pre-trained, the best motion model SSv2.",
              ("benchmark_t6_ood_r21d_30k",), claim_ood_data_matters),
        Claim("ood_task_kind", "§4.4 inference", "Non-contrastive tasks learn better from SSv2, contrastive tasks "
              "from K400.", ("benchmark_t6_ood_r21d_30k",), claim_ood_task_kind),
        Claim("task_families", "§7 conclusion 1", "Different transformation categories prevail among contrastive and "
              "non-contrastive tasks.", ("benchmark_t1_pretext_k400_50k",), claim_task_families),
        Claim("complexity", "§7 conclusion 2, §4.3", "A more complex pretext task is not always better: C3 is not "
              "the best everywhere.", ("benchmark_t5_task_complexity",), claim_complexity),
        Claim("noise_contrastive", "§7 conclusion 4", "Contrastive tasks are more robust to noise (smaller relative "
              "drop) than non-contrastive ones.", ("benchmark_t7_noise_ucf101",), claim_noise_contrastive),
        Claim("noise_backbone", "§4.5 inference (ii)", "R(2+1)D is more robust to noise (smaller relative drop) "
              "than ShuffleNet.", ("benchmark_t7_noise_ucf101",), claim_noise_backbone),
        Claim("kd_student", "§5, §7 conclusion 5", "A distilled student beats its teachers.",
              ("benchmark_t8_kd_subsets_rspnet",), claim_kd_student),
        Claim("bigger_not_always_better", "§6 discussion, §7 conclusion 6", "The network with more parameters does "
              "not always learn better features: ShuffleNet matches R(2+1)D somewhere.",
              ("benchmark_t1_pretext_k400_50k",), claim_bigger_not_always_better),
        Claim("more_data_helps", "§4.2 inference", "As a rule accuracy grows with the pre-training subset.",
              ("benchmark_t2_subset_size_r21d",), claim_more_data_helps),
    )


CLAIMS: tuple[Claim, ...] = make_claims()
"""The paper's recommendations and conclusions as checkable claims, in the order the chapter shows them."""


def check_claims(tables: Mapping[str, pd.DataFrame], claims: Iterable[Claim] = CLAIMS) -> pd.DataFrame:
    """Every claim checked on the paper's own numbers and on ours.

    Returns:
        columns ``claim``, ``source``, ``statement``, ``paper's numbers``, ``evidence (paper)``,
        ``our numbers``, ``evidence (ours)``.
    """
    rows = []
    for claim in claims:
        theirs, ours = claim.check(tables, "paper"), claim.check(tables, "reproduced")
        rows.append({"claim": claim.key, "source": claim.source, "statement": claim.statement,
                     "paper's numbers": theirs.verdict, "evidence (paper)": theirs.evidence,
                     "our numbers": ours.verdict, "evidence (ours)": ours.evidence})
    return pd.DataFrame(rows)


def claims_summary(checked: pd.DataFrame) -> str:
    """A paragraph counting the verdicts of ``check_claims``, and naming where paper and book disagree."""
    ours = checked["our numbers"].value_counts()
    theirs = checked["paper's numbers"].value_counts()
    text = (f"Of {len(checked)} claims, {ours.get(HOLDS, 0)} hold on this book's numbers, "
            f"{ours.get(FAILS, 0)} do not, and {ours.get(UNMEASURED, 0)} could not be measured. "
            f"On the paper's own printed numbers {theirs.get(HOLDS, 0)} hold and {theirs.get(FAILS, 0)} do not")
    own = checked[checked["paper's numbers"] == FAILS]["claim"].tolist()
    text += f" ({', '.join(own)})." if own else "."
    both = checked[checked["paper's numbers"].isin([HOLDS, FAILS]) & checked["our numbers"].isin([HOLDS, FAILS])]
    differ = both[both["paper's numbers"] != both["our numbers"]]["claim"].tolist()
    if len(both):
        text += (f" Where both could be checked ({len(both)} claims), the verdicts "
                 + (f"differ for {', '.join(differ)}." if differ else "agree."))
    return text


# ---------------------------------------------------------------------- chapter entry points


def comparison_status(collected: Collected) -> pd.DataFrame:
    """One row per paper table: ``table``, ``chapter``, ``cells``, ``reproduced``, ``note``."""
    rows = []
    for name, frame in collected.tables.items():
        producer = TABLE_CHAPTER.get(name, "")
        rows.append({"table": name, "chapter": CHAPTER_MODULES.get(producer, producer),
                     "cells": int(frame["paper"].notna().sum()),
                     "reproduced": int(frame.dropna(subset=["paper", "reproduced"]).shape[0]),
                     "note": collected.notes.get(name, "")})
    return pd.DataFrame(rows)


def paper_comparisons(study: Study, chapters: Mapping[str, ChapterSource] | Iterable[str] | None = None,
                      compute_missing: bool = False) -> dict[str, pd.DataFrame]:
    """Every paper table's ``paper_vs_reproduced`` frame, as gathered from the chapters (cached results only)."""
    return collect_comparisons(study, chapters, compute_missing).tables


def table_heading(name: str, collected: Collected, notes: pd.DataFrame) -> str:
    """Markdown heading of one comparison: the paper table, what differs in scale, where ours come from, agreement.

    Args:
        name: paper table name.
        collected: ``collect_comparisons``'s result.
        notes: ``scale_notes``'s table.
    """
    info = paper_table_info(name)
    differs = notes.set_index("table").loc[name, "what differs"] if name in set(notes["table"]) else ""
    text = (f"### {_paper_short(info.source).capitalize()} {info.table}: {info.caption}\n\n"
            f"`{name}` ({info.unit}). **Scale:** {differs}. **Reproduced:** {collected.notes.get(name, '')}.")
    return text + " " + table_sentence(name, collected.tables[name])


def table_sentence(name: str, frame: pd.DataFrame) -> str:
    """One sentence on a comparison frame: cells reproduced, rank correlation, mean difference (per metric)."""
    parts = []
    for row in agreement(name, frame):
        if not row["reproduced"]:
            continue
        rho = "n/a" if np.isnan(row["spearman"]) else f"{row['spearman']:.2f}"
        signs = "" if np.isnan(row["sign agreement"]) else (
            f", {row['sign agreement']:.0%} of {row['pairs']} key comparisons ordered as in the paper")
        parts.append(f"{row['metric']}: {row['reproduced']} of {row['cells']} cells, Spearman {rho}, "
                     f"mean difference {row['mean difference']:+.3g}{signs}")
    if not parts:
        return "No cell of this table is reproduced yet."
    return "; ".join(parts) + "."


def agreement_figure(tables: Mapping[str, pd.DataFrame], columns: int = 4) -> Figure | None:
    """Paper (x) against reproduced (y), one panel per table with reproduced cells, one colour per metric.

    Returns:
        the figure, or None when no table has a reproduced cell.
    """
    measured = {n: f.dropna(subset=["paper", "reproduced"]) for n, f in tables.items()}
    measured = {n: f for n, f in measured.items() if len(f)}
    if not measured:
        return None
    rows = -(-len(measured) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(measured)), figsize=(3.2 * min(columns, len(measured)), 3 * rows),
                             squeeze=False)
    for ax, (name, frame) in zip(axes.flat, measured.items()):
        for metric, part in frame.groupby("metric"):
            ax.scatter(part["paper"], part["reproduced"], s=14, label=str(metric))
        info = paper_table_info(name)
        ax.set_title(f"{_paper_short(info.source)} {info.table}", fontsize=9)
        ax.set_xlabel("paper", fontsize=8)
        ax.set_ylabel("reproduced", fontsize=8)
        ax.tick_params(labelsize=7)
        if frame["metric"].nunique() > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(measured):]:
        ax.axis("off")
    fig.suptitle("Paper against reproduced, per table (each point is one cell)", fontsize=10)
    fig.tight_layout()
    return fig
