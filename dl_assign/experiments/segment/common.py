"""What the segmentation family shares: which CNN gives the features (the store's best model, else the
ImageNet backbone), the image sets (boxed Tiny-ImageNet val, mosaics, the photo gallery) and the scoring loops."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from dl_assign.segment import cluster as C
from dl_assign.segment import metrics as M
from dl_assign.segment import mosaic as MO
from dl_assign.segment.segmenter import BaseSegmenter

STORE_TASKS = ("pests14", "ip102")  # the store tasks whose models are candidates (question 3's pest models)


# --- which network -----------------------------------------------------------------------------


@dataclass
class FeatureModel:
    """A feature source for ``FeatureSegmenter`` and the words the report uses for it."""

    key: str  # "transfer" (the best transfer model, or the ImageNet trunk) or "custom"
    source: object  # what FeatureSegmenter takes as ``backbone``
    preprocessing: dict | None
    label: str  # e.g. "store pests14/effnet_lite0 v3 (test accuracy 0.760)"
    origin: str  # "store" or "imagenet"
    record: dict = field(default_factory=dict)


def _stored(builder: str) -> list[dict]:
    """Every latest stored model of ``STORE_TASKS`` built by ``builder``, with its test accuracy."""
    from dl_assign import store

    out = []
    for rec in store.list_models():
        if rec.task not in STORE_TASKS or rec.latest is None:
            continue
        try:
            meta = json.loads((store.resolve(rec.task, rec.model) / "meta.json").read_text())
        except (OSError, ValueError, store.StoreError):
            continue
        if meta.get("builder") == builder:
            acc = rec.test_accuracy if rec.test_accuracy is not None else -math.inf
            out.append({"task": rec.task, "model": rec.model, "version": rec.latest, "test_accuracy": acc,
                        "budget": meta.get("budget"), "experiment": meta.get("experiment")})
    return sorted(out, key=lambda r: (-r["test_accuracy"], r["task"], r["model"]))


def _load(rec: dict, key: str) -> FeatureModel | None:
    from dl_assign import store

    try:
        model, meta = store.load(rec["task"], rec["model"], rec["version"])
    except (store.StoreError, OSError, RuntimeError, ValueError) as exc:
        warnings.warn(f"store model {rec['task']}/{rec['model']} v{rec['version']} not usable ({exc}); skipped",
                      stacklevel=2)
        return None
    acc = rec["test_accuracy"]
    label = (f"store {rec['task']}/{rec['model']} v{rec['version']} ({rec['experiment']}, {rec['budget']} budget, "
             f"test accuracy {acc:.3f})")
    return FeatureModel(key, model, meta.get("preprocessing"), label, "store", rec)


def feature_models(mode: str, imagenet_backbone: str, custom: bool) -> list[FeatureModel]:
    """The transfer model (the store's best ``backbone_classifier`` by test accuracy when ``mode="auto"``,
    else, or when the store has none, the ImageNet trunk ``imagenet_backbone``) and, when ``custom`` and the
    store holds one, the best custom CNN (``small_cnn``) for comparison."""
    out = []
    if mode == "auto":
        for rec in _stored("backbone_classifier"):
            if (fm := _load(rec, "transfer")) is not None:
                out.append(fm)
                break
    if not out:
        why = "the model store holds no transfer model" if mode == "auto" else "feature_model=imagenet"
        out.append(FeatureModel("transfer", imagenet_backbone, None,
                                f"ImageNet {imagenet_backbone} (no fine-tuned model used: {why})", "imagenet"))
    if custom:
        for rec in _stored("small_cnn"):
            if (fm := _load(rec, "custom")) is not None:
                out.append(fm)
                break
    return out


# --- image sets ----------------------------------------------------------------------------------


@dataclass
class BoxSet:
    images: list[np.ndarray]
    boxes: list[np.ndarray]  # (H, W) bool masks
    files: list[str]
    names: list[str]


def box_set(n: int, seed: int) -> BoxSet:
    """``n`` boxed Tiny-ImageNet validation images drawn with ``seed`` (one box per image)."""
    from dl_assign.data import tinyimagenet as T

    root = T.locate()
    items = T.read_val_boxes(root)
    words = T.read_words(root)
    pick = np.random.default_rng(seed).choice(len(items), size=min(n, len(items)), replace=False)
    images, boxes = [], []
    for i in pick:
        im = T.load_image(root, items[i].file)
        images.append(im)
        boxes.append(T.box_mask(items[i].box, im.shape[:2]))
    return BoxSet(images, boxes, [items[i].file for i in pick], [words.get(items[i].wnid, items[i].wnid) for i in pick])


@dataclass
class MosaicSet:
    images: list[np.ndarray]
    regions: list[np.ndarray]
    kinds: list[str]  # "photos" or "textures"
    n_regions: list[int]


def mosaic_set(n: int, seed: int, size: int, pool: list[np.ndarray]) -> MosaicSet:
    """``n`` seeded mosaics of 2-4 regions, alternating textures and real photos from ``pool``."""
    rng = np.random.default_rng(seed + 1000)
    tex = list(MO.textures(size, seed).values())
    images, regions, kinds, counts = [], [], [], []
    for i in range(n):
        k = int(rng.integers(2, 5))
        if i % 2 == 0:
            sources, kind = [tex[j] for j in rng.choice(len(tex), k, replace=False)], "textures"
        else:
            sources, kind = [pool[j] for j in rng.choice(len(pool), k, replace=False)], "photos"
        im, reg = MO.mosaic(sources, size, seed=int(rng.integers(1 << 31)))
        images.append(im)
        regions.append(reg)
        kinds.append(kind)
        counts.append(k)
    return MosaicSet(images, regions, kinds, counts)


def photo_pool(n: int, seed: int, exclude: set[str]) -> list[np.ndarray]:
    """Tiny-ImageNet val images of distinct classes (not in ``exclude``), for photo mosaics."""
    from dl_assign.data import tinyimagenet as T

    root = T.locate()
    items = [it for it in T.read_val_boxes(root) if it.file not in exclude]
    order = np.random.default_rng(seed + 2000).permutation(len(items))
    seen, out = set(), []
    for i in order:
        if items[i].wnid not in seen:
            seen.add(items[i].wnid)
            out.append(T.load_image(root, items[i].file))
        if len(out) == n:
            break
    return out


def gallery_photos(n_pests: int = 4, n_tiny: int = 4, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Real photos for the figures: pests14 test images, Tiny-ImageNet val images, skimage's larger photos."""
    from skimage import data as skd

    from dl_assign.data import ip102
    from dl_assign.data import tinyimagenet as T

    photos = []
    root = ip102.locate()
    ds = ip102.IP102Dataset(root, "test")
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(ds), n_pests, replace=False):
        photos.append((f"pests14: {ds.classes[ds.items[i][1]]}", np.asarray(ds.load_image(int(i)))))
    troot = T.locate()
    items, words = T.read_val_boxes(troot), T.read_words(troot)
    for i in rng.choice(len(items), n_tiny, replace=False):
        photos.append((f"tiny-imagenet: {words.get(items[i].wnid, items[i].wnid)}", T.load_image(troot, items[i].file)))
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        photos.append((f"skimage: {name}", getattr(skd, name)()))
    return photos


