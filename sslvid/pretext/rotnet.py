"""RotNet for video: classify by how many quarter turns every frame of a clip was rotated."""

from __future__ import annotations

from typing import Any

import torch

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import ClipAugment, rotate90
from sslvid.pretext.base import CLASSIFICATION_MICRO_RECIPE, TASKS, PretextTask, TaskOutput
from sslvid.pretext.heads import LinearHead
from sslvid.pretext.losses import chance, classification


@TASKS.register("rotnet")
class RotNet(PretextTask):
    """3DRotNet: rotate all frames of a clip by the same k * 90 degrees, predict k.

    Jing, Yang, Liu & Tian, 2018 ("Self-supervised spatiotemporal feature learning via video
    rotation prediction", arXiv 1811.11387) §3: a clip, spatially augmented once, has all its
    frames rotated by one of ``num_rotations`` angles; a linear head on the pooled features
    classifies the angle. Benchmark §4.3: ``num_rotations`` in {2, 3, 4} (C1-C3) uses the
    first n multiples of 90 degrees (2: {0, 90}, 3: {0, 90, 180}, 4: all four).

    Each clip gets one rotation; labels are balanced within a batch (``randperm(N) % n``).
    With ``all_rotations=True`` every clip is shown under every angle instead (batch x n), as
    image RotNet (Gidaris et al., 2018) trains.

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T, frames per clip.
        crop_size: side of the square crop (rotation needs square frames).
        num_rotations: 2, 3 or 4.
        stride: frame step of the clip.
        all_rotations: feed every angle of every clip.
        crop_scale: area range of the random resized crop.

    Raises:
        ValueError: if ``num_rotations`` is not 2, 3 or 4.
    """

    name = "rotnet"
    category = "spatial"
    contrastive = False
    paper = "Jing et al. 2018, arXiv 1811.11387"
    micro_recipe = CLASSIFICATION_MICRO_RECIPE

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        num_rotations: int = 4,
        stride: int = 1,
        all_rotations: bool = False,
        crop_scale: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        super().__init__(backbone)
        if num_rotations not in (2, 3, 4):
            raise ValueError(f"num_rotations must be 2, 3 or 4, got {num_rotations}")
        self.frames, self.stride, self.num_rotations, self.all_rotations = frames, stride, num_rotations, all_rotations
        self.augment = ClipAugment(crop_size, scale=crop_scale, jitter_p=0.0, grayscale_p=0.0)
        self.head = LinearHead(backbone.feature_dim, num_rotations)

    def clip_sampler(self) -> ClipSampler:
        """One clip of ``frames`` frames per video."""
        return ClipSampler(num_frames=self.frames, stride=self.stride)

    def rotation_labels(self, n: int, device: torch.device) -> torch.Tensor:
        """(n,) quarter turns in [0, num_rotations), balanced within the batch."""
        return (torch.randperm(n) % self.num_rotations).to(device)

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """Rotate, classify; ``acc`` is the rotation accuracy."""
        clips = batch["clips"].flatten(0, 1)  # (B*K, T, H, W, 3)
        x = self.augment(clips)
        if self.all_rotations:
            k = torch.arange(self.num_rotations, device=x.device).repeat_interleave(x.shape[0])
            x = x.repeat(self.num_rotations, 1, 1, 1, 1)
        else:
            k = self.rotation_labels(x.shape[0], x.device)
        logits = self.head(self.backbone.forward_features(rotate90(x, k)))
        loss, acc = classification(logits, k)
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, clips.shape[0])


register_card(
    MethodCard(
        method="rotnet",
        kind="pretext",
        title="3DRotNet",
        paper="Jing et al., 2018 (arXiv 1811.11387)",
        summary="Rotate every frame of a clip by one multiple of 90 degrees and classify the rotation. The "
        "benchmark's complexities use the first 2, 3 or 4 multiples. No released code; the pre-training "
        "recipe is the shared one (SGD 0.01, weight decay 5e-4).",
        settings=(
            Setting("rotations", paper=4, where="§3", ours=default_of(RotNet, "num_rotations")),
            Setting("optimiser", ours=lambda: RotNet.recipe("paper")["optimizer"]),
            Setting("learning rate", ours=lambda: RotNet.recipe("paper")["lr"]),
        ),
    )
)
