"""Experiment grids: a chapter's runs as blocks of axes, expanded into jobs for any profile.

A grid is one or more blocks; each block is fixed fields plus axes whose product gives its
points (the grids of the benchmark paper, §4-6, are unions of such products). A point is a
dict of config fields, with three named axes that mean the same at every scale:

* ``data``: "K400" (appearance-heavy pre-training data), "SSv2" (temporal) or "STL10" (the
  lightweight study's images); the paper's Kinetics-400 / Something-Something v2 / STL-10, or
  the embedded digit pools at micro and smoke scale (``digits-appearance-pool`` /
  ``digits-motion-pool``).
* ``subset``: "10k", "30k", "50k", "100k" videos of the paper (§4.2), as videos per class of a
  class-balanced nested subset: K400 has 400 classes (10k = 25 per class), SSv2 174; at micro
  scale one video per class of the digit pools for every 1,000 videos of the paper (10k = 10,
  50k = 50 per class, the engine's micro default; the pools hold 200 per class), at smoke scale
  the same times the smoke data scale (at least 1 per class).
* ``complexity``: "C1", "C2", "C3" of Table 5 (RotNet 2/3/4 rotations, VCOP 3/4/5 clips with
  the task's batch halved at 5, PRP rates {1,2}/{1,2,4}/{1,2,4,8}); task arguments equal to the
  task's defaults are dropped, so C3 of RotNet is the very run of Table 1.

Every other axis or fixed field is a config field (``task``, ``backbone``, ``seed``,
``epochs``...). ``expand_grid`` turns the points into jobs of the grid's ``kind`` (registry
in ``sslvid.scale.sweep``), de-duplicated by config hash.

YAML form (``load_grid``)::

    name: subset-size
    kind: pretrain
    profile: paper
    fixed: {data: K400}
    blocks:
      - axes: {task: [vcop, rotnet], backbone: [r2plus1d_18], subset: [10k, 30k, 50k]}
      - fixed: {task: rspnet}
        axes: {backbone: [shufflenet3d, r2plus1d_18], subset: [10k, 100k]}

(a grid with one block may give ``axes`` at the top level instead of ``blocks``; ``per_profile``
maps a profile to fields set only at that scale).
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sslvid.profiles import get_profile, list_profiles

SIX_TASKS = ("vcop", "rotnet", "prp", "cvrl", "tdl", "rspnet")
"""The benchmark's pretext tasks (§3.1): non-contrastive, then contrastive."""

SUBSET_VIDEOS = {"10k": 10_000, "30k": 30_000, "50k": 50_000, "100k": 100_000}
"""The pre-training subset sizes of §4.2."""

PAPER_DATA = {"K400": ("kinetics400", 400), "SSv2": ("ssv2", 174), "STL10": ("folder", 1)}
"""Named pre-training data at paper scale: (layout name, classes). STL-10's 100,000 unlabelled
images have no layout of their own: exported as one-frame videos into one folder (one class),
so its "100k" subset is all of them."""

DEFAULT_DATA = {"K400": "digits-appearance-pool", "SSv2": "digits-motion-pool", "STL10": "digits-appearance-pool"}
"""Named pre-training data at micro and smoke scale: the embedded default pools."""

DEFAULT_POOL_PER_CLASS = 200
"""Videos per class of the default pools at ``data_scale`` 1 (``sslvid.data.default``)."""

COMPLEXITY: dict[str, dict[str, dict[str, Any]]] = {
    "rotnet": {"C1": {"num_rotations": 2}, "C2": {"num_rotations": 3}, "C3": {"num_rotations": 4}},
    "vcop": {"C1": {"num_clips": 3}, "C2": {"num_clips": 4}, "C3": {"num_clips": 5, "batch_scale": 0.5}},
    "prp": {"C1": {"rates": [1, 2]}, "C2": {"rates": [1, 2, 4]}, "C3": {"rates": [1, 2, 4, 8]}},
}
"""Table 5's complexity levels: task arguments, and ``batch_scale`` of the batch (VCOP at 5 clips)."""

NAMED_AXES = ("data", "subset", "complexity")


