"""Split-Brain autoencoders on clips: one half predicts colour (ab) from L, the other L from ab."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslvid.backbones import create_backbone
from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import KINETICS_MEAN, KINETICS_STD, random_resized_crop, to_unit_clips
from sslvid.pretext.base import TASKS, PretextTask, TaskOutput
from sslvid.pretext.color import AB_BINS, L_BINS, ABQuantizer, quantize_l, rgb_to_lab
from sslvid.pretext.losses import classification

log = logging.getLogger(__name__)


class LiftedBackbone(nn.Module):
    """A 3-channel backbone fed ``in_channels`` channels through a learned 1x1x1 convolution.

    Lets Split-Brain use an already built RGB backbone for its L and ab halves; the halves
    are then full-width copies (see :class:`SplitBrain`). Same face as the backbone.

    Args:
        net: a backbone taking (B, 3, T, H, W).
        in_channels: channels of the input clips.
    """

    def __init__(self, net: VideoBackbone, in_channels: int) -> None:
        super().__init__()
        self.lift = nn.Conv3d(in_channels, 3, kernel_size=1)
        self.net = net
        self.feature_dim: int = net.feature_dim
        self.block_names: tuple[str, ...] = tuple(net.block_names)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, in_channels, T, H, W) -> (B, feature_dim)."""
        return self.net.forward_features(self.lift(x))

    def forward_intermediates(self, x: Tensor, indices: int | Sequence[int] | None = None) -> list[Tensor]:
        """The backbone's block outputs for (B, in_channels, T, H, W) clips."""
        return self.net.forward_intermediates(self.lift(x), indices)


class SplitBrainBackbone(VideoBackbone):
    """The Split-Brain representation: an L network and an ab network side by side.

    Zhang, Isola & Efros 2017 (CVPR) §3.2: the representation is the concatenation of the two
    sub-networks' features. This module shows a backbone's face, so evaluation, CKA and
    saliency use it like any other: it takes RGB clips (B, 3, T, H, W) normalised as the
    other backbones' inputs (Kinetics mean/std, ``sslvid.data.transforms.to_float_clips``),
    converts them to Lab, feeds L to ``l_net`` and ab to ``ab_net``, and concatenates:
    ``forward_features`` (B, D_L + D_ab); ``forward_intermediates`` concatenates the two
    halves' block outputs on the channel axis. Network inputs are scaled to about [-1, 1]:
    ``L / 50 - 1`` and ``ab / 110``.

    Args:
        l_net: backbone on (B, 1, T, H, W) L clips.
        ab_net: backbone on (B, 2, T, H, W) ab clips, with the same blocks as ``l_net``.
        mean: per-channel mean of the RGB inputs' normalisation.
        std: per-channel std of that normalisation.
        num_classes: outputs of a linear head on the joint features (0: none).
        dropout: dropout before that head.
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        l_net: VideoBackbone | LiftedBackbone,
        ab_net: VideoBackbone | LiftedBackbone,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
        num_classes: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.l_net, self.ab_net = l_net, ab_net
        self.block_names = tuple(l_net.block_names)
        self.register_buffer("mean", torch.tensor(mean).view(3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(3, 1, 1, 1), persistent=False)
        self.build_head(l_net.feature_dim + ab_net.feature_dim, num_classes, dropout)

    def blocks(self) -> list[nn.Module]:
        """Not one trunk but two: use ``forward_intermediates`` (or ``l_net`` / ``ab_net``).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError("SplitBrainBackbone has two trunks (l_net, ab_net); use forward_intermediates")

    def lab(self, x: Tensor) -> Tensor:
        """Normalised RGB clips (B, 3, T, H, W) -> Lab clips (B, 3, T, H, W)."""
        return rgb_to_lab((x * self.std + self.mean).clamp(0, 1))

    @staticmethod
    def split(lab: Tensor) -> tuple[Tensor, Tensor]:
        """Lab clips (B, 3, T, H, W) -> network inputs L (B, 1, T, H, W) and ab (B, 2, T, H, W)."""
        return lab[:, :1] / 50.0 - 1.0, lab[:, 1:] / 110.0

    def forward_features(self, x: Tensor) -> Tensor:
        """Normalised RGB clips (B, 3, T, H, W) -> joint features (B, D_L + D_ab)."""
        l_in, ab_in = self.split(self.lab(x))
        return torch.cat([self.l_net.forward_features(l_in), self.ab_net.forward_features(ab_in)], dim=1)

    def forward_intermediates(self, x: Tensor, indices: int | Sequence[int] | None = None) -> list[Tensor]:
        """Both halves' block outputs, concatenated on channels: (B, C_L + C_ab, T_i, H_i, W_i) each."""
        l_in, ab_in = self.split(self.lab(x))
        l_out = self.l_net.forward_intermediates(l_in, indices)
        ab_out = self.ab_net.forward_intermediates(ab_in, indices)
        return [torch.cat(pair, dim=1) for pair in zip(l_out, ab_out, strict=True)]


