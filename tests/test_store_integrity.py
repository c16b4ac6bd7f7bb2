"""Damaged and left-over run files: checked before they are trusted, named when they fail, cleaned up.

Every test writes a small run by hand through ``RunHandle`` (no training), damages one file the
way a full disk, a kill or a careless copy would, and checks what the store says about it.
"""

from __future__ import annotations

import logging

import pytest
import torch

from sslvid.io import DamagedFileError
from sslvid.store import COMPLETE_MARKER, RunStore


def state(value: float = 0.0) -> dict:
    return {"model": {"backbone.w": torch.full((64, 64), value)}, "epoch": 1}


def finished_run(tmp_path, epochs: int = 2):
    run = RunStore(tmp_path).run("abc")
    run.begin({"lr": 0.1}, {"device": "cpu"})
    for epoch in range(1, epochs + 1):
        run.save_checkpoint(epoch, state(float(epoch)))
    run.finish({"backbone": {"w": torch.ones(64, 64)}}, {"wall_seconds": 1.0})
    return run


def truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_every_saved_file_has_its_size_and_checksum_recorded(tmp_path):
    run = finished_run(tmp_path)
    records = run.checksums()
    assert set(records) == {"final.pt", "checkpoints/epoch_0001.pt", "checkpoints/epoch_0002.pt"}
    assert records["final.pt"]["bytes"] == run.final_path.stat().st_size
    assert len(records["final.pt"]["sha256"]) == 64


def test_a_truncated_final_is_not_a_cached_result(tmp_path):
    run = finished_run(tmp_path)
    truncate(run.final_path)
    store = RunStore(tmp_path)
    with pytest.raises(DamagedFileError, match="truncated") as caught:
        store.find("abc")
    assert str(run.final_path) in str(caught.value) and COMPLETE_MARKER in caught.value.recovery
    with pytest.raises(DamagedFileError):
        run.load_final()
    assert run.state == "damaged" and store.runs() == []
    assert store.table(complete_only=False)["state"].tolist() == ["damaged"]
    (run.dir / COMPLETE_MARKER).unlink()  # the recovery the message names
    assert store.find("abc") is None and run.state == "partial"


def test_a_final_with_the_right_size_but_other_bytes_is_caught(tmp_path):
    run = finished_run(tmp_path)
    data = bytearray(run.final_path.read_bytes())
    data[-100] ^= 0xFF
    run.final_path.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match="sha256"):
        RunStore(tmp_path).find("abc")


def test_resume_skips_a_truncated_checkpoint_and_names_it(tmp_path, caplog):
    run = finished_run(tmp_path, epochs=3)
    truncate(run.checkpoint_path(3))
    with caplog.at_level(logging.WARNING, logger="sslvid.store.runs"):
        path, loaded = run.latest_good_checkpoint()
    assert path == run.checkpoint_path(2)
    assert torch.equal(loaded["model"]["backbone.w"], state(2.0)["model"]["backbone.w"])
    assert str(run.checkpoint_path(3)) in caplog.text
    with pytest.raises(DamagedFileError, match="epoch_0003.pt"):
        run.load_checkpoint(3)
    with pytest.raises(DamagedFileError, match="epoch_0003.pt"):
        run.load_backbone(epoch=3)


def test_an_unrecorded_checkpoint_that_does_not_load_is_skipped_too(tmp_path):
    """A checkpoint copied in by hand, or written before checksums were recorded, is checked by loading it."""
    run = finished_run(tmp_path, epochs=1)
    run.checkpoint_path(2).write_bytes(b"PK\x03\x04 not a whole torch file")
    path, _ = run.latest_good_checkpoint()
    assert path == run.checkpoint_path(1)
    with pytest.raises(DamagedFileError, match="torch cannot read it"):
        run.load_checkpoint(2)


def resumable_run(tmp_path, epochs: int = 2):
    """A partial run whose checkpoints carry an optimiser state, split off as a trainer splits it."""
    run = RunStore(tmp_path).run("abc")
    run.begin({"lr": 0.1}, {"device": "cpu"})
    for epoch in range(1, epochs + 1):
        momentum = {"m": torch.full((64, 64), 10.0 + epoch)}
        run.save_checkpoint(epoch, {**state(float(epoch)), "optimizer": momentum}, resume_keys=("optimizer",))
    return run


