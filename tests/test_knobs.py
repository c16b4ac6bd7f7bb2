"""Each chapter's knobs are defined once: the notebook's parameters cell equals its module's ``KNOBS``.

The discussion chapter re-reads every chapter through ``paper_comparisons``, whose defaults are
``KNOBS``; were the notebook's defaults different, it would read another table than the chapter shows.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STUDY_KNOBS = {"profile", "data_root", "seed", "device", "cache_dir"}
"""The study's own knobs, in every parameters cell (``sslvid.experiments.study.Study``)."""
CHAPTER_MODULES = {
    "01_data_and_backbones": "data_and_backbones",
    "02_preliminaries": "preliminaries",
    "03_subset_size": "subset_size",
    "04_task_complexity": "task_complexity",
    "05_out_of_distribution": "out_of_distribution",
    "06_noise_robustness": "noise_robustness",
    "07_distillation": "distillation",
    "08_downstream": "downstream",
    "09_lightweight": "lightweight",
    "10_discussion": "discussion",
}


def parameters(notebook: Path) -> dict[str, object]:
    """The literal assignments of the notebook's cell tagged ``parameters``."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.unparse(node)
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_every_notebook_has_a_module():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(CHAPTER_MODULES)


@pytest.mark.parametrize("notebook", sorted(CHAPTER_MODULES))
def test_parameters_cell_equals_the_modules_knobs(notebook):
    module = importlib.import_module(f"sslvid.experiments.{CHAPTER_MODULES[notebook]}")
    params = parameters(NOTEBOOKS / f"{notebook}.ipynb")
    assert STUDY_KNOBS <= set(params), f"{notebook}: the study's knobs {sorted(STUDY_KNOBS - set(params))} are missing"
    chapter = {name: value for name, value in params.items() if name not in STUDY_KNOBS}
    assert chapter == module.KNOBS
