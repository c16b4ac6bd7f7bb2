"""Training-step speed of every micro 3D network on the CPU: fp32 against bf16 autocast,
``channels_last_3d`` weights and ``torch.compile``, ratios measured in one run.

One step = forward of a batch of clips through the backbone and a linear head, cross-entropy,
backward and an SGD update (what every training run of the book repeats). Each variant of a
network is timed over the same random batch after warm-up steps, interleaved round by round
(fp32, bf16, ... then again) so that the load of a shared machine falls on every variant alike;
the table gives the median clips per second and its ratio to fp32 of the same network.

Speed alone does not decide: each variant's gradients of one step are compared with fp32's
from the same initialisation and batch (``err``: ||g - g_fp32|| / ||g_fp32|| over all
parameters as one vector; bf16 rounding alone gives about 0.003-0.01). With torch 2.14.1 on a CPU, bf16 autocast gives
wrong Conv3d weight gradients (infinite, NaN or 100% off) wherever a feature map is 2 frames
long (kernel 3, padding 1): the third stage of the micro C3D, R3D-18 and R(2+1)D-18 at 8
frames. The engine therefore computes in float32 on a CPU (``Training.amp`` acts on CUDA only).

Variants:
* ``fp32``: float32, contiguous weights (the engine's default on a CPU).
* ``bf16``: ``torch.autocast("cpu", dtype=torch.bfloat16)`` around the forward (AMX / AVX-512
  bf16 matrix units where the CPU has them).
* ``cl``: Conv3d weights and the input clips in ``torch.channels_last_3d``.
* ``bf16+cl``: both.
* ``compile`` / ``compile+bf16``: ``torch.compile`` of the backbone's forward (inductor; the
  first steps compile, they are not timed; ``--no-compile`` leaves these out).

    python benchmarks/cpu_step_speed.py                        # every micro 3D network, micro shapes
    python benchmarks/cpu_step_speed.py --backbones r2plus1d_18 --width 1.0 --frames 16 --size 112 --batch 8

Measured (2026-12-06, 2 threads on a 2-core CPU with AMX, torch 2.14.1, micro shapes: batch 32,
8x32x32, width 0.25; table in ``benchmarks/results/cpu_step_speed.md``, written by ``--out``):

* ``bf16`` is wrong on every network (gradient error 0.3 to inf against fp32), whatever its
  speed (x0.83-1.63): the engine keeps float32 on a CPU.
* ``cl`` is faster on all six networks, x1.14 (C3D) to x1.57 (MobileNetV2), with gradients
  within 2e-5 (ShuffleNet, SqueezeNet) to 0.05 (MobileNetV2) of fp32's: a different float32
  summation order, not a lower precision.
* ``compile`` gives x0.91-1.30 once compiled, and compiling costs about a minute per network
  and variant on this CPU, longer than most micro runs: not worth it at micro scale.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from sslvid.backbones import create_backbone
from sslvid.engine.datapath import to_channels_last_3d

MICRO_3D = ("shufflenet3d", "squeezenet3d", "mobilenetv2_3d", "c3d", "r3d_18", "r2plus1d_18")
VARIANTS = ("fp32", "bf16", "cl", "bf16+cl", "compile", "compile+bf16")


def build_step(
    backbone: str, variant: str, width: float, batch: torch.Tensor, labels: torch.Tensor
) -> Callable[[], float]:
    """A closure running one training step of ``backbone`` under ``variant``; returns the loss."""
    torch.manual_seed(0)
    net = create_backbone(backbone, num_classes=10, width=width)
    head_in = batch
    if "cl" in variant.split("+"):
        to_channels_last_3d(net)
        head_in = batch.contiguous(memory_format=torch.channels_last_3d)
    if variant.startswith("compile"):
        net.forward = torch.compile(net.forward)  # type: ignore[method-assign]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    bf16 = "bf16" in variant
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with autocast:
            loss = loss_fn(net(head_in).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def gradient_error(backbone: str, variant: str, width: float, batch: torch.Tensor, labels: torch.Tensor) -> float:
    """Relative error ||g - g_fp32|| / ||g_fp32|| of ``variant``'s gradients (all parameters as one vector)
    against fp32's, one step, same initialisation and batch; NaN counts as infinite."""

    def grads(name: str) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        net = create_backbone(backbone, num_classes=10, width=width)
        clips = batch
        if "cl" in name.split("+"):
            to_channels_last_3d(net)
            clips = batch.contiguous(memory_format=torch.channels_last_3d)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if "bf16" in name else contextlib.nullcontext()
        with autocast:
            loss = nn.functional.cross_entropy(net(clips).float(), labels)
        loss.backward()
        return {k: p.grad.float() for k, p in net.named_parameters() if p.grad is not None}

    reference, other = grads("fp32"), grads(variant.replace("compile+", "").replace("compile", "fp32"))
    diff = torch.cat([(other[k] - g).flatten() for k, g in reference.items()])
    ref = torch.cat([g.flatten() for g in reference.values()])
    error = float(diff.norm() / ref.norm())
    return error if error == error else float("inf")


