"""Cost accounting: energy and CO2 arithmetic (exact), the cost table on backbone_table, the timing summary."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from sslvid.analysis.run_cost import LIGHTWEIGHT_STUDY, cost_table, energy_estimate, timing_summary, training_macs
from sslvid.backbones import create_backbone
from sslvid.backbones.cost import count_flops

MICRO = (3, 4, 16, 16)


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    yield
    torch.set_num_threads(threads)


def test_lightweight_study_constants():
    assert LIGHTWEIGHT_STUDY.device_watts == 250.0
    assert LIGHTWEIGHT_STUDY.carbon_intensity_g_per_kwh == 420.0
    assert LIGHTWEIGHT_STUDY.pue == 1.0


def test_energy_of_the_lightweight_study_by_hand():
    # 250 GPU-hours at 250 W = 62.5 kWh; at 0.42 kg/kWh = 26.25 kg CO2e
    e = energy_estimate(250 * 3600)
    assert e == {"hours": 250.0, "kWh": 62.5, "kg_CO2e": pytest.approx(26.25, abs=1e-12)}


def test_energy_arithmetic_with_pue_and_other_grid():
    # one hour at 400 W, PUE 1.5 -> 0.6 kWh; at 50 g/kWh -> 0.03 kg
    e = energy_estimate(3600, device_watts=400, pue=1.5, carbon_intensity_g_per_kwh=50)
    assert e["kWh"] == pytest.approx(0.6, abs=1e-15)
    assert e["kg_CO2e"] == pytest.approx(0.03, abs=1e-15)
    assert energy_estimate(0) == {"hours": 0.0, "kWh": 0.0, "kg_CO2e": 0.0}


@pytest.mark.parametrize("kwargs", [{"seconds": -1}, {"seconds": 1, "pue": 0.9}, {"seconds": 1, "device_watts": -5}])
def test_energy_rejects_bad_inputs(kwargs):
    with pytest.raises(ValueError):
        energy_estimate(**kwargs)


def test_training_macs_rule():
    assert training_macs(2e9, 1000) == 6e12
    assert training_macs(2e9, 1000, backward_factor=1.0) == 2e12


def test_cost_table_with_measured_times_is_exact():
    table = cost_table(
        ["r3d_18", "c3d"],
        clip_shape=MICRO,
        width=0.125,
        epochs=2,
        clips_per_epoch=50,
        throughput=False,
        train_seconds={"r3d_18": 7200.0},
    )
    expected_cols = {
        "name",
        "capacity",
        "width",
        "params",
        "GMACs",
        "train_clips_per_s",
        "infer_clips_per_s",
        "train_PMACs",
        "train_seconds",
        "time_source",
        "hours",
        "kWh",
        "kg_CO2e",
    }
    assert expected_cols <= set(table.columns)
    r3d = table.set_index("name").loc["r3d_18"]
    assert r3d["time_source"] == "measured run"
    assert r3d["kWh"] == pytest.approx(0.5, abs=1e-15)  # 2 h at 250 W
    assert r3d["kg_CO2e"] == pytest.approx(0.21, abs=1e-15)
    macs = count_flops(create_backbone("r3d_18", width=0.125), MICRO)
    assert r3d["train_PMACs"] == pytest.approx(3 * macs * 100 / 1e15, rel=1e-12)
    assert math.isnan(table.set_index("name").loc["c3d", "kWh"])  # no time: no estimate


def test_cost_table_estimates_time_from_measured_throughput():
    table = cost_table(
        ["r3d_18"],
        clip_shape=MICRO,
        width=0.125,
        epochs=1,
        clips_per_epoch=10,
        steps=1,
        device_watts=100.0,
        carbon_intensity_g_per_kwh=1000.0,
    )
    row = table.iloc[0]
    assert row["train_clips_per_s"] > 0 and row["infer_clips_per_s"] > 0
    assert row["train_seconds"] == pytest.approx(10 / row["train_clips_per_s"])
    assert row["kWh"] == pytest.approx(100.0 * row["train_seconds"] / 3.6e6)
    assert row["kg_CO2e"] == pytest.approx(row["kWh"])


def test_cost_table_rejects_negative_epochs():
    with pytest.raises(ValueError, match="epochs"):
        cost_table(["r3d_18"], clip_shape=MICRO, epochs=-1, throughput=False)


def test_timing_summary_groups_by_kind_costliest_first():
    assert list(timing_summary(pd.DataFrame()).columns) == ["what", "calls", "cached", "seconds"]
    timings = pd.DataFrame(
        [
            {"what": "evaluate", "seconds": 0.5},
            {"what": "pretrain", "cached": True, "seconds": 1.0},
            {"what": "pretrain", "cached": False, "seconds": 2.0},
        ]
    )
    summary = timing_summary(timings)
    assert list(summary["what"]) == ["pretrain", "evaluate"]
    assert summary.set_index("what").loc["pretrain"].tolist() == [2, 1, 3.0] and summary["cached"].iloc[1] == 0
