"""Scores for segmentations: internal (silhouette, Davies-Bouldin, Calinski-Harabasz on the clustered
vectors) and against ground truth (IoU of the best foreground with an object box; adjusted Rand index and
mean IoU after Hungarian matching against known regions)."""

from __future__ import annotations

import math

import numpy as np

from dl_assign.segment.cluster import NOISE, silhouette


def internal_scores(x: np.ndarray, labels: np.ndarray, *, sample_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Silhouette (seeded sample), Davies-Bouldin and Calinski-Harabasz of ``labels`` on ``x``; noise left out.

    All NaN when fewer than 2 clusters remain (e.g. DBSCAN found only noise): undefined, not zero.
    """
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    keep = labels != NOISE
    xs, ls = x[keep], labels[keep]
    n_labels = len(np.unique(ls))
    if n_labels < 2 or n_labels >= len(xs):
        return {"silhouette": math.nan, "davies_bouldin": math.nan, "calinski_harabasz": math.nan}
    return {"silhouette": silhouette(x, labels, sample_size=sample_size, seed=seed),
            "davies_bouldin": float(davies_bouldin_score(xs, ls)),
            "calinski_harabasz": float(calinski_harabasz_score(xs, ls))}


def best_foreground(labels: np.ndarray, box: np.ndarray) -> tuple[float, np.ndarray]:
    """The cluster, or union of clusters, whose pixels best cover ``box`` (a bool mask): (IoU, mask).

    Every union of the L labels present (noise counts as one) is scored exactly from per-label counts
    (2^L - 1 unions, L <= 16): IoU(S) = inside(S) / (|box| + outside(S)). An oracle choice: it is the
    best any rule picking clusters could do, so it rises with K; the report shows it against K and the
    whole-image score |box| / |image|.
    """
    values, index = np.unique(labels, return_inverse=True)
    index = index.reshape(labels.shape)
    n = len(values)
    if n > 16:
        raise ValueError(f"best_foreground scores every union of labels: {n} labels is too many (max 16)")
    inside = np.bincount(index[box], minlength=n).astype(np.float64)  # (L,)
    total = np.bincount(index.ravel(), minlength=n).astype(np.float64)
    masks = (np.arange(1, 2 ** n)[:, None] >> np.arange(n)[None, :]) & 1  # (2^L - 1, L) every non-empty union
    iou = (masks @ inside) / (box.sum() + masks @ (total - inside))
    best = int(np.argmax(iou))
    chosen = values[masks[best].astype(bool)]
    return float(iou[best]), np.isin(labels, chosen)


def box_iou(labels: np.ndarray, box: np.ndarray) -> float:
    return best_foreground(labels, box)[0]


def contingency(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, P) pixel counts of truth region r and predicted label p, with the label values of each axis."""
    t_values, t = np.unique(truth.ravel(), return_inverse=True)
    p_values, p = np.unique(pred.ravel(), return_inverse=True)
    table = np.zeros((len(t_values), len(p_values)), dtype=np.int64)
    np.add.at(table, (t, p), 1)
    return table, t_values, p_values


def matched_iou(truth: np.ndarray, pred: np.ndarray) -> float:
    """Mean IoU over the truth regions after a one-to-one Hungarian matching of predicted labels to regions
    (maximising the summed IoU); a region left unmatched (fewer labels than regions) scores 0."""
    from scipy.optimize import linear_sum_assignment

    table, _, _ = contingency(truth, pred)
    union = table.sum(1, keepdims=True) + table.sum(0, keepdims=True) - table
    iou = table / np.maximum(union, 1)  # (R, P)
    rows, cols = linear_sum_assignment(-iou)
    return float(iou[rows, cols].sum() / len(table))


def ari(truth: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(truth.ravel(), pred.ravel()))


def mean_std(values) -> tuple[float, float, int]:
    """Mean and sample std (ddof=1) over the finite values, and how many were finite."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)
