"""Two views of each video for the Siamese image methods (SimCLR, MoCo v2, BYOL) run on clips.

The image methods compare two augmentations of one image. On video the faithful transfer
is **one clip, augmented twice** (default): both views show the same frames, so the task
stays the image method's (invariance to crop and colour), and T = 1 is exactly the image
setting of the lightweight study (Sonawane et al. §3.3). ``distinct_clips=True`` instead
draws two clips at independent random starts (the temporal positives of CVRL, Qian et al.
2021 §3.2, and rho-BYOL, Feichtenhofer et al. 2021 §3), each augmented once.
"""

from __future__ import annotations

from torch import Tensor

from sslvid.data.sampling import ClipSampler


def two_view_sampler(frames: int, stride: int = 1, distinct_clips: bool = False) -> ClipSampler:
    """One clip per video (two views made by augmentation) or two clips (``distinct_clips``).

    Raises:
        ValueError: for non-positive ``frames`` or ``stride``.
    """
    return ClipSampler(num_frames=frames, stride=stride, clips_per_video=2 if distinct_clips else 1)


def view_pair(clips: Tensor) -> tuple[Tensor, Tensor]:
    """The raw frames of the two views of each video.

    Args:
        clips: uint8 (B, K, T, H, W, 3) from :func:`two_view_sampler` (K = 1 or 2).

    Returns:
        two (B, T, H, W, 3): clips 0 and 1 when K >= 2, else clip 0 twice (to be augmented
        independently).

    Raises:
        ValueError: if ``clips`` is not 6-D.
    """
    if clips.dim() != 6:
        raise ValueError(f"expected clips (B, K, T, H, W, 3), got {tuple(clips.shape)}")
    return clips[:, 0], clips[:, 1 if clips.shape[1] > 1 else 0]
