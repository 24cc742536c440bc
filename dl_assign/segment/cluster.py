"""Clustering vectors into segments: K-means, DBSCAN with eps from the k-distance curve, K by silhouette,
and grid labels upsampled to the image. Shared by the CNN segmenter and the baselines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

NOISE = -1  # DBSCAN's label for points in no cluster; drawn in its own colour


class NoClusters(RuntimeError):
    """Raised only on request (``strict=True``); by default DBSCAN finding only noise is a reported status."""


@dataclass
class Clustering:
    """Labels of the vectors (NOISE = -1 for DBSCAN noise) and what the run found."""

    labels: np.ndarray  # (n,) int
    n_clusters: int  # noise not counted
    method: str
    k_scores: dict[int, float] = field(default_factory=dict)  # K -> silhouette (K-means with K chosen)
    eps: float | None = None  # DBSCAN's radius
    min_samples: int | None = None

    @property
    def noise_fraction(self) -> float:
        return float(np.mean(self.labels == NOISE))

    @property
    def only_noise(self) -> bool:
        return self.n_clusters == 0

    @property
    def status(self) -> str:
        if self.only_noise:
            return f"DBSCAN found only noise (eps={self.eps:.4g}, min_samples={self.min_samples}): no segment"
        return "ok"


def check_k(k: int, n_vectors: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"n_segments must be an integer >= 2 or 'auto', got {k!r}")
    if k < 2:
        raise ValueError(f"n_segments={k}: need at least 2 segments")
    if k > n_vectors:
        raise ValueError(f"n_segments={k} is larger than the number of feature vectors ({n_vectors}); "
                         f"use a larger image or input_size, an earlier layer, or fewer segments")


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Clusters renumbered 0, 1, ... from the largest down (ties: the lower old label first); noise stays -1."""
    out = labels.copy()
    keep = labels != NOISE
    values, counts = np.unique(labels[keep], return_counts=True)
    order = values[np.lexsort((values, -counts))]
    lut = np.full(int(values.max()) + 1 if len(values) else 1, NOISE, dtype=np.int64)
    lut[order] = np.arange(len(order))
    out[keep] = lut[labels[keep]]
    return out


def kmeans(x: np.ndarray, k: int, *, n_init: int = 1, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    check_k(k, len(x))
    labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
    return relabel_by_size(labels.astype(np.int64))


def silhouette(x: np.ndarray, labels: np.ndarray, *, sample_size: int = 1000, seed: int = 0) -> float:
    """scikit-learn's silhouette on a seeded sample of at most ``sample_size`` vectors; noise left out.

    NaN when fewer than 2 clusters (or fewer than 2 vectors) remain: the score is undefined there.
    """
    from sklearn.metrics import silhouette_score

    keep = labels != NOISE
    x, labels = x[keep], labels[keep]
    n_labels = len(np.unique(labels))
    if n_labels < 2 or n_labels >= len(x):
        return math.nan
    size = min(sample_size, len(x))
    if size < len(x):  # a seeded sample that still holds two clusters (draw until it does)
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(x), size, replace=False)
        if len(np.unique(labels[idx])) < 2:
            return math.nan
        x, labels = x[idx], labels[idx]
    return float(silhouette_score(x, labels))


def choose_k(x: np.ndarray, k_range: tuple[int, int], *, n_init: int = 1, seed: int = 0,
             sample_size: int = 1000) -> Clustering:
    """K-means for every K in ``k_range`` (inclusive, capped at the number of vectors - 1); the best silhouette wins."""
    lo, hi = k_range
    check_k(lo, len(x))
    hi = max(lo, min(hi, len(x) - 1))
    best, scores = None, {}
    for k in range(lo, hi + 1):
        labels = kmeans(x, k, n_init=n_init, seed=seed)
        score = silhouette(x, labels, sample_size=sample_size, seed=seed)
        scores[k] = score
        if best is None or (not math.isnan(score) and (math.isnan(best[0]) or score > best[0])):
            best = (score, k, labels)
    return Clustering(best[2], len(np.unique(best[2])), "kmeans", scores)


