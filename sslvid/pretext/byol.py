"""BYOL on clips: an online network predicts a slow-moving target network's view of the other view."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import (
    color_jitter,
    gaussian_blur,
    normalize,
    random_grayscale,
    random_resized_crop,
    random_solarize,
    to_unit_clips,
)
from sslvid.pretext.base import TASKS, PretextTask, TaskOutput
from sslvid.pretext.heads import MLPHead, MomentumEncoder
from sslvid.pretext.losses import accuracy, negative_cosine
from sslvid.pretext.momentum import cosine_momentum
from sslvid.pretext.views import two_view_sampler, view_pair

JITTER = (0.4, 0.4, 0.2, 0.1)
JITTER_P = 0.8
GRAYSCALE_P = 0.2
"""BYOL's colour augmentation (Grill et al., 2020, App. B, Table 6), the same for both views."""


def byol_view(
    clips: Tensor, size: int, blur_p: float, solarize_p: float, crop_scale: tuple[float, float] = (0.08, 1.0)
) -> Tensor:
    """One BYOL view of each clip, the same draw for all its frames (Grill et al. 2020, App. B).

    Random resized crop + flip, colour jitter (0.4, 0.4, 0.2, 0.1) with p = 0.8, grayscale
    p = 0.2, Gaussian blur p = ``blur_p``, solarize p = ``solarize_p``, then normalisation.

    Args:
        clips: uint8 (N, T, H, W, 3).
        size: output side.
        blur_p: blur probability (1.0 for the first view, 0.1 for the second).
        solarize_p: solarize probability (0.0 and 0.2).
        crop_scale: area range of the crop.

    Returns:
        float (N, 3, T, size, size).
    """
    x = random_resized_crop(to_unit_clips(clips), size, None, scale=crop_scale, flip_p=0.5)
    x = random_grayscale(color_jitter(x, None, *JITTER, p=JITTER_P), None, p=GRAYSCALE_P)
    if blur_p > 0:
        x = gaussian_blur(x, None, p=blur_p)
    if solarize_p > 0:
        x = random_solarize(x, None, solarize_p)
    return normalize(x)


@torch.no_grad()
def retrieval_top1(p: Tensor, z: Tensor) -> Tensor:
    """Fraction of rows of ``p`` (N, D) whose most cosine-similar row of ``z`` (N, D) is their own."""
    sim = F.normalize(p, dim=1) @ F.normalize(z, dim=1).t()
    return accuracy(sim, torch.arange(len(p), device=p.device))


