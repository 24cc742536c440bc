"""``faces.fairness``: the bias of a gender classifier by race, age and gender, measured, and two mitigations.

The seed (Assignment-3 question 4) asks for a face-attribute model, two validation metrics, and its
fairness on the test set by equal opportunity and disparate impact. Here:

* **the model**: the improved CNN recipe of ``faces.gender_improved`` (``common.ImprovedRecipe``),
  trained on the same UTKFace faces, predicting gender (female = positive, so TPR = female recall and
  FPR = the share of men called women); the decision threshold chosen on validation.
* **the analysis** (``dl_assign.fairness.group_metrics``, bootstrap intervals, permutation p-values)
  on the whole UTKFace test split by race, age bin, gender and race x gender, and on FairFace (the
  second dataset) by age bin and gender (and race when its CSV has it, as the full FairFace does).
* **mitigations**: (1) *balanced sampling* in training: every race x gender group drawn equally often
  (a seeded resample of the training set with weights 1 / group size, then the usual shuffling);
  (2) fairlearn's ``ThresholdOptimizer`` with the equal-opportunity constraint
  (``true_positive_rate_parity``), fitted on the validation scores by race and applied to the test
  split, on top of either model. Accuracy and every gap before and after, with intervals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import torch

from dl_assign import fairness as F
from dl_assign.config import Range
from dl_assign.data import faces as fd
from dl_assign.engine import TensorLoader
from dl_assign.engine import metrics as M
from dl_assign.experiments.faces import common as fc
from dl_assign.models.faces import ImprovedCNN
from dl_assign.registry import RunContext, SeedResult, experiment

ARMS = (("erm", "ERM (plain training)"), ("balanced", "balanced sampling"),
        ("erm_to", "ERM + ThresholdOptimizer (equal opportunity)"),
        ("balanced_to", "balanced + ThresholdOptimizer"))
ARM_LABEL = dict(ARMS)
DISPARITIES = (("equal_opportunity_difference", "equal opportunity difference (TPR)"),
               ("equal_opportunity_ratio", "equal opportunity ratio (TPR)"),
               ("disparate_impact", "disparate impact (selection-rate ratio)"),
               ("demographic_parity_difference", "demographic parity difference"),
               ("equalized_odds_difference", "equalized odds difference"),
               ("accuracy_difference", "accuracy difference"))
GROUP_RATES = ("count", "tpr", "fpr", "selection_rate", "accuracy")
ANALYSIS_LABEL = {"test_race": "UTKFace test by race", "test_age": "UTKFace test by age bin",
                  "test_gender": "UTKFace test by gender", "test_race_gender": "UTKFace test by race x gender",
                  "fairface_age": "FairFace by age bin", "fairface_gender": "FairFace by gender",
                  "fairface_race": "FairFace by race"}
# the ThresholdOptimizer needs the sensitive feature where it is applied: race, on UTKFace only
TO_ANALYSES = ("test_race", "test_age", "test_gender", "test_race_gender")


@dataclass(frozen=True)
class FairnessConfig(fc.ImprovedRecipe):
    """The improved CNN on 4,000 training faces (as in faces.gender_improved), judged on ALL val and test faces.

    Every validation (3,556) and test (3,556) face is used: the groups must be large (Others x female
    has ~100 test faces) and the ThresholdOptimizer is fitted per race on validation.
    """

    val_limit: Annotated[int, Range(ge=0)] = 0
    test_limit: Annotated[int, Range(ge=0)] = 0
    n_boot: Annotated[int, Range(ge=0)] = 1000  # bootstrap resamples = permutation shuffles of every gap
    balance: bool = True  # also train the balanced-sampling model
    save_model: bool = False  # the fairness models are for the analysis; the served gender models come from gender_*

    BUDGETS: ClassVar[dict] = {"smoke": dict(fc.SMOKE) | fc.IMPROVED_SMOKE | {"val_limit": 200, "test_limit": 200,
                                                                               "n_boot": 100},
                               "full": {"seeds": (0, 1, 2, 3, 4), "train_limit": 0}}


# --- groups --------------------------------------------------------------------------------------


def age_bin(years: np.ndarray) -> np.ndarray:
    """UTKFace ages in years -> the family's age bins (``common.AGE_BINS``: 0-9, 10-19, 20-39, 40-59, 60+)."""
    out = np.empty(len(years), dtype=object)
    for lo, hi in fc.AGE_BINS:
        out[(years >= lo) & (years <= hi)] = fc.age_label(lo, hi)
    return out


