"""Nearest training clips of test clips in a frozen backbone's feature space, and their pictures.

The benchmark paper's clip retrieval (§5.1, Figure 4) and the lightweight study's kNN pictures
(Sonawane et al. §5.2): features of every clip of the train split (the gallery) and of the test
split (the queries) come from the evaluation's feature cache (the linear probe and retrieval
fill it), so a search after a probe extracts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from sslvid.analysis.embedding import nearest_neighbours
from sslvid.analysis.figures import neighbour_gallery
from sslvid.data.dataset import VideoClipDataset
from sslvid.evaluate.common import Split, eval_sampler, frozen_features, open_eval_split
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.features import ClipFeatures, FeatureCache
from sslvid.evaluate.models import source_info
from sslvid.store.runs import RunStore


@dataclass
class NeighbourSearch:
    """The ``k`` nearest training clips of every test clip in one model's feature space.

    Args:
        config: the evaluation whose source backbone gives the features.
        train, test: the splits (gallery and queries).
        train_features, test_features: their clip features (N, D), labels and videos.
        indices: (Q, k) gallery rows, nearest first. distances: (Q, k).
    """

    config: EvalConfig
    train: Split
    test: Split
    train_features: ClipFeatures
    test_features: ClipFeatures
    indices: Tensor
    distances: Tensor

    def purity(self) -> float:
        """Share of neighbours (all test clips, all k) of the query's class, percent."""
        same = self.train_features.labels[self.indices] == self.test_features.labels[:, None]
        return float(same.float().mean() * 100)

    def knn_top1(self) -> float:
        """Top-1 of a majority vote of the k neighbours (ties: the nearer class), percent."""
        votes = self.train_features.labels[self.indices]
        predicted = torch.tensor([majority_vote(row.tolist()) for row in votes])
        return float((predicted == self.test_features.labels).float().mean() * 100)


def majority_vote(labels: list[int]) -> int:
    """The most frequent label; among equals, the one that appears first (the nearest)."""
    counts = {label: labels.count(label) for label in labels}
    return max(counts, key=lambda label: (counts[label], -labels.index(label)))


def search_neighbours(
    config: EvalConfig, store: RunStore, features: FeatureCache, k: int = 5, metric: str = "euclidean"
) -> NeighbourSearch:
    """Features of the config's train and test splits (cached) and each test clip's ``k`` nearest training clips.

    Raises:
        ValueError: for a ``k`` larger than the gallery, or an unknown metric.
        FileNotFoundError: for a pre-training source missing from ``store``.
    """
    info = source_info(config, store)
    device = torch.device("cpu")
    train, test = open_eval_split(config, "train"), open_eval_split(config, "test")
    train_feats = frozen_features(config, train, config.train_clips, info, store, features, device)
    test_feats = frozen_features(config, test, config.test_clips, info, store, features, device)
    indices, distances = nearest_neighbours(test_feats.features, train_feats.features, k=k, metric=metric)
    return NeighbourSearch(config, train, test, train_feats, test_feats, indices, distances)


def clip_frames(split: Split, config: EvalConfig, features: ClipFeatures, row: int, clips: int) -> np.ndarray:
    """uint8 frames ``(T, H, W, 3)`` of feature row ``row`` (clip ``row`` of the video-major features)."""
    video = int(features.videos[row])
    first = int((features.videos == video).nonzero()[0, 0])
    dataset = VideoClipDataset(split.index, eval_sampler(config, clips), source=split.source, seed=0)
    return dataset[video]["clips"][row - first].numpy()


def neighbour_figure(
    search: NeighbourSearch, query: int, title: str, frames: int = 1, metric: str = "Euclidean"
) -> Figure:
    """Test clip ``query`` (a feature row) beside its nearest training clips, labels coloured by match."""
    classes = search.test.index.classes
    config = search.config
    neighbours = [
        clip_frames(search.train, config, search.train_features, int(r), config.train_clips)
        for r in search.indices[query]
    ]
    labels = [classes[int(search.train_features.labels[r])] for r in search.indices[query]]
    return neighbour_gallery(
        clip_frames(search.test, config, search.test_features, query, config.test_clips),
        neighbours,
        classes[int(search.test_features.labels[query])],
        labels,
        distances=search.distances[query].tolist(),
        frames=frames,
        metric=metric,
        title=title,
    )
