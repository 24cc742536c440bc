import json
import os
from pathlib import Path

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


# --- damaged records: named and skipped, never fatal -------------------------------------------

GOOD_METRICS = '{"acc": {"mean": 0.5, "std": 0.0, "values": [0.5]}}'
DAMAGE = {  # file content -> the words naming what is wrong with it
    "truncated": ('{"experiment": "c.exp", "budget": "stand', "not valid JSON"),
    "empty": ("", "empty file"),
    "blank": ("  \n", "empty file"),
    "list": ("[1, 2, 3]", "holds a list, not a result record"),
    "null": ("null", "holds null"),
    "no metrics": ('{"experiment": "c.exp", "budget": "standard"}', "misses the field metrics"),
    "no budget or metrics": ('{"experiment": "c.exp"}', "misses the fields budget, metrics"),
    "budget a number": ('{"experiment": "c.exp", "budget": 3, "metrics": {}}',
                        "field budget is a number, not a string"),
    "metric not an object": ('{"experiment": "c.exp", "budget": "standard", "metrics": {"acc": 0.9}}',
                             "metric 'acc' is not an object with mean, std and values"),
    "mean as text": ('{"experiment": "c.exp", "budget": "standard", "metrics": '
                     '{"acc": {"mean": "0.9", "std": 0, "values": [0.9]}}}', "metric 'acc' has a mean or std"),
    "another name": (f'{{"experiment": "a.exp", "budget": "standard", "metrics": {GOOD_METRICS}}}',
                     "names experiment 'a.exp', whose file is a.exp.json"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_record_is_named_and_the_others_are_read(tmp_path, kind, capsys):
    content, words = DAMAGE[kind]
    for name in ("a.exp", "b.exp"):
        results.write_result(_record(name), tmp_path)
    (tmp_path / "c.exp.json").write_text(content)
    scan = results.scan_results(tmp_path)
    assert sorted(scan.records) == ["a.exp", "b.exp"]
    assert scan.records["a.exp"]["metrics"]["acc"]["mean"] == pytest.approx(0.7)  # the good one, not c's copy
    assert list(scan.damaged) == [str(tmp_path / "c.exp.json")]
    assert words in scan.damaged[str(tmp_path / "c.exp.json")]
    assert sorted(results.load_results(tmp_path)) == ["a.exp", "b.exp"]  # load_results: the same, and it warns
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.exp.json" in err and words in err


def test_unreadable_and_non_utf8_records_are_named(tmp_path):
    results.write_result(_record("a.exp"), tmp_path)
    (tmp_path / "b.exp.json").mkdir()  # reading it fails as a file we may not read would (root reads chmod 000)
    (tmp_path / "c.exp.json").write_bytes(b"\xff\xfe{\x00")
    scan = results.scan_results(tmp_path)
    assert list(scan.records) == ["a.exp"]
    assert scan.damaged == {str(tmp_path / "b.exp.json"): "cannot be read (Is a directory)",
                            str(tmp_path / "c.exp.json"): "not UTF-8 text"}


def test_renderers_require_every_field(tmp_path):
    rec = _record("a.exp")
    del rec["env"]
    (tmp_path / "a.exp.json").write_text(json.dumps(rec))
    assert list(results.scan_results(tmp_path).records) == ["a.exp"]  # enough to grade
    assert results.scan_results(tmp_path, results.REQUIRED_FIELDS).damaged == {
        str(tmp_path / "a.exp.json"): "misses the field env"}  # not enough to render


def test_index_lists_damaged_records(tmp_path):
    (tmp_path / "c.exp.json").write_text('{"experiment": "c.exp", "bud')
    results.write_result(_record("a.exp"), tmp_path)  # writes index.md, which reads the folder
    index = (tmp_path / "index.md").read_text()
    assert "[a.exp](a.exp.md)" in index
    assert "**Damaged result records, skipped**" in index and "- `c.exp.json`: `not valid JSON" in index


def test_every_committed_result_is_usable():
    folder = Path(__file__).resolve().parents[1] / "results"
    scan = results.scan_results(folder, results.REQUIRED_FIELDS)
    assert scan.damaged == {}
    assert len(scan.records) == len([p for p in folder.glob("*.json") if not p.name.startswith("grades")]) > 0
