"""The video data layer: dataset layouts, decoding, clip sampling, subsets, the clip cache
and the embedded default data. Nothing here knows about models, tasks or training."""

from sslvid.data.records import UNLABELLED, VideoIndex, VideoRecord
from sslvid.data.sampling import ClipSampler
from sslvid.data.subsets import balanced_subset, nested_subsets

__all__ = [
    "UNLABELLED",
    "ClipSampler",
    "VideoIndex",
    "VideoRecord",
    "balanced_subset",
    "nested_subsets",
]
