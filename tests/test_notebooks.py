"""The executed notebooks: each of the five runs, smoke re-run on, with no cell error; a failing cell fails
the executor; a missing dataset skips the smoke re-run (fails under CI=true); the committed pages are fresh.
"""

import html
import json
import re
import shutil

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from dl_assign.reports import notebooks as nb
from dl_assign.reports.assignments import ASSIGNMENTS
from dl_assign.results import REQUIRED_FIELDS, scan_results

NAMES = [a.name for a in ASSIGNMENTS]
RESULTS = nb.ROOT / "results"


def smoke_experiment(name: str) -> str:
    return re.search(r'^SMOKE_EXPERIMENT = "([^"]+)"', (nb.SOURCES / f"{name}.py").read_text(), re.M)[1]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_with_the_smoke_rerun(name, tmp_path):
    a = next(a for a in ASSIGNMENTS if a.name == name)
    out = nb.make(name, out_dir=tmp_path, smoke=True, ipynb=True)  # a cell error raises CellExecutionError
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / f"{name}.notebook.html"

    executed = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert executed.metadata["dl_assign"]["smoke"] is True

    # every question's heading, in the assignment's order
    at = [page.find(f"<h2>{html.escape(q.title)}</h2>") for q in a.questions]
    assert -1 not in at, [q.title for q, i in zip(a.questions, at, strict=True) if i == -1]
    assert at == sorted(at)

    # every figure the committed records name is in the page, inline; nothing is fetched from a network
    records = scan_results(RESULTS, REQUIRED_FIELDS).records
    figures = {f for q in a.questions for e in q.experiments if e in records for f in records[e].get("figures", [])}
    figures |= {f for q in a.questions for f in getattr(q, "figures", ())}
    figures = {f for f in figures if (RESULTS / f).exists()}
    assert figures
    assert page.count('src="data:image/png;base64,') >= len(figures)
    assert all(f"<em>{html.escape(f)}</em>" in page for f in figures)
    assert not re.search(r'(src|href)="https?://', page) and "cdnjs" not in page

    smoke = smoke_experiment(name)
    if nb.missing_datasets(smoke):  # outside CI only: under CI=true the smoke cell raised
        assert f"Skipped: datasets missing for the smoke re-run of {smoke}" in page
    else:
        assert f"Smoke re-run of <code>{smoke}</code> finished" in page
    assert nb.page_digest(page) == nb.digest(name)["digest"]


def test_a_failing_cell_fails_the_executor(tmp_path):
    source = tmp_path / "broken.py"
    source.write_text('# %% tags=["parameters"]\nRUN_SMOKE = False\n\n# %%\nx = 1\n\n'
                      '# %%\nraise RuntimeError("deliberate failure " + str(x + RUN_SMOKE))\n')
    built = nb.build(source, {"RUN_SMOKE": True})
    assert [c.metadata.get("tags") for c in built.cells][:2] == [["parameters"], ["injected-parameters"]]
    with pytest.raises(CellExecutionError, match="deliberate failure 2"):  # 2: the injected value was used
        nb.execute(built)


def test_a_source_without_a_parameters_cell_is_refused(tmp_path):
    source = tmp_path / "plain.py"
    source.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="no cell tagged parameters"):
        nb.build(source, {"RUN_SMOKE": True})


@pytest.mark.parametrize("ci", [None, "true"])
def test_a_missing_dataset_skips_the_smoke_rerun_and_fails_under_ci(ci, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(nb, "_html", shown.append)  # what the cell would display
    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path / "empty"))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    name = "faces.gender_baseline"  # its datasets are only looked for under the data root
    assert nb.missing_datasets(name) == ["utkface", "fairface"]
    if ci == "true":
        with pytest.raises(nb.SmokeDataMissing, match="never a skip"):
            nb.smoke_rerun(name)
    else:
        assert nb.smoke_rerun(name) is None
        assert "Skipped: datasets missing for the smoke re-run of faces.gender_baseline" in "".join(shown)


def test_the_digest_follows_the_results_it_reads(tmp_path):
    name = "assignment3"
    read = [e for e in nb.wanted(next(a for a in ASSIGNMENTS if a.name == name)) if (RESULTS / f"{e}.json").exists()]
    for exp in read:
        shutil.copy(RESULTS / f"{exp}.json", tmp_path / f"{exp}.json")
    assert nb.digest(name, tmp_path) == nb.digest(name, RESULTS)  # content, not the folder, decides
    record = json.loads((tmp_path / f"{read[0]}.json").read_text())
    record["wall_seconds"] += 1
    (tmp_path / f"{read[0]}.json").write_text(json.dumps(record))
    assert nb.digest(name, tmp_path)["digest"] != nb.digest(name, RESULTS)["digest"]


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_page_is_fresh(name):
    page = RESULTS / "reports" / nb.html_name(name)
    assert page.exists(), f"{page} missing: make notebooks"
    assert nb.page_digest(page.read_text(encoding="utf-8")) == nb.digest(name)["digest"], (
        f"{page.name} is stale (its notebook source, dl_assign/reports/notebooks.py, the assignment's spec or a "
        f"results record it reads changed since): regenerate with `make notebooks`")
