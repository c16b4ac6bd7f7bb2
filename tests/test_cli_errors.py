"""Bad input through the command line: each case exits with status 2 and one clear first line
(``error: ...``), a hint where there is a fix, and no traceback; ``--debug`` shows the traceback.

Every case runs ``sslvid.cli.main`` in this process (a subprocess per case would cost a second
of imports each). The table is the regression list of what a user can get wrong.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import engine_helpers
import pytest
import torch

from sslvid.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

PRETRAIN = [
    "pretrain",
    "--task",
    "rotnet",
    "--backbone",
    "squeezenet3d",
    "--profile",
    "smoke",
    "--no-progress",
    "--device",
    "cpu",
    "--workers",
    "0",
    "--threads",
    "1",
]
NOISE = ["evaluate", "--protocol", "noise", "--backbone", "squeezenet3d", "--profile", "smoke", "--no-progress"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> dict[str, Path]:
    """A data_root with a readable ``folder`` dataset, one whose videos are all damaged, and an empty one."""
    root = tmp_path_factory.mktemp("cli-data")
    engine_helpers.write_tiny_videos(root / "good" / "folder", classes=2, per_class=2, frames=10, size=32)
    shutil.copytree(root / "good" / "folder" / "train", root / "good" / "folder" / "test")
    for cls in ("a", "b"):
        damaged = root / "damaged" / "folder" / "train" / cls
        damaged.mkdir(parents=True)
        (damaged / "v0.mp4").write_bytes(b"not a video" * 50)
    (root / "empty").mkdir()
    return {"good": root / "good", "damaged": root / "damaged", "empty": root / "empty", "store": root / "runs"}


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Exit status, the first line of stderr and all of stderr."""
    status = main(args)
    err = capsys.readouterr().err
    return status, (err.splitlines() or [""])[0], err


CASES = {
    # what the user got wrong: (arguments after the command, start of the first line, text in the hint)
    "unknown profile with --set": (
        PRETRAIN[:5] + ["--profile", "nope", "--set", "lr=0.1"],
        "error: invalid PretrainConfig (1 problem):",
        "--help",
    ),
    "seed not an integer": (PRETRAIN + ["--set", "seed=1.5"], "error: invalid PretrainConfig (1 problem):", ""),
    "seed a word": (PRETRAIN + ["--set", "seed=abc"], "error: invalid PretrainConfig (1 problem):", ""),
    "seed a boolean": (PRETRAIN + ["--set", "seed=true"], "error: invalid PretrainConfig (1 problem):", ""),
    "infinite lr": (PRETRAIN + ["--set", "lr=inf"], "error: invalid PretrainConfig (1 problem):", ""),
    "bad task argument value": (
        PRETRAIN + ["--set", "task_kwargs.num_rotations=7"],
        "error: invalid PretrainConfig (1 problem):",
        "",
    ),
    "bad task argument type": (
        PRETRAIN + ["--set", "task_kwargs.stride=abc"],
        "error: invalid PretrainConfig (1 problem):",
        "",
    ),
    "unknown task argument": (
        PRETRAIN + ["--set", "task_kwargs.bogus=1"],
        "error: invalid PretrainConfig (1 problem):",
        "",
    ),
    "unknown field": (
        PRETRAIN + ["--set", "learning_rate=0.1"],
        "error: unknown PretrainConfig fields: learning_rate",
        "",
    ),
    "--set without a value": (PRETRAIN + ["--set", "lr"], "error: --set expects key=value, got 'lr'", "--set lr="),
    "real layout without data_root": (
        PRETRAIN + ["--dataset", "ucf101"],
        "error: dataset 'ucf101' needs data_root",
        "one sub-folder per dataset",
    ),
    "missing data_root": (
        PRETRAIN + ["--dataset", "ucf101", "--data-root", "/no/such/folder"],
        "error: ucf101: data_root /no/such/folder is not a folder",
        "ln -s",
    ),
    "dataset not under data_root": (
        PRETRAIN + ["--dataset", "ucf101", "--data-root", "{empty}"],
        "error: ucf101: not found under data_root {empty}: expected the folder {empty}/ucf101/",
        "one sub-folder per dataset",
    ),
    "every video damaged": (
        PRETRAIN + ["--dataset", "folder", "--data-root", "{damaged}", "--store", "{store}"],
        "error: 2 of 2 videos (100.0%) of folder/train could not be decoded",
        "--set max_failure_fraction=1",
    ),
    "batch larger than the data": (
        PRETRAIN + ["--dataset", "folder", "--data-root", "{good}", "--store", "{store}", "--batch-size", "1000"],
        "error: 4 items per process are fewer than one batch of 1000",
        "at most 4",
    ),
    "severities not integers": (
        NOISE + ["--severities", "1,x"],
        "error: --severities expects comma-separated integers, got '1,x'",
        "1,2,3,4,5",
    ),
    "severity out of range": (
        NOISE + ["--severities", "9", "--device", "cpu"],
        "error: noise condition gaussian/9: severity must be an int in 1..5, got 9",
        "integers 1-5",
    ),
}
if not torch.cuda.is_available():
    CASES["CUDA on a CPU machine"] = (
        PRETRAIN[:-6] + ["--device", "cuda"],
        "error: device 'cuda' asked for, but CUDA is not available",
        "--device cpu",
    )


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_clear_line(case, folders, capsys):
    args, first, hint = (_fill(x, folders) for x in CASES[case])
    status, line, err = run_cli(args, capsys)
    assert status == 2, err
    assert line.startswith(first), err
    assert "Traceback" not in err
    if hint:
        assert "hint: " in err and hint in err.split("hint: ", 1)[1], err