def fairface_age_bin(labels) -> np.ndarray:
    """FairFace's bins ("0-2", "3-9", "10-19", ..., "60-69", "more than 70") -> the same five bins.

    FairFace's bins nest in ours (their lower ends decide), so the two datasets are compared bin by bin.
    """
    years = []
    for s in labels:
        m = re.search(r"\d+", str(s))
        if m is None:
            raise ValueError(f"FairFace age {s!r} has no number (expected e.g. '20-29' or 'more than 70')")
        years.append(int(m.group()))
    return age_bin(np.asarray(years))


def analyses_of(groups: fc.GroupLabels, y: dict[str, np.ndarray]) -> dict[str, tuple[str, object]]:
    """``{analysis: (split, sensitive feature(s))}`` of one run."""
    gender = {s: np.asarray(fd.CLASSES, dtype=object)[y[s]] for s in ("test", "fairface")}
    out = {"test_race": ("test", groups.race["test"]), "test_age": ("test", age_bin(groups.age["test"])),
           "test_gender": ("test", gender["test"]),
           "test_race_gender": ("test", {"race": groups.race["test"], "gender": gender["test"]}),
           "fairface_age": ("fairface", fairface_age_bin(groups.fairface_age)),
           "fairface_gender": ("fairface", gender["fairface"])}
    if groups.fairface_race is not None:
        out["fairface_race"] = ("fairface", groups.fairface_race)
    return out


def balanced_rows(race: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A seeded resample of the training rows (same size) in which every race x gender group is equally likely."""
    key = np.asarray([f"{r}|{g}" for r, g in zip(race, y)], dtype=object)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    rng = np.random.default_rng([seed, 2024])
    return np.sort(rng.choice(len(key), size=len(key), replace=True, p=w / w.sum()))


# --- the ThresholdOptimizer over precomputed scores ----------------------------------------------


def _score_column():
    """A fitted sklearn "estimator" whose input is the model's P(female) (one column): fairlearn's prefit model."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScoreColumn(ClassifierMixin, BaseEstimator):
        def fit(self, x, y=None):
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, x):
            s = np.asarray(x, dtype=np.float64)[:, 0]
            return np.column_stack([1 - s, s])

        def predict(self, x):
            return (np.asarray(x, dtype=np.float64)[:, 0] >= 0.5).astype(int)

    return ScoreColumn().fit(None)



def threshold_optimizer(val_scores, val_y, val_groups, seed: int):
    """fairlearn's ThresholdOptimizer (TPR parity, best accuracy) fitted on validation scores by group."""
    from fairlearn.postprocessing import ThresholdOptimizer

    to = ThresholdOptimizer(estimator=_score_column(), constraints="true_positive_rate_parity",
                            objective="accuracy_score", prefit=True, predict_method="predict_proba")
    to.fit(val_scores[:, None], val_y, sensitive_features=val_groups)
    return to


# --- one seed ------------------------------------------------------------------------------------


