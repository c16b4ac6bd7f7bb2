"""The video data layer: dataset layouts, decoding, clip sampling, subsets, the clip cache
and the embedded default data. Nothing here knows about models, tasks or training."""

from sslvid.data.cache import ClipCache, prepare_cache
from sslvid.data.dataset import FailureTracker, VideoClipDataset, collate_clips
from sslvid.data.decode import VideoDecodeError, probe, read_frames
from sslvid.data.default import generate_default_data
from sslvid.data.layouts import DatasetLayoutError, list_datasets, load_index
from sslvid.data.records import UNLABELLED, VideoIndex, VideoRecord
from sslvid.data.sampling import ClipSampler
from sslvid.data.sources import list_sources, open_split
from sslvid.data.subsets import balanced_subset, nested_subsets

__all__ = [
    "UNLABELLED",
    "ClipCache",
    "ClipSampler",
    "DatasetLayoutError",
    "FailureTracker",
    "VideoClipDataset",
    "VideoDecodeError",
    "VideoIndex",
    "VideoRecord",
    "balanced_subset",
    "collate_clips",
    "generate_default_data",
    "list_datasets",
    "list_sources",
    "load_index",
    "nested_subsets",
    "open_split",
    "prepare_cache",
    "probe",
    "read_frames",
]
