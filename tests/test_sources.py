import pytest

from sslvid.data.sources import DEFAULT_SETS, list_sources, open_split
from sslvid.profiles import get_profile, list_profiles


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="digits-motion.*ucf101"):
        open_split("ucf-101")


def test_real_layout_needs_a_root():
    with pytest.raises(ValueError, match="needs data_root"):
        open_split("ucf101")


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
