"""The package's metadata in pyproject.toml: the console script, the one version, the licence, the type marker."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_console_script_is_the_cli_main_and_returns_an_exit_status(capsys: pytest.CaptureFixture) -> None:
    target = PYPROJECT["project"]["scripts"]["sslvid"]
    module, _, name = target.partition(":")
    main = getattr(importlib.import_module(module), name)
    status = main(["pretrain", "--task", "rotnet", "--backbone", "no_such_backbone", "--profile", "smoke"])
    assert status == 2  # a user error: one line on stderr, exit status 2 (None would exit 0)
    assert "error:" in capsys.readouterr().err


def test_version_has_one_source() -> None:
    import sslvid

    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sslvid.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc|\.dev|\.post)?\d*", sslvid.__version__)


def test_licence_file_matches_the_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_package_is_marked_typed() -> None:
    assert (ROOT / "sslvid" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["sslvid"]
