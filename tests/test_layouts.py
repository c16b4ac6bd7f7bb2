"""Dataset adapters on tiny fake trees of each official layout (empty video files; no decoding)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from sslvid.data.layouts import DATASETS, DatasetLayoutError, list_datasets, load_index
from sslvid.data.records import UNLABELLED

ALL = ["diving48", "folder", "hmdb51", "kinetics400", "ssv2", "ucf101"]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_json(path: Path, obj: object) -> Path:
    return write(path, json.dumps(obj))


def assert_names(error: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(error.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# --- UCF101 ---------------------------------------------------------------------------------

# Official order is classInd's ids, not alphabetical: Basketball is class 0 here.
UCF_CLASSES = ["Basketball", "ApplyEyeMakeup", "HandstandPushups"]


def make_ucf101(root: Path, folds: tuple[int, ...] = (1,), official: bool = True) -> Path:
    """UCF101 tree: 3 classes, groups g08-g09 for training and g01 for testing (fold 1)."""
    lists = root / "ucfTrainTestlist" if official else root
    videos = root / "UCF-101" if official else root
    write(lists / "classInd.txt", "".join(f"{i} {c}\r\n" for i, c in enumerate(UCF_CLASSES, 1)))
    for fold in folds:
        train_groups, test_groups = ((8, 9), (1,)) if fold == 1 else ((1, 9), (8,))
        train, test = [], []
        for i, c in enumerate(UCF_CLASSES, 1):
            for g in train_groups:
                train.append(f"{c}/v_{c}_g{g:02d}_c01.avi {i}\r\n")
                touch(videos / c / f"v_{c}_g{g:02d}_c01.avi")
            for g in test_groups:
                test.append(f"{c}/v_{c}_g{g:02d}_c01.avi\r\n")
                touch(videos / c / f"v_{c}_g{g:02d}_c01.avi")
        write(lists / f"trainlist{fold:02d}.txt", "".join(train))
        write(lists / f"testlist{fold:02d}.txt", "".join(test))
    return root


def test_ucf101_reads_train_and_test_of_fold_1(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path)
    train = load_index("ucf101", root, "train", 1)
    test = load_index("ucf101", root, "test", 1)
    assert train.classes == test.classes == tuple(UCF_CLASSES)
    assert (len(train), len(test)) == (6, 3)
    assert (train.dataset, train.split, train.fold, train.root) == ("ucf101", "train", 1, root)
    assert train.records[0].video_id == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"
    assert train.records[0].path == root / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"
    assert [r.video_id for r in train.records] == sorted(r.video_id for r in train.records)
    for index in (train, test):
        for record in index.records:
            assert index.classes[record.label] == record.video_id.split("/")[0]
    assert train.labels().tolist() == [1, 1, 0, 0, 2, 2]


def test_ucf101_accepts_list_files_and_class_folders_in_root(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path, official=False)
    index = load_index("ucf101", root, "test")
    assert len(index) == 3
    assert index.records[0].path == root / "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"


def test_ucf101_folds_select_their_own_lists(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path, folds=(1, 2))
    fold1 = {r.video_id for r in load_index("ucf101", root, "test", 1).records}
    fold2 = {r.video_id for r in load_index("ucf101", root, "test", 2).records}
    assert fold1.isdisjoint(fold2) and len(fold2) == 3


def test_ucf101_missing_fold_names_the_split_file(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path)
    with pytest.raises(DatasetLayoutError) as error:
        load_index("ucf101", root, "train", 2)
    assert_names(
        error, "ucf101", str(root / "ucfTrainTestlist" / "trainlist02.txt"), "trainlist01.txt", "data/README.md"
    )


def test_ucf101_missing_class_list_and_video(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path)
    (root / "UCF-101/Basketball/v_Basketball_g01_c01.avi").unlink()
    with pytest.raises(DatasetLayoutError) as error:
        load_index("ucf101", root, "test")
    assert_names(error, "1 of 3 videos", "v_Basketball_g01_c01.avi")
    (root / "ucfTrainTestlist/classInd.txt").unlink()
    with pytest.raises(DatasetLayoutError) as error:
        load_index("ucf101", root, "train")
    assert_names(error, str(root / "ucfTrainTestlist" / "classInd.txt"))


def test_ucf101_bad_split_and_fold_list_the_valid_values(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path)
    with pytest.raises(ValueError, match="valid: train, test"):
        load_index("ucf101", root, "val")
    with pytest.raises(ValueError, match="valid: 1, 2, 3"):
        load_index("ucf101", root, "train", 4)


# --- HMDB51 ---------------------------------------------------------------------------------

HMDB_CLASSES = ["brush_hair", "shoot_ball"]  # underscores inside class names, as in HMDB51


def make_hmdb51(
    root: Path, split_dir: str = "testTrainMulti_7030_splits", video_dir: str = "", folds: tuple[int, ...] = (1,)
) -> Path:
    """HMDB51 tree: per class 2 train, 1 test and 1 unused (0) video per fold."""
    for c in HMDB_CLASSES:
        names = [f"{c}_clip{k}_f_nm_np1_ri_med_{k}.avi" for k in range(4)]
        for name in names:
            touch(root / video_dir / c / name)
        for fold in folds:
            ids = [1, 1, 2, 0] if fold == 1 else [2, 1, 1, 0]
            lines = "".join(f"{n} {i} \n" for n, i in zip(names, ids))
            write(root / split_dir / f"{c}_test_split{fold}.txt", lines)
    return root


def test_hmdb51_reads_train_test_and_skips_unused(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path)
    train = load_index("hmdb51", root, "train")
    test = load_index("hmdb51", root, "test")
    assert train.classes == test.classes == tuple(HMDB_CLASSES)
    assert (len(train), len(test)) == (4, 2)
    assert all("_3.avi" not in r.path.name for r in (*train.records, *test.records))  # id 0: unused
    assert test.records[0].video_id == "brush_hair/brush_hair_clip2_f_nm_np1_ri_med_2"
    assert test.labels().tolist() == [0, 1]


def test_hmdb51_other_folders_and_folds(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path, split_dir="splits", video_dir="hmdb51_org", folds=(1, 2))
    test2 = load_index("hmdb51", root, "test", 2)
    assert [r.path.name.split("_clip")[1][0] for r in test2.records] == ["0", "0"]
    assert test2.records[0].path.parent == root / "hmdb51_org" / "brush_hair"


def test_hmdb51_missing_split_files_are_named(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path)
    with pytest.raises(DatasetLayoutError) as error:
        load_index("hmdb51", root, "train", 3)
    assert_names(error, "hmdb51", "testTrainMulti_7030_splits", "_test_split3.txt", "data/README.md")


# --- Kinetics-400 ---------------------------------------------------------------------------

HEADER = ["label", "youtube_id", "time_start", "time_end", "split"]


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_kinetics(root: Path) -> Path:
    """Kinetics tree: train per class (one class folder with spaces, one with underscores),
    val flat under ``val/`` from ``validate.csv``."""
    train = [
        ["air drumming", "aaa", 10, 20, "train"],
        ["air drumming", "bbb", 0, 10, "train"],
        ["zumba", "ccc", 5, 15, "train"],
        ["abseiling", "ddd", 1, 11, "train"],
    ]
    write_csv(root / "annotations/train.csv", train)
    touch(root / "train/air drumming/aaa_000010_000020.mp4")
    touch(root / "train/air_drumming/bbb_000000_000010.mp4")
    touch(root / "train/zumba/ccc_000005_000015.mp4")
    touch(root / "train/abseiling/ddd_000001_000011.mp4")
    val = [["zumba", "eee", 3, 13, "val"], ["abseiling", "fff", 0, 10, "val"]]
    write_csv(root / "annotations/validate.csv", val)
    touch(root / "val/eee_000003_000013.mp4")
    touch(root / "val/fff_000000_000010.mp4")
    return root


def test_kinetics_reads_class_folders_with_spaces_or_underscores(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path)
    train = load_index("kinetics400", root, "train")
    assert train.classes == ("abseiling", "air drumming", "zumba")
    assert [r.video_id for r in train.records] == [
        "aaa_000010_000020",
        "bbb_000000_000010",
        "ccc_000005_000015",
        "ddd_000001_000011",
    ]
    assert train.labels().tolist() == [1, 1, 2, 0]
    assert train.records[1].path == root / "train/air_drumming/bbb_000000_000010.mp4"


def test_kinetics_val_is_validate_flat_and_shares_class_ids(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path)
    val = load_index("kinetics400", root, "val")
    assert load_index("kinetics400", root, "validate").records == val.records
    assert val.classes == load_index("kinetics400", root, "train").classes
    assert val.labels().tolist() == [2, 0] and val.split == "val"


def test_kinetics_skips_missing_videos_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_kinetics(tmp_path)
    (root / "train/zumba/ccc_000005_000015.mp4").unlink()
    (root / "train/abseiling/ddd_000001_000011.mp4").unlink()
    with caplog.at_level(logging.WARNING, logger="sslvid.data.layouts"):
        train = load_index("kinetics400", root, "train")
    assert len(train) == 2 and train.classes == ("abseiling", "air drumming", "zumba")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 4 videos" in warnings[0].getMessage()


def test_kinetics_without_any_video_or_csv_raises(tmp_path: Path) -> None:
    root = make_kinetics(tmp_path)
    for path in (root / "val").iterdir():
        path.unlink()
    with pytest.raises(DatasetLayoutError) as error:
        load_index("kinetics400", root, "val")
    assert_names(error, "all 2 videos", "validate.csv")
    with pytest.raises(DatasetLayoutError) as error:
        load_index("kinetics400", root, "test")
    assert_names(error, str(root / "annotations" / "test.csv"), "kinetics-400_test.csv", "data/README.md")


def test_kinetics_unlabelled_pool_and_root_level_csv(tmp_path: Path) -> None:
    rows = [["", "p00001", 0, 3, "train"], ["", "p00000", 0, 3, "train"]]
    write_csv(tmp_path / "kinetics-400_train.csv", rows)
    touch(tmp_path / "train/p00000_000000_000003.mp4")
    touch(tmp_path / "train/p00001_000000_000003.mp4")
    pool = load_index("kinetics400", tmp_path, "train")
    assert pool.classes == () and pool.labels().tolist() == [UNLABELLED, UNLABELLED]
    assert pool.records[0].video_id == "p00000_000000_000003"


def test_kinetics_embedded_default_layout(tmp_path: Path) -> None:
    """The default data's pools: annotations/train.csv + train/<label>/<id>_000000_000003.mp4."""
    write_csv(tmp_path / "annotations/train.csv", [["pool", f"v{i:05d}", 0, 3, "train"] for i in range(3)])
    for i in range(3):
        touch(tmp_path / f"train/pool/v{i:05d}_000000_000003.mp4")
    assert len(load_index("kinetics400", tmp_path)) == 3


