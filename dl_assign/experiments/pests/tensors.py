"""What the from-scratch pest CNNs share (``pests.cnn_scratch``, ``pests.cnn_study``): the IP102-layout
splits as one uint8 tensor each, the batch transforms that feed them to a CNN, the recipe's config
fields and one seed's training.

pests14 is 6,300 / 700 / 700 images of 64x64 (77 MB as uint8), so every split is decoded once per
process into a (N, 3, S, S) uint8 tensor and training runs on :class:`~dl_assign.engine.TensorLoader`
batches, augmented a whole batch at a time (``dl_assign.data.augment``), instead of a per-sample PIL
``DataLoader``. Images that are not S x S (the real IP102) are resized, shorter side to S, and
centre-cropped once, the same rule as the stored evaluation transform of ``pests.cnn_scratch``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch

from dl_assign.config import Range
from dl_assign.data import ip102
from dl_assign.data.augment import (  # noqa: F401  (the family's default normalisation)
    IMAGENET_MEAN,
    IMAGENET_STD,
    Compose,
    Normalize,
    RandomResizedCropFlip,
    RandomShiftFlip,
)
from dl_assign.data.augment import train_transform as augment_transform
from dl_assign.engine import TensorLoader, TrainConfig, evaluate, fit
from dl_assign.models.small_cnn import SmallCNN


@dataclass(frozen=True)
class PestTensors:
    """uint8 images (N, 3, S, S) and int64 labels (N,) for train / val / test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]


@functools.lru_cache(maxsize=6)
def _decode(root: str, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.transforms.v2 import functional as F

    ds = ip102.IP102Dataset(root, split)
    x = torch.empty((len(ds), 3, size, size), dtype=torch.uint8)  # (N, 3, S, S)
    for i in range(len(ds)):
        img = F.pil_to_tensor(ds.load_image(i))  # (3, H, W) uint8
        if tuple(img.shape[1:]) != (size, size):
            img = F.center_crop(F.resize(img, size, antialias=True), [size, size])
        x[i] = img
    return x, torch.tensor(ds.targets, dtype=torch.long)


def load(root: Path, size: int, *, train_limit: int = 0, seed: int = 0) -> PestTensors:
    """Every split as tensors (decoded once per process); ``train_limit`` keeps a seeded random subset."""
    x_train, y_train = _decode(str(root), "train", size)
    if train_limit and train_limit < len(y_train):
        g = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(y_train), generator=g)[:train_limit].sort().values
        x_train, y_train = x_train[keep], y_train[keep]
    return PestTensors(x_train, y_train, *_decode(str(root), "val", size), *_decode(str(root), "test", size),
                       classes=ip102.read_classes(Path(root)))


def train_transform(augment: str, crop_scale: float = 0.5, pad: int = 4):
    """The training batch transform (``data.augment.train_transform``): ``rrc``, ``shift``, ``flip`` or ``none``."""
    return augment_transform(augment, pad=pad, crop_scale=crop_scale, choices=("rrc", "shift", "flip", "none"))


def train_loader(data: PestTensors, batch_size: int, seed: int, augment: str, crop_scale: float = 0.5,
                 pad: int = 4) -> TensorLoader:
    # drop_last: a last batch of a few images would give BatchNorm noisy statistics
    return TensorLoader(data.x_train, data.y_train, batch_size, shuffle=True, seed=seed,
                        transform=train_transform(augment, crop_scale, pad),
                        drop_last=len(data.y_train) > batch_size)


def eval_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> TensorLoader:
    return TensorLoader(x, y, batch_size, transform=Normalize())


# --- the recipe ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScratchCNNConfig(TrainConfig):
    """Model, data and training fields of a from-scratch pest CNN (flat, so ``--set`` reaches all).

    The defaults are the old ``pests.cnn_scratch`` recipe; ``pests.cnn_scratch`` sets the chosen one.
    """

    image_size: Annotated[int, Range(ge=8)] = 64  # pests14 is 64x64; larger images are resized to this once
    widths: Annotated[tuple[int, ...], Range(ge=1, min_len=1)] = (24, 48, 96, 192)  # one stage each, 2x2 pool after
    convs_per_stage: Annotated[int, Range(ge=1)] = 1
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.3
    augment: Literal["rrc", "shift", "flip", "none"] = "rrc"  # see train_transform
    crop_scale: Annotated[float, Range(gt=0, le=1)] = 0.5  # rrc: smallest crop area (fraction of the image)
    pad: Annotated[int, Range(ge=0)] = 4  # shift: largest translation in pixels
    epochs: int = 15
    batch_size: int = 64
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.05
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    amp_bf16: Literal["auto", "on", "off"] = "auto"  # bf16 autocast where the probe finds it native
    channels_last: bool = True
    train_limit: Annotated[int, Range(ge=0)] = 0  # 0 = every training image; else a seeded random subset


