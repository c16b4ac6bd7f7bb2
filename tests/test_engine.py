"""The engine: config and hash, the training loop, cache hits, kill-and-resume, DDP, the CLI.

End-to-end tests pre-train rotnet on squeezenet3d at smoke size over eight tiny videos written
into a temporary folder (folder layout); each run takes about a second.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import engine_helpers as helpers
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sslvid.engine import Hooks, PretrainConfig, Trainer, make_optimizer, make_schedule, pretrain
from sslvid.engine.config import task_registry
from sslvid.engine.loading import epoch_batches, make_loader, set_loader_epoch
from sslvid.engine.step import StepOutput
from sslvid.profiles import get_profile
from sslvid.store import RunHandle, RunStore

pytestmark = pytest.mark.usefixtures("one_thread", "data_home")

HELPER = str(Path(helpers.__file__).resolve())


# ----------------------------------------------------------------------------------- config


def test_config_takes_the_profiles_numbers():
    config = PretrainConfig.for_profile("smoke", task="rotnet", backbone="r3d_18")
    profile = get_profile("smoke")
    assert (config.frames, config.crop_size, config.cache_size, config.width, config.batch_size) == (
        profile.frames,
        profile.crop_size,
        profile.cache_size,
        profile.width,
        profile.batch_size,
    )
    paper = PretrainConfig.for_profile("paper", task="rotnet", backbone="r3d_18", epochs=150)
    assert (paper.frames, paper.crop_size, paper.epochs, paper.width) == (16, 112, 150, 1.0)


def test_each_task_pretrains_with_its_authors_recipe_at_paper_scale_and_the_users_numbers_win():
    from sslvid.pretext.base import SHARED_RECIPE

    def numbers(config):
        return config.optimizer, config.lr, config.batch_size, config.weight_decay, config.momentum

    registry = task_registry()
    for task in ("rspnet", "cvrl", "tdl"):
        recipe = registry.get(task).paper_recipe
        paper = PretrainConfig.for_profile("paper", task=task, backbone="r2plus1d_18")
        assert numbers(paper) == (recipe.optimizer, recipe.lr, recipe.batch_size, recipe.weight_decay, recipe.momentum)
    assert numbers(PretrainConfig.for_profile("paper", task="rspnet", backbone="r2plus1d_18")) == (
        "sgd",
        0.05,
        32,
        1e-4,
        0.9,
    )  # released config/pretrain/r2plus1d.jsonnet
    assert numbers(PretrainConfig.for_profile("paper", task="cvrl", backbone="r2plus1d_18")) == (
        "sgd",
        0.32,
        1024,
        1e-6,
        0.9,
    )  # released cvrl_pretrain_k600_200ep.yaml
    mine = PretrainConfig.for_profile("paper", task="cvrl", backbone="r2plus1d_18", lr=0.1, batch_size=64)
    assert (mine.lr, mine.batch_size, mine.weight_decay) == (0.1, 64, 1e-6)
    for profile, batch in (("micro", 32), ("smoke", 4)):
        config = PretrainConfig.for_profile(profile, task="cvrl", backbone="r2plus1d_18")
        assert numbers(config) == (
            SHARED_RECIPE.optimizer,
            SHARED_RECIPE.lr,
            batch,
            SHARED_RECIPE.weight_decay,
            SHARED_RECIPE.momentum,
        )
    stored = PretrainConfig.for_profile("paper", task="tdl", backbone="r2plus1d_18")
    assert PretrainConfig.from_dict(stored.to_dict()).config_hash() == stored.config_hash()


def test_the_classification_tasks_pretrain_with_their_measured_micro_recipe():
    from sslvid.pretext.base import CLASSIFICATION_MICRO_RECIPE as RECIPE

    for task in ("rotnet", "prp"):
        micro = PretrainConfig.for_profile("micro", task=task, backbone="r2plus1d_18")
        assert (micro.optimizer, micro.lr, micro.batch_size, micro.warmup_epochs) == (
            RECIPE.optimizer,
            RECIPE.lr,
            RECIPE.batch_size,
            RECIPE.warmup_epochs,
        )
        assert (micro.epochs, micro.checkpoint_every) == (8, 2), "longer, with as many checkpoints as the profile's"
        assert micro.epochs // micro.checkpoint_every == 4
        smoke = PretrainConfig.for_profile("smoke", task=task, backbone="r3d_18")
        assert (smoke.batch_size, smoke.epochs, smoke.checkpoint_every) == (4, 2, 1), "smoke keeps its own numbers"
        mine = PretrainConfig.for_profile("micro", task=task, backbone="r2plus1d_18", epochs=5)
        assert (mine.epochs, mine.checkpoint_every) == (5, 1), "a chosen length keeps the profile's spacing"
        assert PretrainConfig.for_profile("paper", task=task, backbone="r3d_18").warmup_epochs == 0
    vcop = PretrainConfig.for_profile("micro", task="vcop", backbone="r3d_18")
    assert (vcop.optimizer, vcop.epochs, vcop.checkpoint_every) == ("sgd", 4, 1)


def test_a_recipe_that_sets_a_length_keeps_the_profiles_number_of_checkpoints():
    from sslvid.pretext.base import TASKS
    from sslvid.profiles import get_profile

    micro = get_profile("micro").pretrain
    for name in TASKS.names():
        recipe = TASKS.get(name).micro_recipe
        if recipe.epochs is None and recipe.checkpoint_every is None:
            continue
        assert recipe.epochs and recipe.checkpoint_every, f"{name}: a length comes with its checkpoint spacing"
        assert recipe.epochs / recipe.checkpoint_every == micro["epochs"] / micro["checkpoint_every"], name


def test_the_lightweight_grid_keeps_one_length_for_every_method_at_micro_scale():
    from sslvid.experiments.study import Study

    study = Study("micro")
    lengths = {study.pretrain_config(p).epochs for p in study.grid_points("lightweight")}
    assert lengths == {4}, "its figure draws every method against the same epochs"


def test_tdl_takes_its_micro_key_encoder_numbers_under_the_users_and_only_at_micro_scale():
    from sslvid.engine.pretrain import build_task

    micro = PretrainConfig.for_profile("micro", task="tdl", backbone="r3d_18")
    assert micro.task_kwargs == {"momentum": 0.9, "queue_size": 128}
    task = build_task(micro.replace(width=0.125))
    assert (task.key_encoder.momentum, task.queue.keys.shape[0]) == (0.9, 128)
    assert PretrainConfig.for_profile("paper", task="tdl", backbone="r3d_18").task_kwargs == {}
    assert PretrainConfig.for_profile("micro", task="rspnet", backbone="r3d_18").task_kwargs == {}, (
        "RSPNet keeps the released numbers (its probe fell with these)"
    )
    mine = PretrainConfig.for_profile(
        "micro", task="tdl", backbone="r3d_18", task_kwargs={"queue_size": 64, "tca_alpha": 0.2}
    )
    assert mine.task_kwargs == {"momentum": 0.9, "queue_size": 64, "tca_alpha": 0.2}, "the user's numbers win"
    assert mine.replace(profile="paper").task_kwargs == {"queue_size": 64, "tca_alpha": 0.2}
    assert mine.replace(task="rotnet", task_kwargs={}).task_kwargs == {}
    assert micro.replace(task="rotnet").task_kwargs == {}, "a new task does not inherit TDL's recipe numbers"
    assert PretrainConfig.from_dict(micro.to_dict()).config_hash() == micro.config_hash()
    assert micro.config_hash() != micro.replace(task_kwargs={"momentum": 0.999, "queue_size": 16384}).config_hash()


def test_config_errors_list_every_problem_and_the_valid_names():
    with pytest.raises(ValueError) as err:
        PretrainConfig.for_profile(
            "smoke", task="rotnett", backbone="resnet", lr=-1, optimizer="lamb", cache_size=(16, 16)
        )
    message = str(err.value)
    assert "unknown task 'rotnett'; valid:" in message and "rotnet" in message
    assert "unknown backbone 'resnet'; valid:" in message and "r2plus1d_18" in message
    assert "lr must be > 0" in message and "unknown optimizer 'lamb'; valid: adam, adamw, sgd" in message
    assert "crop_size 32 exceeds the cached frame size (16, 16)" in message
    with pytest.raises(ValueError, match="rotnet has no argument rotations; valid: .*num_rotations"):
        PretrainConfig.for_profile("smoke", task="rotnet", backbone="r3d_18", task_kwargs={"rotations": 4})
    with pytest.raises(ValueError, match="may not set width"):
        PretrainConfig.for_profile("smoke", task="rotnet", backbone="r3d_18", backbone_kwargs={"width": 2})
    with pytest.raises(ValueError, match="unknown PretrainConfig fields: learning_rate"):
        PretrainConfig.for_profile("smoke", task="rotnet", backbone="r3d_18", learning_rate=0.1)


def test_config_hash_is_stable_and_covers_only_what_changes_results():
    numbers = dict(
        frames=8,
        crop_size=32,
        cache_size=(40, 40),
        width=0.25,
        batch_size=32,
        epochs=20,
        checkpoint_every=5,
        subset_per_class=100,
        optimizer="sgd",
        lr=0.01,
        warmup_epochs=0,
    )  # explicit: the golden hash must not follow the profiles or the tasks' recipes
    base = PretrainConfig.for_profile(
        "micro", task="rotnet", backbone="r2plus1d_18", task_kwargs={"num_rotations": 4}, **numbers
    )
    # Golden value: the hash must not drift between machines, processes or refactorings. If this
    # fails, every stored run is orphaned; change it only on purpose (and bump HASH_SCHEMA).
    assert base.config_hash() == "6144f75a76261226"
    same = [
        base.replace(num_workers=7),
        base.replace(threads=3),
        base.replace(device="cpu"),
        base.replace(deterministic=True),  # data_root: a moved copy hashes the same (test_identity)
        base.replace(max_failure_fraction=0.5),
        base.replace(lr=1e-2),
        PretrainConfig.from_dict(json.loads(json.dumps(base.to_dict()))),
    ]
    assert {c.config_hash() for c in same} == {base.config_hash()}
    different = [
        base.replace(lr=0.02),
        base.replace(seed=1),
        base.replace(task_kwargs={"num_rotations": 3}),
        base.replace(epochs=21),
        base.replace(subset_per_class=20),
        base.replace(amp=False),
    ]
    assert len({c.config_hash() for c in different} | {base.config_hash()}) == len(different) + 1
    assert base.replace(lr=1).config_hash() == base.replace(lr=1.0).config_hash()


def test_cpu_threads_default_to_the_cores_per_process_halved_beside_workers(monkeypatch):
    from sslvid.engine.distributed import DistInfo
    from sslvid.engine.runner import run_threads

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert run_threads(None, cpu, DistInfo()) == 16
    assert run_threads(None, cpu, DistInfo(), workers=2) == 8
    assert run_threads(None, cpu, DistInfo(0, 4, 0)) == 4
    assert run_threads(None, cpu, DistInfo(0, 4, 0), workers=1) == 2
    assert run_threads(3, cuda, DistInfo()) == 3
    assert run_threads(None, cuda, DistInfo()) is None and run_threads(0, cpu, DistInfo()) is None
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert run_threads(None, cpu, DistInfo()) == 1


# ----------------------------------------------------------------------------- the loop


class Regression(nn.Module):
    """A generic module for the trainer: batches are (x, y), the loss is the MSE of a linear fit."""

    def __init__(self) -> None:
        super().__init__()
        self.fit = nn.Linear(3, 1)

    def forward(self, batch):
        x, y = batch
        loss = ((self.fit(x).squeeze(1) - y) ** 2).mean()
        return StepOutput(loss, {"acc": (loss < 0.1).float()}, len(y))


def test_trainer_trains_any_module_and_logs_a_tidy_table():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    data = list(zip(x, x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3))
    loader = DataLoader(data, batch_size=16, shuffle=False)
    module = Regression()
    optimizer = make_optimizer("sgd", module, lr=0.1, momentum=0.0)
    steps = []
    trainer = Trainer(
        module,
        loader,
        optimizer,
        epochs=6,
        device=torch.device("cpu"),
        progress=False,
        schedule=make_schedule("cosine", total_steps=24, warmup_steps=4),
        hooks=helpers_hooks(steps),
    )
    table = trainer.fit()
    assert list(table.columns[:7]) == ["run", "epoch", "step", "loss", "acc", "lr", "seconds"]
    assert table["epoch"].tolist() == list(range(1, 7)) and table["step"].tolist() == [4, 8, 12, 16, 20, 24]
    assert table["loss"].iloc[-1] < 0.1 * table["loss"].iloc[0]
    assert table["lr"].iloc[0] == pytest.approx(0.1) and table["lr"].iloc[-1] < 0.01
    assert len(steps) == 24 and table["marker"].tolist() == list(range(1, 7))


def helpers_hooks(steps: list):
    from sslvid.engine import Hooks

    return Hooks(after_step=lambda: steps.append(1), end_epoch=lambda epoch: {"marker": epoch})


class EpochEcho(Dataset):
    """Returns (epoch, index, worker pid): shows which epoch a worker's copy was set to."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int):
        return self.epoch, i, os.getpid()


