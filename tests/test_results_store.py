"""The results table: tidy rows, upsert by key, two writers at once, pivots, paper vs reproduced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sslvid.io import DamagedFileError
from sslvid.store.paper_tables import (
    PAPER_BACKBONES,
    from_paper_names,
    list_paper_tables,
    load_paper_table,
    paper_table_info,
    paper_tables_dir,
)
from sslvid.store.results import (
    COLUMNS,
    ResultsStore,
    compare_with_paper,
    normalise_rows,
    paper_vs_reproduced,
    pivot,
    row_key,
)

REPO = Path(__file__).resolve().parents[1]


def row(config_hash: str = "abc", metric: str = "top1_video", value: float = 50.0, **extra) -> dict:
    return {
        "config_hash": config_hash,
        "task": "action_recognition",
        "metric": metric,
        "value": value,
        "model": "r2plus1d_18",
        "pretext": "rotnet",
        "dataset": "digits-appearance",
        "split": "test",
        "fold": 1,
        "protocol": "finetune",
        "protocol_card": {"clips": 4, "frames": 8},
        "seed": 0,
        **extra,
    }


def test_rows_are_stored_tidy_with_their_protocol_card(tmp_path):
    store = ResultsStore(tmp_path / "results.csv")
    assert store.table().empty and list(store.table().columns) == list(COLUMNS)
    store.upsert([row(), row(metric="top1_clip", value=40.0, pretrain_subset=100)])
    table = pd.read_csv(store.path)  # plain pandas reads it
    assert len(table) == 2 and set(COLUMNS) == set(table.columns)
    typed = store.table()
    assert typed["value"].tolist() == [50.0, 40.0]
    assert typed["condition"].tolist() == ["clean", "clean"]
    assert json.loads(typed["protocol_card"][0]) == {"clips": 4, "frames": 8}
    assert typed["pretrain_subset"].isna().tolist() == [True, False] and typed["pretrain_subset"][1] == 100
    assert typed["key"][0] == "abc|action_recognition|top1_video|clean" == row_key(typed.iloc[0].to_dict())
    assert typed["time"].str.len().min() > 0


def test_upsert_replaces_rows_with_the_same_key_and_never_duplicates(tmp_path):
    store = ResultsStore(tmp_path / "results.csv")
    store.upsert([row(value=10.0), row(metric="top1_clip")])
    store.upsert([row(value=20.0)])  # a re-run of the same evaluation
    store.upsert([row(value=30.0, condition="gaussian/1", task="noise_robustness")])
    table = store.table()
    assert len(table) == 3
    assert store.rows("abc", "action_recognition", metric="top1_video")["value"].tolist() == [20.0]
    assert store.has("abc", "action_recognition", ["top1_clip", "top1_video"])
    assert not store.has("abc", "action_recognition", ["top1_clip"], condition="gaussian/1")
    assert store.delete("abc") == 3 and store.table().empty


def test_bad_rows_are_refused(tmp_path):
    store = ResultsStore(tmp_path / "results.csv")
    with pytest.raises(ValueError, match="metric"):
        store.upsert([{"config_hash": "x", "task": "t", "value": 1.0}])
    with pytest.raises(ValueError, match="unknown result columns"):
        store.upsert([row(colour="red")])


def stored_table(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results.csv")
    store.upsert([row(), row(metric="top1_clip", value=40.0)])
    return store


def semicolons(text: str) -> str:
    return pd.read_csv(pd.io.common.StringIO(text), dtype=str).to_csv(index=False, sep=";")


DAMAGES = {
    "another delimiter": (semicolons, "header"),
    "damaged header": (lambda text: text.replace("config_hash", "config hash", 1), "header"),
    "truncated": (lambda text: text[: len(text) * 2 // 3], "cut off"),
    "empty": (lambda text: "", "empty"),
    "binary": (lambda text: "\x00\x13PK" + text, "binary"),
    "a row with extra fields": (lambda text: text + "a,b," * len(COLUMNS) + "\n", "fields"),
    "a number that is not one": (lambda text: text.replace(",40.0,", ",fifty,", 1), "value 'fifty'"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_table_is_named_and_never_written_over(tmp_path, damage):
    store = stored_table(tmp_path)
    store.upsert([row(value=51.0)])  # a rewrite keeps the table as it was before it
    change, problem = DAMAGES[damage]
    damaged = change(store.path.read_text())
    store.path.write_bytes(damaged.encode("utf-8", "surrogateescape"))
    for touch in (store.table, lambda: store.upsert([row(config_hash="new")]), lambda: store.delete("abc")):
        with pytest.raises(DamagedFileError, match=problem) as caught:
            touch()
        assert str(store.path) in str(caught.value) and str(store.backup_path) in str(caught.value)
    assert store.path.read_bytes() == damaged.encode("utf-8", "surrogateescape"), "left exactly as it was"
    store.path.write_text(store.backup_path.read_text())  # the recovery the message names
    assert store.table()["value"].tolist() == [50.0, 40.0]


def test_a_table_that_is_not_utf8_is_named(tmp_path):
    store = stored_table(tmp_path)
    store.path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DamagedFileError, match="not UTF-8"):
        store.table()


def test_an_older_table_without_a_later_column_still_reads(tmp_path):
    store = stored_table(tmp_path)
    store.path.write_text(store.table().drop(columns=["profile", "width"]).to_csv(index=False))
    assert store.table()["profile"].tolist() == ["", ""] and store.table()["value"].tolist() == [50.0, 40.0]


def test_each_rewrite_keeps_a_backup_and_clears_orphan_temporaries(tmp_path):
    store = stored_table(tmp_path)
    orphan = tmp_path / ".results.csv.dead1234.tmp"  # left by a writer killed part-way
    orphan.write_text("half")
    before = store.path.read_text()
    store.upsert([row(value=60.0)])
    assert store.backup_path.read_text() == before and not orphan.exists()


WRITER = """
import sys, time
from pathlib import Path
from sslvid.store.results import ResultsStore
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
folder = Path(path).parent
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():  # both writers start together, after their imports
    time.sleep(0.002)
