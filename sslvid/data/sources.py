"""Open a split of a dataset by name, for the embedded default data and real datasets alike.

The four default sets are written in real layouts (UCF101 for the labelled sets, Kinetics-400
for the pre-training pools), so they go through the same adapters as a user's own copy:

=========================  =============  =================================================
name                       layout         what it is
=========================  =============  =================================================
``digits-appearance``      ``ucf101``     label = which digit; motion random (UCF101 analogue)
``digits-motion``          ``ucf101``     label = how it moves; digit random (SSv2 analogue)
``digits-appearance-pool`` ``kinetics400`` pre-training pool from the appearance distribution
``digits-motion-pool``     ``kinetics400`` pre-training pool from the motion distribution
=========================  =============  =================================================

Any other name is a layout of ``sslvid.data.layouts`` and needs ``data_root``.

``data_root`` means one thing everywhere (configs, the command line, ``make chapter``, the
notebooks): **the folder that holds your datasets, one sub-folder per dataset named by its
layout** (``ucf101/``, ``hmdb51/``, ``kinetics400/``, ``ssv2/``, ``diving48/``, ``folder/``),
so one ``data_root`` serves a chapter that reads several datasets. ``dataset_folder`` finds a
dataset under it; a ``data_root`` that is itself one dataset's folder is accepted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sslvid.data.default import DEFAULT_SETS
from sslvid.data.fingerprint import split_fingerprint
from sslvid.data.layouts import DatasetLayoutError, list_datasets, load_index
from sslvid.data.records import VideoIndex
from sslvid.paths import default_data_dir


def list_sources() -> list[str]:
    """Names ``open_split`` accepts: the default sets, then the real layouts."""
    return sorted(DEFAULT_SETS) + list_datasets()


def ensure_default_data(profile: str = "micro", seed: int = 0) -> Path:
    """Generate the embedded default data for ``profile`` unless present; return its root."""
    from sslvid.data.default import generate_default_data
    from sslvid.profiles import get_profile

    root = default_data_dir(profile)
    generate_default_data(root, seed=seed, scale=get_profile(profile).data_scale)
    return root


def open_split(
    dataset: str,
    split: str = "train",
    fold: int = 1,
    data_root: str | Path | None = None,
    profile: str = "micro",
    seed: int = 0,
) -> VideoIndex:
    """The ``VideoIndex`` of one split of ``dataset``.

    Args:
        dataset: a default set name (generated on first use) or a layout name.
        split: "train", "test" or "val".
        fold: official split number (UCF101 / HMDB51: 1-3).
        data_root: the folder that holds one sub-folder per dataset (``<data_root>/<dataset>``);
            for a default set, optional (default: the profile's generated data).
        profile: which size of default data to use ("smoke" uses a smaller copy).
        seed: generation seed of the default data.

    Raises:
        ValueError: unknown dataset (the message lists the valid names).
        DatasetLayoutError: a real layout without ``data_root``, or a dataset not found under it
            (the message names the folders looked in and the one expected).
    """
    if dataset in DEFAULT_SETS:
        root = Path(data_root) if data_root else ensure_default_data(profile, seed)
        return load_index(DEFAULT_SETS[dataset].layout, root / dataset, split=split, fold=fold)
    if dataset not in list_datasets():
        raise ValueError(f"unknown dataset {dataset!r}; valid names: {', '.join(list_sources())}")
    if data_root is None:
        raise DatasetLayoutError(f"dataset {dataset!r} needs data_root", hint=DATA_ROOT_HINT.format(dataset=dataset))
    layout, folder = dataset_folder(dataset, data_root)
    if folder != Path(data_root).expanduser():
        return load_index(layout, folder, split=split, fold=fold)
    return _open_in_place(dataset, folder, split, fold)


def dataset_folder(dataset: str, data_root: str | Path) -> tuple[str, Path]:
    """``(layout, folder)`` of ``dataset`` under ``data_root``: ``<data_root>/<dataset>``, or
    ``data_root`` itself when it has no such sub-folder (a data_root that is the dataset's folder)."""
    root = Path(data_root).expanduser()
    if dataset in DEFAULT_SETS:
        return DEFAULT_SETS[dataset].layout, root / dataset
    return dataset, root / dataset if (root / dataset).is_dir() else root


DATA_ROOT_HINT = (
    "data_root is the folder that holds one sub-folder per dataset, named by its layout "
    "(ucf101/, hmdb51/, kinetics400/, ssv2/, diving48/, folder/): e.g. --data-root /datasets "
    "with your copy in /datasets/{dataset}/ (a link works: ln -s /path/to/your/copy "
    "/datasets/{dataset}); see data/README.md"
)


def _open_in_place(dataset: str, root: Path, split: str, fold: int) -> VideoIndex:
    """``root`` itself as the dataset's folder; an error naming both places looked in when it is not."""
    if not root.is_dir():
        raise DatasetLayoutError(
            f"{dataset}: data_root {root} is not a folder", hint=DATA_ROOT_HINT.format(dataset=dataset)
        )
    try:
        return load_index(dataset, root, split=split, fold=fold)
    except DatasetLayoutError as err:
        found = sorted(p.name + "/" for p in root.iterdir() if p.is_dir())[:8]
        raise DatasetLayoutError(
            f"{dataset}: not found under data_root {root}: expected the folder {root / dataset}/ "
            f"(sub-folders there: {', '.join(found) or 'none'}), or {root} itself in the {dataset} layout "
            f"({str(err).split('. See ')[0]})",
            hint=DATA_ROOT_HINT.format(dataset=dataset),
        ) from None


def data_fingerprints(
    dataset: str, splits: Sequence[str], fold: int = 1, data_root: str | Path | None = None
) -> dict[str, str] | None:
    """Per split, the fingerprint of the videos ``open_split`` reads (``sslvid.data.fingerprint``).

    None without ``data_root``: a default set is then generated deterministically from its seed
    and the profile's scale, which name it exactly, and a real layout cannot be opened at all (no
    run can exist). A default set under ``data_root`` is a folder like any other.

    Args:
        dataset: a default set name or a layout name.
        splits: the splits read ("train", "test"...).
        fold: official split number.
        data_root: as in ``open_split``.

    Returns:
        ``{split: 16 hex digits}``, or None (above).

    Raises:
        ValueError: for an unknown dataset, split or fold.
        DatasetLayoutError: when the dataset is not where ``data_root`` says.
    """
    if data_root is None:
        return None
    layout, root = dataset_folder(dataset, data_root)
    if dataset not in DEFAULT_SETS and root == Path(data_root).expanduser():
        _open_in_place(dataset, root, splits[0], fold)  # the clear error when the dataset is not there
    return {split: split_fingerprint(layout, root, split, fold) for split in dict.fromkeys(splits)}
