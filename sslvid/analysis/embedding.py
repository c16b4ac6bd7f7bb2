"""Features of a backbone over a dataset: clip batches, pooled features, nearest neighbours, t-SNE.

Everything here calls only the backbones' face (``forward_features``) and streams over the
data: one batch of clips is in memory at a time.

Clip sources accepted by :func:`iter_clip_batches` (and so by :func:`extract_features` and
``sslvid.analysis.cka.cka_map``):

* a float tensor of model-ready clips ``(N, C, T, H, W)``;
* a pair ``(clips, labels)`` of such a tensor and ``(N,)`` labels;
* uint8 frames ``(N, T, H, W, 3)`` (normalised with ``to_float_clips``);
* an iterable of batches, each one of the above, or a dict from ``collate_clips``
  (``clips`` uint8 ``(B, K, T, H, W, 3)``, ``label`` ``(B,)``) — e.g. a ``DataLoader`` over a
  ``VideoClipDataset``. Each of the K clips of a video is one example (its label repeated).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.manifold import TSNE
from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.data.transforms import KINETICS_MEAN, KINETICS_STD, center_crop, to_float_clips

ClipSource = Any
"""A tensor, a (clips, labels) pair, or an iterable of batches (see the module docstring)."""

METRICS = ("cosine", "euclidean")


def as_model_clips(clips: Tensor, crop_size: int | None = None) -> Tensor:
    """Model-ready float clips ``(N, C, T, H, W)`` from float clips or uint8 frames.

    Args:
        clips: float ``(N, C, T, H, W)``, or uint8 frames ``(..., T, H, W, 3)`` (leading dims
            flattened into N, normalised with the Kinetics mean and std).
        crop_size: if given and the frames are not ``crop_size`` square, the central square
            resized to ``crop_size`` (``center_crop``).

    Raises:
        ValueError: if the result is not 5-D.
    """
    if clips.dtype == torch.uint8:
        if clips.shape[-1] != 3 or clips.dim() < 4:
            raise ValueError(f"uint8 frames must be (..., T, H, W, 3), got {tuple(clips.shape)}")
        clips = to_float_clips(clips.reshape(-1, *clips.shape[-4:]))
    if clips.dim() != 5:
        raise ValueError(f"expected clips (N, C, T, H, W), got {tuple(clips.shape)}")
    if crop_size is not None and tuple(clips.shape[-2:]) != (crop_size, crop_size):
        clips = center_crop(clips, crop_size)
    return clips


def to_display_frames(
    clip: Tensor, mean: tuple[float, ...] = KINETICS_MEAN, std: tuple[float, ...] = KINETICS_STD
) -> np.ndarray:
    """A normalised model input ``(3, T, H, W)`` back to uint8 frames ``(T, H, W, 3)`` for display.

    Inverts ``normalize`` (Kinetics mean and std by default) and clamps to [0, 1].

    Raises:
        ValueError: if ``clip`` is not ``(3, T, H, W)``.
    """
    if clip.dim() != 4 or clip.shape[0] != 3:
        raise ValueError(f"expected one clip (3, T, H, W), got {tuple(clip.shape)}")
    shape = (3, 1, 1, 1)
    x = clip.detach().float().cpu() * torch.tensor(std).view(shape) + torch.tensor(mean).view(shape)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def _labels_for(batch: Any, n: int) -> Tensor:
    """(n,) long labels of a batch (-1 when it has none); K clips per video repeat the label."""
    labels = None
    if isinstance(batch, dict):
        labels = batch.get("label")
    elif isinstance(batch, (tuple, list)) and len(batch) == 2:
        labels = batch[1]
    if labels is None:
        return torch.full((n,), -1, dtype=torch.long)
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if n % len(labels):
        raise ValueError(f"{len(labels)} labels for {n} clips")
    return labels.repeat_interleave(n // len(labels))


def _split_batch(batch: Any) -> tuple[Tensor, Any]:
    if isinstance(batch, dict):
        if batch.get("size", 1) == 0:
            return torch.empty(0), batch
        return batch["clips"], batch
    if isinstance(batch, (tuple, list)):
        return batch[0], batch
    return batch, batch


def _is_clips_and_labels(source: Any) -> bool:
    return (
        isinstance(source, tuple)
        and len(source) == 2
        and isinstance(source[0], Tensor)
        and source[0].dim() >= 4
        and torch.as_tensor(source[1]).dim() == 1
    )


def iter_clip_batches(
    source: ClipSource, batch_size: int = 64, crop_size: int | None = None
) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches ``(clips (B, C, T, H, W) float, labels (B,) long)`` from any clip source.

    Args:
        source: see the module docstring. A single tensor (or pair) is cut into batches of
            ``batch_size``; an iterable's own batches are kept.
        batch_size: batch size for tensor sources.
        crop_size: central crop side passed to :func:`as_model_clips`.

    Raises:
        ValueError: for a malformed batch or a label count that does not divide the clips.
    """
    if isinstance(source, Tensor) or _is_clips_and_labels(source):
        clips, labels = (source, None) if isinstance(source, Tensor) else source
        for start in range(0, len(clips), batch_size):
            part = clips[start : start + batch_size]
            yield (
                as_model_clips(part, crop_size),
                _labels_for((part, None if labels is None else labels[start : start + batch_size]), len(part)),
            )
        return
    for batch in source:
        raw, holder = _split_batch(batch)
        if raw.numel() == 0:
            continue
        clips = as_model_clips(raw, crop_size)
        yield clips, _labels_for(holder if holder is not raw else None, len(clips))


