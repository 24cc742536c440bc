"""``dl-assign bench --shard K/N``: N disjoint slices whose union is the whole benchmark list."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dl_assign import registry
from dl_assign.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _conftest():
    spec = importlib.util.spec_from_file_location("bench_conftest", ROOT / "benchmarks" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _conftest()
NAMES = registry.names() + ["web.load", "web.page", "fashion.analysis"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 50])
def test_slices_are_disjoint_and_cover_the_list(n):
    slices = [BENCH.shard(NAMES, k, n) for k in range(1, n + 1)]
    flat = [name for part in slices for name in part]
    assert len(flat) == len(set(flat))  # disjoint
    assert sorted(flat) == sorted(NAMES)  # the union is the whole list
    if n <= len(BENCH.shard_units(NAMES)):
        assert all(slices)  # no empty slice while there are units to deal


@pytest.mark.parametrize("n", [2, 3, 5])
def test_a_reader_runs_in_the_slice_of_what_it_reads(n):
    slice_of = {name: k for k in range(1, n + 1) for name in BENCH.shard(NAMES, k, n)}
    pests = ("pests.transfer_compare", "pests.transfer_effnet_lite0", "pests.cnn_scratch")
    assert len({slice_of[name] for name in pests}) == 1
    assert slice_of["faces.gender_compare"] == slice_of["faces.gender_improved"]
    assert slice_of["segment.cnn_features"] == slice_of["pests.transfer_mobilenet_v2"]
    assert slice_of["web.load"] == slice_of["web.page"] == slice_of["faces.gender_baseline"]
    for reader, producer in (("faces.fairness", "faces.gender_compare"), ("imagenet.occlusion", "imagenet.cnn_best")):
        if reader in NAMES:  # registered once their modules land
            assert slice_of[reader] == slice_of[producer]
    # independent experiments are spread out, not all in one slice
    assert len(set(slice_of.values())) == n


def test_the_partition_depends_on_the_names_only():
    shuffled = list(reversed(NAMES))
    for k in (1, 2, 3):
        assert sorted(BENCH.shard(shuffled, k, 3)) == sorted(BENCH.shard(NAMES, k, 3))


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text, capsys):
    with pytest.raises(ValueError):
        BENCH.parse_shard(text)
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["bench", "--shard", text])
    assert exc.value.code == 2
    assert "--shard" in capsys.readouterr().err


def _collected(*args: str) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "benchmarks", "--collect-only", "-q",
                          "-p", "no:cacheprovider", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return [line for line in out.stdout.splitlines() if line.startswith("benchmarks/")]


def test_the_benchmark_suite_splits_into_disjoint_slices():
    whole = _collected()
    parts = [_collected("--shard", f"{k}/2") for k in (1, 2)]
    assert set(parts[0]).isdisjoint(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(whole)
    assert all(parts) and len(whole) > 20
