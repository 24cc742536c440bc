"""Checkpoints that are atomic and load safely.

Written to a temporary file and renamed, so a kill never corrupts one; read with
``torch.load(weights_only=True)``, so a file from anywhere else cannot run code on ``--resume``.
What ``fit`` saves is tensors and plain Python values only (RNG states included, see
``seeding.rng_state``), so nothing needs allow-listing.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint file that is corrupt, truncated or could run code; it was not loaded."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write ``state`` atomically; under torchrun only rank 0 writes (the others return at once)."""
    import torch

    from dl_assign.engine import distributed

    if not distributed.is_main():
        return

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(_plain(state), tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _plain(obj):
    """NumPy scalars and arrays -> Python numbers and lists, through dicts, lists and tuples.

    A callback may put e.g. ``np.float64`` into a history row; saved as is, the checkpoint would
    be refused by ``weights_only=True`` on resume. State dicts (OrderedDicts of tensors) pass
    through untouched, so their ``_metadata`` is kept.
    """
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    if type(obj) is dict:
        return {key: _plain(value) for key, value in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_plain(value) for value in obj)
    return obj


def load_checkpoint(path: str | Path, *, require: Iterable[str] = ("model",)) -> dict | None:
    """The state dict saved at ``path``, None when there is no file.

    Raises :class:`CheckpointError` (naming the file) when it does not load with
    ``weights_only=True`` (a pickled object that could run code, a truncated or corrupt file, one
    from an older dl_assign) or is not a dict holding every key in ``require``.
    """
    import torch

    path = Path(path)
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():  # a plain pickle file draws a protocol warning before it is refused
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise
    except Exception as exc:  # zip, pickle and I/O errors vary with the damage; the message is what matters
        raise CheckpointError(_refusal(path, _reason(exc))) from exc
    if not isinstance(state, dict):
        raise CheckpointError(_refusal(path, f"it holds a {type(state).__name__}, not a dict of training state"))
    missing = [key for key in require if key not in state]
    if missing:
        raise CheckpointError(_refusal(path, f"it has no {', '.join(missing)}"))
    return state


def _reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError):
        if found := re.search(r"GLOBAL ([\w.]+)", text):
            return f"it refers to {found[1]}, which a checkpoint may not"
        return "it is corrupt or holds pickle instructions a checkpoint may not"
    first = text.strip().splitlines()[0][:100] if text.strip() else ""
    return f"it is truncated or corrupt: {type(exc).__name__}{': ' + first if first else ''}"


def _refusal(path: Path, reason: str) -> str:
    return (f"{path} is not a dl_assign checkpoint that loads safely ({reason}), so it was not loaded: "
            "it may be truncated, written by an older dl_assign, or hold code that loading would run. "
            "Delete it, or run without --resume to start over.")
