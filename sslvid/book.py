"""Executing the study book's chapters: papermill over the notebooks in ``notebooks/``.

``make book`` calls ``execute_chapter`` for each notebook (micro profile) and then builds
the HTML with Jupyter Book; ``make test`` calls ``prepare_chapter`` (smoke profile) and
runs the prepared copies under nbval. The same through plain papermill::

    papermill notebooks/01_data_and_backbones.ipynb out.ipynb -p profile paper -p data_root /data
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sslvid.errors import import_optional
from sslvid.io import atomic_write_json
from sslvid.paths import project_home
from sslvid.progress import BOOK_PAGE_ENV, PROGRESS_ENV, format_seconds, format_status, read_status

log = logging.getLogger(__name__)


def chapter_parameters(profile: str, data_root: str | None = None, **extra: Any) -> dict[str, Any]:
    """The papermill parameters injected into a chapter's ``parameters`` cell."""
    params: dict[str, Any] = {"profile": profile, **extra}
    if data_root:
        params["data_root"] = str(data_root)
    return params


def execute_chapter(
    src: str | Path, dst: str | Path, profile: str = "micro", data_root: str | None = None, **extra: Any
) -> float:
    """Execute notebook ``src`` with papermill into ``dst``; returns the wall time in seconds.

    The executed copy is tagged for the book's pages (``tag_for_book``: code folded, parameters
    removed); ``src`` is not changed. The time is also recorded in ``build/chapter-times.json`` for
    the build report. While the
    chapter runs, standard error shows the run being trained or evaluated (``sslvid.progress``),
    the cell being executed and the time left by the last build of the chapter; the executed
    notebook stores no progress bar.
    """
    papermill = import_optional("papermill", extra="book", feature="executing chapters")

    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".running.ipynb")
    start = time.perf_counter()
    status = dst.resolve().with_suffix(".status.json")  # absolute: papermill changes directory while it runs
    printer = StatusPrinter(src.stem, status, previous_seconds(src.stem, profile))
    try:
        with _environ(PROGRESS_ENV, str(status)), _environ(BOOK_PAGE_ENV, "1"), printer:
            papermill.execute_notebook(
                str(src),
                str(tmp),
                parameters=chapter_parameters(profile, data_root, **extra),
                kernel_name="python3",
                cwd=str(src.parent),
                progress_bar={"file": printer.cells, "mininterval": 0},
            )
    finally:
        status.unlink(missing_ok=True)
    executed = tag_for_book(_read_notebook(tmp))
    if BOOK_CONFIG.is_file():
        executed = add_launch_links(executed, src.name, **book_repository(BOOK_CONFIG))
    _write_notebook(tmp, executed)
    tmp.replace(dst)
    seconds = time.perf_counter() - start
    _record_time(src.stem, profile, seconds)
    log.info("executed %s (%s) in %.1f s", src.name, profile, seconds)
    return seconds


def prepare_chapter(
    src: str | Path, dst: str | Path, profile: str = "smoke", data_root: str | None = None, **extra: Any
) -> None:
    """Write ``src`` to ``dst`` with the parameters injected, without executing it (for nbval)."""
    papermill = import_optional("papermill", extra="book", feature="executing chapters")

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(src),
        str(dst),
        parameters=chapter_parameters(profile, data_root, **extra),
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )


BOOK_CONFIG = Path(__file__).resolve().parents[1] / "_config.yml"
"""The book's configuration in this checkout (its ``repository`` gives the launch links)."""

INSTALL_TAG = "remove-cell"
"""Tag of the install cell: Jupyter Book leaves it off the page."""

_INSTALL_MARK = "# Colab / Binder: install sslvid when it is missing"

HIDE_INPUT_TAG = "hide-input"
"""Tag of every code cell of an executed chapter: the page shows its output, the code folded."""

PARAMETER_TAGS = ("parameters", "injected-parameters")
"""Tags of the cells that set a chapter's parameters (the notebook's own and the one papermill injects)."""

_PAGE_TAGS = ("remove-", "hide-")  # tags by which a cell already says how the page shows it


