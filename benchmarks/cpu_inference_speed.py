"""Frozen-feature speed of every micro 3D network on the CPU: fp32 against bf16 autocast, in one run.

What an evaluation repeats most (linear probe, retrieval, noise robustness, readouts): the pooled
features of a batch of clips through a frozen backbone in eval mode, no gradients. Each network is
timed over the same random batch, fp32 and bf16 interleaved round by round (so the load of a shared
machine falls on both alike), and the table gives the median seconds per batch, the ratio
fp32 / bf16 and the relative error of the bf16 features against fp32's (||f_bf16 - f_fp32|| /
||f_fp32|| over the batch; bf16 rounding alone gives about 0.005-0.01).

Unlike training (``benchmarks/cpu_step_speed.py``: bf16 autocast gives wrong Conv3d weight
gradients on a CPU, so the engine trains in float32 there), the forward pass under bf16 is right
on every network, so ``sslvid.evaluate.features.CPU_BF16_BACKBONES`` lists the networks whose
features it makes faster, and those extract their features under bf16 on a CPU.

    python benchmarks/cpu_inference_speed.py                     # every 3D network, micro shapes
    python benchmarks/cpu_inference_speed.py --backbones r2plus1d_18 --frames 16 --size 112 --batch 16 --width 1.0

Measured (2026-12-07, 2 threads on a 2-core CPU with AMX, torch 2.14.1, batch 128 of 8x32x32 clips,
width 0.25, 5 rounds; the table the script printed):

    backbone         fp32 s  bf16 s  ratio   error
    c3d               0.296   0.222   1.34  0.0043
    mobilenetv2_3d    0.137   0.066   2.06  0.0113
    r2plus1d_18       0.515   0.171   3.00  0.0065
    r3d_18            0.205   0.092   2.22  0.0053
    shufflenet3d      0.041   0.039   1.05  0.0089
    squeezenet3d      0.043   0.042   1.01  0.0070

The first four extract under bf16 on a CPU; ShuffleNet and SqueezeNet gain nothing and stay fp32.
R(2+1)D-18 at 16x32x32 (the clip-length experiment): 2.3x, error 0.005.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sslvid.backbones import create_backbone, list_backbones


def measure(name: str, args: argparse.Namespace) -> dict:
    """Median seconds per batch in fp32 and bf16, their ratio and the bf16 features' relative error."""
    torch.manual_seed(0)
    model = create_backbone(name, width=args.width).eval()
    x = torch.randn(args.batch, 3, args.frames, args.size, args.size)

    def fp32() -> torch.Tensor:
        return model.forward_features(x)

    def bf16() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.forward_features(x).float()

    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    with torch.no_grad():
        reference, low = fp32(), bf16()  # also the warm-up
        for _ in range(args.rounds):
            for label, run in (("fp32", fp32), ("bf16", bf16)):
                start = time.perf_counter()
                run()
                times[label].append(time.perf_counter() - start)
    f32, b16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
    error = ((low - reference).norm() / reference.norm()).item()
    return {"backbone": name, "fp32 s": f32, "bf16 s": b16, "ratio": f32 / b16, "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="*", default=list_backbones(kind="3d"))
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'backbone':15s} {'fp32 s':>7s} {'bf16 s':>7s} {'ratio':>6s} {'error':>7s}")
    for name in args.backbones:
        if name == "swin3d_t" and args.size < 64:
            continue  # its windows need a larger clip than the micro one
        row = measure(name, args)
        print(f"{name:15s} {row['fp32 s']:7.3f} {row['bf16 s']:7.3f} {row['ratio']:6.2f} {row['error']:7.4f}")


if __name__ == "__main__":
    main()
