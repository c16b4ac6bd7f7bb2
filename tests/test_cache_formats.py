"""The clip cache's storage format is chosen per run: a config field, hashed unless "uint8", passed to the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslvid.data.layouts import load_index
from sslvid.data.sampling import ClipSampler
from sslvid.distill.config import DistillConfig
from sslvid.engine.config import PretrainConfig
from sslvid.engine.pretrain import build_source
from sslvid.errors import ConfigError
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.features import feature_spec

CONFIGS = {
    "pretrain": lambda **kw: PretrainConfig.for_profile("smoke", task="rotnet", backbone="r2plus1d_18", **kw),
    "eval": lambda **kw: EvalConfig(backbone="r2plus1d_18", protocol="finetune", dataset="digits-motion", **kw),
    "distill": lambda **kw: DistillConfig.for_profile("smoke", method="pcl_kd", student="squeezenet3d", **kw),
}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_every_config_chooses_the_format_and_jpeg_is_another_run(kind: str) -> None:
    uint8, jpeg = CONFIGS[kind](), CONFIGS[kind](cache_format="jpeg")
    assert uint8.cache_format == "uint8" and jpeg.cache_format == "jpeg"
    # the uint8 default is left out of the hash: runs stored before the field existed are still found
    assert "cache_format" not in uint8.hashed_dict() and jpeg.hashed_dict()["cache_format"] == "jpeg"
    assert jpeg.config_hash() != uint8.config_hash()
    with pytest.raises(ConfigError, match="unknown cache_format 'png'; valid: uint8, jpeg"):
        CONFIGS[kind](cache_format="png")


def test_the_run_reads_the_cache_of_its_format(tiny_default: Path, data_home: Path) -> None:
    index = load_index("ucf101", tiny_default / "digits-motion", split="test").select([0, 1, 2])
    config = CONFIGS["pretrain"](cache_format="jpeg", cache_size=(32, 32), crop_size=32)
    source = build_source(index, config, workers=1)
    assert source.format == "jpeg" and source.meta["format"] == "jpeg" and source.path.is_relative_to(data_home)
    assert source.read(1, [0, 5]).shape == (2, 32, 32, 3)
    assert build_source(index, config.replace(cache_format="uint8"), workers=1).format == "uint8"
    assert PretrainConfig.from_dict(config.to_dict()) == config  # as a run's config.json gives it back


def test_features_of_a_jpeg_cache_are_filed_apart(tiny_default: Path) -> None:
    index = load_index("ucf101", tiny_default / "digits-motion", split="test")
    args = ("scratch:r2plus1d_18", index, ClipSampler(num_frames=8), 32, (40, 40), "smoke")
    uint8, jpeg = feature_spec(*args), feature_spec(*args, cache_format="jpeg")
    assert "cache_format" not in uint8 and jpeg == {**uint8, "cache_format": "jpeg"}


def test_disk_estimate_of_each_format_follows_the_codec(asl_clips: list[Path], tmp_path: Path) -> None:
    from sslvid.data.cache import prepare_cache
    from sslvid.data.records import VideoIndex, VideoRecord
    from sslvid.scale.estimate import CACHE_BYTES_PER_PIXEL, cache_gigabytes

    assert cache_gigabytes(50_000) == pytest.approx(821, abs=1)  # K400-50k, 250 frames of 128x171
    assert cache_gigabytes(50_000, cache_format="jpeg") <= cache_gigabytes(50_000) / 10
    with pytest.raises(ValueError, match="unknown cache_format 'png'"):
        cache_gigabytes(10, cache_format="png")
    # the estimate's bytes per pixel is what the codec writes for real footage (within a third)
    picks = asl_clips[::5]
    index = VideoIndex("folder", picks[0].parent, "train", 1, ("asl",), tuple(VideoRecord(p, 0, p.stem) for p in picks))
    cache = prepare_cache(index, tmp_path, frame_size=(128, 171), max_frames=16, workers=0, cache_format="jpeg")
    written = cache.nbytes / (cache.total_frames * 128 * 171)
    assert written == pytest.approx(CACHE_BYTES_PER_PIXEL["jpeg"], rel=1 / 3)