def _train(cfg: FairnessConfig, data: fc.FaceTensors, seed: int, ctx: RunContext, rows=None, tag: str = ""):
    from dl_assign.engine import fit

    model = ImprovedCNN(tuple(cfg.widths), cfg.convs_per_stage, cfg.dropout, cfg.grid)
    x, y = data.x["train"], data.y["train"]
    if rows is not None:
        x, y = x[torch.as_tensor(rows)], y[torch.as_tensor(rows)]
    train = TensorLoader(x, y, cfg.batch_size, shuffle=True, seed=seed,
                         transform=fc.train_transform(cfg.augment, cfg.pad, cfg.crop_scale),
                         drop_last=len(y) > cfg.batch_size)
    history = fit(model, train, fc.eval_loader(data.x["val"], data.y["val"]), cfg,
                  checkpoint=ctx.checkpoint_path(seed, tag), resume=ctx.resume, progress=ctx.progress,
                  desc=f"{ctx.experiment}{' ' + tag if tag else ''} seed {seed}")
    return model, history


def _flatten(prefix: str, res: dict, metrics: dict, *, per_group: bool) -> None:
    """The scalars of one group_metrics result into ``metrics`` (values, interval ends, p-values)."""
    for key, _ in DISPARITIES:
        d = res["disparities"][key]
        if d["value"] is None:
            continue
        metrics[f"{prefix}/{key}"] = d["value"]
        if d.get("ci") and d["ci"][0] is not None:
            metrics[f"{prefix}/{key}_low"], metrics[f"{prefix}/{key}_high"] = d["ci"]
        if d.get("p_value") is not None:
            metrics[f"{prefix}/{key}_p"] = d["p_value"]
    di = res["disparities"]["disparate_impact"]
    if di["four_fifths_violated"] is not None:
        metrics[f"{prefix}/four_fifths_violated"] = float(di["four_fifths_violated"])
    if per_group:
        for g, rec in res["groups"].items():
            for rate in GROUP_RATES:
                if rec.get(rate) is not None:
                    metrics[f"{prefix}/group/{g}/{rate}"] = float(rec[rate])


@experiment("faces.fairness", FairnessConfig, datasets=("utkface", "fairface"),
            report=lambda cfg, outputs, ctx: _report(cfg, outputs, ctx))
