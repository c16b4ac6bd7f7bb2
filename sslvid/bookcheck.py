"""Check the built book as a reader sees it: every chapter page, opened in headless Chromium,
shows its figures, no image is broken and no cell printed an error.

``make book`` runs ``python -m sslvid book check`` after building when Chromium is installed
(Debian: ``apt-get install chromium``); the browser is driven through Playwright's Python
client with the system Chromium, so nothing is downloaded.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sslvid.errors import import_optional

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Cells whose output is an error: myst-nb renders a traceback as class "traceback" and
# standard error as class "stderr".
_ERRORS_JS = """() => Array.from(document.querySelectorAll('.cell_output .traceback, .cell_output .stderr'))
    .map(e => e.innerText).filter(t => /Traceback|Error|Exception/.test(t)).map(t => t.slice(0, 300))"""
_IMAGES_JS = """() => Array.from(document.querySelectorAll('article img, main img'))
    .map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))"""


@dataclass
class PageReport:
    """What a reader would see on one chapter page."""

    page: str
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"{self.page}: broken image {src}" for src in self.broken_images]
        found += [f"{self.page}: error output: {text}" for text in self.errors]
        if self.images == 0:
            found.append(f"{self.page}: no figure rendered")
        return found


def chapter_pages(toc: str | Path = "_toc.yml") -> list[str]:
    """The chapter files listed in the table of contents (without extension)."""
    spec = yaml.safe_load(Path(toc).read_text())
    chapters = spec.get("chapters", []) + [e for part in spec.get("parts", []) for e in part.get("chapters", [])]
    return [entry["file"] for entry in chapters if "file" in entry and "chapters/" in entry["file"]]


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def check_book(html_dir: str | Path = "_build/html", toc: str | Path = "_toc.yml", chromium: str | None = None,
               screenshots: str | Path | None = None) -> list[PageReport]:
    """Open every chapter page of the built book in headless Chromium and report what it shows.

    Args:
        html_dir: the built HTML (``jupyter-book build`` writes ``_build/html``).
        toc: the table of contents naming the chapters.
        chromium: the browser executable (default: found on PATH).
        screenshots: folder for a full-page PNG of each chapter, if given.

    Raises:
        FileNotFoundError: when Chromium or a chapter page is missing.
        MissingDependencyError: (an ``ImportError``) when Playwright is not installed (``sslvid[book]``).
    """
    sync_playwright = import_optional("playwright.sync_api", extra="book", feature="book checks").sync_playwright

    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found on PATH; install it (Debian: apt-get install chromium)")
    pages = [Path(html_dir) / f"{name}.html" for name in chapter_pages(toc)]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"chapter pages missing from the build: {', '.join(missing)}; run make book")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            return [_check_page(browser, page, screenshots) for page in pages]
        finally:
            browser.close()


def _check_page(browser, path: Path, screenshots: str | Path | None) -> PageReport:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(path.resolve().as_uri(), wait_until="load")
    images = page.evaluate(_IMAGES_JS)
    report = PageReport(page=str(path), images=len(images),
                        broken_images=[i["src"] for i in images if not i["ok"]], errors=page.evaluate(_ERRORS_JS))
    if screenshots is not None:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(screenshots) / f"{path.stem}.png"), full_page=True)
    page.close()
    return report
