"""Distil through the engine: ``distill(DistillConfig)`` trains (or finds) a run, tests it, files the numbers.

    DistillConfig -> teachers (run store: finetuned through sslvid.evaluate, or pretext runs)
      -> student (scratch or a pre-training run's weights) -> distiller (sslvid.distill registry)
      -> clip cache -> VideoClipDataset -> Trainer (checkpoints, resume, progress, AMP, DDP)
      -> test clips (uniform K per video, centre crop) -> per-video outcomes, results table

Runs are filed in the run store under the config hash (``config.json``, ``log.csv``,
checkpoints, ``final.pt`` with the student under ``"backbone"``), and found there again.
Numbers go into the results table (``sslvid.store.results``):

* the classifier methods: ``top1_clip`` and ``top1_video`` of task ``action_recognition``,
  protocol ``distill:<method>``, measured like ``sslvid.evaluate`` measures a finetuning
  (same test clips, crops and metrics), with the per-test-video outcomes behind ``top1_video``
  kept in the run's folder (``sslvid.store.outcomes``) for paired comparisons with the teachers;
* PCL-KD (no classifier; its representation is the result): clip retrieval ``hit@k`` of the
  student's features on the labelled set after every checkpoint (``pretrain_epochs`` is the
  epoch), the per-epoch accuracy of the convergence plots (Camarena et al. 2022, Figs. 4-9); at the
  last epoch, each test video's hit at k (its clips' mean feature among the training videos', VCOP's
  video-level search) is kept in the run's folder under the condition ``video_hit@<k>``
  (``retrieval_condition``), for paired comparisons of two runs over the test videos.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from sslvid.backbones import VideoBackbone, create_backbone
from sslvid.data.dataset import FailureTracker, FrameSource, VideoClipDataset
from sslvid.data.records import VideoIndex
from sslvid.data.sampling import ClipSampler
from sslvid.data.sources import open_split
from sslvid.distill.base import Distiller, create_distiller, distiller_class
from sslvid.distill.config import SCRATCH, DistillConfig, TeacherRef
from sslvid.distill.teachers import check_teacher_datasets, load_teachers
from sslvid.engine.config import PretrainConfig
from sslvid.engine.distributed import DistInfo, barrier, env_info, main_process_first
from sslvid.engine.pretrain import FailureHook, build_source, find_pretrained
from sslvid.engine.runner import (
    Job,
    Session,
    Workspace,
    check_batch_split,
    clip_loader,
    config_trainer,
    describe_device,
    run_session,
    train_once,
)
from sslvid.engine.trainer import Hooks, Trainer
from sslvid.seeding import derive_seed, seed_everything
from sslvid.store.outcomes import VideoOutcomes, write_outcomes
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunHandle, RunStore, collect_provenance

log = logging.getLogger(__name__)

CLASSIFY_TASK = "action_recognition"
CLASSIFY_METRICS = ("top1_clip", "top1_video")
RETRIEVAL_TASK = "retrieval"
RETRIEVAL_KS = (1, 5, 10)


def retrieval_condition(k: int) -> str:
    """The outcomes condition of a run's per-test-video hits at ``k`` (``sslvid.store.outcomes``)."""
    return f"video_hit@{k}"


@dataclass
class DistillResult:
    """A finished distillation run and its numbers.

    Args:
        config: the run's config.
        run: its folder in the run store.
        log: the per-epoch table (epoch, loss, acc, the method's terms, lr, seconds...).
        rows: its rows of the results table.
        cached: True when it was found in the store and nothing was trained.
    """

    config: DistillConfig
    run: RunHandle
    log: pd.DataFrame
    rows: pd.DataFrame
    cached: bool

    @property
    def key(self) -> str:
        """The config hash the run is filed under."""
        return self.run.key

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    def metric(self, name: str = "top1_video", epoch: int | None = None) -> float:
        """One number of the run (e.g. ``top1_video``, ``hit@1``), of the final or of a checkpoint epoch.

        Raises:
            KeyError: if the run has no such number.
        """
        rows = self.rows[self.rows["metric"] == name]
        if epoch is not None:
            rows = rows[rows["pretrain_epochs"] == epoch]
        elif "pretrain_epochs" in rows and rows["pretrain_epochs"].notna().any():
            rows = rows[rows["pretrain_epochs"] == rows["pretrain_epochs"].max()]
        if rows.empty:
            raise KeyError(f"run {self.key} has no {name!r}" + (f" at epoch {epoch}" if epoch else ""))
        return float(rows["value"].iloc[-1])

    def student(self, epoch: int | None = None) -> VideoBackbone:
        """The trained student (with its classifier) on the CPU in eval mode: final, or a checkpoint's.

        Raises:
            ValueError: for a method without a student (fusion, ensemble).
            FileNotFoundError: if there is no checkpoint of ``epoch``.
        """
        if not distiller_class(self.config.method).needs_student:
            raise ValueError(f"method {self.config.method!r} has no student")
        num_classes = int(self.run.load_final().get("num_classes", 0))
        model = _fresh_student(self.config, num_classes)
        model.load_state_dict(self.run.load_backbone(epoch))
        return model.eval()


