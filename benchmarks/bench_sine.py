"""Sine forecasters: one seed of the LSTM and the GRU trained at the chosen budget.

At ``standard`` the issue's targets are asserted: one-step test MSE <= 1e-4 on the noiseless
wave and <= 30 s of training (the loop's optimisation time) on 2 CPU cores. The run is not
written to results/ (its figures go to a temporary folder; bench_experiments writes results/).
"""

import pytest

from dl_assign import registry

MAX_TEST_MSE = {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}
MAX_TRAIN_SECONDS = 30.0  # standard budget, 2 CPU cores


@pytest.mark.parametrize("name", ["sine.lstm", "sine.gru"])
def bench_sine_rnn_one_seed(name, benchmark, budget, tmp_path):
    exp = registry.get(name)
    record = benchmark.pedantic(exp.run, args=(budget, {"seeds": (0,)}),
                                kwargs={"progress": False, "write": False, "results_dir": tmp_path},
                                rounds=1, iterations=1)
    metrics = {k: m["mean"] for k, m in record["metrics"].items()}
    benchmark.extra_info.update(metrics)
    assert metrics["test_mse"] <= MAX_TEST_MSE[budget], metrics
    if budget == "standard":
        assert metrics["train_seconds"] <= MAX_TRAIN_SECONDS, metrics
