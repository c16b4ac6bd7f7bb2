"""PCL-boosted KD: a self-supervised student taught by a pretrained teacher (Camarena et al. 2022).

Camarena, Chang, Gonzalez-Mendoza & Hernandez-Gress 2022 (NeurIPS workshop, §3, Fig. 2): the
student trains with Pretext-Contrastive Learning (PCL, Tao, Wang & Yamasaki 2020) — a pretext
task, "which transformation was applied to the input video" by cross-entropy, plus a
contrastive loss through a one-layer projection head — and, in addition, the KL divergence
between its softened outputs and a teacher's (Hinton et al. 2015). The teacher may have the
same or a different architecture (C3D, R3D, R(2+1)D); without a teacher the same module is
the PCL baseline. No labels are used.

Here the transformation is the rotation of RotNet (``sslvid.pretext.rotnet``: k quarter
turns of every frame), the contrastive loss NT-Xent between two augmented views of a clip,
and the teacher a rotation classifier from the run store (a ``pcl_kd`` run without teacher, the
paper's PCL baseline, or a RotNet pre-training run): its rotation head gives the soft targets
on the same rotated clip. ``acc`` in the per-epoch log is the student's
rotation accuracy; downstream accuracy per epoch comes from evaluating the checkpoints.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sslvid.distill.base import DISTILLERS, Distiller, Teachers
from sslvid.distill.losses import kd_kl, soften
from sslvid.pretext.augment import ClipAugment, rotate90
from sslvid.pretext.base import TaskOutput
from sslvid.pretext.heads import LinearHead
from sslvid.pretext.losses import classification, nt_xent_logits
from sslvid.pretext.views import view_pair


@DISTILLERS.register("pcl_kd")
class PCLKD(Distiller):
    """Rotation prediction + NT-Xent + KD to an optional pretrained teacher (module docstring).

    Args:
        student: ``VideoBackbone`` without a classifier (``forward_features`` -> (B, D)).
        teachers: none (the PCL baseline) or one teacher with rotation logits of the same
            ``num_rotations`` (any backbone): a pre-trained RotNet run, or a PCL-trained
            student (a ``pcl_kd`` run, as the paper's teachers).
        crop_size, frames: clip side and length.
        num_rotations: 2, 3 or 4 quarter-turn classes.
        temperature: T of the KD term.
        kd_weight: weight of ``T^2 KL(teacher || student)`` on the rotation logits.
        contrastive_weight: weight of NT-Xent.
        nce_temperature: NT-Xent temperature.
        proj_dim: output of the one-layer projection head ("a perceptron", §3).
        flip: random horizontal flips of the views.

    Raises:
        ValueError: for an invalid rotation count or non-positive temperatures.
    """

    name = "pcl_kd"
    paper = "Camarena et al. 2022, NeurIPS workshop, §3 (PCL: Tao et al. 2020)"
    teacher_count = (0, 1)
    teacher_output = "pretext"
    student_head = False

    def __init__(self, student: nn.Module, teachers: Sequence[nn.Module] | Teachers = (), crop_size: int = 112,
                 frames: int = 16, num_rotations: int = 4, temperature: float = 4.0, kd_weight: float = 1.0,
                 contrastive_weight: float = 1.0, nce_temperature: float = 0.5, proj_dim: int = 128,
                 flip: bool = True) -> None:
        super().__init__(student, teachers)
        if num_rotations not in (2, 3, 4) or temperature <= 0 or nce_temperature <= 0:
            raise ValueError(f"need num_rotations in (2, 3, 4) and positive temperatures; got {num_rotations}, "
                             f"{temperature}, {nce_temperature}")
        self.crop_size, self.frames, self.num_rotations = crop_size, frames, num_rotations
        self.temperature, self.kd_weight = float(temperature), float(kd_weight)
        self.contrastive_weight, self.nce_temperature = float(contrastive_weight), float(nce_temperature)
        self.augment = ClipAugment(crop_size, flip_p=0.5 if flip else 0.0)
        self.rotation_head = LinearHead(student.feature_dim, num_rotations)
        self.projector = LinearHead(student.feature_dim, proj_dim)

    def predict(self, x: Tensor) -> Tensor:
        """Rotation logits of clips (B, 3, T, H, W) -> (B, num_rotations) (there is no class head)."""
        return self.rotation_head(self.backbone.forward_features(x))

    def forward(self, batch: dict[str, Any]) -> TaskOutput:
        """Two augmented views (contrastive) and the first view rotated (pretext and KD)."""
        v1, v2 = view_pair(batch["clips"])
        b = v1.shape[0]
        x = self.augment(torch.cat([v1, v2]))
        k = (torch.randperm(b) % self.num_rotations).to(x.device)
        rotated = rotate90(x[:b], k)
        features = self.backbone.forward_features(torch.cat([x, rotated]))
        rot_logits = self.rotation_head(features[2 * b:])
        pretext, acc = classification(rot_logits, k)
        z = self.projector(features[:2 * b])
        contrastive, nce_acc = classification(*nt_xent_logits(z[:b], z[b:], self.nce_temperature))
        loss = pretext + self.contrastive_weight * contrastive
        metrics = {"acc": acc.item(), "pretext": pretext.item(), "contrastive": contrastive.item(),
                   "nce_acc": nce_acc.item()}
        if len(self.teachers):
            target = soften(self.teachers.logits(rotated)[0], self.temperature)
            kd = kd_kl(rot_logits.float(), target, self.temperature)
            loss = loss + self.kd_weight * kd
            metrics["kd"] = kd.item()
        return TaskOutput(loss, metrics, b)
