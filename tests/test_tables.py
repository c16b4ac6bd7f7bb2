"""The book's tables: caption, units, decimals, the best value per column in bold, a dash for NaN."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sslvid.analysis.claims import SEEDS
from sslvid.analysis.tables import (
    BEST_PROPS,
    MISSING,
    comparison_table,
    estimate_text,
    ordered_pivot,
    result_table,
    seed_estimates,
    seed_table,
)


def bold(styler):
    """The (row, column) positions of the cells marked as the best."""
    return {cell for cell, props in styler._compute().ctx.items() if ("font-weight", "bold") in props}


def frame():
    return pd.DataFrame(
        {"top1": [41.25, 55.5, np.nan], "loss": [0.5, 0.25, 0.75], "n": [3, 4, 5], "task": ["rotnet", "vcop", "prp"]},
        index=["a", "b", "c"],
    )


def test_result_table_formats_marks_the_best_and_leaves_the_numbers_alone():
    df = frame()
    html = result_table(
        df, "Top-1 of three tasks", decimals={"loss": 2}, units={"top1": "%"}, best={"top1": "max", "loss": "min"}
    ).to_html()
    assert "<caption>Top-1 of three tasks</caption>" in html
    assert "top1 (%)" in html and "loss (" not in html
    assert "41.2" in html and "55.5" in html and "0.25" in html and MISSING in html and "nan" not in html
    assert bold(result_table(df, best={"top1": "max", "loss": "min"})) == {(1, 0), (1, 1)}  # 55.5 and 0.25
    assert df["top1"].iloc[0] == 41.25  # the frame itself is unchanged


def test_one_unit_for_every_numeric_column_and_integers_without_decimals():
    html = result_table(frame(), unit="%", best=None).to_html()
    assert "top1 (%)" in html and "loss (%)" in html and "n (%)" in html and "task (%)" not in html
    assert ">3<" in html and ">3.0<" not in html
    assert BEST_PROPS not in html


def test_multiindex_columns_take_the_unit_and_the_best_per_column():
    df = pd.DataFrame([[1.0, 2.0], [3.0, 0.5]], columns=pd.MultiIndex.from_tuples([("k", "a"), ("k", "b")]))
    styler = result_table(df, unit="%")
    html = styler.to_html()
    assert "a (%)" in html and "b (%)" in html
    assert bold(styler) == {(1, 0), (0, 1)}


def test_a_column_with_one_value_marks_nothing_and_a_wrong_direction_is_an_error():
    df = pd.DataFrame({"x": [1.0, np.nan]})
    assert BEST_PROPS not in result_table(df).to_html()
    with pytest.raises(ValueError, match="max' or 'min"):
        result_table(df, best="highest")


def test_comparison_table_signs_differences_and_marks_nothing():
    df = pd.DataFrame({"paper": [50.0, 60.0], "reproduced": [52.25, np.nan], "difference": [2.25, -1.5]})
    html = comparison_table(df, "Paper vs reproduced", unit="%").to_html()
    assert "+2.2" in html and "−1.5" in html and MISSING in html
    assert "difference (%)" in html and BEST_PROPS not in html


def test_the_best_of_each_row_and_the_plain_formatter():
    from sslvid.analysis.tables import _plain_html

    df = pd.DataFrame({"a": [1.0, 5.0], "b": [3.0, 2.0]})
    assert bold(result_table(df, best_in="row")) == {(0, 1), (1, 0)}
    with pd.option_context("display.precision", 2):
        html = _plain_html(pd.DataFrame({"x": [1.0, np.nan]}))
    assert "1.00" in html and MISSING in html and BEST_PROPS not in html
    with pd.option_context("display.max_rows", 10):
        assert _plain_html(pd.DataFrame({"x": range(100)})).count("<tr>") < 20
    nullable = pd.DataFrame({"epoch": pd.array([1, None], dtype="Int64")})
    assert MISSING in result_table(nullable).to_html()


def test_ordered_pivot_follows_the_given_order_and_leaves_out_unlisted_labels():
    frame = pd.DataFrame(
        {
            "row": ["b", "a", "b", "a", "z"],
            "col": ["y", "y", "x", "x", "x"],
            "level": ["q", "p", "q", "p", "p"],
            "v": [1.0, 2.0, 3.0, 4.0, 9.0],
        }
    )
    table = ordered_pivot(frame, "row", ["col", "level"], "v", {"row": ["b", "a"], "col": ["y", "x"]})
    assert list(table.index) == ["b", "a"], "rows in the given order, 'z' left out"
    assert list(table.columns) == [("y", "p"), ("y", "q"), ("x", "p"), ("x", "q")], "unnamed level sorted"
    assert table.loc["a", ("x", "p")] == 4.0 and np.isnan(table.loc["b", ("x", "p")])


def seeded() -> pd.DataFrame:
    """Three seeds of (net, task) cells; a cell of "b" measured by seed 0 only; "b"/"y" by none."""
    rows = [
        {"net": "a", "task": "x", "seed": 0, "top1": 40.0},
        {"net": "a", "task": "x", "seed": 1, "top1": 42.0},
        {"net": "a", "task": "x", "seed": 2, "top1": 44.0},
        {"net": "a", "task": "y", "seed": 0, "top1": 50.0},
        {"net": "a", "task": "y", "seed": 1, "top1": 50.0},
        {"net": "a", "task": "y", "seed": 2, "top1": 53.0},
        {"net": "b", "task": "x", "seed": 0, "top1": 10.0},
    ]
    return pd.DataFrame(rows)


def test_seed_estimates_give_a_t_interval_over_seeds_and_none_from_one_seed():
    cells = seed_estimates(seeded(), "net", "task", order={"task": ("y", "x")})
    assert list(cells.columns) == ["y", "x"] and list(cells.index) == ["a", "b"]
    three = cells.loc["a", "x"]
    # mean 42, sd 2: half-width t(0.975, df=2) * 2 / sqrt(3)
    half = stats.t.ppf(0.975, 2) * 2 / np.sqrt(3)
    assert (three.value, three.n, three.method) == (42.0, 3, SEEDS)
    assert (three.low, three.high) == (pytest.approx(42 - half), pytest.approx(42 + half))
    one = cells.loc["b", "x"]
    assert one.value == 10.0 and one.n == 1 and not one.has_interval
    assert pd.isna(cells.loc["b", "y"])
    assert estimate_text(three) == f"42.0 ± {half:.1f}" == "42.0 ± 5.0"
    assert estimate_text(one) == "10.0" and estimate_text(np.nan) == MISSING


def test_seed_estimates_average_a_seeds_rows_and_read_a_frame_without_seeds_as_one():
    twice = pd.concat([seeded(), seeded().assign(top1=seeded()["top1"] + 2)])
    assert seed_estimates(twice, "net", "task").loc["a", "x"].value == 43.0
    plain = seeded().drop(columns="seed")
    assert not seed_estimates(plain, "net", "task").loc["a", "x"].has_interval


def test_seed_table_renders_mean_plus_minus_and_bolds_the_best_mean():
    styler = seed_table(seed_estimates(seeded(), "net", "task"), "Top-1 over seeds", unit="%", best_in="row")
    html = styler.to_html()
    assert "<caption>Top-1 over seeds</caption>" in html and "x (%)" in html
    assert "42.0 ± 5.0" in html and ">10.0<" in html and MISSING in html
    assert bold(styler) == {(0, 1)}, "row a: y (51.0) beats x (42.0); row b has one cell, nothing to compare"
    assert bold(seed_table(seed_estimates(seeded(), "net", "task"))) == {(0, 0)}, "column y has one cell"
    assert bold(seed_table(seed_estimates(seeded(), "net", "task"), best=None)) == set()
    with pytest.raises(ValueError, match="best"):
        seed_table(seed_estimates(seeded(), "net", "task"), best="top")
