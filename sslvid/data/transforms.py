"""Clip transforms, batched and clip-consistent, on the batch's device: the augmentations of
pre-training, distillation and finetuning, and the test-time crop and normalisation of evaluation
and analysis.

Clips are float ``(N, 3, T, H, W)`` (any leading dims for :func:`to_float_clips`). Every
random op draws one set of parameters per clip (sample) and applies it to all T frames
alike — the "temporally consistent" augmentation of CVRL (Qian et al., 2021 §3.2) — while
clips differ from each other. Colour ops expect values in [0, 1], so the usual order is::

    x = to_unit_clips(clips_uint8)            # (N, 3, T, H, W) in [0, 1]
    x = random_resized_crop(x, 112, gen)      # flip folded in with flip_p
    x = color_jitter(x, gen); x = random_grayscale(x, gen)
    x = normalize(x)

or simply ``ClipAugment(size=112)(clips_uint8, gen)``.

Randomness comes from ``generator``: a ``torch.Generator`` (its device decides where the
parameters are drawn), an int seed (a fresh CPU generator), or None (torch's global RNG).
Parameters are drawn as small (N,) tensors and then moved to the clips' device, so a seed
gives the same parameters on CPU and CUDA. No op loops over frames or samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
"""Kinetics-400 RGB statistics (torchvision.models.video weights' transforms)."""

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale

Generatorish = torch.Generator | int | None


def make_generator(generator: Generatorish) -> torch.Generator | None:
    """A ``torch.Generator`` from a generator, an int seed (CPU generator) or None (global RNG)."""
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def _uniform(n: int, low: float, high: float, gen: torch.Generator | None, device: torch.device) -> Tensor:
    """(n,) float32 uniform draws on [low, high), drawn on the generator's device, moved to ``device``."""
    where = gen.device if gen is not None else torch.device("cpu")
    return (torch.rand(n, generator=gen, device=where) * (high - low) + low).to(device)


def _check_clips(x: Tensor) -> None:
    if x.dim() != 5 or x.shape[1] != 3:
        raise ValueError(f"expected clips (N, 3, T, H, W), got {tuple(x.shape)}")


def to_unit_clips(clips: Tensor) -> Tensor:
    """uint8 frames (..., T, H, W, 3) -> float32 (..., 3, T, H, W) in [0, 1].

    Raises:
        ValueError: if the last dim is not 3 (RGB) or there are fewer than 4 dims.
    """
    if clips.dim() < 4 or clips.shape[-1] != 3:
        raise ValueError(f"expected frames (..., T, H, W, 3), got {tuple(clips.shape)}")
    x = clips.float() / 255.0 if clips.dtype == torch.uint8 else clips.float()
    return x.movedim(-1, -4).contiguous()


def normalize(x: Tensor, mean: tuple[float, ...] = KINETICS_MEAN, std: tuple[float, ...] = KINETICS_STD) -> Tensor:
    """Per-channel (x - mean) / std of clips (..., 3, T, H, W)."""
    shape = (3, 1, 1, 1)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x - m) / s


def to_float_clips(
    clips: Tensor, mean: tuple[float, ...] = KINETICS_MEAN, std: tuple[float, ...] = KINETICS_STD
) -> Tensor:
    """uint8 frames (..., T, H, W, 3) -> normalised float32 clips (..., 3, T, H, W) (Kinetics mean/std)."""
    return normalize(to_unit_clips(clips), mean, std)


def crop_boxes(x: Tensor, boxes: Tensor, size: int | tuple[int, int], flip: Tensor | None = None) -> Tensor:
    """Resample box ``(x0, y0, w, h)`` (pixels) of every clip to ``size``, all frames alike.

    Bilinear ``grid_sample`` with one affine grid per clip over the (C*T) planes (no
    anti-aliasing when shrinking).

    Args:
        x: (N, C, T, H, W).
        boxes: (N, 4) float boxes in pixels of the input.
        size: output side, or (height, width).
        flip: optional (N,) bool, mirror the clip horizontally.
    """
    n, c, t, h, w = x.shape
    oh, ow = (size, size) if isinstance(size, int) else size
    boxes = boxes.to(device=x.device, dtype=torch.float32)
    x0, y0, bw, bh = boxes.unbind(1)
    sx, sy = bw / w, bh / h
    if flip is not None:
        sx = torch.where(flip.to(x.device), -sx, sx)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1] = sx, sy
    theta[:, 0, 2] = (2 * x0 + bw) / w - 1
    theta[:, 1, 2] = (2 * y0 + bh) / h - 1
    grid = F.affine_grid(theta, [n, c * t, oh, ow], align_corners=False).to(x.dtype)
    out = F.grid_sample(x.reshape(n, c * t, h, w), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(n, c, t, oh, ow)


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: Generatorish = None,
) -> Tensor:
    """(n, 4) random boxes ``(x0, y0, w, h)``: area fraction in ``scale``, log-uniform aspect in ``ratio``.

    Inception-style crops (Szegedy et al., 2015) as torchvision's RandomResizedCrop, drawn in
    one shot: boxes larger than the frame are shrunk to fit, keeping their aspect.
    """
    gen, cpu = make_generator(generator), torch.device("cpu")
    area = _uniform(n, *scale, gen, cpu) * height * width
    aspect = torch.exp(_uniform(n, math.log(ratio[0]), math.log(ratio[1]), gen, cpu))
    bw, bh = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
    shrink = torch.minimum(width / bw, height / bh).clamp(max=1.0)
    bw, bh = bw * shrink, bh * shrink
    x0 = _uniform(n, 0, 1, gen, cpu) * (width - bw)
    y0 = _uniform(n, 0, 1, gen, cpu) * (height - bh)
    return torch.stack([x0, y0, bw, bh], dim=1)


