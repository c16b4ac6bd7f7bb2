"""What an evaluation's frozen features encode: the class and the default data's nuisance factors.

The same frozen features as the linear probe (``frozen_features``, cached), one logistic-regression
probe per factor (``sslvid.analysis.factors``). The class probe here reads per-video mean features,
so it can differ by a point or two from the linear probe's clip-level head.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sslvid.analysis.factors import factor_probe, video_means
from sslvid.data.default import video_factors
from sslvid.evaluate.common import Split, frozen_features, labelled_videos, open_eval_split
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.features import ClipFeatures, FeatureCache
from sslvid.evaluate.models import source_info
from sslvid.store.runs import RunStore


def _per_video(split: Split, feats: ClipFeatures) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(V, D) mean features of the videos that have clips, and their class and factors."""
    present = np.unique(feats.videos.numpy())
    factors = {"class": split.index.labels(), **video_factors(split.index)}
    means = video_means(feats.features.float().numpy(), feats.videos.numpy())[present]
    return means, {name: values[present] for name, values in factors.items()}


def feature_readout(config: EvalConfig, store: RunStore, features: FeatureCache, seed: int = 0) -> pd.DataFrame:
    """Probe ``config``'s frozen source features for the class and each nuisance factor of the default data.

    Args:
        config: a linear-probe evaluation on a default set (its source, clips and label budget).
        store: the run store holding the source's pre-training.
        features: the feature cache (the linear probe's features are reused).
        seed: seed of the bootstrap intervals.

    Returns:
        ``factor_probe``'s table, the class first: ``factor, values, chance, accuracy, low, high``.

    Raises:
        ValueError: for an evaluation that is not a linear probe, or a dataset that is not generated
            default data (its factors are unknown).
    """
    if config.protocol != "linear" or config.train_clips is None or config.test_clips is None:
        raise ValueError(f"feature_readout reads a linear probe's features; got a {config.protocol} evaluation")
    info, device = source_info(config, store), torch.device("cpu")
    train = labelled_videos(config, open_eval_split(config, config.train_split))
    test = open_eval_split(config, config.test_split)
    train_feats = frozen_features(config, train, config.train_clips, info, store, features, device)
    test_feats = frozen_features(config, test, config.test_clips, info, store, features, device)
    train_x, train_factors = _per_video(train, train_feats)
    test_x, test_factors = _per_video(test, test_feats)
    return factor_probe(train_x, test_x, train_factors, test_factors, seed=seed)
