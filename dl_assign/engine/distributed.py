"""Data-parallel training under ``torchrun``: who this process is, its shard of a batch, reductions.

``fit`` is the only caller that needs to know: it calls :func:`setup` (a no-op outside torchrun),
wraps the model in ``DistributedDataParallel`` and reads its rank's shard of every global batch.
Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) every function
here answers "one process, rank 0" without importing ``torch.distributed`` state, so the
single-process path is the code that ran before DDP existed.

Sharding rule: the global batch of step ``i`` is the same slice of the same seeded permutation a
single process would take (``batch_size`` stays the config's: the *global* batch); rank ``r`` of
``W`` takes the contiguous chunk ``[r*m//W, (r+1)*m//W)`` of a batch of ``m`` samples, so chunk
sizes differ by at most one and concatenating them in rank order gives the batch back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def world_size() -> int:
    """Processes in the job: ``WORLD_SIZE`` set by torchrun, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    """This process's global rank (``RANK``), 0 outside torchrun."""
    return int(os.environ.get("RANK", "0") or 0) if world_size() > 1 else 0


def local_rank() -> int:
    """This process's rank on its node (``LOCAL_RANK``): the GPU it drives."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0) if world_size() > 1 else 0


def active() -> bool:
    """True under torchrun with more than one process."""
    return world_size() > 1


def is_main() -> bool:
    """Rank 0 (or a single process): the one that writes checkpoints, the model store and results."""
    return rank() == 0


def setup(device=None):
    """Join the process group once (gloo on CPU, NCCL on CUDA); return the device this rank uses.

    Outside torchrun returns ``device`` unchanged. Under torchrun, a CUDA device becomes
    ``cuda:LOCAL_RANK``; the rendezvous (``MASTER_ADDR``/``MASTER_PORT`` or ``--rdzv-endpoint``)
    comes from the environment torchrun sets.
    """
    import torch

    if not active():
        return device
    import torch.distributed as dist

    if device is not None and not isinstance(device, torch.device):
        device = torch.device(device)
    if device is not None and device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return device


def initialized() -> bool:
    if not active():
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def chunk(m: int, r: int | None = None, w: int | None = None) -> tuple[int, int]:
    """``[start, stop)`` of rank ``r``'s share of a global batch of ``m`` samples among ``w`` ranks."""
    r = rank() if r is None else r
    w = world_size() if w is None else w
    return r * m // w, (r + 1) * m // w


def all_reduce_sum(values: list[float], device=None) -> list[float]:
    """Element-wise sum over ranks (float64); the values unchanged in a single process."""
    if not initialized():
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def all_gather_object(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]``; ``[obj]`` in a single process."""
    if not initialized():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (``obj`` itself in a single process)."""
    if not initialized():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on rank 0 only; with a process group every rank gets rank 0's return value.

    Without a process group (e.g. ``RANK=1`` set by hand, nothing initialised) the other ranks
    get None: they must not write, and there is nobody to ask.
    """
    result = fn() if is_main() else None
    return broadcast_object(result) if initialized() else result


def barrier() -> None:
    if initialized():
        import torch.distributed as dist

        dist.barrier()