# --- Something-Something V2 -----------------------------------------------------------------

SSV2_LABELS = {
    "Pushing something from left to right": "1",
    "Holding something": "0",
    "Putting something on a surface": "2",
}


def make_ssv2(root: Path) -> Path:
    """SSv2 tree: labels, 3 train and 2 validation entries, webm videos in the 20bn folder."""
    write_json(root / "something-something-v2-labels.json", SSV2_LABELS)
    train = [
        {
            "id": "12",
            "label": "pushing a cup from left to right",
            "placeholders": ["a cup"],
            "template": "Pushing [something] from left to right",
        },
        {"id": "3", "label": "holding a pen", "placeholders": ["a pen"], "template": "Holding [something]"},
        {
            "id": "7",
            "label": "putting keys on a surface",
            "placeholders": ["keys"],
            "template": "Putting [something] on a surface",
        },
    ]
    val = [
        {"id": "40", "label": "holding a box", "placeholders": ["a box"], "template": "Holding [something]"},
        {
            "id": "41",
            "label": "putting a mug on a surface",
            "placeholders": ["a mug"],
            "template": "Putting [something] on a surface",
        },
    ]
    write_json(root / "something-something-v2-train.json", train)
    write_json(root / "something-something-v2-validation.json", val)
    for entry in train + val:
        touch(root / "20bn-something-something-v2" / f"{entry['id']}.webm")
    return root


