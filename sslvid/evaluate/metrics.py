"""The numbers of downstream evaluation: clip- and video-level top-1, and retrieval hit@k.

Clip-level top-1 counts every test clip on its own. Video-level top-1 averages the softmax
scores of a video's clips first (the multi-clip test of VCOP, Xu et al. 2019, CVPR), then takes
the arg max. Retrieval (Xu et al. 2019 §4.3, the benchmark's §3.2 and §5.1): every query
searches the gallery by cosine similarity and counts a hit at k when any of its k nearest
gallery items has its class. VCOP's protocol (its released ``retrieve_clips.py``) averages the
features of each video's clips first, for the test queries and the training gallery alike
(``video_features``), so a query is a video. All values are percentages; a k larger than the
gallery is not measurable and reads NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

RETRIEVAL_KS = (1, 5, 10, 20, 50)
"""The k of clip retrieval (benchmark §3.2)."""
SIMILARITIES = ("cosine", "euclidean")
"""How retrieval ranks the gallery: cosine similarity (VCOP, the benchmark §5.1) or Euclidean distance."""
VIDEO_SCORE = "mean softmax over the video's clips"
"""How ``video_scores`` turns clip scores into a video's score."""


def clip_top1(scores: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy in percent over clips.

    Args:
        scores: (N, C) logits or probabilities of N clips.
        labels: (N,) class indices.

    Raises:
        ValueError: for mismatched shapes or no clip.
    """
    _check_scores(scores, labels)
    return _percent(int((scores.argmax(dim=1) == labels).sum()), len(labels))


def video_scores(scores: Tensor, labels: Tensor, videos: Tensor) -> tuple[Tensor, Tensor]:
    """Per-video mean softmax over its clips.

    Args:
        scores: (N, C) logits of N clips.
        labels: (N,) class of each clip (a video's clips share it).
        videos: (N,) video id of each clip (any integers).

    Returns:
        ``(probabilities (V, C), labels (V,))`` for the V distinct videos, in increasing id order.

    Raises:
        ValueError: for mismatched shapes, or clips of one video with different labels.
    """
    _check_scores(scores, labels)
    return per_video_mean(F.softmax(scores.float(), dim=1), labels, videos)


def video_features(features: Tensor, labels: Tensor, videos: Tensor) -> tuple[Tensor, Tensor]:
    """Each video's clip features averaged: VCOP's retrieval items (Xu et al. 2019, ``retrieve_clips.py``,
    ``np.mean(X, 1)`` over a video's 10 clips).

    Args:
        features: (N, D) features of N clips.
        labels: (N,) class of each clip.
        videos: (N,) video id of each clip.

    Returns:
        ``(features (V, D), labels (V,))`` for the V distinct videos, in increasing id order.

    Raises:
        ValueError: for mismatched shapes, no clip, or clips of one video with different labels.
    """
    _check_scores(features, labels)
    return per_video_mean(features.float(), labels, videos)


def per_video_mean(values: Tensor, labels: Tensor, videos: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of ``values`` (N, C) over each video's rows, and the video's label: (V, C), (V,).

    Raises:
        ValueError: for mismatched shapes, or clips of one video with different labels.
    """
    if videos.shape != labels.shape:
        raise ValueError(f"videos {tuple(videos.shape)} must match labels {tuple(labels.shape)}")
    ids, inverse = torch.unique(videos, return_inverse=True)
    sums = torch.zeros(len(ids), values.shape[1], dtype=values.dtype).index_add_(0, inverse, values)
    counts = torch.bincount(inverse, minlength=len(ids)).to(values.dtype)
    video_labels = torch.full((len(ids),), -1, dtype=labels.dtype).scatter_(0, inverse, labels)
    if not torch.equal(video_labels[inverse], labels):
        raise ValueError("clips of one video carry different labels")
    return sums / counts[:, None], video_labels


def video_top1(scores: Tensor, labels: Tensor, videos: Tensor) -> float:
    """Top-1 accuracy in percent over videos, from clip scores averaged per video (softmax mean).

    Args:
        scores: (N, C) logits of N clips.
        labels: (N,) class indices.
        videos: (N,) video id of each clip.

    Raises:
        ValueError: see :func:`video_scores`.
    """
    probs, video_labels = video_scores(scores, labels, videos)
    return clip_top1(probs, video_labels)


def video_correct(scores: Tensor, labels: Tensor, videos: Tensor) -> tuple[Tensor, Tensor]:
    """Whether each video's prediction (softmax mean over its clips) is right: ``video_top1`` per video.

    Args:
        scores: (N, C) logits of N clips.
        labels: (N,) class indices.
        videos: (N,) video id of each clip.

    Returns:
        ``(ids (V,), correct (V,) bool)`` for the V distinct videos, in increasing id order;
        ``correct.float().mean() * 100`` is ``video_top1``.

    Raises:
        ValueError: see :func:`video_scores`.
    """
    probs, video_labels = video_scores(scores, labels, videos)
    return torch.unique(videos), probs.argmax(dim=1) == video_labels


def hits_at_k(
    queries: Tensor,
    query_labels: Tensor,
    gallery: Tensor,
    gallery_labels: Tensor,
    ks: Sequence[int] = RETRIEVAL_KS,
    chunk: int = 1024,
    similarity: str = "cosine",
) -> dict[int, float]:
    """Retrieval: percentage of queries with their class among the k nearest gallery items.

    A k larger than the gallery is not measurable (every query would "hit" once the gallery
    holds its class): it reads NaN, with a warning. Ties in similarity are broken by
    ``torch.topk`` (no particular order). Memory is ``chunk x len(gallery)`` similarities at a time.

    Args:
        queries: (Q, D) features of the test items (videos or clips).
        query_labels: (Q,) their classes.
        gallery: (N, D) features of the training items.
        gallery_labels: (N,) their classes.
        ks: the k to report (each >= 1).
        chunk: queries per similarity block.
        similarity: "cosine" (most similar first) or "euclidean" (nearest first).

    Returns:
        ``{k: hit rate in percent}`` (NaN for a k above N).

    Raises:
        ValueError: for mismatched shapes, an empty set, a k < 1 or an unknown similarity.
    """
    if queries.dim() != 2 or gallery.dim() != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"need (Q, D) and (N, D) features, got {tuple(queries.shape)} and {tuple(gallery.shape)}")
    if (
        len(queries) == 0
        or len(gallery) == 0
        or query_labels.shape != queries.shape[:1]
        or gallery_labels.shape != gallery.shape[:1]
    ):
        raise ValueError("queries and gallery need one label per row and at least one row each")
    if not ks or not all(isinstance(k, int) and k >= 1 for k in ks):
        raise ValueError(f"every k must be an int >= 1, got {list(ks)}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")
    too_large = sorted(k for k in set(ks) if k > len(gallery))
    if too_large:
        warnings.warn(
            f"hit@k for k = {too_large} exceeds the gallery of {len(gallery)} items and is not "
            "measurable: reported as NaN",
            stacklevel=2,
        )
    first_hit = first_hit_ranks(queries, query_labels, gallery, gallery_labels, max(ks), chunk, similarity)
    return {k: math.nan if k > len(gallery) else _percent(int((first_hit < k).sum()), len(first_hit)) for k in ks}


def first_hit_ranks(
    queries: Tensor,
    query_labels: Tensor,
    gallery: Tensor,
    gallery_labels: Tensor,
    k_max: int,
    chunk: int = 1024,
    similarity: str = "cosine",
) -> Tensor:
    """(Q,) rank (0 = nearest) of each query's first gallery item of its class among its ``k_max`` nearest,
    ``min(k_max, N)`` when none is: query ``i`` hits at k when ``ranks[i] < k`` (``hits_at_k``, whose
    arguments these are; the shapes are checked there)."""
    k_max = min(k_max, len(gallery))
    cosine = similarity == "cosine"
    q = F.normalize(queries.float(), dim=1) if cosine else queries.float()
    g = F.normalize(gallery.float(), dim=1) if cosine else gallery.float()
    first_hit = torch.empty(len(q), dtype=torch.long)
    for start in range(0, len(q), chunk):
        block = q[start : start + chunk] @ g.T if cosine else -torch.cdist(q[start : start + chunk], g)
        nearest = block.topk(k_max, dim=1).indices
        hit = gallery_labels[nearest] == query_labels[start : start + chunk, None]
        # rank of the first neighbour of the query's class (k_max when none is)
        none = torch.full((len(hit),), k_max, dtype=torch.long)
        rank = torch.where(hit.any(dim=1), hit.float().argmax(dim=1), none)
        first_hit[start : start + chunk] = rank
    return first_hit


def _percent(count: int, total: int) -> float:
    return 100.0 * count / total


def _check_scores(scores: Tensor, labels: Tensor) -> None:
    if scores.dim() != 2 or labels.shape != scores.shape[:1] or len(labels) == 0:
        raise ValueError(
            f"expected scores (N, C) and labels (N,) with N > 0, got {tuple(scores.shape)} and {tuple(labels.shape)}"
        )
