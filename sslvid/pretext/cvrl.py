"""CVRL: contrast two temporally distant, independently augmented clips of each video."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslvid.pretext.augment import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import MLPHead
from sslvid.pretext.losses import classification, nt_xent_logits
from sslvid.pretext.samplers import TemporalIntervalSampler


@TASKS.register("cvrl")
class CVRL(PretextTask):
    """Spatiotemporal contrastive video representation learning.

    Qian, Meng, Gong, Yang, Wang, Belongie & Cui, 2021 (CVPR) §3: two clips of a video, their
    start interval drawn from a linearly decreasing distribution (§3.2,
    :class:`TemporalIntervalSampler`), each with its own temporally consistent spatial
    augmentation (§3.2: one random resized crop, area 0.3-1 and aspect 1/2-2, flip, colour
    jitter of strength 1 with p = 0.8 and grayscale with p = 0.2, the same for all frames of a
    clip). The released code (``tensorflow/models``, ``official/projects/video_ssl``) adds
    BYOL's asymmetric pair on top: Gaussian blur with p = 1.0 on the first clip and 0.1 on the
    second, solarize with p = 0 and 0.2 (``blur_p``, ``solarize_p``; one :class:`ClipAugment`
    per clip, ``view_augments``). A shared backbone, an MLP projection head (released code: 3
    hidden layers of 2048 with BN + ReLU, then 128 out, i.e. ``num_layers=4``), and InfoNCE
    over the 2N clips of the batch (§3.1; SimCLR's NT-Xent) with temperature 0.1. Paper clips:
    16 frames at stride 2. ``acc`` is the contrastive top-1 (the other clip of the video
    ranked first among the 2N - 1).

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T.
        crop_size: side of the crops.
        stride: frame step in a clip.
        temperature: InfoNCE tau.
        proj_dim: output of the projection head.
        hidden_dim: width of its hidden layers.
        num_layers: its linear layers (hidden layers + output).
        blur_p: probability of Gaussian blur of the first and of the second clip.
        solarize_p: probability of solarizing the first and the second clip.
    """

    name = "cvrl"
    category = "spatial"
    contrastive = True
    paper = "Qian et al. 2021, CVPR"
    paper_recipe = Recipe("sgd", 0.32, 1024, 1e-6, 0.9,
                          source="released cvrl_pretrain_k600_200ep.yaml (Qian et al., 2021)")

    def __init__(self, backbone: nn.Module, frames: int = 16, crop_size: int = 112, stride: int = 2,
                 temperature: float = 0.1, proj_dim: int = 128, hidden_dim: int = 2048, num_layers: int = 4,
                 blur_p: tuple[float, float] = (1.0, 0.1), solarize_p: tuple[float, float] = (0.0, 0.2)) -> None:
        super().__init__(backbone)
        self.sampler = TemporalIntervalSampler(frames, stride)
        self.temperature = temperature
        self.view_augments = tuple(
            ClipAugment(crop_size, scale=(0.3, 1.0), ratio=(0.5, 2.0), jitter=(0.8, 0.8, 0.8, 0.2), jitter_p=0.8,
                        grayscale_p=0.2, blur_p=blur, solarize_p=solarize)
            for blur, solarize in zip(blur_p, solarize_p, strict=True))
        self.head = MLPHead(backbone.feature_dim, hidden_dim, proj_dim, num_layers=num_layers)

    def clip_sampler(self) -> TemporalIntervalSampler:
        """Two clips per video at a decreasing-distribution interval."""
        return self.sampler

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """NT-Xent between the two clips of each video; ``acc`` is the contrastive top-1."""
        clips = batch["clips"]  # (B, 2, T, H, W, 3)
        b = clips.shape[0]
        views = torch.cat([augment(clips[:, i]) for i, augment in enumerate(self.view_augments)])
        z = self.head(self.backbone.forward_features(views))
        loss, acc = classification(*nt_xent_logits(z[:b], z[b:], self.temperature))
        return TaskOutput(loss, {"acc": acc.item()}, b)
