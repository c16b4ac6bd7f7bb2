"""Clip samplers of the pretext tasks: which frames of one video make a task's clips.

Each ``sample(video_frames, rng)`` returns ``(indices (K, T) int64, meta dict)`` as
``sslvid.data.dataset.ClipSampling`` expects; the dataset reads the frames and collates
``meta`` (each entry gets a leading batch dim). Start positions come from
``ClipSampler.starts`` and frame indices from ``ClipSampler.indices_from``, so videos shorter
than needed follow the same ``short_video`` policy ("loop" by default: playback restarts,
strides and speeds are kept; "clamp"; "error").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from sslvid.data.sampling import ClipSampler


def order_permutations(num_clips: int) -> list[tuple[int, ...]]:
    """All orders of ``num_clips`` clips in lexicographic order; VCOP's class ``c`` is entry ``c``."""
    return list(permutations(range(num_clips)))


def _start(span: int, video_frames: int, rng: np.random.Generator | None, short_video: str) -> int:
    """A random start for ``span`` frames (0 when the video is shorter; raises under "error")."""
    return int(ClipSampler(num_frames=span, short_video=short_video).starts(video_frames, rng)[0])


def _wrap(idx: np.ndarray, video_frames: int, short_video: str) -> np.ndarray:
    """Indices past the end, looped or clamped like ``ClipSampler.indices_from``."""
    idx = np.asarray(idx, dtype=np.int64)
    return idx % video_frames if short_video == "loop" else np.minimum(idx, video_frames - 1)


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


