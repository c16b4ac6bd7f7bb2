"""Distillation: the registry (every method trains a step), the config and its hash, and the pipeline
through the engine on the tiny default data (teachers finetuned through ``sslvid.evaluate``, a
distilled and an independent student in the results table, cache hits, resume, the CLI)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from sslvid.backbones import create_backbone
from sslvid.distill import (
    DistillConfig,
    TeacherRef,
    create_distiller,
    distill,
    distiller_class,
    find_distilled,
    list_distillers,
)
from sslvid.distill.pcl import TRANSFORMATIONS, TransformationTeacher
from sslvid.distill.run import open_training_split, retrieval_condition
from sslvid.engine import PretrainConfig
from sslvid.engine.trainer import Trainer
from sslvid.evaluate.config import EvalConfig
from sslvid.store.outcomes import read_outcomes
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

pytestmark = pytest.mark.usefixtures("one_thread")

T, S, C = 4, 32, 5  # frames, crop, classes of the unit tests
STUDENT = "shufflenet3d"
TEACHERS = ("squeezenet3d", "shufflenet3d")


# ---------------------------------------------------------------------- registry and methods


def _batch(seed: int = 0, clips: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    starts = torch.tensor([0, 8, 16, 40])[:clips]  # PCL's tuple and a remote clip when clips = 4
    return {
        "clips": torch.randint(0, 256, (4, clips, T, 40, 40, 3), generator=gen, dtype=torch.uint8),
        "label": torch.randint(0, C, (4,), generator=gen),
        "video": torch.arange(4),
        "frame_indices": (starts.view(1, clips, 1) + torch.arange(T)).expand(4, clips, T),
    }


def _pcl_teacher() -> nn.Module:
    """A stand-in PCL-trained teacher (transformation head over three clips' features)."""
    backbone = create_backbone("squeezenet3d", width=0.125)
    return TransformationTeacher(backbone, nn.Linear(3 * backbone.feature_dim, len(TRANSFORMATIONS)))


def _distiller(name: str, **knobs: Any) -> nn.Module:
    cls = distiller_class(name)
    torch.manual_seed(0)
    if cls.teacher_output == "pretext":
        teachers: list[nn.Module] = [_pcl_teacher()]
    else:
        teachers = [create_backbone(n, num_classes=C, width=0.125) for n in TEACHERS][: max(cls.teacher_count[0], 0)]
    student = (
        create_backbone(STUDENT, num_classes=C if cls.student_head else 0, width=0.125) if cls.needs_student else None
    )
    kwargs: dict[str, Any] = {"crop_size": S, "frames": T, **knobs}
    if name == "ensemble":
        kwargs["num_classes"] = C
    if name in ("skd_srl", "self_kd"):
        kwargs.setdefault("proj_dim", 32)
    return create_distiller(name, student=student, teachers=teachers, **kwargs)


def test_registry_lists_every_method_and_rejects_unknown_names() -> None:
    names = list_distillers()
    for expected in (
        "kd",
        "aekd",
        "graph",
        "graph_logits",
        "graph_features",
        "mmgd",
        "mmgd_features",
        "feature_uniform",
        "fusion",
        "ensemble",
        "pcl_kd",
        "skd_srl",
        "self_kd",
        "independent",
        "augment",
    ):
        assert expected in names
    with pytest.raises(ValueError, match="valid names: .*aekd"):
        create_distiller("no-such-method")


@pytest.mark.parametrize("name", [n for n in list_distillers() if n != "fusion"])
def test_every_method_trains_a_step_without_nan(name: str) -> None:
    model = _distiller(name)
    out = model(_batch(clips=4 if name == "pcl_kd" else 1))
    assert torch.isfinite(out.loss) and out.batch_size == 4 and "acc" in out.metrics
    out.loss.backward()
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad).all() for _, p in trainable)
    assert not any(p.requires_grad for t in model.teachers for p in t.parameters())  # teachers stay frozen
    assert not any(k.startswith("teachers") for k in model.state_dict())  # and out of the checkpoints


def test_fusion_averages_the_teachers_probabilities() -> None:
    model = _distiller("fusion")
    x = torch.randn(2, 3, T, S, S)
    probs = torch.stack([torch.softmax(t(x), -1) for t in model.teachers]).mean(0)
    torch.testing.assert_close(model.predict(x).exp(), probs, atol=1e-5, rtol=1e-5)


def test_wrong_teacher_counts_raise() -> None:
    with pytest.raises(ValueError, match="takes at least 2 teachers"):
        create_distiller(
            "aekd",
            student=create_backbone(STUDENT, num_classes=C, width=0.125),
            teachers=[create_backbone("squeezenet3d", num_classes=C, width=0.125)],
        )
    with pytest.raises(ValueError, match="takes 0 teachers"):
        create_distiller(
            "skd_srl",
            student=create_backbone(STUDENT, num_classes=C, width=0.125),
            teachers=[create_backbone("squeezenet3d", num_classes=C, width=0.125)],
        )


