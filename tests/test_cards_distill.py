"""Every registered distiller has a method card, and every card's claims about the code hold."""

from __future__ import annotations

import pytest

from sslvid.cards import CARDS, card_markdown, check_card, get_card
from sslvid.distill import list_distillers
from sslvid.distill.recipe import paper_recipe, recipe_settings


@pytest.mark.parametrize("name", list_distillers())
def test_every_distiller_has_a_card_that_checks_clean(name: str) -> None:
    card = get_card("distill", name)
    assert check_card(card) == []
    assert f"### {card.title}" in card_markdown(card)


def test_no_card_names_a_distiller_that_is_not_registered() -> None:
    cards = {c.method for c in CARDS.values() if c.kind == "distill"}
    assert cards == set(list_distillers())


def test_recipe_rows_read_the_config_and_explain_each_difference() -> None:
    recipe = paper_recipe()
    rows = {
        s.name: s for s in recipe_settings({"epochs": recipe["epochs"] + 1, "learning rate": recipe["learning rate"]})
    }
    assert rows["epochs"].differs() and rows["epochs"].note
    assert not rows["learning rate"].differs() and not rows["learning rate"].note
    with pytest.raises(ValueError, match="unknown recipe settings"):
        recipe_settings({"warmup": 5})
