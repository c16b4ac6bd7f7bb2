from pathlib import Path

import pytest

from sslvid.bookcheck import chapter_pages, check_book, find_chromium

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a2d8b9f10000000049454e44ae426082"
)


def write_book(root: Path) -> None:
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/chapters/good\n  - file: book/chapters/bad\n  - file: book/chapters/bare\n"
    )
    pages = root / "html" / "book" / "chapters"
    pages.mkdir(parents=True)
    (pages / "fig.png").write_bytes(PNG_1x1)
    (pages / "good.html").write_text('<main><div class="cell_output"><img src="fig.png"></div></main>')
    (pages / "bad.html").write_text(
        '<main><img src="missing.png"><div class="cell_output"><div class="output traceback">'
        "Traceback (most recent call last): ValueError: boom</div></div></main>"
    )
    (pages / "bare.html").write_text("<main><p>no figure</p></main>")


def test_chapter_pages_come_from_the_toc(tmp_path):
    write_book(tmp_path)
    assert chapter_pages(tmp_path / "_toc.yml") == ["book/chapters/good", "book/chapters/bad", "book/chapters/bare"]


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed (apt-get install chromium)")
def test_broken_images_errors_and_missing_figures_are_reported(tmp_path):
    write_book(tmp_path)
    good, bad, bare = check_book(tmp_path / "html", tmp_path / "_toc.yml")
    assert good.problems == [] and good.images == 1
    assert bad.broken_images == ["missing.png"] and "ValueError: boom" in bad.errors[0]
    assert bare.problems == [f"{bare.page}: no figure rendered"]


def test_missing_page_is_a_clear_error(tmp_path):
    write_book(tmp_path)
    (tmp_path / "html" / "book" / "chapters" / "bare.html").unlink()
    if find_chromium() is None:
        pytest.skip("Chromium not installed")
    with pytest.raises(FileNotFoundError, match="bare.html"):
        check_book(tmp_path / "html", tmp_path / "_toc.yml")
