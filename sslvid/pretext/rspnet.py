"""RSPNet: relative speed perception plus appearance-focused video instance discrimination."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.transforms import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import FeatureQueue, LinearHead, MomentumEncoder
from sslvid.pretext.losses import chance, classification, info_nce_logits, margin_ranking
from sslvid.pretext.samplers import SpeedPairSampler

CROP_AREA = (0.4, 1.0)
JITTER = (0.4, 0.4, 0.4, 0.4)
JITTER_P = 1.0
GRAYSCALE_P = 0.2
"""Augmentation of the released ``get_transform_vid`` (Chen et al., 2021)."""


@TASKS.register("rspnet")
class RSPNet(PretextTask):
    """Relative speed perception (RSP) and appearance-focused video instance discrimination (A-VID).

    Chen, Huang, He, Long, Zeng, Wen, Tan & Gan, 2021 (AAAI) §3. Three clips per video
    (:class:`SpeedPairSampler`): a query and a key at the same speed from two positions, and
    the key's segment at another speed. One backbone, two linear heads to ``proj_dim``
    (motion ``g_m`` and appearance ``g_a``), L2-normalised; keys from a momentum encoder.

    * RSP: the query must be closer to the same-speed key than to the
      other-speed key in the motion space: ``max(0, margin - (sim(q, k_same) - sim(q, k_other)) / tau)``
      on the logits (cosine / tau), as the released code's ``MarginRankingLoss(margin=2.0)`` on
      ``l_pos`` and ``l_neg_speed`` (:meth:`rsp_loss`): 0.14 in cosine, with 1 / tau the weight
      of a loss on cosines.
    * A-VID: InfoNCE in the appearance space with temperature 0.07 where both
      keys (either speed, same video) are positives of the query, each in its own term, and
      other videos are negatives — a MoCo queue of ``queue_size`` keys (released code 16384)
      or, with ``queue_size=0``, the other videos of the batch.

    Views as the released code makes them: the query and the key are augmented independently,
    and both keys are cut from one augmented key clip (the released ``_diff_speed`` takes every
    frame and every ``s``-th frame of it), so the same-speed and the other-speed key differ only
    in speed: here the two keys are concatenated in time and augmented in one draw
    (:meth:`views`). Augmentation (released ``get_transform_vid``): random resized crop of area
    0.4-1, grayscale p = 0.2, colour jitter (0.4, 0.4, 0.4, 0.4) always, flip p = 0.5.

    Loss = ``avid_weight * (L_avid_same + L_avid_other) + rsp_weight * L_rsp`` (1, 1). Speeds
    default to {1, 2} (released config ``diff_speed: [2]``); the released code picks the
    query's speed per half-batch, here per video. Under ``torchrun`` the key encoder shuffles BN
    across processes (MoCo §3.3) and in-batch negatives come from every process.
    ``acc`` is the A-VID top-1 (same-speed key ranked first); ``rsp_acc`` the share of
    queries closer to the same-speed key.

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T.
        crop_size: side of the crops.
        speeds: playback speeds (frame steps).
        margin: RSP margin on the logits (cosine / ``temperature``).
        temperature: A-VID tau.
        proj_dim: length of each embedding.
        queue_size: negatives kept from earlier batches (0: in-batch).
        momentum: EMA coefficient of the key encoder.
        avid_weight: weight of A-VID.
        rsp_weight: weight of RSP.
    """

    name = "rspnet"
    revision = 2  # 2: one augmented key for both speeds, the released crop and colour, speed ranking on logits
    category = "spatiotemporal"
    contrastive = True
    paper = "Chen et al. 2021, AAAI"
    paper_recipe = Recipe(
        "sgd", 0.05, 32, 1e-4, 0.9, source="released config/pretrain/r2plus1d.jsonnet (Chen et al., 2021)"
    )

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        speeds: tuple[int, ...] = (1, 2),
        margin: float = 2.0,
        temperature: float = 0.07,
        proj_dim: int = 128,
        queue_size: int = 16384,
        momentum: float = 0.999,
        avid_weight: float = 1.0,
        rsp_weight: float = 1.0,
    ) -> None:
        super().__init__(backbone)
        self.sampler = SpeedPairSampler(frames, tuple(speeds))
        self.margin, self.temperature, self.proj_dim = margin, temperature, proj_dim
        self.avid_weight, self.rsp_weight = avid_weight, rsp_weight
        self.augment = ClipAugment(
            crop_size, scale=CROP_AREA, jitter=JITTER, jitter_p=JITTER_P, grayscale_p=GRAYSCALE_P
        )
        self.head = LinearHead(backbone.feature_dim, 2 * proj_dim)  # [appearance | motion], two linear heads
        self.key_encoder = MomentumEncoder(backbone, self.head, momentum, shuffle_bn=True)
        self.queue = FeatureQueue(proj_dim, queue_size) if queue_size > 0 else None
        self._pending: Tensor | None = None

    def clip_sampler(self) -> SpeedPairSampler:
        """[query, same-speed key, other-speed key] per video; meta ``speed``, ``other_speed``."""
        return self.sampler

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Head output (N, 2 * proj_dim) -> unit appearance and motion embeddings."""
        a, m = z.split(self.proj_dim, dim=1)
        return F.normalize(a, dim=1), F.normalize(m, dim=1)

    def views(self, clips: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """uint8 (B, 3, T, H, W, 3) -> query, same-speed key, other-speed key, each (B, 3, T, S, S).

        The query gets its own augmentation; the two keys share one (crop, flip, colour).
        """
        t = clips.shape[2]
        query = self.augment(clips[:, 0])
        keys = self.augment(torch.cat([clips[:, 1], clips[:, 2]], dim=1))  # (B, 3, 2T, S, S), one draw
        return query, keys[:, :, :t], keys[:, :, t:]

    def rsp_loss(self, q_m: Tensor, k_same_m: Tensor, k_other_m: Tensor) -> Tensor:
        """Mean ``max(0, margin - (q.k_same - q.k_other) / tau)`` over unit motion embeddings (N, proj_dim)."""
        sim_same, sim_other = (q_m * k_same_m).sum(dim=1), (q_m * k_other_m).sum(dim=1)
        return margin_ranking(sim_same / self.temperature, sim_other / self.temperature, self.margin)

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """RSP margin ranking + A-VID InfoNCE; ``acc`` is A-VID top-1, ``rsp_acc`` the ranking accuracy."""
        query, key_same, key_other = self.views(batch["clips"])
        b = query.shape[0]
        q_a, q_m = self.split(self.head(self.backbone.forward_features(query)))
        k_a, k_m = self.split(self.key_encoder(torch.cat([key_same, key_other])))
        (k_same_a, k_other_a), (k_same_m, k_other_m) = k_a.split(b), k_m.split(b)
        negatives = self.queue.keys.clone() if self.queue is not None else None
        gather = self.training
        logits, target = info_nce_logits(q_a, k_same_a, negatives, self.temperature, gather)
        loss_same, acc = classification(logits, target)
        loss_other, _ = classification(*info_nce_logits(q_a, k_other_a, negatives, self.temperature, gather))
        sim_same, sim_other = (q_m * k_same_m).sum(dim=1), (q_m * k_other_m).sum(dim=1)
        loss_rsp = self.rsp_loss(q_m, k_same_m, k_other_m)
        loss = self.avid_weight * (loss_same + loss_other) + self.rsp_weight * loss_rsp
        self._pending = k_other_a.detach()
        rsp_acc = (sim_same > sim_other).float().mean()
        return TaskOutput(
            loss,
            {"acc": acc.item(), "chance": chance(logits), "rsp_acc": rsp_acc.item(), "rsp_loss": loss_rsp.item()},
            b,
        )

    @torch.no_grad()
    def after_step(self) -> None:
        """Momentum update of the key encoder, then enqueue this step's appearance keys."""
        self.key_encoder.update(self.backbone, self.head)
        if self.queue is not None and self._pending is not None:
            self.queue.push(self._pending)
        self._pending = None


register_card(
    MethodCard(
        method="rspnet",
        kind="pretext",
        title="RSPNet",
        paper="Chen et al., 2021 (AAAI)",
        code="PeihaoChen/RSPNet",
        summary="Relative speed perception (margin ranking of a same-speed against an other-speed key) plus "
        "appearance-focused instance discrimination (InfoNCE with a MoCo queue). Both keys are cut from one "
        "augmented key clip, and each loss has its own linear head (motion, appearance), as in the released "
        "code (MoCoDiffLossTwoFc).",
        settings=(
            Setting("clip length (frames)", released=16, ours=default_of(RSPNet, "frames")),
            Setting("playback speeds", released=[1, 2], ours=default_of(RSPNet, "speeds")),
            Setting("A-VID temperature", released=0.07, ours=default_of(RSPNet, "temperature")),
            Setting("queue size", released=16384, ours=default_of(RSPNet, "queue_size")),
            Setting("key encoder momentum", released=0.999, ours=default_of(RSPNet, "momentum")),
            Setting("embedding length", released=128, ours=default_of(RSPNet, "proj_dim")),
            Setting("RSP margin (on logits, cosine / tau)", released=2.0, ours=default_of(RSPNet, "margin")),
            Setting(
                "loss weights (A-VID, RSP)",
                released=[1.0, 1.0],
                ours=lambda: (default_of(RSPNet, "avid_weight")(), default_of(RSPNet, "rsp_weight")()),
            ),
            Setting("crop area", released=[0.4, 1.0], ours=lambda: CROP_AREA),
            Setting("colour jitter (b, c, s, h)", released=[0.4, 0.4, 0.4, 0.4], ours=lambda: JITTER),
            Setting("colour jitter p", released=1.0, ours=lambda: JITTER_P),
            Setting("grayscale p", released=0.2, ours=lambda: GRAYSCALE_P),
            Setting("optimiser", released="sgd", ours=lambda: RSPNet.paper_recipe.optimizer),
            Setting("learning rate (R(2+1)D)", released=0.05, ours=lambda: RSPNet.paper_recipe.lr),
            Setting("batch size (R(2+1)D)", released=32, ours=lambda: RSPNet.paper_recipe.batch_size),
            Setting("weight decay", released=1e-4, ours=lambda: RSPNet.paper_recipe.weight_decay),
        ),
    )
)
