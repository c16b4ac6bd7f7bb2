"""Pre-training on every video: ``subset_per_class="all"``, and what a too-big subset says (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from engine_helpers import BACKBONE, write_tiny_videos

from sslvid.cli import _overrides, build_parser
from sslvid.data.subsets import balanced_subset
from sslvid.engine import PretrainConfig
from sslvid.engine.pretrain import build_index


@pytest.fixture(scope="module")
def three_per_class(tmp_path_factory: pytest.TempPathFactory):
    """A folder dataset of 2 classes with 3 videos each: fewer than any profile's subset but smoke's."""
    return write_tiny_videos(tmp_path_factory.mktemp("three"), classes=2, per_class=3, frames=8, size=40)


def config(profile: str = "micro", **overrides) -> PretrainConfig:
    return PretrainConfig.for_profile(profile, task="rotnet", backbone=BACKBONE, **overrides)


def test_all_is_kept_while_none_takes_the_profiles_number():
    every = config(subset_per_class="all")
    assert every.subset_per_class == "all"
    assert config().subset_per_class == 50 and config("paper").subset_per_class == 125
    assert config("smoke").subset_per_class == "all"
    assert PretrainConfig.from_dict(json.loads(json.dumps(every.to_dict()))) == every, "all must survive config.json"
    assert every.config_hash() != config().config_hash()


@pytest.mark.parametrize("bad", ["some", 0, -3, True])
def test_a_subset_that_is_neither_a_count_nor_all_is_refused(bad):
    with pytest.raises(ValueError, match="subset_per_class must be >= 1, or 'all' for every video"):
        config(subset_per_class=bad)


def test_the_command_line_spells_all_the_same_way():
    args = build_parser().parse_args(
        ["pretrain", "--task", "rotnet", "--backbone", BACKBONE, "--set", "subset_per_class=all"]
    )
    assert config(**_overrides(args)).subset_per_class == "all"


def test_all_reads_every_video_of_a_dataset_with_small_classes(three_per_class):
    every = config(dataset="folder", data_root=str(three_per_class), subset_per_class="all")
    assert len(build_index(every)) == 6


def test_a_subset_bigger_than_a_class_names_the_short_classes_and_the_way_out(three_per_class):
    too_big = config(dataset="folder", data_root=str(three_per_class))  # micro: 50 per class
    with pytest.raises(ValueError) as caught:
        build_index(too_big)
    message = str(caught.value)
    assert "2 of 2 classes have fewer than 50 videos: class0 (3), class1 (3)" in message
    assert "subset_per_class='all'" in message and "--set subset_per_class=all" in message


def test_balanced_subset_lists_short_classes_fewest_first_and_bounds_the_list():
    labels = np.repeat(np.arange(14), [5] + [2] * 12 + [1])
    names = [f"c{i}" for i in range(14)]
    with pytest.raises(
        ValueError,
        match=r"13 of 14 classes have fewer than 3 videos: c13 \(1\), c1 \(2\), .*"
        r"and 3 more; ask for at most 1 videos per class",
    ):
        balanced_subset(labels, 3, seed=0, classes=names)
    assert len(balanced_subset(labels, 1, seed=0, classes=names)) == 14
