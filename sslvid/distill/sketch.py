"""Count Sketch and compact bilinear pooling by FFT (Tensor Sketch).

Charikar, Chen & Farach-Colton 2002 (Count Sketch); Pham & Pagh 2013 (Tensor Sketch: the
count sketch of an outer product ``x (x) y`` is the circular convolution of the two count
sketches, computed as ``IFFT(FFT(CS1 x) * FFT(CS2 y))``); Gao, Beijbom, Zhang & Darrell 2016
(CVPR, "Compact bilinear pooling", §3.2): applied to the channel vectors of a feature map, it
gives a d-dim feature whose inner products estimate those of the full C1 x C2 bilinear
features without bias. Zhang & Peng 2018 (§4.3, Eq. 7) pool pairs of teachers' features this
way to make the vertices of the representation graph.

Error: for any two tensors ``u, v`` of the product space, the estimate ``<TS u, TS v>`` is
unbiased and ``E[(<TS u, TS v> - <u, v>)^2] <= (2 + 3^p) / d * ||u||^2 ||v||^2`` with p = 2
(the Tensor Sketch moment bound of Avron, Nguyen & Woodruff 2014, NeurIPS, built on Pham &
Pagh 2013): the variance falls as 1/d. ``tests/test_distill_losses.py`` checks both the mean
and this bound.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

VARIANCE_CONSTANT = 2 + 3**2
"""``(2 + 3^p)`` of the Tensor Sketch variance bound for degree p = 2 (module docstring)."""


class CountSketch(nn.Module):
    """A fixed random Count Sketch ``R^C -> R^d``: coordinate c goes to bucket ``h[c]`` with sign ``s[c]``.

    The hash and signs are drawn once from ``seed`` and kept as buffers, so they are saved in
    checkpoints and a resumed run sketches exactly as before.

    Args:
        in_dim: C, the length of the sketched vectors.
        out_dim: d, the number of buckets.
        seed: seed of the hash ``h`` and the signs ``s``.

    Raises:
        ValueError: for non-positive dims.
    """

    hash: Tensor
    sign: Tensor

    def __init__(self, in_dim: int, out_dim: int, seed: int = 0) -> None:
        super().__init__()
        if in_dim < 1 or out_dim < 1:
            raise ValueError(f"in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
        gen = torch.Generator().manual_seed(seed)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.register_buffer("hash", torch.randint(out_dim, (in_dim,), generator=gen))
        self.register_buffer("sign", torch.randint(2, (in_dim,), generator=gen).float() * 2 - 1)

    def forward(self, x: Tensor, dim: int = -1) -> Tensor:
        """Sketch the vectors along ``dim``: (..., C, ...) -> (..., d, ...).

        Raises:
            ValueError: if ``x.shape[dim]`` is not ``in_dim``.
        """
        if x.shape[dim] != self.in_dim:
            raise ValueError(f"expected {self.in_dim} entries along dim {dim}, got {x.shape[dim]}")
        moved = x.movedim(dim, -1)
        out = moved.new_zeros(*moved.shape[:-1], self.out_dim)
        out.index_add_(-1, self.hash, moved * self.sign.to(moved.dtype))
        return out.movedim(-1, dim)


def tensor_sketch(x: Tensor, y: Tensor, sketch_x: CountSketch, sketch_y: CountSketch, dim: int = -1) -> Tensor:
    """The count sketch of every outer product ``x_i (x) y_i``: circular convolution by FFT.

    Pham & Pagh 2013 §2; Zhang & Peng 2018, Eq. 7.

    Args:
        x: (..., C1, ...) vectors along ``dim``.
        y: (..., C2, ...) with the same other dims.
        sketch_x: a ``CountSketch(C1, d)``.
        sketch_y: an independent ``CountSketch(C2, d)`` (same d).
        dim: the vector dim.

    Returns:
        (..., d, ...): sketches of the outer products.

    Raises:
        ValueError: if the two sketches have different output sizes.
    """
    if sketch_x.out_dim != sketch_y.out_dim:
        raise ValueError(f"sketch sizes differ: {sketch_x.out_dim} vs {sketch_y.out_dim}")
    d = sketch_x.out_dim
    fx = torch.fft.rfft(sketch_x(x.float(), dim), dim=dim)
    fy = torch.fft.rfft(sketch_y(y.float(), dim), dim=dim)
    return torch.fft.irfft(fx * fy, n=d, dim=dim)


def compact_bilinear(
    x: Tensor, y: Tensor, sketch_x: CountSketch, sketch_y: CountSketch, sum_locations: bool = True
) -> Tensor:
    """Compact bilinear pooling of two feature maps (Gao et al. 2016, Alg. 2 / Tensor Sketch).

    The full bilinear feature is ``sum_s x(s) y(s)^T`` over locations s (a C1 x C2 matrix);
    its compact version is ``sum_s TS(x(s), y(s))`` in R^d.

    Args:
        x: (B, C1, S) features at S locations.
        y: (B, C2, S) features at the same locations.
        sketch_x: ``CountSketch(C1, d)``.
        sketch_y: ``CountSketch(C2, d)``.
        sum_locations: sum over the S locations (Gao et al.); False keeps (B, d, S), one
            sketch per location (the representation graph's vertices, whose d "channels" are
            then compared as maps over S).

    Returns:
        (B, d) or (B, d, S).

    Raises:
        ValueError: if the locations of ``x`` and ``y`` differ.
    """
    if x.dim() != 3 or y.dim() != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(f"expected (B, C1, S) and (B, C2, S), got {tuple(x.shape)}, {tuple(y.shape)}")
    pooled = tensor_sketch(x, y, sketch_x, sketch_y, dim=1)
    return pooled.sum(dim=2) if sum_locations else pooled


def full_bilinear(x: Tensor, y: Tensor) -> Tensor:
    """The exact bilinear feature ``vec(sum_s x(s) y(s)^T)``: (B, C1, S), (B, C2, S) -> (B, C1 * C2)."""
    return torch.einsum("bis,bjs->bij", x, y).flatten(1)
