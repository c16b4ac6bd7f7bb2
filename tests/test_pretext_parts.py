"""Parts of the pretext tasks: losses against hand-written references, augmentations, heads, samplers."""

import math
from itertools import permutations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslvid.data import transforms as A
from sslvid.pretext import heads as H
from sslvid.pretext import losses as L
from sslvid.pretext import samplers as S


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP spin-waiting on a shared CPU (20x less CPU time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- losses


def test_classification_exact_values():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    loss, acc = L.classification(logits, torch.tensor([0, 0]))
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert acc.item() == 0.5 and not acc.requires_grad


def test_info_nce_exact_value():
    q, k, neg = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert L.info_nce(q, k, neg, temperature=1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    assert L.info_nce(q, k, neg, temperature=0.5).item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)


def _info_nce_reference(q, k, neg, t):
    """Explicit loop over queries: -log(exp(q.k+/t) / (exp(q.k+/t) + sum_neg exp(q.n/t)))."""
    total = 0.0
    for i in range(len(q)):
        qi = q[i] / q[i].norm()
        pos = math.exp(float(qi @ (k[i] / k[i].norm())) / t)
        if neg is None:
            negs = [k[j] for j in range(len(k)) if j != i]
        else:
            negs = list(neg[i] if neg.dim() == 3 else neg)
        denom = pos + sum(math.exp(float(qi @ (n / n.norm())) / t) for n in negs)
        total += -math.log(pos / denom)
    return total / len(q)


@pytest.mark.parametrize("neg_shape", [None, (7, 8), (5, 7, 8)])
def test_info_nce_matches_reference(neg_shape):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    neg = None if neg_shape is None else torch.randn(*neg_shape, generator=g)
    got = L.info_nce(q, k, neg, temperature=0.2).item()
    assert got == pytest.approx(_info_nce_reference(q, k, neg, 0.2), rel=1e-5)


def test_info_nce_logits_put_the_positive_first():
    q = torch.eye(3)
    logits, target = L.info_nce_logits(q, q, torch.zeros(4, 3) + 0.1, temperature=1.0)
    assert logits.shape == (3, 5) and target.tolist() == [0, 0, 0]
    assert L.accuracy(logits, target).item() == 1.0


def _nt_xent_reference(z1, z2, t):
    """SimCLR Eq. 1, summed over the 2N views with explicit loops."""
    z = [v / v.norm() for v in torch.cat([z1, z2])]
    n2, n = len(z), len(z1)
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        num = math.exp(float(z[i] @ z[j]) / t)
        den = sum(math.exp(float(z[i] @ z[m]) / t) for m in range(n2) if m != i)
        total += -math.log(num / den)
    return total / n2


def test_nt_xent_matches_reference_and_exact_value():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    assert L.nt_xent(z1, z2, 0.5).item() == pytest.approx(_nt_xent_reference(z1, z2, 0.5), rel=1e-5)
    e = torch.eye(2)
    assert L.nt_xent(e, e, temperature=1.0).item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_nt_xent_accuracy_counts_the_other_view():
    z = torch.eye(3)
    logits, target = L.nt_xent_logits(z, z * 2, temperature=0.1)
    assert target.tolist() == [3, 4, 5, 0, 1, 2]
    assert L.accuracy(logits, target).item() == 1.0


def test_negative_cosine_value_and_stop_gradient():
    p = torch.tensor([[1.0, 0.0]], requires_grad=True)
    z = torch.tensor([[1.0, 1.0]], requires_grad=True)
    loss = L.negative_cosine(p, z)
    assert loss.item() == pytest.approx(-1 / math.sqrt(2), rel=1e-6)
    loss.backward()
    assert z.grad is None and p.grad is not None


def test_triplet_margin_exact_and_reference():
    a, p, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert L.triplet_margin(a, p, n, margin=1.0).item() == 0.0
    assert L.triplet_margin(a, p, n, margin=2.0).item() == pytest.approx(2 - math.sqrt(2), rel=1e-6)
    assert L.triplet_margin(a, p, n, margin=0.5, distance="cosine").item() == 0.0
    g = torch.Generator().manual_seed(2)
    a, p, n = (torch.randn(6, 4, generator=g) for _ in range(3))
    ref = F.triplet_margin_loss(F.normalize(a), F.normalize(p), F.normalize(n), margin=0.3, eps=0.0)
    assert L.triplet_margin(a, p, n, margin=0.3).item() == pytest.approx(ref.item(), rel=1e-5)


def test_margin_ranking_exact():
    hi, lo = torch.tensor([0.9, 0.2]), torch.tensor([0.1, 0.3])
    assert L.margin_ranking(hi, lo, margin=0.15).item() == pytest.approx((0.0 + 0.25) / 2, rel=1e-6)


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.info_nce(torch.ones(2, 3), torch.ones(3, 3)),
        lambda: L.info_nce(torch.ones(2, 3), torch.ones(2, 3), temperature=0.0),
        lambda: L.nt_xent(torch.ones(2, 3), torch.ones(2, 4)),
        lambda: L.classification(torch.ones(2, 3), torch.zeros(3, dtype=torch.long)),
        lambda: L.triplet_margin(torch.ones(1, 2), torch.ones(1, 2), torch.ones(1, 2), distance="manhattan"),
    ],
)
def test_losses_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- augmentations


