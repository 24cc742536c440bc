"""Top-level pytest set-up shared by tests/ and benchmarks/: hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` (default) draws few examples; ``ci`` (chosen automatically when
``CI=true``) is derandomized and draws more.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))


import pytest  # noqa: E402


@pytest.fixture
def need_data():
    """``need_data("fashion-mnist", ...)``: skip when a dataset is missing, fail under CI=true."""
    from dl_assign import data

    def need(*names: str) -> None:
        missing = [n for n in names if not data.available(n)]
        if missing:
            message = f"datasets missing: {missing} (see `dl-assign data`)"
            if os.environ.get("CI") == "true":
                pytest.fail(message + "; under CI a missing dataset is a failure, never a skip")
            pytest.skip(message)

    return need


# --- a test run writes nothing tracked ---------------------------------------------------------
# `make test` must leave `git status` clean: smoke results, figures and grades go under build/.
# (DL_ASSIGN_ALLOW_TREE_WRITES=1 turns the check off; the standard and full benchmarks skip it.)
# At session start we note every tracked file's (size, mtime) and the untracked, not ignored
# files; at the end, any tracked file written (even with the same bytes) or any new untracked file
# fails the session, naming the paths. Outside a git checkout (an unpacked sdist) it does nothing.

import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

_ROOT = Path(__file__).resolve().parent


def _git(*args: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "-C", str(_ROOT), *args], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def tree_snapshot() -> dict[str, tuple[int, int]] | None:
    """{path: (size, mtime_ns)} of tracked files, and (-1, -1) for untracked ones git does not ignore."""
    tracked = _git("ls-files", "-z")
    untracked = _git("ls-files", "-z", "--others", "--exclude-standard")
    if tracked is None or untracked is None:
        return None
    snap = {}
    for rel in tracked:
        try:
            st = (_ROOT / rel).stat()
            snap[rel] = (st.st_size, st.st_mtime_ns)
        except OSError:
            snap[rel] = (-2, -2)  # deleted in the working tree
    snap.update({rel: (-1, -1) for rel in untracked})
    return snap


def tree_changes(before: dict, after: dict) -> list[str]:
    """What a run changed: ``written PATH``, ``new PATH`` (untracked, not ignored), ``deleted PATH``."""
    changes = []
    for rel, stat in after.items():
        if rel not in before:
            changes.append(f"new {rel}")
        elif stat != before[rel]:
            changes.append(f"{'deleted' if stat == (-2, -2) else 'written'} {rel}")
    return sorted(changes)


def pytest_sessionstart(session):
    # the benchmarks at standard or full (`make bench`) write results/ on purpose; so may a person who asks
    if session.config.getoption("--budget", default="smoke") != "smoke":
        return
    if os.environ.get("DL_ASSIGN_ALLOW_TREE_WRITES") == "1":
        return
    session.config._dl_assign_tree = tree_snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_dl_assign_tree", None)
    after = tree_snapshot() if before is not None else None
    changes = tree_changes(before, after) if after is not None else []
    if changes:
        shown = "\n  ".join(changes[:40]) + (f"\n  ... and {len(changes) - 40} more" if len(changes) > 40 else "")
        session.config._dl_assign_tree_report = (
            f"this run wrote {len(changes)} path(s) that git tracks or does not ignore (a test run must "
            f"write only under build/ or temporary folders):\n  {shown}")
        if session.exitstatus == 0:
            session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    report = getattr(terminalreporter.config, "_dl_assign_tree_report", None)
    if report:
        terminalreporter.write_sep("=", "working tree changed", red=True)
        terminalreporter.write_line(report)
