"""A deep, narrow MLP whose activation, initialisation, batch norm and dropout are knobs.

Used by the `fashion.theory_*` experiments to make vanishing/exploding gradients, batch norm
and dropout measurable. ``linears`` lists the Linear layers input-first, for per-layer probes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dl_assign.models.mlp import activation

INITS = ("default", "xavier", "he")


class DeepMLP(nn.Module):
    """in -> [Linear -> (BatchNorm1d) -> act -> (Dropout)] * depth -> Linear(out).

    ``init``: ``default`` keeps PyTorch's Linear init (uniform, std = 1/sqrt(3 fan_in));
    ``xavier`` is Glorot normal (for sigmoid/tanh); ``he`` is Kaiming normal for ReLU.
    ``init_gain`` multiplies every initial weight (> 1 makes signals and gradients explode).
    """

    def __init__(self, in_features: int, width: int, depth: int, out_features: int, *, act: str = "relu",
                 init: str = "default", init_gain: float = 1.0, batchnorm: bool = False, dropout: float = 0.0):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_features
        for _ in range(depth):
            layers.append(nn.Linear(fan_in, width, bias=not batchnorm))  # BN's shift replaces the bias
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        layers.append(nn.Linear(fan_in, out_features))
        self.net = nn.Sequential(*layers)
        self._init_weights(init, init_gain)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, input layer first, head last."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def _init_weights(self, init: str, gain: float) -> None:
        for linear in self.linears:
            if init == "xavier":
                nn.init.xavier_normal_(linear.weight)
            elif init == "he":
                nn.init.normal_(linear.weight, 0.0, math.sqrt(2.0 / linear.in_features))
            if init != "default" and linear.bias is not None:
                nn.init.zeros_(linear.bias)
            linear.weight.mul_(gain)

    def forward(self, x):  # (B, ...) -> (B, out)
        return self.net(x)