@dataclass(frozen=True)
class Block:
    """One product of axes: every combination of ``axes`` values, each with ``fixed`` added.

    Args:
        axes: field -> values, expanded in the order given (the first axis varies slowest).
        fixed: field -> value shared by the block's points.
    """

    axes: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def points(self) -> list[dict[str, Any]]:
        """The block's points, as unresolved field dicts (named axes still named)."""
        names = list(self.axes)
        return [
            {**self.fixed, **dict(zip(names, values))} for values in itertools.product(*(self.axes[n] for n in names))
        ]


@dataclass(frozen=True)
class Grid:
    """A chapter's runs: the union of its blocks' points, as jobs of one kind.

    Args:
        name: short name (also the built-in grid's key).
        blocks: the products whose union is the grid.
        kind: job kind (``sslvid.scale.sweep.JOB_KINDS``), "pretrain" by default.
        profile: the scale its numbers are meant for (``expand_grid`` can change it).
        fixed: fields shared by every block (a block's own ``fixed`` wins).
        title: one line saying what the grid is for (paper tables).
        per_profile: profile -> fields set on every point at that scale only (e.g. the
            lightweight study's 96x96 crops at paper scale).
    """

    name: str
    blocks: tuple[Block, ...]
    kind: str = "pretrain"
    profile: str = "paper"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    per_profile: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def points(self, profile: str | None = None) -> list[dict[str, Any]]:
        """Every block's points with the grid's fixed fields and those of ``profile`` (unresolved; duplicates kept)."""
        extra = dict(self.per_profile.get(profile or self.profile, {}))
        return [{**self.fixed, **point, **extra} for block in self.blocks for point in block.points()]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (``load_grid`` reads it back)."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "profile": self.profile,
            "fixed": dict(self.fixed),
            "per_profile": {k: dict(v) for k, v in self.per_profile.items()},
            "blocks": [{"fixed": dict(b.fixed), "axes": {k: list(v) for k, v in b.axes.items()}} for b in self.blocks],
        }


# --------------------------------------------------------------------------- named axes


def subset_per_class(size: str, data: str, profile: str) -> int:
    """Videos per class of the subset named ``size`` ("10k"...) of ``data`` ("K400", "SSv2") at ``profile``.

    Raises:
        ValueError: for an unknown size or data name.
    """
    if size not in SUBSET_VIDEOS:
        raise ValueError(f"unknown subset {size!r}; valid: {', '.join(SUBSET_VIDEOS)}")
    if data not in PAPER_DATA:
        raise ValueError(f"unknown data {data!r}; valid: {', '.join(PAPER_DATA)}")
    if profile == "paper":
        return max(1, round(SUBSET_VIDEOS[size] / PAPER_DATA[data][1]))
    per_class = SUBSET_VIDEOS[size] / 1000 * get_profile(profile).data_scale
    return max(1, round(per_class))


def dataset_name(data: str, profile: str) -> str:
    """The dataset (layout or default set) that ``data`` ("K400", "SSv2") names at ``profile``.

    Raises:
        ValueError: for an unknown data name.
    """
    if data not in PAPER_DATA:
        raise ValueError(f"unknown data {data!r}; valid: {', '.join(PAPER_DATA)}")
    return PAPER_DATA[data][0] if profile == "paper" else DEFAULT_DATA[data]


def _recipe_batch(task: str, profile: str) -> int:
    """The batch ``task`` pre-trains with at ``profile``: its recipe's, else the profile's."""
    from sslvid.engine.config import task_recipe

    return task_recipe(task, profile).get("batch_size") or get_profile(profile).batch_size


def complexity_fields(task: str, level: str, batch_size: int) -> dict[str, Any]:
    """The config fields of complexity ``level`` of ``task``: ``task_kwargs`` and maybe ``batch_size``.

    Raises:
        ValueError: for a task without complexity levels or an unknown level.
    """
    if task not in COMPLEXITY:
        raise ValueError(f"task {task!r} has no complexity levels; tasks with levels: {', '.join(COMPLEXITY)}")
    levels = COMPLEXITY[task]
    if level not in levels:
        raise ValueError(f"unknown complexity {level!r} of {task}; valid: {', '.join(levels)}")
    kwargs = dict(levels[level])
    scale = kwargs.pop("batch_scale", 1.0)
    fields: dict[str, Any] = {"task_kwargs": kwargs}
    if scale != 1.0:
        fields["batch_size"] = max(1, int(batch_size * scale))
    return fields