def tag_for_book(nb: dict[str, Any]) -> dict[str, Any]:
    """Tag an executed chapter's cells so that its page reads as a study: every code cell
    ``hide-input`` (the output shown, the code folded behind a toggle), the ``parameters`` and
    ``injected-parameters`` cells ``remove-cell``. A cell that already carries a ``remove-*`` or
    ``hide-*`` tag keeps its own. Returns ``nb`` (changed in place); running it twice changes nothing.

    Only the executed copies in ``book/chapters/`` are tagged: the notebooks in ``notebooks/``
    (JupyterLab, Colab, nbval) keep their code in view.
    """
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(tag in PARAMETER_TAGS for tag in tags):
            wanted = "remove-cell"
        elif any(tag.startswith(_PAGE_TAGS) for tag in tags):
            continue
        else:
            wanted = HIDE_INPUT_TAG
        if wanted not in tags:
            tags.append(wanted)
    return nb


def book_repository(config: str | Path | None = None) -> dict[str, str]:
    """``url`` and ``branch`` of the repository the book's launch links open (``repository`` in ``_config.yml``).

    Raises:
        ValueError: when ``_config.yml`` names no ``repository.url``.
    """
    import yaml

    path = Path(config) if config is not None else BOOK_CONFIG
    repo = (yaml.safe_load(path.read_text()) or {}).get("repository") or {}
    if not repo.get("url"):
        raise ValueError(
            f"{path} names no repository.url; add `repository: {{url: https://github.com/<owner>/<name>}}`"
        )
    return {"url": str(repo["url"]).rstrip("/"), "branch": str(repo.get("branch") or "main")}


def launch_urls(notebook: str, url: str, branch: str = "main") -> dict[str, str]:
    """Colab and Binder addresses that open ``notebooks/<notebook>`` of the GitHub repository ``url``.

    Raises:
        ValueError: when ``url`` is not a ``https://github.com/<owner>/<name>`` address.
    """
    found = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url)
    if not found:
        raise ValueError(
            f"launch links need a GitHub repository address https://github.com/<owner>/<name>, got {url!r}"
        )
    owner, name = found.groups()
    return {
        "colab": f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks/{notebook}",
        "binder": f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/notebooks/{notebook}",
    }


def install_cell_source(url: str, branch: str = "main") -> str:
    """The first cell of every chapter notebook: installs ``sslvid`` from ``url`` where it is missing.

    Where the package is importable (``make lab``, ``make book``) the cell does nothing.
    """
    return (
        f"{_INSTALL_MARK} (does nothing where it is installed).\n"
        "try:\n"
        "    import sslvid\n"
        "except ImportError:\n"
        f'    %pip install --quiet "sslvid @ git+{url}@{branch}"\n'
    )


def install_cell(url: str, branch: str = "main") -> dict[str, Any]:
    """The install cell as a notebook cell (code, tagged ``remove-cell``, no outputs)."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "install-sslvid",
        "metadata": {"tags": [INSTALL_TAG]},
        "outputs": [],
        "source": install_cell_source(url, branch).splitlines(keepends=True),
    }


def set_install_cell(notebook: str | Path, url: str, branch: str = "main") -> bool:
    """Make the first cell of ``notebook`` the install cell (replacing an older one); True if it changed."""
    path = Path(notebook)
    nb = _read_notebook(path)
    cells = nb["cells"]
    if cells and "".join(cells[0].get("source", "")).startswith(_INSTALL_MARK):
        if cells[0] == install_cell(url, branch):
            return False
        cells[0] = install_cell(url, branch)
    else:
        cells.insert(0, install_cell(url, branch))
    _write_notebook(path, nb)
    return True


def add_launch_links(nb: dict[str, Any], notebook: str, url: str, branch: str = "main") -> dict[str, Any]:
    """Put a line of links under the chapter's title: open ``notebooks/<notebook>`` in Colab or
    Binder, and download this executed copy. Returns ``nb`` (changed in place).

    Jupyter Book's own launch buttons open the page's path, the executed copy in ``book/chapters/``
    that git does not hold; these open the parameterized notebook instead.
    """
    urls = launch_urls(notebook, url, branch)
    links = (
        f"*Run this chapter yourself:* [open in Colab]({urls['colab']}) · "
        f"[open in Binder]({urls['binder']}) · {{download}}`download the executed notebook <{notebook}>`\n"
    )
    for cell in nb["cells"]:
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] == "markdown" and source.startswith("# "):
            title, _, rest = source.partition("\n")
            cell["source"] = f"{title}\n\n{links}{rest}"
            return nb
    raise ValueError(f"{notebook} has no markdown cell starting with a '# ' title to put the launch links under")


def _read_notebook(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _write_notebook(path: Path, nb: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def previous_seconds(chapter: str, profile: str) -> float | None:
    """How long the last build took to execute ``chapter`` at ``profile`` (None: never recorded)."""
    path = _times_path()
    entry = json.loads(path.read_text()).get(chapter) if path.is_file() else None
    return float(entry["seconds"]) if entry and entry.get("profile") == profile else None


class _CellCounter(io.StringIO):
    """The file papermill's cell progress bar writes to; remembers the last ``done/total`` it showed."""

    done: int = 0
    total: int = 0

    def write(self, text: str) -> int:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            self.done, self.total = (int(n) for n in found[-1])
        return len(text)


