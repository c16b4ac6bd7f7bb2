"""``python -m sslvid distill ...``: distil from teachers named by their run hashes (parser in ``sslvid.cli``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sslvid.errors import ConfigError


def teacher_refs(hashes: Sequence[str], store: Any) -> list[Any]:
    """``TeacherRef`` of each run hash in ``store``: a finetuning (``kind: eval``) or a pre-training run.

    A finetuning's pre-training run rides along when the store has it (for the tables' columns).

    Raises:
        ValueError: for a hash the store does not hold, or a run that is neither.
    """
    from sslvid.distill.config import TeacherRef
    from sslvid.engine.config import PretrainConfig
    from sslvid.evaluate.config import EvalConfig

    refs = []
    for key in hashes:
        run = store.run(key)
        if not run.exists:
            raise ValueError(f"no run {key!r} in {store.root}")
        stored = run.config()
        if stored.get("kind") == "eval":
            finetune = EvalConfig.from_dict(stored)
            source = store.run(finetune.source) if not finetune.from_scratch else None
            pre = PretrainConfig.from_dict(source.config()) if source is not None and source.exists else None
            refs.append(TeacherRef(finetune=finetune, pretrain=pre))
        elif "task" in stored and stored.get("kind", "pretrain") == "pretrain":
            refs.append(TeacherRef(pretrain=PretrainConfig.from_dict(stored)))
        else:
            raise ValueError(f"run {key!r} is neither a finetuning nor a pre-training run")
    return refs


def run(args: argparse.Namespace, overrides: Callable[[argparse.Namespace], dict]) -> None:
    """Build the ``DistillConfig`` of the parsed arguments, distil, print the run and its numbers (rank 0).

    Args:
        args: the ``distill`` subcommand's arguments (``sslvid.cli``).
        overrides: ``sslvid.cli._overrides`` (explicit flags and ``--set key=value``).

    Raises:
        SystemExit: for an invalid config or teacher hash.
    """
    from sslvid.distill import DistillConfig, distill
    from sslvid.engine.distributed import env_info
    from sslvid.store.results import ResultsStore
    from sslvid.store.runs import RunStore

    store = RunStore(args.store) if args.store else RunStore()
    try:
        teachers: list[Any] = teacher_refs(args.teacher, store)
        if args.teachers_json:
            teachers += json.loads(Path(args.teachers_json).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"teachers: {err}", hint="--teacher takes a run hash; --teachers-json a JSON list of TeacherRef dicts"
        ) from None
    values = overrides(args)
    method_kwargs = values.pop("method_kwargs", {})
    config = DistillConfig.for_profile(
        args.profile, method=args.method, student=args.student, teachers=teachers, method_kwargs=method_kwargs, **values
    )
    results = ResultsStore(args.results) if args.results else None
    result = distill(config, store=store, results=results, progress=not args.no_progress)
    if env_info().is_main:
        final = result.rows
        if final["pretrain_epochs"].notna().any():  # per-epoch rows (PCL-KD): the last epoch's
            final = final[final["pretrain_epochs"] == final["pretrain_epochs"].max()]
        numbers = dict(zip(final["metric"], final["value"]))
        print(
            json.dumps(
                {"run": result.key, "run_dir": str(result.run_dir), "cached": result.cached, **numbers}, default=str
            )
        )
