"""One executed Jupyter notebook per assignment, exported to a self-contained HTML page.

``notebooks/<name>.py`` (jupytext percent format) is read with jupytext, its parameters cell is
followed by an injected one (papermill's convention), it is executed with nbclient on a kernel that
runs this interpreter (a kernel spec in a temporary folder: nothing is registered globally) and
exported with nbconvert to ``results/reports/<name>.notebook.html``, figures inline as base64.

The notebooks show what the committed ``results/*.json`` hold, question by question, through the
helpers below (:func:`show_question` and friends), and re-run one experiment of the assignment at the
smoke budget when ``RUN_SMOKE`` is true (:func:`smoke_rerun`), into a temporary folder.

Each page carries a digest of what it was made from (the notebook source, this module, the
assignment's spec and every results record it reads) in ``<meta name="dl-assign-notebook-digest">``:
:func:`digest` recomputes it, so a test can tell a stale page from a fresh one.

    python -m dl_assign.reports.notebooks [--smoke] [--out DIR] [--results-dir DIR] [NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from dl_assign.reports.assignments import ASSIGNMENTS, Assignment, Question, get
from dl_assign.results import REQUIRED_FIELDS, atomic_write_text, fmt_metric, scan_results

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "notebooks"
SMOKE_ENV = "DL_ASSIGN_NOTEBOOK_SMOKE"  # =1: the smoke cell runs when a notebook is opened by hand
DIGEST_META = "dl-assign-notebook-digest"
COLLAPSE_ROWS = 25  # a table longer than this is shown folded (<details>), whole
CELL_TIMEOUT = 900  # s per cell: the slowest smoke re-run is well under it


def html_name(name: str) -> str:
    return f"{name}.notebook.html"


# --- what the notebooks call -------------------------------------------------------------------------

def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _html(text: str) -> None:
    from IPython.display import HTML

    _display(HTML(text))


def _table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    """An HTML table (cells already escaped); folded when longer than COLLAPSE_ROWS rows."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if len(rows) > COLLAPSE_ROWS:
        return f"<details><summary>{caption or 'table'} ({len(rows)} rows)</summary>{table}</details>"
    return (f"<p><em>{caption}</em></p>" if caption else "") + table


def _metric(m: dict) -> str:
    return html.escape(fmt_metric(m)) if m.get("mean") is not None else "n/a"


def metric_tables(metrics: dict[str, dict]) -> str:
    """Plain metrics as one table; ``cell/metric`` ones pivoted, one row per cell (as the reports do)."""
    plain, cells = {}, {}
    for key, m in metrics.items():
        if "/" in key:
            row, col = key.rsplit("/", 1)
            cells.setdefault(row, {})[col] = m
        else:
            plain[key] = m
    parts = []
    if plain:
        parts.append(_table(["metric", "mean ± sample std", "seeds"],
                            [[f"<code>{html.escape(k)}</code>", _metric(m), str(len(m["values"]))]
                             for k, m in plain.items()], "metrics"))
    if cells:
        columns: list[str] = []
        for row in cells.values():
            columns += [c for c in row if c not in columns]
        rows = [[f"<code>{html.escape(name)}</code>", *(_metric(row[c]) if c in row else "" for c in columns)]
                for name, row in cells.items()]
        parts.append(_table(["cell", *(f"<code>{html.escape(c)}</code>" for c in columns)], rows,
                            "per configuration (mean ± sample std over seeds)"))
    return "".join(parts)


def _markdown_html(text: str) -> str:
    from nbconvert.filters.markdown import markdown2html_mistune

    demoted = "\n".join(("###" + line) if line.startswith("#") else line for line in text.splitlines())
    return markdown2html_mistune(demoted)


def show_figure(path: Path) -> None:
    """A results PNG, compacted as the reports inline it (it lands base64 in the page)."""
    from IPython.display import Image

    from dl_assign.reports.html import compact_png

    _display(Image(data=compact_png(path.read_bytes()), format="png"))


def load(results_dir: str | Path) -> dict[str, dict]:
    """The usable records in ``results_dir``; a damaged one is named in the output, not hidden."""
    records, damaged = scan_results(results_dir, REQUIRED_FIELDS)
    for path, why in damaged.items():
        _html(f"<p><strong>Damaged result record, skipped:</strong> <code>{html.escape(path)}</code>: "
              f"{html.escape(why)}</p>")
    return records


def wanted(a: Assignment) -> list[str]:
    """Every experiment the assignment's questions read, in reading order, once each."""
    return list(dict.fromkeys([n for q in a.questions for n in q.experiments] + list(a.group_metrics)))


