"""Weights made elsewhere: read a checkpoint file safely, map its keys onto a backbone, name it by its bytes.

A checkpoint comes in one of three shapes, all read without unpickling (``torch.load`` with
``weights_only=True``, or ``safetensors``):

* torchvision's video ResNets (e.g. the Kinetics-400 weights of ``r3d_18`` / ``r2plus1d_18``,
  Tran et al., 2018): our ``r3d_18`` and ``r2plus1d_18`` at width 1.0 have torchvision's
  module names and shapes, so the keys match as they are; torchvision's 400-way classifier
  (``fc.*``) is dropped, since an evaluation puts its own head on the features;
* a self-supervised training checkpoint: the backbone's tensors are often nested under
  ``state_dict`` / ``model`` and prefixed by wrappers (``module.`` of DataParallel,
  ``encoder_q.`` of MoCo's query encoder (He et al., 2020, §3.2), ``backbone.``, ...); these
  prefixes are stripped (``WRAPPER_PREFIXES``) and every key that still does not match is
  reported as unexpected (a MoCo key encoder ``encoder_k.*``, projection heads, queues);
* a file written by ``python -m sslvid export``: safetensors whose metadata names the
  backbone, width and pre-training (``read_metadata``).

A checkpoint's identity is the sha256 of its file: ``file_source`` gives ``"file:<16 hex>"``,
the ``source`` an evaluation of it is filed under, whatever the path it was read from.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sslvid.errors import ConfigError
from sslvid.io import file_digest

log = logging.getLogger(__name__)

FILE_SOURCE_PREFIX = "file:"
"""An evaluation ``source`` of this form names a checkpoint file by the first 16 hex digits of its sha256."""
WRAPPER_PREFIXES = ("module.", "backbone.", "encoder_q.", "encoder.", "base_encoder.", "model.", "net.")
"""Key prefixes of training wrappers, stripped (repeatedly) until a key matches the backbone's."""
NESTED_KEYS = ("state_dict", "model", "backbone", "network", "net", "encoder")
"""Entries of a checkpoint dict that hold the state dict (the first present is used)."""
HEAD_PREFIX = "fc."
"""The classifier of every backbone (``VideoBackbone.build_head``); a checkpoint's classifier is dropped."""
METADATA_PREFIX = "sslvid."
"""Safetensors metadata keys written by ``export``: ``sslvid.backbone``, ``sslvid.width``, ..."""
_BENIGN_MISSING = "num_batches_tracked"
"""A BatchNorm counter absent from old checkpoints; it does not change the outputs in eval mode or finetuning
with momentum, so the backbone's own value is kept."""

_DIGESTS: dict[str, tuple[int, int, str]] = {}
"""path -> (size, mtime_ns, sha256): each file is hashed once per change."""


def checkpoint_digest(path: str | os.PathLike) -> str:
    """The sha256 (hex) of the file at ``path``, computed once per change of the file.

    Raises:
        ConfigError: if there is no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no checkpoint file {str(path)!r}", hint="give the path of a .pt/.pth or .safetensors file")
    stat = path.stat()
    key = str(path.resolve())
    cached = _DIGESTS.get(key)
    if cached is not None and cached[:2] == (stat.st_size, stat.st_mtime_ns):
        return cached[2]
    digest = file_digest(path)
    _DIGESTS[key] = (stat.st_size, stat.st_mtime_ns, digest)
    return digest


def file_source(path: str | os.PathLike) -> str:
    """``"file:<first 16 hex digits of the file's sha256>"``: the checkpoint's identity in the results store.

    Raises:
        ConfigError: if there is no such file.
    """
    return FILE_SOURCE_PREFIX + checkpoint_digest(path)[:16]


def is_safetensors(path: str | os.PathLike) -> bool:
    """True for a ``.safetensors`` file (read with safetensors; anything else with ``torch.load``)."""
    return Path(path).suffix == ".safetensors"


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``sslvid.*`` metadata of a safetensors file, without the prefix (empty for other files).

    Raises:
        ConfigError: if a ``.safetensors`` file cannot be read.
    """
    if not is_safetensors(path):
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as err:  # safetensors raises its own SafetensorError, or OSError
        raise _unreadable(path, err) from None
    return {k[len(METADATA_PREFIX) :]: v for k, v in metadata.items() if k.startswith(METADATA_PREFIX)}


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """The tensors of a checkpoint file, flattened to one ``{key: tensor}`` state dict (keys as stored).

    ``.safetensors`` files are read with safetensors, everything else with
    ``torch.load(weights_only=True)`` (never unpickled). A dict holding the state dict under one
    of ``NESTED_KEYS`` (e.g. ``{"epoch": 9, "state_dict": {...}}``) is opened down to it.

    Raises:
        ConfigError: if the file is missing, cannot be read without unpickling objects, or holds no tensors.
    """
    checkpoint_digest(path)  # checks that it exists
    if is_safetensors(path):
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as err:  # SafetensorError or OSError
            raise _unreadable(path, err) from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        if found is None:
            raise _unreadable(path, "not a file of torch.save") from None
        raise ConfigError(
            f"{path} holds Python objects besides tensors ({found.group(1)}); it is not read, "
            "since unpickling could run code",
            hint="load it once where you trust it and save only the weights: "
            "torch.save(model.state_dict(), 'weights.pt')",
        ) from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise _unreadable(path, err) from None
    return _state_dict_in(loaded, path)


