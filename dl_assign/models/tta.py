"""Test-time augmentation as a module: average a classifier's probabilities over image mirrors."""

from __future__ import annotations

import torch
from torch import nn


class FlipTTA(nn.Module):
    """Mean of the class probabilities for ``x`` and its left-right mirror; returns their log.

    The output is a log-probability, so ``argmax`` is the averaged prediction and a cross-entropy
    loss on it is the negative log-likelihood of the averaged distribution. The wrapped model is
    shared, not copied: its parameters, device and train/eval mode are the wrapper's.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, n_classes)
        p = self.model(x).float().softmax(1) + self.model(x.flip(3)).float().softmax(1)
        return (0.5 * p).log()
