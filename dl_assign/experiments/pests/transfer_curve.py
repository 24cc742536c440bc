"""``pests.transfer_curve``: test accuracy against trainable blocks, input resolution and backbone, on cached
frozen-trunk outputs, with and without test-time flips.

For each point ``backbone@pixels`` the frozen trunk runs once over every image, cut before its last
``max(blocks)`` blocks (``common.feature_cache``: on disk under ``$DL_ASSIGN_CACHE``, content-hashed,
with the mirrored test images for the flips). A cell with k trainable blocks runs the frozen blocks
between that cut and its own (``n - k``) once on the cached tensors, then trains the last k blocks and
a new head with ``engine.fit``; k = 0 is a linear head on the pooled features. Test-time flips average
the softmax of the image and its mirror. One seed, a per-class subset of the training images: a
curve to find where the limit lies, not the standard transfer result (``pests.transfer_effnet_lite0``).
On pests14 every accuracy carries the leakage flag: its images come from ImageNet.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar

import torch

from dl_assign.config import Range
from dl_assign.data import ip102
from dl_assign.data.augment import PickView
from dl_assign.engine import TensorLoader, fit, predict
from dl_assign.engine.device import use_bf16
from dl_assign.experiments.pests import common as pc
from dl_assign.models import backbones as B
from dl_assign.registry import RunContext, SeedResult, experiment


@dataclass(frozen=True)
class CurveConfig(pc.CachedTailConfig):
    """The curve's points (``backbone@pixels``), trainable blocks, the training subset and the tail's schedule."""

    points: tuple[str, ...] = ("efficientnet_lite0@160", "efficientnet_lite0@224", "efficientnet_lite2@260")
    # trainable blocks per cell; the cache is cut before the last max(blocks)
    blocks: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0, 1, 2)
    train_per_class: Annotated[int, Range(ge=0)] = 60  # 0 = every training image
    val_per_class: Annotated[int, Range(ge=0)] = 10
    train_views: Annotated[int, Range(ge=1)] = 2  # cached views per training image: itself and its mirror
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.2
    epochs: int = 10  # k >= 1 cells
    # a head alone takes ~0.02 s/epoch on the pooled features: at 10 epochs of ~6 steps it is under-trained
    # (probe, lite0 224 px, 60 images/class: test 0.43 at 10 epochs), so it gets more
    head_only_epochs: Annotated[int, Range(ge=1)] = 60
    seeds: tuple[int, ...] = (0,)

    BUDGETS: ClassVar[dict] = {
        "smoke": {"points": ("efficientnet_lite0@64",), "blocks": (0, 1), "train_per_class": 4, "val_per_class": 2,
                  "epochs": 1, "head_only_epochs": 2, "batch_size": 32, "disk_cache": False, "threads": 1},
        "full": {"train_per_class": 0, "val_per_class": 0, "epochs": 12},
    }


def parse_point(point: str) -> tuple[str, int]:
    """``"efficientnet_lite2@260"`` -> ``("efficientnet_lite2", 260)``, with a clear error otherwise."""
    name, sep, size = point.partition("@")
    if not sep or not size.isdigit() or name not in B.names():
        raise ValueError(f"curve point {point!r} is not backbone@pixels with a backbone of {', '.join(B.names())}")
    return name, int(size)


@torch.no_grad()
def deepen(trunk: B.Trunk, h: torch.Tensor, start: int, stop: int, batch: int = 256) -> torch.Tensor:
    """The frozen stages ``[start:stop]`` on cached outputs ``h`` (any leading dims), in eval mode."""
    if start == stop:
        return h
    was = trunk.training
    trunk.eval()
    try:
        flat = h.flatten(0, h.ndim - 4) if h.ndim > 4 else h
        out = torch.cat([trunk.run(flat[i:i + batch], start, stop) for i in range(0, len(flat), batch)])
        return out.unflatten(0, h.shape[:h.ndim - 3]) if h.ndim > 4 else out
    finally:
        trunk.train(was)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def run_point(cfg: CurveConfig, point: str, splits: dict, seed: int, ctx: RunContext) -> tuple[dict, dict]:
    """One point's cells: metrics ``<point>/k<k>/<metric>`` and its per-point facts."""
    name, size = parse_point(point)
    bf16 = use_bf16(cfg.cache_bf16)
    bb = B.backbone(name)
    n = len(bb.trunk.stages)
    kmax = max(cfg.blocks)
    if kmax >= n:
        raise ValueError(f"{point}: {kmax} trainable blocks asked for, the trunk has {n}")
    prep = pc.prep_at(bb.preprocessing, size)
    feats = pc.feature_cache(bb, n - kmax, prep, splits, views=cfg.train_views, identity=ctx.dataset["identity"],
                             disk=cfg.disk_cache, bf16=bf16, test_flip=True)
    n_images = feats.train.shape[0] * feats.train.shape[1] + len(feats.val_y) + 2 * len(feats.test_y)
    metrics = {f"{point}/cache_seconds": feats.seconds, f"{point}/cache_ms_per_image": 1000 * feats.seconds / n_images}
    for k in sorted(cfg.blocks, reverse=True):
        torch.manual_seed(seed)
        model = B.BackboneClassifier(B.backbone(name).trunk, len(ip102.read_classes(ip102.locate())), cfg.dropout)
        frozen = B.freeze(model, k)
        t0 = time.perf_counter()
        train, val, test, flip = (deepen(model.trunk, h, n - kmax, n - k)
                                  for h in (feats.train, feats.val, feats.test, feats.test_flip))
        deepen_s = time.perf_counter() - t0
        ccfg = dataclasses.replace(cfg, epochs=cfg.head_only_epochs if k == 0 else cfg.epochs)
        tail = pc.CachedTail(model)
        loader = TensorLoader(train, feats.train_y, cfg.batch_size, shuffle=True, seed=seed, transform=PickView(),
                              drop_last=len(feats.train_y) > cfg.batch_size)
        history = fit(tail, loader, TensorLoader(val, feats.val_y, 256), ccfg, progress=ctx.progress,
                      desc=f"{ctx.experiment} {point} k={k}")
        logits, y = predict(tail, TensorLoader(test, feats.test_y, 256))
        logits_f, _ = predict(tail, TensorLoader(flip, feats.test_y, 256))
        both = logits.softmax(1) + logits_f.softmax(1)
        c = f"{point}/k{k}"
        metrics |= {f"{c}/test_accuracy": accuracy(logits, y), f"{c}/test_accuracy_flip_tta": accuracy(both, y),
                    f"{c}/val_accuracy": history[-1].get("val_acc", float("nan")),
                    f"{c}/train_accuracy": history[-1]["train_acc"], f"{c}/train_seconds": history[-1]["train_seconds"],
                    f"{c}/deepen_seconds": deepen_s, f"{c}/epochs": float(ccfg.epochs),
                    f"{c}/params_trainable": float(frozen["params_trainable"])}
    facts = {"backbone": name, "pixels": size, "blocks": n, "weights": bb.weights, "preprocessing": prep,
             "cache": {"key": feats.key, "source": feats.source, "precision": "bf16" if bf16 else "fp32",
                       "feature_shape": list(feats.test.shape[1:]), "cut": n - kmax}}
    return metrics, facts