def _headline(record: dict) -> tuple[str, dict] | None:
    for key in ("test_accuracy", "test_auc", "test_mse", "accuracy"):
        if key in record["metrics"]:
            return key, record["metrics"][key]
    return None


def show_overview(a: Assignment, records: dict, results_dir: str | Path) -> None:
    """Which records the notebook reads: budget, seeds, headline metric; the missing ones named."""
    rows = []
    for name in wanted(a):
        rec = records.get(name)
        if rec is None:
            rows.append([f"<code>{name}</code>", "<strong>MISSING</strong>", "", "", ""])
            continue
        head = _headline(rec)
        rows.append([f"<code>{name}</code>", html.escape(rec["budget"]), html.escape(str(rec["seeds"])),
                     f"<code>{head[0]}</code>" if head else "", _metric(head[1]) if head else ""])
    _html(f"<p>Results read from <code>{html.escape(str(results_dir))}</code> (seed assignment "
          f"<code>{html.escape(a.seed)}</code>).</p>"
          + _table(["experiment", "budget", "seeds", "headline metric", "mean ± sample std"], rows, "records"))


class Seen:
    """What a notebook has shown so far: each experiment in full and each figure once, at first mention."""

    def __init__(self) -> None:
        self.experiments: dict[str, str] = {}  # experiment -> the question it was shown under
        self.figures: set[str] = set()


def _figure(fig: str, results_dir: str | Path, seen: Seen) -> None:
    if fig in seen.figures:
        return
    seen.figures.add(fig)
    path = Path(results_dir) / fig
    if path.exists():
        _html(f"<p><em>{html.escape(fig)}</em></p>")
        show_figure(path)
    else:
        _html(f"<p><strong>MISSING</strong>: figure <code>{html.escape(fig)}</code> is not in "
              f"<code>{html.escape(str(results_dir))}</code>.</p>")


def show_experiment(name: str, records: dict, results_dir: str | Path, seen: Seen | None = None,
                    question: str = "") -> None:
    """One record: what ran where, its metrics, its own analysis (folded) and figures; once per notebook."""
    seen = seen if seen is not None else Seen()
    rec = records.get(name)
    if rec is not None and name in seen.experiments:
        head = _headline(rec)
        _html(f"<p><code>{html.escape(name)}</code>: shown in full under <em>{html.escape(seen.experiments[name])}"
              "</em>" + (f"; <code>{head[0]}</code> {_metric(head[1])}" if head else "") + ".</p>")
        return
    _html(f"<h3><code>{html.escape(name)}</code></h3>")
    if rec is None:
        _html(f"<p><strong>MISSING</strong>: no <code>results/{html.escape(name)}.json</code> yet "
              f"(<code>dl-assign run {html.escape(name)}</code>).</p>")
        return
    seen.experiments[name] = question or name
    env = rec.get("env", {})
    ds = rec.get("dataset") or {}
    line = (f"{html.escape(rec.get('description', ''))} Budget <code>{html.escape(rec['budget'])}</code>, seeds "
            f"{html.escape(str(rec['seeds']))}, {rec['wall_seconds']:.0f} s on {html.escape(str(env.get('cpu', '?')))} "
            f"(device <code>{html.escape(str(env.get('device', '?')))}</code>).")
    if ds.get("name"):
        line += f" Dataset <strong>{html.escape(str(ds['name']))}</strong>"
        if ds.get("stands_in_for"):
            line += f", standing in for {html.escape(str(ds['stands_in_for']))}"
        line += "."
    _html(f"<p>{line}</p>" + metric_tables(rec["metrics"]))
    if rec.get("notes", "").strip():
        _html("<details><summary>the experiment's own analysis (its report)</summary>"
              + _markdown_html(rec["notes"].strip()) + "</details>")
    for fig in rec.get("figures", []):
        _figure(fig, results_dir, seen)


def show_disclosure(a: Assignment) -> None:
    """What the assignment asked for and what was used instead, when the spec says (no numbers here)."""
    subs = getattr(a, "disclosure", ())
    if subs:
        rows = [[html.escape(x) for x in (s.part, s.asked, s.used, s.why)] for s in subs]
        _html("<h2>What was asked for and what was used</h2>"
              + _table(["part", "asked for", "used", "why"], rows)
              + "<p>What each substitution is expected to change, with numbers: the report "
                f"(<code>results/reports/{html.escape(a.name)}.html</code>).</p>")


