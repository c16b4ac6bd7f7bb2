"""The frozen, validated config of one downstream evaluation, and its stable hash.

``EvalConfig.for_profile("micro", source=pretrain_config, protocol="finetune")`` fills the numbers
of a scale; a profile changes numbers, never which code runs. Where the numbers come from:

* **paper**, from the benchmark paper (Anonymous, CVPR 2023 submission #3061): finetuning end to end on
  UCF101 / HMDB51 / Diving48 (§3.2, §5.1) for 100 epochs (§4.4: "finetune for 100 epochs"),
  16-frame clips at 112x112 (§4.1, Table 9), top-1 accuracy (§3.2), clip retrieval with
  k in {1, 5, 10, 20, 50} (§3.2) by cosine similarity of pre-trained features (§5.1), with
  VCOP's protocol (Xu et al. 2019, released ``retrieve_clips.py``): the 10 clip features of
  each video averaged, for test queries and training gallery alike (``retrieval_level="video"``;
  ``"clip"`` searches single clips instead).
  The paper does not print the optimiser, learning rate, batch size, test clips or crops of
  its finetuning, nor its linear-probe recipe (§4.1 only reports the drop). Our choices:
  SGD (momentum 0.9, weight decay 5e-4), lr 0.01 with a cosine schedule, batch 32, dropout 0.5
  before the classifier, random resized crops (area 0.5-1) with flips for training, and the
  multi-clip test of VCOP (Xu et al. 2019, CVPR): 10 clips per video spread uniformly, one
  centre crop each, softmax scores averaged per video. Linear probe: a linear layer on
  standardised, cached features of 10 centre-cropped clips per training video, SGD lr 0.1,
  no weight decay, 100 epochs, batch 256.
* **micro** (the book on a CPU): the same recipe, a few epochs (5 finetune, 30 linear) on
  ``digits-appearance`` / ``digits-motion`` (UCF101 layout, split 1), 8x32x32 clips, 2 clips
  per training video (cached features) and per test video.
* **smoke**: tests; two epochs of tiny batches.

The hash covers every field that changes a number and leaves out where it runs
(``device``, ``num_workers``, ``threads``, ``deterministic``, ``eval_batch_size``), where the data
lives (``data_root``; the fingerprints of the train and test splits found there are hashed) and
when to give up (``max_failure_fraction``). Fields a protocol does not
use are set to None (retrieval trains nothing; a linear probe on cached features has no crops or
dropout), so they never change its hash.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sslvid.confighash import HashedConfig
from sslvid.errors import ConfigError
from sslvid.profiles import get_profile, list_profiles


PROTOCOLS = ("finetune", "linear", "retrieval")
RETRIEVAL_LEVELS = ("video", "clip")
"""What a retrieval query and gallery item is: a video (its clips' mean feature, VCOP's protocol) or one clip."""
SCRATCH = "scratch"
FILE_SOURCE = "file:"
"""Prefix of the source of weights read from a file: ``"file:"`` and the first 16 hex digits of its sha256
(``sslvid.backbones.checkpoints.file_source``). The path is the unhashed ``checkpoint`` field, so the same
bytes are the same source wherever they lie."""
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
NO_FLIP_DATASETS = frozenset({"digits-appearance", "digits-motion", "ssv2"})
"""Sets whose labels a horizontal flip changes or blurs: left/right motion and clockwise /
anticlockwise (digits-motion, SSv2), and handwritten digits, which are not mirror-symmetric
(a from-scratch micro R3D-18 reached 72% instead of 67% test top-1 after 10 epochs without flips,
``benchmarks/learnability.py``)."""

TRAIN_FIELDS = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum", "scheduler",
                "warmup_epochs", "checkpoint_every")
AUGMENT_FIELDS = ("crop_scale", "flip", "dropout")
USED_BY: dict[str, frozenset[str]] = {
    "finetune": frozenset(TRAIN_FIELDS + AUGMENT_FIELDS + ("test_clips",)),
    "linear": frozenset(TRAIN_FIELDS + ("train_clips", "test_clips")),
    "retrieval": frozenset(("train_clips", "test_clips", "retrieval_level")),
}
"""Per protocol, the optional fields it uses; the others are set to None."""

EVAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "smoke": {
        "common": {"dataset": "digits-appearance", "train_clips": 1, "test_clips": 2, "eval_batch_size": 8,
                   "num_workers": 0},
        "finetune": {"epochs": 2, "lr": 0.01, "checkpoint_every": 1, "dropout": 0.0},
        "linear": {"epochs": 5, "batch_size": 8, "lr": 0.1, "checkpoint_every": 5, "weight_decay": 0.0},
    },
    "micro": {
        "common": {"dataset": "digits-appearance", "train_clips": 2, "test_clips": 2, "eval_batch_size": 128,
                   "num_workers": 0},
        "finetune": {"epochs": 5, "lr": 0.01, "checkpoint_every": 5, "dropout": 0.0},
        "linear": {"epochs": 30, "batch_size": 256, "lr": 0.1, "checkpoint_every": 30, "weight_decay": 0.0},
    },
    "paper": {
        "common": {"dataset": "ucf101", "train_clips": 10, "test_clips": 10, "eval_batch_size": 16,
                   "num_workers": 8},
        "finetune": {"epochs": 100, "lr": 0.01, "checkpoint_every": 10, "dropout": 0.5},
        "linear": {"epochs": 100, "batch_size": 256, "lr": 0.1, "checkpoint_every": 25, "weight_decay": 0.0},
    },
}
"""Numbers per profile: ``common`` to every protocol, then per protocol (module docstring)."""

TRAIN_DEFAULTS: dict[str, Any] = {"optimizer": "sgd", "weight_decay": 5e-4, "momentum": 0.9, "scheduler": "cosine",
                                  "warmup_epochs": 0, "crop_scale": (0.5, 1.0)}
RETRIEVAL_DEFAULTS: dict[str, Any] = {"retrieval_level": "video"}
OMITTED_WHEN_NONE = ("retrieval_level",)
"""Fields left out of the hash while None (every protocol but retrieval), so adding them kept the
hashes of finetune and linear evaluations."""


@dataclass(frozen=True)
class EvalConfig(HashedConfig):
    """Everything that defines one downstream evaluation. Frozen and validated on construction.

    Fields left None are filled from the profile (``sslvid.profiles``, ``EVAL_DEFAULTS``); fields
    the protocol does not use are set to None. Build it with :meth:`for_profile`, which also
    takes a ``PretrainConfig`` as the source.

    Args:
        backbone: backbone name (the pre-training run's, for a pre-trained source).
        source: ``"scratch"`` (random initialisation: the baseline every table needs) or the
            config hash of a pre-training run in the run store, or ``"file:<16 hex>"`` for the
            weights of a checkpoint file named by its sha256 (``FILE_SOURCE``).
        source_epoch: the pre-training checkpoint's epoch (None: the final weights).
        checkpoint: the path of the checkpoint file of a ``"file:"`` source (not hashed: the
            file's sha256 is in ``source``).
        protocol: "finetune" (end to end), "linear" (frozen backbone, linear head on cached
            features) or "retrieval" (nearest neighbours of frozen features, nothing trained).
        profile: "smoke", "micro" or "paper".
        dataset: a labelled default set or layout (``digits-appearance``, ``ucf101``...).
        data_root: the folder that holds one sub-folder per dataset (``sslvid.data.sources``; not
            hashed; the fingerprints of its train and test splits are, see ``data_fingerprint``).
        fold: official split (1-3 for UCF101 and HMDB51).
        train_split, test_split: the splits trained on (the retrieval gallery) and tested on.
        data_seed: generation seed of the default data.
        backbone_kwargs: extra backbone builder arguments.
        frames: T. crop_size: network input side. cache_size: (H, W) of the cached frames.
        cache_format: how the clip cache stores frames: "uint8" (exact) or "jpeg" (about 8% of its
            size, ~37 dB PSNR; ``sslvid.data.cache``). Hashed unless "uint8": JPEG's loss
            changes the pixels the network sees, so a jpeg run is another run.
        width: backbone width multiplier. stride: frame step within a clip.
        train_clips: clips per training video for cached features (linear, retrieval).
        test_clips: clips per test video, spread uniformly; video scores average their softmax.
        retrieval_level: "video" (each video's clip features averaged before the search, VCOP's
            protocol) or "clip" (every clip a query and a gallery item); retrieval only.
        crop_scale: area range of the finetuning random resized crop. flip: random horizontal
            flips while finetuning (None: on, except for sets whose labels flips change).
        dropout: before the classifier (finetune).
        epochs, batch_size (global, over processes), optimizer, lr, weight_decay, momentum,
            scheduler, warmup_epochs, checkpoint_every: the training numbers.
        seed: initialisation, clip draws, data order, noise.
        amp: bf16 autocast on CUDA.
        eval_batch_size: videos per batch when extracting features or testing (not hashed).
        num_workers, threads, device, deterministic, max_failure_fraction: as in
            ``PretrainConfig`` (not hashed).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field.
    """

    backbone: str
    source: str = SCRATCH
    source_epoch: int | None = None
    checkpoint: str | None = None
    protocol: str = "finetune"
    profile: str = "micro"
    dataset: str | None = None
    data_root: str | None = None
    fold: int = 1
    train_split: str = "train"
    test_split: str = "test"
    data_seed: int = 0
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    frames: int | None = None
    crop_size: int | None = None
    cache_size: tuple[int, int] | None = None
    cache_format: str = "uint8"
    width: float | None = None
    stride: int = 1
    train_clips: int | None = None
    test_clips: int | None = None
    retrieval_level: str | None = None
    crop_scale: tuple[float, float] | None = None
    flip: bool | None = None
    dropout: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    scheduler: str | None = None
    warmup_epochs: int | None = None
    checkpoint_every: int | None = None
    seed: int = 0
    amp: bool = True
    eval_batch_size: int | None = None
    num_workers: int | None = None
    threads: int | None = None
    device: str = "auto"
    deterministic: bool = False
    max_failure_fraction: float = 0.05

    UNHASHED: ClassVar[frozenset[str]] = frozenset(
        {"checkpoint", "data_root", "num_workers", "threads", "device", "deterministic", "max_failure_fraction",
         "eval_batch_size"})
    KIND: ClassVar[str] = "eval"
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("train_split", "test_split")

    def __post_init__(self) -> None:
        self._fill()
        self._normalise()
        self.validate()

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(cls, profile: str, source: Any = SCRATCH, backbone: str | None = None,
                    protocol: str = "finetune", store: Any = None, **overrides: Any) -> "EvalConfig":
        """The evaluation of ``source`` with the numbers of ``profile``, then ``overrides``.

        Args:
            profile: "smoke", "micro" or "paper".
            source: "scratch", a ``PretrainConfig``, or a pre-training run's hash (looked up in
                ``store`` for its backbone, width and backbone arguments).
            backbone: required from scratch and for a checkpoint file without sslvid metadata;
                must match a pre-trained source's (or an exported file's).
            protocol: "finetune", "linear" or "retrieval".
            store: the ``RunStore`` holding a hash source (default: ``RunStore()``).
            **overrides: any other field; ``checkpoint=PATH`` (with ``source`` left "scratch")
                evaluates the weights of that file (a torchvision or self-supervised state dict, or
                one written by ``python -m sslvid export``, whose backbone, width and backbone
                arguments are then inherited), under the source ``"file:<sha256 16>"``.

        Raises:
            ConfigError (a ValueError): for unknown fields, a source that disagrees with ``backbone``/``width``,
                an unknown run hash, a missing checkpoint file, both a source and a checkpoint, or any
                invalid value.
        """
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown EvalConfig fields: {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(f.name for f in dataclasses.fields(cls))}")
        if overrides.get("checkpoint") is not None:
            source, overrides["checkpoint"] = _checkpoint_source(source, overrides["checkpoint"])
        source_hash, inherited = _source_fields(source, store)
        for name, value in inherited.items():
            given = backbone if name == "backbone" else overrides.get(name)
            if given is not None and given != value:
                origin = "the checkpoint file" if isinstance(source, CheckpointFile) else "the pre-training run"
                raise ConfigError(f"{name}={given!r} disagrees with {origin} {source_hash} ({value!r})")
        if backbone is None and "backbone" not in inherited:
            raise ConfigError("an evaluation from scratch or of a checkpoint file without sslvid metadata "
                              "needs backbone=<name>", hint="e.g. --backbone r2plus1d_18")
        values = {"backbone": backbone, **overrides, **inherited}
        return cls(source=source_hash, protocol=protocol, profile=profile, **values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "EvalConfig":
        """The config written by ``to_dict`` (e.g. an evaluation run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls(**values)

    def replace(self, **changes: Any) -> "EvalConfig":
        """A copy with ``changes`` applied (and validated). Training numbers are kept as they
        are when only ``protocol`` changes: use ``for_profile`` for another protocol's defaults."""
        return dataclasses.replace(self, **changes)

    def _fill(self) -> None:
        if self.profile not in list_profiles() or self.protocol not in PROTOCOLS:
            return  # validate() reports it
        profile = get_profile(self.profile)
        table = EVAL_DEFAULTS[self.profile]
        defaults = {"frames": profile.frames, "crop_size": profile.crop_size, "cache_size": profile.cache_size,
                    "width": profile.width, "batch_size": profile.batch_size, **TRAIN_DEFAULTS,
                    **RETRIEVAL_DEFAULTS, **table["common"], **table.get(self.protocol, {})}
        defaults["flip"] = (self.dataset or defaults["dataset"]) not in NO_FLIP_DATASETS
        used = USED_BY[self.protocol]
        optional = set(TRAIN_FIELDS + AUGMENT_FIELDS + ("train_clips", "test_clips") + OMITTED_WHEN_NONE)
        for name, value in defaults.items():
            if name in optional and name not in used:
                object.__setattr__(self, name, None)
            elif getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def _normalise(self) -> None:
        """Coerce numbers to their field's type so ``lr=1`` and ``lr=1.0`` hash the same."""
        for name in ("lr", "weight_decay", "momentum", "width", "dropout", "max_failure_fraction"):
            self._coerce(name, float)
        for name in ("source_epoch", "fold", "data_seed", "frames", "crop_size", "stride", "train_clips",
                     "test_clips", "epochs", "batch_size", "warmup_epochs", "checkpoint_every", "seed",
                     "eval_batch_size", "num_workers", "threads"):
            self._coerce(name, int)
        for name, kind in (("cache_size", int), ("crop_scale", float)):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                try:
                    object.__setattr__(self, name, tuple(kind(v) for v in value))
                except (TypeError, ValueError):
                    pass  # validate() reports it
        if self.data_root is not None:
            object.__setattr__(self, "data_root", str(self.data_root))
        if isinstance(self.backbone_kwargs, Mapping):
            object.__setattr__(self, "backbone_kwargs", {str(k): self.backbone_kwargs[k]
                                                         for k in sorted(self.backbone_kwargs)})

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check every field; raise one error that lists every problem.

        Raises:
            ConfigError (a ValueError): naming each invalid field; unknown names list the valid ones.
        """
        self._raise_problems([self._check_names, self._check_numbers, self._check_source])

    def _check_names(self) -> list[str]:
        from sslvid.backbones import list_backbones
        from sslvid.data.cache import CACHE_FORMATS
        from sslvid.data.sources import list_sources

        problems = []
        checks = [("profile", self.profile, list_profiles()), ("protocol", self.protocol, PROTOCOLS),
                  ("cache_format", self.cache_format, CACHE_FORMATS),
                  ("backbone", self.backbone, list_backbones()), ("dataset", self.dataset, list_sources()),
                  ("train_split", self.train_split, ("train", "val", "test")),
                  ("test_split", self.test_split, ("train", "val", "test"))]
        if self.optimizer is not None:
            checks.append(("optimizer", self.optimizer, OPTIMIZERS))
        if self.scheduler is not None:
            checks.append(("scheduler", self.scheduler, SCHEDULERS))
        if self.retrieval_level is not None:
            checks.append(("retrieval_level", self.retrieval_level, RETRIEVAL_LEVELS))
        for what, value, valid in checks:
            if value not in valid:
                problems.append(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
        device = str(self.device)
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            problems.append(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
        if not isinstance(self.backbone_kwargs, Mapping):
            problems.append(f"backbone_kwargs must be a dict, got {self.backbone_kwargs!r}")
        elif {"width", "num_classes"} & set(self.backbone_kwargs):
            problems.append("backbone_kwargs may not set width or num_classes: they are config fields")
        return problems

    def _check_numbers(self) -> list[str]:
        rules: list[tuple[str, Any, Any, str]] = [
            ("fold", self.fold, lambda v: v >= 1, ">= 1"),
            ("frames", self.frames, lambda v: v >= 1, ">= 1"),
            ("crop_size", self.crop_size, lambda v: v >= 1, ">= 1"),
            ("width", self.width, lambda v: v > 0, "> 0"),
            ("stride", self.stride, lambda v: v >= 1, ">= 1"),
            ("eval_batch_size", self.eval_batch_size, lambda v: v >= 1, ">= 1"),
            ("num_workers", self.num_workers, lambda v: v >= 0, ">= 0"),
            ("max_failure_fraction", self.max_failure_fraction, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ]
        optional: list[tuple[str, Any, str]] = [
            ("train_clips", lambda v: v >= 1, ">= 1"), ("test_clips", lambda v: v >= 1, ">= 1"),
            ("dropout", lambda v: 0 <= v < 1, "in [0, 1)"), ("epochs", lambda v: v >= 1, ">= 1"),
            ("batch_size", lambda v: v >= 1, ">= 1"), ("lr", lambda v: v > 0, "> 0"),
            ("weight_decay", lambda v: v >= 0, ">= 0"), ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
            ("warmup_epochs", lambda v: 0 <= v <= (self.epochs or 0), "in [0, epochs]"),
            ("checkpoint_every", lambda v: v >= 1, ">= 1"), ("threads", lambda v: v >= 0, ">= 0"),
            ("source_epoch", lambda v: v >= 1, ">= 1"),
        ]
        rules += [(name, getattr(self, name), ok, rule) for name, ok, rule in optional
                  if getattr(self, name) is not None]
        problems = [f"{name} must be {rule}, got {value!r}" for name, value, ok, rule in rules
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not ok(value)]
        size = self.cache_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 1 for v in size)):
            problems.append(f"cache_size must be (H, W) of positive ints, got {size!r}")
        elif isinstance(self.crop_size, int) and self.crop_size > min(size):
            problems.append(f"crop_size {self.crop_size} exceeds the cached frame size {size}")
        scale = self.crop_scale
        if scale is not None and not (isinstance(scale, tuple) and len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            problems.append(f"crop_scale must be (low, high) with 0 < low <= high <= 1, got {scale!r}")
        for name in ("amp", "deterministic") + (("flip",) if self.flip is not None else ()):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be True or False, got {getattr(self, name)!r}")
        return problems

    def _check_source(self) -> list[str]:
        if self.checkpoint is not None or str(self.source).startswith(FILE_SOURCE):
            return self._check_file_source()
        if self.source == SCRATCH:
            return ["source_epoch needs a pre-trained source, not scratch"] if self.source_epoch is not None else []
        if not isinstance(self.source, str) or not re.fullmatch(r"[0-9a-f]{16}", self.source):
            return [f"source must be 'scratch' or a pre-training run's 16-hex-digit hash, got {self.source!r}"]
        return []

    def _check_file_source(self) -> list[str]:
        problems = []
        if not re.fullmatch(FILE_SOURCE + r"[0-9a-f]{16}", str(self.source)):
            problems.append(f"a checkpoint's source must be 'file:' and the first 16 hex digits of its sha256, "
                            f"got {self.source!r} (EvalConfig.for_profile(..., checkpoint=PATH) makes it)")
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            problems.append(f"source {self.source!r} needs checkpoint=<path of the file>")
        if self.source_epoch is not None:
            problems.append("source_epoch needs a pre-training run, not a checkpoint file")
        return problems

    # ----------------------------------------------------------------- identity
    def hashed_dict(self) -> dict[str, Any]:
        """``HashedConfig.hashed_dict`` without the ``OMITTED_WHEN_NONE`` fields that are None."""
        values = super().hashed_dict()
        return {k: v for k, v in values.items() if not (k in OMITTED_WHEN_NONE and v is None)}

    @property
    def from_scratch(self) -> bool:
        return self.source == SCRATCH

    @property
    def from_file(self) -> bool:
        """True when the weights come from a checkpoint file (``source`` "file:<sha256 16>", ``checkpoint`` its path)."""
        return str(self.source).startswith(FILE_SOURCE)

    __hash__ = HashedConfig.__hash__


CARD_BACKBONE = "r2plus1d_18"
"""The network whose paper-profile evaluation configs the method cards show (the benchmark's R(2+1)D-18)."""


def paper_value(protocol: str, name: str) -> Callable[[], Any]:
    """A reader of field ``name`` of the paper-profile ``EvalConfig`` of ``protocol`` (a method card's "ours").

    Raises:
        ValueError: (when read) for an unknown protocol or field.
    """
    def read() -> Any:
        config = EvalConfig.for_profile("paper", backbone=CARD_BACKBONE, protocol=protocol)
        if name not in {f.name for f in dataclasses.fields(config)}:
            raise ValueError(f"EvalConfig has no field {name!r}")
        return getattr(config, name)

    return read


def _source_fields(source: Any, store: Any) -> tuple[str, dict[str, Any]]:
    """(source hash, fields the evaluation inherits from the pre-training run: backbone, width, kwargs).

    Raises:
        ConfigError (a ValueError): for a hash the store does not hold, or a run that is not a pre-training run.
    """
    from sslvid.engine.config import PretrainConfig

    if isinstance(source, CheckpointFile):
        return source.source, source.inherited()
    if isinstance(source, PretrainConfig):
        return source.config_hash(), _inherited(source.to_dict())
    if source == SCRATCH or source is None:
        return SCRATCH, {}
    if not isinstance(source, str):
        raise ConfigError(f"source must be 'scratch', a PretrainConfig or a run hash, got {type(source).__name__}")
    from sslvid.store.runs import RunStore

    run = (store or RunStore()).run(source)
    if not run.exists:
        raise ConfigError(f"no pre-training run {source!r} in {run.dir.parent}; pre-train it first "
                         "(python -m sslvid pretrain ...)")
    stored = run.config()
    if stored.get("kind", "pretrain") != "pretrain" or "task" not in stored:
        raise ConfigError(f"run {source!r} is not a pre-training run")
    return source, _inherited(stored)


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file as an evaluation source: its ``"file:<sha256 16>"`` and its sslvid metadata."""

    source: str
    metadata: Mapping[str, str]

    def inherited(self) -> dict[str, Any]:
        """Backbone, width and backbone arguments recorded in the file (an export's), else nothing."""
        if "backbone" not in self.metadata:
            return {}
        return _inherited({"backbone": self.metadata["backbone"], "width": self.metadata.get("width", 1.0),
                           "backbone_kwargs": json.loads(self.metadata.get("backbone_kwargs") or "{}")})


def _checkpoint_source(source: Any, path: Any) -> tuple[CheckpointFile, str]:
    """(the source of checkpoint file ``path``, its absolute path).

    Raises:
        ConfigError (a ValueError): if ``source`` is not "scratch" too, or the file is missing or unreadable.
    """
    from sslvid.backbones.checkpoints import file_source, read_metadata

    if source not in (SCRATCH, None):
        raise ConfigError(f"give either a source ({source!r}) or a checkpoint file ({path}), not both")
    path = str(Path(path).expanduser().resolve())
    return CheckpointFile(file_source(path), read_metadata(path)), path


def _inherited(pretrain: Mapping[str, Any]) -> dict[str, Any]:
    return {"backbone": pretrain["backbone"], "width": float(pretrain["width"]),
            "backbone_kwargs": dict(pretrain.get("backbone_kwargs") or {})}


