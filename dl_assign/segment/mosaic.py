"""Seeded mosaics with known regions: 2-4 real images or textures, each filling one Voronoi cell.

``mosaic(sources, size, seed)`` -> (image (size, size, 3) uint8, regions (size, size) int): region r
holds source r, resized to the mosaic; the cells come from seeded points at least ``0.35 * size`` apart,
so every region is a convex patch of a sizeable fraction of the image. ``textures()`` are scikit-image's
bundled brick, grass and gravel photos (grey, as RGB) plus two seeded colour fields.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dl_assign.segment.features import as_rgb_uint8


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    x = torch.from_numpy(as_rgb_uint8(image)).permute(2, 0, 1)[None].float()
    y = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def voronoi_regions(n: int, size: int, seed: int, min_dist: float = 0.35) -> np.ndarray:
    """(size, size) int map of ``n`` Voronoi cells around seeded points (rejection-sampled, ``min_dist`` apart)."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        pts = rng.uniform(0.1, 0.9, size=(n, 2))
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(n)
        if d.min() >= min_dist:
            break
    c = (np.arange(size) + 0.5) / size
    grid = np.stack(np.meshgrid(c, c, indexing="ij"), -1)  # (S, S, 2) as (y, x)
    return np.argmin(np.linalg.norm(grid[:, :, None, :] - pts[None, None], axis=-1), axis=-1).astype(np.int64)


def mosaic(sources: Sequence[np.ndarray], size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The mosaic of 2-4 ``sources`` and its region map (region r = source r)."""
    if not 2 <= len(sources) <= 4:
        raise ValueError(f"a mosaic takes 2 to 4 sources, got {len(sources)}")
    regions = voronoi_regions(len(sources), size, seed)
    tiles = np.stack([resize_rgb(s, (size, size)) for s in sources])  # (n, S, S, 3)
    rows, cols = np.indices((size, size))
    return tiles[regions, rows, cols], regions


def textures(size: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Named (size, size, 3) uint8 textures: skimage's brick, grass, gravel, and two seeded colour fields."""
    from skimage import data

    out = {name: resize_rgb(getattr(data, name)(), (size, size)) for name in ("brick", "grass", "gravel")}
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((size, size)) / size
    stripes = (0.5 + 0.5 * np.sin(2 * np.pi * 8 * (xx + 0.3 * yy)))[..., None] * np.array([230, 60, 40])
    out["red_stripes"] = np.clip(stripes + rng.normal(0, 8, stripes.shape), 0, 255).astype(np.uint8)
    blobs = rng.normal(0, 1, (size // 8, size // 8))
    blobs = np.kron(blobs, np.ones((8, 8)))[..., None] * np.array([20, 40, 60]) + np.array([40, 90, 200])
    out["blue_blobs"] = np.clip(blobs, 0, 255).astype(np.uint8)
    return out
