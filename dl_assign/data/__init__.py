"""The data layer: one data root, one error type per failure, a status table for the CLI.

Every dataset is found through one root, ``$DL_ASSIGN_DATA`` (default ``./.data``). Each
dataset module registers a status function with :func:`register_dataset`; ``dl-assign data``
prints them all: where each was looked for, whether it was found, its size and identity, and
how to obtain it when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def data_root() -> Path:
    return Path(os.environ.get("DL_ASSIGN_DATA", ".data")).expanduser()


class DatasetMissing(FileNotFoundError):
    """A dataset is not where dl_assign looks; the message says where it looked and how to get it."""

    def __init__(self, name: str, looked: list[Path | str], how: str):
        self.name, self.looked, self.how = name, [str(p) for p in looked], how
        places = "\n".join(f"  - {p}" for p in self.looked)
        super().__init__(f"dataset {name!r} not found. Looked in:\n{places}\nHow to get it: {how}")


class DatasetCorrupt(ValueError):
    """A dataset file exists but its content is wrong (checksum, format, label, image)."""


@dataclass
class DatasetStatus:
    name: str
    found: bool
    location: str
    looked: list[str] = field(default_factory=list)
    size: str = ""
    identity: str = ""
    how_to_get: str = ""
    error: str = ""


_STATUS: dict[str, Callable[[], DatasetStatus]] = {}


def register_dataset(name: str):
    """Register ``fn() -> DatasetStatus`` for the ``dl-assign data`` table."""

    def decorate(fn):
        _STATUS[name] = fn
        return fn

    return decorate


def located_status(name: str, looked, locate: Callable[[], Path], describe: Callable[[Path], tuple[str, str]],
                   how_to_get: str) -> DatasetStatus:
    """The ``dl-assign data`` row of a dataset found by ``locate()``: ``describe(root) -> (size, identity)``."""
    looked = [str(p) for p in looked]
    try:
        root = locate()
    except DatasetMissing:
        return DatasetStatus(name, False, "", looked, how_to_get=how_to_get)
    size, identity = describe(root)
    return DatasetStatus(name, True, str(root), looked, size, identity, how_to_get)


def _load_modules() -> None:
    from dl_assign.data import (  # noqa: F401  (registers their status functions)
        faces,
        fashion,
        ip102,
        miniimagenet,
        sine,
        tinyimagenet,
    )


def dataset_names() -> list[str]:
    _load_modules()
    return sorted(_STATUS)


def status(name: str | None = None) -> list[DatasetStatus]:
    _load_modules()
    names = [name] if name else sorted(_STATUS)
    out = []
    for n in names:
        try:
            out.append(_STATUS[n]())
        except (DatasetMissing, DatasetCorrupt, OSError) as exc:
            out.append(DatasetStatus(n, False, "", error=str(exc)))
    return out


def available(name: str) -> bool:
    return all(s.found and not s.error for s in status(name))


def human_size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    return f"{n_bytes:.1f} GB"


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
