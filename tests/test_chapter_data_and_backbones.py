"""Chapter "The data and the backbones": the facts its prose quotes and its one claim, from constructed tables."""

import pandas as pd
import pytest

from sslvid.analysis.claims import HOLDS, INCONCLUSIVE
from sslvid.experiments import data_and_backbones as ch


def costs(speeds: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "backbone": ["a", "b", "c", "d", "e"],
            "GMACs, paper": [0.5, 1.0, 2.0, 4.0, 8.0],
            "MMACs, micro": [1.0, 2.0, 3.0, 4.0, 5.0],
            "train clips/s, micro": speeds,
        }
    )


def test_backbone_facts_and_the_speed_claim():
    table = costs([50.0, 40.0, 30.0, 20.0, 10.0])
    facts = ch.backbone_facts(table, "micro")
    assert (facts["lightest"], facts["heaviest"], facts["fastest"]) == ("a", "e", "a")
    claim = ch.macs_speed_claim(table, "micro")
    assert claim.estimate.value == pytest.approx(-1.0) and claim.estimate.p_less == pytest.approx(1 / 120)
    assert claim.verdict == HOLDS
    mixed = ch.macs_speed_claim(costs([30.0, 50.0, 10.0, 40.0, 20.0]), "micro")
    assert mixed.verdict == INCONCLUSIVE


def test_cache_speed_facts_read_the_measurement():
    speed = pd.DataFrame({"read": ["decode", "cache"], "clips/s": [10.0, 100.0]})
    speed.attrs.update(ratio=10.0, dataset="digits", videos=40, frame_size=(32, 32), frames=8, clips=200)
    assert ch.cache_speed_facts(speed) == {
        "clips": 200,
        "frames": 8,
        "size": "32x32",
        "dataset": "digits",
        "videos": 40,
        "ratio": 10.0,
    }
