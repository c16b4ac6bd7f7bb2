"""The dataset is part of every run's identity: fingerprints, config hashes, cached results (issue 16)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import BACKBONE, encode

from sslvid.data import fingerprint
from sslvid.data.fingerprint import DatasetChangedError, root_stamp, split_fingerprint
from sslvid.distill import DistillConfig, TeacherRef, distill
from sslvid.distill.teachers import check_teacher_datasets
from sslvid.engine import PretrainConfig
from sslvid.engine.pretrain import build_index
from sslvid.evaluate import EvalConfig, evaluate
from sslvid.evaluate.features import FeatureCache
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore

pytestmark = pytest.mark.usefixtures("data_home", "one_thread")


def write_folder_dataset(
    root: Path,
    classes: int = 2,
    per_split: dict[str, int] | None = None,
    frames: int = 12,
    seed: int = 0,
    size: int = 40,
) -> Path:
    """``root/<split>/class<c>/v<n>.mp4`` (folder layout): small videos of a moving coloured square.

    Datasets written with another ``seed`` or ``frames`` hold other videos under the same names.
    """
    rng = np.random.default_rng(seed)
    for split, count in (per_split or {"train": 3, "test": 2}).items():
        for c in range(classes):
            for n in range(count):
                video = np.empty((frames, size, size, 3), dtype=np.uint8)
                video[:] = rng.integers(0, 256, size=3, dtype=np.uint8)
                y, x = rng.integers(0, size - 12, size=2)
                for t in range(frames):
                    left = (x + 2 * t) % (size - 12)
                    video[t, y : y + 12, left : left + 12] = rng.integers(0, 256, size=3, dtype=np.uint8)
                encode(video, root / split / f"class{c}" / f"v{n}.mp4")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folder datasets: ``a``; ``a_moved``, a copy of ``a`` elsewhere; ``b``, other videos under a's names;
    ``three``, three classes."""
    base = tmp_path_factory.mktemp("folders")
    a = write_folder_dataset(base / "a")
    moved = base / "elsewhere" / "a-copy"
    shutil.copytree(a, moved)
    return {
        "a": a,
        "a_moved": moved,
        "b": write_folder_dataset(base / "b", frames=14, seed=1),
        "three": write_folder_dataset(base / "three", classes=3, seed=2),
    }


def pretrain_config(root: Path, **overrides) -> PretrainConfig:
    return PretrainConfig.for_profile(
        "smoke", task="rotnet", backbone=BACKBONE, dataset="folder", data_root=str(root), device="cpu", **overrides
    )


def eval_config(root: Path, protocol: str = "retrieval", **overrides) -> EvalConfig:
    return EvalConfig.for_profile(
        "smoke",
        backbone=BACKBONE,
        protocol=protocol,
        dataset="folder",
        data_root=str(root),
        device="cpu",
        threads=1,
        **overrides,
    )


# ----------------------------------------------------------------------------------- fingerprints


def test_fingerprint_names_the_content_not_the_place(folders):
    a, moved, b = (split_fingerprint("folder", folders[name], "train") for name in ("a", "a_moved", "b"))
    assert a == moved, "a moved copy of the same videos is the same dataset"
    assert a != b, "other videos under the same names are another dataset"
    assert split_fingerprint("folder", folders["a"], "test") != a


def test_fingerprint_is_remembered_until_a_folder_changes(folders, tmp_path, monkeypatch):
    root = shutil.copytree(folders["a"], tmp_path / "a")
    first = split_fingerprint("folder", root, "train")

    def no_listing(*args, **kwargs):
        raise AssertionError("the remembered fingerprint should have been used")

    monkeypatch.setattr(fingerprint, "load_index", no_listing)
    assert split_fingerprint("folder", root, "train") == first
    monkeypatch.undo()
    stamp = root_stamp(root)
    shutil.copy(root / "train" / "class0" / "v0.mp4", root / "train" / "class1" / "extra.mp4")
    assert root_stamp(root) != stamp
    assert split_fingerprint("folder", root, "train") != first, "an added video changes the dataset"


def test_forget_drops_the_remembered_fingerprint(folders, tmp_path):
    root = shutil.copytree(folders["a"], tmp_path / "a")
    split_fingerprint("folder", root, "train")
    assert fingerprint.forget(root) == 1
    assert fingerprint.forget(root) == 0


# ----------------------------------------------------------------------------------- config hashes


def test_every_kind_of_config_hashes_the_dataset_it_reads(folders):
    for build in (pretrain_config, eval_config):
        a, moved, b = (build(folders[name]) for name in ("a", "a_moved", "b"))
        assert a.config_hash() == moved.config_hash(), f"{type(a).__name__}: a moved copy must hit the cache"
        assert a.config_hash() != b.config_hash(), f"{type(a).__name__}: another dataset must not"
        assert set(a.data_fingerprint()) == set(dict.fromkeys(getattr(a, s) for s in a.DATA_SPLITS))
    teacher = TeacherRef(finetune=eval_config(folders["a"], protocol="finetune"))
    distills = [
        DistillConfig.for_profile(
            "smoke", method="kd", student=BACKBONE, teachers=[teacher], dataset="folder", data_root=str(folders[name])
        )
        for name in ("a", "a_moved", "b")
    ]
    assert distills[0].config_hash() == distills[1].config_hash() != distills[2].config_hash()


