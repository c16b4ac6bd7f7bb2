"""Pretext losses as pure functions: classification, InfoNCE, NT-Xent, negative cosine, margins.

Contrastive losses come in two layers so every task can report the contrastive top-1:
``*_logits`` builds the logits and the index of each row's positive, and
``classification(logits, target)`` turns them into ``(loss, acc)``. The plain ``info_nce`` /
``nt_xent`` return the loss alone. Embeddings are L2-normalised inside (cosine similarity).

In-batch losses take ``gather_distributed``: under ``torchrun`` each process then contrasts its
rows with the rows of every process (``sslvid.pretext.distributed.gather_with_grad``), so the
mean of the per-process losses is the single-process loss over the global batch, gradients
included. Leave it False for calls that not every process makes (it is a collective); with one
process it changes nothing.

Example:
    >>> loss, acc = classification(*info_nce_logits(q, k, temperature=0.1))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslvid.pretext.distributed import gather_with_grad


def chance(logits: Tensor) -> float:
    """Top-1 accuracy of a uniform guess among the C candidates of (N, C) logits: 1 / C.

    A pretext run logs it beside its accuracy, so a reader can tell a task that learned from one at
    chance (for a contrastive task C is the positive plus its negatives, so chance falls with the batch).
    """
    return 1.0 / logits.shape[-1]


def accuracy(logits: Tensor, target: Tensor) -> Tensor:
    """Top-1 accuracy, a detached scalar tensor.

    Args:
        logits: (N, C) scores.
        target: (N,) class indices.
    """
    with torch.no_grad():
        return (logits.argmax(dim=1) == target).float().mean()


def classification(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy and top-1 accuracy of class scores.

    Args:
        logits: (N, C) unnormalised scores.
        target: (N,) int64 class indices in [0, C).

    Returns:
        ``(loss, acc)``: mean cross-entropy (differentiable) and detached top-1 accuracy.

    Raises:
        ValueError: if the shapes do not match.
    """
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, C) and target (N,), got {tuple(logits.shape)} and {tuple(target.shape)}")
    return F.cross_entropy(logits, target), accuracy(logits, target)


def info_nce_logits(
    query: Tensor,
    keys_pos: Tensor,
    keys_neg: Tensor | None = None,
    temperature: float = 0.1,
    gather_distributed: bool = False,
) -> tuple[Tensor, Tensor]:
    """Logits of InfoNCE (van den Oord et al., 2018; He et al., 2020 Eq. 1) and each row's positive.

    Args:
        query: (N, D) queries.
        keys_pos: (N, D) positive key of each query.
        keys_neg: negatives: ``None`` (the other queries' positives serve as negatives:
            in-batch, as CVRL, Qian et al. 2021 §3.1), (M, D) shared by every query (a MoCo
            queue) or (N, M, D) per query.
        temperature: softmax temperature tau > 0.
        gather_distributed: with in-batch negatives, contrast against the positives of every
            process (gathered with gradient); no effect with ``keys_neg`` or one process.

    Returns:
        ``(logits, target)``: logits (N, N') with target ``offset + arange(N)`` when ``keys_neg``
        is None (N' = N and offset 0 in one process; N' the global batch and offset this
        process's first row when gathered), else (N, 1 + M) with the positive in column 0 and
        target zeros.

    Raises:
        ValueError: for mismatched shapes or a non-positive temperature.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if query.shape != keys_pos.shape or query.dim() != 2:
        raise ValueError(f"query and keys_pos must both be (N, D), got {tuple(query.shape)}, {tuple(keys_pos.shape)}")
    q, k = F.normalize(query, dim=1), F.normalize(keys_pos, dim=1)
    n = q.shape[0]
    if keys_neg is None:
        keys, offset = _every_process(k, gather_distributed)
        return q @ keys.t() / temperature, offset + torch.arange(n, device=q.device)
    neg = F.normalize(keys_neg, dim=-1)
    if neg.dim() == 2:
        l_neg = q @ neg.t()
    elif neg.dim() == 3 and neg.shape[0] == n:
        l_neg = torch.einsum("nd,nmd->nm", q, neg)
    else:
        raise ValueError(f"keys_neg must be (M, D) or (N, M, D), got {tuple(keys_neg.shape)}")
    l_pos = (q * k).sum(dim=1, keepdim=True)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    return logits, torch.zeros(n, dtype=torch.long, device=q.device)


def info_nce(
    query: Tensor,
    keys_pos: Tensor,
    keys_neg: Tensor | None = None,
    temperature: float = 0.1,
    gather_distributed: bool = False,
) -> Tensor:
    """InfoNCE loss, mean over queries; see :func:`info_nce_logits` for the arguments."""
    return F.cross_entropy(*info_nce_logits(query, keys_pos, keys_neg, temperature, gather_distributed))


def nt_xent_logits(
    z1: Tensor, z2: Tensor, temperature: float = 0.5, gather_distributed: bool = False
) -> tuple[Tensor, Tensor]:
    """Logits of NT-Xent over 2N views (Chen et al., 2020, SimCLR §2.1) and each row's positive.

    Row i of ``cat(z1, z2)`` has its other view as positive and the 2N - 2 remaining views
    as negatives; its own similarity is masked with -inf. With ``gather_distributed`` the
    columns are the 2M views of the global batch (M rows over all processes, gathered with
    gradient): columns ``[z1 of every process, z2 of every process]``, so each row has
    2M - 2 negatives, as one process holding the whole batch.

    Args:
        z1: (N, D) projections of the first views.
        z2: (N, D) projections of the second views.
        temperature: tau > 0.
        gather_distributed: contrast against the views of every process (one process: no effect).

    Returns:
        ``(logits, target)``: (2N, 2M) logits (M = N in one process) and (2N,) targets; in one
        process ``[N..2N-1, 0..N-1]``.

    Raises:
        ValueError: for mismatched shapes or a non-positive temperature.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be (N, D), got {tuple(z1.shape)}, {tuple(z2.shape)}")
    n = z1.shape[0]
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    (all1, offset), (all2, _) = _every_process(z1, gather_distributed), _every_process(z2, gather_distributed)
    total = all1.shape[0]
    rows = torch.arange(n, device=z1.device) + offset
    own = torch.cat([rows, rows + total])  # column of each row's own view
    logits = torch.cat([z1, z2]) @ torch.cat([all1, all2]).t() / temperature
    self_mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, own[:, None], True)
    target = torch.cat([rows + total, rows])
    return logits.masked_fill(self_mask, float("-inf")), target


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5, gather_distributed: bool = False) -> Tensor:
    """NT-Xent loss, mean over the 2N views (SimCLR §2.1, Eq. 1); see :func:`nt_xent_logits`."""
    return F.cross_entropy(*nt_xent_logits(z1, z2, temperature, gather_distributed))


