"""The results table: every measured number of the study in one tidy CSV, safe to share between processes.

One row is one number: which evaluation (``config_hash``), of which model (``model``, its
pre-training ``pretext``, ``pretrain_subset``, ``pretrain_epochs``, ``complexity``), on which
``task`` / ``dataset`` / ``split`` (``dataset_fingerprint``: which copy of the dataset, by content;
``sslvid.confighash``), which ``metric`` under which ``condition`` (``"clean"``, or a
corruption such as ``"gaussian/1"``), its ``value``, and the ``protocol_card`` (JSON: clips per
video, crops, frames, resolution, epochs, batch size, devices...) it was measured under, with
``seed``, git ``commit`` and ``time``. Accuracies and hit rates are in percent, as the papers print
them; drops are in points (absolute) and percent (relative).

The file lives at ``<data dir>/results/results.csv``. Writers hold a file lock, read the table,
upsert their rows by ``key`` (a re-run replaces its rows, never duplicates them) and replace the
file atomically; readers need no lock (they see the old file or the new one). Two processes
appending at once therefore both land, in some order. Before each rewrite the table as it was is
copied to ``results.csv.bak``.

Reading checks the table: the header must name known columns (with the key fields), every row
must have as many fields as the header, its key must match its fields and its numbers must be
numbers. A table that fails (another delimiter, a damaged header, a truncated or binary file)
raises ``sslvid.io.DamagedFileError`` naming the file and the backup, and is never written over.

Helpers turn the tidy table into the papers' table shapes (``pivot``) and put the papers'
numbers beside ours (``paper_vs_reproduced``); the papers' tables come from
``sslvid.store.paper_tables``. The book types no number by hand: every table is one of these.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from sslvid.io import DamagedFileError, atomic_write_text, remove_stale_temporaries
from sslvid.paths import data_dir
from sslvid.store.errors import NotCachedError
from sslvid.store.paper_tables import load_paper_table, paper_table_info

log = logging.getLogger(__name__)

KEY_FIELDS = ("config_hash", "task", "metric", "condition")
"""A row's identity: one evaluation's one metric under one condition."""

TEXT_COLUMNS = (
    "key",
    "config_hash",
    "task",
    "protocol",
    "model",
    "pretext",
    "source",
    "pretrain_dataset",
    "complexity",
    "dataset",
    "dataset_fingerprint",
    "split",
    "metric",
    "condition",
    "protocol_card",
    "profile",
    "commit",
    "time",
)
NUMBER_COLUMNS = ("value", "width")
INTEGER_COLUMNS = ("fold", "pretrain_subset", "pretrain_epochs", "seed", "unreadable_videos")
COLUMNS = (
    "key",
    "config_hash",
    "model",
    "width",
    "pretext",
    "source",
    "pretrain_dataset",
    "pretrain_subset",
    "pretrain_epochs",
    "complexity",
    "task",
    "protocol",
    "dataset",
    "dataset_fingerprint",
    "split",
    "fold",
    "metric",
    "condition",
    "value",
    "unreadable_videos",
    "protocol_card",
    "profile",
    "seed",
    "commit",
    "time",
)
"""The columns of the table, in order. ``unreadable_videos``: videos of the evaluated split(s)
that could not be decoded and so stand behind none of the row's number (tables written before
a column existed read it as missing)."""
REQUIRED_COLUMNS = ("key", *KEY_FIELDS, "value")
"""Columns every stored table has; others missing from an older table are read as empty."""


def default_results_path() -> Path:
    """``<data dir>/results/results.csv``: where results go unless a path is given."""
    return data_dir() / "results" / "results.csv"


def row_key(row: Mapping[str, Any]) -> str:
    """The upsert key of a row: ``config_hash|task|metric|condition``.

    Raises:
        ValueError: if a key field is missing or empty.
    """
    parts = [str(row.get(name) or "") for name in KEY_FIELDS]
    missing = [name for name, part in zip(KEY_FIELDS, parts) if not part]
    if missing:
        raise ValueError(f"a result row needs {', '.join(missing)}; got {dict(row)}")
    return "|".join(parts)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def normalise_rows(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a table with exactly ``COLUMNS``: keys filled in, cards as JSON text, missing cells empty.

    Raises:
        ValueError: for an unknown column, or a row without its key fields.
    """
    records = []
    for row in rows:
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns {sorted(unknown)}; valid: {', '.join(COLUMNS)}")
        record = {name: row.get(name) for name in COLUMNS}
        record["condition"] = record["condition"] or "clean"
        card = record["protocol_card"]
        if card is not None and not isinstance(card, str):
            record["protocol_card"] = json.dumps(card, sort_keys=True, default=str)
        record["time"] = record["time"] or _now()
        record["key"] = row_key(record)
        records.append(record)
    return _typed(pd.DataFrame(records, columns=list(COLUMNS)))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Column types: text as ``object`` strings ("" when missing), numbers as float, counts as ``Int64``."""
    table = table.copy()
    for name in TEXT_COLUMNS:
        table[name] = table[name].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        table[name] = table[name].astype(object)
    for name in NUMBER_COLUMNS:
        table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    for name in INTEGER_COLUMNS:
        table[name] = pd.to_numeric(table[name], errors="coerce").round().astype("Int64")
    return table


class ResultsStore:
    """The tidy results table on disk (module docstring).

    Args:
        path: the CSV file; default ``default_results_path()``.
        timeout: seconds to wait for the write lock (-1: forever).
        read_only: read the table once and keep it in memory; writing raises ``NotCachedError``
            (an evaluation missing from the table would be computed and written). A pass over
            every chapter looks up thousands of evaluations, and reading the CSV for each costs
            about half a second at a few thousand rows.
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = -1, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else default_results_path()
        self.timeout = timeout
        self.read_only = read_only
        self._snapshot: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r}{', read_only=True' if self.read_only else ''})"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    # ---------------------------------------------------------------- reading
    def table(self) -> pd.DataFrame:
        """Every row, typed (``COLUMNS``); an empty table when nothing was written yet.

        Raises:
            DamagedFileError: if the file is not a results table (module docstring).
        """
        if not self.read_only:
            return self._read()[0]
        if self._snapshot is None:
            self._snapshot = self._read()[0]
        return self._snapshot.copy()

    @property
    def backup_path(self) -> Path:
        """The copy of the table as it was before the last rewrite."""
        return self.path.with_name(self.path.name + ".bak")

    def _read(self) -> tuple[pd.DataFrame, str | None]:
        """The typed table and the file's text (None when there is no file)."""
        if not self.path.is_file():
            return normalise_rows([]), None
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise self._damaged("not UTF-8 text (a binary file?)") from None
        try:
            return _parse(text), text
        except ValueError as err:
            raise self._damaged(str(err)) from None

    def _damaged(self, problem: str) -> DamagedFileError:
        backup = (
            f"restore the copy kept before the last rewrite (cp {self.backup_path} {self.path}), or "
            if self.backup_path.is_file()
            else ""
        )
        return DamagedFileError(
            self.path,
            problem,
            f"the table was left as it is; {backup}move it away to start "
            "an empty table (re-running the evaluations stores their numbers again)",
        )

    def rows(self, config_hash: str | None = None, task: str | None = None, **equal: Any) -> pd.DataFrame:
        """The rows of one evaluation (``config_hash``) and/or ``task``, and columns equal to ``equal``."""
        table = self.table()
        for name, value in {"config_hash": config_hash, "task": task, **equal}.items():
            if value is not None:
                table = table[table[name] == value]
        return table.reset_index(drop=True)

    def has(self, config_hash: str, task: str, metrics: Sequence[str], condition: str = "clean") -> bool:
        """True when every metric of ``metrics`` is stored for this evaluation, task and condition."""
        found = self.rows(config_hash, task, condition=condition)
        return set(metrics) <= set(found["metric"])

    # ---------------------------------------------------------------- writing
    def upsert(self, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
        """Add ``rows``, replacing stored rows with the same key; return the new rows as stored.

        Holds the file lock while it reads, merges and atomically rewrites the table, so
        concurrent writers never lose each other's rows.

        Raises:
            ValueError: for unknown columns or rows without key fields.
            NotCachedError: in a read-only store.
            filelock.Timeout: if the lock is not acquired within ``timeout``.
        """
        if self.read_only:
            raise NotCachedError(f"a result missing from {self.path} would be written: it is read-only here")
        records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
        new = normalise_rows(records).drop_duplicates("key", keep="last")
        if new.empty:
            return new
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.lock_path), timeout=self.timeout):
            old, text = self._read()
            merged = pd.concat([old[~old["key"].isin(new["key"])], new], ignore_index=True) if len(old) else new
            self._rewrite(merged, text)
        log.info("results: %d rows upserted into %s (%d in all)", len(new), self.path, len(merged))
        return new.reset_index(drop=True)

    def delete(self, config_hash: str) -> int:
        """Remove every row of one evaluation; return how many were removed.

        Raises:
            DamagedFileError: if the stored table does not parse (it is left as it is).
        """
        if self.read_only:
            raise NotCachedError(f"{self.path} is read-only here")
        if not self.path.is_file():
            return 0
        with FileLock(str(self.lock_path), timeout=self.timeout):
            old, text = self._read()
            keep = old[old["config_hash"] != config_hash]
            self._rewrite(keep, text)
        return len(old) - len(keep)

    def _rewrite(self, table: pd.DataFrame, previous: str | None) -> None:
        """Back up ``previous`` (the parsed file's text), then replace the file; the lock is held."""
        remove_stale_temporaries(self.path.parent, self.path.name)
        if previous is not None:
            atomic_write_text(self.backup_path, previous)
        atomic_write_text(self.path, table.to_csv(index=False))


