"""What the ``imagenet.*`` experiments share: the data as uint8 tensors (Tiny-ImageNet by default, mini-ImageNet
for users who have it), the configurable CNN's config fields and builder, one training run, scoring, the store.

Every model here is trained **from scratch**: no ImageNet-pretrained weights are used, so no model has seen
the Tiny-ImageNet images (all of which come from ImageNet) before its own training; every table says so
(``FROM_SCRATCH``). Tiny-ImageNet-100's official val images are the test split; a seeded per-class 90/10
split of its train images gives train / validation (``data.tinyimagenet.load_splits``).

Measured on the 2-core AMD EPYC (Zen 5, bf16 native), 1 thread, bf16 autocast + channels-last, batch 128,
training step on 64x64 images (ms per image-epoch; eval ms per image), idle machine: base 4 x 1 conv 32-256,
stride-2 stem 1.07 (0.28); 4 x 2 convs 32-256 2.11 (0.73); 4 x 1 conv with a stride-1 stem 3.22 (0.95);
4 x 2 convs 48-384 4.07 (1.17); 4 x 2 convs 64-512 7.06 (2.03). With two other training jobs on the two
cores, through ``engine.fit`` with the crop + flip transform: base 1.60, 4 x 2 convs 2.35-3.80.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import torch
from torch import nn

from dl_assign import store
from dl_assign.config import Range
from dl_assign.data import miniimagenet, tinyimagenet
from dl_assign.data.augment import IMAGENET_MEAN, IMAGENET_STD, Normalize
from dl_assign.data.augment import train_transform as augment_transform
from dl_assign.engine import TensorLoader, TrainConfig, fit, predict
from dl_assign.engine.metrics import logits_report
from dl_assign.models.cnn5 import count_flops_per_image
from dl_assign.models.imagenet_cnn import ImageNetCNN

FROM_SCRATCH = ("From scratch: no ImageNet-pretrained model is used, so no model here saw these "
                "(ImageNet-derived) images before its own training.")


@dataclass(frozen=True)
class ImageNetConfig(TrainConfig):
    """Data, model and training fields of an ``imagenet.*`` CNN (flat, so ``--set`` reaches every one)."""

    dataset: Literal["tiny-imagenet", "mini-imagenet"] = "tiny-imagenet"
    split_seed: Annotated[int, Range(ge=0)] = 0  # the 90/10 train/val split: fixed across training seeds
    train_per_class: Annotated[int, Range(ge=0)] = 0  # 0 = every training image (450 a class)
    val_per_class: Annotated[int, Range(ge=0)] = 0  # 0 = the whole validation split (50 a class)
    test_per_class: Annotated[int, Range(ge=0)] = 0  # 0 = the whole test split (the 50 official val images a class)
    # the CNN (models/imagenet_cnn.py): one stage per width, a pool flag per stage
    widths: Annotated[tuple[int, ...], Range(ge=1, min_len=1)] = (32, 64, 128, 256)
    convs_per_stage: Annotated[int, Range(ge=1)] = 1
    pool: tuple[bool, ...] = (True, True, True, True)  # 2x2 max pool after each stage (off: the next conv strides)
    stride: Annotated[int, Range(ge=1, le=4)] = 2  # of the first conv: 2 at 64 px = a quarter of the compute
    fc_widths: Annotated[tuple[int, ...], Range(ge=1)] = ()  # hidden FC layers; () = one FC layer (the classifier)
    grid: Annotated[int, Range(ge=1)] = 2  # the map is average-pooled to grid x grid before the FC layers
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.3
    batchnorm: bool = True
    augment: Literal["crop", "flip", "none"] = "crop"  # crop: random crop from a `pad`-px padded image + flip
    pad: Annotated[int, Range(ge=0)] = 4
    batch_size: int = 128
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5  # then cosine: a one-cycle-like schedule
    label_smoothing: float = 0.1
    epochs: int = 4
    amp_bf16: Literal["auto", "on", "off"] = "auto"  # bf16 autocast where the probe finds it native
    channels_last: bool = True
    disk_cache: bool = True  # the decoded tensors under $DL_ASSIGN_CACHE/tinyimagenet (default build/cache)
    # 1 thread: the 2-core machine is shared with other jobs, where two OpenMP threads stall at barriers
    threads: int = 1


# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageData:
    """uint8 (N, 3, S, S) images and int64 labels per split; test boxes (N, 4) or None; class names."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    boxes: np.ndarray | None  # the test split's (x0, y0, x1, y1), inclusive; None for mini-ImageNet
    files: list[str]  # the test split's files
    wnids: list[str]
    names: list[str]
    info: dict
    task: str  # the model store's task


