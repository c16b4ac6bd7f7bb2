"""The claim type, its verdicts and intervals, against hand-computed references."""

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sslvid.analysis.claims import (
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    PAIRED_VIDEOS,
    PERMUTATION,
    SEEDS,
    VIDEOS,
    Claim,
    Estimate,
    bootstrap_accuracy,
    bootstrap_accuracy_difference,
    bootstrap_mean,
    bootstrap_mean_difference,
    claim_rows,
    claims_from_rows,
    claims_table,
    extremes,
    glue_facts,
    record_claims,
    seed_difference,
    seed_interval,
    spearman,
    stored_claims,
    verdict,
    verdict_counts,
)
from sslvid.store.claims import ClaimStore
from sslvid.store.errors import NotCachedError


def claim(estimate=None, direction=">", threshold=0.0, reason=""):
    return Claim(
        "k",
        "preliminaries",
        "a statement",
        "benchmark2023",
        "§4.1",
        "rank agreement",
        direction,
        threshold,
        estimate,
        "Table 1",
        reason or ("" if estimate else "no runs"),
    )


@pytest.mark.parametrize(
    "low, high, direction, expected",
    [
        (0.5, 2.0, ">", HOLDS),
        (-2.0, -0.5, ">", CONTRADICTED),
        (-1.0, 1.0, ">", INCONCLUSIVE),
        (-2.0, -0.5, "<", HOLDS),
        (0.5, 2.0, "<", CONTRADICTED),
        (-1.0, 1.0, "<", INCONCLUSIVE),
    ],
)
def test_verdict_reads_the_interval_against_the_threshold(low, high, direction, expected):
    assert verdict(claim(Estimate((low + high) / 2, low, high, 3, SEEDS), direction)) == expected


def test_verdict_without_interval_or_number():
    assert verdict(claim(Estimate(5.0))) == INCONCLUSIVE  # one seed: a one-point win is no win
    assert verdict(claim(None, reason="no runs")) == NOT_MEASURED
    assert verdict(claim(Estimate(math.nan))) == NOT_MEASURED
    assert verdict(claim(Estimate(3.0, 1.0, 2.5, 3, SEEDS), threshold=1.5)) == INCONCLUSIVE
    assert verdict(claim(Estimate(3.0, 1.6, 4.0, 3, SEEDS), threshold=1.5)) == HOLDS


def test_verdict_reads_p_values_where_an_exact_test_stands():
    assert verdict(claim(Estimate(0.83, -0.1, 1.0, 6, PERMUTATION, 0.029, 0.98))) == HOLDS
    assert verdict(claim(Estimate(0.43, -0.5, 1.0, 6, PERMUTATION, 0.21, 0.82))) == INCONCLUSIVE
    assert verdict(claim(Estimate(-0.9, -1.0, -0.5, 6, PERMUTATION, 0.99, 0.01))) == CONTRADICTED


def test_bad_claims_are_refused():
    with pytest.raises(ValueError, match="direction"):
        claim(Estimate(1.0), direction="=")
    with pytest.raises(ValueError, match="reason"):
        Claim("k", "c", "s", "p", "§1", "q")
    with pytest.raises(ValueError, match="low <= high"):
        Estimate(1.0, 2.0, 0.0)


def test_seed_interval_is_students_t():
    est = seed_interval([70.0, 72.0, 74.0])
    half = stats.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)
    assert (est.value, est.n, est.method) == (72.0, 3, SEEDS)
    assert est.low == pytest.approx(72 - half) and est.high == pytest.approx(72 + half)
    assert est.low == pytest.approx(67.0317, abs=1e-4)
    assert not seed_interval([70.0]).has_interval
    with pytest.raises(ValueError, match="no finite"):
        seed_interval([])


def test_seed_difference_pairs_by_seed():
    est = seed_difference({0: 60.0, 1: 62.0, 2: 64.0, 3: 99.0}, {0: 50.0, 1: 51.0, 2: 52.0})
    assert est.value == pytest.approx(11.0) and est.n == 3
    with pytest.raises(ValueError, match="no seed in common"):
        seed_difference({0: 1.0}, {1: 1.0})


def test_spearman_exact_permutation_p_matches_a_hand_count():
    x, y = [1, 2, 3, 4, 5, 6], [3, 1, 6, 2, 4, 5]  # sum of squared rank differences 20: rho = 1 - 120/210
    est = spearman(x, y)
    assert est.value == pytest.approx(0.428571, abs=1e-6) and est.method == PERMUTATION and est.n == 6
    d2 = [sum((a - b) ** 2 for a, b in zip(x, p)) for p in itertools.permutations(x)]
    assert est.p_greater == pytest.approx(sum(d <= 20 for d in d2) / 720)
    assert est.p_less == pytest.approx(sum(d >= 20 for d in d2) / 720)
    assert est.p_greater > 0.05
    assert verdict(claim(est)) == INCONCLUSIVE  # Spearman 0.43 over 6 tasks decides nothing
    strong = spearman(x, [2, 1, 4, 3, 6, 5])  # rho 0.829: the one-sided 5% critical value at n = 6
    assert strong.p_greater == pytest.approx(21 / 720)
    assert verdict(claim(strong)) == HOLDS


