"""Sweeps: grids expand into the right jobs and hashes, cached jobs are skipped, executors run the rest.

The executor tests pre-train the engine tests' tiny config (rotnet on squeezenet3d at smoke
size over eight tiny videos) into a temporary store: two jobs through submitit's local
executor (each a two-task DDP job, as on SLURM) and through a process pool. The SLURM executor
is followed up to ``sbatch``, replaced by a stand-in that records the generated script.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import engine_helpers
import pytest

from sslvid.engine import PretrainConfig
from sslvid.scale.grids import PAPER_GRIDS, Block, Grid, dump_grid, load_grid, resolve_point, subset_per_class
from sslvid.scale.sweep import Job, PretrainJob, expand_grid, plan_sweep, run_sweep
from sslvid.store import RunStore

pytestmark = pytest.mark.usefixtures("one_thread", "data_home")


# --------------------------------------------------------------------------- grids


def test_paper_grids_expand_to_the_counted_runs():
    counts = {name: len(expand_grid(grid)) for name, grid in PAPER_GRIDS.items()}
    assert counts == {
        "preliminaries": 20,
        "subset_duration": 27,
        "task_complexity": 18,
        "ood": 8,
        "noise": 12,
        "distillation": 32,
        "downstream": 8,
        "lightweight": 25,
    }
    # 6 tasks x 2 backbones, and VCOP / RSPNet on 6 CNNs, of which 4 runs are already in Table 1
    union = {job.config_hash() for grid in PAPER_GRIDS.values() for job in expand_grid(grid)}
    assert len(union) == 81


def test_named_axes_resolve_per_profile():
    assert [subset_per_class(s, "K400", "paper") for s in ("10k", "30k", "50k", "100k")] == [25, 75, 125, 250]
    assert subset_per_class("30k", "SSv2", "paper") == 172
    assert [subset_per_class(s, "K400", "micro") for s in ("10k", "50k", "100k")] == [10, 50, 100]
    point = {"task": "vcop", "backbone": "r2plus1d_18", "data": "SSv2", "subset": "30k", "complexity": "C3"}
    assert resolve_point(point, "paper") == {
        "task": "vcop",
        "backbone": "r2plus1d_18",
        "dataset": "ssv2",
        "subset_per_class": 172,
        "task_kwargs": {"num_clips": 5},
        "batch_size": 4,
    }  # VCOP's released batch 8, halved
    assert resolve_point(point, "micro")["dataset"] == "digits-motion-pool"
    assert resolve_point(point, "micro")["batch_size"] == 16  # the micro profile's 32, halved
    with pytest.raises(ValueError, match="has no complexity levels"):
        resolve_point({**point, "task": "cvrl"}, "paper")


def test_hashes_are_the_configs_and_equal_runs_are_shared_across_chapters():
    table1 = {(j.config.task, j.config.backbone): j for j in expand_grid(PAPER_GRIDS["preliminaries"])}
    rotnet = table1["rotnet", "r2plus1d_18"]
    by_hand = PretrainConfig.for_profile(
        "paper", task="rotnet", backbone="r2plus1d_18", dataset="kinetics400", subset_per_class=125
    )
    assert rotnet.config_hash() == by_hand.config_hash()
    complexity = {
        (j.config.task, j.config.backbone, json.dumps(j.config.task_kwargs)): j
        for j in expand_grid(PAPER_GRIDS["task_complexity"])
    }
    # RotNet C3 (4 rotations) and VCOP C1 (3 clips) are the defaults: the very runs of Table 1
    assert complexity["rotnet", "r2plus1d_18", "{}"].config_hash() == rotnet.config_hash()
    assert complexity["vcop", "shufflenet3d", "{}"].config_hash() == table1["vcop", "shufflenet3d"].config_hash()
    assert complexity["vcop", "r2plus1d_18", '{"num_clips": 5}'].config.batch_size == 4, "Table 5: batch halved"
    again = [j.config_hash() for j in expand_grid(PAPER_GRIDS["task_complexity"])]
    assert again == [j.config_hash() for j in complexity.values()], "stable, in grid order"


def test_a_grid_round_trips_through_yaml_and_runs_at_another_profile(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(dump_grid(PAPER_GRIDS["ood"]))
    loaded = load_grid(path)
    assert [j.config_hash() for j in expand_grid(loaded)] == [j.config_hash() for j in expand_grid(PAPER_GRIDS["ood"])]
    micro = expand_grid(loaded, profile="micro", overrides={"epochs": 2})
    assert {j.config.dataset for j in micro} == {"digits-appearance-pool", "digits-motion-pool"}
    assert {(j.config.subset_per_class, j.config.epochs, j.config.frames) for j in micro} == {(30, 2, 8)}
    with pytest.raises(ValueError, match="no grid 'nope'"):
        load_grid("nope")


# --------------------------------------------------------------------------- planning and executors


@dataclass(frozen=True)
class EchoJob:
    """A job that is not a pre-training run: it files a marker run under its own hash."""

    name: str
    fail: bool = False

    def config_hash(self) -> str:
        return f"echo-{self.name}"

    def run(self, store: RunStore) -> dict:
        if self.fail:
            raise RuntimeError(f"{self.name} fails")
        handle = store.run(self)
        handle.begin({"name": self.name}, {"seed": 0})
        handle.finish({}, {})
        return {"name": self.name}


def test_cached_jobs_are_skipped_and_a_failure_does_not_stop_the_sweep(tmp_path):
    store = RunStore(tmp_path)
    jobs = [EchoJob("a"), EchoJob("b"), EchoJob("c", fail=True)]
    assert all(isinstance(j, Job) for j in jobs)
    EchoJob("a").run(store)
    assert plan_sweep(jobs, store)["status"].tolist() == ["cached", "todo", "todo"]
    report = run_sweep(jobs, store, executor="serial")
    assert report["status"].tolist() == ["cached", "done", "failed"]
    assert "c fails" in report["error"].iloc[2] and report["result_name"].iloc[1] == "b"
    assert run_sweep(jobs[:2], store)["status"].tolist() == ["cached", "cached"]


def _smoke_grid(videos: Path) -> Grid:
    fixed = {
        "dataset": "folder",
        "data_root": str(videos),
        "epochs": 1,
        "checkpoint_every": 1,
        "num_workers": 0,
        "threads": 1,
        "device": "cpu",
        "lr": 0.05,
    }
    return Grid(
        "smoke-sweep",
        (Block(axes={"seed": [0, 1]}),),
        profile="smoke",
        fixed={"task": engine_helpers.TASK, "backbone": engine_helpers.BACKBONE, **fixed},
    )


@pytest.mark.slow
def test_submitit_local_executor_runs_a_two_job_sweep_into_the_store(videos, tmp_path):
    """Two jobs at once, each as a submitit job of two tasks: DDP (gloo) set up from submitit's environment,
    the path a SLURM job with two GPUs takes."""
    store = RunStore(tmp_path / "runs")
    jobs = expand_grid(_smoke_grid(videos))
    assert len(jobs) == 2 and all(isinstance(j, PretrainJob) for j in jobs)
    report = run_sweep(
        jobs, store, executor="local", workers=2, folder=tmp_path / "submitit", poll_seconds=0.2, tasks_per_job=2
    )
    assert report["status"].tolist() == ["done", "done"], report["error"].tolist()
    assert report["job_id"].notna().all() and not report["result_cached"].any()
    for job in jobs:
        run = store.find(job)
        assert run is not None and run.config()["seed"] == job.config.seed
        assert run.provenance()["world_size"] == 2 and run.read_log()["step"].tolist() == [2], "2 x 2 videos a step"
    again = run_sweep(jobs, store, executor="local", folder=tmp_path / "submitit")
    assert again["status"].tolist() == ["cached", "cached"] and again["job_id"].isna().all(), "nothing submitted"


@pytest.mark.slow
def test_a_process_pool_runs_the_missing_jobs(videos, tmp_path):
    store = RunStore(tmp_path)
    first, second = expand_grid(_smoke_grid(videos))
    first.run(store)
    report = run_sweep([first, second], store, executor="pool", workers=2)
    assert report["status"].tolist() == ["cached", "done"], report["error"].tolist()
    assert store.find(second) is not None


def test_cli_sweep_lists_runs_and_reports(videos, tmp_path, capsys):
    from sslvid.cli import main

    grid = tmp_path / "grid.yaml"
    grid.write_text(dump_grid(_smoke_grid(videos)))
    store = tmp_path / "runs"
    assert main(["sweep", "--grid", str(grid), "--store", str(store), "--set", "seed=3", "--dry-run"]) == 0
    assert "todo" in capsys.readouterr().out
    assert main(["sweep", "--grid", str(grid), "--store", str(store), "--set", "seed=3"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"jobs": 1, "done": 1}
    assert main(["sweep", "--grid", str(grid), "--store", str(store), "--set", "seed=3"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"jobs": 1, "cached": 1}


def test_slurm_submission_asks_for_the_jobs_resources(tmp_path, monkeypatch):
    """Through submitit's SLURM executor up to ``sbatch`` (a stand-in that records the script)."""
    from sslvid.scale.sweep import SlurmOptions

    bin_dir, record = tmp_path / "bin", tmp_path / "script.sh"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {record}\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    options = SlurmOptions(partition="gpu", gpus_per_job=4, nodes=2, timeout_min=600, additional={"account": "abc"})
    report = run_sweep(
        [EchoJob("a"), EchoJob("b")], RunStore(tmp_path / "runs"), executor="slurm", slurm=options, wait=False
    )
    assert report["status"].tolist() == ["submitted"] * 2 and report["job_id"].tolist() == ["4242_0", "4242_1"]
    script = record.read_text()
    for line in (
        "--partition=gpu",
        "--nodes=2",
        "--gpus-per-node=4",
        "--ntasks-per-node=4",
        "--time=600",
        "--account=abc",
        "--array=0-1%2",
        "--signal=USR2",
    ):
        assert f"#SBATCH {line}" in script, line
