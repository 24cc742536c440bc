"""Figures of the ``imagenet.*`` experiments: study factors, misclassification gallery, occlusion maps."""

from __future__ import annotations

import math

import numpy as np

from dl_assign.viz import _plt


def _hwc(img) -> np.ndarray:
    """uint8 (3, H, W) tensor/array -> (H, W, 3) array."""
    arr = np.asarray(img)
    return arr.transpose(1, 2, 0) if arr.ndim == 3 and arr.shape[0] == 3 else arr


def _box(ax, box, color="lime") -> None:
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = (float(v) for v in box)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=color, lw=1.5))


def factor_plots(series: dict[str, list[tuple[str, float, float, float]]], title: str = ""):
    """One panel per factor: validation top-1 (mean ± std) of the base and each level, MFLOPs annotated."""
    plt = _plt()
    n = len(series)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, (factor, points) in zip(axes.flat, series.items()):
        labels = [p[0] for p in points]
        x = np.arange(len(points))
        ax.errorbar(x, [p[1] for p in points], yerr=[p[2] for p in points], fmt="o-", capsize=4)
        for xi, p in zip(x, points):
            ax.annotate(f"{p[3]:.3g} MFLOP", (xi, p[1]), textcoords="offset points", xytext=(0, 8), ha="center",
                        fontsize=7)
        ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=7)
        ax.set_title(factor)
        ax.set_ylabel("val top-1")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gallery(images, titles: list[str], boxes=None, cols: int = 4, title: str = ""):
    """uint8 (N, 3, H, W) images in a grid with a caption each (and their boxes)."""
    plt = _plt()
    n = max(1, len(titles))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 3.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(titles):
            continue
        ax.imshow(_hwc(images[k]), interpolation="nearest")
        if boxes is not None:
            _box(ax, boxes[k])
        ax.set_title(titles[k], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _upsample(conf: np.ndarray, size: tuple[int, int], window: int, stride: int) -> np.ndarray:
    """Each map cell painted at its window's centre pixel block, for overlaying on the image."""
    h, w = size
    out = np.full((h, w), np.nan)
    n_i, n_j = conf.shape
    for i in range(n_i):
        for j in range(n_j):
            cy, cx = i * stride + window // 2, j * stride + window // 2
            out[max(0, cy - stride // 2):cy + (stride + 1) // 2, max(0, cx - stride // 2):cx + (stride + 1) // 2] = \
                conf[i, j]
    return out


def occlusion_rows(images, boxes, maps: list[np.ndarray], attributions: list[np.ndarray], captions: list[str],
                   window: int, stride: int, title: str = ""):
    """Per image: the image with its box, the confidence map p(true | window at (i, j)), the drop overlaid."""
    plt = _plt()
    n = len(maps)
    fig, axes = plt.subplots(n, 3, figsize=(8.4, 2.7 * n), squeeze=False)
    for r in range(n):
        img = _hwc(images[r])
        a0, a1, a2 = axes[r]
        a0.imshow(img, interpolation="nearest")
        if boxes is not None:
            _box(a0, boxes[r])
        a0.set_title(captions[r], fontsize=7)
        im = a1.imshow(maps[r], cmap="viridis", interpolation="nearest")  # own range: the structure shows
        a1.set_title(f"p(true) {np.nanmin(maps[r]):.2f}-{np.nanmax(maps[r]):.2f}, N={window}, stride {stride}",
                     fontsize=7)
        fig.colorbar(im, ax=a1, fraction=0.046)
        a2.imshow(img, interpolation="nearest")
        a2.imshow(np.clip(attributions[r], 0, None), cmap="magma", alpha=0.6, interpolation="bilinear")
        if boxes is not None:
            _box(a2, boxes[r])
        a2.set_title("confidence drop (overlay)", fontsize=7)
        for ax in (a0, a1, a2):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def window_sweep(images, boxes, sweeps: list[dict[int, np.ndarray]], captions: list[str], title: str = ""):
    """Rows of images, columns of window sizes: the per-pixel confidence drop for each window N."""
    plt = _plt()
    windows = sorted(sweeps[0])
    fig, axes = plt.subplots(len(sweeps), len(windows) + 1, figsize=(2.3 * (len(windows) + 1), 2.4 * len(sweeps)),
                             squeeze=False)
    for r, sweep in enumerate(sweeps):
        axes[r][0].imshow(_hwc(images[r]), interpolation="nearest")
        if boxes is not None:
            _box(axes[r][0], boxes[r])
        axes[r][0].set_title(captions[r], fontsize=7)
        for c, win in enumerate(windows, 1):
            axes[r][c].imshow(sweep[win], cmap="magma", interpolation="nearest")
            if boxes is not None:
                _box(axes[r][c], boxes[r], color="cyan")
            axes[r][c].set_title(f"N = {win}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
