"""GPU-hours of the paper-scale study, from the backbones' multiply-adds and the chapters' grids.

The cost of one job is

    FLOPs = 2 x MACs/clip x videos x epochs x (3 x clips with gradients + 1 x clips without)

where MACs/clip is ``count_flops`` of the full-width backbone on the config's clip (16x112x112
for the benchmark, one 96x96 frame for the lightweight study), and the clip counts per video
are *measured*: :func:`measure_passes` runs one step of the task at smoke size and counts the
clips that enter each backbone, weighted by that backbone's share of the named network's MACs
(Split-Brain's two half-width halves count about one half); momentum encoders and teachers run
without gradients. A backward pass costs about two forward passes, hence the 3 (the usual
rule, e.g. Kaplan et al. 2020, §2.1). Heads, decoders (PRP's) and augmentations are not
counted. The time of a job is the larger of its FLOPs at an assumed sustained throughput and
its clips at an assumed data-path ceiling (:class:`Throughput`, in clips of 16x112x112; smaller
clips count by their number of pixels): tiny networks (ShuffleNet, 0.5 GMACs) are bound by the
input pipeline, not by arithmetic.

A chapter (:class:`ChapterPlan`) is its pre-training grid (``sslvid.scale.grids``) plus the
downstream work on those models (finetuning, linear probes, inference under noise, retrieval,
distillation). Jobs are counted once over the whole book, in chapter order: a run that an
earlier chapter already needs costs nothing again (the sweep finds it in the store).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd
import torch

from sslvid.scale.grids import PAPER_GRIDS, Grid

log = logging.getLogger(__name__)

PAPER_CLIP = (3, 16, 112, 112)
TRAIN_FACTOR = 3.0
"""FLOPs of a training step over those of its forward pass (forward + backward ~ 1 + 2)."""
FLOPS_PER_MAC = 2

PRETRAIN_CLASSES = {
    "kinetics400": 400,
    "ssv2": 174,
    "folder": 1,
    "digits-appearance-pool": 10,
    "digits-motion-pool": 12,
}
"""Classes of the pre-training sets (``folder``: STL-10's unlabelled images in one folder)."""
PRETRAIN_VIDEOS = {"kinetics400": 240_000, "ssv2": 168_913}
"""Training videos of the full pre-training sets (Kinetics-400 as available today, SSv2 train)."""

DOWNSTREAM = {"ucf101": (9_537, 3_783), "hmdb51": (3_570, 1_530), "diving48": (15_027, 1_970), "stl10": (5_000, 8_000)}
"""(train, test) videos of the downstream sets: UCF101 and HMDB51 split 1, Diving48 V2, STL-10 (images)."""

PASS_BACKBONE = "squeezenet3d"
"""The backbone the passes are counted on (the count does not depend on it; this one is fast)."""


@dataclass(frozen=True)
class Throughput:
    """What one GPU is assumed to sustain.

    Args:
        tflops: sustained dense bf16 TFLOP/s in training (50: about 16% of an A100's 312
            peak, a typical share for 3-D convolution networks).
        clips_per_s: ceiling of 16x112x112 clips per second the data path feeds one GPU
            (what ``benchmarks/data_path.py`` measures); smaller clips count by their pixels.
    """

    tflops: float = 50.0
    clips_per_s: float = 1000.0


@dataclass(frozen=True)
class Passes:
    """Clips per video of one pre-training step, in clip-equivalents of the config's T x S x S.

    Args:
        grad: through backbones with gradients (the trained one).
        frozen: through backbones without gradients (momentum encoders).
        loaded: clip-equivalents the loader reads per video (frames sampled / T).
    """

    grad: float
    frozen: float
    loaded: float


@dataclass(frozen=True)
class Workload:
    """One training or inference job of the estimate.

    Args:
        kind: "pretrain", "finetune", "linear", "inference" or "distill".
        key: identity for counting each job once (a config hash, or derived from one).
        backbone: the trained (or evaluated) backbone.
        clip: (C, T, H, W) of one clip.
        videos: videos per epoch. epochs: passes over them.
        grad_clips: clip-equivalents per video through ``backbone`` with gradients.
        frozen: (backbone, clip-equivalents per video) run without gradients.
        loaded: clip-equivalents read per video.
    """

    kind: str
    key: str
    backbone: str
    clip: tuple[int, int, int, int]
    videos: int
    epochs: int
    grad_clips: float = 1.0
    frozen: tuple[tuple[str, float], ...] = ()
    loaded: float = 1.0

    def flops(self) -> float:
        """Total FLOPs (module docstring)."""
        per_video = TRAIN_FACTOR * self.grad_clips * backbone_gmacs(self.backbone, self.clip)
        per_video += sum(clips * backbone_gmacs(name, self.clip) for name, clips in self.frozen)
        return FLOPS_PER_MAC * 1e9 * per_video * self.videos * self.epochs

    def gpu_hours(self, throughput: Throughput = Throughput()) -> float:
        """Hours on one GPU: the larger of compute time and data time."""
        compute = self.flops() / (throughput.tflops * 1e12)
        data = self.loaded * _pixels(self.clip) / _pixels(PAPER_CLIP) * self.videos * self.epochs
        data /= throughput.clips_per_s
        return max(compute, data) / 3600.0


# --------------------------------------------------------------------------- measured parts


@functools.cache
def backbone_gmacs(backbone: str, clip: tuple[int, int, int, int] = PAPER_CLIP, width: float = 1.0) -> float:
    """Giga multiply-adds of one forward pass of ``backbone`` (full width) over one clip (C, T, H, W)."""
    from sslvid.backbones import create_backbone
    from sslvid.backbones.cost import count_flops

    with torch.device("meta"):
        model = create_backbone(backbone, num_classes=0, width=width)
    return count_flops(model, clip) / 1e9


def measure_passes(task: str, task_kwargs: Mapping[str, Any] | None = None, videos: int = 4) -> Passes:
    """Count the clips that one step of ``task`` sends through its backbones, per video.

    Runs the task once at smoke size (``PASS_BACKBONE``, random frames) with a pre-hook on
    each backbone's first block; counts are in clip-equivalents of the config's frames and
    crop (a clip of 2T frames counts 2), with and without gradients.

    Raises:
        ValueError: for an unknown task or invalid ``task_kwargs``.
    """
    return _measure_passes(task, json.dumps(dict(task_kwargs or {}), sort_keys=True), videos)


@functools.cache
def _measure_passes(task: str, kwargs_json: str, videos: int) -> Passes:
    from sslvid.data.dataset import VideoClipDataset, collate_clips
    from sslvid.engine.config import PretrainConfig
    from sslvid.engine.pretrain import build_backbone, build_task
    from sslvid.scale.synthetic import RandomFrames, synthetic_index

    config = PretrainConfig.for_profile(
        "smoke", task=task, backbone=PASS_BACKBONE, task_kwargs=json.loads(kwargs_json), device="cpu"
    )
    torch.manual_seed(0)
    module = build_task(config).train()
    source = RandomFrames(videos, frames=300, size=config.cache_size)
    dataset = VideoClipDataset(synthetic_index(videos), module.clip_sampler(), source=source)
    batch = collate_clips([dataset[i] for i in range(videos)])
    batch = {k: v for k, v in batch.items() if k not in ("failed", "size")}
    calls: list[tuple[torch.nn.Module, tuple[int, ...], bool]] = []
    handles = [
        first.register_forward_pre_hook(
            lambda _m, args, net=net: calls.append((net, tuple(args[0].shape), torch.is_grad_enabled()))
        )
        for net, first in _leaf_backbones(module)
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only spin against each other
    try:
        module(batch)
    finally:
        torch.set_num_threads(threads)
        for handle in handles:
            handle.remove()
    reference = build_backbone(config)
    unit = config.frames * config.crop_size**2
    counts = {True: 0.0, False: 0.0}
    for net, shape, grad in calls:
        clip_eq = shape[0] * shape[2] * shape[3] * shape[4] / unit
        counts[grad] += clip_eq * _mac_share(net, reference, shape)
    clips = batch["clips"]  # (B, K, T', H, W, 3)
    loaded = clips.shape[1] * clips.shape[2] / config.frames
    return Passes(grad=counts[True] / videos, frozen=counts[False] / videos, loaded=loaded)


def _leaf_backbones(module: torch.nn.Module) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
    """(backbone, its first block) for every backbone in ``module`` that holds no other backbone."""

    def first_block(m: torch.nn.Module) -> torch.nn.Module | None:
        names = getattr(m, "block_names", None)
        block = getattr(m, names[0], None) if names else None
        return block if isinstance(block, torch.nn.Module) else None

    found = [(m, block) for m in module.modules() if (block := first_block(m)) is not None]
    return [(m, block) for m, block in found if not any(o is not m and first_block(o) is not None for o in m.modules())]


def _mac_share(net: torch.nn.Module, reference: torch.nn.Module, shape: tuple[int, ...]) -> float:
    """MACs of ``net`` on a clip of ``shape`` over those of ``reference`` (the named backbone) on an RGB clip."""
    from sslvid.backbones.cost import count_flops

    c, t, h, w = shape[1:]
    if (
        net is not reference
        and type(net) is type(reference)
        and sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in reference.parameters())
        and c == 3
    ):
        return 1.0  # a copy (momentum encoder) of the named network
    return count_flops(net, (c, t, h, w)) / max(1, count_flops(reference, (3, t, h, w)))


def _pixels(clip: Sequence[int]) -> int:
    return int(clip[1] * clip[2] * clip[3])


def config_clip(config: Any) -> tuple[int, int, int, int]:
    """(C, T, H, W) of the clips of a ``PretrainConfig``."""
    return (3, config.frames, config.crop_size, config.crop_size)


def pretrain_workload(config: Any) -> Workload:
    """The workload of a ``PretrainConfig`` (videos from its dataset's classes and subset).

    Raises:
        KeyError: for a dataset whose size is not in ``PRETRAIN_CLASSES`` / ``PRETRAIN_VIDEOS``.
    """
    passes = measure_passes(config.task, config.task_kwargs)
    if isinstance(config.subset_per_class, int):
        videos = config.subset_per_class * PRETRAIN_CLASSES[config.dataset]
    else:
        videos = PRETRAIN_VIDEOS[config.dataset]
    frozen = ((config.backbone, passes.frozen),) if passes.frozen else ()
    return Workload(
        "pretrain",
        config.config_hash(),
        config.backbone,
        config_clip(config),
        videos,
        config.epochs,
        grad_clips=passes.grad,
        frozen=frozen,
        loaded=passes.loaded,
    )


# --------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Evaluation:
    """Downstream work on (some of) a chapter's pre-trained models.

    Args:
        kind: "finetune" (whole network), "linear" (frozen backbone, linear head) or
            "inference" (forward passes only: noise robustness, retrieval features).
        datasets: downstream sets (``DOWNSTREAM``).
        epochs: training epochs (1 for inference).
        checkpoints: pre-training epochs whose weights are evaluated (None: the final ones).
        where: only models whose description matches, e.g. ``{"task": ("rspnet",)}``.
        clips: clips per video (test-time clips for inference).
        repeats: evaluations per model and set (noise types x severities).
        split: "train" (training), "test" or "all" (inference over test, or train + test).
    """

    kind: str
    datasets: tuple[str, ...]
    epochs: int = 100
    checkpoints: tuple[int | None, ...] = (None,)
    where: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    clips: int = 1
    repeats: int = 1
    split: str = "train"

    def workloads(self, config: Any) -> list[Workload]:
        """The jobs of this evaluation on the model of ``config`` (none when ``where`` excludes it)."""
        from sslvid.scale.sweep import PretrainJob

        described = PretrainJob(config).describe()
        if any(described.get(k) not in values for k, values in self.where.items()):
            return []
        jobs = []
        for dataset in self.datasets:
            train, test = DOWNSTREAM[dataset]
            videos = {"train": train, "test": test, "all": train + test}[self.split]
            for epoch in self.checkpoints:
                tag = None if epoch in (None, config.epochs) else epoch
                key = f"{self.kind}:{config.config_hash()}:{tag}:{dataset}:{self.repeats}"
                jobs.append(self._workload(key, config.backbone, config_clip(config), videos))
        return jobs

    def _workload(self, key: str, backbone: str, clip: tuple[int, int, int, int], videos: int) -> Workload:
        n = self.clips * self.repeats
        if self.kind == "finetune":
            return Workload(
                "finetune", key, backbone, clip, videos, self.epochs, grad_clips=self.clips, loaded=self.clips
            )
        if self.kind == "linear":
            return Workload(
                "linear",
                key,
                backbone,
                clip,
                videos,
                self.epochs,
                grad_clips=0.0,
                frozen=((backbone, float(self.clips)),),
                loaded=self.clips,
            )
        return Workload(
            "inference", key, backbone, clip, videos, 1, grad_clips=0.0, frozen=((backbone, float(n)),), loaded=n
        )


@dataclass(frozen=True)
class Distillation:
    """Knowledge-distillation trainings of a chapter: a student trained on a downstream set under frozen teachers.

    Args:
        label: what they are (for the key).
        student: the student backbone. teachers: the teachers' backbones.
        datasets: downstream sets. count: how many such trainings (per dataset). epochs: training epochs.
    """

    label: str
    student: str
    teachers: tuple[str, ...]
    datasets: tuple[str, ...] = ("ucf101",)
    count: int = 1
    epochs: int = 100

    def workloads(self) -> list[Workload]:
        frozen = tuple((t, 1.0) for t in self.teachers)
        return [
            Workload(
                "distill",
                f"distill:{self.label}:{dataset}:{i}",
                self.student,
                PAPER_CLIP,
                DOWNSTREAM[dataset][0],
                self.epochs,
                grad_clips=1.0,
                frozen=frozen,
            )
            for dataset in self.datasets
            for i in range(self.count)
        ]


@dataclass(frozen=True)
class ChapterPlan:
    """A chapter of the book at paper scale: its grid, and what it does with the models.

    Args:
        name: chapter key. tables: the paper's tables and figures it reproduces.
        grid: its pre-training grid.
        evaluations: downstream work on the grid's models.
        distillations: its distillation trainings.
    """

    name: str
    tables: str
    grid: Grid
    evaluations: tuple[Evaluation, ...] = ()
    distillations: tuple[Distillation, ...] = ()


_EPOCHS = (50, 100, 150, None)  # checkpoints of a 200-epoch run (Tables 3, 4)
_SHUFFLE, _R21D = "shufflenet3d", "r2plus1d_18"

CHAPTERS: tuple[ChapterPlan, ...] = (
    ChapterPlan(
        "preliminaries",
        "Table 1, §4.1, §6",
        PAPER_GRIDS["preliminaries"],
        (
            Evaluation("finetune", ("ucf101",)),
            Evaluation("linear", ("ucf101",), where={"task": ("vcop", "rotnet", "prp"), "backbone": (_SHUFFLE, _R21D)}),
        ),
    ),
    ChapterPlan(
        "subset_duration",
        "Tables 2-4, Fig. 2",
        PAPER_GRIDS["subset_duration"],
        (
            Evaluation("finetune", ("ucf101",)),
            Evaluation(
                "finetune", ("ucf101",), checkpoints=_EPOCHS, where={"task": ("rspnet",), "backbone": (_SHUFFLE, _R21D)}
            ),
            Evaluation(
                "finetune", ("ucf101",), checkpoints=_EPOCHS, where={"backbone": (_R21D,), "subset_per_class": (125,)}
            ),
        ),
    ),
    ChapterPlan("task_complexity", "Table 5", PAPER_GRIDS["task_complexity"], (Evaluation("finetune", ("ucf101",)),)),
    ChapterPlan("ood", "Table 6", PAPER_GRIDS["ood"], (Evaluation("finetune", ("ucf101", "diving48")),)),
    ChapterPlan(
        "noise",
        "Table 7",
        PAPER_GRIDS["noise"],
        (Evaluation("inference", ("ucf101",), clips=10, repeats=4 * 5, split="test"),),
    ),
    ChapterPlan(
        "distillation",
        "Table 8, §5",
        PAPER_GRIDS["distillation"],
        (
            Evaluation("finetune", ("ucf101", "hmdb51"), where={"task": ("rspnet",)}),
            Evaluation("finetune", ("ucf101",)),
        ),
        (
            Distillation("subset", _SHUFFLE, (_SHUFFLE, _R21D), ("ucf101", "hmdb51"), count=4),
            Distillation("complexity-shufflenet", _SHUFFLE, (_SHUFFLE,) * 3, count=3),
            Distillation("complexity-r21d", _R21D, (_R21D,) * 3, count=3),
            Distillation("ood", _R21D, (_R21D,) * 2, count=2),
            Distillation("categories", _R21D, (_R21D,) * 2, count=2),
        ),
    ),
    ChapterPlan(
        "downstream",
        "Table 9, Fig. 4",
        PAPER_GRIDS["downstream"],
        (
            Evaluation("finetune", ("ucf101", "hmdb51"), where={"task": ("rspnet",), "dataset": ("kinetics400",)}),
            Evaluation("inference", ("ucf101", "hmdb51"), clips=10, split="all"),
        ),
    ),
    ChapterPlan(
        "lightweight",
        "lightweight study, Table 1, Figs. 1-2",
        PAPER_GRIDS["lightweight"],
        (Evaluation("finetune", ("stl10",), epochs=30, checkpoints=tuple(range(10, 201, 10))),),
    ),
)
"""The book's paper-scale chapters in reading order (assumptions in ``book/paper_scale.md``)."""


def chapter_workloads(plan: ChapterPlan, data_roots: Mapping[str, str] | None = None) -> list[Workload]:
    """Every job of one chapter (pre-training, evaluations, distillations), duplicates included."""
    from sslvid.scale.sweep import PretrainJob, expand_grid

    jobs = expand_grid(plan.grid, "paper", data_roots=data_roots)
    configs = [cast(PretrainJob, job).config for job in jobs]  # the chapters' grids are of pre-training jobs
    work = [pretrain_workload(c) for c in configs]
    work += [w for ev in plan.evaluations for c in configs for w in ev.workloads(c)]
    work += [w for d in plan.distillations for w in d.workloads()]
    return work


def estimate_chapters(
    chapters: Sequence[ChapterPlan] = CHAPTERS, throughput: Throughput = Throughput()
) -> pd.DataFrame:
    """One row per chapter, then a total: jobs of each kind it needs, new ones, and GPU-hours of the new ones.

    Columns: chapter, tables, pretrain runs (in its grid), new pretrain runs (not needed by an
    earlier chapter), new downstream jobs (finetune, linear, inference, distill), then GPU-hours
    of its new pre-training, new downstream jobs and both.
    """
    seen: set[str] = set()
    rows = []
    for plan in chapters:
        work = chapter_workloads(plan)
        new = _first_time(work, seen)
        pre = [w for w in work if w.kind == "pretrain"]
        new_pre = [w for w in new if w.kind == "pretrain"]
        down = [w for w in new if w.kind != "pretrain"]
        rows.append(
            {
                "chapter": plan.name,
                "tables": plan.tables,
                "pretrain runs": len({w.key for w in pre}),
                "new pretrain runs": len(new_pre),
                "new downstream jobs": len(down),
                "pretrain GPU-h": _hours(new_pre, throughput),
                "downstream GPU-h": _hours(down, throughput),
            }
        )
    table = pd.DataFrame(rows)
    table["GPU-h"] = table["pretrain GPU-h"] + table["downstream GPU-h"]
    total = {"chapter": "total", "tables": "", **{c: table[c].sum() for c in table.columns[2:]}}
    total["pretrain runs"] = total["new pretrain runs"]
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def _first_time(work: Iterable[Workload], seen: set[str]) -> list[Workload]:
    new = []
    for w in work:
        if w.key not in seen:
            seen.add(w.key)
            new.append(w)
    return new


def _hours(work: Iterable[Workload], throughput: Throughput) -> float:
    return float(sum(w.gpu_hours(throughput) for w in work))


def run_costs(
    tasks: Sequence[str],
    backbones: Sequence[str],
    videos: int = 50_000,
    epochs: int = 200,
    clip: tuple[int, int, int, int] = PAPER_CLIP,
    throughput: Throughput = Throughput(),
) -> pd.DataFrame:
    """GPU-hours of one pre-training run per task and backbone (default: K400-50k, 200 epochs, 16x112x112).

    Columns: task, backbone, GMACs/clip, grad clips, frozen clips (per video and step),
    TFLOP/epoch, GPU-h.
    """
    rows = []
    for task in tasks:
        passes = measure_passes(task)
        for backbone in backbones:
            frozen = ((backbone, passes.frozen),) if passes.frozen else ()
            w = Workload(
                "pretrain", f"{task}/{backbone}", backbone, clip, videos, epochs, passes.grad, frozen, passes.loaded
            )
            rows.append(
                {
                    "task": task,
                    "backbone": backbone,
                    "GMACs/clip": backbone_gmacs(backbone, clip),
                    "grad clips": passes.grad,
                    "frozen clips": passes.frozen,
                    "TFLOP/epoch": w.flops() / epochs / 1e12,
                    "GPU-h": w.gpu_hours(throughput),
                }
            )
    return pd.DataFrame(rows)


CACHE_BYTES_PER_PIXEL = {"uint8": 3.0, "jpeg": 0.23}
"""Bytes per pixel of a cached frame: uint8 RGB, and the jpeg format (quality 85, 4:2:0) as
measured at 128x171 on real camera footage, the ASL gesture clips (7.7% of uint8,
``benchmarks/clip_cache_formats.py``). Busier scenes (Kinetics) compress less: a floor, not a quote."""


def cache_gigabytes(
    videos: int, frames_per_video: int = 250, size: tuple[int, int] = (128, 171), cache_format: str = "uint8"
) -> float:
    """Size of a decoded-clip cache (frames at ``size`` in ``cache_format``) in GB (1e9 bytes).

    250 frames is a 10 s Kinetics clip at 25 fps; ``prepare_cache(max_frames=...)`` keeps fewer.

    Raises:
        ValueError: for an unknown format, listing the valid ones.
    """
    if cache_format not in CACHE_BYTES_PER_PIXEL:
        raise ValueError(f"unknown cache_format {cache_format!r}; valid: {', '.join(CACHE_BYTES_PER_PIXEL)}")
    return videos * frames_per_video * size[0] * size[1] * CACHE_BYTES_PER_PIXEL[cache_format] / 1e9
