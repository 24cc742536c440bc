"""``imagenet.cnn_study``: the six parameters of the seed (conv layers, FC layers, filters, max pooling, epochs,
stride), one factor at a time around a base CNN, plus two small factorials where factors interact, depth x
pooling and depth x training length (does depth pay once it trains longer?); scored on VALIDATION.

Every cell trains the configurable CNN (``models/imagenet_cnn.py``) from scratch on the same seeded
per-class training subset of Tiny-ImageNet-100 (``train_per_class`` images of each of the 100 classes)
and is scored on the validation split (the test split stays untouched until ``imagenet.cnn_best``):
top-1, top-5, parameters, forward FLOPs per 64x64 image and pure training seconds, mean ± std over
the seeds. The cells are defined relative to the configured base (``widths`` etc.), so a smaller
smoke base keeps every cell small.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar

from tqdm.auto import tqdm

from dl_assign.config import Range
from dl_assign.experiments.imagenet import common as ic
from dl_assign.registry import RunContext, SeedResult, experiment


def _all(cfg, value: bool) -> tuple[bool, ...]:
    return (value,) * len(cfg.widths)


# cell key -> (factor, label, changes to the base config as a function of it)
CELLS: dict[str, tuple[str, str, Callable]] = {
    "base": ("base", "base", lambda c: {}),
    "conv2": ("conv layers", "2 conv layers (2 stages)",
              lambda c: {"widths": c.widths[:2], "pool": c.pool[:2], "convs_per_stage": 1}),
    "conv8": ("conv layers", "8 conv layers (2 per stage)", lambda c: {"convs_per_stage": 2}),
    "fc2": ("FC layers", "2 FC layers (512)", lambda c: {"fc_widths": (512,)}),
    "fc3": ("FC layers", "3 FC layers (512, 256)", lambda c: {"fc_widths": (512, 256)}),
    "filters_half": ("filters", "filters x0.5", lambda c: {"widths": tuple(max(1, w // 2) for w in c.widths)}),
    "filters_double": ("filters", "filters x2", lambda c: {"widths": tuple(2 * w for w in c.widths)}),
    "nopool": ("max pooling", "no max pooling (strided convs)", lambda c: {"pool": _all(c, False)}),
    "pool12": ("max pooling", "max pooling after stages 1-2 only",
               lambda c: {"pool": tuple(i < 2 for i in range(len(c.widths)))}),
    "epochs_half": ("epochs", "epochs x0.5", lambda c: {"epochs": max(1, c.epochs // 2)}),
    "epochs_double": ("epochs", "epochs x2", lambda c: {"epochs": 2 * c.epochs}),
    "stride1": ("stride", "first conv stride 1", lambda c: {"stride": 1}),
    "conv8_nopool": ("depth x pooling", "8 conv layers, no max pooling",
                     lambda c: {"convs_per_stage": 2, "pool": _all(c, False)}),
    "conv2_nopool": ("depth x pooling", "2 conv layers, no max pooling",
                     lambda c: {"widths": c.widths[:2], "pool": (False, False), "convs_per_stage": 1}),
    "conv2_long": ("depth x epochs", "2 conv layers, epochs x2",
                   lambda c: {"widths": c.widths[:2], "pool": c.pool[:2], "convs_per_stage": 1,
                              "epochs": 2 * c.epochs}),
    "conv8_long": ("depth x epochs", "8 conv layers, epochs x2",
                   lambda c: {"convs_per_stage": 2, "epochs": 2 * c.epochs}),
}
FACTORS = ("conv layers", "FC layers", "filters", "max pooling", "epochs", "stride")
# the factorial: (depth cell, pooling) -> cell key
FACTORIAL = {("2 conv", "max pool"): "conv2", ("4 conv", "max pool"): "base", ("8 conv", "max pool"): "conv8",
             ("2 conv", "strided"): "conv2_nopool", ("4 conv", "strided"): "nopool",
             ("8 conv", "strided"): "conv8_nopool"}
# the second factorial: (depth cell, training length) -> cell key
LENGTH_FACTORIAL = {("2 conv", "epochs x1"): "conv2", ("4 conv", "epochs x1"): "base", ("8 conv", "epochs x1"): "conv8",
                    ("2 conv", "epochs x2"): "conv2_long", ("4 conv", "epochs x2"): "epochs_double",
                    ("8 conv", "epochs x2"): "conv8_long"}


@dataclass(frozen=True)
class CNNStudyConfig(ic.ImageNetConfig):
    """Base: 4 stages 32-64-128-256, one conv each, max pool after each, stride-2 first conv, one FC layer
    on a 2x2-pooled map, dropout 0.3; AdamW 2e-3 (half-epoch warm-up, cosine), label smoothing 0.1,
    random crops (4 px) + flips; 4 epochs on 30 images a class (3,000), scored on 20 a class of validation.

    Sizing (standard, 16 cells x 3 seeds on the shared 2-core EPYC, 1 thread): measured ms per training
    image-epoch (bf16, channels-last) idle / with two other jobs running: base 1.07 / 1.60, 8 conv layers
    2.11 / 3.80, filters x2 - / 3.35, stride-1 first conv 3.22 / 4.43; the 16 cells are ~23 base cells (the
    epochs x2 cells double theirs), so a seed trains ~3,000 x 4 x 23 image-epochs: ~4.5 min idle, ~7.5 min
    loaded, + ~15 s scoring; 3 seeds ~14-23 minutes (the 14 cells without the depth x epochs pair: 17 minutes
    measured with two other jobs running).
    """

    cells: tuple[str, ...] = tuple(CELLS)
    train_per_class: int = 30
    val_per_class: int = 20
    test_per_class: int = 1  # the study never scores the test split: decode as little of it as possible
    epochs: int = 4
    seeds: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0, 1, 2)

    BUDGETS: ClassVar[dict] = {
        "smoke": {"train_per_class": 3, "val_per_class": 2, "epochs": 1, "seeds": (0, 1), "widths": (8, 16, 16, 32),
                  "cells": ("base", "conv2", "fc2", "nopool", "stride1", "epochs_double"), "batch_size": 64},
        "full": {"train_per_class": 0, "val_per_class": 0, "epochs": 15},
    }


def cell_config(cfg: CNNStudyConfig, key: str) -> CNNStudyConfig:
    return dataclasses.replace(cfg, **CELLS[key][2](cfg))


def run_cell(cfg: CNNStudyConfig, data: ic.ImageData, seed: int, ctx: RunContext, key: str) -> dict[str, float]:
    """Train one cell from scratch; its ``<cell>/<metric>`` metrics, on the validation split only."""
    ccfg = cell_config(cfg, key)
    model, history = ic.train(ccfg, data, seed, ctx, desc=f"{ctx.experiment} {key}", tag=key, validate=False)
    scores = ic.top_k(ic.logits(model, data.x["val"], ccfg), data.y["val"])
    return {f"{key}/val_top1": scores["top1"], f"{key}/val_top5": scores["top5"], f"{key}/val_loss": scores["loss"],
            f"{key}/train_accuracy_augmented": history[-1]["train_acc"],
            f"{key}/train_seconds": history[-1]["train_seconds"], f"{key}/epochs": float(ccfg.epochs),
            f"{key}/params": ic.n_params(model), f"{key}/mflop_per_image": ic.flops_per_image(model) / 1e6,
            f"{key}/conv_layers": float(model.conv_layers), f"{key}/fc_layers": float(model.fc_layers),
            f"{key}/ms_per_image_epoch": 1000 * history[-1]["train_seconds"] / (ccfg.epochs * len(data.y["train"]))}


# --- the report ------------------------------------------------------------------------------------


def _fmt(metrics: dict, key: str, digits: int, scale: float = 1.0, spread: bool = True) -> str:
    m = metrics.get(key)
    if m is None:
        return "n/a"
    text = f"{m['mean'] * scale:.{digits}f}"
    return text + (f" ± {m['std'] * scale:.{digits}f}" if spread and len(m["values"]) > 1 else "")


def study_table(cells: list[str], metrics: dict) -> str:
    """The study as one Markdown table: factor, cell, layers, top-1/top-5 (val), params, MFLOPs, train s."""
    from dl_assign.results import markdown_table

    rows = []
    for key in cells:
        factor, label, _ = CELLS[key]
        fixed = [_fmt(metrics, f"{key}/{k}", d, sc, spread=False) for k, d, sc in
                 (("conv_layers", 0, 1), ("fc_layers", 0, 1), ("epochs", 0, 1))]
        rows.append([factor, label, *fixed, _fmt(metrics, f"{key}/val_top1", 4), _fmt(metrics, f"{key}/val_top5", 4),
                     _fmt(metrics, f"{key}/params", 3, 1e-6, spread=False),
                     _fmt(metrics, f"{key}/mflop_per_image", 1, spread=False),
                     _fmt(metrics, f"{key}/train_seconds", 1)])
    return markdown_table(["factor", "cell", "conv", "FC", "epochs", "top-1 (val)", "top-5 (val)", "params (M)",
                           "MFLOP/image", "train s"], rows)


def factorial_table(metrics: dict, table: dict | None = None, corner: str = "downsampling") -> str:
    """Validation top-1 of a depth x (other factor) factorial (``FACTORIAL`` or ``LENGTH_FACTORIAL``)."""
    from dl_assign.results import markdown_table

    table = FACTORIAL if table is None else table
    depths = ("2 conv", "4 conv", "8 conv")
    rows = []
    for level in dict.fromkeys(other for _, other in table):
        rows.append([level] + [_fmt(metrics, f"{table[(d, level)]}/val_top1", 4) for d in depths])
    return markdown_table([f"{corner} \\ depth", *depths], rows)


def _report(cfg: CNNStudyConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import aggregate
    from dl_assign.viz import imagenet as vi

    metrics = aggregate([o.metrics for o in outputs])
    cells = [c for c in cfg.cells if f"{c}/val_top1" in metrics]
    series = {}
    for factor in FACTORS:
        keys = ["base"] + [c for c in cells if CELLS[c][0] == factor]
        keys = [k for k in keys if f"{k}/val_top1" in metrics]
        if len(keys) > 1:
            series[factor] = [(CELLS[k][1], metrics[f"{k}/val_top1"]["mean"], metrics[f"{k}/val_top1"]["std"],
                               metrics[f"{k}/mflop_per_image"]["mean"]) for k in keys]
    if series:
        ctx.save_figure(vi.factor_plots(series, title=f"{ctx.experiment}: validation top-1 per factor "
                                                      f"(mean ± std, {len(cfg.seeds)} seeds)"), "factors")
    best = max(cells, key=lambda c: metrics[f"{c}/val_top1"]["mean"])
    n = outputs[0].artifacts
    text = (f"Base CNN: {len(cfg.widths)} stages {tuple(cfg.widths)} x {cfg.convs_per_stage} conv 3x3 (BatchNorm "
            f"{'on' if cfg.batchnorm else 'off'}, ReLU), max pool {tuple(cfg.pool)}, first-conv stride {cfg.stride}, "
            f"{cfg.grid}x{cfg.grid} average pool, FC {tuple(cfg.fc_widths) or '(classifier only)'}, dropout "
            f"{cfg.dropout}; {cfg.optimizer} lr {cfg.lr} ({cfg.warmup_epochs}-epoch warm-up, {cfg.schedule}), weight "
            f"decay {cfg.weight_decay}, label smoothing {cfg.label_smoothing}, batch {cfg.batch_size}, augmentation "
            f"{cfg.augment} ({cfg.pad} px) + flip, {cfg.epochs} epochs, {cfg.threads} thread(s). Each cell changes "
            f"what its name says. Trained on {n['n_train']} Tiny-ImageNet training images ({cfg.train_per_class} "
            f"per class, the same for every cell and seed), scored on {n['n_val']} validation images (the test "
            f"split is not looked at). Mean ± std over seeds {tuple(cfg.seeds)}. {ic.FROM_SCRATCH}\n\n"
            + study_table(cells, metrics))
    if all(f"{k}/val_top1" in metrics for k in FACTORIAL.values()):
        text += "\n\nDepth x downsampling (validation top-1):\n\n" + factorial_table(metrics)
    if all(f"{k}/val_top1" in metrics for k in LENGTH_FACTORIAL.values()):
        gain = {e: metrics[f"{LENGTH_FACTORIAL[('8 conv', e)]}/val_top1"]["mean"]
                - metrics[f"{LENGTH_FACTORIAL[('4 conv', e)]}/val_top1"]["mean"] for e in ("epochs x1", "epochs x2")}
        text += ("\n\nDepth x training length (validation top-1):\n\n"
                 + factorial_table(metrics, LENGTH_FACTORIAL, "epochs")
                 + f"\n\n8 conv minus 4 conv layers: {gain['epochs x1']:+.4f} at {cfg.epochs} epochs, "
                 f"{gain['epochs x2']:+.4f} at {2 * cfg.epochs} (the deeper network's deficit at the short budget "
                 f"{'shrinks' if gain['epochs x2'] > gain['epochs x1'] else 'does not shrink'} with longer training).")
    text += (f"\n\nBest cell on validation: **{CELLS[best][1]}** (top-1 {_fmt(metrics, f'{best}/val_top1', 4)}). "
             "'train s' is pure training time (no scoring); MFLOP/image is the forward pass of one 64x64 image "
             "(2 FLOPs per multiply-add, convolutions and linear layers). A short budget favours what trains "
             "fast: a cell's ranking at this budget is not its ranking at convergence.")
    return text


@experiment("imagenet.cnn_study", CNNStudyConfig, datasets=("tiny-imagenet",), report=_report)
def imagenet_cnn_study(cfg: CNNStudyConfig, seed: int, ctx: RunContext) -> SeedResult:
    """CNN study on Tiny-ImageNet-100: conv/FC layers, filters, pooling, epochs, stride (+ depth x pooling), on val."""
    if unknown := [c for c in cfg.cells if c not in CELLS]:
        raise ValueError(f"unknown study cells {unknown}; known: {', '.join(CELLS)}")
    data = ic.load(cfg)
    ctx.use_dataset(data.info)
    metrics: dict[str, float] = {}
    for key in tqdm(cfg.cells, desc=f"{ctx.experiment} seed {seed}", unit="cell", disable=not ctx.progress):
        metrics |= run_cell(cfg, data, seed, ctx, key)
    metrics["cells"] = float(len(cfg.cells))
    metrics["factors_covered"] = float(len({CELLS[c][0] for c in cfg.cells} & set(FACTORS)))
    metrics["factorial_cells"] = float(sum(c in cfg.cells for c in FACTORIAL.values()))
    metrics["length_factorial_cells"] = float(sum(c in cfg.cells for c in LENGTH_FACTORIAL.values()))
    return SeedResult(metrics, {"cells": list(cfg.cells), "n_train": len(data.y["train"]),
                                "n_val": len(data.y["val"])})
