"""Where training progress goes: tqdm bars in a notebook or terminal, or a status file when a
chapter is executed by ``sslvid book execute``.

A chapter executed by papermill must not store progress bars in its cells, yet the person who
runs ``make book`` wants to see what is being trained. ``sslvid.book.execute_chapter`` therefore
sets ``$SSLVID_PROGRESS_FILE`` for the chapter's kernel; there ``RunStatus`` rewrites that file
(one small JSON object: the run, its epoch and step, steps per second, time left) and the bars
stay off, while the parent process reads the file and prints a status line on the terminal
(``sslvid.book.StatusPrinter``). Without the variable nothing is written and the bars behave as
before: in JupyterLab they are widgets in the cell that runs the training.

This module imports nothing of the package, so every layer may use it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PROGRESS_ENV = "SSLVID_PROGRESS_FILE"
"""Environment variable naming the status file; set only while ``sslvid book execute`` runs a chapter."""

BOOK_PAGE_ENV = "SSLVID_BOOK_PAGE"
"""Set (to "1") while ``execute_chapter`` runs a chapter for the book: ``show_figure`` then shows each
figure only where the page's caption places it (``sslvid.analysis.figures.show_figure``)."""


def status_file() -> Path | None:
    """The status file of the chapter being executed, or None (progress goes to tqdm bars)."""
    value = os.environ.get(PROGRESS_ENV, "")
    return Path(value) if value else None


def show_bars(requested: bool | None) -> bool:
    """Whether to draw tqdm bars: as ``requested``; by default (None) unless progress goes to a status file."""
    if requested is None:
        return status_file() is None
    return bool(requested) and status_file() is None


@dataclass
class RunStatus:
    """Writes the progress of one run (a pre-training, an evaluation, a distillation) to the status file.

    Args:
        desc: what runs, e.g. ``"pretrain rotnet/r2plus1d_18"``.
        epochs: the run's last epoch.
        path: the status file (default: ``status_file()``; None: ``update`` does nothing).
        every: seconds between writes.
        clock: the time in seconds (``time.perf_counter``).

    The rate is steps per second since the run (or its resumption) started; the time left
    assumes every epoch of the run has as many steps as the current one.
    """

    desc: str
    epochs: int
    path: Path | None = field(default_factory=status_file)
    every: float = 1.0
    clock: Callable[[], float] = time.perf_counter
    _start: float = field(default=0.0, init=False)
    _written: float = field(default=-1e9, init=False)
    _done: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._start = self.clock()

    @property
    def active(self) -> bool:
        return self.path is not None

    def update(self, epoch: int, step: int, steps: int, force: bool = False, **extra: Any) -> None:
        """Record that ``step`` of ``steps`` steps of ``epoch`` are done (written at most every ``every`` s,
        and at the end of every epoch)."""
        if self.path is None:
            return
        self._done += 1
        now = self.clock()
        if not force and step < steps and now - self._written < self.every:  # an epoch's last step is always written
            return
        self._written = now
        elapsed = max(now - self._start, 1e-9)
        rate = self._done / elapsed
        left_steps = max(steps - step, 0) + max(self.epochs - epoch, 0) * steps
        write_status(
            self.path,
            {
                "desc": self.desc,
                "epoch": epoch,
                "epochs": self.epochs,
                "step": step,
                "steps": steps,
                "steps_per_s": round(rate, 3),
                "left_s": round(left_steps / rate, 1) if rate > 0 else None,
                **extra,
            },
        )


def tracked(iterable: Iterable[T], desc: str, total: int) -> Iterator[T]:
    """``iterable``, reporting each item as a step of a one-epoch run ``desc`` to the status file (if any)."""
    status = RunStatus(desc, epochs=1)
    for step, item in enumerate(iterable, start=1):
        yield item
        status.update(1, step, total)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file by ``status`` (written beside it and renamed, so a reader never sees half)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**status, "time": time.time()}))
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written to ``path``, or None when there is none (yet)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def format_seconds(seconds: float | None) -> str:
    """``h:mm:ss`` or ``m:ss``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def format_status(status: dict[str, Any]) -> str:
    """One line for the terminal: ``rotnet/r2plus1d_18 epoch 2/4 step 13/40, 3.1 steps/s, 0:45 left``."""
    text = f"{status['desc']} epoch {status['epoch']}/{status['epochs']} step {status['step']}/{status['steps']}"
    return f"{text}, {status['steps_per_s']:.1f} steps/s, {format_seconds(status.get('left_s'))} left"