def split_brain_backbone(name: str, width: float = 1.0, half_width: bool = True, **kwargs: Any) -> SplitBrainBackbone:
    """Two backbones ``name`` with 1 (L) and 2 (ab) input channels, each of half the width.

    Zhang et al. 2017 §3.2 split each layer's channels between the halves: the pair is one
    network of ``width`` whose layers have two disjoint channel groups (about half its
    parameters and FLOPs, as grouped convolutions). Evaluation rebuilds the pre-trained
    representation with the same call before loading its weights.

    Args:
        name: a registered backbone name.
        width: width multiplier of the whole (unsplit) network.
        half_width: give each half ``width / 2`` (False: ``width`` each).
        **kwargs: further builder arguments of the halves (e.g. ``dropout``).

    Raises:
        ValueError: for an unknown backbone name.
    """
    w = width / 2 if half_width else width
    l_net, ab_net = (create_backbone(name, width=w, in_channels=c, **kwargs) for c in (1, 2))
    return SplitBrainBackbone(l_net, ab_net)


class DenseClassifier(nn.Module):
    """Light per-position classifier: 1x1x1 conv on a feature map, trilinear upsampling of the logits.

    Args:
        in_channels: C of the feature map.
        num_classes: classes per position.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, num_classes, kernel_size=1)

    def forward(self, features: Tensor, size: tuple[int, int, int]) -> Tensor:
        """(B, C, t, h, w) -> logits (B, num_classes, *size)."""
        logits = self.conv(features)
        if tuple(logits.shape[2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode="trilinear", align_corners=False)
        return logits


def _as_split_backbone(backbone: VideoBackbone | str, width: float) -> SplitBrainBackbone:
    """The task's representation from a name, a ready ``SplitBrainBackbone`` or an RGB backbone."""
    if isinstance(backbone, SplitBrainBackbone):
        return backbone
    if isinstance(backbone, str):
        return split_brain_backbone(backbone, width=width)
    log.warning(
        "splitbrain got a built RGB backbone: its halves are two full-width copies fed through "
        "1x1x1 input convolutions; pass a backbone name for the paper's half-width halves"
    )
    return SplitBrainBackbone(LiftedBackbone(copy.deepcopy(backbone), 1), LiftedBackbone(copy.deepcopy(backbone), 2))


