"""The one results writer: ``results/<name>.json`` (the truth), ``.md`` rendered from it,
figures beside it, and ``results/index.md`` listing every experiment.

Writes are atomic: a file is written to a temporary name in the same folder and renamed
over the old one, so a killed run never leaves a truncated result.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

REQUIRED_FIELDS = (
    "experiment", "budget", "config", "seeds", "metrics", "wall_seconds", "dataset", "env",
)


def is_main_process() -> bool:
    """Rank 0 under torchrun, or a single process: the one that writes results.

    ``engine.distributed.is_main`` says the same; read here from the environment because importing
    ``dl_assign.engine`` imports torch, seconds that ``dl-assign report`` should not pay.
    """
    return int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1 or int(os.environ.get("RANK", "0") or 0) == 0


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def aggregate(per_seed: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """``{metric: {mean, std, values}}``; std is the sample std (ddof=1), 0 for one seed."""
    keys: list[str] = []
    for metrics in per_seed:
        keys.extend(k for k in metrics if k not in keys)
    out = {}
    for key in keys:
        values = [float(m[key]) for m in per_seed if key in m]
        arr = np.asarray(values, dtype=np.float64)
        std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
        out[key] = {"mean": float(arr.mean()), "std": std, "values": values}
    return out


def git_sha(cwd: str | Path | None = None) -> str:
    """HEAD's SHA with ``-dirty`` when tracked files differ from it; ``unknown`` outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_info(cfg=None) -> dict[str, Any]:
    """Where a run ran: code version, libraries, device, CPU and its capability, precision, threads.

    With the run's ``cfg``: the precision its ``amp_bf16`` resolves to on this machine and the
    threads its ``threads`` field asks for (0 = all physical cores).
    """
    import torch

    from dl_assign.engine import device as dev

    device = dev.pick_device()
    probe = dev.bf16_probe(device.type)
    info = {
        "git_sha": git_sha(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "machine": platform.node(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **dev.capability(),
        "bf16_native": probe.native,
        "bf16_probe": probe.as_dict(),
    }
    amp = getattr(cfg, "amp_bf16", None)
    info["amp_bf16"] = amp
    info["precision"] = dev.precision_name(dev.use_bf16(amp, device)) if amp is not None else "fp32"
    wanted = getattr(cfg, "threads", None)
    if wanted is not None:
        info["threads"] = wanted or dev.physical_cores()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _jsonable(obj: Any) -> Any:
    """Make numpy/torch scalars and arrays, tuples and paths JSON-serialisable; NaN -> None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return None if not math.isfinite(value) else value
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # torch tensors
        return _jsonable(obj.tolist())
    return obj


def make_record(
    *,
    experiment: str,
    budget: str,
    config: dict,
    seeds: list[int],
    per_seed: list[dict[str, float]],
    seed_seconds: list[float],
    artifacts: list[dict],
    wall_seconds: float,
    dataset: dict,
    figures: list[str],
    notes: str = "",
    description: str = "",
    env: dict | None = None,
    summary: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The result record; ``summary`` holds numbers over all seeds together (one value each, std 0)."""
    metrics = aggregate(per_seed)
    clash = sorted(set(summary or {}) & set(metrics))
    if clash:
        raise ValueError(f"summary metrics {clash} are also per-seed metrics")
    metrics |= {k: {"mean": float(v), "std": 0.0, "values": [float(v)]} for k, v in (summary or {}).items()}
    record = {
        "experiment": experiment,
        "description": description,
        "budget": budget,
        "config": config,
        "seeds": list(seeds),
        "metrics": metrics,
        "wall_seconds": float(wall_seconds),
        "seed_seconds": [float(s) for s in seed_seconds],
        "dataset": dataset,
        "env": env or env_info(),
        "figures": list(figures),
        "notes": notes,
        "artifacts": artifacts,
    }
    if summary:
        record["summary_metrics"] = sorted(summary)  # one value each, over all seeds: not per seed
    return _jsonable(record)


def validate_record(record: dict) -> None:
    missing = [k for k in REQUIRED_FIELDS if k not in record]
    if missing:
        raise ValueError(f"result record misses fields {missing}")
    for name, m in record["metrics"].items():
        if set(m) != {"mean", "std", "values"}:
            raise ValueError(f"metric {name!r} must have exactly mean, std, values; got {sorted(m)}")


def write_result(record: dict, results_dir: str | Path = "results") -> Path:
    """Write ``<name>.json`` and ``<name>.md`` atomically and refresh ``index.md`` (rank 0 only under torchrun)."""
    validate_record(record)
    results_dir = Path(results_dir)
    path = results_dir / f"{record['experiment']}.json"
    if not is_main_process():
        return path
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=False) + "\n")
    atomic_write_text(results_dir / f"{record['experiment']}.md", render_markdown(record))
    write_index(results_dir)
    return path


