"""THE training loop: ``fit`` and ``evaluate`` for every torch model in dl_assign.

Data comes as a loader with ``set_epoch(epoch)``: :class:`TensorLoader` keeps a small dataset
in one tensor (no per-sample DataLoader for 28x28 images), :class:`EpochLoader` wraps a
``Dataset`` with transforms. Both shuffle with a generator seeded from ``(seed, epoch)`` so a
resumed run sees exactly the batches an uninterrupted one would.

Under ``torchrun`` (``WORLD_SIZE`` > 1) ``fit`` wraps the model in ``DistributedDataParallel``
(gloo on CPU, NCCL on CUDA): every rank draws the same permutation, takes its contiguous chunk of
each *global* batch (``batch_size`` is the config's, whatever the number of processes; see
``engine.distributed``), scales its loss by ``chunk / (batch / world)`` so that DDP's gradient
average is the global batch's mean gradient even when the last batch does not split evenly, and
all-reduces the epoch's loss and accuracy sums. ``predict`` shards the loaders of this module and
gathers the outputs back in order, so validation metrics are those of the whole set on every rank.
Only rank 0 writes checkpoints (with every rank's RNG state, so a resume is exact per rank).
Ranks other than 0 reseed after the wrap, so random batch transforms and dropout masks differ per
rank. BatchNorm keeps DDP's semantics: statistics of each rank's chunk, buffers broadcast from rank 0 at
every forward, so a BatchNorm model is *not* the single-process model in a different order
(convert it with ``nn.SyncBatchNorm.convert_sync_batchnorm`` on CUDA for global statistics).
Without ``WORLD_SIZE`` none of this runs: the single-process code path is unchanged.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dl_assign.config import ExperimentConfig, Range
from dl_assign.engine import distributed
from dl_assign.engine.checkpoint import load_checkpoint, save_checkpoint
from dl_assign.engine.device import pick_device, use_bf16
from dl_assign.engine.metrics import classification_metrics
from dl_assign.engine.seeding import rng_state, seed_everything, set_rng_state


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names epoch and step."""


@dataclass(frozen=True)
class TrainConfig(ExperimentConfig):
    """Training fields shared by every torch experiment (flat, so ``--set lr=0.01`` works)."""

    epochs: Annotated[int, Range(ge=1)] = 10
    batch_size: Annotated[int, Range(ge=1)] = 128
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: Annotated[float, Range(gt=0)] = 1e-3
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9  # SGD only
    nesterov: bool = True  # SGD only
    weight_decay: Annotated[float, Range(ge=0)] = 0.0
    schedule: Literal["none", "cosine", "linear", "step"] = "cosine"
    warmup_epochs: Annotated[float, Range(ge=0)] = 0.0  # linear warm-up, in (fractional) epochs
    step_epochs: Annotated[int, Range(ge=1)] = 10  # `step` schedule: multiply lr by step_gamma every step_epochs
    step_gamma: Annotated[float, Range(gt=0, le=1)] = 0.1
    label_smoothing: Annotated[float, Range(ge=0, lt=1)] = 0.0
    grad_clip: Annotated[float, Range(ge=0)] = 0.0  # max global grad norm; 0 disables
    early_stop_patience: Annotated[int, Range(ge=0)] = 0  # epochs without val-loss improvement; 0 disables
    restore_best: bool = False  # end with the weights of the best validation epoch
    # bfloat16 autocast; 'auto' = only where bf16 is native (engine.device.bf16_probe measures it):
    # the same lever is ~2x faster on AMX/AVX512-BF16 CPUs and 6-40x slower on AVX2-only ones.
    # 'off' by default: MLPs and the sine forecasters were measured in fp32 (their MSE needs it);
    # the CNN family defaults to 'auto'
    amp_bf16: Literal["auto", "on", "off"] = "off"
    channels_last: bool = False  # memory format for 4-D conv inputs
    # torch + BLAS threads for the run (engine.device.threads); 0 = all physical cores
    threads: Annotated[int, Range(ge=0)] = 0


