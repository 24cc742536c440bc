"""Benchmarks train every registered experiment and write results/ through the one writer.

``pytest benchmarks --budget smoke|standard|full [--results-dir DIR]``. Smoke results go to
``build/results-smoke`` (and smoke models to ``build/models-smoke``) by default so that a test
run never overwrites the committed ``results/`` of the standard budget. An experiment whose
dataset is missing is skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dl_assign import registry


def pytest_addoption(parser):
    parser.addoption("--budget", default="smoke", choices=("smoke", "standard", "full"))
    parser.addoption("--results-dir", default=None,
                     help="where results go (default: build/results-smoke for smoke, else results)")


@pytest.fixture(scope="session")
def budget(request) -> str:
    return request.config.getoption("--budget")


@pytest.fixture(scope="session")
def results_dir(request, budget) -> Path:
    chosen = request.config.getoption("--results-dir")
    return Path(chosen or ("build/results-smoke" if budget == "smoke" else "results"))


@pytest.fixture(scope="session", autouse=True)
def model_store(budget):
    """Smoke-budget models go to build/models-smoke (unless DL_ASSIGN_MODELS is set): ./.models keeps servable ones."""
    if budget != "smoke" or "DL_ASSIGN_MODELS" in os.environ:
        yield os.environ.get("DL_ASSIGN_MODELS", ".models")
        return
    os.environ["DL_ASSIGN_MODELS"] = "build/models-smoke"
    try:
        yield "build/models-smoke"
    finally:
        del os.environ["DL_ASSIGN_MODELS"]


@pytest.fixture
def run_experiment(benchmark, budget, results_dir, need_data):
    """Run a registered experiment once under pytest-benchmark; returns its result record."""

    def run(name: str, **overrides) -> dict:
        exp = registry.get(name)
        need_data(*exp.datasets)
        record = benchmark.pedantic(
            exp.run, args=(budget, overrides or None),
            kwargs={"results_dir": results_dir, "progress": False}, rounds=1, iterations=1,
        )
        benchmark.extra_info.update({k: m["mean"] for k, m in record["metrics"].items()})
        benchmark.extra_info["budget"] = budget
        return record

    return run
