"""The results store: files of a run, the COMPLETE marker, atomic checkpoints, safe loading."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from sslvid.store import COMPLETE_MARKER, RunStore, collect_provenance


class Config:
    """A stand-in config: the store only needs ``config_hash`` and ``to_dict``."""

    def __init__(self, lr: float = 0.1) -> None:
        self.lr = lr

    def config_hash(self) -> str:
        return f"cfg{str(self.lr).replace('.', '')}"

    def to_dict(self) -> dict:
        return {"lr": self.lr, "task": "x"}


def backbone_state() -> dict:
    return {"conv.weight": torch.arange(6.0).reshape(2, 3), "bn.running_mean": torch.zeros(2)}


def test_a_run_is_found_only_once_complete(tmp_path):
    store, config = RunStore(tmp_path), Config()
    run = store.run(config)
    assert store.find(config) is None and not run.exists
    run.begin(config.to_dict(), collect_provenance(seed=3, device="cpu"))
    run.save_checkpoint(2, {"epoch": 2, "model": {f"backbone.{k}": v for k, v in backbone_state().items()}})
    assert store.find(config) is None, "a partial run is not a result"
    assert store.latest_checkpoint(config) == run.checkpoint_path(2)
    run.finish({"backbone": backbone_state()}, {"wall_seconds": 1.5})
    assert store.find(config).dir == tmp_path / config.config_hash()
    assert (run.dir / COMPLETE_MARKER).is_file()
    assert run.config() == config.to_dict()
    assert [h.key for h in store.runs()] == [config.config_hash()]
    assert store.table()["lr"].tolist() == [0.1]


def test_provenance_records_seed_commit_versions_device_and_time(tmp_path):
    run = RunStore(tmp_path).run("abc")
    run.begin({"a": 1}, collect_provenance(seed=7, device="cpu: 2 threads"))
    run.finish({"backbone": {}}, {"wall_seconds": 2.0})
    prov = run.provenance()
    assert prov["seed"] == 7 and prov["device"] == "cpu: 2 threads" and prov["wall_seconds"] == 2.0
    assert isinstance(prov["git_commit"], str) and prov["git_commit"]
    assert prov["packages"]["torch"] and prov["packages"]["python"]
    assert prov["status"] == "complete" and prov["started"] <= prov["ended"]


def test_load_backbone_from_final_and_from_a_checkpoint(tmp_path):
    run = RunStore(tmp_path).run("abc")
    run.begin({}, {})
    state = backbone_state()
    run.save_checkpoint(5, {"model": {**{f"backbone.{k}": v + 1 for k, v in state.items()}, "head.w": torch.ones(1)}})
    run.finish({"backbone": state}, {})
    final = RunStore(tmp_path).load_backbone("abc")
    at_five = RunStore(tmp_path).load_backbone("abc", epoch=5)
    assert set(final) == set(at_five) == set(state)
    assert torch.equal(final["conv.weight"], state["conv.weight"])
    assert torch.equal(at_five["conv.weight"], state["conv.weight"] + 1)
    with pytest.raises(FileNotFoundError, match="no checkpoint of epoch 3"):
        run.load_backbone(epoch=3)


class Unpicklable:
    def __reduce__(self):
        raise pickle.PicklingError("writer fails part-way")


def test_checkpoint_write_is_atomic(tmp_path):
    run = RunStore(tmp_path).run("abc")
    run.save_checkpoint(1, {"model": backbone_state()})
    before = run.checkpoint_path(1).read_bytes()
    for epoch in (1, 2):  # overwrite an existing checkpoint, and write a new one
        with pytest.raises(pickle.PicklingError):
            run.save_checkpoint(epoch, {"model": backbone_state(), "bad": Unpicklable()})
    assert sorted(p.name for p in run.checkpoint_dir.iterdir()) == ["epoch_0001.pt"], "no partial or temp file"
    assert run.checkpoint_path(1).read_bytes() == before
    assert run.latest_checkpoint() == run.checkpoint_path(1)


class Payload:
    pass


def test_loading_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        RunStore(tmp_path).run("abc").load(path)


def test_a_resumed_run_keeps_its_first_config_and_lists_attempts(tmp_path):
    run = RunStore(tmp_path).run("abc")
    run.begin({"lr": 0.1, "num_workers": 0}, {"device": "cpu"})
    first = run.provenance()["started"]
    run.begin({"lr": 0.1, "num_workers": 4}, {"device": "cuda"})
    assert run.config() == {"lr": 0.1, "num_workers": 0}
    assert [a["device"] for a in run.provenance()["attempts"]] == ["cpu", "cuda"]
    assert run.provenance()["started"] == first


def test_log_round_trips(tmp_path):
    import pandas as pd

    run = RunStore(tmp_path).run("abc")
    assert run.read_log().empty
    table = pd.DataFrame({"run": ["abc"] * 2, "epoch": [1, 2], "loss": [1.5, 1.25]})
    run.write_log(table)
    pd.testing.assert_frame_equal(run.read_log(), table)
    assert json.loads(json.dumps(run.read_log().to_dict()))  # plain values


@pytest.mark.parametrize("key", ["", "../x", ".hidden"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(ValueError):
        RunStore(tmp_path).run(key)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    from sslvid.io import atomic_write_text

    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
