from pathlib import Path

import pytest

from sslvid.bookcheck import chapter_pages, check_book, check_structure, find_chromium, page_structure, reference_pages

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
    (pages / "good.html").write_text(
        '<main><div class="cell_output"><img src="fig.png"></div>'
        '<figure id="here"><figcaption><span class="caption-number">Fig. 1.1 </span>'
        "</figcaption></figure>"
        '<a class="reference internal" href="#here">same page</a>'
        '<a class="reference internal" href="../glossary.html#term-CKA">CKA</a></main>'
    )
    (pages / "bad.html").write_text(
        '<main><img src="missing.png"><div class="cell_output"><div class="output traceback">'
        "Traceback (most recent call last): ValueError: boom</div></div>"
        '<a class="reference internal" href="../glossary.html#term-missing">gone</a></main>'
    )
    (root / "html" / "book" / "glossary.html").write_text(
        '<main><dl class="glossary"><dt id="term-CKA">CKA</dt><dd>similarity</dd></dl></main>'
    )
    (root / "html" / "book" / "bibliography.html").write_text("<main><p>nothing cited</p></main>")
    (pages / "bare.html").write_text("<main><p>no figure</p></main>")


def test_chapter_pages_come_from_the_toc(tmp_path):
    write_book(tmp_path)
    assert chapter_pages(tmp_path / "_toc.yml") == ["book/chapters/good", "book/chapters/bad", "book/chapters/bare"]
    assert reference_pages(tmp_path / "_toc.yml") == ["book/glossary", "book/bibliography"]


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed (apt-get install chromium)")
def test_broken_images_errors_and_missing_figures_are_reported(tmp_path):
    write_book(tmp_path)
    good, bad, bare, glossary, bibliography = check_book(
        tmp_path / "html", tmp_path / "_toc.yml", screenshots=tmp_path / "shots"
    )
    assert good.problems == [] and good.images == 1 and good.xref == "../glossary.html#term-CKA" and good.xref_ok
    assert bad.broken_images == ["missing.png"] and "ValueError: boom" in bad.errors[0]
    assert f"{bad.page}: broken cross-reference ../glossary.html#term-missing" in bad.problems
    assert bare.problems == [
        f"{bare.page}: no numbered figure",
        f"{bare.page}: no figure rendered",
        f"{bare.page}: no cross-reference to another page of the book",
    ]
    assert glossary.kind == "glossary" and glossary.entries == 1 and glossary.problems == []
    assert bibliography.problems == [f"{bibliography.page}: the bibliography lists no entry"]
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == [
        "bad.png",
        "bare.png",
        "bibliography.png",
        "glossary.png",
        "good.png",
    ]


def test_missing_page_is_a_clear_error(tmp_path):
    write_book(tmp_path)
    (tmp_path / "html" / "book" / "chapters" / "bare.html").unlink()
    if find_chromium() is None:
        pytest.skip("Chromium not installed")
    with pytest.raises(FileNotFoundError, match="bare.html"):
        check_book(tmp_path / "html", tmp_path / "_toc.yml")


def test_without_chromium_the_check_says_plainly_that_it_was_skipped_and_how_to_install(monkeypatch, capsys, tmp_path):
    import sslvid.bookcheck
    from sslvid.cli import main

    monkeypatch.setattr(sslvid.bookcheck, "find_chromium", lambda: None)
    main(["book", "check", "--html", str(tmp_path / "not-built")])
    err = capsys.readouterr().err
    assert "BOOK CHECK SKIPPED" in err and "apt-get install chromium" in err and "python -m sslvid book check" in err


READS_AS_A_STUDY = (
    '<main><div class="cell tag_hide-input"><details class="hide above-input"><summary>Show code</summary>'
    '<div class="cell_input"><pre>show_figure(fig, "fig-02-cka")</pre></div></details>'
    '<div class="cell_output"><table class="dataframe sslvid-table"><caption>Table 1</caption></table></div></div>'
    '<figure id="fig-02-cka"><img src="fig.png"><figcaption><p><span class="caption-number">Fig. 2.1 </span>'
    '<span class="caption-text">x: blocks</span></p></figcaption></figure>'
    '<p>As <a class="reference internal" href="#fig-02-cka">Fig. 2.1</a> shows.</p></main>'
)
READS_AS_CODE = (
    '<main><div class="cell tag_parameters"><div class="cell_input"><pre># Parameters (papermill injects new values'
    ' below this cell)\nprofile = "micro"</pre></div></div>'
    '<div class="cell"><div class="cell_input"><pre>display(table)</pre></div>'
    '<div class="cell_output"><table class="dataframe"></table></div></div>'
    '<figure id="fig-02-raw"><img src="fig.png"><figcaption><p>no number</p></figcaption></figure>'
    '<p><a class="reference internal" href="#tab-02-gone">Table 1</a></p></main>'
)


def test_page_structure_reads_figures_folded_code_and_in_page_links(tmp_path):
    (tmp_path / "good.html").write_text(READS_AS_A_STUDY)
    (tmp_path / "bad.html").write_text(READS_AS_CODE)
    good, bad = page_structure(tmp_path / "good.html"), page_structure(tmp_path / "bad.html")
    assert good.figures == {"fig-02-cka": "Fig. 2.1"} and good.code_cells == 1 and good.unfolded_code == 0
    assert good.problems("good") == []
    assert bad.problems("bad") == [
        "bad: figure fig-02-raw has no numbered caption",
        "bad: 2 of 2 code cells not folded (hide-input)",
        "bad: the parameters cell is on the page",
        "bad: in-page link to a missing anchor #tab-02-gone",
        "bad: 1 tables shown as raw DataFrame reprs",
    ]


def test_without_chromium_the_pages_structure_is_still_checked(monkeypatch, tmp_path, capsys):
    import sslvid.bookcheck
    from sslvid.cli import main

    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/chapters/good\n  - file: book/chapters/bad\n"
    )
    pages = tmp_path / "html" / "book" / "chapters"
    pages.mkdir(parents=True)
    (pages / "good.html").write_text(READS_AS_A_STUDY)
    (pages / "bad.html").write_text(READS_AS_CODE)
    assert [r.problems == [] for r in check_structure(tmp_path / "html", tmp_path / "_toc.yml")] == [True, False]
    monkeypatch.setattr(sslvid.bookcheck, "find_chromium", lambda: None)
    with pytest.raises(SystemExit, match="parameters cell is on the page"):
        main(["book", "check", "--html", str(tmp_path / "html"), "--toc", str(tmp_path / "_toc.yml")])
    captured = capsys.readouterr()
    assert "1/1 figures numbered, 1/1 code cells folded" in captured.out and "BOOK CHECK SKIPPED" in captured.err