class TensorLoader:
    """Mini-batches from tensors held in memory; optional batch-wise ``transform(x)``."""

    def __init__(self, x, y, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 transform: Callable | None = None, drop_last: bool = False):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform, self.drop_last = transform, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def __iter__(self):
        return self.shard(0, 1)

    def shard(self, rank: int, world: int):
        """Rank ``rank``'s chunk of every batch (``engine.distributed.chunk``); all of it when ``world`` is 1."""
        n = len(self.x)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            if world > 1:
                start, stop = distributed.chunk(len(idx), rank, world)
                idx = idx[start:stop]
            xb = self.x[idx]
            if self.transform is not None:
                xb = self.transform(xb)
            yield xb, self.y[idx]


class EpochLoader:
    """A DataLoader over a ``Dataset`` (image folders with transforms), reseeded every epoch."""

    def __init__(self, dataset, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 num_workers: int = 0, drop_last: bool = False):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.num_workers, self.drop_last = num_workers, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=self.batch_size, shuffle=self.shuffle, generator=gen,
            num_workers=self.num_workers, drop_last=self.drop_last,
            persistent_workers=False, pin_memory=False,
        )
        return iter(loader)

    @property
    def num_samples(self) -> int:
        return len(self.dataset)

    def shard(self, rank: int, world: int):
        """Rank ``rank``'s chunk of every batch of :meth:`__iter__` (same generator, same draws)."""
        if world == 1:
            return iter(self)
        from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        # what DataLoader(shuffle=..., generator=gen, batch_size=...) builds inside, then cut per rank
        base = RandomSampler(self.dataset, generator=gen) if self.shuffle else SequentialSampler(self.dataset)
        batches = _RankChunks(BatchSampler(base, self.batch_size, self.drop_last), rank, world)
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=batches, generator=gen, num_workers=self.num_workers,
            persistent_workers=False, pin_memory=False,
        )
        return iter(loader)


class _RankChunks:
    """A batch sampler yielding one rank's contiguous chunk of each batch of ``batches``."""

    def __init__(self, batches, rank: int, world: int):
        self.batches, self.rank, self.world = batches, rank, world

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            start, stop = distributed.chunk(len(batch), self.rank, self.world)
            yield batch[start:stop]


