"""``pests.transfer_compare``: the custom CNN and both transfer models side by side, on the same test images.

It trains nothing: it reads the results JSONs of ``pests.cnn_scratch``, ``pests.transfer_effnet_lite0``
and ``pests.transfer_mobilenet_v2`` from the results folder (never their modules), checks that all
three were tested on the same images, and adds the paired statistics of every pair of models: the
accuracy difference with a paired bootstrap interval and McNemar's test, on the per-image test
predictions of each training seed (this experiment's seed ``s`` pairs the models' seed-``s`` runs).
A missing input is an error naming the experiment to run first; at the ``smoke`` budget the missing
inputs are run here instead (through the registry), so the smoke test and benchmarks need no ordering.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from dl_assign.config import ExperimentConfig, Range
from dl_assign.engine.metrics import mcnemar, paired_bootstrap
from dl_assign.experiments.pests.common import leakage_flag
from dl_assign.registry import RunContext, SeedResult, experiment

# key, experiment, label, pretrained (its accuracy carries the leakage flag on pests14)
MODELS = (("custom_cnn", "pests.cnn_scratch", "custom CNN (from scratch)", False),
          ("effnet_lite0", "pests.transfer_effnet_lite0", "EfficientNet-Lite0 (ImageNet)", True),
          ("mobilenet_v2", "pests.transfer_mobilenet_v2", "MobileNetV2 (ImageNet)", True))
PAIRS = (("effnet_lite0", "custom_cnn"), ("mobilenet_v2", "custom_cnn"), ("effnet_lite0", "mobilenet_v2"))
TABLE = (("test_accuracy", "top-1 accuracy"), ("test_top5", "top-5 accuracy"), ("test_macro_f1", "macro-F1"),
         ("test_loss", "test loss (cross-entropy)"), ("test_ece", "ECE (15 bins)"),
         ("infer_ms_b1", "inference ms/image, batch 1"), ("infer_ms_b64", "inference ms/image, batch 64"),
         ("train_seconds", "training seconds per seed"), ("params_total", "parameters"),
         ("params_trainable", "trainable parameters"), ("cache_speedup", "epoch speed-up from the trunk cache"))
LABEL = {k: label for k, _, label, _ in MODELS}


class MissingInput(RuntimeError):
    """A result this comparison reads is missing or unusable; the message says what to run first."""


@dataclass(frozen=True)
class CompareConfig(ExperimentConfig):
    # nothing is trained: seed s pairs the three models' seed-s test predictions (and seeds the bootstrap)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: Annotated[int, Range(ge=100)] = 10_000  # bootstrap replicates
    level: Annotated[float, Range(gt=0, lt=1)] = 0.95

    BUDGETS: ClassVar[dict] = {"smoke": {"seeds": (0,), "n_boot": 2000}, "full": {"seeds": (0, 1, 2, 3, 4)}}


def _problem(record: dict | None, budget: str, seeds) -> str | None:
    if record is None:
        return "no result"
    if record["budget"] != budget:
        return f"its result is at budget {record['budget']}, not {budget}"
    if missing := [s for s in seeds if s not in record["seeds"]]:
        return f"its result has no seed {missing} (seeds {record['seeds']})"
    for s in seeds:
        if not {"test_predictions", "per_class", "reliability"} <= set(_seed_artifacts(record, s)):
            return "its result has no per-image test predictions (written by older code)"
    return None


def gather(results_dir: str | Path, budget: str, seeds=(0,), *, run_missing: bool = False) -> dict:
    """``{model key: result record}`` for the three models, or :class:`MissingInput` saying what to run.

    ``run_missing``: run the missing ones at ``budget`` into ``results_dir`` first (the smoke path).
    """
    from dl_assign import registry
    from dl_assign.results import load_results

    records = load_results(results_dir) if Path(results_dir).is_dir() else {}
    problems = {exp: why for _, exp, _, _ in MODELS if (why := _problem(records.get(exp), budget, seeds))}
    if problems and run_missing:
        for exp in problems:
            registry.get(exp).run(budget, results_dir=results_dir, progress=False)
        records = load_results(results_dir)
        problems = {exp: why for _, exp, _, _ in MODELS if (why := _problem(records.get(exp), budget, seeds))}
    if problems:
        raise MissingInput("pests.transfer_compare reads the results of the three models from "
                           f"{results_dir}; run these first: " + "; ".join(
                               f"`dl-assign run {exp} --budget {budget} --results-dir {results_dir}` ({why})"
                               for exp, why in problems.items()))
    return {key: records[exp] for key, exp, _, _ in MODELS}


def _seed_artifacts(record: dict, seed: int) -> dict:
    return record["artifacts"][record["seeds"].index(seed)]


def _outcomes(records: dict, seed: int) -> dict[str, np.ndarray]:
    """Per model, whether each test image was classified right; the three must share the test images."""
    preds = {k: _seed_artifacts(r, seed)["test_predictions"] for k, r in records.items()}
    identities = {k: (r.get("dataset") or {}).get("identity") for k, r in records.items()}
    truth = {k: p["true"] for k, p in preds.items()}
    first = next(iter(truth.values()))
    if len(set(identities.values())) != 1 or any(t != first for t in truth.values()):
        raise MissingInput(f"the three results were not tested on the same images (dataset identities "
                           f"{identities}); rerun them on one dataset")
    return {k: np.asarray(p["pred"]) == np.asarray(p["true"]) for k, p in preds.items()}


def _fmt(m: dict | None, name: str) -> str:
    from dl_assign.results import fmt_metric, fmt_number

    if m is None:
        return "-"
    if name.startswith("params"):
        return f"{int(m['mean']):,}"
    if name in ("infer_ms_b1", "infer_ms_b64", "train_seconds", "cache_speedup"):
        return f"{fmt_number(m['mean'], 2)} ± {fmt_number(m['std'], 2)}" if len(m["values"]) > 1 else \
            fmt_number(m["mean"], 2)
    return fmt_metric(m)


def report(cfg: CompareConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.data import ip102
    from dl_assign.results import markdown_table
    from dl_assign.viz import pests as pviz

    records = gather(ctx.results_dir, ctx.budget, cfg.seeds)
    flag = leakage_flag(Path(ctx.dataset.get("source") or ""))
    flag = f"**Leakage flag:** {flag}." if flag else ""
    classes = ip102.read_classes(ip102.locate())
    s = cfg.seeds[0]  # the figures and per-class tables show the first seed
    arts = {LABEL[k]: _seed_artifacts(r, s) for k, r in records.items()}

    header = ["metric (test split; mean ± std over seeds)"] + [
        f"{LABEL[k]}{' †' if pre else ''} ({len(records[k]['seeds'])} seeds)" for k, _, _, pre in MODELS]
    rows = [[label] + [_fmt(records[k]["metrics"].get(name), name) for k, _, _, _ in MODELS] for name, label in TABLE]
    rows.append(["trained blocks"] + [", ".join(_seed_artifacts(records[k], s).get("trained_blocks", ["all"]))
                                      or "head only" for k, _, _, _ in MODELS])
    pair_rows = []
    for name in outputs[0].artifacts["pairs"]:
        a, b = name.split("_vs_")
        for out in outputs:
            bt, mc = out.artifacts["pairs"][name]["bootstrap"], out.artifacts["pairs"][name]["mcnemar"]
            pair_rows.append([f"{LABEL[a]} - {LABEL[b]}", out.artifacts["seed"], f"{bt['diff']:+.4f}",
                              f"[{bt['low']:+.4f}, {bt['high']:+.4f}]", f"{mc['b']} / {mc['c']}",
                              f"{mc['statistic']:.3g} ({mc['method']})", f"{mc['p_value']:.3g}"])
    f1_rows = [[c] + [f"{arts[LABEL[k]]['per_class']['f1'][i]:.3f}" for k, _, _, _ in MODELS]
               for i, c in enumerate(classes)]
    pr_rows = [[c] + [f"{arts[LABEL[k]]['per_class']['precision'][i]:.3f} / "
                      f"{arts[LABEL[k]]['per_class']['recall'][i]:.3f}" for k, _, _, _ in MODELS]
               for i, c in enumerate(classes)]

    ctx.save_figure(pviz.curves({lab: a["history"] for lab, a in arts.items()},
                                title=f"learning curves (seed {s}; dashed: validation)"), "curves")
    ctx.save_figure(pviz.confusions({lab: a["confusion"] for lab, a in arts.items()}, classes,
                                    title=f"test confusion matrices (seed {s}, row-normalised)"), "confusion")
    ctx.save_figure(pviz.per_class_bars({lab: a["per_class"]["f1"] for lab, a in arts.items()}, classes,
                                        title=f"per-class test F1 (seed {s})"), "per_class_f1")
    ctx.save_figure(pviz.reliability({lab: {"bins": a["reliability"], "ece": _ece(a)} for lab, a in arts.items()},
                                     title=f"reliability diagrams (test, seed {s})"), "reliability")
    n = outputs[0].artifacts["n_test"]
    text = [
        "## Side by side", "", flag, "",
        "† ImageNet-pretrained." if flag else "", "",
        markdown_table(header, rows), "",
        f"## Paired differences on the same {n} test images (each model's run of the same seed)", "", flag, "",
        f"Accuracy difference with a paired bootstrap {cfg.level:.0%} interval ({cfg.n_boot:,} resamples of the "
        "test images); McNemar's test on the discordant pairs (b = only the first right, c = only the second "
        "right; exact binomial when b + c < 25, else chi-square with continuity correction).", "",
        markdown_table(["pair", "seed", "accuracy difference", f"{cfg.level:.0%} interval", "b / c",
                        "statistic", "McNemar p"], pair_rows), "",
        f"## Per-class test F1 (seed {s})", "", flag, "",
        markdown_table(["class"] + [LABEL[k] for k, _, _, _ in MODELS], f1_rows), "",
        f"## Per-class test precision / recall (seed {s})", "", flag, "",
        markdown_table(["class"] + [LABEL[k] for k, _, _, _ in MODELS], pr_rows), "",
        "Inputs: " + ", ".join(f"`{v['experiment']}` ({v['budget']}, seeds {v['seeds']}, git "
                               f"`{(v['git_sha'] or '?')[:12]}`)" for v in outputs[0].artifacts["inputs"].values()),
    ]
    return "\n".join(text)


def _ece(arts: dict) -> float:
    bins = arts["reliability"]
    total = sum(b["count"] for b in bins)
    return sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])


@experiment("pests.transfer_compare", CompareConfig, datasets=("ip102",), report=report)
def pests_transfer_compare(cfg: CompareConfig, seed: int, ctx: RunContext):
    """Custom CNN vs EfficientNet-Lite0 vs MobileNetV2 on the same test images, paired tests (pests14: leakage flag)."""
    records = gather(ctx.results_dir, ctx.budget, cfg.seeds, run_missing=ctx.budget == "smoke")
    ctx.use_dataset(records["custom_cnn"]["dataset"])
    correct = _outcomes(records, seed)
    metrics, pairs = {}, {}
    for key, rec in records.items():  # the seed-`seed` value of each model's metrics
        for name, _ in TABLE:
            value = rec["metrics"].get(name, {"values": [None] * len(rec["seeds"])})["values"][rec["seeds"].index(seed)]
            if value is not None:  # NaN is stored as null
                metrics[f"{key}/{name}"] = value
    for key in ("effnet_lite0", "mobilenet_v2"):
        metrics[f"{key}/gain_over_custom"] = metrics[f"{key}/test_accuracy"] - metrics["custom_cnn/test_accuracy"]
    for a, b in PAIRS:
        boot = paired_bootstrap(correct[a], correct[b], n_boot=cfg.n_boot, level=cfg.level, seed=seed)
        test = mcnemar(correct[a], correct[b])
        pairs[f"{a}_vs_{b}"] = {"bootstrap": boot, "mcnemar": test}
        metrics |= {f"{a}_vs_{b}/acc_diff": boot["diff"], f"{a}_vs_{b}/ci_low": boot["low"],
                    f"{a}_vs_{b}/ci_high": boot["high"], f"{a}_vs_{b}/mcnemar_p": test["p_value"]}
    inputs = {k: {"experiment": r["experiment"], "budget": r["budget"], "seeds": r["seeds"],
                  "git_sha": r["env"].get("git_sha"), "date": r["env"].get("date")} for k, r in records.items()}
    return SeedResult(metrics, {"pairs": pairs, "inputs": inputs, "seed": seed,
                                "n_test": int(len(next(iter(correct.values()))))})
