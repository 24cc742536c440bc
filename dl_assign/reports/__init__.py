"""Reports per seed assignment, rendered from ``results/*.json`` (+ figures) into ``results/reports/``.

``dl-assign report --assignment NAME`` writes ``results/reports/<name>.md`` and a self-contained
``<name>.html`` (figures embedded as base64). Every measured number comes from a results record,
formatted by :func:`num` / ``results.fmt_metric``; the prose in :mod:`.assignments` carries none.
Config values are printed with ``:g`` (``0.05``). A question whose result is missing shows a
MISSING marker (red in the HTML) and the command that produces it, so a report fills in by itself
when the result lands.

Where numbers may appear outside the results: headings (the assignment's own part numbers), code
(commands, file and config names) and the architecture blocks between ``<!-- architecture: NAME -->``
and ``<!-- /architecture -->``, which are generated from the model itself
(``tests/test_reports.py`` checks all three rules).
"""

from __future__ import annotations

import os
from pathlib import Path

from dl_assign.reports.assignments import ASSIGNMENTS, Assignment, Question, get
from dl_assign.reports.html import to_html
from dl_assign.reports.prose import Trace, fill, verdict
from dl_assign.results import (
    REQUIRED_FIELDS,
    atomic_write_text,
    damaged_md,
    fmt_metric,
    fmt_number,
    markdown_table,
    scan_results,
)

MISSING = "**MISSING**"
# config fields a report shows as hyperparameters, when the experiment has them
HYPERPARAMETERS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "warmup_epochs",
                   "label_smoothing", "dropout", "hidden", "activation", "widths", "filters", "kernel_size", "pool",
                   "init", "image_size", "augment", "backbone", "train_blocks", "window", "layers", "amp_bf16",
                   "train_limit")

__all__ = ["APPENDIX_HEADING", "ASSIGNMENTS", "Assignment", "DISCLOSURE_HEADING", "MISSING", "Question", "get", "num",
           "render", "render_traced", "to_html", "write"]


