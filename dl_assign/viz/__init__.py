"""matplotlib figures, called by experiments, never by models. Headless (Agg) always."""

from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(fig, axes, title: str = ""):
    """Grid and legend on every panel, the figure's title, a tight layout; returns ``fig``."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path) -> None:
    """Save atomically (temp name then rename) and close the figure."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _plt().close(fig)


def curves(histories: list[list[dict]], labels: list[str], keys=("train_loss", "val_loss"),
           acc_keys=("train_acc", "val_acc"), title: str = ""):
    """Loss and accuracy per epoch, one line per history (e.g. per seed)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for hist, label in zip(histories, labels):
        epochs = [row["epoch"] for row in hist]
        for key, style in zip(keys, ("-", "--")):
            if hist and key in hist[0]:
                axes[0].plot(epochs, [row[key] for row in hist], style, label=f"{key} {label}")
        for key, style in zip(acc_keys, ("-", "--")):
            if hist and key in hist[0]:
                axes[1].plot(epochs, [row[key] for row in hist], style, label=f"{key} {label}")
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    return finish(fig, axes, title)


def confusion(matrix, class_names, title: str = "confusion matrix (test)"):
    """Row-normalised confusion matrix with counts in the cells."""
    import numpy as np

    plt = _plt()
    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(1, m.sum(1, keepdims=True))
    size = max(5, 0.5 * len(class_names))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if len(class_names) <= 20:
        for i in range(len(m)):
            for j in range(len(m)):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