def test_aekd_logs_min_norm_weights_within_the_tolerance() -> None:
    out = _distiller("aekd", tolerance=0.6)(_batch())
    weights = [out.metrics["weight_0"], out.metrics["weight_1"]]
    assert sum(weights) == pytest.approx(1.0) and all(0.4 - 1e-6 <= w <= 0.6 + 1e-6 for w in weights)


@pytest.mark.parametrize("name", ["kd", "graph"])
def test_loss_goes_down_on_a_fixed_batch(name: str) -> None:
    model = _distiller(name)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    batch = _batch(1)
    losses = []
    for _ in range(12):
        torch.manual_seed(0)  # the same crops every step
        out = model(batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    assert sum(losses[-4:]) / 4 < losses[0]  # batch norm over 4 clips makes single steps noisy


# ---------------------------------------------------------------------- config and hash


def _teacher(backbone: str = "squeezenet3d", **overrides: Any) -> TeacherRef:
    values = {"epochs": 1, "num_workers": 0, "threads": 1, "device": "cpu", **overrides}
    return TeacherRef(finetune=EvalConfig.for_profile("smoke", backbone=backbone, protocol="finetune", **values))


def test_config_hash_is_stable_and_covers_what_changes_a_number() -> None:
    config = DistillConfig.for_profile(
        "smoke", method="kd", student=STUDENT, teachers=[_teacher()], method_kwargs={"temperature": 4, "alpha": 0.9}
    )
    again = DistillConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.config_hash() == config.config_hash()
    assert len(config.config_hash()) == 16
    same = config.replace(
        device="cpu",
        num_workers=3,
        threads=1,
        lr=0.01,  # data_root: test_identity
        method_kwargs={"alpha": 0.9, "temperature": 4.0},
    )
    assert same.config_hash() == config.config_hash()
    for changed in (
        config.replace(seed=1),
        config.replace(method_kwargs={"temperature": 2.0}),
        config.replace(teachers=(_teacher("shufflenet3d"),)),
        config.replace(student="squeezenet3d"),
    ):
        assert changed.config_hash() != config.config_hash()
    # teachers enter by their own hash
    assert config.hashed_dict()["teachers"] == [{"finetune": config.teachers[0].finetune.config_hash()}]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "nope"}, "unknown method 'nope'; valid: .*aekd"),
        ({"method": "aekd"}, "takes at least 2 teachers"),
        ({"student": None}, "trains a student"),
        ({"method_kwargs": {"temprature": 2}}, "has no knob temprature; valid: .*temperature"),
        ({"method_kwargs": {"frames": 2}}, "may not set frames"),
        ({"frames": 8}, "teacher 0 .* sees"),
        ({"dataset": "digits-motion"}, "trained on the classes of digits-appearance"),
        ({"epochs": 0, "lr": -1}, "epochs must be >= 1.*\n.*lr must be > 0"),
    ],
)
def test_invalid_configs_list_their_problems(changes: dict[str, Any], message: str) -> None:
    values = {"method": "kd", "student": STUDENT, "teachers": [_teacher()], **changes}
    with pytest.raises(ValueError, match=message):
        DistillConfig.for_profile("smoke", **values)


def test_teacher_kinds_are_checked() -> None:
    pre = PretrainConfig.for_profile("smoke", task="rotnet", backbone="squeezenet3d")
    with pytest.raises(ValueError, match=r"teacher 0 \(pretrain\) scores pretext; 'kd' distils classes logits"):
        DistillConfig.for_profile("smoke", method="kd", student=STUDENT, teachers=[TeacherRef(pretrain=pre)])
    with pytest.raises(ValueError, match="not from the given pre-training run"):
        TeacherRef(finetune=_teacher().finetune, pretrain=pre)
    pcl = DistillConfig.for_profile("smoke", method="pcl_kd", student=STUDENT, teachers=[{"pretrain": pre.to_dict()}])
    assert pcl.teachers[0].kind == "pretrain"
    baseline = DistillConfig.for_profile("smoke", method="pcl_kd", student="squeezenet3d")
    taught = pcl.replace(teachers=(TeacherRef(distill=baseline),))
    assert taught.teachers[0].output == "pretext" and taught.hashed_dict()["teachers"] == [
        {"distill": baseline.config_hash()}
    ]
    assert DistillConfig.from_dict(json.loads(json.dumps(taught.to_dict()))) == taught
    with pytest.raises(ValueError, match="give finetune"):
        TeacherRef(distill=baseline, pretrain=pre)


# ---------------------------------------------------------------------- the pipeline on the default data


