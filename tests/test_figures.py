"""The book's pictures and the numbers behind them: features, neighbours, saliency, pretext strips.

Figures are only checked to come back as Figures with the expected axes (Agg backend, closed
after each test); the numbers behind them are checked exactly where possible.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sslvid.analysis.cka import CKAResult  # noqa: E402
from sslvid.analysis.embedding import (  # noqa: E402
    extract_features,
    iter_clip_batches,
    nearest_neighbours,
    pairwise_distances,
    to_display_frames,
)
from sslvid.analysis.figures import (  # noqa: E402
    accuracy_curves,
    cka_heatmap,
    cka_heatmaps,
    hit_at_k_curves,
    neighbour_gallery,
    pretext_strip,
    saliency_figure,
    tsne_figure,
)
from sslvid.analysis.pretext_views import pretext_views  # noqa: E402
from sslvid.analysis.saliency import grad_cam, vanilla_saliency  # noqa: E402
from sslvid.backbones import create_backbone  # noqa: E402
from sslvid.data.decode import read_frames  # noqa: E402
from sslvid.data.transforms import to_float_clips  # noqa: E402

MICRO_CLIP = (3, 4, 16, 16)


@pytest.fixture(autouse=True)
def _close_figures_and_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    yield
    plt.close("all")
    torch.set_num_threads(threads)


def video(frames: int = 24, size: int = 40, seed: int = 0) -> np.ndarray:
    """A synthetic uint8 video (F, H, W, 3): a bright square moving right over noise."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 80, (frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        x = t % (size - 8)
        v[t, 10:18, x : x + 8] = (250, 200, 40)
    return v


def model(num_classes: int = 0, seed: int = 0, name: str = "r3d_18") -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_backbone(name, width=0.125, num_classes=num_classes)