@TASKS.register("byol")
class BYOL(PretextTask):
    """Bootstrap your own latent: regress a momentum target's projection of the other view.

    Grill et al. 2020 (NeurIPS) §3: the online network (backbone, projector, predictor; both
    MLPs ``Linear(., 4096) -> BN -> ReLU -> Linear(4096, 256)``, §3.3) predicts the target
    network's projection of the other view; the target (backbone + projector) is an EMA of
    the online one with tau = 0.996, raised to 1 by a cosine schedule over ``total_steps``
    when given (§3.2). Loss: ``2 - 2 cos(p, z')`` symmetrised over the two views (Eq. 2, the
    sum L + L~), gradients through the online side only. Augmentations are BYOL's asymmetric
    pair (App. B): blur p = 1.0 / 0.1, solarize p = 0 / 0.2.

    ``contrastive = False``: BYOL uses no negatives, so it does not contrast positives against
    negatives (benchmark §3.1); the lightweight study's Table 1 files it under "contrastive
    techniques" anyway. ``acc`` is still a retrieval top-1 for monitoring: the fraction of
    predictions whose most cosine-similar target in the batch is their own other view.

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T (1: single frames).
        crop_size: side of the views.
        tau: base EMA rate of the target.
        total_steps: optimiser steps of the run for the cosine schedule (None: the engine's run
            length, given through ``plan_steps``; constant ``tau`` only when nobody gives one).
        proj_dim: projection (and prediction) length.
        hidden_dim: hidden width of projector and predictor.
        stride: frame step in a clip.
        distinct_clips: views from two clips at different times instead of one clip twice.
        blur_p: blur probabilities of the two views.
        solarize_p: solarize probabilities of the two views.

    Raises:
        ValueError: if ``tau`` is outside [0, 1].
    """

    name = "byol"
    revision = 2  # 2: the target momentum follows its cosine schedule over the run
    category = "spatial"
    contrastive = False
    paper = "Grill et al. 2020, NeurIPS"

    ema_step: Tensor

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        tau: float = 0.996,
        total_steps: int | None = None,
        proj_dim: int = 256,
        hidden_dim: int = 4096,
        stride: int = 1,
        distinct_clips: bool = False,
        blur_p: tuple[float, float] = (1.0, 0.1),
        solarize_p: tuple[float, float] = (0.0, 0.2),
    ) -> None:
        super().__init__(backbone)
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [0, 1], got {tau}")
        self.frames, self.stride, self.distinct_clips, self.crop_size = frames, stride, distinct_clips, crop_size
        self.tau, self.total_steps = tau, total_steps
        self.blur_p, self.solarize_p = tuple(blur_p), tuple(solarize_p)
        self.projector = MLPHead(backbone.feature_dim, hidden_dim, proj_dim, num_layers=2, batch_norm=True)
        self.predictor = MLPHead(proj_dim, hidden_dim, proj_dim, num_layers=2, batch_norm=True)
        self.target_encoder = MomentumEncoder(backbone, self.projector, tau)
        self.register_buffer("ema_step", torch.zeros((), dtype=torch.long))

    def clip_sampler(self) -> ClipSampler:
        """One clip per video (two with ``distinct_clips``); see ``sslvid.pretext.views``."""
        return two_view_sampler(self.frames, self.stride, self.distinct_clips)

    def plan_steps(self, total_steps: int) -> None:
        """Run the cosine schedule over the engine's ``total_steps`` unless the user fixed its length."""
        if self.total_steps is None:
            self.total_steps = total_steps

    @property
    def target_momentum(self) -> float:
        """The EMA rate the next ``after_step`` uses."""
        if self.total_steps is None:
            return self.tau
        return cosine_momentum(self.tau, int(self.ema_step), self.total_steps)

    def predict(self, x: Tensor) -> Tensor:
        """Online predictions (N, proj_dim) of clips (N, 3, T, H, W)."""
        return self.predictor(self.projector(self.backbone.forward_features(x)))

    @torch.no_grad()
    def target(self, x: Tensor) -> Tensor:
        """Target projections (N, proj_dim) of clips (N, 3, T, H, W), without gradients."""
        return self.target_encoder(x)

    @staticmethod
    def loss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
        """Symmetric BYOL loss (Eq. 2): ``(2 - 2 cos(p1, z2)) + (2 - 2 cos(p2, z1))``, batch means."""
        return 4.0 + 2.0 * (negative_cosine(p1, z2) + negative_cosine(p2, z1))

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """The symmetric loss over both views; ``acc`` is the in-batch retrieval top-1."""
        v1, v2 = view_pair(batch["clips"])
        b = v1.shape[0]
        views = zip((v1, v2), self.blur_p, self.solarize_p, strict=True)
        x = torch.cat([byol_view(v, self.crop_size, blur, solarize) for v, blur, solarize in views])
        p, z = self.predict(x), self.target(x)
        loss = self.loss(p[:b], p[b:], z[:b], z[b:])
        acc = (retrieval_top1(p[:b], z[b:]) + retrieval_top1(p[b:], z[:b])) / 2
        return TaskOutput(loss, {"acc": acc.item()}, b)

    @torch.no_grad()
    def after_step(self) -> None:
        """Move the target towards the online network with the current tau, then count the step."""
        self.target_encoder.momentum = self.target_momentum
        self.target_encoder.update(self.backbone, self.projector)
        self.ema_step += 1


register_card(
    MethodCard(
        method="byol",
        kind="pretext",
        title="BYOL",
        paper="Grill et al., 2020 (NeurIPS)",
        code="deepmind/deepmind-research (byol)",
        summary="An online network predicts a momentum target's projection of the other view; no negatives. "
        "On clips: one clip augmented twice (T = 1 gives the image setting of the lightweight study).",
        settings=(
            Setting("target momentum (base)", paper=0.996, where="§3.3", ours=default_of(BYOL, "tau")),
            Setting(
                "projection / prediction hidden width", paper=4096, where="§3.3", ours=default_of(BYOL, "hidden_dim")
            ),
            Setting("projection output", paper=256, where="§3.3", ours=default_of(BYOL, "proj_dim")),
            Setting("crop area", paper=[0.08, 1.0], where="App. B", ours=default_of(byol_view, "crop_scale")),
            Setting("colour jitter (b, c, s, h)", paper=[0.4, 0.4, 0.2, 0.1], where="App. B", ours=lambda: JITTER),
            Setting("colour jitter p", paper=0.8, where="App. B", ours=lambda: JITTER_P),
            Setting("grayscale p", paper=0.2, where="App. B", ours=lambda: GRAYSCALE_P),
            Setting("blur p (view 1, view 2)", paper=[1.0, 0.1], where="App. B", ours=default_of(BYOL, "blur_p")),
            Setting(
                "solarize p (view 1, view 2)", paper=[0.0, 0.2], where="App. B", ours=default_of(BYOL, "solarize_p")
            ),
            Setting(
                "optimiser",
                paper="lars",
                where="§3.3",
                ours=lambda: BYOL.recipe("paper")["optimizer"],
                note="LARS is not among the engine's optimisers; the lightweight study's optimiser is settled "
                "with chapter 9",
            ),
            Setting(
                "batch size",
                paper=4096,
                where="§3.3",
                ours=lambda: BYOL.recipe("paper").get("batch_size", "the profile's"),
                note="no paper recipe registered yet",
            ),
            Setting(
                "weight decay",
                paper=1.5e-6,
                where="§3.3",
                ours=lambda: BYOL.recipe("paper")["weight_decay"],
                note="no paper recipe registered yet: the shared recipe's",
            ),
        ),
    )
)
