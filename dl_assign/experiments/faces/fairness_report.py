"""The report of ``faces.fairness``: the summary of what is analysed, the findings in words, group and gap
tables with intervals and significance over seeds, the mitigations, the figures, limitations and ethics.
Every number comes from the run's metrics and artifacts."""

from __future__ import annotations

import numpy as np

from dl_assign import fairness as F
from dl_assign.data import faces as fd
from dl_assign.registry import RunContext, SeedResult

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
ANALYSIS_LABEL = {"test_race": "UTKFace test by race", "test_age": "UTKFace test by age bin",
                  "test_gender": "UTKFace test by gender", "test_race_gender": "UTKFace test by race x gender",
                  "fairface_age": "FairFace by age bin", "fairface_gender": "FairFace by gender",
                  "fairface_race": "FairFace by race"}

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


def report(cfg, outputs: list[SeedResult], ctx: RunContext) -> str:
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
