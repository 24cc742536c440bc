"""Reports per assignment: rendered from the committed results, every number traceable to a results JSON.

"Number" here: a token of digits (with an optional decimal part, exponent or thousands commas) that
is not part of a word or a file name (``resnet50``, ``Lite0``, ``layers_epoch1.png``, ``ResNet-50``
do not count). Places that may hold numbers that are not results, each for a stated reason:
headings (the seed's own item numbers), code spans and blocks (commands, flags, formulas),
block quotes (the seed's own words, checked to be a quote of the seed), the architecture blocks
(checked to equal the summary generated from the model again), the literature the assignments cite
(``assignments.LITERATURE``, each entry with its source) and the seed's item numbers and titles in
cross-references ("Homework 5", "2.2.8"). Every other number must equal a numeric value of the results
JSONs of the report's own experiments (artifacts excluded), formatted as the reports format them, a
token of a string stored there, or a number the renderer computed from them (a difference, a p-value;
``prose.Trace``), and a test changes a result and sees the sentence change.

Structure: every report opens with the disclosure block, its question headings follow the seed's
items in order (``Assignment.items``; each heading's quote is found in the seed after the previous
one), and nothing before the appendix is a table or code block longer than ``MAX_BLOCK`` lines.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from dl_assign import reports
from dl_assign.reports import assignments
from dl_assign.reports.architecture import architecture_md
from dl_assign.reports.prose import Trace, verdict, welch
from dl_assign.results import fmt_number

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
SEEDS = ROOT.parent / "shared" / "seeds"
MAX_BLOCK = 40
NUMBER = re.compile(r"(?<![\w.\-/])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?(?![\w/])(?!\.\w)")
ARCH = re.compile(r"<!-- architecture: (\S+) -->\n(.*?)\n<!-- /architecture -->", re.S)


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def _leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


def allowed_numbers(results_dir: Path, names=None) -> set[str]:
    """Every numeric value of the results JSONs of ``names`` (default all) in the reports' formats, and every
    number token of their strings."""
    allowed: set[str] = set()
    for path in results_dir.glob("*.json"):
        if path.name.startswith("grades") or (names is not None and path.stem not in names):
            continue
        record = json.loads(path.read_text())
        record.pop("artifacts", None)  # per-seed curves and predictions: reports render none of them
        for leaf in _leaves(record):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if isinstance(leaf, int | float):
                allowed.add(reports.num(leaf))
                allowed.add(fmt_number(float(leaf)))
                allowed.add(f"{leaf:g}")  # config values
            elif isinstance(leaf, str):
                allowed.update(_numbers(leaf))
    return allowed


def cited_numbers(a=None) -> set[str]:
    """The literature's numbers (each entry names its source; ``a``'s own, default all) and the seeds' item
    numbers and titles."""
    out: set[str] = set()
    for ref in (a.literature if a is not None else assignments.LITERATURE):
        for text in (ref.citation, ref.data, ref.model, ref.published):
            out.update(_numbers(text))
    for a in reports.ASSIGNMENTS:
        for text in (a.title, *a.items):
            out.update(_numbers(text.replace(".", " ")))
            out.update(_numbers(text))
    return out


def checked_text(md: str) -> str:
    """The report without what may hold numbers that are not results (see the module docstring)."""
    md = ARCH.sub("", md)
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"`[^`\n]*`", "", md)
    md = re.sub(r"\]\([^)]*\)", "]", md)  # link and image targets
    return "\n".join(line for line in md.splitlines() if not line.startswith(("#", ">")))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip().lower()


def body(md: str) -> str:
    """The report before its appendix."""
    assert reports.APPENDIX_HEADING in md
    return md.split(reports.APPENDIX_HEADING, 1)[0]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    return {a.name: reports.write(a.name, RESULTS, out) for a in reports.ASSIGNMENTS} | {"_dir": out}


@pytest.fixture(scope="module")
def traced() -> dict[str, tuple[str, Trace]]:
    return {a.name: reports.render_traced(a.name, RESULTS) for a in reports.ASSIGNMENTS}


@pytest.fixture(scope="module")
def allowed() -> set[str]:
    return allowed_numbers(RESULTS)


def _report_experiments(a) -> set[str]:
    return ({n for q in a.questions for n in q.experiments} | set(a.group_metrics)
            | {n for sub in a.disclosure for n in sub.experiments})


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_every_number_in_a_report_is_in_a_results_json(name, traced):
    md, trace = traced[name]
    # stricter than "some results JSON": one of the JSONs of the experiments this report is about
    a = reports.get(name)
    allowed = allowed_numbers(RESULTS, _report_experiments(a)) | trace.derived | cited_numbers(a)
    numbers = _numbers(checked_text(md))
    stray = sorted({n for n in numbers if n not in allowed})
    assert not stray, f"{name}: numbers in the report that no results JSON holds: {stray[:20]}"
    assert len(_numbers(checked_text(body(md)))) > 30  # the check ran over real prose, not only the appendix
    assert not trace.missing, f"{name}: placeholders with no result: {trace.missing}"


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_each_report_opens_with_the_disclosure_block(name, rendered):
    md = rendered[name][0].read_text()
    a = reports.get(name)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings[0] == reports.DISCLOSURE_HEADING
    block = md.split(reports.DISCLOSURE_HEADING, 1)[1].split("\n## ", 1)[0]
    assert a.disclosure and all(f"Asked for: {sub.asked}. Used: {sub.used}." in block for sub in a.disclosure)
    for sub in a.disclosure:  # what each record says about its own data is quoted there
        for exp in sub.experiments:
            ds = json.loads((RESULTS / f"{exp}.json").read_text()).get("dataset", {})
            assert re.search(rf"`{re.escape(exp)}`[^\n]*: dataset `{re.escape(ds.get('name', 'not recorded'))}`", block)


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_headings_answer_the_seed_items_in_the_seed_order(name, rendered):
    md = rendered[name][0].read_text()
    a = reports.get(name)
    seed = _norm((SEEDS / a.seed).read_text(errors="replace"))
    assert [i for q in a.questions for i in q.items] == list(a.items) and len(set(a.items)) == len(a.items)
    headings = [line[3:] for line in body(md).splitlines() if line.startswith("## ")]
    asked = headings[headings.index(reports.DISCLOSURE_HEADING[3:]) + 1:headings.index("How to run")]
    assert asked == [q.title for q in a.questions]
    position = 0
    for q in a.questions:
        assert q.title.startswith(" / ".join(q.items)), q.title  # the seed's own numbers lead the heading
        found = seed.find(_norm(q.asks), position)  # the quote is the seed's, after the previous item's
        assert found >= 0, f"{name}: {q.title!r} quotes {q.asks!r}, not found in the seed after the previous item"
        position = found
        assert f"## {q.title}\n\n> {q.asks}\n" in md


def test_the_seed_order_check_fails_on_swapped_items():
    a = reports.get("cs776")
    seed = _norm((SEEDS / a.seed).read_text())
    first, second = a.questions[2], a.questions[3]  # 2b before 2c in the seed
    assert seed.find(_norm(second.asks)) > seed.find(_norm(first.asks)) >= 0
    assert seed.find(_norm(first.asks), seed.find(_norm(second.asks))) < 0  # swapped: the check would fail


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_no_table_or_code_block_longer_than_the_limit_before_the_appendix(name, rendered):
    lines = body(rendered[name][0].read_text()).splitlines()
    run, fenced, start = 0, False, 0
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if fenced:
                assert i - start - 1 <= MAX_BLOCK, f"{name}: code block of {i - start - 1} lines at {start}"
            fenced, start = not fenced, i
        run = run + 1 if line.startswith("|") else 0
        assert run <= MAX_BLOCK, f"{name}: a table longer than {MAX_BLOCK} lines before the appendix (line {i})"


def test_no_heading_says_mini_imagenet_over_tiny_imagenet_data(rendered):
    for a in reports.ASSIGNMENTS:
        md = rendered[a.name][0].read_text()
        datasets = {json.loads((RESULTS / f"{n}.json").read_text()).get("dataset", {}).get("name", "")
                    for n in _report_experiments(a) if (RESULTS / f"{n}.json").exists()}
        if any("tiny" in d for d in datasets):
            assert not [h for h in md.splitlines() if h.startswith("#") and "mini-imagenet" in h.lower()]
    assert "Tiny-ImageNet-100" in reports.get("module4").title


def test_a_changed_result_changes_the_sentence(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results, ignore=shutil.ignore_patterns("reports", "*.png"))
    before = reports.render("cs776", results)
    path = results / "fashion.cnn.json"
    record = json.loads(path.read_text())
    record["metrics"]["test_accuracy"].update(mean=0.8123, std=0.0456, values=[0.77, 0.8123, 0.8546])
    path.write_text(json.dumps(record))
    after = reports.render("cs776", results)
    section = body(after).split("## 4. ", 1)[1]
    assert "test accuracy 0.8123 ± 0.0456" in section and "0.8123 ± 0.0456" not in before
    old = json.loads((RESULTS / "fashion.cnn.json").read_text())["metrics"]["test_accuracy"]
    assert f"{old['mean']:.4f} ± {old['std']:.4f}" not in section
    # the test of the CNN against the NumPy MLP follows the new values: now the CNN is behind
    assert re.search(r"CNN against NumPy MLP: difference -0\.\d{4} \(Welch", section)


def test_the_disclosure_quotes_the_record_dataset_block(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results, ignore=shutil.ignore_patterns("reports", "*.png"))
    path = results / "pests.transfer_compare.json"
    record = json.loads(path.read_text())
    record["dataset"].update(name="pests14", stands_in_for="ip102-test", why="only these classes are here")
    path.write_text(json.dumps(record))
    block = reports.render("assignment3", results).split(reports.DISCLOSURE_HEADING, 1)[1].split("\n## ", 1)[0]
    assert ("`pests.transfer_compare`: dataset `pests14`, standing in for `ip102-test` (only these classes are here)"
            in block)
    assert "`web.page`: dataset `" in block  # the others, unchanged, listed apart


def test_welch_verdicts_by_hand():
    trace = Trace()
    a, b = [0.90, 0.91, 0.92], [0.80, 0.81, 0.82]  # equal spread s = 0.01: t = 0.1 / sqrt(2 * 0.0001 / 3)
    from scipy import stats

    t = 0.1 / (2 * 0.01 ** 2 / 3) ** 0.5
    assert welch(a, b) == pytest.approx(2 * stats.t.sf(t, 4))  # df = 4 for equal n and variances
    assert "significant at the 0.05 level" in verdict(a, b, trace) and "+0.1000" in verdict(a, b, trace)
    assert "a tie" in verdict([0.90, 0.92, 0.91], [0.905, 0.915, 0.91], trace)
    assert "no test" in verdict([0.9], [0.8, 0.81], trace) and welch([0.9], [0.8, 0.81]) is None
    assert {"+0.1000", "0.05"} <= trace.derived


def test_study_rankings_say_when_the_top_is_a_tie():
    cells = {"a": {"val_accuracy": {"mean": 0.91, "std": 0.01, "values": [0.90, 0.91, 0.92]}},
             "b": {"val_accuracy": {"mean": 0.905, "std": 0.01, "values": [0.895, 0.905, 0.915]}},
             "c": {"val_accuracy": {"mean": 0.5, "std": 0.01, "values": [0.49, 0.5, 0.51]}}}
    text = "\n".join(reports._cells_md(cells))
    assert "highest **a**" in text and "runner-up **b**" in text and "not significant: a tie" in text


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_architecture_blocks_are_generated_from_the_models(name, rendered):
    md = rendered[name][0].read_text()
    for experiment, block in ARCH.findall(md):
        record = json.loads((RESULTS / f"{experiment}.json").read_text())
        assert block == architecture_md(record)


def test_the_number_check_catches_a_number_written_by_hand(allowed):
    md, trace = reports.render_traced("cs776", RESULTS)
    allowed = allowed | trace.derived | cited_numbers()
    assert not {n for n in _numbers(checked_text(md)) if n not in allowed}
    forged = md.replace("## 2a.", "The MLP reaches 0.98765 accuracy.\n\n## 2a.")
    assert "0.98765" in {n for n in _numbers(checked_text(forged)) if n not in allowed}


def test_numbers_are_tokens_not_parts_of_names():
    text = "ResNet-50 on resnet50 and Lite0, fig layers_epoch1.png, 0.9420 ± 0.0010, 226,009 params, 3.7e-22."
    assert _numbers(text) == ["0.9420", "0.0010", "226,009", "3.7e-22"]


def test_every_part_of_every_assignment_is_in_its_report(rendered):
    for a in reports.ASSIGNMENTS:
        md = rendered[a.name][0].read_text()
        for q in a.questions:
            assert f"## {q.title}" in md
            for experiment in q.experiments:
                assert f"### `{experiment}`" in md.split(reports.APPENDIX_HEADING, 1)[1]
        if a.ethics:
            assert a.ethics in body(md)


def test_missing_results_are_shown_in_red_and_fill_in_when_they_land(tmp_path):
    # the committed results without Module 4's and the fairness experiment's: those questions show as missing
    partial = tmp_path / "partial"
    partial.mkdir()
    for path in RESULTS.iterdir():
        if path.is_file() and not path.name.startswith(("imagenet.", "faces.fairness.")):
            shutil.copy(path, partial / path.name)
    md, html = (p.read_text() for p in reports.write("module4", partial))
    for name in ("imagenet.cnn_study", "imagenet.cnn_best", "imagenet.occlusion"):
        assert f"### `{name}`\n\n**MISSING**" in md
    assert html.count('<span class="missing">MISSING</span>') >= 4
    assert ".missing{color:#c00" in html
    fairness = reports.write("assignment3", partial)[0].read_text()
    assert "### `faces.fairness`\n\n**MISSING**" in fairness

    # a result that lands is rendered generically: metrics with mean ± std, config, notes, figures
    results = tmp_path / "results"
    results.mkdir()
    for path in RESULTS.glob("faces.gender_improved*"):
        shutil.copy(path, results / path.name)
    record = json.loads((RESULTS / "faces.gender_improved.json").read_text())
    record["experiment"] = "imagenet.occlusion"
    record["figures"] = ["imagenet.occlusion.roc.png"]
    (results / "imagenet.occlusion.json").write_text(json.dumps(record))
    shutil.copy(RESULTS / "faces.gender_improved.roc.png", results / "imagenet.occlusion.roc.png")
    md_path, html_path = reports.write("module4", results)
    md = md_path.read_text()
    assert "### `imagenet.occlusion`\n\n**MISSING**" not in md
    assert "### `imagenet.cnn_study`\n\n**MISSING**" in md
    acc = record["metrics"]["test_accuracy"]  # the committed run's numbers, as the report formats them
    seeds = ", ".join(f"{v:.4f}" for v in acc["values"])
    assert f"| `test_accuracy` | {acc['mean']:.4f} ± {acc['std']:.4f} | {seeds} |" in md
    assert "![imagenet.occlusion.roc.png](../imagenet.occlusion.roc.png)" in md
    assert "data:image/png;base64," in html_path.read_text()


def test_html_is_self_contained_with_every_figure_embedded(rendered):
    for a in reports.ASSIGNMENTS:
        md, html = (p.read_text() for p in rendered[a.name])
        figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
        assert html.count('src="data:image/png;base64,') == len(figures)
        assert not re.search(r'src="(?!data:)', html)  # no image loaded from elsewhere
        if a.name != "module4":
            assert figures


def test_cli_writes_the_reports(tmp_path):
    from dl_assign.cli import main

    results = tmp_path / "results"
    shutil.copytree(RESULTS, results, ignore=shutil.ignore_patterns("reports"))
    assert main(["report", "--results-dir", str(results), "--assignment", "gender"]) == 0
    assert sorted(p.name for p in (results / "reports").iterdir()) == ["gender.html", "gender.md"]
    assert main(["report", "--results-dir", str(results), "--assignment", "all"]) == 0
    assert len(list((results / "reports").glob("*.md"))) == len(reports.ASSIGNMENTS)


def test_html_subset_by_hand(tmp_path):
    from dl_assign.reports.html import to_html

    md = ("# T\n\nA **`x`** and `a*b*c`, *em*, [l](u.md), **MISSING**, <b>\n\n| h | k |\n|---|---|\n| 1 | `2` |\n\n"
          "- one\n- two\n\n```bash\nrun <x>\n```\n")
    body = to_html(md, title="t", base=tmp_path).split("<body>\n", 1)[1]
    assert body == (
        "<h1>T</h1>\n<p>A <strong><code>x</code></strong> and <code>a*b*c</code>, <em>em</em>, "
        '<a href="u.md">l</a>, <span class="missing">MISSING</span>, &lt;b&gt;</p>\n'
        "<table><thead><tr><th>h</th><th>k</th></tr></thead><tbody><tr><td>1</td><td><code>2</code></td></tr>"
        "</tbody></table>\n<ul><li>one</li><li>two</li></ul>\n<pre><code>run &lt;x&gt;</code></pre>\n</body></html>\n")


def test_inlined_figures_are_compacted_pngs_of_the_same_picture():
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from dl_assign.reports.html import MAX_WIDTH, compact_png

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=200)  # 2000 x 900 px, antialiased: thousands of colours
    ax.scatter(rng.normal(size=3000), rng.normal(size=3000), c=rng.random(3000), s=12, cmap="viridis")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    raw = buf.getvalue()
    small = compact_png(raw)
    assert compact_png(raw) == small and len(small) < len(raw)  # deterministic, and smaller
    with Image.open(io.BytesIO(raw)) as im:
        picture = np.asarray(im.convert("RGB")).astype(int)
    with Image.open(io.BytesIO(small)) as im:
        assert im.format == "PNG" and im.width == MAX_WIDTH and im.height == round(900 * MAX_WIDTH / 2000)
        got = np.asarray(im.convert("RGB").resize((2000, 900)))
    assert np.abs(got - picture).mean() < 8  # the same picture, scaled
    tiny = io.BytesIO()
    Image.new("RGB", (10, 10), (255, 255, 255)).save(tiny, "PNG")
    assert compact_png(tiny.getvalue()) == tiny.getvalue()  # never larger than the original


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_every_html_report_stays_under_2_mb(name, rendered):
    """The pages are committed on every regeneration: figures are inlined compacted, not as they are."""
    assert rendered[name][1].stat().st_size < 2_000_000


def test_report_names_and_skips_a_damaged_record(tmp_path, capsys):
    from dl_assign.cli import main

    results = tmp_path / "results"
    results.mkdir()
    for name in ("numpy_nn.gradcheck", "fashion.eda"):  # two good records of cs776's
        shutil.copy(RESULTS / f"{name}.json", results)
    (results / "fashion.numpy_mlp.json").write_text('{"experiment": "fashion.numpy_mlp", "bud')  # and a truncated one
    assert main(["report", "--results-dir", str(results)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{results}/fashion.numpy_mlp.json: not valid JSON" in err
    assert sorted(p.name for p in results.glob("*.md")) == ["fashion.eda.md", "index.md", "numpy_nn.gradcheck.md"]
    index = (results / "index.md").read_text()
    assert "[fashion.eda](fashion.eda.md)" in index and "- `fashion.numpy_mlp.json`: `not valid JSON" in index

    assert main(["report", "--results-dir", str(results), "--assignment", "all"]) == 0
    assert "fashion.numpy_mlp.json" in capsys.readouterr().err
    md = (results / "reports" / "cs776.md").read_text()
    assert "### `fashion.numpy_mlp`\n\n**MISSING**" in md and "### `fashion.eda`\n\n**MISSING**" not in md
    assert "- `fashion.numpy_mlp.json`: `not valid JSON" in md
    assert "fashion.numpy_mlp.json" not in (results / "reports" / "gender.md").read_text()  # not asked there