def num(x) -> str:
    """The one number format of the reports: integers as they are, floats by ``results.fmt_number``."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e7):
        return str(int(x))
    return fmt_number(float(x))


def _value(v) -> str:
    """A config value as the run set it: ``0.05``, ``[24, 48]`` -> ``24, 48``, strings as code."""
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f"{v:g}"
    return f"`{v}`"


def _metric(m: dict) -> str:
    if m["mean"] is None:
        return "n/a"
    values = m["values"]
    if len(set(values)) == 1 and isinstance(values[0], int | float) and float(values[0]).is_integer():
        return num(values[0])  # a count, the same on every seed (parameters, images)
    if len(values) > 1 and all(isinstance(v, int | float) for v in values):
        return fmt_metric(m)
    return num(m["mean"])


def _split(metrics: dict) -> tuple[dict, dict[str, dict[str, dict]]]:
    """Plain metrics, and ``prefix/suffix`` ones as a pivot {row prefix: {column suffix: metric}}."""
    plain, cells = {}, {}
    for key, m in metrics.items():
        if "/" in key:
            row, col = key.rsplit("/", 1) if key.count("/") > 1 else key.split("/", 1)
            cells.setdefault(row, {})[col] = m
        else:
            plain[key] = m
    return plain, cells


def _cells_md(cells: dict[str, dict[str, dict]], trace: Trace | None = None) -> list[str]:
    columns: list[str] = []
    for row in cells.values():
        columns += [c for c in row if c not in columns]
    table = markdown_table(["cell", *columns],
                           [[f"`{name}`", *[_metric(row[c]) if c in row else "" for c in columns]]
                            for name, row in cells.items()])
    lines = [table, ""]
    trace = trace if trace is not None else Trace()
    for col in [c for c in columns if "accuracy" in c or c.endswith("auc")][:2]:
        ranked = [(name, row[col]) for name, row in cells.items() if col in row and row[col]["mean"] is not None]
        if len(ranked) >= 2:
            ranked.sort(key=lambda item: item[1]["mean"], reverse=True)
            (best, bm), (second, sm), (worst, wm) = ranked[0], ranked[1], ranked[-1]
            values = [[v for v in m["values"] if v is not None] for m in (bm, sm)]
            lines += [f"By `{col}`: highest **{best}** ({_metric(bm)}), lowest **{worst}** ({_metric(wm)}), "
                      f"over the cells above (mean ± sample std over seeds). Highest against the runner-up "
                      f"**{second}**: {verdict(values[0], values[1], trace)}.", ""]
    return lines


def _run_command(name: str, budget: str = "standard") -> str:
    return f"dl-assign run {name} --budget {budget}"


def _experiment_md(name: str, record: dict | None, results_dir: Path, out_dir: Path, trace: Trace,
                   shown: set[str]) -> list[str]:
    from dl_assign.reports.architecture import architecture_md

    lines = [f"### `{name}`", ""]
    if record is None:
        return lines + [f"{MISSING}: no `results/{name}.json` yet. Produce it with `{_run_command(name)}`; "
                        "this report fills in when it lands.", ""]
    env = record.get("env", {})
    lines += [record.get("description", "").strip(), "",
              f"Budget `{record['budget']}`, seeds {_value(record['seeds'])}, wall time "
              f"{num(record['wall_seconds'])} s on {env.get('cpu', '?')} (device `{env.get('device', '?')}`).", ""]
    try:
        arch = architecture_md(record)
    except Exception as exc:  # e.g. a model that no longer builds from this config: said, not hidden
        lines += [f"{MISSING}: the architecture summary could not be generated ({type(exc).__name__}).", ""]
    else:  # None: no single model to summarise (studies, comparisons, the NumPy MLP: see the notes)
        if arch is not None:
            lines += ["**Architecture**", "", f"<!-- architecture: {name} -->", arch, "<!-- /architecture -->", ""]
    cfg = record.get("config", {})
    hp = [[f"`{k}`", _value(cfg[k])] for k in HYPERPARAMETERS if k in cfg]
    if hp:
        lines += ["**Hyperparameters** (the run's config)", "", markdown_table(["field", "value"], hp), ""]
    plain, cells = _split(record.get("metrics", {}))
    if plain:
        lines += ["**Metrics** (mean ± sample std over seeds)", "",
                  markdown_table(["metric", "mean ± std", "per seed"],
                                 [[f"`{k}`", _metric(m), ", ".join(num(v) for v in m["values"] if v is not None)]
                                  for k, m in plain.items()]), ""]
    if cells:
        lines += ["**Comparison across the configurations tried**", "", *_cells_md(cells, trace)]
    if record.get("notes", "").strip():
        notes = "\n".join(("###" + line) if line.startswith("#") else line
                          for line in record["notes"].strip().splitlines())
        lines += ["**Observed behaviour and analysis** (the experiment's report, from its record)", "", notes, ""]
    for fig in record.get("figures", []):
        if fig in shown:
            lines += [f"Figure `{fig}`: shown with the answer above.", ""]
        elif (results_dir / fig).exists():
            lines += [f"![{fig}]({os.path.relpath(results_dir / fig, out_dir)})", ""]
        else:
            lines += [f"{MISSING}: figure `{fig}` named by the record is not in `{results_dir}`.", ""]
    lines += ["Run:", "", "```bash", _run_command(name, record["budget"]), "```", ""]
    return lines


DISCLOSURE_HEADING = "## Disclosure: what the assignment asked for and what was used"
APPENDIX_HEADING = "## Appendix: the records behind the answers"


def _dataset_line(name: str, record: dict) -> str:
    ds = record.get("dataset") or {}
    text = (f"`{name}`" if name else "") + f": dataset `{ds.get('name', 'not recorded')}`"
    if ds.get("stands_in_for"):
        text += f", standing in for `{ds['stands_in_for']}`"
        if ds.get("why"):
            text += f" ({ds['why']})"
    return text


def _disclosure_md(a: Assignment, records: dict, trace: Trace) -> list[str]:
    lines = [DISCLOSURE_HEADING, "",
             "For each dataset and model: what the seed asked for, what these results used, why, and what the "
             "substitution is expected to change. Read every number below with this block in mind.", ""]
    for sub in a.disclosure:
        lines += [f"- **{sub.part}.** Asked for: {sub.asked}. Used: {sub.used}. Why: {sub.why}. Expected effect: "
                  f"{fill(sub.effect, records, trace).rstrip('.')}."]
    grouped: dict[str, list[str]] = {}  # experiments with the same dataset block are listed together
    for n in dict.fromkeys(n for s in a.disclosure for n in s.experiments):
        if n in records:
            grouped.setdefault(_dataset_line("", records[n]), []).append(n)
    if grouped:
        lines += ["", "As the result records themselves state it:", ""]
        lines += ["- " + ", ".join(f"`{n}`" for n in names) + line for line, names in grouped.items()]
    facts = [r for r in a.literature if not r.key.startswith("[")]
    if facts:
        lines += ["", "Published facts used above (each from its source):", ""]
        lines += [f"- {r.key}: {r.data}" + ("" if r.published == "-" else f"; {r.published}")
                  + f" ({r.citation}; {r.source})" for r in facts]
    return lines + [""]


def _literature_md(a: Assignment, records: dict, trace: Trace) -> list[str]:
    refs = [r for r in a.literature if r.key.startswith("[")]
    rows = [[r.key, r.citation, r.data, r.model, r.published] for r in refs]
    ours = fill("our best model (improved CNN): UTKFace test accuracy [[faces.gender_compare:best/test_accuracy]], "
                "FairFace [[faces.gender_compare:best/fairface_accuracy]]", records, trace)
    rows.append(["ours", "this report", "UTKFace train/val/test; FairFace-540 as a second test set",
                 "improved CNN from scratch; baseline; frozen EfficientNet-Lite0", ours])
    table = markdown_table(["ref", "paper", "data", "model", "published number"], rows)
    differs = ("What differs: the data (their collections against UTKFace and FairFace), the protocol (their "
               "cross-validation or splits against our fixed split and a cross-dataset test), the models (classical "
               "features or an AlexNet-sized CNN against our small CNNs and a frozen ImageNet trunk) and the year's "
               "tools. Numbers marked not stated in the seed are not quoted because the seed cites only the titles.")
    return [table, "", differs, ""]


def _group_summary(a: Assignment, records: dict) -> list[str]:
    """Race-group test accuracy per model: one row per model, five columns (the full tables: appendix)."""
    import re

    pattern = re.compile(r"^(?:test_accuracy_race/(\w+)|erm/test_race/group/(\w+)/accuracy)$")
    rows, groups = [], []
    for name in a.group_metrics:
        record = records.get(name)
        if record is None:
            rows.append([f"`{name}`", MISSING])
            continue
        found = {}
        for key, m in record["metrics"].items():
            if mm := pattern.match(key):
                found[mm[1] or mm[2]] = _metric(m)
        groups += [g for g in found if g not in groups]
        rows.append((name, found))
    if not groups:
        return []
    body = [[f"`{r[0]}`", *[r[1].get(g, "") for g in groups]] if isinstance(r, tuple) else r + [""] * (len(groups) - 1)
            for r in rows]
    return ["Test accuracy by race group (UTKFace test split, mean ± sample std over seeds; every group metric is "
            "in the appendix):", "", markdown_table(["model", *groups], body), ""]


def _study_table(exp: str, columns: tuple[str, ...], records: dict) -> list[str]:
    record = records.get(exp)
    if record is None:
        return [f"{MISSING}: `{exp}`.", ""]
    _, cells = _split(record["metrics"])
    rows = [[f"`{name}`", *[_metric(row[c]) if c in row else "" for c in columns]]
            for name, row in cells.items() if any(c in row for c in columns)]
    return [markdown_table(["cell", *[f"`{c}`" for c in columns]], rows), ""]


def _question_md(a: Assignment, q: Question, records: dict, results_dir: Path, out_dir: Path, trace: Trace,
                 shown: set[str]) -> list[str]:
    lines = [f"## {q.title}", "", f"> {q.asks}", ""]
    if q.why:
        lines += [f"*How and why:* {q.why}", ""]
    if q.written and a.review and q.items == a.questions[0].items:
        lines += [a.review, ""]
        refs = [r for r in a.literature if r.key == "ResNet"]
        lines += [f"Cited: {r.citation}: {r.published} ({r.source})." for r in refs] + [""]
    if q.formulas:
        lines += ["```text", q.formulas, "```", ""]
    if q.answer:
        lines += [fill(q.answer, records, trace), ""]
    if q.table:
        lines += _study_table(q.table[0], q.table[1], records)
    if q.literature:
        lines += _literature_md(a, records, trace)
    if q.ethics and a.ethics:
        lines += [a.ethics, ""] + _group_summary(a, records)
    for fig in q.figures:
        if (results_dir / fig).exists():
            shown.add(fig)
            lines += [f"![{fig}]({os.path.relpath(results_dir / fig, out_dir)})", ""]
        else:
            lines += [f"{MISSING}: figure `{fig}` is not in `{results_dir}`.", ""]
    absent = [n for n in q.experiments if n not in records]
    if absent:
        lines += [f"{MISSING}: " + ", ".join(f"`{n}` (`{_run_command(n)}`)" for n in absent) + "; this answer "
                  "fills in when the result lands.", ""]
    if q.experiments:
        lines += ["Records: " + ", ".join(f"`{n}`" for n in q.experiments) + " in the appendix.", ""]
    return lines


def render_traced(assignment: str | Assignment, results_dir: str | Path = "results",
                  out_dir: str | Path | None = None) -> tuple[str, Trace]:
    """The report and the numbers it computed (differences, p-values) rather than read from a record."""
    a = get(assignment) if isinstance(assignment, str) else assignment
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "reports"
    records, damaged = scan_results(results_dir, REQUIRED_FIELDS)
    trace = Trace()
    wanted = list(dict.fromkeys([n for q in a.questions for n in q.experiments]
                                + [n for s in a.disclosure for n in s.experiments]))
    missing = sorted({n for n in wanted if n not in records})
    lines = [f"# {a.title}", "",
             f"The report for the seed assignment `{a.seed}` (see `../shared/seeds/`), rendered from "
             f"`results/*.json` and the figures beside them by `dl-assign report --assignment {a.name}`: "
             "no number in it was written by hand. It answers the seed item by item in the seed's order; "
             "comparisons carry their test (McNemar or paired bootstrap on the same test images where the records "
             "hold them, otherwise a Welch t-test over the seeds' values) and are called ties when not "
             "significant. Per-seed tables and the experiments' own notes are in the appendix.", ""]
    lines += _disclosure_md(a, records, trace)
    if missing:
        lines += [f"{MISSING}: " + ", ".join(f"`{n}`" for n in missing) + " (shown where each is asked).", ""]
    ours = {p: why for p, why in damaged.items() if Path(p).name.removesuffix(".json") in wanted}
    if ours:  # a damaged record of this report's experiments: it is MISSING above, and here is why
        lines += [f"{MISSING}: " + damaged_md({Path(p).name: why for p, why in ours.items()}), ""]
    shown: set[str] = set()
    for q in a.questions:
        lines += _question_md(a, q, records, results_dir, out_dir, trace, shown)
    runs = [_run_command(n) for n in wanted]
    lines += ["## How to run", "",
              "Everything at the standard budget, then this report (CPU; `BUDGET=full` for the paper-quality "
              "budget on a GPU):", "", "```bash", "make bench", f"dl-assign report --assignment {a.name}", "```", "",
              "One experiment at a time (any of them data-parallel with `torchrun --nproc-per-node N -m dl_assign "
              "run ...`):", "", "```bash", *runs, "```", ""]
    lines += [APPENDIX_HEADING, "",
              "Each experiment's record as it stands: description, architecture generated from the model, the run's "
              "hyperparameters, every metric per seed, the comparison tables of studies and the experiment's own "
              "notes.", ""]
    for name in wanted:
        lines += _experiment_md(name, records.get(name), results_dir, out_dir, trace, shown)
    return "\n".join(lines).rstrip() + "\n", trace


def render(assignment: str | Assignment, results_dir: str | Path = "results", out_dir: str | Path | None = None) -> str:
    """The Markdown report of one assignment from the records in ``results_dir``.

    Figures are linked relative to ``out_dir`` (default ``results_dir/reports``), where it is written.
    """
    return render_traced(assignment, results_dir, out_dir)[0]


def write(assignment: str, results_dir: str | Path = "results", out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.md`` and the self-contained ``.html``; returns both paths."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "reports"
    a = get(assignment)
    md = render(a, results_dir, out_dir)
    md_path, html_path = out_dir / f"{a.name}.md", out_dir / f"{a.name}.html"
    atomic_write_text(md_path, md)
    atomic_write_text(html_path, to_html(md, title=a.title, base=out_dir))
    return md_path, html_path