def _parse(text: str) -> pd.DataFrame:
    """The typed table in ``text``.

    Raises:
        ValueError: saying what is wrong (empty, truncated, unknown header, a bad row).
    """
    if not text.strip():
        raise ValueError("the file is empty (a results table has at least its header line)")
    if "\x00" in text:
        raise ValueError("it holds NUL bytes (a binary file?)")
    if not text.endswith("\n"):
        raise ValueError("its last line has no line break: the file was cut off part-way")
    try:
        lines = [line for line in csv.reader(io.StringIO(text, newline=""), strict=True) if line]
    except csv.Error as err:
        raise ValueError(f"not comma-separated values ({err})") from None
    header, body = lines[0], lines[1:]
    _check_header(header)
    for number, fields in enumerate(body, start=1):
        if len(fields) != len(header):
            raise ValueError(f"row {number} has {len(fields)} fields, the header {len(header)}")
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for name in COLUMNS:
        if name not in raw:
            raw[name] = ""
    typed = _typed(raw[list(COLUMNS)])
    _check_cells(raw, typed)
    return typed


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise ValueError(
            f"its header is not a results table's (unknown columns {unknown[:3]}, missing "
            f"{missing}; expected comma-separated {', '.join(COLUMNS)})"
        )


def _check_cells(raw: pd.DataFrame, typed: pd.DataFrame) -> None:
    """Keys that match their fields, numbers that are numbers (``raw``: the cells as text)."""
    first, *rest = (typed[name] for name in KEY_FIELDS)
    keys = first.str.cat(rest, sep="|")
    wrong = np.flatnonzero((keys != typed["key"]).to_numpy())
    if len(wrong):
        raise ValueError(
            f"row {wrong[0] + 1}: key {typed['key'].iloc[wrong[0]]!r} does not match its fields {keys.iloc[wrong[0]]!r}"
        )
    for name in (*NUMBER_COLUMNS, *INTEGER_COLUMNS):
        bad = np.flatnonzero((typed[name].isna() & (raw[name] != "")).to_numpy())
        if len(bad):
            raise ValueError(f"row {bad[0] + 1}: {name} {raw[name].iloc[bad[0]]!r} is not a number")


