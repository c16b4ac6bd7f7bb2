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


# ---------------------------------------------------------------------- graph distillation


def _graph(name: str, teachers: list[nn.Module], **knobs: Any) -> nn.Module:
    torch.manual_seed(0)
    return create_distiller(name, student=create_backbone("shufflenet3d", num_classes=C, width=0.125),
                            teachers=teachers, crop_size=S, frames=T, **knobs)


def test_logits_graph_couples_each_sample_with_itself_as_eq_5() -> None:
    # Zhang & Peng 2018 Eq. 5-6: l(x_i) = ||softmax(f_t(x_i) / T) - softmax(f_s(x_i))||, T = 4, one teacher
    student = [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    teacher = [[0.0, 20.0, 0.0], [20.0, 0.0, 0.0]]  # a swap across samples would cost less: batch W1 < Eq. 5
    model = _graph("graph_logits", [_FixedTeacher(teacher)])
    eta = [[math.exp(v) for v in _log_softmax(row)] for row in student]
    mu = [[math.exp(v) for v in _log_softmax(row, 4.0)] for row in teacher]
    expected = sum(math.dist(m, e) for m, e in zip(mu, eta)) / 2
    got = model.logits_loss(torch.tensor(student), torch.tensor([teacher]))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    batch = _graph("graph_logits", [_FixedTeacher(teacher)], coupling="batch")
    assert batch.logits_loss(torch.tensor(student), torch.tensor([teacher])).item() < expected - 0.1


def test_representation_graph_keeps_the_students_full_map_of_the_distillation_block() -> None:
    # §4.3: R is C x S with S the full map of conv4 (§5.2); teachers' maps are brought to the student's size
    model = _graph("graph_features", [create_backbone(n, num_classes=C, width=0.125)
                                      for n in ("squeezenet3d", "shufflenet3d")])
    student_map, teacher_map = torch.randn(2, 8, 2, 3, 3), torch.randn(2, 5, 1, 6, 6)
    assert model.locations(student_map) == (2, 3, 3)
    torch.testing.assert_close(model.pooled(student_map, (2, 3, 3)), student_map.flatten(2))
    assert model.pooled(teacher_map, (2, 3, 3)).shape == (2, 5, 18)
    assert _graph("graph_features", list(model.teachers), grid=(1, 1, 2)).locations(student_map) == (1, 1, 2)
