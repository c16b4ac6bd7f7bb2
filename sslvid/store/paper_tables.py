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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sslvid.paths import shared_dir

# The papers, by their keys in the book's bibliography (book/references.bib).
BENCHMARK = "benchmark2023"
LIGHTWEIGHT = "sonawane2021lightweight"
GRAPHKD = "zhang2018graph"
SKDSRL = "vu2022skdsrl"
PAPER_NAMES = {BENCHMARK: "benchmark", LIGHTWEIGHT: "lightweight", GRAPHKD: "graph KD", SKDSRL: "SKD-SRL"}
"""A paper's key -> its short name in the book's text."""


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
        chapter: the chapter module (``sslvid.experiments.<chapter>``) whose ``paper_comparisons``
            reproduces it.
        axis: the key column whose values are compared pairwise, the other keys held fixed.
        comparison: what that comparison means, in a line.
        scale: what its cells stand for at this project's scales; ``{appearance}``, ``{motion}``,
            ``{protocol}``, ``{epochs}``, ``{clip}`` and ``{clip_hw}`` are filled from the study.
    """

    name: str
    source: str
    table: str
    caption: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    unit: str = "percent"
    chapter: str = ""
    axis: str = ""
    comparison: str = ""
    scale: str = ""

    @property
    def paper(self) -> str:
        """The paper's short name (``PAPER_NAMES``)."""
        return PAPER_NAMES.get(self.source, self.source)

    @property
    def title(self) -> str:
        """``<paper> Table <n>``, e.g. "benchmark Table 1"."""
        return f"{self.paper} {self.table}"


