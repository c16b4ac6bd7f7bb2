"""PRP: perceive the playback (dilation) rate of a clip and reconstruct it in slow motion."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.transforms import normalize, random_resized_crop, to_unit_clips
from sslvid.pretext.base import CLASSIFICATION_MICRO_RECIPE, TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import ClipDecoder, LinearHead
from sslvid.pretext.losses import chance, classification
from sslvid.pretext.samplers import PlaybackRateSampler


def motion_weights(target: Tensor, patch: int, low: float = 0.8, high: float = 2.0) -> Tensor:
    """PRP's motion-focused weights: a Gaussian bump on the patch that moves most, in [low, high].

    Yao et al., 2020 §3 (motion-focused reconstruction): frame differences locate the ``patch`` x ``patch`` window of
    largest motion; a Gaussian of sigma ``patch / 2`` centred there, rescaled to
    [low, high], weights the reconstruction error. One map per clip (the released code
    computes one per 16 frames).

    Args:
        target: clips (B, C, T, H, W).
        patch: window side in pixels.

    Returns:
        weights (B, 1, 1, H, W).
    """
    b, _, _, h, w = target.shape
    motion = (target[:, :, 1:] - target[:, :, :-1]).abs().mean(dim=(1, 2))  # (B, H, W)
    box = F.avg_pool2d(motion[:, None], patch, stride=1)[:, 0]  # (B, H-p+1, W-p+1)
    where = box.flatten(1).argmax(dim=1)
    cy = (where // box.shape[-1]).float() + patch / 2
    cx = (where % box.shape[-1]).float() + patch / 2
    ys = torch.arange(h, device=target.device, dtype=torch.float32)
    xs = torch.arange(w, device=target.device, dtype=torch.float32)
    sigma = patch / 2
    g = torch.exp(
        -0.5 * ((ys[None, :, None] - cy[:, None, None]) ** 2 + (xs[None, None, :] - cx[:, None, None]) ** 2) / sigma**2
    )
    g_min, g_max = g.amin(dim=(1, 2), keepdim=True), g.amax(dim=(1, 2), keepdim=True)
    g = (high - low) * (g - g_min) / (g_max - g_min).clamp_min(1e-8) + low
    return g.view(b, 1, 1, h, w).to(target.dtype)


def conv6(channels: int, out_channels: int | None = None) -> nn.Sequential:
    """PRP's ``conv6`` opening each branch (released ``models/net_part.py``): Conv3d 3x3x3 -> BN -> ReLU,
    ``channels`` -> ``out_channels`` (default: as many)."""
    out = out_channels or channels
    return nn.Sequential(nn.Conv3d(channels, out, 3, padding=1), nn.BatchNorm3d(out), nn.ReLU(inplace=True))


@TASKS.register("prp")
class PRP(PretextTask):
    """Video playback rate perception: classify the dilation rate and reconstruct the clip at 2x rate.

    Yao, Liu, Luo, Zhou & Ye, 2020 (CVPR) §3: a clip of T frames sampled every ``s`` frames,
    ``s`` from ``rates``. The encoder's last feature map feeds two branches, each opened by its
    own ``conv6`` (Conv3d 3x3x3 -> BN -> ReLU, released ``models/sscn.py``: ``conv6_cls``,
    ``conv6_rec``): the discriminative branch pools it and classifies ``s``; the generative
    branch decodes it (:class:`ClipDecoder`) into the same span at twice the frame rate (2T
    frames, half-positions averaged for ``s = 1``), with a motion-focused weighted L2 loss
    (:func:`motion_weights`). Loss = ``recon_weight * L_recon + cls_weight * L_cls`` (released
    code: 1 and 0.1). Benchmark §4.3: ``rates`` in {(1, 2), (1, 2, 4), (1, 2, 4, 8)}.

    The released decoder starts from 512 channels, the last feature map of its C3D, R3D and
    R(2+1)D; ``conv6_rec`` maps the backbone's C channels to ``min(C, decoder_channels)``, so a
    network as wide (C = 512) decodes as released, and a wider one is narrowed first instead of
    decoding from all its channels (ShuffleNet 2.0x, C = 1,920 at full width and 480 at micro
    width, where its branches would otherwise hold 85 times the parameters of its backbone).

    The reconstruction target is the cropped clip in [0, 1], as the released code's
    ``ToTensor`` frames; the encoder's input is that clip normalised with the Kinetics
    statistics every task and evaluation here shares (the released input is [0, 1] as well).
    Video Swin's final LayerNorm is skipped (the branches read the last block's map), so one
    backbone pass feeds both branches.

    Args:
        backbone: a video backbone with ``forward_intermediates`` and ``feature_dim``.
        frames: T, frames of the input clip.
        crop_size: side of the crop.
        rates: dilation rates, one class each.
        recon_weight: weight of the reconstruction loss.
        cls_weight: weight of the rate classification loss.
        motion_focus: weight the reconstruction error by :func:`motion_weights`.
        decoder_ups: up-sampling stages of the decoder.
        decoder_channels: most channels the decoder starts from (released: 512; micro: 128, 512 at
            the micro width 0.25, the recipe's ``task_kwargs``).
        crop_scale: area range of the random resized crop.

    Raises:
        ValueError: for empty or repeated rates.
    """

    name = "prp"
    revision = 3  # 2: [0, 1] target, separate branches; 3: the decoder starts from min(C, decoder_channels)
    category = "spatiotemporal"
    contrastive = False
    paper = "Yao et al. 2020, CVPR"
    paper_recipe = Recipe(
        "sgd", 0.01, 8, 5e-4, 0.9, source="released train_predict.py and config.py (Yao et al., 2020)"
    )
    # The narrower decoder cost ShuffleNet some of its rate accuracy and none of its probe (8 micro epochs, the book's
    # Table 1 run: 45.0% of 4 rates against 50.4% decoding from all 480 channels; probe 12.2 both times, random
    # initialisation 22.6); R(2+1)D, 128 channels either way, is unchanged (55.0%).
    micro_recipe = replace(
        CLASSIFICATION_MICRO_RECIPE,
        task_kwargs={"decoder_channels": 128},
        source=CLASSIFICATION_MICRO_RECIPE.source + "; the decoder from at most 128 channels, 512 at the micro width",
    )

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        rates: tuple[int, ...] = (1, 2, 4, 8),
        recon_weight: float = 1.0,
        cls_weight: float = 0.1,
        motion_focus: bool = True,
        decoder_ups: int = 4,
        decoder_channels: int = 512,
        crop_scale: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        super().__init__(backbone)
        self.sampler = PlaybackRateSampler(frames, tuple(rates))
        self.crop_size, self.crop_scale = crop_size, crop_scale
        self.recon_weight, self.cls_weight, self.motion_focus = recon_weight, cls_weight, motion_focus
        if decoder_channels < 1:
            raise ValueError(f"decoder_channels must be at least 1, got {decoder_channels}")
        channels, decoded = backbone.feature_dim, min(backbone.feature_dim, decoder_channels)
        self.conv6_cls, self.conv6_rec = conv6(channels), conv6(channels, decoded)
        self.head = LinearHead(channels, len(rates))
        self.decoder = ClipDecoder(decoded, (2 * frames, crop_size, crop_size), num_ups=decoder_ups)

    def clip_sampler(self) -> PlaybackRateSampler:
        """Rows (2, 2T) of floor/ceil half-step positions; meta ``rate`` (class) and ``stride``."""
        return self.sampler

    def views(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 (B, 2, 2T, H, W, 3) -> normalised input (B, 3, T, S, S) and [0, 1] target (B, 3, 2T, S, S)."""
        x = to_unit_clips(clips)  # (B, 2, 3, 2T, H, W)
        target = random_resized_crop(x.mean(dim=1), self.crop_size, scale=self.crop_scale, flip_p=0.5)
        return normalize(target[:, :, ::2]), target

    def branches(self, fmap: Tensor) -> tuple[Tensor, Tensor]:
        """Last feature map (B, C, t, h, w) -> rate logits (B, len(rates)) and the clip (B, 3, 2T, S, S)."""
        logits = self.head(self.conv6_cls(fmap).mean(dim=(2, 3, 4)))
        return logits, self.decoder(self.conv6_rec(fmap))

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """Both branches; ``acc`` is the rate accuracy, ``recon`` the reconstruction loss."""
        x, target = self.views(batch["clips"])
        fmap = self.backbone.forward_intermediates(x, indices=1)[-1]  # (B, C, t, h, w)
        logits, reconstruction = self.branches(fmap)
        cls_loss, acc = classification(logits, batch["meta"]["rate"].to(x.device).long())
        err = (reconstruction - target) ** 2
        if self.motion_focus:
            err = err * motion_weights(target, max(self.crop_size // 4, 1))
        recon = err.mean()
        loss = self.recon_weight * recon + self.cls_weight * cls_loss
        return TaskOutput(
            loss,
            {"acc": acc.item(), "chance": chance(logits), "recon": recon.item(), "cls_loss": cls_loss.item()},
            x.shape[0],
        )


register_card(
    MethodCard(
        method="prp",
        kind="pretext",
        title="PRP",
        paper="Yao et al., 2020 (CVPR)",
        code="yuanyao366/PRP",
        summary="Playback rate perception: classify the dilation rate of a clip (discriminative branch) and "
        "reconstruct it at twice the frame rate with a motion-focused weighted L2 (generative branch), "
        "each branch opened by its own conv6; the target is the clip in [0, 1].",
        settings=(
            Setting("clip length (frames)", released=16, ours=default_of(PRP, "frames")),
            Setting("dilation rates", released=[1, 2, 4, 8], ours=default_of(PRP, "rates")),
            Setting("decoder input channels, at most", released=512, ours=default_of(PRP, "decoder_channels")),
            Setting(
                "decoder input channels at micro scale, at most",
                released=512,
                ours=lambda: PRP.task_defaults("micro")["decoder_channels"],
                note="512 at the micro width 0.25; ShuffleNet's 480 channels would otherwise make the branches "
                "85 times the size of its backbone and PRP's steps 2.5 times as slow",
            ),
            Setting(
                "decoder up-sampling stage",
                released="ConvTranspose3d (kernel 2, stride 2) -> Conv3d 3x3x3 -> BN -> ReLU",
                ours=lambda: "ConvTranspose3d (kernel 4, stride 2) -> BN -> ReLU",
                note="one transposed convolution per stage; channels halve at each stage in both",
            ),
            Setting(
                "loss weights (reconstruction, classification)",
                released=[1.0, 0.1],
                ours=lambda: (default_of(PRP, "recon_weight")(), default_of(PRP, "cls_weight")()),
            ),
            Setting(
                "motion weight range",
                released=[0.8, 2.0],
                ours=lambda: (default_of(motion_weights, "low")(), default_of(motion_weights, "high")()),
            ),
            Setting(
                "crop area",
                released=[0.57, 0.57],
                ours=default_of(PRP, "crop_scale"),
                note="a random resized crop (area 0.5-1, flip p 0.5); the released code cuts a fixed 112 x 112 "
                "window of 128 x 171 frames (area 0.57) without flip",
            ),
            Setting(
                "learning rate of the classifier, relative",
                released=10.0,
                ours=lambda: 1.0,
                note="the engine gives every parameter one learning rate",
            ),
            Setting("optimiser", released="sgd", ours=lambda: PRP.paper_recipe.optimizer),
            Setting("learning rate", released=0.01, ours=lambda: PRP.paper_recipe.lr),
            Setting("batch size", released=8, ours=lambda: PRP.paper_recipe.batch_size),
            Setting("weight decay", released=5e-4, ours=lambda: PRP.paper_recipe.weight_decay),
        ),
    )
)
