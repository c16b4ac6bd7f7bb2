"""The study every chapter draws on: one set of runs, trained once, read by every chapter.

A chapter names its runs as points of the paper's grids (``sslvid.scale.grids``: task, backbone, ``data``
"K400"/"SSv2", ``subset`` "10k"..."100k", ``complexity`` "C1"-"C3"); a point resolves to the same
``PretrainConfig`` whichever chapter asks, so nothing is trained twice. The two evaluation targets stand for
the paper's two kinds of downstream data (benchmark §4.4): "appearance" and "motion" (``TARGETS``); the
protocol is the profile's ``study_protocol`` (finetuning at paper scale, the linear probe below it).
``data_root``: None (the embedded default data) or a folder with one sub-folder per dataset, named by layout
(``kinetics400/``, ``ssv2/``, ``ucf101/``, ``diving48/``, ``hmdb51/``; ``data/README.md``).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslvid.analysis.claims import Claim, Estimate, video_statistic
from sslvid.backbones.checkpoints import read_metadata
from sslvid.data.sources import open_split
from sslvid.engine.config import PretrainConfig
from sslvid.engine.pretrain import PretrainResult, pretrain
from sslvid.engine.runner import Workspace
from sslvid.evaluate.classify import evaluate
from sslvid.evaluate.common import card_test_videos
from sslvid.evaluate.config import ALL_LABELS, SCRATCH, EvalConfig
from sslvid.evaluate.features import FeatureCache
from sslvid.paths import using_cache_dir
from sslvid.profiles import get_profile, list_profiles
from sslvid.progress import show_bars
from sslvid.scale.grids import PAPER_DATA, PAPER_GRIDS, resolve_point
from sslvid.store.claims import ClaimStore
from sslvid.store.outcomes import VideoOutcomes, read_outcomes
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

TARGETS: dict[str, dict[str, str]] = {
    "appearance": {"paper": "ucf101", "default": "digits-appearance"},
    "motion": {"paper": "diving48", "default": "digits-motion"},
}
"""Downstream targets by kind: the paper's dataset, and the embedded default set below paper scale."""

POINT_COLUMNS = ("task", "backbone", "data", "subset", "complexity", "frames")
"""Grid-point fields that chapters show as table columns."""


def check_selection(names: Sequence[str], valid: Sequence[str], what: str, allow_empty: bool = False) -> list[str]:
    """``names`` as a list, after checking each is one of ``valid`` (a chapter knob's selection); a ValueError for
    an unknown name, or an empty selection unless ``allow_empty``, lists the valid names."""
    names = list(names)
    unknown = [n for n in names if n not in valid]
    if unknown or not (names or allow_empty):
        raise ValueError(f"unknown or no {what} {unknown or names}; valid: {', '.join(map(str, valid))}")
    return names


def chapter_claim(
    chapter: str,
    key: str,
    statement: str,
    quantity: str,
    direction: str = ">",
    threshold: float = 0.0,
    *,
    section: str,
    table: str = "",
    paper: str = "benchmark2023",
    digits: int = 1,
) -> Claim:
    """A chapter's claim before it is measured (``Claim.measured`` fills it in): the benchmark paper's
    by default, one decimal. A chapter binds its name and paper section once with ``functools.partial``."""
    return Claim(
        key,
        chapter,
        statement,
        paper,
        section,
        quantity,
        direction,
        threshold,
        table=table,
        digits=digits,
        reason="not measured",
    )


Outcomes = Callable[[str], VideoOutcomes | None]
"""Per-video outcomes of an evaluation by its config hash (``Study.outcomes``), None where not kept."""


def kept_outcomes(outcomes: Outcomes, key: Any) -> VideoOutcomes | None:
    """``outcomes(key)`` for a config hash; None for a missing one (None, NaN or empty)."""
    return outcomes(key) if isinstance(key, str) and key else None


