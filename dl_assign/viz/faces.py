"""Figures of the gender-recognition experiments: ROC curves and 2x2 confusion matrices."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt, finish


def _roc_axes(ax, curves: dict[str, dict], title: str) -> None:
    for label, c in curves.items():
        ax.plot(c["fpr"], c["tpr"], label=label)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set(xlabel="false positive rate (1 - specificity)", ylabel="true positive rate (sensitivity)", title=title,
           xlim=(0, 1), ylim=(0, 1.01))


def roc(curves: dict[str, dict], title: str = ""):
    """One ROC panel, one line per ``{label: {"fpr", "tpr"}}``."""
    fig, ax = _plt().subplots(figsize=(4.8, 4.4))
    _roc_axes(ax, curves, "ROC")
    return finish(fig, [ax], title)


def roc_panels(panels: dict[str, dict[str, dict]], title: str = ""):
    """One ROC panel per ``{panel title: {label: curve}}`` (e.g. per split, a line per model)."""
    fig, axes = _plt().subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items()):
        _roc_axes(ax, curves, name)
    return finish(fig, list(axes[0]), title)


def confusions(matrices: dict[str, list], title: str = "", labels=("male", "female")):
    """2x2 confusion matrices ``{panel: [[TN, FP], [FN, TP]]}``: counts, shaded by row share."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.3 * len(matrices), 3.2), squeeze=False)
    for ax, (name, m) in zip(axes[0], matrices.items()):
        m = np.asarray(m, dtype=float)
        norm = m / np.maximum(1, m.sum(1, keepdims=True))
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{int(m[i, j])}\n{norm[i, j]:.1%}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks([0, 1], labels)
        ax.set_yticks([0, 1], labels)
        ax.set(xlabel="predicted", ylabel="true", title=name)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
