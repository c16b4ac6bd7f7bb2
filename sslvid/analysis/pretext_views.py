"""What each pretext task asks, shown on one video: its clips before and after the task's transformation.

For a video and a task, :func:`pretext_views` returns labelled uint8 clips ``(T, H, W, 3)``
ready for ``frame_strips``: the clips drawn by the task's own sampler (``task.clip_sampler()``)
and the views made by the task's own transformation functions (``augment.rotate90`` for
RotNet, the task's ``ClipAugment`` for CVRL / SimCLR / MoCo / TDL, ``byol_view``,
``rgb_to_lab`` for Split-Brain). Raw clips are shown at the video's resolution (central
square); augmented views at the task's crop size, i.e. exactly what the network sees.

Randomness comes from ``seed`` alone (a numpy generator for sampling, torch's global RNG
inside ``torch.random.fork_rng`` for augmentations), so a seed gives the same picture and
the caller's RNG state is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sslvid.analysis.embedding import to_display_frames
from sslvid.backbones.base import VideoBackbone
from sslvid.data.sampling import ClipSampler
from sslvid.data.transforms import center_crop, rotate90, static_frame_mixup, to_unit_clips
from sslvid.pretext import create_task
from sslvid.pretext.base import PretextTask
from sslvid.pretext.byol import BYOL, byol_view
from sslvid.pretext.color import lab_to_rgb, rgb_to_lab
from sslvid.pretext.prp import PRP
from sslvid.pretext.rotnet import RotNet
from sslvid.pretext.samplers import order_permutations
from sslvid.pretext.splitbrain import SplitBrain, SplitBrainBackbone
from sslvid.pretext.tdl import TDL

Views = list[tuple[str, np.ndarray]]

QUESTIONS: dict[str, str] = {
    "rotnet": "RotNet: by how many quarter turns was the clip rotated?",
    "vcop": "VCOP: in which order were these clips shuffled?",
    "prp": "PRP: at which playback rate was the clip sampled?",
    "cvrl": "CVRL: are these two augmented clips from the same video?",
    "simclr": "SimCLR: are these two views of the same clip?",
    "moco_v2": "MoCo v2: are these two views of the same clip?",
    "byol": "BYOL: predict one view's projection from the other's",
    "rspnet": "RSPNet: which key plays at the query's speed?",
    "tdl": "TDL: the positive shares the anchor's time interval, the negative does not",
    "splitbrain": "Split-Brain: predict colour (ab) from lightness (L), and L from ab",
}
"""One line per task: what the network must answer, for figure titles."""


class _ShapeOnlyBackbone(VideoBackbone):
    """Stand-in backbone so a task can be built by name just to use its sampler and augmentation."""

    feature_dim = 8
    block_names = ("stem",)

    def forward_features(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], self.feature_dim)


def build_task(name: str, **task_kwargs: Any) -> PretextTask:
    """The registered task ``name`` on a stand-in backbone (only its sampler and transforms are used).

    Raises:
        ValueError: for an unknown task name (the message lists the valid ones).
    """
    stand_in = SplitBrainBackbone(_ShapeOnlyBackbone(), _ShapeOnlyBackbone()) if name == "splitbrain" else None
    return create_task(name, backbone=stand_in or _ShapeOnlyBackbone(), **task_kwargs)


def _draw(task: PretextTask, video_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    drawn = task.clip_sampler().sample(video_frames, rng)
    return drawn if isinstance(drawn, tuple) else (drawn, {})


def _square(frames: np.ndarray) -> np.ndarray:
    """The central square of uint8 frames ``(T, H, W, 3)`` (rotation needs square frames)."""
    h, w = frames.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frames[:, top : top + side, left : left + side]


def _as_batch(frames: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames))[None]  # (1, T, H, W, 3)


def _unit_to_uint8(x: Tensor) -> np.ndarray:
    """A clip ``(3, T, H, W)`` in [0, 1] -> uint8 ``(T, H, W, 3)``."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def _span(idx: np.ndarray) -> str:
    """ "frames 3-17 every 2nd" for a regular clip; the frame list when playback looped."""
    steps = np.diff(idx)
    if len(idx) == 1:
        return f"frame {idx[0]}"
    if (steps > 0).all() and (steps == steps[0]).all():
        return f"frames {idx[0]}-{idx[-1]}" + (f" every {steps[0]}" if steps[0] > 1 else "")
    return "frames " + ",".join(map(str, idx[:3])) + f",...,{idx[-1]} (looped)"


