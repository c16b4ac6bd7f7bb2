"""2D networks of the lightweight study, per frame: torchvision's networks, published costs, the clip face."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops.misc import SqueezeExcitation

from sslvid.backbones import backbone_meta, create_backbone
from sslvid.backbones.cost import count_flops, count_parameters

NAMES = ["mobilenetv2_2d", "shufflenetv2_2d", "squeezenet_2d", "efficientnet_lite0", "resnet18_2d"]
IMAGE = (3, 1, 224, 224)  # one 224x224 RGB image as a 1-frame clip
MICRO = dict(width=0.25, size=32)

# name -> (torchvision builder, prefix of its classifier's keys)
TORCHVISION = {
    "mobilenetv2_2d": (torchvision.models.mobilenet_v2, "classifier."),
    "shufflenetv2_2d": (torchvision.models.shufflenet_v2_x1_0, "fc."),
    "squeezenet_2d": (torchvision.models.squeezenet1_1, "classifier."),
    "resnet18_2d": (torchvision.models.resnet18, "fc."),
}


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ImageAsClip(nn.Module):
    """A torchvision image network called on 1-frame clips (B, C, 1, H, W), for ``count_flops``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, :, 0])


def trunk_state(reference: nn.Module, classifier: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in reference.state_dict().items() if not k.startswith(classifier)}


def load_in_order(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state``'s tensors into ``model`` position by position, checking every shape."""
    ours = model.state_dict()
    assert [v.shape for v in ours.values()] == [v.shape for v in state.values()]
    model.load_state_dict(dict(zip(ours, state.values())), strict=True)


def pooled_reference_features(name: str, reference: nn.Module, images: torch.Tensor) -> torch.Tensor:
    if name == "squeezenet_2d":  # its classifier is a conv: pool the trunk's map ourselves
        return reference.features(images).mean(dim=(2, 3))
    setattr(reference, TORCHVISION[name][1].rstrip("."), nn.Identity())
    return reference(images)


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_parameters_equal_torchvision_without_classifier(name):
    builder, classifier = TORCHVISION[name]
    with torch.device("meta"):
        model, reference = create_backbone(name), builder(weights=None)
    head = sum(p.numel() for k, p in reference.named_parameters() if k.startswith(classifier))
    assert count_parameters(model) == count_parameters(reference) - head


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_one_frame_equals_torchvision_on_the_image(name):
    builder, classifier = TORCHVISION[name]
    reference = builder(weights=None).eval()
    model = create_backbone(name).eval()
    load_in_order(model, trunk_state(reference, classifier))
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = pooled_reference_features(name, reference, images)
        assert torch.allclose(model(images[:, :, None]), expected, rtol=1e-5, atol=1e-6)


def test_resnet18_state_dict_is_torchvisions_with_stem_prefix():
    with torch.device("meta"):
        ours = create_backbone("resnet18_2d").state_dict()
        theirs = trunk_state(torchvision.models.resnet18(weights=None), "fc.")
    assert [k.removeprefix("stem.") for k in ours] == list(theirs)


def test_efficientnet_lite0_is_b0_without_squeeze_excitation():
    with torch.device("meta"):
        lite = create_backbone("efficientnet_lite0", num_classes=1000)
        b0 = torchvision.models.efficientnet_b0(weights=None)
        se = {f"features.{k}" for k, m in b0.features.named_modules() if isinstance(m, SqueezeExcitation)}
        b0_without_se = [p.shape for k, p in b0.named_parameters() if not any(k.startswith(s + ".") for s in se)]
        assert [p.shape for p in lite.parameters()] == b0_without_se
        for module in b0.modules():  # drop SE: lite0's multiply-adds are then b0's
            for child_name, child in module.named_children():
                if isinstance(child, SqueezeExcitation):
                    setattr(module, child_name, nn.Identity())
    assert count_parameters(lite) == 4_652_008  # TF release: "4.7M"; d-li14/efficientnet-lite.pytorch: 4.652M
    assert count_flops(lite, IMAGE) == count_flops(ImageAsClip(b0), IMAGE)
    assert not any(isinstance(m, (nn.SiLU, SqueezeExcitation)) for m in lite.modules())


@pytest.mark.parametrize(
    ("name", "published", "rel"),
    [
        ("mobilenetv2_2d", 300e6, 0.02),  # Sandler et al. 2018, Table 4 (300M MAdds); torchvision 0.30 GFLOPS
        ("shufflenetv2_2d", 146e6, 0.02),  # Ma et al. 2018, Table 8 (ShuffleNet v2 1x: 146M FLOPs = MACs)
        ("resnet18_2d", 1.8e9, 0.02),  # He et al. 2016, Table 1 (1.8e9 FLOPs = MACs); torchvision 1.81
        ("efficientnet_lite0", 390e6, 0.02),  # Tan & Le 2019, Table 2 (B0: 0.39B FLOPs; SE adds < 1M)
        # TF release README (tensorflow/tpu models/official/efficientnet/lite): 407M MAdds. Conv + linear
        # multiply-adds give 385M, as the PyTorch ports report (0.385 G); the TF figure is 5.4% higher.
        ("efficientnet_lite0", 407e6, 0.06),
    ],
)
def test_multiply_adds_match_published(name, published, rel):
    with torch.device("meta"):
        model = create_backbone(name, num_classes=1000)  # published figures include the classifier
    assert count_flops(model, IMAGE) == pytest.approx(published, rel=rel)


def test_squeezenet_multiply_adds_are_torchvisions_without_its_conv_classifier():
    with torch.device("meta"):
        model = create_backbone("squeezenet_2d")
        reference = ImageAsClip(torchvision.models.squeezenet1_1(weights=None))
    conv10 = 512 * 1000 * 13 * 13  # 1x1 conv to 1000 classes on the 13x13 map, before pooling
    assert count_flops(model, IMAGE) + conv10 == count_flops(reference, IMAGE)
    assert count_flops(reference, IMAGE) == pytest.approx(0.35e9, rel=0.02)  # torchvision docs: 0.35 GFLOPS


@pytest.mark.parametrize("name", NAMES)
def test_frames_run_independently_and_features_average_over_time(name):
    model = create_backbone(name, width=MICRO["width"]).eval()
    clips = torch.randn(2, 3, 4, MICRO["size"], MICRO["size"])
    with torch.no_grad():
        features = model(clips)
        per_frame = torch.stack([model(clips[:, :, t : t + 1]) for t in range(4)], dim=1)
        maps = model.forward_intermediates(clips)
        first_frame_maps = model.forward_intermediates(clips[:, :, :1])
    assert torch.allclose(features, per_frame.mean(dim=1), rtol=1e-5, atol=1e-6)
    for clip_map, frame_map in zip(maps, first_frame_maps):
        assert clip_map.shape[2] == 4 and frame_map.shape[2] == 1
        assert torch.allclose(clip_map[:, :, :1], frame_map, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "last_map"),
    [
        ("mobilenetv2_2d", 7),
        ("shufflenetv2_2d", 7),
        ("squeezenet_2d", 13),
        ("efficientnet_lite0", 7),
        ("resnet18_2d", 7),
    ],
)
def test_intermediate_shapes_at_224(name, last_map):
    with torch.device("meta"):
        model = create_backbone(name)
        maps = model.forward_intermediates(torch.empty(2, 3, 3, 224, 224))
        last_two = model.forward_intermediates(torch.empty(2, 3, 3, 224, 224), indices=2)
    assert len(maps) == len(model.block_names)
    assert all(m.shape[:1] == (2,) and m.shape[2] == 3 for m in maps)
    assert maps[0].shape[-1] in (56, 111, 112)  # stride 4 (ResNet, ShuffleNet stems), 2 (the others)
    assert maps[-1].shape[1:] == (model.feature_dim, 3, last_map, last_map)
    assert [m.shape for m in last_two] == [m.shape for m in maps[-2:]]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("in_channels", [1, 2])
