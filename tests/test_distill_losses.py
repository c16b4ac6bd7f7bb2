"""Distillation losses against hand-computed references: KL at T, Earth Mover distances, MMD,
Count Sketch compact bilinear pooling (mean and variance over seeds), and AE-KD's min-norm weights."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import wasserstein_distance

from sslvid.distill.losses import (
    cosine_distance,
    em_distance,
    emd_1d,
    kd_kl,
    mmd,
    signed_sqrt,
    soften,
    summed_soft_label_kl,
)
from sslvid.distill.sketch import VARIANCE_CONSTANT, CountSketch, compact_bilinear, full_bilinear, tensor_sketch
from sslvid.distill.solver import min_norm_two, min_norm_weights

pytestmark = pytest.mark.usefixtures("one_thread")


def _softmax(values: list[float], t: float = 1.0) -> list[float]:
    exps = [math.exp(v / t) for v in values]
    return [e / sum(exps) for e in exps]


# ---------------------------------------------------------------------- KL at a temperature


def test_kd_kl_matches_the_hand_written_formula() -> None:
    t = 4.0
    student, teacher = [1.0, 2.0, 3.0], [3.0, 0.5, -1.0]
    p_s, p_t = _softmax(student, t), _softmax(teacher, t)
    expected = t * t * sum(q * math.log(q / p) for q, p in zip(p_t, p_s))
    got = kd_kl(torch.tensor([student]), soften(torch.tensor([teacher]), t), t)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_kd_kl_is_zero_for_equal_logits_and_its_gradient_is_t_times_the_difference() -> None:
    t, b = 3.0, 4
    z_s = torch.randn(b, 5, dtype=torch.float64, requires_grad=True)
    z_t = torch.randn(b, 5, dtype=torch.float64)
    assert kd_kl(z_t, soften(z_t, t), t).item() == pytest.approx(0.0, abs=1e-12)
    kd_kl(z_s, soften(z_t, t), t).backward()
    # d/dz_s of T^2 KL(p_t || softmax(z_s / T)), batch mean: T (p_s - p_t) / B (Hinton et al. 2015 §2.1)
    expected = t * (soften(z_s.detach(), t) - soften(z_t, t)) / b
    torch.testing.assert_close(z_s.grad, expected)


def test_skd_srl_kl_distils_the_summed_soft_label_into_each_view() -> None:
    # Vu et al. 2022 §III-A: soft label softmax((p1 + p2) / tau), KL from it to each view, tau = 10
    tau = 10.0
    a, b = [2.0, -1.0, 0.5], [0.0, 1.0, 3.0]
    q = _softmax([x + y for x, y in zip(a, b)], tau)
    pa, pb = _softmax(a, tau), _softmax(b, tau)
    expected = sum(t * math.log(t / x) for t, x in zip(q, pa)) + sum(t * math.log(t / y) for t, y in zip(q, pb))
    ta, tb = torch.tensor([a], requires_grad=True), torch.tensor([b])
    got = summed_soft_label_kl(ta, tb, tau)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert summed_soft_label_kl(tb, ta, tau).item() == pytest.approx(expected, rel=1e-5)
    # the soft label is a target: the gradient is that of KL(q || softmax(a / tau)) alone, (p_a - q) / tau
    got.backward()
    torch.testing.assert_close(ta.grad, (torch.tensor([pa]) - torch.tensor([q])) / tau)


def test_skd_srl_kl_does_not_vanish_when_the_views_agree() -> None:
    # the summed label is sharper than either view, so agreeing views still get a signal
    a = torch.tensor([[2.0, -1.0, 0.5]])
    p, q = _softmax(a[0].tolist(), 10.0), _softmax((2 * a[0]).tolist(), 10.0)
    expected = 2 * sum(t * math.log(t / x) for t, x in zip(q, p))
    assert summed_soft_label_kl(a, a.clone(), 10.0).item() == pytest.approx(expected, rel=1e-5)
    assert expected > 1e-3


# ---------------------------------------------------------------------- Earth Mover distances


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0], 2.0),  # all the mass moves two bins
        ([0.5, 0.5, 0.0], [0.0, 0.5, 0.5], 1.0),  # each half moves one bin
        ([0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25], 0.0),
        ([0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5], 1.5),  # 0.5 x 1 bin + 0.5 x 2 bins
    ],
)
def test_emd_1d_on_ordered_bins_is_the_l1_distance_of_the_cdfs(p: list[float], q: list[float], expected: float) -> None:
    got = emd_1d(torch.tensor(p), torch.tensor(q)).item()
    assert got == pytest.approx(expected, abs=1e-6)
    bins = np.arange(len(p))
    assert got == pytest.approx(wasserstein_distance(bins, bins, p, q), abs=1e-6)


def test_em_distance_ground_metric_is_the_euclidean_norm_between_softened_vectors() -> None:
    # Zhang & Peng 2018 Eq. 5: W1 with cost ||mu - eta||; between two single points it is that norm
    mu, eta = torch.tensor([[0.7, 0.2, 0.1]]), torch.tensor([[0.1, 0.3, 0.6]])
    expected = math.sqrt(0.6**2 + 0.1**2 + 0.5**2)
    for coupling in ("batch", "sample"):
        assert em_distance(mu, eta, coupling).item() == pytest.approx(expected, rel=1e-5)


def test_em_distance_batch_coupling_is_the_optimal_assignment() -> None:
    eye = torch.eye(3)
    swapped = eye[[1, 2, 0]]
    assert em_distance(eye, swapped, "batch").item() == pytest.approx(0.0, abs=1e-5)  # same point sets
    assert em_distance(eye, swapped, "sample").item() == pytest.approx(math.sqrt(2), rel=1e-5)
    shift = torch.tensor([0.3, -0.4, 0.0])
    assert em_distance(eye, swapped + shift, "batch").item() == pytest.approx(0.5, rel=1e-4)  # ||shift||
    gen = torch.Generator().manual_seed(0)
    a, b = F.softmax(torch.randn(5, 4, generator=gen), 1), F.softmax(torch.randn(5, 4, generator=gen), 1)
    brute = min(
        sum(float((a[i] - b[j]).norm()) for i, j in enumerate(perm)) / 5 for perm in itertools.permutations(range(5))
    )
    assert em_distance(a, b, "batch").item() == pytest.approx(brute, rel=1e-5)


def test_em_distance_has_gradients_and_rejects_bad_input() -> None:
    eta = torch.rand(4, 3, requires_grad=True)
    em_distance(F.softmax(torch.randn(4, 3), 1), F.softmax(eta, 1), "batch").backward()
    assert eta.grad is not None and torch.isfinite(eta.grad).all()
    with pytest.raises(ValueError, match="coupling"):
        em_distance(torch.rand(2, 3), torch.rand(2, 3), "nope")
    with pytest.raises(ValueError):
        em_distance(torch.rand(2, 3), torch.rand(3, 3))


def test_cosine_distance() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    assert cosine_distance(a, b).item() == pytest.approx(0.5)  # (1 + 0) / 2


# ---------------------------------------------------------------------- MMD


def test_mmd_by_hand_zero_for_identical_positive_otherwise() -> None:
    x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    assert mmd(x, y, sigma=1.0).item() == pytest.approx(2 - 2 * math.exp(-0.5), rel=1e-6)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 6, 4, generator=gen)
    assert mmd(a, a.clone(), sigma=1.0).item() == pytest.approx(0.0, abs=1e-6)
    assert mmd(a, a[:, torch.randperm(6, generator=gen)], sigma=1.0).item() == pytest.approx(0.0, abs=1e-6)
    assert mmd(a, a + 0.5, sigma=1.0).item() > 1e-3
    assert mmd(a, torch.randn(3, 9, 4, generator=gen), sigma=1.0).item() > 0  # sets of different sizes


def test_signed_sqrt() -> None:
    torch.testing.assert_close(signed_sqrt(torch.tensor([-4.0, 0.0, 9.0]), eps=0.0), torch.tensor([-2.0, 0.0, 3.0]))


# ---------------------------------------------------------------------- Count Sketch, compact bilinear pooling


def test_count_sketch_is_the_signed_bucket_sum() -> None:
    sketch = CountSketch(6, 4, seed=3)
    x = torch.randn(2, 6)
    expected = torch.zeros(2, 4)
    for c in range(6):
        expected[:, sketch.hash[c]] += sketch.sign[c] * x[:, c]
    torch.testing.assert_close(sketch(x), expected)


def test_tensor_sketch_is_the_count_sketch_of_the_outer_product() -> None:
    # FFT convolution of the two sketches == hash (h1 + h2) mod d, sign s1 s2 on x (x) y (Pham & Pagh 2013)
    s1, s2, d = CountSketch(5, 8, seed=1), CountSketch(3, 8, seed=2), 8
    x, y = torch.randn(5), torch.randn(3)
    expected = torch.zeros(d)
    for i, j in itertools.product(range(5), range(3)):
        expected[(s1.hash[i] + s2.hash[j]) % d] += s1.sign[i] * s2.sign[j] * x[i] * y[j]
    torch.testing.assert_close(tensor_sketch(x, y, s1, s2), expected, atol=1e-5, rtol=1e-5)


def _bilinear_estimates(d: int, seeds: int) -> tuple[np.ndarray, float, float]:
    gen = torch.Generator().manual_seed(0)
    x1, y1 = torch.randn(1, 8, 5, generator=gen), torch.randn(1, 6, 5, generator=gen)
    x2, y2 = x1 + 0.5 * torch.randn(1, 8, 5, generator=gen), y1 + 0.5 * torch.randn(1, 6, 5, generator=gen)
    u, v = full_bilinear(x1, y1)[0].double(), full_bilinear(x2, y2)[0].double()
    estimates = []
    for seed in range(seeds):
        sx, sy = CountSketch(8, d, seed=2 * seed), CountSketch(6, d, seed=2 * seed + 1)
        first, second = compact_bilinear(x1, y1, sx, sy)[0], compact_bilinear(x2, y2, sx, sy)[0]
        estimates.append(float(first.double() @ second.double()))
    return np.array(estimates), float(u @ v), float(u.norm() ** 2 * v.norm() ** 2)


def test_compact_bilinear_estimates_the_full_bilinear_inner_product_without_bias() -> None:
    # Gao et al. 2016 / Pham & Pagh 2013: E<TS u, TS v> = <u, v>, Var <= (2 + 3^2) / d ||u||^2 ||v||^2
    d, seeds = 64, 300
    estimates, exact, norms = _bilinear_estimates(d, seeds)
    bound = VARIANCE_CONSTANT / d * norms
    assert abs(estimates.mean() - exact) <= 4 * math.sqrt(bound / seeds)  # 4 sigma of the mean of `seeds` draws
    assert np.mean((estimates - exact) ** 2) <= bound


def test_compact_bilinear_error_falls_as_one_over_d() -> None:
    small, exact, _ = _bilinear_estimates(16, 200)
    large, _, _ = _bilinear_estimates(256, 200)
    ratio = np.mean((small - exact) ** 2) / np.mean((large - exact) ** 2)
    assert 6 < ratio < 40  # 256 / 16 = 16 expected


def test_compact_bilinear_keeps_locations_when_asked() -> None:
    sx, sy = CountSketch(4, 16), CountSketch(3, 16, seed=1)
    x, y = torch.randn(2, 4, 7), torch.randn(2, 3, 7)
    per_location = compact_bilinear(x, y, sx, sy, sum_locations=False)
    assert per_location.shape == (2, 16, 7)
    torch.testing.assert_close(per_location.sum(-1), compact_bilinear(x, y, sx, sy), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        compact_bilinear(x, torch.randn(2, 3, 6), sx, sy)


# ---------------------------------------------------------------------- AE-KD min-norm weights


@pytest.mark.parametrize(
    ("g1", "g2", "cap", "expected"),
    [
        ([2.0, 0.0], [0.0, 1.0], 1.0, [0.2, 0.8]),  # min over a of 4a^2 + (1 - a)^2: a = 1/5
        ([2.0, 0.0], [0.0, 1.0], 0.6, [0.4, 0.6]),  # tolerance C = 0.6 caps the second teacher
        ([1.0, 0.0], [0.0, 1.0], 1.0, [0.5, 0.5]),  # orthogonal, equal norms
        ([1.0, 0.0], [1.0, 1.0], 1.0, [1.0, 0.0]),  # ||(1, 1 - a)|| is smallest at a = 1
        ([1.0, 0.0], [-1.0, 0.0], 1.0, [0.5, 0.5]),  # opposite: the zero vector is in the hull
    ],
)
def test_min_norm_weights_of_two_teachers(g1: list[float], g2: list[float], cap: float, expected: list[float]) -> None:
    a, b = torch.tensor(g1), torch.tensor(g2)
    torch.testing.assert_close(min_norm_two(a, b, cap), torch.tensor(expected))
    weights = min_norm_weights(torch.stack([a, b]), cap=cap)
    torch.testing.assert_close(weights, torch.tensor(expected), atol=1e-6, rtol=0)


def test_min_norm_weights_of_many_teachers_beat_a_grid_and_respect_the_cap() -> None:
    grads = torch.randn(3, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for cap in (1.0, 0.5):
        alpha = min_norm_weights(grads, cap=cap, max_iter=500)
        assert alpha.sum().item() == pytest.approx(1.0) and (alpha >= -1e-12).all() and (alpha <= cap + 1e-9).all()
        best = min(
            float(((torch.tensor([a, b, 1 - a - b], dtype=torch.float64) @ grads) ** 2).sum())
            for a in np.linspace(0, cap, 101)
            for b in np.linspace(0, cap, 101)
            if 0 <= 1 - a - b <= cap + 1e-12
        )
        assert float(((alpha @ grads) ** 2).sum()) <= best + 1e-6


def test_min_norm_weights_reject_a_cap_below_one_over_m() -> None:
    with pytest.raises(ValueError, match="cap"):
        min_norm_weights(torch.randn(4, 3), cap=0.2)
