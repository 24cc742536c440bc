"""``imagenet.cnn_best``: the combination ``imagenet.cnn_study`` points to, trained longer on every training image
with augmentation, tested on the Tiny-ImageNet-100 test split (the official val images); misclassifications explained.

Each seed's model goes to the store (task ``imagenet.tiny100``, model ``cnn``, one version a seed;
``imagenet.occlusion`` uses the best of them). Besides top-1 / top-5 the seed measures where the errors
are: test error rate by object-box area quartile (the box from ``val_annotations.txt``, as a share of
the image), for greyscale vs colour images, for the lowest-contrast quartile vs the rest, and how often
a wrong prediction is a sibling of the true class. The WordNet hierarchy is not in the data (``words.txt``
gives names only, and nltk's WordNet is not installed), so *sibling* is measured as **sharing a head
noun**: the last word of any of the two classes' comma-separated names in ``words.txt`` (e.g. "tabby,
tabby cat" and "Egyptian cat"); the report gives the share of all class pairs that are siblings by that
rule as the chance level.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import torch

from dl_assign.config import Range
from dl_assign.data import tinyimagenet
from dl_assign.engine.metrics import logits_report
from dl_assign.experiments import ablation
from dl_assign.experiments.imagenet import common as ic
from dl_assign.models.tta import FlipTTA
from dl_assign.registry import RunContext, SeedResult, experiment

GREY_MAX_DIFF = 8  # an image is greyscale when no pixel's channels differ by more than this (uint8 levels)


@dataclass(frozen=True)
class CNNBestConfig(ic.ImageNetConfig):
    """8 conv layers (4 stages 32-64-128-256 x 2), max pool after each stage, stride-2 first conv, one FC layer
    on a 2x2-pooled map, dropout 0.3; AdamW 2e-3 (half-epoch warm-up, cosine), weight decay 0.05, label
    smoothing 0.1; random 4-px crops + flips; 8 epochs on all 45,000 training images; tested with flip TTA
    (the plain score is recorded as ``test_accuracy_no_tta``).

    Why, measured: the study (``results/imagenet.cnn_study.md``, 3,000 training images, 4 epochs) says train
    longer (epochs x2 its best cell, 0.170 vs 0.108 val top-1), keep max pooling (strided convs 0.100), a
    stride-2 first conv (stride 1: +0.005 for 4x the FLOPs), one FC layer (2 FC 0.075, 3 FC 0.050), base
    widths (x2: 0.108); at that budget 4 conv beat 8 even with twice the epochs (0.170 vs 0.117) and pooling
    after stages 1-2 only was best (0.121). Depth was then checked at THIS budget: ``imagenet.cnn_best_depth``
    trains the study's literal pick (4 conv, pooling after stages 1-2) beside this recipe (seed 0, AMD EPYC):
    test top-1 0.452 vs 0.498 (paired interval +0.035..+0.058), val 0.428 vs 0.472, 261 s vs 548 s of training:
    15x the data turns the study's depth ranking round, so the 8-conv network is kept.
    Sized to one standard seed: 45,000 x 8 image-epochs x 2.1-2.35 ms (measured, 1 thread, bf16, 2-core EPYC)
    = 13-15 minutes a seed, inside the issue's 30.
    """

    convs_per_stage: int = 2
    epochs: int = 8
    seeds: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0, 1, 2)
    gallery: Annotated[int, Range(ge=1)] = 16  # misclassified test images shown (the most confident errors)
    # score the mean of the image's and its mirror's probabilities (test_accuracy); the plain score is recorded too
    flip_tta: bool = True
    save_model: bool = True  # every seed's model goes to the store (task imagenet.tiny100, model cnn)

    BUDGETS: ClassVar[dict] = {
        "smoke": {"train_per_class": 4, "val_per_class": 2, "test_per_class": 4, "epochs": 1, "seeds": (0,),
                  "widths": (8, 16, 16, 32), "batch_size": 64, "gallery": 6},
        "full": {"epochs": 40, "widths": (64, 128, 256, 512), "fc_widths": (1024,), "seeds": (0, 1, 2)},
    }


# --- measured explanations of the errors ---------------------------------------------------------


def head_nouns(names: list[str]) -> set[str]:
    """The last word of every name, lower-cased ("tabby cat" -> "cat")."""
    return {n.split()[-1].lower() for n in names if n.split()}


def sibling_matrix(wnids: list[str], all_names: dict[str, list[str]]) -> np.ndarray:
    """(C, C) bool: classes i != j share a head noun (the stand-in for WordNet siblings; see the module doc)."""
    heads = [head_nouns(all_names.get(w, [w])) for w in wnids]
    c = len(wnids)
    out = np.zeros((c, c), dtype=bool)
    for i in range(c):
        for j in range(c):
            out[i, j] = i != j and bool(heads[i] & heads[j])
    return out


def image_measures(x: torch.Tensor) -> dict[str, np.ndarray]:
    """Per uint8 (N, 3, H, W) image: greyscale (bool) and contrast (std of the luminance, 0-255)."""
    xi = x.to(torch.int16)
    spread = (xi.amax(1) - xi.amin(1)).flatten(1).amax(1)  # (N,) largest channel difference of any pixel
    lum = (0.299 * x[:, 0].float() + 0.587 * x[:, 1].float() + 0.114 * x[:, 2].float()).flatten(1)
    return {"grey": (spread <= GREY_MAX_DIFF).numpy(), "contrast": lum.std(1, correction=1).numpy()}


def _rate(wrong: np.ndarray, mask: np.ndarray) -> float:
    return float(wrong[mask].mean()) if mask.any() else float("nan")


def error_analysis(pred: np.ndarray, y: np.ndarray, x: torch.Tensor, boxes: np.ndarray | None,
                   siblings: np.ndarray) -> dict[str, float]:
    """Error rates by box-area quartile, greyscale vs colour, low contrast vs the rest; the sibling share."""
    wrong = pred != y
    out = {}
    if boxes is not None:
        area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1) / float(x.shape[-1] * x.shape[-2])
        edges = np.quantile(area, [0.25, 0.5, 0.75])
        q = np.searchsorted(edges, area, side="right")  # 0..3
        for k in range(4):
            out[f"error_box_q{k + 1}"] = _rate(wrong, q == k)
            out[f"box_area_q{k + 1}_upper"] = float(edges[k]) if k < 3 else float(area.max())
    m = image_measures(x)
    out["error_grey"], out["error_colour"] = _rate(wrong, m["grey"]), _rate(wrong, ~m["grey"])
    out["grey_images"] = float(m["grey"].sum())
    low = m["contrast"] <= np.quantile(m["contrast"], 0.25)
    out["error_low_contrast"], out["error_other_contrast"] = _rate(wrong, low), _rate(wrong, ~low)
    out["low_contrast_threshold"] = float(np.quantile(m["contrast"], 0.25))
    out["sibling_share"] = float(siblings[y[wrong], pred[wrong]].mean()) if wrong.any() else float("nan")
    c = len(siblings)
    out["sibling_chance"] = float(siblings.sum() / (c * (c - 1))) if c > 1 else float("nan")
    return out


def confused_pairs(confusion: np.ndarray, names: list[str], k: int = 10) -> list[tuple[str, str, int, int]]:
    """The ``k`` most confused unordered class pairs: (a, b, a predicted as b, b predicted as a)."""
    cm = np.asarray(confusion)
    both = cm + cm.T
    iu = np.triu_indices(len(cm), 1)
    order = np.argsort(-both[iu], kind="stable")[:k]
    return [(names[iu[0][o]], names[iu[1][o]], int(cm[iu[0][o], iu[1][o]]), int(cm[iu[1][o], iu[0][o]]))
            for o in order if both[iu][o] > 0]


# --- the report ----------------------------------------------------------------------------------


def _report(cfg: CNNBestConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import aggregate, markdown_table
    from dl_assign.viz import curves
    from dl_assign.viz import imagenet as vi

    data = ic.load(cfg)
    names = data.names
    agg = aggregate([o.metrics for o in outputs])

    def f(key, digits=4):
        m = agg.get(key)
        if m is None:
            return "n/a"
        return f"{m['mean']:.{digits}f}" + (f" ± {m['std']:.{digits}f}" if len(m["values"]) > 1 else "")

    ctx.save_figure(curves([o.artifacts["history"] for o in outputs], [f"seed {s}" for s in cfg.seeds],
                           title=ctx.experiment), "curves")
    first = outputs[0].artifacts
    pred, true, conf = (np.array(first["test_predictions"][k]) for k in ("pred", "true", "confidence"))
    wrong = np.flatnonzero(pred != true)
    pick = wrong[np.argsort(-conf[wrong], kind="stable")][:cfg.gallery]
    ctx.save_figure(vi.gallery(data.x["test"][pick], [f"true: {names[true[i]]}\npred: {names[pred[i]]} ({conf[i]:.2f})"
                                                      for i in pick],
                               data.boxes[pick] if data.boxes is not None else None,
                               title=f"{ctx.experiment}: most confident test errors (seed {cfg.seeds[0]})"), "gallery")
    confusion = sum(np.asarray(o.artifacts["confusion"]) for o in outputs)
    pairs = confused_pairs(confusion, names)
    text = (f"CNN: {len(cfg.widths)} stages {tuple(cfg.widths)} x {cfg.convs_per_stage} conv 3x3 + BatchNorm + ReLU, "
            f"max pool {tuple(cfg.pool)}, first-conv stride {cfg.stride}, {cfg.grid}x{cfg.grid} average pool, FC "
            f"{tuple(cfg.fc_widths) or '(classifier only)'}, dropout {cfg.dropout}; "
            f"{int(agg['params']['mean']):,} parameters, {agg['mflop_per_image']['mean']:.1f} MFLOP per 64x64 image. "
            f"{cfg.optimizer} lr {cfg.lr} ({cfg.warmup_epochs}-epoch warm-up, {cfg.schedule}), weight decay "
            f"{cfg.weight_decay}, label smoothing {cfg.label_smoothing}, batch {cfg.batch_size}, {cfg.augment} "
            f"({cfg.pad} px) + flips, {cfg.epochs} epochs on {data.info['sizes']['train']} training images; "
            f"{cfg.threads} thread(s).\n\n"
            + markdown_table(["split", "top-1", "top-5"],
                             [[f"test (official val images){', flip TTA' if cfg.flip_tta else ''}",
                               f("test_accuracy"), f("test_top5")],
                              ["test, no TTA", f("test_accuracy_no_tta"), f("test_top5_no_tta")],
                              ["validation (10% of train), no TTA", f("val_accuracy"), f("val_top5")]])
            + f"\n\nTraining {f('train_seconds', 1)} s a seed. {ic.FROM_SCRATCH}\n\n## Misclassifications\n\n"
            f"Gallery: `{ctx.experiment}.gallery.png` (the {len(pick)} most confident errors of seed {cfg.seeds[0]}, "
            "object box drawn). Most confused class pairs (test, summed over seeds; a->b = a predicted as b):\n\n"
            + markdown_table(["a", "b", "a->b", "b->a"], [list(p) for p in pairs]))
    rows = []
    if "error_box_q1" in agg:
        for k in range(1, 5):
            rows.append([f"box area quartile {k} (up to {agg[f'box_area_q{k}_upper']['mean']:.0%} of the image)",
                         f(f"error_box_q{k}")])
    rows += [[f"greyscale ({agg['grey_images']['mean']:.0f} images)", f("error_grey")],
             ["colour", f("error_colour")],
             [f"lowest-contrast quartile (luminance std <= {agg['low_contrast_threshold']['mean']:.1f})",
              f("error_low_contrast")], ["other contrast", f("error_other_contrast")]]
    text += ("\n\nTest error rate by image property (mean ± std over seeds):\n\n"
             + markdown_table(["images", "error rate"], rows)
             + f"\n\nWrong predictions that are a sibling of the true class: {f('sibling_share')} (chance, the share "
             f"of all class pairs that are siblings: {f('sibling_chance')}). *Sibling* here means sharing a head noun "
             "in `words.txt` (the data has no WordNet hierarchy file and nltk's WordNet is not installed), so it "
             f"counts pairs like two kinds of cat, not e.g. two dog breeds. {ic.FROM_SCRATCH}")
    return text


@experiment("imagenet.cnn_best", CNNBestConfig, datasets=("tiny-imagenet",), report=_report)
def imagenet_cnn_best(cfg: CNNBestConfig, seed: int, ctx: RunContext) -> SeedResult:
    """8-conv CNN (study directions, depth checked on val), 8 epochs with augmentation: test top-1/5, errors."""
    data = ic.load(cfg)
    ctx.use_dataset(data.info)
    model, history = ic.train(cfg, data, seed, ctx, desc=ctx.experiment)
    plain_logits = ic.logits(model, data.x["test"], cfg)
    test_logits = ic.logits(FlipTTA(model), data.x["test"], cfg) if cfg.flip_tta else plain_logits
    rep = logits_report(test_logits, data.y["test"])
    plain = ic.top_k(plain_logits, data.y["test"])
    val = ic.top_k(ic.logits(model, data.x["val"], cfg), data.y["val"])
    conf = torch.softmax(test_logits, 1).amax(1)
    if cfg.dataset == "tiny-imagenet":
        names_all = tinyimagenet.read_names(tinyimagenet.locate())
    else:
        names_all = {w: [n] for w, n in zip(data.wnids, data.names)}
    errors = error_analysis(np.array(rep["pred"]), np.array(rep["true"]), data.x["test"], data.boxes,
                            sibling_matrix(data.wnids, names_all))
    metrics = {"test_accuracy": rep["accuracy"], "test_top5": rep["top5"], "test_loss": rep["loss"],
               "test_accuracy_no_tta": plain["top1"], "test_top5_no_tta": plain["top5"],
               "test_macro_f1": rep["macro_f1"], "val_accuracy": val["top1"], "val_top5": val["top5"],
               "train_accuracy": history[-1]["train_acc"], "train_seconds": history[-1]["train_seconds"],
               "epochs_run": float(len(history)), "params": ic.n_params(model),
               "mflop_per_image": ic.flops_per_image(model) / 1e6,
               "ms_per_image_epoch": 1000 * history[-1]["train_seconds"] / (len(history) * len(data.y["train"])),
               **errors}
    artifacts = {"history": history, "confusion": rep["confusion"],
                 "test_predictions": {"pred": rep["pred"], "true": rep["true"],
                                      "confidence": [round(float(c), 5) for c in conf]}}
    if cfg.save_model:
        artifacts["stored"] = ic.store_model(model, ctx, seed, data, cfg, metrics)
    return SeedResult(metrics, artifacts)


# --- imagenet.cnn_best_depth: the final's 8 convs against the study's literal pick, at this budget ----------


@dataclass(frozen=True)
class DepthAblationConfig(CNNBestConfig):
    """``imagenet.cnn_best`` against the study's pick (1 conv a stage, pooling after stages 1-2), same budget."""

    alternative_convs_per_stage: Annotated[int, Range(ge=1)] = 1
    alternative_pool: tuple[bool, ...] = (True, True, False, False)
    # one seed at standard: ~15 + ~7 minutes on 2 cores (the docstring above); the test is paired per image
    seeds: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0,)
    save_model: bool = False  # comparison runs never go to the store


