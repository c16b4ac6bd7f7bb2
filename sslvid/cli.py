"""The command line: ``python -m sslvid <command> ...`` over the same functions the notebooks call.

A mistake in the input, the data or the environment (a ``sslvid.errors.UserError``) prints
``error: <what is wrong>`` and ``hint: <how to fix it>`` and exits with status 2; ``--debug``
shows the traceback instead. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sslvid.errors import ConfigError, UserError


def _book_execute(args: argparse.Namespace) -> None:
    from sslvid.book import execute_chapter

    seconds = execute_chapter(args.src, args.dst, profile=args.profile, data_root=args.data_root)
    print(f"{args.src}: {seconds:.1f} s ({args.profile})")


def _book_prepare(args: argparse.Namespace) -> None:
    from sslvid.book import prepare_chapter

    prepare_chapter(args.src, args.dst, profile=args.profile, data_root=args.data_root)


def _book_cards(args: argparse.Namespace) -> None:
    from sslvid.book import write_method_cards

    print(f"method cards: {write_method_cards(args.dst)}")


def _book_install_cell(args: argparse.Namespace) -> None:
    from sslvid.book import book_repository, set_install_cell

    repo = book_repository(args.config)
    for notebook in args.notebooks:
        changed = set_install_cell(notebook, repo["url"], repo["branch"])
        print(f"{notebook}: {'install cell written' if changed else 'up to date'}")


def _book_check(args: argparse.Namespace) -> None:
    from sslvid.bookcheck import SKIPPED_NOTICE, check_book, check_structure, find_chromium

    if find_chromium() is None:
        # the pages' structure needs no browser: figures numbered, code folded, in-page links
        reports = check_structure(args.html, args.toc) if Path(args.html).is_dir() else []
        for r in reports:
            print(_structure_line(r))
        print(SKIPPED_NOTICE, file=sys.stderr)
        problems = [p for r in reports for p in r.problems]
        if problems:
            raise SystemExit("book check failed:\n" + "\n".join(problems))
        return
    reports = check_book(args.html, args.toc, screenshots=args.screenshots)
    problems = [p for r in reports for p in r.problems]
    for r in reports:
        if r.kind == "chapter":
            print(
                f"{r.page}: {r.images} figures, {len(r.broken_images)} broken, {len(r.errors)} error outputs, "
                f"cross-reference {r.xref or 'none'} {'ok' if r.xref_ok else 'BROKEN'}; {_structure_line(r)}"
            )
        else:
            print(f"{r.page}: {r.entries} entries in the {r.kind}")
    print(f"book check: screenshots of every page in {args.screenshots}")
    if problems:
        raise SystemExit("book check failed:\n" + "\n".join(problems))


def _structure_line(report: Any) -> str:
    """One line on how a chapter page reads (``sslvid.bookcheck.PageStructure``)."""
    s = report.structure
    if s is None:
        return f"{report.page}: structure not read"
    numbered = sum(1 for n in s.figures.values() if n)
    return (
        f"{report.page}: {numbered}/{len(s.figures)} figures numbered, {s.code_cells - s.unfolded_code}/"
        f"{s.code_cells} code cells folded, {len(s.broken_anchors)} broken in-page links, {s.raw_tables} raw tables"
    )


def _data_generate(args: argparse.Namespace) -> None:
    from sslvid.data.default import generate_default_data
    from sslvid.paths import default_data_dir
    from sslvid.profiles import get_profile

    profile = get_profile(args.profile)
    root = args.root or default_data_dir(profile.name)
    manifest = generate_default_data(root, seed=args.seed, scale=profile.data_scale, workers=args.workers)
    print(json.dumps({"root": str(root), "sets": manifest.get("sets", manifest)}, indent=2, default=str))


def _parse_value(text: str) -> object:
    """A ``--set`` value: JSON (``0.01``, ``true``, ``[40, 40]``, ``null``), a Python literal, else the string."""
    import ast

    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text


def _overrides(args: argparse.Namespace) -> dict:
    """Config overrides from the explicit flags and ``--set key=value`` (``task_kwargs.name=value`` too)."""
    flags = {
        "dataset": args.dataset,
        "data_root": args.data_root,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "device": args.device,
        "num_workers": args.workers,
        "threads": args.threads,
    }
    overrides: dict = {k: v for k, v in flags.items() if v is not None}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}", hint="e.g. --set lr=0.01")
        field, _, sub = key.partition(".")
        if sub:
            overrides.setdefault(field, {})[sub] = _parse_value(text)
        else:
            overrides[field] = _parse_value(text)
    return overrides


def _pretrain(args: argparse.Namespace) -> None:
    from sslvid.engine import PretrainConfig, pretrain
    from sslvid.engine.distributed import env_info
    from sslvid.store import RunStore

    config = PretrainConfig.for_profile(args.profile, task=args.task, backbone=args.backbone, **_overrides(args))
    result = pretrain(config, store=RunStore(args.store) if args.store else None, progress=not args.no_progress)
    if env_info().is_main:
        last = result.log.iloc[-1].to_dict() if len(result.log) else {}
        print(
            json.dumps(
                {
                    "run": result.key,
                    "run_dir": str(result.run_dir),
                    "cached": result.cached,
                    "epochs": last.get("epoch"),
                    "loss": last.get("loss"),
                    "acc": last.get("acc"),
                },
                default=str,
            )
        )


def _add_run_options(sub: argparse.ArgumentParser) -> None:
    """The options every training command (pretrain, evaluate, distill) shares: data and numbers."""
    sub.add_argument(
        "--data-root", default=None, help="the folder with one sub-folder per dataset (ucf101/, kinetics400/, ...)"
    )
    sub.add_argument("--epochs", type=int, default=None)
    sub.add_argument("--batch-size", type=int, default=None, help="global batch size (over all processes)")
    sub.add_argument("--seed", type=int, default=None)
    sub.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    sub.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    sub.add_argument("--threads", type=int, default=None, help="CPU threads (default: half the cores; 0: torch's)")


def _add_pretrain(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "pretrain",
        help="pre-train a pretext task on a backbone (cached by config hash)",
        description="Pre-train (or find in the results store) one config; prints its hash "
        "and run folder. Works under torchrun (--batch-size is global).",
    )
    sub.add_argument("--task", required=True, help="pretext task, e.g. rotnet")
    sub.add_argument("--backbone", required=True, help="backbone, e.g. r2plus1d_18")
    sub.add_argument("--profile", default="micro", help="smoke, micro or paper (fills the numbers)")
    sub.add_argument("--dataset", default=None, help="default set or layout (default: digits-appearance-pool)")
    _add_run_options(sub)
    sub.add_argument("--store", default=None, help="results store root (default: <data dir>/runs)")
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config field, e.g. lr=0.01 or task_kwargs.num_rotations=3 (repeatable)",
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.set_defaults(func=_pretrain)


def _distill(args: argparse.Namespace) -> None:
    from sslvid.distill.cli import run

    run(args, _overrides)


def _add_distill(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "distill",
        help="distil teachers into a student (cached by config hash)",
        description="Distil (or find in the run store) one config; teachers are run hashes "
        "of finetunings (pre-training runs for pcl_kd). Prints the run and its "
        "test numbers. Works under torchrun (--batch-size is global).",
    )
    sub.add_argument("--method", required=True, help="distiller, e.g. aekd, kd, graph, skd_srl, pcl_kd")
    sub.add_argument("--student", default=None, help="student backbone, e.g. shufflenet3d (none: fusion, ensemble)")
    sub.add_argument(
        "--teacher",
        action="append",
        default=[],
        metavar="RUN_HASH",
        help="a teacher's finetuning (or pre-training) run hash (repeatable)",
    )
    sub.add_argument("--teachers-json", default=None, help="a JSON list of TeacherRef dicts, after --teacher")
    sub.add_argument("--profile", default="micro", help="smoke, micro or paper (fills the numbers)")
    sub.add_argument("--dataset", default=None, help="training set (default: the profile's labelled set)")
    _add_run_options(sub)
    sub.add_argument("--store", default=None, help="run store root (default: <data dir>/runs)")
    sub.add_argument("--results", default=None, help="results table CSV (default: <data dir>/results/results.csv)")
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config field, e.g. lr=0.01 or method_kwargs.temperature=4 (repeatable)",
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.set_defaults(func=_distill)


def _evaluate(args: argparse.Namespace) -> None:
    from sslvid.engine import PretrainConfig
    from sslvid.engine.distributed import env_info
    from sslvid.evaluate import EvalConfig, evaluate, evaluate_folds, noise_robustness
    from sslvid.evaluate.config import source_of
    from sslvid.store.results import ResultsStore
    from sslvid.store.runs import RunStore

    store = RunStore(args.store) if args.store else RunStore()
    overrides = _overrides(args)
    if args.source_epoch is not None:
        overrides["source_epoch"] = args.source_epoch
    if args.fold is not None:
        overrides["fold"] = args.fold
    if args.checkpoint is not None:
        if args.source != "scratch" or args.pretext:
            raise ConfigError(
                "--checkpoint names the weights to evaluate; it cannot go with --source or --pretext",
                hint="drop --source/--pretext, or drop --checkpoint",
            )
        overrides["checkpoint"] = args.checkpoint
    protocol = "finetune" if args.protocol == "noise" else args.protocol
    source = source_of(args.source, store)
    if args.pretext:
        source = PretrainConfig.for_profile(args.profile, task=args.pretext, backbone=args.backbone)
    config = EvalConfig.for_profile(args.profile, source=source, backbone=args.backbone, protocol=protocol, **overrides)
    results = ResultsStore(args.results) if args.results else None
    kwargs: dict[str, Any] = {"store": store, "results": results, "progress": not args.no_progress}
    if args.protocol == "noise":
        severities = _severities(args.severities)
        rows = noise_robustness(config, corruptions=tuple(args.corruptions.split(",")), severities=severities, **kwargs)
    else:
        rows = (evaluate_folds if args.all_folds else evaluate)(config, **kwargs)
    if env_info().is_main:
        columns = ["config_hash", "model", "pretext", "protocol", "dataset", "fold", "metric", "condition", "value"]
        for row in rows[columns].to_dict("records"):
            print(json.dumps(row, default=str))


def _severities(text: str) -> tuple[int, ...]:
    """``--severities 1,3,5`` as integers.

    Raises:
        ConfigError: for anything but comma-separated integers.
    """
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--severities expects comma-separated integers, got {text!r}", hint="e.g. --severities 1,2,3,4,5"
        ) from None


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "evaluate",
        help="finetune, linear-probe, retrieve or add noise (cached by config hash)",
        description="Evaluate a pre-training run (--source HASH, or --pretext TASK for the "
        "profile's default run), a checkpoint file (--checkpoint PATH) or a "
        "random initialisation (--source scratch) on "
        "a labelled set; prints one JSON line per number written to the results "
        "table. Finetune and linear work under torchrun (--batch-size is global).",
    )
    sub.add_argument(
        "--protocol",
        default="finetune",
        choices=("finetune", "linear", "retrieval", "noise"),
        help="noise: the finetuned model under noise (--corruptions, --severities)",
    )
    sub.add_argument("--source", default="scratch", help="scratch or a pre-training run hash")
    sub.add_argument(
        "--pretext",
        default=None,
        help="instead of --source: the profile's default pre-training "
        "of this task on --backbone (must be in the run store)",
    )
    sub.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="instead of --source: weights made elsewhere, a state dict (.pt/.pth, e.g. torchvision's "
        "r2plus1d_18 Kinetics-400 weights, or a self-supervised checkpoint) or a .safetensors "
        "file from 'export'; filed under its sha256 (source file:<16 hex>)",
    )
    sub.add_argument("--source-epoch", type=int, default=None, help="a pre-training checkpoint (default: final)")
    sub.add_argument(
        "--backbone",
        default=None,
        help="backbone (needed from scratch, with --pretext and with a --checkpoint not from 'export')",
    )
    sub.add_argument("--profile", default="micro", help="smoke, micro or paper (fills the numbers)")
    sub.add_argument("--dataset", default=None, help="labelled set, e.g. digits-motion or ucf101")
    sub.add_argument("--fold", type=int, default=None, help="official split (1-3 for UCF101 / HMDB51)")
    sub.add_argument("--all-folds", action="store_true", help="every official split of the dataset, one by one")
    _add_run_options(sub)
    sub.add_argument(
        "--corruptions",
        default="gaussian,shot,impulse,speckle",
        help="with --protocol noise; ImageNet-C's constants: gaussian-imagenet-c,shot-imagenet-c,...",
    )
    sub.add_argument("--severities", default="1,2,3,4,5", help="with --protocol noise")
    sub.add_argument("--store", default=None, help="run store root (default: <data dir>/runs)")
    sub.add_argument("--results", default=None, help="results table CSV (default: <data dir>/results/results.csv)")
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any EvalConfig field, e.g. lr=0.01 or test_clips=10 (repeatable)",
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.set_defaults(func=_evaluate)


def _export(args: argparse.Namespace) -> None:
    from sslvid.evaluate.export import export_run
    from sslvid.store.results import ResultsStore
    from sslvid.store.runs import RunStore

    done = export_run(
        args.run,
        args.out_dir,
        RunStore(args.store) if args.store else None,
        ResultsStore(args.results) if args.results else None,
    )
    print(
        json.dumps(
            {"weights": str(done.weights), "card": str(done.card), "readme": str(done.readme), "source": done.source}
        )
    )


def _add_export(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "export",
        help="write a finished pre-training run's backbone as safetensors with a model card",
        description="Write OUT_DIR/backbone.safetensors (the backbone's weights and what "
        "it is), card.json and README.md (config, evaluation numbers from the "
        "results table, versions). Evaluate the file with "
        "'evaluate --checkpoint OUT_DIR/backbone.safetensors'.",
    )
    sub.add_argument("run", metavar="RUN_HASH", help="a complete pre-training run's config hash")
    sub.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created)")
    sub.add_argument("--store", default=None, help="run store root (default: <data dir>/runs)")
    sub.add_argument("--results", default=None, help="results table CSV (default: <data dir>/results/results.csv)")
    sub.set_defaults(func=_export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sslvid", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an input or data error")
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute or prepare the book's chapters")
    book_cmds = book.add_subparsers(dest="book_command", required=True)
    for name, func, default_profile in (("execute", _book_execute, "micro"), ("prepare", _book_prepare, "smoke")):
        sub = book_cmds.add_parser(name, help=f"{name} one chapter notebook with papermill")
        sub.add_argument("src", help="source notebook (notebooks/<name>.ipynb)")
        sub.add_argument("dst", help="output notebook")
        sub.add_argument("--profile", default=default_profile, help="smoke, micro or paper")
        sub.add_argument(
            "--data-root", default=None, help="the folder with one sub-folder per dataset (default: the embedded data)"
        )
        sub.set_defaults(func=func)

    cards = book_cmds.add_parser("cards", help="write the method cards page (from the code's defaults)")
    cards.add_argument("dst", help="output Markdown file, e.g. book/method_cards.md")
    cards.set_defaults(func=_book_cards)

    install = book_cmds.add_parser(
        "install-cell",
        help="write the first cell of each chapter notebook, which "
        "installs sslvid from _config.yml's repository where it is missing",
    )
    install.add_argument(
        "notebooks",
        nargs="*",
        default=sorted(str(p) for p in Path("notebooks").glob("*.ipynb")),
        help="chapter notebooks (default: notebooks/*.ipynb)",
    )
    install.add_argument("--config", default="_config.yml", help="the book's _config.yml")
    install.set_defaults(func=_book_install_cell)
    check = book_cmds.add_parser("check", help="open the built chapters in headless Chromium and check them")
    check.add_argument("--html", default="_build/html")
    check.add_argument("--toc", default="_toc.yml")
    check.add_argument("--screenshots", default="_build/screenshots", help="folder for page screenshots")
    check.set_defaults(func=_book_check)

    data = commands.add_parser("data", help="the embedded default data")
    data_cmds = data.add_subparsers(dest="data_command", required=True)
    gen = data_cmds.add_parser("generate", help="generate the default data (skipped when present)")
    gen.add_argument("--profile", default="micro")
    gen.add_argument("--root", default=None)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=2)
    gen.set_defaults(func=_data_generate)

    _add_pretrain(commands)
    _add_evaluate(commands)
    _add_distill(commands)
    _add_export(commands)
    from sslvid.scale.cli import add_commands

    add_commands(commands)  # sweep, estimate
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        args.func(args)
    except UserError as err:
        if args.debug:
            raise
        report_user_error(err)
        return 2
    return 0


def report_user_error(err: UserError) -> None:
    """``error: <message>`` (its first line, then any listed details) and ``hint: <fix>`` on stderr."""
    print(f"error: {err}", file=sys.stderr)
    if err.hint:
        print(f"hint: {err.hint}", file=sys.stderr)
    print("(run with --debug for the traceback)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