def test_spearman_bootstrap_above_the_exact_limit_and_degenerate_input():
    est = spearman(range(10), [0, 2, 1, 3, 5, 4, 6, 8, 7, 9])
    assert est.value == pytest.approx(stats.spearmanr(range(10), [0, 2, 1, 3, 5, 4, 6, 8, 7, 9]).statistic)
    assert est.p_greater is None and est.low <= est.value <= est.high and est.high <= 1.0
    assert verdict(claim(est)) == HOLDS
    assert math.isnan(spearman([1, 2], [1, 2]).value)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]).value)
    with pytest.raises(ValueError, match="equal-length"):
        spearman([1, 2, 3], [1, 2])


def test_bootstrap_over_test_videos():
    one = bootstrap_accuracy(50.0, 100)
    assert one.value == 50.0 and one.low == pytest.approx(40.0, abs=1.5) and one.high == pytest.approx(60.0, abs=1.5)
    diff = bootstrap_accuracy_difference(60.0, 50.0, 100, 100)
    assert diff.value == pytest.approx(10.0) and diff.low < 0 < diff.high  # 10 points over 100 videos: undecided
    assert verdict(claim(diff)) == INCONCLUSIVE
    paired = bootstrap_accuracy_difference([1, 1, 1, 0] * 25, [1, 0, 1, 0] * 25)
    assert paired.method == PAIRED_VIDEOS and paired.value == pytest.approx(25.0) and paired.low > 0
    with pytest.raises(ValueError, match="video counts"):
        bootstrap_accuracy_difference(60.0, 50.0)
    with pytest.raises(ValueError, match="percentage"):
        bootstrap_accuracy(150.0, 10)
    assert bootstrap_mean([1.0, 2.0, 3.0]).value == 2.0


def test_rows_round_trip_and_table():
    claims = [claim(Estimate(0.83, -0.1, 1.0, 6, PERMUTATION, 0.029, 0.98)), claim(None, reason="no runs")]
    frame = pd.DataFrame(claim_rows(claims))
    assert list(frame["verdict"]) == [HOLDS, NOT_MEASURED]
    back = claims_from_rows(frame.astype(object).where(frame.notna(), np.nan))
    assert back == claims
    table = claims_table(claims)
    assert list(table["verdict"]) == [HOLDS, NOT_MEASURED]
    assert table["measured"].iloc[0] == "0.83 [-0.10, 1.00]"
    assert verdict_counts(claims) == {"claims": 2, HOLDS: 1, CONTRADICTED: 0, INCONCLUSIVE: 0, NOT_MEASURED: 1}


def test_mean_difference_bootstraps_every_models_test_videos():
    one = bootstrap_mean_difference([(60.0, 100, 50.0, 100)])
    four = bootstrap_mean_difference([(60.0, 100, 50.0, 100)] * 4)
    assert one.value == four.value == pytest.approx(10.0) and one.method == VIDEOS
    assert one.low < 0 < one.high and four.low > 0  # four such cells decide what one cannot
    unknown = bootstrap_mean_difference([(60.0, float("nan"), 50.0, 100)])
    assert not unknown.has_interval and verdict(claim(unknown)) == INCONCLUSIVE
    with pytest.raises(ValueError, match="no cell"):
        bootstrap_mean_difference([])


def test_claims_are_recorded_per_chapter_and_read_back(tmp_path):
    store = ClaimStore(tmp_path / "claims.csv")
    first = [claim(Estimate(0.83, -0.1, 1.0, 6, PERMUTATION, 0.029, 0.98)), claim(None, reason="no runs")]
    with pytest.raises(ValueError, match="repeat"):
        record_claims(store, "micro", "preliminaries", first)
    first[1] = dataclasses.replace(first[1], key="other")
    record_claims(store, "micro", "preliminaries", first)
    record_claims(store, "smoke", "preliminaries", first[:1])
    assert stored_claims(store, "micro") == first
    record_claims(store, "micro", "preliminaries", first[:1])  # a re-run replaces the chapter's rows
    assert stored_claims(store, "micro") == first[:1] and len(store.table()) == 2
    with pytest.raises(ValueError, match="recorded as"):
        record_claims(store, "micro", "subset_size", first)
    with pytest.raises(NotCachedError):
        record_claims(ClaimStore(tmp_path / "claims.csv", read_only=True), "micro", "preliminaries", first)


def test_glue_facts_names_and_plain_numbers(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: value}))
    glue_facts("t1", {"best task": "vcop", "top1": np.float64(40.5), "count": np.int64(3)})
    assert glued == {"t1_best_task": "vcop", "t1_top1": 40.5, "t1_count": 3}
    assert type(glued["t1_top1"]) is float and type(glued["t1_count"]) is int


def test_a_nan_estimate_counts_as_not_measured():
    claim = Claim("k", "c", "s", "p", "§1", "q", reason="not measured")
    found = claim.measured(Estimate(math.nan), "too few cells")
    assert found.estimate is None and found.reason == "too few cells" and found.verdict == NOT_MEASURED
    assert claim.measured(Estimate(math.nan)).reason == "no number"
    assert claim.measured(Estimate(1.0), "unused").reason == ""


def test_extremes_names_the_largest_and_smallest_labels_with_their_values():
    values = pd.Series([3.0, 1.0, np.nan, 5.0], index=["a", "b", "c", "d"])
    assert extremes(values, "gain", {"most": "max", "least": "min"}) == {
        "most": "d",
        "most gain": 5.0,
        "least": "b",
        "least gain": 1.0,
    }
    none = extremes(pd.Series(dtype=float), "gain", {"most": "max"})
    assert none["most"] == "n/a" and math.isnan(none["most gain"])
