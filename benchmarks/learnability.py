"""Can a micro network learn the embedded default data from scratch? Train/test top-1 per epoch.

Trains a backbone from random initialisation on the labelled default sets (digits-appearance:
label = digit; digits-motion: label = how the digit moves) through the real data path (the
sets' files -> ``prepare_cache`` at the micro cache size -> ``VideoClipDataset`` with the micro
clip sampler -> the finetuning augmentation of ``sslvid.evaluate.models.Finetune``: a random
resized crop (area 0.5-1) to the micro crop size, horizontal flips except on digits-motion,
whose labels a flip changes), with Adam, and prints per epoch the running train top-1 (train
mode, augmented clips), the test top-1 (one centre clip per test video, centre crop, eval
mode) and the seconds the epoch took.

The single-frame control (``--single-frame``, on by default for digits-motion) trains the same
network on the same clips with every frame replaced by the clip's middle frame: it must stay
near chance on the motion set, where one frame shows the digit but not how it moves. Fades are
the exception: a faint digit says "fading", though not in or out, so the ceiling of a perfect
single-frame classifier is about 1/10 on the ten moving classes and 1/2 on the two fades,
(10 x 1/10 + 2 x 1/2) / 12 = 17%; the per-class test top-1 printed after the last epoch shows
where a control's hits are.

    python benchmarks/learnability.py                           # data/default, r3d_18 x0.25, 5 epochs
    python benchmarks/learnability.py --backbone c3d --epochs 3
    python benchmarks/learnability.py --root /tmp/variant --scale 0.5   # generate a copy there first
    python benchmarks/learnability.py --sets digits-motion --no-single-frame

``--root`` reads (and, with ``--scale``, first generates) the default data in another folder,
with its clip cache below it, so a variant of the generator can be tried without touching
``data/default`` or ``data/cache``.

Measured (generator version 2, full data, r3d_18 x0.25, Adam 1e-3, batch 32, one thread on a
shared 2-core CPU, about 9 s per epoch on digits-appearance and 11 s on digits-motion), test
top-1 after epochs 1-10: digits-appearance 18 26 30 33 33 44 60 49 61 67% (with
``--flip off``: 13 18 26 41 45 51 70 56 73 72%); digits-motion 20 30 53 74 68 84 87 87 91 73%;
single-frame control 15-18% throughout (FadeIn/FadeOut found as a pair). Generator version 1
(28-pixel digits over high-contrast textures): chance on both sets after 5 epochs.

The small network (``shufflenet3d``) at the micro clip size: with Adam 3e-3, batch 16, 15
epochs on digits-appearance, width 0.25 at crop 32 reached 19.6% and width 1.0 at crop 32
49.4%. Its stem turns an 8x32x32 clip into a 4x8x8 map at once and its last stage sees
1x1x1, so at crop 32 the digit is lost before the network can learn it. A larger input
helps more than width: width 0.5 at ``--crop 48 --cache-size 56`` (Adam 3e-3, batch 16,
12 epochs, on a loaded machine, about 18 s per epoch) reached 42-50% over its last epochs
and was still climbing. None of these reaches the 70% a sane baseline needs within 15
epochs; 60 epochs at crop 32 do (below).

The medium network passes the 70% a sane baseline needs on both sets: R(2+1)D-18 x0.25, Adam
3e-3, batch 16, 15 epochs, from scratch reaches 93.4% on digits-appearance (measured when the
micro study's failure was reported) and 94.2% on digits-motion (2026-12-06; test top-1 after
epochs 1-15: 14 25 27 43 52 44 75 73 82 82 89 81 89 93 94%; every class at 100% but the two
circles, 86% and 44%), about 13 s per epoch on an idle machine.

The small networks learn slowly, not wrongly (2026-12-06, digits-appearance, batch 16 unless
said, test top-1 at the last epoch run, a loaded 2-core CPU). ShuffleNet: width 1.0, Adam 3e-3,
9 epochs: 11 11 14 17 16 19 21 21 26%, its training loss falling from 4.5 to 2.4 (above the
2.30 of a uniform guess until epoch 9); Adam 1e-3 is slower (14% after 8 epochs); width 0.5 at
crop 56 (cache 64), Adam 1e-3: 23% after 8; width 0.5, Adam 3e-3 with one epoch of linear
warm-up and cosine decay: 17% after 11, at batch 64: 18% after 10 (so neither the first steps
nor the batch-norm statistics of the 1x1x1 last stage explain it); SGD 0.1 (momentum 0.9,
cosine) diverges (loss 36.8 in epoch 1). MobileNetV2 3D, width 0.5, Adam 1e-3: 11% after 3
epochs. Yet ShuffleNet at width 1.0 fits 64 random clips with random labels to 100% in 60
Adam steps, and every run above still climbs at its last epoch: capacity is there, steps are
not. Given them, the small network passes the 70% baseline at the micro clip size: ShuffleNet
width 0.5, crop 32, Adam 3e-3, batch 16, one epoch of warm-up and cosine decay over 60 epochs
(3,780 steps, about 6.7 s per epoch, 7 min), test top-1 after epochs 5, 10, ..., 60: 15 19 34
52 71 72 79 82 84 86 86 85%; it stays under 23% for 12 epochs, then climbs, and passes 70%
at epoch 25 (every digit between 62% and 98% at the end). R(2+1)D needs 15 epochs for 93%:
the depthwise-separable network needs about four times the steps, not another recipe.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from sslvid.backbones import create_backbone
from sslvid.data.cache import prepare_cache
from sslvid.data.dataset import VideoClipDataset, collate_clips
from sslvid.data.default import DEFAULT_SETS, generate_default_data
from sslvid.data.layouts import load_index
from sslvid.data.records import VideoIndex
from sslvid.data.sampling import ClipSampler
from sslvid.data.sources import open_split
from sslvid.data.transforms import (
    center_crop,
    horizontal_flip,
    normalize,
    random_resized_crop,
    to_float_clips,
    to_unit_clips,
)
from sslvid.evaluate.config import NO_FLIP_DATASETS
from sslvid.profiles import get_profile
from sslvid.seeding import seed_everything

LABELLED = ("digits-appearance", "digits-motion")


def build_parser() -> argparse.ArgumentParser:
    micro = get_profile("micro")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="r3d_18", help="registered backbone name (r3d_18, c3d, ...)")
    parser.add_argument("--width", type=float, default=micro.width, help="width multiplier")
    parser.add_argument("--sets", nargs="+", default=list(LABELLED), choices=LABELLED, help="labelled sets to train on")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=micro.batch_size)
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    parser.add_argument(
        "--optimizer", choices=("adam", "sgd"), default="adam", help="Adam, or SGD (momentum 0.9, weight decay 5e-4)"
    )
    parser.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to zero over the epochs")
    parser.add_argument("--warmup", type=float, default=0.0, help="epochs of linear learning-rate warm-up")
    parser.add_argument("--frames", type=int, default=micro.frames, help="frames per clip T")
    parser.add_argument("--stride", type=int, default=2, help="frame stride within a clip")
    parser.add_argument("--crop", type=int, default=micro.crop_size, help="network input side")
    parser.add_argument("--cache-size", type=int, default=micro.cache_size[0], help="side of the cached frames")
    parser.add_argument("--crop-scale", type=float, nargs=2, default=(0.5, 1.0), help="train crop area range")
    parser.add_argument(
        "--flip",
        choices=("auto", "on", "off"),
        default="auto",
        help="random horizontal flips while training (auto: as finetuning, off on digits-motion)",
    )
    parser.add_argument(
        "--single-frame",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the single-frame control on digits-motion",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder of the default data to use (default: data/default via open_split)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="with --root: generate the default data there at this scale first (if absent)",
    )
    parser.add_argument(
        "--cache-root",
        type=Path,
        default=None,
        help="clip cache folder (default: data/cache, or <root>/cache with --root)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    return parser


def open_index(args: argparse.Namespace, name: str, split: str) -> VideoIndex:
    """The split of a default set: ``open_split`` (data/default), or the copy under ``--root``."""
    if args.root is None:
        return open_split(name, split)
    return load_index(DEFAULT_SETS[name].layout, args.root / name, split=split)


def _loader(args: argparse.Namespace, index: VideoIndex, cache_root: Path, train: bool) -> tuple[Any, Any]:
    cache = prepare_cache(index, cache_root, frame_size=(args.cache_size, args.cache_size), workers=2)
    sampler = ClipSampler(args.frames, args.stride, start="random" if train else "center")
    dataset = VideoClipDataset(index, sampler, cache, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=train,
        collate_fn=collate_clips,
        num_workers=args.workers,
        generator=generator,
        drop_last=False,
    )
    return dataset, loader


def _single_frame(x: torch.Tensor) -> torch.Tensor:
    """Every frame of each clip (N, C, T, H, W) replaced by its middle frame.

    The middle frame, not the first: a clip starts in the first 70% of a 48-frame video, so
    its first frame is fainter in FadeIn than in FadeOut videos and would tell them apart;
    a fade's middle-frame opacity has nearly the same distribution in both directions.
    """
    middle = x.shape[2] // 2
    return x[:, :, middle : middle + 1].expand_as(x).contiguous()


def _evaluate(model: torch.nn.Module, loader: Any, crop: int, single: bool, num_classes: int) -> torch.Tensor:
    """Test top-1 per class (num_classes,): one centre clip per video, centre crop, eval mode."""
    model.eval()
    correct, total = torch.zeros(num_classes), torch.zeros(num_classes)
    with torch.no_grad():
        for batch in loader:
            x = center_crop(to_float_clips(batch["clips"].flatten(0, 1)), crop)
            if single:
                x = _single_frame(x)
            hits = (model(x).argmax(1) == batch["label"]).float()
            correct.index_add_(0, batch["label"], hits)
            total.index_add_(0, batch["label"], torch.ones_like(hits))
    return correct / total.clamp_min(1)


def train_set(args: argparse.Namespace, name: str, cache_root: Path, single: bool = False) -> list[dict[str, Any]]:
    """Train the backbone from scratch on one labelled set; one row per epoch."""
    train_index, test_index = open_index(args, name, "train"), open_index(args, name, "test")
    train_data, train_loader = _loader(args, train_index, cache_root, train=True)
    _, test_loader = _loader(args, test_index, cache_root, train=False)
    seed_everything(args.seed)
    num_classes = len(train_index.classes)
    model = create_backbone(args.backbone, num_classes=num_classes, width=args.width)
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps, warmup = args.epochs * len(train_loader), args.warmup * len(train_loader)

    def lr_factor(step: int) -> float:
        decay = 0.5 * (1 + math.cos(math.pi * step / steps)) if args.cosine else 1.0
        return min(1.0, (step + 1) / warmup) * decay if warmup else decay

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    flip = name not in NO_FLIP_DATASETS if args.flip == "auto" else args.flip == "on"
    label = f"{name}{' (single frame)' if single else ''}"
    print(
        f"\n{label}: {args.backbone} x{args.width}, {len(train_index)} train / {len(test_index)} test videos, "
        f"{num_classes} classes (chance {100 / num_classes:.1f}%), flip={flip}",
        flush=True,
    )
    rows = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        train_data.set_epoch(epoch)
        model.train()
        correct = total = 0
        loss_sum = 0.0
        for batch in train_loader:
            x = to_unit_clips(batch["clips"].flatten(0, 1))
            x = random_resized_crop(x, args.crop, scale=tuple(args.crop_scale))
            if flip:
                x = horizontal_flip(x)
            x = normalize(x)
            if single:
                x = _single_frame(x)
            logits = model(x)
            loss = F.cross_entropy(logits, batch["label"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            correct += (logits.argmax(1) == batch["label"]).sum().item()
            total += batch["size"]
            loss_sum += loss.item() * batch["size"]
        train_seconds = time.perf_counter() - start
        per_class = _evaluate(model, test_loader, args.crop, single, num_classes)
        test_acc = float(per_class.mean())  # the test sets are balanced: equal to overall top-1
        seconds = time.perf_counter() - start
        row = {
            "set": label,
            "epoch": epoch + 1,
            "loss": loss_sum / total,
            "train": correct / total,
            "test": test_acc,
            "seconds": seconds,
            "train_seconds": train_seconds,
        }
        rows.append(row)
        print(
            f"  epoch {epoch + 1}: loss {row['loss']:.3f}  train {100 * row['train']:5.1f}%  "
            f"test {100 * test_acc:5.1f}%  {seconds:6.1f} s (train {train_seconds:.1f} s)",
            flush=True,
        )
        if not math.isfinite(row["loss"]):
            break
    hits = ", ".join(f"{c} {100 * a:.0f}%" for c, a in zip(train_index.classes, per_class))
    print(f"  test top-1 per class: {hits}", flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    if args.root is not None and args.scale is not None:
        start = time.perf_counter()
        manifest = generate_default_data(args.root, seed=args.seed, scale=args.scale)
        print(
            f"default data in {args.root}: scale {args.scale}, {manifest['num_videos']} videos, "
            f"{manifest['bytes'] / 1e6:.1f} MB, generated in {manifest['generation_seconds']} s "
            f"(this call {time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    elif args.scale is not None:
        raise SystemExit("--scale needs --root (data/default is generated by open_split at the profile's scale)")
    cache_root = args.cache_root or (args.root / "cache" if args.root is not None else Path("data/cache"))
    rows = []
    for name in args.sets:
        rows += train_set(args, name, cache_root)
        if name == "digits-motion" and args.single_frame:
            rows += train_set(args, name, cache_root, single=True)
    print("\nset, last epoch: train / test top-1, mean s/epoch")
    for label in dict.fromkeys(r["set"] for r in rows):
        mine = [r for r in rows if r["set"] == label]
        print(
            f"  {label:34s} {100 * mine[-1]['train']:5.1f}% / {100 * mine[-1]['test']:5.1f}%  "
            f"{sum(r['seconds'] for r in mine) / len(mine):6.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