def faces_fairness(cfg: FairnessConfig, seed: int, ctx: RunContext):
    """Gender classifier's bias by race/age/gender (UTKFace, FairFace), balanced sampling and ThresholdOptimizer."""
    data = fc.load(cfg)
    ctx.use_dataset(data.info)
    groups = fc.group_labels(cfg)
    y = {s: data.y[s].numpy() for s in fc.SPLITS}
    models = {"erm": _train(cfg, data, seed, ctx)}
    if cfg.balance:
        rows = balanced_rows(groups.race["train"], data.y["train"].numpy(), seed)
        models["balanced"] = _train(cfg, data, seed, ctx, rows, tag="balanced")
    metrics, arts = {}, {"analyses": {}, "validation": {}}
    analyses = analyses_of(groups, y)
    sizes = {}
    for arm, (model, history) in models.items():
        p = {s: fc.scores(model, fc.eval_loader(data.x[s], data.y[s]), cfg)[0] for s in fc.SPLITS}
        thr = M.best_threshold(y["val"], p["val"])
        val = M.binary_measures(y["val"], p["val"], thr)
        auc = {s: M.auc_interval(y[s], p[s], n_boot=max(cfg.n_boot, 100), seed=seed) for s in fc.SPLITS}
        metrics |= {f"{arm}/threshold": thr, f"{arm}/train_seconds": history[-1]["train_seconds"]}
        for s in fc.SPLITS:
            chosen = M.binary_measures(y[s], p[s], thr)
            metrics |= {f"{arm}/{s}_accuracy": chosen["accuracy"], f"{arm}/{s}_f1": chosen["f1"],
                        f"{arm}/{s}_auc": auc[s]["auc"], f"{arm}/{s}_auc_low": auc[s]["low"],
                        f"{arm}/{s}_auc_high": auc[s]["high"]}
        arts["validation"][arm] = {"confusion": val["confusion"], "history": history}
        pred = {s: (p[s] >= thr).astype(int) for s in ("test", "fairface")}
        for name, (split, sensitive) in analyses.items():
            res = F.group_metrics(y[split], pred[split], sensitive, y_score=p[split], n_boot=cfg.n_boot, seed=seed)
            arts["analyses"][f"{arm}/{name}"] = res
            _flatten(f"{arm}/{name}", res, metrics, per_group=arm == "erm" or name != "test_race_gender")
            metrics[f"{arm}/{name}/accuracy"] = res["overall"]["accuracy"]
            sizes[name] = {g: r["count"] for g, r in res["groups"].items()}
        # the ThresholdOptimizer: per-race thresholds (randomised between two where needed) fitted on validation
        to = threshold_optimizer(p["val"], y["val"], groups.race["val"], seed)
        to_pred = np.asarray(to.predict(p["test"][:, None], sensitive_features=groups.race["test"],
                                        random_state=seed)).astype(int)
        metrics[f"{arm}_to/test_accuracy"] = float(np.mean(to_pred == y["test"]))
        metrics[f"{arm}_to/test_f1"] = M.binary_measures(y["test"], to_pred.astype(np.float64), 0.5)["f1"]
        for name in TO_ANALYSES:
            split, sensitive = analyses[name]
            res = F.group_metrics(y[split], to_pred, sensitive, n_boot=cfg.n_boot, seed=seed)
            arts["analyses"][f"{arm}_to/{name}"] = res
            _flatten(f"{arm}_to/{name}", res, metrics, per_group=name == "test_race")
            metrics[f"{arm}_to/{name}/accuracy"] = res["overall"]["accuracy"]
    # the validation metrics the seed asks for, of the model the analysis is about (ERM)
    for k in ("val_accuracy", "val_f1", "val_auc", "test_accuracy", "test_f1", "test_auc", "fairface_accuracy",
              "fairface_auc"):
        metrics[k] = metrics[f"erm/{k}"]
    for arm in ("balanced", "erm_to", "balanced_to"):  # what each mitigation changed against ERM, same seed
        if f"{arm}/test_race/equal_opportunity_difference" not in metrics:
            continue
        acc = metrics.get(f"{arm}/test_accuracy", metrics.get(f"{arm}/test_race/accuracy"))
        metrics[f"mitigation/{arm}/accuracy_change"] = acc - metrics["erm/test_accuracy"]
        for key in ("equal_opportunity_difference", "disparate_impact", "equalized_odds_difference"):
            metrics[f"mitigation/{arm}/{key}_change"] = (metrics[f"{arm}/test_race/{key}"]
                                                         - metrics[f"erm/test_race/{key}"])
    metrics["summary/analyses"] = float(sum(
        1 for name in analyses if sum(c >= F.MIN_GROUP for c in sizes[name].values()) >= 2))
    metrics["summary/groups_too_small"] = float(sum(c < F.MIN_GROUP for s in sizes.values() for c in s.values()))
    metrics["params"] = fc.n_params(models["erm"][0])
    arts["sizes"] = sizes
    return SeedResult(metrics, arts)


# --- the report ----------------------------------------------------------------------------------

SUMMARY = """## What is analysed, and why

A gender classifier decides *female* or *male* from a face. Its errors need not fall evenly: a model
trained on faces that are mostly of white adults may call more Black women men, or fail on children
and old people, and a system built on it (photo tagging, age-gated access, demographic statistics)
inherits that. This experiment asks **whether the errors of one such model depend on race, age or
gender**, how large the gaps are, whether they are larger than chance, and what two standard
mitigations buy and cost.

- **Attribute predicted**: gender (binary; *female* is the positive class, so the true positive rate
  (TPR) is female recall and the false positive rate (FPR) the share of men called women).
- **Sensitive features**: race (UTKFace's five groups), age bin (0-9, 10-19, 20-39, 40-59, 60+),
  gender itself, and race x gender, on the UTKFace test split; age bin and gender on FairFace (a
  second dataset the model never trained on).
- **Metrics**: per group count, base rate, selection rate, TPR, FPR, accuracy, F1, AUC; between
  groups **equal opportunity** (TPR difference and ratio), **disparate impact** (selection-rate
  ratio, lowest group / highest group, four-fifths rule), demographic parity and equalized odds
  differences; 95 % bootstrap intervals; a gap is called significant when a permutation test
  (group labels shuffled) gives p < 0.05. Groups under 30 images are marked too small to conclude from.
- **Mitigations**: balanced sampling over race x gender in training; fairlearn's ThresholdOptimizer
  (equal opportunity) fitted on validation, applied to test."""