def test_the_epoch_reaches_persistent_workers():
    loader = make_loader(EpochEcho(), batch_size=3, collate_fn=list, num_workers=1, seed=0)
    seen = {epoch: [item for batch in batches for item in batch] for epoch, batches in epoch_batches(loader, 1, 2)}
    set_loader_epoch(loader, 3)
    seen[3] = [item for batch in loader for item in batch]
    assert [{e for e, _, _ in seen[epoch]} for epoch in (1, 2, 3)] == [{1}, {2}, {3}]
    assert len({pid for e in seen for _, _, pid in seen[e]}) == 1, "workers persist across epochs"
    assert sorted(i for _, i, _ in seen[1]) == list(range(6))
    assert [i for _, i, _ in seen[1]] != [i for _, i, _ in seen[2]], "a new order each epoch"


# ------------------------------------------------------------------------ pre-training


def test_pretrain_writes_a_complete_run_and_a_second_call_trains_nothing(videos, tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    config = helpers.tiny_config(videos)
    result = pretrain(config, store=store, progress=False)
    assert not result.cached and result.run_dir == tmp_path / config.config_hash()
    assert list(result.log.columns) == [
        "run",
        "epoch",
        "step",
        "loss",
        "acc",
        "lr",
        "seconds",
        "failed_videos",
        "data_seconds",
        "chance",
    ]
    assert result.log["epoch"].tolist() == [1, 2] and result.log["step"].tolist() == [2, 4]
    assert result.log["failed_videos"].tolist() == [0, 0] and result.log["loss"].notna().all()
    assert result.checkpoint_epochs() == [1, 2]
    assert {"seed", "git_commit", "packages", "device", "wall_seconds"} <= set(result.provenance())
    final = torch.load(result.run_dir / "final.pt", weights_only=True)
    assert all(torch.equal(v, final["backbone"][k]) for k, v in result.backbone().state_dict().items())

    def boom(*args, **kwargs):
        raise AssertionError("a cached run must not build data or train")

    monkeypatch.setattr(Trainer, "_step", boom)
    # the package exports the function pretrain, which shadows the module's name as an attribute
    monkeypatch.setattr(importlib.import_module("sslvid.engine.pretrain"), "build_index", boom)
    again = pretrain(config.replace(num_workers=2, device="auto"), store=store, progress=False)
    assert again.cached and again.key == result.key
    pd.testing.assert_frame_equal(again.log, pd.read_csv(result.run_dir / "log.csv"))


@pytest.mark.parametrize("task", task_registry().names())
def test_every_task_pretrains_and_its_backbone_reloads(task, videos, tmp_path):
    config = helpers.tiny_config(videos, task=task, epochs=1)
    result = pretrain(config, store=RunStore(tmp_path), progress=False)
    assert result.run.is_complete and np.isfinite(result.log["loss"]).all()
    reloaded = result.backbone()
    final = torch.load(result.run_dir / "final.pt", weights_only=True)["backbone"]
    assert reloaded.state_dict().keys() == final.keys()
    assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in final.items())