# --- scoring loops -------------------------------------------------------------------------------


def _agg(values) -> tuple[float, float]:
    mean, std, _ = M.mean_std(values)
    return mean, std


def _sem(values) -> tuple[float, float]:
    """Mean and standard error of the mean over the finite values."""
    mean, std, n = M.mean_std(values)
    return mean, std / math.sqrt(n) if n else math.nan


def score_boxes(seg: BaseSegmenter, boxes: BoxSet, k_values: list[int], *, dbscan: bool = False,
                vecs: list | None = None) -> dict:
    """Per image: silhouette and best-union box IoU at every K (``curve``: mean, s.e.m.), K chosen by silhouette,
    and its scores (mean, std over images).

    ``dbscan=True``: DBSCAN instead (one clustering per image; clusters, noise, IoU, internal scores).
    ``vecs``: ``seg.vectors(boxes.images)`` when already computed (arms of one layer share them).
    """
    vecs = seg.vectors(boxes.images) if vecs is None else vecs
    per = {"box_iou": [], "silhouette": [], "davies_bouldin": [], "calinski_harabasz": [], "k": [], "noise": [],
           "only_noise": []}
    curve = {k: {"silhouette": [], "box_iou": []} for k in k_values}
    for v, box in zip(vecs, boxes.boxes):
        if dbscan:
            res = seg.cluster(v)
        else:
            by_k = {}
            for k in k_values:
                if k > len(v.x) - 1:
                    continue
                labels = seg.cluster(v, k).labels
                sil = C.silhouette(v.x, labels, sample_size=seg.sample_size, seed=seg.random_state)
                curve[k]["silhouette"].append(sil)
                curve[k]["box_iou"].append(M.box_iou(seg.label_map(v, C.Clustering(labels, k, "kmeans")), box))
                by_k[k] = (sil, labels)
            best_k = max(by_k, key=lambda k: (by_k[k][0] if math.isfinite(by_k[k][0]) else -math.inf, -k))
            res = C.Clustering(by_k[best_k][1], best_k, "kmeans", {k: s for k, (s, _) in by_k.items()})
        labels = seg.label_map(v, res)
        scores = M.internal_scores(v.x, res.labels, sample_size=seg.sample_size, seed=seg.random_state)
        per["box_iou"].append(M.box_iou(labels, box))
        for key in ("silhouette", "davies_bouldin", "calinski_harabasz"):
            per[key].append(scores[key])
        per["k"].append(float(res.n_clusters))
        per["noise"].append(res.noise_fraction)
        per["only_noise"].append(float(res.only_noise))
    out = {key: _agg(vals) for key, vals in per.items()}
    out["values"] = per["box_iou"]  # per image, for paired comparisons
    out["curve"] = {k: {m: _sem(vals) for m, vals in c.items()} for k, c in curve.items() if c["box_iou"]}
    return out