def _still_clips(n=3, t=4, h=12, w=12, seed=0):
    """uint8 clips (n, T, H, W, 3) whose frames are all the same picture (one per clip)."""
    g = torch.Generator().manual_seed(seed)
    frame = torch.randint(0, 256, (n, 1, h, w, 3), dtype=torch.uint8, generator=g)
    return frame.expand(n, t, h, w, 3).contiguous()


def _frames_alike(x):
    return torch.allclose(x, x[:, :, :1].expand_as(x), atol=1e-6)


def test_to_float_clips_layout_and_normalisation():
    clips = torch.full((2, 4, 5, 6, 3), 255, dtype=torch.uint8)
    x = A.to_float_clips(clips)
    assert x.shape == (2, 3, 4, 5, 6) and x.dtype == torch.float32
    expected = (1 - torch.tensor(A.KINETICS_MEAN)) / torch.tensor(A.KINETICS_STD)
    assert torch.allclose(x[0, :, 0, 0, 0], expected)
    with pytest.raises(ValueError):
        A.to_float_clips(torch.zeros(2, 4, 5, 6, 4, dtype=torch.uint8))


def test_rotate90_rotates_every_frame_alike():
    x = A.to_unit_clips(torch.randint(0, 256, (5, 3, 8, 8, 3), dtype=torch.uint8))
    k = torch.tensor([0, 1, 2, 3, 5])
    out = A.rotate90(x, k)
    for i in range(len(k)):
        for t in range(x.shape[2]):
            assert torch.equal(out[i, :, t], torch.rot90(x[i, :, t], int(k[i]) % 4, dims=(-2, -1)))
    with pytest.raises(ValueError):
        A.rotate90(torch.zeros(1, 3, 2, 4, 5), torch.zeros(1, dtype=torch.long))


def test_random_resized_crop_is_clip_consistent_seeded_and_differs_across_clips():
    x = A.to_unit_clips(_still_clips(n=1).expand(4, -1, -1, -1, -1))  # 4 copies of one clip
    a = A.random_resized_crop(x, 8, generator=3, flip_p=0.5)
    b = A.random_resized_crop(x, 8, generator=3, flip_p=0.5)
    assert a.shape == (4, 3, 4, 8, 8) and torch.equal(a, b)
    assert _frames_alike(a)
    assert not torch.allclose(a[0], a[1])  # same content, different crops


def test_full_frame_crop_is_identity_and_flip_mirrors():
    x = A.to_unit_clips(_still_clips())
    full = torch.tensor([[0.0, 0.0, 12.0, 12.0]]).expand(3, 4)
    assert torch.allclose(A.crop_boxes(x, full, 12), x, atol=1e-5)
    assert torch.allclose(A.crop_boxes(x, full, 12, flip=torch.ones(3, dtype=torch.bool)), x.flip(-1), atol=1e-5)
    assert torch.equal(A.horizontal_flip(x, 0, p=1.0), x.flip(-1))
    assert torch.equal(A.center_crop(x, 6, fraction=0.5), x[..., 3:9, 3:9])


