"""``FeatureSegmenter``: segment an image by clustering the feature vectors of a CNN cut at one stage.

Steps, batched over images (the trunk runs once per batch of same-size images; nothing loops over
pixels in Python):

1. the image as (H, W, 3) uint8 (grey and RGBA converted), shorter side resized to ``input_size``,
   normalised as the network expects, run to ``layer``: a (C, h, w) map;
2. flattened to h*w vectors of C features, standardised, reduced with PCA to ``n_components``;
   optionally the scaled (x, y) position and the CIE Lab colour of each cell appended: each block
   (features, position, colour) is scaled to unit total variance, then weighted
   (``position_weight``, ``colour_weight``; the features' weight is 1);
3. clustered: K-means (``n_segments`` fixed, or ``"auto"``: K in ``k_range`` by silhouette) or DBSCAN
   (``eps`` from the knee of the k-distance curve unless given; noise is label -1);
4. grid labels upsampled to (H, W) (one-hot maps resized bilinearly, then the arg-max).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin

from dl_assign.segment import cluster as C
from dl_assign.segment import features as F


@dataclass
class Vectors:
    """One image's clustering input: (n, D) vectors on an (h, w) grid for an (H, W) image."""

    x: np.ndarray
    grid: tuple[int, int]
    shape: tuple[int, int]
    index: np.ndarray | None = None  # (H, W) vector index of each pixel, when vectors are regions (superpixels)


def _block(v: np.ndarray) -> np.ndarray:
    """Centred and scaled to unit total variance (sum over columns)."""
    v = v - v.mean(0, keepdims=True)
    total = float((v ** 2).sum(1).mean())
    return v / np.sqrt(total) if total > 0 else v


def _position(h: int, w: int) -> np.ndarray:
    yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], 1)  # (h*w, 2) in [0, 1]


def _lab(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """(h*w, 3) CIE Lab colour of each feature cell (the image area-averaged to the grid)."""
    from skimage.color import rgb2lab

    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    small = torch.nn.functional.interpolate(x, size=(h, w), mode="area")[0].permute(1, 2, 0).numpy()
    return rgb2lab(np.clip(small, 0, 1)).reshape(-1, 3)


def project(feats: np.ndarray, n_components: int) -> np.ndarray:
    """(n, C) -> standardised, then PCA to at most ``n_components``: (n, d).

    PCA by the eigenvectors of the C x C covariance in torch float64 (signs fixed: each component's
    largest loading is positive, so the result is deterministic). Not scikit-learn's SVD: on a busy
    2-core machine OpenBLAS's threaded SVD of a 196 x 112 matrix took 1.06 s, this 8 ms.
    """
    std = feats.std(0)  # population std: z-scoring statistics of these features, StandardScaler's convention
    z = (feats - feats.mean(0)) / np.where(std > 1e-8, std, 1.0)
    d = min(n_components, z.shape[0] - 1, z.shape[1])
    if d < 1 or d >= z.shape[1]:
        return z
    zt = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float64))
    cov = zt.T @ zt / max(1, len(zt) - 1)  # (C, C)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    top = vecs[:, -d:].flip(1)  # (C, d), largest first
    sign = torch.sign(top.gather(0, top.abs().argmax(0, keepdim=True)))
    return (zt @ (top * sign)).numpy()


def assemble(feats: np.ndarray, image: np.ndarray, grid: tuple[int, int], *, n_components: int,
             position_weight: float, colour_weight: float) -> np.ndarray:
    """The clustering vectors of one image: PCA'd features (+ weighted position and colour blocks)."""
    parts = [_block(project(feats, n_components))]
    if position_weight > 0:
        parts.append(position_weight * _block(_position(*grid)))
    if colour_weight > 0:
        parts.append(colour_weight * _block(_lab(image, *grid)))
    return np.concatenate(parts, 1).astype(np.float64)


