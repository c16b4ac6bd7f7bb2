"""The training recipe every distiller runs with at paper scale, as the method cards show it.

Every distillation run takes its optimiser, learning rate, weight decay, momentum, batch and
epochs from ``DistillConfig`` and the ``paper`` profile, whatever the method; a card puts these
beside the numbers each method's paper (or released code) trains with.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from sslvid.cards import Setting
from sslvid.profiles import get_profile

RECIPE = ("optimiser", "learning rate", "weight decay", "momentum", "batch size", "epochs")
ONE_RECIPE = "the study trains every distiller with one recipe (DistillConfig at the paper profile)"
"""The note of a recipe row that differs: the difference comes from the shared recipe, not the method."""


def paper_recipe() -> dict[str, Any]:
    """The recipe of a distillation run at paper scale: ``RECIPE`` names -> values."""
    paper = get_profile("paper").defaults("distill")
    return {
        "optimiser": paper["optimizer"],
        "learning rate": paper["lr"],
        "weight decay": paper["weight_decay"],
        "momentum": paper["momentum"],
        "batch size": paper["batch_size"],
        "epochs": paper["epochs"],
    }


def _paper_value(name: str) -> Any:
    """One entry of ``paper_recipe()``."""
    return paper_recipe()[name]


def recipe_settings(
    paper: Mapping[str, Any] | None = None,
    where: str = "",
    released: Mapping[str, Any] | None = None,
    notes: Mapping[str, str] | None = None,
) -> tuple[Setting, ...]:
    """Card rows of the recipe against a method's ``paper`` values (stated at ``where``) and ``released`` ones.

    A row whose value differs from its reference gets ``notes[name]``, else :data:`ONE_RECIPE`.

    Raises:
        ValueError: for a name that is not in :data:`RECIPE`.
    """
    paper, released, notes = dict(paper or {}), dict(released or {}), dict(notes or {})
    unknown = (set(paper) | set(released) | set(notes)) - set(RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe settings {', '.join(sorted(unknown))}; valid: {', '.join(RECIPE)}")
    rows = []
    for name in RECIPE:
        row = Setting(
            name,
            paper=paper.get(name),
            where=where if name in paper else "",
            released=released.get(name),
            ours=partial(_paper_value, name),
        )
        if row.differs():
            row = Setting(row.name, row.paper, row.where, row.released, row.ours, notes.get(name, ONE_RECIPE))
        rows.append(row)
    return tuple(rows)
