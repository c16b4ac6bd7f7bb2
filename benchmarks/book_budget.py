"""Where a book build's time went: per chapter, and per kind of run (the budget of the micro study).

Reads what a build leaves behind in a data folder (the one ``$SSLVID_HOME`` selects, else this checkout's):
the seconds each chapter took to execute (``build/chapter-times.json``, written by ``sslvid book execute``)
and the wall seconds of every run in the run store (``provenance.json``), and prints

* each chapter's execution seconds and their sum;
* the runs' wall seconds per kind (pre-training, linear probe, finetuning, distillation), the rest of the
  chapters' time being work outside any run (kernel start, data generation, feature passes of CKA, noise
  and retrieval, bootstraps, figures);
* pre-training per task and network: runs and seconds, what a change of one task's recipe costs.

Only runs of ``--profile`` count, and with ``--since`` (an ISO time) only runs that ended after it, so a
build from a clean data folder is measured alone.

    python benchmarks/book_budget.py                       # this checkout's data folder, micro runs
    SSLVID_HOME=/tmp/clean python benchmarks/book_budget.py --since 2026-12-07T14:30
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from sslvid.paths import data_dir, project_home


def chapter_seconds(home: Path) -> dict[str, float]:
    """Chapter -> seconds its last execution took (``build/chapter-times.json``; empty when none)."""
    path = home / "build" / "chapter-times.json"
    times = json.loads(path.read_text()) if path.is_file() else {}
    return {chapter: float(entry["seconds"]) for chapter, entry in sorted(times.items())}


def run_rows(runs: Path, profile: str, since: str | None) -> list[dict[str, Any]]:
    """One row per finished run of ``profile`` in the store ``runs``: kind, task, backbone, seconds, ended."""
    rows = []
    for folder in sorted(p for p in runs.iterdir() if p.is_dir()):
        try:
            config = json.loads((folder / "config.json").read_text())
            provenance = json.loads((folder / "provenance.json").read_text())
        except (OSError, ValueError):
            continue  # unfinished or unreadable: not part of a build's cost
        ended = str(provenance.get("ended") or "")
        if config.get("profile") != profile or (since and ended < since):
            continue
        # pre-training configs name a task; evaluations a protocol (linear, finetune); distillations their kind
        kind = "pretrain" if "task" in config else str(config.get("protocol") or config.get("kind") or "other")
        rows.append(
            {
                "kind": kind,
                "task": config.get("task", ""),
                "backbone": config.get("backbone", config.get("student", "")),
                "seconds": float(provenance.get("wall_seconds") or 0.0),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="micro")
    parser.add_argument("--since", default=None, help="count only runs that ended after this ISO time")
    args = parser.parse_args()
    chapters = chapter_seconds(project_home())
    total = sum(chapters.values())
    print("chapter                      seconds")
    for chapter, seconds in chapters.items():
        print(f"{chapter:28s} {seconds:7.1f}")
    print(f"{'all chapters':28s} {total:7.1f}  ({total / 60:.1f} min)\n")

    runs = data_dir() / "runs"
    if not runs.is_dir():
        raise SystemExit(
            f"no run store at {runs}: build the book there first, or point $SSLVID_HOME at a checkout that did"
        )
    rows = run_rows(runs, args.profile, args.since)
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row["seconds"])
    inside = sum(sum(v) for v in by_kind.values())
    print("kind of run     runs   minutes  share of the chapters' time")
    for kind, seconds in sorted(by_kind.items(), key=lambda kv: -sum(kv[1])):
        share = f"{100 * sum(seconds) / total:5.1f}%" if total else "  n/a"
        print(f"{kind:14s} {len(seconds):5d}  {sum(seconds) / 60:8.1f}  {share}")
    if total >= inside:
        print(f"{'outside runs':14s} {'':5s}  {(total - inside) / 60:8.1f}  {100 * (total - inside) / total:5.1f}%\n")
    else:
        print("(the runs took longer than the chapters: they come from earlier builds too; give --since)\n")

    pretrain: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for row in rows:
        if row["kind"] == "pretrain":
            pretrain[(row["task"], row["backbone"])].append(row["seconds"])
    print("pre-training    backbone             runs  seconds")
    for (task, backbone), seconds in sorted(pretrain.items(), key=lambda kv: -sum(kv[1])):
        print(f"{task:14s}  {backbone:20s} {len(seconds):4d}  {sum(seconds):7.1f}")


if __name__ == "__main__":
    main()
