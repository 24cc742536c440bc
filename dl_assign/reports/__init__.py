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

__all__ = ["ASSIGNMENTS", "Assignment", "MISSING", "Question", "get", "num", "render", "to_html", "write"]


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


def _cells_md(cells: dict[str, dict[str, dict]]) -> list[str]:
    columns: list[str] = []
    for row in cells.values():
        columns += [c for c in row if c not in columns]
    table = markdown_table(["cell", *columns],
                           [[f"`{name}`", *[_metric(row[c]) if c in row else "" for c in columns]]
                            for name, row in cells.items()])
    lines = [table, ""]
    for col in [c for c in columns if "accuracy" in c or c.endswith("auc")][:2]:
        ranked = [(name, row[col]) for name, row in cells.items() if col in row and row[col]["mean"] is not None]
        if len(ranked) >= 2:
            ranked.sort(key=lambda item: item[1]["mean"], reverse=True)
            (best, bm), (worst, wm) = ranked[0], ranked[-1]
            lines += [f"By `{col}`: highest **{best}** ({_metric(bm)}), lowest **{worst}** ({_metric(wm)}), "
                      f"over the cells above (mean ± sample std over seeds).", ""]
    return lines


def _run_command(name: str, budget: str = "standard") -> str:
    return f"dl-assign run {name} --budget {budget}"


def _experiment_md(name: str, record: dict | None, results_dir: Path, out_dir: Path) -> list[str]:
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
        lines += ["**Comparison across the configurations tried**", "", *_cells_md(cells)]
    if record.get("notes", "").strip():
        notes = "\n".join(("###" + line) if line.startswith("#") else line
                          for line in record["notes"].strip().splitlines())
        lines += ["**Observed behaviour and analysis** (the experiment's report, from its record)", "", notes, ""]
    for fig in record.get("figures", []):
        if (results_dir / fig).exists():
            lines += [f"![{fig}]({os.path.relpath(results_dir / fig, out_dir)})", ""]
        else:
            lines += [f"{MISSING}: figure `{fig}` named by the record is not in `{results_dir}`.", ""]
    lines += ["Run:", "", "```bash", _run_command(name, record["budget"]), "```", ""]
    return lines


def _headline(record: dict) -> tuple[str, dict] | None:
    metrics = record.get("metrics", {})
    for key in ("test_accuracy", "test_auc", "test_mse", "box_iou", "accuracy"):
        if key in metrics:
            return key, metrics[key]
    return None


def _question_md(q: Question, records: dict, results_dir: Path, out_dir: Path) -> list[str]:
    lines = [f"## {q.title}", "", f"*Asked:* {q.asks}", ""]
    if q.written:
        return lines + ["A written answer: not software, so no result is expected for it here.", ""]
    if q.why:
        lines += [f"*How and why:* {q.why}", ""]
    present = [(n, records[n]) for n in q.experiments if n in records]
    heads = [(n, h) for n, r in present if (h := _headline(r)) is not None]
    if len(heads) >= 2:
        lines += ["Headline metric of each experiment of this question:", "",
                  markdown_table(["experiment", "metric", "mean ± std"],
                                 [[f"`{n}`", f"`{k}`", _metric(m)] for n, (k, m) in heads]), ""]
    for name in q.experiments:
        lines += _experiment_md(name, records.get(name), results_dir, out_dir)
    return lines


def _ethics_md(a: Assignment, records: dict) -> list[str]:
    lines = ["## Ethics and limitations", "", a.ethics, ""]
    for name in a.group_metrics:
        record = records.get(name)
        if record is None:
            lines += [f"{MISSING}: the per-group measurements of `{name}` (no `results/{name}.json` yet).", ""]
            continue
        rows = [[f"`{k}`", _metric(m)] for k, m in record["metrics"].items()
                if any(tag in k for tag in ("race", "age/", "group", "gender/", "fairface_accuracy"))]
        lines += [f"Per-group accuracy of `{name}` (mean ± sample std over seeds):", "",
                  markdown_table(["metric", "mean ± std"], rows) if rows else f"{MISSING}: no group metric recorded.",
                  ""]
    return lines


def render(assignment: str | Assignment, results_dir: str | Path = "results", out_dir: str | Path | None = None) -> str:
    """The Markdown report of one assignment from the records in ``results_dir``.

    Figures are linked relative to ``out_dir`` (default ``results_dir/reports``), where it is written.
    """
    a = get(assignment) if isinstance(assignment, str) else assignment
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "reports"
    records, damaged = scan_results(results_dir, REQUIRED_FIELDS)
    wanted = [n for q in a.questions for n in q.experiments]
    missing = sorted({n for n in wanted if n not in records})
    lines = [f"# {a.title}", "",
             f"The report for the seed assignment `{a.seed}` (see `../shared/seeds/`), rendered from "
             f"`results/*.json` and the figures beside them by `dl-assign report --assignment {a.name}`: "
             "no number in it was written by hand.", ""]
    if missing:
        lines += [f"{MISSING}: " + ", ".join(f"`{n}`" for n in missing) + " (shown where each is asked).", ""]
    ours = {p: why for p, why in damaged.items() if Path(p).name.removesuffix(".json") in wanted}
    if ours:  # a damaged record of this report's experiments: it is MISSING above, and here is why
        lines += [f"{MISSING}: " + damaged_md({Path(p).name: why for p, why in ours.items()}), ""]
    for q in a.questions:
        lines += _question_md(q, records, results_dir, out_dir)
    if a.ethics:
        lines += _ethics_md(a, records)
    runs = [_run_command(n) for n in dict.fromkeys(wanted)]
    lines += ["## How to run", "",
              "Everything at the standard budget, then this report (CPU; `BUDGET=full` for the paper-quality "
              "budget on a GPU):", "", "```bash", "make bench", f"dl-assign report --assignment {a.name}", "```", "",
              "One experiment at a time (any of them data-parallel with `torchrun --nproc-per-node N -m dl_assign "
              "run ...`):", "", "```bash", *runs, "```", ""]
    return "\n".join(line for line in lines).rstrip() + "\n"


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
