"""CIE Lab colour and its quantisation into the ab and L classes of Split-Brain autoencoders.

Conversions follow the sRGB standard (IEC 61966-2-1) and CIE 1976 L*a*b* with the D65 white
point, so values match ``skimage.color.rgb2lab``: white -> (100, 0, 0), pure red ->
(53.24, 80.09, 67.20). Colour tensors carry their 3 (or 2) channels at dimension ``dim``
(default 1: clips ``(B, C, T, H, W)``); RGB is float in [0, 1].

Classes (Zhang, Isola & Efros 2016, "Colorful Image Colorization", ECCV §2.1; reused by
Split-Brain autoencoders, Zhang et al. 2017, CVPR §3.2):

* **ab**: a grid of 10 x 10 cells over the ab plane, cell centres at multiples of 10; a value
  belongs to the cell whose centre is nearest (``round(a / 10), round(b / 10)``). Zhang et al.
  keep the Q = 313 cells "in gamut". Here the in-gamut set is computed deterministically:
  every 8-bit colour on the surface of the RGB cube (6 x 256 x 256 colours; the ab footprint
  of the sRGB solid is that of its surface) is converted to Lab and the cells hit are kept.
  That gives **261 cells**, not 313: the paper does not spell out its in-gamut test, which
  keeps more cells near the gamut's edge. To keep the paper's output size, :func:`ab_bin_centers` completes the 261
  with the 52 nearest out-of-gamut cells (ordered by the distance from the cell centre to
  the closest swept colour, ties by (a, b)), most of a one-cell rim around the sRGB footprint.
  Those extra classes are never targets of sRGB input; ``num_bins=None`` gives the 261 alone.
  The count is therefore exact (313) by construction, and the set approximates Zhang's.
* **L**: 50 bins of width 2 over [0, 100] (Split-Brain §4.1: "50 bins of size 2").
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

AB_GRID = 10.0
"""Side of an ab cell (Zhang et al. 2016 §2.1)."""
AB_BINS = 313
"""ab classes of Zhang et al. (2016, §2.1): the in-gamut cells of the 10 x 10 grid."""
L_BINS = 50
"""L classes of Split-Brain (Zhang et al. 2017, §4.1)."""
L_BIN_SIZE = 2.0
"""Width of an L class."""
_AB_CELLS = 12
"""The ab lookup grid spans cell indices -12..12 (centres -120..120): beyond the sRGB gamut."""

_RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)  # sRGB primaries, D65 (as skimage)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def _matrix(rows: tuple, like: Tensor) -> Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply(matrix: Tensor, x: Tensor, dim: int) -> Tensor:
    """Multiply the channel vectors at ``dim`` by ``matrix``."""
    return torch.einsum("ij,...j->...i", matrix, x.movedim(dim, -1)).movedim(-1, dim)


def _scale(x: Tensor, values: tuple[float, ...], dim: int) -> Tensor:
    shape = [1] * x.dim()
    shape[dim] = len(values)
    return torch.tensor(values, dtype=x.dtype, device=x.device).view(shape)


def rgb_to_lab(rgb: Tensor, dim: int = 1) -> Tensor:
    """sRGB in [0, 1] -> CIE Lab (L in [0, 100], a and b in about [-110, 110]), D65 white.

    Args:
        rgb: float tensor with 3 channels at ``dim``, e.g. clips (B, 3, T, H, W).
        dim: channel dimension.

    Returns:
        Lab, same shape, channels (L, a, b) at ``dim``.

    Raises:
        ValueError: if ``rgb`` has no 3 channels at ``dim``.
    """
    if rgb.shape[dim] != 3:
        raise ValueError(f"expected 3 channels at dim {dim}, got shape {tuple(rgb.shape)}")
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)
    xyz = _apply(_matrix(_RGB_TO_XYZ, rgb), linear, dim) / _scale(rgb, _WHITE_D65, dim)
    f = torch.where(xyz > _DELTA**3, xyz.clamp(min=_DELTA**3) ** (1 / 3), xyz / (3 * _DELTA**2) + 4 / 29)
    fx, fy, fz = f.unbind(dim)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=dim)


def lab_to_rgb(lab: Tensor, dim: int = 1, clip: bool = True) -> Tensor:
    """CIE Lab -> sRGB, the inverse of :func:`rgb_to_lab` (for galleries and tests).

    Args:
        lab: float tensor with channels (L, a, b) at ``dim``.
        dim: channel dimension.
        clip: clamp the result to [0, 1] (out-of-gamut Lab values give values outside).

    Raises:
        ValueError: if ``lab`` has no 3 channels at ``dim``.
    """
    if lab.shape[dim] != 3:
        raise ValueError(f"expected 3 channels at dim {dim}, got shape {tuple(lab.shape)}")
    l, a, b = lab.unbind(dim)
    fy = (l + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=dim)
    xyz = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29)) * _scale(lab, _WHITE_D65, dim)
    linear = _apply(torch.linalg.inv(_matrix(_RGB_TO_XYZ, lab)), xyz, dim)
    rgb = torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear.clamp(min=0) ** (1 / 2.4) - 0.055)
    return rgb.clamp(0, 1) if clip else rgb


def srgb_gamut_cells() -> Tensor:
    """ab cells (i, j) (centre ``(10 i, 10 j)``) hit by 8-bit sRGB colours, sorted, (261, 2) int64.

    Sweeps the 6 faces of the RGB cube at 8-bit resolution (module docstring).
    """
    v = torch.arange(256, dtype=torch.float64) / 255
    u, w = (g.flatten() for g in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for side in (0.0, 1.0):
            face = [u, w]
            face.insert(axis, torch.full_like(u, side))
            faces.append(torch.stack(face, dim=1))
    ab = rgb_to_lab(torch.cat(faces), dim=1)[:, 1:]
    cells = torch.round(ab / AB_GRID).long() + _AB_CELLS
    side = 2 * _AB_CELLS + 1
    keys = torch.unique(cells[:, 0] * side + cells[:, 1])  # sorted, so cells come sorted by (i, j)
    return torch.stack([keys // side, keys % side], dim=1) - _AB_CELLS


def _swept_ab() -> Tensor:
    """A coarse sample (33^3 colours) of the sRGB ab footprint, for distances to it."""
    v = torch.linspace(0, 1, 33, dtype=torch.float64)
    rgb = torch.stack([g.flatten() for g in torch.meshgrid(v, v, v, indexing="ij")], dim=1)
    return rgb_to_lab(rgb, dim=1)[:, 1:]


def ab_bin_centers(num_bins: int | None = AB_BINS) -> Tensor:
    """Centres (a, b) of the ab classes, (num_bins, 2) float32; class ``q`` is row ``q``.

    The sRGB cells (:func:`srgb_gamut_cells`) first, sorted by (a, b), then the nearest
    out-of-gamut cells up to ``num_bins`` (module docstring).

    Raises:
        ValueError: if ``num_bins`` is smaller than the sRGB cell count or larger than the grid.
    """
    return _ab_bin_centers(num_bins).clone()


@lru_cache(maxsize=4)
def _ab_bin_centers(num_bins: int | None) -> Tensor:
    """:func:`ab_bin_centers`, computed once per process (the sweep takes about a second)."""
    core = srgb_gamut_cells()
    if num_bins is None:
        return core.float() * AB_GRID
    grid = torch.arange(-_AB_CELLS, _AB_CELLS + 1)
    cells = torch.stack([g.flatten() for g in torch.meshgrid(grid, grid, indexing="ij")], dim=1)
    if not len(core) <= num_bins <= len(cells):
        raise ValueError(f"num_bins must lie in [{len(core)}, {len(cells)}], got {num_bins}")
    inside = (cells[:, None, :] == core[None]).all(-1).any(1)
    rim = cells[~inside]
    distance = torch.cdist(rim.double() * AB_GRID, _swept_ab()).amin(1)
    order = sorted(range(len(rim)), key=lambda i: (round(distance[i].item(), 6), *rim[i].tolist()))
    extra = rim[order[: num_bins - len(core)]]
    return torch.cat([core, extra]).float() * AB_GRID


class ABQuantizer(nn.Module):
    """Hard assignment of ab values to the Q in-gamut classes, and back to their centres.

    A value goes to the class of its nearest grid cell; values whose cell is not a class
    (out of gamut, e.g. averaged colours at the rim) go to the class with the nearest centre.
    Tables are buffers (not saved in state dicts), so ``.to(device)`` moves them.

    Args:
        num_bins: Q (313, Zhang et al. 2016 §2.1; None: the 261 sRGB cells; module docstring).
    """

    centers: Tensor
    lut: Tensor

    def __init__(self, num_bins: int | None = AB_BINS) -> None:
        super().__init__()
        centers = ab_bin_centers(num_bins)
        grid = torch.arange(-_AB_CELLS, _AB_CELLS + 1, dtype=torch.float32) * AB_GRID
        cell_centres = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).view(-1, 2)
        lut = torch.cdist(cell_centres, centers).argmin(1).view(len(grid), len(grid))
        self.register_buffer("centers", centers, persistent=False)
        self.register_buffer("lut", lut, persistent=False)

    @property
    def num_bins(self) -> int:
        """Q, the number of ab classes."""
        return len(self.centers)

    def encode(self, ab: Tensor, dim: int = 1) -> Tensor:
        """ab values (2 channels at ``dim``) -> int64 classes, that dimension removed.

        Raises:
            ValueError: if ``ab`` has no 2 channels at ``dim``.
        """
        if ab.shape[dim] != 2:
            raise ValueError(f"expected 2 channels (a, b) at dim {dim}, got shape {tuple(ab.shape)}")
        cells = torch.round(ab / AB_GRID).long().clamp(-_AB_CELLS, _AB_CELLS) + _AB_CELLS
        i, j = cells.unbind(dim)
        return self.lut[i, j]

    def decode(self, index: Tensor, dim: int = 1) -> Tensor:
        """int64 classes -> their ab centres, a new channel dimension of size 2 at ``dim``."""
        return self.centers[index].movedim(-1, dim)


def quantize_l(lightness: Tensor) -> Tensor:
    """L in [0, 100] -> int64 class in [0, 50): bins of width 2 (Split-Brain §4.1); clamps outside."""
    return torch.floor(lightness / L_BIN_SIZE).long().clamp(0, L_BINS - 1)


def dequantize_l(index: Tensor) -> Tensor:
    """L class -> the centre of its bin (1, 3, ..., 99), float32."""
    return index.float() * L_BIN_SIZE + L_BIN_SIZE / 2
