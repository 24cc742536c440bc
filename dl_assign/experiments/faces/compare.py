"""``faces.gender_compare``: the baseline CNN, the improved CNN and the frozen-trunk model side by side.

It trains nothing: it reads the results JSONs of ``faces.gender_baseline``, ``faces.gender_improved`` and
``faces.gender_transfer`` from the results folder (never their modules), checks that all three scored
the same UTKFace test and FairFace images, and adds: ROC curves overlaid (validation, test, FairFace),
AUC with bootstrap 95 % intervals, paired AUC differences (bootstrap over the same images) and paired
accuracy differences with McNemar's test, the cross-dataset drop of every model, the learning curves,
and the explanation of each difference from measured numbers, then the ethics and limitations. Seed
``s`` pairs the models' seed-``s`` runs. A missing input is an error naming the command to run; at the
``smoke`` budget the missing inputs are run here first (through the registry).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from dl_assign.config import ExperimentConfig, Range
from dl_assign.engine import metrics as M
from dl_assign.experiments.faces import scratch as sc
from dl_assign.registry import RunContext, SeedResult, experiment

MODELS = (("baseline", "faces.gender_baseline", "baseline CNN (seed's Fig. 1)"),
          ("improved", "faces.gender_improved", "improved CNN"),
          ("transfer", "faces.gender_transfer", "frozen pretrained trunk + FC"))
PAIRS = (("improved", "baseline"), ("transfer", "baseline"), ("transfer", "improved"))
LABEL = {k: label for k, _, label in MODELS}
SPLITS = ("val", "test", "fairface")
SPLIT_LABEL = {"val": "UTKFace validation", "test": "UTKFace test", "fairface": "FairFace (other dataset)"}
COPY = ("val_auc", "test_auc", "test_auc_low", "test_auc_high", "test_accuracy", "test_sensitivity",
        "test_specificity", "test_precision", "test_f1", "fairface_auc", "fairface_auc_low", "fairface_auc_high",
        "fairface_accuracy", "fairface_sensitivity", "fairface_specificity", "fairface_precision", "fairface_f1",
        "cross_dataset_drop", "cross_dataset_auc_drop", "train_accuracy", "val_accuracy", "train_val_gap",
        "threshold", "train_seconds")
ETHICS = (
    "## Ethics and limitations\n\n"
    "- **Binary labels.** Every dataset here records gender as male/female, assigned by annotators from a "
    "photo (UTKFace's labels were estimated by an algorithm and checked by people; FairFace's by crowd "
    "workers). Gender is not a visual property: the classifier predicts how annotators *perceived* a "
    "face, and it has no answer for non-binary, transgender or gender-nonconforming people, whom it will "
    "misgender by construction. The measured accuracy says nothing about them.\n"
    "- **Who is in the data.** UTKFace is web-scraped, skews to White faces (the per-group table above "
    "shows the test accuracy for each UTKFace race group; group sizes in the test split are small, so "
    "those numbers carry wide intervals), spans ages 0-116 with few elderly and infant faces, and its "
    "race labels are five coarse categories. The 540 FairFace images have no race label here, so the "
    "cross-dataset drop cannot be broken down by group. Children's faces carry weak gender cues: the "
    "per-age rows above measure how much worse every model does on them.\n"
    "- **What a deployed gender classifier can harm.** Automated gender recognition used for access "
    "control, advertising targeting, surveillance or 'verification' misgenders people in public, outs "
    "transgender people, and fails unevenly across skin tones and ages (Buolamwini and Gebru, 2018); a "
    "face image collected without consent (UTKFace, FairFace and the Kaggle sets are scraped) is a privacy "
    "harm of its own. An error rate that looks small on a benchmark means many misgendered people at scale. "
    "These models are for studying the method; they are not fit for any decision about a person.\n"
    "- **Limitations of the study.** Test sets are subsets (UTKFace test and 540 FairFace faces), so "
    "accuracy differences below about twice the bootstrap interval width are not meaningful; the crop rule "
    "assumes known face margins per dataset rather than detecting faces; training ran on a CPU budget, "
    "so the CNNs are not trained to convergence; the transfer model's backbone is EfficientNet-Lite0 "
    "unless VGG16's weights are available.")


class MissingInput(RuntimeError):
    """A result this comparison reads is missing or unusable; the message says what to run first."""


@dataclass(frozen=True)
class CompareConfig(ExperimentConfig):
    seeds: tuple[int, ...] = (0, 1, 2)  # seed s pairs the three models' seed-s runs
    n_boot: Annotated[int, Range(ge=100)] = 2000
    level: Annotated[float, Range(gt=0, lt=1)] = 0.95

    BUDGETS: ClassVar[dict] = {"smoke": {"seeds": (0,), "n_boot": 200}, "full": {"seeds": (0, 1, 2, 3, 4)}}


def _problem(record: dict | None, budget: str, seeds) -> str | None:
    if record is None:
        return "no result"
    if record["budget"] != budget:
        return f"its result is at budget {record['budget']}, not {budget}"
    if missing := [s for s in seeds if s not in record["seeds"]]:
        return f"its result has no seed {missing} (seeds {record['seeds']})"
    if any("scores" not in _arts(record, s) for s in seeds):
        return "its result has no per-image scores (written by older code)"
    return None


def gather(results_dir: str | Path, budget: str, seeds=(0,), *, run_missing: bool = False) -> dict:
    """``{model key: result record}``, or :class:`MissingInput` naming what to run (``run_missing``: run it)."""
    from dl_assign import registry
    from dl_assign.results import load_results

    records = load_results(results_dir) if Path(results_dir).is_dir() else {}
    problems = {exp: why for _, exp, _ in MODELS if (why := _problem(records.get(exp), budget, seeds))}
    if problems and run_missing:
        for exp in problems:
            registry.get(exp).run(budget, results_dir=results_dir, progress=False)
        records = load_results(results_dir)
        problems = {exp: why for _, exp, _ in MODELS if (why := _problem(records.get(exp), budget, seeds))}
    if problems:
        raise MissingInput("faces.gender_compare reads the results of the three models from "
                           f"{results_dir}; run these first: " + "; ".join(
                               f"`dl-assign run {exp} --budget {budget} --results-dir {results_dir}` ({why})"
                               for exp, why in problems.items()))
    return {key: records[exp] for key, exp, _ in MODELS}


def _arts(record: dict, seed: int) -> dict:
    return record["artifacts"][record["seeds"].index(seed)]


def _value(record: dict, name: str, seed: int):
    m = record["metrics"].get(name)
    return None if m is None else m["values"][record["seeds"].index(seed)]


def paired(records: dict, seed: int, *, n_boot: int, level: float) -> tuple[dict, dict]:
    """Paired AUC and accuracy differences of every pair on the same test / FairFace images (seed ``seed``)."""
    arts = {k: _arts(r, seed) for k, r in records.items()}
    for split in ("test", "fairface"):
        truths = {k: a["true"][split] for k, a in arts.items()}
        if len({tuple(t) for t in truths.values()}) != 1:
            raise MissingInput(f"the three results did not score the same {split} images (labels differ); rerun them "
                               "with the same data settings (split_seed, *_limit)")
    metrics, pairs = {}, {}
    for a, b in PAIRS:
        for split in ("test", "fairface"):
            y = np.asarray(arts[a]["true"][split])
            sa, sb = np.asarray(arts[a]["scores"][split]), np.asarray(arts[b]["scores"][split])
            auc = M.paired_auc_bootstrap(y, sa, sb, n_boot=n_boot, level=level, seed=seed)
            ca = (sa >= _value(records[a], "threshold", seed)) == y
            cb = (sb >= _value(records[b], "threshold", seed)) == y
            acc = M.paired_bootstrap(ca, cb, n_boot=n_boot, level=level, seed=seed)
            mc = M.mcnemar(ca, cb)
            pairs[f"{a}_vs_{b}/{split}"] = {"auc": auc, "accuracy": acc, "mcnemar": mc}
            metrics |= {f"{a}_minus_{b}/{split}_auc": auc["diff"], f"{a}_minus_{b}/{split}_auc_low": auc["low"],
                        f"{a}_minus_{b}/{split}_auc_high": auc["high"], f"{a}_minus_{b}/{split}_accuracy": acc["diff"],
                        f"{a}_vs_{b}/{split}_mcnemar_p": mc["p_value"]}
    return metrics, pairs


YOUNG = ("0-2", "3-9", "10-19")  # FairFace's age bins under 20


def _age_start(label: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in label).split()
    return int(digits[0]) if digits else 10**6


def fairface_by_age(records: dict, seed: int) -> dict:
    """FairFace accuracy of every model per FairFace age bin (at its validation threshold), on faces aged 20+, and
    its ceiling: the accuracy if every face aged 20+ were right and the under-20 faces kept as measured.

    The ages come from the FairFace index, in the order the models scored the images (the same seeded
    selection, ``split_seed`` + 1); ``{}`` when the index is missing or its labels do not match the scores.
    """
    from dl_assign.data import DatasetMissing
    from dl_assign.data import faces as fd

    cfg = records["baseline"]["config"]
    try:
        ff = fd.read_fairface(check_files=False)
    except DatasetMissing:
        return {}
    rows = fd.stratified_subset(ff.gender, int(cfg.get("fairface_limit", 0)), int(cfg.get("split_seed", 0)) + 1)
    age = np.asarray(ff.age, dtype=object)[rows]
    truth = np.asarray(_arts(records["baseline"], seed)["true"]["fairface"])
    if len(age) != len(truth) or not np.array_equal(np.asarray(ff.gender)[rows], truth):
        return {}
    young = np.isin(age, YOUNG)
    metrics = {"fairface_share_under20": float(young.mean())}
    metrics |= {f"fairface_images_age/{b}": float((age == b).sum()) for b in set(age)}
    for key, rec in records.items():
        arts = _arts(rec, seed)
        hit = (np.asarray(arts["scores"]["fairface"]) >= _value(rec, "threshold", seed)) == (truth == 1)
        for b in sorted(set(age), key=_age_start):
            metrics[f"{key}/fairface_accuracy_age/{b}"] = float(hit[age == b].mean())
        if young.any():
            metrics[f"{key}/fairface_accuracy_under20"] = float(hit[young].mean())
        if (~young).any():
            metrics[f"{key}/fairface_accuracy_20plus"] = float(hit[~young].mean())
            metrics[f"{key}/fairface_ceiling_20plus_right"] = float((hit[young].sum() + (~young).sum()) / len(hit))
    return metrics


def _fmt(rec: dict, name: str, digits: int = 4) -> str:
    m = rec["metrics"].get(name)
    if m is None:
        return "-"
    return f"{m['mean']:.{digits}f}" + (f" ± {m['std']:.{digits}f}" if len(m["values"]) > 1 else "")


def report(cfg: CompareConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign import viz
    from dl_assign.results import markdown_table
    from dl_assign.viz import faces as fviz

    records = gather(ctx.results_dir, ctx.budget, cfg.seeds)
    s = cfg.seeds[0]
    arts = {k: _arts(r, s) for k, r in records.items()}
    backbone = outputs[0].artifacts["backbone"]
    label = dict(LABEL) | {"transfer": f"frozen {backbone} + FC"}
    ctx.save_figure(fviz.roc_panels({SPLIT_LABEL[sp]: {f"{label[k]} (AUC {_value(records[k], f'{sp}_auc', s):.3f})":
                                                       arts[k]["roc"][sp] for k in records} for sp in SPLITS},
                                    title=f"ROC curves, seed {s} (positive class: female)"), "roc")
    ctx.save_figure(fviz.confusions({f"{k} / {sp}": arts[k]["confusion"][sp] for k in records
                                     for sp in ("test", "fairface")},
                                    title=f"confusion matrices at each model's validation threshold, seed {s}"),
                    "confusion")
    ctx.save_figure(viz.curves([arts[k]["history"] for k in records], [label[k] for k in records],
                               title=f"learning curves, seed {s} (solid: train, dashed: validation)"), "curves")

    n = len(cfg.seeds)
    head = ["measure (mean ± std over seeds; positive: female)"] + [f"{label[k]} ({len(records[k]['seeds'])} seeds)"
                                                                    for k in records]
    rows = [[text] + [_fmt(records[k], name) for k in records] for name, text in (
        ("val_auc", "UTKFace val AUC (chooses the best model)"),
        ("test_auc", "UTKFace test AUC"), ("test_auc_low", "  95% bootstrap low"), ("test_auc_high", "  95% high"),
        ("test_accuracy", "UTKFace test accuracy"), ("test_sensitivity", "  sensitivity (female recall)"),
        ("test_specificity", "  specificity (male recall)"), ("test_precision", "  precision (female)"),
        ("test_f1", "  F1 (female)"),
        ("fairface_auc", "FairFace AUC"), ("fairface_auc_low", "  95% bootstrap low"),
        ("fairface_auc_high", "  95% high"), ("fairface_accuracy", "FairFace accuracy"),
        ("fairface_sensitivity", "  sensitivity"), ("fairface_specificity", "  specificity"),
        ("fairface_f1", "  F1"), ("cross_dataset_drop", "cross-dataset drop (UTKFace test - FairFace accuracy)"),
        ("cross_dataset_auc_drop", "cross-dataset AUC drop"), ("threshold", "threshold (chosen on validation)"),
        ("train_accuracy", "train accuracy (clean, eval mode)"), ("train_val_gap", "train - val accuracy gap"),
        ("train_seconds", "training seconds per seed"))]
    rows.append(["parameters (trainable)"] + [
        f"{int(records['baseline']['metrics']['params']['mean']):,}",
        f"{int(records['improved']['metrics']['params']['mean']):,}",
        f"{int(records['transfer']['metrics']['params_trainable']['mean']):,} "
        f"(+{int(records['transfer']['metrics']['params_frozen']['mean']):,} frozen)"])
    race_names = [k.split("/", 1)[1] for k in records["baseline"]["metrics"] if k.startswith("test_accuracy_race/")]
    race_rows = [[r] + [_fmt(records[k], f"test_accuracy_race/{r}", 3) for k in records] for r in race_names]
    age_names = [k.split("/", 1)[1] for k in records["baseline"]["metrics"] if k.startswith("test_accuracy_age/")]
    race_rows += [[f"age {a}"] + [_fmt(records[k], f"test_accuracy_age/{a}", 3) for k in records] for a in age_names]

    pair_rows = []
    for out in outputs:
        for name, p in out.artifacts["pairs"].items():
            (a, b), split = name.split("/")[0].split("_vs_"), name.split("/")[1]
            pair_rows.append([f"{label[a]} - {label[b]}", SPLIT_LABEL[split], out.artifacts["seed"],
                              f"{p['auc']['diff']:+.4f} [{p['auc']['low']:+.4f}, {p['auc']['high']:+.4f}]",
                              f"{p['accuracy']['diff']:+.4f} [{p['accuracy']['low']:+.4f}, "
                              f"{p['accuracy']['high']:+.4f}]",
                              f"{p['mcnemar']['b']} / {p['mcnemar']['c']}", f"{p['mcnemar']['p_value']:.3g}"])
    mean = lambda k, name: records[k]["metrics"][name]["mean"] if name in records[k]["metrics"] else float("nan")  # noqa: E731
    best = outputs[0].artifacts["best"]
    imp = records["improved"]["metrics"]
    seeds_mean = lambda name: float(np.mean([o.metrics[name] for o in outputs if name in o.metrics]))  # noqa: E731
    bins = sorted({k.split("/")[-1] for k in outputs[0].metrics if "/fairface_accuracy_age/" in k}, key=_age_start)
    age_rows = [[b, f"{seeds_mean(f'fairface_images_age/{b}'):.0f}"]
                + [f"{seeds_mean(f'{k}/fairface_accuracy_age/{b}'):.3f}" for k in records] for b in bins]
    if bins:
        age_rows += [["under 20", ""] + [f"{seeds_mean(f'{k}/fairface_accuracy_under20'):.3f}" for k in records],
                     ["aged 20+", ""] + [f"{seeds_mean(f'{k}/fairface_accuracy_20plus'):.3f}" for k in records],
                     ["ceiling: every face aged 20+ right, under-20 as measured", ""]
                     + [f"{seeds_mean(f'{k}/fairface_ceiling_20plus_right'):.3f}" for k in records]]
    icfg = records["improved"]["config"]
    widths = icfg.get("widths", [])
    grid = icfg.get("grid", 0)
    aug = sc.augment_text(icfg.get("augment", "none"), icfg.get("pad", 4), icfg.get("crop_scale", 0.7))
    why = [
        "## Why the models differ (measured)", "",
        f"- **Baseline -> improved** (test AUC {mean('improved', 'test_auc') - mean('baseline', 'test_auc'):+.4f}, "
        f"accuracy {mean('improved', 'test_accuracy') - mean('baseline', 'test_accuracy'):+.4f}). The baseline puts "
        f"{mean('baseline', 'fc_share'):.2%} of its {int(mean('baseline', 'params')):,} parameters in one fully "
        "connected layer over a 94x94x16 map (two stride-1 pools barely downsample), so it memorises pixel "
        f"positions: train - validation accuracy gap {mean('baseline', 'train_val_gap'):+.4f}. The improved CNN "
        f"({int(mean('improved', 'params')):,} parameters) downsamples with stride-2 pools, sees the whole face "
        f"through {len(widths)} stages ({'-'.join(map(str, widths))} channels), normalises with BatchNorm and feeds "
        f"a {grid}x{grid} pooled map (where a feature is still matters on aligned faces) through dropout into its "
        f"FC layer: gap {mean('improved', 'train_val_gap'):+.4f}.",
    ]
    if "tta_gain/val_auc" in imp:
        why.append(f"- **Mirror averaging at test time** (the improved CNN scores a face and its mirror; the same "
                   f"network scored on the face alone): test AUC {imp['tta_gain/test_auc']['mean']:+.4f} "
                   f"({imp['no_tta/test_auc']['mean']:.4f} without it), FairFace AUC "
                   f"{imp['tta_gain/fairface_auc']['mean']:+.4f}.")
    if "augment_gain/val_auc" in imp:
        why.append(f"- **Augmentation alone** (the improved network trained with and without {aug}, same "
                   f"seeds): validation AUC {imp['augment_gain/val_auc']['mean']:+.4f}, validation accuracy "
                   f"{imp['augment_gain/val_accuracy']['mean']:+.4f}, train-val gap "
                   f"{imp['augment_gain/train_val_gap']['mean']:+.4f}; the rest of the gain over the baseline is the "
                   f"architecture (no-augmentation arm vs baseline, validation AUC "
                   f"{imp['no_augment/val_auc']['mean'] - mean('baseline', 'val_auc'):+.4f}).")
    why += [
        f"- **Frozen pretrained trunk** (`{backbone}`; test AUC {mean('transfer', 'test_auc'):.4f} vs improved "
        f"{mean('improved', 'test_auc'):.4f}): ImageNet features plus a small trained head "
        f"({int(mean('transfer', 'params_trainable')):,} parameters) - generic features learnt from 1.2M images, "
        "none of them trained on faces here; train-val gap "
        f"{mean('transfer', 'train_val_gap'):+.4f}.",
        "- **Another dataset (FairFace)**: cross-dataset accuracy drops baseline "
        f"{mean('baseline', 'cross_dataset_drop'):+.4f}, improved {mean('improved', 'cross_dataset_drop'):+.4f}, "
        f"transfer {mean('transfer', 'cross_dataset_drop'):+.4f}: FairFace is photographed differently (wider "
        "head pose, lighting, more non-White faces, images cut with a larger margin and re-cropped by the same rule), "
        "and the thresholds were chosen on UTKFace validation.",
        f"- **Best model on validation AUC**: {label[best]} - UTKFace test accuracy "
        f"{mean(best, 'test_accuracy'):.4f}, AUC {mean(best, 'test_auc'):.4f}; FairFace accuracy "
        f"{mean(best, 'fairface_accuracy'):.4f} (the issue's goals: >= 0.94, >= 0.98 and >= 0.90; reported as "
        "measured).",
    ]
    if bins:
        n_young = sum(b in YOUNG for b in bins)
        under = seeds_mean(f"{best}/fairface_accuracy_under20")
        why.append(f"- **FairFace's children**: {n_young} of this FairFace set's {len(bins)} age bins are under 20, "
                   f"{seeds_mean('fairface_share_under20'):.0%} of its images. The {label[best]} scores "
                   f"{under:.3f} on the faces under 20 and "
                   f"{seeds_mean(f'{best}/fairface_accuracy_20plus'):.3f} on those aged 20+ (table above). Even with "
                   "every face aged 20+ right and the younger ones as measured, its FairFace accuracy would be "
                   f"{seeds_mean(f'{best}/fairface_ceiling_20plus_right'):.3f}.")
    text = [
        f"Positive class: **female** (label 1). Thresholds chosen on UTKFace validation; {n} seed(s) paired. "
        f"{int(outputs[0].metrics['test_images'])} UTKFace test and {int(outputs[0].metrics['fairface_images'])} "
        "FairFace images.", "",
        "## Side by side", "", markdown_table(head, rows), "",
        f"## Paired differences on the same images ({cfg.level:.0%} bootstrap intervals, {cfg.n_boot:,} resamples; "
        "McNemar on the discordant pairs b / c)", "",
        markdown_table(["pair", "images", "seed", "AUC difference [interval]", "accuracy difference [interval]",
                        "b / c", "McNemar p"], pair_rows), "",
        "## UTKFace test accuracy per race and age group", "",
        "At each model's validation threshold; small groups carry wide intervals (a group of 100 faces at "
        "accuracy 0.85: binomial standard error 0.036).", "",
        markdown_table(["group"] + [label[k] for k in records], race_rows), "",
        *(["## FairFace accuracy per age bin", "",
           f"At each model's validation threshold, mean over {len(outputs)} seed(s).", "",
           markdown_table(["FairFace age", "faces"] + [label[k] for k in records], age_rows), ""] if bins else []),
        *why, "", ETHICS, "",
        "Inputs: " + ", ".join(f"`{v['experiment']}` ({v['budget']}, seeds {v['seeds']}, git "
                               f"`{(v['git_sha'] or '?')[:12]}`)" for v in outputs[0].artifacts["inputs"].values()),
    ]
    return "\n".join(text)


@experiment("faces.gender_compare", CompareConfig, datasets=("utkface", "fairface"), report=report)
def faces_gender_compare(cfg: CompareConfig, seed: int, ctx: RunContext):
    """Baseline vs improved vs frozen-trunk gender models: overlaid ROC, AUC intervals, paired tests, FairFace drop."""
    records = gather(ctx.results_dir, ctx.budget, cfg.seeds, run_missing=ctx.budget == "smoke")
    ctx.use_dataset(records["baseline"]["dataset"])
    metrics = {}
    for key, rec in records.items():
        for name in COPY:
            if (v := _value(rec, name, seed)) is not None:
                metrics[f"{key}/{name}"] = v
    # the best model is chosen on VALIDATION AUC (mean over the seeds), never on test
    best = max(records, key=lambda k: records[k]["metrics"]["val_auc"]["mean"])
    for name in ("test_accuracy", "test_auc", "fairface_accuracy", "fairface_auc", "cross_dataset_drop"):
        metrics[f"best/{name}"] = metrics[f"{best}/{name}"]
    pair_metrics, pairs = paired(records, seed, n_boot=cfg.n_boot, level=cfg.level)
    metrics |= pair_metrics
    aug = _value(records["improved"], "augment_gain/val_auc", seed)
    if aug is not None:
        metrics["improved/augment_gain_val_auc"] = aug
    metrics |= fairface_by_age(records, seed)
    metrics["fairface_images"] = float(len(_arts(records["baseline"], seed)["true"]["fairface"]))
    metrics["test_images"] = float(len(_arts(records["baseline"], seed)["true"]["test"]))
    inputs = {k: {"experiment": r["experiment"], "budget": r["budget"], "seeds": r["seeds"],
                  "git_sha": r["env"].get("git_sha"), "date": r["env"].get("date")} for k, r in records.items()}
    return SeedResult(metrics, {"pairs": pairs, "inputs": inputs, "seed": seed, "best": best,
                                "backbone": _arts(records["transfer"], seed).get("backbone")})