@experiment("imagenet.cnn_best_depth", DepthAblationConfig, datasets=("tiny-imagenet",),
            report=ablation.report(
                f"{len(CNNBestConfig.widths) * CNNBestConfig.convs_per_stage} conv layers, pooling after every stage",
                f"{len(CNNBestConfig.widths) * DepthAblationConfig.alternative_convs_per_stage} conv layers, pooling "
                "after stages 1-2",
                "`imagenet.cnn_study`, at its small budget (a subset of the training images, few epochs), ranked the "
                "shallower network and pooling after stages 1-2 first; the final `imagenet.cnn_best` trains on "
                "every training image and keeps the deeper one."))
def imagenet_cnn_best_depth(cfg: DepthAblationConfig, seed: int, ctx: RunContext) -> SeedResult:
    """Tiny-ImageNet CNN: the final depth against the study's, same seed and budget, paired on the test images."""
    data = ic.load(cfg)
    ctx.use_dataset(data.info)
    alt_cfg = dataclasses.replace(cfg, convs_per_stage=cfg.alternative_convs_per_stage, pool=cfg.alternative_pool)
    correct, extra = {}, {}
    for tag, vcfg in (("final", cfg), ("alternative", alt_cfg)):
        model, history = ic.train(vcfg, data, seed, ctx, desc=f"{ctx.experiment} {tag}", tag=tag)
        scored = FlipTTA(model) if vcfg.flip_tta else model
        correct[tag] = (ic.logits(scored, data.x["test"], vcfg).argmax(1) == data.y["test"]).numpy()
        val = ic.top_k(ic.logits(model, data.x["val"], vcfg), data.y["val"])
        extra |= {f"{tag}/val_accuracy": val["top1"], f"{tag}/train_seconds": history[-1]["train_seconds"],
                  f"{tag}/params": ic.n_params(model), f"{tag}/mflop_per_image": ic.flops_per_image(model) / 1e6}
    out = ablation.paired_seed(correct["final"], correct["alternative"], seed=seed)
    out.metrics |= extra
    return out
