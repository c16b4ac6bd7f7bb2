"""VCOP: predict the order of shuffled clips of a video from their pairwise features."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.transforms import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import PairwiseOrderHead
from sslvid.pretext.losses import chance, classification
from sslvid.pretext.samplers import ClipOrderSampler


@TASKS.register("vcop")
class VCOP(PretextTask):
    """Video clip order prediction over the N! permutations of N clips.

    Xu, Xiao, Zhao, Shao, Xie & Zhuang, 2019 (CVPR) §3: N clips of T frames, ``interval``
    frames apart, are shuffled; a shared backbone embeds each clip, every pair of clip
    features is concatenated and mapped by a shared MLP, and the pair codes classify the
    permutation (:class:`PairwiseOrderHead`). Paper defaults: T = 16, interval 8, N = 3,
    pair width 512, dropout 0.5. Benchmark §4.3: N in {3, 4, 5} (6, 24, 120 classes).
    Each clip gets its own random crop and flip (as the released code), or with ``shared_crop``
    all N clips of a video the same one, so that where the content sits in the frame is kept
    from clip to clip.

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T, frames per clip.
        crop_size: side of the crop fed to the backbone.
        num_clips: N, 3 to 5.
        interval: frames between consecutive clips.
        stride: frame step inside a clip.
        hidden_dim: width of the pair code.
        dropout: before the order classifier.
        crop_scale: area range of the random resized crop.
        shared_crop: one crop and flip for the N clips of a video instead of one per clip.

    Raises:
        ValueError: if ``num_clips`` < 2.
    """

    name = "vcop"
    category = "temporal"
    contrastive = False
    paper = "Xu et al. 2019, CVPR"
    paper_recipe = Recipe("sgd", 1e-3, 8, 5e-4, 0.9, source="released train_vcop.py (Xu et al., 2019)")

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        num_clips: int = 3,
        interval: int = 8,
        stride: int = 1,
        hidden_dim: int = 512,
        dropout: float = 0.5,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        shared_crop: bool = False,
    ) -> None:
        super().__init__(backbone)
        self.shared_crop = shared_crop
        if num_clips < 2:
            raise ValueError(f"num_clips must be >= 2, got {num_clips}")
        self.sampler = ClipOrderSampler(frames, num_clips, interval, stride)
        self.augment = ClipAugment(crop_size, scale=crop_scale, jitter_p=0.0, grayscale_p=0.0)
        self.head = PairwiseOrderHead(backbone.feature_dim, num_clips, math.factorial(num_clips), hidden_dim, dropout)

    def clip_sampler(self) -> ClipOrderSampler:
        """N shuffled clips per video; meta ``order`` is the permutation class."""
        return self.sampler

    def views(self, clips: Tensor) -> Tensor:
        """uint8 (B, N, T, H, W, 3) -> augmented clips (B * N, 3, T, S, S), video-major."""
        n, t = clips.shape[1:3]
        if not self.shared_crop:
            return self.augment(clips.flatten(0, 1))
        joined = self.augment(clips.flatten(1, 2))  # (B, 3, N * T, S, S): one crop per video
        return joined.unflatten(2, (n, t)).transpose(1, 2).flatten(0, 1)

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """Embed each clip, classify the order; ``acc`` is the permutation accuracy."""
        clips = batch["clips"]  # (B, N, T, H, W, 3)
        b, n = clips.shape[:2]
        features = self.backbone.forward_features(self.views(clips)).view(b, n, -1)
        logits = self.head(features)
        loss, acc = classification(logits, batch["meta"]["order"].to(clips.device).long())
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, b)


register_card(
    MethodCard(
        method="vcop",
        kind="pretext",
        title="VCOP",
        paper="Xu et al., 2019 (CVPR)",
        code="xudejing/video-clip-order-prediction",
        summary="Shuffle N clips of a video and classify their order (N! classes) from the concatenated features "
        "of every pair of clips.",
        settings=(
            Setting("clip length (frames)", released=16, ours=default_of(VCOP, "frames")),
            Setting("interval between clips", released=8, ours=default_of(VCOP, "interval")),
            Setting("clips per tuple", released=3, ours=default_of(VCOP, "num_clips")),
            Setting("pair code width", released=512, ours=default_of(VCOP, "hidden_dim")),
            Setting("dropout", released=0.5, ours=default_of(VCOP, "dropout")),
            Setting(
                "crop area",
                released=[0.57, 0.57],
                ours=default_of(VCOP, "crop_scale"),
                note="a random resized crop (area 0.5-1, flip p 0.5); the released code cuts a fixed 112 x 112 "
                "window of 128 x 171 frames (area 0.57) without flip",
            ),
            Setting("optimiser", released="sgd", ours=lambda: VCOP.paper_recipe.optimizer),
            Setting("learning rate", released=1e-3, ours=lambda: VCOP.paper_recipe.lr),
            Setting("batch size", released=8, ours=lambda: VCOP.paper_recipe.batch_size),
            Setting("weight decay", released=5e-4, ours=lambda: VCOP.paper_recipe.weight_decay),
        ),
    )
)
