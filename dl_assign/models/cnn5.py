"""A configurable CNN with exactly five Conv2d layers, each followed by ReLU, plus ``init_weights``.

Layout: ``features`` = 5 x [Conv2d(k, 'same' padding) -> BatchNorm? -> ReLU -> Pool2x2?]; then
``neck`` turns the last feature map into one vector per image (flatten, global average or global
max pooling); ``head`` = Dropout? -> Linear(n_classes). ``embed(x)`` is ``neck(features(x))``, the
network with its top removed: the vector the CNN-features-into-NumPy-MLP study and the attention
helper consume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

N_CONV = 5
PoolKind = Literal["max", "avg", "none"]
NeckKind = Literal["flatten", "gap", "gmp"]
InitScheme = Literal["default", "normal", "xavier", "he"]


def filter_schedule(filters: str | Sequence[int], base: int = 32,
                    pool_after: Sequence[int] = (1, 3)) -> tuple[int, ...]:
    """The five conv widths.

    ``"constant"``: ``base`` everywhere. ``"doubling"``: ``base`` doubled after every pooling
    (VGG's rule: halve the resolution, double the channels), e.g. (32, 32, 64, 64, 128) for
    pools after layers 1 and 3. An explicit list (or ``"16,32,64,64,128"``) is taken as is.
    """
    if isinstance(filters, str) and filters not in ("constant", "doubling"):
        filters = [int(s) for s in filters.replace(" ", "").strip("()[]").split(",") if s]
    if isinstance(filters, str):
        if filters == "constant":
            return (base,) * N_CONV
        return tuple(base * 2 ** sum(p < i for p in pool_after) for i in range(N_CONV))
    widths = tuple(int(w) for w in filters)
    if len(widths) != N_CONV or min(widths) < 1:
        raise ValueError(f"an explicit filter list needs {N_CONV} positive widths, got {widths}")
    return widths


class CNN5(nn.Module):
    """Five 'same'-padded convolutions (each + optional BatchNorm + ReLU) and a linear classifier.

    ``pool`` ('max'/'avg'/'none') is the 2x2 pooling inserted after each conv index listed in
    ``pool_after`` (0-based); ``neck`` reduces the last map: 'flatten' (keeps positions, like the
    classic LeNet/VGG top), 'gap' (global average pooling) or 'gmp' (global max pooling).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, *, image_size: int = 28,
                 kernel_size: int = 3, filters: str | Sequence[int] = "doubling", base_width: int = 32,
                 pool: PoolKind = "max", pool_after: Sequence[int] = (1, 3), neck: NeckKind = "gap",
                 batch_norm: bool = True, dropout: float = 0.0, conv_dropout: float = 0.0):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd ('same' padding), got {kernel_size}")
        if any(not 0 <= p < N_CONV for p in pool_after):
            raise ValueError(f"pool_after indexes the {N_CONV} conv layers (0..{N_CONV - 1}), got {pool_after}")
        if pool not in ("max", "avg", "none") or neck not in ("flatten", "gap", "gmp"):
            raise ValueError(f"unknown pool {pool!r} or neck {neck!r}")
        self.widths = filter_schedule(filters, base_width, pool_after)
        layers: list[nn.Module] = []
        c, size = in_channels, image_size
        for i, w in enumerate(self.widths):
            layers.append(nn.Conv2d(c, w, kernel_size, padding=kernel_size // 2, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.ReLU(inplace=True))
            if i in pool_after and pool != "none":
                layers.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                size //= 2
            if conv_dropout > 0 and i < N_CONV - 1:
                layers.append(nn.Dropout2d(conv_dropout))
            c = w
        self.features = nn.Sequential(*layers)
        if neck == "flatten":
            self.neck = nn.Flatten()
            self.embed_dim = c * size * size
        else:
            pool_layer = nn.AdaptiveAvgPool2d(1) if neck == "gap" else nn.AdaptiveMaxPool2d(1)
            self.neck = nn.Sequential(pool_layer, nn.Flatten())
            self.embed_dim = c
        self.feature_size = size  # side of the last feature map
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.embed_dim, n_classes)) if dropout > 0 \
            else nn.Linear(self.embed_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, embed_dim)
        return self.neck(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, n_classes)
        return self.head(self.embed(x))


def conv_layers(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@torch.no_grad()
def init_weights(model: nn.Module, scheme: InitScheme = "he", *, std: float = 0.01) -> nn.Module:
    """Re-initialise every Conv/Linear weight of any model in place; biases to zero.

    ``normal``: N(0, std^2) whatever the layer's fan-in (the 'random' baseline of the seed
    questions; 0.01 is the classic AlexNet value). ``xavier``: Glorot normal, variance
    2 / (fan_in + fan_out), keeps the signal's variance for linear/tanh units. ``he``:
    Kaiming normal (fan_in, ReLU gain), variance 2 / fan_in, keeps it through ReLU.
    ``default`` leaves PyTorch's own initialisation. BatchNorm goes back to weight 1, bias 0.
    """
    if scheme not in ("default", "normal", "xavier", "he"):
        raise ValueError(f"unknown init scheme {scheme!r}; choose normal, xavier, he or default")
    if scheme == "default":
        return model
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            if scheme == "normal":
                nn.init.normal_(m.weight, 0.0, std)
            elif scheme == "xavier":
                nn.init.xavier_normal_(m.weight)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def count_flops_per_image(model: nn.Module, image_shape: tuple[int, int, int] = (1, 28, 28)) -> dict[str, float]:
    """Forward multiply-add FLOPs (2 per MAC) of the convolutions and linear layers, analytically.

    Training costs ~3x this (forward, input-gradient and weight-gradient products); the first
    conv's input gradient is not needed, which the 3x rule ignores (< 1 % here). Checked against
    ``torch.utils.flop_counter`` in the tests.
    """
    flops = {"conv": 0.0, "linear": 0.0}
    hooks = []

    def conv_hook(m, inp, out):
        k = math.prod(m.kernel_size) * m.in_channels // m.groups
        flops["conv"] += 2.0 * k * out[0].numel()

    def linear_hook(m, inp, out):
        flops["linear"] += 2.0 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters())
            model(torch.zeros(1, *image_shape, device=p.device, dtype=p.dtype))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    flops["forward"] = flops["conv"] + flops["linear"]
    flops["train"] = 3.0 * flops["forward"]
    return flops
