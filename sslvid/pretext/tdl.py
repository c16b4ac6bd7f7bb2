"""TDL: temporal triplets — pull an anchor to its augmented self, push away its other time segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.transforms import (
    KINETICS_MEAN,
    Generatorish,
    color_jitter,
    make_generator,
    normalize,
    random_crop,
    random_rotation,
    static_frame_mixup,
    to_unit_clips,
)
from sslvid.pretext.base import MOMENTUM_QUEUE_MICRO_RECIPE, TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import FeatureQueue, LinearHead, MomentumEncoder
from sslvid.pretext.losses import chance, classification, info_nce_logits, triplet_margin
from sslvid.pretext.samplers import TripletSampler


@dataclass
class TDLAugment:
    """TDL's released training transform, drawn once per clip: uint8 frames -> normalised clips.

    Wang et al., 2020, released ``src/data/config.py`` (``augmentation_config``):
    ``RandomRotation(10)``, ``Resize(128)``, ``RandomCrop(112)``, ``ColorJitter(0.5, 0.5, 0.25, 0.5)``,
    normalisation. Here the frames come resized from the clip cache, the jitter's four factors
    are all applied in a fixed order (:func:`color_jitter`; the released loop keeps only the last
    of its shuffled ops, each being applied to the unjittered frame), and the normalisation is
    the Kinetics one every task and evaluation here shares (released: ImageNet's).

    Args:
        size: side of the crop.
        degrees: largest rotation.
        jitter: (brightness, contrast, saturation, hue) strengths.
    """

    size: int
    degrees: float = 10.0
    jitter: tuple[float, float, float, float] = (0.5, 0.5, 0.25, 0.5)

    def __call__(self, clips: torch.Tensor, generator: Generatorish = None) -> torch.Tensor:
        """uint8 (N, T, H, W, 3) -> float (N, 3, T, size, size)."""
        gen = make_generator(generator)
        x = random_crop(random_rotation(to_unit_clips(clips), self.degrees, gen), self.size, gen)
        return normalize(color_jitter(x, gen, *self.jitter, p=1.0))


@TASKS.register("tdl")
class TDL(PretextTask):
    """Video-based temporal-discriminative learning (VTDL) with temporal triplets.

    Wang, Lin, Ma & Yuen, 2020 ("Self-supervised Temporal Discriminative Learning for Video
    Representation Learning", arXiv 2008.02129) §3. What is implemented:

    * triplet (:class:`TripletSampler`): the anchor and the positive share one time
      segment of a video; the negative is another segment of the same video, at least
      ``min_gap`` frames away (same appearance, different time);
    * views: each of the three gets its own clip-consistent draw of the released code's
      training transform (``augmentation_config`` in ``src/data/config.py``; the paper names
      no spatial augmentation): rotation within +-10 degrees, a fixed-size random crop of the
      resized frame (``crop_size`` from the cached frames, not resized), colour jitter
      (0.5, 0.5, 0.25, 0.5) always, no flip, no grayscale (:class:`TDLAugment`). The released
      ``--crop 0.2`` flag is parsed but never used. The positive additionally gets Temporal
      Consistent Augmentation (TCA: intra-video mixup with one static frame,
      ``lam ~ U(0, tca_alpha)``, :func:`static_frame_mixup`);
    * loss: InfoNCE with temperature ``temperature`` where the anchor's positive is the
      positive's key, and its negatives are the temporal negative plus the keys of other
      videos — a MoCo queue of ``queue_size`` keys (released code: 16384) or, with
      ``queue_size=0``, the other videos of the batch;
    * keys of positives come from a momentum encoder (m = ``momentum``, released code
      0.999); anchor and temporal negative go through the online encoder (gradient on both);
      a linear head to 128-d, L2-normalised.

    Deviations: the released code applies TCA to the anchor (the paper to the positive;
    the roles are symmetric); the code's minimum gap between anchor and negative is 2 frames,
    here half a clip span by default. Under ``torchrun`` the key encoder shuffles BN across
    processes (MoCo §3.3) and in-batch negatives come from every process. The
    released code also computes a triplet margin loss (margin 1) on (anchor, positive key,
    negative) but leaves it out of the total; ``triplet_weight`` > 0 adds it back.
    ``acc`` is the contrastive top-1: the positive key ranked above the temporal negative and
    every other video.

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T.
        crop_size: side of the crops.
        stride: frame step in a clip (released code: 4).
        min_gap: smallest anchor-negative start distance (None: half the clip span).
        temperature: InfoNCE tau (0.07).
        proj_dim: embedding length (128).
        queue_size: negatives kept from earlier batches (0: in-batch negatives).
        momentum: EMA coefficient of the key encoder.
        tca_alpha: upper bound of the TCA mixing weight (0.1).
        triplet_weight: weight of an added triplet margin loss (0: not used, as released).
    """

    name = "tdl"
    revision = 2  # 2: the released training transform
    category = "temporal"
    contrastive = True
    paper = "Wang et al. 2020, arXiv 2008.02129"
    paper_recipe = Recipe("sgd", 0.003, 128, 1e-4, 0.9, source="released train_temporal_dis.py (Wang et al., 2020)")
    micro_recipe = MOMENTUM_QUEUE_MICRO_RECIPE

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        stride: int = 4,
        min_gap: int | None = None,
        temperature: float = 0.07,
        proj_dim: int = 128,
        queue_size: int = 16384,
        momentum: float = 0.999,
        tca_alpha: float = 0.1,
        triplet_weight: float = 0.0,
    ) -> None:
        super().__init__(backbone)
        self.sampler = TripletSampler(frames, stride, min_gap)
        self.temperature, self.tca_alpha, self.triplet_weight = temperature, tca_alpha, triplet_weight
        self.augment = TDLAugment(crop_size)
        self.head = LinearHead(backbone.feature_dim, proj_dim)
        self.key_encoder = MomentumEncoder(backbone, self.head, momentum, shuffle_bn=True)
        self.queue = FeatureQueue(proj_dim, queue_size) if queue_size > 0 else None
        self._pending: torch.Tensor | None = None

    def clip_sampler(self) -> TripletSampler:
        """Two segments per video: [anchor/positive segment, temporal negative]."""
        return self.sampler

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (N, 3, T, S, S) -> unit embeddings (N, proj_dim) from the online encoder."""
        return F.normalize(self.head(self.backbone.forward_features(x)), dim=1)

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """InfoNCE over [positive, temporal negative, other videos]; ``acc`` is its top-1."""
        clips = batch["clips"]  # (B, 2, T, H, W, 3)
        b = clips.shape[0]
        views = self.augment(torch.cat([clips[:, 0], clips[:, 1], clips[:, 0]]))
        anchor_neg, positive = views[: 2 * b], static_frame_mixup(views[2 * b :], alpha=self.tca_alpha)
        q, n = self.embed(anchor_neg).split(b)
        k = F.normalize(self.key_encoder(positive), dim=1)
        logits, target = info_nce_logits(
            q,
            k,
            self.queue.keys.clone() if self.queue is not None else None,
            self.temperature,
            gather_distributed=self.training,
        )
        l_temporal = (q * n).sum(dim=1, keepdim=True) / self.temperature
        logits = torch.cat([logits, l_temporal], dim=1)
        loss, acc = classification(logits, target)
        if self.triplet_weight > 0:
            loss = loss + self.triplet_weight * triplet_margin(q, k, n, margin=1.0)
        self._pending = k.detach()
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, b)

    @torch.no_grad()
    def after_step(self) -> None:
        """Momentum update of the key encoder, then enqueue this step's keys."""
        self.key_encoder.update(self.backbone, self.head)
        if self.queue is not None and self._pending is not None:
            self.queue.push(self._pending)
        self._pending = None


register_card(
    MethodCard(
        method="tdl",
        kind="pretext",
        title="TDL",
        paper="Wang et al., 2020 (arXiv 2008.02129)",
        code="FingerRec/Self-Supervised-Temporal-Discriminative-Representation-Learning-for-Video-Action-Recognition",
        summary="Temporal triplets: an anchor is pulled to its TCA-mixed self (momentum keys, MoCo queue) and pushed "
        "from another time segment of the same video. The released code applies TCA to the anchor, ours to "
        "the positive (the roles are symmetric).",
        settings=(
            Setting("frame stride", released=4, ours=default_of(TDL, "stride")),
            Setting(
                "smallest anchor-negative gap (frames)",
                released=2,
                ours=lambda: default_of(TDL, "min_gap")() or "half the clip span",
                note="the temporal negative then shares few frames with the anchor",
            ),
            Setting("temperature", released=0.07, ours=default_of(TDL, "temperature")),
            Setting("queue size", released=16384, ours=default_of(TDL, "queue_size")),
            Setting("key encoder momentum", released=0.999, ours=default_of(TDL, "momentum")),
            Setting(
                "queue size at micro scale",
                released=16384,
                ours=lambda: TDL.task_defaults("micro")["queue_size"],
                note="the queue keeps its share of the pre-training set (a quarter of the micro set's 500 videos; "
                "16,384 is a third of K400-50k) instead of outnumbering its videos (MOMENTUM_QUEUE_MICRO_RECIPE)",
            ),
            Setting(
                "key encoder momentum at micro scale",
                released=0.999,
                ours=lambda: TDL.task_defaults("micro")["momentum"],
                note="over a micro run's 64 steps 0.999 leaves the key encoder at its random initialisation and "
                "TDL's accuracy at 0 (MOMENTUM_QUEUE_MICRO_RECIPE)",
            ),
            Setting("triplet loss weight", released=0.0, ours=default_of(TDL, "triplet_weight")),
            Setting("rotation (degrees)", released=10.0, ours=default_of(TDLAugment, "degrees")),
            Setting(
                "colour jitter (b, c, s, h)", released=[0.5, 0.5, 0.25, 0.5], ours=default_of(TDLAugment, "jitter")
            ),
            Setting(
                "normalisation mean",
                released=[0.485, 0.456, 0.406],
                ours=lambda: KINETICS_MEAN,
                note="the Kinetics statistics every task and evaluation here shares",
            ),
            Setting("optimiser", released="sgd", ours=lambda: TDL.paper_recipe.optimizer),
            Setting("learning rate", released=0.003, ours=lambda: TDL.paper_recipe.lr),
            Setting("batch size", released=128, ours=lambda: TDL.paper_recipe.batch_size),
            Setting("weight decay", released=1e-4, ours=lambda: TDL.paper_recipe.weight_decay),
        ),
    )
)
