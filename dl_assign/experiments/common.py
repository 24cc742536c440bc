"""Pieces every classification experiment shares: train+test one seed, and its report."""

from __future__ import annotations

from torch import nn

from dl_assign.engine import evaluate, fit
from dl_assign.registry import RunContext, SeedResult


def train_and_test(model: nn.Module, train, val, test, cfg, seed: int, ctx: RunContext, *,
                   desc: str, callbacks=()) -> SeedResult:
    """Fit with the one loop (checkpointed per seed), evaluate on test, return a SeedResult."""
    history = fit(model, train, val, cfg, checkpoint=ctx.checkpoint_path(seed), resume=ctx.resume,
                  progress=ctx.progress, desc=f"{desc} seed {seed}", callbacks=callbacks)
    ev = evaluate(model, test, amp_bf16=cfg.amp_bf16, channels_last=cfg.channels_last)
    metrics = {
        "test_accuracy": ev["accuracy"],
        "test_macro_f1": ev["macro_f1"],
        "test_loss": ev["loss"],
        "val_accuracy": history[-1].get("val_acc", float("nan")),
        "train_accuracy": history[-1]["train_acc"],
        "train_seconds": history[-1]["train_seconds"],
        "epochs_run": float(len(history)),
    }
    return SeedResult(metrics, {"history": history, "confusion": ev["confusion"]})


def classifier_report(class_names) -> callable:
    """A report function: learning curves over seeds and the first seed's confusion matrix."""

    def report(cfg, outputs: list[SeedResult], ctx: RunContext) -> str:
        from dl_assign import viz

        ctx.save_figure(viz.curves([o.artifacts["history"] for o in outputs],
                                   [f"seed {s}" for s in cfg.seeds], title=ctx.experiment), "curves")
        ctx.save_figure(viz.confusion(outputs[0].artifacts["confusion"], list(class_names),
                                      title=f"{ctx.experiment}: test confusion (seed {cfg.seeds[0]})"),
                        "confusion")
        gap = [o.metrics["train_accuracy"] - o.metrics["test_accuracy"] for o in outputs]
        return (f"Train-minus-test accuracy gap (last epoch, train measured with dropout/augmentation on): "
                f"{sum(gap) / len(gap):+.4f} mean over {len(gap)} seed(s).")

    return report