def score_mosaics(seg: BaseSegmenter, mosaics: MosaicSet, *, dbscan: bool = False, vecs: list | None = None) -> dict:
    """ARI and Hungarian mean IoU per mosaic: at the true K, and at the K chosen by silhouette (or DBSCAN)."""
    vecs = seg.vectors(mosaics.images) if vecs is None else vecs
    per = {"ari": [], "miou": [], "ari_auto": [], "miou_auto": []}
    kinds = {kind: [] for kind in ("textures", "photos")}
    for v, reg, k, kind in zip(vecs, mosaics.regions, mosaics.n_regions, mosaics.kinds):
        if dbscan:
            auto = seg.label_map(v, seg.cluster(v))
            per["ari_auto"].append(M.ari(reg, auto))
            per["miou_auto"].append(M.matched_iou(reg, auto))
            continue
        fixed = seg.label_map(v, seg.cluster(v, k))
        per["ari"].append(M.ari(reg, fixed))
        per["miou"].append(M.matched_iou(reg, fixed))
        kinds[kind].append(per["ari"][-1])
        auto = seg.label_map(v, seg.cluster(v, "auto"))
        per["ari_auto"].append(M.ari(reg, auto))
        per["miou_auto"].append(M.matched_iou(reg, auto))
    out = {key: _agg(vals) for key, vals in per.items() if vals}
    out.update({f"ari_{kind}": _agg(vals) for kind, vals in kinds.items() if vals})
    out["values"] = per["ari"] or per["ari_auto"]  # per mosaic, for paired comparisons
    return out
