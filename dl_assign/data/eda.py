"""Image-set statistics for the EDA: pure NumPy functions, tested on small hand-made inputs.

Class balance, pixel moments, image geometry, pixel correlations, exact and near duplicates (by
hashing), near-blank/saturated anomalies, edge and texture features with a linear probe, and
augmentation previews. ``experiments/fashion/eda.py`` strings them together on Fashion-MNIST.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

# ----------------------------------------------------------------------------- class balance


def class_balance(labels: np.ndarray, n_classes: int, tolerance: float = 0.05) -> dict:
    """Counts per class, max/min ratio, chi-square p-value against uniform, and a verdict.

    Balanced when every class is within ``tolerance`` (relative) of the uniform share.
    """
    from scipy.stats import chisquare

    counts = np.bincount(np.asarray(labels), minlength=n_classes)
    expected = counts.sum() / n_classes
    deviation = float(np.abs(counts - expected).max() / expected)
    p_value = float(chisquare(counts).pvalue) if counts.min() > 0 else 0.0
    return {"counts": counts.tolist(), "total": int(counts.sum()),
            "max_min_ratio": float(counts.max() / max(1, counts.min())),
            "max_rel_deviation": deviation, "chi2_p_uniform": p_value,
            "balanced": bool(deviation <= tolerance)}


# ----------------------------------------------------------------------------- pixel statistics


def image_moments(images: np.ndarray, chunk: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Per-image sum and sum of squares of the pixels on [0, 1] (exact, from uint8 in chunks)."""
    flat = np.asarray(images).reshape(len(images), -1)
    s1 = np.empty(len(flat), np.float64)
    s2 = np.empty(len(flat), np.float64)
    for i in range(0, len(flat), chunk):
        block = flat[i:i + chunk].astype(np.int64)
        s1[i:i + chunk] = block.sum(1)
        s2[i:i + chunk] = (block * block).sum(1)
    return s1 / 255.0, s2 / 255.0**2


def pooled_mean_std(s1: np.ndarray, s2: np.ndarray, pixels_per_image: int) -> tuple[float, float]:
    """Mean and (population) std over every pixel of the images whose moments are given."""
    n = len(s1) * pixels_per_image
    mean = s1.sum() / n
    return float(mean), float(np.sqrt(max(0.0, s2.sum() / n - mean**2)))


def brightness_contrast(s1: np.ndarray, s2: np.ndarray, pixels_per_image: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image brightness (mean pixel) and RMS contrast (pixel std), both on [0, 1]."""
    mean = s1 / pixels_per_image
    return mean, np.sqrt(np.maximum(0.0, s2 / pixels_per_image - mean**2))


def content_box(images: np.ndarray, level: int = 26) -> dict:
    """Bounding boxes of pixels above ``level`` (uint8): margins and how often the object touches a border."""
    ink = np.asarray(images) > level
    rows, cols = ink.any(2), ink.any(1)
    h, w = ink.shape[1:]
    first_r, last_r = rows.argmax(1), h - 1 - rows[:, ::-1].argmax(1)
    first_c, last_c = cols.argmax(1), w - 1 - cols[:, ::-1].argmax(1)
    touches = (first_r == 0) | (last_r == h - 1) | (first_c == 0) | (last_c == w - 1)
    return {"box_height_mean": float((last_r - first_r + 1).mean()),
            "box_width_mean": float((last_c - first_c + 1).mean()),
            "full_width_fraction": float(((first_c == 0) & (last_c == w - 1)).mean()),
            "touches_border_fraction": float(touches.mean()),
            "min_margin": int(np.minimum.reduce([first_r, first_c, h - 1 - last_r, w - 1 - last_c]).min())}


# ----------------------------------------------------------------------------- correlations


def pixel_correlation(images: np.ndarray) -> np.ndarray:
    """The (P, P) Pearson correlation of the pixels; constant pixels get correlation 0."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    centred = flat - flat.mean(0)
    std = centred.std(0)  # population std: Pearson's r below divides z.T @ z by n, so z needs ddof 0
    z = centred / np.where(std > 0, std, 1.0)
    corr = z.T @ z / len(flat)
    corr[:, std == 0] = 0.0
    corr[std == 0, :] = 0.0
    return corr


def correlation_by_distance(corr: np.ndarray, side: int) -> dict[int, float]:
    """Mean correlation of pixel pairs grouped by rounded Euclidean distance on the grid."""
    yy, xx = np.divmod(np.arange(side * side), side)
    dist = np.rint(np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :])).astype(int)
    mask = ~np.eye(len(corr), dtype=bool)
    sums = np.bincount(dist[mask], weights=corr[mask])
    counts = np.bincount(dist[mask])
    return {int(d): float(sums[d] / counts[d]) for d in range(1, len(counts)) if counts[d] > 0}


