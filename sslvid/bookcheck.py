"""Check the built book as a reader sees it: every chapter page, opened in headless Chromium,
shows its figures, no image is broken, no cell printed an error, and one cross-reference of the
page (a glossary term, a citation, a link to another chapter) leads to a page and an anchor that
exist; the glossary and the bibliography pages list their entries. A screenshot of every page is
saved beside the HTML (``_build/screenshots``).

``make book`` runs ``python -m sslvid book check`` after building when Chromium is installed
(Debian: ``apt-get install chromium``); the browser is driven through Playwright's Python
client with the system Chromium, so nothing is downloaded.
"""
from __future__ import annotations

import shutil
from urllib.parse import unquote
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sslvid.errors import import_optional

SKIPPED_NOTICE = """
======================================================================
 BOOK CHECK SKIPPED: no Chromium browser was found on PATH.
 The HTML was built, but no page of it was opened and looked at
 (figures, error outputs, cross-references, glossary, bibliography).
 Install Chromium, then run the check on the built book:
     sudo apt-get install chromium       (Debian, Ubuntu)
     sudo dnf install chromium           (Fedora)
     python -m sslvid book check
======================================================================"""
"""What ``sslvid book check`` prints, last, when it cannot run."""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

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

    @property
    def problems(self) -> list[str]:
        found = [f"{self.page}: broken image {src}" for src in self.broken_images]
        found += [f"{self.page}: error output: {text}" for text in self.errors]
        if self.kind != "chapter":
            if self.entries == 0:
                found.append(f"{self.page}: the {self.kind} lists no entry")
            return found
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


def check_book(html_dir: str | Path = "_build/html", toc: str | Path = "_toc.yml", chromium: str | None = None,
               screenshots: str | Path | None = None) -> list[PageReport]:
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
    report = PageReport(page=str(path), kind=kind, images=len(images),
                        broken_images=[i["src"] for i in images if not i["ok"]], errors=page.evaluate(_ERRORS_JS))
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
