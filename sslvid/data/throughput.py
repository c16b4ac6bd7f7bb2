"""How fast clips can be read: decoding the video files against reading the decoded-clip cache.

Decoding is the known bottleneck of video SSL training (users of RSPNet and VideoMAE report
idle GPUs). ``cache_vs_decode`` times the same random clips read both ways; the benchmark
script ``benchmarks/cache_vs_decode.py`` and the book's first chapter both call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sslvid.data.cache import ClipCache, resize_frames
from sslvid.data.decode import read_frames
from sslvid.data.sampling import ClipSampler
from sslvid.seeding import rng_for

Reader = Callable[[int, np.ndarray], np.ndarray]


def sample_clips(cache: ClipCache, count: int, sampler: ClipSampler, seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """``count`` random (video, frame indices (T,)) pairs over the readable videos of ``cache``."""
    rng = rng_for(seed, "read-speed")
    readable = np.setdiff1d(np.arange(len(cache)), cache.failed)
    videos = rng.choice(readable, size=count)
    return [(int(v), sampler.sample(cache.num_frames(int(v)), rng)[0]) for v in videos]


def clips_per_second(read: Reader, clips: list[tuple[int, np.ndarray]]) -> float:
    """Clips per second of ``read(video, indices)`` over ``clips`` (one pass, wall clock)."""
    start = time.perf_counter()
    for video, indices in clips:
        read(video, indices)
    return len(clips) / (time.perf_counter() - start)


def cache_vs_decode(
    cache: ClipCache, clips: int = 300, frames: int = 8, stride: int = 2, seed: int = 0, backend: str = "auto"
) -> dict[str, float]:
    """Clips/s reading the same random clips by decoding (+ resizing to the cache's size) and from the cache.

    Decoding alone, decoding followed by the resize that a loader without the cache must do,
    and the cache are each timed on the same clips, after a short warm-up. The ratio that
    matters is ``cache / decode + resize``: both give the same frames.

    Args:
        cache: a prepared cache; its ``index`` names the video files.
        clips: clips to read each way.
        frames, stride: the clip (T frames, ``stride`` apart).
        seed: which clips.
        backend: decoder backend ("auto", "decord", "pyav").
    """
    sampler = ClipSampler(num_frames=frames, stride=stride)
    chosen = sample_clips(cache, clips, sampler, seed)
    paths = [r.path for r in cache.index.records]

    def decode(v: int, ix: np.ndarray) -> np.ndarray:
        return read_frames(paths[v], ix, backend=backend)

    def decode_resize(v: int, ix: np.ndarray) -> np.ndarray:
        return resize_frames(decode(v, ix), cache.frame_size)

    clips_per_second(cache.read, chosen[:20])  # warm-up: page cache, imports
    clips_per_second(decode, chosen[:5])
    figures = {
        "decode": clips_per_second(decode, chosen),
        "decode + resize": clips_per_second(decode_resize, chosen),
        "cache": clips_per_second(cache.read, chosen),
    }
    figures["cache / (decode + resize)"] = figures["cache"] / figures["decode + resize"]
    return figures