# ---------------------------------------------------------------------- entry points


def find_distilled(
    config: DistillConfig, store: RunStore | None = None, results: ResultsStore | None = None
) -> DistillResult | None:
    """The complete run of ``config`` with its numbers, or None (nothing is built or trained)."""
    store, results = store or RunStore(), results or ResultsStore()
    run = store.find(config)
    if run is None:
        return None
    return DistillResult(config, run, run.read_log(), _stored_rows(config, results), cached=True)


def distill(
    config: DistillConfig,
    store: RunStore | None = None,
    results: ResultsStore | None = None,
    progress: bool = True,
    workspace: Workspace | None = None,
) -> DistillResult:
    """Distil ``config`` unless the store holds it; resume a partial run; test it and file its numbers.

    Args:
        config: the run (validated on construction).
        store: the run store, holding the teachers' runs too (default ``RunStore()``).
        results: the results table (default ``ResultsStore()``).
        progress: show progress bars (rank 0 only).
        workspace: where to read and write instead of ``store``, ``results`` and ``progress``.

    Raises:
        FileNotFoundError: for a teacher whose pre-training run is missing (and not given).
        ValueError: for a classifier teacher trained on another dataset than the student's
            (checked before any teacher or student trains), splits with different classes, or a
            batch size the processes do not divide.
        RuntimeError: when too many videos cannot be read.
    """
    space = Workspace.of(store, results, progress=progress, workspace=workspace)
    store, results, progress = space.store, space.results, space.progress
    check_batch_split(config, env_info())
    found = find_distilled(config, store, results)
    if found is not None and _has_numbers(config, found.rows):
        log.info("distill %s: found in %s", found.key, found.run_dir)
        return found
    check_teacher_datasets(config)
    teachers = load_teachers(
        config.teachers, store, results, progress=progress and env_info().is_main, distilled=distilled_teacher
    )
    with run_session(config) as session:
        distiller, cached = _train(config, store, teachers, session, progress)
        if session.info.is_main:
            _test(config, distiller, store, results, session.device, progress)
        barrier(session.info)
    run = store.run(config)
    return DistillResult(config, run, run.read_log(), _stored_rows(config, results), cached=cached)


# ---------------------------------------------------------------------- building


def distilled_teacher(
    ref: TeacherRef, store: RunStore, results: ResultsStore | None = None, progress: bool = False
) -> nn.Module:
    """The student of the distillation run of ``ref`` (trained first if missing): its classifier,
    or, for a student without one (PCL-trained), the teacher its distiller's ``as_teacher`` makes.

    Raises:
        ValueError: for a distilled student with neither a classifier nor ``as_teacher``.
    """
    result = distill(ref.distill, store=store, results=results, progress=progress)
    if ref.output == "classes":
        return result.student().eval()
    model = load_distiller(result, teachers=[])
    as_teacher = getattr(model, "as_teacher", None)
    if as_teacher is None:
        raise ValueError(f"the student of {ref.distill.method!r} has no pretext head to distil from")
    return as_teacher().eval()