ETHICS = """## Limitations and ethics

- **Labels.** UTKFace's race and gender labels were estimated by an algorithm and checked by people from
  the photo; "race" here is five coarse categories (White, Black, Asian, Indian, Others) and gender is
  binary. A person's own identity may differ from both; the gaps measured are gaps *with respect to
  these labels*, not to how people identify.
- **Who is in the data.** UTKFace is collected from the web; its age and race mix is not any
  population's. The FairFace subset here has 540 faces and no race column: by race the second
  dataset cannot be checked here (the code does it on the full FairFace, whose CSVs carry race).
- **What the mitigations promise.** The ThresholdOptimizer equalises TPR *on validation*, with
  per-group (randomised) thresholds: it needs the sensitive attribute at prediction time, which is
  itself sensitive data and often unlawful to use; and parity on validation holds on test only up to
  sampling noise (the intervals show how much). Balanced sampling needs group labels only in training.
- **What is not measured.** Intersections beyond race x gender, image quality, pose and lighting by
  group, and harms of a correct prediction (being classified at all) are outside this analysis."""


def _ms(outputs, key, digits=4, sign=False) -> str:
    """Mean ± sample std over seeds (the results writer's std), or the one value."""
    vals = [o.metrics[key] for o in outputs if key in o.metrics]
    if not vals:
        return "–"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    m = fmt.format(float(np.mean(vals)))
    return m + (f" ± {float(np.std(vals, ddof=1)):.{digits}f}" if len(vals) > 1 else "")


def _ci(rec, rate=None, digits=3) -> str:
    v = rec.get(rate) if rate else rec.get("value")
    if v is None:
        return "undefined"
    lo, hi = (rec.get("ci", {}).get(rate) if rate else rec.get("ci")) or [None, None]
    return f"{v:.{digits}f}" + (f" [{lo:.{digits}f}, {hi:.{digits}f}]" if lo is not None else "")


def group_table(res: dict) -> str:
    from dl_assign.results import markdown_table

    rows = []
    for g, r in res["groups"].items():
        rows.append([g + (" (too small)" if r["too_small"] else ""), r["count"], r["positives"],
                     f"{r['base_rate']:.3f}", _ci(r, "tpr"), _ci(r, "fpr"), _ci(r, "selection_rate"),
                     _ci(r, "accuracy"), _ci(r, "auc") if "auc" in r else "–"])
    return markdown_table(["group", "n", "female", "base rate", "TPR [95% CI]", "FPR [95% CI]",
                           "selection rate [95% CI]", "accuracy [95% CI]", "AUC [95% CI]"], rows)


def disparity_table(outputs, res: dict, prefix: str) -> str:
    from dl_assign.results import markdown_table

    rows = []
    for key, label in DISPARITIES:
        d = res["disparities"][key]
        if d["value"] is None:
            rows.append([label, "undefined: " + d.get("why_undefined", ""), "", "", "", ""])
            continue
        small = " (a group is too small)" if d.get("small_group") else ""
        rows.append([label, _ms(outputs, f"{prefix}/{key}"), _ci(d), f"{d.get('p_value', float('nan')):.4f}",
                     _significant_seeds(outputs, f"{prefix}/{key}") + small, f"{d['low_group']} / {d['high_group']}"])
    return markdown_table(["gap", "mean ± std over seeds", "seed 0 [95% bootstrap CI]", "seed 0 permutation p",
                           "significant (p < 0.05) in seeds", "lowest / highest group (seed 0)"], rows)


