"""Scaling out: the paper-scale grids of the chapters, sweeps over them (process pool, submitit
local or SLURM) into the results store, GPU-hour estimates and the data-path measurement.
See ``book/paper_scale.md``."""

from sslvid.scale.datapath_speed import DataPathResult, measure_data_path
from sslvid.scale.estimate import CHAPTERS, Throughput, Workload, estimate_chapters, measure_passes, run_costs
from sslvid.scale.grids import PAPER_GRIDS, Block, Grid, dump_grid, load_grid, resolve_point
from sslvid.scale.sweep import JOB_KINDS, Job, PretrainJob, SlurmOptions, expand_grid, plan_sweep, run_sweep
from sslvid.scale.synthetic import RandomFrames, build_synthetic_cache

__all__ = [
    "CHAPTERS",
    "JOB_KINDS",
    "PAPER_GRIDS",
    "Block",
    "DataPathResult",
    "Grid",
    "Job",
    "PretrainJob",
    "RandomFrames",
    "SlurmOptions",
    "Throughput",
    "Workload",
    "build_synthetic_cache",
    "dump_grid",
    "estimate_chapters",
    "expand_grid",
    "load_grid",
    "measure_data_path",
    "measure_passes",
    "plan_sweep",
    "resolve_point",
    "run_costs",
    "run_sweep",
]
