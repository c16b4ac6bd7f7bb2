"""Dataset adapters: read a dataset's official layout on disk into a ``VideoIndex``.

Point ``root`` at your copy of a dataset, laid out as its authors distribute it, and
``load_index("ucf101", root, split="train", fold=1)`` lists its videos and labels. Adapters
read annotation files and check that videos exist; they never decode. Every layout is
described, with a tree, in ``data/README.md``.

Records are sorted by ``video_id``. Class order is the official one where a dataset defines
one (UCF101 ``classInd.txt``, SSv2 label ids, Diving48 vocabulary) and sorted names elsewhere.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sslvid.data.records import UNLABELLED, VideoIndex, VideoRecord
from sslvid.errors import UserError
from sslvid.registry import Registry

log = logging.getLogger(__name__)

DATASETS: Registry[VideoIndex] = Registry("dataset")  # builders: (root, split, fold) -> VideoIndex
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
_README = "data/README.md"


class DatasetLayoutError(UserError, FileNotFoundError):
    """A dataset root, annotation file, split file or video is not where its layout puts it."""


def list_datasets() -> list[str]:
    """Names of the registered dataset layouts, sorted."""
    return DATASETS.names()


def load_index(dataset: str, root: str | os.PathLike, split: str = "train", fold: int = 1) -> VideoIndex:
    """The videos of one split of a dataset found under ``root`` in its official layout.

    Args:
        dataset: layout name (``list_datasets()``): ucf101, hmdb51, kinetics400, ssv2,
            diving48, folder.
        root: the dataset's root folder (see ``data/README.md`` for each layout).
        split: "train", "val" or "test"; which of them a dataset has is in the error.
        fold: official split number, 1-3 for UCF101 and HMDB51, 1 elsewhere.

    Raises:
        ValueError: for an unknown dataset, split or fold (the message lists valid values),
            or a malformed annotation line.
        DatasetLayoutError: when the root, an annotation or split file, or the videos are missing.
    """
    builder = DATASETS.get(dataset)
    meta = DATASETS.meta(dataset)
    split = meta.get("aliases", {}).get(split, split)
    if split not in meta["splits"]:
        raise ValueError(f"{dataset}: unknown split {split!r}; valid: {', '.join(meta['splits'])}")
    if fold not in meta["folds"]:
        valid = ", ".join(map(str, meta["folds"]))
        raise ValueError(f"{dataset}: fold {fold!r} out of range; valid: {valid}")
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise _layout_error(dataset, [root], "dataset root")
    return builder(root=root, split=split, fold=fold)


def _index(
    dataset: str, root: Path, split: str, fold: int, classes: Sequence[str], records: Iterable[VideoRecord]
) -> VideoIndex:
    """A ``VideoIndex`` with its records sorted by ``video_id``."""
    return VideoIndex(
        dataset=dataset,
        root=root,
        split=split,
        fold=fold,
        classes=tuple(classes),
        records=tuple(sorted(records, key=lambda r: r.video_id)),
    )


# --- helpers shared by the adapters ---------------------------------------------------------


def _layout_error(layout: str, expected: Sequence[Path], what: str, note: str = "") -> DatasetLayoutError:
    """An error that names the file(s) expected, the layout, and the README."""
    listed = " or ".join(str(p) for p in expected)
    if len(expected) > 3:
        names = ", ".join(dict.fromkeys(p.name for p in expected))
        folders = ", ".join(dict.fromkeys(str(p.parent) for p in expected))
        listed = f"{expected[0]} (looked for {names} in {folders})"
    return DatasetLayoutError(
        f"{layout}: {what} not found; expected {listed}.{' ' + note if note else ''} "
        f"See {_README} (section '{layout}') for the layout."
    )


def _first_file(layout: str, candidates: Sequence[Path], what: str, note: str = "") -> Path:
    """The first existing file among ``candidates``; a ``DatasetLayoutError`` naming all of them."""
    for path in candidates:
        if path.is_file():
            return path
    raise _layout_error(layout, candidates, what, note)


def _first_dir(candidates: Sequence[Path], default: Path) -> Path:
    """The first existing folder among ``candidates``, else ``default``."""
    return next((path for path in candidates if path.is_dir()), default)


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a text file (CRLF tolerated) with their 1-based line numbers."""
    text = path.read_text(encoding="utf-8-sig")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _require_videos(layout: str, records: list[VideoRecord], where: Path) -> list[VideoRecord]:
    """``records`` unchanged if every video exists; otherwise a ``DatasetLayoutError``."""
    missing = [r.path for r in records if not r.path.is_file()]
    if missing:
        names = ", ".join(p.name for p in missing[1:4]) + (", ..." if len(missing) > 4 else "")
        more = f" Also missing: {names}."
        raise _layout_error(
            layout,
            [missing[0]],
            f"{len(missing)} of {len(records)} videos",
            f"Videos belong under {where}.{more if len(missing) > 1 else ''}",
        )
    return records


