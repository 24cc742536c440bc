import numpy as np
import pytest

from dl_assign.engine.loop import TrainConfig, lr_factor
from dl_assign.engine.metrics import classification_metrics


def test_classification_metrics_hand_computed():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, p, n_classes=3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # per-class F1: class0 P=1/2 R=1/2 -> .5 ; class1 P=2/3 R=1 -> .8 ; class2 P=1 R=1/2 -> 2/3
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert "roc_auc" not in m


def test_binary_metrics_include_roc_auc():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    m = classification_metrics(y, proba.argmax(1), proba, n_classes=2)
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ranked right


def test_lr_schedules():
    cfg = TrainConfig(epochs=10, schedule="cosine", warmup_epochs=1)
    assert lr_factor(cfg, 0, 100) == pytest.approx(0.01)
    assert lr_factor(cfg, 99, 100) == pytest.approx(1.0)
    assert lr_factor(cfg, 100, 100) == pytest.approx(1.0)
    assert lr_factor(cfg, 999, 100) < 1e-4
    step = TrainConfig(epochs=30, schedule="step", step_epochs=10, step_gamma=0.1)
    assert [lr_factor(step, e * 10, 10) for e in (0, 9, 10, 25)] == pytest.approx([1, 1, 0.1, 0.01])
    lin = TrainConfig(epochs=2, schedule="linear")
    assert lr_factor(lin, 5, 5) == pytest.approx(0.5)
