"""A short recipe learns: RotNet pre-trained through the engine on a tiny copy of the default data
predicts the rotation of clips it has not seen drawn, in eval mode, well above chance.

This guards the whole training path (clip cache -> sampler -> on-device augmentation -> task ->
optimiser -> checkpoint -> reload): a bug anywhere in it (wrong labels, wrong gradients, weights
not saved) leaves the accuracy at chance. The recipe is Adam (lr 3e-3, batch 8) for 30 epochs
over the 60 pool videos (210 steps), C3D at width 0.25, smoke clips (4 x 32 x 32).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslvid.data.dataset import VideoClipDataset, collate_clips
from sslvid.engine import PretrainConfig, pretrain
from sslvid.engine.pretrain import build_index, build_source, build_task
from sslvid.store.runs import RunStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread", "data_home")]

CHANCE = 0.25  # four rotations


def pretext_accuracy(config: PretrainConfig, result, draws: tuple[int, ...] = (101, 102)) -> tuple[float, int]:
    """The trained task's accuracy in eval mode over fresh clip draws of every pool video; (accuracy, items)."""
    task = build_task(config)
    state = torch.load(result.run_dir / "final.pt", weights_only=True)
    task.backbone.load_state_dict(state["backbone"])
    task.load_state_dict(state["task"], strict=False)  # the task's own part (heads); the backbone is above
    task.eval()
    index = build_index(config)
    frames = build_source(index, config, workers=0)
    hits, items = 0.0, 0
    for seed in draws:
        dataset = VideoClipDataset(index, task.clip_sampler(), source=frames, seed=seed)
        for start in range(0, len(dataset), 16):
            batch = collate_clips([dataset[i] for i in range(start, min(start + 16, len(dataset)))])
            with torch.no_grad():
                output = task(batch)
            hits += float(output.metrics["acc"]) * batch["size"]
            items += batch["size"]
    return hits / items, items


def test_a_short_rotnet_recipe_learns_the_rotations(tiny_default: Path, tmp_path: Path):
    config = PretrainConfig.for_profile(
        "smoke",
        task="rotnet",
        backbone="c3d",
        data_root=str(tiny_default),
        width=0.25,
        epochs=30,
        checkpoint_every=30,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        batch_size=8,
        threads=1,
        device="cpu",
    )
    result = pretrain(config, store=RunStore(tmp_path), progress=False)
    accuracy, items = pretext_accuracy(config, result)
    assert items == 120
    # chance is 0.25 +- 0.04 (one binomial sd over 120 items); 0.48 measured
    assert accuracy >= 0.40, f"RotNet reached {accuracy:.2f} of 4 rotations after 30 epochs: no better than chance"
    assert result.log["loss"].iloc[-5:].mean() < result.log["loss"].iloc[:5].mean(), "the training loss fell"