def test_in_channels(name, in_channels):
    model = create_backbone(name, width=MICRO["width"], in_channels=in_channels, num_classes=3).train()
    out = model(torch.randn(2, in_channels, 2, MICRO["size"], MICRO["size"]))
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == in_channels


@pytest.mark.parametrize("name", NAMES)
def test_narrow_widths_at_micro_size(name):
    with torch.device("meta"):
        full = create_backbone(name)
    sizes = []
    for width in (0.25, 0.5):
        model = create_backbone(name, width=width).train()
        features = model(torch.randn(2, 3, 1, MICRO["size"], MICRO["size"]))
        assert features.shape == (2, model.feature_dim) and torch.isfinite(features).all()
        sizes.append(count_parameters(model))
    assert sizes[0] < sizes[1] < count_parameters(full) / 2


@pytest.mark.parametrize("name", NAMES)
def test_bad_arguments_raise(name):
    for bad in (dict(width=0.0), dict(width=-1.0), dict(in_channels=0), dict(num_classes=-1)):
        with pytest.raises(ValueError):
            create_backbone(name, **bad)
    model = create_backbone(name, width=MICRO["width"])
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        model(torch.randn(2, 3, MICRO["size"], MICRO["size"]))


def test_metadata_marks_2d_and_keeps_capacity():
    capacities = {name: backbone_meta(name)["capacity"] for name in NAMES}
    assert capacities == {**dict.fromkeys(NAMES[:4], "small"), "resnet18_2d": "medium"}
    assert all(backbone_meta(name)["kind"] == "2d" for name in NAMES)