CORE_FIELDS = ("experiment", "budget", "metrics")  # what every reader needs; the renderers need REQUIRED_FIELDS
_FIELD_TYPES = {"experiment": (str,), "budget": (str,), "config": (dict,), "seeds": (list,), "metrics": (dict,),
                "wall_seconds": (int, float), "dataset": (dict, type(None)), "env": (dict,)}
_JSON_TYPE = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
              bool: "a boolean", type(None): "null"}


class Scan(NamedTuple):
    """What :func:`scan_results` found: the usable records, and what is wrong with each other file."""

    records: dict[str, dict]  # experiment -> record
    damaged: dict[str, str]  # path -> what is wrong with it, in words


def record_problem(record: Any, file_name: str, required: tuple[str, ...] = CORE_FIELDS) -> str | None:
    """None for a usable record, else what is wrong with it: one phrase naming the field."""
    if not isinstance(record, dict):
        return f"holds {_JSON_TYPE.get(type(record), type(record).__name__)}, not a result record (a JSON object)"
    missing = [k for k in required if k not in record]
    if missing:
        return f"misses the field{'s' * (len(missing) > 1)} {', '.join(missing)}"
    for key, allowed in _FIELD_TYPES.items():
        if key in record and (not isinstance(record[key], allowed) or isinstance(record[key], bool)):
            want = " or ".join(dict.fromkeys(_JSON_TYPE[t] for t in allowed))
            return f"field {key} is {_JSON_TYPE.get(type(record[key]), '?')}, not {want}"
    if f"{record['experiment']}.json" != file_name:
        return f"names experiment {record['experiment']!r}, whose file is {record['experiment']}.json"
    for name, m in record.get("metrics", {}).items():
        if not isinstance(m, dict) or not {"mean", "std", "values"} <= set(m):
            return f"metric {name!r} is not an object with mean, std and values"
        if not isinstance(m["values"], list) or any(
                m[k] is not None and (isinstance(m[k], bool) or not isinstance(m[k], int | float))
                for k in ("mean", "std")):
            return f"metric {name!r} has a mean or std that is not a number, or values that are not a list"
    return None


