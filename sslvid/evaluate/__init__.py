"""Downstream evaluation (floor 4 of the house plan): it drives the engine and fills the results table.

* ``EvalConfig``: one evaluation (source run or scratch, protocol, dataset, numbers), hashed.
* ``evaluate`` / ``finetune`` / ``linear_probe``: action recognition, clip- and video-level top-1
  (benchmark paper §3.2, §4.1, §5.1); ``evaluate_folds`` over every official split.
* ``retrieval``: clip retrieval hit@k of frozen features (Xu et al. 2019 §4.3; benchmark §5.1).
* ``noise_robustness``: accuracy under four noises (benchmark §4.5, constants of its reference,
  Schiappa et al. 2022; ImageNet-C's as ``IMAGENET_C_NOISES``), ``noise_table``.
* ``corruptions``: the corruption registry; ``features``: the feature cache.

Every function writes to ``sslvid.store.results.ResultsStore`` and returns its rows as a DataFrame.
"""

from sslvid.evaluate.classify import evaluate, evaluate_folds, finetune, linear_probe, trained_classifier
from sslvid.evaluate.config import PROTOCOLS, SCRATCH, EvalConfig
from sslvid.evaluate.corruptions import (
    CORRUPTIONS,
    IMAGENET_C_NOISES,
    NOISES,
    SEVERITIES,
    corrupt,
    create_corruption,
    list_corruptions,
)
from sslvid.evaluate.features import ClipFeatures, FeatureCache
from sslvid.evaluate.metrics import RETRIEVAL_KS, clip_top1, hits_at_k, video_top1
from sslvid.evaluate.retrieval import retrieval
from sslvid.evaluate.robustness import noise_robustness, noise_table

__all__ = [
    "CORRUPTIONS",
    "IMAGENET_C_NOISES",
    "NOISES",
    "PROTOCOLS",
    "RETRIEVAL_KS",
    "SCRATCH",
    "SEVERITIES",
    "ClipFeatures",
    "EvalConfig",
    "FeatureCache",
    "clip_top1",
    "corrupt",
    "create_corruption",
    "evaluate",
    "evaluate_folds",
    "finetune",
    "hits_at_k",
    "linear_probe",
    "list_corruptions",
    "noise_robustness",
    "noise_table",
    "retrieval",
    "trained_classifier",
    "video_top1",
]
