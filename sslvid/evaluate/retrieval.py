"""Clip retrieval with frozen pre-trained features (Xu et al. 2019, CVPR, VCOP §4.3).

The benchmark paper (000_..., §3.2 and §5.1, Figure 4) follows VCOP: features of the
pre-trained backbone, without finetuning, for ``train_clips`` clips of every training video
(the gallery) and ``test_clips`` clips of every test video (the queries); each query retrieves
its nearest gallery clips by cosine similarity and scores a hit at k when any of the k nearest
has its class, for k in {1, 5, 10, 20, 50}. Features come from the feature cache, so a second
retrieval, or a linear probe of the same backbone, extracts nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from sslvid.engine.distributed import barrier, distributed_session, env_info, resolve_device
from sslvid.engine.pretrain import run_numerics
from sslvid.evaluate.common import (
    check_same_classes,
    describe_device,
    frozen_features,
    open_eval_split,
    protocol_card,
    result_rows,
    unreadable_videos,
)
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.features import FeatureCache
from sslvid.evaluate.metrics import RETRIEVAL_KS, hits_at_k
from sslvid.evaluate.models import source_info
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

log = logging.getLogger(__name__)

TASK = "retrieval"


def retrieval(config: EvalConfig, store: RunStore | None = None, results: ResultsStore | None = None,
              features: FeatureCache | None = None, ks: Sequence[int] = RETRIEVAL_KS,
              progress: bool = True) -> pd.DataFrame:
    """Clip retrieval hit@k of the config's source backbone: its rows of the results table (``hit@k``, percent).

    Rows already in ``results`` are returned without work; new rows are upserted. Under
    torchrun only rank 0 computes.

    Args:
        config: a retrieval config (``EvalConfig.for_profile(..., protocol="retrieval")``).
        store: the run store holding the pre-training run.
        results: the results table.
        features: the feature cache.
        ks: the k to report.
        progress: show progress bars.

    Raises:
        ValueError: if ``config.protocol`` is not "retrieval", or a k exceeds the gallery.
        FileNotFoundError: for a pre-training source missing from the store.
    """
    if config.protocol != "retrieval":
        raise ValueError(f"retrieval needs protocol='retrieval', got {config.protocol!r}")
    store, results, features = store or RunStore(), results or ResultsStore(), features or FeatureCache()
    key, metrics = config.config_hash(), [f"hit@{k}" for k in ks]
    if not results.has(key, TASK, metrics):
        info = env_info()
        device = resolve_device(config.device, info)
        with distributed_session(device, info) as info:
            if info.is_main:
                with run_numerics(config, device, info):
                    _measure(config, store, results, features, ks, device, progress)
            barrier(info)
    found = results.rows(key, TASK)
    return found[found["metric"].isin(metrics)].reset_index(drop=True)


def _measure(config: EvalConfig, store: RunStore, results: ResultsStore, features: FeatureCache,
             ks: Sequence[int], device, progress: bool) -> None:
    info = source_info(config, store)
    train, test = open_eval_split(config, config.train_split), open_eval_split(config, config.test_split)
    check_same_classes(train.index, test.index)
    gallery = frozen_features(config, train, config.train_clips, info, store, features, device, progress)
    queries = frozen_features(config, test, config.test_clips, info, store, features, device, progress)
    hits = hits_at_k(queries.features, queries.labels, gallery.features, gallery.labels, ks)
    card = protocol_card(config, describe_device(device), gallery_clips=len(gallery), query_clips=len(queries),
                         gallery_videos=gallery.num_videos, query_videos=queries.num_videos,
                         unreadable_videos=unreadable_videos((train.index, gallery), (test.index, queries)))
    log.info("retrieval %s: %s", config.config_hash(), {k: round(v, 2) for k, v in hits.items()})
    results.upsert(result_rows(config, info, TASK, {f"hit@{k}": v for k, v in hits.items()}, card))
