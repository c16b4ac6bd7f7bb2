"""Figures the book shows. Each function returns a matplotlib Figure; notebooks only call them.

Frame strips, pretext-task strips, CKA maps, t-SNE, neighbour galleries, saliency overlays
and accuracy-against-epochs curves. The numbers come from ``sslvid.analysis`` (``cka``,
``features``, ``saliency``, ``pretext_views``); nothing here trains or sets a global style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from sslvid.analysis.cka import CKAResult
from sslvid.analysis.embedding import to_display_frames, tsne_embedding
from sslvid.analysis.pretext_views import QUESTIONS, pretext_views
from sslvid.pretext.base import PretextTask


def frame_strips(
    clips: Sequence[np.ndarray],
    labels: Sequence[str],
    max_frames: int = 8,
    title: str | None = None,
    frame_inches: float = 0.9,
) -> Figure:
    """One row of frames per clip, the clip's label at the left.

    Args:
        clips: uint8 arrays (T, H, W, 3); clips longer than ``max_frames`` are shown at
            ``max_frames`` evenly spaced frames.
        labels: one text per clip.
        max_frames: most frames per row.
        title: figure title.

    Raises:
        ValueError: if ``clips`` is empty or ``labels`` does not match it.
    """
    if not clips or len(clips) != len(labels):
        raise ValueError(f"need one label per clip; got {len(clips)} clips and {len(labels)} labels")
    cols = min(max_frames, max(len(c) for c in clips))
    fig, axes = plt.subplots(
        len(clips), cols, figsize=(frame_inches * cols + 1.2, frame_inches * len(clips)), squeeze=False
    )
    for row, (clip, label) in enumerate(zip(clips, labels)):
        picks = np.round(np.linspace(0, len(clip) - 1, min(cols, len(clip)))).astype(int)
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            if col < len(picks):
                ax.imshow(clip[picks[col]])
            if row == 0 and col < len(picks):
                ax.set_title(f"t={picks[col]}", fontsize=7)
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- CKA maps


def cka_heatmap(
    result: CKAResult,
    title: str | None = None,
    ax: Axes | None = None,
    cmap: str = "magma",
    vmin: float = 0.0,
    vmax: float = 1.0,
    colorbar: bool = True,
) -> Figure:
    """A CKA map in the papers' style: layers on both axes, origin lower-left, a colour bar.

    As Kornblith et al. (2019, Fig. 2) and Nguyen et al. (2021, Fig. 1), whose maps the
    benchmark paper's Figures 1-3 follow: rows (y) are the blocks of network A from the
    input at the bottom, columns (x) those of network B from the left; block names are the
    ticks.

    Args:
        result: a ``CKAResult`` (``matrix`` ``(L_a, L_b)``, ``layers_a``, ``layers_b``).
        title: axes title.
        ax: draw into these axes (default: a new figure).
        cmap: colour map.
        vmin, vmax: colour range (unbiased CKA can dip slightly below 0; those cells show as 0).
        colorbar: add a colour bar.
    """
    fig, ax = _figure_and_axes(ax, (1.0 + 0.45 * len(result.layers_b), 0.8 + 0.4 * len(result.layers_a)))
    image = ax.imshow(
        result.matrix, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest"
    )
    ax.set_xticks(range(len(result.layers_b)), result.layers_b, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(result.layers_a)), result.layers_a, fontsize=7)
    ax.set_xlabel("network B block")
    ax.set_ylabel("network A block")
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="CKA")
    return fig


def cka_heatmaps(
    results: Sequence[CKAResult], titles: Sequence[str], cmap: str = "magma", suptitle: str | None = None
) -> Figure:
    """Several CKA maps side by side with one shared colour bar (the papers' Figures 1 and 3).

    Raises:
        ValueError: if ``results`` is empty or ``titles`` does not match it.
    """
    if not results or len(results) != len(titles):
        raise ValueError(f"need one title per map; got {len(results)} maps and {len(titles)} titles")
    fig, axes = plt.subplots(
        1, len(results), figsize=(3.2 * len(results) + 0.8, 3.4), squeeze=False, layout="constrained"
    )
    for ax, result, title in zip(axes[0], results, titles):
        cka_heatmap(result, title, ax=ax, cmap=cmap, colorbar=False)
    fig.colorbar(axes[0, 0].images[0], ax=list(axes[0]), fraction=0.02, pad=0.02, label="CKA")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- features


def tsne_figure(
    features: Tensor | np.ndarray,
    labels: Sequence[int] | np.ndarray | Tensor,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    perplexity: float = 30.0,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """t-SNE of pooled features, one colour per class (benchmark paper §4.5), seeded.

    Args:
        features: ``(N, D)`` (e.g. from ``extract_features``).
        labels: ``(N,)`` class indices (-1: unlabelled, drawn grey).
        class_names: legend text per class index (default: the index).
        seed: t-SNE random state.
        perplexity: upper bound (see ``tsne_embedding``).
        title: axes title.
        ax: draw into these axes.

    Raises:
        ValueError: if features and labels differ in length, or N < 4.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    xy = tsne_embedding(features, seed=seed, perplexity=perplexity)
    fig, ax = _figure_and_axes(ax, (5.0, 4.2))
    classes = sorted(set(labels.tolist()))
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for n, c in enumerate(classes):
        mask = labels == c
        name = "unlabelled" if c < 0 else (class_names[c] if class_names is not None else str(c))
        colour = "0.6" if c < 0 else colours(n % colours.N)
        ax.scatter(xy[mask, 0], xy[mask, 1], s=10, color=colour, label=name, alpha=0.85, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_title(title or f"t-SNE of {features.shape[1]}-d features ({len(labels)} clips)", fontsize=9)
    return fig


def neighbour_gallery(
    query: np.ndarray,
    neighbours: Sequence[np.ndarray],
    query_label: str,
    neighbour_labels: Sequence[str],
    distances: Sequence[float] | None = None,
    frames: int = 4,
    metric: str = "",
    title: str | None = None,
    frame_inches: float = 1.1,
) -> Figure:
    """A query clip beside its nearest neighbours: one column per clip, its frames top to bottom.

    The lightweight study's kNN pictures (§5.2, Fig. 4) and the benchmark's clip retrieval
    (Fig. 4) for video. Neighbours whose label equals the query's are titled in green, the
    others in red.

    Args:
        query: uint8 frames ``(T, H, W, 3)`` of the query clip.
        neighbours: uint8 clips ``(T, H, W, 3)``, nearest first (see ``nearest_neighbours``).
        query_label: class name of the query.
        neighbour_labels: class name of each neighbour.
        distances: distance of each neighbour to the query.
        frames: frames shown per clip (evenly spaced).
        metric: name of the distance, for the title.
        title: figure title.

    Raises:
        ValueError: if the labels or distances do not match the neighbours.
    """
    if len(neighbour_labels) != len(neighbours) or (distances is not None and len(distances) != len(neighbours)):
        raise ValueError("need one label (and distance) per neighbour")
    clips = [query, *neighbours]
    rows = min(frames, min(len(c) for c in clips))
    fig, axes = plt.subplots(
        rows,
        len(clips),
        figsize=(frame_inches * len(clips), frame_inches * rows + 0.9),
        squeeze=False,
        layout="constrained",
    )
    for col, clip in enumerate(clips):
        picks = np.round(np.linspace(0, len(clip) - 1, rows)).astype(int)
        for row, ax in enumerate(axes[:, col]):
            ax.imshow(clip[picks[row]])
            _bare(ax)
        if col == 0:
            axes[0, 0].set_title(f"query\n{query_label}", fontsize=6, fontweight="bold")
            continue
        label = neighbour_labels[col - 1]
        dist = f"\nd={distances[col - 1]:.3f}" if distances is not None else ""
        axes[0, col].set_title(
            f"#{col}\n{label}{dist}", fontsize=6, color="tab:green" if label == query_label else "tab:red"
        )
    fig.suptitle(
        title or f"{len(neighbours)} nearest neighbours{f' ({metric} distance)' if metric else ''}", fontsize=9
    )
    return fig


# ----------------------------------------------------------------------------- saliency


def saliency_figure(
    clip: np.ndarray | Tensor,
    gradient: np.ndarray | Tensor,
    gradcam: np.ndarray | Tensor | None = None,
    max_frames: int = 8,
    title: str | None = None,
    alpha: float = 0.5,
    frame_inches: float = 0.9,
) -> Figure:
    """A clip's frames with its per-frame saliency overlaid: vanilla gradient, then Grad-CAM.

    Rows: the frames; the vanilla-gradient map (Simonyan et al., 2014) on each frame; the
    Grad-CAM map of the last block (Selvaraju et al., 2017) if given. Each map is scaled over
    the whole clip (gradient by its 99.5th percentile, Grad-CAM by its maximum), so frames
    can be compared with each other.

    Args:
        clip: uint8 frames ``(T, H, W, 3)``, or the model input ``(3, T, H, W)`` (normalised;
            shown through ``to_display_frames``).
        gradient: ``(T, H, W)`` from ``vanilla_saliency`` (one clip).
        gradcam: ``(T, H, W)`` from ``grad_cam``, optional.
        max_frames: most frames shown (evenly spaced).
        title: figure title.
        alpha: opacity of the maps.

    Raises:
        ValueError: if the maps do not match the frames' ``(T, H, W)``.
    """
    frames = to_display_frames(clip) if isinstance(clip, Tensor) and clip.dtype != torch.uint8 else np.asarray(clip)
    maps = [("gradient", _scaled(gradient, 99.5))]
    if gradcam is not None:
        maps.append(("Grad-CAM", _scaled(gradcam, 100)))
    for name, m in maps:
        if m.shape != frames.shape[:3]:
            raise ValueError(f"{name} map {m.shape} does not match the frames {frames.shape[:3]}")
    picks = np.round(np.linspace(0, len(frames) - 1, min(max_frames, len(frames)))).astype(int)
    fig, axes = plt.subplots(
        1 + len(maps),
        len(picks),
        squeeze=False,
        figsize=(frame_inches * len(picks) + 1.0, frame_inches * (1 + len(maps)) + 0.4),
    )
    for col, t in enumerate(picks):
        axes[0, col].imshow(frames[t])
        axes[0, col].set_title(f"t={t}", fontsize=7)
        for row, (_, m) in enumerate(maps, start=1):
            axes[row, col].imshow(frames[t])
            axes[row, col].imshow(m[t], cmap="jet", alpha=alpha, vmin=0, vmax=1)
    for row, name in enumerate(["frames", *(n for n, _ in maps)]):
        for ax in axes[row]:
            _bare(ax)
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _scaled(saliency: np.ndarray | Tensor, percentile: float) -> np.ndarray:
    """A map in [0, 1]: divided by its ``percentile``-th value over the clip, clipped."""
    m = saliency.detach().cpu().numpy() if isinstance(saliency, Tensor) else np.asarray(saliency)
    top = np.percentile(m, percentile)
    return np.clip(m / top, 0, 1) if top > 0 else np.zeros_like(m, dtype=float)


# ----------------------------------------------------------------------------- curves and strips


def accuracy_curves(
    table: pd.DataFrame,
    x: str = "epoch",
    y: str = "value",
    group: str = "task",
    facet: str | None = None,
    ylabel: str = "top-1 accuracy",
    title: str | None = None,
    xlabel: str | None = None,
) -> Figure:
    """Accuracy against pre-training epochs from a tidy table, one line per group (lightweight study Fig. 2).

    Several rows for one (group, epoch) — seeds, say — are drawn as their mean with a band of
    one standard deviation. With ``facet``, one panel per value of that column (shared y).

    Args:
        table: tidy DataFrame with at least columns ``x``, ``y`` and ``group``.
        x: column of the x axis (pre-training epochs).
        y: column of the value.
        group: column that splits lines (e.g. task, backbone).
        facet: optional column that splits panels.
        ylabel: y-axis label.
        xlabel: x-axis label (default: "pre-training epochs" for ``x="epoch"``, else the column's name).
        title: figure title.

    Raises:
        ValueError: if a column is missing or the table is empty.
    """
    missing = [c for c in (x, y, group, facet) if c is not None and c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"table is empty or lacks columns {missing}; has {list(table.columns)}")
    panels = sorted(table[facet].unique()) if facet else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 1.4, 3.0), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        part = table if panel is None else table[table[facet] == panel]
        for name, rows in part.groupby(group, sort=True):
            stats = rows.groupby(x)[y].agg(["mean", "std", "count"]).sort_index()
            (line,) = ax.plot(stats.index, stats["mean"], marker="o", markersize=3, label=str(name))
            if (stats["count"] > 1).any():
                spread = stats["std"].fillna(0)
                ax.fill_between(
                    stats.index,
                    stats["mean"] - spread,
                    stats["mean"] + spread,
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set_xlabel(xlabel or (f"pre-training {x}s" if x == "epoch" else x))
        ax.grid(alpha=0.3)
        if panel is not None:
            ax.set_title(f"{facet} = {panel}", fontsize=9)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(
        title=group, fontsize=7, title_fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def hit_at_k_curves(
    hits: pd.DataFrame,
    panels: Sequence[str],
    titles: Mapping[str, str] | None = None,
    chance: Mapping[str, float] | None = None,
    panel: str = "target_kind",
) -> Figure:
    """Top-k retrieval curves (benchmark paper §5.1, Figure 4): hit@k (%) against k on a log axis, one panel
    per value of column ``panel`` (those of ``panels`` present, in that order).

    Args:
        hits: rows with ``k``, ``hit`` and ``curve`` (a line's label), optionally ``color`` and ``linestyle``.
        titles: panel value -> title (default "<value> target").
        chance: panel value -> chance level (%), drawn as a dotted line.
    """
    shown = [name for name in panels if name in set(hits[panel])]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.3 * len(shown) + 1.3, 3.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], shown):
        part = hits[hits[panel] == name]
        for label, rows in part.groupby("curve", sort=False):
            rows = rows.sort_values("k")
            style = {key: rows[key].iloc[0] for key in ("color", "linestyle") if key in rows}
            ax.plot(rows["k"], rows["hit"], marker="o", markersize=3, label=label, **style)
        if chance and name in chance:
            ax.axhline(chance[name], color="grey", lw=0.8, ls=":", label="chance (k=1)")
        ks = sorted(set(part["k"]))
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("k (nearest training items)")
        ax.set_title((titles or {}).get(name, f"{name} target"), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("hit@k (%)")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def pretext_strip(
    task: PretextTask | str,
    video: np.ndarray,
    seed: int = 0,
    max_frames: int = 8,
    title: str | None = None,
    **task_kwargs: Any,
) -> Figure:
    """Frame strips of a video before and after a pretext task's transformation (what the task asks).

    Rows come from ``sslvid.analysis.pretext_views.pretext_views`` (the task's own sampler and
    transformation functions); the title is the task's question.

    Args:
        task: a built task or a registered name (then built with ``task_kwargs``, e.g.
            ``frames=8, crop_size=32``).
        video: uint8 frames ``(F, H, W, 3)``.
        seed: seeds the clip positions and augmentations.
        max_frames: most frames per row.
        title: figure title (default: the task's question).

    Raises:
        ValueError: for an unknown task or a malformed video.
    """
    views = pretext_views(task, video, seed=seed, **task_kwargs)
    name = task if isinstance(task, str) else task.name
    return frame_strips(
        [c for _, c in views],
        [label for label, _ in views],
        max_frames=max_frames,
        title=title or QUESTIONS.get(name, name),
    )


def _figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return cast(Figure, ax.figure), ax  # a subfigure, when the caller's axes lie on one, draws alike
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_frame_on(False)


# ----------------------------------------------------------------------------- the book's pages


def show_figure(fig: Figure | Sequence[Figure] | None, name: str, missing: str = "Not available in this run.") -> None:
    """Show ``fig`` as the numbered figure ``name`` of a chapter page, and close it.

    The figure is glued under ``name`` (MyST-NB ``glue``); a markdown cell after the code cell places
    it with a caption that says what the axes are and what to look for::

        ```{glue:figure} fig-02-cka
        :name: fig-02-cka

        Linear CKA between ... x: ..., y: .... Look for ...
        ```

    and the text refers to it as ``{numref}`fig-02-cka```. When the chapter is executed for the
    book (``BOOK_PAGE_ENV`` set) the figure appears only there, with its number and caption; in
    JupyterLab, Colab or under nbval it is also shown under the cell. Several figures (a list) are
    stacked into one picture, top to bottom; ``None`` (or an empty list) glues the ``missing`` text
    instead, so the page's reference still resolves.
    """
    from IPython.display import Markdown, display

    items: Sequence[Figure | None] = list(fig) if isinstance(fig, (list, tuple)) else [fig]  # type: ignore[list-item]
    figures: list[Figure] = [f for f in items if isinstance(f, Figure)]
    shown: Any = Markdown(f"*{missing}*") if not figures else figures[0] if len(figures) == 1 else _stacked(figures)
    try:
        from myst_nb import glue
    except ImportError:  # the book's tools are not installed (e.g. Colab without the [book] extra)
        display(shown)
    else:
        import os

        from sslvid.progress import BOOK_PAGE_ENV

        glue(name, shown, display=not os.environ.get(BOOK_PAGE_ENV))
    for f in figures:
        plt.close(f)


def _stacked(figures: Sequence[Figure], dpi: int = 100) -> Any:
    """Several figures as one PNG (``IPython.display.Image``), top to bottom, centred."""
    import io

    from IPython.display import Image
    from PIL import Image as PILImage

    pictures = []
    for figure in figures:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
        pictures.append(PILImage.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    width = max(p.width for p in pictures)
    canvas = PILImage.new("RGB", (width, sum(p.height for p in pictures)), "white")
    top = 0
    for picture in pictures:
        canvas.paste(picture, ((width - picture.width) // 2, top))
        top += picture.height
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return Image(data=out.getvalue(), format="png")
