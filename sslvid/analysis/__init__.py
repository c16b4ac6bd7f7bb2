"""Representation analysis and the book's pictures. Needs only data, the pretext tasks' parts and the backbones' face.

* ``cka``: minibatch linear CKA maps between the blocks of two networks (``cka_map``).
* ``features``: streamed feature extraction, nearest neighbours, t-SNE.
* ``saliency``: vanilla gradients and Grad-CAM per frame.
* ``pretext_views``: what each pretext task does to a video.
* ``cost``: parameters, MACs, speed, energy and CO2 of a run.
* ``figures``: every picture, each returned as a matplotlib Figure.
* ``claims``: the papers' statements checked on this build's numbers, each with a 95% interval and a
  computed verdict; one renderer for every chapter.
"""

from sslvid.analysis.cka import CKAResult, MinibatchCKA, cka_map, hsic_unbiased, linear_cka
from sslvid.analysis.embedding import extract_features, iter_clip_batches, nearest_neighbours, tsne_embedding
from sslvid.analysis.figures import (
    accuracy_curves,
    cka_heatmap,
    cka_heatmaps,
    frame_strips,
    neighbour_gallery,
    pretext_strip,
    saliency_figure,
    tsne_figure,
)
from sslvid.analysis.pretext_views import pretext_views
from sslvid.analysis.run_cost import LIGHTWEIGHT_STUDY, EnergySetting, cost_table, energy_estimate, timing_summary
from sslvid.analysis.saliency import grad_cam, vanilla_saliency

__all__ = [
    "LIGHTWEIGHT_STUDY",
    "CKAResult",
    "EnergySetting",
    "MinibatchCKA",
    "accuracy_curves",
    "cka_heatmap",
    "cka_heatmaps",
    "cka_map",
    "cost_table",
    "energy_estimate",
    "extract_features",
    "frame_strips",
    "grad_cam",
    "hsic_unbiased",
    "iter_clip_batches",
    "linear_cka",
    "nearest_neighbours",
    "neighbour_gallery",
    "pretext_strip",
    "pretext_views",
    "saliency_figure",
    "timing_summary",
    "tsne_embedding",
    "tsne_figure",
    "vanilla_saliency",
]
