"""CVRL: contrast two temporally distant, independently augmented clips of each video."""

from __future__ import annotations

from typing import Any

import torch

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.transforms import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import MLPHead
from sslvid.pretext.losses import chance, classification, nt_xent_logits
from sslvid.pretext.samplers import TemporalIntervalSampler

CROP_AREA = (0.3, 1.0)
CROP_ASPECT = (0.5, 2.0)
JITTER = (0.8, 0.8, 0.8, 0.2)
JITTER_P = 0.8
GRAYSCALE_P = 0.2
"""Temporally consistent spatial augmentation (Qian et al., 2021 §3.2; SimCLR's colour strength 1)."""


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
    ranked first among the 2N - 1). Under ``torchrun`` the negatives are the clips of every
    process (gathered with gradient).

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T.
        crop_size: side of the crops.
        stride: frame step in a clip.
        temperature: InfoNCE tau.
        proj_dim: output of the projection head.
        hidden_dim: width of its hidden layers.
        num_layers: its linear layers (hidden layers + output).
        crop_area: area range of each clip's random resized crop (§3.2: 0.3-1).
        jitter_p: probability of colour jitter of a clip.
        grayscale_p: probability of turning a clip grey.
        blur_p: probability of Gaussian blur of the first and of the second clip.
        solarize_p: probability of solarizing the first and the second clip.
    """

    name = "cvrl"
    revision = 2  # 2: blur and solarize per clip as the released code
    category = "spatial"
    contrastive = True
    paper = "Qian et al. 2021, CVPR"
    paper_recipe = Recipe(
        "sgd", 0.32, 1024, 1e-6, 0.9, source="released cvrl_pretrain_k600_200ep.yaml (Qian et al., 2021)"
    )

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        stride: int = 2,
        temperature: float = 0.1,
        proj_dim: int = 128,
        hidden_dim: int = 2048,
        num_layers: int = 4,
        crop_area: tuple[float, float] = CROP_AREA,
        jitter_p: float = JITTER_P,
        grayscale_p: float = GRAYSCALE_P,
        blur_p: tuple[float, float] = (1.0, 0.1),
        solarize_p: tuple[float, float] = (0.0, 0.2),
    ) -> None:
        super().__init__(backbone)
        self.sampler = TemporalIntervalSampler(frames, stride)
        self.temperature = temperature
        self.view_augments = tuple(
            ClipAugment(
                crop_size,
                scale=(crop_area[0], crop_area[1]),  # a JSON list from task_kwargs too
                ratio=CROP_ASPECT,
                jitter=JITTER,
                jitter_p=jitter_p,
                grayscale_p=grayscale_p,
                blur_p=blur,
                solarize_p=solarize,
            )
            for blur, solarize in zip(blur_p, solarize_p, strict=True)
        )
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
        logits, target = nt_xent_logits(z[:b], z[b:], self.temperature, gather_distributed=self.training)
        loss, acc = classification(logits, target)
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, b)


register_card(
    MethodCard(
        method="cvrl",
        kind="pretext",
        title="CVRL",
        paper="Qian et al., 2021 (CVPR)",
        code="tensorflow/models (official/projects/video_ssl)",
        summary="Two clips of a video at a decreasing-distribution interval, each with its own temporally "
        "consistent augmentation, contrasted over the batch (InfoNCE, SimCLR's NT-Xent) through an MLP head.",
        settings=(
            Setting("clip length (frames)", released=16, ours=default_of(CVRL, "frames")),
            Setting("frame stride", released=2, ours=default_of(CVRL, "stride")),
            Setting("temperature", released=0.1, ours=default_of(CVRL, "temperature")),
            Setting("projection hidden width", released=2048, ours=default_of(CVRL, "hidden_dim")),
            Setting("projection linear layers (hidden + output)", released=4, ours=default_of(CVRL, "num_layers")),
            Setting("projection output", released=128, ours=default_of(CVRL, "proj_dim")),
            Setting("crop area", paper=[0.3, 1.0], where="§3.2", ours=default_of(CVRL, "crop_area")),
            Setting("crop aspect", paper=[0.5, 2.0], where="§3.2", ours=lambda: CROP_ASPECT),
            Setting("colour jitter (b, c, s, h)", ours=lambda: JITTER),
            Setting("colour jitter p", ours=default_of(CVRL, "jitter_p")),
            Setting("grayscale p", ours=default_of(CVRL, "grayscale_p")),
            Setting("blur p (clip 1, clip 2)", released=[1.0, 0.1], ours=default_of(CVRL, "blur_p")),
            Setting("solarize p (clip 1, clip 2)", released=[0.0, 0.2], ours=default_of(CVRL, "solarize_p")),
            Setting("optimiser", released="sgd", ours=lambda: CVRL.paper_recipe.optimizer),
            Setting("learning rate", released=0.32, ours=lambda: CVRL.paper_recipe.lr),
            Setting("batch size", released=1024, ours=lambda: CVRL.paper_recipe.batch_size),
            Setting("weight decay", released=1e-6, ours=lambda: CVRL.paper_recipe.weight_decay),
        ),
    )
)
