"""Figures the book shows. Each function returns a matplotlib Figure; notebooks only call them."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def frame_strips(clips: Sequence[np.ndarray], labels: Sequence[str], max_frames: int = 8,
                 title: str | None = None, frame_inches: float = 0.9) -> Figure:
    """One row of frames per clip, the clip's label at the left.

    Args:
        clips: uint8 arrays (T, H, W, 3); clips longer than ``max_frames`` are shown at
            ``max_frames`` evenly spaced frames.
        labels: one text per clip.
        max_frames: most frames per row.
        title: figure title.

    Raises:
        ValueError: if ``clips`` is empty or ``labels`` does not match it.
    """
    if not clips or len(clips) != len(labels):
        raise ValueError(f"need one label per clip; got {len(clips)} clips and {len(labels)} labels")
    cols = min(max_frames, max(len(c) for c in clips))
    fig, axes = plt.subplots(len(clips), cols, figsize=(frame_inches * cols + 1.2, frame_inches * len(clips)),
                             squeeze=False)
    for row, (clip, label) in enumerate(zip(clips, labels)):
        picks = np.round(np.linspace(0, len(clip) - 1, min(cols, len(clip)))).astype(int)
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            if col < len(picks):
                ax.imshow(clip[picks[col]])
            if row == 0 and col < len(picks):
                ax.set_title(f"t={picks[col]}", fontsize=7)
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
