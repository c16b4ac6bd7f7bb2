"""How distillers turn a batch's raw frames into network input, built from ``sslvid.data.transforms``.

* :func:`basic_view`: random resized crop (area 0.5-1) + flip, normalised: the training view
  of ``sslvid.evaluate``'s finetuning, used by the supervised methods (student and teachers
  see the same tensor).
* :func:`skd_view`: SKD-SRL's augmentation (Vu, Phung & Wang 2022, §III-B): a random crop,
  then flip, contrast, brightness, hue, Gaussian blur and channel splitting, each chosen
  with probability 0.5, one draw per clip for all its frames.

Flips are left out (``flip=False``) on sets whose labels a mirror changes (left/right motion:
``sslvid.evaluate.config.NO_FLIP_DATASETS``).
* :func:`channel_split`: the channel splitting of Vu, Le & Wang 2021 (IEEE Access): one
  colour channel copied to all three.
* :func:`test_view`: the centre crop used to evaluate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sslvid.data.transforms import (
    Generatorish,
    center_crop,
    color_jitter,
    gaussian_blur,
    make_generator,
    normalize,
    random_resized_crop,
    to_unit_clips,
)

BASIC_SCALE = (0.5, 1.0)  # sslvid.evaluate's finetuning crop
SKD_SCALE = (0.6, 1.0)  # a 112 crop of frames scaled to 128 (the paper) keeps ~0.77 of the area


def basic_view(clips: Tensor, size: int, generator: Generatorish = None, flip: bool = True) -> Tensor:
    """uint8 (N, T, H, W, 3) -> normalised float (N, 3, T, size, size): random resized crop (+ flip)."""
    x = random_resized_crop(
        to_unit_clips(clips), size, make_generator(generator), BASIC_SCALE, flip_p=0.5 if flip else 0.0
    )
    return normalize(x)


def test_view(clips: Tensor, size: int) -> Tensor:
    """uint8 (N, T, H, W, 3) -> normalised float (N, 3, T, size, size): the centre crop."""
    return normalize(center_crop(to_unit_clips(clips), size))


def channel_split(x: Tensor, generator: Generatorish = None, p: float = 0.5) -> Tensor:
    """With probability ``p`` per clip, copy one random colour channel to all three.

    Args:
        x: (N, 3, T, H, W) in [0, 1].
        generator: see ``sslvid.data.transforms``.
        p: probability per clip.
    """
    gen, n = make_generator(generator), x.shape[0]
    where = gen.device if gen is not None else torch.device("cpu")
    channel = torch.randint(3, (n,), generator=gen, device=where).to(x.device)
    apply = (torch.rand(n, generator=gen, device=where) < p).to(x.device)
    chosen = x[torch.arange(n, device=x.device), channel].unsqueeze(1).expand_as(x)
    return torch.where(apply.view(-1, 1, 1, 1, 1), chosen, x)


def skd_view(clips: Tensor, size: int, generator: Generatorish = None, p: float = 0.5, flip: bool = True) -> Tensor:
    """SKD-SRL's augmented view (module docstring): uint8 (N, T, H, W, 3) -> normalised (N, 3, T, size, size)."""
    gen = make_generator(generator)
    x = random_resized_crop(to_unit_clips(clips), size, gen, SKD_SCALE, flip_p=p if flip else 0.0)
    x = color_jitter(x, gen, brightness=0.0, contrast=0.4, saturation=0.0, hue=0.0, p=p)
    x = color_jitter(x, gen, brightness=0.4, contrast=0.0, saturation=0.0, hue=0.0, p=p)
    x = color_jitter(x, gen, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.1, p=p)
    x = gaussian_blur(x, gen, p=p)
    return normalize(channel_split(x, gen, p=p))
