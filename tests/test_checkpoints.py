"""Checkpoints in and out: weights made elsewhere evaluated under their file's hash, runs exported and read back.

"In": torchvision's video ResNet state dicts (saved here from randomly initialised torchvision
models; nothing is downloaded) and self-supervised checkpoints with wrapper prefixes load into
our backbones; every evaluation protocol takes one. "Out": ``export`` writes a run's backbone as
safetensors with a model card, and evaluating the exported file gives the run's own numbers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from sslvid.analysis.cka import cka_map
from sslvid.backbones import create_backbone
from sslvid.backbones.checkpoints import backbone_from_checkpoint, file_source, load_checkpoint, read_metadata
from sslvid.cli import main as cli_main
from sslvid.errors import ConfigError
from sslvid.evaluate import EvalConfig, evaluate, noise_robustness
from sslvid.evaluate.export import export_run
from sslvid.evaluate.models import source_backbone
from sslvid.experiments.study import Study
from sslvid.profiles import get_profile
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

pytestmark = pytest.mark.usefixtures("one_thread", "data_home")

BACKBONE = "squeezenet3d"
WIDTH = get_profile("smoke").width


def smoke(protocol: str, data_root: Path, **overrides) -> EvalConfig:
    return EvalConfig.for_profile(
        "smoke", protocol=protocol, data_root=str(data_root), device="cpu", threads=1, **overrides
    )


def wrapped_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """A MoCo-style training checkpoint of ``model``: query and key encoders under DataParallel, a queue."""
    state = {f"module.encoder_q.{k}": v for k, v in model.state_dict().items()}
    state.update({f"module.encoder_k.{k}": torch.zeros_like(v) for k, v in model.state_dict().items()})
    state["module.queue"] = torch.randn(8, 4)
    torch.save({"epoch": 9, "arch": "r3d", "state_dict": state}, path)
    return path


def sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# ----------------------------------------------------------------------------------- in: reading


@pytest.mark.parametrize("name", ["r3d_18", "r2plus1d_18"])
def test_torchvision_video_resnet_state_dicts_load_unchanged(name, tmp_path):
    reference = getattr(torchvision.models.video, name)(weights=None).eval()
    path = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), path)
    model = create_backbone(name, num_classes=0, width=1.0)
    report = load_checkpoint(model, path, name)
    assert report.dropped_head == ["fc.weight", "fc.bias"], "torchvision's Kinetics classifier is left out"
    assert not report.unexpected and not report.missing and not report.stripped
    assert len(report.loaded) == len(model.state_dict())
    clips = torch.randn(2, 3, 4, 32, 32)
    reference.fc = torch.nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(clips), reference(clips), rtol=0, atol=0)
    assert file_source(path) == "file:" + sha16(path)


def test_a_self_supervised_checkpoint_loses_its_wrapper_prefixes_and_reports_the_rest(tmp_path):
    trained = create_backbone("r3d_18", num_classes=0, width=0.25)
    path = wrapped_checkpoint(trained, tmp_path / "moco.pth")
    model = create_backbone("r3d_18", num_classes=0, width=0.25)
    report = load_checkpoint(model, path)
    n = len(trained.state_dict())
    assert report.stripped == {"module.": n, "encoder_q.": n}
    assert sorted(report.unexpected) == sorted(
        [f"module.encoder_k.{k}" for k in trained.state_dict()] + ["module.queue"]
    ), "the key encoder is not the query encoder"
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert f"{n} tensors loaded" in report.summary() and "unexpected" in report.summary()


class _Payload:
    """An object whose unpickling would leave a mark."""

    opened = False

    def __init__(self) -> None:
        self.data = 1

    def __setstate__(self, state):
        type(self).opened = True


@pytest.mark.parametrize(
    "case, message",
    [
        ("other backbone", "does not fit r2plus1d_18"),
        ("other width", "does not fit r2plus1d_18"),
        ("nothing matches", "none of the 2 tensors"),
        ("part of the backbone", "lacks"),
        ("not a dict", "holds a list, not a state dict"),
        ("no tensors", "holds no tensors"),
        ("python objects", "holds Python objects"),
        ("not a checkpoint", "not a checkpoint torch or safetensors can read"),
        ("no file", "no checkpoint file"),
    ],
)
def test_a_bad_checkpoint_is_a_config_error_with_a_hint(case, message, tmp_path):
    path = tmp_path / "weights.pt"
    full = create_backbone("r2plus1d_18", num_classes=0, width=0.25).state_dict()
    contents = {
        "other backbone": lambda: create_backbone("r3d_18", num_classes=0, width=0.25).state_dict(),
        "other width": lambda: create_backbone("r2plus1d_18", num_classes=0, width=0.5).state_dict(),
        "nothing matches": lambda: {"encoder.proj.weight": torch.ones(2), "head.bias": torch.ones(2)},
        "part of the backbone": lambda: {k: v for k, v in full.items() if not k.startswith("layer4")},
        "not a dict": lambda: [torch.ones(2)],
        "no tensors": lambda: {"epoch": 3, "arch": "r2plus1d_18"},
        "python objects": lambda: {"weights": torch.ones(2), "payload": _Payload()},
    }
    if case in contents:
        torch.save(contents[case](), path)
    elif case == "not a checkpoint":
        path.write_bytes(b"not a checkpoint" * 10)
    model = create_backbone("r2plus1d_18", num_classes=0, width=0.25)
    with pytest.raises(ConfigError, match=message) as caught:
        load_checkpoint(model, path, "r2plus1d_18")
    assert caught.value.hint
    assert not _Payload.opened, "the file was unpickled"


def test_a_checkpoint_that_changed_after_its_config_was_made_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(create_backbone(BACKBONE, num_classes=0, width=WIDTH).state_dict(), path)
    source = file_source(path)
    torch.save(create_backbone(BACKBONE, num_classes=0, width=WIDTH).state_dict(), path)
    with pytest.raises(ConfigError, match="no longer the checkpoint"):
        load_checkpoint(create_backbone(BACKBONE, num_classes=0, width=WIDTH), path, source=source)


# ----------------------------------------------------------------------------------- in: the config


def test_the_file_hash_is_the_source_and_the_path_is_not_hashed(tmp_path, tiny_default):
    path = tmp_path / "a" / "w.pt"
    path.parent.mkdir()
    torch.save(create_backbone(BACKBONE, num_classes=0, width=WIDTH).state_dict(), path)
    copy = tmp_path / "b.pt"
    shutil.copy(path, copy)
    config = smoke("linear", tiny_default, backbone=BACKBONE, checkpoint=path)
    assert config.source == "file:" + sha16(path) and config.checkpoint == str(path.resolve())
    assert config.from_file and not config.from_scratch
    moved = smoke("linear", tiny_default, backbone=BACKBONE, checkpoint=copy)
    assert moved.config_hash() == config.config_hash(), "the same bytes elsewhere are the same source"
    torch.save(create_backbone(BACKBONE, num_classes=0, width=WIDTH).state_dict(), copy)
    assert smoke("linear", tiny_default, backbone=BACKBONE, checkpoint=copy).config_hash() != config.config_hash()
    assert EvalConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="not both"):
        smoke("linear", tiny_default, backbone=BACKBONE, checkpoint=path, source="0123456789abcdef")
    with pytest.raises(ConfigError, match="needs backbone"):
        smoke("linear", tiny_default, checkpoint=path)
    with pytest.raises(ConfigError, match="needs checkpoint"):
        EvalConfig(backbone=BACKBONE, source=config.source, profile="smoke")
    with pytest.raises(ConfigError, match="source_epoch needs a pre-training run"):
        config.replace(source_epoch=1)


# ----------------------------------------------------------------------------------- in: every protocol


def test_every_protocol_evaluates_an_external_checkpoint(tmp_path, tiny_default, stores):
    trained = create_backbone(BACKBONE, num_classes=0, width=WIDTH)
    path = wrapped_checkpoint(trained, tmp_path / "ssl.pth")
    for protocol in ("finetune", "linear", "retrieval"):
        config = smoke(protocol, tiny_default, backbone=BACKBONE, checkpoint=path)
        if protocol == "linear":
            loaded = source_backbone(config, stores["store"])
            for key, value in trained.state_dict().items():
                assert torch.equal(loaded.state_dict()[key], value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # retrieval: k above the gallery is not measurable
            rows = evaluate(config, **stores)
        assert set(rows["source"]) == {"file:" + sha16(path)} and set(rows["pretext"]) == {"external"}
        assert json.loads(rows["protocol_card"].iloc[0])["checkpoint"] == str(path.resolve())
    noisy = noise_robustness(
        smoke("finetune", tiny_default, backbone=BACKBONE, checkpoint=path),
        corruptions=("gaussian",),
        severities=(5,),
        **stores,
    )
    assert set(noisy["source"]) == {"file:" + sha16(path)} and set(noisy["condition"]) == {"gaussian/5"}


def test_the_study_and_the_cka_maps_take_a_checkpoint(tmp_path, tiny_default):
    trained = create_backbone("r3d_18", num_classes=0, width=0.25)
    path = wrapped_checkpoint(trained, tmp_path / "ssl.pth")
    study = Study(profile="smoke", data_root=None, device="cpu")
    config = study.eval_config(None, backbone="r3d_18", checkpoint=path)
    assert config.source == "file:" + sha16(path) and config.backbone == "r3d_18"
    model = backbone_from_checkpoint(path, "r3d_18", width=0.25)
    clips = torch.randint(0, 255, (8, 4, 16, 16, 3), dtype=torch.uint8)
    ours, theirs = (
        cka_map(model, clips, batch_size=8, crop_size=16),
        cka_map(trained, clips, batch_size=8, crop_size=16),
    )
    assert ours.matrix.tolist() == theirs.matrix.tolist()


# ----------------------------------------------------------------------------------- out: export and back


def test_export_writes_safetensors_and_a_card_that_load_back_as_the_same_numbers(
    pretrained, stores, tiny_default, tmp_path, capsys
):
    key = pretrained.config_hash()
    from_run = evaluate(smoke("linear", tiny_default, source=pretrained, backbone=BACKBONE), **stores)
    status = cli_main(
        [
            "export",
            key,
            str(tmp_path / "out"),
            "--store",
            str(stores["store"].root),
            "--results",
            str(stores["results"].path),
        ]
    )
    assert status == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    weights = tmp_path / "out" / "backbone.safetensors"
    assert printed["source"] == "file:" + sha16(weights) and Path(printed["weights"]) == weights
    meta = read_metadata(weights)
    assert (meta["backbone"], float(meta["width"]), meta["task"], meta["config_hash"]) == (
        BACKBONE,
        pretrained.width,
        "rotnet",
        key,
    )
    card = json.loads((tmp_path / "out" / "card.json").read_text())
    assert (card["task"], card["epochs"], card["data"]["subset_per_class"]) == ("rotnet", 2, 1)
    assert card["file"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    linear = {r["metric"]: r["value"] for r in card["evaluations"] if r["protocol"] == "linear"}
    assert linear == dict(zip(from_run["metric"], from_run["value"]))
    assert card["exported_with"]["safetensors"] and card["exported_with"]["torch"]
    assert "| protocol |" in (tmp_path / "out" / "README.md").read_text()

    again = export_run(key, tmp_path / "again", stores["store"], stores["results"])
    assert again.weights.read_bytes() == weights.read_bytes(), "an export is reproducible: same bytes, same source"

    config = smoke("linear", tiny_default, checkpoint=weights)  # backbone and width from the file
    assert (config.backbone, config.width) == (BACKBONE, pretrained.width)
    from_file = evaluate(config, **stores)
    assert set(from_file["source"]) == {printed["source"]} and set(from_file["pretext"]) == {"rotnet"}
    assert from_file["value"].tolist() == from_run["value"].tolist(), "the same weights give the same numbers"
    run_backbone = stores["store"].run(key).load_backbone()
    for name, value in backbone_from_checkpoint(weights).state_dict().items():
        assert torch.equal(value, run_backbone[name])


def test_export_refuses_what_it_cannot_share(tmp_path):
    store, results = RunStore(tmp_path / "runs"), ResultsStore(tmp_path / "results.csv")
    with pytest.raises(ConfigError, match="no run"):
        export_run("0123456789abcdef", tmp_path / "out", store, results)
    store.run("fedcba9876543210").begin({"kind": "eval", "backbone": BACKBONE}, {"seed": 0})
    with pytest.raises(ConfigError, match="export writes pre-training runs"):
        export_run("fedcba9876543210", tmp_path / "out", store, results)
    store.run("00000000000000aa").begin({"kind": "pretrain", "task": "rotnet", "backbone": BACKBONE}, {"seed": 0})
    with pytest.raises(ConfigError, match="not complete") as caught:
        export_run("00000000000000aa", tmp_path / "out", store, results)
    assert "resumes" in caught.value.hint and not (tmp_path / "out").exists()


def test_the_command_line_evaluates_a_checkpoint_and_reports_a_bad_one(tmp_path, tiny_default, home, capsys):
    path = tmp_path / "w.pt"
    torch.save(create_backbone(BACKBONE, num_classes=0, width=WIDTH).state_dict(), path)
    common = [
        "evaluate",
        "--protocol",
        "linear",
        "--profile",
        "smoke",
        "--data-root",
        str(tiny_default),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-progress",
        "--store",
        str(home / "runs"),
        "--results",
        str(home / "results.csv"),
    ]
    assert cli_main(common + ["--checkpoint", str(path), "--backbone", BACKBONE]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert {r["metric"] for r in printed} == {"top1_clip", "top1_video"} and {r["pretext"] for r in printed} == {
        "external"
    }
    assert cli_main(common + ["--checkpoint", str(path), "--backbone", "r3d_18"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "r3d_18" in err and "hint:" in err
    assert cli_main(common + ["--checkpoint", str(tmp_path / "missing.pt"), "--backbone", BACKBONE]) == 2
    assert "no checkpoint file" in capsys.readouterr().err
