"""`make test` writes nothing git tracks: the root conftest's guard fails a session that does, and the
Makefile's test recipe sends every output (smoke results, figures, both gradings) under build/."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    (tmp_path / ".gitignore").write_text("build/\n__pycache__/\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "grades.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start")
    return tmp_path


def _pytest(repo: Path, body: str) -> subprocess.CompletedProcess:
    (repo / "test_it.py").write_text(body)
    _git(repo, "add", "test_it.py")
    _git(repo, "commit", "-q", "-m", "the test")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"], cwd=repo,
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("body, verdict", [
    ("def test_x():\n    open('results/grades.json', 'w').write('{}\\n')\n", "written results/grades.json"),
    ("def test_x():\n    open('stray.png', 'wb').write(b'x')\n", "new stray.png"),
    ("import os\ndef test_x():\n    os.remove('results/grades.json')\n", "deleted results/grades.json"),
])
def test_a_session_that_writes_the_tree_fails_naming_the_path(repo, body, verdict):
    run = _pytest(repo, body)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout and "working tree changed" in run.stdout and verdict in run.stdout


def test_a_session_that_writes_under_build_passes(repo):
    run = _pytest(repo, "import os\ndef test_x():\n    os.makedirs('build', exist_ok=True)\n"
                        "    open('build/grades.json', 'w').write('{}')\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "working tree changed" not in run.stdout


def test_make_test_sends_every_output_under_build():
    recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    lines = [line.strip() for line in recipe.splitlines()]
    grades = [line for line in lines if " grade " in line]
    assert len(grades) == 2
    for line in grades:  # grading writes grades.json / .md: never into the committed results/
        out = re.search(r"--out (\S+)", line) or re.search(r"--results-dir (\S+)", line)
        assert out.group(1).startswith("build/"), line
    for line in lines:
        for flag in ("--results-dir", "--benchmark-json"):
            m = re.search(flag + r" (\S+)", line)
            if m and "grade" not in line:
                assert m.group(1).startswith("build/"), line
