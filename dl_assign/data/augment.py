"""Batch-wise augmentation on tensors: one call per mini-batch, no per-sample Python loop."""

from __future__ import annotations

import torch


class RandomShiftFlip:
    """Random translation by up to ``pad`` pixels (zero fill) and horizontal flip, for (B, C, H, W).

    Every image gets its own shift and flip, drawn from the global torch RNG (seeded per run).
    Zero is the background after standardisation only if ``fill`` says so: pass the value a
    black pixel has in the model's input scale.
    """

    def __init__(self, pad: int = 2, flip: bool = True, fill: float = 0.0):
        self.pad, self.flip, self.fill = pad, flip, fill

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        b, c, h, w = x.shape
        if self.flip:
            flip = torch.rand(b) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if self.pad <= 0:
            return x
        p = self.pad
        padded = torch.nn.functional.pad(x, (p, p, p, p), value=self.fill)  # (B, C, H+2p, W+2p)
        dy = torch.randint(0, 2 * p + 1, (b,))
        dx = torch.randint(0, 2 * p + 1, (b,))
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
        batch = torch.arange(b)[:, None, None, None]
        chans = torch.arange(c)[None, :, None, None]
        return padded[batch, chans, rows, cols]