def show_question(q: Question, records: dict, results_dir: str | Path, seen: Seen | None = None,
                  a: Assignment | None = None) -> None:
    """One question of the assignment: its heading, what it asks, how it was answered, its results."""
    seen = seen if seen is not None else Seen()
    _html(f"<h2>{html.escape(q.title)}</h2><p><em>Asked:</em> {html.escape(q.asks)}</p>"
          + (f"<p><em>How and why:</em> {html.escape(q.why)}</p>" if q.why else ""))
    if getattr(q, "formulas", ""):
        _html(f"<pre>{html.escape(q.formulas)}</pre>")
    if q.written:
        review = getattr(a, "review", "") if a is not None else ""
        _html(_markdown_html(review) if review else
              "<p>A written answer, not software: see the report (results/reports/).</p>")
    for fig in getattr(q, "figures", ()):
        _figure(fig, results_dir, seen)
    for name in q.experiments:
        show_experiment(name, records, results_dir, seen, q.title)


def show_ethics(a: Assignment) -> None:
    if a.ethics:
        _html(f"<h2>Ethics and limitations</h2><p>{html.escape(a.ethics)}</p>")


def missing_datasets(name: str) -> list[str]:
    from dl_assign import data, registry

    return [d for d in registry.get(name).datasets if not data.available(d)]


class SmokeDataMissing(RuntimeError):
    """Under CI=true a smoke re-run whose dataset is missing is a failure, never a skip."""


def smoke_rerun(name: str, records: dict | None = None) -> dict | None:
    """Run experiment ``name`` at the smoke budget into a temporary folder; show its metrics and figures.

    Nothing in the repository changes: results and figures go to a temporary folder, the model store
    to another (``DL_ASSIGN_MODELS`` for the run only), both removed afterwards. A missing dataset is
    said and the run skipped (None), except under ``CI=true``, where it raises :class:`SmokeDataMissing`.
    """
    from dl_assign import registry

    with warnings.catch_warnings():  # tqdm.auto's "IProgress not found" (a kernel without ipywidgets), on import
        warnings.filterwarnings("ignore", message="IProgress not found")
        exp = registry.get(name)
    missing = missing_datasets(name)
    if missing:
        message = (f"datasets missing for the smoke re-run of {name}: {missing} (see `dl-assign data`; "
                   f"DL_ASSIGN_DATA={os.environ.get('DL_ASSIGN_DATA', '.data')})")
        if os.environ.get("CI") == "true":
            raise SmokeDataMissing(message + "; under CI a missing dataset is a failure, never a skip")
        _html(f"<p><strong>Skipped: {html.escape(message)}</strong></p>")
        return None
    with tempfile.TemporaryDirectory(prefix=f"nb-smoke-{name}-") as scratch, _env(DL_ASSIGN_MODELS=f"{scratch}/models"):
        record = exp.run("smoke", results_dir=Path(scratch) / "results", progress=False)
        committed = (records or {}).get(name, {}).get("metrics", {})
        rows = [[f"<code>{html.escape(k)}</code>", _metric(m),
                 _metric(committed[k]) if k in committed else ""] for k, m in record["metrics"].items()]
        budget = (records or {}).get(name, {}).get("budget", "none")
        _html(f"<p>Smoke re-run of <code>{html.escape(name)}</code> finished: seeds {record['seeds']}, "
              f"{record['wall_seconds']:.1f} s. The smoke budget checks that the code runs end to end; its "
              f"numbers are not comparable with the committed run's.</p>"
              + _table(["metric", "this smoke run", f"committed ({html.escape(budget)})"], rows, "smoke metrics"))
        for fig in record["figures"][:2]:
            if (Path(scratch) / "results" / fig).exists():
                show_figure(Path(scratch) / "results" / fig)
    return record


def smoke_off(name: str) -> None:
    _html(f"<p>The smoke re-run is off (<code>RUN_SMOKE = False</code>). Turn it on with "
          f"<code>python -m dl_assign.reports.notebooks --smoke</code> or {SMOKE_ENV}=1; it would run "
          f"<code>{html.escape(name)}</code>, as <code>dl-assign run {html.escape(name)} --budget smoke</code> "
          f"does, into a temporary folder.</p>")


@contextlib.contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- build, execute, export ------------------------------------------------------------------------

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(name: str, results_dir: str | Path = ROOT / "results", source: Path | None = None) -> dict[str, Any]:
    """What the page of ``name`` is made from, hashed: source, this module, the spec, each record read."""
    a = get(name)
    source = source or SOURCES / f"{name}.py"
    inputs = {"source": _sha(source.read_bytes()), "builder": _sha(Path(__file__).read_bytes()),
              "spec": _sha(repr(a).encode())}
    for exp in wanted(a):
        path = Path(results_dir) / f"{exp}.json"
        inputs[f"results/{exp}.json"] = _sha(path.read_bytes()) if path.exists() else "absent"
    inputs["digest"] = _sha(json.dumps(inputs, sort_keys=True).encode())
    return inputs