def video_gap(
    rows: pd.DataFrame, statistic: Callable[[Mapping[Any, np.ndarray]], np.ndarray], outcomes: Outcomes | None
) -> Estimate | None:
    """``statistic`` of the ``top1`` of ``rows`` (keyed by their index) with a bootstrap over test videos (Efron &
    Tibshirani 1993): paired when ``outcomes`` finds every row's per-video outcomes (by ``config_hash``), unpaired
    otherwise (``sslvid.analysis.claims.video_statistic``); None when a row has no test-video count (frames built
    before they were carried: the caller keeps its bootstrap over cells)."""
    if "videos" not in rows or rows["videos"].isna().any():
        return None
    accuracies = {str(i): (float(r["top1"]), float(r["videos"])) for i, r in rows.iterrows()}
    kept = None
    if outcomes is not None:
        kept = {str(i): kept_outcomes(outcomes, r.get("config_hash")) for i, r in rows.iterrows()}
    return video_statistic(accuracies, lambda acc: statistic({i: acc[str(i)] for i in rows.index}), kept)


def evidence(accuracy: pd.DataFrame, seeds: int | None = None) -> dict[str, Any]:
    """How many seeds and test videos stand behind a chapter's numbers (``Study.accuracy`` rows, with ``seed`` from
    several seeds; their test videos in ``videos``, or ``test_videos`` as chapter 4 names them): ``seeds`` (given,
    else the distinct values of ``seed``, or 1 without it), ``models`` (rows of one seed: the most any seed has) and
    ``test_videos``."""
    column = next((c for c in ("videos", "test_videos") if c in accuracy), None)
    videos = accuracy[column].dropna() if column else pd.Series(dtype=float)
    by_seed = accuracy["seed"] if "seed" in accuracy and len(accuracy) else None
    if seeds is None:
        seeds = by_seed.nunique() if by_seed is not None else 1
    return {
        "seeds": int(seeds),
        "models": int(by_seed.value_counts().max()) if by_seed is not None else len(accuracy),
        "test_videos": int(videos.min())
        if len(videos) and videos.min() == videos.max()
        else (f"{int(videos.min())}-{int(videos.max())}" if len(videos) else "not recorded"),
    }


