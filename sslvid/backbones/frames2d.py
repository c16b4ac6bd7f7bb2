"""2D image networks of the lightweight study, run frame by frame on clips.

The five networks of Sonawane et al., "Self-Supervised Visual Representation Learning Using
Lightweight Architectures" (§3.2, §4): MobileNetV2, ShuffleNetV2 1.0x, SqueezeNet 1.1,
EfficientNet-lite0 and ResNet-18. A clip ``(B, C, T, H, W)`` is folded to ``(B*T, C, H, W)``,
the 2D trunk runs on every frame, and the features are averaged over frames and space; with
``T=1`` this is exactly the image network of the study (global average pooling of its last map).
``forward_intermediates`` returns each block's per-frame maps unfolded to ``(B, C, T, H, W)``.

At ``width=1.0`` and ``in_channels=3`` every trunk has the modules (in order, same shapes) of the
torchvision network without its classifier: ``mobilenet_v2``, ``shufflenet_v2_x1_0``,
``squeezenet1_1`` and ``resnet18``; EfficientNet-lite0, absent from torchvision, is
``efficientnet_b0`` without squeeze-and-excitation (see :class:`EfficientNetLite`).
``width`` scales every channel count, stem and last conv included (the house convention of
``sslvid.backbones``); the study itself uses ``width=1.0``.

Registered with the existing ``capacity`` ("small" for the four lightweight networks, "medium"
for ResNet-18) and ``kind="2d"``, so tables can tell them from the 3D networks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch import Tensor, nn
from torchvision.models import ShuffleNetV2, mobilenet_v2
from torchvision.models.resnet import BasicBlock, conv1x1
from torchvision.models.squeezenet import Fire
from torchvision.ops import Conv2dNormActivation, StochasticDepth

from sslvid.backbones.base import (
    BACKBONES,
    VideoBackbone,
    kaiming_conv_,
    resolve_indices,
    scale_width,
    shared_builder_doc,
)


def fold_frames(x: Tensor) -> Tensor:
    """Clips ``(B, C, T, H, W)`` -> frames ``(B*T, C, H, W)``, frames of a clip kept together.

    Raises:
        ValueError: if ``x`` is not 5-dimensional.
    """
    if x.dim() != 5:
        raise ValueError(f"expected clips (B, C, T, H, W), got shape {tuple(x.shape)}")
    b, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(b * t, c, h, w)


def unfold_frames(x: Tensor, frames: int) -> Tensor:
    """Per-frame maps ``(B*T, C, H, W)`` -> clip layout ``(B, C, T, H, W)`` (a view) with ``T = frames``."""
    bt, c, h, w = x.shape
    return x.view(bt // frames, frames, c, h, w).transpose(1, 2)


class FrameBackbone(VideoBackbone):
    """A 2D network applied to every frame of a clip, with the shared video backbone face.

    Subclasses build 2D blocks named in ``block_names`` and call ``build_head``. Features are
    the mean over frames, height and width of the last block's map, i.e. the per-frame global
    average pooled features averaged over ``T``.
    """

    def forward_features(self, x: Tensor) -> Tensor:
        """Frame-averaged pooled features.

        Args:
            x: clips ``(B, C, T, H, W)``; ``T=1`` is the image setting.

        Returns:
            features ``(B, feature_dim)``.

        Raises:
            ValueError: if ``x`` is not 5-dimensional.
        """
        frames = fold_frames(x)
        for block in self.blocks():
            frames = block(frames)
        return self.pool(unfold_frames(frames, x.shape[2]))

    def forward_intermediates(self, x: Tensor, indices: int | Sequence[int] | None = None) -> list[Tensor]:
        """Per-frame block outputs, in clip layout, for CKA maps and probes.

        Args:
            x: clips ``(B, C, T, H, W)``.
            indices: blocks to return (see :meth:`VideoBackbone.forward_intermediates`).

        Returns:
            one tensor ``(B, C_i, T, H_i, W_i)`` per selected block, in block order (T is never
            reduced: frames are independent).

        Raises:
            ValueError: if ``x`` is not 5-dimensional or an index is out of range.
        """
        keep = resolve_indices(indices, len(self.block_names))
        frames, outputs = fold_frames(x), []
        for position, block in enumerate(self.blocks()):
            frames = block(frames)
            if position in keep:
                outputs.append(unfold_frames(frames, x.shape[2]))
            if position == keep[-1]:
                break
        return outputs


def _kaiming_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """He (fan-out) init of a conv's weight, zero bias; returns the conv.

    The fan-out of a grouped (depthwise) conv is counted per group, see :func:`kaiming_conv_`;
    for ``groups == 1`` this is torchvision's ``kaiming_normal_(mode="fan_out")``.
    """
    kaiming_conv_(conv)
    return conv


def _with_in_channels(conv: nn.Conv2d, in_channels: int, init: Callable[[nn.Conv2d], nn.Conv2d] | None) -> nn.Conv2d:
    """``conv`` itself if it already takes ``in_channels``, else a like conv taking ``in_channels``."""
    if conv.in_channels == in_channels:
        return conv
    # torch types a built conv's kernel_size, stride and padding as tuple[int, ...], its constructor takes pairs
    shape: dict[str, Any] = {"kernel_size": conv.kernel_size, "stride": conv.stride, "padding": conv.padding}
    new = nn.Conv2d(in_channels, conv.out_channels, **shape, bias=conv.bias is not None)
    return init(new) if init is not None else new


def _check_in_channels(in_channels: int) -> None:
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")


# Positions of torchvision's ``MobileNetV2.features`` that make up each block (Sandler et al., Table 2 rows).
_MOBILENETV2_BLOCKS = (
    ("stem", 0, 1),
    ("stage1", 1, 2),
    ("stage2", 2, 4),
    ("stage3", 4, 7),
    ("stage4", 7, 11),
    ("stage5", 11, 14),
    ("stage6", 14, 17),
    ("stage7", 17, 18),
    ("conv_last", 18, 19),
)


class MobileNetV2Frames(FrameBackbone):
    """MobileNetV2 (Sandler et al., 2018) per frame, torchvision's ``mobilenet_v2`` trunk.

    Blocks: the stem conv, the seven bottleneck rows of Table 2 and the last 1x1 conv.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: ``width_mult``; channels are rounded to multiples of 8. Unlike torchvision, which
            keeps 1280 last channels for ``width < 1``, the last conv scales too.
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head (torchvision: 0.2).
    """

    block_names = tuple(name for name, _, _ in _MOBILENETV2_BLOCKS)

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        _check_in_channels(in_channels)
        last = scale_width(1280, width, 8)  # raises for a non-positive width
        features = mobilenet_v2(weights=None, width_mult=width, num_classes=1).features
        features[0][0] = _with_in_channels(features[0][0], in_channels, None)
        if features[18][0].out_channels != last:
            features[18] = Conv2dNormActivation(
                features[18][0].in_channels, last, kernel_size=1, activation_layer=nn.ReLU6
            )
        for name, start, stop in _MOBILENETV2_BLOCKS:
            setattr(self, name, features[start:stop])
        # torchvision's init (He fan-out), except that depthwise convs count their fan-out per
        # group: torchvision's draws them sqrt(channels) times too small (see kaiming_conv_).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _kaiming_conv(m)
        self.build_head(last, num_classes, dropout)


# ShuffleNetV2 1.0x channels: stem, stages 2-4, conv5 (Ma et al., 2018, Table 5).
_SHUFFLENETV2_CHANNELS = (24, 116, 232, 464, 1024)


class ShuffleNetV2Frames(FrameBackbone):
    """ShuffleNetV2 1.0x (Ma et al., 2018) per frame, torchvision's ``ShuffleNetV2`` trunk.

    Blocks: stem (3x3 conv stride 2 + max-pool), stages 2-4 (4, 8, 4 units), conv5 (1x1 conv).

    Args:
        num_classes: outputs of the linear head (0: none).
        width: multiplier of the 1.0x channels (24, 116, 232, 464, 1024), rounded to multiples of
            4 so that the two-branch split stays even (1.0 keeps them).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head (torchvision: none).
    """

    block_names = ("stem", "stage2", "stage3", "stage4", "conv5")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        _check_in_channels(in_channels)
        channels = [scale_width(c, width, 4) for c in _SHUFFLENETV2_CHANNELS]
        net = ShuffleNetV2([4, 8, 4], channels, num_classes=1)
        net.conv1[0] = _with_in_channels(net.conv1[0], in_channels, None)
        self.stem = nn.Sequential(OrderedDict(conv1=net.conv1, maxpool=net.maxpool))
        self.stage2, self.stage3, self.stage4, self.conv5 = net.stage2, net.stage3, net.stage4, net.conv5
        self.build_head(channels[-1], num_classes, dropout)


# (squeeze, expand) of each pair of Fire modules of SqueezeNet 1.1 (Iandola et al., 2016; torchvision).
_SQUEEZENET11_FIRES = ((16, 64), (32, 128), (48, 192), (64, 256))


class SqueezeNet11Frames(FrameBackbone):
    """SqueezeNet 1.1 (Iandola et al., 2016) per frame, from torchvision's ``Fire`` modules.

    Same layers, order and init as torchvision's ``squeezenet1_1(...).features`` (no batch norm,
    no bypass): stem 3x3 conv stride 2 + ReLU, then three stages of max-pool + two Fire modules
    and a last stage of two Fire modules. The conv10 classifier (1x1 conv to classes at 13x13,
    then pooling) is replaced by pooling then a linear head, like every backbone here.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier (1.0: SqueezeNet 1.1).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head (torchvision: 0.5).
    """

    block_names = ("stem", "stage1", "stage2", "stage3", "stage4")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        _check_in_channels(in_channels)
        channels = scale_width(64, width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=3, stride=2), nn.ReLU(inplace=True))
        for i, (squeeze, expand) in enumerate(_SQUEEZENET11_FIRES):
            s, e = scale_width(squeeze, width), scale_width(expand, width)
            pool = [nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)] if i < 3 else []
            setattr(self, f"stage{i + 1}", nn.Sequential(*pool, Fire(channels, s, e, e), Fire(2 * e, s, e, e)))
            channels = 2 * e
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # torchvision's init for all but the classifier conv
                nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.build_head(channels, num_classes, dropout)


class MBConvLite(nn.Module):
    """EfficientNet-lite mobile inverted bottleneck (Tan & Le, 2019, §4; lite: no SE, ReLU6).

    1x1 expansion (skipped when ``expand_ratio == 1``) -> depthwise kxk -> linear 1x1 projection,
    each with batch norm; residual with stochastic depth when stride is 1 and channels match.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: depthwise kernel (3 or 5).
        stride: depthwise stride.
        expand_ratio: expansion factor.
        drop_path: stochastic depth ("drop connect") probability of the residual branch.
        norm_layer: batch norm builder.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        expand_ratio: int,
        drop_path: float,
        norm_layer: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(in_channels, hidden, 1, norm_layer=norm_layer, activation_layer=nn.ReLU6)
            )
        layers += [
            Conv2dNormActivation(
                hidden, hidden, kernel_size, stride, groups=hidden, norm_layer=norm_layer, activation_layer=nn.ReLU6
            ),
            Conv2dNormActivation(hidden, out_channels, 1, norm_layer=norm_layer, activation_layer=None),
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(drop_path, "row")

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, C_out, H', W')."""
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_residual else out


# (expand ratio, kernel, stride, out channels, repeats) of EfficientNet-B0 (Tan & Le, 2019, Table 1),
# as in the TF release's ``efficientnet_lite_builder._DEFAULT_BLOCKS_ARGS``.
_EFFICIENTNET_B0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


class EfficientNetLite(FrameBackbone):
    """EfficientNet-lite0 (Tan & Le, 2019; the TF "EfficientNet-lite" release, 2020) per frame.

    EfficientNet-B0's stem, seven MBConv stages and head, changed as in the TF release
    (tensorflow/tpu ``models/official/efficientnet/lite``): no squeeze-and-excitation, ReLU6
    instead of swish, and the stem (32) and head (1280) not scaled with the width coefficient
    (no effect on lite0, whose coefficients are 1.0). Kept from B0: batch norm eps 1e-3,
    stochastic depth rising linearly to ``drop_path`` over the blocks, dropout 0.2. As in
    torchvision's EfficientNet (not TF): symmetric "same" padding and PyTorch's BN momentum 0.1.
    At width 1.0 the trunk has exactly the parameters of torchvision's ``efficientnet_b0``
    features minus its SE layers.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier, rounded to multiples of 8; unlike the TF release's own
            width coefficient, it scales the stem and head too (house convention).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head.
        drop_path: stochastic depth probability of the last block (TF: 1 - survival_prob = 0.2).
    """

    block_names = ("stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "conv_last")

    def __init__(
        self,
        num_classes: int = 0,
        width: float = 1.0,
        in_channels: int = 3,
        dropout: float = 0.2,
        drop_path: float = 0.2,
    ) -> None:
        super().__init__()
        _check_in_channels(in_channels)
        norm = partial(nn.BatchNorm2d, eps=1e-3)
        channels = scale_width(32, width, 8)
        self.stem = Conv2dNormActivation(in_channels, channels, 3, 2, norm_layer=norm, activation_layer=nn.ReLU6)
        total, index = sum(stage[-1] for stage in _EFFICIENTNET_B0_STAGES), 0
        for name, (t, k, s, c, n) in zip(self.block_names[1:-1], _EFFICIENTNET_B0_STAGES):
            out, blocks = scale_width(c, width, 8), []
            for i in range(n):
                blocks.append(MBConvLite(channels, out, k, s if i == 0 else 1, t, drop_path * index / total, norm))
                channels, index = out, index + 1
            setattr(self, name, nn.Sequential(*blocks))
        last = scale_width(1280, width, 8)
        self.conv_last = Conv2dNormActivation(channels, last, 1, norm_layer=norm, activation_layer=nn.ReLU6)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _kaiming_conv(m)
        self.build_head(last, num_classes, dropout)


class ResNet18Frames(FrameBackbone):
    """ResNet-18 (He et al., 2016) per frame, from torchvision's ``BasicBlock``.

    torchvision's ``ResNet`` hard-codes 64-512 planes (its ``width_per_group`` only widens
    Bottleneck blocks), so the same modules are assembled here with scaled planes: stem
    (7x7 conv stride 2, BN, ReLU, 3x3 max-pool stride 2; keys ``stem.conv1`` ... ``stem.maxpool``)
    and ``layer1``-``layer4`` of two basic blocks. At width 1.0 the state dict is torchvision's
    ``resnet18`` without ``fc``, its stem keys prefixed by ``stem.``; same init.

    Args:
        num_classes: outputs of the linear head (0: none).
        width: channel multiplier (1.0: 64, 128, 256, 512 planes).
        in_channels: channels C of the input clips.
        dropout: dropout before the linear head (torchvision: none).
    """

    block_names = ("stem", "layer1", "layer2", "layer3", "layer4")

    def __init__(self, num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        _check_in_channels(in_channels)
        channels = scale_width(64, width)
        self.stem = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3, bias=False),
                bn1=nn.BatchNorm2d(channels),
                relu=nn.ReLU(inplace=True),
                maxpool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        )
        for i, name in enumerate(self.block_names[1:]):
            planes, stride = scale_width(64 * 2**i, width), 1 if i == 0 else 2
            setattr(self, name, resnet_layer(channels, planes, stride))
            channels = planes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _kaiming_conv(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.build_head(channels, num_classes, dropout)


def resnet_layer(in_planes: int, planes: int, stride: int, blocks: int = 2) -> nn.Sequential:
    """A ResNet stage of torchvision ``BasicBlock``s; a 1x1 conv + BN shortcut when the shape changes."""
    downsample = None
    if stride != 1 or in_planes != planes:
        downsample = nn.Sequential(conv1x1(in_planes, planes, stride), nn.BatchNorm2d(planes))
    layers = [BasicBlock(in_planes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


_LIGHTWEIGHT = "Sonawane et al. (lightweight study)"


@BACKBONES.register("mobilenetv2_2d", capacity="small", kind="2d", paper=f"Sandler et al. 2018; {_LIGHTWEIGHT}")
@shared_builder_doc
def mobilenetv2_2d(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.2
) -> MobileNetV2Frames:
    """MobileNetV2 1.0x (Sandler et al., 2018) on every frame, features averaged over T (§3.2.2).

    Args:
        width: channel multiplier (1.0: the study's network; e.g. 0.25 for "micro").

    Raises:
        ValueError: for a non-positive width or in_channels, or negative num_classes.
    """
    return MobileNetV2Frames(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)


@BACKBONES.register("shufflenetv2_2d", capacity="small", kind="2d", paper=f"Ma et al. 2018; {_LIGHTWEIGHT}")
@shared_builder_doc
def shufflenetv2_2d(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0
) -> ShuffleNetV2Frames:
    """ShuffleNetV2 1.0x (Ma et al., 2018) on every frame, features averaged over T (§3.2.5).

    Args:
        width: multiplier of the 1.0x channels (e.g. 0.25 for "micro").

    Raises:
        ValueError: for a non-positive width or in_channels, or negative num_classes.
    """
    return ShuffleNetV2Frames(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)


@BACKBONES.register("squeezenet_2d", capacity="small", kind="2d", paper=f"Iandola et al. 2016; {_LIGHTWEIGHT}")
@shared_builder_doc
def squeezenet_2d(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.5
) -> SqueezeNet11Frames:
    """SqueezeNet 1.1 (Iandola et al., 2016) on every frame, features averaged over T (§3.2.4).

    Args:
        width: channel multiplier (1.0: the study's network; e.g. 0.25 for "micro").

    Raises:
        ValueError: for a non-positive width or in_channels, or negative num_classes.
    """
    return SqueezeNet11Frames(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)


@BACKBONES.register(
    "efficientnet_lite0",
    capacity="small",
    kind="2d",
    paper=f"Tan & Le 2019 (EfficientNet-lite, TF release 2020); {_LIGHTWEIGHT}",
)
@shared_builder_doc
def efficientnet_lite0(
    num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.2, drop_path: float = 0.2
) -> EfficientNetLite:
    """EfficientNet-lite0 (Tan & Le, 2019; TF lite release) on every frame, averaged over T (§3.2.3).

    Args:
        width: channel multiplier (1.0: the study's network; e.g. 0.25 for "micro").
        drop_path: stochastic depth probability of the last MBConv block.

    Raises:
        ValueError: for a non-positive width or in_channels, or negative num_classes.
    """
    return EfficientNetLite(
        num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout, drop_path=drop_path
    )


@BACKBONES.register("resnet18_2d", capacity="medium", kind="2d", paper=f"He et al. 2016; {_LIGHTWEIGHT}")
@shared_builder_doc
def resnet18_2d(num_classes: int = 0, width: float = 1.0, in_channels: int = 3, dropout: float = 0.0) -> ResNet18Frames:
    """ResNet-18 (He et al., 2016) on every frame, features averaged over T (§3.2.1).

    Args:
        width: channel multiplier (1.0: the study's network; e.g. 0.25 for "micro").

    Raises:
        ValueError: for a non-positive width or in_channels, or negative num_classes.
    """
    return ResNet18Frames(num_classes=num_classes, width=width, in_channels=in_channels, dropout=dropout)
