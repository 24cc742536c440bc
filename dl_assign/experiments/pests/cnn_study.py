"""``pests.cnn_study``: which from-scratch CNN recipe ``pests.cnn_scratch`` uses, chosen on the VALIDATION split.

A screen, then two long runs. Each screen cell changes one thing of the base recipe (the old
``pests.cnn_scratch``: widths 24-48-96-192, one conv per stage, random-resized crops of 50-100 % area
+ flips, dropout 0.3, SGD-Nesterov lr 0.05 cosine, label smoothing 0.1, batch 64) along two axes,
width/depth and augmentation, and trains once at the study's epochs on the whole training split
(uint8 tensors, batch-wise augmentation). Then, at ``long_factor`` x the epochs: the old recipe, and
the screen's best architecture (among those whose training would fit one standard seed) with its
best augmentation. Every cell is scored on the validation split only: the test split stays untouched
until ``pests.cnn_scratch`` runs the recipe chosen here. One seed per cell: differences under ~0.02
are within seed noise (the old recipe's std over 3 seeds was 0.011-0.013).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar

from dl_assign.config import Range
from dl_assign.data import ip102
from dl_assign.experiments.pests import tensors as pt
from dl_assign.models.cnn5 import count_flops_per_image
from dl_assign.models.tta import FlipTTA
from dl_assign.registry import RunContext, SeedResult, experiment

# the screen: name -> changes to the base recipe (each at the study's epochs)
SCREEN: dict[str, dict] = {
    "old recipe": {},
    "flip only": {"augment": "flip"},
    "shift 4px + flip": {"augment": "shift", "pad": 4},
    "wide 32-256": {"widths": (32, 64, 128, 256)},
    "deep 16-128 x2": {"widths": (16, 32, 64, 128), "convs_per_stage": 2},
}
ARCHITECTURES = ("old recipe", "wide 32-256", "deep 16-128 x2")  # the width/depth axis of the screen
AUGMENTATIONS = ("old recipe", "flip only", "shift 4px + flip")  # the augmentation axis
BASELINE_LONG, COMBINED_LONG = "old recipe, long", "combined, long"


@dataclass(frozen=True)
class CNNStudyConfig(pt.ScratchCNNConfig):
    """The study's base recipe (the old pests.cnn_scratch) at 10 epochs, one seed, one thread."""

    cells: tuple[str, ...] = tuple(SCREEN)  # the screen's cells, in table order
    epochs: int = 10  # every screen cell's budget
    # then two long runs (long_factor x epochs): the old recipe, and the screen's best width/depth with its
    # best augmentation ("combined"; the two axes taken as additive)
    long_factor: Annotated[int, Range(ge=0)] = 2  # 0: no long runs
    # the combined run only considers architectures whose screen time x long_factor fits one standard seed
    seed_budget_s: Annotated[float, Range(gt=0)] = 240.0
    seeds: tuple[int, ...] = (0,)
    # 1 thread: the study shares the 2-core machine with another job, and two OpenMP threads stall at
    # every barrier when the other core is busy (measured: 86-139 s/epoch with 2 threads vs 12 s with 1)
    threads: int = 1

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 1, "train_limit": 300, "widths": (8, 16, 32, 32), "cells": ("old recipe", "flip only")},
        "full": {"epochs": 30, "seeds": (0, 1, 2), "seed_budget_s": 3600.0},
    }


def cell_config(cfg: CNNStudyConfig, changes: dict, epochs: int) -> CNNStudyConfig:
    return dataclasses.replace(cfg, epochs=epochs, **changes)


def combine(cfg: CNNStudyConfig, metrics: dict[str, float]) -> tuple[str, dict]:
    """The screen's best architecture (that fits the seed budget when trained long) with its best augmentation."""
    fits = [c for c in ARCHITECTURES if c in cfg.cells
            and metrics[f"{c}/train_seconds"] * cfg.long_factor <= cfg.seed_budget_s] or ["old recipe"]
    arch = max(fits, key=lambda c: metrics.get(f"{c}/val_accuracy", -1.0))
    aug = max([c for c in AUGMENTATIONS if c in cfg.cells] or ["old recipe"],
              key=lambda c: metrics.get(f"{c}/val_accuracy", -1.0))
    label = " + ".join(c for c in (arch, aug) if c != "old recipe") or "old recipe"
    return label, SCREEN.get(arch, {}) | SCREEN.get(aug, {})


