"""Method cards: for every method, each setting as its paper states it, as its authors' released
code sets it, and as this codebase sets it, with every difference marked and explained.

A card is written beside the method it describes (a pretext task, a distiller, an evaluation
protocol) and registered in ``CARDS``. The *ours* column is never typed in: each setting names
a zero-argument function that reads the value from the code (usually a default argument, via
``default_of``), so the card follows the code. What a card can get wrong is its claim about the
difference, and ``check_card`` catches that: a setting whose value differs from the paper (or,
where the paper is silent, from the released code) must say why, and one that matches must not
carry a stale explanation.

    register_card(MethodCard(
        method="rspnet", kind="pretext", title="RSPNet",
        paper="Chen et al., 2021", code="PeihaoChen/RSPNet",
        settings=(Setting("temperature", paper=0.5, where="§3.3",
                          ours=default_of(RSPNet, "temperature")),),
    ))
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("pretext", "distill", "evaluate")
UNKNOWN = "—"
"""Shown where the paper or the released code gives no value."""


def default_of(function: Callable[..., Any], parameter: str) -> Callable[[], Any]:
    """A reader of ``parameter``'s default value in ``function``'s signature (a class reads ``__init__``).

    Raises:
        ValueError: when ``parameter`` is not a parameter of ``function`` or has no default,
            so a renamed argument breaks the card at once rather than showing a stale value.
    """
    signature = inspect.signature(function)
    if parameter not in signature.parameters:
        raise ValueError(
            f"{function.__qualname__} has no parameter {parameter!r}; parameters: {', '.join(signature.parameters)}"
        )
    default = signature.parameters[parameter].default
    if default is inspect.Parameter.empty:
        raise ValueError(f"{function.__qualname__}({parameter}) has no default to show on a card")
    return lambda: default


@dataclass(frozen=True)
class Setting:
    """One row of a method card.

    Args:
        name: what is set ("temperature", "crop area", "loss weight of CE").
        paper: the value the paper states (None: the paper does not say).
        where: where the paper states it ("§3.2", "Table 4", "Eq. 5").
        released: the value in the authors' released code (None: no code, or it does not set it).
        ours: reads this codebase's value (e.g. ``default_of(Task, "tau")`` or ``lambda: CONSTANT``).
        note: why ours differs from the reference, or which of two disagreeing references we follow.
            Required when ours differs from the reference; must be empty when it does not, unless
            the paper and the released code disagree with each other.
    """

    name: str
    paper: Any = None
    where: str = ""
    released: Any = None
    ours: Callable[[], Any] = field(default=lambda: None, repr=False)
    note: str = ""

    def ours_value(self) -> Any:
        return self.ours()

    def reference(self) -> Any:
        """What ours is compared with: the paper's value, else the released code's."""
        return self.paper if self.paper is not None else self.released

    def differs(self) -> bool:
        """True when ours is not the reference value (numbers compared with a relative 1e-9)."""
        reference = self.reference()
        return reference is not None and not same_value(self.ours_value(), reference)

    def references_disagree(self) -> bool:
        return self.paper is not None and self.released is not None and not same_value(self.paper, self.released)


def same_value(a: Any, b: Any) -> bool:
    """Equality that treats 0.1 and 0.1000000001, (1, 2) and [1, 2] as the same."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@dataclass(frozen=True)
class MethodCard:
    """Where one method of this codebase stands against its definition.

    Args:
        method: the registry name ("rspnet", "aekd", "retrieval").
        kind: "pretext", "distill" or "evaluate".
        title: the name readers know ("RSPNet").
        paper: citation of the defining paper ("Chen et al., 2021").
        code: the authors' released code ("owner/repo"), or "" when there is none.
        settings: the rows.
        summary: one or two sentences on what the method is and how ours is built.
    """

    method: str
    kind: str
    title: str
    paper: str
    code: str = ""
    settings: tuple[Setting, ...] = ()
    summary: str = ""


CARDS: dict[str, MethodCard] = {}


def register_card(card: MethodCard) -> MethodCard:
    """Add ``card`` to ``CARDS`` under ``kind/method``.

    Raises:
        ValueError: for an unknown kind or a card registered twice.
    """
    if card.kind not in KINDS:
        raise ValueError(f"card {card.method!r}: kind {card.kind!r} is not one of {', '.join(KINDS)}")
    key = f"{card.kind}/{card.method}"
    if key in CARDS:
        raise ValueError(f"method card {key!r} is registered twice")
    CARDS[key] = card
    return card


def get_card(kind: str, method: str) -> MethodCard:
    """The card of ``method``.

    Raises:
        ValueError: when there is none; the message lists the cards of that kind.
    """
    try:
        return CARDS[f"{kind}/{method}"]
    except KeyError:
        valid = ", ".join(sorted(c.method for c in CARDS.values() if c.kind == kind))
        raise ValueError(f"no method card for {kind} {method!r}; cards: {valid}") from None


def check_card(card: MethodCard) -> list[str]:
    """Problems with ``card``'s claims about the code (empty when it is right)."""
    problems = []
    for setting in card.settings:
        label = f"{card.title}, {setting.name}"
        if setting.differs() and not setting.note:
            problems.append(
                f"{label}: ours is {format_value(setting.ours_value())}, the reference "
                f"{format_value(setting.reference())}, and the card does not say why"
            )
        if setting.note and not setting.differs() and not setting.references_disagree():
            problems.append(
                f"{label}: ours matches the reference but the card still explains a difference ({setting.note!r})"
            )
    return problems


def format_value(value: Any) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def card_rows(card: MethodCard) -> list[dict[str, str]]:
    """The card as table rows: setting, paper (with where), released code, ours, differs, why."""
    rows = []
    for s in card.settings:
        paper = format_value(s.paper) + (f" ({s.where})" if s.where and s.paper is not None else "")
        rows.append(
            {
                "setting": s.name,
                "paper": paper,
                "released code": format_value(s.released),
                "ours": format_value(s.ours_value()),
                "differs": "yes" if s.differs() else "",
                "why": s.note,
            }
        )
    return rows


def card_markdown(card: MethodCard) -> str:
    """The card as a Markdown section: title, citation, summary and its table."""
    head = f"### {card.title}\n\n{card.paper}" + (
        f"; released code: `{card.code}`" if card.code else "; no released code"
    )
    lines = [head + ".", ""]
    if card.summary:
        lines += [card.summary, ""]
    columns = ["setting", "paper", "released code", "ours", "differs", "why"]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in card_rows(card):
        lines.append("| " + " | ".join(row[c].replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"
