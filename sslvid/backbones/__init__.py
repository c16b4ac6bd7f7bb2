"""The backbone zoo of the benchmark paper (§3.2): one registry, one face for every model.

Small capacity: ``shufflenet3d``, ``squeezenet3d``, ``mobilenetv2_3d`` (Köpüklü et al., 2019).
Medium capacity: ``c3d``, ``r3d_18``, ``r2plus1d_18`` (Tran et al., 2015 and 2018).
Big capacity: ``swin3d_t`` (Liu et al., 2022).

Every builder takes ``num_classes=0`` (0: no head, ``forward`` returns features),
``width=1.0`` (channel multiplier; 1.0 is the network the benchmark uses), ``in_channels=3``
and ``dropout``. Clips are ``(B, C, T, H, W)``. Cost helpers live in ``sslvid.backbones.cost``.
"""
from __future__ import annotations

from typing import Any

from sslvid.backbones import big, medium, small  # noqa: F401  (registers the builders)
from sslvid.backbones.base import BACKBONES, CAPACITIES, VideoBackbone

__all__ = ["CAPACITIES", "VideoBackbone", "backbone_meta", "create_backbone", "list_backbones"]


def create_backbone(name: str, **kwargs: Any) -> VideoBackbone:
    """Build the backbone registered as ``name``, e.g. ``create_backbone("r2plus1d_18", width=0.25)``.

    Args:
        name: a name from :func:`list_backbones`.
        **kwargs: builder arguments (``num_classes``, ``width``, ``in_channels``, ``dropout``, ...).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    return BACKBONES.create(name, **kwargs)


def list_backbones(capacity: str | None = None) -> list[str]:
    """Registered backbone names, sorted; only those of ``capacity`` ("small", "medium", "big") if given.

    Raises:
        ValueError: for an unknown capacity.
    """
    if capacity is None:
        return BACKBONES.names()
    if capacity not in CAPACITIES:
        raise ValueError(f"unknown capacity {capacity!r}; valid: {', '.join(CAPACITIES)}")
    return [name for name in BACKBONES.names() if BACKBONES.meta(name)["capacity"] == capacity]


def backbone_meta(name: str) -> dict[str, Any]:
    """Metadata of ``name``: ``capacity`` ("small", "medium" or "big") and ``paper``.

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    return BACKBONES.meta(name)