store = ResultsStore(path)
for i in range(n):
    store.upsert([{"config_hash": name, "task": "t", "metric": f"m{i}", "value": float(i)}])
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    path, n = tmp_path / "results.csv", 25
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    names = ("writer_a", "writer_b")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(n)], env=env) for name in names]
    deadline = time.time() + 60
    while not all((tmp_path / f"ready-{name}").exists() for name in names):
        assert time.time() < deadline and all(p.poll() is None for p in procs), "a writer did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    table = ResultsStore(path).table()
    assert len(table) == 2 * n and table["key"].is_unique
    assert sorted(table.groupby("config_hash").size().tolist()) == [n, n]
    assert not list(tmp_path.glob(".results.csv.*.tmp")), "no temporary file left behind"


def toy_results() -> pd.DataFrame:
    rows = [
        row(config_hash=f"h{i}", model=model, pretext=pretext, value=value, seed=seed)
        for i, (model, pretext, value, seed) in enumerate(
            [
                ("r2plus1d_18", "rotnet", 40.0, 0),
                ("r2plus1d_18", "rotnet", 44.0, 1),
                ("r2plus1d_18", "vcop", 50.0, 0),
                ("shufflenet3d", "rotnet", 20.0, 0),
            ]
        )
    ]
    rows.append(row(config_hash="h9", metric="top1_clip", value=1.0))
    return normalise_rows(rows)


def test_pivot_gives_the_papers_table_shape():
    table = pivot(toy_results(), index="pretext", columns="model", metric="top1_video")
    assert table.loc["rotnet", "r2plus1d_18"] == 42.0  # mean over the two seeds
    assert table.loc["vcop", "r2plus1d_18"] == 50.0 and table.loc["rotnet", "shufflenet3d"] == 20.0
    assert pd.isna(table.loc["vcop", "shufflenet3d"])
    counts = pivot(toy_results(), "pretext", "model", metric="top1_video", aggfunc="count")
    assert counts.loc["rotnet", "r2plus1d_18"] == 2
    with pytest.raises(ValueError, match="unknown column"):
        pivot(toy_results(), "colour", "model")


