"""A small VGG-style CNN for training from scratch on small RGB images."""

from __future__ import annotations

from torch import nn


class SmallCNN(nn.Module):
    """[Conv3x3-BN-ReLU x convs_per_stage -> MaxPool] per stage, global average pool, dropout, head."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (32, 64, 128, 256),
                 in_channels: int = 3, dropout: float = 0.3, convs_per_stage: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            for _ in range(convs_per_stage):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, n_classes))

    def forward(self, x):  # (B, 3, H, W) -> (B, n_classes)
        return self.head(self.features(x))