@dataclass
class Study:
    """The chapters' handle on the shared runs, evaluations and results of one profile (a ValueError for an unknown
    profile, a protocol other than "finetune" / "linear", or a data_root that is not a folder).

    Args:
        profile: "smoke", "micro" or "paper".
        data_root: None (the embedded default data) or a folder of datasets (module docstring).
        seed: seed of every run and evaluation.
        device: "auto", "cpu", "cuda".
        cache_dir: clip-cache folder of the study's runs (None: ``$SSLVID_CACHE_DIR`` or ``data/cache``;
            ``sslvid.paths.using_cache_dir``).
        protocol: evaluation protocol of the tables (None: the profile's ``study_protocol``).
        labels: labelled training videos per class of every finetuning and linear probe
            (``EvalConfig.train_per_class``; "all": the whole split), the downstream-samples axis of
            Thoker et al. 2022 (SEVERE, §3.3). Retrieval trains nothing and sees every training video.
        overrides: extra ``PretrainConfig`` fields of every pre-training run (e.g. ``epochs``).
        store, results, features: the run store, results table and feature cache (defaults under the data folder).
        progress: show progress bars (None: ``sslvid.progress.show_bars`` decides).
    """

    profile: str = "micro"
    data_root: str | None = None
    seed: int = 0
    device: str = "auto"
    cache_dir: str | None = None
    protocol: str | None = None
    labels: int | str = ALL_LABELS
    overrides: Mapping[str, Any] = field(default_factory=dict)
    store: RunStore = field(default_factory=RunStore)
    results: ResultsStore = field(default_factory=ResultsStore)
    features: FeatureCache = field(default_factory=FeatureCache)
    progress: bool | None = None
    timings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.profile not in list_profiles():
            raise ValueError(f"unknown profile {self.profile!r}; valid: {', '.join(list_profiles())}")
        self.protocol = self.protocol or get_profile(self.profile).study_protocol
        self.progress = show_bars(self.progress)
        if self.protocol not in ("finetune", "linear"):
            raise ValueError(f"the study's protocol is 'finetune' or 'linear', got {self.protocol!r}")
        if self.data_root is not None and not Path(self.data_root).is_dir():
            raise ValueError(
                f"data_root {self.data_root!r} is not a folder; give a folder with one sub-folder per dataset "
                "(kinetics400/, ssv2/, ucf101/, diving48/, hmdb51/), or None for the embedded default data"
            )

    @property
    def claims(self) -> ClaimStore:
        """The claims table beside the results table (``claims.csv``), read-only when the results are."""
        return ClaimStore(self.results.path.with_name("claims.csv"), read_only=self.results.read_only)

    def cached_only(self) -> Study:
        """A copy over the same stores, read-only: it reads what is cached and trains, evaluates or extracts
        nothing (a miss raises ``sslvid.store.NotCachedError``); the results table is read once."""
        return dataclasses.replace(
            self,
            store=RunStore(self.store.root, read_only=True),
            features=FeatureCache(self.features.root, read_only=True),
            results=ResultsStore(self.results.path, read_only=True),
            timings=[],
        )

    def with_seed(self, seed: int) -> Study:
        """A copy whose runs and evaluations use ``seed``, over the same stores and timings: a run with another
        seed is another run (the seed is part of every config hash)."""
        return dataclasses.replace(self, seed=int(seed))

    @property
    def workspace(self) -> Workspace:
        """The study's run store, results table, feature cache and progress setting, as one thing."""
        return Workspace(self.store, self.results, self.features, self.progress)

    def target(self, kind: str) -> str:
        """The dataset that downstream target ``kind`` ("appearance", "motion") names here (a ValueError if none)."""
        if kind not in TARGETS:
            raise ValueError(f"unknown target {kind!r}; valid: {', '.join(TARGETS)}")
        return TARGETS[kind]["paper" if self.data_root is not None else "default"]

    def classes(self, kind: str) -> int:
        """Classes of downstream target ``kind``'s test split (a uniform guess scores 100 / classes percent)."""
        return open_split(self.target(kind), "test", data_root=self.data_root, profile=self.profile).num_classes

    def pretrain_config(self, point: Mapping[str, Any]) -> PretrainConfig:
        """The pre-training config of a grid point (task, backbone and named axes) at this profile."""
        roots = {} if self.data_root is None else {name: self.data_root for name, _ in PAPER_DATA.values()}
        fields = resolve_point({"data": "K400", "subset": "50k", **point}, self.profile, data_roots=roots)
        fields = {**fields, **self.overrides, "seed": self.seed, "device": self.device}
        return PretrainConfig.for_profile(self.profile, **fields)

    def own_lengths(self, tasks: Sequence[str], backbone: str) -> str:
        """The ``tasks`` that pre-train on ``backbone`` with another length or checkpoint spacing than most of
        them (their recipe's), each as ``"task epochs/checkpoint spacing"`` (e.g. ``"rotnet 8/2, prp 8/2"``), or
        "none"."""
        configs = {task: self.pretrain_config({"task": task, "backbone": backbone}) for task in tasks}
        lengths = {task: (c.epochs, c.checkpoint_every) for task, c in configs.items()}
        usual = collections.Counter(lengths.values()).most_common(1)[0][0] if lengths else None
        own = [f"{task} {epochs}/{every}" for task, (epochs, every) in lengths.items() if (epochs, every) != usual]
        return ", ".join(own) or "none"

    def pretrain(self, point: Mapping[str, Any]) -> PretrainResult:
        """Pre-train ``point`` unless the run store holds it; timed in ``timings``."""
        config = self.pretrain_config(point)
        with self.timed("pretrain", point) as row, using_cache_dir(self.cache_dir):
            result = pretrain(config, workspace=self.workspace)
            row["cached"] = result.cached
        return result

    @contextmanager
    def timed(self, what: str, point: Mapping[str, Any], **fields: Any) -> Iterator[dict[str, Any]]:
        """Time the block into ``timings``: a row of ``what``, the point's fields shown in tables, ``fields`` and what
        the block adds to the row it is given (e.g. ``cached``), then ``seconds``; nothing when the block raises."""
        row, start = {"what": what, **_describe(point), **fields}, time.perf_counter()
        yield row
        self.timings.append({**row, "seconds": round(time.perf_counter() - start, 2)})

    def chapter_axis(
        self, chapter: str, axis: str, chosen: Sequence[str] | None, every: Sequence[str]
    ) -> tuple[str, ...]:
        """The values of a grid ``axis`` that ``chapter`` runs: its knob's ``chosen`` values, or, for None, those
        this profile runs (``Profile.chapter_axes``; ``every`` value where the profile drops none); a ValueError
        (``check_selection``) for a value outside ``every``."""
        if chosen is None:
            chosen = get_profile(self.profile).chapter_axes.get(chapter, {}).get(axis, every)
        return tuple(check_selection(chosen, every, f"{axis}s"))

    def grid_points(self, grid: str, block: int | None = None) -> list[dict[str, Any]]:
        """The points of one of the paper's grids (``PAPER_GRIDS``), optionally of one block only (each point once;
        a ValueError for an unknown grid)."""
        if grid not in PAPER_GRIDS:
            raise ValueError(f"unknown grid {grid!r}; valid: {', '.join(PAPER_GRIDS)}")
        spec = PAPER_GRIDS[grid]
        unique: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        for b in spec.blocks if block is None else (spec.blocks[block],):
            for p in b.points():
                point = {**spec.fixed, **spec.per_profile.get(self.profile, {}), **p}
                unique.setdefault(tuple(sorted((k, str(v)) for k, v in point.items())), point)
        return list(unique.values())

    def eval_config(
        self,
        point: Mapping[str, Any] | None,
        target: str = "appearance",
        protocol: str | None = None,
        epoch: int | None = None,
        backbone: str | None = None,
        **overrides: Any,
    ) -> EvalConfig:
        """The evaluation of a grid point's pre-trained weights.

        Args:
            point: the pre-training grid point; None: a randomly initialised ``backbone``, or the weights of the
                file ``checkpoint=PATH`` in ``overrides`` (``EvalConfig.for_profile``; its own backbone for a file
                from ``python -m sslvid export``).
            target: "appearance" or "motion".
            protocol: "finetune", "linear" or "retrieval" (None: the study's protocol).
            epoch: the pre-training checkpoint (None: the final weights).
            **overrides: other ``EvalConfig`` fields.
        """
        dataset = self.target(target)
        common = dict(dataset=dataset, data_root=self.data_root, seed=self.seed, device=self.device, **overrides)
        protocol = protocol or self.protocol
        if protocol != "retrieval":
            common.setdefault("train_per_class", self.labels)
        if point is None:
            if backbone is None and overrides.get("checkpoint") is not None:
                backbone = read_metadata(overrides["checkpoint"]).get("backbone")
            if backbone is None:
                raise ValueError(
                    "an evaluation from scratch or of a checkpoint file without sslvid metadata needs backbone=<name>"
                )
            common.setdefault("frames", self.pretrain_config({"task": "rotnet", "backbone": backbone}).frames)
            return EvalConfig.for_profile(self.profile, source=SCRATCH, backbone=backbone, protocol=protocol, **common)
        source = self.pretrain_config(point)
        for name in ("frames", "crop_size", "cache_size"):
            common.setdefault(name, getattr(source, name))
        return EvalConfig.for_profile(self.profile, source=source, protocol=protocol, source_epoch=epoch, **common)

    def evaluate(
        self,
        point: Mapping[str, Any] | None,
        target: str = "appearance",
        protocol: str | None = None,
        epoch: int | None = None,
        backbone: str | None = None,
        **overrides: Any,
    ) -> pd.DataFrame:
        """Pre-train ``point`` if needed, then evaluate it: the evaluation's rows of the results table (cached)."""
        if point is not None:
            self.pretrain(point)
        config = self.eval_config(point, target, protocol, epoch, backbone, **overrides)
        what = f"evaluate/{config.protocol}/{target}"
        with self.timed(what, point or {"backbone": backbone}, epoch=epoch), using_cache_dir(self.cache_dir):
            return evaluate(config, workspace=self.workspace)

    def accuracy(
        self,
        points: Iterable[Mapping[str, Any] | None],
        target: str | Sequence[str] = "appearance",
        protocol: str | None = None,
        epochs: Sequence[int | None] = (None,),
        metric: str = "top1_video",
        scratch_backbones: Sequence[str] = (),
        seeds: Sequence[int] | None = None,
        **overrides: Any,
    ) -> pd.DataFrame:
        """One row per (point, epoch): the point's fields and its accuracy on ``target``.

        Args:
            points: grid points (None entries are skipped).
            target, protocol: as in ``evaluate``; several target kinds give their rows stacked, with ``target_kind``.
            epochs: pre-training checkpoints to evaluate (None: the final weights).
            metric: "top1_video" (scores averaged over a video's clips) or "top1_clip".
            scratch_backbones: also evaluate these networks from random initialisation (task "scratch").
            seeds: pre-train and evaluate every point with each of these seeds (``with_seed``), rows stacked with a
                ``seed`` column; None: the study's seed, no ``seed`` column.
            **overrides: other ``EvalConfig`` fields.

        Returns:
            columns ``task, backbone, data, subset, complexity, frames, epoch, config_hash, target, protocol,
            top1, videos``; ``videos``: the test videos behind ``top1`` (its protocol card's ``test_videos``,
            NaN where none), what a bootstrap over test videos resamples.
        """
        rest = (protocol, epochs, metric, scratch_backbones)
        if seeds is not None:
            points, seeds = list(points), [int(s) for s in seeds]
            if not seeds or len(set(seeds)) < len(seeds):
                raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
            found = [self.with_seed(s).accuracy(points, target, *rest, **overrides).assign(seed=s) for s in seeds]
            stacked = [f for f in found if not f.empty]
            return pd.concat(stacked, ignore_index=True) if stacked else pd.DataFrame()
        if not isinstance(target, str):
            points, kinds = list(points), check_selection(target, list(TARGETS), "targets")
            found = [self.accuracy(points, k, *rest, **overrides).assign(target_kind=k) for k in kinds]
            return pd.concat(found, ignore_index=True)
        runs = [(p, p, e) for p in points if p is not None for e in epochs]
        runs += [(None, {"task": "scratch", "backbone": b}, None) for b in scratch_backbones]
        rows, videos = [], []
        for point, shown, epoch in runs:
            backbone = shown["backbone"] if point is None else None
            table = self.evaluate(point, target, protocol, epoch, backbone, **overrides)
            rows.append({**_describe(shown), "epoch": 0 if point is None else epoch, **_metric(table, metric)})
            videos.append(card_test_videos(table.get("protocol_card", ())))
        frame = pd.DataFrame(rows)
        if rows:
            frame.insert(len(frame.columns) - 1, "target", self.target(target))
            frame.insert(len(frame.columns) - 1, "protocol", protocol or self.protocol)
            frame["videos"] = videos
        return frame

    def outcomes(self, row: Mapping[str, Any] | pd.Series | str, condition: str | None = None) -> VideoOutcomes | None:
        """The per-test-video outcomes behind a row of ``accuracy`` (by its ``config_hash``, or a hash): (V,) video
        ids and (V,) correctness whose mean is the row's "top1_video" ``top1``; ``condition`` (e.g. ``"gaussian/1"``):
        the test under that noise (None: clean). None for an evaluation stored before outcomes were kept (compare
        it unpaired); ``sslvid.io.DamagedFileError`` when the file fails its checks."""
        return read_outcomes(self.store, str(row if isinstance(row, str) else row["config_hash"]), condition)

    def retrieval(
        self, points: Iterable[Mapping[str, Any]], target: str | Sequence[str] = "appearance"
    ) -> pd.DataFrame:
        """Clip retrieval hit@k (frozen features, benchmark §5.1) of each point on ``target`` (a kind, or several):
        one row per (point, k) of the point's fields (``POINT_COLUMNS``), ``target_kind``, ``target``, ``k`` and
        ``hit`` (percent of test items with a same-class training item among their k nearest; NaN for a k above
        the gallery)."""
        kinds = check_selection([target] if isinstance(target, str) else target, list(TARGETS), "targets")
        rows = []
        for kind, point in itertools.product(kinds, points):
            found = self.evaluate(point, target=kind, protocol="retrieval")
            shown = {**_describe(point), "target_kind": kind, "target": self.target(kind)}
            for metric, value in zip(found["metric"], found["value"]):
                if metric.startswith("hit@"):
                    rows.append({**shown, "k": int(metric.split("@")[1]), "hit": float(value)})
        return pd.DataFrame(rows)

    def timing_table(self) -> pd.DataFrame:
        """What this study object trained or evaluated, and how long each took (seconds)."""
        return pd.DataFrame(self.timings)


def _describe(point: Mapping[str, Any]) -> dict[str, Any]:
    """A point's fields shown in tables (``POINT_COLUMNS``)."""
    return {name: point.get(name) for name in POINT_COLUMNS if name in point}


def _metric(table: pd.DataFrame, metric: str) -> dict[str, Any]:
    rows = table[(table["metric"] == metric) & (table["condition"] == "clean")]
    if rows.empty:
        raise ValueError(f"no {metric!r} among the evaluation's metrics ({', '.join(sorted(set(table['metric'])))})")
    return {"config_hash": rows["config_hash"].iloc[0], "top1": float(rows["value"].iloc[0])}
