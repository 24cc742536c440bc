"""Benchmarks train every registered experiment and write results/ through the one writer.

``pytest benchmarks --budget smoke|standard|full [--results-dir DIR]``. Smoke results go to
``build/results-smoke`` (and smoke models to ``build/models-smoke``) by default so that a test
run never overwrites the committed ``results/`` of the standard budget. An experiment whose
dataset is missing is skipped, except under ``CI=true``, where it fails.

``--shard K/N`` (``dl-assign bench --shard K/N``) keeps the K-th of N disjoint slices of the
experiment list, for a job array across machines: results files are per experiment, so the slices'
``results/`` folders merge by copying. An experiment that reads another one's results or stored
models stays in its producer's slice (``READS`` below), so every slice runs on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dl_assign import registry

# what an experiment reads from others (name prefixes): their results, or the models they store
READS = {
    "pests.transfer_compare": ("pests.transfer_", "pests.cnn_scratch"),  # their results files
    "faces.gender_compare": ("faces.gender_",),  # their results files
    "faces.fairness": ("faces.gender_",),  # faces.gender_compare's results
    "segment.cnn_features": ("pests.",),  # the store's best pests model
    "imagenet.occlusion": ("imagenet.cnn_best",),  # the store's best imagenet_cnn model
    # the page and the load test serve every stored model (the dropdown must list exactly the store)
    "web": ("pests.", "faces.", "imagenet.cnn_best"),
}
# benchmark files that time without writing an experiment's result: the experiment they belong with
FILE_UNITS = {"bench_fashion_cnn.py": "fashion.precision", "bench_segment.py": "segment.cnn_features",
              "bench_web.py": "web", "bench_fashion_analysis.py": "fashion.analysis"}


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with 1 <= K <= N; a ValueError names what is wrong."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N (e.g. 2/4), got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_units(names: list[str]) -> list[list[str]]:
    """The experiment names grouped so that a reader sits with what it reads; in first-name order."""
    parent = {name: name for name in names}

    def find(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for reader, prefixes in READS.items():
        for reader_name in [n for n in names if n == reader or n.startswith(reader + ".")]:
            for other in [n for n in names if n.startswith(prefixes)]:
                parent[find(other)] = find(reader_name)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())


def shard(names: list[str], k: int, n: int) -> list[str]:
    """The K-th (1-based) of N disjoint slices of ``names``: units dealt round-robin in sorted order.

    Only the names decide (never timings or files on disk), so every machine of a job array
    computes the same partition.
    """
    units = sorted(shard_units(sorted(set(names))))
    mine = {name for i, unit in enumerate(units) if i % n == k - 1 for name in unit}
    return [name for name in names if name in mine]


def unit_of(item) -> str:
    """The experiment a collected benchmark belongs to (its result's name, or FILE_UNITS')."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "name" in callspec.params:
        return callspec.params["name"]
    file_name = Path(str(item.fspath)).name
    if item.name.startswith("bench_web_"):
        return "web." + item.name.removeprefix("bench_web_")
    return FILE_UNITS.get(file_name, Path(file_name).stem)


def pytest_addoption(parser):
    parser.addoption("--budget", default="smoke", choices=("smoke", "standard", "full"))
    parser.addoption("--results-dir", default=None,
                     help="where results go (default: build/results-smoke for smoke, else results)")
    parser.addoption("--shard", default=None, metavar="K/N",
                     help="run only the K-th of N disjoint slices of the experiments (job arrays)")


def pytest_collection_modifyitems(config, items):
    text = config.getoption("--shard")
    if not text:
        return
    try:
        k, n = parse_shard(text)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    keep = set(shard([unit_of(item) for item in items], k, n))
    selected = [item for item in items if unit_of(item) in keep]
    config.hook.pytest_deselected(items=[item for item in items if unit_of(item) not in keep])
    items[:] = selected


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
