"""Reports per assignment: rendered from the committed results, every number traceable to a results JSON.

"Number" here: a token of digits (with an optional decimal part, exponent or thousands commas) that
is not part of a word or a file name (``resnet50``, ``Lite0``, ``layers_epoch1.png``, ``ResNet-50``
do not count). Three places may hold numbers that are not results and are excluded, each for a
stated reason: headings (the assignment's own part numbers, "2a-e."), code spans and blocks
(commands, flags, config and file names) and the architecture blocks, which are checked
separately: they must equal the summary generated from the model again. Every other number must
equal one of the numeric values of the results JSONs of the report's own experiments (artifacts
excluded: thousands of curve points and predictions would let almost any 4-digit number through,
and the reports render none), formatted as the reports format them (``reports.num``,
``results.fmt_metric``, ``:g`` for config values), or be a token of a string stored there (an
experiment's own notes, which it rendered from its measurements).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from dl_assign import reports
from dl_assign.reports.architecture import architecture_md
from dl_assign.results import fmt_number

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
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


def checked_text(md: str) -> str:
    """The report without what may hold numbers that are not results (see the module docstring)."""
    md = ARCH.sub("", md)
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"`[^`\n]*`", "", md)
    md = re.sub(r"\]\([^)]*\)", "]", md)  # link and image targets
    return "\n".join(line for line in md.splitlines() if not line.startswith("#"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    return {a.name: reports.write(a.name, RESULTS, out) for a in reports.ASSIGNMENTS} | {"_dir": out}


@pytest.fixture(scope="module")
def allowed() -> set[str]:
    return allowed_numbers(RESULTS)


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_every_number_in_a_report_is_in_a_results_json(name, rendered):
    md = rendered[name][0].read_text()
    # stricter than "some results JSON": one of the JSONs of the experiments this report is about
    a = reports.get(name)
    allowed = allowed_numbers(RESULTS, {n for q in a.questions for n in q.experiments} | set(a.group_metrics))
    numbers = _numbers(checked_text(md))
    stray = sorted({n for n in numbers if n not in allowed})
    assert not stray, f"{name}: numbers in the report that no results JSON holds: {stray[:20]}"
    if name != "module4":  # module4's results are not in yet: nothing but MISSING markers
        assert len(numbers) > 50  # the check ran over real content


@pytest.mark.parametrize("name", [a.name for a in reports.ASSIGNMENTS])
def test_architecture_blocks_are_generated_from_the_models(name, rendered):
    md = rendered[name][0].read_text()
    for experiment, block in ARCH.findall(md):
        record = json.loads((RESULTS / f"{experiment}.json").read_text())
        assert block == architecture_md(record)


def test_the_number_check_catches_a_number_written_by_hand(allowed):
    md = reports.render("cs776", RESULTS)
    assert not {n for n in _numbers(checked_text(md)) if n not in allowed}
    forged = md.replace("## 2a-e.", "The MLP reaches 0.98765 accuracy.\n\n## 2a-e.")
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
                assert f"### `{experiment}`" in md
        if a.ethics:
            assert "## Ethics and limitations" in md and a.ethics in md


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
