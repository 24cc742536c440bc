"""Batch-wise augmentation on tensors: one call per mini-batch, no per-sample Python loop."""

from __future__ import annotations

import math

import torch

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Normalize:
    """uint8 (B, 3, H, W) -> float32 in [0, 1], then (x - mean) / std per channel."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - self.mean) / self.std


class Compose:
    """Batch transforms applied in order."""

    def __init__(self, *fns):
        self.fns = fns

    def __call__(self, x):
        for fn in self.fns:
            x = fn(x)
        return x


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


class RandomResizedCropFlip:
    """Random-resized crop (Inception-style) and horizontal flip of a whole (B, C, H, W) batch at once.

    Each image gets its own crop: a fraction ``scale`` of its area and an aspect ratio in ``ratio``
    (log-uniform), at a uniformly random position inside the image, resized back to H x W
    (bilinear), mirrored with probability 1/2. One ``affine_grid`` + ``grid_sample`` call does all
    of it (the flip is a negative x scale), so the cost is one bilinear resample of the batch, not a
    Python loop over images. Random numbers come from the global torch RNG (seeded per run; the
    training loop checkpoints it) or from ``generator``.
    """

    def __init__(self, scale: tuple[float, float] = (0.5, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 flip: bool = True):
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}")
        self.scale, self.ratio, self.flip = scale, ratio, flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b = x.shape[0]
        if not x.is_floating_point():
            raise TypeError(f"expected a float batch (resampling mixes pixels), got {x.dtype}")
        u = torch.rand(b, 4, generator=generator)  # (B, 4): area, log-ratio, x position, y position
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        lo, hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        ratio = torch.exp(lo + (hi - lo) * u[:, 1])  # width / height of the crop
        sw = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width as a fraction of W
        sh = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (1 - sw) * (2 * u[:, 2] - 1)  # crop centre in [-1, 1] coordinates, the crop inside the image
        cy = (1 - sh) * (2 * u[:, 3] - 1)
        sx = sw
        if self.flip:
            sx = torch.where(torch.rand(b, generator=generator) < 0.5, -sw, sw)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, sh, cy
        grid = torch.nn.functional.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return torch.nn.functional.grid_sample(x, grid.to(x.device), mode="bilinear", padding_mode="reflection",
                                               align_corners=False)  # (B, C, H, W)


class PickView:
    """Batch transform for (B, K, ...) cached views (features of K fixed views of each sample): one view
    per sample, drawn from the torch RNG."""

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:  # (B, K, ...) -> (B, ...)
        pick = torch.randint(0, xb.shape[1], (xb.shape[0],))
        return xb[torch.arange(xb.shape[0]), pick]


AUGMENTS = ("shift", "flip", "rrc", "none")


def train_transform(augment: str, *, pad: int, crop_scale: float = 0.7, choices=AUGMENTS):
    """THE training batch transform of every family: normalise, then ``augment`` (one of ``choices``).

    ``shift``: random translation by up to ``pad`` px (mean-colour fill, 0 after normalising) + flip;
    ``flip``: flips only; ``rrc``: random-resized crop (area ``crop_scale``..1, aspect 3/4..4/3) + flip;
    ``none``: nothing.
    """
    if augment not in choices:
        raise ValueError(f"unknown augment {augment!r}; choose {', '.join(choices[:-1])} or {choices[-1]}")
    norm = Normalize()
    if augment == "shift":
        return Compose(norm, RandomShiftFlip(pad, flip=True, fill=0.0))
    if augment == "flip":
        return Compose(norm, RandomShiftFlip(0, flip=True))
    if augment == "rrc":
        return Compose(norm, RandomResizedCropFlip(scale=(crop_scale, 1.0)))
    return norm