def _rotnet(task: RotNet, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, _ = _draw(task, len(video), rng)
    x = task.augment(_as_batch(video[idx[0]]))  # (1, 3, T, S, S), the task's crop
    turns = range(task.num_rotations)
    rotated = rotate90(x.expand(len(turns), *x.shape[1:]), torch.arange(len(turns)))
    return [(f"{90 * k} deg (class {k})", to_display_frames(rotated[k])) for k in turns]


def _vcop(task: PretextTask, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, meta = _draw(task, len(video), rng)
    perm = order_permutations(len(idx))[meta["order"]]
    return [
        (f"input {i + 1} = clip {p + 1} in time\n({_span(idx[i])})", _square(video[idx[i]])) for i, p in enumerate(perm)
    ]


def _prp(task: PRP, video: np.ndarray, rng: np.random.Generator) -> Views:
    rates = task.sampler.rates
    start = ClipSampler(task.sampler.num_frames, stride=max(rates)).starts(len(video), rng)[:1]
    views = []
    for cls, s in enumerate(rates):
        idx = ClipSampler(task.sampler.num_frames, stride=s).indices_from(start, len(video))[0]
        views.append((f"rate {s} (class {cls})\n{_span(idx)}", _square(video[idx])))
    return views


def _two_clips(task: Any, video: np.ndarray, rng: np.random.Generator) -> Views:  # CVRL, SimCLR, MoCo v2
    idx, meta = _draw(task, len(video), rng)
    raw = [idx[0], idx[min(1, len(idx) - 1)]]
    views = []
    for i, clip in enumerate(raw):
        augment = task.view_augments[i] if hasattr(task, "view_augments") else task.augment
        view = augment(_as_batch(video[clip]))[0]
        views += [(f"clip {i + 1} ({_span(clip)})", _square(video[clip])), (f"view {i + 1}", to_display_frames(view))]
    if len(idx) == 1:  # one clip augmented twice (SimCLR, MoCo): show the raw clip once
        views.pop(2)
    return views


def _byol(task: BYOL, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, _ = _draw(task, len(video), rng)
    clips = [idx[0], idx[min(1, len(idx) - 1)]]
    views = [(f"clip ({_span(idx[0])})", _square(video[idx[0]]))]
    for i, (clip, blur, solarize) in enumerate(zip(clips, task.blur_p, task.solarize_p)):
        x = byol_view(_as_batch(video[clip]), task.crop_size, blur, solarize)[0]
        views.append((f"view {i + 1} (blur p={blur}, solarize p={solarize})", to_display_frames(x)))
    return views


def _rspnet(task: PretextTask, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, meta = _draw(task, len(video), rng)
    s, s2 = meta["speed"], meta["other_speed"]
    names = (f"query, speed {s}", f"key, speed {s} (same)", f"key, speed {s2} (other)")
    return [(f"{n}\n{_span(i)}", _square(video[i])) for n, i in zip(names, idx)]


def _tdl(task: TDL, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, meta = _draw(task, len(video), rng)
    anchor, negative = task.augment(_as_batch(video[idx[0]])), task.augment(_as_batch(video[idx[1]]))
    positive = static_frame_mixup(task.augment(_as_batch(video[idx[0]])), alpha=task.tca_alpha)
    return [
        (f"anchor ({_span(idx[0])})", to_display_frames(anchor[0])),
        ("positive (same interval, TCA)", to_display_frames(positive[0])),
        (f"negative ({_span(idx[1])})", to_display_frames(negative[0])),
    ]


def _splitbrain(task: SplitBrain, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, _ = _draw(task, len(video), rng)
    x = center_crop(to_unit_clips(_as_batch(_square(video[idx[0]]))), task.crop_size)
    lab = rgb_to_lab(x)
    grey = lab.clone()
    grey[:, 1:] = 0
    colour = lab.clone()
    colour[:, 0] = 50.0
    return [
        ("clip", _unit_to_uint8(x[0])),
        ("L (lightness)", _unit_to_uint8(lab_to_rgb(grey)[0])),
        ("ab (colour at L=50)", _unit_to_uint8(lab_to_rgb(colour)[0])),
    ]


def _generic(task: PretextTask, video: np.ndarray, rng: np.random.Generator) -> Views:
    idx, _ = _draw(task, len(video), rng)
    views = [(f"clip {i + 1} ({_span(row)})", _square(video[row])) for i, row in enumerate(idx)]
    augment = getattr(task, "augment", None)
    if callable(augment):
        views += [(f"view {i + 1}", to_display_frames(augment(_as_batch(video[row]))[0])) for i, row in enumerate(idx)]
    return views


VIEWS: dict[str, Callable[[Any, np.ndarray, np.random.Generator], Views]] = {  # each takes its own task class
    "rotnet": _rotnet,
    "vcop": _vcop,
    "prp": _prp,
    "cvrl": _two_clips,
    "simclr": _two_clips,
    "moco_v2": _two_clips,
    "byol": _byol,
    "rspnet": _rspnet,
    "tdl": _tdl,
    "splitbrain": _splitbrain,
}
"""Task name -> the function that renders its views; other tasks get their sampled clips (+ augment)."""


def pretext_views(task: PretextTask | str, video: np.ndarray, seed: int = 0, **task_kwargs: Any) -> Views:
    """Labelled clips showing what ``task`` does to ``video``: before and after its transformation.

    Args:
        task: a built task, or a registered name (built on a stand-in backbone with
            ``task_kwargs``, e.g. ``frames=8, crop_size=32``).
        video: uint8 frames ``(F, H, W, 3)`` of one video (e.g. from ``read_frames``).
        seed: seeds the clip positions and the augmentations.
        **task_kwargs: task options when ``task`` is a name.

    Returns:
        list of (label, uint8 clip ``(T, H', W', 3)``), in the order to show them.

    Raises:
        ValueError: for an unknown task name or a video that is not ``(F, H, W, 3)`` uint8.
    """
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"video must be uint8 (F, H, W, 3), got {video.dtype} {video.shape}")
    task = build_task(task, **task_kwargs) if isinstance(task, str) else task
    render = VIEWS.get(task.name, _generic)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return render(task, video, np.random.default_rng(seed))
