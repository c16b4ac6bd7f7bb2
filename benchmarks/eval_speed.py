"""Evaluation speed: linear probe and clip retrieval over 10,000 micro clips, features cached.

The issue asks for a linear probe and retrieval on a 10,000-clip micro test set in under a
minute on 2 cores once features are cached. The clips: ``digits-appearance`` (UCF101 layout,
split 1) at micro scale, 5 clips of each of the 1,000 training videos (the probe's training set
and the retrieval gallery) and 10 clips of each of the 500 test videos (the probe's test clips
and the queries): 10,000 clips of 8x32x32, through the public API (``EvalConfig`` with
``train_clips=5``, ``test_clips=10``) and a fresh run store, results table and feature cache in
a temporary folder (the decoded-clip cache is the project's, built once).

Three timings per backbone:

* **extract**: the frozen backbone's features of all 10,000 clips (``frozen_features``), once;
* **probe**: ``linear_probe`` with the features cached: training the linear layer through the
  engine's ``Trainer`` (the micro recipe: 30 epochs, batch 256, with checkpoints and logs),
  then scoring the test clips and writing the results table;
* **retrieval**: ``retrieval`` with the features cached: hit@{1,5,10,20,50} of 5,000 queries
  against 5,000 gallery clips, written to the results table.

    python benchmarks/eval_speed.py                                  # r2plus1d_18 and shufflenet3d
    python benchmarks/eval_speed.py --backbones shufflenet3d --threads 2 --csv out.csv
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from sslvid.evaluate import EvalConfig, FeatureCache, linear_probe, retrieval
from sslvid.evaluate.common import frozen_features, open_eval_split
from sslvid.evaluate.models import source_info
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

BACKBONES = ("r2plus1d_18", "shufflenet3d")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="*", default=list(BACKBONES))
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--dataset", default="digits-appearance")
    parser.add_argument("--train-clips", type=int, default=5, help="clips per training video")
    parser.add_argument("--test-clips", type=int, default=10, help="clips per test video")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers reading the clip cache")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    return parser


def measure(backbone: str, args: argparse.Namespace, folder: Path) -> dict:
    """Extraction, then probe and retrieval with the features cached, for one backbone."""
    common = dict(
        backbone=backbone,
        width=args.width,
        dataset=args.dataset,
        train_clips=args.train_clips,
        test_clips=args.test_clips,
        device="cpu",
        threads=args.threads,
        num_workers=args.workers,
    )
    store, features = RunStore(folder / "runs"), FeatureCache(folder / "features")
    results = ResultsStore(folder / "results.csv")
    linear = EvalConfig.for_profile("micro", protocol="linear", **common)
    nearest = EvalConfig.for_profile("micro", protocol="retrieval", **common)
    train, test = open_eval_split(linear, "train"), open_eval_split(linear, "test")  # clip caches, built once

    torch.set_num_threads(args.threads)
    info = source_info(linear, store)
    start = time.perf_counter()
    gallery = frozen_features(linear, train, args.train_clips, info, store, features, torch.device("cpu"))
    queries = frozen_features(linear, test, args.test_clips, info, store, features, torch.device("cpu"))
    extract = time.perf_counter() - start

    start = time.perf_counter()
    probe_rows = linear_probe(linear, store, results, features, progress=False)
    probe = time.perf_counter() - start
    start = time.perf_counter()
    retrieval_rows = retrieval(nearest, store, results, features, progress=False)
    nearest_s = time.perf_counter() - start
    if features.extractions != 2:
        raise RuntimeError(f"expected only the two timed extractions, got {features.extractions}")
    values = {r.metric: r.value for r in pd.concat([probe_rows, retrieval_rows]).itertuples()}
    return {
        "backbone": backbone,
        "width": args.width,
        "clips": len(gallery) + len(queries),
        "threads": args.threads,
        "extract_s": round(extract, 2),
        "extract_clips_per_s": round((len(gallery) + len(queries)) / extract),
        "probe_s": round(probe, 2),
        "retrieval_s": round(nearest_s, 2),
        "probe_plus_retrieval_s": round(probe + nearest_s, 2),
        "top1_video": round(values["top1_video"], 1),
        "hit@5": round(values["hit@5"], 1),
    }


def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for backbone in args.backbones:
        with tempfile.TemporaryDirectory(prefix="sslvid-eval-speed-") as folder:
            rows.append(measure(backbone, args, Path(folder)))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
