"""The one face every video backbone shows, the backbone registry, and small shared helpers.

Clips are ``(B, C, T, H, W)`` everywhere: batch, channels, frames, height, width.
A backbone is a :class:`VideoBackbone`; the CKA maps, saliency, pretext heads and the cost
table call only its face (``forward_features``, ``forward_head``, ``forward_intermediates``,
``feature_dim``, ``block_names``) and never reach into a model's insides.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from torch import Tensor, nn

from sslvid.registry import Registry

BACKBONES: Registry[VideoBackbone] = Registry("backbone")
"""Name -> builder of every backbone; metadata ``capacity`` is "small", "medium" or "big"."""

CAPACITIES: tuple[str, ...] = ("small", "medium", "big")
"""Capacity groups of §3.2 of the benchmark paper, smallest first."""

T = TypeVar("T")


BUILDER_ARGS: dict[str, str] = {
    "num_classes": "outputs of the linear head (0: none, ``forward`` returns features).",
    "width": 'channel multiplier (1.0: the benchmark\'s network; e.g. 0.25 for "micro").',
    "in_channels": "channels C of the input clips ``(B, C, T, H, W)``.",
    "dropout": "dropout before the linear head.",
}
"""What every backbone builder's shared arguments mean (``create_backbone(name, num_classes=..., width=...)``)."""
BUILDER_RAISES = "ValueError: for a non-positive width or negative num_classes."


def shared_builder_doc(builder: Callable[..., T]) -> Callable[..., T]:
    """Complete a backbone builder's docstring with the arguments every builder shares.

    The builder's docstring says what is its own (its summary, the arguments only it takes, a
    ``width`` that means something else, its own ``Raises``); this adds an ``Args`` line from
    ``BUILDER_ARGS`` for each shared parameter it leaves out, in signature order, and
    ``BUILDER_RAISES`` when it has no ``Raises`` section.
    """
    doc = inspect.cleandoc(builder.__doc__ or "")
    lines = doc.splitlines()
    own = _args_block(lines)
    args = []
    for name in inspect.signature(builder).parameters:
        if name in own:
            args += own[name]
        elif name in BUILDER_ARGS:
            args.append(f"    {name}: {BUILDER_ARGS[name]}")
    body = _without_section(lines, "Args:")
    raises = _section(lines, "Raises:") or ["Raises:", f"    {BUILDER_RAISES}"]
    body = _without_section(body, "Raises:")
    while body and not body[-1].strip():
        body.pop()
    builder.__doc__ = "\n".join(body + [""] + (["Args:"] + args + [""] if args else []) + raises)
    return builder


def _section(lines: list[str], header: str) -> list[str]:
    """The lines of the docstring section ``header`` (header included, up to the next blank line)."""
    if header not in lines:
        return []
    start = lines.index(header)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def _without_section(lines: list[str], header: str) -> list[str]:
    section = _section(lines, header)
    if not section:
        return list(lines)
    start = lines.index(header)
    return lines[:start] + lines[start + len(section) + 1 :]


def _args_block(lines: list[str]) -> dict[str, list[str]]:
    """``{argument: its lines}`` of the docstring's own ``Args`` section."""
    args: dict[str, list[str]] = {}
    current = None
    for line in _section(lines, "Args:")[1:]:
        match = re.match(r"^    (\w+): ", line)
        if match:
            current = match.group(1)
            args[current] = []
        if current is not None:
            args[current].append(line)
    return args


