"""CNN5 studies on Fashion-MNIST: pooling, kernel size x filter schedule, weight initialisation.

Every study trains each cell on the same stratified training subset for the same number of
epochs (``train_limit``/``epochs``), once per seed; the registry turns the per-seed metrics
``<cell>/test_accuracy`` into mean ± std per cell. The subset keeps a whole study within a few
CPU minutes; the cells are compared with each other, not with ``fashion.cnn``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import torch
from torch import nn

from dl_assign.config import Range
from dl_assign.experiments.fashion.common import (
    CNN5Config,
    FashionTensors,
    load_tensors,
    model_from,
    train_cnn,
    train_loader,
)
from dl_assign.models.cnn5 import conv_layers, count_flops_per_image
from dl_assign.registry import RunContext, SeedResult, experiment
from dl_assign.results import aggregate, markdown_table


@dataclass(frozen=True)
class StudyConfig(CNN5Config):
    """The study default: fashion.cnn's CNN5 on a 6,000-image stratified subset for 3 epochs."""

    filters: str = "16,32,32,64,64"
    epochs: int = 3
    batch_size: int = 128  # 46 steps per epoch on the subset; 256 would leave too few steps
    lr: float = 0.05
    warmup_epochs: float = 0.5
    dropout: float = 0.0
    tta_flip: bool = False  # the studies compare training choices: plain predictions
    train_limit: int = 6_000  # a CPU-minutes budget: every cell x 3 seeds on the same subset
    eval_limit: int = 2_000  # val/test subsets of 2,000 (std of an accuracy ~0.85 is ~0.008)

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 1, "seeds": (0,), "train_limit": 600, "eval_limit": 300, "filters": "4,8,8,16,16",
                  "batch_size": 64},
        "full": {"epochs": 15, "train_limit": 0, "eval_limit": 0, "seeds": (0, 1, 2, 3, 4)},
    }


def run_cells(cfg: StudyConfig, seed: int, ctx: RunContext, cells: dict[str, dict], data: FashionTensors,
              callbacks_for=None) -> tuple[dict[str, float], dict]:
    """Train every cell (a dict of config changes) and return flat ``<cell>/<metric>`` metrics."""
    metrics: dict[str, float] = {}
    artifacts: dict[str, dict] = {}
    for name, changes in cells.items():
        ccfg = dataclasses.replace(cfg, **changes)
        model = model_from(ccfg)
        extra = callbacks_for(name, model) if callbacks_for else ()
        model, history, ev = train_cnn(ccfg, data, seed, ctx, model=model, desc=f"{ctx.experiment} {name}",
                                       with_val=False, callbacks=extra, checkpoint_tag=name.replace(" ", "_"))
        metrics[f"{name}/test_accuracy"] = ev["accuracy"]
        metrics[f"{name}/test_loss"] = ev["loss"]
        metrics[f"{name}/train_seconds"] = history[-1]["train_seconds"]
        metrics[f"{name}/mflop_per_image"] = count_flops_per_image(model)["forward"] / 1e6
        metrics[f"{name}/params"] = float(sum(p.numel() for p in model.parameters()))
        artifacts[name] = {"train_loss": [r["train_loss"] for r in history]}
    return metrics, artifacts


def cell_table(cells: list[str], agg: dict, extra_cols: tuple[str, ...] = ()) -> tuple[str, list, list, list]:
    """Markdown table of the cells plus (labels, means, stds) of their test accuracy."""
    rows, means, stds = [], [], []
    for c in cells:
        acc = agg[f"{c}/test_accuracy"]
        means.append(acc["mean"])
        stds.append(acc["std"])
        rows.append([c, f"{acc['mean']:.4f} ± {acc['std']:.4f}", f"{agg[f'{c}/test_loss']['mean']:.3f}",
                     f"{agg[f'{c}/params']['mean']:.0f}", f"{agg[f'{c}/mflop_per_image']['mean']:.2f}",
                     f"{agg[f'{c}/train_seconds']['mean']:.1f}"] + [agg[f"{c}/{k}"]["mean"] for k in extra_cols])
    header = ["cell", "test accuracy (mean ± std)", "test loss", "params", "MFLOP/image", "train s"]
    return markdown_table(header + list(extra_cols), rows), cells, means, stds


