"""The backbone zoo of the benchmark paper (§3.2): one registry, one face for every model.

Small capacity: ``shufflenet3d``, ``squeezenet3d``, ``mobilenetv2_3d`` (Köpüklü et al., 2019).
Medium capacity: ``c3d``, ``r3d_18``, ``r2plus1d_18`` (Tran et al., 2015 and 2018).
Big capacity: ``swin3d_t`` (Liu et al., 2022).
2D networks applied frame by frame (the lightweight study): ``mobilenetv2_2d``,
``shufflenetv2_2d``, ``squeezenet_2d``, ``efficientnet_lite0``, ``resnet18_2d``; their
metadata has ``kind="2d"`` (the 3D networks: ``kind="3d"``).

Every builder takes ``num_classes=0`` (0: no head, ``forward`` returns features),
``width=1.0`` (channel multiplier; 1.0 is the network the benchmark uses), ``in_channels=3``
and ``dropout``. Clips are ``(B, C, T, H, W)``. Cost helpers live in ``sslvid.backbones.cost``;
weights made elsewhere (torchvision's, a self-supervised checkpoint, an export) are read into a
backbone by ``sslvid.backbones.checkpoints``.
"""

from __future__ import annotations

from typing import Any

from sslvid.backbones import big, frames2d, medium, small  # noqa: F401  (registers the builders)
from sslvid.backbones.base import BACKBONES, CAPACITIES, VideoBackbone

__all__ = ["CAPACITIES", "KINDS", "VideoBackbone", "backbone_meta", "create_backbone", "list_backbones"]


def create_backbone(name: str, **kwargs: Any) -> VideoBackbone:
    """Build the backbone registered as ``name``, e.g. ``create_backbone("r2plus1d_18", width=0.25)``.

    Args:
        name: a name from :func:`list_backbones`.
        **kwargs: builder arguments (``num_classes``, ``width``, ``in_channels``, ``dropout``, ...).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    return BACKBONES.create(name, **kwargs)


KINDS = ("3d", "2d")


def list_backbones(capacity: str | None = None, kind: str | None = None) -> list[str]:
    """Registered backbone names, sorted; filtered by ``capacity`` ("small", "medium", "big")
    and ``kind`` ("3d": spatio-temporal networks; "2d": image networks applied per frame).

    Raises:
        ValueError: for an unknown capacity or kind.
    """
    if capacity is not None and capacity not in CAPACITIES:
        raise ValueError(f"unknown capacity {capacity!r}; valid: {', '.join(CAPACITIES)}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    return [
        name
        for name in BACKBONES.names()
        if capacity in (None, BACKBONES.meta(name)["capacity"]) and kind in (None, backbone_meta(name)["kind"])
    ]


def backbone_meta(name: str) -> dict[str, Any]:
    """Metadata of ``name``: ``capacity`` ("small", "medium" or "big"), ``kind`` ("3d" or "2d")
    and ``paper``.

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    return {"kind": "3d", **BACKBONES.meta(name)}
