"""Binary gender-recognition networks (seed 003): the seed's baseline CNN (its Fig. 1), an improved CNN,
and a frozen pretrained trunk with new fully connected layers.

Each network ends in ONE output unit ``z`` (the seed's sigmoid output) followed by :class:`OneLogit`,
which hands the one loop and the web app the pair ``[0, z]``: its softmax is ``(1 - sigmoid(z),
sigmoid(z))`` and cross-entropy on it equals binary cross-entropy on ``sigmoid(z)`` exactly, so
``engine.fit`` trains the seed's sigmoid + BCE model and counts its accuracy, unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class OneLogit(nn.Module):
    """(B, 1) logit z -> (B, 2) logits [0, z]: softmax = (1 - sigmoid(z), sigmoid(z)); no parameters."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, 1) -> (B, 2)
        return torch.cat([torch.zeros_like(z), z], dim=1)


def baseline_cnn(image_size: int = 100, filters: int = 16, hidden: int = 64) -> nn.Sequential:
    """The seed's Fig. 1: [conv 3x3 (16, valid) + ReLU, max pool 2x2 stride 1] x 2, FC 64 + ReLU, FC 1 + sigmoid."""
    side = baseline_side(image_size)
    return nn.Sequential(
        nn.Conv2d(3, filters, 3), nn.ReLU(), nn.MaxPool2d(2, stride=1),  # (B, 16, S-3, S-3)
        nn.Conv2d(filters, filters, 3), nn.ReLU(), nn.MaxPool2d(2, stride=1),  # (B, 16, S-6, S-6)
        nn.Flatten(), nn.Linear(filters * side * side, hidden), nn.ReLU(),  # (B, 64)
        nn.Linear(hidden, 1), OneLogit(),  # (B, 1) -> (B, 2)
    )


def baseline_side(image_size: int) -> int:
    """Feature-map side after the baseline's two (valid 3x3 conv, 2x2 stride-1 pool) pairs: S - 6."""
    if image_size < 7:
        raise ValueError(f"the baseline needs images of at least 7x7, got {image_size}")
    return image_size - 6


def baseline_param_count(image_size: int = 100, filters: int = 16, hidden: int = 64) -> int:
    """By formula: 2 convs (9 c_in f + f), FC (f (S-6)^2 + 1) x hidden, output hidden + 1."""
    side = baseline_side(image_size)
    conv1 = 9 * 3 * filters + filters
    conv2 = 9 * filters * filters + filters
    fc = (filters * side * side + 1) * hidden
    return conv1 + conv2 + fc + hidden + 1


class ImprovedCNN(nn.Module):
    """[Conv3x3-BN-ReLU x convs -> MaxPool 2] per stage, average pool to a ``grid`` x ``grid`` map, dropout,
    FC 1 (+ OneLogit).

    What changes against the baseline: depth (4-5 stages, receptive field over the whole face),
    BatchNorm, downsampling pools (stride 2), and a small pooled map (``faces.gender_improved``: 3x3x256
    = 2,304 features; the earlier recipe 6x6x192) instead of a 141k-wide flatten into the FC layer (the
    baseline's 9M parameters, 99.97 % of them in that layer), dropout. The map keeps *where* a feature
    is: the faces are aligned, and a global average pool (``grid=1``) measured much worse (validation
    AUC 0.801 vs 0.917 at grid 6; 1,500 training faces, 4 epochs, AdamW).
    """

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 192), convs_per_stage: int = 1,
                 dropout: float = 0.3, grid: int = 6):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in widths:
            for _ in range(convs_per_stage):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c * grid * grid, 1), OneLogit())  # (B, C, g, g) -> (B, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 2)
        return self.head(self.features(x))


class DenseHead(nn.Module):
    """Own fully connected layers on frozen trunk features: [FC + ReLU + dropout] per hidden width, FC 1."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (256,), dropout: float = 0.3):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        c = in_features
        for h in hidden:
            layers += [nn.Linear(c, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            c = h
        layers += [nn.Linear(c, 1), OneLogit()]
        self.layers = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, 2)
        return self.layers(h)


class FrozenTrunkClassifier(nn.Module):
    """A pretrained trunk run through block ``n_frozen`` (frozen, eval mode), pooled, then a :class:`DenseHead`.

    ``features(x)`` is the frozen part (what the feature cache stores); ``forward(x) = head(features(x))``.
    """

    def __init__(self, trunk: nn.Module, n_frozen: int, feature_dim: int, hidden: tuple[int, ...] = (256,),
                 dropout: float = 0.3):
        super().__init__()
        self.trunk, self.n_frozen = trunk, n_frozen
        self.trunk.requires_grad_(False)
        self.head = DenseHead(feature_dim, hidden, dropout)

    def train(self, mode: bool = True):
        super().train(mode)
        self.trunk.eval()  # frozen: BatchNorm statistics and dropout stay as trained on ImageNet
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, D)
        h = self.trunk.run(x, 0, self.n_frozen)
        return nn.functional.adaptive_avg_pool2d(h, 1).flatten(1) if h.ndim == 4 else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 2)
        return self.head(self.features(x))
