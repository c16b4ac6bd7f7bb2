"""Scales at which the same code runs. A profile changes numbers, never which code runs.

* ``smoke``: the tests and nbval; seconds per chapter.
* ``micro``: the book on a 2-core CPU with the embedded default data and narrow networks.
* ``paper``: the benchmark's settings (§3-4 of the benchmark paper): 16 frames at
  112x112 from frames cached at 128x171, full-width backbones, on GPUs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sslvid.registry import Registry

PROFILES: Registry["Profile"] = Registry("profile")


@dataclass(frozen=True)
class Profile:
    """The numbers of one scale.

    Args:
        name: profile name.
        data_scale: multiplier of videos per class of the embedded default data.
        frames: frames per clip (T).
        crop_size: spatial size of network input clips (H = W).
        cache_size: (H, W) of frames stored in the decoded-clip cache.
        width: width multiplier of the backbones (1.0 = the published networks).
        batch_size: clips per training batch.
        bench_steps: timed steps when measuring throughput.
    """

    name: str
    data_scale: float
    frames: int
    crop_size: int
    cache_size: tuple[int, int]
    width: float
    batch_size: int
    bench_steps: int

    def clip_shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) of one network input clip."""
        return (3, self.frames, self.crop_size, self.crop_size)

    def as_dict(self) -> dict:
        return asdict(self)


@PROFILES.register("smoke")
def _smoke() -> Profile:
    return Profile("smoke", data_scale=0.04, frames=4, crop_size=32, cache_size=(40, 40),
                   width=0.125, batch_size=4, bench_steps=1)


@PROFILES.register("micro")
def _micro() -> Profile:
    return Profile("micro", data_scale=1.0, frames=8, crop_size=32, cache_size=(40, 40),
                   width=0.25, batch_size=32, bench_steps=5)


@PROFILES.register("paper")
def _paper() -> Profile:
    return Profile("paper", data_scale=1.0, frames=16, crop_size=112, cache_size=(128, 171),
                   width=1.0, batch_size=32, bench_steps=20)


def get_profile(name: str) -> Profile:
    """The profile called ``name`` ("smoke", "micro", "paper").

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return PROFILES.create(name)


def list_profiles() -> list[str]:
    return PROFILES.names()
