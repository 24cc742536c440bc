"""A configurable CNN for 64x64 ImageNet-style images: the six knobs of the Module 4 study in one module.

Stages of ``convs_per_stage`` 3x3 convs (``widths[s]`` filters each, BatchNorm optional, ReLU); after a
stage, a 2x2 max pool if ``pool[s]`` is true, else (for every stage but the last) the next stage's
first conv has stride 2, so switching pooling off changes *how* the map is reduced, not how much
(the convolutions' FLOPs are the same; after the last stage there is no next conv, so its map is left
for the average pool). The very first conv has stride ``stride`` (2 at 64 px: the map is 32x32
from the start, a quarter of the compute). The map is average-pooled to ``grid`` x ``grid`` and
flattened into ``len(fc_widths) + 1`` fully connected layers (hidden ReLU + dropout, then the classifier).
"""

from __future__ import annotations

from torch import nn


class ImageNetCNN(nn.Module):
    """conv stages -> adaptive average pool (grid x grid) -> FC layers; see the module docstring."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (32, 64, 128, 256), convs_per_stage: int = 1,
                 pool: tuple[bool, ...] = (True, True, True, True), stride: int = 2,
                 fc_widths: tuple[int, ...] = (), dropout: float = 0.3, batchnorm: bool = True, grid: int = 1,
                 in_channels: int = 3):
        super().__init__()
        widths, pool, fc_widths = tuple(widths), tuple(bool(p) for p in pool), tuple(fc_widths)
        if len(pool) != len(widths):
            raise ValueError(f"pool has {len(pool)} entries but there are {len(widths)} stages (widths {widths})")
        if convs_per_stage < 1 or stride < 1 or grid < 1:
            raise ValueError(f"convs_per_stage, stride and grid must be >= 1, got {convs_per_stage}, {stride}, {grid}")
        layers: list[nn.Module] = []
        c, next_stride = in_channels, stride
        for s, w in enumerate(widths):
            for _ in range(convs_per_stage):
                layers += [nn.Conv2d(c, w, 3, stride=next_stride, padding=1, bias=not batchnorm)]
                if batchnorm:
                    layers.append(nn.BatchNorm2d(w))
                layers.append(nn.ReLU(inplace=True))
                c, next_stride = w, 1
            if pool[s]:
                layers.append(nn.MaxPool2d(2))
            elif s < len(widths) - 1:
                next_stride = 2  # no pooling: the next stage's first conv reduces the map instead
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.AdaptiveAvgPool2d(grid), nn.Flatten()]
        d = c * grid * grid
        for h in fc_widths:
            head += [nn.Dropout(dropout), nn.Linear(d, h), nn.ReLU(inplace=True)]
            d = h
        head += [nn.Dropout(dropout), nn.Linear(d, n_classes)]
        self.head = nn.Sequential(*head)

    @property
    def conv_layers(self) -> int:
        return sum(isinstance(m, nn.Conv2d) for m in self.features)

    @property
    def fc_layers(self) -> int:
        return sum(isinstance(m, nn.Linear) for m in self.head)

    def forward(self, x):  # (B, 3, H, W) -> (B, n_classes)
        return self.head(self.features(x))
