"""``faces.gender_improved``: a deeper CNN with BatchNorm, stride-2 pools, a small pooled map, dropout, flip
augmentation and mirror averaging at test time, on the baseline's data and epoch budget; an ablation without
augmentation measures what augmentation alone does, the ``no_tta/*`` metrics what mirror averaging does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dl_assign.data import faces as fd
from dl_assign.experiments.faces import common as fc
from dl_assign.experiments.faces import scratch as sc
from dl_assign.models.faces import ImprovedCNN
from dl_assign.models.tta import FlipTTA
from dl_assign.registry import RunContext, experiment


@dataclass(frozen=True)
class ImprovedConfig(sc.ImprovedRecipe):
    """The improved recipe (``scratch.ImprovedRecipe``) and its augmentation ablation."""

    ablation: bool = True  # also train the same network without augmentation (every seed): augmentation's effect

    BUDGETS: ClassVar[dict] = {"smoke": dict(fc.SMOKE) | sc.IMPROVED_SMOKE,
                               "full": {"seeds": (0, 1, 2, 3, 4), "train_limit": 0, "val_limit": 0, "test_limit": 0,
                                        "convs_per_stage": 2}}


def _report(cfg, outputs, ctx: RunContext) -> str:
    m = outputs[0].metrics
    text = (f"Improved CNN: {len(cfg.widths)} stages {tuple(cfg.widths)} x {cfg.convs_per_stage} conv 3x3 + "
            f"BatchNorm + ReLU, max pool 2x2 stride 2, average pool to {cfg.grid}x{cfg.grid}, dropout {cfg.dropout}, "
            f"FC 1 + sigmoid; "
            f"{int(m['params']):,} parameters. {cfg.optimizer} lr {cfg.lr} ({cfg.schedule}, {cfg.warmup_epochs} "
            f"warm-up epochs), weight decay {cfg.weight_decay}, batch {cfg.batch_size}, augmentation: "
            f"{sc.augment_text(cfg.augment, cfg.pad, cfg.crop_scale)}. Same images and "
            f"{cfg.epochs} epochs as the baseline.")
    if cfg.flip_tta:
        text += (f" Every split (validation too, so the threshold sees what test sees) is scored as the mean P(female) "
                 f"of the face and its mirror: test AUC {fc._mean(outputs, 'test_auc')[0]:.4f} against "
                 f"{fc._mean(outputs, 'no_tta/test_auc')[0]:.4f} for the face alone, FairFace AUC "
                 f"{fc._mean(outputs, 'fairface_auc')[0]:.4f} against "
                 f"{fc._mean(outputs, 'no_tta/fairface_auc')[0]:.4f}; "
                 "the store serves the mirror-averaging model.")
    if cfg.ablation:
        d_auc, _ = fc._mean(outputs, "augment_gain/val_auc")
        d_gap, _ = fc._mean(outputs, "augment_gain/train_val_gap")
        text += (f"\n\nAblation, the same network without augmentation (same seeds): validation AUC "
                 f"{fc._mean(outputs, 'no_augment/val_auc')[0]:.4f} vs {fc._mean(outputs, 'val_auc')[0]:.4f} with it "
                 f"(augmentation alone: {d_auc:+.4f}); train-val accuracy gap "
                 f"{fc._mean(outputs, 'no_augment/train_val_gap')[0]:+.4f} vs "
                 f"{fc._mean(outputs, 'train_val_gap')[0]:+.4f} ({d_gap:+.4f}).")
    return fc.report(cfg, outputs, ctx, model_text=text)


@experiment("faces.gender_improved", ImprovedConfig, datasets=("utkface", "fairface"), report=_report)
def faces_gender_improved(cfg: ImprovedConfig, seed: int, ctx: RunContext):
    """Improved CNN (deeper, BatchNorm, pooled map, dropout, flips, flip TTA), the baseline's data and epochs."""
    data = fc.load(cfg)
    ctx.use_dataset(data.info)
    model = ImprovedCNN(tuple(cfg.widths), cfg.convs_per_stage, cfg.dropout, cfg.grid)
    history = sc.train_cnn(model, cfg, data, seed, ctx)
    extra = {"params": fc.n_params(model)}
    if cfg.ablation:  # augmentation alone: the same network, seed and images, trained without it
        plain = ImprovedCNN(tuple(cfg.widths), cfg.convs_per_stage, cfg.dropout, cfg.grid)
        plain_hist = sc.train_cnn(plain, cfg, data, seed, ctx, augment="none", tag="no_augment")
        plain_res = fc.seed_result(plain, plain_hist, data, cfg, seed)
        for k in ("val_auc", "val_accuracy", "test_auc", "test_accuracy", "fairface_accuracy", "train_accuracy",
                  "train_val_gap"):
            extra[f"no_augment/{k}"] = plain_res.metrics[k]
    result = fc.seed_result(model, history, data, cfg, seed, extra_metrics=extra)
    if cfg.ablation:
        for k in ("val_auc", "val_accuracy", "test_auc", "fairface_accuracy", "train_val_gap"):
            result.metrics[f"augment_gain/{k}"] = result.metrics[k] - result.metrics[f"no_augment/{k}"]
        result.artifacts["no_augment_history"] = plain_res.artifacts["history"]
    if cfg.save_model:
        prep = fd.preprocessing(cfg.image_size, fd.UTK_MARGIN, fc.IMAGENET_MEAN, fc.IMAGENET_STD)
        served = FlipTTA(model) if cfg.flip_tta else model  # serves what was measured
        result.artifacts["stored"] = fc.store_model(served, ctx, seed, name="improved_cnn",
                                                    builder="faces_improved_cnn",
                                                    builder_kwargs=sc.improved_kwargs(cfg), prep=prep,
                                                    metrics=result.metrics)
    return result