def to_device_clips(clips: Tensor, device: torch.device, channels_last: bool) -> Tensor:
    """Clips moved to ``device``; channels-last-3d on CPU when asked (faster oneDNN 3D convolutions)."""
    clips = clips.to(device, non_blocking=True)
    if channels_last and device.type == "cpu":
        clips = clips.contiguous(memory_format=torch.channels_last_3d)
    return clips


@torch.no_grad()
def extract_features(
    backbone: VideoBackbone,
    source: ClipSource,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    crop_size: int | None = None,
    channels_last: bool = True,
) -> tuple[Tensor, Tensor]:
    """Pooled features of every clip of ``source``, streamed in eval mode without gradients.

    Args:
        backbone: a video backbone (``forward_features`` ``(B, C, T, H, W)`` -> ``(B, D)``);
            moved to ``device``, run in eval mode, its training mode restored afterwards.
        source: clips (see the module docstring).
        device: where the backbone runs.
        batch_size: for tensor sources.
        crop_size: central crop side for frames of another size.
        channels_last: feed CPU clips in channels-last-3d layout (same values, faster).

    Returns:
        features ``(N, D)`` float32 on the CPU and labels ``(N,)`` long (-1 where unknown).

    Raises:
        ValueError: if ``source`` yields no clip.
    """
    device = torch.device(device)
    was_training = backbone.training
    backbone.to(device).eval()
    features, labels = [], []
    try:
        for clips, y in iter_clip_batches(source, batch_size, crop_size):
            features.append(backbone.forward_features(to_device_clips(clips, device, channels_last)).float().cpu())
            labels.append(y)
    finally:
        backbone.train(was_training)
    if not features:
        raise ValueError("the clip source yielded no clip")
    return torch.cat(features), torch.cat(labels)


def pairwise_distances(query: Tensor, bank: Tensor, metric: str = "cosine") -> Tensor:
    """Distances ``(Q, N)`` between query rows and bank rows.

    ``"cosine"``: ``1 - cos(q, b)`` (the benchmark paper's clip retrieval, §4 "Clip retrieval";
    zero vectors have cosine 0 to everything); ``"euclidean"``: L2 distance (the lightweight
    study's kNN, §4).

    Args:
        query: ``(Q, D)``.
        bank: ``(N, D)``.
        metric: "cosine" or "euclidean".

    Raises:
        ValueError: for an unknown metric or mismatched feature sizes.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    if query.dim() != 2 or bank.dim() != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError(f"need (Q, D) and (N, D) features, got {tuple(query.shape)} and {tuple(bank.shape)}")
    q, b = query.double(), bank.double()
    if metric == "cosine":
        q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
        b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return 1.0 - q @ b.T
    return torch.cdist(q, b)


def nearest_neighbours(
    query_feats: Tensor, bank_feats: Tensor, k: int = 5, metric: str = "cosine", exclude_self: bool = False
) -> tuple[Tensor, Tensor]:
    """The ``k`` bank rows closest to each query row, nearest first (ties: lower bank index first).

    Args:
        query_feats: ``(Q, D)``.
        bank_feats: ``(N, D)``.
        k: neighbours per query.
        metric: "cosine" or "euclidean" (see :func:`pairwise_distances`).
        exclude_self: the query set is the bank: skip bank row ``i`` for query ``i``.

    Returns:
        indices ``(Q, k)`` long into the bank and their distances ``(Q, k)`` float64.

    Raises:
        ValueError: if ``k`` is not in [1, available bank rows] or the metric is unknown.
    """
    dist = pairwise_distances(query_feats, bank_feats, metric)
    available = bank_feats.shape[0] - int(exclude_self)
    if not 1 <= k <= available:
        raise ValueError(f"k must be in [1, {available}], got {k}")
    if exclude_self:
        if query_feats.shape[0] > bank_feats.shape[0]:
            raise ValueError("exclude_self needs at most as many queries as bank rows")
        rows = torch.arange(query_feats.shape[0])
        dist[rows, rows] = float("inf")
    order = torch.sort(dist, dim=1, stable=True).indices[:, :k]
    return order, dist.gather(1, order)


def tsne_embedding(features: Tensor | np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (van der Maaten & Hinton, 2008) of features, seeded (scikit-learn, Barnes-Hut).

    The benchmark paper §4.5 shows t-SNE of pooled features under corruptions. PCA
    initialisation; the perplexity is lowered to ``(N - 1) / 3`` for small sets.

    Args:
        features: ``(N, D)``, N >= 4.
        seed: random state.
        perplexity: t-SNE perplexity (upper bound).

    Returns:
        embedding ``(N, 2)`` float64.

    Raises:
        ValueError: if there are fewer than 4 rows.
    """
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {len(x)}")
    perplexity = min(perplexity, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
