"""Atomic checkpoints: written to a temporary file and renamed, so a kill never corrupts one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def save_checkpoint(state: dict, path: str | Path) -> None:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | Path) -> dict | None:
    import torch

    path = Path(path)
    if not path.exists():
        return None
    # our own files: they hold optimizer state and RNG states, not only tensors
    return torch.load(path, map_location="cpu", weights_only=False)
