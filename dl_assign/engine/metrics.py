"""Classification metrics (through scikit-learn) as flat dicts, calibration, and paired tests of two models."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None, n_classes: int | None = None
) -> dict:
    """accuracy, macro-F1, the confusion matrix, and ROC-AUC when the task is binary."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n_classes = n_classes or int(max(y_true.max(), y_pred.max()) + 1)
    labels = np.arange(n_classes)
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "confusion": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if n_classes == 2 and proba is not None and len(np.unique(y_true)) == 2:
        score = proba[:, 1] if np.ndim(proba) == 2 else proba
        out["roc_auc"] = float(skm.roc_auc_score(y_true, score))
    return out


def calibration(confidence, correct, n_bins: int = 15) -> tuple[float, list[dict]]:
    """Expected calibration error over ``n_bins`` equal-width bins, and the reliability diagram's bins.

    Bin ``i`` holds confidences in ``(i/n, (i+1)/n]`` (the first also holds 0). ECE is
    ``sum_b |B_b|/N * |accuracy(B_b) - mean confidence(B_b)|`` (Guo et al., 2017).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        count = int(m.sum())
        acc = float(hit[m].mean()) if count else None
        mean_conf = float(conf[m].mean()) if count else None
        if count:
            ece += count / len(conf) * abs(acc - mean_conf)
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": count, "accuracy": acc,
                     "confidence": mean_conf})
    return float(ece), bins


def paired_bootstrap(correct_a, correct_b, *, n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """Accuracy difference ``a - b`` on the same test items, with a paired percentile bootstrap interval.

    Each replicate resamples the items (both models' outcomes on an item move together), so the
    interval reflects how the two models differ per item, not two independent noises.
    """
    d = np.asarray(correct_a, dtype=np.float64) - np.asarray(correct_b, dtype=np.float64)  # (N,) in {-1, 0, 1}
    if d.ndim != 1 or len(d) == 0:
        raise ValueError(f"need two equally long, non-empty 1-D outcome vectors, got shape {d.shape}")
    rng = np.random.default_rng(seed)
    means = np.concatenate([d[rng.integers(0, len(d), size=(min(1000, n_boot - i), len(d)))].mean(1)
                            for i in range(0, n_boot, 1000)])
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"diff": float(d.mean()), "low": float(lo), "high": float(hi), "level": level, "n_boot": n_boot}


def mcnemar(correct_a, correct_b, *, exact: bool | None = None) -> dict:
    """McNemar's test of equal error rates on paired outcomes.

    ``b`` = items only ``a`` gets right, ``c`` = items only ``b`` gets right. Exact: two-sided
    binomial ``p = min(1, 2 P(X <= min(b, c)))``, ``X ~ Bin(b + c, 1/2)``; otherwise chi-square with
    continuity correction ``(|b - c| - 1)^2 / (b + c)`` on 1 degree of freedom. ``exact=None``
    picks exact when ``b + c < 25``.
    """
    import math

    a = np.asarray(correct_a, dtype=bool)
    o = np.asarray(correct_b, dtype=bool)
    if a.shape != o.shape or a.ndim != 1:
        raise ValueError(f"need two equally long 1-D outcome vectors, got {a.shape} and {o.shape}")
    b, c = int((a & ~o).sum()), int((~a & o).sum())
    n = b + c
    exact = n < 25 if exact is None else exact
    if n == 0:
        return {"b": b, "c": c, "statistic": 0.0, "p_value": 1.0, "method": "exact" if exact else "chi2"}
    if exact:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
        return {"b": b, "c": c, "statistic": float(min(b, c)), "p_value": min(1.0, 2 * tail), "method": "exact"}
    stat = max(0.0, abs(b - c) - 1.0) ** 2 / n
    return {"b": b, "c": c, "statistic": stat, "p_value": math.erfc(math.sqrt(stat / 2)), "method": "chi2"}


def logits_report(logits, y, n_bins: int = 15) -> dict:
    """Everything a classifier's test report shows, from its logits: top-1/top-5, macro-F1, per-class
    precision/recall/F1, confusion matrix, cross-entropy, ECE with reliability bins, predictions."""
    import torch

    logits, y = torch.as_tensor(logits, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    n_classes = logits.shape[1]
    proba = torch.softmax(logits, 1)
    conf, pred = proba.max(1)
    top5 = (logits.topk(min(5, n_classes), 1).indices == y[:, None]).any(1).double().mean().item()
    yt, yp = y.numpy(), pred.numpy()
    p, r, f, s = skm.precision_recall_fscore_support(yt, yp, labels=np.arange(n_classes), zero_division=0)
    ece, bins = calibration(conf.numpy(), yp == yt, n_bins)
    return {**classification_metrics(yt, yp, n_classes=n_classes), "top5": float(top5),
            "loss": float(torch.nn.functional.cross_entropy(logits, y)), "ece": ece, "reliability": bins,
            "per_class": {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()},
            "pred": yp.tolist(), "true": yt.tolist()}


# --- binary classifiers: ROC, AUC with a bootstrap interval, threshold measures -----------------------


def roc_curve(y_true, score, max_points: int | None = None) -> dict:
    """ROC points ``{"fpr", "tpr", "threshold"}`` (label 1 positive), optionally thinned to ``max_points``."""
    fpr, tpr, thr = skm.roc_curve(np.asarray(y_true), np.asarray(score, dtype=np.float64))
    thr = np.minimum(thr, 1e300)  # sklearn's first threshold is +inf: not JSON
    if max_points and len(fpr) > max_points:  # keep both ends, an even spread of the rest
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": thr.tolist()}


def auc_interval(y_true, score, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """ROC-AUC with a percentile bootstrap interval (items resampled; a resample with one class is redrawn)."""
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or len(y) != len(s) or len(np.unique(y)) != 2:
        raise ValueError("need 1-D labels with both classes and one score per label")
    rng = np.random.default_rng(seed)
    aucs = []
    while len(aucs) < n_boot:
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() != y[idx].max():
            aucs.append(skm.roc_auc_score(y[idx], s[idx]))
    lo, hi = np.quantile(aucs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"auc": float(skm.roc_auc_score(y, s)), "low": float(lo), "high": float(hi), "level": level,
            "n_boot": n_boot}


def paired_auc_bootstrap(y_true, score_a, score_b, *, n_boot: int = 2000, level: float = 0.95,
                         seed: int = 0) -> dict:
    """AUC(a) - AUC(b) on the same items, with a paired percentile bootstrap interval."""
    y = np.asarray(y_true)
    a, b = np.asarray(score_a, dtype=np.float64), np.asarray(score_b, dtype=np.float64)
    if not len(y) == len(a) == len(b):
        raise ValueError(f"need equally long labels and scores, got {len(y)}, {len(a)}, {len(b)}")
    rng = np.random.default_rng(seed)
    diffs = []
    while len(diffs) < n_boot:
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() != y[idx].max():
            diffs.append(skm.roc_auc_score(y[idx], a[idx]) - skm.roc_auc_score(y[idx], b[idx]))
    lo, hi = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"diff": float(skm.roc_auc_score(y, a) - skm.roc_auc_score(y, b)), "low": float(lo), "high": float(hi),
            "level": level, "n_boot": n_boot}


def binary_measures(y_true, score, threshold: float = 0.5) -> dict:
    """Label 1 is positive; predicted positive when ``score >= threshold``.

    accuracy; sensitivity = TP / (TP + FN) (recall of class 1); specificity = TN / (TN + FP);
    precision = TP / (TP + FP); F1 = 2 P R / (P + R); confusion ``[[TN, FP], [FN, TP]]`` (rows true).
    An empty denominator gives 0.
    """
    y = np.asarray(y_true).astype(int)
    pred = (np.asarray(score, dtype=np.float64) >= threshold).astype(int)
    tp, tn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    fp, fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    div = lambda a, b: a / b if b else 0.0  # noqa: E731
    sens, prec = div(tp, tp + fn), div(tp, tp + fp)
    return {"accuracy": div(tp + tn, len(y)), "sensitivity": sens, "specificity": div(tn, tn + fp),
            "precision": prec, "f1": div(2 * prec * sens, prec + sens), "confusion": [[tn, fp], [fn, tp]]}


def best_threshold(y_true, score) -> float:
    """The threshold of highest accuracy on (validation) scores; ties go to the one nearest 0.5."""
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(s)
    s_sorted, y_sorted = s[order], y[order]
    # cutting before position i: items < i predicted 0. correct = negatives below + positives from i on
    neg_below = np.concatenate([[0], np.cumsum(1 - y_sorted)])
    pos_above = y_sorted.sum() - np.concatenate([[0], np.cumsum(y_sorted)])
    correct = neg_below + pos_above
    cuts = np.concatenate([[s_sorted[0] - 1e-6], (s_sorted[:-1] + s_sorted[1:]) / 2, [s_sorted[-1] + 1e-6]])
    distinct = np.concatenate([[True], s_sorted[1:] != s_sorted[:-1], [True]])  # cut only between distinct scores
    correct = np.where(distinct, correct, -1)
    best = np.flatnonzero(correct == correct.max())
    return float(np.clip(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]], 0.0, 1.0))
