"""``dl-assign list | run NAME [--budget B] [--set k=v ...] | data | grade | bench | serve | report``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from dl_assign.config import BUDGETS, ConfigError


def _cmd_list(args) -> int:
    from dl_assign import registry
    from dl_assign.config import describe_fields

    for name in registry.names():
        exp = registry.get(name)
        print(f"{name:28s} [{', '.join(exp.datasets) or 'generated'}] {exp.description}")
        if args.verbose:
            print(describe_fields(exp.config(args.budget)))
    return 0


def _cmd_run(args) -> int:
    from dl_assign import registry, results
    from dl_assign.results import fmt_metric

    overrides = list(args.set or [])
    if args.seeds:
        overrides.append(f"seeds={args.seeds}")
    exp = registry.get(args.name)
    record = exp.run(args.budget, overrides, results_dir=args.results_dir,
                     checkpoint_dir=args.checkpoint_dir, resume=args.resume, progress=not args.quiet)
    if not results.is_main_process():  # under torchrun rank 0 wrote the result and reports it
        return 0
    print(f"{record['experiment']} ({record['budget']}, seeds {record['seeds']}, "
          f"{record['wall_seconds']:.1f} s) -> {Path(args.results_dir) / (record['experiment'] + '.json')}")
    for key, m in record["metrics"].items():
        print(f"  {key:24s} {fmt_metric(m)}")
    return 0


def _cmd_data(args) -> int:
    from dl_assign import data

    if args.download:
        if args.download != "fashion-mnist":
            print(f"only fashion-mnist can be downloaded automatically; for {args.download} see the table",
                  file=sys.stderr)
            return 2
        from dl_assign.data import fashion

        print(f"downloaded to {fashion.download()}")
    print(f"data root: {data.data_root().resolve()}  (set DL_ASSIGN_DATA to change)\n")
    missing = 0
    for st in data.status():
        state = "ERROR" if st.error else ("found" if st.found else "MISSING")
        print(f"{st.name:16s} {state:8s} {st.location or '-'}")
        if st.found and not st.error:
            print(f"{'':16s} size: {st.size}; identity: {st.identity}")
        else:
            missing += 1
            print(f"{'':16s} looked in: {', '.join(st.looked) or '-'}")
            if st.error:
                print(f"{'':16s} error: {st.error}")
            print(f"{'':16s} how to get it: {st.how_to_get}")
    return 1 if (missing and args.strict) else 0


def _cmd_env(args) -> int:
    """Versions, device, CPU capability, the precision and threads ``auto`` picks, BLAS, roots."""
    import numpy
    import torch
    import torchvision
    from threadpoolctl import threadpool_info

    from dl_assign import data
    from dl_assign.engine import device as dev
    from dl_assign.results import cpu_name

    device = dev.pick_device()
    probe = dev.bf16_probe(device.type)
    cap = dev.capability()
    blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
            f"{p.get('architecture') or '-'})" for p in threadpool_info() if p.get("user_api") == "blas"]
    ratios = (f"; bf16/fp32 time: matmul {probe.matmul_ratio:.2f}, conv {probe.conv_ratio:.2f}"
              if probe.method == "measured" else "")
    rows = [
        ("torch", torch.__version__), ("torchvision", torchvision.__version__), ("numpy", numpy.__version__),
        ("device", str(device)), ("cuda", cap["cuda"] or "none"),
        ("cpu", cpu_name()), ("cpu capability", cap["cpu_capability"]),
        ("cpu flags", ", ".join(cap["cpu_bf16_flags"]) or "-"),
        ("native bf16", f"{'yes' if probe.native else 'no'} ({probe.method}{ratios})"),
        ("amp_bf16=auto", dev.precision_name(dev.use_bf16("auto", device))),
        ("threads=0", f"{dev.physical_cores()} (physical cores; torch now {torch.get_num_threads()})"),
        ("blas", "; ".join(blas) or "none found"),
        ("data root", f"{data.data_root().resolve()} (DL_ASSIGN_DATA)"),
        ("model store", f"{Path(os.environ.get('DL_ASSIGN_MODELS', '.models')).resolve()} (DL_ASSIGN_MODELS)"),
    ]
    for key, value in rows:
        print(f"{key:16s} {value}")
    return 0


def _cmd_grade(args) -> int:
    from dl_assign import grades

    try:
        summary = grades.grade(args.results_dir, gate=args.gate)
    except grades.NoResults as exc:  # an empty or absent folder is a mistake, not a 0-point grade
        print(f"dl-assign: error: {exc}", file=sys.stderr)
        return 2
    print(grades.render(summary))
    return 0 if summary["passed"] else 1


def _cmd_report(args) -> int:
    from dl_assign import results

    if args.assignment:
        from dl_assign import reports

        names = [a.name for a in reports.ASSIGNMENTS] if args.assignment == "all" else [args.assignment]
        for name in names:
            md, html = reports.write(name, args.results_dir)
            print(f"wrote {md} and {html}")
        return 0
    for name, record in results.load_results(args.results_dir).items():
        results.atomic_write_text(Path(args.results_dir) / f"{name}.md", results.render_markdown(record))
    results.write_index(args.results_dir)
    print(f"re-rendered {Path(args.results_dir) / 'index.md'} and every <name>.md")
    return 0


def _cmd_models(args) -> int:
    from dl_assign import store

    root = store.store_root(args.root)
    print(f"model store: {root.resolve()}  (set DL_ASSIGN_MODELS to change)")
    records = store.list_models(root)
    if not records:
        print("(no stored models)")
        return 0
    print(f"{'task':16s} {'model':28s} {'versions':16s} {'latest':>6s} {'test_accuracy':>13s}")
    for r in records:
        acc = "-" if r.test_accuracy is None else f"{r.test_accuracy:.4f}"
        line = (f"{r.task:16s} {r.model:28s} {','.join(map(str, r.versions)) or '-':16s} "
                f"{r.latest if r.latest is not None else '-':>6} {acc:>13s}")
        if r.incomplete:
            line += f"  (incomplete, ignored: {','.join(map(str, r.incomplete))})"
        print(line)
    return 0


def _cmd_bench(args) -> int:
    cmd = [sys.executable, "-m", "pytest", "benchmarks", "--budget", args.budget,
           "--results-dir", args.results_dir, "-p", "no:cacheprovider"]
    if args.k:
        cmd += ["-k", args.k]
    if args.shard:
        cmd += ["--shard", args.shard]
    return subprocess.call(cmd)


def _shard_arg(text: str) -> str:
    """``K/N`` with 1 <= K <= N (checked here so that a typo fails before pytest starts)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes K/N, e.g. 2/4; got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"K/N needs 1 <= K <= N; got {text!r}")
    return f"{k}/{n}"


