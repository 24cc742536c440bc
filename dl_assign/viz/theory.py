"""Figures of the `fashion.theory_*` experiments: per-layer gradient norms, LR sweeps, gaps."""

from __future__ import annotations

import numpy as np

from dl_assign.viz import _plt


def _log_mean(values) -> np.ndarray:
    """Geometric mean over seeds (axis 0), ignoring non-finite and zero entries."""
    arr = np.asarray(values, dtype=float)
    ok = np.isfinite(arr) & (arr > 0)
    logs = np.where(ok, np.log10(np.where(ok, arr, 1.0)), 0.0)
    count = ok.sum(0)
    return np.where(count > 0, 10 ** (logs.sum(0) / np.maximum(count, 1)), np.nan)


def layer_norms(grad_norms: list[dict], arms: list[str], title: str):
    """Per-layer gradient norm (log scale), at init (solid) and after training (dashed)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for i, arm in enumerate(arms):
        color = f"C{i}"
        for when, style in (("init", "-o"), ("trained", "--s")):
            y = _log_mean([g[arm][when] for g in grad_norms])
            x = np.arange(1, len(y) + 1)
            ax.plot(x, y, style, color=color, ms=3, label=f"{arm} ({when})")
    ax.set_yscale("log")
    ax.set(xlabel="Linear layer (1 = input layer, last = head)", ylabel="||dL/dW|| (probe batch)",
           title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def first_layer_over_epochs(histories: list[dict], arms: list[str], title: str):
    """First-layer and last-hidden-layer gradient norms after every epoch (first seed)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, arm in enumerate(arms):
        rows = histories[0][arm]
        if not rows:
            continue
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["grad_norm_first"] for r in rows], "-o", color=f"C{i}", ms=3, label=f"{arm} first layer")
        ax.plot(epochs, [r["grad_norm_last_hidden"] for r in rows], ":", color=f"C{i}", label=f"{arm} last hidden")
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="||dL/dW||", title=f"{title}: gradient norms during training")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def lr_sweep(lrs, sweep: dict[str, list[list[float]]], threshold: float):
    """Validation accuracy after a short run at each learning rate, mean and range over seeds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, (arm, per_seed) in enumerate(sweep.items()):
        arr = np.asarray(per_seed, dtype=float)
        ax.plot(lrs, np.nanmean(arr, 0), "-o", color=f"C{i}", label=arm)
        if len(arr) > 1:
            ax.fill_between(lrs, np.nanmin(arr, 0), np.nanmax(arr, 0), color=f"C{i}", alpha=0.2)
    ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"trains (>= {threshold})")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (SGD, momentum 0.9)", ylabel="validation accuracy",
           title="learning-rate range that trains", ylim=(0, 1))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def generalisation_gap(histories: list[dict], arms: list[str]):
    """Train (eval mode) and validation accuracy per epoch, and their gap, for each arm."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, arm in enumerate(arms):
        train = np.asarray([[r["train_acc_eval"] for r in h[arm]] for h in histories]).mean(0)
        val = np.asarray([[r["val_acc"] for r in h[arm]] for h in histories]).mean(0)
        epochs = np.arange(1, len(train) + 1)
        axes[0].plot(epochs, train, "-", color=f"C{i}", label=f"{arm} train")
        axes[0].plot(epochs, val, "--", color=f"C{i}", label=f"{arm} val")
        axes[1].plot(epochs, train - val, "-", color=f"C{i}", label=arm)
    axes[0].set(xlabel="epoch", ylabel="accuracy (eval mode)", title="train vs validation accuracy")
    axes[1].set(xlabel="epoch", ylabel="train - val accuracy", title="generalisation gap")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
