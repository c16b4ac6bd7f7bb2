"""Image noises applied to every frame of a clip, batched on the clips' device.

The benchmark paper (§4.5) tests finetuned models on UCF101 test clips under "different types
of noises introduced in [43]" (Schiappa et al. 2022, "Large-scale robustness analysis of video
action recognition models", arXiv 2207.01398), four appearance noises of ImageNet-C (Hendrycks &
Dietterich 2019, ICLR, §3). The video reference keeps ImageNet-C's functions but re-scales shot
and speckle noise, and stores every corrupted frame as 8-bit (its released
``core/video_perturb.py``: ``np.uint8(np.clip(y, 0, 1) * 255)``, a truncation). These are the
study's noises, registered under the plain names:

==========  ==============================  ================================================
name        c at severity 1..5              on frames x in [0, 1], then uint8 truncation
==========  ==============================  ================================================
gaussian    .08, .12, .18, .26, .38         clip(x + N(0, c^2))
shot        250, 100, 50, 30, 15            clip(Poisson(x c) / c)
impulse     .03, .06, .09, .17, .27         salt and pepper: a share c of values set to 0 or 1
speckle     .15, .2, .25, .3, .35           clip(x + x N(0, c^2))
==========  ==============================  ================================================

ImageNet-C's own constants (its ``imagenet_c`` package's ``corruptions.py``: shot 60, 25, 12, 5,
3; speckle .15, .2, .35, .45, .6; gaussian and impulse as above; float output, no rounding) are
registered as ``gaussian-imagenet-c``, ``shot-imagenet-c``, ``impulse-imagenet-c`` and
``speckle-imagenet-c`` (``IMAGENET_C_NOISES``). ImageNet-C's shot constants are far heavier
(severity 1 of ImageNet-C, c = 60, is noisier than severity 2 of the video reference, c = 100).

Impulse noise follows ``skimage.util.random_noise(mode="s&p", amount=c)`` (scikit-image 0.19+):
every value (pixel and channel) is hit with probability c, and a hit is salt (1) or pepper (0)
with probability 1/2 each. (The scikit-image of 2019 drew exactly ``ceil(c * size / 2)`` salt and
pepper positions with replacement instead; the expected share is the same.)

Clips are float ``(..., 3, T, H, W)`` (any shape: the ops are element-wise) with values in
[0, 1], before normalisation. Randomness comes from ``generator``: a ``torch.Generator`` (draws
happen on its device, so a CUDA generator keeps everything on the GPU), an int seed (a fresh
generator on the clips' device) or None (torch's global RNG). No op loops over frames or clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from sslvid.registry import Registry

SEVERITIES = (1, 2, 3, 4, 5)
NOISES = ("gaussian", "shot", "impulse", "speckle")
"""The four appearance noises of the benchmark paper's §4.5, with the constants of its reference [43]."""
IMAGENET_C_NOISES = tuple(f"{name}-imagenet-c" for name in NOISES)
"""The same noises with ImageNet-C's constants and no 8-bit rounding (a named option)."""

HENDRYCKS = "Hendrycks & Dietterich 2019, ICLR (imagenet_c corruptions.py)"
SCHIAPPA = "Schiappa et al. 2022, arXiv 2207.01398 (core/video_perturb.py, uint8 frames)"

VIDEO_CONSTANTS = {
    "gaussian": (0.08, 0.12, 0.18, 0.26, 0.38),
    "shot": (250.0, 100.0, 50.0, 30.0, 15.0),
    "impulse": (0.03, 0.06, 0.09, 0.17, 0.27),
    "speckle": (0.15, 0.2, 0.25, 0.3, 0.35),
}
"""``c`` per severity of the benchmark's noise reference (Schiappa et al. 2022)."""
IMAGENET_C_CONSTANTS = {
    "gaussian": (0.08, 0.12, 0.18, 0.26, 0.38),
    "shot": (60.0, 25.0, 12.0, 5.0, 3.0),
    "impulse": (0.03, 0.06, 0.09, 0.17, 0.27),
    "speckle": (0.15, 0.2, 0.35, 0.45, 0.6),
}
"""``c`` per severity of ImageNet-C (Hendrycks & Dietterich 2019)."""

Generatorish = torch.Generator | int | None


@dataclass(frozen=True)
class Corruption:
    """One corruption: its constants per severity and the function that applies it.

    Args:
        name: registry name.
        constants: ``c`` at severities 1..5.
        apply: ``(x, c, generator) -> corrupted x`` on clips in [0, 1].
        paper: where the definition (constants and rounding) comes from.
        uint8: store the result as 8-bit frames, truncating as ``np.uint8(y * 255)`` does.
    """

    name: str
    constants: tuple[float, ...]
    apply: Callable[[Tensor, float, torch.Generator | None], Tensor]
    paper: str = HENDRYCKS
    uint8: bool = False

    def constant(self, severity: int) -> float:
        """``c`` at ``severity``.

        Raises:
            ValueError: for a severity outside 1..len(constants).
        """
        if not isinstance(severity, int) or not 1 <= severity <= len(self.constants):
            raise ValueError(f"severity must be an int in 1..{len(self.constants)}, got {severity!r}")
        return self.constants[severity - 1]

    def __call__(self, x: Tensor, severity: int, generator: Generatorish = None) -> Tensor:
        """Corrupt clips ``x`` (any shape, values in [0, 1]) at ``severity``; returns a new tensor in [0, 1].

        Raises:
            ValueError: for an invalid severity or a non-floating ``x``.
        """
        if not x.is_floating_point():
            raise ValueError(f"corruptions work on float clips in [0, 1], got {x.dtype}")
        y = self.apply(x, self.constant(severity), make_generator(generator, x.device))
        return truncate_to_uint8_levels(y) if self.uint8 else y