def _video_files(folder: Path) -> list[Path]:
    """Video files (``VIDEO_EXTENSIONS``, any case) directly inside ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


# --- UCF101 ---------------------------------------------------------------------------------


@DATASETS.register("ucf101", splits=("train", "test"), folds=(1, 2, 3))
def _ucf101(root: Path, split: str, fold: int) -> VideoIndex:
    """UCF101 (Soomro et al., 2012): ``ucfTrainTestlist/`` + ``UCF-101/<class>/v_*.avi``."""
    lists = _first_dir([root / "ucfTrainTestlist"], root)
    class_file = _first_file(
        "ucf101", [d / "classInd.txt" for d in dict.fromkeys((lists, root / "ucfTrainTestlist", root))], "class list"
    )
    classes = _ucf101_classes(class_file)
    name = f"{split}list{fold:02d}.txt"
    present = sorted(p.name for p in lists.glob(f"{split}list0[1-9].txt"))
    note = f"Split files present: {', '.join(present) or 'none'}."
    split_file = _first_file("ucf101", [lists / name], f"split file for fold {fold}", note)
    videos = _first_dir([root / "UCF-101"], root)
    by_name = {c.lower(): i for i, c in enumerate(classes)}
    records = [_ucf101_record(split_file, n, line, videos, classes, by_name) for n, line in _read_lines(split_file)]
    return _index("ucf101", root, split, fold, classes, _require_videos("ucf101", records, videos))


def _ucf101_classes(path: Path) -> list[str]:
    """Class names from ``classInd.txt`` ("1 ApplyEyeMakeup"), in id order."""
    pairs = []
    for n, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path}:{n}: expected '<id> <ClassName>', got {line!r}")
        pairs.append((int(parts[0]), parts[1]))
    ids = sorted(i for i, _ in pairs)
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"{path}: class ids must be 1..{len(ids)}, got {ids[:5]}...")
    return [name for _, name in sorted(pairs)]


def _ucf101_record(
    path: Path, n: int, line: str, videos: Path, classes: list[str], by_name: dict[str, int]
) -> VideoRecord:
    """One line of a train list ("Class/v_x.avi 1") or test list ("Class/v_x.avi")."""
    parts = line.split()
    rel = parts[0].replace("\\", "/")
    folder = rel.split("/")[0]
    if len(parts) == 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= len(classes):
        label = int(parts[1]) - 1
    elif len(parts) == 1 and folder.lower() in by_name:
        label = by_name[folder.lower()]
    else:
        raise ValueError(f"{path}:{n}: cannot read a video and class from {line!r}")
    return VideoRecord(videos / rel, label, rel.rsplit(".", 1)[0])


# --- HMDB51 ---------------------------------------------------------------------------------

_HMDB_SPLIT_IDS = {"train": "1", "test": "2"}


@DATASETS.register("hmdb51", splits=("train", "test"), folds=(1, 2, 3))
def _hmdb51(root: Path, split: str, fold: int) -> VideoIndex:
    """HMDB51 (Kuehne et al., 2011): ``<class>_test_split<fold>.txt`` + ``<class>/<video>.avi``."""
    suffix = f"_test_split{fold}.txt"
    folders = [root / "testTrainMulti_7030_splits", root / "splits", root]
    split_dir = next((d for d in folders if d.is_dir() and any(d.glob(f"*{suffix}"))), None)
    if split_dir is None:
        expected = [d / f"<class>{suffix}" for d in folders]
        raise _layout_error("hmdb51", expected, f"split files for fold {fold}")
    files = sorted(split_dir.glob(f"*{suffix}"))
    classes = [f.name[: -len(suffix)] for f in files]
    videos = _first_dir([root / "hmdb51_org"], root)
    records = []
    for label, (cls, split_file) in enumerate(zip(classes, files)):
        for n, line in _read_lines(split_file):
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"{split_file}:{n}: expected '<video file> <0|1|2>', got {line!r}")
            if parts[1] == _HMDB_SPLIT_IDS[split]:
                records.append(VideoRecord(videos / cls / parts[0], label, f"{cls}/{Path(parts[0]).stem}"))
    return _index("hmdb51", root, split, fold, classes, _require_videos("hmdb51", records, videos))


# --- Kinetics-400 ---------------------------------------------------------------------------

_KINETICS_SPLITS = {"train": ("train",), "val": ("validate", "val"), "test": ("test",)}
_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")
_KINETICS_HEADER = ("youtube_id", "time_start", "time_end")  # the columns required


@DATASETS.register("kinetics400", splits=("train", "val", "test"), folds=(1,), aliases={"validate": "val"})
def _kinetics400(root: Path, split: str, fold: int) -> VideoIndex:
    """Kinetics-400 (Kay et al., 2017): annotation CSVs + ``<split>/<label>/<id>_<t0>_<t1>.mp4``.

    Videos missing on disk are skipped with one warning (YouTube removes some over time).
    """
    csv_file = _first_file("kinetics400", _kinetics_csvs(root, split), f"{split} annotation CSV")
    rows = _kinetics_rows(csv_file)
    classes = _kinetics_classes(root, csv_file, rows)
    dirs = [root / name for name in dict.fromkeys((split, *_KINETICS_SPLITS[split]))]
    split_dir = _first_dir(dirs, root / split)
    if not split_dir.is_dir():
        raise _layout_error("kinetics400", dirs, f"{split} video folder")
    on_disk = _files_by_stem(split_dir)
    by_name = {c: i for i, c in enumerate(classes)}
    records = [VideoRecord(on_disk[vid], by_name.get(label, UNLABELLED), vid) for label, vid in rows if vid in on_disk]
    if not records:
        example = split_dir / "<label>" / f"{rows[0][1] if rows else '<youtube_id>_<start>_<end>'}.mp4"
        raise _layout_error("kinetics400", [example], f"all {len(rows)} videos listed in {csv_file}")
    if len(records) < len(rows):
        log.warning(
            "kinetics400 %s: %d of %d videos listed in %s are missing under %s; skipped",
            split,
            len(rows) - len(records),
            len(rows),
            csv_file,
            split_dir,
        )
    return _index("kinetics400", root, split, fold, classes, records)


def _kinetics_csvs(root: Path, split: str) -> list[Path]:
    """Where the annotation CSV of ``split`` may be, in the order tried."""
    names = []
    for name in _KINETICS_SPLITS[split]:
        names += [f"{name}.csv", f"kinetics-400_{name}.csv", f"kinetics_400_{name}.csv"]
    names = list(dict.fromkeys(names + [f"kinetics-400_{split}.csv", f"kinetics_400_{split}.csv"]))
    return [folder / name for folder in (root / "annotations", root) for name in names]


def _kinetics_rows(path: Path) -> list[tuple[str, str]]:
    """(label, video_id) per CSV row; label "" when the row (or the file) has none."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _KINETICS_HEADER if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: header lacks {missing}; expected {','.join(_KINETICS_COLUMNS)}")
        return [((row.get("label") or "").strip(), _kinetics_id(row, path, n)) for n, row in enumerate(reader, 2)]