def model_kwargs(cfg: ScratchCNNConfig, n_classes: int) -> dict:
    """``SmallCNN`` keyword arguments, JSON-able (the model store's ``small_cnn`` builder takes them)."""
    return {"n_classes": n_classes, "widths": list(cfg.widths), "in_channels": 3, "dropout": cfg.dropout,
            "convs_per_stage": cfg.convs_per_stage}


def build_model(cfg: ScratchCNNConfig, n_classes: int) -> SmallCNN:
    return SmallCNN(**model_kwargs(cfg, n_classes) | {"widths": tuple(cfg.widths)})


def train_scratch(cfg: ScratchCNNConfig, data: PestTensors, seed: int, ctx, *, desc: str,
                  checkpoint_tag: str = "") -> tuple[SmallCNN, list[dict]]:
    """Fit one ``SmallCNN`` with the one loop (validated every epoch, checkpointed); (model, history)."""
    model = build_model(cfg, len(data.classes))
    train = train_loader(data, cfg.batch_size, seed, cfg.augment, cfg.crop_scale, cfg.pad)
    history = fit(model, train, eval_loader(data.x_val, data.y_val), cfg,
                  checkpoint=ctx.checkpoint_path(seed, checkpoint_tag), resume=ctx.resume, progress=ctx.progress,
                  desc=f"{desc} seed {seed}")
    return model, history



def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: ScratchCNNConfig) -> float:
    """Accuracy of ``model`` (eval mode) on uint8 images ``x``, in the config's precision and memory format."""
    return evaluate(model, eval_loader(x, y), amp_bf16=cfg.amp_bf16, channels_last=cfg.channels_last)["accuracy"]

# --- the recipe study's table (pests.cnn_study writes it; pests.cnn_scratch quotes it) ------------

STUDY_COLUMNS = (("val_accuracy", "val accuracy", 4), ("val_accuracy_flip_tta", "val acc, flip TTA", 4),
                 ("train_accuracy", "train accuracy (clean)", 4), ("epochs", "epochs", 0),
                 ("train_seconds", "train s", 1), ("params", "params", 0), ("mflop_per_image", "MFLOP/image", 1))


def study_markdown(labels: dict[str, str], metrics: dict) -> str:
    """The study's cells (``{cell key: row label}``, in table order) as a Markdown table of their aggregated
    ``<cell>/<metric>`` metrics, and the best cell on validation."""
    from dl_assign.results import markdown_table

    def value(cell, key, digits):
        m = metrics.get(f"{cell}/{key}")
        if m is None:
            return "n/a"
        text = f"{m['mean']:.{digits}f}"
        return text + (f" ± {m['std']:.{digits}f}" if len(m["values"]) > 1 and digits else "")

    cells = [c for c in labels if f"{c}/val_accuracy" in metrics]
    if not cells:
        return "No study cells."
    rows = [[labels[c]] + [value(c, k, d) for k, _, d in STUDY_COLUMNS] for c in cells]
    best = max(cells, key=lambda c: metrics[f"{c}/val_accuracy"]["mean"])
    seeds = len(metrics[f"{best}/val_accuracy"]["values"])
    return (markdown_table(["cell"] + [label for _, label, _ in STUDY_COLUMNS], rows) + "\n\n"
            f"Best on validation: **{labels[best]}** ({metrics[f'{best}/val_accuracy']['mean']:.4f}, "
            f"{seeds} seed{'s' * (seeds != 1)}). Train accuracy is measured after training on the un-augmented "
            "training images in eval mode; 'train s' is pure training time (no validation). With one seed per "
            "cell, differences under ~0.02 are within seed noise (the old recipe's std over 3 seeds: 0.011-0.013).")
