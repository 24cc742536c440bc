import json

import pytest

from dl_assign import grades, results
from dl_assign.cli import main

RUBRIC = (
    grades.Row("q1", "a.exp", "acc", {"smoke": 0.5, "standard": 0.9}, 3),
    grades.Row("q2", "b.exp", "err", {"standard": 0.1}, 2, higher_is_better=False),
    grades.Row("q3", "c.exp", "acc", {"standard": 0.9}, 1),
    grades.Row("q4", "a.exp", "secs", {"standard": 60.0}, 4, higher_is_better=False),
)


def _write(tmp_path, name, budget, **metrics):
    rec = results.make_record(
        experiment=name, budget=budget, config={}, seeds=[0], per_seed=[metrics], seed_seconds=[0.0],
        artifacts=[{}], wall_seconds=0.0, dataset={}, figures=[], env={"git_sha": "x"})
    results.write_result(rec, tmp_path)


def test_rows_pass_fail_and_missing(tmp_path):
    _write(tmp_path, "a.exp", "smoke", acc=0.6)  # smoke threshold 0.5 applies: pass
    _write(tmp_path, "b.exp", "standard", err=0.2)  # lower is better: 0.2 > 0.1 fails
    summary = grades.grade(tmp_path, gate=0.5, rubric=RUBRIC)
    status = {r["question"]: r["status"] for r in summary["rows"]}
    assert status == {"q1": "pass", "q2": "fail", "q3": "missing", "q4": "not graded at this budget"}
    assert (summary["earned"], summary["total"]) == (3, 6)
    assert summary["passed"]  # 50% >= gate 50%
    assert not grades.grade(tmp_path, gate=0.51, rubric=RUBRIC)["passed"]
    saved = json.loads((tmp_path / "grades.json").read_text())
    assert saved["earned"] == 3
    assert "FAIL" in (tmp_path / "grades.md").read_text()


def test_every_rubric_row_names_a_registered_experiment():
    from dl_assign import registry

    names = set(registry.names())
    for row in grades.RUBRIC:
        assert row.experiment in names, row
        assert set(row.thresholds) <= {"smoke", "standard", "full"} and row.points > 0


def test_grade_cli_exit_code(tmp_path, monkeypatch):
    monkeypatch.setattr(grades, "RUBRIC", RUBRIC)
    _write(tmp_path, "a.exp", "standard", acc=0.95, secs=30.0)
    assert main(["grade", "--results-dir", str(tmp_path), "--gate", "0.5"]) == 0
    assert main(["grade", "--results-dir", str(tmp_path), "--gate", "1.0"]) == 1


@pytest.mark.parametrize("budget", ["smoke", "standard"])
def test_rubric_thresholds_are_monotone(budget):
    for row in grades.RUBRIC:
        if budget in row.thresholds and "standard" in row.thresholds and row.higher_is_better:
            assert row.thresholds[budget] <= row.thresholds["standard"], row
