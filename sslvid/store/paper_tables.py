"""The papers' tables as printed, for "paper vs reproduced" tables in the book.

Each table is a tidy CSV in ``data/paper-tables/`` of the checkout (one row per printed cell
group; ``data/paper-tables/README.md`` names the paper and table number of each and the
transcription notes). ``PAPER_TABLES`` describes them: which columns name a cell, which hold
values, where they come from. ``load_paper_table(name)`` reads one; with ``tidy=True`` the value
columns are melted into ``metric`` / ``value`` like the results table.

``PAPER_BACKBONES`` maps the paper's backbone names to this project's registry names (and back
with ``to_paper_names``), so our rows can be joined to theirs (``results.paper_vs_reproduced``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sslvid.paths import shared_dir

# The papers, by their keys in the book's bibliography (book/references.bib).
BENCHMARK = "benchmark2023"
LIGHTWEIGHT = "sonawane2021lightweight"
GRAPHKD = "zhang2018graph"
SKDSRL = "vu2022skdsrl"


@dataclass(frozen=True)
class PaperTable:
    """One transcribed table.

    Args:
        name: file stem in ``data/paper-tables/``.
        source: the paper's key in the book's bibliography (``book/references.bib``).
        table: the table's number in the paper.
        caption: what it reports, in a line.
        keys: columns that name a cell.
        values: columns that hold the printed numbers.
        unit: "percent", "fraction" or a unit of the values.
    """

    name: str
    source: str
    table: str
    caption: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    unit: str = "percent"


PAPER_TABLES: dict[str, PaperTable] = {t.name: t for t in (
    PaperTable("benchmark_t1_pretext_k400_50k", BENCHMARK, "Table 1",
               "pretext tasks pre-trained on K400-50k, finetuned on UCF101", ("backbone", "pretext"),
               ("ucf101_top1",)),
    PaperTable("benchmark_t2_subset_size_r21d", BENCHMARK, "Table 2",
               "R21D: pre-training subset size vs UCF101 finetune accuracy", ("subset", "pretext"), ("ucf101_top1",)),
    PaperTable("benchmark_t3_rspnet_subset_epochs", BENCHMARK, "Table 3",
               "RSPNet: subset size x pre-training epochs", ("epochs", "subset", "backbone"), ("ucf101_top1",)),
    PaperTable("benchmark_t4_epochs_r21d_50k", BENCHMARK, "Table 4",
               "R21D on K400-50k: pre-training epochs per pretext task", ("epochs", "pretext"), ("ucf101_top1",)),
    PaperTable("benchmark_t5_task_complexity", BENCHMARK, "Table 5",
               "task complexity C1-C3 (reconstructed, see README)", ("complexity", "pretext", "backbone"),
               ("ucf101_top1",)),
    PaperTable("benchmark_t6_ood_r21d_30k", BENCHMARK, "Table 6",
               "out of distribution: K400 vs SSv2 pre-training, UCF101 / Diving48 targets",
               ("target", "pretrain", "pretext"), ("top1",)),
    PaperTable("benchmark_t7_noise_ucf101", BENCHMARK, "Table 7",
               "noise robustness on UCF101, mean of 4 noises at severity 1", ("backbone", "pretext"),
               ("noisy_top1", "relative_drop_pct")),
    PaperTable("benchmark_t8_kd_subsets_rspnet", BENCHMARK, "Table 8",
               "knowledge distillation from RSPNet teachers per subset", ("model", "subset"),
               ("ucf101_top1", "hmdb51_top1")),
    PaperTable("benchmark_t9_sota", BENCHMARK, "Table 9", "comparison with earlier approaches",
               ("approach",), ("ucf101_top1", "hmdb51_top1")),
    PaperTable("graphkd_t1_sota", GRAPHKD, "Table 1", "graph distillation vs earlier methods", ("method",),
               ("ucf101_acc", "hmdb51_acc", "ccv_map")),
    PaperTable("graphkd_t2_ablation", GRAPHKD, "Table 2", "graph distillation ablation", ("method",),
               ("ucf101_acc", "hmdb51_acc", "ccv_map")),
    PaperTable("lightweight_t1_cost", LIGHTWEIGHT, "Table 1", "lightweight backbones: FLOPs and CO2",
               ("backbone",), ("avg_flops", "co2_kg"), unit="FLOPs / kg"),
    PaperTable("lightweight_t1_stl10", LIGHTWEIGHT, "Table 1", "lightweight backbones: STL-10 validation accuracy",
               ("method", "backbone"), ("val_acc",), unit="fraction"),
    PaperTable("skdsrl_t1_baseline", SKDSRL, "Table 1", "SKD-SRL vs independent training",
               ("method", "backbone"), ("ucf101_top1", "hmdb51_top1", "k400_top1")),
    PaperTable("skdsrl_t2_mechanisms_ucf101_r18", SKDSRL, "Table 2", "SKD-SRL mechanisms on UCF101 (3D ResNet-18)",
               ("mechanism", "teacher"), ("ucf101_top1",)),
)}

PAPER_BACKBONES: dict[str, str] = {
    "shufflenet3d": "shufflenet_v1_2x",
    "r2plus1d_18": "r21d",
}
"""Our registry name -> the benchmark tables' backbone name."""


def paper_tables_dir() -> Path:
    """``data/paper-tables/`` of the checkout (``$SSLVID_PAPER_TABLES`` overrides; else ``shared/paper-tables``).

    Raises:
        FileNotFoundError: if no folder of paper tables is found.
    """
    candidates = [Path(os.environ["SSLVID_PAPER_TABLES"])] if os.environ.get("SSLVID_PAPER_TABLES") else []
    candidates.append(Path(__file__).resolve().parents[2] / "data" / "paper-tables")
    shared = shared_dir()
    if shared is not None:
        candidates.append(shared / "paper-tables")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"no paper tables found; looked in {', '.join(map(str, candidates))}")


def list_paper_tables() -> list[str]:
    """Names of the transcribed tables, sorted."""
    return sorted(PAPER_TABLES)


def paper_table_info(name: str) -> PaperTable:
    """The description of table ``name``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in PAPER_TABLES:
        raise ValueError(f"unknown paper table {name!r}; valid: {', '.join(list_paper_tables())}")
    return PAPER_TABLES[name]


def load_paper_table(name: str, tidy: bool = False) -> pd.DataFrame:
    """Table ``name`` as printed: its key and value columns (``tidy``: keys + ``metric``, ``value``).

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: if its CSV is missing.
    """
    info = paper_table_info(name)
    path = paper_tables_dir() / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (copy it from shared/paper-tables, see its README)")
    table = pd.read_csv(path, keep_default_na=False, na_values={v: [""] for v in info.values})
    if not tidy:
        return table
    return table.melt(id_vars=[c for c in table.columns if c not in info.values], value_vars=list(info.values),
                      var_name="metric", value_name="value")


def to_paper_names(backbones: pd.Series) -> pd.Series:
    """Our backbone names replaced by the benchmark tables' names where they have one."""
    return backbones.map(lambda name: PAPER_BACKBONES.get(name, name))
