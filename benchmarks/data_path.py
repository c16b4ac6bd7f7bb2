"""Data path: clips per second and the share of step time spent waiting for the next batch.

Trains a few epochs through the engine's own trainer (clip cache -> persistent DataLoader
workers -> pinned uint8 batches -> side-stream copy -> augmentation on the device -> bf16 step)
and reports, over the epochs after the first:

* clips/s: network input clips per second (videos/s x clips per video);
* data wait: time blocked on the next batch / total step time (the target on a GPU: < 5% for
  R(2+1)D-18 at 16x112x112).

By default it reads a synthetic clip cache of random frames at the profile's cache size
(128x171 at paper scale), so it needs no dataset; ``--real`` reads the profile's dataset.

    python benchmarks/data_path.py                                   # CPU, micro scale
    python benchmarks/data_path.py --device cuda --profile paper     # GPU, 16x112x112, R(2+1)D-18
    python benchmarks/data_path.py --device cuda --profile paper --workers 4 8 12 --channels-last
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence

import pandas as pd

from sslvid.profiles import get_profile
from sslvid.scale.datapath_speed import measure_data_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--profile", default="micro", help="smoke, micro or paper")
    parser.add_argument("--task", default="rotnet")
    parser.add_argument("--backbone", default="r2plus1d_18")
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: the profile's bench_steps)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs; the first is warm-up and not counted")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=None,
        help="DataLoader workers, one measurement each (default: the profile's)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="videos per step (default: the profile's)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the step (default: the engine's)")
    parser.add_argument("--frames-per-video", type=int, default=64, help="frames of each synthetic video")
    parser.add_argument("--cache-root", default=None, help="keep the synthetic cache here (default: a temp folder)")
    parser.add_argument("--real", action="store_true", help="read the profile's dataset instead of random frames")
    parser.add_argument("--channels-last", action="store_true", help="channels_last_3d weights")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    parser.add_argument("--no-amp", action="store_true", help="float32 instead of bf16 autocast on CUDA")
    parser.add_argument("--target", type=float, default=0.05, help="largest acceptable data-wait fraction")
    parser.add_argument("--csv", default=None, help="also write the table here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    steps = args.steps or get_profile(args.profile).bench_steps
    rows = []
    with tempfile.TemporaryDirectory(prefix="sslvid-datapath-") as tmp:  # one synthetic cache for every run
        for workers in args.workers or [None]:
            result = measure_data_path(
                args.task,
                args.backbone,
                args.profile,
                args.device,
                steps=steps,
                epochs=args.epochs,
                workers=workers,
                batch_size=args.batch_size,
                synthetic=not args.real,
                frames_per_video=args.frames_per_video,
                cache_root=args.cache_root or tmp,
                threads=args.threads,
                channels_last=args.channels_last,
                torch_compile=args.compile,
                amp=not args.no_amp,
            )
            rows.append(result.as_dict())
            print(
                pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"), flush=True
            )
    table = pd.DataFrame(rows)
    best = table["data_wait_fraction"].min()
    verdict = "meets" if best < args.target else "misses"
    print(
        f"\n{args.task}/{args.backbone}, {args.profile} profile on {table['device'].iloc[0]}, best of "
        f"{len(table)}: {table['clips_per_s'].max():.1f} clips/s, data wait {best:.1%} of step time "
        f"({verdict} the {args.target:.0%} target)"
    )
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