class StatusPrinter:
    """Prints, while a chapter executes, one status line to ``stream`` every ``every`` seconds.

    The line names the chapter, the cell, the elapsed time and the time left by the last build's
    duration (``~3:20 left``; ``no earlier build`` the first time), then the run in progress
    read from ``status`` (``sslvid.progress.RunStatus``). On a terminal the line is rewritten in
    place every ``every`` seconds; elsewhere (a log file, CI) a new line is printed when another
    run or epoch starts (at most one per ``min_gap`` seconds), and otherwise every ``log_every`` seconds.
    """

    def __init__(
        self,
        chapter: str,
        status: Path,
        previous: float | None,
        stream: TextIO | None = None,
        every: float = 1.0,
        log_every: float = 30.0,
        min_gap: float = 5.0,
    ) -> None:
        self.chapter, self.status, self.previous = chapter, Path(status).resolve(), previous
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every, self.log_every, self.min_gap = every, log_every, min_gap
        self.cells = _CellCounter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.perf_counter()

    def line(self) -> str:
        """The status line now."""
        elapsed = time.perf_counter() - self._start
        if self.previous is None:
            estimate = "no earlier build"
        elif elapsed <= self.previous:
            estimate = f"~{format_seconds(self.previous - elapsed)} left (last build {format_seconds(self.previous)})"
        else:
            estimate = (
                f"{format_seconds(elapsed - self.previous)} over the last build's {format_seconds(self.previous)}"
            )
        cell = f"cell {self.cells.done}/{self.cells.total}" if self.cells.total else "starting"
        text = f"{self.chapter}: {cell}, {format_seconds(elapsed)} elapsed, {estimate}"
        run = read_status(self.status)
        return f"{text} | {format_status(run)}" if run and "desc" in run else text

    def __enter__(self) -> StatusPrinter:
        self.status.unlink(missing_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _loop(self) -> None:
        printed, shown = -1e9, None
        while not self._stop.wait(self.every):
            now = time.perf_counter()
            run = read_status(self.status) or {}
            key = (run.get("desc"), run.get("epoch"))
            if self.tty:
                self.stream.write(f"\r\033[K{self.line()[:200]}")
            elif (key != shown and now - printed >= self.min_gap) or now - printed >= self.log_every:
                self.stream.write(f"{self.line()}\n")
                printed, shown = now, key
            else:
                continue
            self.stream.flush()


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """Set ``os.environ[name]`` for the block (a kernel started inside inherits it)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _times_path() -> Path:
    return project_home() / "build" / "chapter-times.json"


def _record_time(chapter: str, profile: str, seconds: float) -> None:
    path = _times_path()
    times = json.loads(path.read_text()) if path.is_file() else {}
    times[chapter] = {"profile": profile, "seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(path, times)


CARD_SECTIONS = (
    ("pretext", "Pretext tasks"),
    ("distill", "Knowledge distillation"),
    ("evaluate", "Evaluation protocols"),
)


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
    lines = [
        "(method-cards)=",
        "# Method cards",
        "",
        "Every method of this study as its paper defines it, as its authors' released code sets it,",
        "and as this codebase sets it. The *ours* column is read from the code's defaults when this",
        "page is built, and a test fails when a card's account of a difference no longer matches",
        "the code. A mark in *differs* means our value is not the paper's (or, where the paper is",
        "silent, not the released code's); *why* says what made us choose it. Paper-scale values are",
        "shown; the micro profile's scaling is stated where it changes a setting.",
        "",
    ]
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
