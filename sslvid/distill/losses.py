"""Distillation losses as pure functions: KL at a temperature, Earth Mover distances, MMD.

Every function takes plain tensors and returns a scalar (mean over the batch) unless it
says otherwise. Distributions are rows of probabilities (they sum to 1 over the last dim).

* :func:`kd_kl` — Hinton, Vinyals & Dean 2015 §2: ``T^2 KL(softmax(t/T) || softmax(s/T))``.
* :func:`summed_soft_label_kl` — SKD-SRL (Vu et al. 2022, §III-A): each view to the soft label
  built from the sum of both views' logits.
* :func:`em_distance` — the Earth Mover distance of the logits graph (Zhang & Peng 2018,
  Eq. 5). The ground metric there is the norm ``||mu - eta||`` between *softened probability
  vectors* (the Wasserstein-1 of Arjovsky et al. 2017, which the paper cites): a point of the
  distribution is one sample's softened output. ``coupling="batch"`` is that W1 between the
  batch's teacher outputs and student outputs (exact optimal assignment); ``"sample"`` keeps
  each sample with its own pair (the coupling the per-sample notation of Eq. 5 forces, where
  the distance is ``||mu(x_i) - eta(x_i)||_2``).
* :func:`emd_1d` — EMD between histograms over *ordered* bins with ground metric ``|i - j|``:
  the L1 distance of the CDFs. Classes have no order, so the paper's loss is not this; it is
  here as the textbook reference and for ordinal labels.
* :func:`cosine_distance` — the cosine distance of MMGD's graph (Luo et al. 2018).
* :func:`mmd` — biased (V-statistic) squared MMD with a Gaussian kernel between two sets of
  vectors (Zhang & Peng 2018, Eq. 9; Gretton et al. 2012, Eq. 5).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

COUPLINGS = ("sample", "batch")


def soften(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """``softmax(logits / T)`` over the last dim.

    Args:
        logits: (..., C).
        temperature: T > 0; higher is softer.

    Raises:
        ValueError: for a non-positive temperature.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return F.softmax(logits / temperature, dim=-1)


def kd_kl(student_logits: Tensor, teacher_probs: Tensor, temperature: float = 4.0) -> Tensor:
    """Hinton KD term ``T^2 * KL(p_t || softmax(z_s / T))``, mean over the batch.

    Hinton, Vinyals & Dean 2015 (arXiv 1503.02531) §2: the gradients of the soft term scale
    as ``1/T^2``, so it is multiplied by ``T^2`` to keep its weight when T changes.

    Args:
        student_logits: (B, C) student logits.
        teacher_probs: (B, C) the teacher's soft targets, already softened at ``temperature``
            (e.g. ``soften(teacher_logits, T)`` or an average over teachers).
        temperature: T > 0.

    Raises:
        ValueError: for mismatched shapes or a non-positive temperature.
    """
    if student_logits.shape != teacher_probs.shape or student_logits.dim() != 2:
        raise ValueError(
            f"expected two (B, C) tensors, got {tuple(student_logits.shape)}, {tuple(teacher_probs.shape)}"
        )
    log_p_s = F.log_softmax(student_logits / _positive(temperature), dim=1)
    return F.kl_div(log_p_s, teacher_probs, reduction="batchmean") * temperature**2


def summed_soft_label_kl(logits_a: Tensor, logits_b: Tensor, temperature: float = 10.0) -> Tensor:
    """SKD-SRL's distillation term: each view's prediction to the soft label of both views, mean over the batch.

    Vu, Phung & Wang 2022, §III-A, Eqs. 1-2 and Fig. 2: the soft label is built from the sum of
    the two views' logits, ``p = p_1 + p_2``, and distils into each branch:
    ``KL(softmax(p / tau) || softmax(p_1 / tau)) + KL(softmax(p / tau) || softmax(p_2 / tau))``.
    The printed Eq. 2 repeats one term and never uses ``p``; this reads it with the soft label
    that the text, Fig. 2 and the conclusion describe. The soft label is a target: no gradient
    flows through it (as in Hinton et al. 2015 §2). No ``tau^2`` factor, as in the paper. Unlike a
    KL between the two views, the term does not vanish when the views agree: the summed label
    is sharper than either view (``p = 2 p_1``), so it also sharpens the predictions.

    Args:
        logits_a: (B, C) logits ``p_1`` of the first views.
        logits_b: (B, C) logits ``p_2`` of the second views.
        temperature: tau > 0 (10 in the paper, §IV-A).

    Raises:
        ValueError: for mismatched shapes or a non-positive temperature.
    """
    if logits_a.shape != logits_b.shape or logits_a.dim() != 2:
        raise ValueError(f"expected two (B, C) tensors, got {tuple(logits_a.shape)}, {tuple(logits_b.shape)}")
    tau = _positive(temperature)
    soft_label = F.log_softmax((logits_a + logits_b).detach() / tau, dim=-1)
    to_a = F.kl_div(F.log_softmax(logits_a / tau, dim=-1), soft_label, reduction="batchmean", log_target=True)
    to_b = F.kl_div(F.log_softmax(logits_b / tau, dim=-1), soft_label, reduction="batchmean", log_target=True)
    return to_a + to_b


