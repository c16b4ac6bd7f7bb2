"""The backbone zoo: every registered name runs, shows the shared face, and costs what it should."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from sslvid.backbones import CAPACITIES, backbone_meta, create_backbone, list_backbones
from sslvid.backbones.cost import backbone_table, count_flops, count_parameters, measure_throughput

MICRO = dict(batch_size=2, clip_shape=(3, 8, 32, 32), width=0.25)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(min(threads, 2))
    yield
    torch.set_num_threads(threads)


def micro_clips() -> torch.Tensor:
    return torch.randn(MICRO["batch_size"], *MICRO["clip_shape"])


@pytest.mark.parametrize("name", list_backbones())
def test_forward_backward_without_nan(name):
    model = create_backbone(name, num_classes=5, width=MICRO["width"]).train()
    logits = model(micro_clips())
    assert logits.shape == (MICRO["batch_size"], 5)
    assert torch.isfinite(logits).all()
    logits.square().mean().backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None, f"{name}: no gradient for {param_name}"
        assert torch.isfinite(param.grad).all(), f"{name}: non-finite gradient for {param_name}"


@pytest.mark.parametrize("name", list_backbones())
def test_shared_face(name):
    model = create_backbone(name, width=MICRO["width"]).eval()
    x = micro_clips()
    with torch.no_grad():
        features = model.forward_features(x)
        intermediates = model.forward_intermediates(x)
        selected = model.forward_intermediates(x, indices=[0, -1])
        assert torch.equal(model(x), features)  # num_classes=0: the head is the identity
    assert features.shape == (MICRO["batch_size"], model.feature_dim)
    assert len(intermediates) == len(model.block_names) > 0
    for activation in intermediates:
        assert activation.dim() == 5 and activation.shape[0] == MICRO["batch_size"]
    assert intermediates[-1].shape[1] == model.feature_dim
    assert [a.shape for a in selected] == [intermediates[0].shape, intermediates[-1].shape]
    assert torch.equal(selected[-1], intermediates[-1])
    assert model.forward_head(features).shape == features.shape


# Adam steps before the train/eval check below; a network not listed gets DEFAULT_FIT_STEPS.
# Each count is 10 steps above the most that model seeds 0-3 needed. The networks listed
# have batch norms after convs that see only part of their kernel (1x1(x1) maps at this size,
# or one frame under a 3-frame kernel), whose outputs have a variance far below 1, while a
# batch norm's running variance starts at 1 and forgets that start only as 0.9 ** steps; the
# 2D SqueezeNet (no batch norm) simply fits more slowly. Before depthwise convs counted their
# fan-out per group (``kaiming_conv_``) the depthwise networks failed at these counts.
DEFAULT_FIT_STEPS = 20
FIT_STEPS = {
    "squeezenet_2d": 40,
    "r2plus1d_18": 45,
    "mobilenetv2_2d": 50,
    "efficientnet_lite0": 55,
    "squeezenet3d": 55,
    "shufflenet3d": 60,
    "shufflenetv2_2d": 60,
    "mobilenetv2_3d": 70,
}


@pytest.mark.parametrize("name", list_backbones())
def test_eval_mode_keeps_what_train_mode_learned(name):
    """After fitting a separable batch in train mode, eval mode classifies that batch too.

    Catches batch norms whose running statistics do not follow the batch statistics (never
    updated, wrong momentum, far off their start), which leave eval outputs near constant.
    """
    torch.set_num_threads(1)  # hundreds of steps: two threads on shared cores can run 10-100x slower
    frames = 4 if backbone_meta(name)["kind"] == "3d" else 1
    generator = torch.Generator().manual_seed(0)
    clips = torch.randn(16, 3, frames, 32, 32, generator=generator)
    labels = torch.arange(16) % 2
    clips[:, 0] += (2 * labels - 1).float().view(-1, 1, 1, 1) * 0.5  # class = sign of channel 0's shift
    model = create_backbone(name, num_classes=2, width=MICRO["width"]).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = FIT_STEPS.get(name, DEFAULT_FIT_STEPS)
    for _ in range(steps):
        logits = model(clips)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train_accuracy = (logits.argmax(1) == labels).float().mean().item()
    with torch.no_grad():
        eval_accuracy = (model.eval()(clips).argmax(1) == labels).float().mean().item()
    assert eval_accuracy >= 0.9, (
        f"{name}: eval accuracy {eval_accuracy:.2f} after {steps} steps "
        f"(train mode: accuracy {train_accuracy:.2f}, loss {loss.item():.3g})"
    )


def test_forward_intermediates_rejects_bad_indices():
    model = create_backbone("c3d", width=0.125).eval()
    x = torch.randn(1, 3, 4, 16, 16)
    assert len(model.forward_intermediates(x, indices=2)) == 2
    n = len(model.block_names)
    for bad in (n + 1, 0, [n], [-n - 1], []):
        with pytest.raises(ValueError):
            model.forward_intermediates(x, indices=bad)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as error:
        create_backbone("resnet9000")
    for name in list_backbones():
        assert name in str(error.value)


def test_capacity_groups():
    assert {backbone_meta(name)["capacity"] for name in list_backbones()} <= set(CAPACITIES)
    assert list_backbones("small", kind="3d") == ["mobilenetv2_3d", "shufflenet3d", "squeezenet3d"]
    assert list_backbones("medium", kind="3d") == ["c3d", "r2plus1d_18", "r3d_18"]
    assert list_backbones("big") == ["swin3d_t"]
    assert list_backbones(kind="2d") == [
        "efficientnet_lite0",
        "mobilenetv2_2d",
        "resnet18_2d",
        "shufflenetv2_2d",
        "squeezenet_2d",
    ]
    assert set(list_backbones()) == set(list_backbones(kind="3d")) | set(list_backbones(kind="2d"))
    with pytest.raises(ValueError, match="small"):
        list_backbones("huge")
    with pytest.raises(ValueError, match="3d, 2d"):
        list_backbones(kind="4d")


def test_width_scales_channels():
    assert create_backbone("c3d").feature_dim == 512
    assert create_backbone("c3d", width=0.25).feature_dim == 128
    with torch.device("meta"):
        full, narrow = create_backbone("r2plus1d_18"), create_backbone("r2plus1d_18", width=0.5)
    assert count_parameters(narrow) < count_parameters(full) / 3
    with pytest.raises(ValueError):
        create_backbone("squeezenet3d", width=0.0)


@pytest.mark.parametrize("name", ["r3d_18", "r2plus1d_18"])
def test_torchvision_state_dict_and_outputs_match(name):
    reference = getattr(torchvision.models.video, name)(weights=None).eval()
    model = create_backbone(name, num_classes=400).eval()
    ours, theirs = model.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[key].shape == theirs[key].shape for key in theirs)
    model.load_state_dict(theirs, strict=True)
    x = torch.randn(1, 3, 8, 56, 56)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["r3d_18", "r2plus1d_18"])
def test_parameter_counts_match_torchvision(name):
    with torch.device("meta"):
        reference = getattr(torchvision.models.video, name)(weights=None)
        model = create_backbone(name, num_classes=400)
    assert count_parameters(model) == count_parameters(reference)


@pytest.mark.parametrize(
    ("name", "clip_shape", "published_gmacs"),
    [
        ("r2plus1d_18", (3, 16, 112, 112), 40.52),  # torchvision docs, R2Plus1D_18_Weights "GFLOPS"
        ("r3d_18", (3, 16, 112, 112), 40.70),  # torchvision docs, R3D_18_Weights
        ("swin3d_t", (3, 16, 224, 224), 43.88),  # torchvision docs, Swin3D_T_Weights
    ],
)
def test_multiply_adds_match_published(name, clip_shape, published_gmacs):
    with torch.device("meta"):
        model = create_backbone(name, num_classes=400)
    assert count_flops(model, clip_shape) / 1e9 == pytest.approx(published_gmacs, rel=0.02)


def test_count_flops_leaves_a_real_model_untouched():
    model = create_backbone("squeezenet3d", width=0.125).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs = count_flops(model, (3, 4, 32, 32), batch_size=2)
    assert macs > 0 and macs == 2 * count_flops(model, (3, 4, 32, 32), batch_size=1)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_measure_throughput_keeps_weights():
    model = create_backbone("squeezenet3d", width=0.125)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for train in (True, False):
        rate = measure_throughput(model, (3, 4, 32, 32), batch_size=2, steps=1, train=train)
        assert rate > 0 and math.isfinite(rate)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_backbone_table_lists_every_3d_backbone_small_to_big():
    table = backbone_table(throughput=False)
    assert list(table.columns) == [
        "name",
        "capacity",
        "width",
        "params",
        "GMACs",
        "train_clips_per_s",
        "infer_clips_per_s",
    ]
    assert sorted(table["name"]) == list_backbones(kind="3d")
    order = [CAPACITIES.index(c) for c in table["capacity"]]
    assert order == sorted(order)
    assert (table["GMACs"] > 0).all() and (table["params"] > 0).all()
