"""Cost of every backbone: parameters and GMACs at the paper's size, clips/s at a small scale.

Parameters and multiply-adds are counted on the meta device for full-width networks on the
benchmark paper's 16x112x112 clips (§3.2); training and inference throughput are measured on
this machine's CPU for networks of ``--width`` on ``--frames`` x ``--size`` x ``--size`` clips
(defaults: the "micro" profile).

    python benchmarks/backbone_cost.py                  # micro scale
    python benchmarks/backbone_cost.py --width 0.125 --frames 4 --steps 2 --csv cost.csv
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import pandas as pd
import torch

from sslvid.backbones.cost import PAPER_CLIP, backbone_table
from sslvid.profiles import get_profile


def build_parser() -> argparse.ArgumentParser:
    micro = get_profile("micro")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=micro.width, help="width multiplier for the timed networks")
    parser.add_argument("--frames", type=int, default=micro.frames, help="frames T of the timed clips")
    parser.add_argument("--size", type=int, default=micro.crop_size, help="height = width of the timed clips")
    parser.add_argument("--batch-size", type=int, default=micro.batch_size, help="clips per timed step")
    parser.add_argument("--steps", type=int, default=micro.bench_steps, help="timed steps (after 1 warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--names", nargs="*", default=None, help="backbones to cost (default: all)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    return parser


def cost_table(args: argparse.Namespace) -> pd.DataFrame:
    """Paper-size params and GMACs beside small-scale params, GMACs and measured clips/s."""
    paper = backbone_table(args.names, PAPER_CLIP, width=1.0, throughput=False)
    small = backbone_table(
        args.names,
        (3, args.frames, args.size, args.size),
        width=args.width,
        batch_size=args.batch_size,
        steps=args.steps,
    )
    table = paper[["name", "capacity", "params", "GMACs"]].rename(
        columns={"params": "params (M)", "GMACs": "GMACs 16x112x112"}
    )
    table["params (M)"] /= 1e6
    table["micro params (M)"] = small["params"] / 1e6
    table["micro GMACs"] = small["GMACs"]
    table["train clips/s"] = small["train_clips_per_s"]
    table["infer clips/s"] = small["infer_clips_per_s"]
    return table


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    table = cost_table(args)
    print(
        f"params and GMACs (multiply-adds per clip): full width at {'x'.join(map(str, PAPER_CLIP[1:]))}; "
        f"micro: width {args.width} at {args.frames}x{args.size}x{args.size}, batch {args.batch_size}, "
        f"{args.steps} timed steps, {torch.get_num_threads()} CPU threads"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