@dataclass(frozen=True)
class ClipOrderSampler:
    """VCOP's tuple: ``num_clips`` clips ``interval`` frames apart, returned in a random order.

    Xu et al., 2019 (CVPR) §3: clips of ``clip_len`` frames, consecutive clips separated by
    ``interval`` frames, shuffled by one of the N! permutations. Row ``i`` of the returned
    indices is original clip ``order_permutations(N)[label][i]``.

    Args:
        clip_len: frames per clip (T).
        num_clips: N.
        interval: frames skipped between the end of a clip and the start of the next.
        stride: frame step inside a clip.
        short_video: ClipSampler policy.

    Returns (from ``sample``): indices (N, T), meta ``{"order": label}`` in [0, N!).
    """

    clip_len: int
    num_clips: int = 3
    interval: int = 8
    stride: int = 1
    short_video: str = "loop"

    def __post_init__(self) -> None:
        if self.num_clips < 2 or self.interval < 0:
            raise ValueError(f"need num_clips >= 2 and interval >= 0, got {self.num_clips}, {self.interval}")
        ClipSampler(self.clip_len, self.stride, short_video=self.short_video)  # validates the rest

    @property
    def span(self) -> int:
        """Frames covered by the whole tuple."""
        return (self.num_clips - 1) * self.step + (self.clip_len - 1) * self.stride + 1

    @property
    def step(self) -> int:
        """Distance between the starts of consecutive clips."""
        return (self.clip_len - 1) * self.stride + 1 + self.interval

    def step_for(self, video_frames: int) -> int:
        """The clip-start distance used on a video of ``video_frames``: ``step``, or a smaller gap that fits.

        A tuple longer than the video would loop, and a later clip would repeat an earlier one
        frame for frame (orders that swap them cannot be told apart). The gap between clips is
        therefore shrunk, down to 0 (touching clips), until the tuple fits; only when even
        touching clips do not fit does the tuple loop (``short_video`` policy).
        """
        if self.span <= video_frames:
            return self.step
        clip_span = (self.clip_len - 1) * self.stride + 1
        room = video_frames - self.num_clips * clip_span
        if room < 0:
            return self.step
        return clip_span + min(self.interval, room // (self.num_clips - 1))

    def span_for(self, video_frames: int) -> int:
        """Frames the tuple covers on a video of ``video_frames`` (see ``step_for``)."""
        return (self.num_clips - 1) * self.step_for(video_frames) + (self.clip_len - 1) * self.stride + 1

    def ordered(self, video_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """The tuple's frame indices in playback order, (N, T); the gap shrinks on short videos (``step_for``)."""
        step = self.step_for(video_frames)
        span = (self.num_clips - 1) * step + (self.clip_len - 1) * self.stride + 1
        start = _start(span, video_frames, rng, self.short_video)
        clips = ClipSampler(self.clip_len, self.stride, short_video=self.short_video)
        return clips.indices_from(start + np.arange(self.num_clips) * step, video_frames)

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """Shuffled clip indices (N, T) and ``{"order": permutation class}``."""
        rng = _rng(rng)
        ordered = self.ordered(video_frames, rng)
        label = int(rng.integers(math.factorial(self.num_clips)))
        perm = order_permutations(self.num_clips)[label]
        return ordered[list(perm)], {"order": label}


@dataclass(frozen=True)
class PlaybackRateSampler:
    """PRP's clip: T frames at a random dilation rate, plus the 2x-denser reconstruction target.

    Yao et al., 2020 (CVPR) §3: a clip sampled every ``s`` frames, ``s`` drawn uniformly
    from ``rates``; the generative branch reconstructs the same span at twice the frame
    rate, i.e. 2T frames at positions ``start + j * s / 2``. For ``s = 1`` the half
    positions are the mean of the two neighbouring frames (as the released code).

    Returns (from ``sample``): indices (2, 2T): row 0 = floor, row 1 = ceil of the positions
    (equal for even ``s``); the input clip is ``row0[::2]`` (stride ``s``) and the target is
    ``(frames[row0] + frames[row1]) / 2``. Meta ``{"rate": class index, "stride": s}``.

    Args:
        num_frames: T, frames of the input clip.
        rates: the dilation rates, one class each.
        short_video: ClipSampler policy.
    """

    num_frames: int
    rates: tuple[int, ...] = (1, 2, 4, 8)
    short_video: str = "loop"

    def __post_init__(self) -> None:
        if not self.rates or min(self.rates) < 1 or len(set(self.rates)) != len(self.rates):
            raise ValueError(f"rates must be distinct positive ints, got {self.rates}")
        ClipSampler(self.num_frames, short_video=self.short_video)

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """Indices (2, 2T) and ``{"rate": class, "stride": s}``."""
        rng = _rng(rng)
        label = int(rng.integers(len(self.rates)))
        s = self.rates[label]
        span = (self.num_frames - 1) * s + math.ceil(s / 2) + 1
        start = _start(span, video_frames, rng, self.short_video)
        positions = start + np.arange(2 * self.num_frames) * s / 2
        rows = np.stack([np.floor(positions), np.ceil(positions)]).astype(np.int64)
        return _wrap(rows, video_frames, self.short_video), {"rate": label, "stride": s}


def decreasing_interval(max_offset: int, rng: np.random.Generator, power: float = 1.0) -> int:
    """An interval in [0, max_offset) from CVRL's monotonically decreasing distribution.

    Qian et al., 2021 (CVPR) §3.2 and the released sampler: density ``f(k) ∝ 1 - (k / M)^power``
    on [0, M] (``power=1``: linearly decreasing), drawn by inverting its CDF
    ``F(k) = (p + 1) k / (p M) - k^(p+1) / (p M^(p+1))`` (closed form for p = 1, bisection else).
    """
    u = rng.random()
    if power == 1.0:
        k = max_offset * (1.0 - math.sqrt(1.0 - u))
    else:
        lo, hi = 0.0, float(max_offset)
        for _ in range(60):
            mid = (lo + hi) / 2
            cdf = (power + 1) * mid / (power * max_offset) - mid ** (power + 1) / (power * max_offset ** (power + 1))
            lo, hi = (lo, mid) if cdf > u else (mid, hi)
        k = lo
    return min(int(k), max(max_offset - 1, 0))


@dataclass(frozen=True)
class TemporalIntervalSampler:
    """CVRL's two clips of one video, their start interval drawn from a decreasing distribution.

    Qian et al., 2021 (CVPR) §3.2: with M = number of valid starts (video length minus the
    clip span, plus one), draw the interval ``d`` by :func:`decreasing_interval`, the first
    start uniformly in [0, M - d), the second ``d`` later, and return them in random order.
    Videos shorter than a clip get two independent starts (both 0 unless looping helps).

    Args:
        num_frames: T.
        stride: frame step in a clip.
        power: shape of the decreasing distribution (1: linear, the paper's choice).
        short_video: ClipSampler policy.

    Returns (from ``sample``): indices (2, T), meta ``{"interval": |start_2 - start_1|}``.
    """

    num_frames: int
    stride: int = 2
    power: float = 1.0
    short_video: str = "loop"

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """Indices (2, T) and ``{"interval": d}``."""
        rng = _rng(rng)
        clip = ClipSampler(self.num_frames, self.stride, short_video=self.short_video)
        room = video_frames - clip.span + 1
        if room <= 1:
            starts = clip.starts(video_frames, rng)[[0, 0]]  # both at 0; raises under "error"
        else:
            d = decreasing_interval(room, rng, self.power)
            first = int(rng.integers(0, room - d))
            starts = np.array([first, first + d])[rng.permutation(2)]
        return clip.indices_from(starts, video_frames), {"interval": int(abs(starts[1] - starts[0]))}


@dataclass(frozen=True)
class TripletSampler:
    """TDL's temporal triplet: the anchor segment (anchor and positive share it) and a negative segment.

    Wang et al., 2020 (arXiv 2008.02129) §3: anchor and positive come from the same time
    interval (the positive is made from it by augmentation on the device); the negative is
    a segment of the same video from a different time interval, at least ``min_gap`` frames
    away (released code: 2; default here: half a clip span). When no such start exists the
    negative is shifted by a third of the video (as the released code).

    Args:
        num_frames: T.
        stride: frame step in a clip.
        min_gap: smallest distance between anchor and negative starts (None: span // 2).
        short_video: ClipSampler policy.

    Returns (from ``sample``): indices (2, T) = [anchor segment, negative segment],
    meta ``{"gap": |negative start - anchor start|}``.
    """

    num_frames: int
    stride: int = 1
    min_gap: int | None = None
    short_video: str = "loop"

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """Indices (2, T) and ``{"gap": ...}``."""
        rng = _rng(rng)
        clip = ClipSampler(self.num_frames, self.stride, short_video=self.short_video)
        gap = self.min_gap if self.min_gap is not None else max(clip.span // 2, 1)
        anchor = int(clip.starts(video_frames, rng)[0])
        room = max(video_frames - clip.span, 0)
        far = np.flatnonzero(np.abs(np.arange(room + 1) - anchor) >= gap)
        negative = int(rng.choice(far)) if len(far) else anchor + max(video_frames // 3, gap)
        return clip.indices_from(np.array([anchor, negative]), video_frames), {"gap": abs(negative - anchor)}


@dataclass(frozen=True)
class SpeedPairSampler:
    """RSPNet's clips: a query, a key at the same speed and the key at another speed.

    Chen et al., 2021 (AAAI) §3: the query and key come from different positions of one
    video at the same playback speed ``s``; the third clip starts where the key does (same
    content) but plays at a different speed ``s'``. Speed ``s`` means every ``s``-th frame.

    Args:
        num_frames: T.
        speeds: the playback speeds to draw from (at least two).
        short_video: ClipSampler policy.

    Returns (from ``sample``): indices (3, T) = [query, key, key at the other speed],
    meta ``{"speed": s, "other_speed": s', "faster": int(s' > s)}``.
    """

    num_frames: int
    speeds: tuple[int, ...] = (1, 2)
    short_video: str = "loop"

    def __post_init__(self) -> None:
        if len(set(self.speeds)) < 2 or min(self.speeds) < 1:
            raise ValueError(f"need at least two distinct positive speeds, got {self.speeds}")

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """Indices (3, T) and the two speeds."""
        rng = _rng(rng)
        speeds = sorted(set(self.speeds))
        s = speeds[int(rng.integers(len(speeds)))]
        others = [v for v in speeds if v != s]
        s_other = others[int(rng.integers(len(others)))]
        span = (self.num_frames - 1) * max(s, s_other) + 1
        q, k = (_start(span, video_frames, rng, self.short_video) for _ in range(2))
        offsets = np.arange(self.num_frames)
        rows = np.stack([q + offsets * s, k + offsets * s, k + offsets * s_other])
        meta = {"speed": s, "other_speed": s_other, "faster": int(s_other > s)}
        return _wrap(rows, video_frames, self.short_video), meta