class BaseSegmenter(ClusterMixin, BaseEstimator):
    """What every segmenter here shares: ``vectors(images)`` (per subclass), clustering, label maps.

    ``fit(image)`` returns self; ``fit_predict(image)`` the (H, W) labels; ``fit_predict_many`` a list.
    Subclasses define ``vectors`` and the parameters ``method``, ``n_segments``, ``k_range``,
    ``min_samples``, ``eps``, ``eps_rule``, ``n_init``, ``sample_size``, ``random_state``.
    """

    def vectors(self, images: Sequence) -> list[Vectors]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_params(self) -> None:
        if self.method not in ("kmeans", "dbscan"):
            raise ValueError(f"method must be 'kmeans' or 'dbscan', got {self.method!r}")
        if self.method == "kmeans" and self.n_segments != "auto":
            C.check_k(self.n_segments, np.iinfo(np.int64).max)
        lo, hi = self.k_range
        if lo < 2 or hi < lo:
            raise ValueError(f"k_range={self.k_range}: need 2 <= low <= high")
        if self.min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {self.min_samples}")

    def cluster(self, v: Vectors, n_segments=None) -> C.Clustering:
        """Cluster one image's vectors with this segmenter's method (``n_segments`` overrides the K)."""
        k = self.n_segments if n_segments is None else n_segments
        if self.method == "dbscan":
            return C.dbscan(v.x, min_samples=self.min_samples, eps=self.eps, eps_rule=self.eps_rule,
                            sample_size=self.sample_size, seed=self.random_state)
        if k == "auto":
            return C.choose_k(v.x, tuple(self.k_range), n_init=self.n_init, seed=self.random_state,
                              sample_size=self.sample_size)
        C.check_k(k, len(v.x))
        labels = C.kmeans(v.x, k, n_init=self.n_init, seed=self.random_state)
        return C.Clustering(labels, len(np.unique(labels)), "kmeans")

    def label_map(self, v: Vectors, result: C.Clustering) -> np.ndarray:
        """(H, W) labels of the image from the labels of its vectors."""
        if v.index is not None:  # vectors are regions of a pixel index map (superpixels)
            return result.labels[v.index]
        return C.upsample_labels(result.labels.reshape(v.grid), v.shape)

    def describe(self) -> str:
        return type(self).__name__

    def fit(self, image, y=None):
        v = self.vectors([image])[0]
        result = self.cluster(v)
        self.vectors_ = v.x
        self.grid_labels_ = result.labels.reshape(v.grid) if v.index is None else result.labels
        self.labels_ = self.label_map(v, result)
        self.n_segments_ = result.n_clusters
        self.k_scores_ = result.k_scores
        self.eps_ = result.eps
        self.noise_fraction_ = result.noise_fraction
        self.only_noise_ = result.only_noise
        self.status_ = result.status
        self.silhouette_ = C.silhouette(v.x, result.labels, sample_size=self.sample_size, seed=self.random_state)
        self.layer_ = self.describe()
        return self

    def fit_predict(self, image, y=None) -> np.ndarray:
        """(H, W) int labels of one image (-1 where DBSCAN left noise)."""
        return self.fit(image).labels_

    def fit_predict_many(self, images: Sequence) -> list[np.ndarray]:
        """Label maps of many images: features are computed batched, each image is clustered on its own."""
        return [self.label_map(v, self.cluster(v)) for v in self.vectors(images)]


