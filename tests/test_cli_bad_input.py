"""Bad input to the CLI: one line ``dl-assign: error: ...`` naming the bad value or file, exit 2, no traceback.

``CASES`` is the table: what is wrong, the command, the exit code, and a substring the error line
must contain (the bad value or the file, and often what is allowed). Each case runs in a fresh
working folder (``tmp_path``) that its ``setup`` fills with the bad file or folder, with ``CI``
unset and the model store and data root inside that folder. Most run in-process through
``main(argv)``: an exception escaping ``main`` fails the test, so "no traceback" is proven there
too; the ones marked ``subprocess`` run the installed ``dl-assign`` entry point. No case starts a
server or trains: the guards below turn either into a test failure.

README.md's "Reliability: bad input to the CLI" table is generated from ``CASES``
(``python tests/test_cli_bad_input.py``) and checked against it by the last test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dl_assign.cli import main

REPO = Path(__file__).resolve().parents[1]
RECORD = "results/fashion.mlp.json"  # the damaged record of the grade cases


@dataclass(frozen=True)
class Case:
    what: str  # the bad input, in words (the README's first column)
    argv: tuple[str, ...]  # after `dl-assign`; {port} is filled in by setup
    says: str  # the error line must contain this: the bad value or file ({port} filled in)
    code: int = 2
    setup: Callable[[Path, contextlib.ExitStack], dict] | None = None  # makes the bad thing; returns fill-ins
    env: dict = field(default_factory=dict)  # extra environment (paths relative to the working folder)
    subprocess: bool = False  # run the real entry point, not main() in-process

    @property
    def command(self) -> str:
        return " ".join(a or "''" for a in ("dl-assign", *self.argv)).replace("{port}", "PORT")

    @property
    def id(self) -> str:
        return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in self.what) + ("-sub" * self.subprocess)


def _file(name: str, content: bytes | str = "not a folder\n"):
    def setup(folder: Path, _stack) -> dict:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return {}

    return setup


def _folder(name: str):
    def setup(folder: Path, _stack) -> dict:
        (folder / name).mkdir(parents=True)
        return {}

    return setup


def _port_in_use(folder: Path, stack: contextlib.ExitStack) -> dict:
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return {"port": str(sock.getsockname()[1])}


GOOD_METRIC = '{"mean": 0.9, "std": 0.0, "values": [0.9]}'
CASES: tuple[Case, ...] = (
    # grade: the results folder and its records
    Case("a truncated result record", ("grade", "--results-dir", "results"),
         f"{RECORD}: not valid JSON", setup=_file(RECORD, '{"experiment": "fashion.mlp", "budg'), subprocess=True),
    Case("an empty result record", ("grade", "--results-dir", "results"), f"{RECORD}: empty file",
         setup=_file(RECORD, "")),
    Case("a record that is a JSON list", ("grade", "--results-dir", "results"), f"{RECORD}: holds a list",
         setup=_file(RECORD, "[1, 2]\n")),
    Case("a record without metrics", ("grade", "--results-dir", "results"), f"{RECORD}: misses the field metrics",
         setup=_file(RECORD, '{"experiment": "fashion.mlp", "budget": "smoke"}')),
    Case("a record whose metric mean is text", ("grade", "--results-dir", "results"),
         f"{RECORD}: metric 'test_accuracy'",
         setup=_file(RECORD, '{"experiment": "fashion.mlp", "budget": "smoke", "metrics": '
                             '{"test_accuracy": {"mean": "high", "std": 0, "values": []}}}')),
    Case("a record that is not UTF-8", ("grade", "--results-dir", "results"), f"{RECORD}: not UTF-8 text",
         setup=_file(RECORD, b"\xff\xfe\x00{")),
    Case("a record that cannot be read (a folder named .json)", ("grade", "--results-dir", "results"),
         f"{RECORD}: cannot be read", setup=_folder(RECORD)),
    Case("a record under another experiment's name", ("grade", "--results-dir", "results"),
         "results/copy.json: names experiment 'fashion.mlp'",
         setup=_file("results/copy.json", f'{{"experiment": "fashion.mlp", "budget": "smoke", "metrics": '
                                          f'{{"test_accuracy": {GOOD_METRIC}}}}}')),
    Case("--results-dir is a file", ("grade", "--results-dir", "afile"), "afile is a file, not a folder",
         setup=_file("afile")),
    Case("grade --out is a file", ("grade", "--out", "afile"), "--out afile is a file, not a folder",
         setup=_file("afile")),
    Case("--results-dir does not exist", ("grade", "--results-dir", "nope"),
         "no result records (*.json) in nope: the folder does not exist"),
    Case("--gate above 1", ("grade", "--gate", "1.5"),
         "argument --gate: takes a fraction of the points from 0 to 1 (0.8 = 80%); got '1.5'"),
    Case("--gate not a number", ("grade", "--gate", "most"), "argument --gate: takes a fraction"),
    Case("--gate NaN", ("grade", "--gate", "nan"), "got 'nan'"),
    # report
    Case("report on a missing folder", ("report", "--results-dir", "nope"), "--results-dir nope: no such folder",
         subprocess=True),
    Case("report --assignment all on a missing folder", ("report", "--assignment", "all", "--results-dir", "nope"),
         "--results-dir nope: no such folder"),
    Case("report --results-dir is a file", ("report", "--results-dir", "afile"), "--results-dir afile is a file",
         setup=_file("afile")),
    Case("an unknown assignment", ("report", "--assignment", "hw9"), "invalid choice: 'hw9'"),
    # run
    Case("an unknown experiment", ("run", "fashion.mpl"), "unknown experiment 'fashion.mpl'; did you mean fashion.mlp"),
    Case("--set an unknown key", ("run", "fashion.mlp", "--set", "nonsense=1"), "unknown config key 'nonsense'"),
    Case("--set a value of the wrong type", ("run", "fashion.mlp", "--set", "epochs=many"),
         "bad value many for 'epochs' (FashionMLPConfig): expected int"),
    Case("--set a value out of range", ("run", "fashion.mlp", "--set", "epochs=0"),
         "bad value 0 for 'epochs' (FashionMLPConfig): must be >= 1"),
    Case("--set a NaN", ("run", "fashion.mlp", "--set", "lr=nan"), "bad value nan for 'lr'"),
    Case("--set a choice not offered", ("run", "fashion.mlp", "--set", "optimizer=rmsprop"),
         "bad value rmsprop for 'optimizer'"),
    Case("--set without =", ("run", "fashion.mlp", "--set", "epochs"),
         "override 'epochs' is not of the form key=value"),
    Case("--seeds not integers", ("run", "fashion.mlp", "--seeds", "a,b"),
         "argument --seeds: takes comma-separated non-negative integers, e.g. 0,1,2; got 'a,b'"),
    Case("--seeds negative", ("run", "fashion.mlp", "--seeds", "-1"), "got '-1'"),
    Case("--seeds repeated", ("run", "fashion.mlp", "--seeds", "0,0"), "seed 0 is given twice in '0,0'"),
    Case("an unknown budget", ("run", "fashion.mlp", "--budget", "huge"), "invalid choice: 'huge'"),
    Case("run --results-dir is a file", ("run", "fashion.mlp", "--results-dir", "afile"),
         "--results-dir afile is a file, not a folder", setup=_file("afile")),
    Case("run --checkpoint-dir is a file", ("run", "fashion.mlp", "--checkpoint-dir", "afile"),
         "--checkpoint-dir afile is a file", setup=_file("afile")),
    # data, models, list, bench
    Case("a dataset that cannot be downloaded", ("data", "--download", "mnist"),
         "--download mnist: only fashion-mnist can be downloaded automatically"),
    Case("models --root is a file", ("models", "--root", "afile"), "--root afile is a file, not a folder",
         setup=_file("afile")),
    Case("$DL_ASSIGN_MODELS is a file", ("models",), "$DL_ASSIGN_MODELS afile is a file", setup=_file("afile"),
         env={"DL_ASSIGN_MODELS": "afile"}),
    Case("list at an unknown budget", ("list", "--budget", "tiny"), "invalid choice: 'tiny'"),
    Case("an unknown command", ("train",), "invalid choice: 'train'"),
    Case("--shard out of range", ("bench", "--shard", "0/2"), "argument --shard: K/N needs 1 <= K <= N; got '0/2'"),
    Case("--shard not K/N", ("bench", "--shard", "half"), "argument --shard: takes K/N, e.g. 2/4; got 'half'"),
    Case("bench --results-dir is a file", ("bench", "--results-dir", "afile"), "--results-dir afile is a file",
         setup=_file("afile")),
    Case("bench outside the repository", ("bench",), "no benchmarks/ folder in"),
    # pretrained: the ready ImageNet models
    Case("an unknown ready-made model", ("pretrained", "resnet18"),
         "no ready-made model 'resnet18'; choose one of: efficientnet_lite0"),
    Case("pretrained --root is a file", ("pretrained", "--root", "afile"), "--root afile is a file, not a folder",
         setup=_file("afile")),
    # serve: every one fails before a server binds
    Case("--port above 65535", ("serve", "--port", "99999"),
         "argument --port: takes an integer from 0 to 65535; got 99999", subprocess=True),
    Case("--port negative", ("serve", "--port", "-1"), "argument --port: takes an integer from 0 to 65535; got -1"),
    Case("--port not a number", ("serve", "--port", "http"), "got 'http'"),
    Case("--workers 0", ("serve", "--workers", "0"), "argument --workers: takes an integer >= 1; got 0"),
    Case("--threads negative", ("serve", "--threads", "-2"), "argument --threads: takes an integer >= 1; got -2"),
    Case("--store is a file", ("serve", "--store", "afile"), "--store afile is a file, not a folder",
         setup=_file("afile"), subprocess=True),
    Case("--host given as a URL", ("serve", "--host", "http://127.0.0.1:8000"),
         "--host 'http://127.0.0.1:8000': give a host name or an address", subprocess=True),
    Case("--host empty", ("serve", "--host", ""), "--host '': give a host name or an address"),
    Case("--host that is not this machine's", ("serve", "--host", "192.0.2.1", "--port", "8765"),
         "cannot serve on 192.0.2.1:8765"),
    Case("--port already in use", ("serve", "--port", "{port}"), "cannot serve on 127.0.0.1:{port}",
         setup=_port_in_use, subprocess=True),
)


def _environment(folder: Path, case: Case) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DL_ASSIGN_RESULTS")}
    env |= {"DL_ASSIGN_MODELS": str(folder / "models"), "DL_ASSIGN_DATA": str(folder / "data")}
    return env | case.env


def _entry_point() -> list[str]:
    script = Path(sys.executable).parent / "dl-assign"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dl_assign"]


def run_subprocess(case: Case, folder: Path, fill: dict) -> tuple[int, str, str]:
    argv = [a.format(**fill) for a in case.argv]
    proc = subprocess.run([*_entry_point(), *argv], cwd=folder, env=_environment(folder, case),
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _guard_side_effects(monkeypatch) -> None:
    """A case that got past the checks would train, run pytest or serve: make each a test failure."""
    from dl_assign import cli, registry

    def no_training(self, budget="standard", overrides=None, **kwargs):
        self.config(budget, overrides)  # the checks a real run makes first
        raise AssertionError(f"bad input reached training: {self.name} {overrides}")

    def no_server(*args, **kwargs):
        raise AssertionError("bad input reached the server")

    def no_pytest(cmd, *args, **kwargs):
        raise AssertionError(f"bad input reached pytest: {cmd}")

    monkeypatch.setattr(registry.Experiment, "run", no_training)
    monkeypatch.setattr(cli.subprocess, "call", no_pytest)
    try:
        import uvicorn
    except ImportError:  # without the web extra `serve` stops at its import: no server either
        return
    monkeypatch.setattr(uvicorn, "run", no_server)


def check(case: Case, fill: dict, code: int, out: str, err: str) -> None:
    says = case.says.format(**fill)
    assert code == case.code, (code, err)
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    if lines[0].startswith("usage:"):  # argparse: its usage, then one error line
        assert [line for line in lines if ": error: " in line] == [lines[-1]], err
        assert lines[-1].startswith("dl-assign"), err
    else:
        assert len(lines) == 1 and lines[0].startswith("dl-assign: error: "), err
    assert says in lines[-1], (says, lines[-1])


@pytest.mark.timeout(150)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_naming_it(case, tmp_path, monkeypatch, capsys):
    with contextlib.ExitStack() as stack:
        fill = case.setup(tmp_path, stack) if case.setup else {}
        if case.subprocess:
            check(case, fill, *run_subprocess(case, tmp_path, fill))
            return
        monkeypatch.chdir(tmp_path)
        for key, value in _environment(tmp_path, case).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.delenv("DL_ASSIGN_RESULTS", raising=False)
        _guard_side_effects(monkeypatch)
        try:
            code = main([a.format(**fill) for a in case.argv])
        except SystemExit as exc:  # argparse's usage error
            code = exc.code
        captured = capsys.readouterr()
        check(case, fill, code, captured.out, captured.err)


def test_the_table_covers_every_command_with_enough_rows():
    from dl_assign.cli import build_parser

    commands = {c.argv[0] for c in CASES}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    checked = {"list", "run", "data", "grade", "bench", "models", "serve", "report"}  # env takes no input
    assert checked <= commands and checked <= set(sub.choices)
    assert len(CASES) >= 30 and sum(c.subprocess for c in CASES) >= 5
    assert len({c.id for c in CASES}) == len(CASES)


# --- the README's table ------------------------------------------------------------------------

README_TITLE = "## Reliability: bad input to the CLI"


def readme_row(case: Case) -> str:
    """The row's first three cells, as the README has them (the message follows)."""
    return f"| {case.what} | `{case.command}` | {case.code} |"


