"""Executing the study book's chapters: papermill over the notebooks in ``notebooks/``.

``make book`` calls ``execute_chapter`` for each notebook (micro profile) and then builds
the HTML with Jupyter Book; ``make test`` calls ``prepare_chapter`` (smoke profile) and
runs the prepared copies under nbval. The same through plain papermill::

    papermill notebooks/01_data_and_backbones.ipynb out.ipynb -p profile paper -p data_root /data
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from sslvid.errors import import_optional
from sslvid.io import atomic_write_json
from sslvid.paths import project_home

log = logging.getLogger(__name__)


def chapter_parameters(profile: str, data_root: str | None = None, **extra: Any) -> dict[str, Any]:
    """The papermill parameters injected into a chapter's ``parameters`` cell."""
    params: dict[str, Any] = {"profile": profile, **extra}
    if data_root:
        params["data_root"] = str(data_root)
    return params


def execute_chapter(src: str | Path, dst: str | Path, profile: str = "micro",
                    data_root: str | None = None, **extra: Any) -> float:
    """Execute notebook ``src`` with papermill into ``dst``; returns the wall time in seconds.

    The time is also recorded in ``build/chapter-times.json`` for the build report.
    """
    papermill = import_optional("papermill", extra="book", feature="executing chapters")

    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".running.ipynb")
    start = time.perf_counter()
    papermill.execute_notebook(
        str(src), str(tmp), parameters=chapter_parameters(profile, data_root, **extra),
        kernel_name="python3", cwd=str(src.parent), progress_bar=False,
    )
    tmp.replace(dst)
    seconds = time.perf_counter() - start
    _record_time(src.stem, profile, seconds)
    log.info("executed %s (%s) in %.1f s", src.name, profile, seconds)
    return seconds


def prepare_chapter(src: str | Path, dst: str | Path, profile: str = "smoke",
                    data_root: str | None = None, **extra: Any) -> None:
    """Write ``src`` to ``dst`` with the parameters injected, without executing it (for nbval)."""
    papermill = import_optional("papermill", extra="book", feature="executing chapters")

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(src), str(dst), parameters=chapter_parameters(profile, data_root, **extra),
        prepare_only=True, kernel_name="python3", progress_bar=False,
    )


def _record_time(chapter: str, profile: str, seconds: float) -> None:
    path = project_home() / "build" / "chapter-times.json"
    times = json.loads(path.read_text()) if path.is_file() else {}
    times[chapter] = {"profile": profile, "seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(path, times)


CARD_SECTIONS = (("pretext", "Pretext tasks"), ("distill", "Knowledge distillation"),
                 ("evaluate", "Evaluation protocols"))


def card_label(kind: str, method: str) -> str:
    """The page label of a method's card, for ``{ref}`` links from the chapters: ``card-<kind>-<method>``."""
    return f"card-{kind}-{method}".replace("_", "-")


def method_cards_page() -> str:
    """The book's page of method cards (MyST Markdown), generated from the code's own defaults.

    Imports the packages that register cards (pretext tasks, distillers, evaluation protocols),
    so every registered method appears; each card carries a ``card-<kind>-<method>`` label.

    Raises:
        ValueError: when a card's claims disagree with the code (``sslvid.cards.check_card``).
    """
    import importlib

    from sslvid.cards import CARDS, card_markdown, check_card

    for package in ("sslvid.pretext", "sslvid.distill", "sslvid.evaluate"):
        importlib.import_module(package)
    problems = [p for card in CARDS.values() for p in check_card(card)]
    if problems:
        raise ValueError("method cards disagree with the code:\n  - " + "\n  - ".join(problems))
    lines = ["(method-cards)=", "# Method cards", "",
             "Every method of this study as its paper defines it, as its authors' released code sets it,",
             "and as this codebase sets it. The *ours* column is read from the code's defaults when this",
             "page is built, and a test fails when a card's account of a difference no longer matches",
             "the code. A mark in *differs* means our value is not the paper's (or, where the paper is",
             "silent, not the released code's); *why* says what made us choose it. Paper-scale values are",
             "shown; the micro profile's scaling is stated where it changes a setting.", ""]
    for kind, title in CARD_SECTIONS:
        cards = sorted((c for c in CARDS.values() if c.kind == kind), key=lambda c: c.title.lower())
        lines += [f"## {title}", ""]
        for card in cards:
            lines += [f"({card_label(kind, card.method)})=", card_markdown(card)]
    return "\n".join(lines)


def write_method_cards(path: str | Path) -> Path:
    """Write ``method_cards_page()`` to ``path`` (atomically); returns the path."""
    from sslvid.io import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, method_cards_page())
    return path
