"""Minibatch linear CKA: hand-computed HSIC values, the full-batch formulas, invariances, edge cases."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from sslvid.analysis.cka import (
    CKAResult,
    MinibatchCKA,
    cka_map,
    gram,
    hsic_unbiased,
    linear_cka,
    u_center,
)
from sslvid.backbones import create_backbone


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    yield
    torch.set_num_threads(threads)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# Two centred, orthogonal 1-d representations of n = 4 examples. By hand, with K~ = K minus
# its diagonal: tr(K~K~) = 12, 1'K~1 = -4, K~1 = (-1, -1, -1, -1), so
# HSIC_1(K, K) = [12 + 16/6 - 2/2 * 4] / (4 * 1) = 8/3, and for K against L (y):
# tr(K~L~) = (x.y)^2 - sum x^2 y^2 = -4, so HSIC_1(K, L) = [-4 + 16/6 - 4] / 4 = -4/3.
X4 = torch.tensor([[1.0], [-1.0], [1.0], [-1.0]], dtype=torch.float64)
Y4 = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]], dtype=torch.float64)


def test_hsic_hand_computed():
    k, l = X4 @ X4.T, Y4 @ Y4.T
    assert hsic_unbiased(k, k).item() == pytest.approx(8 / 3, abs=1e-15)
    assert hsic_unbiased(l, l).item() == pytest.approx(8 / 3, abs=1e-15)
    assert hsic_unbiased(k, l).item() == pytest.approx(-4 / 3, abs=1e-15)


def test_cka_hand_computed():
    # unbiased: (-4/3) / sqrt(8/3 * 8/3) = -1/2; biased: x and y are centred and orthogonal -> 0
    assert linear_cka(X4, Y4) == pytest.approx(-0.5, abs=1e-15)
    assert linear_cka(X4, Y4, unbiased=False) == pytest.approx(0.0, abs=1e-15)
    acc = MinibatchCKA()
    acc.update([X4], [Y4])
    assert acc.compute()[0, 0] == pytest.approx(-0.5, abs=1e-15)


def test_biased_formula_matches_kornblith_feature_space_form():
    x, y = randn(50, 7, seed=1), randn(50, 11, seed=2)
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert linear_cka(x, y, unbiased=False) == pytest.approx(expected.item(), abs=1e-12)


@pytest.mark.parametrize("n", [4, 5, 17, 64])
def test_u_centring_equals_song_formula(n):
    k, l = gram(randn(n, 6, seed=n)), gram(randn(n, 9, seed=n + 1) ** 2)
    via_u = (u_center(k) * u_center(l)).sum() / (n * (n - 3))
    assert via_u.item() == pytest.approx(hsic_unbiased(k, l).item(), rel=1e-10, abs=1e-12)


def test_u_centred_matrix_has_zero_diagonal_and_row_sums():
    u = u_center(gram(randn(9, 4)))
    assert torch.allclose(u.diagonal(), torch.zeros(9, dtype=torch.float64))
    assert torch.allclose(u.sum(0), torch.zeros(9, dtype=torch.float64), atol=1e-12)


def test_one_batch_equals_full_batch_unbiased_cka():
    layers_a = [randn(300, 20, seed=3), randn(300, 5, 4, seed=4)]
    w = randn(20, 8, seed=5)
    layers_b = [layers_a[0] @ w + 0.5 * randn(300, 8, seed=6), randn(300, 3, seed=7)]
    acc = MinibatchCKA()
    acc.update(layers_a, layers_b)
    got = acc.compute()
    for i, a in enumerate(layers_a):
        for j, b in enumerate(layers_b):
            assert got[i, j] == pytest.approx(linear_cka(a, b), abs=1e-6)


def test_minibatches_approximate_full_batch_cka():
    """20 batches of 100 vs the whole 2,000 as one batch: within 0.02.

    Both are estimates of the same population CKA; over seeds 0-29 of this set-up the largest
    gap was 0.007 (mean 0.003), so 0.02 leaves a margin of ~3x. The biased full-batch
    formula sits further away on unrelated features (its O(1/n) bias, ~0.011 here).
    """
    n = 2000
    x = randn(n, 32, seed=10)
    related = x @ randn(32, 16, seed=11) + 2 * randn(n, 16, seed=12)
    unrelated = randn(n, 16, seed=13)
    acc = MinibatchCKA()
    for i in range(0, n, 100):
        acc.update([x[i : i + 100]], [related[i : i + 100], unrelated[i : i + 100]])
    got = acc.compute()[0]
    assert acc.batches == 20 and acc.examples == n
    assert abs(got[0] - linear_cka(x, related)) < 0.02
    assert abs(got[1] - linear_cka(x, unrelated)) < 0.02
    assert abs(got[1]) < 0.02
    # the biased estimator's offset on independent features is about sqrt(p q) / n = 0.011
    assert linear_cka(x, unrelated, unbiased=False) == pytest.approx(math.sqrt(32 * 16) / n, rel=0.3)


def test_invariant_to_orthogonal_transform_and_isotropic_scaling():
    x, y = randn(120, 10, seed=20), randn(120, 6, seed=21)
    q, _ = torch.linalg.qr(randn(10, 10, seed=22))
    plain, moved = MinibatchCKA(), MinibatchCKA()
    for i in range(0, 120, 40):
        plain.update([x[i : i + 40]], [y[i : i + 40]])
        moved.update([3.7 * x[i : i + 40] @ q], [0.01 * y[i : i + 40]])
    assert moved.compute()[0, 0] == pytest.approx(plain.compute()[0, 0], abs=1e-10)


def test_invariant_to_feature_shift():
    x, y = randn(60, 5, seed=30), randn(60, 5, seed=31)
    shifted = x + 1000.0
    assert linear_cka(shifted, y) == pytest.approx(linear_cka(x, y), abs=1e-9)


def test_self_map_has_unit_diagonal_and_is_symmetric():
    layers = [randn(64, 12, seed=40), randn(64, 3, 3, seed=41), randn(64, 30, seed=42).relu()]
    acc = MinibatchCKA()
    for i in range(0, 64, 16):
        acc.update([a[i : i + 16] for a in layers])
    got = acc.compute()
    assert np.allclose(np.diag(got), 1.0, atol=1e-12)
    assert np.allclose(got, got.T, atol=1e-12)


def test_constant_features_give_zero_not_nan(caplog):
    constant = torch.full((4, 6), 2.5, dtype=torch.float32)
    varying = randn(4, 6, seed=50)
    acc = MinibatchCKA()
    with caplog.at_level(logging.WARNING, logger="sslvid.analysis.cka"):
        acc.update([constant, varying], [varying, torch.zeros(4, 3)])
        got = acc.compute(["const", "varying"], ["varying", "zeros"])
    assert not np.isnan(got).any()
    assert got[0].tolist() == [0.0, 0.0] and got[:, 1].tolist() == [0.0, 0.0]
    assert got[1, 0] == pytest.approx(1.0, abs=1e-12)
    assert "const" in caplog.text and "zeros" in caplog.text


def test_batch_of_four_is_finite_and_smaller_batches_are_skipped(caplog):
    acc = MinibatchCKA()
    with caplog.at_level(logging.WARNING, logger="sslvid.analysis.cka"):
        acc.update([randn(3, 5, seed=60)], [randn(3, 5, seed=61)])
    assert acc.skipped == 1 and "skipping a batch of 3" in caplog.text
    with pytest.raises(ValueError, match="no batch"):
        acc.compute()
    acc.update([randn(4, 5, seed=62)], [randn(4, 5, seed=63)])
    value = acc.compute()[0, 0]
    assert math.isfinite(value) and -1.0 - 1e-12 <= value <= 1.0 + 1e-12


def test_update_rejects_mismatched_examples():
    with pytest.raises(ValueError, match="same number of examples"):
        MinibatchCKA().update([randn(8, 3)], [randn(9, 3)])


def test_float32_grams_agree_closely():
    layers = [randn(32, 500, seed=70).float(), randn(32, 40, seed=71).float().relu()]
    exact, fast = MinibatchCKA(), MinibatchCKA(dtype=torch.float32)
    exact.update(layers)
    fast.update(layers)
    assert np.allclose(exact.compute(), fast.compute(), atol=1e-4)


def micro_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_backbone("r2plus1d_18", width=0.125)


def test_cka_map_of_a_model_with_itself():
    model = micro_model(0).train()
    clips = torch.randn(12, 3, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    result = cka_map(model, clips, batch_size=6)
    assert isinstance(result, CKAResult)
    assert result.layers_a == result.layers_b == tuple(model.block_names)
    assert result.examples == 12 and result.batches == 2
    assert np.allclose(np.diag(result.matrix), 1.0, atol=1e-9)
    assert model.training  # mode restored


def test_cka_map_between_two_models_and_selected_blocks():
    a, b = micro_model(0), micro_model(1)
    clips = torch.randn(10, 3, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    result = cka_map(a, (clips, torch.arange(10)), b, indices_a=[0, -1], indices_b=2, batch_size=5)
    assert result.matrix.shape == (2, 2)
    assert result.layers_a == ("stem", "layer4") and result.layers_b == ("layer3", "layer4")
    assert np.isfinite(result.matrix).all()
    frame = result.to_frame()
    assert list(frame.columns) == ["layer_a", "layer_b", "i", "j", "cka"] and len(frame) == 4


def test_cka_map_reads_collated_uint8_batches():
    model = micro_model(0)
    frames = torch.randint(0, 256, (4, 2, 4, 20, 20, 3), dtype=torch.uint8)  # (B, K, T, H, W, 3)
    batches = [{"clips": frames, "label": torch.arange(4), "size": 4}]
    result = cka_map(model, batches, crop_size=16)
    assert result.examples == 8 and np.isfinite(result.matrix).all()


def test_accumulator_keeps_only_layer_pair_sums():
    """Streaming: after many batches the accumulator holds O(L_a x L_b) numbers, no activations."""
    acc = MinibatchCKA()
    batches = ((randn(16, 500, seed=s), randn(16, 3, 7, seed=s + 100)) for s in range(5))
    for a, b in batches:
        acc.update([a, b], [b])
    held = [v.numel() for v in vars(acc).values() if isinstance(v, torch.Tensor)]
    assert max(held) <= 2 and acc.examples == 80
