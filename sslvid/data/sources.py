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
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sslvid.data.default import DEFAULT_SETS
from sslvid.data.fingerprint import split_fingerprint
from sslvid.data.layouts import list_datasets, load_index
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


def open_split(dataset: str, split: str = "train", fold: int = 1, data_root: str | Path | None = None,
               profile: str = "micro", seed: int = 0) -> VideoIndex:
    """The ``VideoIndex`` of one split of ``dataset``.

    Args:
        dataset: a default set name (generated on first use) or a layout name.
        split: "train", "test" or "val".
        fold: official split number (UCF101 / HMDB51: 1-3).
        data_root: root of a real dataset; for a default set, an optional folder that holds
            the generated sets instead of the profile's default folder.
        profile: which size of default data to use ("smoke" uses a smaller copy).
        seed: generation seed of the default data.

    Raises:
        ValueError: unknown dataset (the message lists the valid names), or a real layout
            without ``data_root``.
    """
    if dataset in DEFAULT_SETS:
        root = Path(data_root) if data_root else ensure_default_data(profile, seed)
        return load_index(DEFAULT_SETS[dataset].layout, root / dataset, split=split, fold=fold)
    if dataset not in list_datasets():
        raise ValueError(f"unknown dataset {dataset!r}; valid names: {', '.join(list_sources())}")
    if data_root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root: the folder of your copy (layouts: data/README.md)")
    return load_index(dataset, data_root, split=split, fold=fold)


def data_fingerprints(dataset: str, splits: Sequence[str], fold: int = 1,
                      data_root: str | Path | None = None) -> dict[str, str] | None:
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
    if dataset in DEFAULT_SETS:
        layout, root = DEFAULT_SETS[dataset].layout, Path(data_root) / dataset
    else:
        layout, root = dataset, Path(data_root)
    return {split: split_fingerprint(layout, root, split, fold) for split in dict.fromkeys(splits)}
