"""What the pests experiments share: the splits as tensors, the frozen-trunk feature cache, the test
report (top-1/5, macro-F1, per-class P/R/F1, confusion, loss, ECE + reliability, latency), the store hook.

The frozen part of a trunk is a fixed function (``freeze`` keeps it in eval mode), so its output is
computed once per image and per augmented view (``feature_cache``) and every epoch runs only the
trainable tail on the cached tensors (``CachedTail``). Views are fixed: view 0 is the image, view 1
its mirror, views 2+ seeded random-resized crops (and flips); each training step picks one view
per image (``data.augment.PickView``). The pure statistics (ECE, paired bootstrap, McNemar) live in
``dl_assign.engine.metrics``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
import statistics
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from dl_assign.data import ip102
from dl_assign.engine import TensorLoader, TrainConfig, fit
from dl_assign.engine.metrics import logits_report
from dl_assign.models.backbones import Backbone, preprocess

LEAKAGE_FLAG = ("pests14 images come from Tiny-ImageNet/ImageNet: an ImageNet-pretrained backbone may have seen "
                "these images or their classes")
CACHE_FORMAT = 3  # bump when the views or the feature computation change: old disk caches are then ignored


def task_name(root: Path) -> str:
    """``pests14`` for the 14-class stand-in, ``ip102`` for the real set (the store's task name)."""
    return ip102.dataset_name(root)  # the same name the result records give as their dataset


def leakage_flag(root: Path) -> str:
    """The flag every pretrained-model accuracy on pests14 carries; empty on the real IP102."""
    return LEAKAGE_FLAG if task_name(root) == "pests14" else ""


@dataclass(frozen=True)
class CachedTailConfig(TrainConfig):
    """What the cached-trunk transfer runs share: the tail's optimiser and schedule, the cache's precision."""

    batch_size: int = 128
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    # the frozen trunk's one pass over every image (the cache) under bf16 autocast: auto = where bf16 is
    # measured native (engine.device.bf16_probe). AMX Xeon, Lite0 160 px: 12.4 -> 4.9 ms/image; the
    # tail trains in fp32 (amp_bf16) on fp32 copies of the cached outputs
    cache_bf16: Literal["auto", "on", "off"] = "auto"
    disk_cache: bool = True  # keep the cached features under build/cache (content-hashed; see feature_cache)


# --- the splits as tensors ---------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    images: torch.Tensor | list  # uint8 (N, 3, H, W); a list of (3, H, W) when the sizes differ
    labels: torch.Tensor  # int64 (N,)


@functools.lru_cache(maxsize=6)
def _read_split(root: str, split: str, max_side: int) -> Split:
    from torchvision.transforms.v2 import functional as F

    ds = ip102.IP102Dataset(root, split)
    images = []
    for i in range(len(ds)):
        x = F.pil_to_tensor(ds.load_image(i))  # (3, H, W) uint8
        if min(x.shape[1:]) > max_side:  # bound memory on the real IP102 (pests14 is 64x64: untouched)
            x = F.resize(x, max_side, antialias=True)
        images.append(x)
    same = len({tuple(x.shape) for x in images}) == 1
    return Split(torch.stack(images) if same else images, torch.tensor(ds.targets, dtype=torch.long))


def per_class_subset(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first ``per_class`` images of each class (0 = all): fixed, so seeds share a cache."""
    if per_class <= 0:
        return torch.arange(len(labels))
    keep = [torch.nonzero(labels == c).flatten()[:per_class] for c in labels.unique()]
    return torch.cat(keep).sort().values


def take(split: Split, idx: torch.Tensor) -> Split:
    images = split.images[idx] if isinstance(split.images, torch.Tensor) else [split.images[i] for i in idx]
    return Split(images, split.labels[idx])


def load_splits(root: Path, *, train_per_class: int = 0, val_per_class: int = 0, max_side: int = 256) -> dict:
    """``{"train", "val", "test"}`` -> :class:`Split` of uint8 images; the test split is always whole."""
    out = {}
    for split, limit in (("train", train_per_class), ("val", val_per_class), ("test", 0)):
        s = _read_split(str(root), split, max_side)
        out[split] = take(s, per_class_subset(s.labels, limit)) if limit else s
    return out


def prep_at(prep: dict, size: int) -> dict:
    """A backbone's preprocessing at crop ``size`` (resize scaled by the same factor), as stored."""
    resize = round(prep["resize"] * size / prep["size"])
    return {**prep, "size": size, "resize": resize}


def preprocessed(images, prep: dict, batch: int = 256):
    """Yield the normalised float batches (B, 3, S, S) of uint8 ``images``."""
    for i in range(0, len(images), batch):
        yield preprocess(images[i:i + batch], prep)


def view(images, v: int):
    """Fixed augmented view ``v`` of uint8 images: 0 itself, 1 mirrored, 2+ a seeded random-resized crop."""
    from torchvision.transforms.v2 import functional as F

    if v == 0:
        return images
    if v == 1:
        return images.flip(-1) if isinstance(images, torch.Tensor) else [x.flip(-1) for x in images]
    g = torch.Generator().manual_seed(1_000 + v)
    out = []
    for x in images:
        h, w = x.shape[-2:]
        scale, ratio = 0.6 + 0.4 * torch.rand(1, generator=g).item(), float(np.exp(
            np.log(3 / 4) + np.log(16 / 9) * torch.rand(1, generator=g).item()))
        ch, cw = min(h, round((scale * h * w / ratio) ** 0.5)), min(w, round((scale * h * w * ratio) ** 0.5))
        top = int(torch.randint(0, h - ch + 1, (1,), generator=g))
        left = int(torch.randint(0, w - cw + 1, (1,), generator=g))
        x = F.resized_crop(x, top, left, ch, cw, [h, w], antialias=True)
        out.append(x.flip(-1) if torch.rand(1, generator=g).item() < 0.5 else x)
    return torch.stack(out) if isinstance(images, torch.Tensor) else out


# --- the frozen-trunk feature cache ------------------------------------------------------------


@torch.no_grad()
def frozen_features(trunk, n_frozen: int, images, prep: dict, batch: int = 128, *, bf16: bool = False) -> torch.Tensor:
    """``trunk.run(x, 0, n_frozen)`` for every image, in eval mode: (N, C, h, w), or (N, D) when all frozen.

    Runs channels-last (measured on a 2-core AMX Xeon, Lite0 at 160 px, batch 64: 17.8 -> 12.4
    ms/image in fp32) and, with ``bf16``, under bf16 autocast (4.9 ms/image there; only where bf16 is
    native: elsewhere it is 10x slower, so callers pass ``use_bf16("auto")``). Returned in fp32.
    """
    was = trunk.training
    trunk.eval()
    trunk.to(memory_format=torch.channels_last)
    try:
        out = []
        for x in preprocessed(images, prep, batch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                h = trunk.run(x.contiguous(memory_format=torch.channels_last), 0, n_frozen)
            out.append(h.float().contiguous())
        return torch.cat(out)
    finally:
        trunk.to(memory_format=torch.contiguous_format)
        trunk.train(was)


@dataclass(frozen=True)
class Features:
    """Cached frozen-trunk outputs: train (N, K views, ...), val and test (N, ...) of view 0."""

    train: torch.Tensor
    train_y: torch.Tensor
    val: torch.Tensor
    val_y: torch.Tensor
    test: torch.Tensor
    test_y: torch.Tensor
    seconds: float  # to compute them (recorded when built; a cache hit reports the original cost)
    source: str  # computed | memory | disk
    key: str
    test_flip: torch.Tensor | None = None  # the mirrored test images (test-time flips), when asked for


_MEMORY: OrderedDict[str, Features] = OrderedDict()
_MEMORY_ENTRIES = 2  # two backbones' caches (~0.3 GB each at standard)


def cache_dir() -> Path:
    return Path(os.environ.get("DL_ASSIGN_CACHE", "build/cache")) / "pests"


def content_hash(split: Split) -> str:
    """sha256 of a split's image bytes (with their shapes) and labels: any changed pixel changes it."""
    h = hashlib.sha256()
    for x in split.images:  # image by image: a stacked tensor and the list of the same images hash alike
        x = x.contiguous()
        h.update(repr(tuple(x.shape)).encode())
        h.update(x.numpy().tobytes())  # pests14 at standard: 77 MB, about 0.1 s
    h.update(split.labels.numpy().tobytes())
    return h.hexdigest()[:20]


def _key(bb: Backbone, n_frozen: int, prep: dict, views: int, splits: dict, identity: str, bf16: bool,
         test_flip: bool = False) -> str:
    desc = {"format": CACHE_FORMAT, "backbone": bb.name, "weights": (bb.weights or {}).get("sha256", "random"),
            "n_frozen": n_frozen, "prep": {k: prep[k] for k in ("size", "resize", "interpolation", "mean", "std")},
            "views": views, "dataset": identity, "bf16": bf16, **({"test_flip": True} if test_flip else {}),
            "content": {k: content_hash(s) for k, s in sorted(splits.items())}}
    digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]
    return f"{bb.name}-{prep['size']}px-f{n_frozen}-v{views}-{'bf16' if bf16 else 'fp32'}-{digest}"


def feature_cache(bb: Backbone, n_frozen: int, prep: dict, splits: dict, *, views: int, identity: str,
                  disk: bool = False, bf16: bool = False, test_flip: bool = False) -> Features:
    """The frozen part's outputs for every split (train with ``views`` fixed views), computed once.

    Kept in memory for the process (every seed of a run shares it: the frozen trunk and the views
    do not depend on the seed) and, with ``disk``, under ``$DL_ASSIGN_CACHE`` (default
    ``build/cache``), keyed by backbone, weights sha256, size, frozen depth, views, precision and the
    content hash of every split's images and labels (``content_hash``), so a changed image or
    resolution is a miss, never a stale hit.
    A random-init trunk (``pretrained=False``) is never cached: its weights depend on the seed.
    ``test_flip`` also caches the mirrored test images (``Features.test_flip``, for test-time flips).
    """
    key = _key(bb, n_frozen, prep, views, splits, identity, bf16, test_flip)
    cacheable = bb.pretrained
    if cacheable and key in _MEMORY:
        _MEMORY.move_to_end(key)
        return dataclasses.replace(_MEMORY[key], source="memory")
    path = cache_dir() / f"{key}.pt"
    if cacheable and disk and path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            feats = Features(**{k: state[k] for k in ("train", "train_y", "val", "val_y", "test", "test_y")},
                             seconds=float(state["seconds"]), source="disk", key=key,
                             test_flip=state.get("test_flip"))
            return _remember(feats) if cacheable else feats
        except Exception:  # damaged or from another torch: recompute
            pass
    t0 = time.perf_counter()
    trunk = bb.trunk
    run = functools.partial(frozen_features, trunk, n_frozen, prep=prep, bf16=bf16)
    train = torch.stack([run(view(splits["train"].images, v)) for v in range(views)], dim=1)  # (N, K, ...)
    val = run(splits["val"].images)
    test = run(splits["test"].images)
    flipped = run(view(splits["test"].images, 1)) if test_flip else None
    feats = Features(train, splits["train"].labels, val, splits["val"].labels, test, splits["test"].labels,
                     time.perf_counter() - t0, "computed", key, flipped)
    if cacheable and disk:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save({k: getattr(feats, k) for k in ("train", "train_y", "val", "val_y", "test", "test_y")}
                   | {"seconds": feats.seconds} | ({"test_flip": flipped} if test_flip else {}), tmp)
        os.replace(tmp, path)
    return _remember(feats) if cacheable else feats


def _remember(feats: Features) -> Features:
    _MEMORY[feats.key] = feats
    while len(_MEMORY) > _MEMORY_ENTRIES:
        _MEMORY.popitem(last=False)
    return feats


class CachedTail(nn.Module):
    """The trainable tail + head of a ``BackboneClassifier`` on cached frozen outputs (its ``forward_cached``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) or (B, D) -> (B, num_classes)
        return self.model.forward_cached(h)


# --- timing ------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def inference_ms(model: nn.Module, x: torch.Tensor, *, repeats: int = 20) -> dict[str, float]:
    """Median ms per image of the full model on preprocessed images, at batch 1 and batch 64, after warm-up."""
    model.eval()
    device = next(model.parameters()).device
    x = x.to(device)
    out = {}
    for batch, reps, warm in ((1, repeats, 3), (64, max(2, repeats // 6), 1)):
        xb = x[:batch] if len(x) >= batch else x.repeat((batch + len(x) - 1) // len(x), 1, 1, 1)[:batch]
        for _ in range(warm):  # warm-up: oneDNN primitives, allocator
            model(xb)
        times = []
        for _ in range(reps):
            _sync(device)
            t0 = time.perf_counter()
            model(xb)
            _sync(device)
            times.append(time.perf_counter() - t0)
        out[f"infer_ms_b{batch}"] = 1000 * statistics.median(times) / batch
    return out


def cache_speedup(model: nn.Module, images, h: torch.Tensor, y: torch.Tensor, prep: dict, cfg) -> dict:
    """Seconds of one training epoch on ``len(y)`` images: the whole network vs the cached tail.

    Both go through ``engine.fit`` on copies of ``model`` (2 epochs, the faster one counts: the
    first pays one-off set-up); the whole-network path starts from preprocessed images, so it runs
    the frozen part every step as training without a cache would.
    """
    x = torch.cat(list(preprocessed(images, prep)))
    one = dataclasses.replace(cfg, epochs=2, warmup_epochs=0.0, early_stop_patience=0, restore_best=False)
    bs = min(cfg.batch_size, len(y))
    full = fit(copy.deepcopy(model), TensorLoader(x, y, bs, shuffle=True), None, one, progress=False)
    cached = fit(CachedTail(copy.deepcopy(model)), TensorLoader(h, y, bs, shuffle=True), None, one, progress=False)
    t_full, t_cached = min(r["seconds"] for r in full), min(r["seconds"] for r in cached)
    return {"epoch_seconds_full": t_full, "epoch_seconds_cached": t_cached,
            "cache_speedup": t_full / max(t_cached, 1e-9), "speedup_images": float(len(y))}


# --- one seed's result -------------------------------------------------------------------------


def seed_result(history: list[dict], logits: torch.Tensor, y: torch.Tensor, timing: dict, *,
                extra_metrics: dict | None = None, extra_artifacts: dict | None = None):
    """Metrics and artifacts every pests model reports (what ``pests.transfer_compare`` reads)."""
    from dl_assign.registry import SeedResult

    rep = logits_report(logits, y)
    metrics = {
        "test_accuracy": rep["accuracy"], "test_top5": rep["top5"], "test_macro_f1": rep["macro_f1"],
        "test_loss": rep["loss"], "test_ece": rep["ece"],
        "val_accuracy": history[-1].get("val_acc", float("nan")), "train_accuracy": history[-1]["train_acc"],
        "train_seconds": history[-1]["train_seconds"], "epochs_run": float(len(history)), **timing,
        **(extra_metrics or {}),
    }
    artifacts = {"history": history, "confusion": rep["confusion"], "per_class": rep["per_class"],
                 "reliability": rep["reliability"],
                 "test_predictions": {"pred": rep["pred"], "true": rep["true"]}, **(extra_artifacts or {})}
    return SeedResult(metrics, artifacts)


def store_model(model: nn.Module, ctx, seed: int, *, root: Path, name: str, builder: str, builder_kwargs: dict,
                prep: dict, metrics: dict) -> dict:
    """Save a trained seed to the model store (``$DL_ASSIGN_MODELS``); returns where it went."""
    from dl_assign import store

    keep = ("test_accuracy", "test_top5", "test_macro_f1", "test_loss", "test_ece", "infer_ms_b1", "infer_ms_b64")
    info = store.save(model, task=task_name(root), name=name, builder=builder, builder_kwargs=builder_kwargs,
                      classes=ip102.read_classes(root), preprocessing=prep,
                      metrics={k: float(metrics[k]) for k in keep if k in metrics},
                      experiment=ctx.experiment, budget=ctx.budget, seed=seed)
    return {"task": info.task, "name": info.name, "version": info.version, "path": str(info.path)}
