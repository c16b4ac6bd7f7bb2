"""A finished pre-training run's backbone as a shareable file, with a model card.

``export_run(key, out_dir)`` writes into ``out_dir``:

* ``backbone.safetensors``: the backbone's state dict (no classifier), with metadata that
  ``sslvid.backbones.checkpoints`` reads back (``sslvid.backbone``, ``sslvid.width``,
  ``sslvid.backbone_kwargs``, ``sslvid.task``, ``sslvid.dataset``, ``sslvid.subset``,
  ``sslvid.epochs``, ``sslvid.complexity``, ``sslvid.config_hash``);
* ``card.json`` and ``README.md``: the model card (pre-training config and hash, the file's
  sha256 and the ``"file:..."`` source its evaluations are filed under, every number the
  results table holds for the run, the package versions of the training and of the export).

The file loads back through the "in" path (``--checkpoint backbone.safetensors`` or
``EvalConfig.for_profile(..., checkpoint=...)``), backbone and width taken from its metadata.
Exporting the same run twice writes the same bytes, hence the same source.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from sslvid.backbones import create_backbone
from sslvid.backbones.checkpoints import FILE_SOURCE_PREFIX, METADATA_PREFIX, checkpoint_digest
from sslvid.engine.config import PretrainConfig
from sslvid.errors import ConfigError
from sslvid.io import atomic_write_json, atomic_write_text, atomic_write_with
from sslvid.store.results import ResultsStore
from sslvid.store.runs import RunStore, package_versions

WEIGHTS_FILE = "backbone.safetensors"
CARD_FILE = "card.json"
README_FILE = "README.md"
RESULT_COLUMNS = ("protocol", "dataset", "fold", "split", "condition", "metric", "value", "config_hash")
"""The columns of the results table a card lists for each number."""


@dataclass(frozen=True)
class Export:
    """What ``export_run`` wrote: the weights, the card, and the source evaluations of the file are filed under."""

    weights: Path
    card: Path
    readme: Path
    source: str


def export_run(
    key: str, out_dir: str | os.PathLike, store: RunStore | None = None, results: ResultsStore | None = None
) -> Export:
    """Write the backbone of the finished pre-training run ``key`` and its model card into ``out_dir``.

    Args:
        key: the run's config hash.
        out_dir: folder to write into (created; files of the same names are replaced).
        store: the run store (default ``RunStore()``).
        results: the results table the card's numbers come from (default ``ResultsStore()``).

    Raises:
        ConfigError: if the run is not in the store, not complete, not a pre-training run, or its
            representation is not a plain registered backbone (Split-Brain's two halves).
        DamagedFileError: if the run's final weights fail their checksum.
    """
    store = store or RunStore()
    config = finished_pretraining(key, store)
    weights = plain_backbone_weights(config, store.run(key).load_backbone())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / WEIGHTS_FILE
    _write_safetensors(path, weights, weights_metadata(key, config))
    card = model_card(
        key, config, checkpoint_digest(path), numbers(key, results or ResultsStore()), store.run(key).provenance()
    )
    atomic_write_json(out / CARD_FILE, card)
    atomic_write_text(out / README_FILE, card_markdown(card))
    return Export(path, out / CARD_FILE, out / README_FILE, card["file"]["source"])


def finished_pretraining(key: str, store: RunStore) -> PretrainConfig:
    """The config of the complete pre-training run ``key``.

    Raises:
        ConfigError: if it is absent, not complete, or not a pre-training run.
    """
    run = store.run(key)
    if not run.exists:
        raise ConfigError(
            f"no run {key!r} in {store.root}",
            hint="give a pre-training run's hash (printed by python -m sslvid pretrain) and its --store",
        )
    stored = run.config()
    if stored.get("kind", "pretrain") != "pretrain" or "task" not in stored:
        raise ConfigError(
            f"run {key} is a {stored.get('kind', 'unknown')} run; export writes pre-training runs' backbones",
            hint="give the hash of the pre-training run it started from",
        )
    if not run.is_complete:
        raise ConfigError(
            f"run {key} is {run.state}, not complete: it has no final weights to export",
            hint="finish it first (ask for the same pre-training again: it resumes)",
        )
    return PretrainConfig.from_dict(stored)


def plain_backbone_weights(config: PretrainConfig, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``weights``, after checking they are the state dict of ``create_backbone(config.backbone, ...)``.

    Raises:
        ConfigError: if their keys or shapes differ (a task whose representation is not one backbone).
    """
    fresh = create_backbone(config.backbone, num_classes=0, width=config.width, **config.backbone_kwargs).state_dict()
    same = set(fresh) == set(weights) and all(fresh[k].shape == weights[k].shape for k in fresh)
    if not same:
        raise ConfigError(
            f"the {config.task} run's representation is not a plain {config.backbone} at width "
            f"{config.width:g}, so no evaluation could load it as one",
            hint="export a run of another task",
        )
    return {k: v.detach().contiguous() for k, v in weights.items()}


def weights_metadata(key: str, config: PretrainConfig) -> dict[str, str]:
    """The ``sslvid.*`` safetensors metadata of run ``key`` (module docstring); values are strings."""
    subset = config.subset_per_class
    values = {
        "backbone": config.backbone,
        "width": repr(float(config.width)),
        "backbone_kwargs": json.dumps(config.backbone_kwargs, sort_keys=True),
        "task": config.task,
        "dataset": config.dataset,
        "subset": str(subset) if isinstance(subset, int) else "all",
        "epochs": str(config.epochs),
        "complexity": json.dumps(config.task_kwargs, sort_keys=True) if config.task_kwargs else "",
        "frames": str(config.frames),
        "crop_size": str(config.crop_size),
        "config_hash": key,
    }
    return {METADATA_PREFIX + k: v for k, v in values.items()}


def _write_safetensors(path: Path, weights: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    from safetensors.torch import save

    data = canonical_safetensors(save(weights, metadata={"format": "pt", **metadata}))
    atomic_write_with(path, lambda handle: handle.write(data))


def canonical_safetensors(data: bytes) -> bytes:
    """Safetensors bytes with the JSON header's keys sorted, so the same weights and metadata give the
    same file (safetensors writes the metadata in no fixed order). The tensors' bytes and offsets are
    unchanged; the header stays padded with spaces to a multiple of 8 bytes, as the format asks."""
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + size :]


def numbers(key: str, results: ResultsStore) -> list[dict[str, Any]]:
    """Every row of the results table evaluating run ``key``'s weights, as ``RESULT_COLUMNS`` dicts."""
    table = results.table()
    if table.empty or "source" not in table:
        return []
    rows = table[table["source"] == key]
    rows = rows.sort_values(["protocol", "dataset", "fold", "condition", "metric"])
    return [{c: _plain(r[c]) for c in RESULT_COLUMNS} for _, r in rows.iterrows()]


def _plain(value: Any) -> Any:
    """A table cell as JSON: numpy scalars to Python, missing to None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def model_card(
    key: str, config: PretrainConfig, sha256: str, evaluations: list[dict[str, Any]], provenance: dict[str, Any]
) -> dict[str, Any]:
    """The model card: what the weights are, where they come from, what they scored, under which versions.

    Args:
        key: the run's config hash. config: its config. sha256: the exported file's.
        evaluations: ``numbers`` of the run. provenance: the run's (``RunHandle.provenance``).
    """
    versions = package_versions()
    versions["safetensors"] = importlib_metadata.version("safetensors")
    subset = config.subset_per_class
    return {
        "task": config.task,
        "backbone": config.backbone,
        "width": config.width,
        "backbone_kwargs": config.backbone_kwargs,
        "task_kwargs": config.task_kwargs,
        "data": {
            "dataset": config.dataset,
            "subset_per_class": subset if isinstance(subset, int) else "all",
            "frames": config.frames,
            "crop_size": config.crop_size,
        },
        "epochs": config.epochs,
        "config_hash": key,
        "pretrain_config": config.to_dict(),
        "file": {"name": WEIGHTS_FILE, "sha256": sha256, "source": FILE_SOURCE_PREFIX + sha256[:16]},
        "evaluations": evaluations,
        "trained_with": {
            "git_commit": provenance.get("git_commit"),
            "git_dirty": provenance.get("git_dirty"),
            "packages": provenance.get("packages"),
            "device": provenance.get("device"),
        },
        "exported_with": versions,
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a README: a summary, the evaluation numbers as a table, how to load the file."""
    data = card["data"]
    lines = [
        f"# {card['task']} pre-training of {card['backbone']} (width {card['width']:g})",
        "",
        f"- task: {card['task']}" + (f" ({json.dumps(card['task_kwargs'])})" if card["task_kwargs"] else ""),
        f"- backbone: {card['backbone']}, width {card['width']:g}"
        + (f", {json.dumps(card['backbone_kwargs'])}" if card["backbone_kwargs"] else ""),
        f"- data: {data['dataset']}, {data['subset_per_class']} videos per class; "
        f"clips of {data['frames']} frames at {data['crop_size']}x{data['crop_size']}",
        f"- epochs: {card['epochs']}",
        f"- config hash: {card['config_hash']}",
        f"- weights: {card['file']['name']}, evaluated as source `{card['file']['source']}`",
        f"- trained at commit {card['trained_with']['git_commit']}; exported with "
        + ", ".join(f"{k} {v}" for k, v in card["exported_with"].items() if v),
        "",
        "## Evaluations",
        "",
    ]
    if card["evaluations"]:
        lines += [_markdown_table(card["evaluations"]), ""]
    else:
        lines += ["The results table held no evaluation of these weights when they were exported.", ""]
    lines += [
        "## Loading",
        "",
        f"    python -m sslvid evaluate --checkpoint {card['file']['name']} --protocol linear",
        "",
        "or `sslvid.backbones.checkpoints.backbone_from_checkpoint(path)` for the backbone alone.",
        "",
    ]
    return "\n".join(lines)


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a Markdown table (floats with 4 significant digits)."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))