PAPER_TABLES: dict[str, PaperTable] = {
    t.name: t
    for t in (
        PaperTable(
            "benchmark_t1_pretext_k400_50k",
            BENCHMARK,
            "Table 1",
            "pretext tasks pre-trained on K400-50k, finetuned on UCF101",
            ("backbone", "pretext"),
            ("ucf101_top1",),
            chapter="preliminaries",
            axis="backbone",
            comparison="R(2+1)D against ShuffleNet, per pretext task",
            scale="pre-training on the '50k' subset; UCF101 finetuning -> {appearance} {protocol}",
        ),
        PaperTable(
            "benchmark_t2_subset_size_r21d",
            BENCHMARK,
            "Table 2",
            "R21D: pre-training subset size vs UCF101 finetune accuracy",
            ("subset", "pretext"),
            ("ucf101_top1",),
            chapter="subset_size",
            axis="subset",
            comparison="subset sizes against each other, per pretext task",
            scale="subsets 10k/30k/50k are videos per class of the digit pool, not Kinetics videos; UCF101 "
            "finetuning -> {appearance} {protocol}",
        ),
        PaperTable(
            "benchmark_t3_rspnet_subset_epochs",
            BENCHMARK,
            "Table 3",
            "RSPNet: subset size x pre-training epochs",
            ("epochs", "subset", "backbone"),
            ("ucf101_top1",),
            chapter="subset_size",
            axis="subset",
            comparison="subset sizes against each other, per backbone and epochs",
            scale="the paper's epochs 50/100/150/200 (of 200) stand for the same fractions of this profile's "
            "{epochs} epochs; UCF101 finetuning -> {appearance} {protocol}",
        ),
        PaperTable(
            "benchmark_t4_epochs_r21d_50k",
            BENCHMARK,
            "Table 4",
            "R21D on K400-50k: pre-training epochs per pretext task",
            ("epochs", "pretext"),
            ("ucf101_top1",),
            chapter="subset_size",
            axis="epochs",
            comparison="pre-training lengths against each other, per pretext task",
            scale="the paper's epochs 50/100/150/200 (of 200) stand for the same fractions of each task's run at "
            "this profile; UCF101 finetuning -> {appearance} {protocol}",
        ),
        PaperTable(
            "benchmark_t5_task_complexity",
            BENCHMARK,
            "Table 5",
            "task complexity C1-C3 (reconstructed, see README)",
            ("complexity", "pretext", "backbone"),
            ("ucf101_top1",),
            chapter="task_complexity",
            axis="complexity",
            comparison="complexities against each other, per task and backbone",
            scale="same complexities (rotations, clips, rates) on {clip} clips; the paper's table is "
            "reconstructed from a garbled extraction",
        ),
        PaperTable(
            "benchmark_t6_ood_r21d_30k",
            BENCHMARK,
            "Table 6",
            "out of distribution: K400 vs SSv2 pre-training, UCF101 / Diving48 targets",
            ("target", "pretrain", "pretext"),
            ("top1",),
            chapter="out_of_distribution",
            axis="pretrain",
            comparison="K400 against SSv2 pre-training, per task and target",
            scale="K400/SSv2 -> the appearance/motion digit pools; UCF101/Diving48 -> {appearance}/{motion} {protocol}",
        ),
        PaperTable(
            "benchmark_t7_noise_ucf101",
            BENCHMARK,
            "Table 7",
            "noise robustness on UCF101, mean of 4 noises at severity 1",
            ("backbone", "pretext"),
            ("noisy_top1", "relative_drop_pct"),
            chapter="noise_robustness",
            axis="backbone",
            comparison="R(2+1)D against ShuffleNet, per pretext task",
            scale="the same four noises at severity 1, on {clip} digit clips ({appearance} {protocol}) instead "
            "of UCF101 at 112x112",
        ),
        PaperTable(
            "benchmark_t8_kd_subsets_rspnet",
            BENCHMARK,
            "Table 8",
            "knowledge distillation from RSPNet teachers per subset",
            ("model", "subset"),
            ("ucf101_top1", "hmdb51_top1"),
            chapter="distillation",
            axis="model",
            comparison="student against teachers, per subset",
            scale="finetuned RSPNet teachers and a distilled ShuffleNet student; UCF101/HMDB51 -> "
            "{appearance}/{motion}",
        ),
        PaperTable(
            "benchmark_t9_sota",
            BENCHMARK,
            "Table 9",
            "comparison with earlier approaches",
            ("approach",),
            ("ucf101_top1", "hmdb51_top1"),
            chapter="downstream",
            axis="approach",
            comparison="approaches against each other",
            scale="published methods are not re-run; only the paper's own row (KD student) has a counterpart here",
        ),
        PaperTable(
            "graphkd_t1_sota",
            GRAPHKD,
            "Table 1",
            "graph distillation vs earlier methods",
            ("method",),
            ("ucf101_acc", "hmdb51_acc", "ccv_map"),
            chapter="distillation",
            axis="method",
            comparison="methods against each other",
            scale="AlexNet on UCF101/HMDB51/CCV in the paper; earlier methods are not re-run here",
        ),
        PaperTable(
            "graphkd_t2_ablation",
            GRAPHKD,
            "Table 2",
            "graph distillation ablation",
            ("method",),
            ("ucf101_acc", "hmdb51_acc", "ccv_map"),
            chapter="distillation",
            axis="method",
            comparison="distillation variants against each other",
            scale="the distillation variants with this book's video teachers and student, on "
            "{appearance}/{motion}; CCV has no counterpart",
        ),
        PaperTable(
            "lightweight_t1_cost",
            LIGHTWEIGHT,
            "Table 1",
            "lightweight backbones: FLOPs and CO2",
            ("backbone",),
            ("avg_flops", "co2_kg"),
            unit="FLOPs / kg",
            chapter="lightweight",
            axis="backbone",
            comparison="backbones against each other",
            scale="the paper's average FLOPs and CO2 of its GPU runs vs chapter 9's count and CO2 estimate (its "
            "assumptions)",
        ),
        PaperTable(
            "lightweight_t1_stl10",
            LIGHTWEIGHT,
            "Table 1",
            "lightweight backbones: STL-10 validation accuracy",
            ("method", "backbone"),
            ("val_acc",),
            unit="fraction",
            chapter="lightweight",
            axis="method",
            comparison="methods against each other, per backbone",
            scale="STL-10 (96x96 images, 0-1 scale) -> single {clip_hw} digit frames, {protocol} on {appearance}",
        ),
        PaperTable(
            "skdsrl_t1_baseline",
            SKDSRL,
            "Table 1",
            "SKD-SRL vs independent training",
            ("method", "backbone"),
            ("ucf101_top1", "hmdb51_top1", "k400_top1"),
            chapter="distillation",
            axis="method",
            comparison="SKD-SRL against independent training, per backbone",
            scale="3D ResNets trained on UCF101/HMDB51/K400 -> this book's backbones on {appearance}/{motion}",
        ),
        PaperTable(
            "skdsrl_t2_mechanisms_ucf101_r18",
            SKDSRL,
            "Table 2",
            "SKD-SRL mechanisms on UCF101 (3D ResNet-18)",
            ("mechanism", "teacher"),
            ("ucf101_top1",),
            chapter="distillation",
            axis="mechanism",
            comparison="training mechanisms against each other",
            scale="mechanisms of 3D ResNet-18 on UCF101 -> this book's student on {appearance}",
        ),
    )
}

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
    return table.melt(
        id_vars=[c for c in table.columns if c not in info.values],
        value_vars=list(info.values),
        var_name="metric",
        value_name="value",
    )


def paper_table_as(
    name: str, columns: Mapping[str, str], names: Mapping[str, Mapping[str, str]] | None = None
) -> pd.DataFrame:
    """Table ``name`` in a chapter's terms: only ``columns`` (the paper's name -> ours), in that order, and in each
    column of ``names`` (ours), the paper's values replaced by ours (values it does not list are kept)."""
    table = load_paper_table(name)[list(columns)].rename(columns=dict(columns))
    for column, mapping in (names or {}).items():
        table[column] = table[column].map(lambda v, m=mapping: m.get(v, v))
    return table


OUR_BACKBONES: dict[str, str] = {paper: ours for ours, paper in PAPER_BACKBONES.items()}
"""The benchmark tables' backbone names -> ours (``PAPER_BACKBONES`` reversed)."""


def to_paper_names(backbones: pd.Series) -> pd.Series:
    """Our backbone names replaced by the benchmark tables' names where they have one."""
    return backbones.map(lambda name: PAPER_BACKBONES.get(name, name))


def from_paper_names(backbones: pd.Series) -> pd.Series:
    """The benchmark tables' backbone names replaced by ours (``to_paper_names`` undone)."""
    return backbones.map(lambda name: OUR_BACKBONES.get(name, name))
