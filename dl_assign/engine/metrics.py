"""Classification metrics through scikit-learn, as one flat dict."""

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