def pca_components_for(images: np.ndarray, fractions=(0.9, 0.95, 0.99)) -> dict[str, int]:
    """How many principal components explain each fraction of the pixel variance."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    eig = np.linalg.eigvalsh(np.cov(flat, rowvar=False))[::-1]
    cum = np.cumsum(np.clip(eig, 0, None)) / np.clip(eig, 0, None).sum()
    return {f"{f:g}": int(np.searchsorted(cum, f) + 1) for f in fractions}


# ----------------------------------------------------------------------------- duplicates


def exact_duplicate_groups(images: np.ndarray) -> list[list[int]]:
    """Groups (index lists, size >= 2) of byte-identical images, found by md5 of the pixels."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, image in enumerate(np.asarray(images)):
        buckets[hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest()].append(i)
    return sorted(g for g in buckets.values() if len(g) > 1)


def coarse_hash_keys(images: np.ndarray, pool: int = 4, step: int = 32, offset: int = 0) -> list[bytes]:
    """A perceptual hash per image: ``pool x pool`` block means quantised in steps of ``step``.

    Near-identical images share a key unless a block mean sits at a quantisation edge; a second
    table with ``offset = step // 2`` catches those.
    """
    x = np.asarray(images, dtype=np.float32)
    n, h, w = x.shape
    blocks = x[:, :h - h % pool, :w - w % pool].reshape(n, h // pool, pool, w // pool, pool).mean((2, 4))
    q = np.floor((blocks + offset) / step).astype(np.uint8).reshape(n, -1)
    return [row.tobytes() for row in q]


def near_duplicate_pairs(images: np.ndarray, max_mad: float, pool: int = 4, step: int = 32,
                         max_bucket: int = 200) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, mad)`` of distinct (not byte-identical) images whose mean absolute pixel
    difference on [0, 1] is at most ``max_mad``. Candidates come from two coarse-hash tables
    (so the search is near-linear); each candidate is verified on the full pixels.
    """
    x = np.asarray(images)
    flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
    found: dict[tuple[int, int], float] = {}
    for offset in (0, step // 2):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i, key in enumerate(coarse_hash_keys(x, pool, step, offset)):
            buckets[key].append(i)
        for members in buckets.values():
            if len(members) < 2:
                continue
            members = members[:max_bucket]  # a guard; Fashion-MNIST's largest bucket holds 4
            block = flat[members]
            mad = np.abs(block[:, None, :] - block[None, :, :]).mean(2)
            for a, b in zip(*np.triu_indices(len(members), 1), strict=True):
                if 0 < mad[a, b] <= max_mad:
                    found[(members[a], members[b])] = float(mad[a, b])
    return sorted((i, j, m) for (i, j), m in found.items())


def pair_scope(i: int, j: int, n_train: int) -> str:
    """``train``, ``test`` or ``cross`` for an index pair into train-then-test concatenated images."""
    a, b = i < n_train, j < n_train
    return "train" if a and b else "test" if not (a or b) else "cross"


def duplicate_report(images: np.ndarray, labels: np.ndarray, n_train: int, max_mad: float) -> dict:
    """Exact and near duplicates within train, within test and across, with label conflicts."""
    exact_pairs = []
    for group in exact_duplicate_groups(images):
        exact_pairs += [(i, j, 0.0) for k, i in enumerate(group) for j in group[k + 1:]]
    near = near_duplicate_pairs(images, max_mad)
    out: dict = {}
    for kind, pairs in (("exact", exact_pairs), ("near", near)):
        for scope in ("train", "test", "cross"):
            chosen = [p for p in pairs if pair_scope(p[0], p[1], n_train) == scope]
            out[f"{kind}_{scope}"] = len(chosen)
            out[f"{kind}_{scope}_label_conflicts"] = sum(labels[i] != labels[j] for i, j, _ in chosen)
        out[f"{kind}_pairs"] = [[int(i), int(j), int(labels[i]), int(labels[j]), round(m, 5)] for i, j, m in pairs]
    return out


def anomalies(images: np.ndarray, ink_level: int = 26, blank_ink: float = 0.05,
              saturated_level: int = 250, saturated_frac: float = 0.25) -> dict[str, np.ndarray]:
    """Indices of near-blank images (fewer than ``blank_ink`` of the pixels above ``ink_level``)
    and saturated ones (more than ``saturated_frac`` of the pixels at or above ``saturated_level``)."""
    flat = np.asarray(images).reshape(len(images), -1)
    ink = (flat > ink_level).mean(1)
    sat = (flat >= saturated_level).mean(1)
    return {"ink_fraction": ink, "saturated_fraction": sat,
            "near_blank": np.flatnonzero(ink < blank_ink), "saturated": np.flatnonzero(sat > saturated_frac)}


# ----------------------------------------------------------------------------- feature probes

EDGE_FEATURES = ("sobel_mean", "sobel_std", "sobel_p90", "canny_density") + tuple(f"orient_{i}" for i in range(8))


def edge_features(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Per image: Sobel magnitude mean/std/p90, Canny edge density, an 8-bin magnitude-weighted
    orientation histogram, and Canny density on a ``grid x grid`` layout (where the edges are)."""
    from skimage.feature import canny
    from skimage.filters import sobel_h, sobel_v

    rows = []
    for image in np.asarray(images, dtype=np.float64) / 255.0:
        gy, gx = sobel_h(image), sobel_v(image)
        mag = np.hypot(gx, gy)
        hist, _ = np.histogram(np.arctan2(gy, gx) % np.pi, bins=8, range=(0, np.pi), weights=mag)
        edges = canny(image, sigma=1.0)
        h, w = edges.shape
        cells = edges[:h - h % grid, :w - w % grid].reshape(grid, h // grid, grid, w // grid).mean((1, 3))
        spread = mag.std()  # population std: of one image's own pixels, a feature, not an estimate
        rows.append(np.concatenate([[mag.mean(), spread, np.percentile(mag, 90), edges.mean()],
                                    hist / max(hist.sum(), 1e-12), cells.ravel()]))
    return np.asarray(rows, dtype=np.float32)


GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")


def texture_features(images: np.ndarray, levels: int = 8) -> np.ndarray:
    """Per image: a uniform LBP histogram (P=8, R=1: 10 bins) and six GLCM properties at
    distances 1 and 2, averaged over four angles (12 values)."""
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    rows = []
    for image in np.asarray(images, dtype=np.uint8):
        lbp = local_binary_pattern(image, 8, 1, "uniform")
        lbp_hist = np.bincount(lbp.astype(int).ravel(), minlength=10)[:10] / lbp.size
        glcm = graycomatrix(image // (256 // levels), [1, 2], angles, levels=levels, symmetric=True, normed=True)
        props = [np.nan_to_num(graycoprops(glcm, p)).mean(1) for p in GLCM_PROPS]  # (2,) each
        rows.append(np.concatenate([lbp_hist, np.concatenate(props)]))
    return np.asarray(rows, dtype=np.float32)


def probe_accuracy(x_train, y_train, x_test, y_test) -> dict:
    """Test accuracy and per-class recall of a linear classifier: standardised features into
    linear discriminant analysis with Ledoit-Wolf shrinkage (closed form, so it costs seconds
    where an iterative logistic regression costs minutes on 784 pixels)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
    clf.fit(x_train, y_train)
    pred = clf.predict(x_test)
    recall = [float((pred[y_test == c] == c).mean()) for c in range(int(y_test.max()) + 1)]
    return {"accuracy": float((pred == y_test).mean()), "recall": recall, "model": clf}


# ----------------------------------------------------------------------------- augmentation


def augmentations() -> dict:
    """Candidate torchvision v2 augmentations, each applied per image in the previews."""
    from torchvision.transforms import v2

    return {
        "hflip": v2.RandomHorizontalFlip(p=1.0),
        "vflip": v2.RandomVerticalFlip(p=1.0),
        "rotate10": v2.RandomRotation(10),
        "rotate90": v2.RandomRotation((90, 90)),
        "translate2px": v2.RandomAffine(degrees=0, translate=(2 / 28, 2 / 28)),
        "crop_pad2": v2.RandomCrop(28, padding=2),
        "resized_crop": v2.RandomResizedCrop(28, scale=(0.7, 1.0), antialias=True),
        "erasing": v2.RandomErasing(p=1.0, scale=(0.02, 0.12), value=0),
        "brightness": v2.ColorJitter(brightness=0.4),
        "elastic": v2.ElasticTransform(alpha=20.0, sigma=4.0),
    }


def augment(images: np.ndarray, transform, seed: int, chunk: int = 1) -> np.ndarray:
    """Apply ``transform`` to uint8 images; each ``chunk`` of images shares one random draw
    (v2 transforms draw once per call; chunk > 1 trades per-image variety for speed)."""
    import torch

    torch.manual_seed(seed)
    t = torch.from_numpy(np.array(images, dtype=np.uint8)).unsqueeze(1)  # (N, 1, H, W)
    return torch.cat([transform(t[i:i + chunk]) for i in range(0, len(t), chunk)]).squeeze(1).numpy()


def symmetry_scores(mean_images: np.ndarray) -> dict[str, np.ndarray]:
    """Correlation of each class-mean image with its left-right and up-down mirror image."""
    def corr(a, b):
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    return {"lr": np.array([corr(m, m[:, ::-1]) for m in mean_images]),
            "ud": np.array([corr(m, m[::-1, :]) for m in mean_images])}