def _cmd_serve(args) -> int:
    try:
        from dl_assign.web.server import serve
    except ImportError as exc:  # fastapi / uvicorn come with the `web` extra
        print(f"dl-assign: error: the web app needs the `web` extra (pip install -e '.[web]'): {exc}",
              file=sys.stderr)
        return 2
    serve(args.store, host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dl-assign", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list registered experiments")
    s.add_argument("-v", "--verbose", action="store_true", help="show every config field")
    s.add_argument("--budget", default="standard", choices=BUDGETS)
    s.set_defaults(fn=_cmd_list)

    s = sub.add_parser("run", help="run one experiment and write results/<name>.json")
    s.add_argument("name")
    s.add_argument("--budget", default="standard", choices=BUDGETS)
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    s.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    s.add_argument("--results-dir", default=os.environ.get("DL_ASSIGN_RESULTS", "results"))
    s.add_argument("--checkpoint-dir", default="checkpoints")
    s.add_argument("--resume", action="store_true", help="continue from the last epoch checkpoint")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    s.set_defaults(fn=_cmd_run)

    s = sub.add_parser("data", help="where every dataset was looked for, found or not, how to get it")
    s.add_argument("--download", metavar="NAME", help="download a dataset that can be (fashion-mnist)")
    s.add_argument("--strict", action="store_true", help="exit 1 when a dataset is missing")
    s.set_defaults(fn=_cmd_data)

    s = sub.add_parser("env", help="versions, device, CPU capability, precision and threads auto picks, BLAS")
    s.set_defaults(fn=_cmd_env)

    s = sub.add_parser("grade", help="grade results/ against the rubric; non-zero below the gate")
    s.add_argument("--results-dir", default=os.environ.get("DL_ASSIGN_RESULTS", "results"))
    s.add_argument("--gate", type=float, default=None)
    s.set_defaults(fn=_cmd_grade)

    s = sub.add_parser("bench", help="run the benchmark suite (pytest benchmarks) at a budget")
    s.add_argument("--budget", default="standard", choices=BUDGETS)
    s.add_argument("--results-dir", default=os.environ.get("DL_ASSIGN_RESULTS", "results"))
    s.add_argument("-k", help="pytest -k expression to select experiments")
    s.add_argument("--shard", type=_shard_arg, metavar="K/N",
                   help="run the K-th of N disjoint slices of the experiment list (1-based; job arrays)")
    s.set_defaults(fn=_cmd_bench)

    s = sub.add_parser("models", help="list the model store: task, model, versions, test accuracy")
    s.add_argument("--root", default=None, help="store folder (default $DL_ASSIGN_MODELS or ./.models)")
    s.set_defaults(fn=_cmd_models)

    s = sub.add_parser("serve", help="the web app: upload an image, pick stored models/versions, see predictions")
    s.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; another host warns: no authentication")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--store", default=None, help="model store folder (default $DL_ASSIGN_MODELS or ./.models)")
    s.add_argument("--workers", type=int, default=2, help="inferences at once (default 2)")
    s.add_argument("--threads", type=int, default=1, help="torch threads per inference (default 1)")
    s.set_defaults(fn=_cmd_serve)

    s = sub.add_parser("report", help="re-render every results/<name>.md and index.md from the JSON; "
                                      "--assignment NAME: the assignment's report in results/reports/")
    s.add_argument("--results-dir", default=os.environ.get("DL_ASSIGN_RESULTS", "results"))
    s.add_argument("--assignment", choices=("all", "cs776", "hw5", "module4", "assignment3", "gender"),
                   help="write results/reports/NAME.md and the self-contained NAME.html (all: the five)")
    s.set_defaults(fn=_cmd_report)
    return p


def _checkpoint_error() -> type[Exception]:
    """CheckpointError, imported only once an error reaches ``main``: dl_assign.engine imports torch,
    seconds that ``dl-assign data`` or ``grade`` should not pay (an except tuple is evaluated lazily)."""
    from dl_assign.engine.checkpoint import CheckpointError

    return CheckpointError


def main(argv: list[str] | None = None) -> int:
    from dl_assign.data import DatasetCorrupt, DatasetMissing
    from dl_assign.registry import UnknownExperiment

    args = build_parser().parse_args(argv)
    if getattr(args, "gate", "unset") is None:
        from dl_assign.grades import GATE

        args.gate = GATE
    try:
        return args.fn(args)
    except BrokenPipeError:  # `dl-assign data | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ConfigError, UnknownExperiment, DatasetMissing, DatasetCorrupt, _checkpoint_error()) as exc:
        print(f"dl-assign: error: {exc}", file=sys.stderr)
        return 2
