"""``imagenet.occlusion``: occlusion sensitivity (Zeiler & Fergus 2014, figs. 7-8) of the best Tiny-ImageNet CNN.

The model is the store's best ``imagenet_cnn`` of the task (``imagenet.cnn_best``'s seeds, by test
accuracy); when the store holds none (or ``model="train"``) a small CNN is trained here first, and the
report says so. For ``n_images`` test images (half correctly classified, half not, drawn with the seed
among images whose object box covers at most ``max_box_share`` of the image, so that inside vs outside
the box means something) it draws the image with its box, the map p(true class | N x N grey window at
(i, j)) and the confidence drop overlaid; a window-size sweep shows why N. The comment the seed asks
for is measured: the localisation ratio (share of the confidence drop inside the box / the box's share
of the image; > 1 = the model relies on the object, < 1 = on context) over the shown images and over
``n_ratio`` test images, naming the images where context dominates. One run also checks the per-pixel
attribution against captum's ``Occlusion`` on one image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from dl_assign import store
from dl_assign.config import Range
from dl_assign.data.augment import IMAGENET_MEAN, IMAGENET_STD, Normalize
from dl_assign.engine.device import use_bf16
from dl_assign.experiments.imagenet import common as ic
from dl_assign.interpret import localisation_ratio, occlusion_map, pixel_attribution, target_probability
from dl_assign.registry import RunContext, SeedResult, experiment


@dataclass(frozen=True)
class OcclusionConfig(ic.ImageNetConfig):
    """Window 16 px (a quarter of the 64-px side), stride 4 (a 13 x 13 map), 0.5 grey; 10 images shown, 200 scored.

    The training fields are those of the fallback CNN trained when the store has no model (the study's
    base: 4 conv layers 32-256, 3 epochs on every training image, ~2.5 minutes at standard).
    """

    model: Literal["auto", "train"] = "auto"  # auto: the store's best imagenet_cnn model, else train one here
    window: Annotated[int, Range(ge=1)] = 16
    window_stride: Annotated[int, Range(ge=1)] = 4  # (`stride` is the CNN's first-conv stride)
    fill: Annotated[float, Range(ge=0, le=1)] = 0.5  # grey, in pixel space ([0, 1]); normalised like the image
    sweep: Annotated[tuple[int, ...], Range(ge=1, min_len=1)] = (8, 12, 16, 24)  # window sizes compared
    sweep_images: Annotated[int, Range(ge=1)] = 3
    n_images: Annotated[int, Range(ge=2)] = 10
    n_ratio: Annotated[int, Range(ge=1)] = 200
    max_box_share: Annotated[float, Range(gt=0, le=1)] = 0.5
    occlusion_batch: Annotated[int, Range(ge=1)] = 256  # occluded copies per forward
    # incremental: recompute only what each window changes (interpret.incremental; the same map, measured
    # faster in benchmarks/bench_imagenet.py); batched: every occluded copy through the whole model
    method: Literal["incremental", "batched"] = "incremental"
    epochs: int = 3
    # the seed picks the images: three seeds are three draws of the 10 shown and the 200 scored test images
    # (the model is the same), so the localisation ratio gets a mean ± std over image samples
    seeds: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0, 1, 2)

    BUDGETS: ClassVar[dict] = {
        "smoke": {"seeds": (0,), "train_per_class": 3, "val_per_class": 1, "test_per_class": 3, "epochs": 1,
                  "widths": (8, 16, 16, 32), "n_images": 4, "n_ratio": 12, "sweep": (8, 16), "sweep_images": 2,
                  "window_stride": 8, "max_box_share": 1.0, "batch_size": 64},
        "full": {"n_ratio": 1000, "window_stride": 2},
    }


def _model(cfg: OcclusionConfig, data: ic.ImageData, seed: int, ctx: RunContext):
    """(model in eval mode, description, origin) from the store, else trained here."""
    if cfg.model == "auto" and (rec := ic.best_stored(data.task)) is not None:
        model, _ = store.load(rec["task"], rec["model"], rec["version"])
        return model, (f"store {rec['task']}/{rec['model']} v{rec['version']} ({rec['experiment']}, {rec['budget']} "
                       f"budget, seed {rec['seed']}: the best validation accuracy, {rec['val_accuracy']:.4f}, of "
                       f"the stored versions; its recorded test accuracy {rec['test_accuracy']:.4f})"), "store"
    why = "the model store holds no imagenet_cnn model" if cfg.model == "auto" else "model=train"
    model, history = ic.train(cfg, data, seed, ctx, desc=f"{ctx.experiment} fallback CNN", tag="fallback",
                              validate=False)
    return model.eval(), (f"a CNN trained here ({why}): {len(cfg.widths)} stages {tuple(cfg.widths)} x "
                          f"{cfg.convs_per_stage} conv, {cfg.epochs} epochs on {len(data.y['train'])} images, "
                          f"{history[-1]['train_seconds']:.0f} s"), "trained"


def pick_images(correct: np.ndarray, eligible: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` eligible test indices, half correctly classified and half not (as far as there are), seeded."""
    rng = np.random.default_rng(seed)
    right, wrong = np.flatnonzero(eligible & correct), np.flatnonzero(eligible & ~correct)
    k_wrong = min(len(wrong), n // 2)
    k_right = min(len(right), n - k_wrong)
    k_wrong = min(len(wrong), n - k_right)
    return np.concatenate([rng.choice(right, k_right, replace=False), rng.choice(wrong, k_wrong, replace=False)])


def _box_masks(boxes: np.ndarray, size: int = 64) -> torch.Tensor:
    masks = torch.zeros(len(boxes), size, size, dtype=torch.bool)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        masks[k, y0:y1 + 1, x0:x1 + 1] = True
    return masks


def _one(model, image, target, window, stride, fill, batch, amp_bf16="off", method="incremental"):
    conf = occlusion_map(model, image, target, window, stride, fill, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                         batch_size=batch, amp_bf16=amp_bf16, channels_last=True, method=method)
    p0 = target_probability(model, image, target, amp_bf16=amp_bf16)
    return conf, p0, pixel_attribution(conf, p0, tuple(image.shape[1:]), window, stride)


def _captum_check(model, image, target, cfg) -> dict[str, float]:
    """On one image: max |ours - captum| of the fp32 per-pixel attribution from the run's method (the test
    asserts <= 1e-5), max |incremental - batched| of the fp32 maps, and max |map in the run's precision -
    fp32 map| (what bf16 autocast changes in p(true))."""
    from captum.attr import Occlusion

    from dl_assign.interpret import fill_value

    args = (model, image, target, cfg.window, cfg.window_stride, cfg.fill, cfg.occlusion_batch)
    exact, _, ours = _one(*args, method=cfg.method)
    other, _, _ = _one(*args, method="batched" if cfg.method == "incremental" else "incremental")
    fast, _, _ = _one(*args, cfg.amp_bf16, cfg.method)
    baseline = fill_value(cfg.fill, 3, IMAGENET_MEAN, IMAGENET_STD)[None].expand(1, *image.shape)
    with torch.no_grad():
        theirs = Occlusion(lambda x: torch.softmax(model(x), 1)).attribute(
            image[None], sliding_window_shapes=(3, cfg.window, cfg.window),
            strides=(3, cfg.window_stride, cfg.window_stride),
            baselines=baseline, target=target, perturbations_per_eval=cfg.occlusion_batch)[0]
    return {"captum_max_abs_diff": float((theirs - ours[None]).abs().max()),
            "methods_map_max_abs_diff": float((other - exact).abs().max()),
            "precision_map_max_abs_diff": float((fast - exact).abs().max())}


def _report(cfg: OcclusionConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import markdown_table
    from dl_assign.viz import imagenet as vi

    data = ic.load(cfg)
    art, m = outputs[0].artifacts, outputs[0].metrics
    idx = [s["index"] for s in art["shown"]]
    caps = [f"{s['true']}\npred {s['pred']} ({'right' if s['correct'] else 'wrong'}), ratio {s['ratio']:.2f}"
            for s in art["shown"]]
    maps = [np.array(art["maps"][str(i)]) for i in idx]
    size = tuple(data.x["test"].shape[2:])

    def attribution(conf, p_true, window, stride):  # the per-pixel drop, from a stored confidence map
        return pixel_attribution(torch.as_tensor(conf), p_true, size, window, stride).numpy()

    p_true = {s["index"]: s["p_true"] for s in art["shown"]}
    attrs = [attribution(np.array(art["maps"][str(i)]), p_true[i], cfg.window, cfg.window_stride) for i in idx]
    title = f"{ctx.experiment}: {cfg.window}px grey window, stride {cfg.window_stride}"
    ctx.save_figure(vi.occlusion_rows(data.x["test"][idx], data.boxes[idx], maps, attrs, caps, cfg.window,
                                      cfg.window_stride, title=title), "maps")
    sw = [int(k) for k in art["sweep"]]
    pos = [idx.index(i) for i in sw]
    ctx.save_figure(vi.window_sweep(data.x["test"][sw], data.boxes[sw],
                                    [{int(w): attribution(np.array(c), p_true[i], int(w),
                                                          min(cfg.window_stride, int(w)))
                                      for w, c in art["sweep"][str(i)].items()} for i in sw],
                                    [caps[p].split("\n")[0] for p in pos],
                                    title=f"{ctx.experiment}: confidence drop per window size N"), "sweep")
    best_n = max(cfg.sweep, key=lambda w: np.nan_to_num(m[f"sweep_ratio_mean/{w}"], nan=-1.0))
    sweep_rows = [[f"N = {w}", f"{m[f'sweep_ratio_mean/{w}']:.2f}"] for w in cfg.sweep]
    shown_rows = [[s["file"], s["true"], s["pred"], "yes" if s["correct"] else "no", f"{s['p_true']:.3f}",
                   f"{s['box_share']:.0%}", f"{s['ratio']:.2f}"] for s in art["shown"]]
    context = art["context_dominated"]
    context_text = ", ".join(f"{c['file']} ({c['true']}, {c['ratio']:.2f})" for c in context[:10]) or "none"
    shown_context = [s for s in art["shown"] if s["ratio"] < 1]
    method = cfg.method if "methods_map_max_abs_diff" in m else "batched"  # records from before `method` ran batched
    method_text = ("incremental: only what each window changes is recomputed, batched over the windows"
                   if method == "incremental" else "batched: every occluded copy through the whole model")
    methods_text = (f"; incremental and batched maps differ by at most {m['methods_map_max_abs_diff']:.1e}"
                    if "methods_map_max_abs_diff" in m else "")
    return (f"Model: {art['model']}; test accuracy here (no flip TTA) {m['model_test_accuracy']:.4f}. "
            f"{ic.FROM_SCRATCH}\n\n"
            f"Window {cfg.window} px, stride {cfg.window_stride}, fill {cfg.fill} grey (pixel space, normalised like "
            f"the image); {int(m['images_shown'])} images shown (half right, half wrong, seed {cfg.seeds[0]}), "
            f"{int(m['images_scored'])} scored, all drawn among the {int(m['eligible_test_images'])} test images whose "
            f"box covers <= {cfg.max_box_share:.0%} of the image. {m['ms_per_map']:.1f} ms per map ({method_text}, "
            f"{cfg.occlusion_batch} copies per call). Per-pixel attribution vs captum `Occlusion` on one image: "
            f"max |difference| {m['captum_max_abs_diff']:.1e} (fp32){methods_text}; the maps run in "
            f"{'bf16 autocast' if m['bf16'] else 'fp32'} (amp_bf16={cfg.amp_bf16}), channels-last, which moves p(true) "
            f"by at most {m['precision_map_max_abs_diff']:.1e} on that image.\n\n"
            + markdown_table(["file", "true", "predicted", "right", "p(true)", "box share", "localisation ratio"],
                             shown_rows)
            + "\n\nLocalisation ratio = (share of the confidence drop inside the box) / (box's share of the image): "
            "> 1 means the evidence the model uses lies on the object, < 1 around it (context).\n\n"
            + markdown_table(["images", "mean ratio", "median ratio", "share with ratio > 1"],
                             [[f"the {int(m['images_shown'])} shown", f"{m['ratio_shown_mean']:.2f}",
                               f"{m['ratio_shown_median']:.2f}", ""],
                              [f"{int(m['images_scored'])} test images", f"{m['ratio_mean']:.2f}",
                               f"{m['ratio_median']:.2f}", f"{m['object_share']:.0%}"]])
            + f"\n\nContext dominates (ratio < 1) in {len(shown_context)} of the shown images "
            f"({', '.join(s['file'] + ' ' + s['true'] for s in shown_context) or 'none'}) and in "
            f"{art['context_dominated_count']} of the {int(m['images_scored'])} scored; the strongest: "
            f"{context_text}.\n\n"
            f"Window-size sweep (mean ratio over the shown images, stride min({cfg.window_stride}, N); figure "
            f"`{ctx.experiment}.sweep.png`): the highest mean ratio is at N = {best_n}; the maps use N = {cfg.window}. "
            "A window much smaller than the object hides too little of it to move p(true); one as large as the object "
            "also covers context, which blurs inside vs outside.\n\n"
            + markdown_table(["window", "mean localisation ratio"], sweep_rows))


@experiment("imagenet.occlusion", OcclusionConfig, datasets=("tiny-imagenet",), report=_report)
def imagenet_occlusion(cfg: OcclusionConfig, seed: int, ctx: RunContext) -> SeedResult:
    """Occlusion sensitivity of the best Tiny-ImageNet CNN: maps for ~10 test images, localisation ratio over 200."""
    if cfg.dataset != "tiny-imagenet":
        raise ValueError("imagenet.occlusion needs object boxes: only dataset=tiny-imagenet has them")
    if cfg.window > 64:
        raise ValueError(f"window {cfg.window} is larger than the 64-px image")
    if cfg.window_stride > cfg.window:  # interpret.grid_shape refuses it (as captum does): say so before any training
        raise ValueError(f"window_stride {cfg.window_stride} is larger than the window {cfg.window}")
    data = ic.load(cfg)
    ctx.use_dataset(data.info)
    model, described, origin = _model(cfg, data, seed, ctx)
    model = model.float().eval()
    bf16 = use_bf16(cfg.amp_bf16)
    x = Normalize()(data.x["test"])  # (N, 3, 64, 64) float, the model's input scale
    y = data.y["test"].numpy()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 256]).argmax(1) for i in range(0, len(x), 256)]).numpy()
    boxes = data.boxes
    share = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1) / 64.0 ** 2
    eligible = share <= cfg.max_box_share
    shown = pick_images(pred == y, eligible, cfg.n_images, seed)
    rest = np.setdiff1d(np.flatnonzero(eligible), shown)
    scored = np.concatenate([shown, np.random.default_rng(seed + 1).choice(
        rest, min(len(rest), max(0, cfg.n_ratio - len(shown))), replace=False)]).astype(int)
    masks = _box_masks(boxes)
    ratios, maps, p0s = {}, {}, {}
    t0 = time.perf_counter()
    for i in tqdm(scored, desc=f"{ctx.experiment} maps", unit="image", disable=not ctx.progress):
        conf, p0, attr = _one(model, x[i], int(y[i]), cfg.window, cfg.window_stride, cfg.fill, cfg.occlusion_batch,
                              cfg.amp_bf16, cfg.method)
        ratios[int(i)] = localisation_ratio(attr, masks[i])
        if i in shown:
            maps[int(i)], p0s[int(i)] = conf.numpy(), p0
    seconds = time.perf_counter() - t0
    sweep = {}
    for i in shown:
        sweep[int(i)] = {}
        for win in cfg.sweep:
            conf, _, attr = _one(model, x[i], int(y[i]), win, min(cfg.window_stride, win), cfg.fill,
                                 cfg.occlusion_batch, cfg.amp_bf16, cfg.method)
            sweep[int(i)][win] = (localisation_ratio(attr, masks[i]), conf.numpy())
    r_shown = np.array([ratios[int(i)] for i in shown])
    r_all = np.array([ratios[int(i)] for i in scored])
    metrics = {
        "ratio_shown_mean": float(np.nanmean(r_shown)), "ratio_shown_median": float(np.nanmedian(r_shown)),
        "ratio_mean": float(np.nanmean(r_all)), "ratio_median": float(np.nanmedian(r_all)),
        "object_share": float(np.nanmean(r_all > 1)), "images_scored": float(len(scored)),
        "images_shown": float(len(shown)), "bf16": float(bf16), "eligible_test_images": float(eligible.sum()),
        "ms_per_map": 1000 * seconds / max(1, len(scored)), "model_test_accuracy": float((pred == y).mean()),
        **_captum_check(model, x[int(shown[0])], int(y[int(shown[0])]), cfg),
        **{f"sweep_ratio_mean/{w}": float(np.nanmean([sweep[int(i)][w][0] for i in shown])) for w in cfg.sweep},
    }
    names = data.names
    per_image = [{"index": int(i), "file": data.files[int(i)], "true": names[y[i]], "pred": names[pred[i]],
                  "correct": bool(pred[i] == y[i]), "p_true": float(p0s[int(i)]), "ratio": float(ratios[int(i)]),
                  "box_share": float(share[i])} for i in shown]
    context = [{"file": data.files[int(i)], "true": names[y[i]], "ratio": float(ratios[int(i)])}
               for i in sorted(scored, key=lambda k: ratios[int(k)]) if ratios[int(i)] < 1]
    artifacts = {"model": described, "origin": origin, "shown": per_image, "context_dominated": context[:20],
                 "context_dominated_count": len(context),
                 "maps": {str(i): np.round(maps[int(i)], 5).tolist() for i in shown},
                 # confidence maps only: the per-pixel attributions are derived from them (pixel_attribution) when
                 # the figures are drawn; stored too they made the record 7.9 MB
                 "sweep": {str(i): {str(w): np.round(sweep[int(i)][w][1], 5).tolist() for w in cfg.sweep}
                           for i in shown[:cfg.sweep_images]}}
    return SeedResult(metrics, artifacts)