def test_the_default_data_keeps_its_identity_by_seed_and_profile():
    config = PretrainConfig.for_profile("smoke", task="rotnet", backbone=BACKBONE)
    assert config.data_fingerprint() is None and "data" not in config.hashed_dict()
    assert config.dataset_id() == "default:seed0:smoke"
    assert config.replace(data_seed=1).config_hash() != config.config_hash()


def test_a_config_over_a_missing_folder_names_it_when_hashed(tmp_path):
    config = pretrain_config(tmp_path / "missing")  # building it reads nothing
    with pytest.raises(FileNotFoundError, match="missing"):
        config.config_hash()


# ----------------------------------------------------------------------------------- cached results


def test_evaluating_another_folder_is_not_answered_from_the_cache(folders, home):
    stores = dict(
        store=RunStore(home / "runs"),
        results=ResultsStore(home / "results.csv"),
        features=FeatureCache(home / "features"),
        progress=False,
    )
    first = evaluate(eval_config(folders["a"]), **stores)
    extractions = stores["features"].extractions
    other = evaluate(eval_config(folders["b"]), **stores)
    assert stores["features"].extractions > extractions, "folder b's features were read from folder a's"
    assert set(other["config_hash"]) != set(first["config_hash"])
    assert other["dataset_fingerprint"].nunique() == 1 and first["dataset_fingerprint"].nunique() == 1
    assert other["dataset_fingerprint"][0] != first["dataset_fingerprint"][0]
    extractions = stores["features"].extractions
    again = evaluate(eval_config(folders["a_moved"]), **stores)
    assert stores["features"].extractions == extractions, "a moved copy is the same dataset"
    assert again["value"].equals(first["value"]), "the same numbers (NaN where a k exceeds the gallery)"
    stored = stores["results"].table()
    assert set(stored["dataset_fingerprint"]) == {eval_config(folders[n]).dataset_id() for n in ("a", "b")}


# ----------------------------------------------------------------------------------- distillation


def distill_config(student_root: Path, teacher_root: Path) -> DistillConfig:
    teacher = TeacherRef(finetune=eval_config(teacher_root, protocol="finetune"))
    return DistillConfig.for_profile(
        "smoke",
        method="kd",
        student=BACKBONE,
        teachers=[teacher],
        dataset="folder",
        data_root=str(student_root),
        device="cpu",
        threads=1,
    )


@pytest.mark.parametrize(
    "teacher, message",
    [
        (
            "three",
            r"teacher 0 .* \(train split: 3 classes\); the student .* \(train split: 2 classes\): 3 classes "
            "against the student's 2",
        ),
        ("b", "the same number of classes but other videos or class names"),
    ],
)
def test_a_teacher_of_another_folder_dataset_is_refused_before_anything_trains(folders, tmp_path, teacher, message):
    store = RunStore(tmp_path / "runs")
    config = distill_config(folders["a"], folders[teacher])
    with pytest.raises(ValueError, match=message) as caught:
        distill(config, store=store, results=ResultsStore(tmp_path / "results.csv"), progress=False)
    assert str(folders[teacher]) in str(caught.value) and str(folders["a"]) in str(caught.value)
    assert store.runs(complete_only=False) == [], "nothing may train before the check"


def test_a_teacher_of_a_moved_copy_of_the_students_data_passes_the_check(folders):
    check_teacher_datasets(distill_config(folders["a"], folders["a_moved"]))


def test_a_cache_folder_that_cannot_be_written_only_costs_time(folders, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SSLVID_CACHE_DIR", str(blocked))
    assert split_fingerprint("folder", folders["a"], "train") == split_fingerprint(
        "folder", folders["a_moved"], "train"
    )


def test_a_video_rewritten_in_place_stops_the_run_instead_of_filing_it_under_the_old_data(folders, tmp_path):
    root = shutil.copytree(folders["a"], tmp_path / "a")
    before = pretrain_config(root)
    old_hash = before.config_hash()
    stamp = root_stamp(root)
    with open(root / "train" / "class0" / "v0.mp4", "ab") as video:  # same name, same folder times
        video.write(b"\0" * 64)
    assert root_stamp(root) == stamp, "the stamp cannot see this edit; the run must"
    with pytest.raises(DatasetChangedError, match="changed after this config's hash was computed"):
        build_index(before)
    assert pretrain_config(root).config_hash() != old_hash, "built again, the config names the data as it is"