# ---------------------------------------------------------------------- table shapes


def pivot(
    results: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str],
    metric: str | None = None,
    values: str = "value",
    aggfunc: str = "mean",
    **equal: Any,
) -> pd.DataFrame:
    """A paper-shaped table from tidy results, e.g. pretext tasks as rows and backbones as columns.

    Args:
        results: rows of the results table (``ResultsStore.table()``).
        index: column(s) whose values become the rows.
        columns: column(s) whose values become the columns.
        metric: keep only this metric (e.g. ``"top1_video"``).
        values: the column to spread (``"value"``).
        aggfunc: how to combine several rows per cell (seeds, folds): "mean", "std", "count", ...
        **equal: keep only rows whose column equals the value (``dataset="ucf101"``).

    Raises:
        ValueError: for an unknown column.
    """
    selected = _select(results, metric=metric, **equal)
    wanted = [*_as_list(index), *_as_list(columns), values]
    unknown = [name for name in wanted if name not in selected]
    if unknown:
        raise ValueError(f"unknown columns {unknown}; valid: {', '.join(results.columns)}")
    return selected.pivot_table(index=_as_list(index), columns=_as_list(columns), values=values, aggfunc=aggfunc)


def paper_vs_reproduced(
    paper: pd.DataFrame,
    reproduced: pd.DataFrame,
    on: Sequence[str],
    paper_value: str,
    value: str = "value",
    rename: Mapping[str, Mapping[str, str]] | None = None,
    aggfunc: str = "mean",
) -> pd.DataFrame:
    """The papers' numbers and ours side by side: one row per cell, ``paper``, ``reproduced``, ``difference``.

    Args:
        paper: a paper table (``sslvid.store.paper_tables.load_paper_table``), one row per cell.
        reproduced: our rows (already filtered to the metric and setting that match the table).
        on: columns naming a cell in both tables (e.g. ``["backbone", "pretext"]``).
        paper_value: the paper's value column (e.g. ``"ucf101_top1"``).
        value: our value column.
        rename: per column of ``on``, our value -> the paper's name (e.g.
            ``{"backbone": {"r2plus1d_18": "r21d"}}``), applied to ``reproduced``.
        aggfunc: how to combine several of our rows per cell (seeds, folds).

    Returns:
        columns ``on`` + ``paper``, ``reproduced``, ``n`` (our rows per cell), ``difference``
        (reproduced - paper); an outer join, so a cell only one side has shows NaN on the other.

    Raises:
        ValueError: if a column of ``on`` is missing from either table.
    """
    on = list(on)
    for name, table in (("paper", paper), ("reproduced", reproduced)):
        missing = [c for c in on if c not in table]
        if missing:
            raise ValueError(f"{name} table has no column {missing}; it has {', '.join(table.columns)}")
    ours = reproduced.copy()
    for column, mapping in (rename or {}).items():
        ours[column] = ours[column].map(lambda v, m=mapping: m.get(v, v))
    ours = ours.groupby(on, dropna=False)[value].agg([aggfunc, "count"]).reset_index()
    ours.columns = [*on, "reproduced", "n"]
    theirs = paper[[*on, paper_value]].rename(columns={paper_value: "paper"})
    keys = {c: str for c in on}
    merged = theirs.astype(keys).merge(ours.astype(keys), on=on, how="outer")
    merged["n"] = merged["n"].fillna(0).astype(int)
    merged["difference"] = merged["reproduced"] - merged["paper"]
    return merged[[*on, "paper", "reproduced", "n", "difference"]]


