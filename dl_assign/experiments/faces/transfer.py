"""``faces.gender_transfer``: a frozen ImageNet trunk (the seed asks for VGG16) and own fully connected layers.

The frozen part is a fixed function, so its output is computed once per face (and its mirror) and
cached; training runs only the new fully connected layers on the cached features. ``backbone=vgg16``
is the seed's network, frozen through its last conv block (conv5, global-average-pooled to 512
features): torchvision's weights, which load from ``$DL_ASSIGN_WEIGHTS`` / torch.hub's cache or
download, and fail fast with a message saying so where neither works (offline here). The default is the
offline EfficientNet-Lite0 (whole trunk frozen); the report names the backbone that ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from dl_assign.config import Range
from dl_assign.data import faces as fd
from dl_assign.data.augment import PickView
from dl_assign.engine import TensorLoader, fit
from dl_assign.engine.device import use_bf16
from dl_assign.experiments.faces import common as fc
from dl_assign.experiments.faces import features as ff
from dl_assign.models import backbones as B
from dl_assign.models.faces import FrozenTrunkClassifier
from dl_assign.registry import RunContext, experiment

BACKBONES = tuple(B.names())


@dataclass(frozen=True)
class TransferConfig(fc.FacesConfig):
    """Frozen trunk + new FC layers on cached features; the same UTKFace images as the CNNs, cut at ``image_size``."""

    # measured on validation (1,000 training faces, 500 val, seed 0; val AUC, cache time): Lite0 at 128 px 0.930
    # (42 s), at 160 px 0.929 (55 s), MobileNetV2 at 128 px 0.922 (24 s)
    backbone: Literal[BACKBONES] = "efficientnet_lite0"
    image_size: int = 128  # the trunk's input: faces cut by the same rule from the 200 px originals
    hidden: Annotated[tuple[int, ...], Range(ge=1)] = (256,)  # own fully connected layers (ReLU + dropout each)
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.3
    train_views: Annotated[int, Range(ge=1, le=2)] = 2  # cached views per training face: itself (+ its mirror)
    epochs: int = 30  # head-only epochs on cached features: about a second each for 16,592 faces x 2 views
    batch_size: int = 128
    optimizer: Literal["sgd", "adam", "adamw"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    channels_last: bool = False  # the head is dense: nothing to lay out
    # the frozen trunk's one pass under bf16 autocast where bf16 is native (the head trains in fp32 on fp32 copies)
    cache_bf16: Literal["auto", "on", "off"] = "auto"

    BUDGETS: ClassVar[dict] = {"smoke": dict(fc.SMOKE) | {"epochs": 6, "image_size": 64},
                               "full": {"seeds": (0, 1, 2, 3, 4), "train_limit": 0, "val_limit": 0, "test_limit": 0,
                                        "image_size": 224}}


def build(cfg: TransferConfig) -> tuple[B.Backbone, FrozenTrunkClassifier]:
    bb = B.backbone(cfg.backbone, pretrained=True)  # vgg16 offline: WeightsUnavailable, saying where it looked
    n_frozen = ff.frozen_depth(bb)
    dim = 512 if bb.name == "vgg16" else bb.feature_dim
    return bb, FrozenTrunkClassifier(bb.trunk, n_frozen, dim, tuple(cfg.hidden), cfg.dropout)


def _report(cfg, outputs, ctx: RunContext) -> str:
    a, m = outputs[0].artifacts, outputs[0].metrics
    text = (f"Backbone that ran: **`{cfg.backbone}`** ({a['weights_source']}), frozen through block "
            f"{a['frozen_through']} ({a['n_frozen']} of {a['blocks']} blocks; {int(m['params_frozen']):,} frozen "
            f"parameters), pooled to {a['feature_dim']} features; own FC layers {tuple(cfg.hidden)} + ReLU + dropout "
            f"{cfg.dropout}, FC 1 + sigmoid ({int(m['params_trainable']):,} trainable parameters). Faces at "
            f"{cfg.image_size} px by the same crop rule, normalised with the backbone's ImageNet mean/std; "
            f"{cfg.train_views} cached view(s) per training face, cached in {m['cache_seconds']:.1f} s "
            f"({a['cache_source']} for seed {cfg.seeds[0]}, {a['cache_precision']}). The seed's VGG16 runs with "
            "`--set backbone=vgg16` where torchvision's weights can be had (frozen through conv5).")
    return fc.report(cfg, outputs, ctx, model_text=text)


@experiment("faces.gender_transfer", TransferConfig, datasets=("utkface", "fairface"), report=_report)
def faces_gender_transfer(cfg: TransferConfig, seed: int, ctx: RunContext):
    """Frozen ImageNet trunk (VGG16 where its weights are here, else EfficientNet-Lite0) + own FC layers."""
    bb, model = build(cfg)
    data = fc.load(cfg)
    ctx.use_dataset(data.info)
    bf16 = use_bf16(cfg.cache_bf16)
    feats = ff.feature_cache(model, bb, data, views=cfg.train_views, disk=cfg.disk_cache, bf16=bf16)
    head = model.head
    train = TensorLoader(feats["train"], data.y["train"], cfg.batch_size, shuffle=True, seed=seed,
                         transform=PickView(), drop_last=len(data.y["train"]) > cfg.batch_size)
    history = fit(head, train, TensorLoader(feats["val"], data.y["val"], 512), cfg,
                  checkpoint=ctx.checkpoint_path(seed), resume=ctx.resume, progress=ctx.progress,
                  desc=f"{ctx.experiment} seed {seed}")
    loaders = {"train": TensorLoader(feats["train"][:, 0], data.y["train"], 512)}
    loaders |= {s: TensorLoader(feats[s], data.y[s], 512) for s in fc.SPLITS}
    trainable = fc.n_params(head)
    result = fc.seed_result(head, history, data, cfg, seed, loaders=loaders, extra_metrics={
        "params_trainable": trainable, "params_frozen": fc.n_params(model) - trainable,
        "cache_seconds": float(feats["seconds"])}, extra_artifacts={
        "backbone": bb.name, "weights_source": (bb.weights or {}).get("source", "random init"),
        "n_frozen": model.n_frozen, "blocks": len(bb.block_names), "frozen_through": bb.block_names[model.n_frozen - 1],
        "feature_dim": int(feats["val"].shape[1]), "cache_source": feats["source"],
        "cache_precision": "bf16" if bf16 else "fp32"})
    if cfg.save_model:
        prep = fd.preprocessing(cfg.image_size, fd.UTK_MARGIN, bb.preprocessing["mean"], bb.preprocessing["std"])
        result.artifacts["stored"] = fc.store_model(
            model, ctx, seed, name=f"transfer_{bb.name}", builder="faces_frozen_trunk",
            builder_kwargs={"backbone": bb.name, "n_frozen": model.n_frozen, "feature_dim": int(feats["val"].shape[1]),
                            "hidden": list(cfg.hidden), "dropout": cfg.dropout}, prep=prep, metrics=result.metrics)
    return result
