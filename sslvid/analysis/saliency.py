"""Which pixels of a clip a backbone's output depends on: vanilla gradients and Grad-CAM, per frame.

The lightweight study (Sonawane et al., §4 and §5.2) reads saliency maps (Simonyan, Vedaldi
& Zisserman, 2014) of its best and worst predictions. For video the maps are per frame:

* :func:`vanilla_saliency`: ``max_c |d score / d x_c|`` at every pixel of every frame
  (Simonyan et al. 2014, §3.1), computed with ``captum.attr.Saliency``;
* :func:`grad_cam`: Grad-CAM on the last block (Selvaraju et al., 2017, §3): the block's
  channels weighted by their mean gradient, ReLU, upsampled (trilinear) to the clip's
  T x H x W. The block output is read with a forward hook on ``backbone.blocks()[-1]`` and
  put in clip layout with ``backbone.to_clip_layout``, so channels-last networks (Video
  Swin) work too, and per-frame maps ``(B*T, C, h, w)`` of 2D networks are unfolded to
  ``(B, C, T, h, w)``; for convolutional backbones it equals ``captum.attr.LayerGradCam``
  (tested).

The score is a logit: ``target`` (one class for all clips, or one per clip), or the
predicted class when ``target`` is None. A backbone without a classifier
(``num_classes == 0``, e.g. straight after pre-training) has no logits; its score is then the
L2 norm of the pooled features (what makes the representation strong), and ``target``
must be None.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from sslvid.backbones.base import VideoBackbone
from sslvid.backbones.frames2d import unfold_frames
from sslvid.errors import import_optional

Target = int | Tensor | None


def _score_function(backbone: VideoBackbone) -> Callable[[Tensor], Tensor]:
    """Clips ``(B, C, T, H, W)`` -> logits ``(B, K)``, or feature norms ``(B,)`` without a head."""
    if getattr(backbone, "num_classes", 0) > 0:
        return backbone

    def feature_norm(x: Tensor) -> Tensor:
        return backbone.forward_features(x).norm(dim=1)

    return feature_norm


def _resolve_target(backbone: VideoBackbone, clips: Tensor, target: Target) -> Tensor | None:
    """``(B,)`` class indices to explain, or None for head-less backbones.

    Raises:
        ValueError: if a target is given for a backbone without a classifier.
    """
    if getattr(backbone, "num_classes", 0) == 0:
        if target is not None:
            raise ValueError(
                "the backbone has no classifier (num_classes=0): pass target=None "
                "(the score is then the norm of the pooled features)"
            )
        return None
    if target is None:
        with torch.no_grad():
            return backbone(clips).argmax(dim=1)
    return torch.as_tensor(target, device=clips.device).long().expand(clips.shape[0])


def _pick(scores: Tensor, target: Tensor | None) -> Tensor:
    return scores if target is None else scores.gather(1, target[:, None]).squeeze(1)


def vanilla_saliency(backbone: VideoBackbone, clips: Tensor, target: Target = None) -> Tensor:
    """Vanilla-gradient saliency per frame (Simonyan et al., 2014, §3.1) via ``captum.attr.Saliency``.

    Runs in eval mode (training mode restored afterwards); parameter gradients are untouched.

    Args:
        backbone: a video backbone (``forward`` / ``forward_features`` on ``(B, C, T, H, W)``).
        clips: model inputs ``(B, C, T, H, W)``.
        target: class to explain (int, or ``(B,)``); None: the predicted class (or the
            feature norm for a head-less backbone, see the module docstring).

    Returns:
        saliency ``(B, T, H, W)`` >= 0: the largest absolute input gradient over channels.

    Raises:
        ValueError: for a target on a head-less backbone.
        MissingDependencyError: (an ``ImportError``) if captum is not installed (``sslvid[saliency]``).
    """
    Saliency = import_optional("captum.attr", extra="saliency", feature="saliency maps").Saliency

    was_training = backbone.training
    backbone.eval()
    try:
        resolved = _resolve_target(backbone, clips, target)
        grads = Saliency(_score_function(backbone)).attribute(
            clips.detach().clone().requires_grad_(True), target=resolved, abs=True
        )
    finally:
        backbone.train(was_training)
    return grads.amax(dim=1).detach()


def grad_cam(backbone: VideoBackbone, clips: Tensor, target: Target = None, upsample: bool = True) -> Tensor:
    """Grad-CAM on the backbone's last block (Selvaraju et al., 2017, §3), per frame.

    Args:
        backbone: a video backbone with ``blocks()`` and ``to_clip_layout`` (the base class's face).
        clips: model inputs ``(B, C, T, H, W)``.
        target: as :func:`vanilla_saliency`.
        upsample: resize the map to the clip's ``(T, H, W)`` (else the block's ``(t, h, w)``).

    Returns:
        map ``(B, T, H, W)`` (or ``(B, t, h, w)``) >= 0.

    Raises:
        ValueError: for a target on a head-less backbone, or a backbone without a single
            trunk of blocks (e.g. Split-Brain's two halves: explain ``backbone.l_net`` instead).
    """
    try:
        last = backbone.blocks()[-1]
    except NotImplementedError as err:
        raise ValueError(f"Grad-CAM needs one trunk of blocks: {err}") from err
    was_training = backbone.training
    backbone.eval()
    kept: list[Tensor] = []
    handle = last.register_forward_hook(lambda module, inputs, output: kept.append(output))
    try:
        resolved = _resolve_target(backbone, clips, target)
        with torch.enable_grad():
            score = _pick(_score_function(backbone)(clips.detach().clone().requires_grad_(True)), resolved)
            (grads,) = torch.autograd.grad(score.sum(), kept[-1])
    finally:
        handle.remove()
        backbone.train(was_training)
    frames = clips.shape[2]
    acts, grads = _clip_layout(backbone, kept[-1].detach(), frames), _clip_layout(backbone, grads, frames)
    weights = grads.mean(dim=(2, 3, 4), keepdim=True)
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))
    if upsample:
        cam = F.interpolate(cam, size=clips.shape[2:], mode="trilinear", align_corners=False)
    return cam[:, 0]


def _clip_layout(backbone: VideoBackbone, x: Tensor, frames: int) -> Tensor:
    """A last-block output as ``(B, C, T, h, w)``: the backbone's layout, and 2D networks' per-frame maps unfolded."""
    x = backbone.to_clip_layout(x)
    return unfold_frames(x, frames) if x.dim() == 4 else x
