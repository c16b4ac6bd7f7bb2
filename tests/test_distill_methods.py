"""Distillers' losses as their authors define them, each against a small hand-computed reference:
AE-KD's CE + 0.9 KD (released code), SKD-SRL's soft label from both views (Vu et al. 2022 §III-A),
the graph's per-sample Earth Mover coupling (Zhang & Peng 2018 Eq. 5) and PCL's transformations
and memory-bank NCE (Tao et al., released code)."""
from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from sslvid.backbones import create_backbone
from sslvid.distill import create_distiller

pytestmark = pytest.mark.usefixtures("one_thread")

T, S, C = 4, 32, 3  # frames, crop, classes


class _FixedTeacher(nn.Module):
    """A teacher whose logits are the same rows for every clip batch."""

    def __init__(self, logits: list[list[float]]) -> None:
        super().__init__()
        self.register_buffer("rows", torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows[: x.shape[0]]


def _log_softmax(values: list[float], t: float = 1.0) -> list[float]:
    top = max(v / t for v in values)
    log_z = top + math.log(sum(math.exp(v / t - top) for v in values))
    return [v / t - log_z for v in values]


def _kl(p_logits: list[float], q_logits: list[float], t: float) -> float:
    """KL(softmax(p / t) || softmax(q / t)) written out."""
    lp, lq = _log_softmax(p_logits, t), _log_softmax(q_logits, t)
    return sum(math.exp(a) * (a - b) for a, b in zip(lp, lq))


def _fixed_view(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.view = lambda batch: (x, y)


# ---------------------------------------------------------------------- AE-KD


def test_aekd_trains_with_full_cross_entropy_plus_0_9_kd_as_the_released_code() -> None:
    torch.manual_seed(0)
    teachers = [_FixedTeacher([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]), _FixedTeacher([[0.0, 3.0, 0.0], [1.0, 0.0, 2.0]])]
    model = create_distiller("aekd", student=create_backbone("shufflenet3d", num_classes=C, width=0.125),
                             teachers=teachers, crop_size=S, frames=T).eval()
    x, y = torch.randn(2, 3, T, S, S), torch.tensor([0, 2])
    _fixed_view(model, x, y)
    out = model({"clips": None, "label": y})
    z = model.backbone(x).tolist()
    ce = -sum(_log_softmax(z[i])[y[i]] for i in range(2)) / 2
    kd = [16 * sum(_kl(t.rows[i].tolist(), z[i], 4.0) for i in range(2)) / 2 for t in teachers]
    weights = [out.metrics["weight_0"], out.metrics["weight_1"]]
    expected = 1.0 * ce + 0.9 * (weights[0] * kd[0] + weights[1] * kd[1])
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------- SKD-SRL


@pytest.mark.parametrize("name", ["self_kd", "skd_srl"])
def test_skd_srl_loss_is_two_ce_plus_alpha_times_the_summed_soft_label_kl(name: str) -> None:
    torch.manual_seed(0)
    model = create_distiller(name, student=create_backbone("shufflenet3d", num_classes=C, width=0.125),
                             crop_size=S, frames=T, proj_dim=16).eval()
    x, y = torch.randn(4, 3, T, S, S), torch.tensor([0, 2])  # the two views of two videos
    model.views = lambda batch: x
    out = model({"clips": None, "label": y})
    p = model.backbone(x).tolist()
    ce = sum(-_log_softmax(p[i])[y[i % 2]] for i in range(4)) / 2
    tau = 10.0
    kl = sum(_kl([u + v for u, v in zip(p[i], p[i + 2])], p[i + j], tau) for i in range(2) for j in (0, 2)) / 2
    assert out.metrics["kl"] == pytest.approx(kl, rel=1e-3)  # float32 against float64
    expected = ce + 0.1 * kl + out.metrics.get("similarity", 0.0)
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
