"""Helpers of the scale tests: a fixed regression problem on clips, and a torchrun entry point.

The problem: 32 random clips (3, 4, 8, 8) with random targets, a Conv3d (+ BatchNorm3d or not)
network regressing them, SGD with momentum, global batch 8, 3 epochs, through the engine's
``make_loader`` and ``Trainer`` (DistributedDataParallel when launched by torchrun). Nothing
in it is random after the initial weights, so one process with a batch of 8 and two with 4
each see the same clips per step and differ only where BatchNorm's batch statistics differ.

Run by torchrun (``--nproc_per_node 2``) it trains both variants and writes, on rank 0,
``OUT/equivalence.json``; with ``--store`` and ``--data-root`` it then pre-trains the engine
tests' tiny config into that store in the same process group (the uninterrupted DDP run the
kill-and-resume test compares with).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

GLOBAL_BATCH = 8
EPOCHS = 3


class FixedClips(Dataset):
    """32 fixed random clips (3, 4, 8, 8) and targets; ``set_epoch`` changes nothing."""

    def __init__(self, n: int = 32) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 4, 8, 8, generator=generator)
        self.y = torch.randn(n, generator=generator)

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class ClipRegressor(nn.Module):
    """Conv3d -> (BatchNorm3d) -> ReLU -> global pool -> Linear; ``forward(batch)`` gives a StepOutput (MSE)."""

    def __init__(self, batch_norm: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(3, 8, 3, padding=1)
        self.norm = nn.BatchNorm3d(8) if batch_norm else nn.Identity()
        self.fc = nn.Linear(8, 1)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Any:
        from sslvid.engine.step import StepOutput

        x, y = batch
        features = torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3, 4))
        loss = ((self.fc(features).squeeze(1) - y) ** 2).mean()
        return StepOutput(loss, {}, len(y))


def train(batch_norm: bool, info: Any = None) -> dict[str, Any]:
    """Train the problem on this process's share; return the per-epoch losses and the final weights."""
    from sslvid.engine import Trainer, make_optimizer
    from sslvid.engine.distributed import DistInfo
    from sslvid.engine.loading import make_loader

    info = info or DistInfo()
    model = ClipRegressor(batch_norm)
    loader = make_loader(FixedClips(), GLOBAL_BATCH // info.world_size, collate_fn=default_collate, seed=0, info=info)
    optimizer = make_optimizer("sgd", model, lr=0.05, momentum=0.9)
    trainer = Trainer(model, loader, optimizer, epochs=EPOCHS, device=torch.device("cpu"), info=info, progress=False)
    table = trainer.fit()
    return {
        "losses": table["loss"].tolist(),
        "weights": {k: v.detach().flatten().tolist() for k, v in model.state_dict().items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--store", default=None)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)

    import torch.distributed as dist

    from sslvid.engine.distributed import env_info

    torch.set_num_threads(1)
    info = env_info()
    dist.init_process_group("gloo", rank=info.rank, world_size=info.world_size)
    try:
        result = {
            "world_size": info.world_size,
            "variants": {name: train(bn, info) for name, bn in (("plain", False), ("batch_norm", True))},
        }
        if info.is_main:
            Path(args.out, "equivalence.json").write_text(json.dumps(result))
        if args.store:
            import engine_helpers

            from sslvid.engine import pretrain
            from sslvid.store import RunStore

            config = engine_helpers.tiny_config(args.data_root, epochs=3)
            pretrain(config, store=RunStore(args.store), progress=False)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