def _state_dict_in(loaded: Any, path: str | os.PathLike) -> dict[str, Tensor]:
    """The state dict in a loaded checkpoint: the dict itself, or the one under a ``NESTED_KEYS`` entry."""
    if not isinstance(loaded, Mapping):
        raise ConfigError(
            f"{path} holds a {type(loaded).__name__}, not a state dict",
            hint="save the weights as a dict: torch.save(model.state_dict(), 'weights.pt')",
        )
    for name in NESTED_KEYS:
        if isinstance(loaded.get(name), Mapping):
            return _state_dict_in(loaded[name], path)
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, Tensor)}
    if not tensors:
        raise ConfigError(
            f"{path} is not a state dict: it holds no tensors (its keys: {', '.join(map(str, list(loaded)[:10]))})",
            hint=f"give a file of name -> tensor, or one with the weights under one of {', '.join(NESTED_KEYS)}",
        )
    return tensors


def _unreadable(path: str | os.PathLike, err: BaseException | str) -> ConfigError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ConfigError(
        f"{path} is not a checkpoint torch or safetensors can read ({first})",
        hint="give a state dict saved with torch.save (.pt, .pth) or a .safetensors file",
    )


@dataclass
class KeyReport:
    """How a checkpoint's keys met a backbone's: what was loaded, stripped, dropped, left over.

    Attributes:
        loaded: backbone keys filled from the checkpoint.
        missing: backbone keys the checkpoint lacks (BatchNorm counters excepted).
        unexpected: checkpoint keys (as stored) that match nothing in the backbone.
        dropped_head: checkpoint keys of a classifier (``fc.*``), left out on purpose.
        mismatched: (key, checkpoint shape, backbone shape) of keys whose shapes differ.
        stripped: prefix -> number of keys it was stripped from.
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dropped_head: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    stripped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: tensors loaded, prefixes stripped, head dropped, keys unexpected or missing."""
        parts = [f"{len(self.loaded)} tensors loaded"]
        if self.stripped:
            parts.append("stripped " + ", ".join(f"{p!r} from {n}" for p, n in self.stripped.items()))
        if self.dropped_head:
            parts.append(f"classifier dropped ({', '.join(self.dropped_head)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (unused): {_some(self.unexpected)}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing: {_some(self.missing)}")
        return "; ".join(parts)


def _some(keys: list[str], count: int = 8) -> str:
    return ", ".join(keys[:count]) + (f", ... ({len(keys) - count} more)" if len(keys) > count else "")


def map_keys(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], KeyReport]:
    """Rename a checkpoint's keys to a backbone's and report what matched.

    A key that is not one of ``expected`` loses ``WRAPPER_PREFIXES`` from its front, one at a
    time, until it matches or none is left; a key that then starts with ``fc.`` is the
    classifier (dropped), any other unmatched key is unexpected.

    Args:
        state: the checkpoint's tensors (``read_state_dict``).
        expected: the backbone's state dict (its keys and shapes).

    Returns:
        (tensors under the backbone's names whose shapes match, the report).

    Raises:
        ConfigError: if two checkpoint keys map to the same backbone key.
    """
    report, mapped = KeyReport(), {}
    origin: dict[str, str] = {}  # backbone key -> the checkpoint key that named it
    for key, tensor in state.items():
        name, stripped = key, []
        while name not in expected and name.startswith(WRAPPER_PREFIXES):
            prefix = next(p for p in WRAPPER_PREFIXES if name.startswith(p))
            stripped.append(prefix)
            name = name[len(prefix) :]
        if name not in expected:
            (report.dropped_head if name.startswith(HEAD_PREFIX) else report.unexpected).append(key)
            continue
        if name in origin:
            raise ConfigError(
                f"checkpoint keys {origin[name]!r} and {key!r} both name the backbone's {name!r}",
                hint="save the state dict of the one network you want evaluated",
            )
        for prefix in stripped:
            report.stripped[prefix] = report.stripped.get(prefix, 0) + 1
        origin[name] = key
        if tuple(tensor.shape) != tuple(expected[name].shape):
            report.mismatched.append((name, tuple(tensor.shape), tuple(expected[name].shape)))
            continue
        mapped[name] = tensor
        report.loaded.append(name)
    report.missing = [
        k
        for k in expected
        if k not in mapped and not k.endswith(_BENIGN_MISSING) and k not in {m[0] for m in report.mismatched}
    ]
    return mapped, report