class VideoBackbone(nn.Module):
    """Base class of every backbone: a trunk of named blocks, global pooling and a linear head.

    Subclasses build their blocks as attributes named in ``block_names`` (stem first, then
    each stage or block group, in order), then call :meth:`build_head`. The trunk runs the
    blocks in that order; :meth:`pool` turns the last block's output into one vector per clip.

    Attributes:
        block_names: names of the blocks that ``forward_intermediates`` can return.
        feature_dim: length D of the pooled feature vector.
        num_classes: outputs of the linear head (0: no head, ``forward`` returns features).
    """

    block_names: tuple[str, ...] = ()
    feature_dim: int
    num_classes: int

    def build_head(self, feature_dim: int, num_classes: int = 0, dropout: float = 0.0) -> None:
        """Create the classifier: dropout then ``fc = Linear(feature_dim, num_classes)``.

        With ``num_classes=0`` the head is the identity and ``forward`` returns the features.

        Raises:
            ValueError: if ``num_classes`` is negative or ``dropout`` is outside [0, 1).
        """
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.feature_dim = feature_dim
        self.head_drop = nn.Dropout(dropout)
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the linear head by a fresh one with ``num_classes`` outputs (0: identity)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else nn.Identity()
        if isinstance(self.fc, nn.Linear):
            nn.init.normal_(self.fc.weight, 0.0, 0.01)
            nn.init.zeros_(self.fc.bias)

    def blocks(self) -> list[nn.Module]:
        """The trunk's blocks in order, one per entry of ``block_names``."""
        return [getattr(self, name) for name in self.block_names]

    def to_clip_layout(self, x: Tensor) -> Tensor:
        """A block output as ``(B, C, T, H, W)``; identity for convolutional backbones."""
        return x

    def pool(self, x: Tensor) -> Tensor:
        """Global average pooling of the last block's output ``(B, C, T, H, W)`` to ``(B, C)``."""
        return x.mean(dim=(2, 3, 4))

    def forward_features(self, x: Tensor) -> Tensor:
        """Pooled features of a batch of clips.

        Args:
            x: clips ``(B, C, T, H, W)``.

        Returns:
            features ``(B, feature_dim)``.
        """
        for block in self.blocks():
            x = block(x)
        return self.pool(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` from features ``(B, feature_dim)`` (identity when no head)."""
        return self.fc(self.head_drop(features))

    def forward(self, x: Tensor) -> Tensor:
        """``forward_head(forward_features(x))`` for clips ``x`` of shape ``(B, C, T, H, W)``."""
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: Tensor, indices: int | Sequence[int] | None = None) -> list[Tensor]:
        """Activations after the stem and after each block, for CKA maps and probes.

        Args:
            x: clips ``(B, C, T, H, W)``.
            indices: which blocks (positions in ``block_names``) to return: ``None`` for all,
                an int ``n`` for the last ``n`` (timm's convention), or a sequence of
                positions (negative ones count from the end).

        Returns:
            one tensor ``(B, C_i, T_i, H_i, W_i)`` per selected block, in block order.
            Blocks after the last selected one are not run.

        Raises:
            ValueError: if an index is out of range or the selection is empty.
        """
        keep = resolve_indices(indices, len(self.block_names))
        outputs = []
        for position, block in enumerate(self.blocks()):
            x = block(x)
            if position in keep:
                outputs.append(self.to_clip_layout(x))
            if position == keep[-1]:
                break
        return outputs


def resolve_indices(indices: int | Sequence[int] | None, num_blocks: int) -> list[int]:
    """Sorted non-negative block positions selected by ``indices`` (see ``forward_intermediates``).

    Raises:
        ValueError: if an index is out of range or the selection is empty.
    """
    if indices is None:
        selected = list(range(num_blocks))
    elif isinstance(indices, int):
        if not 0 < indices <= num_blocks:
            raise ValueError(f"indices={indices}: ask for 1..{num_blocks} last blocks")
        selected = list(range(num_blocks - indices, num_blocks))
    else:
        selected = []
        for index in indices:
            if not -num_blocks <= index < num_blocks:
                raise ValueError(f"block index {index} out of range for {num_blocks} blocks")
            selected.append(index % num_blocks)
    if not selected:
        raise ValueError("indices selects no block")
    return sorted(set(selected))


def make_divisible(value: float, divisor: int = 1) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``).

    The MobileNet rule (Sandler et al., 2018): never round down by more than 10%.
    Widths of the published networks are already multiples, so ``width=1.0`` keeps them.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_width(channels: int, width: float, divisor: int = 1) -> int:
    """Channels of a layer at width multiplier ``width`` (the "micro" scale uses e.g. 0.25).

    Raises:
        ValueError: if ``width`` is not positive.
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return make_divisible(channels * width, divisor)


def kaiming_conv_(conv: nn.Conv2d | nn.Conv3d) -> nn.Conv2d | nn.Conv3d:
    """He (fan-out, ReLU) init of a convolution's weight, zero bias; returns the conv.

    The fan-out counts the outputs that one input channel feeds: ``out_channels // groups``
    times the kernel volume. ``nn.init.kaiming_normal_(mode="fan_out")`` reads it off the
    weight's shape as ``out_channels * kernel volume`` whatever ``groups`` is, so for a
    depthwise conv (``groups == channels``) it draws weights ``sqrt(channels)`` times too small.
    Their outputs then have a variance far below 1 (about 1e-4 to 1e-2 in a micro ShuffleNet),
    while a batch norm's running variance starts at 1 and forgets that start only as
    ``0.9 ** steps`` (momentum 0.1): for tens of steps eval mode divides every depthwise output
    by a running variance up to hundreds of times too large, and the network's eval outputs
    barely depend on its input. timm counts the fan-out per group too (``fix_group_fanout``, as
    TensorFlow's reference MnasNet/EfficientNet code). With ``groups == 1`` this is exactly
    ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, random draws included.
    """
    fan_out = conv.out_channels // conv.groups * math.prod(conv.kernel_size)
    with torch.no_grad():
        conv.weight.normal_(0.0, nn.init.calculate_gain("relu") / math.sqrt(fan_out))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def init_conv_bn(module: nn.Module) -> None:
    """He (fan-out) init for 3D convolutions (:func:`kaiming_conv_`: grouped ones count the
    fan-out per group), unit scale and zero shift for batch norms."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            kaiming_conv_(m)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int, int] = 3,
    stride: int | tuple[int, int, int] = 1,
    groups: int = 1,
    act: type[nn.Module] | None = nn.ReLU,
) -> nn.Sequential:
    """Conv3d (no bias, "same" padding for odd kernels) -> BatchNorm3d -> optional activation."""
    kernel = (kernel_size, kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    padding = (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)
    layers: list[nn.Module] = [
        nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=padding, groups=groups, bias=False),
        nn.BatchNorm3d(out_channels),
    ]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


def clip_batch(batch_size: int, clip_shape: Sequence[int], device: torch.device | str = "cpu") -> Tensor:
    """A random batch of clips ``(batch_size, C, T, H, W)`` from ``clip_shape = (C, T, H, W)``.

    Raises:
        ValueError: if ``clip_shape`` does not have four entries.
    """
    if len(clip_shape) != 4:
        raise ValueError(f"clip_shape must be (C, T, H, W), got {tuple(clip_shape)}")
    return torch.randn(batch_size, *clip_shape, device=device)
