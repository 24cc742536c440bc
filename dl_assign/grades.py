"""The grade rubric: seed question -> result metric -> threshold per budget -> points.

``dl-assign grade`` reads every ``results/<name>.json``, checks each rubric row against the
mean of its metric at the budget that result was produced with, writes ``grades.json`` and
``grades.md`` beside the results and exits non-zero when the score is below the gate. A row
whose result is missing earns nothing. When it is missing because one of its experiment's datasets
is absent, outside CI the row is ``not run``: it leaves the gate's denominator and the summary
names the dataset and how to get it (the benchmarks skip such an experiment too). Under
``CI=true`` a missing dataset is a failure, never a skip: the row stays ``missing`` and counts.

A damaged record (truncated or empty JSON, not an object, a field missing) never stops the others
from being graded: it is skipped, its rows are ``missing``, and the summary names the file and what
is wrong (``damaged``). Outside CI the rows of a damaged record leave the gate's denominator, like
``not run`` ones, and the command warns on stderr; under ``CI=true`` they count, and a damaged
record fails the grade whatever the score.

Two columns per row (issue 28). The **regression guard** (``thresholds``, ``status``, ``earned``) holds
the row to a number set just below the committed runs; the gate and the exit code read it alone. The
**assignment** column (``expectation``, ``assignment_status``, ``assignment_earned``) holds the same
value to what the assignment expects: a count or a yes/no the seed text itself gives, or a published
anchor; ``expectation_source`` names the seed file and part, or the publication. No seed sets an
accuracy target: where neither a seed nor an anchor gives a number the row says so in its source and
its assignment status is ``no threshold``, outside the assignment score. That column is never gated;
``grades.md`` lists every row that falls short of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from dl_assign.results import Scan, atomic_write_text, damaged_md, fmt_number, markdown_table, scan_results
from dl_assign.rubric import ANCHORS, NO_NUMBER, RUBRIC, SEED_FILES, Row, seed  # noqa: F401 (grades.Row & co.)

GATE = 1.0  # fraction of the rubric's points needed; every row must pass by default


# Records written by a benchmark rather than by a registered experiment, and what each needs besides code
# (a dataset name, or "chromium" for the browser): a row whose record is absent because one is missing
# is `not run` outside CI, like a registered experiment's.
BENCHMARK_RECORDS: dict[str, tuple[str, ...]] = {"web.page": ("ip102", "chromium"), "web.load": ("ip102",),
                                                  "web.decode_cost": ("ip102",), "imagenet.speed": ()}
CHROMIUM_HOW = ("not a dataset: a browser. apt-get install chromium (Debian's package, driven by the web extra's "
                "Playwright; never `playwright install`)")


DAMAGED = "damaged record"  # a row's status when its record is damaged: out of the gate outside CI, a failure under CI
NO_THRESHOLD = "no threshold"  # assignment column: neither the seed nor a published anchor sets a number
SHORT = "short"  # assignment column: measured, and below what the seed or the anchor expects


class NoResults(FileNotFoundError):
    """The results folder holds no result records (or does not exist): nothing to grade."""


def missing_datasets(experiment: str) -> dict[str, str]:
    """``{dataset: how to get it}`` for each dataset ``experiment`` declares that is not available.

    An experiment the registry does not know declares what ``BENCHMARK_RECORDS`` says (a custom
    rubric's: none).
    """
    from dl_assign import data, registry

    try:
        names = registry.get(experiment).datasets
    except registry.UnknownExperiment:
        names = BENCHMARK_RECORDS.get(experiment, ())
    missing = {}
    for name in names:
        if name == "chromium":
            from dl_assign.web.shots import browser_missing

            if browser_missing():
                missing[name] = CHROMIUM_HOW
            continue
        found = data.status(name)  # one status per name; `available` is the same test
        if not all(s.found and not s.error for s in found):
            missing[name] = " ".join(s.how_to_get for s in found)
    return missing


def grade_rows(records: dict[str, dict], rubric=None, ci: bool = False) -> list[dict]:
    """One dict per rubric row; ``ci`` keeps a row whose dataset is missing a failure (``missing``)."""
    rows, absent = [], {}  # absent: experiment -> its missing datasets, looked up once
    for row in RUBRIC if rubric is None else rubric:
        rec = records.get(row.experiment)
        out = asdict(row) | {"budget": None, "value": None, "threshold": None, "earned": 0.0, "status": "missing",
                             "missing_datasets": {}, "assignment_status": "missing", "assignment_earned": 0.0}
        if rec is None:
            if row.experiment not in absent:
                absent[row.experiment] = missing_datasets(row.experiment)
            out["missing_datasets"] = gone = absent[row.experiment]
            if gone and not ci:  # under CI the row stays `missing`: a failure, never a skip
                why = "; ".join(f"dataset missing: {n}; how to get it: {how}" for n, how in gone.items())
                out["status"] = f"not run ({why})"
        else:
            metric = rec["metrics"].get(row.metric)
            threshold = row.thresholds.get(rec["budget"])
            value = None if metric is None else metric["mean"]
            out.update(budget=rec["budget"], threshold=threshold, value=value)
            if threshold is None:
                out["status"] = "not graded at this budget"  # e.g. a time goal that only the standard run has
            elif value is None:
                out["status"] = "metric missing"
            else:
                ok = _meets(value, threshold, row.higher_is_better)
                out.update(status="pass" if ok else "fail", earned=row.points if ok else 0.0)
        # the assignment column: the same value against the seed's or the anchor's number, at any budget
        if row.expectation is None:
            out["assignment_status"] = NO_THRESHOLD
        elif out["value"] is not None:
            met = _meets(out["value"], row.expectation, row.higher_is_better)
            out.update(assignment_status="met" if met else SHORT, assignment_earned=row.points if met else 0.0)
        else:
            out["assignment_status"] = out["status"] if rec is None else "metric missing"  # missing / not run (...)
        rows.append(out)
    return rows


def _meets(value: float, threshold: float, higher_is_better: bool) -> bool:
    return value >= threshold if higher_is_better else value <= threshold


def assignment_summary(rows: list[dict]) -> dict:
    """The assignment column's score: only rows whose seed or anchor sets a number count; never gated."""
    numbered = [r for r in rows if r["expectation"] is not None  # a missing result counts, as in the guard
                and not r["assignment_status"].startswith(("not run", DAMAGED))]
    total = sum(r["points"] for r in numbered)
    earned = sum(r["assignment_earned"] for r in numbered)
    return {"earned": earned, "total": total, "fraction": earned / total if total else 0.0,
            "rows_met": sum(r["assignment_status"] == "met" for r in rows),
            "rows_short": sum(r["assignment_status"] == SHORT for r in rows),
            "rows_no_threshold": sum(r["assignment_status"] == NO_THRESHOLD for r in rows),
            "short": [r["question"] for r in rows if r["assignment_status"] == SHORT]}


def grade(results_dir: str | Path = "results", gate: float = GATE, rubric=None, ci: bool | None = None,
          out_dir: str | Path | None = None) -> dict:
    """Grade a results folder; writes grades.json and grades.md there and returns the summary.

    ``ci`` defaults to ``$CI == "true"``. Raises :class:`NoResults` when the folder holds no usable
    record (absent, a file, empty, or every record damaged). Damaged records are skipped and named in
    ``summary["damaged"]`` (path -> what is wrong); under ``ci`` any of them fails the grade.
    """
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise NoResults(f"{results_dir} is a file, not a folder of result records")
    records, damaged = scan_results(results_dir) if results_dir.is_dir() else Scan({}, {})
    if not records:
        if damaged:  # nothing usable: say why, file by file, rather than grade zero points
            raise NoResults(f"no usable result records in {results_dir}: "
                            + "; ".join(f"{path}: {why}" for path, why in damaged.items()))
        where = "the folder does not exist" if not results_dir.exists() else "nothing to grade"
        raise NoResults(f"no result records (*.json) in {results_dir}: {where} "
                        "(run `dl-assign bench` or `dl-assign run NAME` first)")
    ci = os.environ.get("CI") == "true" if ci is None else ci
    rows = grade_rows(records, rubric, ci=ci)
    by_name = {Path(path).name.removesuffix(".json"): path for path in damaged}  # results are <experiment>.json
    for r in rows:
        if r["budget"] is None and r["experiment"] in by_name:  # its record exists but is damaged
            r.update(status=f"{DAMAGED}: {by_name[r['experiment']]}", missing_datasets={})
            if r["assignment_status"] != NO_THRESHOLD:
                r["assignment_status"] = r["status"]
    counted = [r for r in rows if r["status"] != "not graded at this budget" and not r["status"].startswith("not run")
               and (ci or not r["status"].startswith(DAMAGED))]  # outside CI a damaged record leaves the gate
    total = sum(r["points"] for r in counted)
    earned = sum(r["earned"] for r in rows)
    fraction = earned / total if total else 0.0
    missing = {n: how for r in rows for n, how in r["missing_datasets"].items()}
    summary = {"earned": earned, "total": total, "fraction": fraction, "gate": gate,
               "passed": fraction >= gate - 1e-12 and not (ci and damaged), "ci": ci, "damaged": damaged,
               "not_run": sum(r["status"].startswith("not run") for r in rows),
               "missing_datasets": dict(sorted(missing.items())), "assignment": assignment_summary(rows), "rows": rows}
    out_dir = results_dir if out_dir is None else Path(out_dir)  # `make test` grades results/ into build/
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "grades.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out_dir / "grades.md", render(summary))
    return summary


def _bound(higher_is_better: bool, threshold) -> str:
    return "-" if threshold is None else (">= " if higher_is_better else "<= ") + f"{threshold:g}"


TWO_COLUMNS = (
    "Two columns. The **regression guard** holds each row to a threshold set just below the committed runs: it "
    "catches a change that makes a result worse, and it is all that `dl-assign grade`'s exit code and CI gate on. "
    "The **assignment** column holds the same value to what the assignment expects: a number a seed text gives "
    "(a count such as ~10 images, six parameters, multiple models), 1.0 for a yes/no the seed asks for, or a "
    "published anchor (the Fashion-MNIST benchmark table, the IP102 paper, the four-fifths rule); "
    "`expectation_source` names the seed file and part or the publication. No seed sets an accuracy target. Where "
    "neither a seed nor an anchor gives a number the column says `no threshold` and the row is left out of the "
    "assignment score (it is not scored as its guard: the guard's numbers are ours, not the assignment's). The "
    "assignment column is never gated, and every row short of its expectation is listed below, at every budget "
    "(a smoke run is not expected to meet them).")


def render(summary: dict) -> str:
    rows = summary["rows"]
    cells = [[r["question"], r["experiment"], f"`{r['metric']}`", r["budget"] or "-",
              fmt_number(r["value"]) if r["value"] is not None else "-",
              _bound(r["higher_is_better"], r["threshold"]), f"{r['earned']:g}/{r['points']:g}", r["status"],
              _bound(r["higher_is_better"], r.get("expectation")), _assignment_cell(r),
              r.get("expectation_source") or "not given"] for r in rows]
    table = markdown_table(
        ["question", "experiment", "metric", "budget", "value", "guard", "points", "guard status",
         "assignment expects", "assignment", "expectation source"],
        [[str(c).replace("|", "\\|") for c in row] for row in cells])  # a cell's own bars would split it
    verdict = "PASS" if summary["passed"] else "FAIL"
    headline = (f"**Regression guard: {summary['earned']:g} / {summary['total']:g} points "
                f"({summary['fraction']:.0%}); gate {summary['gate']:.0%}: {verdict}**")
    missing = summary.get("missing_datasets") or {}
    names = ", ".join(missing)
    if summary.get("not_run"):
        headline += (f"\n\n{summary['not_run']} row(s) not run, left out of the gate: dataset(s) missing: {names} "
                     "(see `dl-assign data`; under CI=true this is a failure)")
    elif missing:  # only under CI: the rows stay `missing` and count
        headline += (f"\n\nCI=true: dataset(s) missing: {names}; their rows count as missing "
                     "(under CI a missing dataset is a failure, never a skip; see `dl-assign data`)")
    how = "".join(f"\n- `{n}`: {h}" for n, h in missing.items())
    if how:
        headline += "\n\nHow to get the missing data:" + how
    damaged = summary.get("damaged") or {}
    if damaged:
        effect = ("CI=true: a damaged record fails the grade whatever the score" if summary.get("ci")
                  else "their rows are left out of the gate; under CI=true a damaged record fails the grade")
        headline += f"\n\n{damaged_md(damaged)}\n\n({effect})"
    a = summary.get("assignment") or assignment_summary(rows)
    headline += (f"\n\n**Assignment: {a['earned']:g} / {a['total']:g} points ({a['fraction']:.0%}) on the rows with a "
                 f"number; {a['rows_met']} row(s) met, {a['rows_short']} short, {a['rows_no_threshold']} with no "
                 "threshold (not gated)**\n\n" + TWO_COLUMNS)
    short = [r for r in rows if r["assignment_status"] == SHORT]
    if short:
        headline += "\n\n### Short of the assignment\n\n" + "\n".join(
            f"- {r['question']} (`{r['experiment']}` `{r['metric']}`, {r['budget']}): {fmt_number(r['value'])}, "
            f"expected {_bound(r['higher_is_better'], r['expectation'])}; source: {r['expectation_source']}"
            for r in short)
    return f"# Grades\n\n{headline}\n\n## Every row\n\n{table}\n"


def _assignment_cell(r: dict) -> str:
    status = r["assignment_status"]
    return f"{status} ({r['assignment_earned']:g}/{r['points']:g})" if status in ("met", SHORT) else status
