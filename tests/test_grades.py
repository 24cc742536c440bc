import json
import re
from pathlib import Path

import pytest

from dl_assign import grades, results
from dl_assign.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "results"

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
        assert row.experiment in names or row.experiment in grades.BENCHMARK_RECORDS, row
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


# Registered experiments, so the grader can look up their datasets: sine.* data is generated (always
# available), pests.cnn_scratch needs ip102, which an empty data root does not hold.
DATA_RUBRIC = (
    grades.Row("lstm", "sine.lstm", "test_mse", {"smoke": 0.02}, 4, higher_is_better=False),
    grades.Row("gru", "sine.gru", "test_mse", {"smoke": 0.02}, 3, higher_is_better=False),
    grades.Row("pests", "pests.cnn_scratch", "test_accuracy", {"smoke": 0.10}, 5),
)


@pytest.fixture
def no_pests(tmp_path, monkeypatch):
    """A results folder with sine.lstm and sine.gru passing, no pests.cnn_scratch; an empty data root."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("DL_ASSIGN_DATA", str(root))
    from dl_assign import data

    assert not data.available("ip102")
    out = tmp_path / "results"
    out.mkdir()
    _write(out, "sine.lstm", "smoke", test_mse=0.01)
    _write(out, "sine.gru", "smoke", test_mse=0.01)
    return out


def test_missing_dataset_outside_ci_is_not_run_and_leaves_the_gate(no_pests, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    summary = grades.grade(no_pests, rubric=DATA_RUBRIC)
    status = {r["question"]: r["status"] for r in summary["rows"]}
    assert status["lstm"] == status["gru"] == "pass"
    assert status["pests"].startswith("not run (dataset missing: ip102; how to get it: ")
    assert "pests14/ip102_v1.1" in status["pests"]  # the how_to_get of ip102.status()
    assert (summary["earned"], summary["total"], summary["passed"]) == (7, 7, True)
    saved = json.loads((no_pests / "grades.json").read_text())
    assert saved["not_run"] == 1 and list(saved["missing_datasets"]) == ["ip102"] and saved["ci"] is False
    headline = (no_pests / "grades.md").read_text().split("|")[0]  # the text above the table
    assert "7 / 7 points" in headline and "PASS" in headline
    assert "1 row(s) not run" in headline and "ip102" in headline


def test_missing_dataset_under_ci_is_a_failure_naming_it(no_pests, monkeypatch):
    monkeypatch.setenv("CI", "true")
    summary = grades.grade(no_pests, rubric=DATA_RUBRIC)
    assert [r["status"] for r in summary["rows"]] == ["pass", "pass", "missing"]
    assert (summary["earned"], summary["total"], summary["passed"], summary["not_run"]) == (7, 12, False, 0)
    headline = grades.render(summary).split("|")[0]
    assert "FAIL" in headline and "CI=true: dataset(s) missing: ip102" in headline


def test_missing_result_with_data_present_stays_missing(no_pests, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    (no_pests / "sine.gru.json").unlink()  # sine data is generated, so only the result is absent
    summary = grades.grade(no_pests, rubric=DATA_RUBRIC)
    assert [r["status"][:7] for r in summary["rows"]] == ["pass", "missing", "not run"]
    assert (summary["earned"], summary["total"], summary["passed"]) == (4, 7, False)


def test_present_result_is_graded_even_without_its_data(no_pests, monkeypatch):
    monkeypatch.setenv("CI", "true")
    _write(no_pests, "pests.cnn_scratch", "smoke", test_accuracy=0.2)
    summary = grades.grade(no_pests, rubric=DATA_RUBRIC)
    assert [r["status"] for r in summary["rows"]] == ["pass", "pass", "pass"]
    assert (summary["earned"], summary["total"], summary["missing_datasets"]) == (12, 12, {})


@pytest.mark.parametrize("make", [lambda d: None, lambda d: d.mkdir(), lambda d: (d.mkdir(), (d / "x.md").touch())])
def test_grade_cli_without_results_exits_2(tmp_path, capsys, make):
    folder = tmp_path / "results"
    make(folder)
    assert main(["grade", "--results-dir", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "no result records" in captured.err and str(folder) in captured.err
    assert captured.out == "" and not (folder / "grades.json").exists()


# --- a damaged record: named, skipped, the other rows graded; a failure only under CI -----------

DAMAGED_RUBRIC = (
    grades.Row("q1", "a.exp", "acc", {"standard": 0.9}, 3),
    grades.Row("q2", "b.exp", "err", {"standard": 0.1}, 2, higher_is_better=False),
    grades.Row("q3", "c.exp", "acc", {"standard": 0.9}, 1),
)


@pytest.fixture
def one_truncated(tmp_path):
    _write(tmp_path, "a.exp", "standard", acc=0.95)
    _write(tmp_path, "b.exp", "standard", err=0.05)
    (tmp_path / "c.exp.json").write_text('{"experiment": "c.exp", "budget": "standard", "metr')
    return tmp_path


def test_a_damaged_record_outside_ci_is_named_and_the_good_rows_pass(one_truncated):
    summary = grades.grade(one_truncated, rubric=DAMAGED_RUBRIC, ci=False)
    path = str(one_truncated / "c.exp.json")
    assert list(summary["damaged"]) == [path] and "not valid JSON" in summary["damaged"][path]
    assert [r["status"] for r in summary["rows"]] == ["pass", "pass", f"damaged record: {path}"]
    assert (summary["earned"], summary["total"], summary["passed"]) == (5, 5, True)  # q3 leaves the gate
    md = (one_truncated / "grades.md").read_text()
    assert "**Damaged result records, skipped**" in md and f"- `{path}`: `not valid JSON" in md
    assert json.loads((one_truncated / "grades.json").read_text())["damaged"] == summary["damaged"]


def test_a_damaged_record_under_ci_fails_the_grade(one_truncated):
    summary = grades.grade(one_truncated, rubric=DAMAGED_RUBRIC, gate=0.5, ci=True)
    assert (summary["earned"], summary["total"]) == (5, 6)  # q3 counts: 83% clears the 50% gate ...
    assert not summary["passed"]  # ... yet a damaged record under CI is a failure
    assert "CI=true: a damaged record fails the grade" in (one_truncated / "grades.md").read_text()


def test_grade_cli_warns_naming_the_damaged_record_and_fails_under_ci(one_truncated, monkeypatch, capsys):
    monkeypatch.setattr(grades, "RUBRIC", DAMAGED_RUBRIC)
    monkeypatch.delenv("CI", raising=False)
    assert main(["grade", "--results-dir", str(one_truncated)]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"dl-assign: warning: damaged result record skipped: {one_truncated}/c.exp.json")
    assert captured.err.count("\n") == 1 and "| q1 | a.exp |" in captured.out
    monkeypatch.setenv("CI", "true")
    assert main(["grade", "--results-dir", str(one_truncated)]) == 1
    assert "c.exp.json" in capsys.readouterr().err


def test_grades_can_go_elsewhere_leaving_the_results_folder_untouched(no_pests, tmp_path, monkeypatch):
    """`make test` grades the committed results/ into build/grades-results: results/ is only read."""
    monkeypatch.delenv("CI", raising=False)
    before = {p.name: p.stat().st_mtime_ns for p in no_pests.iterdir()}
    out = tmp_path / "build" / "grades-results"
    summary = grades.grade(no_pests, rubric=DATA_RUBRIC, out_dir=out)
    assert {p.name: p.stat().st_mtime_ns for p in no_pests.iterdir()} == before
    assert json.loads((out / "grades.json").read_text())["earned"] == summary["earned"]
    assert (out / "grades.md").read_text().startswith("# Grades")


# --- two columns: the regression guard (gated) and the assignment's own expectation (issue 28) -------

TWO_COLUMN_RUBRIC = (
    grades.Row("seed 001 2: q1", "a.exp", "acc", {"standard": 0.80}, 3, expectation=0.90,
               expectation_source="an anchor"),
    grades.Row("seed 001 2: q2", "a.exp", "secs", {"standard": 60.0}, 2, higher_is_better=False,
               expectation=30.0, expectation_source="a seed"),
    grades.Row("seed 001 2: q3", "a.exp", "f1", {"standard": 0.5}, 1, expectation_source="seed 001 sets no number"),
    grades.Row("seed 001 2: q4", "b.exp", "acc", {"standard": 0.5}, 4, expectation=0.6, expectation_source="x"),
)


def test_a_row_short_of_the_assignment_is_shown_and_does_not_gate(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    _write(tmp_path, "a.exp", "standard", acc=0.85, secs=20.0, f1=0.7)  # guard passes, assignment: short, met
    summary = grades.grade(tmp_path, rubric=TWO_COLUMN_RUBRIC, ci=False)
    rows = {r["question"][-2:]: r for r in summary["rows"]}
    assert [(rows[q]["status"], rows[q]["assignment_status"]) for q in ("q1", "q2", "q3", "q4")] == [
        ("pass", "short"), ("pass", "met"), ("pass", "no threshold"), ("missing", "missing")]
    assert [rows[q]["assignment_earned"] for q in ("q1", "q2", "q3")] == [0.0, 2, 0.0]
    assert (summary["earned"], summary["total"], summary["passed"]) == (6, 10, False)  # b.exp missing: guard fails
    a = summary["assignment"]
    assert (a["earned"], a["total"], a["rows_met"], a["rows_short"], a["rows_no_threshold"]) == (2, 9, 1, 1, 1)
    assert a["short"] == ["seed 001 2: q1"]  # q3 has no number: out of the assignment score, not scored as its guard
    md = (tmp_path / "grades.md").read_text()
    short_list = md.split("### Short of the assignment", 1)[1].split("## Every row", 1)[0]
    assert "seed 001 2: q1" in short_list and "expected >= 0.9" in short_list and "q2" not in short_list
    assert "| seed 001 2: q1 | a.exp | `acc` | standard | 0.8500 | >= 0.8 | 3/3 | pass | >= 0.9 | short (0/3) |" in md
    saved = json.loads((tmp_path / "grades.json").read_text())
    assert all({"expectation", "expectation_source", "earned", "assignment_earned"} <= set(r) for r in saved["rows"])


def test_the_gate_and_exit_code_follow_the_guard_only(tmp_path, monkeypatch):
    monkeypatch.setattr(grades, "RUBRIC", TWO_COLUMN_RUBRIC[:3])
    _write(tmp_path, "a.exp", "standard", acc=0.85, secs=20.0, f1=0.7)
    assert main(["grade", "--results-dir", str(tmp_path)]) == 0  # q1 short of the assignment: still exit 0
    _write(tmp_path, "a.exp", "standard", acc=0.95, secs=20.0, f1=0.4)  # every assignment met, q3's guard fails
    assert main(["grade", "--results-dir", str(tmp_path)]) == 1


def test_every_rubric_row_says_where_its_expectation_comes_from():
    for row in grades.RUBRIC:
        source = row.expectation_source
        tagged = set(re.findall(r"\bseed (\d{3})\b", row.question))
        assert row.question.startswith("seed ") and tagged, row.question  # the seed(s) that ask for it
        assert tagged == set(re.findall(r"\bseed (\d{3}) \(", source)), row  # ... named with their file
        assert all(f"({grades.SEED_FILES[n]})" in source for n in tagged), row
        if row.expectation is None:
            assert grades.NO_NUMBER in source, row  # said explicitly, not left blank
        else:
            assert any(a in source for a in grades.ANCHORS) or grades.NO_NUMBER not in source, row
            # a seed's own count or yes/no is quoted from its text; an accuracy comes from a publication
            if row.metric.endswith("accuracy"):
                assert any(a in source for a in grades.ANCHORS), row


def test_seed_files_match_the_seed_folder():
    seeds = RESULTS.parents[1] / "shared" / "seeds"
    if not (seeds / "README.md").is_file():
        pytest.skip(f"the seed texts are not beside this checkout ({seeds}): they live outside the repository")
    listed = set(re.findall(r"`(\d{3}_[0-9a-f]+\.txt)`", (seeds / "README.md").read_text()))
    assert listed == set(grades.SEED_FILES.values())
    assert all((seeds / f).is_file() for f in listed)


def test_theory_answers_have_rows_on_their_measurements():
    by_experiment = {}
    for row in grades.RUBRIC:
        by_experiment.setdefault(row.experiment, []).append(row)
    for name in ("fashion.theory_vanishing", "fashion.theory_exploding", "fashion.theory_batchnorm",
                 "fashion.theory_dropout"):
        assert by_experiment.get(name), name
    bn = {r.metric for r in by_experiment["fashion.theory_batchnorm"]}
    assert {"plain/log10_grad_ratio_init", "bn/log10_grad_ratio_init"} <= bn  # vanishes without BN, not with it


def test_the_committed_results_pass_the_guard_and_carry_both_columns(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    summary = grades.grade(RESULTS, out_dir=tmp_path)
    assert summary["passed"] and summary["earned"] == summary["total"] > 200
    assert summary["not_run"] == 0 and not summary["damaged"]
    committed = json.loads((RESULTS / "grades.json").read_text())
    assert [r["question"] for r in committed["rows"]] == [r.question for r in grades.RUBRIC]  # regenerated
    assert all(r["expectation_source"] and "assignment_earned" in r and "earned" in r for r in committed["rows"])
    assert committed["assignment"] == summary["assignment"]