def _significant_seeds(outputs, key: str) -> str:
    ps = [o.metrics[f"{key}_p"] for o in outputs if f"{key}_p" in o.metrics]
    return f"{sum(p < F.ALPHA for p in ps)} of {len(ps)}" if ps else "–"


GENDER_NOTE = ("Gender is here both the predicted label and a sensitive feature: a gender group has one label only, so "
               "its TPR (women) or FPR (men) is undefined, its selection rate is the share called female (female "
               "recall for women, the error rate for men), and disparate impact / demographic parity between women "
               "and men compare a correct with a wrong answer: large by design, not a bias finding. The meaningful "
               "numbers are the **accuracy per group** (the recall of each gender) and, within one gender, TPR or "
               "FPR across the other feature.")


def findings(outputs: list[SeedResult]) -> str:
    """The headline gaps in words, every number from the metrics (mean ± std over seeds, significant seeds)."""
    m0 = outputs[0].metrics

    def gap(key: str) -> str:
        return f"{_ms(outputs, key, 3)} (p < 0.05 in {_significant_seeds(outputs, key)} seeds)"

    def group(prefix: str, which: str) -> str:  # the seed-0 extreme groups of a gap
        an = outputs[0].artifacts["analyses"][prefix]["disparities"][which]
        return f"{an['low_group']} vs {an['high_group']}"

    lines = ["## Findings (UTKFace test unless said; mean ± std over seeds)", ""]
    eo_race = gap("erm/test_race/equal_opportunity_difference")
    race0 = outputs[0].artifacts["analyses"]["erm/test_race"]
    di0 = race0["disparities"]["disparate_impact"]
    base = race0["groups"][di0["low_group"]]["base_rate"] / race0["groups"][di0["high_group"]]["base_rate"]
    violated = sum(o.metrics.get("erm/test_race/four_fifths_violated", 0) for o in outputs)
    lines.append(f"- **Race.** Equal opportunity difference (TPR gap) {eo_race}, lowest / highest "
                 f"{group('erm/test_race', 'equal_opportunity_difference')} in seed 0; disparate impact "
                 f"{gap('erm/test_race/disparate_impact')} (four-fifths rule violated in {violated:.0f} of "
                 f"{len(outputs)} seeds; for comparison, the base-rate ratio of the same two groups, "
                 f"{di0['low_group']} / {di0['high_group']}, is {base:.3f} in seed 0); accuracy difference "
                 f"{gap('erm/test_race/accuracy_difference')} ({group('erm/test_race', 'accuracy_difference')}).")
    lines.append(f"- **Race x gender.** Accuracy difference {gap('erm/test_race_gender/accuracy_difference')} "
                 f"({group('erm/test_race_gender', 'accuracy_difference')}).")
    lines.append(f"- **Age.** The largest gaps: accuracy difference {gap('erm/test_age/accuracy_difference')} "
                 f"({group('erm/test_age', 'accuracy_difference')}), TPR gap "
                 f"{gap('erm/test_age/equal_opportunity_difference')} "
                 f"({group('erm/test_age', 'equal_opportunity_difference')}).")
    lines.append(f"- **Gender.** Accuracy difference women vs men {gap('erm/test_gender/accuracy_difference')}; on "
                 f"FairFace {gap('erm/fairface_gender/accuracy_difference')} "
                 f"({group('erm/fairface_gender', 'accuracy_difference')}).")
    lines.append(f"- **FairFace by age.** TPR gap {gap('erm/fairface_age/equal_opportunity_difference')} "
                 f"({group('erm/fairface_age', 'equal_opportunity_difference')}).")
    for arm, label in ARMS[1:]:
        if f"mitigation/{arm}/accuracy_change" in m0:
            tpr_gap = _ms(outputs, f"{arm}/test_race/equal_opportunity_difference", 3)
            lines.append(f"- **{label}**: TPR gap by race {tpr_gap}"
                         f" (change {_ms(outputs, f'mitigation/{arm}/equal_opportunity_difference_change', 3, True)}),"
                         f" accuracy change {_ms(outputs, f'mitigation/{arm}/accuracy_change', 4, True)}, disparate "
                         f"impact change {_ms(outputs, f'mitigation/{arm}/disparate_impact_change', 3, True)}.")
    return "\n".join(lines)


