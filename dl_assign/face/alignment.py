"""Alignment: a similarity transform (rotation, uniform scale, shift) taking a face's 5 landmarks onto
:data:`TEMPLATE`, warped into a ``size`` x ``size`` crop framed like UTKFace's "aligned & cropped" chips.

:data:`TEMPLATE` is where the five points lie in a UTKFace chip, as fractions of its side: the mean of
dlib's 68-point landmarks (reduced to 5 as in ``detection``) over 300 UTKFace train chips (split 0, seeded
draw; dlib HOG found 287; per-point std 0.012 to 0.036 of the side). MTCNN on the same chips padded by
half a side (it needs context around a face that fills the image) puts them within 0.01 of these on
average (eyes 0.301/0.694 at y 0.292, mouth corners 0.317/0.672 at 0.694). The gender models were trained
on such chips, so a crop aligned to this template reaches them framed as training framed faces. Pixels
outside the image are black, as in dlib's chips.
"""

from __future__ import annotations

import numpy as np

from dl_assign.face.detection import Face

# (x, y) / side: left eye, right eye, nose tip, left mouth corner, right mouth corner (image left/right)
TEMPLATE = np.array([[0.299, 0.298], [0.684, 0.298], [0.490, 0.510], [0.316, 0.692], [0.668, 0.692]])
UTK_CHIP = 200  # UTKFace's chip side (px)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity (Umeyama, no reflection) mapping ``src`` (N, 2) onto ``dst``: (2, 3)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0])
    rot = u @ sign @ vt
    var = (s ** 2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def transform_for(points, size: int) -> np.ndarray:
    """The (2, 3) matrix taking image points to the ``size`` x ``size`` aligned crop."""
    return similarity(np.asarray(points, np.float64).reshape(5, 2), TEMPLATE * size)


def align(image: np.ndarray, face: Face | np.ndarray, size: int = UTK_CHIP) -> np.ndarray:
    """The ``size`` x ``size`` x 3 uint8 crop with ``face``'s landmarks (a Face or (5, 2) points) on the template."""
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    if size < 8:
        raise ValueError(f"size must be at least 8 px, got {size}")
    pts = face.points if isinstance(face, Face) else np.asarray(face, np.float64)
    m = transform_for(pts, size)
    return cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
