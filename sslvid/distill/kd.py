"""Students trained on labels, with or without teachers: independent, augmented, Hinton KD, AE-KD.

* ``independent``: cross-entropy on labels alone (the "student without a teacher" of every
  comparison; SKD-SRL's "Baseline", Vu et al. 2022 Table II).
* ``augment``: the same with SKD-SRL's augmentation ("Baseline + Data augment", Table II).
* ``kd``: Hinton, Vinyals & Dean 2015 §2, ``(1 - alpha) CE + alpha T^2 KL(q || p_s^T)``; with
  several teachers ``q`` is the uniform average of their soft targets (the multi-teacher
  average; "KD (uniform)" of Zhang & Peng 2018 Table 2).
* ``aekd``: Du et al. 2020 (NeurIPS) §3: one KD loss per teacher, weighted at every step by
  the min-norm point of their gradients (``sslvid.distill.solver``); the benchmark's
  multi-teacher distillation (benchmark §5, Table 8). As in the authors' released code
  (``train_student.py``: ``gamma`` 1, ``alpha`` 0.9) the loss is ``CE + 0.9 * soft term``, not
  Hinton's weighted average.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.distill.base import DISTILLERS, Distiller, Teachers
from sslvid.distill.losses import kd_kl, soften
from sslvid.distill.recipe import ONE_RECIPE, recipe_settings
from sslvid.distill.solver import min_norm_weights
from sslvid.distill.views import basic_view, skd_view
from sslvid.engine.step import StepOutput
from sslvid.pretext.losses import classification


class Supervised(Distiller):
    """A student classifier trained on labelled clips: the shared view and cross-entropy.

    Args:
        student: ``VideoBackbone`` with a head over the dataset's classes.
        teachers: frozen teacher classifiers over the same classes.
        crop_size: side of the training views.
        frames: T of the clips.
        flip: random horizontal flips (off for sets whose labels a mirror changes).
    """

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers)
        self.crop_size, self.frames, self.flip = crop_size, frames, flip

    def view(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Clip 0 of each video as a training view (B, 3, T, S, S), and the labels (B,)."""
        return basic_view(batch["clips"][:, 0], self.crop_size, flip=self.flip), batch["label"]


