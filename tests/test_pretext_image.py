"""The image methods of the lightweight study on clips: SimCLR, MoCo v2, BYOL, Split-Brain, and Lab colour."""

import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sslvid.pretext.byol  # noqa: F401  (registers the tasks until sslvid/pretext/__init__.py does)
import sslvid.pretext.moco  # noqa: F401
import sslvid.pretext.simclr  # noqa: F401
import sslvid.pretext.splitbrain  # noqa: F401
from sslvid.backbones import create_backbone
from sslvid.data.transforms import normalize
from sslvid.pretext import color as C
from sslvid.pretext.base import TASKS, PretextTask, create_task
from sslvid.pretext.byol import BYOL
from sslvid.pretext.momentum import cosine_momentum
from sslvid.pretext.splitbrain import SplitBrainBackbone
from sslvid.pretext.views import two_view_sampler, view_pair

NAMES = ("simclr", "moco_v2", "byol", "splitbrain")
SIDE, VIDEOS = 16, 4
MICRO = {  # small knobs: a step takes milliseconds
    "moco_v2": {"queue_size": 4096},
    "byol": {"hidden_dim": 64},
    "splitbrain": {"output_stride": 4},
}


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_task(name: str, frames: int = 4, **kwargs) -> PretextTask:
    torch.manual_seed(0)
    if name == "splitbrain":  # by name: two half-width halves, the paper's split
        backbone, kwargs = "r3d_18", {"width": 0.25, **kwargs}
    else:
        backbone = create_backbone("r3d_18", width=0.125)
    return create_task(name, backbone=backbone, frames=frames, crop_size=SIDE, **{**MICRO.get(name, {}), **kwargs})


def make_batch(task: PretextTask, frames: int = 4, seed: int = 0) -> dict:
    k = task.clip_sampler().clips_per_video
    g = torch.Generator().manual_seed(seed)
    return {"clips": torch.randint(0, 256, (VIDEOS, k, frames, SIDE + 4, SIDE + 4, 3), dtype=torch.uint8, generator=g)}


def frozen_parts(task: PretextTask) -> list[torch.nn.Module]:
    return [m for m in (getattr(task, "key_encoder", None), getattr(task, "target_encoder", None)) if m is not None]


# ---------------------------------------------------------------- Lab colour


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
        ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ],
)
def test_lab_of_known_colours(rgb, lab):
    got = C.rgb_to_lab(torch.tensor([rgb], dtype=torch.float64), dim=1)[0]
    assert torch.allclose(got, torch.tensor(lab, dtype=torch.float64), atol=0.01), got


def test_lab_round_trip_on_clips():
    rgb = torch.rand(2, 3, 2, 5, 5, dtype=torch.float64)
    lab = C.rgb_to_lab(rgb)
    assert lab.shape == rgb.shape
    assert torch.allclose(C.lab_to_rgb(lab), rgb, atol=1e-9)
    with pytest.raises(ValueError):
        C.rgb_to_lab(torch.rand(2, 4, 3))


def test_ab_bins_are_the_srgb_cells_completed_to_313():
    cells = C.srgb_gamut_cells()
    assert len(cells) == 261  # what the 8-bit sRGB sweep hits (module docstring)
    centers = C.ab_bin_centers()
    assert centers.shape == (C.AB_BINS, 2) == (313, 2)
    assert len(torch.unique(centers, dim=0)) == 313
    assert torch.equal(centers % 10, torch.zeros_like(centers))
    assert torch.equal(centers[:261], cells.float() * 10)
    assert len(C.ab_bin_centers(None)) == 261
    with pytest.raises(ValueError):
        C.ab_bin_centers(100)


def test_ab_quantisation_round_trip():
    q = C.ABQuantizer()
    assert q.num_bins == 313
    assert torch.equal(q.encode(q.centers.t(), dim=0), torch.arange(313))
    ab = C.rgb_to_lab(torch.rand(2000, 3, dtype=torch.float64), dim=1)[:, 1:].float()
    index = q.encode(ab, dim=1)
    assert index.shape == (2000,) and int(index.max()) < 261  # sRGB colours land in the sRGB cells
    assert (q.decode(index, dim=1) - ab).abs().max() <= 5.0 + 1e-4  # the nearest cell centre
    far = q.encode(torch.tensor([[127.0, -127.0]]), dim=1)  # out of gamut: the nearest class
    assert torch.equal(q.centers[far], q.centers[torch.cdist(torch.tensor([[127.0, -127.0]]), q.centers).argmin(1)])


