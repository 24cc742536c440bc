"""Figures of `fashion.attention`: attention matrices with the images on their axes."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt


def _thumbnails(ax, images, axis: str, zoom: float) -> None:
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    for i, img in enumerate(images):
        box = OffsetImage(img, cmap="gray_r", zoom=zoom)
        xy, coords = ((i, 1.0), ("data", "axes fraction")) if axis == "x" else ((0.0, i), ("axes fraction", "data"))
        offset = (0, 16) if axis == "x" else (-16, 0)
        ab = AnnotationBbox(box, xy, xycoords=coords, xybox=offset, boxcoords="offset points", frameon=False)
        ax.add_artist(ab)


def attention_heatmaps(images: np.ndarray, matrices: dict, labels, names):
    """One heatmap per projection kind; row i = query image i, column j = key image j."""
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(1, len(matrices), figsize=(7.2 * len(matrices), 7.2))
    axes = np.atleast_1d(axes)
    for ax, (kind, matrix) in zip(axes, matrices.items(), strict=True):
        m = np.asarray(matrix)
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=max(m.max(), 1e-9))
        ax.set_xticks(range(n), [names[c] for c in labels], rotation=90, fontsize=7)
        ax.set_yticks(range(n), [""] * n)  # rows are the same images as the columns (thumbnails)
        ax.tick_params(axis="x", bottom=True, top=False, labelbottom=True)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="black" if m[i, j] > 0.6 * m.max() else "white")
        _thumbnails(ax, images, "x", zoom=0.9)
        _thumbnails(ax, images, "y", zoom=0.9)
        ax.set_title(f"attention weights, {kind} projections (row = query, column = key; rows sum to 1)",
                     pad=34, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.tight_layout()
    return fig


def method_bars(accuracies: dict[str, float]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    labels = list(accuracies)
    ax.barh(range(len(labels)), [accuracies[k] for k in labels], color="tab:blue")
    for i, k in enumerate(labels):
        ax.text(accuracies[k] + 0.01, i, f"{accuracies[k]:.3f}", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1.1), xlabel="test accuracy", title="classifying queries against a labelled gallery")
    fig.tight_layout()
    return fig
