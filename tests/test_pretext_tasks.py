"""Every registered pretext task: forward/backward, fitting a fixed batch, knobs and labels."""

import math

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

import sslvid.pretext.cvrl  # noqa: F401  (until sslvid/pretext/__init__.py imports the task modules)
import sslvid.pretext.prp  # noqa: F401
import sslvid.pretext.rotnet  # noqa: F401
import sslvid.pretext.rspnet  # noqa: F401
import sslvid.pretext.tdl  # noqa: F401
import sslvid.pretext.vcop  # noqa: F401
from sslvid.backbones import create_backbone
from sslvid.data.transforms import normalize
from sslvid.pretext.base import CATEGORIES, TASKS, PretextTask, create_task, list_tasks

FRAMES, SIDE, VIDEO_FRAMES = 4, 16, 40
EXPECTED = {  # benchmark §3.1: (category, contrastive)
    "rotnet": ("spatial", False),
    "cvrl": ("spatial", True),
    "vcop": ("temporal", False),
    "tdl": ("temporal", True),
    "prp": ("spatiotemporal", False),
    "rspnet": ("spatiotemporal", True),
}
MICRO = {  # small knobs so a step takes milliseconds; queues off so a fixed batch can be fitted
    "cvrl": {"stride": 1, "hidden_dim": 64},
    "vcop": {"interval": 2, "hidden_dim": 64},
    "tdl": {"stride": 1, "queue_size": 0, "momentum": 0.99},
    "rspnet": {"queue_size": 0, "momentum": 0.99},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP spin-waiting on a shared CPU (20x less CPU time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_task(name: str, **kwargs) -> PretextTask:
    torch.manual_seed(0)
    backbone = create_backbone("r3d_18", width=0.125)
    return create_task(name, backbone=backbone, frames=FRAMES, crop_size=SIDE, **{**MICRO.get(name, {}), **kwargs})


def make_batch(task: PretextTask, videos: int = 4, seed: int = 0) -> dict:
    """A collated batch of random-but-fixed uint8 frames at the indices the task's sampler draws."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(videos):
        drawn = task.clip_sampler().sample(VIDEO_FRAMES, rng)
        indices, meta = drawn if isinstance(drawn, tuple) else (drawn, None)
        g = torch.Generator().manual_seed(seed * 100 + i)
        item = {"clips": torch.randint(0, 256, (*indices.shape, SIDE + 4, SIDE + 4, 3), dtype=torch.uint8, generator=g)}
        if meta is not None:
            item["meta"] = meta
        items.append(item)
    return default_collate(items)


def test_all_six_tasks_are_registered():
    assert set(EXPECTED) <= set(list_tasks())


@pytest.mark.parametrize("name", list_tasks())
def test_forward_backward_on_a_micro_batch(name):
    task = make_task(name)
    out = task(make_batch(task))
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in task.backbone.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert "acc" in out.metrics and 0.0 <= out.metrics["acc"] <= 1.0
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.metrics.values())
    assert out.batch_size == 4
    task.after_step()
    info = task.describe()
    assert info["task"] == name and name in TASKS
    assert info["category"] in CATEGORIES and isinstance(info["contrastive"], bool) and info["paper"]
    if name in EXPECTED:
        assert (info["category"], info["contrastive"]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_falls_on_one_fixed_batch(name):
    task = make_task(name)
    batch = make_batch(task)
    optimiser = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(30):
        torch.manual_seed(1)  # the same augmentation draws every step
        out = task(batch)
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        task.after_step()
        losses.append(out.loss.item())
    assert np.mean(losses[-3:]) < 0.7 * losses[0], losses


CHANCE = {"rotnet": 1 / 4, "vcop": 1 / 6, "prp": 1 / 4}
"""A uniform guess among each classification task's default classes (4 rotations, 3! orders, 4 rates)."""


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_benchmark_task_logs_its_chance_beside_its_accuracy(name):
    task = make_task(name)
    metrics = task(make_batch(task)).metrics
    if name in CHANCE:
        assert metrics["chance"] == pytest.approx(CHANCE[name])
    else:  # contrastive: the positive and its negatives, at least one of each
        assert 0.0 < metrics["chance"] <= 0.5


@pytest.mark.parametrize("num_rotations", [2, 3, 4])
def test_rotnet_complexity_knob(num_rotations):
    task = make_task("rotnet", num_rotations=num_rotations)
    assert task.head.fc.out_features == num_rotations
    labels = task.rotation_labels(12, torch.device("cpu"))
    assert torch.bincount(labels).tolist() == [12 // num_rotations] * num_rotations


def test_rotnet_all_rotations_expands_the_batch_and_rejects_bad_knob():
    task = make_task("rotnet", all_rotations=True)
    assert torch.isfinite(task(make_batch(task)).loss)
    with pytest.raises(ValueError):
        make_task("rotnet", num_rotations=5)


@pytest.mark.parametrize("num_clips", [3, 4, 5])
def test_vcop_complexity_knob(num_clips):
    task = make_task("vcop", num_clips=num_clips)
    batch = make_batch(task, videos=2)
    assert batch["clips"].shape[1] == num_clips
    assert task.head.fc.out_features == math.factorial(num_clips)
    assert int(batch["meta"]["order"].max()) < math.factorial(num_clips)


@pytest.mark.parametrize("rates", [(1, 2), (1, 2, 4), (1, 2, 4, 8)])
def test_prp_complexity_knob(rates):
    task = make_task("prp", rates=rates)
    batch = make_batch(task, videos=2)
    assert task.head.fc.out_features == len(rates)
    strides = [rates[int(r)] for r in batch["meta"]["rate"]]
    assert strides == batch["meta"]["stride"].tolist()
    x, target = task.views(batch["clips"])
    assert x.shape == (2, 3, FRAMES, SIDE, SIDE) and target.shape == (2, 3, 2 * FRAMES, SIDE, SIDE)
    assert torch.allclose(normalize(target[:, :, ::2]), x)


def test_cvrl_blurs_its_first_clip_always_and_solarizes_only_the_second():
    """CVRL's released code: blur p 1.0 / 0.1 and solarize p 0 / 0.2 on the two clips (Qian et al., 2021)."""
    import dataclasses

    first, second = make_task("cvrl").view_augments
    assert (first.blur_p, first.solarize_p, second.blur_p, second.solarize_p) == (1.0, 0.0, 0.1, 0.2)
    stripes = torch.zeros(16, FRAMES, SIDE, SIDE, 3, dtype=torch.uint8)
    stripes[..., ::2, :] = 255
    plain = dict(jitter_p=0.0, grayscale_p=0.0, flip_p=0.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    blurred = dataclasses.replace(first, **plain)(stripes, 0)
    sharp = dataclasses.replace(first, blur_p=0.0, **plain)(stripes, 0)
    ratio = blurred.var(dim=(1, 2, 3, 4)) / sharp.var(dim=(1, 2, 3, 4))
    assert (ratio <= 1 + 1e-5).all() and (ratio < 0.9).sum() >= 12  # sigma ~ U(0.1, 2): the smallest barely blur


def test_rspnet_keys_differ_only_in_speed():
    """RSPNet's released code cuts both keys from one augmented key clip (Chen et al., 2021)."""
    task = make_task("rspnet")
    assert (task.augment.scale, task.augment.jitter, task.augment.jitter_p) == ((0.4, 1.0), (0.4,) * 4, 1.0)
    clip = make_batch(task, videos=8)["clips"][:, :1]
    torch.manual_seed(0)
    query, key_same, key_other = task.views(clip.expand(-1, 3, -1, -1, -1, -1))  # one raw clip three times
    assert torch.equal(key_same, key_other)
    assert not torch.allclose(query, key_same)


def test_tdl_views_follow_the_released_transform():
    """TDL's released augmentation_config: rotation 10 deg, an unscaled random crop, jitter (0.5, 0.5, 0.25, 0.5)."""
    import dataclasses

    from test_pretext_parts import _is_window_of

    from sslvid.data.transforms import to_float_clips

    augment = make_task("tdl").augment
    assert (augment.degrees, augment.jitter) == (10.0, (0.5, 0.5, 0.25, 0.5))
    clips = make_batch(make_task("tdl"))["clips"][:, 0]  # (B, T, SIDE + 4, SIDE + 4, 3)
    still = dataclasses.replace(augment, degrees=0.0, jitter=(0.0, 0.0, 0.0, 0.0))(clips, 0)
    assert still.shape[-1] == SIDE and _is_window_of(still, to_float_clips(clips))


def test_prp_reconstructs_unit_frames_with_separate_branches():
    """PRP's released loss (Yao et al., 2020): weighted MSE against [0, 1] frames + 0.1 * CE, one conv6 per branch."""
    import torch.nn.functional as F

    from sslvid.pretext.prp import motion_weights

    task = make_task("prp", rates=(1, 2))
    batch = make_batch(task)
    torch.manual_seed(3)
    x, target = task.views(batch["clips"])
    assert 0.0 <= target.min() and target.max() <= 1.0
    assert torch.allclose(x, normalize(target[:, :, ::2]))
    assert task.conv6_cls is not task.conv6_rec and task.conv6_cls[0].weight.shape[-3:] == (3, 3, 3)
    fmap = task.backbone.forward_intermediates(x, indices=1)[-1]
    logits = task.head(task.conv6_cls(fmap).mean(dim=(2, 3, 4)))
    err = (task.decoder(task.conv6_rec(fmap)) - target) ** 2 * motion_weights(target, SIDE // 4)
    expected = err.mean() + 0.1 * F.cross_entropy(logits, batch["meta"]["rate"].long())
    torch.manual_seed(3)
    assert torch.allclose(task(batch).loss, expected, rtol=1e-5)


def test_prp_decodes_from_at_most_decoder_channels():
    """The released decoder starts from 512 channels; a wider feature map is narrowed by conv6_rec first."""
    backbone = create_backbone("r3d_18", width=0.125)  # 64 channels
    as_wide = create_task("prp", backbone=backbone, frames=FRAMES, crop_size=SIDE, decoder_channels=512)
    assert as_wide.conv6_rec[0].out_channels == 64 == as_wide.decoder.net[0].in_channels
    narrowed = create_task("prp", backbone=backbone, frames=FRAMES, crop_size=SIDE, decoder_channels=16)
    assert narrowed.conv6_rec[0].out_channels == 16 == narrowed.decoder.net[0].in_channels
    assert narrowed.conv6_cls[0].out_channels == 64
    assert narrowed(make_batch(narrowed)).loss.isfinite()
    with pytest.raises(ValueError, match="decoder_channels"):
        create_task("prp", backbone=backbone, frames=FRAMES, crop_size=SIDE, decoder_channels=0)


def test_prp_micro_recipe_narrows_the_decoder_of_wide_networks_only():
    from sslvid.engine.config import PretrainConfig

    for backbone in ("shufflenet3d", "r2plus1d_18"):
        config = PretrainConfig(task="prp", backbone=backbone, profile="micro")
        assert config.task_kwargs["decoder_channels"] == 128
    task = create_task(
        "prp", backbone=create_backbone("r2plus1d_18", width=0.25), frames=8, crop_size=32, decoder_channels=128
    )
    assert task.conv6_rec[0].out_channels == task.backbone.feature_dim == 128  # unchanged where C = 128
    wide = create_task(
        "prp", backbone=create_backbone("shufflenet3d", width=0.25), frames=8, crop_size=32, decoder_channels=128
    )
    assert wide.backbone.feature_dim > 128 == wide.decoder.net[0].in_channels


def test_vcop_shared_crop_cuts_every_clip_of_a_video_alike():
    task = make_task("vcop", shared_crop=True)
    clips = make_batch(task)["clips"]  # (B, N, T, H, W, 3)
    same = clips[:, :1].expand_as(clips).contiguous()
    views = task.views(same).unflatten(0, clips.shape[:2])  # (B, N, 3, T, S, S)
    assert torch.equal(views[:, 0], views[:, 1]) and torch.equal(views[:, 0], views[:, -1])
    assert not torch.equal(views[0, 0], views[1, 0])
    own = make_task("vcop").views(same).unflatten(0, clips.shape[:2])
    assert not torch.equal(own[:, 0], own[:, 1])  # the released way: a crop per clip


def test_rspnet_ranks_speeds_on_logits_with_the_released_margin():
    """Released Loss: MarginRankingLoss(margin=2.0)(l_pos, l_neg_speed), logits = cosine / 0.07 (Chen et al., 2021)."""
    task = make_task("rspnet")
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    same = torch.tensor([[0.9, math.sqrt(1 - 0.81)], [1.0, 0.0]])  # cosines 0.9 and 1.0
    other = torch.tensor([[0.85, math.sqrt(1 - 0.85**2)], [0.6, 0.8]])  # cosines 0.85 and 0.6
    expected = (max(0.0, 2.0 - 0.05 / 0.07) + max(0.0, 2.0 - 0.4 / 0.07)) / 2
    assert task.rsp_loss(q, same, other).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["tdl", "rspnet"])
def test_momentum_tasks_fill_the_queue_and_track_the_online_encoder(name):
    task = make_task(name, queue_size=8, momentum=0.5)
    batch = make_batch(task)
    out = task(batch)
    out.loss.backward()
    with torch.no_grad():
        for p in task.backbone.parameters():
            p.add_(0.1)
    key_param = next(task.key_encoder.backbone.parameters())
    before = key_param.clone()
    task.after_step()
    assert int(task.queue.ptr) == 4
    online = next(task.backbone.parameters())
    assert torch.allclose(key_param, 0.5 * before + 0.5 * online)
    assert not any(p.requires_grad for p in task.key_encoder.parameters())


def test_tdl_optional_triplet_term_adds_to_the_loss():
    plain, with_triplet = make_task("tdl"), make_task("tdl", triplet_weight=1.0)
    batch = make_batch(plain)
    torch.manual_seed(1)
    a = plain(batch).loss
    torch.manual_seed(1)
    b = with_triplet(batch).loss
    assert b >= a


class IndexPaintedSource:
    """In-memory videos whose frame ``f`` is filled with the value ``f`` (so clips reveal their indices)."""

    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def num_frames(self, i):
        return self.lengths[i]

    def read(self, i, frame_indices):
        frames = np.zeros((len(frame_indices), SIDE + 4, SIDE + 4, 3), dtype=np.uint8)
        frames[:] = np.asarray(frame_indices, dtype=np.uint8)[:, None, None, None]
        return frames


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tasks_run_on_batches_from_the_real_dataset(name):
    from pathlib import Path

    from sslvid.data.dataset import VideoClipDataset, collate_clips
    from sslvid.data.records import VideoIndex, VideoRecord

    records = tuple(VideoRecord(Path(f"/v/{i}.mp4"), -1, str(i)) for i in range(4))
    index = VideoIndex("folder", Path("/v"), "train", 1, (), records)
    task = make_task(name)
    data = VideoClipDataset(index, task.clip_sampler(), source=IndexPaintedSource([60, 70, 80, 90]), seed=3)
    batch = collate_clips([data[i] for i in range(4)])
    painted = batch["clips"][..., 0, 0, 0].long()  # (B, K, T): the frame index each position shows
    assert torch.equal(painted, batch["frame_indices"])
    if name == "vcop":  # the order label decodes to the real clip order
        from sslvid.pretext.samplers import order_permutations

        for row, label in zip(painted, batch["meta"]["order"]):
            assert tuple(torch.argsort(torch.argsort(row[:, 0])).tolist()) == order_permutations(3)[int(label)]
    out = task(batch)
    assert torch.isfinite(out.loss)
