"""Small-capacity backbones: 3D ShuffleNet V1, SqueezeNet 1.1 and MobileNetV2.

The 3D versions of Köpüklü et al., "Resource Efficient 3D Convolutional Neural Networks"
(ICCVW 2019, §3), used as the small-capacity networks of the benchmark paper (§3.2).
Clips are ``(B, C, T, H, W)``. ``width=1.0`` is the network the benchmark uses; smaller
widths scale every channel count (the CPU "micro" scale).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sslvid.backbones.base import BACKBONES, VideoBackbone, conv_bn_act, init_conv_bn, scale_width, shared_builder_doc

# ShuffleNet V1 stage widths at 1.0x for each number of groups (Zhang et al., 2018, Table 1).
_SHUFFLENET_STAGE_CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups (Zhang et al., 2018, §3.1); x is (B, C, T, H, W)."""
    b, c, t, h, w = x.shape
    return x.view(b, groups, c // groups, t, h, w).transpose(1, 2).reshape(b, c, t, h, w)


class ShuffleUnit3d(nn.Module):
    """ShuffleNet V1 unit in 3D (Zhang et al., 2018, Fig. 2b/c; Köpüklü et al., 2019, §3).

    Grouped 1x1x1 conv -> channel shuffle -> depthwise 3x3x3 conv -> grouped 1x1x1 conv, added
    to the input (stride 1) or concatenated with an average-pooled input (stride 2).

    Args:
        in_channels: input channels.
        out_channels: output channels of the unit (including the shortcut's when stride 2).
        stride: 1 or 2 (2 halves T, H and W).
        groups: groups of the 1x1x1 convolutions.
        first_groups: groups of the first 1x1x1 conv (1 for the network's first unit).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int, first_groups: int) -> None:
        super().__init__()
        self.stride = stride
        self.groups = groups
        mid = out_channels // 4
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        self.compress = conv_bn_act(in_channels, mid, 1, groups=first_groups)
        self.depthwise = conv_bn_act(mid, mid, 3, stride=stride, groups=mid, act=None)
        self.expand = conv_bn_act(mid, branch_out, 1, groups=groups, act=None)
        self.relu = nn.ReLU(inplace=True)
        # Köpüklü et al. pool the shortcut with a (2, 3, 3) kernel; 3x3x3 on a zero-padded input
        # matches the strided conv's output size for any T, H, W (odd or 1 included), which
        # AvgPool3d's own padding does not allow for inputs smaller than the kernel.
        self.shortcut = (
            nn.Sequential(nn.ConstantPad3d(1, 0.0), nn.AvgPool3d(3, stride=2)) if stride == 2 else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C_in, T, H, W) -> (B, C_out, T', H', W')."""
        out = channel_shuffle(self.compress(x), self.groups)
        out = self.expand(self.depthwise(out))
        if self.stride == 2:
            return self.relu(torch.cat([out, self.shortcut(x)], dim=1))
        return self.relu(out + x)


class ShuffleNet3d(VideoBackbone):
    """3D ShuffleNet V1 (Zhang et al., 2018; 3D version: Köpüklü et al., 2019, §3).

    Stem conv 3x3x3 (stride 1,2,2) + max-pool, then stages 2-4 of 4, 8, 4 units.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: multiplier of the study's channel widths; 1.0 is ShuffleNet V1 ``scale``x.
        scale: ShuffleNet's own width multiplier (the benchmark uses "2.0x", §3.2).
        groups: groups of the pointwise convolutions (1, 2, 3, 4 or 8).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.

    Raises:
        ValueError: for unsupported ``groups`` or a non-positive width.
    """

    block_names = ("stem", "stage2", "stage3", "stage4")

    def __init__(
        self,
        num_classes: int = 0,
        width: float = 1.0,
        scale: float = 2.0,
        groups: int = 3,
        in_channels: int = 3,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if groups not in _SHUFFLENET_STAGE_CHANNELS:
            raise ValueError(f"groups must be one of {sorted(_SHUFFLENET_STAGE_CHANNELS)}, got {groups}")
        stem = scale_width(24, width * scale, groups)
        stages = [scale_width(c, width * scale, 4 * groups) for c in _SHUFFLENET_STAGE_CHANNELS[groups]]
        self.stem = nn.Sequential(
            conv_bn_act(in_channels, stem, 3, stride=(1, 2, 2)), nn.MaxPool3d(3, stride=2, padding=1)
        )
        channels = stem
        for name, out, repeats in zip(self.block_names[1:], stages, (4, 8, 4)):
            units = []
            for i in range(repeats):
                # Zhang et al. §3.3: the first pointwise conv after the narrow stem is not grouped.
                first_groups = 1 if name == "stage2" and i == 0 else groups
                units.append(ShuffleUnit3d(channels, out, 2 if i == 0 else 1, groups, first_groups))
                channels = out
            setattr(self, name, nn.Sequential(*units))
        init_conv_bn(self)
        self.build_head(channels, num_classes, dropout)


class Fire3d(nn.Module):
    """SqueezeNet Fire module in 3D (Iandola et al., 2016, §3.2): squeeze 1x1x1, expand 1x1x1 + 3x3x3.

    Args:
        in_channels: input channels.
        squeeze: channels of the squeeze layer.
        expand: channels of each expand branch (output has ``2 * expand``).
        bypass: add the input to the output (simple bypass, Iandola et al. §6); needs
            ``in_channels == 2 * expand``.
    """

    def __init__(self, in_channels: int, squeeze: int, expand: int, bypass: bool = False) -> None:
        super().__init__()
        self.bypass = bypass
        self.squeeze = conv_bn_act(in_channels, squeeze, 1)
        self.expand1x1 = conv_bn_act(squeeze, expand, 1, act=None)
        self.expand3x3 = conv_bn_act(squeeze, expand, 3, act=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C_in, T, H, W) -> (B, 2 * expand, T, H, W)."""
        s = self.squeeze(x)
        out = torch.cat([self.expand1x1(s), self.expand3x3(s)], dim=1)
        if self.bypass:
            out = out + x
        return self.relu(out)


class SqueezeNet3d(VideoBackbone):
    """3D SqueezeNet 1.1 with simple bypass (Iandola et al., 2016; 3D: Köpüklü et al., 2019, §3).

    Stem conv 3x3x3 (stride 1,2,2), then four max-pool + two Fire module stages.
    The classifier is pooling then a linear layer (Köpüklü et al.: 1x1x1 conv, ReLU, pooling).

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier (1.0: SqueezeNet 1.1).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.
    """

    block_names = ("stem", "stage1", "stage2", "stage3", "stage4")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()

        def c(channels: int) -> int:
            return scale_width(channels, width)

        self.stem = conv_bn_act(in_channels, c(64), 3, stride=(1, 2, 2))
        channels = c(64)
        for name, (squeeze, expand) in zip(self.block_names[1:], ((16, 64), (32, 128), (48, 192), (64, 256))):
            s, e = c(squeeze), c(expand)
            setattr(
                self,
                name,
                nn.Sequential(
                    nn.MaxPool3d(3, stride=2, padding=1), Fire3d(channels, s, e), Fire3d(2 * e, s, e, bypass=True)
                ),
            )
            channels = 2 * e
        init_conv_bn(self)
        self.build_head(channels, num_classes, dropout)


class InvertedResidual3d(nn.Module):
    """MobileNetV2 inverted residual block in 3D (Sandler et al., 2018, §3.3, Table 1).

    1x1x1 expansion (skipped when ``expand_ratio == 1``) -> depthwise 3x3x3 -> linear 1x1x1
    projection; residual when the stride is 1 and channels match.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the depthwise conv, 1 or (s_t, s_h, s_w).
        expand_ratio: expansion factor t.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int | tuple[int, int, int], expand_ratio: int
    ) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        strides = (stride,) * 3 if isinstance(stride, int) else stride
        self.use_residual = all(s == 1 for s in strides) and in_channels == out_channels
        layers = [] if expand_ratio == 1 else [conv_bn_act(in_channels, hidden, 1, act=nn.ReLU6)]
        layers += [
            conv_bn_act(hidden, hidden, 3, stride=strides, groups=hidden, act=nn.ReLU6),
            conv_bn_act(hidden, out_channels, 1, act=None),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C_in, T, H, W) -> (B, C_out, T', H', W')."""
        out = self.conv(x)
        return x + out if self.use_residual else out


# (expansion t, channels c, repeats n, stride s) of Sandler et al. Table 2; 3D strides of Köpüklü et al.
_MOBILENETV2_SETTINGS = (
    (1, 16, 1, (1, 1, 1)),
    (6, 24, 2, (2, 2, 2)),
    (6, 32, 3, (2, 2, 2)),
    (6, 64, 4, (2, 2, 2)),
    (6, 96, 3, (1, 1, 1)),
    (6, 160, 3, (2, 2, 2)),
    (6, 320, 1, (1, 1, 1)),
)


class MobileNetV23d(VideoBackbone):
    """3D MobileNetV2 (Sandler et al., 2018; 3D: Köpüklü et al., 2019, §3).

    Stem conv 3x3x3 (stride 1,2,2), seven bottleneck stages, a 1x1x1 conv to 1280 channels.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier, channels rounded to multiples of 8 (1.0: MobileNetV2 1.0x).
            Unlike Köpüklü et al., the last conv's 1280 channels scale too when width < 1.
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.
    """

    block_names = ("stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "conv_last")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        channels = scale_width(32, width, 8)
        self.stem = conv_bn_act(in_channels, channels, 3, stride=(1, 2, 2), act=nn.ReLU6)
        for name, (t, c, n, s) in zip(self.block_names[1:-1], _MOBILENETV2_SETTINGS):
            out = scale_width(c, width, 8)
            blocks = []
            for i in range(n):
                blocks.append(InvertedResidual3d(channels, out, s if i == 0 else 1, t))
                channels = out
            setattr(self, name, nn.Sequential(*blocks))
        last = scale_width(1280, width, 8)
        self.conv_last = conv_bn_act(channels, last, 1, act=nn.ReLU6)
        init_conv_bn(self)
        self.build_head(last, num_classes, dropout)


@BACKBONES.register("shufflenet3d", capacity="small", paper="Köpüklü et al. 2019; Zhang et al. 2018")
@shared_builder_doc
def shufflenet3d(
    num_classes: int = 0, width: float = 1.0, groups: int = 3, in_channels: int = 3, dropout: float = 0.2
) -> ShuffleNet3d:
    """3D ShuffleNet V1 (Zhang et al., 2018; Köpüklü et al., 2019); width 1.0 is the benchmark's "2.0x" (§3.2).

    ``width`` multiplies the 2.0x channels (so ``width=0.5`` is ShuffleNet V1 1.0x), keeping one
    convention for every backbone: ``width=1.0`` is the network of the benchmark paper.

    Args:
        width: channel multiplier relative to ShuffleNet V1 2.0x; e.g. 0.25 for "micro".
        groups: groups of the pointwise convolutions (1, 2, 3, 4 or 8; the benchmark: 3).

    Raises:
        ValueError: for unsupported groups, a non-positive width or negative num_classes.
    """
    return ShuffleNet3d(
        num_classes=num_classes, width=width, scale=2.0, groups=groups, in_channels=in_channels, dropout=dropout
    )


@BACKBONES.register("squeezenet3d", capacity="small", paper="Köpüklü et al. 2019; Iandola et al. 2016")
@shared_builder_doc
def squeezenet3d(num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.5) -> SqueezeNet3d:
    """3D SqueezeNet 1.1 with simple bypass (Iandola et al., 2016; Köpüklü et al., 2019), small capacity (§3.2)."""
    return SqueezeNet3d(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)


@BACKBONES.register("mobilenetv2_3d", capacity="small", paper="Köpüklü et al. 2019; Sandler et al. 2018")
@shared_builder_doc
def mobilenetv2_3d(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.2
) -> MobileNetV23d:
    """3D MobileNetV2 1.0x (Sandler et al., 2018; Köpüklü et al., 2019), small capacity (§3.2)."""
    return MobileNetV23d(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)
