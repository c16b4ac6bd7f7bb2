"""pytest settings for the executed chapters that ``make test`` hands to nbval (``build/smoke/*.ipynb``).

nbval waits a fixed 5 s for each output message of a cell once the kernel has replied that the cell
ran, and fails the cell when one is late. A chapter's first cell that trains its runs can leave the
kernel's output channel that long behind on a loaded 2-core machine (seen once in a full ``make
test``: chapter 2's Table 1 cell, which passed on its own), so the wait is raised here; a kernel that
really hangs still fails, later.
"""

from __future__ import annotations

import pytest

NOTEBOOK_OUTPUT_TIMEOUT = 60
"""Seconds nbval waits for each output message of a notebook cell after it ran (nbval's own: 5)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(getattr(item, "output_timeout", None), (int, float)):
            item.output_timeout = max(item.output_timeout, NOTEBOOK_OUTPUT_TIMEOUT)  # type: ignore[attr-defined]
