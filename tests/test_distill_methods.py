"""Distillers' losses as their authors define them, each against a small hand-computed reference:
AE-KD's CE + 0.9 KD (released code), SKD-SRL's soft label from both views (Vu et al. 2022 §III-A),
the graph's per-sample Earth Mover coupling (Zhang & Peng 2018 Eq. 5) and PCL's transformations
and memory-bank NCE (Tao et al., released code)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from sslvid.backbones import create_backbone
from sslvid.distill import create_distiller
from sslvid.distill.pcl import (
    REMOTE,
    TRANSFORMATIONS,
    MemoryBankNCE,
    TransformationTeacher,
    TupleSampler,
    swap_chunks,
    swap_quadrants,
    transform_middle,
)
from sslvid.distill.teachers import PretextTeacher

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
    model = create_distiller(
        "aekd",
        student=create_backbone("shufflenet3d", num_classes=C, width=0.125),
        teachers=teachers,
        crop_size=S,
        frames=T,
    ).eval()
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
    model = create_distiller(
        name, student=create_backbone("shufflenet3d", num_classes=C, width=0.125), crop_size=S, frames=T, proj_dim=16
    ).eval()
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
    return create_distiller(
        name,
        student=create_backbone("shufflenet3d", num_classes=C, width=0.125),
        teachers=teachers,
        crop_size=S,
        frames=T,
        **knobs,
    )


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
    model = _graph(
        "graph_features", [create_backbone(n, num_classes=C, width=0.125) for n in ("squeezenet3d", "shufflenet3d")]
    )
    student_map, teacher_map = torch.randn(2, 8, 2, 3, 3), torch.randn(2, 5, 1, 6, 6)
    assert model.locations(student_map) == (2, 3, 3)
    torch.testing.assert_close(model.pooled(student_map, (2, 3, 3)), student_map.flatten(2))
    assert model.pooled(teacher_map, (2, 3, 3)).shape == (2, 5, 18)
    assert _graph("graph_features", list(model.teachers), grid=(1, 1, 2)).locations(student_map) == (1, 1, 2)


# ---------------------------------------------------------------------- PCL-KD


def test_pcl_spatial_permutation_is_the_released_quadrant_order() -> None:
    # train_vcp_contrast.spatial_permutation: order [3, 2, 1, 0] of quadrants A B / C D -> D C / B A
    frame = torch.arange(16.0).view(4, 4)
    expected = torch.tensor([[10.0, 11, 8, 9], [14, 15, 12, 13], [2, 3, 0, 1], [6, 7, 4, 5]])
    x = frame.expand(1, 3, 2, 4, 4)
    torch.testing.assert_close(swap_quadrants(x), expected.expand(1, 3, 2, 4, 4))


def test_pcl_temporal_shuffle_swaps_two_of_four_chunks() -> None:
    x = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(2, 3, 8, 2, 2)
    out = swap_chunks(x, torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert out[0, 0, :, 0, 0].tolist() == [4, 5, 2, 3, 0, 1, 6, 7]
    assert out[1, 0, :, 0, 0].tolist() == [0, 1, 6, 7, 4, 5, 2, 3]
    with pytest.raises(ValueError, match="multiple of 4"):
        swap_chunks(torch.zeros(1, 3, 6, 2, 2), torch.tensor([0]), torch.tensor([1]))


def test_pcl_transforms_the_middle_clip_as_each_label_says() -> None:
    torch.manual_seed(0)
    middle, remote = torch.randn(5, 3, 4, 6, 6), torch.randn(5, 3, 4, 6, 6)
    out = transform_middle(middle, remote, torch.arange(5))
    torch.testing.assert_close(out[0], middle[0])  # original
    assert any(torch.equal(out[1], torch.rot90(middle[1], k, dims=(-2, -1))) for k in (1, 2, 3))
    torch.testing.assert_close(out[2], swap_quadrants(middle[2:3])[0])
    shuffles = [
        swap_chunks(middle[3:4], torch.tensor([i]), torch.tensor([j]))[0] for i in range(4) for j in range(4) if i != j
    ]
    assert any(torch.equal(out[3], s) for s in shuffles) and not torch.equal(out[3], middle[3])
    torch.testing.assert_close(out[4], remote[4])


def test_tuple_sampler_takes_three_clips_interval_apart_and_a_remote_clip_away_from_them() -> None:
    sampler = TupleSampler(num_frames=16, interval=8, remote_gap=16)
    rng = np.random.default_rng(0)
    for _ in range(50):
        first, second, third, remote = sampler.starts(200, rng).tolist()
        assert (second - first, third - second) == (24, 24) and third + 16 <= 200
        assert remote + 16 + 16 <= first or remote >= third + 16 + 16
        assert 0 <= remote <= 200 - 16
    short = sampler.starts(90, rng).tolist()  # no room for a remote clip: it repeats the middle one
    assert short[3] == short[1]


def test_memory_bank_nce_against_the_released_formula() -> None:
    # NCEAverage_ori (use_softmax): logits = bank_other[idx] . z / tau with idx[:, 0] the video itself,
    # CE with target 0 for both views; then entry = normalise(m * entry + (1 - m) * z)
    bank = MemoryBankNCE(dim=2, size=4, negatives=2, temperature=0.5, momentum=0.5)
    e = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]]
    bank.memory[0] = torch.tensor(e)
    bank.memory[1] = torch.tensor([e[1], e[2], e[3], e[0]])
    z1, z2 = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 2.0]])
    video, negatives = torch.tensor([5]), torch.tensor([[0, 2]])  # video 5 lives in slot 1
    loss, _ = bank(z1, z2, video, negatives)

    def ce(query: list[float], rows: list[list[float]]) -> float:
        norm = math.hypot(*query)
        scores = [(query[0] * r[0] + query[1] * r[1]) / norm / 0.5 for r in rows]
        return -_log_softmax(scores)[0]

    bank2 = [e[1], e[2], e[3], e[0]]
    expected = ce([3.0, 4.0], [bank2[1], bank2[0], bank2[2]]) + ce([0.0, 2.0], [e[1], e[0], e[2]])
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    moved = [0.5 * e[1][0] + 0.5 * 0.6, 0.5 * e[1][1] + 0.5 * 0.8]
    torch.testing.assert_close(bank.memory[0, 1], torch.tensor(moved) / math.hypot(*moved))
    assert bank.written.tolist() == [False, True, False, False]


def test_memory_bank_draws_other_written_entries_without_replacement_never_more_than_there_are() -> None:
    bank = MemoryBankNCE(dim=2, size=8, negatives=3)
    assert bank.draw_negatives(torch.tensor([0])).shape == (1, 3)  # nothing written: the whole bank
    bank.written[[1, 2, 4, 6]] = True
    drawn = bank.draw_negatives(torch.tensor([2, 5]))
    assert drawn.shape == (2, 3)
    assert set(drawn[0].tolist()) == {1, 4, 6}  # the three other written entries, each once
    assert len(set(drawn[1].tolist())) == 3 and set(drawn[1].tolist()) <= {1, 2, 4, 6}
    bank.written[:] = False
    bank.written[[3, 7]] = True
    assert bank.draw_negatives(torch.tensor([3])).tolist() == [[7]]  # capped at the others in the bank


def test_pcl_kd_loss_is_ce_plus_half_the_nce_plus_kd_and_rejects_a_rotation_teacher() -> None:
    torch.manual_seed(0)
    backbone = create_backbone("squeezenet3d", width=0.125)
    teacher = TransformationTeacher(backbone, nn.Linear(3 * backbone.feature_dim, len(TRANSFORMATIONS)))
    model = create_distiller(
        "pcl_kd",
        student=create_backbone("shufflenet3d", width=0.125),
        teachers=[teacher],
        crop_size=S,
        frames=T,
        negatives=8,
        memory_size=16,
    )
    starts = torch.tensor([0, 6, 12, 30])
    batch = {
        "clips": torch.randint(0, 256, (4, 4, T, 40, 40, 3), dtype=torch.uint8),
        "video": torch.arange(4),
        "frame_indices": (starts.view(1, 4, 1) + torch.arange(T)).expand(4, 4, T),
    }
    out = model(batch)
    m = out.metrics
    assert out.loss.item() == pytest.approx(m["pretext"] + 0.5 * m["contrastive"] + m["kd"], rel=1e-5)
    no_remote = {**batch, "frame_indices": torch.zeros(4, 4, T, dtype=torch.long)}
    assert all(REMOTE not in model.labels(no_remote).tolist() for _ in range(20))
    rotation = PretextTeacher(create_backbone("squeezenet3d", width=0.125), nn.Linear(backbone.feature_dim, 4))
    with pytest.raises(ValueError, match="PCL-trained network"):
        create_distiller(
            "pcl_kd", student=create_backbone("shufflenet3d", width=0.125), teachers=[rotation], crop_size=S, frames=T
        )
