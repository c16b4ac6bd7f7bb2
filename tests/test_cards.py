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
    card = MethodCard(
        method="x",
        kind="pretext",
        title="X",
        paper="A et al., 2020",
        settings=(
            Setting("tau", paper=0.07, where="§3", ours=default_of(_method, "tau")),
            Setting("crop", paper=[0.4, 1.0], ours=default_of(_method, "crop"), note="stale"),
        ),
    )
    problems = check_card(card)
    assert len(problems) == 2
    assert "does not say why" in problems[0] and "still explains" in problems[1]
    fixed = MethodCard(
        method="x",
        kind="pretext",
        title="X",
        paper="A et al., 2020",
        settings=(
            Setting("tau", paper=0.07, ours=default_of(_method, "tau"), note="micro scale"),
            Setting("crop", paper=[0.4, 1.0], ours=default_of(_method, "crop")),
        ),
    )
    assert check_card(fixed) == []
    text = card_markdown(fixed)
    assert "| tau | 0.07 | — | 0.1 | yes | micro scale |" in text


def test_the_book_page_holds_every_registered_card_under_its_label(tmp_path):
    from sslvid.book import card_label, write_method_cards
    from sslvid.cards import CARDS
    from sslvid.cli import main

    assert main(["book", "cards", str(tmp_path / "cards.md")]) == 0
    page = (tmp_path / "cards.md").read_text()
    assert CARDS, "the packages register their cards when the page is built"
    for card in CARDS.values():
        assert f"({card_label(card.kind, card.method)})=\n### {card.title}" in page
    assert write_method_cards(tmp_path / "again.md").read_text() == page, "the same code gives the same page"


def test_every_evaluation_protocol_and_distiller_has_a_clean_card():
    import sslvid.distill  # noqa: F401  (registers the distillers' cards)
    import sslvid.evaluate  # noqa: F401
    from sslvid.cards import CARDS, check_card
    from sslvid.distill.base import DISTILLERS

    assert {"finetune", "linear", "retrieval", "noise_robustness"} <= {
        c.method for c in CARDS.values() if c.kind == "evaluate"
    }
    assert set(DISTILLERS.names()) <= {c.method for c in CARDS.values() if c.kind == "distill"}
    assert all(check_card(c) == [] for c in CARDS.values())


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


def test_a_revised_task_definition_changes_its_runs_hash_and_only_its_own():
    from sslvid.engine.config import PretrainConfig
    from sslvid.pretext.base import TASKS

    rspnet = PretrainConfig.for_profile("smoke", task="rspnet", backbone="r3d_18")
    rotnet = PretrainConfig.for_profile("smoke", task="rotnet", backbone="r3d_18")
    assert TASKS.get("rspnet").revision == 2 and rspnet.hashed_dict()["task_revision"] == 2
    assert "task_revision" not in rotnet.hashed_dict(), "unchanged tasks keep their hashes"