def task_name(dataset: str, n_classes: int) -> str:
    """``imagenet.tiny100`` (the stand-in), ``imagenet.tiny200`` (the official set), ``imagenet.mini``."""
    return "imagenet.mini" if dataset == "mini-imagenet" else f"imagenet.tiny{n_classes}"


def _limit(x: torch.Tensor, y: torch.Tensor, per_class: int) -> torch.Tensor:
    if per_class <= 0:
        return torch.arange(len(y))
    return torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in y.unique()]).sort().values


def load(cfg: ImageNetConfig) -> ImageData:
    """The splits of ``cfg.dataset`` as uint8 tensors (decoded once; memory, then the disk cache)."""
    if cfg.dataset == "mini-imagenet":
        d = miniimagenet.load_splits(size=64, split_seed=cfg.split_seed)
        keep = {k: _limit(d.x[k], d.y[k], n) for k, n in (("train", cfg.train_per_class), ("val", cfg.val_per_class),
                                                         ("test", cfg.test_per_class))}
        x = {k: d.x[k][i] for k, i in keep.items()}
        y = {k: d.y[k][i] for k, i in keep.items()}
        return ImageData(x, y, None, [d.files["test"][i] for i in keep["test"]], d.wnids, d.names, d.info,
                         task_name(cfg.dataset, len(d.wnids)))
    d = tinyimagenet.load_splits(split_seed=cfg.split_seed, train_per_class=cfg.train_per_class,
                                 val_per_class=cfg.val_per_class, test_per_class=cfg.test_per_class,
                                 disk=cfg.disk_cache)
    info = d.info | tinyimagenet.stand_in("mini-imagenet") | {"decode_seconds": d.seconds, "decoded_from": d.source}
    return ImageData(d.x, d.y, d.boxes["test"], d.files["test"], d.wnids, d.names, info,
                     task_name(cfg.dataset, len(d.wnids)))


# --- the model ---------------------------------------------------------------------------------


def model_kwargs(cfg: ImageNetConfig, n_classes: int) -> dict:
    """``ImageNetCNN`` keyword arguments, JSON-able (the store's ``imagenet_cnn`` builder takes them)."""
    return {"n_classes": n_classes, "widths": list(cfg.widths), "convs_per_stage": cfg.convs_per_stage,
            "pool": [bool(p) for p in cfg.pool], "stride": cfg.stride, "fc_widths": list(cfg.fc_widths),
            "dropout": cfg.dropout, "batchnorm": cfg.batchnorm, "grid": cfg.grid}


@store.builder("imagenet_cnn")
def _imagenet_cnn(n_classes: int, widths=(32, 64, 128, 256), convs_per_stage: int = 1, pool=(True,) * 4,
                  stride: int = 2, fc_widths=(), dropout: float = 0.3, batchnorm: bool = True, grid: int = 1):
    return ImageNetCNN(n_classes, tuple(widths), convs_per_stage, tuple(pool), stride, tuple(fc_widths), dropout,
                       batchnorm, grid)


def build_model(cfg: ImageNetConfig, n_classes: int) -> ImageNetCNN:
    return _imagenet_cnn(**model_kwargs(cfg, n_classes))


def preprocessing(size: int = 64) -> dict:
    """The evaluation transform (uint8 -> [0, 1] -> ImageNet mean/std), as the store records it."""
    return {"size": size, "resize": size, "interpolation": "bilinear", "crop": "center",
            "resize_rule": "shorter side to `resize`, then a centre crop of `size` x `size`",
            "scale": "RGB in [0, 1], then (x - mean) / std", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
            "source": "imagenet.* evaluation transform"}


def flops_per_image(model: nn.Module, size: int = 64) -> float:
    return float(count_flops_per_image(model, (3, size, size))["forward"])


