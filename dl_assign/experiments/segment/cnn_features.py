"""Unsupervised segmentation from CNN features (seed 000, question 3c): K-means and DBSCAN on the feature
maps of the best CNN with its top removed, at three depths, against two baselines without a CNN, scored by
silhouette / Davies-Bouldin / Calinski-Harabasz and against ground truth (Tiny-ImageNet boxes, mosaics).

``segment.cnn_features``: the features come from the model store's best transfer model when there is one
(``pests14/effnet_lite0`` or ``pests14/mobilenet_v2``, best test accuracy), else from the ImageNet
backbone; the store's custom CNN (``custom_cnn``) is scored beside it when present. The report says which ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from sklearn.base import clone

from dl_assign.config import ExperimentConfig, Range
from dl_assign.data import tinyimagenet
from dl_assign.experiments.segment import common as sc
from dl_assign.models import backbones as B
from dl_assign.registry import RunContext, SeedResult, experiment
from dl_assign.segment import ColourPositionKMeans, FeatureSegmenter, SLICMerged
from dl_assign.segment.mosaic import resize_rgb

BACKBONES = tuple(B.names())


@dataclass(frozen=True)
class SegmentConfig(ExperimentConfig):
    """Which CNN, where to cut it, how vectors are built and clustered, and how many images are scored."""

    feature_model: Literal["auto", "imagenet"] = "auto"  # auto: the store's best transfer model, else ImageNet
    imagenet_backbone: Literal[BACKBONES] = "efficientnet_lite0"  # the fallback (and feature_model=imagenet)
    custom_cnn: bool = True  # also score the store's custom CNN (pests.cnn_scratch) when it holds one
    # its layers: not early (1600 vectors per image: the early K-means arm alone is ~15% of a standard seed)
    custom_layers: tuple[str, ...] = ("middle", "late")
    layers: tuple[str, ...] = ("early", "middle", "late")  # aliases: last stage at output stride 4 / 8 / 16
    k_min: Annotated[int, Range(ge=2)] = 2
    k_max: Annotated[int, Range(ge=2)] = 8
    # the shorter side the network sees (Tiny-ImageNet's 64 px are upsampled; a 10x10 grid at stride 16, 40x40
    # at stride 4). Measured (seed 0, 20 box images + 20 mosaics, K by silhouette): box IoU late+xy 0.484 at 160
    # vs 0.512 at 224, late 0.442 vs 0.476, for 0.61 vs 1.45 s per image of the whole comparison; 224 would
    # put the standard run past 10 minutes on 2 busy cores (the speed benchmark times 224x224 images)
    input_size: Annotated[int, Range(ge=32)] = 160
    n_components: Annotated[int, Range(ge=1)] = 16  # PCA dimensions of the standardised features
    position_weight: Annotated[float, Range(ge=0)] = 0.0  # the layer arms: CNN features only
    colour_weight: Annotated[float, Range(ge=0)] = 0.0
    # the extra "<layer>+xy" arms: those layers' features with (x, y) appended at this weight (features' weight 1).
    # Measured on 16 Tiny-ImageNet val images (late layer, 224 px, K by silhouette): box IoU 0.605 without, 0.666 with
    # 0.5; on brick | grass mosaics (20 seeds, K=2) ARI middle 0.864 without, 0.924 with (worst 0.149 vs 0.893)
    xy_weight: Annotated[float, Range(ge=0)] = 0.5
    xy_layers: tuple[str, ...] = ("middle", "late")  # the early layer's 1600 vectors per image cost the most
    # DBSCAN on its own vectors: PCA to 4 dimensions, min_samples 5. Measured (24 Tiny-ImageNet val images, seed 5,
    # late layer, silhouette-scanned eps): 16-D / min_samples 10 found 1.08 clusters per image (box IoU 0.452,
    # the whole image 0.437), 8-D / 5 2.46 (0.499), 4-D / 5 2.75 (0.523): density needs few dimensions
    dbscan_components: Annotated[int, Range(ge=1)] = 4
    # the layers DBSCAN runs at: not early, whose 1600 vectors per image made it a fifth of the whole run (17.5 of
    # 73.7 s on 40 + 40 images, knee and scan) for a box IoU (0.577) below the middle layer's (0.590)
    dbscan_layers: tuple[str, ...] = ("middle", "late")
    min_samples: Annotated[int, Range(ge=2)] = 5  # DBSCAN's core-point neighbourhood
    n_init: Annotated[int, Range(ge=1)] = 1  # K-means restarts (1: scikit-learn's default for k-means++)
    # silhouette on a seeded sample of this many vectors (its cost is O(n^2): 500 is 4x cheaper than 1000)
    sample_size: Annotated[int, Range(ge=10)] = 500
    box_images: Annotated[int, Range(ge=2)] = 100  # Tiny-ImageNet val images with boxes, per seed
    mosaics: Annotated[int, Range(ge=2)] = 100  # seeded mosaics per seed (half textures, half photos)
    mosaic_size: Annotated[int, Range(ge=32)] = 128
    gallery: bool = True  # the photo figures (first seed)
    speed_repeats: Annotated[int, Range(ge=1)] = 10  # single 224x224 image timings (median after warm-up)
    speed_batch: Annotated[int, Range(ge=1)] = 64  # images/s at this batch size
    # one thread: clustering is many small BLAS/OpenMP calls, and on the shared 2-core machine a threaded
    # OpenBLAS SVD of a 196 x 112 matrix took 1.06 s against 9 ms on one thread (measured)
    threads: Annotated[int, Range(ge=0)] = 1

    BUDGETS: ClassVar[dict] = {
        "smoke": {"seeds": (0,), "box_images": 8, "mosaics": 6, "speed_repeats": 3, "speed_batch": 8,
                  "k_max": 5},
        "full": {"seeds": (0, 1, 2, 3, 4), "box_images": 500, "mosaics": 500},
    }


def _segmenter(source, prep, layer: str, cfg: SegmentConfig, seed: int, **kw) -> FeatureSegmenter:
    args = {"layer": layer, "k_range": (cfg.k_min, cfg.k_max), "input_size": cfg.input_size,
            "n_components": cfg.n_components, "position_weight": cfg.position_weight,
            "colour_weight": cfg.colour_weight, "min_samples": cfg.min_samples, "n_init": cfg.n_init,
            "sample_size": cfg.sample_size, "random_state": seed, "preprocessing": prep}
    return FeatureSegmenter(source, **{**args, **kw})


def _flat(arm: str, box: dict | None, mos: dict | None) -> dict[str, float]:
    out = {}
    if box:
        for key in ("box_iou", "silhouette"):
            out[f"{arm}/{key}"], out[f"{arm}/{key}_std"] = box[key]
        for key in ("davies_bouldin", "calinski_harabasz", "k", "noise", "only_noise"):  # means over images
            out[f"{arm}/{key}"] = box[key][0]
    if mos:
        for key, value in ((k, v) for k, v in mos.items() if k != "values"):
            out[f"{arm}/mosaic_{key}"] = value[0]
            if key in ("ari", "miou", "ari_auto"):
                out[f"{arm}/mosaic_{key}_std"] = value[1]
    return out


def _speed(seg: FeatureSegmenter, k: int, cfg: SegmentConfig) -> dict[str, float]:
    """Median ms for one 224x224 image (features + K-means at ``k``), and images/s at ``speed_batch``."""
    from skimage import data as skd

    image = resize_rgb(skd.astronaut(), (224, 224))
    seg = seg.set_params(n_segments=k, input_size=224)
    seg.fit(image)  # warm-up
    times = []
    for _ in range(cfg.speed_repeats):
        t0 = time.perf_counter()
        seg.fit(image)
        times.append(time.perf_counter() - t0)
    batch = [image] * cfg.speed_batch
    t0 = time.perf_counter()
    seg.fit_predict_many(batch)
    return {"speed_ms_224": 1000 * float(np.median(times)),
            "speed_images_per_s": cfg.speed_batch / (time.perf_counter() - t0)}


def _gallery(ctx: RunContext, seg_k: FeatureSegmenter, seg_d: FeatureSegmenter, label: str, arm: str) -> list[str]:
    from dl_assign.viz import segment as sviz

    photos = sc.gallery_photos()
    rows = []
    for name, image in photos:
        k = seg_k.fit(image)
        d = seg_d.fit(image)
        rows.append({"name": name, "image": image, "labels": {"K-means": k.labels_.copy(), "DBSCAN": d.labels_.copy()},
                     "notes": {"K-means": f"K={k.n_segments_} (silhouette {k.silhouette_:.2f})",
                               "DBSCAN": f"{d.n_segments_} clusters, {100 * d.noise_fraction_:.0f}% noise"
                               if not d.only_noise_ else "only noise"}})
    half = (len(rows) + 1) // 2
    return [ctx.save_figure(sviz.gallery(part, ["K-means", "DBSCAN"],
                                         title=f"{ctx.experiment}: {label}\nK-means: {arm} = {seg_k.describe()}"
                                                   f"{' + (x, y)' if seg_k.position_weight else ''}; DBSCAN: "
                                                   f"{seg_d.describe()}"), f"gallery{i + 1}")
            for i, part in enumerate((rows[:half], rows[half:]))]


def _mean(outputs, key: str) -> float:
    vals = [o.metrics.get(key) for o in outputs]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _cell(outputs, key: str, digits: int = 3) -> str:
    """Mean over seeds ± the mean per-seed std over images (when recorded)."""
    mean = _mean(outputs, key)
    if math.isnan(mean):
        return "n/a"
    std = _mean(outputs, f"{key}_std")
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if not math.isnan(std) else "")


def report(cfg: SegmentConfig, outputs, ctx: RunContext) -> str:
    from dl_assign.results import markdown_table

    first = outputs[0].artifacts
    models = first["feature_models"]
    n_box, n_mos = int(_mean(outputs, "n_box_images")), int(_mean(outputs, "n_mosaics"))
    lines = [f"**Features from:** {models[0]['label']}."]
    if len(models) > 1:
        lines.append(f"**Custom CNN for comparison:** {models[1]['label']}.")
    elif cfg.custom_cnn:
        lines.append("**Custom CNN:** not in the model store (run `dl-assign run pests.cnn_scratch`); not scored.")
    lines.append("Layers: " + ", ".join(f"{k} = `{v}`" for k, v in first["layers"].items()) + ".")
    lines.append(
        f"Per seed: {n_box} Tiny-ImageNet validation images with their object box and {n_mos} seeded mosaics "
        f"({first['mosaic_kinds']['textures']} of 2-4 textures, {first['mosaic_kinds']['photos']} of 2-4 Tiny-ImageNet "
        f"photos); {len(cfg.seeds)} seed(s) (each draws its own images), so every mean is over "
        f"{n_box * len(cfg.seeds)} boxed images and {n_mos * len(cfg.seeds)} mosaics. Images are resized to "
        f"{cfg.input_size} px (shorter side) for the network; vectors: standardised features, PCA to "
        f"{cfg.n_components}, K-means K in {cfg.k_min}..{cfg.k_max} by silhouette (seeded sample of "
        f"{cfg.sample_size} vectors); DBSCAN on the features PCA'd to {cfg.dbscan_components} dimensions, "
        f"min_samples {cfg.min_samples}.")
    lines.append(
        "Cells: mean over seeds ± the std over images (mean of the per-seed stds). **box IoU**: IoU of the object "
        "box with the best cluster or union of clusters (an oracle pick, so it rises with K; the whole image as "
        f"foreground scores {_mean(outputs, 'whole_image/box_iou'):.3f}). **ARI / mIoU**: mosaics at the true "
        "number of regions (mIoU after Hungarian matching); *auto*: K by silhouette (DBSCAN: its own clusters). "
        "Silhouette, Davies-Bouldin (lower is better) and Calinski-Harabasz are computed in each method's own "
        "vector space, so they compare K and layers of one method, not methods with each other.")
    arms = [a for a in _arm_names(outputs[0].metrics)]
    rows = []
    for a in arms:
        rows.append([f"`{a}`", _cell(outputs, f"{a}/box_iou"), _cell(outputs, f"{a}/mosaic_ari"),
                     _cell(outputs, f"{a}/mosaic_miou"), _cell(outputs, f"{a}/mosaic_ari_auto"),
                     _cell(outputs, f"{a}/silhouette"), _cell(outputs, f"{a}/davies_bouldin", 2),
                     _cell(outputs, f"{a}/calinski_harabasz", 1), _cell(outputs, f"{a}/k", 2),
                     _cell(outputs, f"{a}/noise", 2)])
    lines.append(markdown_table(["arm", "box IoU", "mosaic ARI", "mosaic mIoU", "ARI auto", "silhouette", "DB",
                                 "CH", "K / clusters", "noise"], rows))
    m = lambda key: _mean(outputs, key)  # noqa: E731
    best_mos, late = first["best_mosaic_arm"], cfg.dbscan_layers[-1]
    lines.append(
        f"Best CNN arm by box IoU: `{first['best_arm']}` ({m('best_cnn/box_iou'):.3f}, "
        f"{m('best_cnn_gain_over_whole_image/box_iou'):+.3f} ± {m('best_cnn_gain_over_whole_image/box_iou_sem'):.3f} "
        f"over the whole image, {m('best_cnn_minus_best_baseline/box_iou'):+.3f} ± "
        f"{m('best_cnn_minus_best_baseline/box_iou_sem'):.3f} over the best baseline `{first['best_baseline']}`); "
        f"by mosaic ARI: `{best_mos}` ({m('best_cnn/mosaic_ari'):.3f}, "
        f"{m('best_cnn_minus_best_baseline/mosaic_ari'):+.3f} ± {m('best_cnn_minus_best_baseline/mosaic_ari_sem'):.3f} "
        f"over the best baseline; ± = standard error of the paired per-image differences, mean over seeds). "
        f"Mosaic ARI by kind, "
        f"best CNN arm: textures {m(best_mos + '/mosaic_ari_textures'):.3f}, photos "
        f"{m(best_mos + '/mosaic_ari_photos'):.3f}; colour + position K-means: textures "
        f"{m('rgbxy/kmeans/mosaic_ari_textures'):.3f}, photos {m('rgbxy/kmeans/mosaic_ari_photos'):.3f}.")
    lines.append(
        f"DBSCAN: eps read off the k-distance curve. The textbook knee gives {m(f'{late}/dbscan_knee/k'):.2f} "
        f"clusters per image on average at `{late}` (with {100 * m(f'{late}/dbscan_knee/noise'):.0f}% noise); the "
        f"silhouette-scanned eps gives {m(f'{late}/dbscan/k'):.2f} clusters with "
        f"{100 * m(f'{late}/dbscan/noise'):.0f}% noise; share of images where DBSCAN found only noise: "
        f"{m(f'{late}/dbscan/only_noise'):.2f}.")
    lines.append(
        f"Speed (`{first['best_arm'].split('/')[0]}`, K={first['speed_k']}, one 224x224 image, features + K-means, "
        f"{cfg.threads} thread(s)): {m('speed_ms_224'):.1f} ms median; {m('speed_images_per_s'):.1f} images/s at "
        f"batch {cfg.speed_batch} (`benchmarks/bench_segment.py` times it on 2 cores).")
    return "\n\n".join(lines)


def _arm_names(metrics: dict) -> list[str]:
    arms = []
    for key in metrics:
        if key.endswith("/box_iou") and key.count("/") == 2:
            arms.append(key.rsplit("/", 1)[0])
    return arms


@experiment("segment.cnn_features", SegmentConfig, datasets=("tiny-imagenet", "ip102"), report=report)
def segment_cnn_features(cfg: SegmentConfig, seed: int, ctx: RunContext):
    """Segments from clustered CNN features (K-means, DBSCAN) by layer, vs colour+position and SLIC baselines."""
    from dl_assign.viz import segment as sviz

    if cfg.k_max < cfg.k_min:
        raise ValueError(f"k_max ({cfg.k_max}) must be >= k_min ({cfg.k_min})")
    for name in ("xy_layers", "dbscan_layers", "custom_layers"):
        if not getattr(cfg, name) or not set(getattr(cfg, name)) <= set(cfg.layers):
            raise ValueError(f"{name} {getattr(cfg, name)} must be a non-empty subset of layers {cfg.layers}")
    ctx.use_dataset(tinyimagenet.info(tinyimagenet.locate()) | tinyimagenet.stand_in("ip102"))
    models = sc.feature_models(cfg.feature_model, cfg.imagenet_backbone, cfg.custom_cnn)
    boxes = sc.box_set(cfg.box_images, seed)
    pool = sc.photo_pool(40, seed, exclude=set(boxes.files))
    mosaics = sc.mosaic_set(cfg.mosaics, seed, cfg.mosaic_size, pool)
    ks = list(range(cfg.k_min, cfg.k_max + 1))
    metrics: dict[str, float] = {}
    curves: dict[str, dict] = {}
    layers_used: dict[str, str] = {}
    timings: dict[str, float] = {}
    values: dict[str, dict[str, np.ndarray]] = {}  # per-image scores of each arm, for paired differences

    def arm(name: str, seg, dbscan: bool = False, vecs: tuple | None = None) -> None:
        t0 = time.perf_counter()
        vb, vm = vecs or (None, None)
        box = sc.score_boxes(seg, boxes, ks, dbscan=dbscan, vecs=vb)
        mos = sc.score_mosaics(seg, mosaics, dbscan=dbscan, vecs=vm)
        metrics.update(_flat(name, box, mos))
        values[name] = {"box_iou": np.asarray(box["values"]), "mosaic_ari": np.asarray(mos["values"])}
        if box.get("curve"):
            curves[name] = {m: {k: box["curve"][k][m] for k in box["curve"]} for m in ("silhouette", "box_iou")}
        timings[name] = time.perf_counter() - t0

    for fm in models:
        prefix = "" if fm.key == "transfer" else "custom."
        for layer in cfg.layers if fm.key == "transfer" else cfg.custom_layers:
            seg = _segmenter(fm.source, fm.preprocessing, layer, cfg, seed)
            layers_used[f"{prefix}{layer}"] = seg.describe()
            t0 = time.perf_counter()
            maps = (seg.feature_maps(boxes.images), seg.feature_maps(mosaics.images))  # one trunk pass per layer
            timings[f"{prefix}{layer}/features"] = time.perf_counter() - t0
            arm(f"{prefix}{layer}/kmeans", seg, vecs=(seg.vectors(boxes.images, maps[0]),
                                                      seg.vectors(mosaics.images, maps[1])))
            if fm.key == "transfer" and layer in cfg.dbscan_layers:
                db = clone(seg).set_params(method="dbscan", n_components=cfg.dbscan_components)
                vecs = (db.vectors(boxes.images, maps[0]), db.vectors(mosaics.images, maps[1]))
                arm(f"{layer}/dbscan", db, dbscan=True, vecs=vecs)
                arm(f"{layer}/dbscan_knee", clone(db).set_params(eps_rule="knee"), dbscan=True, vecs=vecs)
            if fm.key == "transfer" and layer in cfg.xy_layers:
                xy = clone(seg).set_params(position_weight=cfg.xy_weight)
                arm(f"{layer}+xy/kmeans", xy, vecs=(xy.vectors(boxes.images, maps[0]),
                                                    xy.vectors(mosaics.images, maps[1])))
    main = models[0]
    # the baseline's pixel grid = the early layer's grid (stride 4 of the network's input)
    arm("rgbxy/kmeans", ColourPositionKMeans(k_range=(cfg.k_min, cfg.k_max), grid_size=max(8, cfg.input_size // 4),
                                             n_init=cfg.n_init, sample_size=cfg.sample_size, random_state=seed))
    arm("slic/merge", SLICMerged(k_range=(cfg.k_min, cfg.k_max), input_size=cfg.input_size,
                                 sample_size=cfg.sample_size, random_state=seed))

    # summaries the rubric and the README read
    whole = [float(b.mean()) for b in boxes.boxes]  # IoU of the whole image as the foreground
    metrics["whole_image/box_iou"] = float(np.mean(whole))
    cnn_arms = [f"{layer}/kmeans" for layer in cfg.layers] + [f"{layer}+xy/kmeans" for layer in cfg.xy_layers]
    best = max(cnn_arms, key=lambda a: metrics[f"{a}/box_iou"])
    best_mosaic = max(cnn_arms, key=lambda a: metrics[f"{a}/mosaic_ari"])
    base = max(("rgbxy/kmeans", "slic/merge"), key=lambda a: metrics[f"{a}/box_iou"])
    base_mosaic = max(("rgbxy/kmeans", "slic/merge"), key=lambda a: metrics[f"{a}/mosaic_ari"])
    metrics["best_cnn/box_iou"] = metrics[f"{best}/box_iou"]
    metrics["best_cnn/mosaic_ari"] = metrics[f"{best_mosaic}/mosaic_ari"]
    metrics["best_cnn/silhouette"] = metrics[f"{best}/silhouette"]
    # paired differences on the same images: the mean and its standard error (std of the differences / sqrt(n))
    for key, diff in (("best_cnn_gain_over_whole_image/box_iou", values[best]["box_iou"] - np.asarray(whole)),
                      ("best_cnn_minus_best_baseline/box_iou", values[best]["box_iou"] - values[base]["box_iou"]),
                      ("best_cnn_minus_best_baseline/mosaic_ari",
                       values[best_mosaic]["mosaic_ari"] - values[base_mosaic]["mosaic_ari"])):
        metrics[key] = float(diff.mean())
        metrics[f"{key}_sem"] = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else math.nan
    dbscan_arms = [f"{layer}/dbscan" for layer in cfg.dbscan_layers]
    best_db = max(dbscan_arms, key=lambda a: metrics[f"{a}/box_iou"])
    metrics["best_dbscan/box_iou"] = metrics[f"{best_db}/box_iou"]
    metrics["best_dbscan/clusters"] = metrics[f"{best_db}/k"]
    metrics["used_store_model"] = float(main.origin == "store")
    metrics["n_box_images"] = float(len(boxes.images))
    metrics["n_mosaics"] = float(len(mosaics.images))

    best_layer = best.split("/")[0]
    seg_best = _segmenter(main.source, main.preprocessing, best_layer.removesuffix("+xy"), cfg, seed,
                          position_weight=cfg.xy_weight if best_layer.endswith("+xy") else cfg.position_weight)
    k_speed = max(cfg.k_min, round(metrics[f"{best}/k"]))
    metrics.update(_speed(clone(seg_best), k_speed, cfg))

    figures = []
    if seed == cfg.seeds[0]:
        figures.append(ctx.save_figure(sviz.against_k(curves, title=f"{ctx.experiment}: {main.label} (seed {seed}, "
                                                                    f"{len(boxes.images)} Tiny-ImageNet val images)",
                                                      whole_image=metrics["whole_image/box_iou"]),
                                       "against_k"))
        per_layer = {m: {layer: (metrics[f"{layer}/kmeans/{key}"], metrics.get(f"{layer}/kmeans/{key}_std", 0.0))
                         for layer in cfg.layers} for m, key in
                     (("silhouette (K by silhouette)", "silhouette"), ("box IoU", "box_iou"),
                      ("mosaic ARI (true K)", "mosaic_ari"))}
        figures.append(ctx.save_figure(sviz.against_layer(per_layer, list(cfg.layers),
                                                          title=f"{ctx.experiment}: K-means by layer (seed {seed})"),
                                       "against_layer"))
        if cfg.gallery:
            seg_db = _segmenter(main.source, main.preprocessing, best_layer.removesuffix("+xy"), cfg, seed,
                                method="dbscan", n_components=cfg.dbscan_components)
            figures += _gallery(ctx, seg_best, seg_db, main.label, best_layer)
    artifacts = {"feature_models": [{"key": m.key, "label": m.label, "origin": m.origin, **m.record} for m in models],
                 "layers": layers_used, "curves": {a: {m: {str(k): v for k, v in c.items()} for m, c in per.items()}
                                                   for a, per in curves.items()},
                 "best_arm": best, "best_mosaic_arm": best_mosaic, "best_baseline": base, "best_dbscan": best_db,
                 "speed_k": k_speed, "arm_seconds": timings, "figures": figures,
                 "mosaic_kinds": {k: mosaics.kinds.count(k) for k in ("textures", "photos")}}
    return SeedResult({k: (v if math.isfinite(v) else math.nan) for k, v in metrics.items()}, artifacts)
