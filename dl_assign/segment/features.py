"""Feature maps from a CNN with its top removed: which stages, where to cut, images in, (B, C, h, w) out.

A *feature source* is anything with an ordered list of convolutional stages:

* a backbone name (``"efficientnet_lite0"``: the ImageNet trunk of ``models.backbones``),
* a ``backbones.Backbone`` or ``backbones.Trunk``,
* a model from the store: a ``BackboneClassifier`` (its ``.trunk``) or a ``SmallCNN`` (its
  ``.features`` cut after every pooling layer into ``stage1``, ``stage2``, ...).

``layer`` is a stage name or one of the aliases ``early`` / ``middle`` / ``late``: the last stage at
output stride 4 / 8 / 16 (measured by a probe forward, so the same words mean the same spatial
resolution for every network).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

ALIASES = {"early": 4, "middle": 8, "late": 16}  # alias -> output stride of the stage it names
_PROBE = 64  # probe input side: every stride up to 32 leaves >= 2 feature cells


class UnknownLayer(ValueError):
    """The layer name is neither a stage of the network nor an alias; the message lists the valid ones."""


class ImageTooSmall(ValueError):
    """The image is smaller than the chosen stage's stride: it would give less than one feature cell."""


@dataclass(frozen=True, eq=False)
class Stages:
    """An ordered list of named stages, the preprocessing they expect, and each stage's output stride."""

    name: str
    names: tuple[str, ...]
    modules: nn.ModuleList
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    strides: tuple[int, ...]  # output stride of each stage (0: not a spatial map, e.g. a linear layer)
    channels: tuple[int, ...]

    def resolve(self, layer: str) -> int:
        """Index of ``layer`` (a stage name or an alias); UnknownLayer lists the valid names."""
        if layer in ALIASES:
            want = ALIASES[layer]
            found = [i for i, s in enumerate(self.strides) if s == want]
            if found:
                return found[-1]
        elif layer in self.names and self.strides[self.names.index(layer)]:
            return self.names.index(layer)
        spatial = [n for n, s in zip(self.names, self.strides) if s]
        raise UnknownLayer(f"unknown layer {layer!r} for {self.name}; valid: aliases "
                           f"{', '.join(a for a, s in ALIASES.items() if s in self.strides)} or a stage: "
                           f"{', '.join(spatial)}")

    def describe(self, layer: str) -> str:
        i = self.resolve(layer)
        return f"{self.names[i]} (stride {self.strides[i]}, {self.channels[i]} channels)"

    @torch.no_grad()
    def run(self, x: torch.Tensor, stop: int) -> torch.Tensor:
        """Stages ``[0..stop]`` on a normalised batch: (B, 3, H, W) -> (B, C, h, w)."""
        for stage in self.modules[: stop + 1]:
            x = stage(x)
        return x


def _small_cnn_stages(features: nn.Sequential) -> list[tuple[str, nn.Module]]:
    stages, current = [], []
    for layer in features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d | nn.AvgPool2d):
            stages.append((f"stage{len(stages) + 1}", nn.Sequential(*current)))
            current = []
    if current:
        stages.append((f"stage{len(stages) + 1}", nn.Sequential(*current)))
    return stages


@torch.no_grad()
def _probe(modules: Sequence[nn.Module]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    x = torch.zeros(1, 3, _PROBE, _PROBE)
    strides, channels = [], []
    for m in modules:
        x = m(x)
        spatial = x.ndim == 4
        strides.append(round(_PROBE / x.shape[-1]) if spatial else 0)
        channels.append(int(x.shape[1]))
        if not spatial:
            break
    n = len(modules)
    return tuple(strides + [0] * (n - len(strides))), tuple(channels + [0] * (n - len(channels)))


_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {preprocessing: Stages}


def stages_of(source, preprocessing: dict | None = None) -> Stages:
    """The :class:`Stages` of a feature source (see the module docstring), in eval mode.

    Built once per model object and preprocessing (the stride probe is a forward pass through every stage).
    """
    if isinstance(source, Stages):
        return source
    if isinstance(source, str):
        return _named_stages(source)
    key = repr(sorted((preprocessing or {}).items()))
    try:
        cached = _BUILT.setdefault(source, {})
    except TypeError:  # not weak-referenceable: build every time
        cached = {}
    if key not in cached:
        cached[key] = _build_stages(source, preprocessing)
    return cached[key]


def _build_stages(source, preprocessing: dict | None) -> Stages:
    from dl_assign.models import backbones as B

    prep = preprocessing
    if isinstance(source, B.Backbone):
        prep = prep or source.preprocessing
        source = source.trunk
    trunk = source if isinstance(source, B.Trunk) else getattr(source, "trunk", None)
    if isinstance(trunk, B.Trunk):
        pairs, name = list(zip(trunk.stage_names, trunk.stages)), trunk.name
    elif isinstance(getattr(source, "features", None), nn.Sequential):
        pairs, name = _small_cnn_stages(source.features), type(source).__name__
    else:
        raise TypeError(f"cannot find stages in {type(source).__name__}: give a backbone name, a Backbone, a Trunk, "
                        f"a model with .trunk, or one with a .features nn.Sequential")
    prep = prep or {"mean": B.IMAGENET_MEAN, "std": B.IMAGENET_STD}
    modules = nn.ModuleList([m for _, m in pairs]).eval()
    strides, channels = _probe(modules)
    return Stages(name, tuple(n for n, _ in pairs), modules, tuple(prep["mean"]), tuple(prep["std"]), strides,
                  channels)


@functools.lru_cache(maxsize=8)
def _named_stages(name: str) -> Stages:
    """The ImageNet trunk ``name``, built once per process (weights are read and checked once)."""
    from dl_assign.models import backbones as B

    return stages_of(B.backbone(name, pretrained=True))


def as_rgb_uint8(image) -> np.ndarray:
    """(H, W, 3) uint8 from an (H, W) / (H, W, 1) grey, (H, W, 3) RGB or (H, W, 4) RGBA array or PIL image.

    Floats are read as [0, 1]; RGBA drops its alpha channel; grey is repeated into three channels.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"expected a numeric image, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError("the image holds NaN or infinite values")
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) else 1.0
        arr = np.clip(np.rint(arr.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    arr = np.ascontiguousarray(arr)
    return arr if arr.flags.writeable else arr.copy()  # torch.from_numpy warns on read-only (PIL's) arrays


def working_size(shape: tuple[int, int], input_size: int | None) -> tuple[int, int]:
    """The (H, W) the network sees: shorter side scaled to ``input_size`` (None: the image's own size)."""
    h, w = shape
    if not input_size:
        return h, w
    s = input_size / min(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def to_batch(images: Sequence[np.ndarray], size: tuple[int, int], mean, std) -> torch.Tensor:
    """Same-shape uint8 (H, W, 3) images -> the normalised (B, 3, h, w) float batch at ``size``."""
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W)
    if tuple(x.shape[-2:]) != tuple(size):
        x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s
