"""Heads that pretext tasks put on a backbone's pooled features (B, D) or its block outputs.

Generic: :class:`LinearHead`, :class:`MLPHead` (SimCLR / MoCo v2 / BYOL projectors and
predictors). Task-specific: :class:`PairwiseOrderHead` (VCOP) and :class:`ClipDecoder` (PRP's
generative branch). Momentum parts (MoCo, He et al. 2020 §3.2; BYOL's target network):
:func:`frozen_copy`, :func:`momentum_update`, :class:`MomentumEncoder` and :class:`FeatureQueue`.
"""

from __future__ import annotations

import copy
from itertools import combinations
from typing import TypeVar

import torch
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.pretext.distributed import gather_rows, shuffled_forward


class LinearHead(nn.Module):
    """One linear layer on features: (N, in_dim) -> (N, out_dim).

    Args:
        in_dim: feature length.
        out_dim: outputs (classes or embedding length).
        dropout: dropout before the layer.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_dim) -> (N, out_dim)."""
        return self.fc(self.drop(x))


class MLPHead(nn.Module):
    """MLP projector / predictor: (Linear -> [BN] -> ReLU) x (num_layers - 1) -> Linear.

    SimCLR's projection head (Chen et al., 2020 §2.1) with ``num_layers=2``; BYOL's projector
    and predictor (Grill et al., 2020 §3) likewise; SimCLR v2 / MoCo v3 use 3 layers.

    Args:
        in_dim: input length.
        hidden_dim: width of the hidden layers.
        out_dim: output length.
        num_layers: linear layers in total (>= 1; 1 is a linear head).
        batch_norm: BatchNorm1d after each hidden linear layer (needs N > 1 in training).
        last_bn: BatchNorm1d (no affine) on the output as well (SimSiam / MoCo v3 style).

    Raises:
        ValueError: if ``num_layers`` < 1.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        batch_norm: bool = True,
        last_bn: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(dim, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            dim = hidden_dim
        layers.append(nn.Linear(dim, out_dim))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_dim) -> (N, out_dim)."""
        return self.net(x)