def random_resized_crop(
    x: Tensor,
    size: int,
    generator: Generatorish = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip_p: float = 0.0,
) -> Tensor:
    """Random resized crop of each clip to ``size`` x ``size`` (one box per clip), optional flip.

    Args:
        x: (N, C, T, H, W).
        size: output side.
        generator: see the module docstring.
        scale: range of the box area as a fraction of the frame.
        ratio: range of the box aspect (w / h).
        flip_p: probability of mirroring each clip horizontally.

    Raises:
        ValueError: if ``x`` is not 5-D.
    """
    if x.dim() != 5:
        raise ValueError(f"expected clips (N, C, T, H, W), got {tuple(x.shape)}")
    gen = make_generator(generator)
    n, _, _, h, w = x.shape
    boxes = sample_crop_boxes(n, h, w, scale, ratio, gen)
    flip = _uniform(n, 0, 1, gen, x.device) < flip_p
    return crop_boxes(x, boxes, size, flip)


def random_crop(x: Tensor, size: int, generator: Generatorish = None) -> Tensor:
    """A ``size`` x ``size`` window of each clip at a random whole-pixel position, not resized.

    torchvision's ``RandomCrop`` with one position per clip.

    Args:
        x: (N, C, T, H, W) with H, W >= ``size``.
        size: side of the window.
        generator: see the module docstring.

    Raises:
        ValueError: if the frames are smaller than ``size``.
    """
    n, _, _, h, w = x.shape
    if min(h, w) < size:
        raise ValueError(f"cannot crop {size}x{size} from frames of {h}x{w}")
    gen = make_generator(generator)
    x0 = torch.floor(_uniform(n, 0, 1, gen, torch.device("cpu")) * (w - size + 1)).clamp(max=w - size)
    y0 = torch.floor(_uniform(n, 0, 1, gen, torch.device("cpu")) * (h - size + 1)).clamp(max=h - size)
    boxes = torch.stack([x0, y0, torch.full_like(x0, size), torch.full_like(y0, size)], dim=1)
    return crop_boxes(x, boxes, size)


def random_rotation(x: Tensor, degrees: float, generator: Generatorish = None) -> Tensor:
    """Rotate every frame of each clip about its centre by one angle drawn from [-degrees, degrees].

    Bilinear, black outside the frame (PIL's ``rotate`` as used by torchvision's ``RandomRotation``).

    Args:
        x: (N, C, T, H, W).
        degrees: largest rotation, in degrees.
        generator: see the module docstring.
    """
    n, c, t, h, w = x.shape
    angle = _uniform(n, -degrees, degrees, make_generator(generator), x.device) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w  # normalised coordinates of a W x H frame
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    grid = F.affine_grid(theta, [n, c * t, h, w], align_corners=False).to(x.dtype)
    out = F.grid_sample(x.reshape(n, c * t, h, w), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(n, c, t, h, w)


def center_crop(x: Tensor, size: int, fraction: float = 1.0) -> Tensor:
    """The central square of side ``fraction * min(H, W)`` of every clip, resized to ``size``.

    Args:
        x: (N, C, T, H, W).
        size: output side.
        fraction: side of the crop relative to the shorter frame side, in (0, 1].

    Raises:
        ValueError: if ``fraction`` is outside (0, 1].
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n, _, _, h, w = x.shape
    side = fraction * min(h, w)
    if side == size and (h - size) % 2 == 0 and (w - size) % 2 == 0:
        top, left = (h - size) // 2, (w - size) // 2
        return x[..., top : top + size, left : left + size]
    box = torch.tensor([(w - side) / 2, (h - side) / 2, side, side]).expand(n, 4)
    return crop_boxes(x, box, size)


def horizontal_flip(x: Tensor, generator: Generatorish = None, p: float = 0.5) -> Tensor:
    """Mirror each clip (all frames) left-right with probability ``p``; x is (N, C, T, H, W)."""
    flip = _uniform(x.shape[0], 0, 1, make_generator(generator), x.device) < p
    return torch.where(flip.view(-1, 1, 1, 1, 1), x.flip(-1), x)


def grayscale(x: Tensor) -> Tensor:
    """Luma (ITU-R 601) of clips (N, 3, T, H, W), shape (N, 1, T, H, W)."""
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def _per_clip(values: Tensor) -> Tensor:
    return values.view(-1, 1, 1, 1, 1)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the chroma of clips (N, 3, T, H, W) by ``shift`` turns (N,), in YIQ space.

    An approximation of torchvision's HSV hue shift: the same rotation of the hue angle
    but in YIQ chroma, which keeps luma fixed and is a single 3x3 linear map per clip
    (torchvision's HSV shift also changes luma slightly and is piecewise). Values are
    clamped to [0, 1] afterwards.
    """
    to_yiq = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=x.dtype, device=x.device
    )
    angle = shift.to(x.device, x.dtype) * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(angle), 3, 3, dtype=x.dtype, device=x.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (N, 3, 3)
    return torch.einsum("nij,njthw->nithw", m, x).clamp(0, 1)


