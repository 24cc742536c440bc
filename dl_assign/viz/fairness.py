"""Figures of the fairness analysis: per-group rates with 95 % interval whiskers, and accuracy vs gap."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt, finish

RATE_LABEL = {"tpr": "TPR (female recall)", "fpr": "FPR (male called female)", "selection_rate": "selection rate",
              "accuracy": "accuracy"}


def group_bars(analyses: dict[str, dict], rates=("tpr", "fpr", "selection_rate", "accuracy"), title: str = ""):
    """One panel per rate; per group one bar per analysis (e.g. per model arm) with its bootstrap whisker.

    ``analyses``: ``{label: group_metrics(...) output}`` over the same groups. A rate undefined for a
    group (no positives, say) is left out and marked "n/a"; groups under 30 items are hatched.
    """
    plt = _plt()
    first = next(iter(analyses.values()))
    groups = list(first["groups"])
    fig, axes = plt.subplots(1, len(rates), figsize=(max(3.2, 0.55 * len(groups) * len(analyses)) * len(rates) / 1.6,
                                                     4.2), squeeze=False)
    width = 0.8 / len(analyses)
    x = np.arange(len(groups))
    for ax, rate in zip(axes[0], rates):
        for i, (label, res) in enumerate(analyses.items()):
            for j, g in enumerate(groups):
                rec = res["groups"][g]
                v = rec.get(rate)
                pos = x[j] - 0.4 + width * (i + 0.5)
                if v is None:
                    ax.text(pos, 0.02, "n/a", ha="center", fontsize=6, rotation=90)
                    continue
                lo, hi = rec.get("ci", {}).get(rate, [None, None])
                err = None if lo is None else [[v - lo], [hi - v]]
                ax.bar(pos, v, width, color=f"C{i}", yerr=err, capsize=2, hatch="//" if rec["too_small"] else None,
                       label=label if j == 0 else None, edgecolor="white" if not rec["too_small"] else "black")
        overall = first["overall"].get(rate)
        if overall is not None:
            ax.axhline(overall, color="grey", ls=":", lw=1, label=f"overall ({next(iter(analyses))})")
        ax.set_xticks(x, groups, rotation=45 if len(groups) > 5 else 0, ha="right" if len(groups) > 5 else "center",
                      fontsize=7)
        ax.set(title=RATE_LABEL.get(rate, rate), ylim=(0, 1.05))
    return finish(fig, list(axes[0]), title)


def tradeoff(points: dict[str, list[tuple[float, float]]], *, gap_label: str, title: str = ""):
    """Accuracy against a fairness gap: one marker per seed for every arm, and the arm's mean."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    for i, (arm, pts) in enumerate(points.items()):
        a = np.asarray(pts, dtype=np.float64)
        ax.scatter(a[:, 0], a[:, 1], color=f"C{i}", alpha=0.45, s=18)
        ax.scatter(a[:, 0].mean(), a[:, 1].mean(), color=f"C{i}", s=90, marker="D", edgecolor="black", label=arm)
    ax.set(xlabel=gap_label + " (lower is fairer)", ylabel="UTKFace test accuracy")
    return finish(fig, [ax], title)
