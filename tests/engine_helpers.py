"""Helpers of the engine tests: a tiny video dataset, a tiny config, and a script entry point.

Run as a script (by the kill-and-resume and DDP tests) it pre-trains the tiny config::

    python tests/engine_helpers.py --data-root D --store S --epochs 3 [--sleep-per-step 0.3]
        [--record-writes DIR] [--workers N]

With ``--record-writes`` every atomic write of this process is listed in
``DIR/writes-rank<R>.json`` with the sha256 of the trained parameters, so a test can check that
only rank 0 writes and that every rank ends with the same parameters (DDP keeps parameters in
step; BatchNorm running statistics are per process and rank 0's are the ones saved).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BACKBONE = "squeezenet3d"  # the fastest backbone at smoke size on a CPU
TASK = "rotnet"
REPO = Path(__file__).resolve().parents[1]


def subprocess_env(home: Path) -> dict[str, str]:
    """The environment of a child process (torchrun, CLI) that reads this checkout and data home ``home``."""
    return {**os.environ, "SSLVID_HOME": str(home), "PYTHONPATH": str(REPO)}


def write_tiny_videos(root: Path, classes: int = 2, per_class: int = 4, frames: int = 12, size: int = 40) -> Path:
    """``root/train/<class>/<n>.mp4``: small MPEG-4 videos of moving coloured squares (folder layout)."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        for n in range(per_class):
            video = np.empty((frames, size, size, 3), dtype=np.uint8)
            video[:] = rng.integers(0, 256, size=3, dtype=np.uint8)
            colour = rng.integers(0, 256, size=3, dtype=np.uint8)
            y, x = rng.integers(0, size - 12, size=2)
            for t in range(frames):
                video[t, y : y + 12, (x + t) % (size - 12) : (x + t) % (size - 12) + 12] = colour
            encode(video, root / "train" / f"class{c}" / f"v{n}.mp4")
    return root


def encode(frames: np.ndarray, path: Path, fps: int = 16) -> None:
    """Write uint8 (T, H, W, 3) frames as an MPEG-4 Part 2 .mp4 with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def tiny_config(data_root: str | Path, **overrides: Any) -> Any:
    """The smoke-profile rotnet config over the tiny videos: 2 epochs of 2 steps of 4 clips."""
    from sslvid.engine import PretrainConfig

    values = dict(
        dataset="folder",
        data_root=str(data_root),
        epochs=2,
        checkpoint_every=1,
        num_workers=0,
        threads=1,
        deterministic=True,
        device="cpu",
        lr=0.05,
    )
    values.update(overrides)
    task = values.pop("task", TASK)
    return PretrainConfig.for_profile("smoke", task=task, backbone=BACKBONE, **values)


def state_digest(state: dict) -> str:
    """sha256 over a state dict's names and raw bytes (identical weights <=> identical digest)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _record_writes() -> list[str]:
    """Patch ``sslvid.io.atomic_open`` (before anything imports it) to list what this process writes."""
    import sslvid.io

    written: list[str] = []
    original = sslvid.io.atomic_open

    def recording(path: Any, mode: str = "wb") -> Any:
        written.append(str(path))
        return original(path, mode)

    sslvid.io.atomic_open = recording
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--sleep-per-step", type=float, default=0.0)
    parser.add_argument("--record-writes", default=None)
    args = parser.parse_args(argv)
    written = _record_writes() if args.record_writes else []

    from sslvid.engine import pretrain
    from sslvid.engine.trainer import Trainer
    from sslvid.pretext.base import PretextTask
    from sslvid.store import RunStore

    if args.sleep_per_step:
        PretextTask.after_step = lambda self: time.sleep(args.sleep_per_step)  # a slow run to kill part-way
    trained: dict[str, Any] = {}
    fit = Trainer.fit

    def fit_and_keep(self: Trainer) -> Any:
        table = fit(self)
        trained.update({name: p.detach().clone() for name, p in self.module.named_parameters()})
        return table

    Trainer.fit = fit_and_keep
    config = tiny_config(args.data_root, epochs=args.epochs, num_workers=args.workers)
    result = pretrain(config, store=RunStore(args.store), progress=False)
    if args.record_writes:
        rank = int(os.environ.get("RANK", 0))
        out = {"rank": rank, "writes": written, "key": result.key, "weights": state_digest(trained)}
        Path(args.record_writes, f"writes-rank{rank}.json").write_text(json.dumps(out))
    print(result.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