CORRUPTIONS: Registry[Corruption] = Registry("corruption")


def make_generator(generator: Generatorish, device: torch.device) -> torch.Generator | None:
    """A generator from a generator (kept), an int seed (a new one on ``device``) or None (global RNG)."""
    if isinstance(generator, bool):  # an int, but no seed: it was a generator passed wrongly
        raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {generator!r}")
    if isinstance(generator, int):
        return torch.Generator(device=device).manual_seed(generator)
    return generator


def truncate_to_uint8_levels(x: Tensor) -> Tensor:
    """``floor(255 x) / 255``: values in [0, 1] stored as 8-bit and read back, as
    ``np.uint8(np.clip(y, 0, 1) * 255)`` (a truncation, not a rounding) then ``/ 255``."""
    return (x.clamp(0.0, 1.0) * 255.0).floor_().div_(255.0)


def _where(x: Tensor, generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else x.device


def standard_normal(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, 1) draws shaped like ``x`` (drawn on the generator's device, returned on ``x``'s)."""
    return torch.randn(x.shape, generator=generator, device=_where(x, generator), dtype=x.dtype).to(x.device)


def uniform(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """U[0, 1) draws shaped like ``x`` (drawn on the generator's device, returned on ``x``'s)."""
    return torch.rand(x.shape, generator=generator, device=_where(x, generator), dtype=x.dtype).to(x.device)


def gaussian_noise(x: Tensor, c: float, generator: torch.Generator | None = None) -> Tensor:
    """``clip(x + c z, 0, 1)`` with z ~ N(0, 1) per value (Hendrycks & Dietterich 2019, ``gaussian_noise``)."""
    return (x + c * standard_normal(x, generator)).clamp_(0.0, 1.0)


def shot_noise(x: Tensor, c: float, generator: torch.Generator | None = None) -> Tensor:
    """``clip(Poisson(x c) / c, 0, 1)`` per value (Hendrycks & Dietterich 2019, ``shot_noise``)."""
    rate = (x.clamp(min=0.0) * c).to(_where(x, generator))
    return (torch.poisson(rate, generator=generator).to(x.device) / c).clamp_(0.0, 1.0)


def impulse_noise(x: Tensor, c: float, generator: torch.Generator | None = None, salt_vs_pepper: float = 0.5) -> Tensor:
    """Salt and pepper: each value becomes 1 or 0 with probability ``c`` (module docstring).

    Hendrycks & Dietterich 2019, ``impulse_noise`` = ``skimage.util.random_noise(mode="s&p",
    amount=c)``: a value is hit when a uniform draw u1 <= c, and salted when u2 <= salt_vs_pepper.
    """
    hit = uniform(x, generator) <= c
    salt = uniform(x, generator) <= salt_vs_pepper
    return torch.where(hit, salt.to(x.dtype), x).clamp_(0.0, 1.0)


def speckle_noise(x: Tensor, c: float, generator: torch.Generator | None = None) -> Tensor:
    """``clip(x + x c z, 0, 1)`` with z ~ N(0, 1) per value (Hendrycks & Dietterich 2019, ``speckle_noise``)."""
    return (x + x * (c * standard_normal(x, generator))).clamp_(0.0, 1.0)


NOISE_FUNCTIONS: dict[str, Callable[[Tensor, float, torch.Generator | None], Tensor]] = {
    "gaussian": gaussian_noise,
    "shot": shot_noise,
    "impulse": impulse_noise,
    "speckle": speckle_noise,
}


def _register_noises() -> None:
    """Each noise under its plain name (the video reference) and as ``<name>-imagenet-c``."""
    for name, function in NOISE_FUNCTIONS.items():
        CORRUPTIONS.register(name, kind="noise", reference=SCHIAPPA)(
            partial(Corruption, name, VIDEO_CONSTANTS[name], function, SCHIAPPA, uint8=True)
        )
        CORRUPTIONS.register(f"{name}-imagenet-c", kind="noise", reference=HENDRYCKS)(
            partial(Corruption, f"{name}-imagenet-c", IMAGENET_C_CONSTANTS[name], function, HENDRYCKS)
        )


_register_noises()


def create_corruption(name: str) -> Corruption:
    """The corruption registered as ``name`` (``NOISES``, or ``IMAGENET_C_NOISES``).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return CORRUPTIONS.create(name)


def list_corruptions() -> list[str]:
    """Registered corruption names, sorted."""
    return CORRUPTIONS.names()


def corrupt(x: Tensor, name: str, severity: int, generator: Generatorish = None) -> Tensor:
    """Clips ``x`` (float, values in [0, 1], any shape such as (N, 3, T, H, W)) under corruption ``name``.

    Raises:
        ValueError: for an unknown name or severity.
    """
    return create_corruption(name)(x, severity, generator)