class PairwiseOrderHead(nn.Module):
    """VCOP's order head: pairwise-concatenated clip features -> MLP -> permutation logits.

    Xu et al., 2019 (CVPR) §3: each pair (i < j) of the N clip features is concatenated and
    mapped by a shared ``Linear(2D, hidden) -> ReLU``; the pair codes are concatenated, then
    dropout and ``Linear(hidden * N(N-1)/2, num_classes)``.

    Args:
        feature_dim: D, the backbone's feature length.
        num_clips: N clips per video.
        num_classes: permutations to classify (N! for VCOP).
        hidden_dim: width of the pair code (512 in the paper).
        dropout: before the last layer (0.5 in the paper's code).
    """

    def __init__(
        self, feature_dim: int, num_clips: int, num_classes: int, hidden_dim: int = 512, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.pairs = list(combinations(range(num_clips), 2))
        self.pair = nn.Sequential(nn.Linear(2 * feature_dim, hidden_dim), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim * len(self.pairs), num_classes)

    def forward(self, features: Tensor) -> Tensor:
        """Clip features (B, N, D) in shuffled order -> permutation logits (B, num_classes)."""
        i, j = (torch.tensor(side, device=features.device) for side in zip(*self.pairs))
        pairs = torch.cat([features[:, i], features[:, j]], dim=-1)  # (B, P, 2D)
        codes = self.pair(pairs).flatten(1)  # (B, P * hidden)
        return self.fc(self.drop(codes))


class ClipDecoder(nn.Module):
    """Small 3D transposed-conv decoder: block features (B, C, t, h, w) -> clip (B, 3, T, H, W).

    PRP's generative branch (Yao et al., 2020 §3) reconstructs frames from the encoder's
    last feature map. Here: ``num_ups`` stages of ``ConvTranspose3d(k=4, s=2, p=1)`` -> BN -> ReLU
    (channels halved each stage), a ``Conv3d`` to 3 channels, then trilinear resizing to the
    exact target size (so it fits any backbone's down-sampling).

    Args:
        in_channels: C of the feature map.
        out_size: (T, H, W) of the reconstructed clip.
        num_ups: up-sampling stages.
        min_channels: floor on the channels of each stage.
    """

    def __init__(
        self, in_channels: int, out_size: tuple[int, int, int], num_ups: int = 2, min_channels: int = 8
    ) -> None:
        super().__init__()
        self.out_size = tuple(out_size)
        layers: list[nn.Module] = []
        ch = in_channels
        for _ in range(num_ups):
            nxt = max(ch // 2, min_channels)
            layers += [
                nn.ConvTranspose3d(ch, nxt, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm3d(nxt),
                nn.ReLU(inplace=True),
            ]
            ch = nxt
        layers.append(nn.Conv3d(ch, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, t, h, w) -> (B, 3, T, H, W)."""
        y = self.net(x)
        if tuple(y.shape[2:]) != self.out_size:
            y = nn.functional.interpolate(y, size=self.out_size, mode="trilinear", align_corners=False)
        return y


M = TypeVar("M", bound=nn.Module)


def frozen_copy(module: M) -> M:
    """A deep copy of ``module`` whose parameters take no gradient (a momentum / target encoder)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """EMA of parameters: ``target = momentum * target + (1 - momentum) * online`` (MoCo Eq. 2).

    Buffers (BatchNorm statistics) are left to the target's own forward passes, as MoCo does.

    Raises:
        ValueError: if ``momentum`` is outside [0, 1] or the modules differ in parameter count.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    p_online, p_target = list(online.parameters()), list(target.parameters())
    if len(p_online) != len(p_target):
        raise ValueError("online and target modules have different parameters")
    for p_t, p_o in zip(p_target, p_online):
        p_t.mul_(momentum).add_(p_o.detach(), alpha=1.0 - momentum)


class FeatureQueue(nn.Module):
    """A first-in-first-out queue of L2-normalised keys, the negatives of MoCo (He et al., 2020 §3.1).

    Starts with random unit vectors (as MoCo). ``keys`` is (size, dim); ``push`` overwrites
    the oldest entries. Under ``torchrun`` ``push`` enqueues the keys of every process (MoCo's
    ``concat_all_gather`` before ``_dequeue_and_enqueue``), so every process holds the same queue.

    Args:
        dim: key length.
        size: number of keys kept (> 0).

    Raises:
        ValueError: if ``size`` or ``dim`` < 1.
    """

    keys: Tensor
    ptr: Tensor

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"queue size and dim must be >= 1, got {size}, {dim}")
        self.register_buffer("keys", nn.functional.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def push(self, keys: Tensor) -> None:
        """Enqueue (N, dim) keys (normalised and detached here) of every process, dropping the oldest.

        A collective under ``torchrun``: every process pushes at the same step (a task's ``after_step``).
        """
        keys = nn.functional.normalize(gather_rows(keys.detach()), dim=1).to(self.keys.dtype)
        size = self.keys.shape[0]
        keys = keys[-size:]
        rows = (self.ptr + torch.arange(keys.shape[0], device=self.keys.device)) % size
        self.keys[rows] = keys
        self.ptr.copy_((self.ptr + keys.shape[0]) % size)


class MomentumEncoder(nn.Module):
    """Key encoder of MoCo (He et al., 2020 §3.2): a frozen EMA copy of a backbone and its head.

    ``forward`` runs ``head(backbone.forward_features(x))`` without gradient; call
    :meth:`update` after each optimiser step (a task's ``after_step``). With ``shuffle_bn``, in
    training mode under ``torchrun``, the batch is shuffled over processes before the encoder and
    un-shuffled after (MoCo's shuffling BN, §3.3; ``sslvid.pretext.distributed.shuffled_forward``),
    so BatchNorm statistics cannot tell a query its key; with one process it changes nothing.

    Args:
        backbone: the online backbone (copied).
        head: the online head (copied).
        momentum: EMA coefficient m (0.999 in MoCo).
        shuffle_bn: shuffle the batch across processes in training mode (contrastive key encoders).
    """

    def __init__(
        self, backbone: VideoBackbone, head: nn.Module, momentum: float = 0.999, shuffle_bn: bool = False
    ) -> None:
        super().__init__()
        self.backbone, self.head, self.momentum = frozen_copy(backbone), frozen_copy(head), momentum
        self.shuffle_bn = shuffle_bn

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Clips (N, C, T, H, W) -> keys (N, out_dim), no gradient."""
        if self.shuffle_bn and self.training:
            return shuffled_forward(self.encode, x)
        return self.encode(x)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """``head(backbone.forward_features(x))`` on this process's batch alone."""
        return self.head(self.backbone.forward_features(x))

    @torch.no_grad()
    def update(self, backbone: nn.Module, head: nn.Module) -> None:
        """Move the copy towards the online ``backbone`` and ``head``."""
        momentum_update(backbone, self.backbone, self.momentum)
        momentum_update(head, self.head, self.momentum)