def load_distiller(result: DistillResult, teachers: list[nn.Module] | None = None) -> Distiller:
    """The trained distiller of a finished run (student, heads, graph weights) on the CPU in eval mode.

    Args:
        result: the finished run.
        teachers: the teachers to attach (None: load them from the store; ``[]`` for a method
            that takes none, e.g. to read a PCL-trained student's rotation head).

    Raises:
        ValueError: for a teacher count the method does not take.
    """
    store = RunStore(result.run.dir.parent)
    if teachers is None:
        teachers = load_teachers(result.config.teachers, store, distilled=distilled_teacher)
    distiller = build_distiller(result.config, teachers, int(result.run.load_final().get("num_classes", 0)), store)
    _load_final(distiller, result.run)
    return distiller.eval()


def open_training_split(config: DistillConfig, split: str) -> tuple[VideoIndex, FrameSource]:
    """The ``split`` of the config's dataset and its clip cache (built once, then memory-mapped).

    Raises:
        DatasetChangedError: when the videos changed after the config's hash was computed.
    """
    index = open_split(
        config.dataset, split, config.fold, config.data_root, profile=config.profile, seed=config.data_seed
    )
    config.check_split_unchanged(index)
    return index, build_source(index, config, workers=config.num_workers or 1)


def build_student(config: DistillConfig, num_classes: int, store: RunStore) -> VideoBackbone | None:
    """The student before training: random (seeded by ``derive_seed(seed, "init")``) or pre-trained weights.

    Raises:
        FileNotFoundError: if ``student_source`` is not a complete run in ``store``.
        ValueError: if that run trained another backbone or width.
    """
    if config.student is None:
        return None
    model = _fresh_student(config, num_classes)
    if config.student_source == SCRATCH:
        return model
    run = store.find(config.student_source)
    if run is None:
        raise FileNotFoundError(f"no complete pre-training run {config.student_source} in {store.root}")
    pre = PretrainConfig.from_dict(run.config())
    if (pre.backbone, pre.width) != (config.student, config.width):
        raise ValueError(
            f"run {config.student_source} trained {pre.backbone} at width {pre.width}, "
            f"the student is {config.student} at width {config.width}"
        )
    weights = find_pretrained(pre, store).backbone().state_dict()
    model.load_state_dict({**model.state_dict(), **weights})
    return model


def _fresh_student(config: DistillConfig, num_classes: int) -> VideoBackbone:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, "init"))
        head = num_classes if distiller_class(config.method).student_head else 0
        return create_backbone(config.student, num_classes=head, width=config.width, **config.student_kwargs)


def build_distiller(
    config: DistillConfig, teachers: list[nn.Module], num_classes: int, store: RunStore | None = None
) -> Distiller:
    """The config's distiller over a fresh student and the loaded ``teachers`` (on the CPU).

    Raises:
        ValueError: for invalid method knobs or a wrong number of teachers.
    """
    cls = distiller_class(config.method)
    student = build_student(config, num_classes, store or RunStore())
    from sslvid.evaluate.config import NO_FLIP_DATASETS

    kwargs: dict[str, Any] = {
        "crop_size": config.crop_size,
        "frames": config.frames,
        "flip": config.dataset not in NO_FLIP_DATASETS,
        **config.method_kwargs,
    }
    if "num_classes" in inspect.signature(cls.__init__).parameters:
        kwargs["num_classes"] = num_classes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, "heads"))
        return create_distiller(config.method, student=student, teachers=teachers, **kwargs)


def build_trainer(
    config: DistillConfig,
    distiller: Distiller,
    index: VideoIndex,
    source: FrameSource,
    run: RunHandle | None,
    info: DistInfo,
    device: torch.device,
    progress: bool = True,
) -> Trainer:
    """The engine's trainer of ``distiller`` (already on ``device``) over the training videos."""
    sampler = distiller.clip_sampler(config.frames)
    dataset = VideoClipDataset(index, sampler, source=source, seed=config.seed)
    loader = clip_loader(dataset, config, info, device)
    failures = FailureHook(FailureTracker(config.max_failure_fraction, index), info)
    hooks = Hooks(prepare=failures.prepare, after_step=distiller.after_step, end_epoch=failures.end_epoch)
    desc = f"distill/{config.method}/{config.student or 'teachers'}"
    return config_trainer(config, distiller, loader, run, info, device, hooks, progress and info.is_main, desc)


# ---------------------------------------------------------------------- training


