"""Chapter "The data and the backbones": what the default data looks like, what the networks cost."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sslvid.analysis.claims import Claim, extremes, spearman
from sslvid.analysis.figures import frame_strips
from sslvid.backbones.cost import PAPER_CLIP, backbone_table
from sslvid.data.cache import prepare_cache
from sslvid.data.decode import read_frames
from sslvid.data.default import DEFAULT_SETS, class_descriptions
from sslvid.data.records import VideoIndex
from sslvid.data.sources import ensure_default_data, open_split
from sslvid.data.throughput import cache_vs_decode
from sslvid.experiments.study import chapter_claim
from sslvid.paths import cache_dir as default_cache_dir
from sslvid.paths import shared_dir
from sslvid.profiles import get_profile
from sslvid.seeding import rng_for

KNOBS: dict[str, Any] = {"dataset": "ucf101", "strip_videos": 4, "speed_clips": 200}
"""The notebook's knobs (its parameters cell less the study's own) and defaults; ``tests/test_knobs.py`` checks them."""


def default_data_table(profile: str = "micro", seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """One row per default set and split: layout, classes, videos; plus the manifest (generated first if missing)."""
    root = ensure_default_data(profile, seed)
    manifest = json.loads((root / "manifest.json").read_text())
    rows = [
        {
            "set": name,
            "kind": info["kind"],
            "layout": info["layout"],
            "split": split,
            "classes": len(info["classes"]),
            "videos": videos,
            "videos_per_class": info["videos_per_class"][split],
            "container": f"{info['encoding']['container']} / {info['encoding']['codec']}",
        }
        for name, info in manifest["sets"].items()
        for split, videos in info["videos"].items()
    ]
    return pd.DataFrame(rows), manifest


def class_table(kind: str) -> pd.DataFrame:
    """The classes of the appearance or motion sets with a one-line description each."""
    return pd.DataFrame(list(class_descriptions(kind).items()), columns=["class", "what the video shows"])


def strips_for_index(
    index: VideoIndex, videos: int = 4, seed: int = 0, max_frames: int = 8, title: str | None = None
) -> Figure:
    """Frame strips of ``videos`` videos of distinct classes, decoded from the files on disk."""
    records = [index.records[i] for i in pick_one_per_class(index, videos, seed)]
    labels = [index.classes[r.label] if r.label >= 0 else r.video_id for r in records]
    return frame_strips([read_frames(r.path) for r in records], labels, max_frames=max_frames, title=title)


def pick_one_per_class(index: VideoIndex, videos: int, seed: int = 0) -> list[int]:
    """Positions of up to ``videos`` videos, each of a different class where possible, seeded."""
    order = rng_for(seed, "strips", index.dataset, str(index.root)).permutation(len(index))
    labels = index.labels()
    firsts = pd.Series(labels[order], index=order).drop_duplicates().index[:videos]
    return sorted((int(i) for i in firsts), key=lambda i: labels[i])


def default_set_strips(set_name: str, profile: str = "micro", videos: int = 4, seed: int = 0) -> Figure:
    """Frame strips from one default set (train split), read through its real layout."""
    index = open_split(set_name, "train", profile=profile, seed=seed)
    kind = DEFAULT_SETS[set_name].kind
    return strips_for_index(
        index, videos, seed, title=f"{set_name} (label = {'digit' if kind == 'appearance' else 'motion'})"
    )


def asl_strips(names: Sequence[str] = ("again", "eat", "thanks"), max_frames: int = 8) -> Figure | None:
    """Frame strips of real ASL gesture clips from ``shared/`` (None when the folder is absent)."""
    shared = shared_dir()
    folder = shared / "data" / "asl-gestures" if shared else None
    if folder is None or not folder.is_dir():
        return None
    paths = [folder / f"{n}.mkv" for n in names if (folder / f"{n}.mkv").is_file()]
    clips = [read_frames(p) for p in paths]
    return frame_strips(
        clips,
        [p.stem for p in paths],
        max_frames=max_frames,
        title="ASL gesture clips (intel-iot-devkit/sample-videos, CC BY 4.0)",
    )


def backbone_costs(profile: str = "micro", names: Sequence[str] | None = None) -> pd.DataFrame:
    """Parameters and GMACs at paper size (full width, 16x112x112) beside params, MMACs and train / inference
    clips per second measured at the profile's width and clip size."""
    prof = get_profile(profile)
    names = list(names) if names is not None else None
    paper = backbone_table(names, clip_shape=PAPER_CLIP, width=1.0, throughput=False)
    local = backbone_table(
        names,
        clip_shape=prof.clip_shape(),
        width=prof.width,
        throughput=True,
        batch_size=max(2, prof.batch_size // 4),
        steps=prof.bench_steps,
    )
    table = pd.DataFrame(
        {
            "backbone": paper["name"],
            "capacity": paper["capacity"],
            "params (M), paper": paper["params"] / 1e6,
            "GMACs, paper": paper["GMACs"],
            f"params (M), {profile}": local["params"] / 1e6,
            f"MMACs, {profile}": local["GMACs"] * 1e3,
            f"train clips/s, {profile}": local["train_clips_per_s"],
            f"inference clips/s, {profile}": local["infer_clips_per_s"],
        }
    )
    return table.round(2)


def manifest_facts(manifest: dict) -> dict[str, Any]:
    """The generated data's numbers, read from its manifest, for the notebook's prose."""
    p = manifest["params"]
    h, w = p["size"]
    return {
        "videos": int(manifest["num_videos"]),
        "frames": p["frames"],
        "size": f"{h}x{w}",
        "megabytes": manifest["bytes"] / 1e6,
        "seconds": float(manifest["generation_seconds"]),
        "seed": p["seed"],
        "train digits": int(manifest["digits"]["train"]),
        "test digits": int(manifest["digits"]["test"]),
        "credit": manifest["credit"],
    }


def real_dataset_strips(dataset: str, data_root: str, videos: int = 4, seed: int = 0) -> Figure:
    """Frame strips from the train split of a real dataset under ``data_root``."""
    index = open_split(dataset, "train", data_root=data_root)
    return strips_for_index(index, videos, seed, title=f"{dataset} at {data_root}")


def backbone_facts(costs: pd.DataFrame, profile: str) -> dict[str, Any]:
    """The cheapest and most expensive network at paper size, and the fastest to train at ``profile``."""
    by = costs.set_index("backbone")
    return {
        **extremes(by["GMACs, paper"], "gmacs", {"lightest": "min", "heaviest": "max"}),
        **extremes(by[f"train clips/s, {profile}"], "clips", {"fastest": "max"}),
    }


def macs_speed_claim(costs: pd.DataFrame, profile: str) -> Claim:
    """Fewer multiply-adds mean faster training here: Spearman's rho of MACs and training clips/s over the
    networks (negative when they agree), with its uncertainty (``sslvid.analysis.claims.spearman``)."""
    rho = spearman(costs[f"MMACs, {profile}"], costs[f"train clips/s, {profile}"])
    claim = chapter_claim(
        "data_and_backbones",
        "macs_mean_speed",
        "Fewer multiply-adds mean faster training.",
        "Spearman's rho of MACs and training clips/s",
        "<",
        section="§1",
        paper="sonawane2021lightweight",
        digits=2,
    )
    return claim.measured(rho, "fewer than 3 networks, or constant")


def cache_speed(
    profile: str,
    dataset: str,
    data_root: str | None = None,
    clips: int = 200,
    seed: int = 0,
    cache_dir: str | None = None,
) -> pd.DataFrame:
    """Clips/s decoding vs reading the clip cache (prepared first when missing), on ``dataset``'s train split."""
    prof = get_profile(profile)
    index = open_split(dataset, "train", data_root=data_root, profile=profile, seed=seed)
    cache = prepare_cache(index, cache_dir or default_cache_dir(), frame_size=prof.cache_size)
    speed = cache_vs_decode(cache, clips=clips, frames=prof.frames, stride=2, seed=seed)
    table = pd.DataFrame([{"read": k, "clips/s": v} for k, v in speed.items() if "/" not in k])
    table.attrs.update(
        ratio=speed["cache / (decode + resize)"],
        dataset=dataset,
        videos=len(index),
        frame_size=prof.cache_size,
        frames=prof.frames,
        clips=clips,
    )
    return table


def cache_speed_facts(speed: pd.DataFrame) -> dict[str, Any]:
    """The measured speed-up of the clip cache and what it was measured on (``cache_speed``'s attributes)."""
    a = speed.attrs
    h, w = a["frame_size"]
    return {
        "clips": a["clips"],
        "frames": a["frames"],
        "size": f"{h}x{w}",
        "dataset": a["dataset"],
        "videos": a["videos"],
        "ratio": float(a["ratio"]),
    }
