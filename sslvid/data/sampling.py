"""Clip sampling: which frame indices of a video make up each clip.

A clip is ``num_frames`` frames taken ``stride`` frames apart (the playback rate of
PRP and RSPNet, Yao et al. 2020 §3.1 and Chen et al. 2021 §3.2; the dilation of the
benchmark's PRP setting). A video yields ``clips_per_video`` clips: the multi-clip pretext
tasks (VCOP) and multi-clip evaluation both draw several.

Videos shorter than a clip's span (``(num_frames - 1) * stride + 1`` frames) follow the
``short_video`` policy:

* ``"loop"`` (default): indices wrap around the video (playback restarts), so the stride,
  and with it the playback speed, is kept;
* ``"clamp"``: indices past the end repeat the last frame (the video freezes);
* ``"error"``: raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START_MODES = ("random", "center", "uniform")
SHORT_VIDEO_POLICIES = ("loop", "clamp", "error")


@dataclass(frozen=True)
class ClipSampler:
    """Picks the frame indices of the clips taken from one video.

    Args:
        num_frames: frames per clip (T).
        stride: distance between consecutive frames of a clip (1 = every frame).
        clips_per_video: number of clips drawn from each video.
        start: ``"random"`` (uniform random start, training), ``"center"`` (clips
            centred on the video, evaluation with one clip) or ``"uniform"`` (starts
            evenly spread over the video, multi-clip evaluation; deterministic).
        short_video: policy for videos shorter than a clip span (module docstring).

    Raises:
        ValueError: for a non-positive size or an unknown mode or policy.
    """

    num_frames: int
    stride: int = 1
    clips_per_video: int = 1
    start: str = "random"
    short_video: str = "loop"

    def __post_init__(self) -> None:
        for field in ("num_frames", "stride", "clips_per_video"):
            if getattr(self, field) < 1:
                raise ValueError(f"ClipSampler.{field} must be >= 1, got {getattr(self, field)}")
        if self.start not in START_MODES:
            raise ValueError(f"unknown start mode {self.start!r}; valid: {', '.join(START_MODES)}")
        if self.short_video not in SHORT_VIDEO_POLICIES:
            raise ValueError(
                f"unknown short_video policy {self.short_video!r}; valid: {', '.join(SHORT_VIDEO_POLICIES)}"
            )

    @property
    def span(self) -> int:
        """Frames covered by one clip, first to last inclusive."""
        return (self.num_frames - 1) * self.stride + 1

    def starts(self, video_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Start frame of each clip, shape (clips_per_video,).

        Raises:
            ValueError: if the video has no frame, or is short and the policy is "error".
        """
        if video_frames < 1:
            raise ValueError("cannot sample a clip from a video with no frames")
        room = video_frames - self.span
        if room < 0 and self.short_video == "error":
            raise ValueError(
                f"video has {video_frames} frames, a clip spans {self.span} "
                f"({self.num_frames} frames at stride {self.stride}); use short_video='loop' or 'clamp'"
            )
        room = max(room, 0)
        k = self.clips_per_video
        if self.start == "random":
            rng = rng if rng is not None else np.random.default_rng()
            return rng.integers(0, room + 1, size=k)
        if self.start == "center":
            return np.full(k, room // 2, dtype=np.int64)
        return np.round(np.linspace(0, room, k)).astype(np.int64) if k > 1 else np.array([room // 2])

    def indices_from(self, starts: np.ndarray, video_frames: int) -> np.ndarray:
        """Frame indices of clips starting at ``starts``, shape (len(starts), num_frames)."""
        offsets = np.arange(self.num_frames) * self.stride
        idx = np.asarray(starts, dtype=np.int64)[:, None] + offsets[None, :]
        if self.short_video == "loop":
            return idx % video_frames
        return np.minimum(idx, video_frames - 1)

    def sample(self, video_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Frame indices of every clip, shape (clips_per_video, num_frames), int64."""
        return self.indices_from(self.starts(video_frames, rng), video_frames)
