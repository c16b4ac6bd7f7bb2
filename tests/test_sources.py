from pathlib import Path

import pytest

from sslvid.data.layouts import DatasetLayoutError
from sslvid.data.sources import DEFAULT_SETS, list_sources, open_split
from sslvid.profiles import get_profile, list_profiles


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="digits-motion.*ucf101"):
        open_split("ucf-101")


def test_real_layout_needs_a_root():
    with pytest.raises(DatasetLayoutError, match="needs data_root") as caught:
        open_split("ucf101")
    assert "one sub-folder per dataset" in caught.value.hint


def _folder_dataset(root: Path) -> Path:
    """A two-class ``folder`` layout (empty video files: indexing never decodes)."""
    for cls in ("a", "b"):
        (root / "train" / cls).mkdir(parents=True)
        (root / "train" / cls / "v1.mp4").write_bytes(b"")
    return root


def test_data_root_is_the_folder_that_holds_the_datasets(tmp_path):
    _folder_dataset(tmp_path / "datasets" / "folder")
    index = open_split("folder", "train", data_root=tmp_path / "datasets")
    assert len(index) == 2 and list(index.classes) == ["a", "b"]
    assert index.records[0].path.parent.parent.parent == tmp_path / "datasets" / "folder"


def test_a_data_root_that_is_the_dataset_itself_is_accepted(tmp_path):
    _folder_dataset(tmp_path / "mine")
    assert len(open_split("folder", "train", data_root=tmp_path / "mine")) == 2


def test_a_dataset_missing_under_data_root_names_both_places_looked_in(tmp_path):
    (tmp_path / "UCF101").mkdir()
    with pytest.raises(DatasetLayoutError) as caught:
        open_split("ucf101", "train", data_root=tmp_path)
    message = str(caught.value)
    assert f"expected the folder {tmp_path / 'ucf101'}/" in message and "UCF101/" in message
    assert f"or {tmp_path} itself in the ucf101 layout" in message and "ucfTrainTestlist" in message
    assert "ln -s" in caught.value.hint


def test_sources_cover_defaults_and_layouts():
    names = list_sources()
    assert set(DEFAULT_SETS) <= set(names)
    assert {"ucf101", "hmdb51", "kinetics400", "ssv2", "diving48", "folder"} <= set(names)


def test_profiles_change_numbers_only():
    assert list_profiles() == ["micro", "paper", "smoke"]
    paper = get_profile("paper")
    assert paper.clip_shape() == (3, 16, 112, 112) and paper.width == 1.0
    with pytest.raises(ValueError, match="micro, paper, smoke"):
        get_profile("tiny")