def load_checkpoint(
    model: nn.Module, path: str | os.PathLike, name: str = "the backbone", source: str | None = None
) -> KeyReport:
    """Load the checkpoint at ``path`` into ``model`` (a backbone without classifier), in place.

    Args:
        model: the backbone to fill.
        path: a state-dict file (module docstring).
        name: how to call the backbone in messages (e.g. ``"r3d_18 at width 1.0"``).
        source: the ``file_source`` the caller expects; the file's own is checked against it.

    Returns:
        the ``KeyReport`` (also logged).

    Raises:
        ConfigError: if the file changed since ``source`` was taken, cannot be read, matches no
            key of ``model``, has tensors of other shapes (another backbone or width), or lacks
            some of the backbone's tensors.
    """
    if source is not None and file_source(path) != source:
        raise ConfigError(
            f"{path} is no longer the checkpoint {source}: its sha256 now begins {checkpoint_digest(path)[:16]}",
            hint="make the evaluation config again from the file (EvalConfig.for_profile(..., "
            "checkpoint=PATH) or --checkpoint PATH): a new file is a new source",
        )
    expected = model.state_dict()
    mapped, report = map_keys(read_state_dict(path), expected)
    if report.mismatched:
        key, found, wanted = report.mismatched[0]
        raise ConfigError(
            f"{path} does not fit {name}: {len(report.mismatched)} tensors have other shapes, e.g. "
            f"{key} is {list(found)} in the file, {list(wanted)} in the backbone",
            hint="check the backbone and its width (torchvision's weights are width 1.0: --set width=1.0)",
        )
    if not report.loaded:
        raise ConfigError(
            f"none of the {len(report.unexpected)} tensors of {path} matches a key of {name} "
            f"(its keys: {_some(report.unexpected, 5)}; the backbone's: {_some(list(expected), 5)})",
            hint=f"check --backbone; keys may carry the prefixes {', '.join(WRAPPER_PREFIXES)}, "
            "other prefixes are not stripped",
        )
    if report.missing:
        raise ConfigError(
            f"{path} lacks {len(report.missing)} of the {len(expected)} tensors of {name}: "
            f"{_some(report.missing)} ({report.summary()})",
            hint="check --backbone, or save the whole backbone's state dict",
        )
    model.load_state_dict({**expected, **mapped})
    log.info("loaded %s into %s: %s", path, name, report.summary())
    if report.unexpected:
        log.warning(
            "%s: %d tensors match nothing in %s and were not used: %s",
            path,
            len(report.unexpected),
            name,
            _some(report.unexpected),
        )
    return report


def backbone_from_checkpoint(
    path: str | os.PathLike, backbone: str | None = None, width: float | None = None, **backbone_kwargs: Any
) -> nn.Module:
    """A backbone (no classifier, CPU, eval mode) holding the weights of a checkpoint file, e.g. for CKA maps.

    Args:
        path: a state-dict file (module docstring).
        backbone: the network's registered name (None: the file's ``sslvid.backbone`` metadata).
        width: channel multiplier (None: the file's metadata, else 1.0).
        **backbone_kwargs: other builder arguments (default: the file's metadata).

    Raises:
        ConfigError: if no backbone is given or recorded, or the checkpoint does not load (``load_checkpoint``).
    """
    from sslvid.backbones import create_backbone

    meta = read_metadata(path)
    backbone = backbone or meta.get("backbone")
    if backbone is None:
        raise ConfigError(f"{path} does not say which backbone it holds", hint="pass backbone=<name>, e.g. r3d_18")
    width = float(width if width is not None else meta.get("width", 1.0))
    kwargs = backbone_kwargs or json.loads(meta.get("backbone_kwargs", "{}"))
    model = create_backbone(backbone, num_classes=0, width=width, **kwargs)
    load_checkpoint(model, path, f"{backbone} at width {width:g}")
    return model.eval()
