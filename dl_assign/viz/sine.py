"""Figures for the sine forecasters: one-step predictions, rollout drift, sweeps, MSE curves."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt


def forecast(truth, predictions: dict[str, list[float]], start: int = 0, title: str = ""):
    """Top: the test continuation and each model's one-step predictions; bottom: the errors."""
    plt = _plt()
    truth = np.asarray(truth, dtype=float)
    steps = start + np.arange(len(truth))
    fig, (ax, err) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=(2, 1))
    ax.plot(steps, truth, color="black", lw=2.5, alpha=0.35, label="truth")
    for label, pred in predictions.items():
        pred = np.asarray(pred, dtype=float)[:len(truth)]
        ax.plot(steps[:len(pred)], pred, lw=1, label=label)
        err.plot(steps[:len(pred)], pred - truth[:len(pred)], lw=1, label=label)
    ax.set(ylabel="value", title=title or "one-step predictions on the test range")
    err.set(xlabel="sample index in the test range", ylabel="prediction - truth")
    for a in (ax, err):
        a.grid(alpha=0.3)
        a.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def rollout(truth, rollouts: dict[str, list[float]], title: str = "", show: int = 150):
    """Top: the first ``show`` rollout steps against the truth; bottom: |error| over every step."""
    plt = _plt()
    truth = np.asarray(truth, dtype=float)
    fig, (ax, err) = plt.subplots(2, 1, figsize=(10, 5.5))
    ax.plot(np.arange(min(show, len(truth))) + 1, truth[:show], color="black", lw=2.5, alpha=0.35, label="truth")
    for label, pred in rollouts.items():
        pred = np.asarray(pred, dtype=float)
        ax.plot(np.arange(min(show, len(pred))) + 1, pred[:show], lw=1, label=label)
        err.semilogy(np.arange(len(pred)) + 1, np.abs(pred - truth[:len(pred)]) + 1e-12, lw=0.8, label=label)
    ax.set(xlabel="rollout step", ylabel="value", title=title or "autoregressive rollout from the test range")
    err.set(xlabel="rollout step (each prediction fed back as input)", ylabel="|prediction - truth|",
            title="rollout drift")
    for a in (ax, err):
        a.grid(alpha=0.3)
        a.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def sweep(panels: dict[str, dict[str, list]], title: str = ""):
    """One panel per swept hyperparameter: ``{name: {"x": [...], "mean": [...], "std": [...]}}``
    of test MSE (log scale), error bars over seeds; the default marked."""
    plt = _plt()
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (name, p) in zip(axes.flat, panels.items()):
        x = [str(v) for v in p["x"]]
        ax.errorbar(x, p["mean"], yerr=p["std"], marker="o", capsize=3)
        if "default" in p:
            ax.axvline(str(p["default"]), color="grey", ls="--", lw=1, label="default")
            ax.legend(fontsize=7)
        ax.set_yscale("log")
        ax.set(xlabel=name, ylabel="one-step test MSE")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def mse_curves(histories: dict[str, list[dict]], title: str = ""):
    """Train and validation MSE per epoch (log scale), one colour per label."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, (label, hist) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in hist]
        colour = f"C{i % 10}"
        ax.semilogy(epochs, [row["train_loss"] for row in hist], "-", color=colour, label=f"train {label}")
        if hist and "val_loss" in hist[0]:
            ax.semilogy(epochs, [row["val_loss"] for row in hist], "--", color=colour, label=f"val {label}")
    ax.set(xlabel="epoch", ylabel="MSE", title=title or "learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