def color_jitter(
    x: Tensor,
    generator: Generatorish = None,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
) -> Tensor:
    """Colour jitter, one draw per clip, applied with probability ``p`` (SimCLR Appendix A, CVRL §3.2).

    Factors are drawn as torchvision's ``ColorJitter``: brightness, contrast, saturation
    uniform in [1 - s, 1 + s], hue shift uniform in [-hue, hue] turns (see :func:`adjust_hue`).
    They are applied in the fixed order brightness, contrast, saturation, hue (torchvision
    shuffles the order per call). Contrast blends with the clip's mean luma over all frames.

    Args:
        x: (N, 3, T, H, W) in [0, 1].
        generator: see the module docstring.
        brightness, contrast, saturation: jitter strengths in [0, 1].
        hue: in [0, 0.5].
        p: probability of jittering a clip.

    Raises:
        ValueError: if ``x`` is not (N, 3, T, H, W).
    """
    _check_clips(x)
    gen, n = make_generator(generator), x.shape[0]
    b = _uniform(n, 1 - brightness, 1 + brightness, gen, x.device)
    c = _uniform(n, 1 - contrast, 1 + contrast, gen, x.device)
    s = _uniform(n, 1 - saturation, 1 + saturation, gen, x.device)
    h = _uniform(n, -hue, hue, gen, x.device)
    apply = _uniform(n, 0, 1, gen, x.device) < p
    y = (x * _per_clip(b)).clamp(0, 1)
    mean = grayscale(y).mean(dim=(2, 3, 4), keepdim=True)
    y = ((y - mean) * _per_clip(c) + mean).clamp(0, 1)
    gray = grayscale(y)
    y = ((y - gray) * _per_clip(s) + gray).clamp(0, 1)
    if hue > 0:
        y = adjust_hue(y, h)
    return torch.where(_per_clip(apply), y, x)


def random_grayscale(x: Tensor, generator: Generatorish = None, p: float = 0.2) -> Tensor:
    """Turn each clip grey (luma in all 3 channels) with probability ``p``; x is (N, 3, T, H, W)."""
    _check_clips(x)
    apply = _uniform(x.shape[0], 0, 1, make_generator(generator), x.device) < p
    return torch.where(_per_clip(apply), grayscale(x).expand_as(x), x)


def gaussian_blur(
    x: Tensor,
    generator: Generatorish = None,
    sigma: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
    kernel_fraction: float = 0.1,
) -> Tensor:
    """Gaussian blur of every frame, sigma drawn per clip, applied with probability ``p`` (SimCLR Appendix A).

    A separable kernel of odd side ~ ``kernel_fraction`` of the frame side, applied by
    grouped convolutions (one group per clip plane), reflect padding.

    Args:
        x: (N, C, T, H, W).
        generator: see the module docstring.
        sigma: range of the standard deviation, in pixels.
        p: probability of blurring a clip.
        kernel_fraction: kernel side relative to the frame height.
    """
    gen = make_generator(generator)
    n, c, t, h, w = x.shape
    radius = max(1, int(kernel_fraction * h) // 2)
    sig = _uniform(n, *sigma, gen, x.device)
    apply = _uniform(n, 0, 1, gen, x.device) < p
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sig[:, None].to(x.dtype) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c * t, dim=0)  # (N*C*T, K)
    planes = x.reshape(1, n * c * t, h, w)
    k = 2 * radius + 1
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="reflect"), kernel.view(-1, 1, 1, k), groups=n * c * t)
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode="reflect"), kernel.view(-1, 1, k, 1), groups=n * c * t)
    return torch.where(_per_clip(apply), planes.view(n, c, t, h, w), x)


