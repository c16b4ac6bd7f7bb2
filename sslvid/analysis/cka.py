"""Linear centred kernel alignment (CKA) between the layers of two networks, streamed over a dataset.

CKA (Kornblith, Norouzi, Lee & Hinton, 2019, "Similarity of Neural Network Representations
Revisited", §3-4) compares two representations of the same N examples, X (N, p) and
Y (N, q), through their Gram matrices K = X X^T and L = Y Y^T:

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)).

It is invariant to orthogonal transforms and isotropic scaling of either representation, so
a layer compared with itself gives 1. The benchmark paper draws CKA maps (its Figures 1-3):
every layer of one network against every layer of another (or of itself).

**Minibatch CKA** (Nguyen, Raghu & Kornblith, 2021, "Do Wide and Deep Networks Learn the
Same Things?", §3): a dataset's activations do not fit in memory, so each minibatch i of
n_i >= 4 examples contributes the unbiased HSIC estimator of Song, Smola, Gretton, Bedo &
Borgwardt (2012, JMLR 13, eq. 5), and the map is

    CKA = sum_i HSIC_1(K_i, L_i) / sqrt(sum_i HSIC_1(K_i, K_i) * sum_i HSIC_1(L_i, L_i))

(the paper's means over k batches; the 1/k factors cancel). Only the per-batch Gram matrices
(n x n per layer) are kept, never a layer's activations for the whole dataset; sums are in
float64. With the whole set as one batch this is exactly the unbiased ("debiased") CKA of
the full data; across batches it estimates the same population CKA and, unlike the biased
estimator, does not drift with the batch size (Nguyen et al. §3).

HSIC_1 is computed through U-centring (Székely & Rizzo, 2014, "Partial distance correlation",
§2): with Ũ the U-centred Gram matrix, ``HSIC_1(K, L) = <Ũ(K), Ũ(L)>_F / (n (n - 3))``, the
same number as Song et al.'s formula (the tests check this) but one matrix product gives
every layer pair of a batch, and ``HSIC_1(K, K) = ||Ũ(K)||^2 / (n (n - 3)) >= 0`` always.

**Zero-variance features.** A layer whose activations do not vary over the examples (a dead
ReLU stage, a constant input) has HSIC_1(K, K) = 0 and CKA is 0/0; existing packages return
NaN there (PyTorch-Model-Compare issues 4 and 10). Here such a layer (``HSIC_1(K, K) <= eps
* scale``, scale = (mean squared activation norm)^2, i.e. a relative variation below
~sqrt(eps) = 1e-6, the rounding level of float32 activations) gets CKA **0** with every
layer, itself included, and a logged warning names it. Batches of fewer than 4 examples
(where HSIC_1 is undefined) are skipped with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from sslvid.analysis.embedding import ClipSource, iter_clip_batches, to_device_clips
from sslvid.backbones.base import VideoBackbone, resolve_indices

logger = logging.getLogger(__name__)

MIN_BATCH = 4
"""Smallest batch for which the unbiased HSIC estimator is defined (it divides by n (n - 3))."""


def gram(x: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """Linear-kernel Gram matrix ``(n, n)`` of activations ``x`` ``(n, ...)`` flattened per example.

    Features are centred over the batch first (HSIC_1 and centred CKA do not change; it only
    avoids cancellation when activations have a large mean, e.g. after a ReLU).
    """
    return _gram_and_scale(x, dtype)[0]


def _gram_and_scale(x: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Centred Gram ``(n, n)`` and the scale ``(mean_i ||x_i||^2)^2`` of the uncentred activations."""
    flat = x.detach().reshape(x.shape[0], -1).to(dtype)
    scale = (flat.square().sum() / flat.shape[0]).double() ** 2
    flat = flat - flat.mean(dim=0, keepdim=True)
    return flat @ flat.T, scale


