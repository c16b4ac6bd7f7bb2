"""Method cards: ours is read from the code, and a card's claim about a difference is checked."""
from __future__ import annotations

import pytest

from sslvid.cards import MethodCard, Setting, card_markdown, check_card, default_of


def _method(tau: float = 0.1, crop: tuple = (0.4, 1.0)) -> None:
    """A stand-in method with two defaults."""


def test_default_of_reads_the_signature_and_rejects_unknown_names():
    assert default_of(_method, "tau")() == 0.1
    with pytest.raises(ValueError, match="no parameter 'temperature'"):
        default_of(_method, "temperature")


def test_check_card_requires_a_note_for_each_difference_and_none_for_a_match():
    card = MethodCard(method="x", kind="pretext", title="X", paper="A et al., 2020", settings=(
        Setting("tau", paper=0.07, where="§3", ours=default_of(_method, "tau")),
        Setting("crop", paper=[0.4, 1.0], ours=default_of(_method, "crop"), note="stale"),
    ))
    problems = check_card(card)
    assert len(problems) == 2
    assert "does not say why" in problems[0] and "still explains" in problems[1]
    fixed = MethodCard(method="x", kind="pretext", title="X", paper="A et al., 2020", settings=(
        Setting("tau", paper=0.07, ours=default_of(_method, "tau"), note="micro scale"),
        Setting("crop", paper=[0.4, 1.0], ours=default_of(_method, "crop")),
    ))
    assert check_card(fixed) == []
    text = card_markdown(fixed)
    assert "| tau | 0.07 | — | 0.1 | yes | micro scale |" in text


CARDED_TASKS = ("byol", "cvrl", "moco_v2", "prp", "rotnet", "rspnet", "simclr", "splitbrain", "tdl", "vcop")
"""Every pretext task of the benchmark and of the lightweight study."""


def test_every_registered_pretext_task_has_a_card_and_every_card_checks_clean():
    import sslvid.pretext  # noqa: F401  (registers the tasks and their cards)
    from sslvid.cards import CARDS
    from sslvid.pretext.base import list_tasks

    carded = {card.method for card in CARDS.values() if card.kind == "pretext"}
    assert set(CARDED_TASKS) == carded == set(list_tasks())
    problems = [problem for card in CARDS.values() for problem in check_card(card)]
    assert problems == []
    assert all(card_markdown(card).count("\n|") == len(card.settings) + 2 for card in CARDS.values())
