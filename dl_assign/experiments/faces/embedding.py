"""``faces.gender_embedding``: dlib's 128-d face-identity embedding as a frozen trunk, read out by logistic regression.

Every UTKFace face of the gender experiments' split (the same train / val / test rows as the CNNs) and every
FairFace image goes through the face front end's embedding path (``dl_assign.face.embedding``: a detected
box, dlib's five landmarks, dlib's chip, the ResNet descriptor), cached on disk by image content, so a
re-run trains in seconds. The read-out is a standardised logistic regression whose ``C`` is chosen on
validation AUC; the decision threshold on validation accuracy, as for every gender model.

Also measured here: FairFace adults and under-20s apart (the seed's 0.90 goal is about adults), the
fairness of this model on the UTKFace test split by race and age (``dl_assign.fairness.group_metrics``),
and paired tests against the improved CNN and the EfficientNet-Lite0 transfer model, read from their
result JSONs in the same results folder (never their modules), on the same test and FairFace images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from dl_assign import fairness as F
from dl_assign.config import ExperimentConfig, Range
from dl_assign.data import faces as fd
from dl_assign.engine import metrics as M
from dl_assign.experiments.faces import common as fc
from dl_assign.face import embedding as E
from dl_assign.registry import RunContext, SeedResult, experiment

YOUNG = ("0-2", "3-9", "10-19")  # FairFace's age bins under 20
RIVALS = (("improved", "faces.gender_improved", "improved CNN"),
          ("transfer", "faces.gender_transfer", "EfficientNet-Lite0 frozen trunk + FC"))
GOALS = {"test_accuracy": 0.94, "test_auc": 0.98, "fairface_adult_accuracy": 0.90}  # issue 29 / seed 003


@dataclass(frozen=True)
class EmbeddingConfig(ExperimentConfig):
    """The CNNs' data fields (same split and subsets), the read-out's ``C`` grid and the embedding workers."""

    seeds: tuple[int, ...] = (0,)  # the read-out is deterministic; the seed draws the bootstrap resamples
    split_seed: Annotated[int, Range(ge=0)] = 0
    train_limit: Annotated[int, Range(ge=0)] = 0  # 0 = every training face (16,592)
    val_limit: Annotated[int, Range(ge=0)] = 0
    test_limit: Annotated[int, Range(ge=0)] = 0
    fairface_limit: Annotated[int, Range(ge=0)] = 0
    n_boot: Annotated[int, Range(ge=100)] = 2000
    cs: Annotated[tuple[float, ...], Range(gt=0, min_len=1)] = (0.01, 0.1, 1.0, 10.0)
    workers: Annotated[int, Range(ge=1, le=64)] = 2  # embedding processes (one dlib thread each)
    disk_cache: bool = True  # the descriptors under $DL_ASSIGN_CACHE/faces (default build/cache)

    BUDGETS: ClassVar[dict] = {"smoke": {"train_limit": 96, "val_limit": 48, "test_limit": 48, "fairface_limit": 32,
                                         "n_boot": 200, "workers": 1, "disk_cache": False},
                               "full": {"seeds": (0, 1, 2)}}


def _embed(cfg: EmbeddingConfig, ctx: RunContext):
    utk, ff, rows, ff_rows = fc._selection(cfg)
    cache = E.EmbeddingCache(fc.cache_dir() if cfg.disk_cache else None)
    x, y, how, stats = {}, {}, {}, {"hits": 0, "computed": 0, "seconds": 0.0}
    for split, idx in rows.items():
        e, h, s = E.embed_many([str(utk.root / utk.files[i]) for i in idx], cache, utk_chip=True, workers=cfg.workers)
        x[split], y[split], how[split] = e, utk.gender[idx].astype(np.int64), h
        stats = {k: stats[k] + s[k] for k in stats}
    e, h, s = E.embed_many([str(ff.root / ff.files[i]) for i in ff_rows], cache, workers=cfg.workers)
    x["fairface"], y["fairface"], how["fairface"] = e, ff.gender[ff_rows].astype(np.int64), h
    stats = {k: stats[k] + s[k] for k in stats}
    info = {"name": fc.dataset_name(ff.root), "source": f"{utk.root} ; {ff.root}",
            "stands_in_for": fc.STANDS_IN_FOR, "why": fc.STAND_IN_WHY,
            "identity": f"utkface {utk.identity}; fairface {ff.identity}",
            "skipped": list(utk.skipped), "n_skipped": len(utk.skipped),
            "sizes": {k: int(len(v)) for k, v in rows.items()} | {"fairface": int(len(ff_rows))},
            "fairface_has_race": ff.race is not None}
    ctx.use_dataset(info)
    return utk, ff, rows, ff_rows, x, y, how, stats


def _rivals(results_dir: Path, budget: str, p: dict, y: dict, thr: float, *, n_boot: int, seed: int) -> dict:
    """Paired AUC bootstrap and McNemar against every seed of each rival result that scored the same images."""
    from dl_assign.results import load_results

    records = load_results(results_dir) if Path(results_dir).is_dir() else {}
    out = {}
    for key, exp, _ in RIVALS:
        rec = records.get(exp)
        if rec is None or rec.get("budget") != budget:
            continue
        for s, arts in zip(rec["seeds"], rec["artifacts"]):
            if "scores" not in arts:
                continue
            r_thr = rec["metrics"]["threshold"]["values"][rec["seeds"].index(s)]
            for split in ("test", "fairface"):
                if list(arts["true"][split]) != y[split].tolist():
                    continue  # another selection of images: no pairing
                sb = np.asarray(arts["scores"][split])
                auc = M.paired_auc_bootstrap(y[split], p[split], sb, n_boot=n_boot, seed=seed)
                ca, cb = (p[split] >= thr) == y[split], (sb >= r_thr) == y[split]
                mc = M.mcnemar(ca, cb)
                tag = f"vs_{key}_seed{s}/{split}"
                out |= {f"{tag}_auc_diff": auc["diff"], f"{tag}_auc_diff_low": auc["low"],
                        f"{tag}_auc_diff_high": auc["high"], f"{tag}_accuracy_diff": float(ca.mean() - cb.mean()),
                        f"{tag}_mcnemar_p": mc["p_value"]}
    return out


def _fairness(y: np.ndarray, p: np.ndarray, thr: float, race: np.ndarray, age: np.ndarray, *, n_boot: int,
              seed: int) -> tuple[dict, dict]:
    """Equal opportunity (TPR gap) and disparate impact of this model on the UTKFace test split."""
    pred = (p >= thr).astype(np.int64)
    bins = np.array([fc.age_label(lo, hi) for a in age for lo, hi in fc.AGE_BINS if lo <= a <= hi], dtype=object)
    metrics, arts = {}, {}
    for name, col in (("race", np.asarray(fd.RACES, dtype=object)[race]), ("age", bins)):
        res = F.group_metrics(y, pred, col, y_score=p, n_boot=n_boot, seed=seed)
        arts[name] = {"groups": {g: {k: v for k, v in r.items() if k in ("accuracy", "tpr", "fpr", "selection_rate",
                                                                           "count", "ci")}
                                 for g, r in res["groups"].items()},
                      "disparities": res["disparities"]}
        for d, v in res["disparities"].items():
            if isinstance(v.get("value"), (int, float)):
                metrics[f"fairness_{name}/{d}"] = float(v["value"])
                if v.get("p_value") is not None:
                    metrics[f"fairness_{name}/{d}_p"] = float(v["p_value"])
    return metrics, arts


@experiment("faces.gender_embedding", EmbeddingConfig, datasets=("utkface", "fairface"),
            report=lambda cfg, outputs, ctx: _report(cfg, outputs, ctx))
def faces_gender_embedding(cfg: EmbeddingConfig, seed: int, ctx: RunContext):
    """dlib face embeddings (front end: detect, 5 landmarks, chip) + logistic regression, on every UTKFace face."""
    utk, ff, rows, ff_rows, x, y, how, stats = _embed(cfg, ctx)
    keep = np.isfinite(x["train"]).all(1)
    model, c, val_aucs = E.fit_readout(x["train"][keep], y["train"][keep], x["val"], y["val"], cfg.cs)
    p = {s: E.readout_scores(model, x[s]) for s in ("train", "val", "test", "fairface")}
    race = {k: utk.race[rows[k]] for k in ("val", "test")}
    age = {k: utk.age[rows[k]] for k in ("val", "test")}
    metrics, arts = fc.evaluate_scores(p, y, race=race, age=age, n_boot=cfg.n_boot, seed=seed)
    thr = metrics["threshold"]
    ff_age = np.asarray(ff.age, dtype=object)[ff_rows]
    young = np.isin(ff_age, YOUNG)
    for tag, m in (("adult", ~young), ("under20", young)):
        metrics[f"fairface_{tag}_n"] = float(m.sum())
        if m.any():
            metrics[f"fairface_{tag}_accuracy"] = M.binary_measures(y["fairface"][m], p["fairface"][m], thr)["accuracy"]
            if len(np.unique(y["fairface"][m])) == 2:
                auc = M.auc_interval(y["fairface"][m], p["fairface"][m], n_boot=cfg.n_boot, seed=seed)
                metrics |= {f"fairface_{tag}_auc": auc["auc"], f"fairface_{tag}_auc_low": auc["low"],
                            f"fairface_{tag}_auc_high": auc["high"]}
    for split in ("train", "val", "test", "fairface"):
        for code, name in enumerate(E.HOW):
            metrics[f"box_{name}/{split}"] = float((how[split] == code).mean())
        metrics[f"no_face/{split}"] = float((how[split] == -1).sum())
    metrics |= {"C": float(c), "embed_seconds": stats["seconds"], "embeddings_computed": float(stats["computed"]),
                "embeddings_cached": float(stats["hits"]), "train_faces": float(keep.sum())}
    metrics |= {f"val_auc_at_C/{k:g}": v for k, v in val_aucs.items()}
    fair_m, fair_a = _fairness(y["test"], p["test"], thr, race["test"], age["test"], n_boot=min(cfg.n_boot, 1000),
                               seed=seed)
    metrics |= fair_m
    metrics |= _rivals(ctx.results_dir, ctx.budget, p, y, thr, n_boot=cfg.n_boot, seed=seed)
    clf = model[-1]
    arts |= {"fairness": fair_a, "readout": {"C": float(c), "coef": np.round(clf.coef_[0], 6).tolist(),
                                             "intercept": float(clf.intercept_[0]),
                                             "mean": np.round(model[0].mean_, 6).tolist(),
                                             "scale": np.round(model[0].scale_, 6).tolist()},
             "rule": E.RULE}
    return SeedResult(metrics, arts)


def _f(outputs, key, digits=4) -> str:
    m, _ = fc._mean(outputs, key)
    return "n/a" if m != m else f"{m:.{digits}f}"


def _report(cfg: EmbeddingConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import markdown_table
    from dl_assign.viz import faces as fviz

    first, m = outputs[0], outputs[0].metrics
    ctx.save_figure(fviz.roc({f"{sp} (AUC {m[f'{sp}_auc']:.3f})": first.artifacts["roc"][sp] for sp in fc.SPLITS},
                             title=f"{ctx.experiment}: ROC, seed {cfg.seeds[0]} (positive: female)"), "roc")
    ctx.save_figure(fviz.confusions(first.artifacts["confusion"], title=f"{ctx.experiment}: confusion matrices at "
                                    f"the validation threshold {m['threshold']:.3f}"), "confusion")
    goals = markdown_table(["goal (issue 29)", "needed", "measured", "met"], [
        [k, f">= {v}", _f(outputs, k), "yes" if fc._mean(outputs, k)[0] >= v else "**no**"] for k, v in GOALS.items()])
    box = markdown_table(["split", "dlib HOG box", "MTCNN box", "UTKFace fixed box", "no face (scored 0.5)"], [
        [s, _f(outputs, f"box_dlib_hog/{s}", 3), _f(outputs, f"box_mtcnn/{s}", 3), _f(outputs, f"box_fallback/{s}", 3),
         _f(outputs, f"no_face/{s}", 0)] for s in ("train", "val", "test", "fairface")])
    ff = markdown_table(["FairFace group", "images", "accuracy", "AUC (95% bootstrap)"], [
        [label, _f(outputs, f"fairface_{t}_n", 0), _f(outputs, f"fairface_{t}_accuracy"),
         f"{_f(outputs, f'fairface_{t}_auc')} ({_f(outputs, f'fairface_{t}_auc_low')} to "
         f"{_f(outputs, f'fairface_{t}_auc_high')})"]
        for t, label in (("adult", "20 and over"), ("under20", "under 20"))])
    rival_rows = []
    for key, exp, label in RIVALS:
        for split in ("test", "fairface"):
            tags = sorted({k.rsplit("/", 1)[0] for k in m if k.startswith(f"vs_{key}_seed") and k.endswith(
                f"/{split}_mcnemar_p")})
            for tag in tags:
                t = f"{tag}/{split}"
                rival_rows.append([f"{label} ({exp}, seed {tag.rsplit('seed', 1)[1]})", split,
                                   f"{m[f'{t}_auc_diff']:+.4f} ({m[f'{t}_auc_diff_low']:+.4f} to "
                                   f"{m[f'{t}_auc_diff_high']:+.4f})", f"{m[f'{t}_accuracy_diff']:+.4f}",
                                   f"{m[f'{t}_mcnemar_p']:.3g}"])
    rivals = (markdown_table(["against", "images", "AUC difference, embedding minus it (95% paired bootstrap)",
                              "accuracy difference", "McNemar p"], rival_rows) if rival_rows else
              "No rival result at this budget in the results folder scored the same images: no paired test ran.")
    fair_rows = [[k.split("/", 1)[0].removeprefix("fairness_"), k.split("/", 1)[1], f"{v:.4f}",
                  f"{m.get(k + '_p', float('nan')):.3g}"]
                 for k, v in m.items() if k.startswith("fairness_") and not k.endswith("_p")]
    fair = markdown_table(["grouped by", "disparity", "value", "permutation p"], fair_rows)
    sizes = ctx.dataset.get("sizes", {})
    return "\n\n".join([
        "A pretrained face network as the trunk: dlib's ResNet face descriptor (128 numbers per face, trained by "
        "dlib for identity, never for gender), read out by a logistic regression. Each face goes through the face "
        f"front end's embedding path ({E.RULE}); descriptors are cached by image content.",
        f"Data: the gender experiments' UTKFace split {cfg.split_seed} ({sizes.get('train')} train / "
        f"{sizes.get('val')} val / {sizes.get('test')} test faces, the same rows as the CNNs) and "
        f"{sizes.get('fairface')} FairFace images. Read-out C = {m['C']:g}, chosen on validation AUC over "
        f"{', '.join(f'{c:g}' for c in cfg.cs)}; threshold {m['threshold']:.3f} chosen on validation. Embedding: "
        f"{int(m['embeddings_computed'])} descriptors computed and {int(m['embeddings_cached'])} read from the cache "
        f"in {m['embed_seconds']:.1f} s.",
        "### How each face was boxed\n\n" + box,
        fc.measures_table(outputs),
        "### Against the goals\n\n" + goals,
        "### FairFace by age\n\nThe seed's cross-dataset goal is about adults. Children's faces carry weak gender cues "
        "(no beards, hairstyles that vary less with gender, faces that change fast with age), and UTKFace has few "
        "of them to learn from, so under-20s are reported apart:\n\n" + ff,
        "### Paired tests against the trained CNNs (the same images)\n\n" + rivals,
        "### Fairness of this model on the UTKFace test split\n\nDisparities of the thresholded predictions "
        "(`dl_assign.fairness.group_metrics`: TPR gap = equal opportunity, selection-rate ratio = disparate "
        "impact; p from a permutation test):\n\n" + fair,
    ])