@pytest.fixture(scope="module")
def env(tiny_default: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data home, run store and results table for the module; smoke numbers over the tiny default data."""
    home = tmp_path_factory.mktemp("distill-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSLVID_HOME", str(home))
        yield {
            "store": RunStore(home / "runs"),
            "results": ResultsStore(home / "results.csv"),
            "common": {"data_root": str(tiny_default), "num_workers": 0, "threads": 1, "device": "cpu"},
        }


def _config(env: dict[str, Any], method: str, teachers: list[TeacherRef], **overrides: Any) -> DistillConfig:
    return DistillConfig.for_profile(
        "smoke", method=method, student=STUDENT, teachers=teachers, epochs=2, **env["common"], **overrides
    )


def test_distilled_and_independent_students_both_land_in_the_results_table(env: dict[str, Any]) -> None:
    teacher = _teacher(**env["common"])
    distilled = distill(_config(env, "kd", [teacher]), env["store"], env["results"], progress=False)
    alone = distill(_config(env, "independent", []), env["store"], env["results"], progress=False)
    table = env["results"].table()
    for result in (distilled, alone):
        assert not result.cached and list(result.log["epoch"]) == [1, 2]
        rows = table[table["config_hash"] == result.key]
        assert set(rows["metric"]) == {"top1_clip", "top1_video"}
        assert all(0 <= v <= 100 for v in rows["value"])
        assert rows["protocol"].iloc[0] == f"distill:{result.config.method}" and rows["model"].iloc[0] == STUDENT
    # the teacher was finetuned once through sslvid.evaluate, its own numbers filed beside
    assert env["store"].find(teacher.finetune) is not None
    assert (table["config_hash"] == teacher.finetune.config_hash()).any()
    # each student kept its per-video outcomes, on the teacher's test videos (a paired comparison)
    taught = read_outcomes(env["store"], teacher.finetune.config_hash())
    for result in (distilled, alone):
        kept = read_outcomes(env["store"], result.key)
        assert kept is not None and taught is not None and kept.videos == taught.videos
        assert kept.accuracy == pytest.approx(result.metric("top1_video"), abs=1e-9)
        card = json.loads(table[table["config_hash"] == result.key]["protocol_card"].iloc[0])
        assert card["test_videos"] == len(kept.videos)
    again = distill(_config(env, "kd", [teacher]), env["store"], env["results"], progress=False)
    assert again.cached and again.metric("top1_video") == distilled.metric("top1_video")
    student = again.student()
    assert student.num_classes == 10 and not student.training


def test_a_killed_run_resumes_from_its_checkpoint(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(env, "independent", [], seed=7)
    fit = Trainer.fit

    def stop_after_first_epoch(self: Trainer) -> Any:
        self.epochs = 1
        fit(self)
        raise KeyboardInterrupt  # killed after the checkpoint of epoch 1

    monkeypatch.setattr(Trainer, "fit", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        distill(config, env["store"], env["results"], progress=False)
    run = env["store"].run(config)
    assert not run.is_complete and list(run.checkpoints()) == [1]
    monkeypatch.setattr(Trainer, "fit", fit)
    result = distill(config, env["store"], env["results"], progress=False)
    assert list(result.log["epoch"]) == [1, 2] and result.run.is_complete
    assert len(run.provenance()["attempts"]) == 2


def test_pcl_kd_records_accuracy_per_epoch_from_a_pcl_trained_teacher(env: dict[str, Any]) -> None:
    # the paper's teacher is a PCL-trained network (a pcl_kd run without teacher)
    baseline = DistillConfig.for_profile("smoke", method="pcl_kd", student="squeezenet3d", epochs=1, **env["common"])
    result = distill(
        _config(env, "pcl_kd", [TeacherRef(distill=baseline)], checkpoint_every=1),
        env["store"],
        env["results"],
        progress=False,
    )
    assert {"acc", "kd", "contrastive", "pretext"} <= set(result.log.columns)
    hits = result.rows[result.rows["metric"] == "hit@1"]
    assert sorted(hits["pretrain_epochs"].tolist()) == [1, 2]
    assert math.isfinite(result.metric("hit@1", epoch=1))
    kept = read_outcomes(env["store"], result.key, retrieval_condition(1))
    assert kept is not None and kept.metric == "video_hit@1", "the last epoch keeps each test video's hit at 1"
    test_videos = open_training_split(result.config, result.config.test_split)[0]
    assert kept.videos == tuple(sorted(r.video_id for r in test_videos.records))
    assert read_outcomes(env["store"], result.key, retrieval_condition(5)) is not None
    assert find_distilled(result.config, env["store"], env["results"]) is not None
    assert env["store"].find(baseline) is not None  # the teacher's own run was trained once


def test_cli_finds_the_cached_run(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from sslvid.cli import main

    teacher = _teacher(**env["common"])
    distill(_config(env, "kd", [teacher]), env["store"], env["results"], progress=False)
    main(
        [
            "distill",
            "--method",
            "kd",
            "--student",
            STUDENT,
            "--teacher",
            teacher.finetune.config_hash(),
            "--profile",
            "smoke",
            "--epochs",
            "2",
            "--store",
            str(env["store"].root),
            "--results",
            str(env["results"].path),
            "--data-root",
            env["common"]["data_root"],
            "--workers",
            "0",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["cached"] is True and {"top1_clip", "top1_video"} <= set(printed)