def readme_section(messages: dict[str, str]) -> str:
    """The README section: every row of ``CASES`` with the error line it printed (``messages[id]``)."""
    lines = [README_TITLE, "",
             "Every bad input to `dl-assign` ends in one line on stderr, `dl-assign: error: ...`, naming the value "
             "or the file and what is allowed, with exit code 2, never a traceback. A damaged result record "
             "(truncated, empty, not an object, a field missing) never stops the others: `grade` and `report` "
             "skip it and name it in a warning line and in `grades.md` / `index.md`; under `CI=true` it fails the "
             "grade. When no usable record is left, `grade` stops with the error below. The table is "
             "`tests/test_cli_bad_input.py`'s (run from a folder holding the bad file; `PORT` is a port "
             "another program listens on); regenerate it with `python tests/test_cli_bad_input.py`.", "",
             "| input | command | exit | what it says (stderr) |", "|---|---|---|---|"]
    for case in CASES:
        text = messages[case.id].replace("`", "'").replace("|", "/")
        text = text if len(text) <= 200 else text[:197] + "..."
        lines.append(f"{readme_row(case)} `{text}` |")
    return "\n".join(lines) + "\n"


def test_readme_lists_every_row_of_the_table():
    readme = (REPO / "README.md").read_text()
    assert README_TITLE in readme, "paste the section `python tests/test_cli_bad_input.py` prints into README.md"
    section = readme.split(README_TITLE, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| input |")]
    assert len(rows) == len(CASES), "the README's table and CASES differ in length: regenerate the section"
    for case, line in zip(CASES, rows):
        assert line.startswith(readme_row(case)), (line, readme_row(case))


if __name__ == "__main__":  # print the README section: every case run through the real entry point
    import tempfile

    found = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            folder = Path(tmp)
            fill = case.setup(folder, stack) if case.setup else {}
            code, _, err = run_subprocess(case, folder, fill)
            assert code == case.code, (case.command, code, err)
            last = err.strip().splitlines()[-1].replace(str(folder.resolve()), "DIR").replace(str(folder), "DIR")
            found[case.id] = last.replace(fill.get("port", "\0"), "PORT")
    sys.stdout.write(readme_section(found))