def test_ssv2_maps_templates_to_label_ids(tmp_path: Path) -> None:
    root = make_ssv2(tmp_path)
    train = load_index("ssv2", root, "train")
    assert train.classes == (
        "Holding something",
        "Pushing something from left to right",
        "Putting something on a surface",
    )
    assert {r.video_id: r.label for r in train.records} == {"12": 1, "3": 0, "7": 2}
    assert train.records[0].path == root / "20bn-something-something-v2/12.webm"


def test_ssv2_val_and_test_read_the_validation_set(tmp_path: Path) -> None:
    root = make_ssv2(tmp_path)
    val, test = load_index("ssv2", root, "val"), load_index("ssv2", root, "test")
    assert val.records == test.records and test.split == "test"
    assert val.labels().tolist() == [0, 2]


def test_ssv2_errors_name_the_file_or_template(tmp_path: Path) -> None:
    root = make_ssv2(tmp_path)
    write_json(
        root / "something-something-v2-train.json",
        [{"id": "1", "label": "x", "placeholders": [], "template": "Spinning [something]"}],
    )
    with pytest.raises(ValueError, match="'Spinning something' is not in the label file"):
        load_index("ssv2", root, "train")
    (root / "something-something-v2-labels.json").unlink()
    with pytest.raises(DatasetLayoutError) as error:
        load_index("ssv2", root, "val")
    assert_names(error, "ssv2", str(root / "something-something-v2-labels.json"))


