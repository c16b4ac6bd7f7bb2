from pathlib import Path

import pytest

from sslvid.bookcheck import chapter_pages, check_book, find_chromium, reference_pages

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a2d8b9f10000000049454e44ae426082"
)


def write_book(root: Path) -> None:
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/chapters/good\n  - file: book/chapters/bad\n  - file: book/chapters/bare\n"
        "  - file: book/glossary\n  - file: book/bibliography\n"
    )
    pages = root / "html" / "book" / "chapters"
    pages.mkdir(parents=True)
    (pages / "fig.png").write_bytes(PNG_1x1)
    (pages / "good.html").write_text('<main><div class="cell_output"><img src="fig.png"></div>'
                                     '<a class="reference internal" href="#here">same page</a>'
                                     '<a class="reference internal" href="../glossary.html#term-CKA">CKA</a></main>')
    (pages / "bad.html").write_text(
        '<main><img src="missing.png"><div class="cell_output"><div class="output traceback">'
        "Traceback (most recent call last): ValueError: boom</div></div>"
        '<a class="reference internal" href="../glossary.html#term-missing">gone</a></main>'
    )
    (root / "html" / "book" / "glossary.html").write_text(
        '<main><dl class="glossary"><dt id="term-CKA">CKA</dt><dd>similarity</dd></dl></main>')
    (root / "html" / "book" / "bibliography.html").write_text("<main><p>nothing cited</p></main>")
    (pages / "bare.html").write_text("<main><p>no figure</p></main>")


def test_chapter_pages_come_from_the_toc(tmp_path):
    write_book(tmp_path)
    assert chapter_pages(tmp_path / "_toc.yml") == ["book/chapters/good", "book/chapters/bad", "book/chapters/bare"]
    assert reference_pages(tmp_path / "_toc.yml") == ["book/glossary", "book/bibliography"]


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed (apt-get install chromium)")
def test_broken_images_errors_and_missing_figures_are_reported(tmp_path):
    write_book(tmp_path)
    good, bad, bare, glossary, bibliography = check_book(tmp_path / "html", tmp_path / "_toc.yml",
                                                         screenshots=tmp_path / "shots")
    assert good.problems == [] and good.images == 1 and good.xref == "../glossary.html#term-CKA" and good.xref_ok
    assert bad.broken_images == ["missing.png"] and "ValueError: boom" in bad.errors[0]
    assert f"{bad.page}: broken cross-reference ../glossary.html#term-missing" in bad.problems
    assert bare.problems == [f"{bare.page}: no figure rendered",
                             f"{bare.page}: no cross-reference to another page of the book"]
    assert glossary.kind == "glossary" and glossary.entries == 1 and glossary.problems == []
    assert bibliography.problems == [f"{bibliography.page}: the bibliography lists no entry"]
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == \
        ["bad.png", "bare.png", "bibliography.png", "glossary.png", "good.png"]


def test_missing_page_is_a_clear_error(tmp_path):
    write_book(tmp_path)
    (tmp_path / "html" / "book" / "chapters" / "bare.html").unlink()
    if find_chromium() is None:
        pytest.skip("Chromium not installed")
    with pytest.raises(FileNotFoundError, match="bare.html"):
        check_book(tmp_path / "html", tmp_path / "_toc.yml")


def test_without_chromium_the_check_says_plainly_that_it_was_skipped_and_how_to_install(monkeypatch, capsys):
    import sslvid.bookcheck
    from sslvid.cli import main

    monkeypatch.setattr(sslvid.bookcheck, "find_chromium", lambda: None)
    main(["book", "check"])
    err = capsys.readouterr().err
    assert "BOOK CHECK SKIPPED" in err and "apt-get install chromium" in err and "python -m sslvid book check" in err
