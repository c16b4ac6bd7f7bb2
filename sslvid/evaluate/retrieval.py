"""Retrieval with frozen pre-trained features (Xu et al. 2019, CVPR, VCOP §4.3).

The benchmark paper (§3.2 and §5.1, Figure 4) follows VCOP: features of the pre-trained
backbone, without finetuning, for ``train_clips`` clips of every training video (the gallery)
and ``test_clips`` clips of every test video (the queries); each query retrieves its nearest
gallery items by cosine similarity and scores a hit at k when any of the k nearest has its
class, for k in {1, 5, 10, 20, 50}. VCOP's released ``retrieve_clips.py`` averages each video's
10 clip features, for queries and gallery alike, before the search: that is the default here
(``EvalConfig.retrieval_level="video"``); ``"clip"`` searches single clips. A k larger than the
gallery is stored as NaN (not measurable), never as a 100% hit rate. Features come from the
feature cache, so a second retrieval, or a linear probe of the same backbone, extracts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
from torch import Tensor

from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.engine.distributed import barrier
from sslvid.engine.runner import Workspace, run_session
from sslvid.evaluate.common import (
    check_same_classes,
    describe_device,
    frozen_features,
    open_eval_split,
    protocol_card,
    result_rows,
)
from sslvid.evaluate.config import EvalConfig, paper_value
from sslvid.evaluate.features import ClipFeatures, FeatureCache, unreadable_videos
from sslvid.evaluate.metrics import RETRIEVAL_KS, hits_at_k, video_features
from sslvid.evaluate.models import source_info
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

log = logging.getLogger(__name__)

TASK = "retrieval"


def retrieval(
    config: EvalConfig,
    store: RunStore | None = None,
    results: ResultsStore | None = None,
    features: FeatureCache | None = None,
    ks: Sequence[int] = RETRIEVAL_KS,
    progress: bool = True,
    workspace: Workspace | None = None,
) -> pd.DataFrame:
    """Retrieval hit@k of the config's source backbone: its rows of the results table (``hit@k``, percent).

    Queries and gallery items are videos or clips (``config.retrieval_level``). Rows already in
    ``results`` are returned without work; new rows are upserted (NaN for a k above the gallery
    size). Under torchrun only rank 0 computes.

    Args:
        config: a retrieval config (``EvalConfig.for_profile(..., protocol="retrieval")``).
        store: the run store holding the pre-training run.
        results: the results table.
        features: the feature cache.
        ks: the k to report.
        progress: show progress bars.
        workspace: where to read and write instead of ``store``, ``results``, ``features`` and ``progress``.

    Raises:
        ValueError: if ``config.protocol`` is not "retrieval".
        FileNotFoundError: for a pre-training source missing from the store.
    """
    if config.protocol != "retrieval":
        raise ValueError(f"retrieval needs protocol='retrieval', got {config.protocol!r}")
    space = Workspace.of(store, results, features, progress, workspace)
    store, results, features = space.store, space.results, space.features or FeatureCache()
    key, metrics = config.config_hash(), [f"hit@{k}" for k in ks]
    if not results.has(key, TASK, metrics):
        with run_session(config) as session:
            if session.info.is_main:
                _measure(config, store, results, features, ks, session.device, space.progress)
            barrier(session.info)
    found = results.rows(key, TASK)
    return found[found["metric"].isin(metrics)].reset_index(drop=True)


def _measure(
    config: EvalConfig,
    store: RunStore,
    results: ResultsStore,
    features: FeatureCache,
    ks: Sequence[int],
    device,
    progress: bool,
) -> None:
    info = source_info(config, store)
    train, test = open_eval_split(config, config.train_split), open_eval_split(config, config.test_split)
    check_same_classes(train.index, test.index)
    gallery = frozen_features(config, train, config.train_clips, info, store, features, device, progress)
    queries = frozen_features(config, test, config.test_clips, info, store, features, device, progress)
    query_items, gallery_items = (
        retrieval_items(queries, config.retrieval_level),
        retrieval_items(gallery, config.retrieval_level),
    )
    hits = hits_at_k(*query_items, *gallery_items, ks)
    card = protocol_card(
        config,
        describe_device(device),
        gallery_clips=len(gallery),
        query_clips=len(queries),
        gallery_videos=gallery.num_videos,
        query_videos=queries.num_videos,
        gallery_items=len(gallery_items[0]),
        query_items=len(query_items[0]),
        not_measurable_k=[k for k in ks if k > len(gallery_items[0])],
        unreadable_videos=unreadable_videos((train.index, gallery), (test.index, queries)),
    )
    log.info("retrieval %s: %s", config.config_hash(), {k: round(v, 2) for k, v in hits.items()})
    results.upsert(result_rows(config, info, TASK, {f"hit@{k}": v for k, v in hits.items()}, card))


def retrieval_items(features: ClipFeatures, level: str) -> tuple[Tensor, Tensor]:
    """The features and labels searched at ``level``: (V, D), (V,) per video (clip features averaged,
    VCOP's protocol) or (N, D), (N,) per clip.

    Raises:
        ValueError: for an unknown level.
    """
    if level == "video":
        return video_features(features.features, features.labels, features.videos)
    if level == "clip":
        return features.features, features.labels
    raise ValueError(f"unknown retrieval level {level!r}; valid: video, clip")


def _frame_preprocessing() -> str:
    height, width = paper_value("retrieval", "cache_size")()
    return f"resize {height}x{width}, centre crop {paper_value('retrieval', 'crop_size')()}"


register_card(
    MethodCard(
        method="retrieval",
        kind="evaluate",
        title="Retrieval",
        paper="Xu et al. 2019 (VCOP), §4.3; benchmark study (CVPR submission #3061), §3.2, §5.1",
        code="xudejing/video-clip-order-prediction",
        summary="Frozen features of the pre-trained backbone: every test video queries the training videos by cosine "
        "similarity and scores a hit at k when one of its k nearest shares its class. VCOP's released "
        "retrieve_clips.py averages the 10 clip features of each video, for queries and gallery alike; "
        "ours does the same (retrieval_level='clip' searches single clips instead).",
        settings=(
            Setting("clips per training video", released=10, ours=paper_value("retrieval", "train_clips")),
            Setting("clips per test video", released=10, ours=paper_value("retrieval", "test_clips")),
            Setting("query and gallery item", released="video", ours=paper_value("retrieval", "retrieval_level")),
            Setting("frame preprocessing", released="resize 128x171, centre crop 112", ours=_frame_preprocessing),
            Setting(
                "clip feature",
                released="conv5 map, max-pooled 1x2x2, flattened",
                ours=lambda: "last block, global average pool",
                note="one feature for every backbone (forward_features), the one the linear probe reads; "
                "VCOP's flattened map is specific to its own networks' sizes",
            ),
            Setting(
                "similarity", paper="cosine", where="§5.1", released="cosine", ours=default_of(hits_at_k, "similarity")
            ),
            Setting(
                "k", paper=list(RETRIEVAL_KS), where="§3.2", released=[1, 5, 10, 20, 50], ours=lambda: RETRIEVAL_KS
            ),
            Setting(
                "k above the gallery",
                released="hit when the gallery holds the class",
                ours=lambda: "not measurable (NaN)",
                note="a top-k that is the whole gallery measures nothing; it would read 100%",
            ),
        ),
    )
)
