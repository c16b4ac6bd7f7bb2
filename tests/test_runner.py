"""The run skeleton every kind of run goes through (``sslvid.engine.runner``): a complete run is
not built again, a new one is begun, trained and finished with its provenance, a failure is
recorded in the run, and a workspace travels as one thing."""

from __future__ import annotations

import pandas as pd
import pytest

from sslvid.engine.distributed import DistInfo
from sslvid.engine.runner import Job, Session, Workspace, run_session, train_once
from sslvid.store.runs import RunStore

pytestmark = pytest.mark.usefixtures("one_thread")


class FakeConfig:
    """What the skeleton reads of a config: its dict, its seed, and the session's fields."""

    seed = 3
    device = "cpu"
    threads = 1
    deterministic = False
    num_workers = 0
    batch_size = 4

    def to_dict(self) -> dict:
        return {"what": "fake", "seed": self.seed}


def _session() -> Session:
    import torch

    return Session(DistInfo(), torch.device("cpu"))


def _job(calls: list[str], fail: bool = False) -> Job:
    def fit() -> pd.DataFrame:
        calls.append("fit")
        if fail:
            raise RuntimeError("the step diverged")
        return pd.DataFrame({"acc": [0.5]})

    return Job(
        None,
        final_state=lambda: {"weights": [1, 2]},
        videos=7,
        provenance={"teachers": ["t"]},
        summary=lambda table: {"final_train_acc": float(table["acc"].iloc[-1])},
        fit=fit,
        check=lambda: calls.append("check"),
    )


def test_a_new_run_is_begun_trained_and_finished_once(tmp_path):
    run = RunStore(tmp_path).run("0123456789abcdef")
    calls: list[str] = []
    outcome = train_once(FakeConfig(), run, _session(), lambda: _job(calls), record={"kind": "fake"})
    assert not outcome.cached and calls == ["check", "fit"] and run.is_complete
    assert run.config() == {"what": "fake", "seed": 3, "kind": "fake"}
    provenance = run.provenance()
    assert (provenance["videos"], provenance["teachers"], provenance["final_train_acc"]) == (7, ["t"], 0.5)
    assert provenance["seed"] == 3 and provenance["device"].startswith("cpu:") and provenance["status"] == "complete"
    again = train_once(FakeConfig(), run, _session(), lambda: pytest.fail("a complete run is built again"))
    assert again.cached and again.table is None


def test_a_failed_run_is_recorded_and_the_error_raised(tmp_path):
    run = RunStore(tmp_path).run("0123456789abcdef")
    with pytest.raises(RuntimeError, match="diverged"):
        train_once(FakeConfig(), run, _session(), lambda: _job([], fail=True))
    assert not run.is_complete and not run.dir.exists(), "a run with nothing to resume from is removed"
    assert not run.lock_is_held()


def test_the_session_splits_the_batch_and_restores_the_numerics(monkeypatch):
    import torch

    before = torch.get_num_threads()
    with run_session(FakeConfig(), split_batch=True) as session:
        assert session.device.type == "cpu" and session.info.world_size == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match="not divisible by 3 processes"):
        with run_session(FakeConfig(), split_batch=True):
            pass


def test_a_workspace_replaces_the_separate_arguments(tmp_path):
    store = RunStore(tmp_path / "runs")
    space = Workspace.of(store, progress=False)
    assert space.store is store and space.progress is False and space.features is None
    assert Workspace.of(workspace=space) is space
