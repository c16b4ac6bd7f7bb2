from pathlib import Path

import numpy as np

from sslvid.data import throughput
from sslvid.data.cache import prepare_cache
from sslvid.data.layouts import load_index
from sslvid.data.throughput import cache_vs_decode


def test_cache_vs_decode_times_the_same_clips_both_ways(tiny_default: Path, tmp_path: Path, monkeypatch) -> None:
    index = load_index("ucf101", tiny_default / "digits-appearance", split="test")
    cache = prepare_cache(index, tmp_path, frame_size=(24, 24), workers=1)
    timed: dict[str, list] = {}

    def counting(function, chosen):
        timed.setdefault(getattr(function, "__name__", "cache"), []).append(
            [(v, tuple(np.asarray(ix).tolist())) for v, ix in chosen]
        )
        return float(len(chosen))

    monkeypatch.setattr(throughput, "clips_per_second", counting)
    speed = cache_vs_decode(cache, clips=10, frames=4, stride=2)
    assert set(speed) == {"decode", "decode + resize", "cache", "cache / (decode + resize)"}
    measured = {name: runs[-1] for name, runs in timed.items()}
    assert len(measured["decode"]) == 10, "each way reads the asked number of clips"
    assert measured["decode"] == measured["decode_resize"] == measured["read"], "the same clips, in the same order"
    assert all(len(ix) == 4 and ix[1] - ix[0] == 2 for _, ix in measured["decode"]), "T=4 frames, stride 2"
    assert speed["cache / (decode + resize)"] == speed["cache"] / speed["decode + resize"]
