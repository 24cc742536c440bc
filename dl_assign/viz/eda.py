"""Figures of the Fashion-MNIST EDA (`fashion.eda`)."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt


def class_distribution(balance: dict, names):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    splits = list(balance)
    width = 0.8 / len(splits)
    for i, split in enumerate(splits):
        counts = np.asarray(balance[split]["counts"], dtype=float)
        ax.bar(np.arange(len(names)) + i * width, counts / counts.sum(), width, label=split)
    ax.axhline(1 / len(names), color="k", lw=0.8, ls="--", label="uniform")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30, ha="right")
    ax.set(ylabel="share of split", title="class distribution per split")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return fig


def sample_grid(samples: np.ndarray, names):
    """``samples`` (classes, per_class, H, W) uint8."""
    plt = _plt()
    k, n = samples.shape[:2]
    fig, axes = plt.subplots(k, n, figsize=(n * 0.8, k * 0.85))
    for c in range(k):
        for j in range(n):
            ax = axes[c, j]
            ax.imshow(samples[c, j], cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(names[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("first 10 training images per class")
    fig.tight_layout()
    return fig


def brightness_contrast(brightness: list, contrast: list, names):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, values, label in ((axes[0], brightness, "brightness (image mean)"),
                              (axes[1], contrast, "contrast (image std)")):
        ax.violinplot([np.asarray(v) for v in values], showmedians=True)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=40, ha="right", fontsize=8)
        ax.set(title=label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def class_means(means: np.ndarray, names):
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(1.3 * len(names), 1.8))
    for ax, img, name in zip(axes, means, names, strict=True):
        ax.imshow(img, cmap="magma", vmin=0, vmax=1)
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.suptitle("mean image per class")
    fig.tight_layout()
    return fig


def correlation(corr: np.ndarray, summary: dict):
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    im = axes[0].imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    axes[0].set(title="784 x 784 pixel correlation (row-major pixels)", xlabel="pixel", ylabel="pixel")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    center = np.asarray(summary["center_pixel_map"])
    im2 = axes[1].imshow(center, cmap="RdBu_r", vmin=-1, vmax=1)
    axes[1].plot([center.shape[1] // 2], [center.shape[0] // 2], "k+")
    axes[1].set(title="correlation with the centre pixel")
    fig.colorbar(im2, ax=axes[1], fraction=0.046)
    dist = sorted(int(d) for d in summary["by_distance"])
    axes[2].plot(dist, [summary["by_distance"][d] for d in dist], "o-", ms=3)
    axes[2].set(xlabel="distance between pixels (grid units)", ylabel="mean correlation",
                title="correlation decays with distance")
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def anomalies(images: dict, names):
    plt = _plt()
    pairs = images["near_pairs"]
    rows = [("near-blank", list(images["near_blank"])), ("saturated", list(images["saturated"]))]
    n_cols = max(8, 2 * min(len(pairs), 4))
    fig, axes = plt.subplots(2 + max(1, (len(pairs) + 3) // 4), n_cols, figsize=(n_cols * 0.95, 5.5))
    for ax in axes.ravel():
        ax.axis("off")
    for r, (label, imgs) in enumerate(rows):
        axes[r, 0].set_title(label, fontsize=8, loc="left")
        for j, img in enumerate(imgs[:n_cols]):
            axes[r, j].imshow(img, cmap="gray_r", vmin=0, vmax=255)
    for p, (a, b, la, lb) in enumerate(pairs):
        r, j = 2 + p // 4, 2 * (p % 4)
        if r >= len(axes) or j + 1 >= n_cols:
            break
        axes[r, j].imshow(a, cmap="gray_r", vmin=0, vmax=255)
        axes[r, j + 1].imshow(b, cmap="gray_r", vmin=0, vmax=255)
        axes[r, j].set_title(f"{names[la]}", fontsize=6)
        axes[r, j + 1].set_title(f"~ {names[lb]}", fontsize=6, color="red" if la != lb else "black")
    fig.suptitle("anomalies: near-blank, saturated, near-duplicate pairs (red = label conflict)", fontsize=9)
    fig.tight_layout()
    return fig


def feature_probes(by_class: dict, probes: dict, names):
    plt = _plt()
    keys = list(by_class)
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(3.2 * (len(keys) + 1), 3.6))
    for ax, key in zip(axes[:-1], keys, strict=True):
        ax.bar(range(len(names)), by_class[key])
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(key, fontsize=9)
    ax = axes[-1]
    labels = list(probes)
    ax.bar(labels, [probes[k]["accuracy"] for k in labels], color="tab:orange")
    for i, k in enumerate(labels):
        ax.text(i, probes[k]["accuracy"] + 0.01, f"{probes[k]['accuracy']:.3f}", ha="center", fontsize=7)
    ax.set(ylim=(0, 1), title="linear classifier (LDA) test accuracy")
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    fig.suptitle("edge / texture features per class (training subsample)")
    fig.tight_layout()
    return fig


def augmentation_previews(originals: np.ndarray, previews: dict, aug: dict, names):
    plt = _plt()
    rows = ["original"] + list(previews)
    k = len(originals)
    fig, axes = plt.subplots(len(rows), k, figsize=(k * 0.85, len(rows) * 0.9))
    for r, row in enumerate(rows):
        imgs = originals if row == "original" else previews[row]
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=6)
        acc = aug["clean_accuracy"] if row == "original" else aug["accuracy"][row]
        axes[r, 0].set_ylabel(f"{row}\n{acc:.3f}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle("torchvision v2 augmentations (row label: pixel-classifier accuracy after the transform)",
                 fontsize=8)
    fig.tight_layout()
    return fig
