"""Claims with uncertainty, as data: one type, one verdict function and one renderer for every chapter.

A ``Claim`` is a paper's statement (``statement``, where it comes from: ``paper``, ``section``,
``table``), the ``quantity`` this book measures to check it, the claimed side of a threshold
(``direction``, ``threshold``) and the measured ``Estimate`` (a value with a 95% interval, how
many numbers stand behind it, how the interval was made). ``verdict(claim)`` decides:

* ``holds``: the interval lies on the claimed side of the threshold (or the one-sided p-value
  of the claimed side is below 0.05, where an exact test stands in for the interval);
* ``contradicted``: it lies on the other side;
* ``inconclusive``: the interval contains the threshold, or there is no interval (one number,
  one seed and no test videos to resample);
* ``not measured``: no number, with ``reason`` saying why.

The intervals (all two-sided 95%):

* seeds: Student's t interval of the mean over seeds (``seed_interval``; differences of paired
  seeds with ``seed_difference``);
* test videos: percentile bootstrap over test videos (Efron & Tibshirani 1993, ch. 13).
  Two models tested on the same videos are compared by the paired bootstrap
  (``paired_difference``, ``paired_mean_difference``: one resample of the videos per draw,
  applied to both models' stored per-video outcomes, ``sslvid.store.outcomes``), which is
  tighter. The pairing is over the videos every compared run has: a video skipped as unreadable
  in one run is left out of all, and the method text says how many were. From an accuracy and
  a count of test videos alone (runs evaluated before outcomes were kept)
  ``bootstrap_accuracy_difference`` / ``bootstrap_mean_difference`` resample each model's implied
  0/1 outcomes on their own; ``video_mean_difference`` picks the paired one
  when every outcome is stored and says in ``Estimate.method`` when it fell back. Any other
  function of several models' accuracies on the same videos (a student minus the better of its
  teachers, a group mean minus another, relative drops under noise) goes the same way through
  ``video_statistic`` (``paired_statistic`` / ``bootstrap_statistic``);
* rank agreement: Spearman's rho with a percentile bootstrap over the compared cells and,
  up to ``EXACT_MAX`` cells, the exact permutation p-value of every ordering (``spearman``);
  against a paper's fixed values, where every cell kept its per-video outcomes, a paired
  bootstrap over the test videos instead (``rank_agreement`` through ``video_statistic``),
  whose interval alone decides (inconclusive when it contains 0).

The verdict is always computed from the estimate; nothing here types "holds" by hand.
``claims_table`` renders a chapter's claims as one table with a short sentence each, and
``claim_rows`` / ``claims_from_rows`` turn claims into plain rows for the results store
(``sslvid.store.claims``) and back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sslvid.store.claims import CLAIM_COLUMNS, ClaimStore
from sslvid.store.outcomes import VideoOutcomes

HOLDS, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED = "holds", "contradicted", "inconclusive", "not measured"
VERDICTS = (HOLDS, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED)
DIRECTIONS = (">", "<")
LEVEL = 0.95
"""The coverage of every interval."""
ALPHA = 1 - LEVEL
EXACT_MAX = 8
"""Up to this many cells, rank agreement is tested exactly over all n! orderings (8! = 40,320)."""
BOOTSTRAP_DRAWS = 2000

SEEDS = "t interval over seeds"
VIDEOS = "bootstrap over test videos"
PAIRED_VIDEOS = "paired bootstrap over test videos"
UNPAIRED_VIDEOS = "bootstrap over test videos, unpaired (per-video outcomes not stored)"
CELLS = "bootstrap over cells"
PERMUTATION = "exact permutation test"
SINGLE = "one number, no interval"


@dataclass(frozen=True)
class Estimate:
    """A measured value with its 95% interval.

    Args:
        value: the point estimate (a mean, a difference, a rank correlation).
        low: lower end of the 95% interval (NaN: no interval).
        high: upper end (NaN: no interval).
        n: how many numbers stand behind it (seeds, test videos, cells).
        method: how the interval was made (``SEEDS``, ``VIDEOS``, ``CELLS``, ``PERMUTATION``, ...).
        p_greater: one-sided p-value of "the true value exceeds the threshold" being false
            (an exact test's p for value > 0), or None.
        p_less: the same for the lower side, or None.
    """

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 1
    method: str = SINGLE
    p_greater: float | None = None
    p_less: float | None = None

    def __post_init__(self) -> None:
        if not (math.isnan(self.low) or math.isnan(self.high)) and self.low > self.high:
            raise ValueError(f"an interval needs low <= high, got [{self.low}, {self.high}]")
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def text(self, digits: int = 2) -> str:
        """``value [low, high]``, or the value alone without an interval."""
        if math.isnan(self.value):
            return "n/a"
        if not self.has_interval:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, checked against this build's numbers.

    Args:
        key: short unique name within its chapter.
        chapter: the chapter module that measures it (``sslvid.experiments.<chapter>``).
        statement: the paper's statement, as checked.
        paper: the paper's key in the book's bibliography (``book/references.bib``).
        section: where the paper says it (e.g. "§4.2").
        table: the paper's table it reads ("" when none).
        quantity: what is measured, in a line (e.g. "R(2+1)D minus ShuffleNet, top-1 points").
        direction: ">" (the claim says the quantity exceeds ``threshold``) or "<".
        threshold: the value the claim is read against (0 for a difference or a correlation).
        estimate: the measured value with its interval; None when not measured.
        reason: why it is not measured (required when ``estimate`` is None).
        digits: decimals shown.
    """

    key: str
    chapter: str
    statement: str
    paper: str
    section: str
    quantity: str
    direction: str = ">"
    threshold: float = 0.0
    estimate: Estimate | None = None
    table: str = ""
    reason: str = ""
    digits: int = 2

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not self.key or not self.chapter:
            raise ValueError("a claim needs a key and a chapter")
        if self.estimate is None and not self.reason:
            raise ValueError(f"claim {self.key!r} is not measured: give the reason")

    @property
    def verdict(self) -> str:
        return verdict(self)

    def measured(self, estimate: Estimate | None, reason: str = "") -> Claim:
        """This claim with ``estimate`` (or, when None or NaN, e.g. a rank correlation of constant values, not
        measured for ``reason``; "no number" for a NaN estimate without one)."""
        if estimate is not None and math.isnan(estimate.value):
            estimate, reason = None, reason or "no number"
        return replace(self, estimate=estimate, reason=reason if estimate is None else "")


def verdict(claim: Claim) -> str:
    """The verdict on ``claim`` from its estimate (module docstring): holds, contradicted, inconclusive or
    not measured."""
    est = claim.estimate
    if est is None or math.isnan(est.value):
        return NOT_MEASURED
    claimed, other = (est.p_greater, est.p_less) if claim.direction == ">" else (est.p_less, est.p_greater)
    if claimed is not None or other is not None:
        if claim.threshold != 0:
            raise ValueError(f"claim {claim.key!r}: a p-value decides only against 0, not {claim.threshold}")
        if claimed is not None and claimed < ALPHA:
            return HOLDS
        if other is not None and other < ALPHA:
            return CONTRADICTED
        return INCONCLUSIVE
    if not est.has_interval:
        return INCONCLUSIVE
    above, below = est.low > claim.threshold, est.high < claim.threshold
    if (above and claim.direction == ">") or (below and claim.direction == "<"):
        return HOLDS
    if above or below:
        return CONTRADICTED
    return INCONCLUSIVE


def printed_verdict(claim: Claim) -> str:
    """The verdict on numbers printed without uncertainty (a paper's own table): the side of the threshold
    the value lies on (holds, contradicted; a value on the threshold is inconclusive), or not measured."""
    est = claim.estimate
    if est is None or math.isnan(est.value):
        return NOT_MEASURED
    if est.value == claim.threshold:
        return INCONCLUSIVE
    return HOLDS if (est.value > claim.threshold) == (claim.direction == ">") else CONTRADICTED


def printed_claims(claims: Iterable[Claim], reason: bool = False) -> pd.DataFrame:
    """Claims checked on a paper's printed numbers, to set beside ``claims_table``: ``claim``, ``paper's value``,
    ``paper's numbers`` (``printed_verdict``) and, with ``reason``, why a claim was not measured."""
    rows = [
        {
            "claim": c.key,
            "paper's value": c.estimate.value if c.estimate else np.nan,
            "paper's numbers": printed_verdict(c),
            "reason": c.reason,
        }
        for c in claims
    ]
    return pd.DataFrame(rows, columns=["claim", "paper's value", "paper's numbers", *(["reason"] if reason else [])])


# ---------------------------------------------------------------------- intervals


def _finite(values: Iterable[float], what: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers")
    return array[~np.isnan(array)]


def seed_interval(values: Sequence[float]) -> Estimate:
    """Mean over seeds with Student's t 95% interval (no interval from one seed).

    Raises:
        ValueError: for no finite value.
    """
    array = _finite(values, "seed values")
    if len(array) == 0:
        raise ValueError("no finite value to estimate from")
    mean = float(array.mean())
    if len(array) < 2:
        return Estimate(mean, n=1, method=SEEDS)
    half = float(stats.t.ppf(1 - ALPHA / 2, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
    return Estimate(mean, mean - half, mean + half, len(array), SEEDS)


def seed_difference(a: Mapping[int, float], b: Mapping[int, float]) -> Estimate:
    """``a - b`` over the seeds both have (paired by seed), with the t interval of the mean difference.

    Raises:
        ValueError: when the two share no seed.
    """
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError(f"no seed in common: {sorted(a)} vs {sorted(b)}")
    return seed_interval([a[s] - b[s] for s in shared])


def _percentile(draws: np.ndarray) -> tuple[float, float]:
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return math.nan, math.nan
    low, high = np.percentile(draws, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(low), float(high)


def _outcomes(accuracy: float, videos: int) -> np.ndarray:
    """The 0/1 outcomes of ``videos`` test videos that ``accuracy`` percent of were right."""
    if videos < 1:
        raise ValueError(f"need at least one test video, got {videos}")
    if not 0 <= accuracy <= 100:
        raise ValueError(f"an accuracy is a percentage in [0, 100], got {accuracy}")
    right = round(accuracy * videos / 100)
    return np.r_[np.ones(right), np.zeros(videos - right)]


def bootstrap_accuracy(accuracy: float, videos: int, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Estimate:
    """An accuracy (percent) with the percentile bootstrap interval over its ``videos`` test videos."""
    outcomes = _outcomes(accuracy, videos)
    rng = np.random.default_rng(seed)
    means = outcomes[rng.integers(0, len(outcomes), (draws, len(outcomes)))].mean(axis=1) * 100
    return Estimate(float(outcomes.mean() * 100), *_percentile(means), len(outcomes), VIDEOS)


def bootstrap_accuracy_difference(
    a: float | Sequence[bool],
    b: float | Sequence[bool],
    videos_a: int | None = None,
    videos_b: int | None = None,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> Estimate:
    """Accuracy of ``a`` minus ``b`` in points, with a percentile bootstrap interval over test videos.

    Args:
        a: per-video correctness of model a (paired with ``b``: the same videos in the same
            order), or its accuracy in percent with ``videos_a``.
        b: the same for model b.
        videos_a: test videos behind ``a`` when it is an accuracy.
        videos_b: test videos behind ``b`` when it is an accuracy.

    Raises:
        ValueError: for a percentage without its video count, or paired vectors of different lengths.
    """
    rng = np.random.default_rng(seed)
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        if videos_a is None or videos_b is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            raise ValueError("give both accuracies with their test video counts, or both per-video correctness")
        xa, xb = _outcomes(float(a), videos_a), _outcomes(float(b), videos_b)
        ma = xa[rng.integers(0, len(xa), (draws, len(xa)))].mean(axis=1)
        mb = xb[rng.integers(0, len(xb), (draws, len(xb)))].mean(axis=1)
        return Estimate(
            float(xa.mean() - xb.mean()) * 100, *_percentile((ma - mb) * 100), min(len(xa), len(xb)), VIDEOS
        )
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape or xa.ndim != 1 or len(xa) == 0:
        raise ValueError(f"paired correctness needs two equal-length vectors, got {xa.shape} and {xb.shape}")
    idx = rng.integers(0, len(xa), (draws, len(xa)))
    diff = (xa[idx].mean(axis=1) - xb[idx].mean(axis=1)) * 100
    return Estimate(float(xa.mean() - xb.mean()) * 100, *_percentile(diff), len(xa), PAIRED_VIDEOS)


def bootstrap_mean_difference(
    cells: Sequence[tuple[float, float, float, float]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """Mean over cells of accuracy a minus accuracy b (points), with a percentile bootstrap over test videos.

    Each draw resamples every model's test videos (the 0/1 outcomes its accuracy implies) and
    averages the cells' differences, so the interval is the uncertainty of the test sets behind
    these very models (not of other tasks or seeds). Without a video count for every model there
    is no interval (the verdict is then inconclusive).

    Args:
        cells: ``(accuracy_a, videos_a, accuracy_b, videos_b)`` per cell, accuracies in percent.

    Raises:
        ValueError: for no cell, or an accuracy outside [0, 100].
    """
    if not cells:
        raise ValueError("no cell to compare")
    mean = float(np.mean([a - b for a, _, b, _ in cells]))
    if any(math.isnan(float(n)) for _, na, _, nb in cells for n in (na, nb)):
        return Estimate(mean, n=len(cells), method=SINGLE)
    rng = np.random.default_rng(seed)
    total = np.zeros(draws)
    for a, na, b, nb in cells:
        for accuracy, videos, sign in ((a, na, 1), (b, nb, -1)):
            outcomes = _outcomes(float(accuracy), int(videos))
            total += sign * rng.binomial(len(outcomes), outcomes.mean(), draws) / len(outcomes) * 100
    videos = int(min(min(na, nb) for _, na, _, nb in cells))
    return Estimate(mean, *_percentile(total / len(cells)), videos, VIDEOS)


def paired_method(dropped: int, shared: int) -> str:
    """The method text of a paired bootstrap over ``shared`` test videos, ``dropped`` of all the compared runs'
    videos left out because not every run had them (``PAIRED_VIDEOS`` when none was)."""
    if dropped == 0:
        return PAIRED_VIDEOS
    return f"paired bootstrap over {shared} shared test videos ({dropped} not in every run)"


def is_paired(method: str) -> bool:
    """Whether ``method`` (an ``Estimate.method``) is a paired bootstrap over test videos."""
    return method.startswith("paired bootstrap over")


def _shared_videos(runs: Sequence[VideoOutcomes]) -> tuple[tuple[str, ...], int]:
    """The test videos every one of ``runs`` has (sorted) and how many of all their videos are not among them.

    A corrupt video is skipped and counted where it cannot be read, so two evaluations of the same test
    set can hold different videos; a paired comparison is over the ones they share.

    Raises:
        ValueError: when the runs share no video.
    """
    shared = set(runs[0].videos).intersection(*(run.videos for run in runs[1:]))
    union = set(runs[0].videos).union(*(run.videos for run in runs[1:]))
    if not shared:
        sizes = ", ".join(f"{run.config_hash} has {len(run.videos)}" for run in runs)
        raise ValueError(f"a paired comparison needs shared test videos, but these runs share none: {sizes}")
    return tuple(sorted(shared)), len(union) - len(shared)


def _on(run: VideoOutcomes, videos: tuple[str, ...]) -> np.ndarray:
    """(V,) outcomes of ``run`` on ``videos`` (sorted, every one among the run's)."""
    if run.videos == videos:
        return run.correct
    return run.correct[np.searchsorted(np.asarray(run.videos), np.asarray(videos))]


def _resampled_means(values: np.ndarray, draws: int, rng: np.random.Generator, chunk: int = 256) -> np.ndarray:
    """(draws,) means of ``values`` (V,) over bootstrap resamples of its V entries (``chunk`` draws at a time)."""
    out = np.empty(draws)
    for start in range(0, draws, chunk):
        n = min(chunk, draws - start)
        out[start : start + n] = values[rng.integers(0, len(values), (n, len(values)))].mean(axis=1)
    return out


def paired_mean_difference(
    cells: Sequence[tuple[VideoOutcomes, VideoOutcomes]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """Mean over cells of accuracy a minus accuracy b (points), with a paired percentile bootstrap over
    the test videos (Efron & Tibshirani 1993, ch. 13; the paired bootstrap resamples the shared
    units, here videos, and keeps each video's pair of outcomes together).

    Each draw resamples the test videos once and applies the same resample to both models of a
    cell, and to every cell over the same videos, so what the models share (easy and hard videos)
    cancels in the difference: the interval is that of the difference, tighter than the unpaired
    ``bootstrap_mean_difference`` whenever the models' outcomes are positively correlated.

    Cells whose runs share test videos (the same test set) are resampled together, over the videos every
    run among them has: a video skipped as unreadable in one run is left out of them all, and the method
    text says how many were (``paired_method``). Cells over disjoint test sets (other datasets) are
    resampled each on their own.

    Args:
        cells: ``(a, b)`` per cell, each the outcomes of one model over the cell's test videos.

    Returns:
        an ``Estimate`` with method ``PAIRED_VIDEOS`` (or ``paired_method`` text when videos were left
        out) and ``n`` the fewest shared test videos of a group of cells.

    Raises:
        ValueError: for no cell, or a cell whose two models share no test video.
    """
    if not cells:
        raise ValueError("no cell to compare")
    groups: list[tuple[set[str], list[tuple[VideoOutcomes, VideoOutcomes]]]] = []
    for a, b in cells:
        _shared_videos([a, b])  # a cell with nothing to pair raises here, before groups merge it away
        videos, members, at = set(a.videos) | set(b.videos), [(a, b)], len(groups)
        for i in reversed([i for i, (seen, _) in enumerate(groups) if not seen.isdisjoint(videos)]):
            seen, earlier = groups.pop(i)
            videos, members, at = videos | seen, earlier + members, i
        groups.insert(at, (videos, members))  # groups stay in the order of their first cell
    rng = np.random.default_rng(seed)
    value, total, sizes, dropped = 0.0, np.zeros(draws), [], 0
    for _, members in groups:
        shared, left_out = _shared_videos([run for pair in members for run in pair])
        summed = np.zeros(len(shared))  # (V,) per-video differences summed over the cells on these videos
        for a, b in members:
            summed += _on(a, shared).astype(float) - _on(b, shared).astype(float)
        value += float(summed.mean())
        total += _resampled_means(summed, draws, rng)
        sizes.append(len(shared))
        dropped += left_out
    scale = 100 / len(cells)
    return Estimate(value * scale, *_percentile(total * scale), min(sizes), paired_method(dropped, min(sizes)))


def paired_difference(a: VideoOutcomes, b: VideoOutcomes, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Estimate:
    """Accuracy of ``a`` minus ``b`` (points) on the test videos both have, with the paired percentile
    bootstrap (``paired_mean_difference`` of one cell; Efron & Tibshirani 1993).

    Raises:
        ValueError: when ``a`` and ``b`` share no video.
    """
    return paired_mean_difference([(a, b)], draws, seed)


def video_mean_difference(
    cells: Sequence[tuple[float, float, float, float]],
    outcomes: Sequence[tuple[VideoOutcomes | None, VideoOutcomes | None]] | None = None,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> Estimate:
    """``paired_mean_difference`` when every model of every cell has its outcomes stored, else the
    unpaired ``bootstrap_mean_difference`` (method ``UNPAIRED_VIDEOS`` when outcomes were asked for
    but some are missing: runs evaluated before they were kept).

    Each stored file is checked against its cell's accuracy on all of its videos (a stale file raises).
    The paired estimate is over the videos the runs share (``paired_mean_difference``): when a run
    skipped a video another one has, its value is the difference on the shared videos, which can differ
    from the difference of the cells' accuracies by those videos' share, and its method text says so.

    Args:
        cells: ``(accuracy_a, videos_a, accuracy_b, videos_b)`` per cell, accuracies in percent.
        outcomes: ``(outcomes_a, outcomes_b)`` per cell, in the order of ``cells`` (None: unpaired).

    Raises:
        ValueError: for outcomes not aligned with ``cells``, or whose accuracy is not the cell's (a
            stale file), and as ``paired_mean_difference`` / ``bootstrap_mean_difference``.
    """
    if outcomes is None:
        return bootstrap_mean_difference(cells, draws, seed)
    if len(outcomes) != len(cells):
        raise ValueError(f"{len(outcomes)} outcome pairs for {len(cells)} cells")
    if any(x is None for pair in outcomes for x in pair):
        found = bootstrap_mean_difference(cells, draws, seed)
        return replace(found, method=UNPAIRED_VIDEOS) if found.method == VIDEOS else found
    pairs = [(a, b) for a, b in outcomes if a is not None and b is not None]
    for (acc_a, _, acc_b, _), pair in zip(cells, pairs):
        for accuracy, kept in zip((acc_a, acc_b), pair):
            if not math.isclose(float(accuracy), kept.accuracy, abs_tol=1e-6):
                raise ValueError(
                    f"the outcomes of {kept.config_hash} average to {kept.accuracy}, its accuracy is {accuracy}"
                )
    return paired_mean_difference(pairs, draws, seed)


Statistic = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""A claim's quantity from models' accuracies: ``{model: (D,) accuracies in percent}`` -> (D,) values (D draws,
or 1 for the observed accuracies); written with numpy so that every draw goes through at once."""


def _observed(statistic: Statistic, accuracies: Mapping[str, float]) -> float:
    return float(np.asarray(statistic({k: np.array([float(a)]) for k, a in accuracies.items()}))[0])


def paired_statistic(
    outcomes: Mapping[str, VideoOutcomes], statistic: Statistic, draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """A statistic of several models' accuracies on the V test videos they share, with the paired percentile
    bootstrap (Efron & Tibshirani 1993, ch. 13): each draw resamples the V videos once and recomputes every
    model's accuracy on that resample, so what the models share cancels in differences, ratios and maxima.

    A video that not every model has (skipped as unreadable in one evaluation) is left out for all of
    them, and the observed value is then the statistic of the accuracies on the shared videos, so that
    value and interval are over the same videos; the method text counts the videos left out
    (``paired_method``). With nothing left out, the value is that of the models' accuracies.

    Args:
        outcomes: ``{model: outcomes}``.
        statistic: the quantity (``Statistic``), e.g. ``lambda a: a["s"] - np.maximum(a["t1"], a["t2"])``.

    Returns:
        an ``Estimate`` with method ``PAIRED_VIDEOS`` (or ``paired_method`` text) and ``n`` = V.

    Raises:
        ValueError: for no model, or models that share no test video.
    """
    if not outcomes:
        raise ValueError("no model to compare")
    names = list(outcomes)
    shared, dropped = _shared_videos([outcomes[k] for k in names])
    correct = np.stack([_on(outcomes[k], shared).astype(np.uint8) for k in names])  # (M, V)
    chunk = max(1, min(256, 2**24 // correct.size))  # draws at a time: (M, chunk, V) bytes stay under 16 MiB
    rng = np.random.default_rng(seed)
    values = np.empty(draws)
    for start in range(0, draws, chunk):
        idx = rng.integers(0, correct.shape[1], (min(chunk, draws - start), correct.shape[1]))  # (n, V)
        means = correct[:, idx].mean(axis=2) * 100  # (M, n)
        values[start : start + len(idx)] = statistic(dict(zip(names, means)))
    value = _observed(statistic, {k: float(row.mean() * 100) for k, row in zip(names, correct)})
    return Estimate(value, *_percentile(values), len(shared), paired_method(dropped, len(shared)))


def bootstrap_statistic(
    accuracies: Mapping[str, tuple[float, float]], statistic: Statistic, draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """``paired_statistic`` without per-video outcomes: each model's implied 0/1 outcomes are resampled on
    their own (percentile bootstrap over test videos, unpaired; Efron & Tibshirani 1993).

    Args:
        accuracies: ``{model: (accuracy in percent, test videos)}``; a NaN count: no interval.

    Raises:
        ValueError: for no model, or an accuracy outside [0, 100].
    """
    if not accuracies:
        raise ValueError("no model to compare")
    value = _observed(statistic, {k: a for k, (a, _) in accuracies.items()})
    if any(math.isnan(float(n)) for _, n in accuracies.values()):
        return Estimate(value, n=1, method=SINGLE)
    rng = np.random.default_rng(seed)
    drawn = {}
    for name, (accuracy, videos) in accuracies.items():
        outcomes = _outcomes(float(accuracy), int(videos))
        drawn[name] = rng.binomial(len(outcomes), outcomes.mean(), draws) / len(outcomes) * 100
    videos = int(min(n for _, n in accuracies.values()))
    return Estimate(value, *_percentile(np.asarray(statistic(drawn))), videos, VIDEOS)


def video_statistic(
    accuracies: Mapping[str, tuple[float, float]],
    statistic: Statistic,
    outcomes: Mapping[str, VideoOutcomes | None] | None = None,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> Estimate:
    """``paired_statistic`` when every model has its outcomes stored, else ``bootstrap_statistic`` (method
    ``UNPAIRED_VIDEOS`` when outcomes were asked for but some are missing), as ``video_mean_difference``.

    Each stored file must average, over all of its videos, to its model's accuracy (else it is stale and
    this raises); the paired estimate is then over the videos every model has, its value computed from
    the outcomes on those videos (``paired_statistic``), not from ``accuracies``, when some were left out.

    Args:
        accuracies: ``{model: (accuracy in percent, test videos)}``.
        outcomes: ``{model: outcomes or None}`` for the same models (None: unpaired).

    Raises:
        ValueError: for outcomes of other models than ``accuracies``, or whose accuracy is not the model's
            (a stale file), and as ``paired_statistic`` / ``bootstrap_statistic``.
    """
    if outcomes is None:
        return bootstrap_statistic(accuracies, statistic, draws, seed)
    if set(outcomes) != set(accuracies):
        raise ValueError(f"outcomes of {sorted(outcomes)} for accuracies of {sorted(accuracies)}")
    if any(kept is None for kept in outcomes.values()):
        found = bootstrap_statistic(accuracies, statistic, draws, seed)
        return replace(found, method=UNPAIRED_VIDEOS) if found.method == VIDEOS else found
    kept = {k: v for k, v in outcomes.items() if v is not None}
    for name, (accuracy, _) in accuracies.items():
        if not math.isclose(float(accuracy), kept[name].accuracy, abs_tol=1e-6):
            raise ValueError(f"the outcomes of {name} average to {kept[name].accuracy}, its accuracy is {accuracy}")
    return paired_statistic(kept, statistic, draws, seed)


def bootstrap_combination(
    terms: Sequence[tuple[float, float, float]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """A weighted sum of accuracies (points), e.g. ``(a30 - a10) - (a100 - a30)``, with a percentile
    bootstrap over each model's test videos (resampled independently, as in ``bootstrap_mean_difference``).

    Args:
        terms: ``(weight, accuracy in percent, test videos)`` per model; NaN videos: no interval.

    Raises:
        ValueError: for no term, or an accuracy outside [0, 100].
    """
    if not terms:
        raise ValueError("no term to combine")
    value = float(sum(w * a for w, a, _ in terms))
    if any(math.isnan(float(n)) for _, _, n in terms):
        return Estimate(value, n=1, method=SINGLE)
    rng = np.random.default_rng(seed)
    total = np.zeros(draws)
    for weight, accuracy, videos in terms:
        outcomes = _outcomes(float(accuracy), int(videos))
        total += weight * rng.binomial(len(outcomes), outcomes.mean(), draws) / len(outcomes) * 100
    return Estimate(value, *_percentile(total), int(min(n for _, _, n in terms)), VIDEOS)


def bootstrap_mean(
    values: Sequence[float], draws: int = BOOTSTRAP_DRAWS, seed: int = 0, statistic: str = "mean"
) -> Estimate:
    """The mean (or ``statistic`` "median") of ``values`` (cells or series of a table) with a percentile
    bootstrap interval over them: how much the statement varies across the cells it generalises over.

    Raises:
        ValueError: for no finite value, or a statistic other than "mean" / "median".
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic is 'mean' or 'median', got {statistic!r}")
    reduce = np.mean if statistic == "mean" else np.median
    array = _finite(values, "values")
    if len(array) == 0:
        raise ValueError("no finite value to estimate from")
    if len(array) < 2:
        return Estimate(float(array[0]), n=1, method=SINGLE)
    rng = np.random.default_rng(seed)
    draws_ = reduce(array[rng.integers(0, len(array), (draws, len(array)))], axis=1)
    return Estimate(float(reduce(array)), *_percentile(draws_), len(array), CELLS)


def bootstrap_group_difference(
    a: Sequence[float], b: Sequence[float], draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Estimate:
    """Mean of ``a`` minus mean of ``b`` (two groups of cells), each group resampled on its own.

    Raises:
        ValueError: when a group has no finite value.
    """
    xa, xb = _finite(a, "group a"), _finite(b, "group b")
    if len(xa) == 0 or len(xb) == 0:
        raise ValueError("both groups need a value")
    value = float(xa.mean() - xb.mean())
    if len(xa) < 2 or len(xb) < 2:
        return Estimate(value, n=min(len(xa), len(xb)), method=SINGLE)
    rng = np.random.default_rng(seed)
    diff = xa[rng.integers(0, len(xa), (draws, len(xa)))].mean(axis=1) - xb[
        rng.integers(0, len(xb), (draws, len(xb)))
    ].mean(axis=1)
    return Estimate(value, *_percentile(diff), min(len(xa), len(xb)), CELLS)


def _rank_corr(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Pearson correlation of rank vectors along the last axis (Spearman's rho with average ranks)."""
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(-1) / np.sqrt((rx**2).sum(-1) * (ry**2).sum(-1))


def spearman(x: Sequence[float], y: Sequence[float], draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Estimate:
    """Spearman's rank correlation of paired cells with its uncertainty (Spearman 1904).

    The interval is the percentile bootstrap over cells (resamples with one side constant are
    dropped). Up to ``EXACT_MAX`` cells the estimate also carries the exact one-sided
    permutation p-values over all n! orderings (``p_greater``: of rho at least as large,
    ``p_less``: at least as small), which decide the verdict there.

    Raises:
        ValueError: for sequences of different lengths.
    """
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x_arr.shape != y_arr.shape or x_arr.ndim != 1:
        raise ValueError(f"spearman needs two equal-length sequences, got {x_arr.shape} and {y_arr.shape}")
    keep = ~(np.isnan(x_arr) | np.isnan(y_arr))
    x_arr, y_arr = x_arr[keep], y_arr[keep]
    n = len(x_arr)
    if n < 3 or len(set(x_arr)) < 2 or len(set(y_arr)) < 2:
        return Estimate(math.nan, n=n, method=CELLS)
    rx, ry = stats.rankdata(x_arr), stats.rankdata(y_arr)
    rho = float(_rank_corr(rx, ry))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (draws, n))
    boot = _rank_corr(stats.rankdata(x_arr[idx], axis=1), stats.rankdata(y_arr[idx], axis=1))
    low, high = _percentile(boot)
    if n > EXACT_MAX:
        return Estimate(rho, low, high, n, CELLS)
    perms = np.array(list(itertools.permutations(range(n))))
    null = _rank_corr(np.broadcast_to(rx, perms.shape), ry[perms])
    tol = 1e-12
    return Estimate(
        rho,
        low,
        high,
        n,
        PERMUTATION,
        p_greater=float(np.mean(null >= rho - tol)),
        p_less=float(np.mean(null <= rho + tol)),
    )


def rank_agreement(reference: Mapping[str, float]) -> Statistic:
    """Spearman's rho of models' accuracies against fixed ``reference`` values (a paper's), as a ``Statistic``
    for ``video_statistic`` / ``paired_statistic``: the bootstrap then resamples the test videos, and the
    interval is that of this build's ranking on this test set against the paper's printed one (which has
    no uncertainty of its own here). Accuracies are ranked with average ranks in every draw; a draw whose
    accuracies are all equal has no rho (NaN, left out of the interval).

    Args:
        reference: ``{model: the paper's value}`` for the models the statistic is given.

    Raises:
        ValueError: for fewer than 3 models, or reference values all equal.
    """
    names = list(reference)
    values = np.asarray([float(reference[k]) for k in names])
    if len(names) < 3 or len(set(values)) < 2:
        raise ValueError(f"a rank correlation needs 3 or more models with different values, got {len(names)}")
    ranks = stats.rankdata(values)

    def rho(accuracies: Mapping[str, np.ndarray]) -> np.ndarray:
        ours = np.stack([np.atleast_1d(np.asarray(accuracies[k], dtype=float)) for k in names], axis=-1)  # (D, M)
        return np.atleast_1d(_rank_corr(stats.rankdata(ours, axis=-1), np.broadcast_to(ranks, ours.shape)))

    return rho


# ---------------------------------------------------------------------- rendering and rows


def sentence(claim: Claim) -> str:
    """One short sentence: the quantity, its value with interval and method, the verdict."""
    est = claim.estimate
    if est is None or math.isnan(est.value):
        return f"Not measured: {claim.reason or 'no number'}."
    d = claim.digits
    interval = (
        f"95% interval {est.low:.{d}f} to {est.high:.{d}f}, {est.method}, n = {est.n}"
        if est.has_interval
        else f"{est.method}, n = {est.n}"
    )
    p = ""
    if est.p_greater is not None or est.p_less is not None:
        side = est.p_greater if claim.direction == ">" else est.p_less
        p = f"; one-sided p = {side:.3f}" if side is not None else ""
    return f"{claim.quantity}: {est.value:.{d}f} ({interval}{p}); the claim {verdict(claim)}."


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """Claims as one table: ``chapter``, ``claim``, ``source``, ``statement``, ``measured`` (value [95%
    interval]), ``verdict``, ``in short`` (``sentence``)."""
    columns = ["chapter", "claim", "source", "statement", "measured", "verdict", "in short"]
    rows = []
    for claim in claims:
        where = ", ".join(part for part in (claim.paper, claim.section, claim.table) if part)
        rows.append(
            {
                "chapter": claim.chapter,
                "claim": claim.key,
                "source": where,
                "statement": claim.statement,
                "measured": claim.estimate.text(claim.digits) if claim.estimate else "n/a",
                "verdict": verdict(claim),
                "in short": sentence(claim),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def verdict_counts(claims: Iterable[Claim]) -> dict[str, int]:
    """How many claims there are (``"claims"``) and how many have each verdict (every verdict named, zeros
    included)."""
    counts = {"claims": 0, **dict.fromkeys(VERDICTS, 0)}
    for claim in claims:
        counts["claims"] += 1
        counts[verdict(claim)] += 1
    return counts


ROW_FIELDS = tuple(name for name in CLAIM_COLUMNS if name != "profile")
"""The plain row of a claim (``claim_rows``), as the claims table of the results store holds it."""


def claim_rows(claims: Iterable[Claim]) -> list[dict[str, Any]]:
    """Claims as plain rows (``ROW_FIELDS``), with the computed verdict beside them."""
    rows = []
    for claim in claims:
        est = (
            asdict(claim.estimate)
            if claim.estimate is not None
            else dict.fromkeys(("value", "low", "high", "n", "method", "p_greater", "p_less"))
        )
        row = {name: getattr(claim, name) for name in ROW_FIELDS if hasattr(claim, name) and name != "verdict"}
        rows.append({**row, **est, "verdict": verdict(claim)})
    return rows


def _number(value: Any) -> float | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def claims_from_rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Claim]:
    """Claims back from plain rows (``claim_rows``); the verdict is recomputed, never read.

    Raises:
        ValueError: for a row without the fields of ``ROW_FIELDS``.
    """
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    claims = []
    for row in records:
        missing = [name for name in ROW_FIELDS if name not in row]
        if missing:
            raise ValueError(f"a claim row needs {missing}; got {sorted(row)}")
        value = _number(row["value"])
        low, high = _number(row["low"]), _number(row["high"])
        estimate = (
            None
            if value is None
            else Estimate(
                value,
                math.nan if low is None else low,
                math.nan if high is None else high,
                int(_number(row["n"]) or 0),
                str(row["method"]),
                _number(row["p_greater"]),
                _number(row["p_less"]),
            )
        )
        claims.append(
            Claim(
                key=_text(row["key"]),
                chapter=_text(row["chapter"]),
                statement=_text(row["statement"]),
                paper=_text(row["paper"]),
                section=_text(row["section"]),
                table=_text(row["table"]),
                quantity=_text(row["quantity"]),
                direction=_text(row["direction"]),
                threshold=float(row["threshold"]),
                estimate=estimate,
                reason=_text(row["reason"]) or ("" if estimate else "not measured"),
                digits=int(_number(row["digits"]) or 2),
            )
        )
    return claims


def record_claims(store: ClaimStore, profile: str, chapter: str, claims: Iterable[Claim]) -> list[Claim]:
    """Store a chapter's claims (replacing its earlier ones at ``profile``) for the discussion chapter; return them.

    Raises:
        ValueError: for a claim of another chapter.
    """
    claims = list(claims)
    store.replace_chapter(profile, chapter, claim_rows(claims))
    return claims


def stored_claims(store: ClaimStore, profile: str) -> list[Claim]:
    """Every chapter's recorded claims at ``profile``, verdicts recomputed."""
    return claims_from_rows(store.table(profile=profile).drop(columns=["profile"]))


def extremes(values: pd.Series, unit: str, sides: Mapping[str, str]) -> dict[str, Any]:
    """Facts on labelled ``values`` for a chapter's prose: per ``name: side`` of ``sides`` ("max" or "min"), the label
    of the largest or smallest value as ``name`` and that value as ``"<name> <unit>"`` ("n/a" and NaN for none)."""
    facts: dict[str, Any] = {}
    for name, side in sides.items():
        facts[name] = getattr(values, f"idx{side}")() if values.notna().any() else "n/a"
        facts[f"{name} {unit}"] = float(getattr(values, side)())
    return facts


def glue_facts(prefix: str, facts: Mapping[str, Any]) -> None:
    """Hand each fact to the book as ``<prefix>_<name>`` (spaces become underscores) through MyST-NB's ``glue``,
    so the notebook's markdown quotes it with ``{glue:text}``; numpy scalars become Python numbers. Without
    MyST-NB (the ``[book]`` extra, e.g. on Colab) nothing is glued and the notebook still runs: its tables
    carry the same numbers.
    """
    try:
        from myst_nb import glue
    except ImportError:
        return
    for name, value in facts.items():
        glue(
            f"{prefix}_{name.replace(' ', '_')}",
            value.item() if isinstance(value, np.generic) else value,
            display=False,
        )