@DISTILLERS.register("independent")
class Independent(Supervised):
    """The student alone: cross-entropy on labels (no teacher). ``acc`` is the training top-1."""

    name = "independent"
    paper = "baseline (Vu et al. 2022 Table II; benchmark §5)"

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Cross-entropy of the student on one view per video."""
        x, y = self.view(batch)
        loss, acc = classification(self.backbone(x), y)
        return StepOutput(loss, {"acc": acc.item()}, y.shape[0])


@DISTILLERS.register("augment")
class Augmented(Independent):
    """The student alone with SKD-SRL's stronger augmentation (Vu et al. 2022 §III-B, Table II)."""

    name = "augment"
    paper = "Vu et al. 2022, Table II (Baseline + Data augment)"

    def view(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """One SKD-SRL view per video and the labels."""
        return skd_view(batch["clips"][:, 0], self.crop_size, flip=self.flip), batch["label"]


@DISTILLERS.register("kd")
class HintonKD(Supervised):
    """Hinton KD from one teacher, or from the uniform average of several teachers' soft targets.

    Hinton, Vinyals & Dean 2015 (arXiv 1503.02531) §2: the loss is the weighted average
    ``(1 - alpha) CE(p_s, y) + alpha T^2 KL(q || softmax(z_s / T))`` with
    ``q = mean_m softmax(z_m / T)``.

    Args:
        student, teachers, crop_size, frames, flip: see ``Supervised``.
        temperature: T.
        alpha: weight of the soft term in [0, 1].

    Raises:
        ValueError: for alpha outside [0, 1] or a non-positive temperature.
    """

    name = "kd"
    paper = "Hinton et al. 2015, arXiv 1503.02531, §2"
    teacher_count = (1, None)

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        temperature: float = 4.0,
        alpha: float = 0.9,
        frames: int = 16,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers, crop_size, frames, flip)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature, self.alpha = float(temperature), float(alpha)

    def soft_loss(self, logits: Tensor, teacher_logits: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The soft term: KD to the averaged soft targets. teacher_logits is (M, B, C)."""
        target = soften(teacher_logits, self.temperature).mean(0)
        return kd_kl(logits.float(), target, self.temperature), {}

    def loss_weights(self) -> tuple[float, float]:
        """(weight of CE, weight of the soft term): Hinton's weighted average ``(1 - alpha, alpha)``."""
        return 1.0 - self.alpha, self.alpha

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """``w_ce CE + w_soft * soft term`` (``loss_weights``) on one view per video (teachers see the same view)."""
        x, y = self.view(batch)
        logits = self.backbone(x)
        ce, acc = classification(logits, y)
        soft, extra = self.soft_loss(logits, self.teachers.logits(x))
        ce_weight, soft_weight = self.loss_weights()
        loss = ce_weight * ce + soft_weight * soft
        return StepOutput(loss, {"acc": acc.item(), "ce": ce.item(), "kd": soft.item(), **extra}, y.shape[0])


@DISTILLERS.register("aekd")
class AEKD(HintonKD):
    """Adaptive ensemble KD: per-step teacher weights from the min-norm point of their KD gradients.

    Du, You, Li, Wu, Wang, Qian & Zhang 2020 ("Agree to Disagree", NeurIPS) §3: the KD loss of
    teacher m, ``L_m = T^2 KL(softmax(z_m / T) || softmax(z_s / T))``, has gradient ``g_m``
    with respect to the student's logits; the weights solve
    ``min ||sum_m a_m g_m||^2`` over the simplex with ``a_m <= C`` (``solver.min_norm_weights``)
    and the soft term is ``sum_m a_m L_m`` (weights held constant). As in the authors' code,
    ``g_m`` is the batch mean of the per-sample logit gradients (a C-vector) and C = 0.6.
    The loss is ``ce_weight * CE + alpha * sum_m a_m L_m``, with the released code's
    ``gamma = 1`` and ``alpha = 0.9`` (``train_student.py``; ``helper/loops.py``), T = 4.

    Args:
        student, teachers, crop_size, temperature, alpha, frames, flip: see ``HintonKD``.
        tolerance: C, the cap on each teacher's weight, in [1/M, 1].
        ce_weight: weight of the cross-entropy (the released code's ``gamma``), >= 0.

    Raises:
        ValueError: for a tolerance outside [1/M, 1] or a negative ``ce_weight``.
    """

    name = "aekd"
    paper = "Du et al. 2020, NeurIPS, §3 (benchmark §5)"
    teacher_count = (2, None)

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        temperature: float = 4.0,
        alpha: float = 0.9,
        tolerance: float = 0.6,
        frames: int = 16,
        flip: bool = True,
        ce_weight: float = 1.0,
    ) -> None:
        super().__init__(student, teachers, crop_size, temperature, alpha, frames, flip)
        if not 1.0 / len(self.teachers) <= tolerance <= 1.0:
            raise ValueError(f"tolerance must be in [1/M, 1] = [{1 / len(self.teachers):.3g}, 1], got {tolerance}")
        if ce_weight < 0:
            raise ValueError(f"ce_weight must be >= 0, got {ce_weight}")
        self.tolerance, self.ce_weight = float(tolerance), float(ce_weight)

    def loss_weights(self) -> tuple[float, float]:
        """(ce_weight, alpha): the released code's ``gamma * CE + alpha * KD``, not a weighted average."""
        return self.ce_weight, self.alpha

    def soft_loss(self, logits: Tensor, teacher_logits: Tensor) -> tuple[Tensor, dict[str, float]]:
        """``sum_m a_m L_m`` with the min-norm weights ``a`` (logged as ``weight_m``)."""
        logits = logits.float()
        losses = [kd_kl(logits, soften(t, self.temperature), self.temperature) for t in teacher_logits]
        grads = [torch.autograd.grad(loss, logits, retain_graph=True)[0].mean(0) for loss in losses]
        weights = min_norm_weights(torch.stack(grads), cap=self.tolerance)
        soft = torch.stack(losses) @ weights.to(logits.dtype)
        return soft, {f"weight_{m}": float(w) for m, w in enumerate(weights.tolist())}


