"""A final model against the study's choice it departs from: both trained at the final's budget, paired.

A study ranks cells at a small budget; the final model is trained at a larger one and sometimes keeps
a setting the study ranked lower. The ablation experiments (``fashion.numpy_mlp_dropout``,
``fashion.cnn_flip``, ``imagenet.cnn_best_depth``) settle each such departure by measurement: for every
seed both variants train with the same seed on the same split, and are scored on the same test
images, so the comparison is paired per image:

- per seed: both accuracies, the difference (final - alternative), its paired bootstrap interval and
  McNemar's test (:mod:`dl_assign.engine.metrics`);
- over seeds (the report): each image's outcome averaged over the seeds for either variant, then one
  paired bootstrap over the images. Its interval decides the verdict: *final better*, *alternative
  better* or *tie* (the interval holds 0).

The pooled numbers go into the record as ``pooled/*`` metrics (``RunContext.summary``: one value each).
Each seed's outcomes are kept in the artifacts as ``"0"``/``"1"`` strings (one character an image), so
the pooled test can be recomputed from the result JSON alone.
"""

from __future__ import annotations

import numpy as np

from dl_assign.engine.metrics import mcnemar, paired_bootstrap
from dl_assign.registry import RunContext, SeedResult

LEVEL = 0.95


def outcomes_text(correct) -> str:
    return "".join("1" if c else "0" for c in np.asarray(correct, dtype=bool))


def outcomes_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def paired_seed(correct_final, correct_alt, y=None, groups: dict[str, list[int]] | None = None,
                seed: int = 0) -> SeedResult:
    """One seed's paired comparison; ``groups`` (name -> class indices, with ``y``) adds per-group accuracies."""
    a = np.asarray(correct_final, dtype=bool)
    b = np.asarray(correct_alt, dtype=bool)
    boot = paired_bootstrap(a, b, n_boot=4000, level=LEVEL, seed=seed)
    test = mcnemar(a, b)
    metrics = {"final/test_accuracy": float(a.mean()), "alternative/test_accuracy": float(b.mean()),
               "diff": boot["diff"], "diff_low": boot["low"], "diff_high": boot["high"],
               "mcnemar_p": test["p_value"], "only_final_right": float(test["b"]),
               "only_alternative_right": float(test["c"])}
    for name, classes in (groups or {}).items():
        mask = np.isin(np.asarray(y), classes)
        metrics[f"final/{name}_accuracy"] = float(a[mask].mean())
        metrics[f"alternative/{name}_accuracy"] = float(b[mask].mean())
        metrics[f"{name}_diff"] = float(a[mask].mean() - b[mask].mean())
    return SeedResult(metrics, {"correct_final": outcomes_text(a), "correct_alternative": outcomes_text(b)})


def pooled(outputs: list[SeedResult]) -> dict:
    """The over-seeds paired bootstrap: per-image outcomes averaged over seeds, resampled by image."""
    a = np.mean([outcomes_array(o.artifacts["correct_final"]) for o in outputs], axis=0)
    b = np.mean([outcomes_array(o.artifacts["correct_alternative"]) for o in outputs], axis=0)
    boot = paired_bootstrap(a, b, n_boot=10_000, level=LEVEL, seed=0)
    if boot["low"] > 0:
        verdict = "final better"
    elif boot["high"] < 0:
        verdict = "alternative better"
    else:
        verdict = "tie"
    return boot | {"verdict": verdict, "images": len(a)}


def report(final: str, alternative: str, claim: str, groups: tuple[str, ...] = ()):
    """A report function: the per-seed table, the pooled verdict, and what the study had claimed."""

    def render(cfg, outputs: list[SeedResult], ctx: RunContext) -> str:
        from dl_assign.results import markdown_table

        p = pooled(outputs)
        ctx.summary.update({"pooled/diff": p["diff"], "pooled/diff_low": p["low"], "pooled/diff_high": p["high"],
                            "pooled/final_better": float(p["verdict"] == "final better"),
                            "pooled/alternative_better": float(p["verdict"] == "alternative better")})
        rows = [[s, f"{o.metrics['final/test_accuracy']:.4f}", f"{o.metrics['alternative/test_accuracy']:.4f}",
                 f"{o.metrics['diff']:+.4f} [{o.metrics['diff_low']:+.4f}, {o.metrics['diff_high']:+.4f}]",
                 f"{o.metrics['mcnemar_p']:.3g}"] for s, o in zip(cfg.seeds, outputs)]
        lines = [f"## {final} (final) against {alternative} (the study's choice)", "",
                 f"What the study said: {claim}", "",
                 "Both variants train with the same seed on the same split at the final model's budget and are "
                 "scored on the same test images.", "",
                 markdown_table(["seed", "final", "alternative", f"final - alternative [{LEVEL:.0%} paired bootstrap]",
                                 "McNemar p"], rows), ""]
        for g in groups:
            vals = [(o.metrics[f"final/{g}_accuracy"], o.metrics[f"alternative/{g}_accuracy"]) for o in outputs]
            lines.append(f"- {g}: final {np.mean([v[0] for v in vals]):.4f}, alternative "
                         f"{np.mean([v[1] for v in vals]):.4f} (mean over {len(vals)} seed(s)).")
        if groups:
            lines.append("")
        lines.append(f"Over the {len(outputs)} seed(s), per image averaged over seeds ({p['images']} test images): "
                     f"final - alternative {p['diff']:+.4f}, {LEVEL:.0%} interval [{p['low']:+.4f}, {p['high']:+.4f}]: "
                     f"**{p['verdict']}**.")
        return "\n".join(lines)

    return render
