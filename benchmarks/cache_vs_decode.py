"""Benchmark: reading micro clips from the decoded-clip cache vs decoding the video files.

Reads the same random clips (8 frames at stride 2, the micro clip) of the default data's
``digits-motion`` train split twice: decoded from the ``.avi`` files with ``read_frames`` and
resized to the cache's frame size (what a loader without the cache does), and read from the
clip cache. Prints clips/s for both and the ratio. The default data is generated into
``data/default`` and the cache prepared under ``data/cache`` when missing.

    python benchmarks/cache_vs_decode.py [--clips 300] [--backend auto]
"""

from __future__ import annotations

import argparse
import time

from sslvid.data.cache import prepare_cache
from sslvid.data.default import generate_default_data
from sslvid.data.layouts import load_index
from sslvid.data.throughput import cache_vs_decode
from sslvid.io import atomic_write_json
from sslvid.paths import cache_dir, default_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits-motion", help="default set (UCF101 layout)")
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--size", type=int, nargs=2, default=(40, 40), metavar=("H", "W"))
    parser.add_argument("--backend", default="auto", help="read_frames backend: auto, decord, pyav")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="optional JSON file for the figures")
    args = parser.parse_args()

    root = default_data_dir("micro")
    generate_default_data(root, seed=0)
    index = load_index("ucf101", root / args.dataset, split="train")
    start = time.perf_counter()
    cache = prepare_cache(index, cache_dir(), frame_size=tuple(args.size))
    prepare_s = time.perf_counter() - start
    speed = cache_vs_decode(
        cache, clips=args.clips, frames=args.frames, stride=args.stride, seed=args.seed, backend=args.backend
    )
    size = cache.frame_size
    decode, decode_resize, cached = speed["decode"], speed["decode + resize"], speed["cache"]
    figures = {
        "dataset": args.dataset,
        "videos": len(index),
        "clips": args.clips,
        "clip": f"{args.frames}x{args.stride}",
        "frame_size": list(size),
        "backend": args.backend,
        "prepare_s": round(prepare_s, 2),
        "decode_clips_per_s": round(decode, 1),
        "decode_resize_clips_per_s": round(decode_resize, 1),
        "cache_clips_per_s": round(cached, 1),
        "ratio_vs_decode_resize": round(cached / decode_resize, 1),
        "ratio_vs_decode": round(cached / decode, 1),
        "cache_mb": round(cache.total_frames * size[0] * size[1] * 3 / 1e6, 1),
    }
    print(
        f"{args.dataset} train: {len(index)} videos, cache {cache.path.name} "
        f"({figures['cache_mb']} MB; prepare/open {prepare_s:.2f} s)"
    )
    print(f"clip: {args.frames} frames at stride {args.stride}, {size[0]}x{size[1]}, {args.clips} random clips")
    print(f"decode ({args.backend})          {decode:10.1f} clips/s")
    print(f"decode + resize          {decode_resize:10.1f} clips/s")
    print(f"clip cache               {cached:10.1f} clips/s")
    print(f"cache / (decode+resize)  {figures['ratio_vs_decode_resize']:10.1f}x")
    if args.out:
        atomic_write_json(args.out, figures)


if __name__ == "__main__":
    main()