class FeatureSegmenter(BaseSegmenter):
    """Segments from clustered CNN features (scikit-learn style: ``fit(image)`` returns self; ``labels_``).

    Parameters: ``backbone`` (a backbone name, a Backbone / Trunk, or a store model: see
    ``segment.features``), ``layer`` (a stage name or early / middle / late), ``method`` ("kmeans" or
    "dbscan"), ``n_segments`` (an int >= 2 or "auto"), ``k_range`` (inclusive, for "auto"),
    ``input_size`` (shorter side the network sees; None = native), ``n_components`` (PCA),
    ``position_weight`` / ``colour_weight``, ``min_samples`` / ``eps`` / ``eps_rule`` (DBSCAN, see
    ``cluster.dbscan``), ``n_init`` (K-means restarts; 1 = scikit-learn's
    default for k-means++),
    ``sample_size`` (silhouette sample), ``batch_size``, ``random_state``, ``preprocessing`` (mean/std
    when ``backbone`` is a bare model).

    Learned state: ``labels_`` (H, W) int (-1: DBSCAN noise), ``grid_labels_`` (h, w), ``vectors_``
    (h*w, D), ``n_segments_``, ``k_scores_`` (K -> silhouette), ``silhouette_``, ``eps_``,
    ``noise_fraction_``, ``only_noise_``, ``status_``, ``layer_`` (e.g. "blocks.10 (stride 16, 112 channels)").
    """

    def __init__(self, backbone="efficientnet_lite0", layer: str = "late", method: str = "kmeans",
                 n_segments="auto", k_range: tuple[int, int] = (2, 8), input_size: int | None = 224,
                 n_components: int = 16, position_weight: float = 0.0, colour_weight: float = 0.0,
                 min_samples: int = 10, eps: float | None = None, eps_rule: str = "silhouette", n_init: int = 1,
                 sample_size: int = 1000,
                 batch_size: int = 32, random_state: int = 0, preprocessing: dict | None = None):
        self.backbone = backbone
        self.layer = layer
        self.method = method
        self.n_segments = n_segments
        self.k_range = k_range
        self.input_size = input_size
        self.n_components = n_components
        self.position_weight = position_weight
        self.colour_weight = colour_weight
        self.min_samples = min_samples
        self.eps = eps
        self.eps_rule = eps_rule
        self.n_init = n_init
        self.sample_size = sample_size
        self.batch_size = batch_size
        self.random_state = random_state
        self.preprocessing = preprocessing

    def _check_params(self) -> None:
        super()._check_params()
        if self.n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {self.n_components}")
        if self.position_weight < 0 or self.colour_weight < 0:
            raise ValueError("position_weight and colour_weight must be >= 0")

    def stages(self) -> F.Stages:
        return F.stages_of(self.backbone, self.preprocessing)

    # --- features -------------------------------------------------------------------------------

    def feature_maps(self, images: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each image as (uint8 RGB (H, W, 3), feature map (C, h, w) float32), batched by working size."""
        self._check_params()
        st = self.stages()
        stop = st.resolve(self.layer)
        stride = st.strides[stop]
        rgb = [F.as_rgb_uint8(im) for im in images]
        for im in rgb:
            if min(im.shape[:2]) < stride:
                raise F.ImageTooSmall(f"image {im.shape[0]}x{im.shape[1]} is smaller than the stride ({stride}) of "
                                      f"{st.describe(self.layer)}: it would give less than one feature cell; use "
                                      f"an image of at least {stride}x{stride} or an earlier layer")
        out: list = [None] * len(rgb)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(rgb):
            groups.setdefault(im.shape[:2], []).append(i)
        for shape, idx in groups.items():
            size = F.working_size(shape, self.input_size)
            for j in range(0, len(idx), self.batch_size):
                chunk = idx[j:j + self.batch_size]
                x = F.to_batch([rgb[i] for i in chunk], size, st.mean, st.std)  # (B, 3, h0, w0)
                maps = st.run(x, stop).float().numpy()  # (B, C, h, w)
                for i, m in zip(chunk, maps):
                    out[i] = (rgb[i], m)
        return out

    def vectors(self, images: Sequence, maps: list | None = None) -> list[Vectors]:
        """The clustering vectors of every image (features batched through the trunk).

        ``maps``: ``feature_maps(images)`` when already computed (segmenters that differ only in how
        vectors are built or clustered can share one pass through the trunk).
        """
        self._check_params()
        result = []
        for rgb, fmap in (self.feature_maps(images) if maps is None else maps):
            c, h, w = fmap.shape
            feats = fmap.reshape(c, h * w).T  # (h*w, C)
            x = assemble(feats, rgb, (h, w), n_components=self.n_components, position_weight=self.position_weight,
                         colour_weight=self.colour_weight)
            result.append(Vectors(x, (h, w), rgb.shape[:2]))
        return result

    def describe(self) -> str:
        return self.stages().describe(self.layer)