def knee(values: np.ndarray) -> int:
    """Index of the knee of an increasing curve: the point farthest from the chord joining its ends
    (both axes scaled to [0, 1]: the 'kneedle' rule)."""
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n < 3 or y[-1] == y[0]:
        return n - 1
    t = np.linspace(0.0, 1.0, n)
    u = (y - y[0]) / (y[-1] - y[0])
    return int(np.argmax(t - u))  # distance below the chord (up to a constant factor) of a convex curve


def kdistance_eps(x: np.ndarray, min_samples: int) -> tuple[float, np.ndarray]:
    """DBSCAN's eps read off the sorted k-distance curve (k = ``min_samples``) at its knee; returns (eps, curve)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(min_samples, len(x))
    dist, _ = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)  # column 0 is the point itself
    curve = np.sort(dist[:, -1])
    eps = float(curve[knee(curve)])
    return max(eps, 1e-12), curve


EPS_QUANTILES = tuple(np.linspace(0.1, 0.9, 9))  # where eps_rule="silhouette" reads the k-distance curve


def dbscan(x: np.ndarray, *, min_samples: int = 10, eps: float | None = None, eps_rule: str = "silhouette",
           max_noise: float = 0.5, sample_size: int = 1000, seed: int = 0, strict: bool = False) -> Clustering:
    """DBSCAN with eps read off the sorted k-distance curve (k = ``min_samples``) unless ``eps`` is given.

    ``eps_rule="knee"``: the curve's knee (the textbook rule). ``"silhouette"``: the curve's 10%, 20%, ...,
    90% quantiles are tried and the eps with the best silhouette wins among those giving >= 2 clusters
    and at most ``max_noise`` noise (the knee when none does). Measured on 14 Tiny-ImageNet and skimage
    photos (EfficientNet-Lite0 features, stride 8 and 16): the knee merged everything into one cluster
    (+ noise) on 13-14 of 14 images at min_samples 10; a scan of 19 quantiles found 2-8 clusters with about
    35 % noise (9 quantiles: half the time; DBSCAN dominated the experiment's run time).
    Only noise is a status, not a crash (``strict=True`` raises NoClusters instead).
    """
    from sklearn.cluster import DBSCAN

    if eps_rule not in ("knee", "silhouette"):
        raise ValueError(f"eps_rule must be 'knee' or 'silhouette', got {eps_rule!r}")

    def run(e: float) -> Clustering:
        labels = relabel_by_size(DBSCAN(eps=e, min_samples=min_samples).fit_predict(x).astype(np.int64))
        return Clustering(labels, len(np.unique(labels[labels != NOISE])), "dbscan", eps=e, min_samples=min_samples)

    if eps is not None:
        result = run(float(eps))
    else:
        knee_eps, curve = kdistance_eps(x, min_samples)
        result = None
        if eps_rule == "silhouette":
            best = -math.inf
            for e in sorted({float(np.quantile(curve, q)) for q in EPS_QUANTILES}):
                trial = run(max(e, 1e-12))
                if trial.n_clusters < 2 or trial.noise_fraction > max_noise:
                    continue
                score = silhouette(x, trial.labels, sample_size=sample_size, seed=seed)
                if not math.isnan(score) and score > best:
                    best, result = score, trial
        if result is None:
            result = run(knee_eps)
    if strict and result.only_noise:
        raise NoClusters(result.status)
    return result


def upsample_labels(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) grid labels -> (H, W): one-hot maps resized bilinearly, then the arg-max (smooth boundaries)."""
    values = np.unique(grid)
    if tuple(grid.shape) == tuple(shape):
        return grid.astype(np.int64)
    if len(values) == 1:
        return np.full(shape, values[0], dtype=np.int64)
    index = np.searchsorted(values, grid)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(index), len(values))  # (h, w, L)
    onehot = onehot.permute(2, 0, 1)[None].float()  # (1, L, h, w)
    up = torch.nn.functional.interpolate(onehot, size=tuple(shape), mode="bilinear", align_corners=False)
    return values[up[0].argmax(0).numpy()].astype(np.int64)  # (H, W)


def nearest_resize(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) -> (H, W) by nearest neighbour (pixel centres), by indexing: for id maps with many labels."""
    h, w = grid.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * h / shape[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * w / shape[1]).astype(np.int64), w - 1)
    return grid[rows[:, None], cols[None, :]]
