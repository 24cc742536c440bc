"""Two segmenters that use no CNN, as baselines for the CNN features: K-means on colour + position, and
scikit-image's SLIC superpixels merged to K regions. Same API as ``FeatureSegmenter`` (``BaseSegmenter``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dl_assign.segment import cluster as C
from dl_assign.segment import features as F
from dl_assign.segment.segmenter import BaseSegmenter, Vectors, _block, _lab, _position


class ColourPositionKMeans(BaseSegmenter):
    """K-means (or DBSCAN) on each pixel's CIE Lab colour and scaled (x, y) position.

    Pixels are taken on a grid whose shorter side is ``grid_size`` (the image area-averaged to it; 56 = the
    stride-4 grid of a 224-px CNN input), each block at unit total variance, position weighted by
    ``position_weight``; labels are upsampled to the image like the CNN's.
    """

    def __init__(self, method: str = "kmeans", n_segments="auto", k_range: tuple[int, int] = (2, 8),
                 grid_size: int = 56, position_weight: float = 0.5, min_samples: int = 10, eps: float | None = None,
                 eps_rule: str = "silhouette", n_init: int = 1, sample_size: int = 1000, random_state: int = 0):
        self.method = method
        self.n_segments = n_segments
        self.k_range = k_range
        self.grid_size = grid_size
        self.position_weight = position_weight
        self.min_samples = min_samples
        self.eps = eps
        self.eps_rule = eps_rule
        self.n_init = n_init
        self.sample_size = sample_size
        self.random_state = random_state

    def vectors(self, images: Sequence) -> list[Vectors]:
        self._check_params()
        out = []
        for image in images:
            rgb = F.as_rgb_uint8(image)
            h, w = F.working_size(rgb.shape[:2], min(self.grid_size, min(rgb.shape[:2])))
            parts = [_block(_lab(rgb, h, w))]
            if self.position_weight > 0:
                parts.append(self.position_weight * _block(_position(h, w)))
            out.append(Vectors(np.concatenate(parts, 1), (h, w), rgb.shape[:2]))
        return out

    def describe(self) -> str:
        return f"Lab colour + position (weight {self.position_weight}) on a {self.grid_size}-px grid"


def _adjacency(index: np.ndarray, n: int):
    """Sparse (n, n) adjacency of regions that touch horizontally or vertically in an (H, W) index map."""
    from scipy.sparse import coo_matrix

    a = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    b = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    keep = a != b
    a, b = a[keep], b[keep]
    m = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    return ((m + m.T) > 0).astype(np.float64)


class SLICMerged(BaseSegmenter):
    """scikit-image's SLIC superpixels (``n_superpixels``, ``compactness``, on the image at ``input_size``)
    merged to K regions by Ward agglomeration of their mean Lab colour + centroid, restricted to touching
    superpixels (so every merged region is connected); ``n_segments="auto"``: K in ``k_range`` by the
    silhouette of the superpixel vectors. ``method`` is "kmeans" only in name (the merge is agglomerative);
    "dbscan" runs DBSCAN on the superpixel vectors.
    """

    def __init__(self, method: str = "kmeans", n_segments="auto", k_range: tuple[int, int] = (2, 8),
                 n_superpixels: int = 100, compactness: float = 10.0, input_size: int | None = 224,
                 position_weight: float = 0.5, min_samples: int = 5, eps: float | None = None,
                 eps_rule: str = "silhouette", n_init: int = 1, sample_size: int = 1000, random_state: int = 0):
        self.method = method
        self.n_segments = n_segments
        self.k_range = k_range
        self.n_superpixels = n_superpixels
        self.compactness = compactness
        self.input_size = input_size
        self.position_weight = position_weight
        self.min_samples = min_samples
        self.eps = eps
        self.eps_rule = eps_rule
        self.n_init = n_init
        self.sample_size = sample_size
        self.random_state = random_state

    def vectors(self, images: Sequence) -> list[Vectors]:
        from skimage.color import rgb2lab
        from skimage.segmentation import slic

        self._check_params()
        out = []
        for image in images:
            rgb = F.as_rgb_uint8(image)
            h, w = F.working_size(rgb.shape[:2], self.input_size)
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
            small = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True)
            small = small[0].permute(1, 2, 0).clamp(0, 255).numpy() / 255.0
            sp = slic(small, n_segments=self.n_superpixels, compactness=self.compactness, start_label=0)
            _, sp = np.unique(sp, return_inverse=True)
            sp = sp.reshape(h, w)
            n = int(sp.max()) + 1
            counts = np.bincount(sp.ravel(), minlength=n)[:, None]
            lab = rgb2lab(small).reshape(-1, 3)
            mean_lab = np.stack([np.bincount(sp.ravel(), lab[:, c], n) for c in range(3)], 1) / counts
            pos = _position(h, w)
            centroid = np.stack([np.bincount(sp.ravel(), pos[:, c], n) for c in range(2)], 1) / counts
            parts = [_block(mean_lab)]
            if self.position_weight > 0:
                parts.append(self.position_weight * _block(centroid))
            index = C.nearest_resize(sp, rgb.shape[:2])  # superpixel id of every pixel of the image
            out.append(Vectors(np.concatenate(parts, 1), (n, 1), rgb.shape[:2], index=index))
        return out

    def _merge(self, v: Vectors, k: int) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        C.check_k(k, len(v.x))
        conn = _adjacency(v.index, len(v.x))
        labels = AgglomerativeClustering(n_clusters=k, connectivity=conn, linkage="ward").fit_predict(v.x)
        return C.relabel_by_size(labels.astype(np.int64))

    def cluster(self, v: Vectors, n_segments=None) -> C.Clustering:
        k = self.n_segments if n_segments is None else n_segments
        if self.method == "dbscan":
            return super().cluster(v, n_segments)
        if k != "auto":
            labels = self._merge(v, k)
            return C.Clustering(labels, len(np.unique(labels)), "slic")
        lo, hi = self.k_range
        C.check_k(lo, len(v.x))
        best, scores = None, {}
        for k in range(lo, max(lo, min(hi, len(v.x) - 1)) + 1):
            labels = self._merge(v, k)
            scores[k] = C.silhouette(v.x, labels, sample_size=self.sample_size, seed=self.random_state)
            if best is None or (np.isfinite(scores[k]) and (not np.isfinite(best[0]) or scores[k] > best[0])):
                best = (scores[k], labels)
        return C.Clustering(best[1], len(np.unique(best[1])), "slic", scores)

    def describe(self) -> str:
        return f"SLIC ({self.n_superpixels} superpixels, compactness {self.compactness}) merged by Ward"
