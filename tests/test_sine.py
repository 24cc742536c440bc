"""The sine data (deterministic, disjoint in time), the forecasters' shapes, rollouts, MSE training."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from dl_assign import data, registry
from dl_assign.data import sine
from dl_assign.engine import TensorLoader, TrainConfig, evaluate, fit, seed_everything
from dl_assign.engine.device import threads
from dl_assign.experiments.sine import rollout
from dl_assign.models.forecasters import MLPForecaster, RNNForecaster


def test_make_windows_by_hand():
    x, y = sine.make_windows(np.arange(6.0), window=3, horizon=2)
    assert x.shape == (2, 3, 1) and y.shape == (2, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(y, [[3, 4], [4, 5]])
    with pytest.raises(ValueError, match="no window"):
        sine.make_windows(np.arange(4.0), window=3, horizon=2)


def test_generator_is_the_formula_and_deterministic_per_seed():
    spec = sine.SineSpec(frequency=0.5, phase=0.3, amplitude=2.0, sample_rate=10.0, train=50, val=40, test=40)
    t, y = sine.generate(spec)
    assert len(t) == spec.total == 130 and t[1] - t[0] == pytest.approx(0.1)
    np.testing.assert_allclose(y, 2.0 * np.sin(2 * np.pi * 0.5 * t + 0.3))
    noisy = sine.SineSpec(noise=0.1)
    a, b, c = sine.generate(noisy, 3)[1], sine.generate(noisy, 3)[1], sine.generate(noisy, 4)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.std(a - sine.generate(sine.SineSpec(), 3)[1]) == pytest.approx(0.1, rel=0.1)


@given(window=st.integers(1, 40), horizon=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_splits_are_disjoint_consecutive_time_ranges(window, horizon, seed):
    spec = sine.SineSpec(window=window, horizon=horizon, noise=0.05, train=200, val=60, test=80)
    d = sine.load_splits(spec, seed)
    _, y = sine.generate(spec, seed)
    assert d.ranges == {"train": (0, 200), "val": (200, 260), "test": (260, 340)}
    for split, (start, stop) in d.ranges.items():
        x_s, y_s = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
        assert len(x_s) == (stop - start) - window - horizon + 1
        # the first window starts at the range's first sample, the last target is its last sample
        np.testing.assert_allclose(x_s[0, :, 0], y[start:start + window], rtol=1e-6)
        np.testing.assert_allclose(y_s[-1, -1], y[stop - 1], rtol=1e-6)
    assert d.info["sizes"] == [len(d.x_train), len(d.x_val), len(d.x_test)]


def test_default_test_windows_are_unseen_phases():
    d = sine.load_splits()
    assert d.ranges["train"][1] <= d.ranges["val"][0] and d.ranges["val"][1] <= d.ranges["test"][0]
    assert not float(sine.SineSpec().period_samples).is_integer()
    train = d.x_train[:, :, 0].astype(np.float64)
    test = d.x_test[:, :, 0].astype(np.float64)
    nearest = ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1).min(1)  # (N_test,)
    assert nearest.min() > 1e-8  # no test window is a copy of a training window


def test_spec_refuses_a_range_shorter_than_a_window():
    with pytest.raises(ValueError, match="shorter than"):
        sine.SineSpec(window=50, test=40)


def test_sine_is_listed_as_generated():
    (st_,) = data.status("sine")
    assert st_.found and not st_.error and "generated" in st_.location
    assert data.available("sine")


@pytest.mark.parametrize("make", [
    lambda h: RNNForecaster("lstm", 1, 6, layers=2, horizon=h, bidirectional=True, dropout=0.1),
    lambda h: RNNForecaster("gru", 1, 5, layers=1, horizon=h),
    lambda h: RNNForecaster("gru", 1, 4, layers=3, horizon=h, bidirectional=True),
    lambda h: MLPForecaster(7, (9,), horizon=h),
])
@pytest.mark.parametrize("batch,horizon", [(1, 1), (5, 3)])
def test_forecaster_shapes_and_gradients(make, batch, horizon):
    torch.manual_seed(0)
    model = make(horizon)
    x = torch.randn(batch, 7, 1)  # (B, T, 1)
    out = model(x)
    assert out.shape == (batch, horizon)
    torch.testing.assert_close(model.eval()(x.squeeze(-1)), model(x))  # (B, T) is accepted too
    model.train()
    model(x).pow(2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_rnn_accepts_any_sequence_length():
    model = RNNForecaster("lstm", 1, 4)
    for t in (1, 3, 50):
        assert model(torch.zeros(2, t, 1)).shape == (2, 1)


class _AR2(nn.Module):
    """A sine satisfies y[t] = 2 cos(w) y[t-1] - y[t-2]: an exact forecaster of the wave."""

    def __init__(self, w: float, horizon: int = 1):
        super().__init__()
        self.c, self.horizon = 2 * math.cos(w), horizon
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):  # (B, T, 1) -> (B, horizon)
        a, b = x[:, -2, 0], x[:, -1, 0]
        outs = []
        for _ in range(self.horizon):
            a, b = b, self.c * b - a
            outs.append(b)
        return torch.stack(outs, 1)


@pytest.mark.parametrize("horizon", [1, 3])
def test_rollout_of_an_exact_model_follows_the_wave(horizon):
    spec = sine.SineSpec()
    _, y = sine.generate(spec)
    w = 2 * math.pi * spec.frequency / spec.sample_rate
    pred = rollout(_AR2(w, horizon), y[:8], 200)
    assert pred.shape == (200,)
    np.testing.assert_allclose(pred, y[8:208], atol=1e-4)  # float32 window: tiny drift only


def test_rollout_of_a_biased_model_drifts():
    class Stuck(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Parameter(torch.tensor(0.5))

        def forward(self, x):
            return x[:, -1] * 0 + self.b

    pred = rollout(Stuck(), np.zeros(4), 10)
    np.testing.assert_allclose(pred, 0.5)


def test_fit_trains_a_regressor_with_mse():
    d = sine.load_splits(sine.SineSpec(window=8, train=300, val=100, test=100))
    seed_everything(0)
    model = MLPForecaster(8, (32,))
    train = TensorLoader(torch.from_numpy(d.x_train), torch.from_numpy(d.y_train), 32, shuffle=True)
    val = TensorLoader(torch.from_numpy(d.x_val), torch.from_numpy(d.y_val), 512)
    before = evaluate(model, val, loss_fn=nn.MSELoss())["loss"]
    history = fit(model, train, val, TrainConfig(epochs=8, lr=1e-2), loss_fn=nn.MSELoss(), progress=False)
    assert history[-1]["val_loss"] == pytest.approx(evaluate(model, val, loss_fn=nn.MSELoss())["loss"])
    assert "train_acc" not in history[-1] and "val_acc" not in history[-1]  # regression: no accuracy
    assert history[-1]["val_loss"] < 0.1 * before
    assert "val_acc" not in history[-1]


def test_compare_trains_the_same_models_as_the_single_experiments(tmp_path):
    """Two routes to the same number: sine.compare's LSTM equals sine.lstm at the same config."""
    single = registry.get("sine.lstm").run("smoke", {"epochs": 1}, results_dir=tmp_path, progress=False,
                                              write=False)
    compare = registry.get("sine.compare").run(
        "smoke", {"epochs": 1, "sweep_hidden": (), "sweep_window": ()}, results_dir=tmp_path, progress=False,
        write=False)
    for key in ("test_mse", "rollout_mse", "params"):
        assert compare["metrics"][f"lstm/{key}"]["values"] == single["metrics"][key]["values"], key
    assert compare["metrics"]["param_formula_ok"]["mean"] == 1.0
    assert "4H(I+H) + 8H" in compare["notes"] and "3H(I+H) + 6H" in compare["notes"]


def test_threads_are_restored_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
