"""The claims table: every chapter's checked claims of the papers, one CSV beside the results table.

A chapter records its claims (``sslvid.analysis.claims.record_claims``) as plain rows; the
discussion chapter reads every chapter's claims back from here instead of importing the
chapters. One row is one claim of one chapter at one profile (its key: ``profile``,
``chapter``, ``key``); a chapter that runs again replaces its rows. The file lives at
``<results dir>/claims.csv`` (``ResultsStore.path`` with the name ``claims.csv``); writers
hold a file lock and replace the file atomically, as the results table's do.

The verdict column is written for readers of the CSV; ``sslvid.analysis.claims`` recomputes
it from the numbers and never reads it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock

from sslvid.io import DamagedFileError, atomic_write_text
from sslvid.store.errors import NotCachedError

CLAIM_COLUMNS = (
    "profile",
    "chapter",
    "key",
    "statement",
    "paper",
    "section",
    "table",
    "quantity",
    "direction",
    "threshold",
    "value",
    "low",
    "high",
    "n",
    "method",
    "p_greater",
    "p_less",
    "reason",
    "digits",
    "verdict",
)
"""The columns of the claims table, in order."""
KEY = ("profile", "chapter", "key")


class ClaimStore:
    """The claims table on disk (module docstring).

    Args:
        path: the CSV file (``claims.csv`` beside the results table).
        read_only: writing raises ``NotCachedError``.
        timeout: seconds to wait for the write lock (-1: forever).
    """

    def __init__(self, path: str | os.PathLike, read_only: bool = False, timeout: float = -1) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ClaimStore({str(self.path)!r})"

    def table(self, profile: str | None = None, chapter: str | None = None) -> pd.DataFrame:
        """The stored claims (of ``profile`` and ``chapter`` when given), in the order written.

        Raises:
            DamagedFileError: if the file is not a claims table.
        """
        if not self.path.is_file():
            return pd.DataFrame(columns=list(CLAIM_COLUMNS))
        try:
            table = pd.read_csv(io.StringIO(self.path.read_text(encoding="utf-8")), dtype={"table": str})
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise DamagedFileError(
                self.path, f"not a claims table ({error})", "move it away and run the chapters again"
            ) from None
        if list(table.columns) != list(CLAIM_COLUMNS):
            raise DamagedFileError(
                self.path,
                f"its header is {list(table.columns)}, not {list(CLAIM_COLUMNS)}",
                "move it away and run the chapters again",
            )
        for name, wanted in (("profile", profile), ("chapter", chapter)):
            if wanted is not None:
                table = table[table[name] == wanted]
        return table.reset_index(drop=True)

    def replace_chapter(self, profile: str, chapter: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        """Store ``rows`` as the claims of ``chapter`` at ``profile``, replacing that chapter's earlier rows.

        Raises:
            ValueError: for a row with an unknown column, or of another chapter.
            NotCachedError: in a read-only store.
        """
        if self.read_only:
            raise NotCachedError(f"{self.path} is read-only here")
        records = []
        for row in rows:
            unknown = set(row) - set(CLAIM_COLUMNS)
            if unknown:
                raise ValueError(f"unknown claim columns {sorted(unknown)}; valid: {', '.join(CLAIM_COLUMNS)}")
            if row.get("chapter", chapter) != chapter:
                raise ValueError(f"a claim of chapter {row['chapter']!r} recorded as {chapter!r}'s")
            records.append({**row, "profile": profile, "chapter": chapter})
        new = pd.DataFrame(records, columns=list(CLAIM_COLUMNS))
        repeated = sorted(new["key"][new["key"].duplicated()])
        if repeated:
            raise ValueError(f"claim keys repeat within chapter {chapter!r}: {repeated}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path.with_name(self.path.name + ".lock")), timeout=self.timeout):
            old = self.table()
            keep = old[~((old["profile"] == profile) & (old["chapter"] == chapter))]
            merged = pd.concat([keep, new], ignore_index=True) if len(keep) else new
            atomic_write_text(self.path, merged.to_csv(index=False))
        return new
