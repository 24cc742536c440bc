"""Figures for the NumPy MLP: the layers x dropout x activation study and the time profile."""

from __future__ import annotations

from dl_assign.viz import _plt


def study_grid(cells: dict[tuple[str, int, float], tuple[float, float]], activations, depths, dropouts,
               title: str = "", ylabel: str = "validation accuracy"):
    """One panel per dropout rate: accuracy (mean ± std over seeds) against depth, a line per activation."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(dropouts), figsize=(4.6 * len(dropouts), 3.6), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], dropouts, strict=True):
        for act in activations:
            means = [cells[(act, d, p)][0] for d in depths]
            stds = [cells[(act, d, p)][1] for d in depths]
            ax.errorbar(list(depths), means, yerr=stds, marker="o", capsize=3, label=act)
        ax.set(xlabel="hidden layers", title=f"dropout {p:g}", xticks=list(depths))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def time_profile(fractions: dict[str, float], title: str = ""):
    """Horizontal bars: share of a NumPy training step spent in each kind of operation."""
    plt = _plt()
    items = sorted(fractions.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [100 * v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(100 * v + 0.5, i, f"{100 * v:.1f}%", va="center", fontsize=8)
    ax.set(xlabel="% of training-step time", title=title or "where a NumPy training step spends its time")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