# --- Diving48 -------------------------------------------------------------------------------

VOCAB = [["Back", "15som", "NoTwis", "PIKE"], ["Forward", "25som", "1Twis", "PIKE"]]


def make_diving48(root: Path) -> Path:
    write_json(root / "Diving48_vocab.json", VOCAB)
    train = [
        {"vid_name": "_8Vy3dlHg2w_00000", "label": 1, "start_frame": 0, "end_frame": 80},
        {"vid_name": "_8Vy3dlHg2w_00001", "label": 0, "start_frame": 0, "end_frame": 63},
    ]
    test = [{"vid_name": "-0ZpgyEdNVs_00000", "label": 1, "start_frame": 0, "end_frame": 40}]
    write_json(root / "Diving48_V2_train.json", train)
    write_json(root / "Diving48_V2_test.json", test)
    for entry in train + test:
        touch(root / "rgb" / f"{entry['vid_name']}.mp4")
    return root


def test_diving48_classes_come_from_the_vocabulary(tmp_path: Path) -> None:
    root = make_diving48(tmp_path)
    train, test = load_index("diving48", root, "train"), load_index("diving48", root, "test")
    assert train.classes == ("Back 15som NoTwis PIKE", "Forward 25som 1Twis PIKE")
    assert train.labels().tolist() == [1, 0] and test.labels().tolist() == [1]
    assert test.records[0].path == root / "rgb/-0ZpgyEdNVs_00000.mp4"


def test_diving48_missing_vocabulary_is_named(tmp_path: Path) -> None:
    root = make_diving48(tmp_path)
    (root / "Diving48_vocab.json").unlink()
    with pytest.raises(DatasetLayoutError) as error:
        load_index("diving48", root)
    assert_names(error, "diving48", "Diving48_vocab.json")


# --- generic folder -------------------------------------------------------------------------


def test_folder_reads_videos_and_shares_classes_across_splits(tmp_path: Path) -> None:
    touch(tmp_path / "train/cat/a.mp4")
    touch(tmp_path / "train/cat/b.MKV")
    touch(tmp_path / "train/cat/notes.txt")
    touch(tmp_path / "train/dog/c.webm")
    touch(tmp_path / "val/eel/d.avi")
    train, val = load_index("folder", tmp_path, "train"), load_index("folder", tmp_path, "val")
    assert train.classes == val.classes == ("cat", "dog", "eel")
    assert [r.video_id for r in train.records] == ["cat/a", "cat/b", "dog/c"]
    assert train.labels().tolist() == [0, 0, 1] and val.labels().tolist() == [2]
    with pytest.raises(DatasetLayoutError) as error:
        load_index("folder", tmp_path, "test")
    assert_names(error, "folder", str(tmp_path / "test"))


# --- all layouts ----------------------------------------------------------------------------


def test_registry_lists_every_layout() -> None:
    assert list_datasets() == ALL == DATASETS.names()
    with pytest.raises(ValueError, match="valid names: diving48, folder"):
        load_index("ucf-101", "/nowhere")


@pytest.mark.parametrize("dataset", ALL)
def test_missing_root_names_root_layout_and_readme(tmp_path: Path, dataset: str) -> None:
    with pytest.raises(DatasetLayoutError) as error:
        load_index(dataset, tmp_path / "absent")
    assert isinstance(error.value, FileNotFoundError)
    assert_names(error, dataset, str(tmp_path / "absent"), "data/README.md")


@pytest.mark.parametrize("dataset", ["kinetics400", "ssv2", "diving48", "folder"])
def test_single_fold_datasets_reject_other_folds(tmp_path: Path, dataset: str) -> None:
    with pytest.raises(ValueError, match="valid: 1$"):
        load_index(dataset, tmp_path, "train", 2)