def u_center(k: Tensor) -> Tensor:
    """U-centred Gram matrices (Székely & Rizzo, 2014, §2): zero diagonal, rows/cols sum to 0.

    Args:
        k: Gram matrices ``(..., n, n)``, n >= 3; the diagonal is ignored.

    Returns:
        ``Ũ(k)`` of the same shape.

    Raises:
        ValueError: if n < 3.
    """
    n = k.shape[-1]
    if n < 3:
        raise ValueError(f"U-centring needs n >= 3, got {n}")
    k = k.clone()
    k.diagonal(dim1=-2, dim2=-1).zero_()
    rows = k.sum(dim=-1, keepdim=True) / (n - 2)
    cols = k.sum(dim=-2, keepdim=True) / (n - 2)
    total = k.sum(dim=(-2, -1), keepdim=True) / ((n - 1) * (n - 2))
    u = k - rows - cols + total
    u.diagonal(dim1=-2, dim2=-1).zero_()
    return u


def hsic_unbiased(k: Tensor, l: Tensor) -> Tensor:
    """Unbiased HSIC estimator of Song et al. (2012, JMLR 13, eq. 5), written as in the paper.

    ``HSIC_1 = [tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n (n-3))`` with
    K~, L~ the Gram matrices with zeroed diagonals. The reference the streaming code is tested
    against.

    Args:
        k: Gram matrix ``(n, n)``, symmetric.
        l: Gram matrix ``(n, n)``, symmetric.

    Raises:
        ValueError: if n < 4 or the shapes differ.
    """
    n = k.shape[0]
    if k.shape != (n, n) or l.shape != (n, n) or n < MIN_BATCH:
        raise ValueError(f"need two (n, n) Gram matrices with n >= {MIN_BATCH}, got {tuple(k.shape)}, {tuple(l.shape)}")
    kt = k.double() - torch.diag(torch.diagonal(k.double()))
    lt = l.double() - torch.diag(torch.diagonal(l.double()))
    trace = (kt * lt).sum()
    sums = kt.sum() * lt.sum() / ((n - 1) * (n - 2))
    cross = 2.0 / (n - 2) * (kt.sum(dim=0) @ lt.sum(dim=1))
    return (trace + sums - cross) / (n * (n - 3))


def linear_cka(x: Tensor, y: Tensor, unbiased: bool = True) -> float:
    """Full-batch linear CKA of two representations of the same n examples.

    ``unbiased=False`` is Kornblith et al. (2019, §3, eq. 3 with the linear kernel):
    ``||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)`` on centred features, i.e. CKA from the biased
    HSIC ``tr(K H L H) / (n - 1)^2``. ``unbiased=True`` uses :func:`hsic_unbiased` (Nguyen
    et al., 2021, §3). Zero-variance inputs give 0.

    Args:
        x: ``(n, ...)`` activations, flattened per example.
        y: ``(n, ...)`` activations of the same examples.
        unbiased: which HSIC estimator.

    Raises:
        ValueError: if the example counts differ (or n < 4 for the unbiased estimator).
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same examples, got {x.shape[0]} and {y.shape[0]}")
    k, l = gram(x), gram(y)
    hsic = hsic_unbiased if unbiased else _hsic_biased
    kl, kk, ll = hsic(k, l), hsic(k, k), hsic(l, l)
    denom = torch.sqrt(kk * ll)
    return float(kl / denom) if denom > 0 else 0.0


def _hsic_biased(k: Tensor, l: Tensor) -> Tensor:
    """Biased HSIC ``tr(K H L H) / (n - 1)^2`` (Gretton et al., 2005); gram() already centres."""
    n = k.shape[0]
    return (k * l).sum() / (n - 1) ** 2


@dataclass(frozen=True)
class CKAResult:
    """A CKA map: ``matrix[i, j]`` compares layer ``layers_a[i]`` with ``layers_b[j]``.

    Args:
        matrix: ``(len(layers_a), len(layers_b))`` float64.
        layers_a: block names of the first network (rows).
        layers_b: block names of the second network (columns).
        examples: examples that contributed.
        batches: minibatches that contributed (skipped ones excluded).
    """

    matrix: np.ndarray
    layers_a: tuple[str, ...]
    layers_b: tuple[str, ...]
    examples: int
    batches: int

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per layer pair, columns layer_a, layer_b, i, j, cka."""
        i, j = np.meshgrid(range(len(self.layers_a)), range(len(self.layers_b)), indexing="ij")
        return pd.DataFrame(
            {
                "layer_a": np.asarray(self.layers_a)[i.ravel()],
                "layer_b": np.asarray(self.layers_b)[j.ravel()],
                "i": i.ravel(),
                "j": j.ravel(),
                "cka": self.matrix.ravel(),
            }
        )


