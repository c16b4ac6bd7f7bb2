"""The lock (requirements.txt) installs where the users are: it resolves, with nothing missing, for
Linux x86-64, Linux aarch64 and macOS arm64, and it is what its own inputs resolve to.

Resolution only, nothing is installed: uv (``sslvid[test]`` installs it) resolves the pinned file
for each target platform and Python, first from its cache alone (no network, about a second), then
from the package index when the cache lacks something. Without uv, or without the cache and the
index, the tests skip and say why.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.txt"
TIMEOUT_S = 300

# (where, uv's --python-platform, Python): every platform the README promises, and between them the
# lock's lowest Python (3.10), environment.yml's (3.11), its forks at 3.12 and the newest (3.14).
# torch 2.14 ships macOS arm64 wheels for macOS 14 and later only; glibc 2.28 for Linux.
TARGETS = [
    ("linux-x86_64", "x86_64-manylinux_2_28", "3.10"),
    ("linux-x86_64", "x86_64-manylinux_2_28", "3.11"),
    ("linux-aarch64", "aarch64-manylinux_2_28", "3.12"),
    ("macos-arm64", "aarch64-apple-darwin", "3.14"),
]
MACOS_VERSION = "14.0"

# Packages with wheels for some platforms only: each must carry a marker in the lock.
PLATFORM_ONLY = re.compile(r"^(decord|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==", re.IGNORECASE)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pins(text: str) -> set[tuple[str, str]]:
    """``(normalised name, version)`` of every ``name==version`` line of a requirements file."""
    found = set()
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            found.add((re.sub(r"[-_.]+", "-", match[1]).lower(), match[2]))
    return found


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a uv-compiled file (comments and annotations dropped), in order."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def find_uv() -> str:
    """The uv executable (the ``uv`` package's, else one on PATH); skips the test when there is none."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        pytest.skip(
            "uv is not installed (pip install uv, or pip install -e '.[test]'): the lock's resolution check needs it"
        )
    return found


def index_unreachable() -> str | None:
    """Why the package index cannot be reached, or None when it answers."""
    index = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple"
    try:
        urllib.request.urlopen(urllib.request.Request(index.rstrip("/") + "/uv/", method="HEAD"), timeout=10)
    except (urllib.error.URLError, OSError) as err:
        return f"{index} is unreachable ({err})"
    return None


def run_uv(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``uv <args>`` in the repository, from uv's cache alone first, then from the index.

    Skips the test when the cache falls short and the index cannot be reached (or does not answer in time).
    """
    uv = find_uv()
    environment = {**os.environ, **(env or {})}

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [uv, *args, *extra], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=TIMEOUT_S
        )

    done = run("--offline")
    if done.returncode == 0:
        return done
    reason = index_unreachable()
    if reason is not None:
        pytest.skip(f"cannot check the lock: uv's cache lacks some metadata and {reason}")
    try:
        return run()
    except subprocess.TimeoutExpired:
        pytest.skip(f"cannot check the lock: resolving from the index took over {TIMEOUT_S} s")


def lock_lines() -> list[str]:
    return requirement_lines(LOCK.read_text())


def test_lock_pins_the_torch_pair_exactly_for_every_platform() -> None:
    assert "torch==2.14.1" in lock_lines()
    assert "torchvision==0.29.1" in lock_lines()


def test_platform_only_packages_carry_a_platform_marker_in_the_lock() -> None:
    """decord (x86-64 Linux and Windows wheels only) and the CUDA wheels would break a Mac install unmarked."""
    unmarked = [line for line in lock_lines() if PLATFORM_ONLY.match(line) and ";" not in line]
    assert not unmarked, f"pinned for every platform, but have wheels for some only: {unmarked}"
    decord = [line for line in lock_lines() if line.startswith("decord==")]
    assert decord and all("x86_64" in line and "sys_platform == 'linux'" in line for line in decord)


def test_environment_yml_installs_the_lock_on_a_python_the_package_supports() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "- -r requirements.txt" in text
    python = re.search(r"^\s*- python=(\d+)\.(\d+)\s*$", text, re.MULTILINE)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = re.fullmatch(r">=(\d+)\.(\d+)", requires)
    assert python and floor and (int(python[1]), int(python[2])) >= (int(floor[1]), int(floor[2]))


@pytest.mark.parametrize(("where", "platform", "python"), TARGETS, ids=[f"{w}-py{p}" for w, _, p in TARGETS])
def test_lock_resolves_for_platform_with_nothing_missing(where: str, platform: str, python: str) -> None:
    """Every pin that applies to the platform has a wheel or source for it, and its dependencies are all pinned."""
    done = run_uv(
        [
            "pip",
            "compile",
            str(LOCK),
            "--python-platform",
            platform,
            "--python-version",
            python,
            "--no-header",
            "--no-annotate",
            "--quiet",
        ],
        env={"MACOSX_DEPLOYMENT_TARGET": MACOS_VERSION},
    )
    assert done.returncode == 0, f"requirements.txt does not resolve for {where} (Python {python}):\n{done.stderr}"
    missing = pins(done.stdout) - pins(LOCK.read_text())
    assert not missing, (
        f"on {where} (Python {python}) these are needed but not pinned in requirements.txt "
        f"(run make lock): {sorted(missing)}"
    )


def test_lock_is_what_its_inputs_resolve_to(tmp_path: Path) -> None:
    """Re-running the command in the lock's header (``make lock``) changes nothing: no stale or missing pins."""
    header = LOCK.read_text().splitlines()[:2]
    command = header[1].lstrip("# ").strip() if len(header) == 2 else ""
    assert command.startswith("uv pip compile "), (
        f"requirements.txt's header does not record the uv command that wrote it (got {header!r}); run make lock"
    )
    args = shlex.split(command)[1:]
    output = args.index("-o") + 1
    fresh = tmp_path / "requirements.txt"
    shutil.copy(LOCK, fresh)  # the current pins as the resolver's preferences, as make lock does
    args[output] = str(fresh)
    done = run_uv([*args, "--quiet"])
    assert done.returncode == 0, f"the lock's inputs (pyproject.toml, requirements.in) do not resolve:\n{done.stderr}"
    assert requirement_lines(fresh.read_text()) == requirement_lines(LOCK.read_text()), (
        "requirements.txt is out of date with pyproject.toml / requirements.in: run make lock"
    )