def test_the_optimiser_state_is_kept_apart_and_dropped_when_the_run_completes(tmp_path):
    run = resumable_run(tmp_path)
    assert "optimizer" not in run.load_checkpoint(2), "probing a checkpoint reads its weights only"
    path, loaded = run.latest_good_checkpoint()
    assert path == run.checkpoint_path(2) and torch.equal(loaded["optimizer"]["m"], torch.full((64, 64), 12.0))
    assert {"checkpoints/resume_0001.pt", "checkpoints/resume_0002.pt"} <= set(run.checksums())

    run.resume_path(1).unlink()  # a record without its file goes too
    run.finish({"backbone": {"w": torch.ones(64, 64)}}, {"wall_seconds": 1.0})
    assert not list(run.checkpoint_dir.glob("resume_*")), "a complete run is never resumed"
    assert set(run.checksums()) == {"final.pt", "checkpoints/epoch_0001.pt", "checkpoints/epoch_0002.pt"}
    assert "optimizer" not in run.latest_good_checkpoint()[1]
    assert run.latest_good_checkpoint(accept=lambda state: "optimizer" in state) is None
    assert torch.equal(run.load_backbone(epoch=1)["w"], state(1.0)["model"]["backbone.w"])


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_damaged_resume_file_sends_resume_to_the_checkpoint_before(tmp_path, caplog, damage):
    run = resumable_run(tmp_path)
    if damage == "truncated":
        truncate(run.resume_path(2))
    else:
        run.resume_path(2).unlink()
    with caplog.at_level(logging.WARNING, logger="sslvid.store.runs"):
        path, loaded = run.latest_good_checkpoint()
    assert path == run.checkpoint_path(1) and torch.equal(loaded["optimizer"]["m"], torch.full((64, 64), 11.0))
    assert str(run.resume_path(2)) in caplog.text and damage in caplog.text
    assert torch.equal(run.load_backbone(epoch=2)["w"], state(2.0)["model"]["backbone.w"]), "its weights still read"


def test_no_good_checkpoint_means_training_from_the_start(tmp_path):
    run = finished_run(tmp_path, epochs=1)
    run.checkpoint_path(1).write_bytes(b"")
    assert run.latest_good_checkpoint() is None


@pytest.mark.parametrize("name", ["config.json", "provenance.json", "checksums.json"])
def test_a_damaged_json_record_is_named(tmp_path, name):
    run = finished_run(tmp_path)
    (run.dir / name).write_text('{"lr": 0.1,')
    read = {"config.json": run.config, "provenance.json": run.provenance, "checksums.json": run.checksums}[name]
    with pytest.raises(DamagedFileError, match="not valid JSON") as caught:
        read()
    assert str(run.dir / name) in str(caught.value) and caught.value.recovery


def test_a_run_that_fails_before_starting_leaves_no_folder(tmp_path):
    run = RunStore(tmp_path).run("abc")
    with pytest.raises(RuntimeError), run.lock():
        raise RuntimeError("the dataset could not be opened")
    assert not run.dir.exists() and RunStore(tmp_path).runs(complete_only=False) == []


def test_a_run_that_fails_before_its_first_checkpoint_is_removed(tmp_path):
    run = RunStore(tmp_path).run("abc")
    with pytest.raises(RuntimeError), run.lock(), run.failure_recorded():
        run.begin({"lr": 0.1}, {"device": "cpu"})
        raise RuntimeError("no training step")
    assert not run.dir.exists()


def test_a_run_that_fails_later_records_the_failure(tmp_path):
    run = RunStore(tmp_path).run("abc")
    with pytest.raises(RuntimeError), run.lock(), run.failure_recorded():
        run.begin({"lr": 0.1}, {"device": "cpu"})
        run.save_checkpoint(1, state())
        raise RuntimeError("out of memory in epoch 2")
    assert run.provenance()["status"] == "failed" and "out of memory" in run.provenance()["error"]
    assert run.state == "failed" and list(run.checkpoints()) == [1], "what it can resume from is kept"


def test_a_killed_run_is_reported_interrupted_and_its_leftovers_cleared(tmp_path):
    run = RunStore(tmp_path).run("abc")
    with run.lock():
        run.begin({"lr": 0.1}, {"device": "cpu"})
        run.save_checkpoint(1, state())
        assert run.state == "running", "its lock is held"
    orphans = [run.dir / ".final.pt.dead1234.tmp", run.checkpoint_dir / ".epoch_0002.pt.dead5678.tmp"]
    for orphan in orphans:  # what a kill during a write leaves
        orphan.write_bytes(b"half")
    assert run.provenance()["status"] == "running" and run.state == "interrupted"
    with run.lock():
        run.begin({"lr": 0.1}, {"device": "cpu"})
    assert not any(orphan.exists() for orphan in orphans)
    attempts = run.provenance()["attempts"]
    assert [a.get("status") for a in attempts] == ["interrupted", None]
