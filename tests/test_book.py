"""The book as a book: citations, glossary, launch links and install cells, progress while it builds."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

from sslvid.book import (
    INSTALL_TAG,
    StatusPrinter,
    add_launch_links,
    book_repository,
    execute_chapter,
    install_cell,
    launch_urls,
    previous_seconds,
)
from sslvid.progress import PROGRESS_ENV, RunStatus, format_status, read_status, show_bars

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PAGES = sorted((REPO / "book").glob("*.md"))

# Every method, dataset and tool the chapters use, by the key that cites it.
REQUIRED = {
    "the benchmark paper": "benchmark2023",
    "the lightweight study": "sonawane2021lightweight",
    "graph distillation": "zhang2018graph",
    "KD boosting PCL": "camarena2022boosting",
    "SKD-SRL": "vu2022skdsrl",
    "RotNet": "jing2018rotnet",
    "VCOP": "xu2019vcop",
    "PRP": "yao2020prp",
    "CVRL": "qian2021cvrl",
    "TDL": "wang2020tdl",
    "RSPNet": "chen2021rspnet",
    "SimCLR": "chen2020simclr",
    "MoCo v2": "chen2020mocov2",
    "BYOL": "grill2020byol",
    "Split-Brain": "zhang2017splitbrain",
    "KD": "hinton2015kd",
    "AE-KD": "du2020aekd",
    "PCL": "tao2020pcl",
    "CKA": "kornblith2019cka",
    "ImageNet-C": "hendrycks2019imagenetc",
    "robustness of video models": "schiappa2022robustness",
    "UCF101": "soomro2012ucf101",
    "HMDB51": "kuehne2011hmdb",
    "Kinetics": "kay2017kinetics",
    "SSv2": "goyal2017ssv2",
    "Diving48": "li2018diving48",
    "MNIST": "lecun1998mnist",
}


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def code_cells(path: Path) -> list[str]:
    """The source of each code cell of a notebook, in order."""
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (REPO / "book" / "references.bib").read_text(), re.M))


def roles(text: str, role: str) -> list[str]:
    """Targets of ``{role}`...``` (and ``{role:x}`...```) in ``text``, ``<target>`` forms resolved."""
    found = re.findall(r"\{" + role + r"(?::\w+)?\}`([^`]+)`", text)
    return [m.group(1) if (m := re.search(r"<([^>]+)>$", t)) else t for t in found]


def glossary_terms() -> set[str]:
    text = (REPO / "book" / "glossary.md").read_text()
    body = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    return {line.strip() for line in body.splitlines() if line and not line.startswith(" ")}


def test_the_bibliography_cites_every_paper_method_and_dataset():
    missing = {name: key for name, key in REQUIRED.items() if key not in bib_keys()}
    assert not missing, f"references.bib lacks {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=lambda p: p.name)
def test_every_citation_is_in_the_bibliography(path):
    keys = [k.strip() for cited in roles(markdown_of(path), "cite") for k in cited.split(",")]
    assert set(keys) <= bib_keys(), f"{path.name} cites unknown keys {set(keys) - bib_keys()}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_cites_and_links_glossary_terms_in_its_overview(path):
    overview = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    terms = roles("".join(overview["source"]), "term")
    assert terms, f"{path.name}: its overview links no glossary term"
    assert set(roles(markdown_of(path), "term")) <= glossary_terms()
    assert roles(markdown_of(path), "cite"), f"{path.name} cites nothing"


def test_no_reader_facing_text_names_a_paper_by_its_file_name():
    texts = NOTEBOOKS + PAGES + sorted((REPO / "sslvid").rglob("*.py")) + [REPO / "data" / "paper-tables" / "README.md"]
    named = [p.name for p in texts if re.search(r"\b00\d_([0-9a-f]{16}|\.\.\.)", p.read_text())]
    assert not named


def test_the_bibliography_and_glossary_are_in_the_table_of_contents_and_the_bib_is_configured():
    import yaml

    toc = (REPO / "_toc.yml").read_text()
    assert "book/glossary" in toc and "book/bibliography" in toc
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert "{bibliography}" in (REPO / "book" / "bibliography.md").read_text()


GLUE_PREFIX = re.compile(r"glue_facts\(\s*f?\"([^\"]+)\"")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_glue_prefix_is_glued_by_one_cell(path):
    # MyST-NB fails the book on a key glued twice; two cells gluing one prefix collide as soon as their
    # facts share a name (chapter 6's Table 7 facts and its claims' evidence both had "models")
    owners: dict[str, list[int]] = {}
    for number, source in enumerate(code_cells(path)):
        for prefix in set(GLUE_PREFIX.findall(source)):
            owners.setdefault(prefix, []).append(number)
    shared = {prefix: where for prefix, where in owners.items() if len(where) > 1}
    assert not shared, f"glue prefixes used by several code cells (cell numbers): {shared}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_shows_the_claims_it_records(path):
    # a cell's last expression is printed in the book: record_claims returns the claims it stored, whose repr
    # (a list of Claim(...)) once stood under chapter 5's and chapter 9's tables
    import ast

    shown = []
    for number, source in enumerate(code_cells(path)):
        # an IPython magic (%pip) parses as the pass it stands for
        code = "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines())
        body = ast.parse(code).body
        last = body[-1] if body else None
        silenced = code.rstrip().endswith(";")  # IPython prints no value after a trailing semicolon
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and not silenced:
            if getattr(last.value.func, "id", getattr(last.value.func, "attr", "")) == "record_claims":
                shown.append(number)
    assert not shown, f"code cells ending in record_claims(...) print its claims (cell numbers): {shown}"


# ----------------------------------------------------------------------------- launch links, install cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_its_own_id(path):
    """nbformat 4.5 requires cell ids (a missing one is a warning today and an error in later nbformat)."""
    cells = json.loads(path.read_text())["cells"]
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids), [i for i, c in enumerate(cells) if not c.get("id")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_starts_with_the_install_cell_and_stores_no_output(path):
    cells = json.loads(path.read_text())["cells"]
    repo = book_repository(REPO / "_config.yml")
    assert cells[0] == install_cell(repo["url"], repo["branch"]), "run: python -m sslvid book install-cell"
    assert cells[0]["metadata"]["tags"] == [INSTALL_TAG]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")


def test_the_install_cell_installs_only_where_sslvid_is_missing(monkeypatch):
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell("".join(install_cell("https://github.com/o/r")["source"]))
    calls = []

    class Shell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    exec(code, {"get_ipython": Shell})  # sslvid imports here: nothing is installed
    assert calls == []
    monkeypatch.setitem(sys.modules, "sslvid", None)  # as on Colab: the import fails
    exec(code, {"get_ipython": Shell})
    assert calls == [("pip", 'install --quiet "sslvid @ git+https://github.com/o/r@main"')]


def test_launch_links_open_the_parameterized_notebook_not_the_executed_copy():
    urls = launch_urls("03_subset_size.ipynb", "https://github.com/o/r", "dev")
    assert urls["colab"] == "https://colab.research.google.com/github/o/r/blob/dev/notebooks/03_subset_size.ipynb"
    assert urls["binder"] == "https://mybinder.org/v2/gh/o/r/dev?urlpath=lab/tree/notebooks/03_subset_size.ipynb"
    nb = {
        "cells": [
            install_cell("https://github.com/o/r"),
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "\n", "Text."]},
        ]
    }
    title = "".join(add_launch_links(nb, "03_subset_size.ipynb", "https://github.com/o/r")["cells"][1]["source"])
    assert (
        title.startswith("# Title\n\n*Run this chapter yourself:*") and urls["binder"].replace("dev", "main") in title
    )
    assert "{download}`download the executed notebook <03_subset_size.ipynb>`" in title and title.endswith("Text.")


def test_launch_links_need_a_github_address_and_a_title():
    with pytest.raises(ValueError, match="github.com/<owner>/<name>"):
        launch_urls("x.ipynb", "https://gitlab.com/o/r")
    with pytest.raises(ValueError, match="title"):
        add_launch_links(
            {"cells": [{"cell_type": "markdown", "source": "no title"}]}, "x.ipynb", "https://github.com/o/r"
        )


def test_a_config_without_repository_is_a_clear_error(tmp_path):
    (tmp_path / "_config.yml").write_text("title: t\n")
    with pytest.raises(ValueError, match="repository.url"):
        book_repository(tmp_path / "_config.yml")


# ----------------------------------------------------------------------------- progress


def test_bars_go_off_and_the_status_file_on_while_a_chapter_executes(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert show_bars(None) and show_bars(True) and not show_bars(False)
    assert RunStatus("x", 2).path is None
    status = tmp_path / "status.json"
    monkeypatch.setenv(PROGRESS_ENV, str(status))
    assert not show_bars(None) and not show_bars(True)
    ticks = iter(range(100))
    run = RunStatus("rotnet/r2plus1d_18", epochs=3, every=0.0, clock=lambda: 0.5 * next(ticks))
    for step in range(1, 5):  # a step every 0.5 s: 2 steps per second
        run.update(epoch=2, step=step, steps=10)
    written = read_status(status)
    assert (written["desc"], written["epoch"], written["step"], written["steps"]) == ("rotnet/r2plus1d_18", 2, 4, 10)
    assert written["steps_per_s"] == 2.0
    assert written["left_s"] == 8.0  # 6 steps of this epoch and 10 of epoch 3 at 2 per second
    assert format_status(written).startswith("rotnet/r2plus1d_18 epoch 2/3 step 4/10, ")


def test_the_trainer_reports_each_step_to_the_status_file(tmp_path, monkeypatch):
    import torch
    from torch.utils.data import DataLoader

    from sslvid.engine.optim import make_optimizer
    from sslvid.engine.trainer import Trainer
    from tests.test_engine import Regression

    status = tmp_path / "status.json"
    monkeypatch.setenv(PROGRESS_ENV, str(status))
    x = torch.randn(32, 3)
    module = Regression()
    trainer = Trainer(
        module,
        DataLoader(list(zip(x, x.sum(1))), batch_size=8),
        make_optimizer("sgd", module, lr=0.1),
        epochs=2,
        device=torch.device("cpu"),
        desc="rotnet/tiny",
    )
    trainer.fit()
    written = read_status(status)
    assert (written["desc"], written["epoch"], written["epochs"], written["step"], written["steps"]) == (
        "rotnet/tiny",
        2,
        2,
        4,
        4,
    )


def test_the_status_line_names_the_chapter_cell_estimate_and_run(tmp_path):
    status = tmp_path / "status.json"
    printer = StatusPrinter("03_subset_size", status, previous=600.0, stream=io.StringIO())
    printer.cells.write("Executing:  40%|####      | 8/20 [00:05<00:07]")
    assert re.fullmatch(
        r"03_subset_size: cell 8/20, 0:00 elapsed, ~(9:59|10:00) left \(last build 10:00\)", printer.line()
    )
    RunStatus("vcop/shufflenet3d", epochs=4, path=status, every=0.0).update(1, 3, 12)
    assert printer.line().endswith(" | " + format_status(read_status(status)))
    assert "no earlier build" in StatusPrinter("x", status, previous=None).line()


@pytest.mark.slow
def test_an_executed_chapter_stores_no_progress_and_the_terminal_shows_the_run(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("SSLVID_HOME", str(tmp_path / "home"))
    notebook = tmp_path / "nb" / "chapter.ipynb"
    notebook.parent.mkdir()
    code = (
        "import time, torch\nfrom torch.utils.data import DataLoader\n"
        "from sslvid.engine.optim import make_optimizer\nfrom sslvid.engine.trainer import Trainer\n"
        "from sslvid.engine.step import StepOutput\n"
        "class Fit(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__(); self.w = torch.nn.Linear(3, 1)\n"
        "    def forward(self, batch):\n        time.sleep(0.3); x, y = batch\n"
        "        return StepOutput(((self.w(x).squeeze(1) - y) ** 2).mean(), {}, len(y))\n"
        "x = torch.randn(32, 3); module = Fit()\n"
        "Trainer(module, DataLoader(list(zip(x, x.sum(1))), batch_size=4), make_optimizer('sgd', module, lr=0.1),\n"
        "        epochs=1, device=torch.device('cpu'), desc='rotnet/tiny').fit();  # progress bars on by default\n"
        "time.sleep(6)  # the terminal prints a new run at most every 5 s\n"
    )
    notebook.write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# Title\n"]},
                    {
                        "cell_type": "code",
                        "id": "c",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": [code],
                    },
                ],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    monkeypatch.chdir(tmp_path)  # relative paths, as make book gives them; papermill changes directory meanwhile
    out = Path("out.ipynb")
    execute_chapter(Path("nb/chapter.ipynb"), out, profile="smoke")
    cell = next(c for c in json.loads(out.read_text())["cells"] if c.get("id") == "c")
    assert cell["execution_count"] is not None and cell["outputs"] == []  # no progress bar stored
    assert "rotnet/tiny epoch 1/1 step" in capfd.readouterr().err
    assert previous_seconds("chapter", "smoke") > 0 and previous_seconds("chapter", "micro") is None


def test_executed_chapters_fold_code_and_drop_the_parameters_cells():
    from sslvid.book import tag_for_book

    def code(tags=None):
        return {"cell_type": "code", "metadata": {"tags": list(tags)} if tags else {}, "source": "", "outputs": []}

    nb = {
        "cells": [
            code(["remove-cell"]),
            {"cell_type": "markdown", "metadata": {}, "source": "# T"},
            code(["parameters"]),
            code(["injected-parameters"]),
            code(),
            code(["hide-output"]),
        ]
    }
    tags = [c["metadata"].get("tags") for c in tag_for_book(nb)["cells"]]
    assert tags == [
        ["remove-cell"],
        None,
        ["parameters", "remove-cell"],
        ["injected-parameters", "remove-cell"],
        ["hide-input"],
        ["hide-output"],
    ]
    assert tag_for_book(nb) == nb  # a second pass changes nothing


def test_prepared_notebooks_for_lab_and_nbval_keep_their_code_in_view(tmp_path):
    pytest.importorskip("papermill")
    from sslvid.book import prepare_chapter

    src = NOTEBOOKS[0]
    prepare_chapter(src, tmp_path / src.name, profile="smoke")
    prepared = json.loads((tmp_path / src.name).read_text())
    tags = [t for c in prepared["cells"] for t in c["metadata"].get("tags", [])]
    assert "hide-input" not in tags and tags.count("remove-cell") == 1  # only the install cell
    stored = [t for p in NOTEBOOKS for c in json.loads(p.read_text())["cells"] for t in c["metadata"].get("tags", [])]
    assert "hide-input" not in stored


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_is_numbered_captioned_and_referenced(path):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join(code_cells(path))
    glued = set(re.findall(r'show_figure\([\s\S]*?"(fig-[\w-]+)"', code))
    placed = {}
    for cell in cells:
        source = "".join(cell["source"])
        for name, name_option, caption in re.findall(
            r"```\{glue:figure\} (\S+)\n:name: (\S+)\n\n([\s\S]*?)```", source
        ):
            assert name == name_option, f"{path.name}: {name} is placed under another name, {name_option}"
            placed[name] = caption
    assert glued, f"{path.name} glues no figure"
    assert glued == set(placed), f"{path.name}: glued {sorted(glued)} but captioned {sorted(placed)}"
    assert all(n.startswith(f"fig-{path.name[:2]}-") for n in glued), f"{path.name}: figure names fig-{path.name[:2]}-*"
    assert re.search(r"\bdisplay\((fig|figure|shown\.figure)\)", code) is None, f"{path.name} shows a figure unnumbered"
    for name, caption in placed.items():
        assert re.search(r"\bx: |\baxes\b|\bcolumns\b|\brows?\b", caption), f"{name}: the caption states no axes"
        assert "Look for" in caption or "Look at" in caption, f"{name}: the caption says not what to look for"
    assert set(placed) <= set(roles(markdown_of(path), "numref")), f"{path.name}: a figure no text refers to"


def test_every_ref_to_a_table_or_figure_has_its_target():
    labels = {m for p in NOTEBOOKS for m in re.findall(r"^\(([\w-]+)\)=$", markdown_of(p), re.MULTILINE)}
    labels |= {m for p in NOTEBOOKS for m in re.findall(r":name: (fig-[\w-]+)", markdown_of(p))}
    wanted = {
        t
        for p in NOTEBOOKS
        for role in ("ref", "numref")
        for t in roles(markdown_of(p), role)
        if t.startswith(("tab-", "fig-"))
    }
    assert wanted <= labels, f"references without a target: {sorted(wanted - labels)}"
    discussion = markdown_of(REPO / "notebooks" / "10_discussion.ipynb")
    linked = {t[4:6] for t in roles(discussion, "ref") if t.startswith("tab-")}
    assert {f"{n:02d}" for n in range(2, 10)} <= linked, "the discussion links every chapter's comparison"


def test_show_figure_glues_for_the_page_and_shows_under_the_cell_elsewhere(monkeypatch):
    myst_nb = pytest.importorskip("myst_nb")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sslvid.analysis.figures import show_figure
    from sslvid.book import BOOK_PAGE_ENV

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.append((name, value, display)))
    monkeypatch.delenv(BOOK_PAGE_ENV, raising=False)
    fig = plt.figure()
    show_figure(fig, "fig-01-one")
    assert glued[-1] == ("fig-01-one", fig, True) and not plt.fignum_exists(fig.number)
    monkeypatch.setenv(BOOK_PAGE_ENV, "1")
    pair = [plt.figure(figsize=(2, 1)), plt.figure(figsize=(3, 1))]
    show_figure(pair, "fig-01-two")
    name, stacked, display = glued[-1]
    assert (name, display) == ("fig-01-two", False) and stacked.data[:4] == b"\x89PNG"
    assert not any(plt.fignum_exists(f.number) for f in pair)  # figures other tests left open do not count
    show_figure(None, "fig-01-none", missing="No curves.")
    assert glued[-1][1].data == "*No curves.*"


def test_the_micro_pretraining_lengths_typed_in_the_chapters_are_the_recipes():
    """The chapters describe the micro scale in words ("4 epochs (RotNet and PRP 8)"): a recipe that changes
    length fails here until the prose follows."""
    from sslvid.engine.config import PretrainConfig
    from sslvid.scale.grids import SIX_TASKS

    lengths = {t: PretrainConfig.for_profile("micro", task=t, backbone="r2plus1d_18").epochs for t in SIX_TASKS}
    usual = lengths["vcop"]
    assert {t for t, epochs in lengths.items() if epochs != usual} == {"rotnet", "prp"}, "the prose names these two"
    typed = [
        (path.name, int(m[0]), int(m[1]))
        for path in NOTEBOOKS
        for m in re.findall(r"(\d+) epochs[^()]*\(RotNet and PRP (\d+)", markdown_of(path))
    ]
    assert len(typed) >= 5, typed  # chapters 3, 4, 6, 8 and 10
    assert all((epochs, longer) == (usual, lengths["rotnet"]) == (usual, lengths["prp"]) for _, epochs, longer in typed)