def drop_default_kwargs(task: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` without the arguments equal to the task builder's defaults (so equal runs hash equal)."""
    from sslvid.engine.config import task_registry

    params = inspect.signature(task_registry().get(task)).parameters

    def same(name: str, value: Any) -> bool:
        default = params[name].default if name in params else inspect.Parameter.empty
        return default is not inspect.Parameter.empty and _canonical(default) == _canonical(value)

    return {k: v for k, v in kwargs.items() if not same(k, v)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def resolve_point(
    point: Mapping[str, Any], profile: str, data_roots: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A point's config fields at ``profile``: named axes replaced, default task arguments dropped.

    Args:
        point: fields, possibly with ``data``, ``subset`` and ``complexity``.
        profile: the scale.
        data_roots: dataset name -> root of a real dataset (``data_root`` is not hashed).

    Raises:
        ValueError: for an unknown name in a named axis, or an unknown profile.
    """
    if profile not in list_profiles():
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(list_profiles())}")
    fields = {k: v for k, v in point.items() if k not in NAMED_AXES}
    data = point.get("data", "K400")
    if "data" in point:
        fields["dataset"] = dataset_name(data, profile)
    if "subset" in point:
        fields["subset_per_class"] = subset_per_class(point["subset"], data, profile)
    kwargs = dict(fields.get("task_kwargs") or {})
    if "complexity" in point:
        batch = fields.get("batch_size") or _recipe_batch(fields.get("task", ""), profile)
        extra = complexity_fields(fields.get("task", ""), point["complexity"], batch)
        kwargs.update(extra.pop("task_kwargs"))
        fields.update(extra)
    if "task" in fields:
        fields["task_kwargs"] = drop_default_kwargs(fields["task"], kwargs)
    roots = data_roots or {}
    if "data_root" not in fields and fields.get("dataset") in roots:
        fields["data_root"] = str(roots[fields["dataset"]])
    return fields


# --------------------------------------------------------------------------- YAML


def grid_from_dict(values: Mapping[str, Any]) -> Grid:
    """A grid from its YAML form (module docstring).

    Raises:
        ValueError: when it has neither ``blocks`` nor ``axes``, or both.
    """
    values = dict(values)
    if ("blocks" in values) == ("axes" in values):
        raise ValueError("a grid gives either 'blocks' (a list of {axes, fixed}) or top-level 'axes', not both")
    raw = values.get("blocks") or [{"axes": values.get("axes", {})}]
    blocks = tuple(
        Block(axes={k: list(v) for k, v in (b.get("axes") or {}).items()}, fixed=dict(b.get("fixed") or {}))
        for b in raw
    )
    return Grid(
        name=str(values.get("name", "grid")),
        blocks=blocks,
        kind=str(values.get("kind", "pretrain")),
        profile=str(values.get("profile", "paper")),
        fixed=dict(values.get("fixed") or {}),
        title=str(values.get("title", "")),
        per_profile={str(k): dict(v) for k, v in (values.get("per_profile") or {}).items()},
    )


def load_grid(spec: str | Path) -> Grid:
    """The built-in grid named ``spec`` (``PAPER_GRIDS``), or the grid of the YAML file ``spec``.

    Raises:
        ValueError: for a name that is neither a built-in grid nor an existing file.
    """
    if isinstance(spec, str) and spec in PAPER_GRIDS:
        return PAPER_GRIDS[spec]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"no grid {str(spec)!r}: not a YAML file, nor a built-in grid ({', '.join(PAPER_GRIDS)})")
    return grid_from_dict(yaml.safe_load(path.read_text()) or {})


def dump_grid(grid: Grid) -> str:
    """The YAML text of ``grid``."""
    return yaml.safe_dump(grid.to_dict(), sort_keys=False)


# --------------------------------------------------------------------------- the paper's grids

_TWO = ("shufflenet3d", "r2plus1d_18")
_SIX_CNNS = ("shufflenet3d", "squeezenet3d", "mobilenetv2_3d", "c3d", "r3d_18", "r2plus1d_18")

IMAGE_TASKS = ("rotnet", "moco_v2", "splitbrain", "simclr", "byol")
"""The lightweight study's techniques (Sonawane et al. §3.3)."""
LIGHT_2D = ("efficientnet_lite0", "mobilenetv2_2d", "resnet18_2d", "shufflenetv2_2d", "squeezenet_2d")
"""The lightweight study's networks (§3.2), applied frame by frame."""


def _grid_fields(grid: str) -> dict[str, dict[str, Any]]:
    """Profile -> the fields ``grid`` sets at that profile only, as ``Profile.grid_fields`` holds them."""
    return {
        name: dict(get_profile(name).grid_fields[grid])
        for name in list_profiles()
        if grid in get_profile(name).grid_fields
    }


PAPER_GRIDS: dict[str, Grid] = {
    "preliminaries": Grid(
        "preliminaries",
        title="Table 1 (six tasks, ShuffleNet and R(2+1)D) and the backbone comparison "
        "of §4.1 / §6 (VCOP and RSPNet on six CNNs), K400-50k",
        fixed={"data": "K400", "subset": "50k"},
        blocks=(
            Block(axes={"task": SIX_TASKS, "backbone": _TWO}),
            Block(axes={"task": ("vcop", "rspnet"), "backbone": _SIX_CNNS}),
        ),
    ),
    "subset_duration": Grid(
        "subset_duration",
        title="Tables 2-4, Figure 2: subset size and epochs (checkpoints 50-200)",
        fixed={"data": "K400"},
        blocks=(
            Block(axes={"task": SIX_TASKS, "subset": ("10k", "30k", "50k")}, fixed={"backbone": "r2plus1d_18"}),
            Block(axes={"backbone": (*_TWO, "swin3d_t"), "subset": tuple(SUBSET_VIDEOS)}, fixed={"task": "rspnet"}),
        ),
    ),
    "task_complexity": Grid(
        "task_complexity",
        title="Table 5: three complexities of RotNet, VCOP and PRP, K400-50k",
        fixed={"data": "K400", "subset": "50k"},
        blocks=(Block(axes={"task": ("rotnet", "vcop", "prp"), "backbone": _TWO, "complexity": ("C1", "C2", "C3")}),),
    ),
    "ood": Grid(
        "ood",
        title="Table 6: K400 vs SSv2 pre-training (30k), R(2+1)D",
        fixed={"subset": "30k", "backbone": "r2plus1d_18"},
        blocks=(Block(axes={"task": ("vcop", "rotnet", "cvrl", "rspnet"), "data": ("K400", "SSv2")}),),
    ),
    "noise": Grid(
        "noise",
        title="Table 7: the models of Table 1 under noise (evaluation only)",
        fixed={"data": "K400", "subset": "50k"},
        blocks=(Block(axes={"task": SIX_TASKS, "backbone": _TWO}),),
    ),
    "distillation": Grid(
        "distillation",
        title="Table 8 and §5: the teachers (subsets, complexities, datasets, categories)",
        fixed={"data": "K400"},
        blocks=(
            Block(axes={"backbone": _TWO, "subset": tuple(SUBSET_VIDEOS)}, fixed={"task": "rspnet"}),
            Block(
                axes={"task": ("rotnet", "vcop", "prp"), "backbone": _TWO, "complexity": ("C1", "C2", "C3")},
                fixed={"subset": "50k"},
            ),
            Block(
                axes={"task": ("rotnet", "vcop"), "data": ("K400", "SSv2")},
                fixed={"subset": "30k", "backbone": "r2plus1d_18"},
            ),
            Block(axes={"task": ("vcop", "rotnet", "cvrl", "tdl")}, fixed={"subset": "50k", "backbone": "r2plus1d_18"}),
        ),
    ),
    "downstream": Grid(
        "downstream",
        title="Table 9 and Figure 4: best model (RSPNet, 30k) and retrieval",
        fixed={"subset": "30k", "backbone": "r2plus1d_18"},
        blocks=(Block(axes={"task": ("vcop", "rotnet", "cvrl", "rspnet"), "data": ("K400", "SSv2")}),),
    ),
    "lightweight": Grid(
        "lightweight",
        title="Lightweight study (Sonawane et al.): five image methods on five 2D networks, "
        "single frames at 96x96 (STL-10 unlabelled, exported as one-frame videos)",
        fixed={"data": "STL10", "subset": "100k", "frames": 1},
        per_profile=_grid_fields("lightweight"),
        blocks=(Block(axes={"task": IMAGE_TASKS, "backbone": LIGHT_2D}),),
    ),
}
"""The pre-training grids of the book's chapters at paper scale (the runs each chapter reads)."""
