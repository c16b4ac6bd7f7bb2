from pathlib import Path

from sslvid.data.cache import prepare_cache
from sslvid.data.layouts import load_index
from sslvid.data.throughput import cache_vs_decode


def test_cache_vs_decode_times_the_same_clips_both_ways(tiny_default: Path, tmp_path: Path) -> None:
    index = load_index("ucf101", tiny_default / "digits-appearance", split="test")
    cache = prepare_cache(index, tmp_path, frame_size=(24, 24), workers=1)
    speed = cache_vs_decode(cache, clips=10, frames=4, stride=2)
    assert set(speed) == {"decode", "decode + resize", "cache", "cache / (decode + resize)"}
    assert all(v > 0 for v in speed.values())
    assert speed["cache / (decode + resize)"] == speed["cache"] / speed["decode + resize"]