def clips(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, *MICRO_CLIP, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- features


def test_iter_clip_batches_sources():
    x = clips(5)
    shapes = [tuple(c.shape) for c, _ in iter_clip_batches(x, batch_size=2)]
    assert shapes == [(2, *MICRO_CLIP)] * 2 + [(1, *MICRO_CLIP)]
    ((_, y),) = list(iter_clip_batches((x, torch.arange(5)), batch_size=8))
    assert y.tolist() == [0, 1, 2, 3, 4]
    frames = torch.randint(0, 256, (3, 2, 4, 20, 20, 3), dtype=torch.uint8)
    ((c, y),) = list(
        iter_clip_batches(
            [{"clips": frames, "label": torch.tensor([7, 8, 9]), "size": 3}, {"clips": torch.empty(0), "size": 0}],
            crop_size=16,
        )
    )
    assert tuple(c.shape) == (6, 3, 4, 16, 16) and y.tolist() == [7, 7, 8, 8, 9, 9]


def test_extract_features_streams_in_eval_mode_and_restores_mode():
    net = model().train()
    x = clips(6)
    feats, labels = extract_features(net, (x, torch.arange(6)), batch_size=4)
    assert feats.shape == (6, net.feature_dim) and labels.tolist() == list(range(6))
    assert net.training
    with torch.no_grad():
        expected = net.eval().forward_features(x)
    assert torch.allclose(feats, expected, atol=1e-5)
    with pytest.raises(ValueError, match="no clip"):
        extract_features(net, [])


def test_to_display_frames_inverts_normalisation():
    frames = torch.randint(0, 256, (4, 8, 8, 3), dtype=torch.uint8)
    assert np.array_equal(to_display_frames(to_float_clips(frames)), frames.numpy())


def test_nearest_neighbours_hand_computed():
    bank = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    query = torch.tensor([[2.0, 0.1]])
    idx, dist = nearest_neighbours(query, bank, k=4, metric="euclidean")
    assert idx.tolist() == [[0, 1, 3, 2]]  # distances 1.005, 2.759, 3.002, 3.067
    assert dist[0, 0].item() == pytest.approx(np.hypot(1.0, 0.1))
    idx, dist = nearest_neighbours(query, bank, k=2, metric="cosine")
    assert idx.tolist() == [[0, 2]]
    assert dist[0, 1].item() == pytest.approx(1 - (2 * 3 + 0.1 * 3) / (np.hypot(2, 0.1) * np.hypot(3, 3)))


def test_nearest_neighbours_ties_exclude_self_and_errors():
    bank = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # rows 0 and 1 tie in cosine
    idx, dist = nearest_neighbours(bank, bank, k=1, metric="cosine", exclude_self=True)
    assert idx[:, 0].tolist() == [1, 0, 0] and dist[0, 0].item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(bank, bank, k=3, exclude_self=True)
    with pytest.raises(ValueError, match="unknown metric"):
        pairwise_distances(bank, bank, "manhattan")


# ----------------------------------------------------------------------------- saliency


def test_vanilla_saliency_is_the_max_abs_input_gradient():
    net = model(num_classes=3).eval()
    x = clips(2)
    sal = vanilla_saliency(net, x, target=1)
    assert all(p.grad is None for p in net.parameters())  # only input gradients were taken
    leaf = x.clone().requires_grad_(True)
    net(leaf)[:, 1].sum().backward()
    assert sal.shape == (2, *MICRO_CLIP[1:])
    assert torch.allclose(sal, leaf.grad.abs().amax(dim=1), atol=1e-7)


def test_saliency_without_a_head_uses_the_feature_norm():
    net = model(num_classes=0)
    assert vanilla_saliency(net, clips(2)).shape == (2, *MICRO_CLIP[1:])
    with pytest.raises(ValueError, match="no classifier"):
        vanilla_saliency(net, clips(2), target=0)


@pytest.mark.parametrize("name", ["r3d_18", "r2plus1d_18"])
def test_grad_cam_matches_captum_layer_grad_cam(name):
    from captum.attr import LayerGradCam

    net = model(num_classes=4, name=name).eval()
    x = clips(2, seed=3)
    ours = grad_cam(net, x, target=2, upsample=False)
    theirs = LayerGradCam(net, net.blocks()[-1]).attribute(x, target=2, relu_attributions=True)[:, 0]
    assert torch.allclose(ours, theirs.detach(), atol=1e-6)
    assert grad_cam(net, x, target=2).shape == (2, *MICRO_CLIP[1:])
    assert not net.training


def test_grad_cam_on_channels_last_swin():
    net = model(num_classes=0, name="swin3d_t")
    cam = grad_cam(net, torch.randn(1, 3, 4, 32, 32))
    assert cam.shape == (1, 4, 32, 32) and torch.isfinite(cam).all() and (cam >= 0).all()


def test_grad_cam_on_a_2d_network_applied_per_frame():
    net = model(num_classes=3, name="shufflenetv2_2d")
    x = torch.randn(2, 3, 2, 32, 32)
    cam = grad_cam(net, x, target=1)
    assert cam.shape == (2, 2, 32, 32) and torch.isfinite(cam).all() and (cam >= 0).all()
    # frames are independent: the map of clip 0's frame 1 does not change when clip 1 changes
    other = x.clone()
    other[1] = torch.randn_like(other[1])
    assert torch.allclose(grad_cam(net, other, target=1)[0], cam[0], atol=1e-6)


# ----------------------------------------------------------------------------- figures


def axes_images(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def test_cka_heatmap_axes():
    result = CKAResult(np.eye(3) * 0.5 + 0.5, ("stem", "layer1", "layer2"), ("a", "b", "c"), 10, 2)
    fig = cka_heatmap(result, "A vs B")
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # map + colour bar
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["stem", "layer1", "layer2"]
    assert ax.images[0].origin == "lower"
    fig2 = cka_heatmaps([result, result], ["one", "two"])
    assert len(fig2.axes) == 3


def test_tsne_figure_axes():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 1, (10, 8)), rng.normal(5, 1, (10, 8))])
    fig = tsne_figure(feats, [0] * 10 + [1] * 10, class_names=["left", "right"])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["left", "right"]


