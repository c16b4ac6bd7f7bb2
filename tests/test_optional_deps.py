"""Optional dependencies (the extras of pyproject.toml) are imported where used, and a missing one
fails with the extra to install."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from sslvid.errors import MissingDependencyError, UserError, import_optional

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_extras_named_in_errors_exist() -> None:
    """Every extra that a missing-dependency hint names is declared in pyproject.toml."""
    named = set()
    for path in (ROOT / "sslvid").rglob("*.py"):
        named |= set(re.findall(r'import_optional\([^)]*extra="([a-z]+)"', path.read_text()))
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert named and named <= set(declared)


def test_missing_optional_dependency_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "captum", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "captum.attr", None)  # also when an earlier test imported it
    with pytest.raises(MissingDependencyError, match="captum is not installed; it is needed for saliency maps") as err:
        import_optional("captum.attr", extra="saliency", feature="saliency maps")
    assert isinstance(err.value, ImportError) and isinstance(err.value, UserError)
    assert "pip install 'sslvid[saliency]'" in err.value.hint


def test_saliency_without_captum_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from sslvid.analysis.saliency import vanilla_saliency

    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(ImportError, match="captum is not installed") as err:
        vanilla_saliency(torch.nn.Conv3d(3, 2, 1), torch.zeros(1, 3, 2, 4, 4))
    assert "sslvid[saliency]" in err.value.hint


def test_broken_import_inside_an_installed_package_is_not_reported_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "halfbroken.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as err:
        import_optional("halfbroken", extra="book", feature="a test")
    assert not isinstance(err.value, MissingDependencyError)
    assert err.value.name == "no_such_module_anywhere"