def _key(cell: str) -> str:
    return cell.replace(" ", "_").replace(",", "")


def _report(cfg: CNNStudyConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign import viz
    from dl_assign.results import aggregate

    hists, labels = outputs[0].artifacts["histories"], outputs[0].artifacts["labels"]
    ctx.save_figure(viz.curves(list(hists.values()), [labels[c] for c in hists], keys=("val_loss",),
                               acc_keys=("val_acc",), title=f"{ctx.experiment}: validation, seed {cfg.seeds[0]}"),
                    "curves")
    head = (f"Base recipe: widths {tuple(cfg.widths)}, {cfg.convs_per_stage} conv(s) per stage, augment "
            f"{cfg.augment} (crop area {cfg.crop_scale}-1), dropout {cfg.dropout}, {cfg.epochs} epochs, batch "
            f"{cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} {cfg.schedule}, label smoothing {cfg.label_smoothing}, "
            f"{cfg.threads} thread(s); {outputs[0].artifacts['n_train']} training images, scored on the "
            "validation split (the test split is not looked at). Each cell changes what its name says.")
    return head + "\n\n" + pt.study_markdown(labels, aggregate([o.metrics for o in outputs]))


def run_cell(cfg: CNNStudyConfig, data: pt.PestTensors, seed: int, ctx: RunContext, cell: str, changes: dict,
             epochs: int) -> tuple[dict[str, float], list[dict]]:
    """Train one cell; its ``<cell>/<metric>`` metrics (validation, never test) and its history."""
    ccfg = cell_config(cfg, changes, epochs)
    model, history = pt.train_scratch(ccfg, data, seed, ctx, desc=f"{ctx.experiment} {cell}",
                                      checkpoint_tag=_key(cell))
    size = (3, cfg.image_size, cfg.image_size)
    metrics = {
        f"{cell}/val_accuracy": history[-1]["val_acc"],
        f"{cell}/val_accuracy_flip_tta": pt.accuracy(FlipTTA(model), data.x_val, data.y_val, ccfg),
        f"{cell}/train_accuracy": pt.accuracy(model, data.x_train, data.y_train, ccfg),  # clean images, eval mode
        f"{cell}/train_accuracy_augmented": history[-1]["train_acc"],  # during the last epoch
        f"{cell}/train_seconds": history[-1]["train_seconds"],
        f"{cell}/epochs": float(ccfg.epochs),
        f"{cell}/params": float(sum(p.numel() for p in model.parameters())),
        f"{cell}/mflop_per_image": count_flops_per_image(model, size)["forward"] / 1e6,
    }
    return metrics, [{k: r[k] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")} for r in history]


@experiment("pests.cnn_study", CNNStudyConfig, datasets=("ip102",), report=_report)
def pests_cnn_study(cfg: CNNStudyConfig, seed: int, ctx: RunContext) -> SeedResult:
    """From-scratch CNN recipes on the IP102-layout pest set (epochs, width, depth, augmentation), scored on val."""
    if unknown := [c for c in cfg.cells if c not in SCREEN]:
        raise ValueError(f"unknown study cells {unknown}; known: {', '.join(SCREEN)}")
    root = ip102.locate()
    ctx.use_dataset(ip102.info(root))
    data = pt.load(root, cfg.image_size, train_limit=cfg.train_limit, seed=seed)
    metrics: dict[str, float] = {}
    histories: dict[str, list] = {}
    for cell in cfg.cells:
        metrics_c, histories[cell] = run_cell(cfg, data, seed, ctx, cell, SCREEN[cell], cfg.epochs)
        metrics |= metrics_c
    labels = {c: c for c in cfg.cells}
    combined = None
    if cfg.long_factor:
        long = cfg.epochs * cfg.long_factor
        label, changes = combine(cfg, metrics)
        combined = {"of": label, "changes": changes}
        runs = [(BASELINE_LONG, {}, f"old recipe, {long} epochs")]
        if changes:  # the combined recipe is not the old one: train it too
            runs.append((COMBINED_LONG, changes, f"combined ({label}), {long} epochs"))
        for cell, ch, text in runs:
            metrics_c, histories[cell] = run_cell(cfg, data, seed, ctx, cell, ch, long)
            metrics |= metrics_c
            labels[cell] = text
    return SeedResult(metrics, {"histories": histories, "labels": labels, "combined": combined,
                                "n_train": len(data.y_train)})
