"""Device choice: CUDA when present, else CPU; ``DL_ASSIGN_DEVICE`` forces one."""

from __future__ import annotations

import os


def pick_device(preferred: str | None = None):
    import torch

    name = preferred or os.environ.get("DL_ASSIGN_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use cpu")
    return torch.device(name)
