"""Softmax cross-entropy computed stably (log-sum-exp), with its fused gradient, and L2.

With ``p = softmax(z)`` and target distribution ``q`` (one-hot, or smoothed:
``(1 - eps) * onehot + eps / C``) the mean loss over a batch of ``B`` rows is
``-1/B sum_i sum_c q_ic log p_ic`` and its gradient with respect to the logits is simply
``(p - q) / B``: computing it fused avoids the ill-conditioned ``d log p / d p = 1 / p``.
"""

from __future__ import annotations

import numpy as np


def check_labels(y, n_classes: int, name: str = "y") -> np.ndarray:
    """``y`` as an int64 vector of class indices in [0, n_classes); a clear error otherwise."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of class indices, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise ValueError(f"{name} must hold integer class labels in [0, {n_classes}), got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)]
        raise ValueError(f"{name} has labels outside [0, {n_classes}): e.g. {bad[:5].tolist()}")
    return y.astype(np.int64, copy=False)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``z - logsumexp(z)``, shifted by the row max so exp never overflows."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(logits: np.ndarray, y, *, label_smoothing: float = 0.0,
                          check: bool = True) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits`` (B, C) against integer labels ``y`` (B,).

    Returns ``(loss, dlogits)`` with ``dlogits = (softmax(logits) - q) / B`` in the logits' dtype.
    ``check=False`` skips the label validation (the estimator validated them once in ``fit``).
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must be (batch, classes), got shape {logits.shape}")
    b, c = logits.shape
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    y = check_labels(y, c) if check else y
    if len(y) != b:
        raise ValueError(f"{b} rows of logits but {len(y)} labels")
    rows = np.arange(b)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (B, C), max 0 per row
    probs = np.exp(shifted)
    sums = probs.sum(axis=1, keepdims=True)
    log_z = np.log(sums)  # (B, 1) log-sum-exp of the shifted logits
    nll = log_z[:, 0] - shifted[rows, y]  # -log p_y
    if label_smoothing:  # -sum_c q_c log p_c = (1 - eps) nll + eps * mean_c(-log p_c)
        uniform = log_z[:, 0] - shifted.mean(axis=1)
        per_row = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    else:
        per_row = nll
    loss = float(per_row.mean(dtype=np.float64))
    probs /= sums  # softmax, in place
    grad = probs
    if label_smoothing:
        grad -= grad.dtype.type(label_smoothing / c)
        grad[rows, y] -= grad.dtype.type(1.0 - label_smoothing)
    else:
        grad[rows, y] -= 1
    grad *= grad.dtype.type(1.0 / b)
    return loss, grad


def l2_penalty(weights, lam: float) -> float:
    """``lam / 2 * sum ||W||^2``; its gradient ``lam * W`` is added by the network's backward."""
    return 0.5 * lam * sum(float(np.vdot(w, w)) for w in weights)
