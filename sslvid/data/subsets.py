"""Class-balanced, nested pre-training subsets (benchmark §4.2).

The benchmark pre-trains on Kinetics-400 subsets of 10k, 30k, 50k and 100k videos "with
the same number of videos per class", each smaller subset inside the bigger ones
(10k ⊂ 30k ⊂ 50k ⊂ 100k). Nesting comes from one seeded permutation per class: a subset
of ``n`` videos per class takes the first ``n`` of each class's permutation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sslvid.data.records import UNLABELLED, VideoIndex
from sslvid.seeding import rng_for


def class_permutations(labels: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    """For each class, the positions of its videos in a seeded random order.

    Args:
        labels: (N,) int labels; ``UNLABELLED`` entries are left out.
        seed: the permutation seed; the same seed gives the same order on every machine.
    """
    perms = {}
    for label in np.unique(labels):
        if label == UNLABELLED:
            continue
        members = np.flatnonzero(labels == label)
        perms[int(label)] = members[rng_for(seed, "subset", int(label)).permutation(len(members))]
    return perms


def balanced_subset(labels: np.ndarray, per_class: int, seed: int, classes: Sequence[str] | None = None) -> np.ndarray:
    """Positions of ``per_class`` videos of every class, sorted; nested in ``per_class``.

    Args:
        labels: (N,) int labels; ``UNLABELLED`` entries are left out.
        per_class: videos per class.
        seed: the permutation seed.
        classes: class names by label, for the error message (None: the labels are shown).

    Raises:
        ValueError: if some class has fewer than ``per_class`` videos (the message names each
            short class with its count), or no label is known.
    """
    perms = class_permutations(np.asarray(labels), seed)
    if not perms:
        raise ValueError("class-balanced subsets need labels; every video is UNLABELLED")
    short = {c: len(p) for c, p in perms.items() if len(p) < per_class}
    if short:
        raise ValueError(
            f"{len(short)} of {len(perms)} classes have fewer than {per_class} videos: "
            f"{_short_classes(short, classes)}; ask for at most "
            f"{min(len(p) for p in perms.values())} videos per class"
        )
    return np.sort(np.concatenate([p[:per_class] for p in perms.values()]))


def _short_classes(short: dict[int, int], classes: Sequence[str] | None, shown: int = 10) -> str:
    """``name (count), ...`` of the short classes, fewest videos first, at most ``shown`` of them."""
    ordered = sorted(short.items(), key=lambda item: (item[1], item[0]))
    names = [
        f"{classes[c] if classes is not None and 0 <= c < len(classes) else f'label {c}'} ({n})"
        for c, n in ordered[:shown]
    ]
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(names) + more


def nested_subsets(index: VideoIndex, per_class: Sequence[int], seed: int = 0) -> dict[int, VideoIndex]:
    """Nested class-balanced subsets of ``index``, keyed by videos per class.

    ``nested_subsets(pool, [20, 60, 100, 200])`` gives the 10k/30k/50k/100k structure of the
    benchmark at 1/50 scale: every smaller subset is contained in every bigger one.
    """
    labels = index.labels()
    return {n: index.select(balanced_subset(labels, n, seed)) for n in sorted(per_class)}