class MinibatchCKA:
    """Streaming accumulator of minibatch linear CKA between two lists of layers (module docstring).

    Call :meth:`update` once per batch with the activations of every layer, then
    :meth:`compute`. Memory: the U-centred Gram matrices of one batch, ``(L, n, n)`` float64.

    Args:
        eps: relative threshold below which a layer counts as zero-variance (module docstring).
        dtype: precision of the Gram matrices (float64; float32 is faster on large layers).
    """

    def __init__(self, eps: float = 1e-12, dtype: torch.dtype = torch.float64) -> None:
        self.eps, self.dtype = eps, dtype
        self.hsic_ab: Tensor | None = None
        self.hsic_aa = self.hsic_bb = self.scale_a = self.scale_b = torch.zeros(0, dtype=torch.float64)
        self.examples = self.batches = self.skipped = 0

    def _centred(self, acts: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Flattened U-centred Grams ``(L, n*n)`` float64 and per-layer scales ``(L,)``."""
        grams, scales = zip(*(_gram_and_scale(a, self.dtype) for a in acts))
        return u_center(torch.stack(grams).double()).flatten(1).cpu(), torch.stack(scales).cpu()

    def update(self, acts_a: Sequence[Tensor], acts_b: Sequence[Tensor] | None = None) -> None:
        """Add one minibatch: activations ``(n, ...)`` of each layer of A (and of B; None: B is A).

        Raises:
            ValueError: if the layers disagree on n, or the layer counts change between batches.
        """
        n = acts_a[0].shape[0]
        if any(a.shape[0] != n for a in [*acts_a, *(acts_b or [])]):
            raise ValueError("all layers of a batch must have the same number of examples")
        if n < MIN_BATCH:
            logger.warning("CKA: skipping a batch of %d examples (the unbiased HSIC needs >= %d)", n, MIN_BATCH)
            self.skipped += 1
            return
        ua, sa = self._centred(acts_a)
        ub, sb = (ua, sa) if acts_b is None else self._centred(acts_b)
        norm = n * (n - 3)
        if self.hsic_ab is None:
            self.hsic_ab = torch.zeros(len(ua), len(ub), dtype=torch.float64)
            self.hsic_aa = torch.zeros(len(ua), dtype=torch.float64)
            self.hsic_bb = torch.zeros(len(ub), dtype=torch.float64)
            self.scale_a, self.scale_b = torch.zeros_like(self.hsic_aa), torch.zeros_like(self.hsic_bb)
        elif self.hsic_ab.shape != (len(ua), len(ub)):
            raise ValueError(f"layer counts changed: {tuple(self.hsic_ab.shape)} then {(len(ua), len(ub))}")
        self.hsic_ab += ua @ ub.T / norm
        self.hsic_aa += ua.square().sum(1) / norm
        self.hsic_bb += ub.square().sum(1) / norm
        self.scale_a += sa
        self.scale_b += sb
        self.examples += n
        self.batches += 1

    def compute(self, names_a: Sequence[str] | None = None, names_b: Sequence[str] | None = None) -> np.ndarray:
        """The CKA map ``(L_a, L_b)``; zero-variance layers give 0 rows/columns and a warning.

        Args:
            names_a, names_b: layer names for the warning (default: positions).

        Raises:
            ValueError: if no batch of at least 4 examples was added.
        """
        if self.hsic_ab is None:
            raise ValueError(f"no batch of >= {MIN_BATCH} examples was added; CKA is undefined")
        live_a = self.hsic_aa > self.eps * self.scale_a
        live_b = self.hsic_bb > self.eps * self.scale_b
        for live, names, side in ((live_a, names_a, "A"), (live_b, names_b, "B")):
            dead = [names[i] if names else str(i) for i in torch.nonzero(~live).flatten().tolist()]
            if dead:
                logger.warning(
                    "CKA: layers %s of network %s do not vary over the examples; their CKA is set to 0",
                    ", ".join(dead),
                    side,
                )
        denom = torch.sqrt(torch.outer(self.hsic_aa.clamp_min(0), self.hsic_bb.clamp_min(0)))
        cka = torch.where(
            torch.outer(live_a, live_b),
            self.hsic_ab / denom.clamp_min(torch.finfo(torch.float64).tiny),
            torch.zeros_like(denom),
        )
        return cka.numpy()


def layer_names(model: VideoBackbone, indices: int | Sequence[int] | None) -> tuple[str, ...]:
    """Block names that ``model.forward_intermediates(x, indices)`` returns, in order."""
    return tuple(model.block_names[i] for i in resolve_indices(indices, len(model.block_names)))


@torch.no_grad()
def cka_map(
    model_a: VideoBackbone,
    source: ClipSource,
    model_b: VideoBackbone | None = None,
    indices_a: int | Sequence[int] | None = None,
    indices_b: int | Sequence[int] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    crop_size: int | None = None,
    channels_last: bool = True,
    eps: float = 1e-12,
    dtype: torch.dtype = torch.float64,
) -> CKAResult:
    """Minibatch linear CKA map between the blocks of two backbones (or one backbone and itself).

    Nguyen, Raghu & Kornblith (2021, §3) minibatch CKA over ``forward_intermediates``, each
    activation ``(B, C, T, H, W)`` flattened per clip; the benchmark paper's Figures 1-3. Both
    networks see the same batches; with ``model_b=None`` each batch runs once and the map is
    symmetric with a unit diagonal (except zero-variance blocks, which get 0).

    Args:
        model_a: backbone of the rows (moved to ``device``, eval mode, mode restored after).
        source: clips (see ``sslvid.analysis.embedding``), e.g. a float tensor
            ``(N, C, T, H, W)`` or a ``DataLoader`` of ``collate_clips`` batches.
        model_b: backbone of the columns; None: ``model_a`` again.
        indices_a, indices_b: blocks to compare (``forward_intermediates`` convention; None: all).
        device: where the networks run and the Gram matrices are formed; the sums stay on
            the CPU in float64.
        batch_size: minibatch size n for tensor sources (>= 4; larger n lowers the variance
            and, on CPU, is faster per clip).
        crop_size: central crop side for frames of another size.
        channels_last: feed CPU clips in channels-last-3d layout (same values, faster).
        eps: zero-variance threshold (module docstring).
        dtype: Gram precision (float64 by default).

    Returns:
        a :class:`CKAResult` with block names on both axes.

    Raises:
        ValueError: if no batch of >= 4 clips comes from ``source``.
    """
    device = torch.device(device)
    same = model_b is None or (model_b is model_a and indices_b == indices_a)
    model_b = model_a if model_b is None else model_b
    names_a, names_b = layer_names(model_a, indices_a), layer_names(model_b, indices_b)
    modes = [(m, m.training) for m in (model_a, model_b)]
    acc = MinibatchCKA(eps, dtype)
    try:
        for m, _ in modes:
            m.to(device).eval()
        for clips, _ in iter_clip_batches(source, batch_size, crop_size):
            x = to_device_clips(clips, device, channels_last)
            acts_a = model_a.forward_intermediates(x, indices_a)
            acts_b = None if same else model_b.forward_intermediates(x, indices_b)
            acc.update(acts_a, acts_b)
    finally:
        for m, mode in modes:
            m.train(mode)
    return CKAResult(acc.compute(names_a, names_b), names_a, names_b, acc.examples, acc.batches)