def test_byol_target_momentum_follows_the_cosine_schedule_over_the_run(videos):
    """Grill et al. 2020 §3.2: tau_k = 1 - (1 - 0.996)(cos(pi k / K) + 1) / 2 over the run's K steps."""
    from sslvid.engine.pretrain import build_trainer

    config = helpers.tiny_config(videos, task="byol", task_kwargs={"hidden_dim": 16})
    trainer = build_trainer(config, progress=False)
    task = trainer.module
    assert task.total_steps == 4  # 2 epochs of 2 steps
    seen = []
    trainer.hooks.after_step = lambda: (seen.append(task.target_momentum), task.after_step())
    trainer.fit()
    expected = [1 - 0.004 * (math.cos(math.pi * k / 4) + 1) / 2 for k in range(4)]
    assert seen == pytest.approx(expected) and seen[0] == pytest.approx(0.996) and seen[-1] > 0.999


def test_unreadable_videos_are_skipped_and_logged(videos, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(videos, data)
    for n in range(4):
        (data / "train" / "class1" / f"broken{n}.mp4").write_bytes(b"not a video" * n)
    config = helpers.tiny_config(data, max_failure_fraction=0.5)
    result = pretrain(config, store=RunStore(tmp_path / "runs"), progress=False)
    assert result.log["failed_videos"].tolist() == [4, 4]  # 12 videos, 3 batches of 4: all seen
    assert result.log["step"].iloc[-1] <= 6


def test_a_killed_run_resumes_to_the_same_weights(videos, home, tmp_path, caplog):
    """Kill a run after its first checkpoint, resume it, compare with an uninterrupted run."""
    killed_store, store = tmp_path / "killed", tmp_path / "clean"
    config = helpers.tiny_config(videos, epochs=3)
    command = [
        sys.executable,
        HELPER,
        "--data-root",
        str(videos),
        "--store",
        str(killed_store),
        "--epochs",
        "3",
        "--sleep-per-step",
        "0.3",
    ]
    proc = subprocess.Popen(command, env=helpers.subprocess_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run = RunStore(killed_store).run(config)
    deadline = time.monotonic() + 120
    while not run.checkpoint_path(1).exists():
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert not run.is_complete and list(run.checkpoints()) == [1], "killed part-way, after epoch 1"
    assert run.provenance()["status"] == "running" and run.state == "interrupted", "nobody holds its lock"
    assert run.resume_path(1).is_file(), "the optimiser's state waits beside the checkpoint"
    first_epoch = run.read_log().iloc[0]

    with caplog.at_level("INFO", logger="sslvid.engine.trainer"):
        resumed = pretrain(config.replace(num_workers=1), store=RunStore(killed_store), progress=False)
    assert "resumed" in caplog.text and "training again from epoch 1" not in caplog.text
    assert resumed.log.iloc[0]["seconds"] == first_epoch["seconds"], "epoch 1 read back, not trained again"
    assert not list(run.checkpoint_dir.glob("resume_*")), "dropped once complete"
    clean = pretrain(config, store=RunStore(store), progress=False)
    assert not resumed.cached and resumed.key == clean.key
    assert resumed.provenance()["attempts"][0]["status"] == "interrupted" and not list(run.dir.rglob("*.tmp"))
    a, b = (torch.load(r.run_dir / "final.pt", weights_only=True) for r in (resumed, clean))
    for part in ("backbone", "task"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), f"{part} differs"
    np.testing.assert_array_equal(
        resumed.log[["epoch", "step", "loss", "acc"]].to_numpy(), clean.log[["epoch", "step", "loss", "acc"]].to_numpy()
    )


@pytest.mark.slow
def test_ddp_with_gloo_on_two_processes_only_rank0_writes(videos, home, tmp_path):
    record = tmp_path / "record"
    record.mkdir()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        HELPER,
        "--data-root",
        str(videos),
        "--store",
        str(tmp_path / "runs"),
        "--record-writes",
        str(record),
    ]
    done = subprocess.run(command, env=helpers.subprocess_env(home), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((record / f"writes-rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[1]["writes"] == [], "only rank 0 writes"
    assert any(p.endswith("COMPLETE") for p in ranks[0]["writes"])
    assert ranks[0]["weights"] == ranks[1]["weights"], "DDP keeps the parameters of both processes equal"
    run = RunStore(tmp_path / "runs").run(ranks[0]["key"])
    assert run.is_complete and run.provenance()["world_size"] == 2
    log = run.read_log()
    assert log["step"].tolist() == [2, 4], "the global batch of 4 is split into 2 per process"
    assert math.isfinite(log["loss"].iloc[-1])


def test_cli_pretrains_at_smoke_size(videos, tmp_path, capsys):
    from sslvid.cli import main

    argv = [
        "pretrain",
        "--task",
        helpers.TASK,
        "--backbone",
        helpers.BACKBONE,
        "--profile",
        "smoke",
        "--dataset",
        "folder",
        "--data-root",
        str(videos),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--store",
        str(tmp_path),
        "--no-progress",
        "--set",
        "lr=0.05",
        "--set",
        "task_kwargs.num_rotations=2",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = RunStore(tmp_path).find(out["run"])
    assert run is not None and Path(out["run_dir"]) == run.dir and not out["cached"]
    assert run.config()["task_kwargs"] == {"num_rotations": 2} and run.config()["lr"] == 0.05
    assert main(argv) == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cached"]


# ------------------------------------------------------------------ damaged and failed runs


def test_a_run_that_reads_no_video_fails_with_the_summary_and_leaves_nothing(tmp_path):
    data = tmp_path / "data"
    for c in range(2):
        for n in range(4):
            (data / "train" / f"class{c}" / f"broken{n}.mp4").parent.mkdir(parents=True, exist_ok=True)
            (data / "train" / f"class{c}" / f"broken{n}.mp4").write_bytes(b"not a video" * (n + 1))
    config = helpers.tiny_config(data, max_failure_fraction=1.0)
    store = RunStore(tmp_path / "runs")
    with pytest.raises(RuntimeError, match=r"no training step: 8 of 8 videos could not be read \(first: .*broken"):
        pretrain(config, store=store, progress=False)
    assert store.find(config) is None and not store.run(config).dir.exists(), "no result, no empty folder"


def test_the_trainer_refuses_an_epoch_without_a_step():
    data = [(torch.randn(3), torch.tensor(0.0))] * 8
    module = Regression()
    trainer = Trainer(
        module,
        DataLoader(data, batch_size=4),
        make_optimizer("sgd", module, lr=0.1),
        epochs=1,
        device=torch.device("cpu"),
        progress=False,
        hooks=Hooks(prepare=lambda batch: None),
    )
    with pytest.raises(RuntimeError, match="epoch 1 of train made no training step"):
        trainer.fit()


def test_resume_falls_back_past_a_truncated_checkpoint_to_the_same_weights(videos, tmp_path, caplog):
    store = RunStore(tmp_path)
    config = helpers.tiny_config(videos)
    clean = torch.load(pretrain(config, store=store, progress=False).run.final_path, weights_only=True)
    run = store.run(config)
    (run.dir / "COMPLETE").unlink()
    last = run.checkpoint_path(2)
    last.write_bytes(last.read_bytes()[:1000])  # a kill or a full disk while it was copied
    with caplog.at_level("WARNING", logger="sslvid.store.runs"):
        resumed = pretrain(config, store=store, progress=False)
    assert str(last) in caplog.text and "truncated" in caplog.text
    assert "no optimiser state" in caplog.text, "a complete run dropped it: epoch 1 cannot train on"
    assert "training again from epoch 1" in caplog.text
    assert not resumed.cached and resumed.log["epoch"].tolist() == [1, 2]
    again = torch.load(run.final_path, weights_only=True)
    assert all(torch.equal(again["backbone"][k], v) for k, v in clean["backbone"].items()), "epoch 2 trained again"
    assert run.checksums()["checkpoints/epoch_0002.pt"]["bytes"] == last.stat().st_size


def test_a_partial_run_falls_back_past_a_damaged_resume_file_with_its_optimiser_state(
    videos, tmp_path, monkeypatch, caplog
):
    """A run stopped before it completed keeps every checkpoint's optimiser state; a truncated one of the last
    checkpoint sends resume to the checkpoint before, which trains on to the uninterrupted run's weights."""
    config = helpers.tiny_config(videos, epochs=3)
    clean = torch.load(
        pretrain(config, store=RunStore(tmp_path / "clean"), progress=False).run.final_path, weights_only=True
    )

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    store = RunStore(tmp_path / "killed")
    with monkeypatch.context() as patch:
        patch.setattr(RunHandle, "finish", killed)
        with pytest.raises(KeyboardInterrupt):
            pretrain(config, store=store, progress=False)
    run = store.run(config)
    assert list(run.checkpoints()) == [1, 2, 3] and run.resume_path(3).is_file() and not run.is_complete
    truncate = run.resume_path(3)
    truncate.write_bytes(truncate.read_bytes()[:500])
    with caplog.at_level("INFO"):
        resumed = pretrain(config, store=store, progress=False)
    assert (
        str(truncate) in caplog.text and "resumed" in caplog.text and "training again from epoch 1" not in caplog.text
    )
    assert resumed.run.is_complete and resumed.log["epoch"].tolist() == [1, 2, 3]
    again = torch.load(resumed.run.final_path, weights_only=True)
    assert all(torch.equal(again["backbone"][k], v) for k, v in clean["backbone"].items()), "epoch 3 trained again"


def test_a_truncated_final_is_never_returned_as_cached(videos, tmp_path):
    from sslvid.io import DamagedFileError

    store = RunStore(tmp_path)
    config = helpers.tiny_config(videos, epochs=1)
    final = pretrain(config, store=store, progress=False).run.final_path
    final.write_bytes(final.read_bytes()[:-200])
    with pytest.raises(DamagedFileError, match="final.pt is damaged: truncated"):
        pretrain(config, store=store, progress=False)
    (final.parent / "COMPLETE").unlink()  # the recovery the message names: the last checkpoint writes it anew
    again = pretrain(config, store=store, progress=False)
    assert not again.cached and again.run.is_complete and again.log["epoch"].tolist() == [1]
