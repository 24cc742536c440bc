"""The from-scratch NumPy MLP: gradient checks, a torch float64 twin, loss, dropout, optimizers,
the estimator's contract and its errors on bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dl_assign.experiments.numpy_nn import HAND_LOSSES, fix_dropout_masks, twin_errors
from dl_assign.numpy_nn import (
    ACTIVATIONS,
    MLP,
    SGD,
    Adam,
    Dropout,
    Flatten,
    Linear,
    NotFittedError,
    Tanh,
    build_mlp,
    check_network,
    log_softmax,
    lr_factor,
    rel_error,
    softmax,
    softmax_cross_entropy,
)

SMOOTH_TOL = 1e-7  # max relative error, smooth activations and the loss (resolvable entries)
KINK_TOL = 1e-6  # ReLU family, entries whose +-h evaluations stay on one side of every kink
ABS_TOL = 1e-8  # |analytic - numeric| on every entry: float64 centred differences are ~1e-10 noisy
TWIN_TOL = 1e-10  # NumPy vs torch float64, forward and every gradient
SMOOTH = ("tanh", "gelu", "gelu_tanh")


@st.composite
def networks(draw, activations=tuple(ACTIVATIONS)):
    """A float64 MLP (1-4 Linear layers, widths 1-32), a batch of 1-16 rows, labels, fixed dropout masks."""
    act = draw(st.sampled_from(activations))
    depth = draw(st.integers(1, 4))
    hidden = tuple(draw(st.lists(st.integers(1, 32), min_size=depth - 1, max_size=depth - 1)))
    batch, features, classes = draw(st.integers(1, 16)), draw(st.integers(1, 32)), draw(st.integers(2, 10))
    dropout = draw(st.sampled_from([0.0, 0.3]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    net = build_mlp(features, hidden, classes, activation_name=act, dropout=dropout, dtype=np.float64,
                    seed=seed, input_grad=True)
    x = rng.normal(size=(batch, features))
    y = rng.integers(0, classes, batch)
    fix_dropout_masks(net, x, rng)
    return act, net, x, y


# ------------------------------------------------------------------ gradients
@given(networks(), st.sampled_from([0.0, 0.01]), st.sampled_from([0.0, 0.1]))
def test_gradients_match_centred_differences(case, l2, smoothing):
    act, net, x, y = case
    report = check_network(net, x, y, l2=l2, label_smoothing=smoothing, max_entries=48,
                           rng=np.random.default_rng(0))
    assert report.worst <= (SMOOTH_TOL if act in SMOOTH else KINK_TOL), (act, report)
    assert report.worst_abs <= ABS_TOL, (act, report)


def test_full_gradient_check_every_entry():
    rng = np.random.default_rng(3)
    for act in ACTIVATIONS:
        net = build_mlp(12, (16, 8), 5, activation_name=act, dropout=0.3, dtype=np.float64, seed=1, input_grad=True)
        x, y = rng.normal(size=(10, 12)), rng.integers(0, 5, 10)
        fix_dropout_masks(net, x, rng)
        report = check_network(net, x, y, l2=0.01)
        n_entries = sum(p.size for _, p, _ in net.parameters()) + x.size
        assert sum(report.checked.values()) + sum(report.skipped_kinks.values()) == n_entries
        assert report.worst <= (SMOOTH_TOL if act in SMOOTH else KINK_TOL), (act, report)


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    """The checker must fail a subtly wrong derivative (tanh' = 1 - tanh, not 1 - tanh^2)."""
    def wrong_forward(self, x):
        out = np.tanh(x, out=self._buf(x))
        self._local = 1 - out
        return out

    monkeypatch.setattr(Tanh, "forward", wrong_forward)
    rng = np.random.default_rng(0)
    net = build_mlp(6, (5,), 3, activation_name="tanh", dtype=np.float64, seed=0)
    x, y = rng.normal(size=(4, 6)), rng.integers(0, 3, 4)
    assert check_network(net, x, y).worst > 1e-3


def test_gradient_check_refuses_float32_and_unfixed_dropout():
    net = build_mlp(4, (3,), 2, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        check_network(net, np.ones((2, 4)), np.array([0, 1]))
    net = build_mlp(4, (3,), 2, dropout=0.5, dtype=np.float64)
    with pytest.raises(ValueError, match="fix_mask"):
        check_network(net, np.ones((2, 4)), np.array([0, 1]))


def test_rel_error_formula():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error(0.0, 1e-10) == pytest.approx(1e-10 / 1e-8)  # the 1e-8 floor


# ------------------------------------------------------------------ torch twin
@given(networks(), st.sampled_from([0.0, 0.01]), st.sampled_from([0.0, 0.1]))
def test_torch_float64_twin_agrees(case, l2, smoothing):
    _, net, x, y = case
    errs = twin_errors(net, x, y, l2=l2, label_smoothing=smoothing)
    assert errs["forward"] <= TWIN_TOL and errs["grad"] <= TWIN_TOL and errs["loss"] <= TWIN_TOL, errs


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_forward_matches_torch(act):
    x = np.linspace(-6, 6, 241).reshape(1, -1)
    ref = {"relu": torch.nn.ReLU(), "leaky_relu": torch.nn.LeakyReLU(0.01), "tanh": torch.nn.Tanh(),
           "gelu": torch.nn.GELU(), "gelu_tanh": torch.nn.GELU(approximate="tanh")}[act]
    from dl_assign.numpy_nn import activation

    ours = activation(act).forward(x.copy())
    assert np.abs(ours - ref(torch.from_numpy(x)).numpy()).max() <= 1e-14


# ------------------------------------------------------------------ loss
@pytest.mark.parametrize("logits,label,want", HAND_LOSSES)
def test_loss_hand_computed(logits, label, want):
    loss, grad = softmax_cross_entropy(np.array([logits]), np.array([label]))
    assert loss == pytest.approx(want, rel=1e-12, abs=1e-12)
    p = np.exp(np.array(logits) - max(logits))
    p /= p.sum()
    p[label] -= 1
    assert np.abs(grad[0] - p).max() <= 1e-12


def test_loss_two_rows_is_the_mean():
    loss, grad = softmax_cross_entropy(np.array([[0.0, 0.0], [0.0, math.log(3.0)]]), np.array([0, 1]))
    assert loss == pytest.approx((math.log(2.0) + math.log(4.0 / 3.0)) / 2, abs=1e-15)
    assert grad == pytest.approx(np.array([[-0.25, 0.25], [0.125, -0.125]]), abs=1e-15)


def test_loss_shift_invariant_and_grad_rows_sum_to_zero():
    rng = np.random.default_rng(1)
    z, y = rng.normal(size=(16, 10)), rng.integers(0, 10, 16)
    loss, grad = softmax_cross_entropy(z, y)
    for c in (-1e3, 7.5, 1e3):
        l2, g2 = softmax_cross_entropy(z + c, y)
        assert abs(loss - l2) <= 1e-12 and np.abs(grad - g2).max() <= 1e-15
    assert np.abs(grad.sum(1)).max() <= 1e-16
    assert np.allclose(log_softmax(z), np.log(softmax(z)), atol=1e-14)


def test_loss_finite_for_logits_of_magnitude_1e4():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(z, np.array([1, 2]))
    assert math.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(1e4, rel=1e-6)  # row 1 costs 2e4, row 2 costs 0


def test_label_smoothing_matches_torch():
    rng = np.random.default_rng(2)
    z, y = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    zt = torch.from_numpy(z).requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(zt, torch.from_numpy(y), label_smoothing=0.2)
    ref.backward()
    loss, grad = softmax_cross_entropy(z, y, label_smoothing=0.2)
    assert abs(loss - ref.item()) <= 1e-14 and np.abs(grad - zt.grad.numpy()).max() <= 1e-15


# ------------------------------------------------------------------ dropout
def test_dropout_eval_is_identity():
    d = Dropout(0.5, seed=0)
    d.training = False
    x = np.random.default_rng(0).normal(size=(8, 9))
    out = d.forward(x)
    assert out is x and d.backward(x) is x


def test_dropout_train_preserves_expectation():
    """Inverted dropout: E[out] = x. For x = 1 and n = 400,000 entries the sample mean has standard
    error sqrt(p / (1 - p) / n) = 1.04e-3 at p = 0.3; tolerance = 5 standard errors."""
    p, n = 0.3, 400_000
    d = Dropout(p, seed=123)
    out = d.forward(np.ones((400, 1000)))
    se = math.sqrt(p / (1 - p) / n)
    assert abs(out.mean() - 1.0) <= 5 * se
    assert abs((out == 0).mean() - p) <= 5 * math.sqrt(p * (1 - p) / n)
    assert set(np.unique(out)) <= {0.0, 1.0 / (1 - p)}


def test_dropout_mask_is_seeded_and_used_by_backward():
    x = np.ones((4, 50))
    a, b = Dropout(0.5, seed=7).forward(x.copy()), Dropout(0.5, seed=7).forward(x.copy())
    assert np.array_equal(a, b)
    d = Dropout(0.5, seed=7)
    out = d.forward(x.copy())
    assert np.array_equal(d.backward(np.ones_like(x)), out)  # same mask, same scale
    mask = np.zeros((4, 50), dtype=bool)
    mask[:, ::2] = True
    d.fix_mask(mask)
    assert np.array_equal(d.forward(x.copy()), mask * 2.0)


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


# ------------------------------------------------------------------ layers, optimizers, schedule
def test_flatten_and_linear_shapes_and_inits():
    f = Flatten()
    x = np.zeros((3, 2, 4, 5))
    assert f.forward(x).shape == (3, 40) and f.backward(np.zeros((3, 40))).shape == x.shape
    rng = np.random.default_rng(0)
    he = Linear(1000, 500, init="he", rng=rng).params["W"]
    xavier = Linear(1000, 500, init="xavier", rng=rng).params["W"]
    normal = Linear(1000, 500, init="normal", rng=rng).params["W"]
    assert he.dtype == np.float32 and he.shape == (1000, 500)
    assert he.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert xavier.std() == pytest.approx(math.sqrt(2 / 1500), rel=0.02)  # uniform(+-sqrt(6/1500))
    assert normal.std() == pytest.approx(0.01, rel=0.02)
    with pytest.raises(ValueError, match="unknown init 'zeros'"):
        Linear(3, 2, init="zeros")


@pytest.mark.parametrize("kind", ["sgd", "sgd_wd", "adam", "adamw"])
def test_optimizers_match_torch(kind):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(5, 3))
    grads = [rng.normal(size=(5, 3)) for _ in range(6)]
    p, g = p0.copy(), np.zeros_like(p0)
    pt = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    if kind.startswith("sgd"):
        wd = 0.1 if kind == "sgd_wd" else 0.0
        ours = SGD([("p", p, g)], lr=0.1, momentum=0.9, nesterov=kind == "sgd_wd", weight_decay=wd)
        ref = torch.optim.SGD([pt], lr=0.1, momentum=0.9, nesterov=kind == "sgd_wd", weight_decay=wd)
    else:
        ours = Adam([("p", p, g)], lr=0.01, weight_decay=0.1 if kind == "adamw" else 0.0)
        ref = (torch.optim.AdamW([pt], lr=0.01, weight_decay=0.1) if kind == "adamw"
               else torch.optim.Adam([pt], lr=0.01))
    for grad in grads:
        g[...] = grad
        ours.step()
        pt.grad = torch.from_numpy(grad.copy())
        ref.step()
    assert np.abs(p - pt.detach().numpy()).max() <= 1e-12


def test_lr_schedules():
    assert lr_factor("cosine", 0, 100) == 1.0 and lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert [lr_factor("step", s, 30, step_every=10, gamma=0.5) for s in (0, 9, 10, 25)] == [1, 1, 0.5, 0.25]
    assert lr_factor("none", 7, 10) == 1.0 and lr_factor("cosine", 0, 100, warmup_steps=4) == 0.25
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor("exp", 0, 10)


# ------------------------------------------------------------------ the estimator
def _blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    return (centers[y] + 0.5 * rng.normal(size=(n, 4))).astype(np.float32), y


def test_estimator_contract():
    x, y = _blobs()
    model = MLP(hidden=(16,), activation="gelu", dropout=0.1, epochs=15, batch_size=32, lr=3e-3)
    assert vars(model)["hidden"] == (16,) and not any(k.endswith("_") for k in vars(model))
    assert model.fit(x, y) is model
    learned = {k for k in vars(model) if k.endswith("_")}
    assert {"net_", "n_features_in_", "classes_", "history_", "train_seconds_"} <= learned
    assert all(p.dtype == np.float32 for _, p, _ in model.net_.parameters())  # trains in float32
    proba = model.predict_proba(x)
    assert proba.shape == (600, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(model.predict(x), proba.argmax(1))
    assert model.score(x, y) == pytest.approx((model.predict(x) == y).mean())
    assert model.score(x, y) >= 0.95
    assert len(model.history_) == 15 and model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]


def test_estimator_is_deterministic_and_sgd_works():
    x, y = _blobs()
    a = MLP(hidden=(8,), dropout=0.2, epochs=3, random_state=5).fit(x, y).predict_proba(x)
    b = MLP(hidden=(8,), dropout=0.2, epochs=3, random_state=5).fit(x, y).predict_proba(x)
    assert np.array_equal(a, b)
    sgd = MLP(hidden=(8,), optimizer="sgd", lr=0.05, epochs=10, batch_size=32, schedule="step",
              step_epochs=5, step_gamma=0.5).fit(x, y)
    assert sgd.score(x, y) >= 0.95


def test_estimator_records_validation_and_accepts_images():
    rng = np.random.default_rng(0)
    images, y = rng.random((64, 4, 4)).astype(np.float32), rng.integers(0, 2, 64)
    model = MLP(hidden=(4,), epochs=2, n_classes=2).fit(images, y, images, y)
    assert model.n_features_in_ == 16 and {"val_loss", "val_acc"} <= set(model.history_[0])
    assert model.predict(images.reshape(64, 16)).shape == (64,)


@pytest.mark.parametrize("bad,match", [
    (lambda x, y: MLP(activation="swish").fit(x, y), r"unknown activation 'swish'.*relu"),
    (lambda x, y: MLP(optimizer="rmsprop").fit(x, y), r"unknown optimizer 'rmsprop'.*adam"),
    (lambda x, y: MLP(epochs=1, n_classes=3).fit(x, y + 1), r"labels outside \[0, 3\)"),
    (lambda x, y: MLP(epochs=1).fit(x, y - 1), r"labels outside"),
    (lambda x, y: MLP(epochs=1).fit(x, y + 0.5), r"integer class labels.*float64"),
    (lambda x, y: MLP(epochs=1).fit(x, y[:-1]), r"600 rows but y has 599"),
    (lambda x, y: MLP(epochs=1).fit(np.where(x > 2.5, np.nan, x), y), r"NaN or inf"),
    (lambda x, y: MLP(epochs=1).fit(np.where(x > 2.5, np.inf, x), y), r"NaN or inf"),
    (lambda x, y: MLP(epochs=1).fit(x[:, 0], y), r"2-D"),
    (lambda x, y: MLP(dropout=1.0).fit(x, y), r"dropout must be in \[0, 1\)"),
])
def test_estimator_bad_input(bad, match):
    x, y = _blobs()
    with pytest.raises(ValueError, match=match):
        bad(x, y)


def test_estimator_bad_input_after_fit():
    x, y = _blobs()
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        MLP().predict(x)
    model = MLP(hidden=(4,), epochs=1).fit(x, y)
    with pytest.raises(ValueError, match="X has 3 features .* fitted with 4 features"):
        model.predict(x[:, :3])
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict_proba(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\)"):
        model.score(x, y + 3)


def test_build_mlp_rejects_unknown_activation():
    with pytest.raises(ValueError, match=r"unknown activation 'sigmoid'; expected one of \['gelu'"):
        build_mlp(4, (3,), 2, activation_name="sigmoid")


def test_numpy_nn_does_not_import_torch():
    package = Path(__file__).resolve().parents[1] / "dl_assign" / "numpy_nn"
    sources = list(package.glob("*.py"))
    assert sources
    for path in sources:
        text = path.read_text()
        assert "import torch" not in text and "from torch" not in text, path
