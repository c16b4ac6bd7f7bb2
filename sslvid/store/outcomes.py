"""Per-test-video outcomes of a classification evaluation, kept beside its run for paired comparisons.

An evaluation's ``top1_video`` is the mean of one 0/1 outcome per test video (its video-level
prediction right or wrong). The results table keeps only the mean; this module keeps the vector,
so two models tested on the same videos can be compared by a paired bootstrap
(``sslvid.analysis.claims.paired_difference``). The file is ``<runs root>/<config hash>/outcomes.json``
in the evaluation's run folder, written atomically::

    {"format": "sslvid-video-outcomes/1", "config_hash": ..., "metric": "top1_video",
     "videos": [video ids, sorted], "correct": "0110...", "sha256": digest of videos and correct}

An evaluation tested under several conditions (the noise robustness test: one per
``"<noise>/<severity>"``) keeps one file per condition, ``outcomes@<noise>-<severity>.json``
(``/`` written ``-``), with ``"condition"`` in the payload and in the digest; the clean test
(condition ``"clean"`` or None) keeps the plain ``outcomes.json``, so files written before
conditions existed read unchanged. Retrieval keeps its per-query-video hits the same way, one file per k
under the condition ``"video_hit@<k>"`` (``outcomes@video_hit@1.json``: ``correct`` is whether a training
video of the query's class is among its k nearest; ``sslvid.distill.run.test_checkpoints``).

Reading checks the format, the config hash, the lengths, the characters and the digest; a file
that fails raises ``sslvid.io.DamagedFileError`` (never a wrong vector). Runs evaluated before
outcomes were kept have no file: ``read_outcomes`` returns None and comparisons fall back to the
unpaired bootstrap over the implied outcomes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sslvid.io import DamagedFileError, atomic_write_json, read_json
from sslvid.store.runs import RunHandle, RunStore

OUTCOMES_FILE = "outcomes.json"
FORMAT = "sslvid-video-outcomes/1"
CLEAN = "clean"
"""The condition of an untouched test set (the results table's ``condition`` of clean rows)."""


@dataclass(frozen=True, eq=False)
class VideoOutcomes:
    """Whether each test video was classified right by one evaluation.

    Args:
        config_hash: the evaluation's config hash.
        metric: the metric these outcomes average to (``"top1_video"``).
        videos: (V,) video ids, sorted and unique.
        correct: (V,) bool, ``correct[i]``: video ``videos[i]`` was classified right.
        condition: the test condition (``CLEAN``, or e.g. ``"gaussian/1"`` for a noisy test).

    Raises:
        ValueError: for lengths that differ, no video, or ids that are not sorted and unique.
    """

    config_hash: str
    metric: str
    videos: tuple[str, ...]
    correct: np.ndarray
    condition: str = CLEAN

    def __post_init__(self) -> None:
        if len(self.videos) != len(self.correct) or not self.videos or np.ndim(self.correct) != 1:
            raise ValueError(f"need one outcome per video, got {len(self.videos)} videos, {np.shape(self.correct)}")
        if any(a >= b for a, b in zip(self.videos, self.videos[1:])):
            raise ValueError("video ids must be sorted and unique (build with VideoOutcomes.of)")

    @classmethod
    def of(
        cls, config_hash: str, metric: str, videos: Sequence[str], correct: Sequence[bool], condition: str = CLEAN
    ) -> VideoOutcomes:
        """Outcomes in any video order, sorted by video id.

        Raises:
            ValueError: for a repeated video id or lengths that differ.
        """
        if len(set(videos)) != len(videos):
            raise ValueError("a video id is repeated")
        if len(videos) != len(correct):
            raise ValueError(f"{len(videos)} videos but {len(correct)} outcomes")
        order = sorted(range(len(videos)), key=lambda i: videos[i])
        right = np.asarray(correct, dtype=bool)
        ordered = tuple(videos[i] for i in order)
        return cls(config_hash, metric, ordered, right[np.asarray(order, dtype=int)], condition)

    @property
    def accuracy(self) -> float:
        """Percent of the videos classified right (the evaluation's ``metric``)."""
        return float(self.correct.mean() * 100)


def outcomes_path(run: RunHandle, condition: str | None = None) -> Path:
    """``<run folder>/outcomes.json`` (clean), ``<run folder>/outcomes@<noise>-<severity>.json`` otherwise.

    Raises:
        ValueError: for a condition that cannot name a file (empty, a leading dot, other characters than
            letters, digits, ``-``, ``_``, ``.``, ``@`` and one ``/``).
    """
    if condition in (None, CLEAN):
        return run.dir / OUTCOMES_FILE
    name = str(condition).replace("/", "-", 1)
    if not name or name.startswith(".") or not all(c.isalnum() or c in "-_.@" for c in name):
        raise ValueError(f"condition {condition!r} cannot name an outcomes file")
    return run.dir / f"outcomes@{name}.json"


def _digest(videos: Sequence[str], correct: str, condition: str = CLEAN) -> str:
    """sha256 of the videos and outcomes (and the condition, when not clean: clean digests stay as before)."""
    body = [list(videos), correct] + ([] if condition == CLEAN else [condition])
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def write_outcomes(run: RunHandle, outcomes: VideoOutcomes) -> Path:
    """Write ``outcomes`` into the folder of ``run`` (its config hash must be the run's key), atomically.

    Raises:
        ValueError: when the outcomes belong to another run.
    """
    if outcomes.config_hash != run.key:
        raise ValueError(f"outcomes of {outcomes.config_hash} do not belong to run {run.key}")
    correct = "".join("1" if c else "0" for c in outcomes.correct)
    payload = {
        "format": FORMAT,
        "config_hash": outcomes.config_hash,
        "metric": outcomes.metric,
        "videos": list(outcomes.videos),
        "correct": correct,
        "sha256": _digest(outcomes.videos, correct, outcomes.condition),
    }
    if outcomes.condition != CLEAN:
        payload["condition"] = outcomes.condition
    path = outcomes_path(run, outcomes.condition)
    atomic_write_json(path, payload)
    return path


def read_outcomes(store: RunStore, config_hash: str, condition: str | None = None) -> VideoOutcomes | None:
    """The outcomes kept for evaluation ``config_hash`` under ``condition`` (None: clean) in ``store``, or
    None when it has none (runs evaluated before outcomes, or conditions, were kept).

    Raises:
        DamagedFileError: when the file is there but fails its checks (module docstring), among them a
            file naming another condition than the one asked for.
    """
    condition = condition or CLEAN
    path = outcomes_path(RunHandle(store.root, config_hash), condition)
    if not path.is_file():
        return None
    recovery = (
        "delete it: comparisons of this evaluation then use the unpaired bootstrap; to keep outcomes again, "
        "delete the evaluation's rows from the results table and evaluate it once more"
    )
    data = read_json(path, recovery)
    problem = _problem(data, config_hash, condition)
    if problem:
        raise DamagedFileError(path, problem, recovery)
    try:
        correct = np.frombuffer(data["correct"].encode(), dtype=np.uint8) == ord("1")
        return VideoOutcomes(config_hash, data["metric"], tuple(data["videos"]), correct, condition)
    except ValueError as err:
        raise DamagedFileError(path, str(err), recovery) from None


def _problem(data: Any, config_hash: str, condition: str = CLEAN) -> str:
    """What is wrong with the parsed contents of an outcomes file ("" when nothing)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f"not an outcomes file of format {FORMAT}"
    videos, correct = data.get("videos"), data.get("correct")
    if not isinstance(videos, list) or not all(isinstance(v, str) for v in videos) or not isinstance(correct, str):
        return "its videos or outcomes are missing"
    if not isinstance(data.get("metric"), str):
        return "it names no metric"
    if data.get("config_hash") != config_hash:
        return f"it names evaluation {data.get('config_hash')!r}, not {config_hash!r} whose folder it is in"
    if data.get("condition", CLEAN) != condition:
        return f"it holds the outcomes under condition {data.get('condition', CLEAN)!r}, not {condition!r}"
    if len(correct) != len(videos) or set(correct) - {"0", "1"}:
        return f"{len(videos)} videos but outcomes {correct[:20]!r}... of length {len(correct)}"
    if data.get("sha256") != _digest(videos, correct, condition):
        return "its sha256 differs from that of its videos and outcomes (edited or overwritten)"
    return ""