def page_digest(page: str) -> str | None:
    """The digest a page was made with (None if it carries none)."""
    m = re.search(rf'<meta name="{DIGEST_META}" content="([0-9a-f]{{64}})"', page)
    return m[1] if m else None


def build(source: Path, params: dict[str, Any]):
    """The notebook of a jupytext source, ``params`` injected after its ``parameters`` cell."""
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise ValueError(f"{source}: no cell tagged parameters (# %% tags=[\"parameters\"])")
    code = "# injected by dl_assign.reports.notebooks\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]}))
    for i, cell in enumerate(nb.cells):  # ids by position, not random: the same source gives the same HTML
        cell["id"] = f"cell-{i:03d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, *, cwd: str | Path = ROOT, timeout: int = CELL_TIMEOUT):
    """Run every cell on a kernel of this interpreter; a cell error raises nbclient's CellExecutionError."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="dl-assign-kernel-") as kernels:
        spec = Path(kernels) / "dl-assign-python"
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"dl_assign ({sys.executable})", "language": "python"}))
        km = KernelManager(kernel_name="dl-assign-python",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernels], ensure_native_kernel=False))
        NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def export_html(nb, page_digest_value: str) -> str:
    """The executed notebook as one HTML page; output images are inline already (base64)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    # no network: the template loads MathJax and mermaid from a CDN, and the pages use neither
    body = re.sub(r"<script\b[^>]*>(?:(?!</script>).)*?https?://(?:(?!</script>).)*?</script>", "", body, flags=re.S)
    body = re.sub(r'<script\b[^>]*src="https?://[^"]*"[^>]*>\s*</script>', "", body)
    meta = f'<meta name="{DIGEST_META}" content="{page_digest_value}">'
    return body.replace("<head>", "<head>\n" + meta, 1)


def make(name: str, *, out_dir: str | Path = ROOT / "results" / "reports", results_dir: str | Path = ROOT / "results",
         smoke: bool = False, source: Path | None = None, ipynb: bool = False) -> Path:
    """Build, execute and export the notebook of assignment ``name``; returns the HTML path."""
    import nbformat

    source = source or SOURCES / f"{name}.py"
    results_dir, out_dir = Path(results_dir).resolve(), Path(out_dir)
    dig = digest(name, results_dir, source)
    nb = build(source, {"RUN_SMOKE": smoke, "RESULTS_DIR": str(results_dir)})
    nb.metadata["dl_assign"] = {"assignment": name, "smoke": smoke, "inputs": dig}
    execute(nb)
    for cell in nb.cells:  # the injected absolute path is this machine's: the page shows it relative
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(repr(str(results_dir)), repr(_shown(results_dir)))
    page = export_html(nb, dig["digest"]).replace(str(results_dir), _shown(results_dir)).replace(f"{ROOT}/", "")
    out = out_dir / html_name(name)
    atomic_write_text(out, page)
    if ipynb:
        atomic_write_text(out_dir / f"{name}.ipynb", nbformat.writes(nb))
    return out


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    from nbclient.exceptions import CellExecutionError

    p = argparse.ArgumentParser(prog="python -m dl_assign.reports.notebooks", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"assignments (default all: {', '.join(a.name for a in ASSIGNMENTS)})")
    p.add_argument("--smoke", action="store_true", help="run each notebook's smoke re-run cell")
    p.add_argument("--out", default=str(ROOT / "results" / "reports"), help="folder for <name>.notebook.html")
    p.add_argument("--results-dir", default=str(ROOT / "results"), help="the results the notebooks read")
    p.add_argument("--ipynb", action="store_true", help="also write the executed <name>.ipynb")
    args = p.parse_args(argv)
    names = args.names or [a.name for a in ASSIGNMENTS]
    for name in names:
        try:
            get(name)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    for name in names:
        try:
            path = make(name, out_dir=args.out, results_dir=args.results_dir, smoke=args.smoke, ipynb=args.ipynb)
        except CellExecutionError as exc:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # the traceback's colours
            last = text.splitlines()[-1] if text else type(exc).__name__
            print(f"error: notebook {name}: a cell failed: {last}", file=sys.stderr)
            return 1
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