def test_l_quantisation_round_trip():
    lightness = torch.tensor([0.0, 1.99, 2.0, 50.0, 99.9, 100.0, 103.0])
    assert C.quantize_l(lightness).tolist() == [0, 0, 1, 25, 49, 49, 49]
    values = torch.linspace(0, 100, 1001)
    assert (C.dequantize_l(C.quantize_l(values)) - values).abs().max() <= 1.0 + 1e-5
    assert C.dequantize_l(torch.arange(50)).tolist() == [2 * i + 1 for i in range(50)]


# ---------------------------------------------------------------- momentum, MoCo, BYOL parts


def test_cosine_momentum_schedule():
    assert cosine_momentum(0.996, 0, 100) == pytest.approx(0.996)
    assert cosine_momentum(0.996, 50, 100) == pytest.approx(0.998)
    assert cosine_momentum(0.996, 100, 100) == cosine_momentum(0.996, 500, 100) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cosine_momentum(0.996, 0, 0)


def test_moco_logits_match_hand_written_reference():
    task = make_task("moco_v2", queue_size=5, temperature=0.2)
    queue = F.normalize(torch.randn(5, 128), dim=1)
    task.queue.keys.copy_(queue)
    q, k = torch.randn(3, 128), torch.randn(3, 128)
    logits, target = task.contrast(q, k)
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    expected = torch.tensor([[(qn[i] @ kn[i]).item(), *(qn[i] @ queue[j] for j in range(5))] for i in range(3)]) / 0.2
    assert torch.allclose(logits, expected, atol=1e-5)
    assert target.tolist() == [0, 0, 0]


def test_moco_queue_wraps_and_key_encoder_follows_the_query_encoder():
    task = make_task("moco_v2", queue_size=6, momentum=0.5)
    keys = []
    for step in range(2):
        out = task(make_batch(task, seed=step))
        out.loss.backward()
        assert all(p.grad is None and not p.requires_grad for p in task.key_encoder.parameters())
        keys.append(task.pending_keys[0].clone())
        with torch.no_grad():
            for p in task.backbone.parameters():
                p.add_(0.1)
        before = next(task.key_encoder.backbone.parameters()).clone()
        task.after_step()
        online = next(task.backbone.parameters())
        assert torch.allclose(next(task.key_encoder.backbone.parameters()), 0.5 * before + 0.5 * online)
    k1, k2 = keys
    assert int(task.queue.ptr) == (4 + 4) % 6
    assert torch.allclose(task.queue.keys, torch.cat([k2[2:], k1[2:], k2[:2]]), atol=1e-6)
    for _ in range(3):  # forwards without steps hold only the keys the queue can take
        task(make_batch(task))
    assert [len(k) for k in task.pending_keys] == [4, 4]
    task.after_step()
    task.eval()
    task(make_batch(task))
    assert task.pending_keys == []  # evaluation forwards leave the queue alone


def test_byol_loss_matches_hand_written_reference_and_stops_target_gradients():
    torch.manual_seed(0)
    p1, p2 = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)
    z1, z2 = torch.randn(5, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True)

    def two_minus_two_cos(p, z):
        return np.mean([2 - 2 * (p[i] @ z[i]).item() / (p[i].norm() * z[i].norm()).item() for i in range(5)])

    loss = BYOL.loss(p1, p2, z1, z2)
    assert loss.item() == pytest.approx(two_minus_two_cos(p1, z2) + two_minus_two_cos(p2, z1), rel=1e-5)
    loss.backward()
    assert p1.grad is not None and z1.grad is None and z2.grad is None
    assert BYOL.loss(z2, z1, z1, z2).item() == pytest.approx(0.0, abs=1e-5)


def test_byol_target_is_an_exact_ema_on_the_cosine_schedule():
    task = make_task("byol", tau=0.9, total_steps=10)
    assert task.target_momentum == pytest.approx(0.9)
    with torch.no_grad():
        for p in task.backbone.parameters():
            p.add_(0.1)
    before = [p.clone() for p in task.target_encoder.parameters()]
    online = list(task.backbone.parameters()) + list(task.projector.parameters())
    task.after_step()
    for t, b, o in zip(task.target_encoder.parameters(), before, online, strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * o, atol=1e-6)
    assert int(task.ema_step) == 1
    assert task.target_momentum == pytest.approx(1 - 0.1 * (math.cos(math.pi / 10) + 1) / 2)


