"""Tables as the book shows them: a caption, units in the headers, a fixed number of decimals,
the best value of each column in bold and a missing value as a dash, not a raw DataFrame repr.

Each table function returns a pandas ``Styler`` (its HTML is what a chapter page shows); the numbers
stay those of the DataFrame, which the chapter code keeps using::

    display(result_table(chapter.table2(accuracy), "Top-1 of every task and subset", unit="%"))

Numbers over several seeds go through ``seed_estimates`` (mean and 95% t interval per cell) and
``seed_table`` ("48.2 ± 3.1"; from one seed, just the value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from sslvid.analysis.claims import Estimate, seed_interval

MISSING = "—"
"""How a missing value (NaN) is shown."""

BEST_PROPS = "font-weight: bold"
"""How the best value of a column is marked."""

TABLE_ATTRIBUTES = 'class="dataframe sslvid-table"'
"""The HTML table's classes: the theme styles ``dataframe`` tables; ``sslvid-table`` marks a formatted one
(``sslvid.bookcheck`` reports a ``dataframe`` table without it as a raw repr)."""

DIFFERENCE_COLUMNS = ("difference", "drop", "gap", "gain")
"""Columns ``comparison_table`` shows with a sign (+1.2 / −0.4): the name contains one of these."""


def result_table(
    df: pd.DataFrame,
    caption: str | None = None,
    *,
    decimals: int | Mapping[Any, int] = 1,
    unit: str | None = None,
    units: Mapping[Any, str] | None = None,
    best: str | Mapping[Any, str] | None = "max",
    best_columns: Sequence[Any] | None = None,
    best_in: str = "column",
    hide_index: bool = False,
) -> Styler:
    """A results table for the page: caption, decimals, units, the best value per column in bold.

    Args:
        df: the table (flat or MultiIndex columns; left unchanged).
        caption: shown above the table; say what a cell is (e.g. "top-1 (%) after a linear probe").
        decimals: decimals of every float column, or per column label (others: 1).
        unit: unit of every numeric column, added to its header as "name (unit)".
        units: unit per column label (the last level of a MultiIndex), added the same way; wins over ``unit``.
        best: "max" or "min": which value of a numeric column is the best, bolded per column;
            a mapping gives it per column label (columns it omits are not marked); None marks nothing.
        best_columns: only these column labels are marked (default: every numeric column).
        best_in: "column" (the best of each column) or "row" (the best of each row, over the marked
            columns; ``best`` must then be "max" or "min"), for tables whose rows are what is compared.
        hide_index: leave the row labels off (for tables whose index is a plain counter).

    Raises:
        ValueError: when ``best`` names something other than "max" or "min".
    """
    styler = df.style
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    styler = _format(styler, df, numeric, decimals, signed=())
    styler = _units(styler, df, numeric, unit, units)
    marked = _best(numeric, best, best_columns)
    if best_in == "row" and marked:
        method = styler.highlight_max if best == "max" else styler.highlight_min
        styler = method(subset=list(marked), axis=1, props=BEST_PROPS)
    elif best_in != "column":
        raise ValueError(f"best_in must be 'column' or 'row', got {best_in!r}")
    else:
        for column, direction in marked.items():
            if df[column].notna().sum() > 1:
                method = styler.highlight_max if direction == "max" else styler.highlight_min
                styler = method(subset=[column], axis=0, props=BEST_PROPS)
    if caption:
        styler = styler.set_caption(caption)
    if hide_index:
        styler = styler.hide(axis="index")
    return styler.set_table_attributes(TABLE_ATTRIBUTES)


def comparison_table(
    df: pd.DataFrame,
    caption: str | None = None,
    *,
    decimals: int | Mapping[Any, int] = 1,
    unit: str | None = None,
    units: Mapping[Any, str] | None = None,
    difference_columns: Sequence[Any] | None = None,
) -> Styler:
    """A paper-vs-reproduced table: the paper's cell beside ours, differences signed, nothing bolded.

    Marking a "best" value makes no sense across the paper's and our cells; instead every
    difference column (``DIFFERENCE_COLUMNS`` in its name, or ``difference_columns``) shows its
    sign, so that ours above the paper's reads "+".

    Args: as ``result_table``; ``difference_columns`` lists the signed columns explicitly.
    """
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    if difference_columns is None:
        difference_columns = [c for c in numeric if any(word in _label(c).lower() for word in DIFFERENCE_COLUMNS)]
    styler = _format(df.style, df, numeric, decimals, signed=tuple(difference_columns))
    styler = _units(styler, df, numeric, unit, units)
    if caption:
        styler = styler.set_caption(caption)
    return styler.set_table_attributes(TABLE_ATTRIBUTES)


def ordered_pivot(
    frame: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str],
    values: str,
    order: Mapping[str, Sequence[Any]] | None = None,
    aggfunc: str | Callable[[pd.Series], Any] = "mean",
) -> pd.DataFrame:
    """The mean (or ``aggfunc``) of ``values`` per ``index`` x ``columns`` (``DataFrame.pivot_table``), in a
    paper table's order.

    Args:
        order: column name -> its values, first to last; rows and column levels of that name follow it, and
            rows of ``frame`` with a value it does not list are left out. Levels it does not name are sorted.
    """
    order = order or {}
    keep = pd.Series(True, index=frame.index)
    for name, wanted in order.items():
        if name in frame:
            keep &= frame[name].isin(list(wanted))
    table = frame[keep].pivot_table(index=index, columns=columns, values=values, aggfunc=aggfunc)

    def key(level: pd.Index) -> pd.Index:
        rank = {v: i for i, v in enumerate(order.get(level.name, ()))}
        return level.map(rank.get) if rank else level

    return table.sort_index(axis=0, key=key).sort_index(axis=1, key=key)


def seed_estimates(
    frame: pd.DataFrame,
    index: str | Sequence[str],
    columns: str | Sequence[str],
    values: str = "top1",
    order: Mapping[str, Sequence[Any]] | None = None,
    *,
    seed: str = "seed",
) -> pd.DataFrame:
    """Per ``index`` x ``columns`` cell, the mean of ``values`` over seeds with its 95% Student's t interval
    (``claims.seed_interval``; ``Estimate.n``: the seeds), laid out as ``ordered_pivot`` lays out the means.

    Rows of one seed and cell (e.g. several epochs) are averaged first; a frame without a ``seed`` column
    is one seed. One seed gives an estimate without interval; a cell no seed measured is NaN.

    Returns:
        a frame of ``Estimate`` objects (object dtype), rows and columns as ``ordered_pivot``'s.
    """
    if seed not in frame:
        frame = frame.assign(**{seed: 0})
    layout = ordered_pivot(frame, index, columns, values, order)
    keys = [*([index] if isinstance(index, str) else index), *([columns] if isinstance(columns, str) else columns)]
    per_seed = frame.groupby([*keys, seed], dropna=False)[values].mean()
    cells: dict[tuple[Any, ...], Estimate] = {}
    for key, part in per_seed.groupby(level=list(range(len(keys)))):
        if part.notna().any():
            cells[_key(key)] = seed_interval(part.to_numpy(dtype=float))
    rows = [[cells.get(_key(r) + _key(c), np.nan) for c in layout.columns] for r in layout.index]
    return pd.DataFrame(rows, index=layout.index, columns=layout.columns, dtype=object)


def estimate_text(estimate: Any, decimals: int = 1) -> str:
    """A cell of ``seed_estimates`` as text: "48.2 ± 3.1" (the mean ± half its 95% interval), the mean alone
    without an interval (one seed), ``MISSING`` for none."""
    if not isinstance(estimate, Estimate) or np.isnan(estimate.value):
        return MISSING
    text = _number(estimate.value, f"{{:,.{decimals}f}}")
    if not estimate.has_interval:
        return text
    return f"{text} ± {(estimate.high - estimate.low) / 2:,.{decimals}f}"


def seed_table(
    estimates: pd.DataFrame,
    caption: str | None = None,
    *,
    decimals: int = 1,
    unit: str | None = None,
    best: str | None = "max",
    best_in: str = "column",
    hide_index: bool = False,
) -> Styler:
    """A results table of ``seed_estimates`` cells: "mean ± half-interval" over seeds (the mean alone from one
    seed), the best mean of each column (or row) in bold, a dash for a missing cell.

    Args: as ``result_table``; ``unit`` is added to every column's header, ``best`` is "max", "min" or None.

    Raises:
        ValueError: for a ``best`` or ``best_in`` it does not know.
    """
    if best not in ("max", "min", None) or best_in not in ("column", "row"):
        raise ValueError(f"best must be 'max', 'min' or None and best_in 'column' or 'row', got {best!r}, {best_in!r}")
    means = estimates.map(lambda e: e.value if isinstance(e, Estimate) else np.nan).astype(float)
    styler = estimates.style.format(lambda e: estimate_text(e, decimals))
    styler = _units(styler, estimates, list(estimates.columns), unit, None)
    if best is not None:
        axis = 1 if best_in == "row" else 0
        top = means.max(axis=axis) if best == "max" else means.min(axis=axis)
        marked = means.eq(top, axis=1 - axis) & means.notna()
        several = means.notna().sum(axis=axis) > 1
        marked = marked.mul(several, axis=1 - axis).astype(bool)
        props = pd.DataFrame(np.where(marked, BEST_PROPS, ""), index=means.index, columns=means.columns)
        styler = styler.apply(lambda _: props, axis=None)
    if caption:
        styler = styler.set_caption(caption)
    if hide_index:
        styler = styler.hide(axis="index")
    return styler.set_table_attributes(TABLE_ATTRIBUTES)


def _key(label: Any) -> tuple[Any, ...]:
    return label if isinstance(label, tuple) else (label,)


def _label(column: Any) -> str:
    """The last level of a column label, as text."""
    return str(column[-1] if isinstance(column, tuple) else column)


def _decimals(decimals: int | Mapping[Any, int], column: Any) -> int:
    if isinstance(decimals, Mapping):
        return int(decimals.get(column, decimals.get(_label(column), 1)))
    return int(decimals)


def _format(
    styler: Styler, df: pd.DataFrame, numeric: Sequence[Any], decimals: int | Mapping[Any, int], signed: Sequence[Any]
) -> Styler:
    styler = styler.format(na_rep=MISSING)
    for column in numeric:
        integer = pd.api.types.is_integer_dtype(df[column])
        places = 0 if integer else _decimals(decimals, column)
        sign = "+" if column in signed else ""
        spec = f"{{:{sign},.{places}f}}"
        styler = styler.format(lambda v, spec=spec: _number(v, spec), subset=[column])
    return styler


def _number(value: Any, spec: str) -> str:
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):  # not a scalar
        pass
    try:
        text = spec.format(value)
    except (TypeError, ValueError):
        return str(value)
    return text.replace("-", "−") if text.startswith("-") else text


def _units(
    styler: Styler, df: pd.DataFrame, numeric: Sequence[Any], unit: str | None, units: Mapping[Any, str] | None
) -> Styler:
    if unit is None and not units:
        return styler
    labelled = {_label(c) for c in numeric}

    def header(label: Any) -> str:
        text = str(label)
        found = (units or {}).get(label, (units or {}).get(text))
        if found is None and text in labelled:
            found = unit
        return f"{text} ({found})" if found else text

    level = df.columns.nlevels - 1
    return styler.format_index(header, axis=1, level=level if df.columns.nlevels > 1 else None)


def _best(
    numeric: Sequence[Any], best: str | Mapping[Any, str] | None, best_columns: Sequence[Any] | None
) -> dict[Any, str]:
    if best is None:
        return {}
    columns = [c for c in numeric if best_columns is None or c in best_columns or _label(c) in best_columns]
    chosen: dict[Any, str] = {}
    for column in columns:
        direction = best.get(column, best.get(_label(column))) if isinstance(best, Mapping) else best
        if direction is not None:
            chosen[column] = direction
    wrong = {d for d in chosen.values() if d not in ("max", "min")}
    if wrong:
        raise ValueError(f"best must be 'max' or 'min', got {sorted(wrong)}")
    return chosen


def book_tables() -> None:
    """Show every DataFrame that a chapter displays without ``result_table`` formatted as well: the
    decimals of ``display.precision``, NaN as a dash, no raw repr. Registered with the running IPython
    kernel (nothing happens outside one); calling it again changes nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _plain_html)


def _plain_html(df: pd.DataFrame) -> str:
    rows = pd.get_option("display.max_rows")
    return result_table(df, decimals=int(pd.get_option("display.precision")), best=None).to_html(
        max_rows=rows if rows and len(df) > rows else None
    )
