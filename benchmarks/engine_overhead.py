"""Engine overhead: the engine's training throughput against the bare step on the same batches.

For every pretext task on one small (``shufflenet3d``) and one medium (``r2plus1d_18``) backbone
at micro scale, two timings of the same optimiser steps on the same batches:

* **bare**: forward + backward + optimiser step (+ the task's ``after_step``) over the epoch's
  batches, collated beforehand and held in memory: the cost of the model alone;
* **engine**: the epochs of the trainer that ``sslvid.engine.pretrain`` runs
  (``build_trainer(config).fit()``): the memmapped clip cache read through persistent
  DataLoader workers that stream across epochs, the failure tracker, learning-rate schedule,
  metric sums and log bookkeeping. Its time is each epoch's ``seconds`` in the log;
  ``data s/step`` is the part spent waiting for batches.

The bare epochs run before and after the engine's (a shared machine's load drifts); the first
engine epoch (worker start-up) is not compared, and each side keeps its best epoch.
``engine / bare`` is the engine's throughput as a share of the bare loop's (the issue asks
for at least 90%).

    python benchmarks/engine_overhead.py                         # every task, both backbones
    python benchmarks/engine_overhead.py --tasks rotnet vcop --steps 4 --threads 1 --csv out.csv
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from sslvid.data.dataset import VideoClipDataset, collate_clips
from sslvid.engine import PretrainConfig, build_index, build_task, build_trainer, make_optimizer
from sslvid.engine.config import task_registry
from sslvid.engine.loading import make_loader, set_loader_epoch
from sslvid.engine.pretrain import build_source
from sslvid.profiles import get_profile
from sslvid.seeding import seed_everything

BACKBONES = ("shufflenet3d", "r2plus1d_18")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", default=None, help="pretext tasks (default: every registered one)")
    parser.add_argument("--backbones", nargs="*", default=list(BACKBONES))
    parser.add_argument("--profile", default="micro")
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: the profile's bench_steps)")
    parser.add_argument("--epochs", type=int, default=3, help="engine epochs; the first is not compared")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the engine")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--dataset", default="digits-appearance-pool")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    return parser


def bench_config(task: str, backbone: str, args: argparse.Namespace) -> PretrainConfig:
    """The profile's config of ``task`` on ``backbone`` over just enough videos for ``steps`` batches."""
    probe = PretrainConfig.for_profile(args.profile, task=task, backbone=backbone, dataset=args.dataset)
    per_class = math.ceil(args.steps * probe.batch_size / build_index(probe).num_classes)
    return probe.replace(subset_per_class=per_class, epochs=args.epochs, num_workers=args.workers, device="cpu")


class BareLoop:
    """The model alone: a second copy of the task (same seed) stepped over pre-collated batches."""

    def __init__(self, config: PretrainConfig) -> None:
        index = build_index(config)
        seed_everything(config.seed)
        self.task = build_task(config).train()
        dataset = VideoClipDataset(
            index, self.task.clip_sampler(), source=build_source(index, config), seed=config.seed
        )
        self.loader = make_loader(dataset, config.batch_size, collate_fn=collate_clips, seed=config.seed)
        self.optimizer = make_optimizer(
            config.optimizer, self.task, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum
        )

    def batches(self, epoch: int) -> list[dict[str, Any]]:
        """The engine's batches of ``epoch``, collated in this process."""
        set_loader_epoch(self.loader, epoch)
        return [{k: v for k, v in b.items() if k not in ("failed", "size")} for b in self.loader]

    def step(self, batch: dict[str, Any]) -> None:
        output = self.task(batch)
        self.optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        self.optimizer.step()
        self.task.after_step()

    def seconds(self, epoch: int) -> tuple[float, int]:
        """Time of the steps over ``epoch``'s batches (collation not timed), and their number."""
        batches = self.batches(epoch)
        start = time.perf_counter()
        for batch in batches:
            self.step(batch)
        return time.perf_counter() - start, len(batches)


def measure(task: str, backbone: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bare epochs, the engine's epochs in one ``fit``, bare epochs again; best of each after epoch 1."""
    config = bench_config(task, backbone, args)
    bare = BareLoop(config)
    bare.step(bare.batches(0)[0])  # warm-up
    timed = range(2, args.epochs + 1)
    bare_times = [bare.seconds(epoch) for epoch in timed]
    trainer = build_trainer(config, progress=False)
    log = trainer.fit()
    bare_times += [bare.seconds(epoch) for epoch in timed]
    steps = bare_times[0][1]
    if int(log["step"].iloc[0]) != steps:
        raise RuntimeError(f"{task}/{backbone}: engine and bare loop took different numbers of steps")
    best = log.iloc[1:].loc[log["seconds"].iloc[1:].idxmin()]
    bare_best = min(seconds for seconds, _ in bare_times)
    return {
        "task": task,
        "backbone": backbone,
        "steps": steps,
        "batch": config.batch_size,
        "bare s/step": bare_best / steps,
        "engine s/step": best["seconds"] / steps,
        "data s/step": best["data_seconds"] / steps,
        "engine / bare": bare_best / best["seconds"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.epochs < 2:
        raise SystemExit("--epochs must be >= 2 (the first epoch is not compared)")
    args.steps = args.steps or get_profile(args.profile).bench_steps
    tasks = args.tasks or task_registry().names()
    rows = []
    for backbone in args.backbones:
        for task in tasks:
            rows.append(measure(task, backbone, args))
            print(
                pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"), flush=True
            )
    table = pd.DataFrame(rows)
    print(
        f"\nengine throughput / bare throughput: {args.profile} profile, {args.steps} steps per epoch, "
        f"{args.workers} workers, {torch.get_num_threads()} threads"
    )
    print(table.to_string(index=False, float_format="%.3f"))
    print(f"\nworst: {table['engine / bare'].min():.1%}  median: {table['engine / bare'].median():.1%}")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