SKD_SRL_RECIPE = {
    "optimiser": "sgd",
    "learning rate": 0.01,
    "weight decay": 5e-4,
    "momentum": 0.9,
    "batch size": 32,
    "epochs": 200,
}
"""Vu et al. 2022 §IV-A ("Implementation Details"): the recipe of SKD-SRL and its baselines."""
FEWER_EPOCHS = "the study's students train 100 epochs at paper scale"

register_card(
    MethodCard(
        method="independent",
        kind="distill",
        title="Student alone",
        paper="Vu et al. 2022 (baseline of Table II)",
        summary="Cross-entropy on one clip per video, no teacher: the baseline every distiller is compared with.",
        settings=recipe_settings(SKD_SRL_RECIPE, "§IV-A", notes={"epochs": FEWER_EPOCHS}),
    )
)

register_card(
    MethodCard(
        method="augment",
        kind="distill",
        title="Student alone + augmentation",
        paper="Vu et al. 2022 (Table II, Baseline + Data augment)",
        summary="The student alone on SKD-SRL's augmented views: flip, contrast, brightness, hue, blur and "
        "channel splitting, each applied with probability p.",
        settings=(
            Setting("augmentation probability p", paper=0.5, where="§III-B", ours=default_of(skd_view, "p")),
            *recipe_settings(SKD_SRL_RECIPE, "§IV-A", notes={"epochs": FEWER_EPOCHS}),
        ),
    )
)

register_card(
    MethodCard(
        method="kd",
        kind="distill",
        title="Hinton KD (uniform over teachers)",
        paper="Hinton et al. 2015",
        summary="(1 - alpha) CE + alpha T^2 KL to the teachers' averaged soft targets (Hinton et al. §2); with "
        'several teachers the "KD (uniform)" baseline of Zhang & Peng 2018 Table 2. The paper fixes '
        "neither T nor alpha; ours are AE-KD's released values.",
        settings=(
            Setting("temperature T", where="§2", released=4.0, ours=default_of(HintonKD, "temperature"), note=""),
            Setting("weight alpha of the soft term", where="§2", ours=default_of(HintonKD, "alpha")),
            *recipe_settings(),
        ),
    )
)

register_card(
    MethodCard(
        method="aekd",
        kind="distill",
        title="AE-KD",
        paper="Du et al. 2020 (NeurIPS)",
        code="AnTuo1998/AE-KD",
        summary="One KD loss per teacher, weighted each step by the min-norm point of their logit gradients under "
        "the cap C; the student minimises gamma CE + alpha sum_m a_m L_m. The benchmark (§5) distils its "
        "pretext-task teachers with it; its video recipe is in a supplementary we do not have, so the "
        "released recipe below is the authors' CIFAR-100 one.",
        settings=(
            Setting("temperature T", released=4.0, ours=default_of(AEKD, "temperature")),
            Setting("weight of CE (gamma)", released=1.0, ours=default_of(AEKD, "ce_weight")),
            Setting("weight of KD (alpha)", released=0.9, ours=default_of(AEKD, "alpha")),
            Setting("cap C on a teacher's weight", released=0.6, ours=default_of(AEKD, "tolerance")),
            *recipe_settings(
                released={
                    "optimiser": "sgd",
                    "learning rate": 0.05,
                    "weight decay": 5e-4,
                    "momentum": 0.9,
                    "batch size": 64,
                    "epochs": 240,
                },
                notes={
                    "learning rate": ONE_RECIPE + "; the released 0.05 is for CIFAR-100",
                    "batch size": ONE_RECIPE + "; the released 64 is for CIFAR-100 images",
                    "epochs": ONE_RECIPE + "; the released 240 is for CIFAR-100",
                },
            ),
        ),
    )
)