def _kinetics_id(row: dict[str, str], path: Path, n: int) -> str:
    """``<youtube_id>_<time_start:06d>_<time_end:06d>``, the stem of the downloaded file."""
    try:
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    except (TypeError, ValueError):
        raise ValueError(f"{path}:{n}: time_start/time_end must be numbers, got {row}") from None
    return f"{row['youtube_id']}_{start:06d}_{end:06d}"


def _kinetics_classes(root: Path, csv_file: Path, rows: list[tuple[str, str]]) -> list[str]:
    """Sorted labels over every split's annotation CSV found, so splits share label ids."""
    labels = {label for label, _ in rows}
    for split in _KINETICS_SPLITS:
        path = next((p for p in _kinetics_csvs(root, split) if p.is_file()), csv_file)
        labels |= {label for label, _ in _kinetics_rows(path)} if path != csv_file else set()
    return sorted(labels - {""})


def _files_by_stem(folder: Path) -> dict[str, Path]:
    """Video files in ``folder`` and its sub-folders (one level), by file stem."""
    found: dict[str, Path] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir():
            found.update({p.stem: p for p in _video_files(Path(entry.path))})
        elif Path(entry.name).suffix.lower() in VIDEO_EXTENSIONS:
            found[Path(entry.name).stem] = Path(entry.path)
    return found


# --- Something-Something V2 -----------------------------------------------------------------

_SSV2_PREFIX = "something-something-v2-"
_SSV2_SPLIT_FILES = {"train": "train", "val": "validation", "test": "validation"}