def _train(
    config: DistillConfig, store: RunStore, teachers: list[nn.Module], session: Session, progress: bool
) -> tuple[Distiller, bool]:
    """Train unless complete (``train_once``); return the trained distiller on the device and
    whether it was found complete."""
    info, device = session.info, session.device
    run = store.run(config)
    with main_process_first(info):
        index, source = open_training_split(config, config.train_split)
    num_classes = _num_classes(config, index)
    seed_everything(config.seed)
    distiller = build_distiller(config, teachers, num_classes, store).to(device)

    def job() -> Job:
        trainer = (
            build_trainer(config, distiller, index, source, run, info, device, progress)
            if _trainable(distiller)
            else None
        )  # model fusion trains nothing

        def final_state() -> dict[str, Any]:
            epoch, step = (trainer.epoch, trainer.step) if trainer is not None else (0, 0)
            return _final_state(distiller, num_classes, epoch, step)

        return Job(
            trainer,
            final_state,
            videos=len(index),
            provenance={"teachers": [t.key() for t in config.teachers]},
            summary=lambda table: {"final_train_acc": float(table["acc"].iloc[-1]) if len(table) else None},
            check=lambda: _check_stored_config(run),
        )

    outcome = train_once(config, run, session, job, record={"kind": DistillConfig.KIND})
    if outcome.cached:
        _load_final(distiller, run)
    elif info.is_main:
        log.info("distill %s: done in %s", run.key, run.dir)
    return distiller, outcome.cached


def _num_classes(config: DistillConfig, index: VideoIndex) -> int:
    labels = index.labels()
    if distiller_class(config.method).student_head and len(labels) and (labels < 0).any():
        raise ValueError(f"{config.dataset}/{config.train_split} has unlabelled videos; {config.method!r} needs labels")
    return int(index.num_classes)