def n_params(model: nn.Module) -> float:
    return float(sum(p.numel() for p in model.parameters()))


# --- training and scoring ----------------------------------------------------------------------


def train_transform(augment: str, pad: int):
    """Normalise, then ``crop`` (a random crop of the image zero-padded by ``pad`` px after normalising, i.e.
    mean-colour padding, + flip: ``data.augment``'s ``shift``), ``flip`` or ``none``."""
    if augment == "crop":
        return augment_transform("shift", pad=pad)
    return augment_transform(augment, pad=pad, choices=("crop", "flip", "none"))


def eval_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> TensorLoader:
    return TensorLoader(x, y, batch_size, transform=Normalize())


def train(cfg: ImageNetConfig, data: ImageData, seed: int, ctx, *, desc: str, tag: str = "",
          validate: bool = True) -> tuple[ImageNetCNN, list[dict]]:
    """Fit one ``ImageNetCNN`` with the one loop (checkpointed per seed and ``tag``); (model, history)."""
    model = build_model(cfg, len(data.names))
    loader = TensorLoader(data.x["train"], data.y["train"], cfg.batch_size, shuffle=True, seed=seed,
                          transform=train_transform(cfg.augment, cfg.pad),
                          drop_last=len(data.y["train"]) > cfg.batch_size)
    val = eval_loader(data.x["val"], data.y["val"]) if validate else None
    history = fit(model, loader, val, cfg, checkpoint=ctx.checkpoint_path(seed, tag), resume=ctx.resume,
                  progress=ctx.progress, desc=f"{desc} seed {seed}")
    return model, history


def logits(model: nn.Module, x: torch.Tensor, cfg: ImageNetConfig) -> torch.Tensor:
    """(N, classes) float32 logits of uint8 images ``x`` (eval mode, the config's precision and format)."""
    out, _ = predict(model, eval_loader(x, torch.zeros(len(x), dtype=torch.long)), amp_bf16=cfg.amp_bf16,
                     channels_last=cfg.channels_last)
    return out


def top_k(logits_: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    rep = logits_report(logits_, y)
    return {"top1": rep["accuracy"], "top5": rep["top5"], "loss": rep["loss"]}


def store_model(model: nn.Module, ctx, seed: int, data: ImageData, cfg: ImageNetConfig, metrics: dict,
                name: str = "cnn") -> dict:
    """Save a trained seed under task ``data.task`` (``$DL_ASSIGN_MODELS``); returns where it went."""
    keep = ("test_accuracy", "test_top5", "test_loss", "val_accuracy")
    info = store.save(model, task=data.task, name=name, builder="imagenet_cnn",
                      builder_kwargs=model_kwargs(cfg, len(data.names)), classes=data.names,
                      preprocessing=preprocessing(), metrics={k: float(metrics[k]) for k in keep if k in metrics},
                      experiment=ctx.experiment, budget=ctx.budget, seed=seed)
    return {"task": info.task, "name": info.name, "version": info.version, "path": str(info.path)}


def best_stored(task: str) -> dict | None:
    """The store's best ``imagenet_cnn`` model of ``task``: every complete version of every model, by its
    recorded VALIDATION accuracy (each seed of ``imagenet.cnn_best`` is one version; the best seed wins). The
    test split only measures: choosing the seed by test accuracy would tune on it (a version without a
    validation number ranks by test accuracy, after every version that has one)."""
    import json
    import math

    best = None
    for rec in store.list_models():
        if rec.task != task:
            continue
        for version in rec.versions:
            try:
                meta = json.loads((store.resolve(rec.task, rec.model, version) / "meta.json").read_text())
            except (OSError, ValueError, store.StoreError):
                continue
            if meta.get("builder") != "imagenet_cnn":
                continue
            m = meta.get("metrics", {})
            rank = ("val_accuracy" in m, m.get("val_accuracy", m.get("test_accuracy", -math.inf)))
            if best is None or rank > best["rank"]:
                best = {"task": rec.task, "model": rec.model, "version": version, "rank": rank,
                        "val_accuracy": float(m.get("val_accuracy", math.nan)),
                        "test_accuracy": float(m.get("test_accuracy", -math.inf)),
                        "experiment": meta.get("experiment"), "budget": meta.get("budget"), "seed": meta.get("seed")}
    return best

