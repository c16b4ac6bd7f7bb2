"""The ``sweep`` and ``estimate`` commands of ``python -m sslvid`` (added by ``sslvid.cli``).

    python -m sslvid sweep --grid preliminaries --profile micro --executor pool --workers 2
    python -m sslvid sweep --grid grid.yaml --executor slurm --partition gpu --gpus-per-job 4 \\
        --data-root /datasets          # /datasets/kinetics400/, /datasets/ssv2/, ... (one meaning everywhere)
    python -m sslvid sweep --grid ood --dry-run           # the jobs, and which are cached
    python -m sslvid estimate --tflops 50 --clips-per-s 1000 --markdown
    python -m sslvid estimate --runs --markdown           # one run per task and backbone
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from sslvid.errors import ConfigError


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    """``key=value`` strings -> dict (values parsed as YAML: numbers, booleans, lists).

    Raises:
        SystemExit: for an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} expects key=value, got {item!r}")
        out[key] = yaml.safe_load(text) if text else ""
    return out


def _data_roots(items: list[str]) -> dict[str, str]:
    """``--data-root`` values as dataset -> data_root: a plain PATH serves every real dataset."""
    from sslvid.data.layouts import list_datasets

    roots = {name: item for item in items if "=" not in item for name in list_datasets()}
    return roots | {k: str(v) for k, v in _pairs([i for i in items if "=" in i], "--data-root").items()}


def _sweep(args: argparse.Namespace) -> None:
    from sslvid.scale.grids import PAPER_GRIDS, dump_grid, load_grid
    from sslvid.scale.sweep import SlurmOptions, expand_grid, plan_sweep, run_sweep
    from sslvid.store import RunStore

    if args.list_grids:
        for name, grid in PAPER_GRIDS.items():
            print(f"{name:16s} {grid.title}")
        return
    if not args.grid:
        raise SystemExit("sweep needs --grid NAME_OR_YAML (or --list-grids)")
    try:
        grid = load_grid(args.grid)
        if args.show_grid:
            print(dump_grid(grid), end="")
            return
        jobs = expand_grid(
            grid, args.profile, overrides=_pairs(args.set, "--set"), data_roots=_data_roots(args.data_root)
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None
    store = RunStore(args.store) if args.store else RunStore()
    if args.dry_run:
        print(plan_sweep(jobs, store).to_string(index=False))
        return
    slurm = SlurmOptions(
        partition=args.partition,
        gpus_per_job=args.gpus_per_job,
        nodes=args.nodes,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        timeout_min=args.timeout_min,
        array_parallelism=args.array_parallelism,
        additional=_pairs(args.slurm, "--slurm") or None,
    )
    report = run_sweep(
        jobs,
        store,
        executor=args.executor,
        workers=args.workers,
        gpus=args.gpus,
        folder=args.folder,
        slurm=slurm,
        wait=args.wait or args.executor != "slurm",
    )
    columns = [
        c
        for c in (
            "key",
            "status",
            "task",
            "backbone",
            "dataset",
            "subset_per_class",
            "task_kwargs",
            "seconds",
            "job_id",
            "error",
        )
        if c in report.columns
    ]
    print(report[columns].to_string(index=False))
    counts = report["status"].value_counts().to_dict()
    print(json.dumps({"jobs": len(report), **counts}))
    if counts.get("failed"):
        raise SystemExit(1)


def _estimate(args: argparse.Namespace) -> None:
    from sslvid.scale.estimate import Throughput, estimate_chapters, run_costs
    from sslvid.scale.grids import SIX_TASKS

    throughput = Throughput(args.tflops, args.clips_per_s)
    if args.runs:
        table = run_costs(SIX_TASKS, args.backbones, throughput=throughput)
        digits = ".1f"
    else:
        table, digits = estimate_chapters(throughput=throughput), ".0f"
    if args.markdown:
        print(table.to_markdown(index=False, floatfmt=digits))
    else:
        print(table.to_string(index=False, float_format=f"%{digits}"))


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``estimate`` to the ``python -m sslvid`` parser."""
    sub = commands.add_parser(
        "sweep",
        help="run a grid's missing jobs (pool, submitit local, SLURM)",
        description="Expand a grid (a built-in chapter name or a YAML file) into jobs, skip "
        "those complete in the results store, run the rest.",
    )
    sub.add_argument("--grid", help="built-in grid name (--list-grids) or a YAML file")
    sub.add_argument("--list-grids", action="store_true", help="list the built-in grids")
    sub.add_argument("--show-grid", action="store_true", help="print the grid as YAML and stop")
    sub.add_argument("--profile", default=None, help="smoke, micro or paper (default: the grid's)")
    sub.add_argument("--executor", default="serial", choices=("serial", "pool", "local", "slurm"))
    sub.add_argument("--workers", type=int, default=1, help="jobs at once (pool, local)")
    sub.add_argument("--gpus", type=int, nargs="*", default=[], help="GPU ids, one job per GPU (pool, local)")
    sub.add_argument("--store", default=None, help="results store root (default: <data dir>/runs)")
    sub.add_argument("--folder", default=None, help="submitit log folder (default: <store>/.submitit)")
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config field on every job, e.g. epochs=2 or num_workers=8 (repeatable)",
    )
    sub.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="PATH",
        help="the folder with one sub-folder per dataset (kinetics400/, ssv2/, ...); "
        "DATASET=PATH sets it for one dataset only (repeatable)",
    )
    sub.add_argument("--dry-run", action="store_true", help="list the jobs and whether each is cached")
    slurm = sub.add_argument_group("slurm")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--gpus-per-job", type=int, default=1, help="GPUs (= DDP processes) per job and node")
    slurm.add_argument("--nodes", type=int, default=1, help="nodes per job")
    slurm.add_argument("--cpus-per-task", type=int, default=10)
    slurm.add_argument("--mem-gb", type=int, default=64)
    slurm.add_argument("--timeout-min", type=int, default=24 * 60, help="per job; timed-out jobs requeue and resume")
    slurm.add_argument("--array-parallelism", type=int, default=64)
    slurm.add_argument(
        "--slurm",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra #SBATCH options, e.g. account=abc (repeatable)",
    )
    slurm.add_argument("--wait", action="store_true", help="wait for the SLURM jobs to end")
    sub.set_defaults(func=_sweep)

    est = commands.add_parser(
        "estimate",
        help="GPU-hours of the paper-scale chapters",
        description="GPU-hours per chapter from the backbones' MACs, the grids and an assumed "
        "throughput (sslvid.scale.estimate).",
    )
    est.add_argument("--tflops", type=float, default=50.0, help="sustained TFLOP/s per GPU")
    est.add_argument("--clips-per-s", type=float, default=1000.0, help="data-path ceiling, clips/s per GPU")
    est.add_argument(
        "--runs", action="store_true", help="GPU-hours of one K400-50k, 200-epoch run per task and backbone instead"
    )
    est.add_argument(
        "--backbones", nargs="*", default=["shufflenet3d", "r2plus1d_18", "swin3d_t"], help="backbones of --runs"
    )
    est.add_argument("--markdown", action="store_true", help="print a markdown table")
    est.set_defaults(func=_estimate)