def measure(
    backbones: Sequence[str],
    variants: Sequence[str],
    width: float,
    frames: int,
    size: int,
    batch_size: int,
    steps: int,
    rounds: int,
    warmup: int,
) -> list[dict]:
    """Rows of (backbone, variant, clips/s median, ratio to fp32)."""
    rows = []
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(batch_size, 3, frames, size, size, generator=generator)
    labels = torch.randint(0, 10, (batch_size,), generator=generator)
    for backbone in backbones:
        steps_of = {}
        torch._dynamo.config.recompile_limit = 64  # each network and variant compiles its own forward
        for variant in variants:
            try:
                step = build_step(backbone, variant, width, batch, labels)
                for _ in range(warmup):
                    step()
                steps_of[variant] = step
            except Exception as error:  # a variant a network cannot run (e.g. compile without a compiler)
                print(f"{backbone} {variant}: failed ({type(error).__name__}: {error})"[:200])
        rates: dict[str, list[float]] = {v: [] for v in steps_of}
        for _ in range(rounds):
            for variant, step in steps_of.items():
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                rates[variant].append(steps * batch_size / (time.perf_counter() - start))
        base = statistics.median(rates["fp32"]) if rates.get("fp32") else float("nan")
        for variant, values in rates.items():
            rate = statistics.median(values)
            error = gradient_error(backbone, variant, width, batch, labels)
            rows.append(
                {
                    "backbone": backbone,
                    "variant": variant,
                    "clips_per_s": rate,
                    "ratio": rate / base,
                    "grad_error": error,
                }
            )
            print(
                f"{backbone:15s} {variant:13s} {rate:8.1f} clips/s  x{rate / base:.2f}  grad err {error:.2g}",
                flush=True,
            )
    return rows


def to_markdown(rows: list[dict], args: argparse.Namespace) -> str:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    lines = [
        f"Training step, batch {args.batch}, clips 3x{args.frames}x{args.size}x{args.size}, width {args.width}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; clips/s (median of {args.rounds} "
        f"rounds of {args.steps} steps), its ratio to fp32 of the same network (measured in one run) and "
        "the relative error of one step's gradients against fp32 (compiled variants: "
        "that of the same precision uncompiled).",
        "",
        "| backbone | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for backbone in dict.fromkeys(r["backbone"] for r in rows):
        cells = []
        for variant in variants:
            match = [r for r in rows if r["backbone"] == backbone and r["variant"] == variant]
            cells.append(
                f"{match[0]['clips_per_s']:.0f} (x{match[0]['ratio']:.2f}; err {match[0]['grad_error']:.1g})"
                if match
                else "-"
            )
        lines.append(f"| {backbone} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(MICRO_3D))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile variants")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="write the table as Markdown here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [v for v in args.variants if not (args.no_compile and v.startswith("compile"))]
    rows = measure(
        args.backbones, variants, args.width, args.frames, args.size, args.batch, args.steps, args.rounds, args.warmup
    )
    table = to_markdown(rows, args)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)


if __name__ == "__main__":
    main()
