"""Self-distillation between two views of a video: Self-KD and SKD-SRL (Vu, Phung & Wang 2022).

SKD-SRL (§III-A, Eq. 5, Alg. 1): two augmented views x1, x2 of each video go through the
shared encoder ``f`` to ``r1, r2``; a linear classifier gives ``p1, p2``; a projector ``g``
(one linear layer) gives ``z1, z2`` and a predictor ``q`` (Linear-BN-ReLU-Linear, hidden
width a quarter of the output) gives ``v1, v2``. The loss is

    CE(y, p1) + CE(y, p2) + alpha L_KL(p1, p2; tau) + beta (D(v1, sg(z2)) + D(v2, sg(z1))) / 2

with ``L_KL`` the distillation of the soft label ``p = p1 + p2`` (the sum of both views' logits,
§III-A and Fig. 2) into each view at temperature tau (``losses.summed_soft_label_kl``), D the
negative cosine similarity and sg the stop-gradient (SimSiam, Chen & He 2021), and
alpha = 0.1, beta = 1, tau = 10 (§IV-A, "Implementation Details"). ``self_kd`` is the same without the Siamese term
(beta = 0): the data-augmentation Self-KD of Fig. 1(b), the "Self-KD" row of Table II.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sslvid.backbones.base import VideoBackbone
from sslvid.cards import MethodCard, Setting, default_of, register_card
from sslvid.distill.base import DISTILLERS, Teachers
from sslvid.distill.kd import FEWER_EPOCHS, SKD_SRL_RECIPE, Supervised
from sslvid.distill.losses import summed_soft_label_kl
from sslvid.distill.recipe import recipe_settings
from sslvid.distill.views import skd_view
from sslvid.engine.step import StepOutput
from sslvid.pretext.heads import LinearHead, MLPHead
from sslvid.pretext.losses import accuracy, negative_cosine
from sslvid.pretext.views import view_pair


@DISTILLERS.register("skd_srl")
class SKDSRL(Supervised):
    """Self-knowledge distillation with Siamese representation learning (module docstring).

    Vu, Phung & Wang 2022 ("A Novel Self-Knowledge Distillation Approach with Siamese
    Representation Learning for Action Recognition"), §III.

    Args:
        student: ``VideoBackbone`` with its classifier head (``forward_features`` then
            ``forward_head``: r -> p).
        teachers: none (the student teaches itself).
        crop_size, frames, flip: see ``kd.Supervised``.
        alpha: weight of the KL between the views.
        beta: weight of the Siamese similarity (0 removes the projector and predictor).
        tau: temperature of the KL.
        proj_dim: output of the projector and predictor (2048 in the paper).
        pred_hidden: hidden width of the predictor (None: ``proj_dim // 4``, the paper's 512).

    Raises:
        ValueError: for negative weights or a non-positive temperature.
    """

    name = "skd_srl"
    paper = "Vu, Phung & Wang 2022, §III (Eq. 5)"

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        alpha: float = 0.1,
        beta: float = 1.0,
        tau: float = 10.0,
        proj_dim: int = 2048,
        pred_hidden: int | None = None,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers, crop_size, frames, flip)
        if alpha < 0 or beta < 0 or tau <= 0:
            raise ValueError(f"need alpha >= 0, beta >= 0, tau > 0; got {alpha}, {beta}, {tau}")
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)
        if self.beta > 0:
            self.projector = LinearHead(student.feature_dim, proj_dim)
            self.predictor = MLPHead(proj_dim, pred_hidden or max(1, proj_dim // 4), proj_dim, num_layers=2)

    def views(self, batch: dict[str, Any]) -> Tensor:
        """The two SKD-SRL views of each video, stacked: (2B, 3, T, S, S) (first views first)."""
        v1, v2 = view_pair(batch["clips"])
        return skd_view(torch.cat([v1, v2]), self.crop_size, flip=self.flip)

    def similarity(self, r: Tensor, b: int) -> Tensor:
        """Eq. 3: symmetrised negative cosine of predictor outputs against stop-gradient projections."""
        z = self.projector(r)
        v = self.predictor(z)
        return 0.5 * negative_cosine(v[:b], z[b:]) + 0.5 * negative_cosine(v[b:], z[:b])

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Eq. 5 on a batch; ``acc`` is the top-1 over both views."""
        y = batch["label"]
        b = y.shape[0]
        r = self.backbone.forward_features(self.views(batch))
        p = self.backbone.forward_head(r)
        ce = nn.functional.cross_entropy(p[:b], y) + nn.functional.cross_entropy(p[b:], y)
        kl = summed_soft_label_kl(p[:b].float(), p[b:].float(), self.tau)
        loss = ce + self.alpha * kl
        metrics = {"acc": accuracy(p, torch.cat([y, y])).item(), "ce": ce.item(), "kl": kl.item()}
        if self.beta > 0:
            sim = self.similarity(r, b)
            loss = loss + self.beta * sim
            metrics["similarity"] = sim.item()
        return StepOutput(loss, metrics, b)


@DISTILLERS.register("self_kd")
class SelfKD(SKDSRL):
    """Self-KD through data augmentation: SKD-SRL without the Siamese term (Vu et al. 2022, Table II).

    Args:
        see ``SKDSRL``; ``beta`` defaults to 0.
    """

    name = "self_kd"
    paper = "Vu et al. 2022, Fig. 1(b) and Table II (Self-KD)"

    def __init__(
        self,
        student: VideoBackbone,
        teachers: Sequence[nn.Module] | Teachers = (),
        crop_size: int = 112,
        frames: int = 16,
        alpha: float = 0.1,
        beta: float = 0.0,
        tau: float = 10.0,
        proj_dim: int = 2048,
        pred_hidden: int | None = None,
        flip: bool = True,
    ) -> None:
        super().__init__(student, teachers, crop_size, frames, alpha, beta, tau, proj_dim, pred_hidden, flip)


def _predictor_hidden(cls: type[SKDSRL]) -> int:
    """The predictor's hidden width by default (None stands for a quarter of ``proj_dim``)."""
    hidden = default_of(cls, "pred_hidden")()
    return hidden if hidden is not None else default_of(cls, "proj_dim")() // 4


def _skd_settings(cls: type[SKDSRL], beta: float | None) -> tuple[Setting, ...]:
    rows: tuple[Setting, ...] = (
        Setting("temperature tau", paper=10.0, where="§IV-A", ours=default_of(cls, "tau")),
        Setting("weight alpha of the distillation term", paper=0.1, where="§IV-A", ours=default_of(cls, "alpha")),
        Setting(
            "weight beta of the similarity term",
            paper=beta,
            where="§IV-A" if beta is not None else "",
            ours=default_of(cls, "beta"),
        ),
        Setting("augmentation probability p", paper=0.5, where="§III-B", ours=default_of(skd_view, "p")),
    )
    if beta:
        rows += (
            Setting("projector output", paper=2048, where="§III-B", ours=default_of(cls, "proj_dim")),
            Setting("predictor hidden width", paper=512, where="§III-B", ours=lambda: _predictor_hidden(cls)),
        )
    return (*rows, *recipe_settings(SKD_SRL_RECIPE, "§IV-A", notes={"epochs": FEWER_EPOCHS}))


register_card(
    MethodCard(
        method="skd_srl",
        kind="distill",
        title="SKD-SRL",
        paper="Vu, Phung & Wang 2022",
        summary="Two augmented views of each video: CE on both, alpha times the KL from the soft label "
        "softmax((p1 + p2) / tau) to each view (§III-A; the printed Eq. 2 repeats one term, the text and "
        "Fig. 2 give the summed label; no gradient through the label, no tau^2 factor), and beta times "
        "SimSiam's symmetrised negative cosine through a linear projector and a predictor.",
        settings=_skd_settings(SKDSRL, beta=1.0),
    )
)

register_card(
    MethodCard(
        method="self_kd",
        kind="distill",
        title="Self-KD (augmentation)",
        paper="Vu, Phung & Wang 2022 (Table II)",
        summary="SKD-SRL without the Siamese similarity term (Fig. 1(b)): CE on two views and the summed soft "
        "label distilled into each.",
        settings=_skd_settings(SelfKD, beta=None),
    )
)