def _justification(ctx: RunContext, outputs) -> str:
    from dl_assign.results import load_results

    text = ("**Why this architecture.** The improved CNN recipe (4 conv stages 24-48-96-192 with BatchNorm, "
            f"{int(outputs[0].metrics['params']):,} parameters, shift + flip augmentation, AdamW + cosine) is "
            "trained from scratch on UTKFace faces: faces are aligned and small (100x100), so a compact CNN "
            "with translation-equivariant filters, BatchNorm for stable fast training and augmentation "
            "against the few thousand training images fits the problem; no ImageNet-pretrained weights, so "
            "no question of what a pretrained trunk saw, and cheap enough to train twice (ERM and balanced) "
            "for 3 seeds on 2 CPU cores.")
    try:
        rec = load_results(ctx.results_dir).get("faces.gender_compare")
    except Exception:  # an unreadable results folder only loses the comparison sentence
        rec = None
    if rec and rec.get("budget") == ctx.budget:
        m = rec["metrics"]

        def get(key):
            return m[key]["mean"] if key in m else float("nan")

        text += (f" In `faces.gender_compare` ({ctx.budget}) it had the best UTKFace test AUC of the three "
                 f"models: improved {get('improved/test_auc'):.3f}, frozen EfficientNet-Lite0 trunk "
                 f"{get('transfer/test_auc'):.3f}, the seed's baseline {get('baseline/test_auc'):.3f}.")
    return text