def verdict(cells: list[str], means: list[float], stds: list[float], n_seeds: int) -> str:
    """Best cell and how far each other cell is from it, in units of the pooled std of the difference."""
    order = np.argsort(means)[::-1]
    best = order[0]
    parts = []
    for k in order[1:]:
        se = np.sqrt((stds[best] ** 2 + stds[k] ** 2) / max(1, n_seeds))
        gap = means[best] - means[k]
        if n_seeds < 2:
            tag = "one seed, no error bar:"
        else:
            tag = "clearly" if gap > 3 * se else ("probably" if gap > 1.5 * se else "not distinguishable:")
        parts.append(f"{cells[k]} {means[k]:.4f} ({tag} worse by {gap:.4f}; std error of the gap {se:.4f})")
    return (f"Best: **{cells[best]}** at {means[best]:.4f} ± {stds[best]:.4f}. Then " + "; ".join(parts) + ".")


def study_header(cfg: StudyConfig, n_train: int) -> str:
    return (f"Each cell: {cfg.epochs} epochs on a stratified subset of {n_train} training images "
            f"(same subset, schedule and seed for every cell), batch {cfg.batch_size}, SGD-Nesterov lr {cfg.lr} "
            f"cosine, label smoothing {cfg.label_smoothing}, {cfg.augment_pad}-px shifts + flips; test on "
            f"{cfg.eval_limit or 'all'} stratified test images; mean ± sample std over seeds {list(cfg.seeds)}.")


def study_report(cell_names_of, title: str, conclusion_of=None):
    def report(cfg, outputs: list[SeedResult], ctx: RunContext) -> str:
        from dl_assign.viz import cnn as vcnn

        agg = aggregate([o.metrics for o in outputs])
        cells = cell_names_of(cfg)
        table, labels, means, stds = cell_table(cells, agg)
        ctx.save_figure(vcnn.cell_bars(labels, means, stds, title=f"{ctx.experiment}: {title}"), "cells")
        text = [study_header(cfg, outputs[0].artifacts["n_train"]), "", table, "", verdict(cells, means, stds,
                                                                                          len(outputs))]
        if conclusion_of:
            text += ["", conclusion_of(cfg, agg, outputs, ctx)]
        return "\n".join(text)

    return report


# --- pooling ------------------------------------------------------------------------------------

POOLING_CELLS = {
    "max pool + flatten": {"pool": "max", "neck": "flatten"},
    "avg pool + flatten": {"pool": "avg", "neck": "flatten"},
    "max pool + GAP": {"pool": "max", "neck": "gap"},
    "avg pool + GAP": {"pool": "avg", "neck": "gap"},
    "max pool + global max": {"pool": "max", "neck": "gmp"},
}


def _pooling_conclusion(cfg, agg, outputs, ctx) -> str:
    m = lambda c: agg[f"{c}/test_accuracy"]["mean"]
    flat = np.mean([m("max pool + flatten"), m("avg pool + flatten")])
    glob = np.mean([m("max pool + GAP"), m("avg pool + GAP")])
    kind = np.mean([m("max pool + flatten"), m("max pool + GAP")]) - np.mean([m("avg pool + flatten"),
                                                                              m("avg pool + GAP")])
    return (f"Two factors: the 2x2 pooling kind (after conv {[p + 1 for p in cfg.pool_after]}) and how the last "
            f"7x7 map becomes a vector. Averaged over the other factor, max minus average pooling = {kind:+.4f}; "
            f"flatten (keeps where a feature is) minus global average pooling (keeps only whether it is there) = "
            f"{flat - glob:+.4f}. Global pooling has far fewer head parameters "
            f"({agg['max pool + GAP/params']['mean']:.0f} vs {agg['max pool + flatten/params']['mean']:.0f} in "
            "total), which matters on large inputs, not on 28x28 garments whose position is fixed.")


@experiment("fashion.cnn_pooling", StudyConfig, datasets=("fashion-mnist",),
            report=study_report(lambda cfg: list(POOLING_CELLS), "pooling kind x neck", _pooling_conclusion))
def cnn_pooling(cfg: StudyConfig, seed: int, ctx: RunContext) -> SeedResult:
    """CNN5 pooling study: max vs average 2x2 pooling, flatten vs global average/max pooling."""
    data = load_tensors(cfg, ctx)
    metrics, artifacts = run_cells(cfg, seed, ctx, POOLING_CELLS, data)
    return SeedResult(metrics, {"cells": artifacts, "n_train": len(data.x_train)})


# --- kernel size x filter schedule --------------------------------------------------------------

@dataclass(frozen=True)
class KernelStudyConfig(StudyConfig):
    kernel_sizes: Annotated[tuple[int, ...], Range(ge=1)] = (3, 5, 7)
    # constant width, VGG's doubling after each pool, and the reverse (wide early, narrow late)
    schedules: tuple[str, ...] = ("constant", "doubling", "32,16,16,8,8")
    base_width: int = 8  # 9 cells, a 7x7 cell costs 5.4x a 3x3 one: narrow nets keep the study in minutes
    train_limit: int = 4_000

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 1, "seeds": (0,), "train_limit": 400, "eval_limit": 200, "kernel_sizes": (3, 5),
                  "schedules": ("constant", "doubling"), "base_width": 4, "batch_size": 64},
        "full": {"epochs": 15, "train_limit": 0, "eval_limit": 0, "seeds": (0, 1, 2, 3, 4)},
    }


