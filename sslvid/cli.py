"""The command line: ``python -m sslvid <command> ...`` over the same functions the notebooks call."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def _book_execute(args: argparse.Namespace) -> None:
    from sslvid.book import execute_chapter

    seconds = execute_chapter(args.src, args.dst, profile=args.profile, data_root=args.data_root)
    print(f"{args.src}: {seconds:.1f} s ({args.profile})")


def _book_prepare(args: argparse.Namespace) -> None:
    from sslvid.book import prepare_chapter

    prepare_chapter(args.src, args.dst, profile=args.profile, data_root=args.data_root)


def _data_generate(args: argparse.Namespace) -> None:
    from sslvid.data.default import generate_default_data
    from sslvid.paths import default_data_dir
    from sslvid.profiles import get_profile

    profile = get_profile(args.profile)
    root = args.root or default_data_dir(profile.name)
    manifest = generate_default_data(root, seed=args.seed, scale=profile.data_scale, workers=args.workers)
    print(json.dumps({"root": str(root), "sets": manifest.get("sets", manifest)}, indent=2, default=str))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sslvid", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute or prepare the book's chapters")
    book_cmds = book.add_subparsers(dest="book_command", required=True)
    for name, func, default_profile in (("execute", _book_execute, "micro"), ("prepare", _book_prepare, "smoke")):
        sub = book_cmds.add_parser(name, help=f"{name} one chapter notebook with papermill")
        sub.add_argument("src", help="source notebook (notebooks/<name>.ipynb)")
        sub.add_argument("dst", help="output notebook")
        sub.add_argument("--profile", default=default_profile, help="smoke, micro or paper")
        sub.add_argument("--data-root", default=None, help="root of a real dataset (default: the embedded data)")
        sub.set_defaults(func=func)

    data = commands.add_parser("data", help="the embedded default data")
    data_cmds = data.add_subparsers(dest="data_command", required=True)
    gen = data_cmds.add_parser("generate", help="generate the default data (skipped when present)")
    gen.add_argument("--profile", default="micro")
    gen.add_argument("--root", default=None)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=2)
    gen.set_defaults(func=_data_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