def emd_1d(p: Tensor, q: Tensor) -> Tensor:
    """EMD between histograms over ordered bins (ground metric ``|i - j|``), per row.

    In one dimension the optimal transport cost is the L1 distance between the cumulative
    distributions: ``sum_k |P_k - Q_k|`` (Vallender 1974).

    Args:
        p: (..., K) histograms (rows sum to the same mass as ``q``'s).
        q: (..., K).

    Returns:
        (...) distances (not averaged).

    Raises:
        ValueError: for mismatched shapes.
    """
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)}, {tuple(q.shape)}")
    return (torch.cumsum(p, dim=-1) - torch.cumsum(q, dim=-1)).abs().sum(dim=-1)


def em_distance(mu: Tensor, eta: Tensor, coupling: str = "sample") -> Tensor:
    """Earth Mover (Wasserstein-1) distance of the logits graph, Euclidean ground metric.

    Zhang & Peng 2018 (IJCAI), §4.2 Eq. 5: ``inf_gamma E_{(mu, eta) ~ gamma} ||mu - eta||``
    between the distribution of the teacher's softened outputs ``mu = softmax(f_t / T_k)``
    and the student's ``eta = softmax(f_s)``; a batch gives each an empirical distribution
    of B equally weighted points.

    Args:
        mu: (B, C) teacher distributions.
        eta: (B, C) student distributions.
        coupling: ``"batch"``: the exact W1 between the two empirical distributions, i.e. the
            mean Euclidean distance under the optimal one-to-one assignment (the assignment is
            found without gradient; the value is differentiable almost everywhere, Danskin's
            theorem); ``"sample"``: each sample paired with itself, the mean of
            ``||mu_i - eta_i||_2`` (an upper bound of the batch W1).

    Raises:
        ValueError: for mismatched shapes or an unknown coupling.
    """
    if mu.shape != eta.shape or mu.dim() != 2:
        raise ValueError(f"expected two (B, C) tensors, got {tuple(mu.shape)}, {tuple(eta.shape)}")
    if coupling not in COUPLINGS:
        raise ValueError(f"unknown coupling {coupling!r}; valid: {', '.join(COUPLINGS)}")
    if coupling == "sample":
        return _safe_norm(mu - eta).mean()
    cost = _safe_norm(mu.unsqueeze(1) - eta.unsqueeze(0))  # (B, B)
    rows, cols = linear_sum_assignment(cost.detach().float().cpu().numpy())
    index = torch.as_tensor(np.stack([rows, cols]), device=cost.device)
    return cost[index[0], index[1]].mean()


def cosine_distance(p: Tensor, q: Tensor) -> Tensor:
    """Mean ``1 - cos(p_i, q_i)`` over rows: MMGD's distillation distance (Luo et al. 2018, §3.2).

    Args:
        p: (B, D).
        q: (B, D).

    Raises:
        ValueError: for mismatched shapes.
    """
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)}, {tuple(q.shape)}")
    return (1 - F.cosine_similarity(p, q, dim=-1)).mean()


def gaussian_kernel(a: Tensor, b: Tensor, sigma: float = 1.0) -> Tensor:
    """``exp(-||a_i - b_j||^2 / (2 sigma^2))`` for every pair of rows.

    Args:
        a: (..., N, D).
        b: (..., M, D).
        sigma: bandwidth > 0.

    Returns:
        (..., N, M) kernel values.
    """
    sq = (a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1)
    return torch.exp(-sq / (2 * _positive(sigma) ** 2))


def mmd(x: Tensor, y: Tensor, sigma: float = 1.0) -> Tensor:
    """Squared MMD (biased V-statistic) between the sets ``x`` and ``y``, Gaussian kernel.

    Zhang & Peng 2018, Eq. 9 (Gretton et al. 2012, Eq. 5): ``mean K(x, x') + mean K(y, y')
    - 2 mean K(x, y)``. It is the squared RKHS distance of the two mean embeddings, so it is
    >= 0, exactly 0 for identical sets and > 0 when the sets differ (the Gaussian kernel is
    characteristic). A leading batch dim gives one set pair per sample, then the mean.

    Args:
        x: (N, D) or (B, N, D): N vectors (e.g. the student's channels).
        y: (M, D) or (B, M, D): M vectors of the same length D.
        sigma: kernel bandwidth.

    Raises:
        ValueError: for sets of different dims.
    """
    if x.dim() != y.dim() or x.shape[-1] != y.shape[-1] or x.shape[:-2] != y.shape[:-2]:
        raise ValueError(f"x and y must be (..., N, D) and (..., M, D), got {tuple(x.shape)}, {tuple(y.shape)}")
    xx = gaussian_kernel(x, x, sigma).mean(dim=(-2, -1))
    yy = gaussian_kernel(y, y, sigma).mean(dim=(-2, -1))
    xy = gaussian_kernel(x, y, sigma).mean(dim=(-2, -1))
    return (xx + yy - 2 * xy).clamp_min(0).mean()


def signed_sqrt(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``sign(x) * sqrt(|x|)`` (Gao et al. 2016 §3; Zhang & Peng 2018 §4.3), with a finite gradient at 0."""
    return torch.sign(x) * torch.sqrt(x.abs() + eps)


def _safe_norm(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Euclidean norm over the last dim, differentiable at 0."""
    return torch.sqrt(x.pow(2).sum(-1) + eps)


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"temperature / bandwidth must be > 0, got {value}")
    return value
