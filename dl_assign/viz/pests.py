"""Figures of the pests models side by side: learning curves, confusion matrices, per-class F1, reliability."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt, finish


def curves(histories: dict[str, list[dict]], title: str = ""):
    """Loss (train solid, validation dashed) and accuracy per epoch, one colour per model."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, hist) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in hist]
        colour = palette[i % len(palette)]
        for ax, (train_key, val_key) in zip(axes, (("train_loss", "val_loss"), ("train_acc", "val_acc"))):
            for key, style in ((train_key, "-"), (val_key, "--")):
                if hist and key in hist[0]:
                    ax.plot(epochs, [row[key] for row in hist], style, color=colour,
                            label=f"{label} {key.split('_')[0]}")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss (train: with smoothing/dropout)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    return finish(fig, axes, title)


def confusions(matrices: dict[str, list], class_names, title: str = ""):
    """Row-normalised test confusion matrices, one panel per model."""
    plt = _plt()
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 5.0), squeeze=False)
    for ax, (label, matrix) in zip(axes[0], matrices.items()):
        m = np.asarray(matrix, dtype=float)
        norm = m / np.maximum(1, m.sum(1, keepdims=True))
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(class_names)), class_names, rotation=70, ha="right", fontsize=6)
        ax.set_yticks(range(len(class_names)), class_names, fontsize=6)
        acc = np.trace(m) / max(1, m.sum())
        ax.set(xlabel="predicted", ylabel="true", title=f"{label} (accuracy {acc:.3f})")
        if len(class_names) <= 20:
            for i in range(len(m)):
                for j in range(len(m)):
                    if m[i, j]:
                        ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=5,
                                color="white" if norm[i, j] > 0.5 else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_bars(scores: dict[str, list[float]], class_names, ylabel: str = "test F1", title: str = ""):
    """Grouped bars: one group per class, one bar per model."""
    plt = _plt()
    n = len(scores)
    x = np.arange(len(class_names))
    width = 0.8 / max(1, n)
    fig, ax = plt.subplots(figsize=(max(7, 0.25 * len(class_names) * max(1, n) + 2), 3.8))
    for i, (label, values) in enumerate(scores.items()):
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=label)
    ax.set_xticks(x, class_names, rotation=40, ha="right", fontsize=8)
    ax.set(ylabel=ylabel, ylim=(0, 1.05), title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=n)
    fig.tight_layout()
    return fig


def reliability(diagrams: dict[str, dict], title: str = ""):
    """Reliability diagrams: per confidence bin, accuracy (bars) against the diagonal; ECE in the title.

    ``diagrams``: label -> ``{"bins": [{lower, upper, count, accuracy, confidence}], "ece": float}``.
    """
    plt = _plt()
    n = len(diagrams)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.8), squeeze=False)
    for ax, (label, d) in zip(axes[0], diagrams.items()):
        bins = [b for b in d["bins"] if b["count"]]
        lower = [b["lower"] for b in bins]
        widths = [b["upper"] - b["lower"] for b in bins]
        ax.bar(lower, [b["accuracy"] for b in bins], widths, align="edge", edgecolor="black", alpha=0.75,
               label="accuracy")
        ax.bar(lower, [b["confidence"] - b["accuracy"] for b in bins], widths, bottom=[b["accuracy"] for b in bins],
               align="edge", color="crimson", alpha=0.3, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{label}\nECE {d['ece']:.3f}")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
