"""The noises against re-implementations of their references: ImageNet-C (Hendrycks & Dietterich
2019) and the video robustness benchmark's constants and uint8 frames (Schiappa et al. 2022).

The reference functions below restate ``imagenet_c/corruptions.py`` in NumPy, except that the
random draws are passed in. Gaussian, speckle and impulse noise are fed the very draws our
torch functions make (same generator, same order) and must give equal outputs. Shot noise draws
Poisson variates, whose torch and NumPy samplers differ, so it is checked statistically: the
mean and variance of many corrupted values against the exact moments of clip(Poisson(x c) / c).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslvid.evaluate.corruptions import (
    CORRUPTIONS,
    IMAGENET_C_NOISES,
    NOISES,
    SEVERITIES,
    corrupt,
    create_corruption,
    gaussian_noise,
    impulse_noise,
    list_corruptions,
    shot_noise,
    speckle_noise,
)

# ``c`` per severity, as printed in the video benchmark's core/video_perturb.py (Schiappa et al. 2022)
VIDEO_REFERENCE_CONSTANTS = {
    "gaussian": [0.08, 0.12, 0.18, 0.26, 0.38],
    "shot": [250, 100, 50, 30, 15],
    "impulse": [0.03, 0.06, 0.09, 0.17, 0.27],
    "speckle": [0.15, 0.2, 0.25, 0.3, 0.35],
}

# ``c`` per severity, as printed in imagenet_c/corruptions.py
REFERENCE_CONSTANTS = {
    "gaussian": [0.08, 0.12, 0.18, 0.26, 0.38],
    "shot": [60, 25, 12, 5, 3],
    "impulse": [0.03, 0.06, 0.09, 0.17, 0.27],
    "speckle": [0.15, 0.2, 0.35, 0.45, 0.6],
}


def reference_gaussian(x: np.ndarray, severity: int, normal: np.ndarray) -> np.ndarray:
    c = REFERENCE_CONSTANTS["gaussian"][severity - 1]
    return np.clip(x + normal * c, 0, 1)  # np.random.normal(size=x.shape, scale=c) == c * N(0, 1)


def reference_speckle(x: np.ndarray, severity: int, normal: np.ndarray) -> np.ndarray:
    c = REFERENCE_CONSTANTS["speckle"][severity - 1]
    return np.clip(x + x * (normal * c), 0, 1)


def reference_impulse(x: np.ndarray, severity: int, u_hit: np.ndarray, u_salt: np.ndarray) -> np.ndarray:
    """skimage.util.random_noise(mode="s&p", amount=c, salt_vs_pepper=0.5) with its Bernoulli draws given."""
    c = REFERENCE_CONSTANTS["impulse"][severity - 1]
    out = x.copy()
    flipped, salted = u_hit <= c, u_salt <= 0.5
    out[flipped & salted] = 1.0
    out[flipped & ~salted] = 0.0
    return np.clip(out, 0, 1)


def clips(seed: int = 0, shape: tuple[int, ...] = (2, 3, 4, 8, 8)) -> torch.Tensor:
    """Float clips (N, 3, T, H, W) in [0, 1] (``to_unit_clips`` of uint8 frames)."""
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).float() / 255.0


def test_the_four_noises_carry_the_video_benchmark_constants_and_imagenet_c_is_a_named_option():
    assert set(NOISES) | set(IMAGENET_C_NOISES) <= set(list_corruptions())
    for name, constants in VIDEO_REFERENCE_CONSTANTS.items():
        corruption = create_corruption(name)
        assert [corruption.constant(s) for s in SEVERITIES] == pytest.approx(constants)
        assert corruption.uint8, "the video reference stores 8-bit frames"
    for name, constants in REFERENCE_CONSTANTS.items():
        corruption = create_corruption(f"{name}-imagenet-c")
        assert [corruption.constant(s) for s in SEVERITIES] == pytest.approx(constants)
        assert not corruption.uint8


@pytest.mark.parametrize("severity", [1, 5])
def test_video_noises_truncate_to_uint8_as_the_reference_does(severity):
    """np.uint8(np.clip(y, 0, 1) * 255) / 255 of the reference, given the same normal draws."""
    x = clips(severity).double()
    normal = torch.randn(x.shape, generator=torch.Generator().manual_seed(severity), dtype=x.dtype).numpy()
    c = VIDEO_REFERENCE_CONSTANTS["speckle"][severity - 1]
    expected = np.uint8(np.clip(x.numpy() + x.numpy() * (normal * c), 0, 1) * 255) / 255.0
    out = corrupt(x, "speckle", severity, torch.Generator().manual_seed(severity)).numpy()
    np.testing.assert_array_equal(out, expected)
    floats = corrupt(x, "speckle-imagenet-c", severity, torch.Generator().manual_seed(severity)).numpy()
    assert not np.allclose(floats * 255, np.round(floats * 255)), "ImageNet-C's option is not rounded"


def test_unknown_names_and_severities_raise_with_the_valid_values():
    with pytest.raises(ValueError, match="gaussian"):
        create_corruption("gausian")
    for bad in (0, 6, 1.5):
        with pytest.raises(ValueError, match="severity"):
            corrupt(clips(), "shot", bad)
    with pytest.raises(ValueError, match="float"):
        corrupt(torch.zeros(2, 3, dtype=torch.uint8), "gaussian", 1)


@pytest.mark.parametrize("name", CORRUPTIONS.names())
@pytest.mark.parametrize("severity", [1, 5])
def test_every_corruption_keeps_shape_and_range_and_is_seeded(name, severity):
    x = clips()
    out = corrupt(x, name, severity, generator=7)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, corrupt(x, name, severity, generator=7)), "same seed, same noise"
    assert not torch.equal(out, corrupt(x, name, severity, generator=8))
    assert torch.equal(x, clips()), "the input is not modified"
    # every frame of every clip is corrupted, each with its own noise
    changed = (out != x).flatten(3).any(dim=3)  # (N, 3, T)
    assert changed.any(dim=1).all()
    assert not torch.equal(out[:, :, 0] - x[:, :, 0], out[:, :, 1] - x[:, :, 1])


@pytest.mark.parametrize("severity", SEVERITIES)
def test_gaussian_and_speckle_equal_the_reference_given_the_same_draws(severity):
    x = clips(severity).double()
    normal = torch.randn(x.shape, generator=torch.Generator().manual_seed(severity), dtype=x.dtype).numpy()
    for name, ours, reference in (
        ("gaussian", gaussian_noise, reference_gaussian),
        ("speckle", speckle_noise, reference_speckle),
    ):
        c = create_corruption(f"{name}-imagenet-c").constant(severity)
        out = ours(x, c, torch.Generator().manual_seed(severity)).numpy()
        np.testing.assert_allclose(out, reference(x.numpy(), severity, normal), rtol=0, atol=1e-12)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_impulse_equals_the_reference_given_the_same_draws(severity):
    x = clips(severity).double()
    gen = torch.Generator().manual_seed(severity)
    u_hit = torch.rand(x.shape, generator=gen, dtype=x.dtype).numpy()
    u_salt = torch.rand(x.shape, generator=gen, dtype=x.dtype).numpy()
    c = create_corruption("impulse-imagenet-c").constant(severity)
    out = impulse_noise(x, c, torch.Generator().manual_seed(severity)).numpy()
    np.testing.assert_array_equal(out, reference_impulse(x.numpy(), severity, u_hit, u_salt))


def test_impulse_hits_the_reference_share_of_values():
    x = torch.full((400_000,), 0.5)
    for severity in SEVERITIES:
        c = create_corruption("impulse").constant(severity)
        out = impulse_noise(x, c, torch.Generator().manual_seed(severity))
        hit = out != 0.5
        assert float(hit.float().mean()) == pytest.approx(c, abs=4 * math.sqrt(c * (1 - c) / len(x)))
        assert float((out[hit] == 1).float().mean()) == pytest.approx(0.5, abs=0.02), "half salt, half pepper"


def _shot_moments(value: float, c: float) -> tuple[float, float]:
    """Exact mean and variance of clip(Poisson(value * c) / c, 0, 1)."""
    rate = value * c
    mean = second = 0.0
    for k in range(int(rate + 20 * math.sqrt(rate + 1) + 20)):
        p = math.exp(k * math.log(rate) - rate - math.lgamma(k + 1)) if rate > 0 else float(k == 0)
        y = min(k / c, 1.0)
        mean, second = mean + p * y, second + p * y * y
    return mean, second - mean * mean


@pytest.mark.parametrize("name", ["shot", "shot-imagenet-c"])
@pytest.mark.parametrize("severity", [1, 5])
@pytest.mark.parametrize("value", [0.1, 0.5, 0.9])
def test_shot_noise_matches_the_reference_distribution(name, severity, value):
    """Statistical check (the Poisson samplers of torch and NumPy differ): moments within 5 standard errors,
    and the reference itself (NumPy draws) agrees with the same exact moments."""
    c = create_corruption(name).constant(severity)
    n = 200_000
    ours = shot_noise(torch.full((n,), value, dtype=torch.float64), c, torch.Generator().manual_seed(severity))
    reference = np.clip(np.random.default_rng(severity).poisson(np.full(n, value) * c) / c, 0, 1)
    mean, var = _shot_moments(value, c)
    for sample in (ours.numpy(), reference):
        assert sample.mean() == pytest.approx(mean, abs=5 * math.sqrt(var / n) + 1e-12)
        assert sample.var() == pytest.approx(var, rel=0.03)
    assert set(np.unique(ours.numpy() * c).round(6)) <= set(np.arange(0, c + 1).round(6)), "multiples of 1/c"
