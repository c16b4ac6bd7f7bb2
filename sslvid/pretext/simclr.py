"""SimCLR on clips: agree on two augmented views of a video, against the batch's other views."""

from __future__ import annotations

from typing import Any

import torch

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, TaskOutput
from sslvid.pretext.heads import MLPHead
from sslvid.pretext.losses import chance, classification, nt_xent_logits
from sslvid.pretext.views import two_view_sampler, view_pair


@TASKS.register("simclr")
class SimCLR(PretextTask):
    """A simple framework for contrastive learning of visual representations.

    Chen, Kornblith, Norouzi & Hinton, 2020 (ICML) §2.1: two views of each video (views
    module: by default one clip augmented twice) go through the shared backbone and an MLP
    projector ``Linear(D, hidden) -> BN -> ReLU -> Linear(hidden, 128)`` (hidden = D, as the
    2048 of ResNet-50); NT-Xent over the 2N views with temperature 0.5 (Eq. 1; the paper's
    CIFAR-10 value, App. B.9; its ImageNet runs use 0.1 at batch 4096, Table 5). Views get
    SimCLR's augmentation (§3, App. A), the same for all frames of a clip: random resized
    crop (area 0.08-1) + flip, colour jitter of strength 1 (0.8, 0.8, 0.8, 0.2) with p = 0.8,
    grayscale p = 0.2, Gaussian blur p = 0.5. ``acc`` is the contrastive top-1 (the other
    view ranked first among the 2N - 1). Under ``torchrun`` the negatives are the views of every
    process (gathered with gradient).

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T (1: single frames, the image setting).
        crop_size: side of the views.
        temperature: NT-Xent tau.
        proj_dim: projector output.
        hidden_dim: projector hidden width (None: D).
        stride: frame step in a clip.
        distinct_clips: views from two clips at different times instead of one clip twice.
        crop_scale: area range of the random resized crop.
        jitter_strength: s of SimCLR's colour distortion (jitter 0.8 s, 0.8 s, 0.8 s, 0.2 s).
        blur_p: Gaussian blur probability (0.5 on ImageNet; SimCLR drops it on CIFAR).
    """

    name = "simclr"
    category = "spatial"
    contrastive = True
    paper = "Chen et al. 2020, ICML"

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        temperature: float = 0.5,
        proj_dim: int = 128,
        hidden_dim: int | None = None,
        stride: int = 1,
        distinct_clips: bool = False,
        crop_scale: tuple[float, float] = (0.08, 1.0),
        jitter_strength: float = 1.0,
        blur_p: float = 0.5,
    ) -> None:
        super().__init__(backbone)
        self.frames, self.stride, self.distinct_clips = frames, stride, distinct_clips
        self.temperature = temperature
        s = jitter_strength
        self.augment = ClipAugment(
            crop_size,
            scale=crop_scale,
            jitter=(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s),
            jitter_p=0.8,
            grayscale_p=0.2,
            blur_p=blur_p,
        )
        dim = backbone.feature_dim
        self.head = MLPHead(dim, hidden_dim or dim, proj_dim, num_layers=2, batch_norm=True)

    def clip_sampler(self) -> ClipSampler:
        """One clip per video (two with ``distinct_clips``); see ``sslvid.pretext.views``."""
        return two_view_sampler(self.frames, self.stride, self.distinct_clips)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (N, 3, T, H, W) -> projections (N, proj_dim)."""
        return self.head(self.backbone.forward_features(x))

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """NT-Xent between the two views of each video; ``acc`` is the contrastive top-1."""
        v1, v2 = view_pair(batch["clips"])
        b = v1.shape[0]
        z = self.project(self.augment(torch.cat([v1, v2])))
        logits, target = nt_xent_logits(z[:b], z[b:], self.temperature, gather_distributed=self.training)
        loss, acc = classification(logits, target)
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, b)


register_card(
    MethodCard(
        method="simclr",
        kind="pretext",
        title="SimCLR",
        paper="Chen et al., 2020 (ICML)",
        code="google-research/simclr",
        summary="Two augmentations of a video (one clip augmented twice by default) agree through an MLP projector "
        "against the batch's other views (NT-Xent).",
        settings=(
            Setting("temperature", paper=0.5, where="App. B.9 (CIFAR-10)", ours=default_of(SimCLR, "temperature")),
            Setting("projection output", paper=128, where="§2.3", ours=default_of(SimCLR, "proj_dim")),
            Setting("crop area", paper=[0.08, 1.0], where="App. A", ours=default_of(SimCLR, "crop_scale")),
            Setting("colour jitter strength", paper=1.0, where="App. A", ours=default_of(SimCLR, "jitter_strength")),
            Setting("blur p", paper=0.5, where="App. A", ours=default_of(SimCLR, "blur_p")),
            Setting(
                "optimiser",
                paper="lars",
                where="§2.3",
                ours=lambda: SimCLR.recipe("paper")["optimizer"],
                note="LARS is not among the engine's optimisers; the lightweight study's optimiser is settled "
                "with chapter 9",
            ),
            Setting(
                "batch size",
                paper=4096,
                where="§2.3",
                ours=lambda: SimCLR.recipe("paper").get("batch_size", "the profile's"),
                note="no paper recipe registered yet",
            ),
            Setting(
                "weight decay",
                paper=1e-6,
                where="§2.3",
                ours=lambda: SimCLR.recipe("paper")["weight_decay"],
                note="no paper recipe registered yet: the shared recipe's",
            ),
        ),
    )
)