@DATASETS.register("ssv2", splits=("train", "val", "test"), folds=(1,), aliases={"validation": "val"})
def _ssv2(root: Path, split: str, fold: int) -> VideoIndex:
    """Something-Something V2 (Goyal et al., 2017): label/split JSONs + ``<id>.webm``.

    "test" reads the validation set: the labels of the official test set are not public.
    """
    folders = [root, root / "annotations", root / "labels"]
    label_file = _first_file("ssv2", [d / f"{_SSV2_PREFIX}labels.json" for d in folders], "label file")
    split_name = f"{_SSV2_PREFIX}{_SSV2_SPLIT_FILES[split]}.json"
    split_file = _first_file("ssv2", [d / split_name for d in folders], f"{split} annotation file")
    ids = {template: int(i) for template, i in _read_json(label_file).items()}
    classes = [t for t, _ in sorted(ids.items(), key=lambda item: item[1])]
    if sorted(ids.values()) != list(range(len(ids))):
        raise ValueError(f"{label_file}: label ids must be 0..{len(ids) - 1}")
    videos = _first_dir([root / "20bn-something-something-v2"], root)
    records = [_ssv2_record(split_file, entry, ids, videos) for entry in _read_json(split_file)]
    return _index("ssv2", root, split, fold, classes, _require_videos("ssv2", records, videos))


def _ssv2_record(path: Path, entry: dict[str, Any], ids: dict[str, int], videos: Path) -> VideoRecord:
    """One entry {id, label, template, placeholders}; the class is the template without brackets."""
    template = entry["template"].replace("[", "").replace("]", "")
    if template not in ids:
        raise ValueError(f"{path}: video {entry['id']}: template {template!r} is not in the label file")
    video_id = str(entry["id"])
    return VideoRecord(videos / f"{video_id}.webm", ids[template], video_id)


# --- Diving48 -------------------------------------------------------------------------------


@DATASETS.register("diving48", splits=("train", "test"), folds=(1,))
def _diving48(root: Path, split: str, fold: int) -> VideoIndex:
    """Diving48 (Li et al., 2018), V2 annotations + ``rgb/<vid_name>.mp4``.

    Class names join the four vocabulary parts (takeoff, somersault, twist, flight) with spaces.
    The annotations' start/end frames are not used: a record covers the whole file.
    """
    folders = [root, root / "annotations"]
    vocab_file = _first_file("diving48", [d / "Diving48_vocab.json" for d in folders], "vocabulary")
    split_name = f"Diving48_V2_{split}.json"
    split_file = _first_file("diving48", [d / split_name for d in folders], f"{split} annotation file")
    classes = [" ".join(map(str, parts)) for parts in _read_json(vocab_file)]
    videos = _first_dir([root / "rgb"], root)
    records = []
    for entry in _read_json(split_file):
        label = int(entry["label"])
        if not 0 <= label < len(classes):
            raise ValueError(f"{split_file}: video {entry['vid_name']}: label {label} not in 0..{len(classes) - 1}")
        records.append(VideoRecord(videos / f"{entry['vid_name']}.mp4", label, str(entry["vid_name"])))
    return _index("diving48", root, split, fold, classes, _require_videos("diving48", records, videos))


# --- generic folder -------------------------------------------------------------------------

_FOLDER_SPLITS = ("train", "val", "test")


@DATASETS.register("folder", splits=_FOLDER_SPLITS, folds=(1,))
def _folder(root: Path, split: str, fold: int) -> VideoIndex:
    """Any dataset laid out as ``<root>/<split>/<class>/<video>``.

    Classes are the sorted class folders over all split folders present, so splits share ids.
    """
    split_dir = root / split
    if not split_dir.is_dir():
        raise _layout_error("folder", [split_dir / "<class>" / "<video>"], f"{split} folder")
    class_dirs = _subdirs(root / s for s in _FOLDER_SPLITS)
    classes = sorted(class_dirs)
    records = [
        VideoRecord(path, label, f"{cls}/{path.stem}")
        for label, cls in enumerate(classes)
        if (split_dir / cls).is_dir()
        for path in _video_files(split_dir / cls)
    ]
    if not records:
        raise _layout_error(
            "folder", [split_dir / "<class>" / f"<video>{{{','.join(VIDEO_EXTENSIONS)}}}"], f"videos of split {split!r}"
        )
    return _index("folder", root, split, fold, classes, records)


def _subdirs(folders: Iterable[Path]) -> set[str]:
    """Names of the sub-folders of every existing folder in ``folders``."""
    return {p.name for folder in folders if folder.is_dir() for p in folder.iterdir() if p.is_dir()}