def test_neighbour_gallery_axes():
    v = video(8)
    fig = neighbour_gallery(v, [v, v[::-1]], "walk", ["walk", "run"], [0.0, 0.5], frames=3, metric="cosine")
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 3 and axes_images(fig) == 9


def test_saliency_figure_axes():
    net = model(num_classes=3)
    x = clips(1)
    fig = saliency_figure(x[0], vanilla_saliency(net, x)[0], grad_cam(net, x)[0], max_frames=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 4 and axes_images(fig) == 4 + 2 * 4 * 2
    with pytest.raises(ValueError, match="does not match"):
        saliency_figure(x[0], torch.zeros(2, 2, 2))


def test_accuracy_curves_axes():
    table = pd.DataFrame(
        [
            {"epoch": e, "value": 0.1 * e + s, "task": t, "seed": s, "backbone": b}
            for e in (1, 2, 3)
            for t in ("rotnet", "vcop")
            for s in (0, 1)
            for b in ("r21d", "shuffle")
        ]
    )
    fig = accuracy_curves(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    assert len(accuracy_curves(table, facet="backbone").axes) == 2
    assert fig.axes[0].get_xlabel() == "pre-training epochs"
    assert accuracy_curves(table, xlabel="paper epoch").axes[0].get_xlabel() == "paper epoch"
    with pytest.raises(ValueError, match="lacks columns"):
        accuracy_curves(table, group="method")


REQUIRED_TASKS = {"rotnet": 4, "vcop": 3, "prp": 4, "cvrl": 4, "simclr": 3, "rspnet": 3}


@pytest.mark.parametrize("task, rows", sorted(REQUIRED_TASKS.items()))
def test_pretext_strip_axes(task, rows):
    fig = pretext_strip(task, video(), frames=4, crop_size=16, max_frames=4)
    assert isinstance(fig, Figure) and len(fig.axes) == rows * 4


def test_pretext_views_are_seeded_and_faithful():
    v = video()
    first = pretext_views("rotnet", v, seed=3, frames=4, crop_size=16)
    again = pretext_views("rotnet", v, seed=3, frames=4, crop_size=16)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, again))
    turned = first[1][1]  # 90 degrees: the unrotated input turned once
    assert np.array_equal(turned, np.rot90(first[0][1], 1, axes=(1, 2)))
    prp = pretext_views("prp", v, frames=4, rates=(1, 3))
    assert [label.split("\n")[0] for label, _ in prp] == ["rate 1 (class 0)", "rate 3 (class 1)"]


@pytest.mark.parametrize("task", ["tdl", "moco_v2", "byol", "splitbrain"])
def test_pretext_views_other_tasks(task):
    views = pretext_views(task, video(), frames=4, crop_size=16)
    assert len(views) == 3 and all(c.dtype == np.uint8 and c.shape[-1] == 3 for _, c in views)


def test_pictures_on_a_real_asl_clip(asl_clip):
    v = read_frames(asl_clip)
    assert isinstance(pretext_strip("vcop", v, frames=4, crop_size=32, max_frames=4), Figure)
    net = model(num_classes=0)
    ((x, _),) = list(iter_clip_batches(torch.from_numpy(v[None, :8:2]), crop_size=32))
    fig = saliency_figure(x[0], vanilla_saliency(net, x)[0], grad_cam(net, x)[0], max_frames=4)
    assert len(fig.axes) == 12


def test_hit_at_k_curves_one_panel_per_target_one_line_per_curve_and_chance():
    hits = pd.DataFrame(
        [
            {"target_kind": kind, "curve": curve, "k": k, "hit": 10.0 * k}
            for kind in ("motion", "appearance")
            for curve in ("a", "b")
            for k in (5, 1, 10)
        ]
    )
    fig = hit_at_k_curves(hits, ["appearance", "motion", "absent"], chance={"motion": 10.0})
    assert [ax.get_title() for ax in fig.axes] == ["appearance target", "motion target"]
    assert [len(ax.lines) for ax in fig.axes] == [2, 3], "two curves; the motion panel adds its chance line"
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 5, 10], "each curve in order of k"
    plt.close(fig)
