"""Image pre-processing shared by every model (NumPy only, so the NumPy MLP can use it)."""

from __future__ import annotations

import numpy as np

# Fashion-MNIST pixel statistics on [0, 1] (the EDA recomputes and checks them)
FASHION_MEAN = 0.2860
FASHION_STD = 0.3530


def to_unit(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 pixels in [0, 255] -> floats in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {images.dtype}")
    return images.astype(dtype) / dtype(255.0)


def flatten(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) -> (N, H*W[*C]), keeping the dtype."""
    images = np.asarray(images)
    return images.reshape(len(images), -1)


def standardize(x: np.ndarray, mean: float = FASHION_MEAN, std: float = FASHION_STD) -> np.ndarray:
    """(x - mean) / std, in x's dtype."""
    return ((x - x.dtype.type(mean)) / x.dtype.type(std)).astype(x.dtype, copy=False)


def for_mlp(images: np.ndarray) -> np.ndarray:
    """The one MLP input pipeline: [0, 1] images (or uint8) -> standardised, flattened rows."""
    images = to_unit(images) if images.dtype == np.uint8 else images
    return flatten(standardize(images))
