"""A small CNN trained from scratch on an IP102-format pest set (pests14 here, IP102 for users)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import torch
from torchvision.transforms import v2

from dl_assign.config import Range
from dl_assign.data import ip102
from dl_assign.engine import EpochLoader, TrainConfig
from dl_assign.experiments.common import classifier_report, train_and_test
from dl_assign.models.small_cnn import SmallCNN
from dl_assign.registry import RunContext, experiment

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PestsCNNConfig(TrainConfig):
    image_size: Annotated[int, Range(ge=1)] = 64  # pests14 is 64x64; real IP102 images are resized to this
    # ~40 M MAC/image: ~13 s/epoch on 2 cores
    widths: Annotated[tuple[int, ...], Range(ge=1, min_len=1)] = (24, 48, 96, 192)
    convs_per_stage: Annotated[int, Range(ge=1)] = 1
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.3
    epochs: int = 15
    batch_size: int = 64
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.05
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    train_limit: Annotated[int, Range(ge=0)] = 0  # 0 = every training image

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 2, "seeds": (0,), "train_limit": 700, "widths": (16, 32, 64, 64)},
        "full": {"epochs": 80, "seeds": (0, 1, 2, 3, 4), "convs_per_stage": 2, "widths": (32, 64, 128, 256)},
    }


def transforms(size: int, train: bool):
    ops = [v2.RandomResizedCrop(size, scale=(0.5, 1.0)), v2.RandomHorizontalFlip()] if train else \
        [v2.Resize(size), v2.CenterCrop(size)]
    return v2.Compose([v2.ToImage(), *ops, v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _report(cfg, outputs, ctx):
    return classifier_report(ip102.read_classes(ip102.locate()))(cfg, outputs, ctx)


@experiment("pests.cnn_scratch", PestsCNNConfig, datasets=("ip102",), report=_report)
def pests_cnn_scratch(cfg: PestsCNNConfig, seed: int, ctx: RunContext):
    """Small CNN from scratch on the IP102-layout pest set: test accuracy and macro-F1 over seeds."""
    root = ip102.locate()
    ctx.use_dataset(ip102.info(root))
    train_set = ip102.IP102Dataset(root, "train", transforms(cfg.image_size, True), cache=True)
    if cfg.train_limit:
        g = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(train_set), generator=g)[:cfg.train_limit].sort().values.tolist()
        train_set.items = [train_set.items[i] for i in keep]
    val_set = ip102.IP102Dataset(root, "val", transforms(cfg.image_size, False), cache=True)
    test_set = ip102.IP102Dataset(root, "test", transforms(cfg.image_size, False), cache=True)
    train = EpochLoader(train_set, cfg.batch_size, shuffle=True, seed=seed, drop_last=True)
    val, test = EpochLoader(val_set, 256), EpochLoader(test_set, 256)
    model = SmallCNN(len(train_set.classes), cfg.widths, dropout=cfg.dropout, convs_per_stage=cfg.convs_per_stage)
    return train_and_test(model, train, val, test, cfg, seed, ctx, desc="pests.cnn_scratch")
