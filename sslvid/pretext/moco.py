"""MoCo v2 on clips: contrast a query view with its momentum-encoded key and a queue of old keys."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import ClipAugment
from sslvid.pretext.base import TASKS, PretextTask, Recipe, TaskOutput
from sslvid.pretext.heads import FeatureQueue, MLPHead, MomentumEncoder
from sslvid.pretext.losses import chance, classification, info_nce_logits
from sslvid.pretext.views import two_view_sampler, view_pair


@TASKS.register("moco_v2")
class MoCoV2(PretextTask):
    """Momentum contrast v2: InfoNCE of a query against its key and a queue of K negatives.

    He et al. 2020 (CVPR) §3.2 and Chen, Fan, Girshick & He 2020 ("Improved Baselines with
    Momentum Contrastive Learning", arXiv 2003.04297) §2: the query encoder is the backbone
    plus an MLP head ``Linear(D, D) -> ReLU -> Linear(D, 128)`` (no BN, as the reference code);
    the key encoder is its momentum copy (m = 0.999). Logits are the query against its key
    (column 0) and the queue's K keys of earlier batches, over temperature 0.2; ``acc`` is the
    contrastive top-1. Views get MoCo v2's augmentation (crop area 0.2-1, flip, jitter
    (0.4, 0.4, 0.4, 0.1) p = 0.8, grayscale p = 0.2, blur p = 0.5), alike over a clip's frames.

    Update order: the reference, inside ``forward``, first moves the key encoder, then
    computes keys, and enqueues them after the loss. Here ``forward`` only computes (and, in
    training mode, remembers the keys); ``after_step`` moves the key encoder towards the
    just-stepped query encoder and enqueues the remembered keys. Both orders give the key
    encoder and the queue the same states at every forward. Keys of several forwards
    between two steps (gradient accumulation) are all enqueued (at most ``queue_size``).
    The queue is a ring buffer (``heads.FeatureQueue``): any batch size works (writes wrap
    around; a batch larger than the queue keeps its last ``queue_size`` keys); under
    ``torchrun`` it enqueues the keys of every process. The key encoder is
    ``heads.MomentumEncoder`` with shuffling BN across processes (§3.3).

    Args:
        backbone: a video backbone (``forward_features`` (B, C, T, H, W) -> (B, D), ``feature_dim``).
        frames: T (1: single frames).
        crop_size: side of the views.
        queue_size: K negatives (65536 in the paper; use a few thousand or the dataset size at
            micro scale, where older keys are stale).
        momentum: m of the key encoder.
        temperature: tau.
        proj_dim: embedding length.
        hidden_dim: MLP hidden width (None: D).
        stride: frame step in a clip.
        distinct_clips: views from two clips at different times instead of one clip twice.
        blur_p: Gaussian blur probability.

    Raises:
        ValueError: for a non-positive ``queue_size`` or a momentum outside [0, 1].
    """

    name = "moco_v2"
    category = "spatial"
    contrastive = True
    paper = "Chen et al. 2020, arXiv 2003.04297"
    paper_recipe = Recipe(
        "sgd", 0.03, 256, 1e-4, 0.9, source="released facebookresearch/moco main_moco.py and its MoCo v2 command"
    )

    def __init__(
        self,
        backbone: VideoBackbone,
        frames: int = 16,
        crop_size: int = 112,
        queue_size: int = 65536,
        momentum: float = 0.999,
        temperature: float = 0.2,
        proj_dim: int = 128,
        hidden_dim: int | None = None,
        stride: int = 1,
        distinct_clips: bool = False,
        blur_p: float = 0.5,
    ) -> None:
        super().__init__(backbone)
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        self.frames, self.stride, self.distinct_clips = frames, stride, distinct_clips
        self.temperature = temperature
        self.augment = ClipAugment(
            crop_size, scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, grayscale_p=0.2, blur_p=blur_p
        )
        dim = backbone.feature_dim
        self.head = MLPHead(dim, hidden_dim or dim, proj_dim, num_layers=2, batch_norm=False)
        self.key_encoder = MomentumEncoder(backbone, self.head, momentum, shuffle_bn=True)
        self.queue = FeatureQueue(proj_dim, queue_size)
        self.pending_keys: list[Tensor] = []

    def clip_sampler(self) -> ClipSampler:
        """One clip per video (two with ``distinct_clips``); see ``sslvid.pretext.views``."""
        return two_view_sampler(self.frames, self.stride, self.distinct_clips)

    def query(self, x: Tensor) -> Tensor:
        """Clips (N, 3, T, H, W) -> L2-normalised queries (N, proj_dim)."""
        return F.normalize(self.head(self.backbone.forward_features(x)), dim=1)

    @torch.no_grad()
    def key(self, x: Tensor) -> Tensor:
        """Clips (N, 3, T, H, W) -> L2-normalised keys (N, proj_dim) of the momentum encoder."""
        return F.normalize(self.key_encoder(x), dim=1)

    def contrast(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (N, 1 + K): ``[q.k, q.queue^T] / tau``, and targets (N,) zeros (He et al. Alg. 1)."""
        return info_nce_logits(q, k, self.queue.keys, self.temperature)

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """InfoNCE of the queries against their keys and the queue; ``acc`` is the contrastive top-1."""
        v1, v2 = view_pair(batch["clips"])
        b = v1.shape[0]
        x = self.augment(torch.cat([v1, v2]))
        q, k = self.query(x[:b]), self.key(x[b:])
        logits, target = self.contrast(q, k)
        loss, acc = classification(logits, target)
        if self.training:
            self.remember(k)
        return TaskOutput(loss, {"acc": acc.item(), "chance": chance(logits)}, b)

    def remember(self, keys: Tensor) -> None:
        """Hold keys (N, proj_dim) for the next ``after_step``, keeping at most ``queue_size``."""
        self.pending_keys.append(keys)
        while sum(len(k) for k in self.pending_keys[1:]) >= len(self.queue.keys):
            self.pending_keys.pop(0)

    @torch.no_grad()
    def after_step(self) -> None:
        """Move the key encoder towards the query encoder (Eq. 2), then enqueue this step's keys."""
        self.key_encoder.update(self.backbone, self.head)
        for keys in self.pending_keys:
            self.queue.push(keys)
        self.pending_keys.clear()


register_card(
    MethodCard(
        method="moco_v2",
        kind="pretext",
        title="MoCo v2",
        paper="Chen et al., 2020 (arXiv 2003.04297)",
        code="facebookresearch/moco",
        summary="A query view against its momentum-encoded key and a queue of earlier keys (InfoNCE), with MoCo "
        "v2's MLP head, blur and cosine schedule.",
        settings=(
            Setting("temperature", released=0.2, ours=default_of(MoCoV2, "temperature")),
            Setting("queue size", released=65536, ours=default_of(MoCoV2, "queue_size")),
            Setting("key encoder momentum", released=0.999, ours=default_of(MoCoV2, "momentum")),
            Setting("projection output", released=128, ours=default_of(MoCoV2, "proj_dim")),
            Setting("blur p", released=0.5, ours=default_of(MoCoV2, "blur_p")),
            Setting("optimiser", released="sgd", ours=lambda: MoCoV2.paper_recipe.optimizer),
            Setting("learning rate", released=0.03, ours=lambda: MoCoV2.paper_recipe.lr),
            Setting("batch size", released=256, ours=lambda: MoCoV2.paper_recipe.batch_size),
            Setting("weight decay", released=1e-4, ours=lambda: MoCoV2.paper_recipe.weight_decay),
        ),
    )
)