def test_colour_ops_are_clip_consistent_bounded_and_optional():
    x = A.to_unit_clips(_still_clips())
    y = A.color_jitter(x, 0, p=1.0)
    assert _frames_alike(y) and y.min() >= 0 and y.max() <= 1 and not torch.allclose(y, x)
    assert torch.equal(A.color_jitter(x, 0, p=0.0), x)
    assert torch.allclose(A.adjust_hue(x, torch.zeros(3)), x, atol=1e-5)
    g = A.random_grayscale(x, 0, p=1.0)
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])


def test_gaussian_blur_keeps_constants_and_frames_alike():
    flat = torch.full((2, 3, 4, 10, 10), 0.3)
    assert torch.allclose(A.gaussian_blur(flat, 0, p=1.0), flat, atol=1e-6)
    x = A.to_unit_clips(_still_clips(h=20, w=20))
    y = A.gaussian_blur(x, 0, p=1.0)
    assert _frames_alike(y) and y.var() < x.var()
    assert torch.equal(A.gaussian_blur(x, 0, p=0.0), x)


def test_static_frame_mixup_scales_temporal_differences():
    x = torch.rand(3, 3, 5, 6, 6, generator=torch.Generator().manual_seed(0))
    y = A.static_frame_mixup(x, 0, alpha=0.5)
    dx, dy = x[:, :, 1:] - x[:, :, :-1], y[:, :, 1:] - y[:, :, :-1]
    scale = (dy * dx).sum(dim=(1, 2, 3, 4)) / (dx * dx).sum(dim=(1, 2, 3, 4))  # least squares, per clip
    assert torch.allclose(dy, scale.view(-1, 1, 1, 1, 1) * dx, atol=1e-5)
    assert ((scale >= 0.5 - 1e-5) & (scale <= 1 + 1e-5)).all()


