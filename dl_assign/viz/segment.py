"""Figures for unsupervised segmentation: image | segment map | overlay galleries, scores against K and layer."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt, finish

NOISE_COLOUR = np.array([0, 0, 0], dtype=np.float64)  # DBSCAN noise: black


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """(H, W) int labels -> (H, W, 3) float RGB in [0, 1]: tab10/tab20 colours, noise (-1) black."""
    from matplotlib import colormaps

    cmap = colormaps["tab20" if labels.max(initial=0) >= 10 else "tab10"]
    rgb = np.asarray(cmap(np.maximum(labels, 0) % cmap.N))[..., :3]
    rgb[labels < 0] = NOISE_COLOUR
    return rgb


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    return np.clip((1 - alpha) * image.astype(np.float64) / 255.0 + alpha * colour_labels(labels), 0, 1)


def gallery(rows: list[dict], methods: list[str], title: str = ""):
    """One row per photo: the image, then a segment map and an overlay per method.

    ``rows``: ``{"name", "image" (H, W, 3) uint8, "labels": {method: (H, W)}, "notes": {method: str}}``.
    """
    plt = _plt()
    cols = 1 + 2 * len(methods)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.7 * cols, 1.75 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_title(row["name"], fontsize=7)
        for m, method in enumerate(methods):
            labels = row["labels"][method]
            axes[r, 1 + 2 * m].imshow(colour_labels(labels), interpolation="nearest")
            axes[r, 2 + 2 * m].imshow(overlay(row["image"], labels))
            note = row.get("notes", {}).get(method, "")
            axes[r, 1 + 2 * m].set_title(f"{method}\n{note}", fontsize=6)
            axes[r, 2 + 2 * m].set_title("overlay", fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def against_k(curves: dict[str, dict[str, dict[int, tuple[float, float]]]], title: str = "",
              whole_image: float | None = None):
    """Silhouette and box IoU against K: ``curves[arm][metric][K] = (mean, s.e.m.)``, one line per arm;
    ``whole_image``: the box IoU of the whole image as foreground (a dashed line)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric, label in zip(axes, ("silhouette", "box_iou"), ("silhouette", "box IoU (best union)")):
        for arm, per in curves.items():
            if metric not in per:
                continue
            ks = sorted(per[metric])
            mean = np.array([per[metric][k][0] for k in ks])
            std = np.array([per[metric][k][1] for k in ks])
            ax.plot(ks, mean, marker="o", ms=3, label=arm)
            ax.fill_between(ks, mean - std, mean + std, alpha=0.12)
        if metric == "box_iou" and whole_image is not None:
            ax.axhline(whole_image, color="grey", ls="--", lw=1, label="whole image")
        ax.set(xlabel="K (clusters)", ylabel=label, title=f"{label} against K (± s.e.m.)")
    return finish(fig, axes, title)


def against_layer(values: dict[str, dict[str, tuple[float, float]]], layers: list[str], title: str = ""):
    """Bars per layer: ``values[metric][layer] = (mean, std)`` for silhouette, box IoU and mosaic ARI."""
    plt = _plt()
    metrics = list(values)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        means = [values[metric].get(layer, (np.nan, 0))[0] for layer in layers]
        stds = [values[metric].get(layer, (np.nan, 0))[1] for layer in layers]
        ax.bar(range(len(layers)), means, yerr=stds, capsize=3, color="tab:blue", alpha=0.8, label=metric)
        ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", fontsize=7)
        ax.set(title=metric)
    return finish(fig, axes[0], title)