def _kernel_cells(cfg: KernelStudyConfig) -> dict[str, dict]:
    return {f"k{k} {s}": {"kernel_size": k, "filters": s} for s in cfg.schedules for k in cfg.kernel_sizes}


def _kernel_conclusion(cfg, agg, outputs, ctx) -> str:
    from dl_assign.viz import cnn as vcnn

    series = {}
    for s in cfg.schedules:
        names = [f"k{k} {s}" for k in cfg.kernel_sizes]
        widths = outputs[0].artifacts["widths"][s]
        series[f"{s} {tuple(widths)}"] = ([agg[f"{n}/test_accuracy"]["mean"] for n in names],
                                          [agg[f"{n}/test_accuracy"]["std"] for n in names])
    ctx.save_figure(vcnn.lines(list(cfg.kernel_sizes), series, "kernel size",
                               title="kernel size x filter schedule"), "lines")
    by_k = {k: np.mean([agg[f"k{k} {s}/test_accuracy"]["mean"] for s in cfg.schedules]) for k in cfg.kernel_sizes}
    by_s = {s: np.mean([agg[f"k{k} {s}/test_accuracy"]["mean"] for k in cfg.kernel_sizes]) for s in cfg.schedules}
    cost = {k: np.mean([agg[f"k{k} {s}/mflop_per_image"]["mean"] for s in cfg.schedules]) for k in cfg.kernel_sizes}
    return ("Kernel size, averaged over schedules: " + ", ".join(
        f"{k}x{k} {v:.4f} ({cost[k]:.1f} MFLOP/image)" for k, v in by_k.items())
        + ". Schedule, averaged over kernel sizes: " + ", ".join(
        f"{s} {tuple(outputs[0].artifacts['widths'][s])} {v:.4f}" for s, v in by_s.items())
        + ". FLOPs grow with k^2; on 28x28 images two stacked 3x3 convs already see 5x5.")


@experiment("fashion.cnn_kernels", KernelStudyConfig, datasets=("fashion-mnist",),
            report=study_report(lambda cfg: list(_kernel_cells(cfg)), "kernel x schedule", _kernel_conclusion))
def cnn_kernels(cfg: KernelStudyConfig, seed: int, ctx: RunContext) -> SeedResult:
    """CNN5 kernel size (3/5/7) x filter schedule (constant, doubling, explicit list) study."""
    data = load_tensors(cfg, ctx)
    metrics, artifacts = run_cells(cfg, seed, ctx, _kernel_cells(cfg), data)
    widths = {s: list(model_from(dataclasses.replace(cfg, filters=s)).widths) for s in cfg.schedules}
    return SeedResult(metrics, {"cells": artifacts, "n_train": len(data.x_train), "widths": widths})


# --- initialisation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class InitStudyConfig(StudyConfig):
    batch_norm: bool = False  # BatchNorm re-normalises every layer and would hide the initialisation
    lr: float = 0.02  # without BatchNorm, 0.05 diverges for some He seeds
    stats_batch: Annotated[int, Range(ge=1)] = 256  # fixed training images the per-layer statistics are measured on

    BUDGETS: ClassVar[dict] = StudyConfig.BUDGETS


INIT_CELLS = {"normal(0, 0.01)": {"init": "normal"}, "xavier": {"init": "xavier"}, "he": {"init": "he"}}


def layer_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: CNN5Config) -> dict[str, list]:
    """Per conv layer, on a fixed batch: post-ReLU activation std, fraction of zeros, weight-gradient norm.

    One forward and backward pass with the training loss; no optimizer step, the weights are
    untouched (gradients are cleared afterwards).
    """
    convs = conv_layers(model)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    acts: list[torch.Tensor] = []
    hooks = [r.register_forward_hook(lambda m, i, o: acts.append(o.detach().float())) for r in relus]
    was_training = model.training
    model.train()
    try:
        model.zero_grad(set_to_none=True)
        memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
        out = model(x.contiguous(memory_format=memory))
        loss = nn.functional.cross_entropy(out.float(), y, label_smoothing=cfg.label_smoothing)
        loss.backward()
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    stats = {
        "act_std": [float(a.std(correction=1)) for a in acts],
        "dead_fraction": [float((a == 0).float().mean()) for a in acts],
        "grad_norm": [float(c.weight.grad.norm()) for c in convs],
        "grad_to_weight": [float(c.weight.grad.norm() / c.weight.detach().norm()) for c in convs],
        "loss": float(loss.detach()),
    }
    model.zero_grad(set_to_none=True)
    return stats


