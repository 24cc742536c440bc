"""Figures of the Fashion-MNIST CNN family: prediction gallery, study bars, per-layer statistics."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt


def prediction_gallery(images, true, pred, prob, class_names, title: str = "", cols: int = 8):
    """Test images with 'true / predicted (p)' titles; wrong predictions in red."""
    plt = _plt()
    n = len(images)
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, img, t, p, q in zip(np.ravel(axes), images, true, pred, prob, strict=False):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{class_names[t]}\n-> {class_names[p]} ({q:.2f})", fontsize=7,
                     color="black" if t == p else "crimson")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def cell_bars(labels, means, stds, ylabel: str = "test accuracy", title: str = "", groups=None):
    """One bar per study cell with its std over seeds; ``groups`` colours cells by a factor."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(labels) + 2), 3.6))
    colors = None
    if groups is not None:
        palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        order = list(dict.fromkeys(groups))
        colors = [palette[order.index(g) % len(palette)] for g in groups]
    x = np.arange(len(labels))
    ax.bar(x, means, yerr=stds, capsize=3, color=colors)
    lo = min(m - s for m, s in zip(means, stds, strict=True))
    hi = max(m + s for m, s in zip(means, stds, strict=True))
    pad = max(0.005, 0.15 * (hi - lo))
    ax.set_ylim(max(0.0, lo - pad), min(1.0, hi + pad) if hi <= 1 else hi + pad)
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def layer_stats(stats: dict[str, dict[str, list[float]]], keys=("act_std", "grad_norm"), title: str = ""):
    """Per-layer lines (x = layer) for each series name, one panel per statistic, log scale."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.4))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        for name, s in stats.items():
            values = np.asarray(s[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-12), "o-", label=name)
        ax.set_yscale("log")
        ax.set(xlabel="conv layer", ylabel=key, title=key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def lines(x, series: dict[str, tuple[list[float], list[float]]], xlabel: str, ylabel: str = "test accuracy",
          title: str = "", logx: bool = False):
    """Mean lines with a std band, one per series name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, (mean, std) in series.items():
        mean, std = np.asarray(mean, float), np.asarray(std, float)
        ax.plot(x, mean, "o-", label=name)
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