def compare_with_paper(
    name: str,
    reproduced: pd.DataFrame,
    on: Sequence[str] | None = None,
    value: str = "value",
    rename: Mapping[str, Mapping[str, str]] | None = None,
    values: Sequence[str] | Mapping[str, str] | None = None,
    scale: float = 1.0,
    aggfunc: str = "mean",
) -> pd.DataFrame:
    """``paper_vs_reproduced`` against paper table ``name`` (``load_paper_table``), joined on its key columns
    unless ``on`` is given: its first value column against ours ``value``; or, with ``values`` (the paper's
    value columns, or a mapping of them to ours when the names differ), one comparison per value column,
    stacked with a ``metric`` column (the paper's name) after the keys. ``scale`` multiplies the paper's
    values first (e.g. 100 for fractions printed where ours are percent); ``aggfunc`` combines several of our
    rows per cell (``paper_vs_reproduced``)."""
    info = paper_table_info(name)
    paper, on = load_paper_table(name), list(on or info.keys)
    if scale != 1.0:
        paper = paper.assign(**{c: paper[c] * scale for c in info.values})
    if values is None:
        return paper_vs_reproduced(paper, reproduced, on, info.values[0], value, rename, aggfunc)
    pairs = values.items() if isinstance(values, Mapping) else ((v, v) for v in values)
    frames = [
        paper_vs_reproduced(paper, reproduced, on, p, ours, rename, aggfunc).assign(metric=p) for p, ours in pairs
    ]
    return pd.concat(frames, ignore_index=True)[[*on, "metric", "paper", "reproduced", "n", "difference"]]


def _select(results: pd.DataFrame, metric: str | None = None, **equal: Any) -> pd.DataFrame:
    selected = results
    for name, wanted in {"metric": metric, **equal}.items():
        if wanted is None:
            continue
        if name not in selected:
            raise ValueError(f"unknown column {name!r}; valid: {', '.join(results.columns)}")
        selected = selected[selected[name] == wanted]
    return selected


def _as_list(names: str | Sequence[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