def _every_process(x: Tensor, gather: bool) -> tuple[Tensor, int]:
    """``(rows of every process, this process's offset)`` when ``gather``, else ``(x, 0)``."""
    return gather_with_grad(x) if gather else (x, 0)


def negative_cosine(p: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """Mean negative cosine similarity -cos(p, z), in [-1, 1] (SimSiam, Chen & He 2021 Eq. 1).

    BYOL's loss (Grill et al., 2020 Eq. 2) is ``2 + 2 * negative_cosine(p, z)``.

    Args:
        p: (N, D) predictions (online branch).
        z: (N, D) targets; detached here when ``stop_gradient`` (the default), so callers
            need not detach.
        stop_gradient: detach ``z``.

    Raises:
        ValueError: for mismatched shapes.
    """
    if p.shape != z.shape:
        raise ValueError(f"p and z must have the same shape, got {tuple(p.shape)}, {tuple(z.shape)}")
    z = z.detach() if stop_gradient else z
    return -F.cosine_similarity(p, z, dim=-1).mean()


def triplet_margin(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, distance: str = "euclidean"
) -> Tensor:
    """Triplet margin loss mean(max(0, d(a, p) - d(a, n) + margin)) (Schroff et al., 2015 Eq. 1).

    Args:
        anchor: (N, D).
        positive: (N, D).
        negative: (N, D).
        margin: the gap required between positive and negative distances.
        distance: ``"euclidean"`` (on L2-normalised embeddings, as FaceNet) or ``"cosine"``
            (1 - cosine similarity).

    Raises:
        ValueError: for mismatched shapes or an unknown distance.
    """
    if not anchor.shape == positive.shape == negative.shape:
        raise ValueError("anchor, positive and negative must have the same shape")
    a, p, n = (F.normalize(t, dim=-1) for t in (anchor, positive, negative))
    if distance == "euclidean":
        d_pos, d_neg = (a - p).norm(dim=-1), (a - n).norm(dim=-1)
    elif distance == "cosine":
        d_pos, d_neg = 1 - (a * p).sum(-1), 1 - (a * n).sum(-1)
    else:
        raise ValueError(f"unknown distance {distance!r}; valid: euclidean, cosine")
    return F.relu(d_pos - d_neg + margin).mean()


def margin_ranking(higher: Tensor, lower: Tensor, margin: float = 0.15) -> Tensor:
    """Margin ranking loss mean(max(0, margin - (higher - lower))) (RSPNet's relative speed loss, Chen et al. 2021 §3).

    Args:
        higher: (N,) scores that should exceed ``lower`` by at least ``margin``.
        lower: (N,) scores.
        margin: gamma.

    Raises:
        ValueError: for mismatched shapes.
    """
    if higher.shape != lower.shape:
        raise ValueError(f"higher and lower must have the same shape, got {tuple(higher.shape)}, {tuple(lower.shape)}")
    return F.relu(margin - (higher - lower)).mean()
