"""The book's tables: caption, units, decimals, the best value per column in bold, a dash for NaN."""

import numpy as np
import pandas as pd
import pytest

from sslvid.analysis.tables import BEST_PROPS, MISSING, comparison_table, ordered_pivot, result_table


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