def test_simclr_loss_is_nt_xent_of_its_two_views():
    task = make_task("simclr", temperature=0.5)
    batch = make_batch(task)
    torch.manual_seed(3)
    out = task(batch)
    torch.manual_seed(3)
    v1, v2 = view_pair(batch["clips"])
    z = F.normalize(task.project(task.augment(torch.cat([v1, v2]))), dim=1).detach()
    sim = torch.exp(z @ z.t() / 0.5)
    n = VIDEOS
    partner = [(i + n) % (2 * n) for i in range(2 * n)]
    expected = np.mean([-math.log(sim[i, partner[i]] / (sim[i].sum() - sim[i, i])) for i in range(2 * n)])
    assert out.loss.item() == pytest.approx(expected, rel=1e-4)


def test_two_views_are_one_clip_twice_or_two_clips():
    assert two_view_sampler(4).clips_per_video == 1
    assert two_view_sampler(4, distinct_clips=True).clips_per_video == 2
    clips = torch.arange(48).view(2, 2, 1, 2, 2, 3)
    a, b = view_pair(clips[:, :1])
    assert torch.equal(a, b)
    a, b = view_pair(clips)
    assert torch.equal(a, clips[:, 0]) and torch.equal(b, clips[:, 1])


# ---------------------------------------------------------------- Split-Brain


def test_splitbrain_representation_has_a_backbone_face():
    task = make_task("splitbrain")
    net = task.backbone
    assert isinstance(net, SplitBrainBackbone)
    full = create_backbone("r3d_18", width=0.25)
    halves = sum(p.numel() for p in net.parameters())
    assert halves < sum(p.numel() for p in full.parameters())  # two half-width halves cost less than one network
    x = torch.randn(2, 3, 4, SIDE, SIDE)
    net.eval()
    with torch.no_grad():
        features = net.forward_features(x)
        blocks = net.forward_intermediates(x, indices=[0, -1])
    assert features.shape == (2, net.feature_dim) == (2, net.l_net.feature_dim + net.ab_net.feature_dim)
    assert blocks[-1].shape[1] == net.feature_dim and len(blocks) == 2
    rgb = torch.rand(2, 3, 4, SIDE, SIDE)
    assert torch.allclose(net.lab(normalize(rgb)), C.rgb_to_lab(rgb), atol=1e-3)


def test_splitbrain_targets_of_a_flat_red_clip():
    task = make_task("splitbrain")
    red = torch.zeros(1, 3, 2, SIDE, SIDE)
    red[:, 0] = 1.0
    ab_target, l_target = task.targets(C.rgb_to_lab(red))
    assert ab_target.shape == l_target.shape == (1, 2, SIDE // 4, SIDE // 4)
    assert set(l_target.flatten().tolist()) == {26}  # L = 53.24
    expected = task.ab_quantizer.encode(torch.tensor([[80.09, 67.20]]), dim=1).item()
    assert set(ab_target.flatten().tolist()) == {expected}
    assert task.ab_quantizer.centers[expected].tolist() == [80.0, 70.0]


def test_splitbrain_accepts_a_built_rgb_backbone(caplog):
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        task = create_task("splitbrain", backbone=create_backbone("r3d_18", width=0.125), frames=1, crop_size=SIDE)
    assert "full-width" in caplog.text
    out = task(make_batch(task, frames=1))
    assert torch.isfinite(out.loss)
    with pytest.raises(ValueError):
        create_task("splitbrain", backbone="r3d_18", crop_size=20, output_stride=8)


# ---------------------------------------------------------------- every method


@pytest.mark.parametrize(
    "name, contrastive", [("simclr", True), ("moco_v2", True), ("byol", False), ("splitbrain", False)]
)
def test_flags(name, contrastive):
    info = TASKS.get(name).describe()
    assert (info["category"], info["contrastive"]) == ("spatial", contrastive) and info["paper"]


@pytest.mark.parametrize("frames", [1, 4])
@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_finite_on_frames_and_clips(name, frames):
    task = make_task(name, frames=frames)
    out = task(make_batch(task, frames=frames))
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in task.backbone.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    for part in frozen_parts(task):
        assert all(p.grad is None and not p.requires_grad for p in part.parameters())
    assert 0.0 <= out.metrics["acc"] <= 1.0 and out.batch_size == VIDEOS
    task.after_step()


@pytest.mark.parametrize("name, ratio", [("simclr", 0.7), ("moco_v2", 0.8), ("byol", 0.7), ("splitbrain", 0.7)])
def test_loss_falls_on_one_fixed_batch(name, ratio):
    # MoCo falls least: the queue fills with keys of this very batch, i.e. copies of the positives.
    task = make_task(name)
    batch = make_batch(task)
    optimiser = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(12):
        torch.manual_seed(1)  # the same augmentation draws every step
        out = task(batch)
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        task.after_step()
        losses.append(out.loss.item())
    assert np.mean(losses[-3:]) < ratio * losses[0], losses
