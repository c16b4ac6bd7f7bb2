"""Big-capacity backbone: Video Swin-T (Liu et al., 2022), from torchvision's ``SwinTransformer3d``.

The benchmark paper's big-capacity network (§3.2). Clips are ``(B, C, T, H, W)``; inside,
Swin works channels-last ``(B, T, H, W, C)``, and ``forward_intermediates`` returns the
clip layout ``(B, C, T, H, W)`` like every other backbone.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn
from torchvision.models.video.swin_transformer import PatchEmbed3d, SwinTransformer3d

from sslvid.backbones.base import BACKBONES, VideoBackbone, scale_width, shared_builder_doc


def heads_for(dim: int, head_dim: int = 32) -> int:
    """Attention heads for a stage of ``dim`` channels: ``dim // head_dim``, at least 1, dividing ``dim``.

    At width 1.0 this gives Swin-T's 3, 6, 12, 24 heads (Liu et al., 2022, §3.3); narrower
    networks keep heads of about ``head_dim`` channels instead of very thin ones.
    """
    heads = max(1, dim // head_dim)
    while dim % heads:
        heads -= 1
    return heads


class SwinTransformer3dBackbone(VideoBackbone):
    """Video Swin Transformer (Liu et al., 2022, §3) with the shared backbone face.

    Built from torchvision's ``SwinTransformer3d`` parts: ``stem`` is the 3D patch embedding,
    ``stage1`` the first Swin stage, and ``stage2``-``stage4`` patch merging + a Swin stage.
    Features are the final layer norm then global average pooling, as in torchvision.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: multiplier of ``embed_dim`` (96 for Swin-T); heads follow :func:`heads_for`.
        depths: Swin blocks per stage.
        patch_size: (t, h, w) of the patches.
        window_size: (t, h, w) attention window; torchvision shrinks it to small inputs.
        drop_path: stochastic depth rate (torchvision's swin3d_t: 0.1).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.
    """

    block_names: tuple[str, ...] = ("stem", "stage1", "stage2", "stage3", "stage4")

    def __init__(
        self,
        num_classes: int = 0,
        width: float = 1.0,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        patch_size: tuple[int, int, int] = (2, 4, 4),
        window_size: tuple[int, int, int] = (8, 7, 7),
        drop_path: float = 0.1,
        in_channels: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        embed_dim = scale_width(96, width, 8)
        swin = SwinTransformer3d(
            patch_size=list(patch_size),
            embed_dim=embed_dim,
            depths=list(depths),
            num_heads=[heads_for(embed_dim * 2**i) for i in range(len(depths))],
            window_size=list(window_size),
            stochastic_depth_prob=drop_path,
            num_classes=1,
            patch_embed=partial(PatchEmbed3d, in_channels=in_channels),
        )
        self.stem = nn.Sequential(swin.patch_embed, swin.pos_drop)
        self.stage1 = swin.features[0]
        for i in range(1, len(depths)):
            setattr(self, f"stage{i + 1}", nn.Sequential(swin.features[2 * i - 1], swin.features[2 * i]))
        self.block_names = ("stem", *(f"stage{i + 1}" for i in range(len(depths))))
        self.norm = swin.norm
        self.build_head(swin.num_features, num_classes, dropout)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh linear head, truncated-normal initialised as in Swin (0: identity)."""
        super().reset_classifier(num_classes)
        if isinstance(self.fc, nn.Linear):
            nn.init.trunc_normal_(self.fc.weight, std=0.02)

    def to_clip_layout(self, x: Tensor) -> Tensor:
        """Channels-last ``(B, T, H, W, C)`` -> ``(B, C, T, H, W)``."""
        return x.permute(0, 4, 1, 2, 3)

    def pool(self, x: Tensor) -> Tensor:
        """Layer norm, then mean over tokens: ``(B, T, H, W, C)`` -> ``(B, C)``."""
        return self.norm(x).mean(dim=(1, 2, 3))


@BACKBONES.register("swin3d_t", capacity="big", paper="Liu et al. 2022 (Video Swin)")
@shared_builder_doc
def swin3d_t(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0, drop_path: float = 0.1
) -> SwinTransformer3dBackbone:
    """Video Swin-T (Liu et al., 2022, §3.3): embed 96, depths 2-2-6-2, heads 3-6-12-24, patch 2x4x4, window 8x7x7.

    The benchmark paper's big-capacity network (§3.2); works on clips (B, C, T, H, W) of any
    size, e.g. 8x32x32 (micro) and 16x112x112 (paper).

    Args:
        width: multiplier of the embedding width (1.0: Swin-T).
        in_channels: channels C of the input clips.
        drop_path: stochastic depth rate.
    """
    return SwinTransformer3dBackbone(
        num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout, drop_path=drop_path
    )
