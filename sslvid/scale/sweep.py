"""Sweeps: a grid's jobs, minus those the results store already holds, run here or on a cluster.

A job is anything with ``config_hash()`` and ``run(store)`` (:class:`Job`): today a
pre-training run (:class:`PretrainJob`); evaluation and distillation configs join by
registering a builder in ``JOB_KINDS``. ``run_sweep`` asks the store for each job's hash
(``RunStore.find``), skips the complete ones and runs the rest with one of four executors:

* ``serial``: one after the other in this process (notebooks, debugging);
* ``pool``: ``workers`` at a time in spawned worker processes; with ``gpus`` each running job
  gets its own GPU (``job.on_device("cuda:<k>")``);
* ``local``: submitit's local executor, ``workers`` at a time, each job in its own process
  (with ``gpus``: ``CUDA_VISIBLE_DEVICES`` of one GPU each). The same code path as SLURM,
  without a scheduler: what the tests run;
* ``slurm``: submitit on a SLURM cluster, one array job per sweep. A job with
  ``tasks_per_node > 1`` runs DistributedDataParallel over its tasks (the engine reads the
  rank and world size that submitit exports). Preempted or timed-out jobs are requeued and
  resume from their last checkpoint.

Results land in the store the notebooks read; a sweep run twice trains nothing the second time.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from sslvid.errors import import_optional
from sslvid.registry import Registry
from sslvid.scale.grids import Grid, resolve_point
from sslvid.store.runs import RunStore

log = logging.getLogger(__name__)

EXECUTORS = ("serial", "pool", "local", "slurm")
REPORT_COLUMNS = ("key", "status", "seconds", "job_id", "error")


@runtime_checkable
class Job(Protocol):
    """One unit of a sweep: a stable hash (its key in the store) and a way to produce it there.

    ``run`` must be idempotent (a complete result in the store is returned, not recomputed)
    and, for ``pool`` / ``local`` / ``slurm``, the job must pickle.
    """

    def config_hash(self) -> str: ...

    def run(self, store: RunStore) -> Any: ...


JOB_KINDS: Registry[Job] = Registry("job kind")
"""Kind name -> builder ``(profile, fields) -> Job`` used by ``expand_grid``."""


@dataclass(frozen=True)
class PretrainJob:
    """A pre-training run as a sweep job (``sslvid.engine.pretrain``).

    Args:
        config: the run's config.
    """

    config: Any  # PretrainConfig (imported lazily: the engine pulls in torch and the tasks)

    def config_hash(self) -> str:
        return self.config.config_hash()

    def describe(self) -> dict[str, Any]:
        """The fields a sweep table shows: kind, task, backbone, dataset, subset, epochs, batch, seed, task_kwargs."""
        c = self.config
        return {
            "kind": "pretrain",
            "task": c.task,
            "backbone": c.backbone,
            "profile": c.profile,
            "dataset": c.dataset,
            "subset_per_class": c.subset_per_class,
            "epochs": c.epochs,
            "batch_size": c.batch_size,
            "seed": c.seed,
            "task_kwargs": dict(c.task_kwargs),
        }

    def on_device(self, device: str) -> PretrainJob:
        """The same job (same hash) run on ``device``."""
        return replace(self, config=self.config.replace(device=device))

    def run(self, store: RunStore) -> dict[str, Any]:
        """Pre-train (or find) the run in ``store``; returns its key, folder, cached flag and last loss."""
        from sslvid.engine.pretrain import pretrain

        result = pretrain(self.config, store=store, progress=False)
        last = result.log.iloc[-1].to_dict() if len(result.log) else {}
        return {"key": result.key, "run_dir": str(result.run_dir), "cached": result.cached, "loss": last.get("loss")}


@JOB_KINDS.register("pretrain")
def _pretrain_job(profile: str, fields: Mapping[str, Any]) -> PretrainJob:
    from sslvid.engine.config import PretrainConfig

    fields = dict(fields)
    return PretrainJob(PretrainConfig.for_profile(profile, fields.pop("task"), fields.pop("backbone"), **fields))


def expand_grid(
    grid: Grid,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_roots: Mapping[str, str] | None = None,
) -> list[Job]:
    """The jobs of ``grid`` at ``profile`` (default: the grid's), one per distinct config hash, in grid order.

    Args:
        grid: the grid.
        profile: the scale to build the jobs at.
        overrides: fields set on every point after resolution (e.g. ``{"epochs": 2}``).
        data_roots: dataset name -> root of a real dataset.

    Raises:
        ValueError: for an unknown job kind, or a point that does not make a valid config
            (the message names the point).
    """
    profile = profile or grid.profile
    build = JOB_KINDS.get(grid.kind)
    jobs: dict[str, Job] = {}
    for point in grid.points(profile):
        fields = {**resolve_point(point, profile, data_roots), **(overrides or {})}
        try:
            job = build(profile, fields)
        except (ValueError, KeyError) as err:
            raise ValueError(f"grid {grid.name}: point {point} is not a valid {grid.kind} job: {err}") from None
        jobs.setdefault(job.config_hash(), job)
    return list(jobs.values())


# --------------------------------------------------------------------------- planning


def plan_sweep(jobs: Sequence[Job], store: RunStore) -> pd.DataFrame:
    """One row per job: key, ``cached`` (complete in ``store``) or ``todo``, and its description."""
    rows = []
    for job in jobs:
        key = job.config_hash()
        rows.append({"key": key, "status": "cached" if store.find(key) is not None else "todo", **_describe(job)})
    return pd.DataFrame(rows)


def _describe(job: Job) -> dict[str, Any]:
    describe = getattr(job, "describe", None)
    return dict(describe()) if callable(describe) else {"kind": type(job).__name__}


def execute(job: Job, store_root: str) -> Any:
    """Run ``job`` into the store at ``store_root`` (what every executor's worker calls)."""
    return job.run(RunStore(store_root))


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each SLURM job (submitit ``AutoExecutor`` parameters).

    Args:
        partition: SLURM partition (None: the cluster's default).
        gpus_per_job: GPUs of one job; the job runs that many DDP processes (one per GPU).
        nodes: nodes per job (DDP over ``nodes * gpus_per_job`` processes).
        cpus_per_task: CPU cores per process (DataLoader workers + 1).
        mem_gb: memory per node.
        timeout_min: wall-clock limit; a job that reaches it is requeued and resumes.
        array_parallelism: jobs of the array running at once.
        additional: more ``#SBATCH`` options, e.g. ``{"account": "abc", "qos": "high"}``.
    """

    partition: str | None = None
    gpus_per_job: int = 1
    nodes: int = 1
    cpus_per_task: int = 10
    mem_gb: int = 64
    timeout_min: int = 24 * 60
    array_parallelism: int = 64
    additional: Mapping[str, Any] | None = None

    def parameters(self) -> dict[str, Any]:
        """The ``AutoExecutor.update_parameters`` keywords."""
        params: dict[str, Any] = {
            "nodes": self.nodes,
            "gpus_per_node": self.gpus_per_job,
            "tasks_per_node": max(1, self.gpus_per_job),
            "cpus_per_task": self.cpus_per_task,
            "mem_gb": self.mem_gb,
            "timeout_min": self.timeout_min,
            "slurm_array_parallelism": self.array_parallelism,
        }
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.additional:
            params["slurm_additional_parameters"] = dict(self.additional)
        return params


class SweepTask:
    """What a submitit job calls: ``task(job)`` runs the job into the store, under DDP when the job has several tasks.

    On a timeout or preemption submitit calls ``checkpoint``, which requeues the same job: the
    engine resumes it from its latest checkpoint.

    Args:
        store_root: the results store.
    """

    def __init__(self, store_root: str) -> None:
        self.store_root = store_root

    def __call__(self, job: Job) -> Any:
        _export_distributed_env()
        return execute(job, self.store_root)

    def checkpoint(self, job: Job) -> Any:
        """Requeue ``job`` (submitit's checkpoint protocol)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(SweepTask(self.store_root), job)


def _export_distributed_env() -> None:
    """In a submitit job of several tasks, export RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT for the engine."""
    try:
        import submitit

        env = submitit.JobEnvironment()
    except (ImportError, RuntimeError):
        return
    if env.num_tasks > 1:
        from submitit.helpers import TorchDistributedEnvironment

        # every GPU of the node stays visible: the engine picks cuda:<local rank>
        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def run_sweep(
    jobs: Sequence[Job],
    store: RunStore | None = None,
    executor: str = "serial",
    workers: int = 1,
    gpus: Sequence[int] = (),
    folder: str | os.PathLike | None = None,
    slurm: SlurmOptions | None = None,
    wait: bool = True,
    poll_seconds: float = 1.0,
    tasks_per_job: int = 1,
) -> pd.DataFrame:
    """Run the jobs that ``store`` lacks; return one row per job (module docstring).

    Args:
        jobs: the sweep's jobs (``expand_grid``).
        store: the results store (default ``RunStore()``).
        executor: "serial", "pool", "local" or "slurm".
        workers: jobs at once for "pool" and "local" (with ``gpus``: one per GPU).
        gpus: GPU ids to spread "pool" / "local" jobs over, one job per GPU at a time.
        folder: submitit's log folder (default ``<store>/.submitit``).
        slurm: resources of each SLURM job.
        wait: for "slurm", wait for the jobs to end (else return once they are submitted).
        poll_seconds: how often "local" checks its running jobs.
        tasks_per_job: for "local", processes per job: more than one runs the job under
            DistributedDataParallel exactly as a SLURM job of that many tasks (gloo on the CPU).

    Returns:
        key, status ("cached", "done", "failed", "submitted"), seconds, job_id, error, then the
        job's description and what its ``run`` returned (``cached`` there means another
        process finished it meanwhile).

    Raises:
        ValueError: for an unknown executor.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    store = store or RunStore()
    plan = plan_sweep(jobs, store)
    todo = [job for job, status in zip(jobs, plan["status"] if len(plan) else []) if status == "todo"]
    log.info("sweep: %d jobs, %d cached, %d to run (%s)", len(jobs), len(jobs) - len(todo), len(todo), executor)
    outcomes: dict[str, dict[str, Any]] = {}
    if todo:
        root = str(store.root)
        folder = Path(folder) if folder else Path(root) / ".submitit"
        runner = {
            "serial": lambda: _run_serial(todo, root),
            "pool": lambda: _run_pool(todo, root, workers, gpus),
            "local": lambda: _run_local(todo, root, workers, gpus, folder, poll_seconds, tasks_per_job),
            "slurm": lambda: _run_slurm(todo, root, folder, slurm or SlurmOptions(), wait),
        }[executor]
        outcomes = runner()
    return _report(plan, outcomes)


def _report(plan: pd.DataFrame, outcomes: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for row in plan.to_dict("records"):
        outcome = dict(outcomes.get(row["key"], {}))
        result = outcome.pop("result", None)
        extra = {f"result_{k}": v for k, v in result.items() if k != "key"} if isinstance(result, Mapping) else {}
        fixed = {"seconds": None, "job_id": None, "error": None}
        rows.append({**row, **fixed, **{k: outcome[k] for k in ("status", *fixed) if k in outcome}, **extra})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=list(REPORT_COLUMNS))
    front = [c for c in REPORT_COLUMNS if c in table.columns]
    return table[front + [c for c in table.columns if c not in front]]


def _outcome(
    job: Job, start: float, result: Any = None, error: BaseException | str | None = None, job_id: str | None = None
) -> dict[str, Any]:
    message = None
    if error is not None:
        message = error if isinstance(error, str) else "".join(traceback.format_exception_only(type(error), error))
        log.error("sweep: job %s failed: %s", job.config_hash(), message.strip()[-2000:])
    return {
        "status": "failed" if error is not None else "done",
        "seconds": round(time.perf_counter() - start, 3),
        "job_id": job_id,
        "error": message.strip()[-2000:] if message else None,
        "result": result,
    }


def _run_serial(todo: Sequence[Job], root: str) -> dict[str, dict[str, Any]]:
    outcomes = {}
    for job in todo:
        start = time.perf_counter()
        try:
            outcomes[job.config_hash()] = _outcome(job, start, execute(job, root))
        except Exception as err:  # noqa: BLE001 - one failed job does not stop the sweep
            outcomes[job.config_hash()] = _outcome(job, start, error=err)
    return outcomes


def _slots(workers: int, gpus: Sequence[int]) -> list[int | None]:
    """One slot per concurrent job: a GPU id each, or ``workers`` slots without a GPU."""
    return list(gpus) if gpus else [None] * max(1, workers)


def _run_pool(todo: Sequence[Job], root: str, workers: int, gpus: Sequence[int]) -> dict[str, dict[str, Any]]:
    """``workers`` (or one per GPU) spawned processes; each job gets its slot's GPU via ``on_device``."""

    def submit(pool: concurrent.futures.Executor, job: Job, slot: int | None) -> concurrent.futures.Future:
        on_device = getattr(job, "on_device", None)
        if slot is not None and callable(on_device):
            job = on_device(f"cuda:{slot}")
        return pool.submit(execute, job, root)

    slots = _slots(workers, gpus)
    context = multiprocessing.get_context("spawn")  # no fork after torch has started threads
    with concurrent.futures.ProcessPoolExecutor(max_workers=len(slots), mp_context=context) as pool:
        return _throttled(todo, slots, lambda job, slot: submit(pool, job, slot), poll_seconds=0.2)


def _run_local(
    todo: Sequence[Job],
    root: str,
    workers: int,
    gpus: Sequence[int],
    folder: Path,
    poll_seconds: float,
    tasks_per_job: int = 1,
) -> dict[str, dict[str, Any]]:
    """submitit's local executor, ``workers`` jobs (or one per GPU) at a time, ``tasks_per_job`` processes each."""
    submitit = import_optional("submitit", extra="cluster", feature="sweeps on the local executor")

    executor = submitit.AutoExecutor(folder=folder, cluster="local")
    executor.update_parameters(timeout_min=7 * 24 * 60, name="sslvid-sweep", tasks_per_node=tasks_per_job)
    task = SweepTask(root)

    def submit(job: Job, slot: int | None) -> Any:
        if slot is not None:
            executor.update_parameters(gpus_per_node=1, visible_gpus=[slot])
        return executor.submit(task, job)

    return _throttled(todo, _slots(workers, gpus), submit, poll_seconds)


def _throttled(
    todo: Sequence[Job], slots: list[int | None], submit: Callable[[Job, int | None], Any], poll_seconds: float
) -> dict[str, dict[str, Any]]:
    """Keep one job per slot running; collect each handle's ``result()`` (futures and submitit jobs alike)."""
    pending, free = deque(todo), deque(range(len(slots)))
    running: dict[int, tuple[Any, Job, int, float]] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    while pending or running:
        while pending and free:
            index, job = free.popleft(), pending.popleft()
            handle = submit(job, slots[index])
            running[id(handle)] = (handle, job, index, time.perf_counter())
            log.info("sweep: started %s (%s)", job.config_hash(), getattr(handle, "job_id", "pool"))
        finished = [key for key, (handle, *_) in running.items() if handle.done()]
        if not finished:
            time.sleep(poll_seconds)
            continue
        for key in finished:
            handle, job, index, start = running.pop(key)
            free.append(index)
            job_id = getattr(handle, "job_id", None)
            try:
                outcomes[job.config_hash()] = _outcome(job, start, _result(handle), job_id=job_id)
            except Exception as err:  # noqa: BLE001 - one failed job does not stop the sweep
                outcomes[job.config_hash()] = _outcome(job, start, error=err, job_id=job_id)
    return outcomes


def _result(handle: Any) -> Any:
    """A future's or submitit job's result; rank 0's for a job of several tasks (DDP)."""
    if getattr(handle, "num_tasks", 1) > 1:
        return handle.results()[0]
    return handle.result()


def _run_slurm(
    todo: Sequence[Job], root: str, folder: Path, options: SlurmOptions, wait: bool
) -> dict[str, dict[str, Any]]:
    """One SLURM array over the jobs; wait for them, or return once submitted."""
    submitit = import_optional("submitit", extra="cluster", feature="sweeps on SLURM")

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(name="sslvid-sweep", **options.parameters())
    start = time.perf_counter()
    handles = executor.map_array(SweepTask(root), list(todo))
    log.info("sweep: submitted %d jobs to SLURM (array %s)", len(handles), handles[0].job_id if handles else "-")
    outcomes = {}
    for job, handle in zip(todo, handles):
        if not wait:
            outcomes[job.config_hash()] = {
                "status": "submitted",
                "seconds": 0.0,
                "job_id": handle.job_id,
                "error": None,
                "result": None,
            }
            continue
        try:
            outcomes[job.config_hash()] = _outcome(job, start, _result(handle), job_id=handle.job_id)
        except Exception as err:  # noqa: BLE001 - one failed job does not stop the sweep
            outcomes[job.config_hash()] = _outcome(job, start, error=err, job_id=handle.job_id)
    return outcomes