def _report(cfg: FairnessConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import markdown_table
    from dl_assign.viz import confusion
    from dl_assign.viz import fairness as fviz

    first = outputs[0]
    an = first.artifacts["analyses"]
    arms = [a for a, _ in ARMS if f"{a}/test_race" in an]
    for name in ("test_race", "test_age", "test_race_gender", "fairface_age"):
        panels = {ARM_LABEL[a]: an[f"{a}/{name}"] for a in arms if f"{a}/{name}" in an}
        ctx.save_figure(fviz.group_bars(panels, title=f"{ctx.experiment}: {ANALYSIS_LABEL[name]}, seed {cfg.seeds[0]} "
                                        "(95% bootstrap whiskers; hatched: under 30 faces)"), f"groups_{name}")
    points = {ARM_LABEL[a]: [(o.metrics[f"{a}/test_race/equal_opportunity_difference"],
                              o.metrics[f"{a}/test_race/accuracy"]) for o in outputs
                             if f"{a}/test_race/equal_opportunity_difference" in o.metrics] for a in arms}
    ctx.save_figure(fviz.tradeoff(points, gap_label="equal opportunity difference by race (TPR gap)",
                                  title=f"{ctx.experiment}: accuracy vs fairness gap, every seed"), "tradeoff")
    ctx.save_figure(confusion(np.asarray(first.artifacts["validation"]["erm"]["confusion"]), list(fd.CLASSES),
                              title=f"{ctx.experiment}: ERM model, validation, seed {cfg.seeds[0]}"), "confusion")

    sizes = first.artifacts["sizes"]
    size_rows = [[ANALYSIS_LABEL[n], len(s), ", ".join(f"{g} {c}" for g, c in s.items()),
                  ", ".join(g for g, c in s.items() if c < F.MIN_GROUP) or "none"] for n, s in sizes.items()]
    val_rows = [[ARM_LABEL[a]] + [_ms(outputs, f"{a}/{k}") for k in ("val_accuracy", "val_f1", "val_auc",
                                                                     "test_accuracy", "test_auc", "fairface_accuracy")]
                for a in ("erm", "balanced") if f"{a}/val_accuracy" in first.metrics]
    parts = [SUMMARY, findings(outputs), "## Model\n\n" + _justification(ctx, outputs),
             f"Data: UTKFace {ctx.dataset.get('sizes', {}).get('train')} training faces (the same subset as the gender "
             f"experiments), every validation ({ctx.dataset.get('sizes', {}).get('val')}) and test "
             f"({ctx.dataset.get('sizes', {}).get('test')}) face, and {ctx.dataset.get('sizes', {}).get('fairface')} "
             f"FairFace faces; {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}; {len(outputs)} seed(s); "
             f"{cfg.n_boot} bootstrap resamples and permutation shuffles per gap.",
             "## Sample sizes per group\n\n" + markdown_table(["analysis", "groups", "faces per group",
                                                               f"under {F.MIN_GROUP} (too small)"], size_rows),
             "## Validation (the seed's two metrics, and more)\n\nDecision threshold chosen on validation (best "
             f"accuracy): {_ms(outputs, 'erm/threshold', 3)}.\n\n"
             + markdown_table(["model", "val accuracy", "val F1 (female)", "val AUC", "test accuracy", "test AUC",
                               "FairFace accuracy"], val_rows)
             + "\n\nConfusion matrix: `faces.fairness.confusion.png`; per-group figures `faces.fairness.groups_*.png`."]
    for name in ("test_race", "test_race_gender", "test_age", "test_gender", "fairface_age", "fairface_gender",
                 "fairface_race"):
        key = f"erm/{name}"
        if key not in an:
            continue
        text = (f"## Fairness of the ERM model: {ANALYSIS_LABEL[name]}\n\nPer group, seed {cfg.seeds[0]} (threshold "
                f"from validation):\n\n{group_table(an[key])}\n\nGaps:\n\n{disparity_table(outputs, an[key], key)}")
        if "gender" in name:
            text += "\n\n" + GENDER_NOTE
        if an[key]["undefined"]:
            text += "\n\nUndefined: " + "; ".join(f"{u['metric']} of {u['group']} ({u['why']})"
                                                  for u in an[key]["undefined"][:8]) + "."
        parts.append(text)
    mit_rows = []
    for a in arms:
        mit_rows.append([ARM_LABEL[a], _ms(outputs, f"{a}/test_race/accuracy"),
                         _ms(outputs, f"{a}/test_race/equal_opportunity_difference"),
                         _ms(outputs, f"{a}/test_race/disparate_impact"),
                         _ms(outputs, f"{a}/test_race/equalized_odds_difference"),
                         _ms(outputs, f"{a}/test_race_gender/accuracy_difference"),
                         _ci(an[f"{a}/test_race"]["disparities"]["equal_opportunity_difference"])])
    change_rows = [[ARM_LABEL[a], _ms(outputs, f"mitigation/{a}/accuracy_change", sign=True),
                    _ms(outputs, f"mitigation/{a}/equal_opportunity_difference_change", sign=True),
                    _ms(outputs, f"mitigation/{a}/disparate_impact_change", sign=True),
                    _ms(outputs, f"mitigation/{a}/equalized_odds_difference_change", sign=True)]
                   for a in arms if a != "erm"]
    parts.append("## Mitigations, measured (UTKFace test, by race)\n\n"
                 + markdown_table(["model", "test accuracy", "EO difference", "disparate impact",
                                   "equalized odds diff.", "accuracy diff. by race x gender",
                                   "EO difference, seed 0 [95% CI]"], mit_rows)
                 + "\n\nChange against ERM, same seed (mean ± std over seeds):\n\n"
                 + markdown_table(["mitigation", "accuracy", "EO difference", "disparate impact", "equalized odds"],
                                  change_rows)
                 + "\n\nFigure: `faces.fairness.tradeoff.png` (accuracy vs the TPR gap, every seed).")
    parts.append(ETHICS)
    return "\n\n".join(parts)