def _report(cfg: CurveConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign import viz

    plt = viz._plt()
    m, a = outputs[0].metrics, outputs[0].artifacts
    ks = sorted(cfg.blocks)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for p in cfg.points:
        line = ax.plot(ks, [m[f"{p}/k{k}/test_accuracy"] for k in ks], marker="o", label=p)[0]
        ax.plot(ks, [m[f"{p}/k{k}/test_accuracy_flip_tta"] for k in ks], marker="x", ls="--",
                color=line.get_color(), label=f"{p} + flips")
    ax.set_xlabel("trainable blocks (k)")
    ax.set_ylabel("test accuracy")
    ax.set_xticks(ks)
    ax.set_title(f"{ctx.experiment}: {a['n_train']} training images, seed {cfg.seeds[0]}", fontsize=9)
    ctx.save_figure(viz.finish(fig, [ax]), "curve")
    flag = pc.leakage_flag(ip102.locate())
    rows = ["| point | k | test acc | + flips | val acc | train acc | train s | trainable params |",
            "|---|---|---|---|---|---|---|---|"]
    for p in cfg.points:
        for k in ks:
            c = f"{p}/k{k}"
            rows.append(f"| {p} | {k} | {m[c + '/test_accuracy']:.3f} | {m[c + '/test_accuracy_flip_tta']:.3f} | "
                        f"{m[c + '/val_accuracy']:.3f} | {m[c + '/train_accuracy']:.3f} | "
                        f"{m[c + '/train_seconds']:.1f} | {int(m[c + '/params_trainable']):,} |")
    caches = "; ".join(f"{p}: {m[p + '/cache_seconds']:.1f} s ({m[p + '/cache_ms_per_image']:.1f} ms/image, "
                       f"{f['cache']['precision']}, output {f['cache']['feature_shape']}, {f['cache']['source']})"
                       for p, f in a["points"].items())
    lines = [f"**Leakage flag:** {flag}." if flag else "",
             f"One seed ({cfg.seeds[0]}), {a['n_train']} training images ({cfg.train_per_class or 'all'} per class, "
             f"{cfg.train_views} cached views), {a['n_test']} test images (binomial se about 0.017 at 0.75). "
             f"k >= 1: {cfg.epochs} epochs; k = 0 (head on pooled features): {cfg.head_only_epochs} epochs; "
             f"{cfg.optimizer} lr {cfg.lr}, weight decay {cfg.weight_decay}, label smoothing {cfg.label_smoothing}. "
             "'+ flips' averages the softmax of each test image and its mirror.",
             f"Best cell on validation: `{a['best_cell']}` (test {m['best/test_accuracy']:.3f}, with flips "
             f"{m['best/test_accuracy_flip_tta']:.3f}).",
             "Frozen-trunk caches (one pass over train views, val, test and mirrored test): " + caches + ".",
             "\n".join(rows)]
    return "\n\n".join(line for line in lines if line)


@experiment("pests.transfer_curve", CurveConfig, datasets=("ip102",), report=_report)
def pests_transfer_curve(cfg: CurveConfig, seed: int, ctx: RunContext) -> SeedResult:
    """Pests transfer accuracy against trainable blocks, resolution and backbone (cached trunks; leakage flag)."""
    for p in cfg.points:
        parse_point(p)
    root = ip102.locate()
    ctx.use_dataset(ip102.info(root))
    splits = pc.load_splits(root, train_per_class=cfg.train_per_class, val_per_class=cfg.val_per_class)
    metrics, points = {}, {}
    for p in cfg.points:
        m, points[p] = run_point(cfg, p, splits, seed, ctx)
        metrics |= m
    cells = [f"{p}/k{k}" for p in cfg.points for k in cfg.blocks]
    best = max(cells, key=lambda c: metrics[f"{c}/val_accuracy"])  # chosen on validation, not test
    head = {f"best/{k}": metrics[f"{best}/{k}"] for k in ("test_accuracy_flip_tta", "test_accuracy", "val_accuracy")}
    return SeedResult(head | metrics, {"points": points, "best_cell": best, "n_train": len(splits["train"].labels),
                                       "n_test": len(splits["test"].labels)})
