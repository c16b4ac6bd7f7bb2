"""Check the built book as a reader sees it: every chapter page, opened in headless Chromium,
shows its figures, no image is broken, no cell printed an error, and one cross-reference of the
page (a glossary term, a citation, a link to another chapter) leads to a page and an anchor that
exist; the glossary and the bibliography pages list their entries. A screenshot of every page is
saved beside the HTML (``_build/screenshots``).

How a chapter page reads is checked from its HTML alone (``page_structure``, no browser needed):
every figure has a numbered caption ("Fig. 2.1"), every code cell is folded (``hide-input``), the
parameters cells are not on the page, every in-page link (a ``{numref}`` to a figure, a ``{ref}`` to
a table) has its anchor, and no table is a raw DataFrame repr (``sslvid.analysis.tables``).

``make book`` runs ``python -m sslvid book check`` after building when Chromium is installed
(Debian: ``apt-get install chromium``); the browser is driven through Playwright's Python
client with the system Chromium, so nothing is downloaded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import yaml

from sslvid.errors import import_optional

SKIPPED_NOTICE = """
======================================================================
 BOOK CHECK SKIPPED: no Chromium browser was found on PATH.
 The HTML was built and each chapter page's structure read (numbered
 figures, folded code, in-page links), but no page was opened and
 looked at (images, error outputs, links to other pages, glossary,
 bibliography).
 Install Chromium, then run the check on the built book:
     sudo apt-get install chromium       (Debian, Ubuntu)
     sudo dnf install chromium           (Fedora)
     python -m sslvid book check
======================================================================"""
"""What ``sslvid book check`` prints, last, when it cannot run."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Cells whose output is an error: myst-nb renders a traceback as class "traceback" and
# standard error as class "stderr".
_ERRORS_JS = """() => Array.from(document.querySelectorAll('.cell_output .traceback, .cell_output .stderr'))
    .map(e => e.innerText).filter(t => /Traceback|Error|Exception/.test(t)).map(t => t.slice(0, 300))"""
# Links to other pages of the book (Sphinx marks them "reference internal"; downloads are not pages).
_XREFS_JS = """() => Array.from(document.querySelectorAll('main a.reference.internal[href]'))
    .map(a => a.getAttribute('href')).filter(h => /\\.html(#|$)/.test(h))"""
_ANCHOR_JS = "(id) => document.getElementById(decodeURIComponent(id)) !== null"
# The entries of the reference pages, by their file name.
REFERENCE_PAGES = {
    "glossary": "main dl.glossary dt",
    "bibliography": "main .citation, main dl.citation dt, main div.citation",
}
_IMAGES_JS = """() => Array.from(document.querySelectorAll('article img, main img'))
    .map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))"""


@dataclass
class PageStructure:
    """How a chapter page reads, from its HTML: figures and their numbers, folded code, in-page links.

    ``figures`` lists the id of every figure with its caption number ("Fig. 2.1"; "" when it has
    none); ``unfolded_code`` counts code cells shown open, ``parameters_shown`` the parameters
    cells left on the page; ``broken_anchors`` the in-page links (``#id``) with no element of that
    id; ``raw_tables`` the tables rendered as a raw DataFrame repr (class ``dataframe`` without
    ``sslvid-table``, the mark of ``sslvid.analysis.tables``).
    """

    figures: dict[str, str] = field(default_factory=dict)
    code_cells: int = 0
    unfolded_code: int = 0
    parameters_shown: int = 0
    broken_anchors: list[str] = field(default_factory=list)
    raw_tables: int = 0

    def problems(self, page: str) -> list[str]:
        found = [
            f"{page}: figure {name or '(no id)'} has no numbered caption"
            for name, number in self.figures.items()
            if not number
        ]
        if not self.figures:
            found.append(f"{page}: no numbered figure")
        if self.unfolded_code:
            found.append(f"{page}: {self.unfolded_code} of {self.code_cells} code cells not folded (hide-input)")
        if self.parameters_shown:
            found.append(f"{page}: the parameters cell is on the page")
        found += [f"{page}: in-page link to a missing anchor #{anchor}" for anchor in self.broken_anchors]
        if self.raw_tables:
            found.append(f"{page}: {self.raw_tables} tables shown as raw DataFrame reprs")
        return found


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_PARAMETER_MARKS = ("papermill injects", "# Parameters\n")