def test_clip_augment_pipeline_shape_and_seed():
    clips = _still_clips(n=2, h=16, w=20)
    aug = A.ClipAugment(8, blur_p=0.5)
    a, b = aug(clips, 5), aug(clips, 5)
    assert a.shape == (2, 3, 4, 8, 8) and torch.equal(a, b) and _frames_alike(a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augment_same_parameters_on_cuda():
    clips = _still_clips(n=2, h=16, w=16)
    cpu = A.ClipAugment(8)(clips, 7)
    gpu = A.ClipAugment(8)(clips.cuda(), 7)
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


# ---------------------------------------------------------------- heads


def test_mlp_head_layers_and_shapes():
    head = H.MLPHead(16, 32, 8, num_layers=3)
    assert sum(isinstance(m, torch.nn.Linear) for m in head.modules()) == 3
    assert head(torch.randn(4, 16)).shape == (4, 8)
    assert H.LinearHead(16, 5)(torch.randn(2, 16)).shape == (2, 5)
    with pytest.raises(ValueError):
        H.MLPHead(4, 4, 4, num_layers=0)


def test_pairwise_order_head_sees_pairs_in_order():
    head = H.PairwiseOrderHead(feature_dim=4, num_clips=4, num_classes=24, hidden_dim=8)
    assert head.pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert head(torch.randn(2, 4, 4)).shape == (2, 24)


def test_clip_decoder_reaches_the_target_size():
    dec = H.ClipDecoder(16, (8, 20, 20), num_ups=2)
    assert dec(torch.randn(2, 16, 1, 3, 3)).shape == (2, 3, 8, 20, 20)


def test_feature_queue_is_fifo_and_normalised():
    q = H.FeatureQueue(dim=2, size=3)
    q.push(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    q.push(torch.tensor([[0.0, -1.0], [-4.0, 0.0]]))
    assert q.keys.tolist() == [[-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]
    assert int(q.ptr) == 1


def test_momentum_update_and_encoder():
    online = torch.nn.Linear(2, 2)
    target = H.frozen_copy(online)
    with torch.no_grad():
        online.weight.add_(1.0)
    before = target.weight.clone()
    H.momentum_update(online, target, 0.9)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * online.weight)
    assert not target.weight.requires_grad
    with pytest.raises(ValueError):
        H.momentum_update(online, target, 1.5)


# ---------------------------------------------------------------- samplers


def test_vcop_label_decodes_to_the_real_clip_order():
    sampler = S.ClipOrderSampler(clip_len=4, num_clips=3, interval=2, stride=1)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        idx, meta = sampler.sample(100, rng)
        perm = S.order_permutations(3)[meta["order"]]
        rank = np.argsort(np.argsort(idx[:, 0]))  # playback position of each shuffled clip
        assert tuple(rank) == perm
        ordered = idx[np.argsort(idx[:, 0])]
        assert np.all(np.diff(ordered[:, 0]) == sampler.step) and np.all(np.diff(idx, axis=1) == 1)
        seen.add(meta["order"])
    assert seen == set(range(6))
    assert len(S.order_permutations(5)) == 120 and S.order_permutations(3)[0] == (0, 1, 2)


def test_prp_rate_label_matches_the_frame_stride():
    sampler = S.PlaybackRateSampler(num_frames=4, rates=(1, 2, 4, 8))
    rng = np.random.default_rng(1)
    for _ in range(40):
        rows, meta = sampler.sample(200, rng)
        s = (1, 2, 4, 8)[meta["rate"]]
        assert meta["stride"] == s and rows.shape == (2, 8)
        assert np.all(np.diff(rows[0, ::2]) == s)  # the input clip
        positions = (rows[0] + rows[1]) / 2  # the reconstruction target
        assert np.allclose(np.diff(positions), s / 2)
        assert np.all(rows[1] - rows[0] == (1 if s == 1 else 0) * (np.arange(8) % 2))


def test_cvrl_interval_sampler_invariants_and_decreasing_distribution():
    sampler = S.TemporalIntervalSampler(num_frames=4, stride=2)
    rng = np.random.default_rng(2)
    video, intervals = 107, []
    for _ in range(3000):
        idx, meta = sampler.sample(video, rng)
        assert idx.min() >= 0 and idx.max() < video and np.all(np.diff(idx, axis=1) == 2)
        assert abs(idx[1, 0] - idx[0, 0]) == meta["interval"]
        intervals.append(meta["interval"])
    room = video - 7 + 1  # valid starts, M
    counts = np.histogram(intervals, bins=4, range=(0, room))[0]
    assert np.all(np.diff(counts) < 0)  # monotonically decreasing
    assert np.mean(intervals) == pytest.approx(room / 3, rel=0.1)  # mean of the linear density


def test_decreasing_interval_with_power_stays_in_range():
    rng = np.random.default_rng(3)
    draws = [S.decreasing_interval(50, rng, power=2.0) for _ in range(500)]
    assert min(draws) >= 0 and max(draws) <= 49


def test_tdl_triplet_sampler_invariants():
    sampler = S.TripletSampler(num_frames=4, stride=2)
    rng = np.random.default_rng(4)
    for _ in range(100):
        idx, meta = sampler.sample(60, rng)
        assert idx.shape == (2, 4) and np.all(np.diff(idx, axis=1) == 2)
        assert abs(idx[1, 0] - idx[0, 0]) == meta["gap"] >= 7 // 2


def test_rspnet_speed_labels_match_the_clips():
    sampler = S.SpeedPairSampler(num_frames=4, speeds=(1, 2, 4))
    rng = np.random.default_rng(5)
    for _ in range(60):
        idx, meta = sampler.sample(200, rng)
        assert meta["speed"] != meta["other_speed"]
        assert np.all(np.diff(idx[0]) == meta["speed"]) and np.all(np.diff(idx[1]) == meta["speed"])
        assert np.all(np.diff(idx[2]) == meta["other_speed"]) and idx[1, 0] == idx[2, 0]
        assert meta["faster"] == int(meta["other_speed"] > meta["speed"])


@pytest.mark.parametrize(
    "sampler",
    [
        S.ClipOrderSampler(4, 3, 2),
        S.PlaybackRateSampler(4),
        S.TemporalIntervalSampler(4),
        S.TripletSampler(4),
        S.SpeedPairSampler(4),
    ],
)
def test_short_videos_loop(sampler):
    idx, _ = sampler.sample(5, np.random.default_rng(0))
    assert idx.min() >= 0 and idx.max() < 5


def test_short_video_error_policy_raises():
    with pytest.raises(ValueError):
        S.SpeedPairSampler(8, short_video="error").sample(5, np.random.default_rng(0))
    with pytest.raises(ValueError):
        S.PlaybackRateSampler(4, rates=(1, 1))


def test_permutations_helper_matches_itertools():
    assert S.order_permutations(4) == list(permutations(range(4)))


def test_vcop_tuples_shrink_their_gap_to_fit_a_short_video_before_looping():
    from sslvid.pretext.samplers import ClipOrderSampler

    five = ClipOrderSampler(clip_len=8, num_clips=5, interval=8)
    assert five.span == 72 and five.step_for(48) == 10 and five.span_for(48) == 48
    clips = five.ordered(48, np.random.default_rng(0))
    assert len(np.unique(clips, axis=0)) == 5 and clips.max() < 48, "five distinct clips, no loop"
    assert five.step_for(200) == five.step == 16, "long videos keep the paper's interval"
    too_long = ClipOrderSampler(clip_len=16, num_clips=5, interval=8)
    assert too_long.step_for(48) == too_long.step, "touching clips do not fit either: loop as before"


def test_random_solarize_inverts_values_at_or_above_half():
    """BYOL App. B: x -> 1 - x where x >= 0.5, per clip with probability p."""
    x = torch.tensor([0.1, 0.5, 0.9]).view(1, 1, 3, 1, 1).repeat(2, 3, 1, 1, 1)
    expected = torch.tensor([0.1, 0.5, 0.1]).view(1, 1, 3, 1, 1).expand_as(x)
    assert torch.allclose(A.random_solarize(x, 0, p=1.0), expected)
    assert torch.equal(A.random_solarize(x, 0, p=0.0), x)
    grey = torch.full((2, 4, 6, 6, 3), 204, dtype=torch.uint8)  # 0.8 everywhere
    plain = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, grayscale_p=0.0)
    out = A.ClipAugment(6, solarize_p=1.0, **plain)(grey, 0)
    assert torch.allclose(out, A.normalize(torch.full_like(out, 0.2)), atol=1e-5)


def _is_window_of(out, x):
    """Whether every clip of ``out`` (N, C, T, s, s) is an exact s x s window of its clip in ``x``."""
    s = out.shape[-1]
    windows = x.unfold(3, s, 1).unfold(4, s, 1)  # (N, C, T, H-s+1, W-s+1, s, s)
    return all(
        any(
            torch.allclose(out[i], windows[i, :, :, y, q], atol=1e-5)
            for y in range(windows.shape[3])
            for q in range(windows.shape[4])
        )
        for i in range(len(x))
    )


def test_random_crop_cuts_an_unscaled_window():
    x = torch.rand(4, 3, 2, 10, 13, generator=torch.Generator().manual_seed(0))
    out = A.random_crop(x, 7, 3)
    assert out.shape == (4, 3, 2, 7, 7) and _is_window_of(out, x)
    with pytest.raises(ValueError, match="cannot crop 11x11"):
        A.random_crop(x, 11)


def test_random_rotation_moves_a_point_by_the_drawn_angle():
    """A bright pixel 10 px right of the centre lands at centre + 10 (cos a, -sin a) (x right, y down)."""
    x = torch.zeros(3, 1, 1, 33, 33)
    x[..., 16, 26] = 1.0
    out = A.random_rotation(x, 90.0, 5)
    angles = torch.rand(3, generator=torch.Generator().manual_seed(5)) * 180 - 90  # the same draw
    for clip, angle in zip(out, angles):
        row, col = divmod(int(clip.flatten().argmax()), 33)
        a = math.radians(float(angle))
        assert abs(col - (16 + 10 * math.cos(a))) <= 1 and abs(row - (16 - 10 * math.sin(a))) <= 1
    assert torch.allclose(A.random_rotation(x, 0.0, 5), x, atol=1e-6)