def random_solarize(x: Tensor, generator: Generatorish = None, p: float = 0.2, threshold: float = 0.5) -> Tensor:
    """Solarize each clip (all frames) with probability ``p``: values >= ``threshold`` become ``1 - x``.

    BYOL's augmentation (Grill et al., 2020, App. B, Table 6), reused by CVRL's released code.

    Args:
        x: (N, C, T, H, W) in [0, 1].
        generator: see the module docstring.
        p: probability of solarizing a clip.
        threshold: values at or above it are inverted.
    """
    apply = _uniform(x.shape[0], 0, 1, make_generator(generator), x.device) < p
    return torch.where(_per_clip(apply) & (x >= threshold), 1.0 - x, x)


def rotate90(x: Tensor, k: Tensor) -> Tensor:
    """Rotate every frame of clip i by ``k[i]`` * 90 degrees (``torch.rot90`` on (H, W)).

    Args:
        x: (N, C, T, H, W) with H == W.
        k: (N,) int quarter turns.

    Raises:
        ValueError: if frames are not square or ``k`` has the wrong length.
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotate90 needs square frames, got {x.shape[-2]}x{x.shape[-1]}")
    if k.shape != (x.shape[0],):
        raise ValueError(f"k must be ({x.shape[0]},), got {tuple(k.shape)}")
    k = k.to(x.device) % 4
    out = x.clone()
    for quarter in range(1, 4):  # at most 3 masked ops, independent of N and T
        mask = k == quarter
        if mask.any():
            out[mask] = torch.rot90(x[mask], quarter, dims=(-2, -1))
    return out


@dataclass
class ClipAugment:
    """The standard clip-consistent pipeline: uint8 frames -> augmented, normalised clips.

    Random resized crop (+ flip) -> colour jitter -> random grayscale -> optional blur ->
    optional solarize -> Kinetics normalisation, each drawn once per clip. Defaults follow MoCo v2 / CVRL
    (Qian et al., 2021 §3.2 uses SimCLR's colour strength; crop area (0.3, 1) for video).

    Args:
        size: output side.
        scale: crop area range.
        ratio: crop aspect range (w / h).
        flip_p: horizontal flip probability.
        jitter: (brightness, contrast, saturation, hue) strengths.
        jitter_p: colour jitter probability.
        grayscale_p: grayscale probability.
        blur_p: blur probability (0: no blur).
        solarize_p: solarize probability (0: none).
    """

    size: int
    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    solarize_p: float = 0.0

    def __call__(self, clips: Tensor, generator: Generatorish = None) -> Tensor:
        """uint8 (N, T, H, W, 3) -> float (N, 3, T, size, size)."""
        gen = make_generator(generator)
        x = random_resized_crop(to_unit_clips(clips), self.size, gen, self.scale, self.ratio, self.flip_p)
        if self.jitter_p > 0:
            x = color_jitter(x, gen, *self.jitter, p=self.jitter_p)
        if self.grayscale_p > 0:
            x = random_grayscale(x, gen, self.grayscale_p)
        if self.blur_p > 0:
            x = gaussian_blur(x, gen, p=self.blur_p)
        if self.solarize_p > 0:
            x = random_solarize(x, gen, self.solarize_p)
        return normalize(x)


def static_frame_mixup(x: Tensor, generator: Generatorish = None, alpha: float = 0.1) -> Tensor:
    """TCA / intra-video mixup: blend every frame with one random frame of the same clip.

    Wang et al., 2020 (arXiv 2008.02129) §3, TCA: ``x_t' = (1 - lam) x_t + lam x_r`` with ``r`` a
    random frame of the clip and ``lam ~ U(0, alpha)`` per clip, so every temporal
    derivative of the clip is kept up to the factor ``1 - lam``.

    Args:
        x: (N, C, T, H, W).
        generator: see the module docstring.
        alpha: upper bound of ``lam``.
    """
    gen = make_generator(generator)
    n, _, t = x.shape[:3]
    lam = _per_clip(_uniform(n, 0.0, alpha, gen, x.device)).to(x.dtype)
    r = (_uniform(n, 0.0, 1.0, gen, x.device) * t).long().clamp(max=t - 1)
    static = x[torch.arange(n, device=x.device), :, r].unsqueeze(2)  # (N, C, 1, H, W)
    return (1 - lam) * x + lam * static