def _flat(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Dense logits (B, C, ...) and targets (B, ...) -> (N, C) and (N,) for ``classification``."""
    return logits.movedim(1, -1).reshape(-1, logits.shape[1]), target.reshape(-1)


@TASKS.register("splitbrain")
class SplitBrain(PretextTask):
    """Split-brain autoencoder: cross-channel prediction L -> ab and ab -> L, as classification.

    Zhang, Isola & Efros 2017 (CVPR) §3.2 and §4.1: the clip is split into Lab's lightness L
    and colour ab; ``l_net`` classifies each position's ab into the Q = 313 in-gamut bins
    (``sslvid.pretext.color``; Zhang et al. 2016 §2.1) and ``ab_net`` classifies L into 50 bins
    of width 2; the loss is the sum of the two cross-entropies (hard labels, no class
    rebalancing). The representation is both halves' features (:class:`SplitBrainBackbone`,
    ``task.backbone``).

    Predictions are dense but coarse: each half's last block output goes through a 1x1x1
    conv classifier whose logits are upsampled (trilinear) to (T, H / s, W / s) with
    ``s = output_stride``; targets are the Lab clip average-pooled to that grid, then
    quantised (Colorful Image Colorization predicts at 1/4 resolution; 1/8 keeps 313-way
    logits of 16-frame clips affordable). Augmentation: random resized crop + flip only
    (colour is the target). ``acc`` is the mean of the ab- and L-bin accuracies.

    Args:
        backbone: a backbone name (halves of half ``width``, the paper's split), a
            :class:`SplitBrainBackbone`, or a built RGB backbone (then two full-width copies
            with 1x1x1 input convolutions, :class:`LiftedBackbone`; logged as a warning).
        frames: T (1: single frames).
        crop_size: side of the crops (a multiple of ``output_stride``).
        width: width of the unsplit network when ``backbone`` is a name.
        ab_bins: Q ab classes.
        output_stride: spatial down-sampling of the prediction grid.
        stride: frame step in a clip.
        crop_scale: area range of the random resized crop.

    Raises:
        ValueError: if ``crop_size`` is not a positive multiple of ``output_stride``.
    """

    name = "splitbrain"
    category = "spatial"
    contrastive = False
    paper = "Zhang et al. 2017, CVPR"

    backbone: SplitBrainBackbone

    def __init__(
        self,
        backbone: VideoBackbone | str,
        frames: int = 16,
        crop_size: int = 112,
        width: float = 1.0,
        ab_bins: int = AB_BINS,
        output_stride: int = 8,
        stride: int = 1,
        crop_scale: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        if output_stride < 1 or crop_size < output_stride or crop_size % output_stride:
            raise ValueError(f"crop_size {crop_size} must be a positive multiple of output_stride {output_stride}")
        super().__init__(_as_split_backbone(backbone, width))
        self.frames, self.stride, self.crop_size, self.crop_scale = frames, stride, crop_size, crop_scale
        self.output_stride = output_stride
        self.ab_quantizer = ABQuantizer(ab_bins)
        self.ab_head = DenseClassifier(self.backbone.l_net.feature_dim, self.ab_quantizer.num_bins)
        self.l_head = DenseClassifier(self.backbone.ab_net.feature_dim, L_BINS)

    def clip_sampler(self) -> ClipSampler:
        """One clip of ``frames`` frames per video."""
        return ClipSampler(num_frames=self.frames, stride=self.stride)

    def grid(self, lab: Tensor) -> tuple[int, int, int]:
        """The prediction grid (T, H / s, W / s) of clips (N, C, T, H, W)."""
        t, h, w = lab.shape[2:]
        return t, h // self.output_stride, w // self.output_stride

    def targets(self, lab: Tensor) -> tuple[Tensor, Tensor]:
        """Lab clips (N, 3, T, H, W) -> ab classes and L classes, each (N, *grid), int64."""
        pooled = F.adaptive_avg_pool3d(lab, self.grid(lab))
        return self.ab_quantizer.encode(pooled[:, 1:]), quantize_l(pooled[:, 0])

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """Both cross-channel classifications; ``acc`` is the mean of the two bin accuracies."""
        clips = batch["clips"].flatten(0, 1)  # (B*K, T, H, W, 3)
        x = random_resized_crop(to_unit_clips(clips), self.crop_size, None, scale=self.crop_scale, flip_p=0.5)
        lab = rgb_to_lab(x)
        ab_target, l_target = self.targets(lab)
        l_in, ab_in = self.backbone.split(lab)
        grid = self.grid(lab)
        ab_logits = self.ab_head(self.backbone.l_net.forward_intermediates(l_in, indices=1)[0], grid)
        l_logits = self.l_head(self.backbone.ab_net.forward_intermediates(ab_in, indices=1)[0], grid)
        loss_ab, acc_ab = classification(*_flat(ab_logits, ab_target))
        loss_l, acc_l = classification(*_flat(l_logits, l_target))
        metrics = {
            "acc": (acc_ab.item() + acc_l.item()) / 2,
            "acc_ab": acc_ab.item(),
            "acc_l": acc_l.item(),
            "loss_ab": loss_ab.item(),
            "loss_l": loss_l.item(),
        }
        return TaskOutput(loss_ab + loss_l, metrics, clips.shape[0])


register_card(
    MethodCard(
        method="splitbrain",
        kind="pretext",
        title="Split-Brain autoencoder",
        paper="Zhang et al., 2017 (CVPR)",
        code="richzhang/splitbrainauto",
        summary="Two half-width networks predict each other's Lab channels (L -> ab, ab -> L) as classification; "
        "the representation is both halves' features.",
        settings=(
            Setting(
                "ab classes", paper=313, where="§3.2 (Zhang et al., 2016 §2.1)", ours=default_of(SplitBrain, "ab_bins")
            ),
            Setting("L classes", paper=50, where="§4.1", ours=lambda: L_BINS),
        ),
    )
)
