"""What frozen features encode: linear probes of the class and of nuisance factors of the videos.

A pre-trained network that loses to random initialisation on the class can have learned nothing,
or something else. Probing the same frozen features for factors that have nothing to do with the
class (the default data's background pattern and hues, the digit's direction of motion:
``sslvid.data.default.video_factors``) tells which, in the spirit of the probing analyses of
Alain & Bengio (2017, Understanding intermediate layers using linear classifier probes) and of
the shortcut studies of Geirhos et al. (2020, Shortcut learning in deep neural networks, §2):
features that read a nuisance factor better than random initialisation's but the class worse
learned the nuisance.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

FACTOR_PROBE_C = 0.1
"""Inverse L2 strength of the factor probes' logistic regressions (features standardised first)."""


def video_means(features: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """Mean feature of each video's clips.

    Args:
        features: (N, D) clip features.
        videos: (N,) position of each clip's video, 0..V-1.

    Returns:
        (V, D) float64; a video without clips gets zeros.
    """
    features, videos = np.asarray(features, dtype=np.float64), np.asarray(videos, dtype=np.int64)
    count = np.bincount(videos, minlength=int(videos.max()) + 1).astype(np.float64)
    sums = np.zeros((len(count), features.shape[1]))
    np.add.at(sums, videos, features)
    return sums / np.maximum(count, 1)[:, None]


def factor_probe(
    train: np.ndarray,
    test: np.ndarray,
    train_factors: Mapping[str, np.ndarray],
    test_factors: Mapping[str, np.ndarray],
    seed: int = 0,
    resamples: int = 1000,
) -> pd.DataFrame:
    """Test accuracy of one linear probe per factor on frozen per-video features.

    Each probe is a multinomial logistic regression (L2, ``FACTOR_PROBE_C``) on standardised
    features, fit on ``train`` and scored on ``test``; its 95% interval is a percentile
    bootstrap over the test videos.

    Args:
        train, test: (V_train, D) and (V_test, D) per-video features (``video_means``).
        train_factors, test_factors: factor name -> (V,) int class of each video, the same names.
        seed: seed of the bootstrap.
        resamples: bootstrap resamples.

    Returns:
        One row per factor: ``factor, values, chance, accuracy, low, high`` (fractions);
        ``chance`` is the share of the most common test value (what a constant guess scores).

    Raises:
        ValueError: when the factors' lengths do not match the features' or the names differ.
    """
    if set(train_factors) != set(test_factors):
        raise ValueError(f"train and test factors differ: {sorted(train_factors)} vs {sorted(test_factors)}")
    scaler = StandardScaler().fit(train)
    train, test = scaler.transform(train), scaler.transform(test)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(test), (resamples, len(test)))
    rows = []
    for name, y_train in train_factors.items():
        y_train, y_test = np.asarray(y_train), np.asarray(test_factors[name])
        if len(y_train) != len(train) or len(y_test) != len(test):
            raise ValueError(
                f"factor {name!r}: {len(y_train)}/{len(y_test)} labels for {len(train)}/{len(test)} videos"
            )
        probe = LogisticRegression(C=FACTOR_PROBE_C, max_iter=2000).fit(train, y_train)
        hits = (probe.predict(test) == y_test).astype(np.float64)
        low, high = np.percentile(hits[draws].mean(axis=1), [2.5, 97.5])
        chance = np.bincount(y_test - y_test.min()).max() / len(y_test)
        rows.append(
            {
                "factor": name,
                "values": len(np.unique(y_train)),
                "chance": chance,
                "accuracy": hits.mean(),
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows)