def _global_batch_sizes(loader) -> list[int]:
    """Samples in each global batch of an epoch (the last one may be short)."""
    n, b = loader.num_samples, loader.batch_size
    return [min(b, n - i * b) for i in range(len(loader))]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning-rate multiplier at a given optimizer step (schedules are per step)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = int(cfg.warmup_epochs * steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "none":
        return 1.0
    if cfg.schedule == "step":
        return cfg.step_gamma ** ((step // steps_per_epoch) // max(1, cfg.step_epochs))
    t = (step - warm) / max(1, total - warm)
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
    return max(0.0, 1.0 - t)  # linear decay to zero


def _accuracy_count(out: torch.Tensor, y: torch.Tensor) -> int | None:
    """Correct predictions in a batch, or None when the task is not classification (e.g. MSE)."""
    if y.dtype != torch.long or out.ndim != 2:
        return None
    return int((out.argmax(1) == y).sum())


def _prepare(x: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def predict(model: nn.Module, loader, *, device=None, amp_bf16: bool | str = False,
            channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs (float32, on the CPU) and targets for every batch of ``loader``.

    ``amp_bf16``: a bool, or a config's ``auto | on | off`` (resolved by ``engine.device.use_bf16``).
    """
    device = device or next(model.parameters()).device
    bf16 = use_bf16(amp_bf16, device)
    model.eval()
    if distributed.initialized() and hasattr(loader, "shard"):
        return _predict_sharded(model, loader, device, bf16, channels_last)
    outs, ys = [], []
    for xb, yb in loader:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(_prepare(xb, device, channels_last))
        outs.append(out.float().cpu())
        ys.append(yb)
    return torch.cat(outs), torch.cat(ys)


def _predict_sharded(model, loader, device, bf16: bool, channels_last: bool):
    """Each rank predicts its chunk of every batch; the chunks are gathered back in batch order."""
    mine = []
    for step, (xb, yb) in enumerate(loader.shard(distributed.rank(), distributed.world_size())):
        if len(yb) == 0:  # a batch smaller than the world leaves some ranks nothing
            continue
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(_prepare(xb, device, channels_last))
        mine.append((step, out.float().cpu(), yb.cpu()))
    parts = [(step, r, out, yb) for r, chunks in enumerate(distributed.all_gather_object(mine))
             for step, out, yb in chunks]
    parts.sort(key=lambda p: (p[0], p[1]))  # batch order, then rank order = the unsharded order
    return torch.cat([p[2] for p in parts]), torch.cat([p[3] for p in parts])


def evaluate(model: nn.Module, loader, *, loss_fn: Callable | None = None, device=None,
             amp_bf16: bool | str = False, channels_last: bool = False) -> dict:
    """Loss plus, for classification, accuracy, macro-F1, confusion matrix (and ROC-AUC if binary)."""
    out, y = predict(model, loader, device=device, amp_bf16=amp_bf16, channels_last=channels_last)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    result = {"loss": float(loss_fn(out, y))}
    if y.dtype == torch.long and out.ndim == 2:
        proba = torch.softmax(out, dim=1).numpy()
        result.update(classification_metrics(y.numpy(), proba.argmax(1), proba, n_classes=out.shape[1]))
    return result


def fit(
    model: nn.Module,
    train: TensorLoader | EpochLoader,
    val=None,
    cfg: TrainConfig = TrainConfig(),
    *,
    loss_fn: Callable | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    device=None,
    callbacks: tuple[Callable[[int, nn.Module, dict], None], ...] = (),
    desc: str = "train",
) -> list[dict]:
    """Train ``model`` in place; return the per-epoch history (one dict per epoch).

    Each history row has ``epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds,
    train_seconds`` (cumulative pure training time). ``callbacks`` run after each epoch's
    validation with ``(epoch, model, row)`` and may add keys to the row. With ``checkpoint``
    set, the full training state is written atomically after every epoch; ``resume=True``
    continues from it with bit-identical results on the CPU.

    Under ``torchrun`` the same call trains data-parallel (see the module docstring); ``model`` is
    still the plain module, trained in place on every rank.
    """
    world = distributed.world_size()
    device = distributed.setup(device or pick_device()) if world > 1 else (device or pick_device())
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    loss_fn = loss_fn or nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    opt = make_optimizer(model, cfg)
    steps_per_epoch = len(train)
    if steps_per_epoch == 0:
        raise ValueError("the training loader yields no batch: fewer samples than batch_size with drop_last?")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, steps_per_epoch))
    bf16 = use_bf16(cfg.amp_bf16, device)
    if world > 1:
        if not hasattr(train, "shard"):
            raise TypeError(f"under torchrun fit shards a TensorLoader or EpochLoader; got {type(train).__name__}")
        sizes = _global_batch_sizes(train)
        if min(sizes) < world:
            raise ValueError(f"a training batch of {min(sizes)} samples cannot be split over {world} processes: "
                             "change batch_size or set drop_last")

    history: list[dict] = []
    start_epoch, best_loss, best_state, bad_epochs, train_seconds = 0, math.inf, None, 0, 0.0
    state = None
    if resume and checkpoint is not None:
        # under DDP rank 0 reads its checkpoint and sends it: other nodes need no shared filesystem
        state = load_checkpoint(checkpoint) if world == 1 else distributed.on_main(lambda: load_checkpoint(checkpoint))
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rngs = state.get("rng_ranks")  # a DDP checkpoint: each rank's own RNG state
        set_rng_state(rngs[distributed.rank()] if rngs and len(rngs) == world else state["rng"])
        history, start_epoch = state["history"], state["epoch"] + 1
        best_loss, best_state, bad_epochs = state["best_loss"], state["best_state"], state["bad_epochs"]
        train_seconds = history[-1]["train_seconds"] if history else 0.0
        if state.get("stopped"):
            start_epoch = cfg.epochs  # finished (or early-stopped) before the kill: nothing to redo

    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # wraps after the resume: every rank loaded the same file; DDP also broadcasts rank 0's weights
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if state is None and distributed.rank() > 0:
            # every rank was seeded alike (same initial weights); from here on each draws its own random
            # batch transforms and dropout masks instead of repeating rank 0's on other samples
            seed_everything(torch.initial_seed() + 1_000_003 * distributed.rank())
    epochs = tqdm(range(start_epoch, cfg.epochs), desc=desc, unit="epoch",
                  disable=not progress or not distributed.is_main(),
                  initial=start_epoch, total=cfg.epochs, leave=False)
    stopped = False
    for epoch in epochs:
        t0 = time.perf_counter()
        model.train()
        train.set_epoch(epoch)
        total_loss, correct, seen = 0.0, 0, 0
        batches = train if world == 1 else train.shard(distributed.rank(), world)
        for step, (xb, yb) in enumerate(batches):
            xb, yb = _prepare(xb, device, cfg.channels_last), yb.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = net(xb)
                loss = loss_fn(out.float(), yb)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"training loss became {value} at epoch {epoch + 1}/{cfg.epochs}, step "
                    f"{step + 1}/{steps_per_epoch} (lr {sched.get_last_lr()[0]:.3g}); lower the "
                    "learning rate, set grad_clip, or check the inputs for NaN"
                )
            opt.zero_grad(set_to_none=True)
            if world > 1 and len(yb) * world != sizes[step]:
                # DDP averages the ranks' gradients: weight an uneven chunk's mean by its share
                loss = loss * (len(yb) * world / sizes[step])
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total_loss += value * len(yb)
            hits = _accuracy_count(out.detach(), yb)
            correct = None if hits is None else correct + hits
            seen += len(yb)
        if world > 1:  # the epoch's sums over every rank's chunks
            total_loss, hits, seen = distributed.all_reduce_sum(
                [total_loss, 0 if correct is None else correct, seen], device=device)
            correct, seen = (None if correct is None else round(hits)), round(seen)
        train_seconds += time.perf_counter() - t0
        row = {"epoch": epoch + 1, "train_loss": total_loss / seen, "lr": sched.get_last_lr()[0]}
        if correct is not None:  # classification only: a regression history has no accuracy
            row["train_acc"] = correct / seen
        if val is not None:
            ev = evaluate(model, val, loss_fn=loss_fn, device=device, amp_bf16=bf16,
                          channels_last=cfg.channels_last)
            row["val_loss"] = ev["loss"]
            if "accuracy" in ev:
                row["val_acc"] = ev["accuracy"]
        for callback in callbacks:
            callback(epoch, model, row)
        row["seconds"] = time.perf_counter() - t0
        row["train_seconds"] = train_seconds
        history.append(row)
        epochs.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("train_loss", "val_loss", "val_acc")})

        monitored = row.get("val_loss", row["train_loss"])
        if monitored < best_loss:
            best_loss, bad_epochs = monitored, 0
            if cfg.restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        stopped = cfg.early_stop_patience > 0 and bad_epochs >= cfg.early_stop_patience
        if checkpoint is not None:
            state = {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng": rng_state(), "epoch": epoch, "history": history, "best_loss": best_loss,
                "best_state": best_state, "bad_epochs": bad_epochs,
                "stopped": stopped or epoch + 1 == cfg.epochs,
            }
            if world > 1:  # every rank takes part in the gather; only rank 0 writes
                state["rng_ranks"] = distributed.all_gather_object(state["rng"])
            if distributed.is_main():
                save_checkpoint(state, checkpoint)
        if stopped:
            break
    if cfg.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history


def history_arrays(history: list[dict]) -> dict[str, list[float]]:
    """Column view of a history, for plots and JSON artifacts."""
    keys = [k for k in history[0]] if history else []
    return {k: [float(np.float64(row.get(k, np.nan))) for row in history] for k in keys}