def scan_results(results_dir: str | Path = "results", required: tuple[str, ...] = CORE_FIELDS) -> Scan:
    """Every ``<name>.json`` record in ``results_dir`` (not ``grades*.json``), and every damaged one.

    A file that cannot be read, is not JSON (truncated, empty), is not an object, misses a field of
    ``required`` or holds a field of the wrong type is left out of ``records`` and named in ``damaged``
    with what is wrong: one damaged file never stops the others from being read. An absent folder
    holds nothing.
    """
    records, damaged = {}, {}
    for path in sorted(Path(results_dir).glob("*.json")):
        if path.name.startswith("grades"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            damaged[str(path)] = "not UTF-8 text"
            continue
        except OSError as exc:  # a folder named x.json, a file we may not read
            damaged[str(path)] = f"cannot be read ({exc.strerror or exc})"
            continue
        if not text.strip():
            damaged[str(path)] = "empty file"
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            damaged[str(path)] = f"not valid JSON, truncated? ({exc})"
            continue
        problem = record_problem(record, path.name, required)
        if problem:
            damaged[str(path)] = problem
        else:
            records[record["experiment"]] = record
    return Scan(records, damaged)


def load_results(results_dir: str | Path = "results", required: tuple[str, ...] = CORE_FIELDS) -> dict[str, dict]:
    """The usable records of :func:`scan_results`; a warning line on stderr names each damaged file."""
    scan = scan_results(results_dir, required)
    for path, problem in scan.damaged.items():
        print(f"warning: damaged result record skipped: {path}: {problem}", file=sys.stderr)
    return scan.records


def damaged_md(damaged: dict[str, str]) -> str:
    """The damaged files as a Markdown list under one sentence; empty when there are none.

    Each problem is set as code: it quotes the parser (``line 1 column 25``), not a measured number.
    """
    if not damaged:
        return ""
    return ("**Damaged result records, skipped** (rerun the experiment to rewrite one):\n\n"
            + "\n".join(f"- `{path}`: `{problem}`" for path, problem in damaged.items()))


def fmt_number(x: float, digits: int = 4) -> str:
    """Fixed point, or scientific for magnitudes fixed point would print as 0.0000 or very long."""
    if x != 0 and (abs(x) < 10 ** -digits or abs(x) >= 1e7):
        return f"{x:.2e}"
    return f"{x:.{digits}f}"


def fmt_metric(m: dict[str, Any], digits: int = 4) -> str:
    if m["mean"] is None:
        return "n/a"
    if len(m["values"]) > 1:
        return f"{fmt_number(m['mean'], digits)} ± {fmt_number(m['std'], digits)}"
    return fmt_number(m["mean"], digits)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(record: dict) -> str:
    env = record["env"]
    ds = record.get("dataset") or {}
    lines = [
        f"# {record['experiment']}",
        "",
        record.get("description", ""),
        "",
        f"Budget `{record['budget']}`, seeds {record['seeds']}, wall time "
        f"{record['wall_seconds']:.1f} s on {env.get('cpu', '?')} ({env.get('threads', '?')} threads, "
        f"device {env.get('device', '?')}), torch {env.get('torch', '?')}, git `{env.get('git_sha', '?')}`, "
        f"{env.get('date', '')}.",
        "",
    ]
    if ds:
        lines += [f"Dataset: **{ds.get('name', '?')}** from `{ds.get('source', '?')}` "
                  f"({ds.get('identity', 'identity not recorded')}).", ""]
        if ds.get("stands_in_for"):  # a stand-in says what it replaces, and why, where its numbers are
            lines += [f"It stands in for **{ds['stands_in_for']}**: {ds.get('why', 'why not recorded')}.", ""]
    lines += ["## Metrics (mean ± sample std over seeds)", ""]
    rows = [[f"`{k}`", fmt_metric(m), ", ".join(f"{v:.4g}" if v is not None else "nan" for v in m["values"])]
            for k, m in record["metrics"].items()]
    lines += [markdown_table(["metric", "mean ± std", "per seed"], rows), ""]
    if record.get("notes"):
        lines += [record["notes"].strip(), ""]
    for fig in record.get("figures", []):
        lines += [f"![{fig}]({fig})", ""]
    lines += ["## Config", "", "```json", json.dumps(record["config"], indent=1), "```", ""]
    return "\n".join(lines)


def write_index(results_dir: str | Path = "results") -> None:
    if not is_main_process():
        return
    records, damaged = scan_results(results_dir, REQUIRED_FIELDS)
    rows = []
    for name, rec in records.items():
        headline = next(iter(rec["metrics"].items()), None)
        shown = f"`{headline[0]}` {fmt_metric(headline[1])}" if headline else ""
        rows.append([f"[{name}]({name}.md)", rec["budget"], len(rec["seeds"]), shown,
                     f"{rec['wall_seconds']:.0f}", rec["env"].get("git_sha", "?")[:12]])
    text = "# Results\n\nEvery experiment's latest committed run (regenerate: `make bench`).\n\n"
    text += markdown_table(["experiment", "budget", "seeds", "headline metric", "wall s", "git"], rows)
    if damaged:
        text += "\n\n" + damaged_md({Path(p).name: why for p, why in damaged.items()})
    atomic_write_text(Path(results_dir) / "index.md", text + "\n")
