"""Nuisance factors of the default data and the probes that read them from features."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from sslvid.analysis.factors import factor_probe, video_means
from sslvid.data.default import (
    BACKGROUNDS,
    DEFAULT_SETS,
    FACTORS,
    HEADING_BINS,
    HUE_BINS,
    Scene,
    draw_scene,
    scene_factors,
    video_factors,
)
from sslvid.data.layouts import load_index
from sslvid.seeding import rng_for


def _scene(pattern: str, colour: tuple, background: tuple, heading: float) -> Scene:
    bg = np.array(background, np.float32)
    return Scene(
        np.array(colour, np.float32), (bg, bg), pattern, np.zeros((4, 4, 3)), np.zeros((2, 2)), np.ones(2), heading
    )


def test_scene_factors_bin_hues_and_headings() -> None:
    red_on_blue = scene_factors(_scene("checkers", (1, 0, 0), (0, 0, 1), math.pi / 2))
    assert red_on_blue == {
        "background": BACKGROUNDS.index("checkers"),
        "background_hue": int(2 / 3 * HUE_BINS),
        "digit_hue": 0,
        "heading": HEADING_BINS // 4,
    }
    assert scene_factors(_scene("solid", (0, 1, 0), (0, 0, 1), math.nan))["heading"] == -1


def test_draw_scene_is_the_renderers_draw() -> None:
    """The same generator state gives the same scene twice, and an appearance video has a heading."""
    one, two = (draw_scene("appearance", 3, rng_for(0, "x", 1)) for _ in range(2))
    assert one.pattern == two.pattern and np.array_equal(one.background, two.background)
    assert np.array_equal(one.positions, two.positions) and 0 <= one.heading < 2 * math.pi
    assert math.isnan(draw_scene("motion", 0, rng_for(0, "x", 1)).heading)


def test_video_factors_of_a_generated_split(tiny_default: Path) -> None:
    index = load_index("ucf101", tiny_default / "digits-appearance", split="test")
    factors = video_factors(index)
    assert tuple(factors) == FACTORS
    assert all(len(v) == len(index) and v.min() >= 0 for v in factors.values())
    assert factors["background"].max() < len(BACKGROUNDS) and factors["digit_hue"].max() < HUE_BINS
    assert len({tuple(v) for v in zip(*factors.values(), strict=True)}) > len(index) // 2  # videos differ
    motion = video_factors(load_index("ucf101", tiny_default / "digits-motion", split="train"))
    assert "heading" not in motion and len(motion["background"]) == DEFAULT_SETS["digits-motion"].videos_per_class(
        "train", 0.03
    ) * len(DEFAULT_SETS["digits-motion"].classes)


def test_video_factors_refuse_data_the_generator_did_not_make(tiny_default: Path, tmp_path: Path) -> None:
    index = load_index("ucf101", tiny_default / "digits-appearance", split="test")
    with pytest.raises(ValueError, match="not a set of the generated default data"):
        video_factors(dataclasses.replace(index, root=tmp_path / "digits-appearance"))


def _linear_world(n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    x = rng.normal(size=(n, 8))
    return x, {"encoded": x[:, :3].argmax(axis=1), "absent": rng.integers(0, 3, n)}


def test_factor_probe_reads_what_is_encoded_and_not_what_is_absent() -> None:
    rng = np.random.default_rng(0)
    (train, train_f), (test, test_f) = _linear_world(600, rng), _linear_world(300, rng)
    table = factor_probe(train, test, train_f, test_f).set_index("factor")
    assert table.loc["encoded", "accuracy"] > 0.85
    assert table.loc["absent", "accuracy"] < table.loc["absent", "chance"] + 0.1
    assert (table["low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["high"]).all()
    assert table.loc["absent", "chance"] == np.bincount(test_f["absent"]).max() / 300
    assert table["values"].tolist() == [3, 3]


def test_factor_probe_rejects_mismatched_factors() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="differ"):
        factor_probe(x, x, {"a": np.zeros(4)}, {"b": np.zeros(4)})
    with pytest.raises(ValueError, match="labels for"):
        factor_probe(x, x, {"a": np.zeros(3)}, {"a": np.zeros(4)})


def test_video_means_average_each_videos_clips() -> None:
    means = video_means(np.array([[1.0, 0], [3, 2], [5, 5]]), np.array([0, 0, 1]))
    assert means.tolist() == [[2.0, 1.0], [5.0, 5.0]]
