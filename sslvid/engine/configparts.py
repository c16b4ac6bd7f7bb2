"""The field groups every run config is built from: its data, its clips, its training, its runtime.

``PretrainConfig``, ``EvalConfig`` and ``DistillConfig`` are each these parts plus their own
fields (task, protocol, teachers...). A part declares its fields once, with the rule each
value must follow and where valid names come from (the registries), so the three configs
check, coerce and hash a shared field the same way (``sslvid.confighash``). The fields left
None are filled from the profile (``sslvid.profiles``).

* :class:`Data`: which dataset and split.
* :class:`Clips`: the clip geometry, the clip cache's format and the backbone's width.
* :class:`Training`: the optimisation numbers and the seed.
* :class:`Runtime`: where and how fast a run goes, and when it gives up: everything the
  hash leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslvid.confighash import REQUIRED, ConfigPart, config_field

SPLITS = ("train", "val", "test")
DEVICES = ("auto", "cpu", "cuda")
"""Device names besides ``cuda:N``."""


def _sources() -> list[str]:
    from sslvid.data.sources import list_sources

    return list_sources()


def _backbones() -> list[str]:
    from sslvid.backbones import list_backbones

    return list_backbones()


def _cache_formats() -> tuple[str, ...]:
    from sslvid.data.cache import CACHE_FORMATS

    return CACHE_FORMATS


def _optimizers() -> list[str]:
    from sslvid.engine.optim import OPTIMIZERS

    return OPTIMIZERS.names()


def _schedules() -> list[str]:
    from sslvid.engine.optim import SCHEDULES

    return SCHEDULES.names()


AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
POSITIVE = (lambda v: v > 0, "> 0")
NOT_NEGATIVE = (lambda v: v >= 0, ">= 0")
FRACTION = (lambda v: 0 <= v <= 1, "in [0, 1]")
BELOW_1 = (lambda v: 0 <= v < 1, "in [0, 1)")


def backbone_field(default: str | None = REQUIRED, what: str | None = None) -> str:
    """A field naming a registered backbone (``sslvid.backbones.list_backbones()``); required by default."""
    return config_field(default, names=_backbones, what=what)


def split_field(default: str) -> str:
    """A field naming a split: "train", "val" or "test"."""
    return config_field(default, names=lambda: SPLITS)


@dataclass(frozen=True, kw_only=True)
class Data(ConfigPart):
    """Which videos a run reads.

    Args:
        dataset: a default set or a layout name (``sslvid.data.sources.list_sources()``); None: the profile's.
        fold: official split (1-3 for UCF101 and HMDB51).
        data_seed: generation seed of the default data.
    """

    dataset: str | None = config_field(names=_sources)
    fold: int = config_field(1, check=AT_LEAST_1)
    data_seed: int = 0


@dataclass(frozen=True, kw_only=True)
class Clips(ConfigPart):
    """The clips a network sees, and its width (None: the profile's).

    Args:
        frames: frames per clip T. crop_size: network input H = W. cache_size: (H, W) of cached frames.
        cache_format: how the clip cache stores frames: "uint8" (exact) or "jpeg" (about 8% of its
            size, ~37 dB PSNR; ``sslvid.data.cache``). Hashed unless "uint8"
            (``HashedConfig.HASHED_UNLESS``): JPEG's loss changes the pixels the network sees, so a
            jpeg run is another run.
        width: backbone width multiplier.
    """

    frames: int | None = config_field(check=AT_LEAST_1)
    crop_size: int | None = config_field(check=AT_LEAST_1)
    cache_size: tuple[int, int] | None = None
    cache_format: str = config_field("uint8", names=_cache_formats)
    width: float | None = config_field(check=POSITIVE)

    def _part_checks(self) -> list[str]:
        problems, size = super()._part_checks(), self.cache_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 1 for v in size)):
            problems.append(f"cache_size must be (H, W) of positive ints, got {size!r}")
        elif isinstance(self.crop_size, int) and self.crop_size > min(size):
            problems.append(f"crop_size {self.crop_size} exceeds the cached frame size {size}")
        return problems


@dataclass(frozen=True, kw_only=True)
class Training(ConfigPart):
    """How a run optimises (None: the profile's number; an evaluation leaves those its protocol
    does not use None).

    Args:
        epochs: training epochs. batch_size: videos per optimiser step, over all processes.
        optimizer: a name of ``sslvid.engine.optim.OPTIMIZERS``. lr, weight_decay, momentum: its numbers.
        scheduler: a name of ``sslvid.engine.optim.SCHEDULES``, stepped per iteration.
        warmup_epochs: linear warm-up. checkpoint_every: a resumable checkpoint every this many epochs.
        seed: initialisation, clip draws, data order, task randomness.
        amp: bf16 autocast on CUDA (ignored on CPU: there, with torch 2.14's oneDNN kernels, the
            Conv3d weight gradients under bf16 autocast are wrong, infinite or NaN, wherever a
            feature map is 2 frames long, as in the third stage of the micro 3D CNNs; measured by
            ``benchmarks/cpu_step_speed.py``, whose table gives each network's gradient error). An
            evaluation's frozen features, which need no gradient, are extracted under bf16 on a CPU
            too for the networks it speeds up (``sslvid.evaluate.features.inference_bf16``).
    """

    epochs: int | None = config_field(check=AT_LEAST_1)
    batch_size: int | None = config_field(check=AT_LEAST_1)
    optimizer: str | None = config_field(names=_optimizers)
    lr: float | None = config_field(check=POSITIVE)
    weight_decay: float | None = config_field(check=NOT_NEGATIVE)
    momentum: float | None = config_field(check=BELOW_1)
    scheduler: str | None = config_field(names=_schedules)
    warmup_epochs: int | None = None
    checkpoint_every: int | None = config_field(check=AT_LEAST_1)
    seed: int = 0
    amp: bool = True

    def _part_checks(self) -> list[str]:
        problems, warmup = super()._part_checks(), self.warmup_epochs
        if warmup is not None and not 0 <= warmup <= (self.epochs or 0):
            problems.append(f"warmup_epochs must be in [0, epochs], got {warmup!r}")
        return problems


@dataclass(frozen=True, kw_only=True)
class Runtime(ConfigPart):
    """Where and how fast a run goes and when it gives up: none of it enters the hash.

    Args:
        data_root: the folder that holds one sub-folder per dataset, ``<data_root>/<dataset>``
            (``sslvid.data.sources``); a path on this machine: the fingerprints of the videos
            found there are hashed instead (``HashedConfig.data_fingerprint``).
        num_workers: DataLoader worker processes (None: the profile's).
        threads: torch intra-op CPU threads during the run: None picks half the usable cores per
            process (at least 1) on a CPU run and leaves GPU runs alone, 0 keeps torch's setting.
            On a small shared CPU, as many threads as cores next to loader workers make OpenMP
            spin against them (8x slower measured on 2 cores).
        device: "auto", "cpu", "cuda" or "cuda:N".
        deterministic: ask PyTorch for deterministic kernels.
        max_failure_fraction: stop when more videos than this share fail in an epoch.
    """

    data_root: str | None = config_field(hashed=False)
    num_workers: int | None = config_field(check=NOT_NEGATIVE, hashed=False)
    threads: int | None = config_field(check=(lambda v: v >= 0, ">= 0 or None"), hashed=False)
    device: str = config_field("auto", hashed=False)
    deterministic: bool = config_field(False, hashed=False)
    max_failure_fraction: float = config_field(0.05, check=FRACTION, hashed=False)

    def _part_checks(self) -> list[str]:
        problems, device = super()._part_checks(), str(self.device)
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            problems.append(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
        return problems