class _StructureParser(HTMLParser):
    """Collects what ``PageStructure`` needs in one pass over a page (Sphinx writes well-formed HTML)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str], str | None]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.figures: dict[str, str] = {}
        self.figure: list[str] = []  # ids of the open figures
        self.inputs: list[tuple[bool, list[str]]] = []  # one per code cell input: folded, its text
        self.raw_tables = 0

    def _inside(self, tag: str | None = None, cls: str | None = None) -> bool:
        return any((tag is None or t == tag) and (cls is None or cls in c) for t, c, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        ident = attributes.get("id")
        if ident:
            self.ids.add(ident)
        if tag == "a" and (attributes.get("href") or "").startswith("#") and len(attributes["href"] or "") > 1:
            self.links.append(unquote((attributes["href"] or "")[1:]))
        if tag == "figure":
            name = ident or f"(figure {len(self.figures) + 1})"
            self.figures[name] = ""
            self.figure.append(name)
        if tag == "table" and "dataframe" in classes and "sslvid-table" not in classes:
            self.raw_tables += 1
        if "cell_input" in classes and not self._inside(cls="cell_input"):
            self.inputs.append((self._inside(tag="details"), []))
        if tag not in _VOID:
            self.stack.append((tag, classes, ident))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag == "figure" and self.figure:
            self.figure.pop()

    def handle_data(self, data: str) -> None:
        if self.figure and self._inside(tag="span", cls="caption-number") and self._inside(tag="figcaption"):
            self.figures[self.figure[-1]] += data.strip()
        if self.inputs and self._inside(cls="cell_input"):
            self.inputs[-1][1].append(data)

    def result(self) -> PageStructure:
        texts = ["".join(text) for _, text in self.inputs]
        return PageStructure(
            figures=dict(self.figures),
            code_cells=len(self.inputs),
            unfolded_code=sum(1 for folded, _ in self.inputs if not folded),
            parameters_shown=sum(1 for t in texts if any(mark in t + "\n" for mark in _PARAMETER_MARKS)),
            broken_anchors=sorted({a for a in self.links if a not in self.ids}),
            raw_tables=self.raw_tables,
        )


def page_structure(path: str | Path) -> PageStructure:
    """Read how the built page ``path`` reads (``PageStructure``) from its HTML, without a browser."""
    parser = _StructureParser()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    parser.close()
    return parser.result()


def check_structure(html_dir: str | Path = "_build/html", toc: str | Path = "_toc.yml") -> list[PageReport]:
    """``page_structure`` of every chapter page of the table of contents, as reports (no browser needed).

    Raises:
        FileNotFoundError: when a chapter page is missing.
    """
    pages = [Path(html_dir) / f"{name}.html" for name in chapter_pages(toc)]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"pages missing from the build: {', '.join(missing)}; run make book")
    return [
        PageReport(page=str(p), images=1, xref="(not followed)", xref_ok=True, structure=page_structure(p))
        for p in pages
    ]


@dataclass
class PageReport:
    """What a reader would see on one page of the book.

    ``kind`` is "chapter" (must show a figure and have a cross-reference that resolves) or the
    name of a reference page (``REFERENCE_PAGES``: must list at least one entry).
    """

    page: str
    kind: str = "chapter"
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    entries: int = 0
    xref: str | None = None
    xref_ok: bool = False
    structure: PageStructure | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"{self.page}: broken image {src}" for src in self.broken_images]
        found += [f"{self.page}: error output: {text}" for text in self.errors]
        if self.kind != "chapter":
            if self.entries == 0:
                found.append(f"{self.page}: the {self.kind} lists no entry")
            return found
        if self.structure is not None:
            found += self.structure.problems(self.page)
        if self.images == 0:
            found.append(f"{self.page}: no figure rendered")
        if self.xref is None:
            found.append(f"{self.page}: no cross-reference to another page of the book")
        elif not self.xref_ok:
            found.append(f"{self.page}: broken cross-reference {self.xref}")
        return found


def toc_files(toc: str | Path = "_toc.yml") -> list[str]:
    """Every file listed in the table of contents (without extension), root first."""
    spec = yaml.safe_load(Path(toc).read_text())
    chapters = spec.get("chapters", []) + [e for part in spec.get("parts", []) for e in part.get("chapters", [])]
    return [spec["root"]] * ("root" in spec) + [entry["file"] for entry in chapters if "file" in entry]


def chapter_pages(toc: str | Path = "_toc.yml") -> list[str]:
    """The chapter files listed in the table of contents (without extension)."""
    return [name for name in toc_files(toc) if "chapters/" in name]


def reference_pages(toc: str | Path = "_toc.yml") -> list[str]:
    """The glossary and bibliography files listed in the table of contents."""
    return [name for name in toc_files(toc) if Path(name).name in REFERENCE_PAGES]


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def check_book(
    html_dir: str | Path = "_build/html",
    toc: str | Path = "_toc.yml",
    chromium: str | None = None,
    screenshots: str | Path | None = None,
) -> list[PageReport]:
    """Open every chapter page of the built book in headless Chromium and report what it shows.

    Args:
        html_dir: the built HTML (``jupyter-book build`` writes ``_build/html``).
        toc: the table of contents naming the chapters, the glossary and the bibliography.
        chromium: the browser executable (default: found on PATH).
        screenshots: folder for a full-page PNG of each chapter, if given.

    Returns:
        one report per chapter, in the order of the table of contents, then one per reference page.

    Raises:
        FileNotFoundError: when Chromium or a chapter page is missing.
        MissingDependencyError: (an ``ImportError``) when Playwright is not installed (``sslvid[book]``).
    """
    sync_playwright = import_optional("playwright.sync_api", extra="book", feature="book checks").sync_playwright

    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found on PATH; install it (Debian: apt-get install chromium)")
    pages = [(Path(html_dir) / f"{name}.html", "chapter") for name in chapter_pages(toc)]
    pages += [(Path(html_dir) / f"{name}.html", Path(name).name) for name in reference_pages(toc)]
    missing = [str(p) for p, _ in pages if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"pages missing from the build: {', '.join(missing)}; run make book")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            return [_check_page(browser, page, kind, screenshots) for page, kind in pages]
        finally:
            browser.close()


def _check_page(browser, path: Path, kind: str, screenshots: str | Path | None) -> PageReport:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(path.resolve().as_uri(), wait_until="load")
    images = page.evaluate(_IMAGES_JS)
    report = PageReport(
        page=str(path),
        kind=kind,
        images=len(images),
        broken_images=[i["src"] for i in images if not i["ok"]],
        errors=page.evaluate(_ERRORS_JS),
        structure=page_structure(path) if kind == "chapter" else None,
    )
    if kind in REFERENCE_PAGES:
        report.entries = page.locator(REFERENCE_PAGES[kind]).count()
    if screenshots is not None:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(screenshots) / f"{path.stem}.png"), full_page=True)
    links = page.evaluate(_XREFS_JS)
    if kind == "chapter" and links:
        report.xref = links[0]
        report.xref_ok = _follow(page, path, links[0])
    page.close()
    return report


def _follow(page, origin: Path, href: str) -> bool:
    """Open ``href`` (relative to the page ``origin``) in ``page``; True if its file and anchor exist."""
    target, _, anchor = href.partition("#")
    file = (origin.parent / unquote(target)).resolve() if target else origin.resolve()
    if not file.is_file():
        return False
    page.goto(file.as_uri() + (f"#{anchor}" if anchor else ""), wait_until="load")
    return not anchor or bool(page.evaluate(_ANCHOR_JS, anchor))
