"""What a pre-training run costs: parameters, multiply-adds, measured speed, time, energy and CO2.

Parameters, MACs and measured clips/s come from ``sslvid.backbones.cost`` (``backbone_table``);
this module turns them into the lightweight study's Table 1 columns (FLOPs and "CO2 Gen.")
for a planned run of ``epochs`` x ``clips_per_epoch`` clips.

**Energy and CO2, as the lightweight study estimated them** (Sonawane et al., §7 "CO2 Emission
Related to Experiments", with the Machine Learning Impact calculator of Lacoste, Luccioni,
Schmidt & Dandres, 2019, arXiv 1910.09700): power draw = the device's thermal design power
(TDP), energy = power x time (x the data centre's power usage effectiveness, PUE),
emissions = energy x the grid's carbon intensity. The study's constants, the defaults of
:data:`LIGHTWEIGHT_STUDY`:

* device: NVIDIA Tesla P100, TDP **250 W**;
* carbon intensity: **420 g CO2e/kWh** (0.42 kg/kWh, Google Cloud region asia-southeast1);
* PUE: **1.0** (the study names none; the calculator's formula is TDP x hours x intensity).

The study reports 250 GPU-hours and 35 kg CO2e in all; 250 W x 250 h x 0.42 kg/kWh gives
26.25 kg, so its total is 1.33x the stated formula (the text does not say why; a PUE of
1.33 would match). Energy here counts the accelerator only, at full TDP: not CPUs, memory,
cooling (unless ``pue`` > 1) or idle time, and real draw is usually below TDP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sslvid.backbones.cost import PAPER_CLIP, backbone_table

JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class EnergySetting:
    """The constants of an energy estimate: device power, PUE and grid carbon intensity.

    Args:
        device: what ran (for tables).
        device_watts: power draw in W (TDP in the lightweight study).
        pue: power usage effectiveness of the data centre (>= 1; 1: device only).
        carbon_intensity_g_per_kwh: grams of CO2 equivalent per kWh of the grid.
        source: where the numbers come from.
    """

    device: str
    device_watts: float
    pue: float
    carbon_intensity_g_per_kwh: float
    source: str


LIGHTWEIGHT_STUDY = EnergySetting(
    device="NVIDIA Tesla P100",
    device_watts=250.0,
    pue=1.0,
    carbon_intensity_g_per_kwh=420.0,
    source="Sonawane et al. §7: Tesla P100 (TDP 250 W), GCP asia-southeast1 0.42 kgCO2eq/kWh, "
    "ML Impact calculator (Lacoste et al. 2019)",
)
"""The lightweight study's constants (module docstring)."""


def energy_estimate(
    seconds: float,
    device_watts: float = LIGHTWEIGHT_STUDY.device_watts,
    pue: float = LIGHTWEIGHT_STUDY.pue,
    carbon_intensity_g_per_kwh: float = LIGHTWEIGHT_STUDY.carbon_intensity_g_per_kwh,
) -> dict[str, float]:
    """Energy and emissions of running a device for ``seconds`` (Lacoste et al., 2019).

    ``kWh = device_watts * seconds * pue / 3.6e6`` and ``kg CO2e = kWh * intensity / 1000``.
    E.g. the lightweight study's 250 h on a 250 W P100 at 420 g/kWh: 62.5 kWh, 26.25 kg.

    Args:
        seconds: run time.
        device_watts: power draw in W (defaults: the lightweight study's P100 TDP, 250 W).
        pue: data-centre overhead factor (default 1.0).
        carbon_intensity_g_per_kwh: grid intensity (default 420, GCP asia-southeast1).

    Returns:
        ``{"hours", "kWh", "kg_CO2e"}``.

    Raises:
        ValueError: for negative time, power or intensity, or ``pue < 1``.
    """
    if seconds < 0 or device_watts < 0 or carbon_intensity_g_per_kwh < 0:
        raise ValueError(
            f"seconds, watts and intensity must be >= 0, got {seconds}, {device_watts}, {carbon_intensity_g_per_kwh}"
        )
    if pue < 1:
        raise ValueError(f"pue must be >= 1, got {pue}")
    kwh = device_watts * seconds * pue / JOULES_PER_KWH
    return {"hours": seconds / 3600.0, "kWh": kwh, "kg_CO2e": kwh * carbon_intensity_g_per_kwh / 1000.0}