def test_paper_vs_reproduced_puts_the_numbers_side_by_side():
    paper = pd.DataFrame(
        {
            "backbone": ["r21d", "r21d", "shufflenet_v1_2x"],
            "pretext": ["rotnet", "prp", "rotnet"],
            "ucf101_top1": [41.2, 46.2, 16.6],
        }
    )
    ours = toy_results()
    ours = ours[ours["metric"] == "top1_video"].rename(columns={"model": "backbone"})
    table = paper_vs_reproduced(
        paper, ours, on=["backbone", "pretext"], paper_value="ucf101_top1", rename={"backbone": PAPER_BACKBONES}
    )
    cells = table.set_index(["backbone", "pretext"])
    assert cells.loc[("r21d", "rotnet"), "paper"] == 41.2 and cells.loc[("r21d", "rotnet"), "reproduced"] == 42.0
    assert cells.loc[("r21d", "rotnet"), "n"] == 2
    assert cells.loc[("r21d", "rotnet"), "difference"] == pytest.approx(0.8)
    assert cells.loc[("shufflenet_v1_2x", "rotnet"), "reproduced"] == 20.0
    assert pd.isna(cells.loc[("r21d", "prp"), "reproduced"]), "a cell we did not measure"
    assert pd.isna(cells.loc[("r21d", "vcop"), "paper"]), "a cell the paper does not print"
    assert list(table.columns) == ["backbone", "pretext", "paper", "reproduced", "n", "difference"]


def test_compare_with_paper_joins_on_the_tables_keys_and_first_value_column():
    name = "benchmark_t1_pretext_k400_50k"
    paper = load_paper_table(name)
    ours = paper.rename(columns={"ucf101_top1": "value"}).assign(value=lambda t: t["value"] + 2.0)
    table = compare_with_paper(name, ours)
    assert list(table.columns) == [*paper_table_info(name).keys, "paper", "reproduced", "n", "difference"]
    assert len(table) == len(paper) and (table["difference"] - 2.0).abs().max() < 1e-9


def test_compare_with_paper_stacks_several_value_columns_and_scales_the_papers():
    name = "benchmark_t7_noise_ucf101"
    paper = load_paper_table(name)
    ours = paper.assign(noisy_top1=paper["noisy_top1"] / 10, rel=paper["relative_drop_pct"] / 10)
    table = compare_with_paper(name, ours, values={"noisy_top1": "noisy_top1", "relative_drop_pct": "rel"}, scale=0.1)
    assert list(table.columns) == ["backbone", "pretext", "metric", "paper", "reproduced", "n", "difference"]
    assert list(table["metric"].unique()) == ["noisy_top1", "relative_drop_pct"] and len(table) == 2 * len(paper)
    assert table["difference"].abs().max() < 1e-9 and table["n"].eq(1).all()


def test_backbone_names_go_to_the_papers_and_back():
    ours = pd.Series(["r2plus1d_18", "shufflenet3d", "swin3d_t"])
    assert list(from_paper_names(ours.map(lambda b: PAPER_BACKBONES.get(b, b)))) == list(ours)


@pytest.mark.parametrize("name", list_paper_tables())
def test_every_paper_table_loads_from_the_projects_data(name):
    info = paper_table_info(name)
    assert paper_tables_dir() == REPO / "data" / "paper-tables"
    table = load_paper_table(name)
    assert len(table) and set(info.keys) | set(info.values) <= set(table.columns)
    assert all(pd.api.types.is_numeric_dtype(table[v]) for v in info.values)
    tidy = load_paper_table(name, tidy=True)
    assert len(tidy) == len(table) * len(info.values) and {"metric", "value"} <= set(tidy.columns)
    assert name in (REPO / "data" / "paper-tables" / "README.md").read_text()


def test_paper_table_7_holds_noisy_accuracy_consistent_with_table_1():
    """The transcription note: noisy = clean x (1 - relative drop) for every cell."""
    clean = load_paper_table("benchmark_t1_pretext_k400_50k").set_index(["backbone", "pretext"])["ucf101_top1"]
    noise = load_paper_table("benchmark_t7_noise_ucf101").set_index(["backbone", "pretext"])
    implied = clean.loc[noise.index] * (1 - noise["relative_drop_pct"] / 100)
    assert (implied - noise["noisy_top1"]).abs().max() < 0.15
    with pytest.raises(ValueError, match="benchmark_t1"):
        load_paper_table("table_one")
