"""``faces.gender_baseline``: exactly the seed's Fig. 1 CNN on 100x100 UTKFace faces, tested on UTKFace and FairFace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from dl_assign.data import faces as fd
from dl_assign.experiments.faces import common as fc
from dl_assign.experiments.faces import scratch as sc
from dl_assign.models.faces import baseline_cnn, baseline_param_count
from dl_assign.registry import RunContext, experiment


@dataclass(frozen=True)
class BaselineConfig(sc.ScratchConfig):
    """The seed's baseline as Keras would train it: Adam 1e-3, constant rate, no augmentation, no regularisation."""

    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = 1e-3
    schedule: Literal["none", "cosine", "linear", "step"] = "none"
    augment: Literal["shift", "flip", "rrc", "none"] = "none"

    BUDGETS: ClassVar[dict] = {"smoke": dict(fc.SMOKE), "full": {"seeds": (0, 1, 2, 3, 4), "train_limit": 0,
                                                                  "val_limit": 0, "test_limit": 0}}


def _report(cfg, outputs, ctx: RunContext) -> str:
    m = outputs[0].metrics
    text = (f"The seed's Fig. 1 network: conv 16 x 3x3 (valid) + ReLU, max pool 2x2 stride 1, the same again, "
            f"flatten ({16 * (cfg.image_size - 6) ** 2:,} features), FC 64 + ReLU, FC 1 + sigmoid; binary "
            f"cross-entropy. {int(m['params']):,} parameters (formula {int(m['params_formula']):,}), "
            f"{m['fc_share']:.2%} of them in the first fully connected layer. {cfg.optimizer} lr {cfg.lr}, batch "
            f"{cfg.batch_size}, augmentation: {cfg.augment}.")
    return fc.report(cfg, outputs, ctx, model_text=text)


@experiment("faces.gender_baseline", BaselineConfig, datasets=("utkface", "fairface"), report=_report)
def faces_gender_baseline(cfg: BaselineConfig, seed: int, ctx: RunContext):
    """The seed's baseline CNN (2 x [conv 16 3x3, max pool 2x2 stride 1], FC 64, sigmoid): ROC/AUC, measures."""
    data = fc.load(cfg)
    ctx.use_dataset(data.info)
    model = baseline_cnn(cfg.image_size)
    history = sc.train_cnn(model, cfg, data, seed, ctx)
    fc_layer = model[7]
    params = fc.n_params(model)
    formula = float(baseline_param_count(cfg.image_size))
    result = fc.seed_result(model, history, data, cfg, seed, extra_metrics={
        "params": params, "params_formula": formula, "param_formula_ok": float(params == formula),
        "fc_share": fc.n_params(fc_layer) / params})
    if cfg.save_model:
        prep = fd.preprocessing(cfg.image_size, fd.UTK_MARGIN, fc.IMAGENET_MEAN, fc.IMAGENET_STD)
        result.artifacts["stored"] = fc.store_model(model, ctx, seed, name="baseline_cnn", builder="faces_baseline_cnn",
                                                    builder_kwargs={"image_size": cfg.image_size}, prep=prep,
                                                    metrics=result.metrics)
    return result