def training_macs(macs_per_clip: float, clips: float, backward_factor: float = 3.0) -> float:
    """Multiply-adds of training on ``clips`` clips: forward MACs x ``backward_factor``.

    The usual rule (Kaplan et al., 2020, §2.1): a backward pass costs about twice the forward,
    so a training step is about 3x the forward pass.
    """
    return macs_per_clip * clips * backward_factor


def cost_table(
    names: Sequence[str] | None = None,
    clip_shape: Sequence[int] = PAPER_CLIP,
    width: float = 1.0,
    epochs: int = 100,
    clips_per_epoch: int = 10_000,
    device_watts: float = LIGHTWEIGHT_STUDY.device_watts,
    pue: float = LIGHTWEIGHT_STUDY.pue,
    carbon_intensity_g_per_kwh: float = LIGHTWEIGHT_STUDY.carbon_intensity_g_per_kwh,
    train_seconds: Mapping[str, float] | None = None,
    throughput: bool = True,
    batch_size: int = 2,
    steps: int = 3,
) -> pd.DataFrame:
    """One row per backbone: size, MACs, measured speed, and the time, energy and CO2 of a run.

    The lightweight study's Table 1 ("Avg. FLOPs", "CO2 Gen.") for a planned run of
    ``epochs * clips_per_epoch`` training clips. The time is the measured one from
    ``train_seconds`` when given (e.g. from the engine's logs), else estimated from the
    training throughput measured here (``measure_throughput`` on this machine's device,
    so it is the time *this* machine would take, on CPU unless the models are timed elsewhere).

    Args:
        names: backbones (default: all, small to big).
        clip_shape: ``(C, T, H, W)`` of one clip.
        width: width multiplier.
        epochs: pre-training epochs.
        clips_per_epoch: clips seen per epoch.
        device_watts, pue, carbon_intensity_g_per_kwh: see :func:`energy_estimate`.
        train_seconds: measured training time per backbone name, used instead of the estimate.
        throughput: measure clips/s (else only names in ``train_seconds`` get a time).
        batch_size: clips per timed step.
        steps: timed steps per measurement.

    Returns:
        DataFrame with ``backbone_table``'s columns (name, capacity, width, params, GMACs,
        train_clips_per_s, infer_clips_per_s) plus train_PMACs, train_seconds,
        time_source ("measured run" / "estimated from clips/s"), hours, kWh, kg_CO2e.

    Raises:
        ValueError: for an unknown backbone name or negative epochs / clips.
    """
    if epochs < 0 or clips_per_epoch < 0:
        raise ValueError(f"epochs and clips_per_epoch must be >= 0, got {epochs}, {clips_per_epoch}")
    table = backbone_table(names, clip_shape, width, throughput, batch_size, steps)
    clips = epochs * clips_per_epoch
    measured = dict(train_seconds or {})
    table["train_PMACs"] = [training_macs(g * 1e9, clips) / 1e15 for g in table["GMACs"]]
    table["train_seconds"] = [
        measured.get(n, clips / r if r and not math.isnan(r) else math.nan)
        for n, r in zip(table["name"], table["train_clips_per_s"])
    ]
    table["time_source"] = ["measured run" if n in measured else "estimated from clips/s" for n in table["name"]]
    energy = [
        energy_estimate(s, device_watts, pue, carbon_intensity_g_per_kwh)
        if not math.isnan(s)
        else {"hours": math.nan, "kWh": math.nan, "kg_CO2e": math.nan}
        for s in table["train_seconds"]
    ]
    return pd.concat([table, pd.DataFrame(energy, index=table.index)], axis=1)


def timing_summary(timings: pd.DataFrame) -> pd.DataFrame:
    """What a piece of work cost, by kind: one row per ``what`` of ``timings`` (rows with ``what``, ``seconds``
    and, where known, ``cached``, e.g. ``Study.timing_table``), with ``calls``, ``cached`` (calls that found
    their result stored, costing ~0 s) and ``seconds`` (summed), the costliest first."""
    if timings.empty:
        return pd.DataFrame(columns=["what", "calls", "cached", "seconds"])
    cached = timings["cached"].fillna(False).astype(bool) if "cached" in timings else False
    grouped = timings.assign(cached=cached).groupby("what")
    summary = pd.DataFrame(
        {"calls": grouped.size(), "cached": grouped["cached"].sum(), "seconds": grouped["seconds"].sum().round(1)}
    )
    return summary.reset_index().sort_values("seconds", ascending=False, ignore_index=True)
