"""One std convention in dl_assign: the sample std (ddof=1), or a stated reason for the population std.

Every ``np.std`` / ``x.std(...)`` / ``np.nanstd`` / ``torch.std_mean`` / ``statistics.pstdev`` call in
the package source is found by walking its AST (not by grep) and must say ``ddof=1`` (NumPy) or
``correction=1`` / ``unbiased=True`` (torch), explicitly: the defaults differ (NumPy's is ddof 0,
torch's correction 1) and the source cannot tell which library a ``.std(`` belongs to. A call that
is right with the population std carries a comment on one of its lines, ``# population std: <why>``
(e.g. normalisation statistics of a feature matrix). A std compared with 0 (a constant-spread test)
does not depend on ddof and is accepted.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dl_assign"
STD_NAMES = {"std", "nanstd", "std_mean"}  # ddof / correction decide which std these are
POPULATION_ONLY = {"pstdev"}  # statistics.pstdev: the population std whatever its arguments
SAMPLE_KEYWORDS = {("ddof", 1), ("correction", 1), ("unbiased", True)}
REASON = re.compile(r"#.*\bpopulation std: *(\S.{9,})")


def _callee(node: ast.Call) -> str | None:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _is_sample(node: ast.Call) -> bool:
    return any(isinstance(k.value, ast.Constant) and (k.arg, k.value.value) in SAMPLE_KEYWORDS
               for k in node.keywords)


def _compared_with_zero(tree: ast.AST) -> set[int]:
    """ids of the std calls that are an operand of a comparison with the constant 0."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value == 0 for o in operands):
                ids |= {id(o) for o in operands if isinstance(o, ast.Call)}
    return ids


def violations(source: str, name: str = "<source>") -> list[str]:
    """``file:line: call`` for each std call that is neither the sample std nor a reasoned population std."""
    tree = ast.parse(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
    zero = _compared_with_zero(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        if callee not in STD_NAMES | POPULATION_ONLY or id(node) in zero:
            continue
        if callee in STD_NAMES and _is_sample(node):
            continue
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if any(REASON.search(comments.get(i, "")) for i in lines):
            continue
        out.append(f"{name}:{node.lineno}: {ast.get_source_segment(source, node)}")
    return out


def test_every_std_in_the_package_is_the_sample_std_or_says_why_not():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50, f"expected the package source under {PACKAGE}"
    found = [v for f in files for v in violations(f.read_text(), str(f.relative_to(PACKAGE.parent)))]
    assert not found, ("std calls without ddof=1 / correction=1 / unbiased=True and without a "
                       "'# population std: <why>' comment:\n" + "\n".join(found))


def test_the_scan_finds_each_form_and_accepts_the_sample_std():
    bad = """import numpy as np, statistics, torch
a = np.std(x)
b = x.std(0)
c = np.nanstd(x, ddof=0)
d = statistics.pstdev(v)
e = torch.std_mean(t, dim=0)
f = x.std(
    0)  # population std
g = t.std(unbiased=False)
"""
    assert [v.split(":")[1] for v in violations(bad)] == ["2", "3", "4", "5", "6", "7", "9"]
    good = """import numpy as np, statistics
a = np.std(x, ddof=1)
b = t.std(0, correction=1)
c = t.std(unbiased=True)
d = statistics.stdev(v)
e = x.std(0)  # population std: z-scores of the training features, as StandardScaler
f = x.std(
    0,  # population std: the Pearson correlation below divides by n
)
if a.std() == 0 or 0 < b.std():
    pass
"""
    assert violations(good) == []
