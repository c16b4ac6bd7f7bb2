"""The min-norm point of a set of gradients: AE-KD's per-step teacher weights.

Du et al. 2020 ("Agree to Disagree: Adaptive Ensemble Knowledge Distillation in Gradient
Space", NeurIPS, §3) treat each teacher's KD loss as one objective and step along the
min-norm element of the convex hull of the teachers' gradients (the multiple-gradient
descent of Désidéri 2012; Sener & Koltun 2018 solve it by Frank-Wolfe). A tolerance ``C``
caps every weight, ``alpha_m <= C``, so that no single teacher can take over (the official
code solves the same problem as a nu-one-class SVM with ``nu = 1 / (C M)``).

    min_alpha || sum_m alpha_m g_m ||^2   s.t.  sum_m alpha_m = 1,  0 <= alpha_m <= C
"""

from __future__ import annotations

import torch
from torch import Tensor


def min_norm_two(g1: Tensor, g2: Tensor, cap: float = 1.0) -> Tensor:
    """Closed-form min-norm weights of two gradients (Sener & Koltun 2018, Alg. 1).

    ``gamma* = <g2 - g1, g2> / ||g1 - g2||^2``, clipped to ``[1 - cap, cap]``.

    Args:
        g1: (D,) first gradient.
        g2: (D,) second gradient.
        cap: the tolerance C in [0.5, 1].

    Returns:
        (2,) weights ``(gamma, 1 - gamma)``.

    Raises:
        ValueError: for a cap outside [0.5, 1].
    """
    _check_cap(cap, 2)
    diff = (g1 - g2).double()
    denom = diff.dot(diff)
    gamma = 0.5 if denom <= 0 else float((g2.double() - g1.double()).dot(g2.double()) / denom)
    gamma = min(max(gamma, 1.0 - cap), cap)
    return torch.tensor([gamma, 1.0 - gamma], dtype=g1.dtype)


def min_norm_weights(grads: Tensor, cap: float = 1.0, max_iter: int = 100, tol: float = 1e-8) -> Tensor:
    """Min-norm convex weights of M gradients with every weight at most ``cap`` (module docstring).

    Frank-Wolfe on the capped simplex with exact line search (Sener & Koltun 2018, Alg. 2):
    the linear step fills the coordinates with the smallest ``(G alpha)_m`` up to ``cap`` each.
    Starts from the uniform weights; stops when the duality gap is below ``tol``.

    Args:
        grads: (M, D) one flattened gradient per objective (teacher).
        cap: C in [1/M, 1]; 1 is the plain min-norm problem.
        max_iter: Frank-Wolfe iterations.
        tol: duality-gap tolerance (relative to the largest squared gradient norm).

    Returns:
        (M,) weights, >= 0, summing to 1, each <= cap; detached, on ``grads``' device.

    Raises:
        ValueError: for a cap outside [1/M, 1] or a grads tensor that is not 2-D.
    """
    if grads.dim() != 2:
        raise ValueError(f"grads must be (M, D), got {tuple(grads.shape)}")
    m = grads.shape[0]
    _check_cap(cap, m)
    gram = grads.detach().double() @ grads.detach().double().t()
    alpha = torch.full((m,), 1.0 / m, dtype=torch.float64, device=grads.device)
    scale = float(gram.diagonal().max().clamp_min(1e-30))
    for _ in range(max_iter):
        grad = gram @ alpha
        vertex = _capped_vertex(grad, cap)
        direction = vertex - alpha
        gap = float(grad @ -direction)
        if gap <= tol * scale:
            break
        curvature = float(direction @ gram @ direction)
        step = 1.0 if curvature <= 0 else min(1.0, gap / curvature)
        alpha = alpha + step * direction
    return alpha.to(grads.dtype)


def _capped_vertex(grad: Tensor, cap: float) -> Tensor:
    """The vertex of {sum = 1, 0 <= a <= cap} minimising ``<grad, a>``: fill the smallest first."""
    vertex = torch.zeros_like(grad)
    left = 1.0
    for index in torch.argsort(grad).tolist():
        take = min(cap, left)
        vertex[index] = take
        left -= take
        if left <= 1e-15:
            break
    return vertex


def _check_cap(cap: float, m: int) -> None:
    if not 1.0 / m - 1e-12 <= cap <= 1.0:
        raise ValueError(f"cap (tolerance C) must be in [1/M, 1] = [{1.0 / m:.3g}, 1] for M={m}, got {cap}")
