"""Representation analysis and the book's pictures. Needs only data and the backbones' face."""

from sslvid.analysis.figures import frame_strips

__all__ = ["frame_strips"]
