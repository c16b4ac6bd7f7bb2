"""Method cards of the evaluation protocols: every claimed difference is explained, and the cards follow the code."""

from __future__ import annotations

import pytest

import sslvid.evaluate  # noqa: F401  (registers the evaluation protocols and their cards)
from sslvid import profiles
from sslvid.cards import CARDS, card_markdown, check_card, get_card
from sslvid.evaluate.config import EvalConfig
from sslvid.evaluate.corruptions import create_corruption

PROTOCOLS = ("finetune", "linear", "retrieval", "noise_robustness")


def test_every_evaluation_protocol_has_a_card():
    assert set(PROTOCOLS) <= {card.method for card in CARDS.values() if card.kind == "evaluate"}


@pytest.mark.parametrize("method", PROTOCOLS)
def test_card_claims_match_the_code(method):
    card = get_card("evaluate", method)
    assert check_card(card) == []
    text = card_markdown(card)
    assert all(f"| {setting.name} |" in text for setting in card.settings)


def _row(method: str, name: str):
    return next(s for s in get_card("evaluate", method).settings if s.name == name)


def test_ours_is_read_from_the_paper_profile_configs_and_the_registry():
    finetune = EvalConfig.for_profile("paper", backbone="r2plus1d_18", protocol="finetune")
    assert _row("finetune", "epochs").ours_value() == finetune.epochs == 100
    assert _row("finetune", "clips per test video").ours_value() == finetune.test_clips
    assert _row("retrieval", "query and gallery item").ours_value() == "video"
    assert _row("noise_robustness", "shot: photons per unit").ours_value() == list(create_corruption("shot").constants)


def test_a_changed_default_breaks_the_card_until_it_is_explained(monkeypatch):
    """Clip-level retrieval by default would differ from VCOP's released protocol without a word on the card."""
    monkeypatch.setitem(profiles.EVAL_RETRIEVAL, "retrieval_level", "clip")
    problems = check_card(get_card("evaluate", "retrieval"))
    assert len(problems) == 1 and "query and gallery item" in problems[0] and "does not say why" in problems[0]