def test_validation_names_the_field_and_the_value(folders, capsys):
    for setting, message in (
        ("seed=1.5", "seed must be an integer, got 1.5"),
        ("seed=abc", "seed must be an integer, got 'abc'"),
        ("seed=true", "seed must be an integer, got True"),
        ("lr=inf", "lr must be a finite number, got inf"),
        ("task_kwargs.stride=abc", "task_kwargs.stride must be an integer, got 'abc'"),
        ("task_kwargs.num_rotations=7", "num_rotations must be 2, 3 or 4, got 7"),
    ):
        _, _, err = run_cli(PRETRAIN + ["--set", setting], capsys)
        assert message in err, (setting, err)
    _, _, err = run_cli(PRETRAIN[:5] + ["--profile", "nope", "--set", "lr=0.1"], capsys)
    assert "unknown profile 'nope'; valid: micro, paper, smoke" in err and "got None" not in err


def test_debug_shows_the_traceback(folders):
    with pytest.raises(Exception, match="needs data_root"):
        main(["--debug"] + PRETRAIN + ["--dataset", "ucf101"])


def _fill(value, folders: dict[str, Path]):
    """``{name}`` placeholders of a case replaced by the module's folders."""
    if isinstance(value, list):
        return [_fill(v, folders) for v in value]
    return value.format(**{k: str(v) for k, v in folders.items()})


def test_unreadable_test_videos_are_counted_in_every_result_row(folders, tmp_path):
    """A damaged test video is skipped (within the tolerance) and its count lands in the rows."""
    from sslvid.evaluate import EvalConfig, FeatureCache, linear_probe
    from sslvid.store.results import ResultsStore
    from sslvid.store.runs import RunStore

    root = tmp_path / "data"
    shutil.copytree(folders["good"], root)
    (root / "folder" / "test" / "class0" / "v9.mp4").write_bytes(b"not a video" * 50)
    config = EvalConfig.for_profile(
        "smoke",
        backbone="squeezenet3d",
        protocol="linear",
        dataset="folder",
        data_root=str(root),
        device="cpu",
        threads=1,
        num_workers=0,
        max_failure_fraction=0.5,
    )
    results = ResultsStore(tmp_path / "results.csv")
    rows = linear_probe(
        config,
        store=RunStore(tmp_path / "runs"),
        results=results,
        features=FeatureCache(tmp_path / "features"),
        progress=False,
    )
    assert len(rows) and (rows["unreadable_videos"] == 1).all()
    assert (results.table()["unreadable_videos"] == 1).all(), "stored, typed as a count"


def test_a_damaged_results_table_is_one_line_that_names_the_file(folders, tmp_path, capsys):
    table = tmp_path / "results.csv"
    table.write_text("key;config_hash;task\nx;y;z\n")
    status, line, err = run_cli(
        NOISE
        + [
            "--severities",
            "1",
            "--device",
            "cpu",
            "--results",
            str(table),
            "--data-root",
            str(folders["good"]),
            "--dataset",
            "folder",
        ],
        capsys,
    )
    assert status == 2 and line.startswith(f"error: {table} is damaged"), err
    assert "hint: " in err and "Traceback" not in err