def _trainable(module: nn.Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def _final_state(distiller: Distiller, num_classes: int, epoch: int, step: int) -> dict[str, Any]:
    """``final.pt``: the student's state dict, the rest of the distiller's (heads, graph edges), counts."""
    rest = {k: v for k, v in distiller.state_dict().items() if not k.startswith("backbone.")}
    return {
        "backbone": distiller.backbone.state_dict(),
        "task": rest,
        "num_classes": num_classes,
        "epoch": epoch,
        "step": step,
    }


def _load_final(distiller: Distiller, run: RunHandle) -> None:
    final = run.load_final()
    state = {**{f"backbone.{k}": v for k, v in final["backbone"].items()}, **final["task"]}
    distiller.load_state_dict(state)


def _check_stored_config(run: RunHandle) -> None:
    """Refuse to resume a folder whose stored config does not hash to its name.

    Raises:
        ValueError: for a hash collision, or a config stored under older hash rules.
    """
    if run.exists and DistillConfig.from_dict(run.config()).config_hash() != run.key:
        raise ValueError(f"{run.dir} holds a config that does not hash to {run.key}; move the folder away")


# ---------------------------------------------------------------------- testing


class _Scores(nn.Module):
    """Shows a distiller's ``predict`` (class logits) as ``forward_features``, for the evaluation's extractor."""

    def __init__(self, distiller: Distiller) -> None:
        super().__init__()
        self.distiller = distiller

    def forward_features(self, x: Tensor) -> Tensor:
        return self.distiller.predict(x)


def _test(
    config: DistillConfig,
    distiller: Distiller,
    store: RunStore,
    results: ResultsStore,
    device: torch.device,
    progress: bool,
) -> pd.DataFrame:
    """Score the test set (classifier methods: per-video outcomes into the run's folder, then the rows) or
    the checkpoints' retrieval (PCL-KD); upsert the rows."""
    if not distiller_class(config.method).student_head and distiller_class(config.method).needs_student:
        return test_checkpoints(config, store, results, device, progress)
    from sslvid.evaluate.features import unreadable_videos
    from sslvid.evaluate.metrics import clip_top1, video_correct, video_top1

    test_index, test_source = open_training_split(config, config.test_split)
    feats = _clip_outputs(config, _Scores(distiller.eval()), test_index, test_source, device, progress)
    metrics = {
        "top1_clip": clip_top1(feats.features, feats.labels),
        "top1_video": video_top1(feats.features, feats.labels, feats.videos),
    }
    log.info("distill %s: %s", config.config_hash(), {k: round(v, 2) for k, v in metrics.items()})
    card = _card(
        config,
        device,
        test_videos=feats.num_videos,
        test_clips_scored=len(feats),
        unreadable_videos=unreadable_videos((test_index, feats)),
    )
    ids, correct = video_correct(feats.features, feats.labels, feats.videos)
    names = [test_index.records[int(i)].video_id for i in ids]
    kept = VideoOutcomes.of(config.config_hash(), "top1_video", names, correct.tolist())
    write_outcomes(store.run(config), kept)  # before the rows: a run found by its rows has them unless older
    return results.upsert(_rows(config, CLASSIFY_TASK, metrics, card))


def test_checkpoints(
    config: DistillConfig,
    store: RunStore | None = None,
    results: ResultsStore | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    ks: tuple[int, ...] = RETRIEVAL_KS,
) -> pd.DataFrame:
    """Clip retrieval hit@k of the student's features after every checkpoint epoch (and at the end).

    The per-epoch accuracy of a representation without a classifier (PCL-KD): test clips query
    the training clips of the labelled set by cosine similarity (``sslvid.evaluate.metrics``);
    hit@1 is the 1-nearest-neighbour accuracy. Rows are keyed ``<config hash>/e<epoch>``.

    At the last epoch every test video also queries the training videos with its clips' mean feature
    (VCOP's video-level search, ``sslvid.evaluate.retrieval``): whether it hits at each k is kept in the
    run's folder (``retrieval_condition``, written before the rows), so two runs compare paired over the
    test videos. A video's clips are not independent queries, which is why the clip-level rows get no
    outcomes of their own.

    Raises:
        FileNotFoundError: if the run is not complete.
    """
    from sslvid.evaluate.metrics import hits_at_k

    store, results, device = store or RunStore(), results or ResultsStore(), torch.device(device)
    run = store.find(config)
    if run is None:
        raise FileNotFoundError(f"distillation {config.config_hash()} is not complete in {store.root}")
    train, test = open_training_split(config, config.train_split), open_training_split(config, config.test_split)
    result = DistillResult(config, run, run.read_log(), pd.DataFrame(), cached=True)
    epochs = sorted(set(run.checkpoints()) | {int(run.load_final()["epoch"])})
    rows = []
    for epoch in epochs:
        backbone = result.student(None if epoch == max(epochs) else epoch)
        gallery = _clip_outputs(config, backbone, *train, device, progress)
        queries = _clip_outputs(config, backbone, *test, device, progress)
        hits = hits_at_k(
            queries.features, queries.labels, gallery.features, gallery.labels, [k for k in ks if k <= len(gallery)]
        )
        card = _card(config, device, epoch=epoch, gallery_clips=len(gallery), query_clips=len(queries))
        if epoch == max(epochs):
            _keep_video_hits(config, run, test[0], queries, gallery, ks)
        rows += _rows(config, RETRIEVAL_TASK, {f"hit@{k}": v for k, v in hits.items()}, card, epoch)
    return results.upsert(rows)


def _keep_video_hits(
    config: DistillConfig, run: RunHandle, test_index: VideoIndex, queries: Any, gallery: Any, ks: tuple[int, ...]
) -> None:
    """Write each test video's hit at every k (up to the training videos) as outcomes of ``run``."""
    from sslvid.evaluate.metrics import first_hit_ranks, video_features

    items, labels = video_features(queries.features, queries.labels, queries.videos)  # increasing video order
    train_items, train_labels = video_features(gallery.features, gallery.labels, gallery.videos)
    ranks = first_hit_ranks(items, labels, train_items, train_labels, max(ks))
    names = [test_index.records[int(i)].video_id for i in torch.unique(queries.videos)]
    for k in (k for k in ks if k <= len(train_items)):
        hit = (ranks < k).tolist()
        write_outcomes(
            run, VideoOutcomes.of(config.config_hash(), retrieval_condition(k), names, hit, retrieval_condition(k))
        )


def _clip_outputs(
    config: DistillConfig,
    model: nn.Module,
    index: VideoIndex,
    source: FrameSource,
    device: torch.device,
    progress: bool,
) -> Any:
    """``model.forward_features`` of ``test_clips`` uniform centre-cropped clips per video (``sslvid.evaluate``)."""
    from sslvid.evaluate.features import extract_clip_features, inference_bf16

    sampler = ClipSampler(num_frames=config.frames, clips_per_video=config.test_clips, start="uniform")
    return extract_clip_features(
        model,
        index,
        source,
        sampler,
        config.crop_size,
        device,
        config.eval_batch_size,
        config.num_workers or 0,
        None,
        inference_bf16(config.student or "", config.amp, device),  # a teacher-only baseline: float32 on a CPU
        progress,
        config.max_failure_fraction,
    )


# ---------------------------------------------------------------------- results rows


def _card(config: DistillConfig, device: torch.device, **measured: Any) -> dict[str, Any]:
    """Everything the numbers were measured under (the evaluation's protocol card, for a distillation)."""
    return {
        "protocol": f"distill:{config.method}",
        "method_kwargs": config.method_kwargs,
        "teachers": [{"key": t.key(), "teacher": t.describe()} for t in config.teachers],
        "student": config.student,
        "student_source": config.student_source,
        "dataset": config.dataset,
        "fold": config.fold,
        "train_split": config.train_split,
        "test_split": config.test_split,
        "frames": config.frames,
        "resolution": f"{config.crop_size}x{config.crop_size}",
        "cached_frames": f"{config.cache_size[0]}x{config.cache_size[1]}",
        "width": config.width,
        "test_clips_per_video": config.test_clips,
        "test_crops": "1 centre crop per clip",
        "video_score": "mean softmax over the video's clips",
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": config.optimizer,
        "lr": config.lr,
        "weight_decay": config.weight_decay,
        "momentum": config.momentum,
        "scheduler": config.scheduler,
        "seed": config.seed,
        "profile": config.profile,
        "devices": describe_device(device),
        "config_hash": config.config_hash(),
        **measured,
    }


def _rows(
    config: DistillConfig, task: str, metrics: Mapping[str, float], card: Mapping[str, Any], epoch: int | None = None
) -> list[dict[str, Any]]:
    """One results-table row per metric (``sslvid.store.results.COLUMNS``)."""
    provenance = collect_provenance(config.seed, card.get("devices", ""))
    commit = provenance["git_commit"] + ("+dirty" if provenance.get("git_dirty") else "")
    pretrains = [t.pretrain for t in config.teachers if t.pretrain is not None]
    subsets = {p.subset_per_class if isinstance(p.subset_per_class, int) else None for p in pretrains}
    common = {
        "config_hash": config.config_hash() + (f"/e{epoch:04d}" if epoch is not None else ""),
        "model": config.student or "+".join(t.backbone for t in config.teachers),
        "width": config.width,
        "pretext": "+".join(p.task for p in pretrains),
        "source": config.student_source,
        "pretrain_dataset": "+".join(sorted({p.dataset for p in pretrains})),
        "pretrain_subset": subsets.pop() if len(subsets) == 1 else None,
        "pretrain_epochs": epoch,
        "complexity": json.dumps(config.method_kwargs, sort_keys=True) if config.method_kwargs else "",
        "task": task,
        "protocol": f"distill:{config.method}",
        "dataset": config.dataset,
        "dataset_fingerprint": config.dataset_id(),
        "split": config.test_split,
        "fold": config.fold,
        "condition": "clean",
        "protocol_card": dict(card),
        "profile": config.profile,
        "seed": config.seed,
        "commit": commit,
        "unreadable_videos": card.get("unreadable_videos"),
    }
    return [{**common, "metric": name, "value": float(value)} for name, value in metrics.items()]


def _stored_rows(config: DistillConfig, results: ResultsStore) -> pd.DataFrame:
    """This run's rows of the results table (per-epoch rows included)."""
    table = results.table()
    key = config.config_hash()
    return table[(table["config_hash"] == key) | table["config_hash"].str.startswith(key + "/e")].reset_index(drop=True)


def _has_numbers(config: DistillConfig, rows: pd.DataFrame) -> bool:
    if distiller_class(config.method).student_head or not distiller_class(config.method).needs_student:
        return set(CLASSIFY_METRICS) <= set(rows["metric"])
    return "hit@1" in set(rows["metric"])
