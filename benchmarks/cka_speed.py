"""How long the minibatch CKA map of two micro R(2+1)D networks takes over 2,000 clips.

Target (issue): under 1 minute on 2 CPU cores for ``create_backbone("r2plus1d_18", width=0.25)``
on 8x32x32 clips, every block of A against every block of B (5 x 5 map). The clips are random
tensors made up front, so the time is the two networks' forward passes plus the CKA work;
the script also times the forward passes alone, to show what CKA adds. The machine may be
shared: the 1-minute load average is printed before and after.

    python benchmarks/cka_speed.py [--clips 2000] [--batch-size 128] [--threads 2] [--dtype float64] [--repeats 3]

Each repeat prints its time; the summary gives the median and the fastest (the least
disturbed by other processes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from sslvid.analysis.cka import cka_map
from sslvid.analysis.embedding import to_device_clips
from sslvid.backbones import create_backbone


def forward_only(models: list[torch.nn.Module], clips: torch.Tensor, batch_size: int) -> float:
    """Seconds for both networks' ``forward_intermediates`` over the clips, no CKA."""
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(clips), batch_size):
            x = to_device_clips(clips[i : i + batch_size], torch.device("cpu"), channels_last=True)
            for m in models:
                m.forward_intermediates(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    a = create_backbone("r2plus1d_18", width=0.25).eval()
    b = create_backbone("r2plus1d_18", width=0.25).eval()
    clips = torch.randn(args.clips, 3, 8, 32, 32)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {args.threads}")
    cka_map(a, clips[: args.batch_size], b, batch_size=args.batch_size)  # warm-up (oneDNN kernels)
    totals, forwards = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        result = cka_map(a, clips, b, batch_size=args.batch_size, dtype=getattr(torch, args.dtype))
        totals.append(time.perf_counter() - start)
        forwards.append(forward_only([a, b], clips, args.batch_size))
        print(
            f"repeat {repeat}: CKA map {result.matrix.shape} over {result.examples} clips in {result.batches} "
            f"batches of {args.batch_size}: {totals[-1]:.1f} s (forward passes alone {forwards[-1]:.1f} s); "
            f"load {os.getloadavg()[0]:.2f}"
        )
    print(
        f"median {statistics.median(totals):.1f} s, fastest {min(totals):.1f} s "
        f"(forward alone: median {statistics.median(forwards):.1f} s)"
    )
    print("diagonal (block i of A vs block i of B):", " ".join(f"{v:.3f}" for v in result.matrix.diagonal()))


if __name__ == "__main__":
    main()
