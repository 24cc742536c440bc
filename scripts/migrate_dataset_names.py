"""Give the committed result records honest dataset names, changing nothing else (issue 28).

Records written before issue 28 call the 14-class stand-in ``ip102``, Tiny-ImageNet-100 ``tiny-imagenet``
and the face data ``utkface+fairface``. This rewrites, in each ``results/<name>.json``, only the
``dataset`` block's ``name`` and adds ``stands_in_for`` and ``why``, the same values the code now
writes for new runs (``data.ip102.info``, ``data.tinyimagenet.info`` + ``stand_in``,
``experiments.faces.common``); in the rendered ``results/<name>.md`` it rewrites only the
``Dataset:`` line and adds the stand-in line after it. Metrics, configs and every other field are
left as they are: no experiment is re-run. Idempotent: a record already migrated is left alone.

    .venv/bin/python scripts/migrate_dataset_names.py [--results-dir results] [--check]

``--check`` changes nothing and exits 1 when a record would change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from dl_assign.data import ip102, tinyimagenet
from dl_assign.experiments.faces import common as faces_common


def honest(experiment: str, ds: dict) -> dict:
    """The dataset block with its honest name and, for a stand-in, what it replaces and why."""
    name, source = ds.get("name"), str(ds.get("source", ""))
    out = dict(ds)
    if name == "ip102" and ip102.dataset_name(Path(source)) == ip102.STAND_IN:
        out |= {"name": ip102.STAND_IN, "stands_in_for": ip102.NAME, "why": ip102.STAND_IN_WHY}
    elif name == tinyimagenet.NAME:
        classes = ds.get("classes")
        if not isinstance(classes, int):
            raise ValueError(f"{experiment}: a tiny-imagenet record without its class count")
        replaces = "ip102" if experiment.startswith("segment.") else "mini-imagenet"
        out |= {"name": f"{tinyimagenet.NAME}-{classes}"} | tinyimagenet.stand_in(replaces)
    elif name == "utkface+fairface":
        fairface_root = source.split(" ; ")[-1]
        out |= {"name": faces_common.dataset_name(fairface_root), "stands_in_for": faces_common.STANDS_IN_FOR,
                "why": faces_common.STAND_IN_WHY}
    return out


def _md(text: str, old: dict, new: dict) -> str:
    """Only the ``Dataset: **name**`` line changes; the stand-in line follows it (as results.render_markdown)."""
    line = re.compile(r"^Dataset: \*\*" + re.escape(str(old.get("name"))) + r"\*\* from .*$", re.M)
    m = line.search(text)
    if m is None:
        return text
    head = m.group(0).replace(f"**{old.get('name')}**", f"**{new['name']}**", 1)
    extra = f"\n\nIt stands in for **{new['stands_in_for']}**: {new['why']}." if new.get("stands_in_for") else ""
    return text[:m.start()] + head + extra + text[m.end():]


def migrate(results_dir: Path, write: bool = True) -> list[str]:
    """The records that change (``experiment: old name -> new name``); written back when ``write``."""
    changed = []
    for path in sorted(results_dir.glob("*.json")):
        if path.name.startswith("grades"):
            continue
        text = path.read_text()
        record = json.loads(text)
        ds = record.get("dataset") or {}
        new = honest(record["experiment"], ds)
        if new == ds:
            continue
        changed.append(f"{record['experiment']}: {ds.get('name')} -> {new['name']}")
        if not write:
            continue
        record["dataset"] = new
        path.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")  # results.write_result's format
        md = path.with_suffix(".md")
        if md.is_file():
            md.write_text(_md(md.read_text(), ds, new))
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a record would change")
    args = parser.parse_args(argv)
    changed = migrate(args.results_dir, write=not args.check)
    for line in changed:
        print(line)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
