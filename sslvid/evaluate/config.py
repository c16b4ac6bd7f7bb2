"""The frozen, validated config of one downstream evaluation, and its stable hash.

``EvalConfig.for_profile("micro", source=pretrain_config, protocol="finetune")`` fills the numbers
of a scale (``Profile.defaults("evaluate", protocol)`` of ``sslvid.profiles``, which holds them);
a profile changes numbers, never which code runs. Where the numbers come from:

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

from sslvid.confighash import HashedConfig, config_field
from sslvid.engine.configparts import AT_LEAST_1, BELOW_1, Clips, Data, Runtime, Training, backbone_field, split_field
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
NO_FLIP_DATASETS = frozenset({"digits-appearance", "digits-motion", "ssv2"})
"""Sets whose labels a horizontal flip changes or blurs: left/right motion and clockwise /
anticlockwise (digits-motion, SSv2), and handwritten digits, which are not mirror-symmetric
(a from-scratch micro R3D-18 reached 72% instead of 67% test top-1 after 10 epochs without flips,
``benchmarks/learnability.py``)."""

TRAIN_FIELDS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "scheduler",
    "warmup_epochs",
    "checkpoint_every",
)
AUGMENT_FIELDS = ("crop_scale", "flip", "dropout")
ALL_LABELS = "all"
"""``train_per_class`` meaning every labelled video of the training split."""

USED_BY: dict[str, frozenset[str]] = {
    "finetune": frozenset(TRAIN_FIELDS + AUGMENT_FIELDS + ("test_clips",)),
    "linear": frozenset(TRAIN_FIELDS + ("train_clips", "test_clips")),
    "retrieval": frozenset(("train_clips", "test_clips", "retrieval_level")),
}
"""Per protocol, the optional fields it uses; the others are set to None."""
OPTIONAL = frozenset(TRAIN_FIELDS + AUGMENT_FIELDS + ("train_clips", "test_clips", "retrieval_level"))


@dataclass(frozen=True)
class EvalConfig(HashedConfig, Runtime, Training, Clips, Data):
    """Everything that defines one downstream evaluation. Frozen and validated on construction.

    The shared parts (``sslvid.engine.configparts``) plus the source, protocol and what the
    protocol needs. Fields left None are filled from the profile (``Profile.defaults("evaluate",
    protocol)``); fields the protocol does not use are set to None. Build it with
    :meth:`for_profile`, which also takes a ``PretrainConfig`` as the source.

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
        train_split, test_split: the splits trained on (the retrieval gallery) and tested on.
        backbone_kwargs: extra backbone builder arguments.
        stride: frame step within a clip.
        train_clips: clips per training video for cached features (linear, retrieval).
        test_clips: clips per test video, spread uniformly; video scores average their softmax.
        retrieval_level: "video" (each video's clip features averaged before the search, VCOP's
            protocol) or "clip" (every clip a query and a gallery item); retrieval only.
        crop_scale: area range of the finetuning random resized crop. flip: random horizontal
            flips while finetuning (None: on, except for sets whose labels flips change).
        dropout: before the classifier (finetune).
        train_per_class: the label budget: labelled training videos per class for finetuning and
            the linear probe, a class-balanced subset of the training split, nested across budgets
            (seed 0: the 10 videos of a class are among its 20), as the downstream-samples axis of
            Thoker et al. 2022 (SEVERE, §3.3); ``"all"`` (the default) for the whole split.
            Pre-training matters most when labels are few. Retrieval uses no labels: "all" only.
        eval_batch_size: videos per batch when extracting features or testing (not hashed).
        dataset, fold, data_seed, frames, crop_size, cache_size, width, epochs, batch_size,
            optimizer, lr, weight_decay, momentum, scheduler, warmup_epochs, checkpoint_every,
            seed, amp, data_root, num_workers, threads, device, deterministic,
            max_failure_fraction: the shared parts' fields (``sslvid.engine.configparts``).

    Raises:
        ConfigError (a ValueError): on construction, listing every invalid field.
    """

    backbone: str = backbone_field()
    source: str = SCRATCH
    source_epoch: int | None = config_field(check=AT_LEAST_1)
    checkpoint: str | None = config_field(hashed=False)
    protocol: str = config_field("finetune", names=lambda: PROTOCOLS)
    profile: str = "micro"
    train_split: str = split_field("train")
    test_split: str = split_field("test")
    backbone_kwargs: dict[str, Any] = config_field(default_factory=dict)
    stride: int = config_field(1, check=AT_LEAST_1)
    train_clips: int | None = config_field(check=AT_LEAST_1)
    test_clips: int | None = config_field(check=AT_LEAST_1)
    retrieval_level: str | None = config_field(names=lambda: RETRIEVAL_LEVELS)
    crop_scale: tuple[float, float] | None = None
    flip: bool | None = None
    dropout: float | None = config_field(check=BELOW_1)
    train_per_class: int | str = ALL_LABELS
    eval_batch_size: int | None = config_field(check=AT_LEAST_1, hashed=False)

    KIND: ClassVar[str] = "eval"
    DATA_SPLITS: ClassVar[tuple[str, ...]] = ("train_split", "test_split")
    REFILL_ON: ClassVar[tuple[str, ...]] = ("profile", "protocol", "dataset")
    HASHED_UNLESS: ClassVar[dict[str, Any]] = {
        **HashedConfig.HASHED_UNLESS,
        "retrieval_level": None,
        "train_per_class": "all",
    }
    """``retrieval_level`` is left out of the hash while None (every protocol but retrieval), so
    adding it kept the hashes of finetune and linear evaluations."""

    # ----------------------------------------------------------------- construction
    @classmethod
    def for_profile(
        cls,
        profile: str,
        source: Any = SCRATCH,
        backbone: str | None = None,
        protocol: str = "finetune",
        **overrides: Any,
    ) -> EvalConfig:
        """The evaluation of ``source`` with the numbers of ``profile``, then ``overrides``.

        Args:
            profile: "smoke", "micro" or "paper".
            source: "scratch", a ``PretrainConfig``, or a ``PretrainedSource`` (a run of the run
                store, ``PretrainedSource.from_store``: a bare hash says nothing of the run's
                backbone and width, and building a config reads no store).
            backbone: required from scratch and for a checkpoint file without sslvid metadata;
                must match a pre-trained source's (or an exported file's).
            protocol: "finetune", "linear" or "retrieval".
            **overrides: any other field; ``checkpoint=PATH`` (with ``source`` left "scratch")
                evaluates the weights of that file (a torchvision or self-supervised state dict, or
                one written by ``python -m sslvid export``, whose backbone, width and backbone
                arguments are then inherited), under the source ``"file:<sha256 16>"``.

        Raises:
            ConfigError (a ValueError): for unknown fields, a source that disagrees with ``backbone``/``width``,
                a bare run hash, a missing checkpoint file, both a source and a checkpoint, or any
                invalid value.
        """
        cls.check_known_fields(overrides)
        if overrides.get("checkpoint") is not None:
            source, overrides["checkpoint"] = _checkpoint_source(source, overrides["checkpoint"])
        source_hash, inherited = _source_fields(source)
        for name, value in inherited.items():
            given = backbone if name == "backbone" else overrides.get(name)
            if given is not None and given != value:
                origin = "the checkpoint file" if isinstance(source, CheckpointFile) else "the pre-training run"
                raise ConfigError(f"{name}={given!r} disagrees with {origin} {source_hash} ({value!r})")
        if backbone is None and "backbone" not in inherited:
            raise ConfigError(
                "an evaluation from scratch or of a checkpoint file without sslvid metadata needs backbone=<name>",
                hint="e.g. --backbone r2plus1d_18",
            )
        values = {"backbone": backbone, **overrides, **inherited}
        return cls(source=source_hash, protocol=protocol, profile=profile, **values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EvalConfig:
        """The config written by ``to_dict`` (e.g. an evaluation run's ``config.json``)."""
        values = dict(values)
        values.pop("kind", None)
        return cls(**values)

    def _profile_defaults(self) -> dict[str, Any]:
        if self.protocol not in PROTOCOLS:
            return {}
        defaults = get_profile(self.profile).defaults("evaluate", self.protocol)
        defaults["flip"] = (self.dataset or defaults["dataset"]) not in NO_FLIP_DATASETS
        return defaults

    def _fill(self) -> None:
        """Fill from the profile, then set the fields the protocol does not use to None."""
        if self.profile not in list_profiles() or self.protocol not in PROTOCOLS:
            return  # validate() reports it
        used = USED_BY[self.protocol]
        for name, value in self._profile_defaults().items():
            if name in OPTIONAL and name not in used:
                object.__setattr__(self, name, None)
            elif getattr(self, name) is None:
                object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- validation
    def _checks(self) -> list[Callable[[], list[str]]]:
        return [self._check_kwargs, self._check_crop_scale, self._check_source, self._check_label_budget]

    def _check_label_budget(self) -> list[str]:
        value = self.train_per_class
        if value == ALL_LABELS:
            return []
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return [f"train_per_class must be >= 1, or {ALL_LABELS!r} for every training video, got {value!r}"]
        if self.protocol == "retrieval":
            return [f"train_per_class={value} asks for a label budget, but retrieval trains nothing: leave it 'all'"]
        return []

    def _check_kwargs(self) -> list[str]:
        if not isinstance(self.backbone_kwargs, Mapping):
            return [f"backbone_kwargs must be a dict, got {self.backbone_kwargs!r}"]
        if {"width", "num_classes"} & set(self.backbone_kwargs):
            return ["backbone_kwargs may not set width or num_classes: they are config fields"]
        return []

    def _check_crop_scale(self) -> list[str]:
        scale = self.crop_scale
        if scale is not None and not (isinstance(scale, tuple) and len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            return [f"crop_scale must be (low, high) with 0 < low <= high <= 1, got {scale!r}"]
        return []

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
            problems.append(
                f"a checkpoint's source must be 'file:' and the first 16 hex digits of its sha256, "
                f"got {self.source!r} (EvalConfig.for_profile(..., checkpoint=PATH) makes it)"
            )
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            problems.append(f"source {self.source!r} needs checkpoint=<path of the file>")
        if self.source_epoch is not None:
            problems.append("source_epoch needs a pre-training run, not a checkpoint file")
        return problems

    # ----------------------------------------------------------------- identity
    @property
    def from_scratch(self) -> bool:
        return self.source == SCRATCH

    @property
    def from_file(self) -> bool:
        """True when the weights come from a checkpoint file.

        Then ``source`` is "file:<sha256 16>" and ``checkpoint`` the file's path.
        """
        return str(self.source).startswith(FILE_SOURCE)


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


@dataclass(frozen=True)
class PretrainedSource:
    """A pre-training run of the run store, as an evaluation's source: its hash and what the
    evaluation inherits from it (backbone, width, backbone arguments).

    Read it with :meth:`from_store` before building the ``EvalConfig``, so that building a config
    never reads the run store.
    """

    run_hash: str
    backbone: str
    width: float
    backbone_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_store(cls, run_hash: str, store: Any = None) -> PretrainedSource:
        """The pre-training run ``run_hash`` of ``store`` (default: ``RunStore()``).

        Raises:
            ConfigError (a ValueError): for a hash the store does not hold, or a run that is not a pre-training run.
        """
        from sslvid.store.runs import RunStore

        run = (store or RunStore()).run(run_hash)
        if not run.exists:
            raise ConfigError(
                f"no pre-training run {run_hash!r} in {run.dir.parent}; pre-train it first "
                "(python -m sslvid pretrain ...)"
            )
        stored = run.config()
        if stored.get("kind", "pretrain") != "pretrain" or "task" not in stored:
            raise ConfigError(f"run {run_hash!r} is not a pre-training run")
        return cls(run_hash, **_inherited(stored))


def source_of(source: Any, store: Any = None) -> Any:
    """``source`` as ``EvalConfig.for_profile`` takes it: a run hash read from ``store``
    (``PretrainedSource.from_store``); "scratch", a ``PretrainConfig`` or a ``PretrainedSource`` as given.

    Raises:
        ConfigError (a ValueError): for a hash the store does not hold.
    """
    if isinstance(source, str) and source != SCRATCH:
        return PretrainedSource.from_store(source, store)
    return source


def _source_fields(source: Any) -> tuple[str, dict[str, Any]]:
    """(source hash, fields the evaluation inherits from the pre-training run: backbone, width, kwargs).

    Raises:
        ConfigError (a ValueError): for a bare run hash (read it with ``PretrainedSource.from_store``)
            or a source of another kind.
    """
    from sslvid.engine.config import PretrainConfig

    if isinstance(source, CheckpointFile):
        return source.source, source.inherited()
    if isinstance(source, PretrainConfig):
        return source.config_hash(), _inherited(source.to_dict())
    if isinstance(source, PretrainedSource):
        return source.run_hash, {
            "backbone": source.backbone,
            "width": float(source.width),
            "backbone_kwargs": dict(source.backbone_kwargs),
        }
    if source == SCRATCH or source is None:
        return SCRATCH, {}
    if isinstance(source, str):
        raise ConfigError(
            f"source={source!r} is a bare run hash: read the run first, "
            "source=PretrainedSource.from_store(hash, store) (sslvid.evaluate.config.source_of)"
        )
    raise ConfigError(
        f"source must be 'scratch', a PretrainConfig, a PretrainedSource or checkpoint=PATH, "
        f"got {type(source).__name__}"
    )


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file as an evaluation source: its ``"file:<sha256 16>"`` and its sslvid metadata."""

    source: str
    metadata: Mapping[str, str]

    def inherited(self) -> dict[str, Any]:
        """Backbone, width and backbone arguments recorded in the file (an export's), else nothing."""
        if "backbone" not in self.metadata:
            return {}
        return _inherited(
            {
                "backbone": self.metadata["backbone"],
                "width": self.metadata.get("width", 1.0),
                "backbone_kwargs": json.loads(self.metadata.get("backbone_kwargs") or "{}"),
            }
        )


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
    return {
        "backbone": pretrain["backbone"],
        "width": float(pretrain["width"]),
        "backbone_kwargs": dict(pretrain.get("backbone_kwargs") or {}),
    }
