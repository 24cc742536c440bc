import json
import os

import pytest

from dl_assign import results


def _record(name="toy.exp", budget="standard"):
    return results.make_record(
        experiment=name, budget=budget, config={"epochs": 1}, seeds=[0, 1, 2],
        per_seed=[{"acc": 0.5}, {"acc": 0.7}, {"acc": 0.9}], seed_seconds=[1.0, 1.0, 1.0],
        artifacts=[{}, {}, {}], wall_seconds=3.0, dataset={"name": "toy", "source": "mem", "identity": "x"},
        figures=[], env={"git_sha": "abc", "torch": "2", "device": "cpu", "threads": 2, "cpu": "c", "date": "d"},
    )


def test_aggregate_mean_and_sample_std():
    agg = results.aggregate([{"a": 1.0}, {"a": 2.0}, {"a": 3.0}])
    assert agg["a"] == {"mean": 2.0, "std": 1.0, "values": [1.0, 2.0, 3.0]}
    assert results.aggregate([{"a": 4.0}])["a"]["std"] == 0.0


def test_write_result_has_every_field_and_renders(tmp_path):
    path = results.write_result(_record(), tmp_path)
    saved = json.loads(path.read_text())
    for key in results.REQUIRED_FIELDS:
        assert key in saved
    assert saved["metrics"]["acc"]["mean"] == pytest.approx(0.7)
    assert saved["metrics"]["acc"]["std"] == pytest.approx(0.2)
    md = (tmp_path / "toy.exp.md").read_text()
    assert "0.7000 ± 0.2000" in md
    assert "[toy.exp](toy.exp.md)" in (tmp_path / "index.md").read_text()


def test_env_info_has_provenance_fields():
    env = results.env_info()
    for key in ("git_sha", "torch", "device", "threads", "cpu", "date"):
        assert env[key] not in (None, "")


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    results.atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        results.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_validate_rejects_incomplete_records():
    rec = _record()
    del rec["env"]
    with pytest.raises(ValueError, match="env"):
        results.validate_record(rec)


def test_non_finite_values_become_null():
    rec = results.make_record(
        experiment="n", budget="smoke", config={}, seeds=[0], per_seed=[{"x": float("nan")}],
        seed_seconds=[0.0], artifacts=[{}], wall_seconds=0.0, dataset={}, figures=[], env={"git_sha": "a"})
    assert rec["metrics"]["x"]["mean"] is None
    json.dumps(rec, allow_nan=False)  # strict JSON


@pytest.mark.parametrize("x,want", [(0.90215, "0.9022"), (3.2e-13, "3.20e-13"), (0.0, "0.0000"), (2.5e8, "2.50e+08")])
def test_fmt_number_switches_to_scientific_for_tiny_and_huge(x, want):
    assert results.fmt_number(x) == want