def _init_conclusion(cfg, agg, outputs, ctx) -> str:
    from dl_assign.viz import cnn as vcnn

    mean_stats = {}
    rows = []
    for cell in INIT_CELLS:
        for when in ("init", "epoch1"):
            per_seed = [o.artifacts["stats"][cell][when] for o in outputs]
            m = {k: np.mean([s[k] for s in per_seed], axis=0).tolist() for k in per_seed[0]}
            mean_stats[f"{cell} @ {when}"] = m
            rows.append([cell, "before training" if when == "init" else "after epoch 1",
                         f"{m['loss']:.3f}",
                         " / ".join(f"{v:.2g}" for v in m["act_std"]),
                         " / ".join(f"{v:.2f}" for v in m["dead_fraction"]),
                         " / ".join(f"{v:.2g}" for v in m["grad_norm"])])
    ctx.save_figure(vcnn.layer_stats({k: v for k, v in mean_stats.items() if k.endswith("init")},
                                     keys=("act_std", "grad_norm"),
                                     title="per-layer statistics at initialisation (mean over seeds)"), "layers")
    ctx.save_figure(vcnn.layer_stats(mean_stats, keys=("act_std", "grad_to_weight"),
                                     title="per-layer statistics: init and after epoch 1"), "layers_epoch1")
    table = markdown_table(["init", "when", "loss", "activation std, conv1..5", "dead ReLU fraction, conv1..5",
                            "weight-grad norm, conv1..5"], rows)
    steps = outputs[0].artifacts["steps_per_epoch"]
    init = {c: mean_stats[f"{c} @ init"] for c in INIT_CELLS}
    return (f"Per-layer statistics on a fixed batch of {cfg.stats_batch} training images (mean over seeds), "
            f"measured before the first step and after epoch 1 ({steps} SGD steps), BatchNorm off:\n\n{table}\n\n"
            "Why: with N(0, 0.01^2) every layer multiplies the signal scale by about "
            "sqrt(fan_in * std^2 / 2) << 1, so the conv5 activation std is "
            f"{init['normal(0, 0.01)']['act_std'][-1]:.2g} "
            f"at initialisation (He: {init['he']['act_std'][-1]:.2g}, Xavier: {init['xavier']['act_std'][-1]:.2g}), "
            f"the logits are ~0 and the conv1 weight gradient is {init['normal(0, 0.01)']['grad_norm'][0]:.2g} "
            f"(He: {init['he']['grad_norm'][0]:.2g}): the early layers barely move. Xavier's variance "
            "2/(fan_in+fan_out) is derived for linear units; after each ReLU half the variance is lost, so its "
            "signal shrinks layer by layer; He's 2/fan_in compensates exactly, keeping every layer's scale (and "
            "gradient) of order one.")


def _init_cells(cfg):
    return list(INIT_CELLS)


@experiment("fashion.cnn_init", InitStudyConfig, datasets=("fashion-mnist",),
            report=study_report(_init_cells, "weight initialisation (no BatchNorm)", _init_conclusion))
def cnn_init(cfg: InitStudyConfig, seed: int, ctx: RunContext) -> SeedResult:
    """CNN5 initialisation study: random normal vs Xavier vs He, with per-layer activation/gradient stats."""
    data = load_tensors(cfg, ctx)
    gen = torch.Generator().manual_seed(1234)
    pick = torch.randperm(len(data.x_train), generator=gen)[:cfg.stats_batch]
    xb, yb = data.x_train[pick], data.y_train[pick]
    stats: dict[str, dict] = {}

    def callbacks_for(name, model):
        stats[name] = {"init": layer_statistics(model, xb, yb, cfg)}

        def after_epoch(epoch, m, row):
            if epoch == 0:
                stats[name]["epoch1"] = layer_statistics(m, xb, yb, cfg)

        return (after_epoch,)

    cells = {name: {**changes} for name, changes in INIT_CELLS.items()}
    metrics, artifacts = run_cells(cfg, seed, ctx, cells, data, callbacks_for=callbacks_for)
    for name in INIT_CELLS:
        metrics[f"{name}/init_act_std_conv5"] = stats[name]["init"]["act_std"][-1]
        metrics[f"{name}/init_grad_norm_conv1"] = stats[name]["init"]["grad_norm"][0]
        metrics[f"{name}/epoch1_train_loss"] = artifacts[name]["train_loss"][0]
    steps = len(train_loader(cfg, data, seed))
    return SeedResult(metrics, {"cells": artifacts, "stats": stats, "n_train": len(data.x_train),
                                "steps_per_epoch": steps})
