"""Medium-capacity backbones: C3D, R3D-18 and R(2+1)D-18 (benchmark paper §3.2).

Clips are ``(B, C, T, H, W)``. At ``width=1.0`` R3D-18 and R(2+1)D-18 have exactly the
modules of ``torchvision.models.video.r3d_18`` / ``r2plus1d_18`` (same state-dict keys and
shapes, same outputs), so torchvision's weights load unchanged; smaller widths scale channels.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from sslvid.backbones.base import BACKBONES, VideoBackbone, conv_bn_act, init_conv_bn, scale_width, shared_builder_doc


class C3D(VideoBackbone):
    """C3D (Tran et al., 2015, §3.3) with batch norm and global average pooling, as in VCOP.

    Eight 3x3x3 convs in five blocks (64, 128, 2x256, 2x512, 2x512 channels), max-pooling
    (1,2,2) after block 1 and (2,2,2) after blocks 2-4; the fc6/fc7 layers are replaced by
    global average pooling as in VCOP's C3D (Xu et al., 2019, implementation details), so any
    clip size works.
    Pooling uses ``ceil_mode`` so that 1-frame feature maps (tiny clips) are pooled to 1.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier (feature_dim is ``512 * width``).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.
    """

    block_names = ("conv1", "conv2", "conv3", "conv4", "conv5")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        plan = ((64,), (128,), (256, 256), (512, 512), (512, 512))
        pools: tuple[tuple[int, int, int] | None, ...] = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2), None)
        channels = in_channels
        for name, widths, pool in zip(self.block_names, plan, pools):
            layers: list[nn.Module] = []
            for w in widths:
                layers.append(conv_bn_act(channels, scale_width(w, width), 3))
                channels = scale_width(w, width)
            if pool is not None:
                layers.append(nn.MaxPool3d(pool, stride=pool, ceil_mode=True))
            setattr(self, name, nn.Sequential(*layers))
        init_conv_bn(self)
        self.build_head(channels, num_classes, dropout)


def conv3d_full(in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> nn.Module:
    """Full 3x3x3 conv of R3D (Tran et al., 2018, §3.3); ``midplanes`` is unused."""
    return nn.Conv3d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv2plus1d(in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> nn.Module:
    """(2+1)D conv (Tran et al., 2018, §3.5): 1x3x3 spatial -> BN -> ReLU -> 3x1x1 temporal."""
    return nn.Sequential(
        nn.Conv3d(in_planes, midplanes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(midplanes),
        nn.ReLU(inplace=True),
        nn.Conv3d(midplanes, out_planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
    )


ConvBuilder = Callable[[int, int, int, int], nn.Module]


class BasicBlock3d(nn.Module):
    """Two-conv residual block of the 18-layer video ResNets (Tran et al., 2018, §3).

    ``midplanes = (in * out * 27) // (in * 9 + 3 * out)`` makes a (2+1)D conv cost about as
    many parameters as the full 3D one (Tran et al., 2018, §3.5); both convs use it, as in
    torchvision.

    Args:
        in_planes: input channels.
        planes: output channels.
        conv: builder of one spatiotemporal conv, ``conv(in, out, midplanes, stride)``.
        stride: stride of the first conv (and of the 1x1x1 shortcut projection).
    """

    def __init__(self, in_planes: int, planes: int, conv: ConvBuilder, stride: int = 1) -> None:
        super().__init__()
        midplanes = (in_planes * planes * 27) // (in_planes * 9 + 3 * planes)
        self.conv1 = nn.Sequential(
            conv(in_planes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv(planes, planes, midplanes, 1), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C_in, T, H, W) -> (B, planes, T', H', W')."""
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


class VideoResNet18(VideoBackbone):
    """18-layer video ResNet, R3D or R(2+1)D (Tran et al., 2018, §3, Table 1).

    Stem, then four stages of two basic blocks (64, 128, 256, 512 channels; stages 2-4 halve
    T, H and W); module names and order follow torchvision's ``VideoResNet``.

    Args:
        stem: the stem module, mapping clips to ``scale_width(64, width)`` channels.
        conv: builder of the spatiotemporal convs (``conv3d_full`` or ``conv2plus1d``).
        num_classes: outputs of the linear head ``fc`` (0: none).
        width: channel multiplier.
        dropout: dropout before the linear head.
    """

    block_names = ("stem", "layer1", "layer2", "layer3", "layer4")

    def __init__(
        self, stem: nn.Module, conv: ConvBuilder, num_classes: int = 0, width: float = 1.0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.stem = stem
        channels = scale_width(64, width)
        for i, name in enumerate(self.block_names[1:]):
            planes, stride = scale_width(64 * 2**i, width), 1 if i == 0 else 2
            setattr(
                self,
                name,
                nn.Sequential(BasicBlock3d(channels, planes, conv, stride), BasicBlock3d(planes, planes, conv)),
            )
            channels = planes
        init_conv_bn(self)
        self.build_head(channels, num_classes, dropout)


def r3d_stem(in_channels: int, out_channels: int) -> nn.Sequential:
    """R3D stem: 3x7x7 conv, stride (1, 2, 2) -> BN -> ReLU (Tran et al., 2018, Table 1)."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def r2plus1d_stem(in_channels: int, mid_channels: int, out_channels: int) -> nn.Sequential:
    """R(2+1)D stem: 1x7x7 conv (stride 1,2,2) then 3x1x1 conv, each -> BN -> ReLU (Tran et al., 2018)."""
    return nn.Sequential(
        nn.Conv3d(in_channels, mid_channels, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid_channels),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid_channels, out_channels, (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


@BACKBONES.register("c3d", capacity="medium", paper="Tran et al. 2015; Xu et al. 2019 (VCOP)")
@shared_builder_doc
def c3d(num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> C3D:
    """C3D with batch norm and global pooling (Tran et al., 2015; VCOP's variant), medium capacity (§3.2).

    Features are ``512 * width``-d.
    """
    return C3D(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)


@BACKBONES.register("r3d_18", capacity="medium", paper="Tran et al. 2018")
@shared_builder_doc
def r3d_18(num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> VideoResNet18:
    """R3D-18 (Tran et al., 2018, §3.3), medium capacity (§3.2).

    At width 1.0 with ``in_channels=3`` its state dict has the keys and shapes of
    ``torchvision.models.video.r3d_18`` (with ``num_classes=400``), and gives the same outputs.
    """
    stem = r3d_stem(in_channels, scale_width(64, width))
    return VideoResNet18(stem, conv3d_full, num_classes=num_classes, width=width, dropout=dropout)


@BACKBONES.register("r2plus1d_18", capacity="medium", paper="Tran et al. 2018")
@shared_builder_doc
def r2plus1d_18(num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> VideoResNet18:
    """R(2+1)D-18, the benchmark's "R21D" (Tran et al., 2018, §3.5), medium capacity (§3.2).

    At width 1.0 with ``in_channels=3`` its state dict has the keys and shapes of
    ``torchvision.models.video.r2plus1d_18`` (with ``num_classes=400``), and gives the same outputs.
    """
    stem = r2plus1d_stem(in_channels, scale_width(45, width), scale_width(64, width))
    return VideoResNet18(stem, conv2plus1d, num_classes=num_classes, width=width, dropout=dropout)
