"""LSTM and GRU learn a sine wave: one-step and rollout MSE against an MLP, parameters by formula.

``sine.lstm``, ``sine.gru`` and ``sine.mlp`` train one forecaster each; ``sine.compare`` trains
all three on the same data with the same budget and measures the hyperparameter sweep that the
defaults below are chosen from. Every model trains through ``engine.fit`` with an MSE loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from dl_assign.config import Range
from dl_assign.data import sine as sine_data
from dl_assign.engine import TensorLoader, TrainConfig, evaluate, fit, predict, seed_everything
from dl_assign.models.forecasters import MLPForecaster, RNNForecaster
from dl_assign.models.params import param_table, render_param_table, total
from dl_assign.models.summary import render_summary
from dl_assign.registry import RunContext, SeedResult, experiment
from dl_assign.results import markdown_table

MODELS = ("lstm", "gru", "mlp")
LABELS = {"lstm": "LSTM", "gru": "GRU", "mlp": "MLP"}
PLOT_POINTS = 300  # one-step test predictions kept per seed for the figure


@dataclass(frozen=True)
class SineConfig(TrainConfig):
    # the wave (see dl_assign.data.sine): 20 Hz / 0.707 Hz = 28.29 samples per period; the
    # sampled phases repeat only after 20,000 samples, so no test window copies a training window
    frequency: Annotated[float, Range(gt=0)] = 0.707
    phase: Annotated[float, Range()] = 0.0  # radians; any finite value
    amplitude: Annotated[float, Range(gt=0)] = 1.0
    noise: Annotated[float, Range(ge=0)] = 0.0  # the benchmark's noiseless wave; > 0 adds Gaussian observation noise
    sample_rate: Annotated[float, Range(gt=0)] = 20.0
    window: Annotated[int, Range(ge=1)] = 32  # ~1.1 periods; chosen by the window sweep in sine.compare
    horizon: Annotated[int, Range(ge=1)] = 1
    # 56 periods, then validation (14) and test (42) continue the wave
    train_samples: Annotated[int, Range(ge=1)] = 1600
    val_samples: Annotated[int, Range(ge=1)] = 400
    test_samples: Annotated[int, Range(ge=1)] = 1200
    data_seed: Annotated[int, Range(ge=0)] = 0  # drives the noise; fixed so the std over seeds measures training noise
    # 35 periods fed back autoregressively from the test range's start
    rollout_steps: Annotated[int, Range(ge=1)] = 1000
    # the recurrent forecasters
    hidden: Annotated[int, Range(ge=1)] = 32  # chosen by the hidden-size sweep in sine.compare
    layers: Annotated[int, Range(ge=1)] = 1
    bidirectional: bool = False
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.0  # between stacked layers only (torch ignores it for layers=1)
    # the MLP forecaster on the same windows
    mlp_hidden: Annotated[tuple[int, ...], Range(ge=1)] = (64, 64)
    mlp_activation: Literal["relu", "leaky_relu", "tanh", "gelu", "sigmoid"] = "tanh"
    # training
    epochs: int = 60  # from the sine.compare sweep (as are lr and batch_size)
    batch_size: int = 32  # 4x the steps of 128: lower one-step MSE and far less rollout drift (measured)
    lr: float = 1e-2  # AdamW on the MSE of a unit-amplitude wave; cosine decay to zero
    restore_best: bool = True  # keep the epoch with the lowest validation MSE
    # intra-op CPU threads while training (0 = torch's default). The matrices are tiny: a second
    # thread only adds synchronisation, and with the other core busy it made training 30-100x
    # slower (measured); one thread keeps the time stable on a shared 2-core machine
    threads: int = 1

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 4, "batch_size": 16, "seeds": (0,), "train_samples": 400, "val_samples": 100,
                  "test_samples": 300, "rollout_steps": 200, "hidden": 16, "mlp_hidden": (32,), "window": 16},
        "full": {"epochs": 120, "seeds": (0, 1, 2, 3, 4)},  # 120 epochs: lower MSE in the sweep
    }


@dataclass(frozen=True)
class SineCompareConfig(SineConfig):
    # the sweep: `sweep_cell` retrained with ONE field changed per cell, every other field default
    sweep_cell: Literal["lstm", "gru"] = "lstm"
    sweep_hidden: Annotated[tuple[int, ...], Range(ge=1)] = (8, 16, 64)
    sweep_window: Annotated[tuple[int, ...], Range(ge=1)] = (8, 16, 64)
    sweep_layers: Annotated[tuple[int, ...], Range(ge=1)] = (2,)
    sweep_lr: Annotated[tuple[float, ...], Range(gt=0)] = (3e-3, 3e-2)
    sweep_epochs: Annotated[tuple[int, ...], Range(ge=1)] = (20, 120)
    sweep_batch_size: Annotated[tuple[int, ...], Range(ge=1)] = (128, 512)
    sweep_bidirectional: bool = True

    BUDGETS: ClassVar[dict] = {
        "smoke": SineConfig.BUDGETS["smoke"] | {"sweep_hidden": (8,), "sweep_window": (8,), "sweep_layers": (),
                                                "sweep_lr": (), "sweep_epochs": (), "sweep_batch_size": (),
                                                "sweep_bidirectional": False},
        "full": SineConfig.BUDGETS["full"],
    }


SWEPT = ("hidden", "window", "layers", "lr", "epochs", "batch_size")  # each has a `sweep_<name>` field


def spec_of(cfg: SineConfig) -> sine_data.SineSpec:
    return sine_data.SineSpec(cfg.frequency, cfg.phase, cfg.amplitude, cfg.noise, cfg.sample_rate, cfg.window,
                              cfg.horizon, cfg.train_samples, cfg.val_samples, cfg.test_samples)


def build_model(kind: str, cfg: SineConfig) -> nn.Module:
    if kind == "mlp":
        return MLPForecaster(cfg.window, cfg.mlp_hidden, cfg.horizon, act=cfg.mlp_activation)
    return RNNForecaster(kind, 1, cfg.hidden, cfg.layers, cfg.horizon, cfg.bidirectional, cfg.dropout)


@torch.no_grad()
def rollout(model: nn.Module, start: np.ndarray, steps: int) -> np.ndarray:
    """Feed the model its own predictions: from the window ``start`` predict ``steps`` values,
    each prediction (all ``horizon`` of them) appended to the input window of the next step."""
    model.eval()
    device = next(model.parameters()).device
    window = torch.as_tensor(np.asarray(start, dtype=np.float32), device=device).reshape(1, -1, 1)  # (1, T, 1)
    out: list[torch.Tensor] = []
    n = 0
    while n < steps:
        pred = model(window).reshape(1, -1, 1)  # (1, horizon, 1)
        out.append(pred.flatten())
        n += pred.shape[1]
        window = torch.cat([window, pred], dim=1)[:, -window.shape[1]:]
    return torch.cat(out)[:steps].cpu().numpy().astype(np.float64)


def _tensors(x, y):
    return torch.from_numpy(x), torch.from_numpy(y)


def train_forecaster(kind: str, cfg: SineConfig, seed: int, ctx: RunContext, tag: str = "",
                     record_dataset: bool = True) -> SeedResult:
    """Train one forecaster on the sine windows with MSE through ``engine.fit``; test it."""
    return _train_forecaster(kind, cfg, seed, ctx, tag, record_dataset)


def _train_forecaster(kind: str, cfg: SineConfig, seed: int, ctx: RunContext, tag: str,
                      record_dataset: bool) -> SeedResult:
    d = sine_data.load_splits(spec_of(cfg), cfg.data_seed)
    if record_dataset:  # the sweep's variants of the data are not the experiment's dataset
        ctx.use_dataset(d.info)
    seed_everything(seed)  # every model of a seed starts from the same RNG state, whatever ran before
    model = build_model(kind, cfg)
    train = TensorLoader(*_tensors(d.x_train, d.y_train), cfg.batch_size, shuffle=True, seed=seed)
    val = TensorLoader(*_tensors(d.x_val, d.y_val), 4096)
    test = TensorLoader(*_tensors(d.x_test, d.y_test), 4096)
    mse = nn.MSELoss()
    t0 = time.perf_counter()
    history = fit(model, train, val, cfg, loss_fn=mse, checkpoint=ctx.checkpoint_path(seed, tag or kind),
                  resume=ctx.resume, progress=ctx.progress, desc=f"{ctx.experiment} {tag or kind} seed {seed}")
    fit_seconds = time.perf_counter() - t0
    out, y = predict(model, test)  # (N, horizon) each
    steps = min(cfg.rollout_steps, cfg.test_samples - cfg.window)
    truth = d.series["test"][cfg.window:cfg.window + steps]
    rolled = rollout(model, d.series["test"][:cfg.window], steps)
    sq = (rolled - truth) ** 2
    metrics = {
        "test_mse": float(((out[:, 0] - y[:, 0]) ** 2).mean()),  # one step ahead
        "rollout_mse": float(sq.mean()),
        "rollout_last_quarter_mse": float(sq[-max(1, steps // 4):].mean()),
        "val_mse": float(evaluate(model, val, loss_fn=mse)["loss"]),
        "train_mse": float(evaluate(model, TensorLoader(*_tensors(d.x_train, d.y_train), 4096), loss_fn=mse)["loss"]),
        "params": float(sum(p.numel() for p in model.parameters())),
        "train_seconds": history[-1]["train_seconds"],  # optimisation steps only
        "fit_seconds": fit_seconds,  # fit() as a whole, validation after each epoch included
        "epochs_run": float(len(history)),
    }
    if cfg.horizon > 1:
        metrics["test_mse_all_horizon"] = float(((out - y) ** 2).mean())
    artifacts = {"history": history, "one_step": np.round(out[:PLOT_POINTS, 0].numpy(), 7),
                 "rollout": np.round(rolled, 7)}
    return SeedResult(metrics, artifacts)


# ---------------------------------------------------------------------------------------------
# reports


def _truth(cfg: SineConfig) -> tuple[np.ndarray, np.ndarray]:
    """The test range's targets for the one-step plot and the rollout (regenerated, deterministic)."""
    d = sine_data.load_splits(spec_of(cfg), cfg.data_seed)
    steps = min(cfg.rollout_steps, cfg.test_samples - cfg.window)
    return d.y_test[:PLOT_POINTS, 0].astype(np.float64), d.series["test"][cfg.window:cfg.window + steps]


def _mean_std(outputs: list[SeedResult], key: str) -> tuple[float, float]:
    values = np.array([o.metrics[key] for o in outputs], dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _fmt(outputs, key: str, digits: int = 2, fixed: bool = False) -> str:
    mean, std = _mean_std(outputs, key)
    if fixed:
        return f"{mean:.1f} ± {std:.1f}"
    return f"{mean:.{digits}e} ± {std:.{digits}e}"


OFF_WAVE = 0.1  # rollout MSE above this (the wave's variance is amplitude²/2) = the rollout left the wave


def _off_wave(outputs: list[SeedResult]) -> str:
    """Which models had a seed whose rollout left the wave, with that seed's one-step MSE."""
    notes = []
    for kind in MODELS:
        bad = [o.metrics for o in outputs if o.metrics[f"{kind}/rollout_mse"] > OFF_WAVE]
        if bad:
            notes.append(f"{LABELS[kind]}: {len(bad)} of {len(outputs)} seed(s) (one-step MSE "
                         + ", ".join(f"{m[f'{kind}/test_mse']:.2e}" for m in bad) + ", rollout MSE "
                         + ", ".join(f"{m[f'{kind}/rollout_mse']:.3g}" for m in bad) + ")")
    if not notes:
        return f"No seed's rollout left the wave (rollout MSE > {OFF_WAVE})."
    return (f"Rollouts that left the wave (rollout MSE > {OFF_WAVE}): " + "; ".join(notes)
            + ": a low one-step error does not guarantee stable fed-back dynamics.")


def architecture_md(kind: str, cfg: SineConfig) -> str:
    """The generated architecture summary and the per-layer parameter table of one model."""
    model = build_model(kind, cfg)
    rows = param_table(model)
    example = torch.zeros(4, cfg.window, 1)  # (B, T, 1)
    return "\n\n".join([
        render_summary(model, example, title=f"**{LABELS[kind]}: architecture (from a forward pass)**"),
        render_param_table(rows, title=f"**{LABELS[kind]}: parameters per layer, formula vs torch**"),
    ])


FORMULA_LEGEND = (
    "Formulas: `I` = the layer's input size, `H` = hidden size. Each recurrent direction holds "
    "`W_ih (gH x I)`, `W_hh (gH x H)` and PyTorch's two bias vectors `b_ih`, `b_hh` (`gH` each) "
    "with `g` = 4 gates for the LSTM (input, forget, cell, output) and 3 for the GRU (reset, "
    "update, new): LSTM `4H(I+H) + 8H`, GRU `3H(I+H) + 6H`. A bidirectional layer has two such "
    "sets (`2 × [...]`); a layer above the first reads `I = H × directions`. A linear layer has "
    "`out·in + out`. The torch column is `sum(p.numel())` over the layer's own parameters."
)


def _single_report(kind: str):
    def report(cfg: SineConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
        from dl_assign.viz import sine as viz

        one_step_truth, roll_truth = _truth(cfg)
        seeds = list(cfg.seeds)
        first = {f"{LABELS[kind]} seed {seeds[0]}": outputs[0].artifacts["one_step"]}
        ctx.save_figure(viz.forecast(one_step_truth, first,
                                     title=f"{ctx.experiment}: one-step test predictions vs truth"), "forecast")
        ctx.save_figure(viz.rollout(roll_truth, {f"seed {s}": o.artifacts["rollout"] for s, o in zip(seeds, outputs)},
                                    title=f"{ctx.experiment}: autoregressive rollout vs truth"), "rollout")
        ctx.save_figure(viz.mse_curves({f"seed {s}": o.artifacts["history"] for s, o in zip(seeds, outputs)},
                                       title=f"{ctx.experiment}: MSE per epoch"), "curves")
        steps = len(roll_truth)
        lines = [
            f"One-step test MSE {_fmt(outputs, 'test_mse')}; autoregressive rollout over {steps} steps "
            f"({steps / (cfg.sample_rate / cfg.frequency):.0f} periods) MSE {_fmt(outputs, 'rollout_mse')} "
            f"(last quarter {_fmt(outputs, 'rollout_last_quarter_mse')}); training "
            f"{_fmt(outputs, 'train_seconds', fixed=True)} s per seed; "
            f"{int(outputs[0].metrics['params']):,} parameters.",
            "",
            architecture_md(kind, cfg),
            "",
            FORMULA_LEGEND,
            "",
            "The hyperparameters (window, hidden size, layers, direction, learning rate, epochs) are "
            "explained with measurements in `sine.compare.md`.",
        ]
        return "\n".join(lines)

    return report


@experiment("sine.lstm", SineConfig, report=_single_report("lstm"))
def sine_lstm(cfg: SineConfig, seed: int, ctx: RunContext) -> SeedResult:
    """LSTM forecaster on the sine wave: one-step test MSE, rollout MSE, parameters, train time."""
    return train_forecaster("lstm", cfg, seed, ctx)


@experiment("sine.gru", SineConfig, report=_single_report("gru"))
def sine_gru(cfg: SineConfig, seed: int, ctx: RunContext) -> SeedResult:
    """GRU forecaster on the sine wave: one-step test MSE, rollout MSE, parameters, train time."""
    return train_forecaster("gru", cfg, seed, ctx)


@experiment("sine.mlp", SineConfig, report=_single_report("mlp"))
def sine_mlp(cfg: SineConfig, seed: int, ctx: RunContext) -> SeedResult:
    """MLP forecaster on the same sine windows: one-step test MSE, rollout MSE, parameters, train time."""
    return train_forecaster("mlp", cfg, seed, ctx)


def sweep_cells(cfg: SineCompareConfig) -> dict[str, dict]:
    """``{label: overrides}``: each cell changes one hyperparameter of the default recurrent model."""
    cells: dict[str, dict] = {}
    for name in SWEPT:
        cells |= {f"{name}={v:g}": {name: v} for v in getattr(cfg, f"sweep_{name}") if v != getattr(cfg, name)}
    if cfg.sweep_bidirectional:
        cells[f"bidirectional={not cfg.bidirectional}"] = {"bidirectional": not cfg.bidirectional}
    return cells


SWEEP_KEYS = ("test_mse", "rollout_mse", "val_mse", "train_mse", "params", "train_seconds")


def compare_report(cfg: SineCompareConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.viz import sine as viz

    one_step_truth, roll_truth = _truth(cfg)
    steps, periods = len(roll_truth), len(roll_truth) / (cfg.sample_rate / cfg.frequency)
    s0 = cfg.seeds[0]
    ctx.save_figure(viz.forecast(one_step_truth, {f"{LABELS[k]}": outputs[0].artifacts[k]["one_step"] for k in MODELS},
                                 title=f"one-step test predictions vs truth (seed {s0})"), "forecast")
    ctx.save_figure(viz.rollout(roll_truth, {f"{LABELS[k]}": outputs[0].artifacts[k]["rollout"] for k in MODELS},
                                title=f"autoregressive rollout over {steps} steps (seed {s0})"), "rollout")
    ctx.save_figure(viz.mse_curves({LABELS[k]: outputs[0].artifacts[k]["history"] for k in MODELS},
                                   title=f"MSE per epoch (seed {s0})"), "curves")

    # the comparison table
    rows = []
    for kind in MODELS:
        rows.append([LABELS[kind], f"{int(outputs[0].metrics[f'{kind}/params']):,}",
                     _fmt(outputs, f"{kind}/test_mse"), _fmt(outputs, f"{kind}/rollout_mse"),
                     _fmt(outputs, f"{kind}/rollout_last_quarter_mse"), _fmt(outputs, f"{kind}/val_mse"),
                     _fmt(outputs, f"{kind}/train_seconds", fixed=True)])
    ranked = sorted(MODELS, key=lambda k: _mean_std(outputs, f"{k}/test_mse")[0])
    ranked_roll = sorted(MODELS, key=lambda k: _mean_std(outputs, f"{k}/rollout_mse")[0])
    growth = [_mean_std(outputs, f"{k}/rollout_mse")[0] / _mean_std(outputs, f"{k}/test_mse")[0] for k in MODELS]
    n = len(outputs)
    parts = [
        f"## LSTM vs GRU vs MLP (mean ± std over {n} seed(s), same data, same budget)",
        "",
        f"Data: a noise-{'free' if cfg.noise == 0 else f'{cfg.noise} std'} sine of {cfg.frequency} Hz sampled at "
        f"{cfg.sample_rate} Hz ({cfg.sample_rate / cfg.frequency:.2f} samples per period), windows of "
        f"{cfg.window} samples predicting the next {cfg.horizon}; train/val/test are the consecutive time "
        f"ranges of {cfg.train_samples}/{cfg.val_samples}/{cfg.test_samples} samples. Budget: {cfg.epochs} "
        f"epochs, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} ({cfg.schedule}), best validation epoch kept. "
        f"Rollout: from the first test window, {steps} steps ({periods:.0f} periods), each prediction fed back.",
        "",
        markdown_table(["model", "parameters", "one-step test MSE", f"rollout MSE ({steps} steps)",
                        "rollout MSE, last quarter", "val MSE", "train s"], rows),
        "",
        f"Lowest one-step test MSE: **{LABELS[ranked[0]]}** "
        f"({_mean_std(outputs, f'{ranked[0]}/test_mse')[0]:.2e}), then {LABELS[ranked[1]]} "
        f"({_mean_std(outputs, f'{ranked[1]}/test_mse')[0]:.2e}) and {LABELS[ranked[2]]} "
        f"({_mean_std(outputs, f'{ranked[2]}/test_mse')[0]:.2e}). Lowest rollout MSE: "
        f"**{LABELS[ranked_roll[0]]}** ({_mean_std(outputs, f'{ranked_roll[0]}/rollout_mse')[0]:.2e}). "
        "Rollout MSE over one-step MSE (how much feeding predictions back costs): "
        + ", ".join(f"{LABELS[k]} {g:.3g}x" for k, g in zip(MODELS, growth)) + " (see the drift figure). "
        + _off_wave(outputs),
        "",
        "## Architectures and parameters per layer (formula vs torch)",
        "",
        FORMULA_LEGEND,
        "",
    ]
    for kind in MODELS:
        parts += [architecture_md(kind, cfg), ""]
    ok = all(o.metrics["param_formula_ok"] == 1.0 for o in outputs)
    f_totals = {k: total(param_table(build_model(k, cfg))) for k in MODELS}
    parts += [f"Every layer's formula count equals torch's: **{'yes' if ok else 'NO'}** (totals "
              + ", ".join(f"{LABELS[k]} {f:,}" for k, (f, _) in f_totals.items()) + ").", ""]
    parts += sweep_md(cfg, outputs, ctx)
    return "\n".join(parts)


def sweep_md(cfg: SineCompareConfig, outputs: list[SeedResult], ctx: RunContext) -> list[str]:
    """The sweep table, its figure, and one line per hyperparameter with the numbers behind it."""
    from dl_assign.viz import sine as viz

    cell = cfg.sweep_cell
    key = lambda label, m: f"{cell}/{m}" if label == "default" else f"sweep/{cell}/{label}/{m}"  # noqa: E731
    mean = lambda label, m: _mean_std(outputs, key(label, m))[0]  # noqa: E731
    default = (f"default ({', '.join(f'{n}={getattr(cfg, n):g}' for n in SWEPT)}, "
               f"bidirectional={cfg.bidirectional})")
    rows = [[default if label == "default" else label, f"{int(outputs[0].metrics[key(label, 'params')]):,}",
             _fmt(outputs, key(label, "test_mse")), _fmt(outputs, key(label, "rollout_mse")),
             _fmt(outputs, key(label, "train_mse")), _fmt(outputs, key(label, "train_seconds"), fixed=True)]
            for label in ["default", *sweep_cells(cfg)]]
    text = [f"## Hyperparameters, and the measurement behind each ({LABELS[cell]}, one change at a time)", "",
            f"Each row retrains the default {LABELS[cell]} with one field changed (mean ± std over {len(outputs)} "
            "seed(s)); train s is the optimisation time of one training.", "",
            markdown_table(["cell", "parameters", "one-step test MSE", "rollout MSE", "train MSE", "train s"], rows),
            "",
            "Selection rule: the lowest mean rollout MSE (the long-horizon task; one-step MSEs are all tiny), "
            "then the shorter training; epochs are the exception, kept at the default so that the slowest "
            "model (the GRU) stays well inside the 30 s training budget (the full budget doubles them).",
            ""]
    panels = {}
    for name in SWEPT:
        chosen = getattr(cfg, name)
        xs = sorted(set(getattr(cfg, f"sweep_{name}")) | {chosen})
        if len(xs) < 2:
            continue
        labels = ["default" if x == chosen else f"{name}={x:g}" for x in xs]
        stats = [_mean_std(outputs, key(lab, "test_mse")) for lab in labels]
        panels[name] = {"x": [f"{x:g}" for x in xs], "mean": [s[0] for s in stats], "std": [s[1] for s in stats],
                        "default": f"{chosen:g}"}
        best = min(zip(labels, xs), key=lambda c: mean(c[0], "test_mse"))
        best_roll = min(zip(labels, xs), key=lambda c: mean(c[0], "rollout_mse"))
        measured = "; ".join(f"{x:g}: {mean(lab, 'test_mse'):.2e} / {mean(lab, 'rollout_mse'):.2e} / "
                             f"{mean(lab, 'train_seconds'):.1f} s" for lab, x in zip(labels, xs))
        ratio = mean("default", "test_mse") / mean(best[0], "test_mse")
        text.append(f"- **{name} = {chosen:g}** (lowest mean one-step MSE at {best[1]:g}, the default's being "
                    f"{ratio:.1f}x that; lowest mean rollout MSE at {best_roll[1]:g}). "
                    f"One-step MSE / rollout MSE / train s: {measured}.")
    if cfg.sweep_bidirectional:
        other = f"bidirectional={not cfg.bidirectional}"
        text.append(f"- **bidirectional = {cfg.bidirectional}**: one-step MSE {mean('default', 'test_mse'):.2e} "
                    f"vs {mean(other, 'test_mse'):.2e} with {other}, rollout MSE {mean('default', 'rollout_mse'):.2e}"
                    f" vs {mean(other, 'rollout_mse'):.2e}, {mean('default', 'train_seconds'):.1f} s vs "
                    f"{mean(other, 'train_seconds'):.1f} s of training.")
    tr, va = mean("default", "train_mse"), _mean_std(outputs, f"{cell}/val_mse")[0]
    verdict = "no train/validation gap for dropout to close" if va < 1.5 * tr else "a train/validation gap"
    text.append(f"- **dropout = {cfg.dropout:g}**: the default model's train MSE {tr:.2e} vs validation MSE "
                f"{va:.2e}: {verdict} (torch applies RNN dropout only between stacked layers).")
    if panels:
        ctx.save_figure(viz.sweep(panels, title=f"{LABELS[cell]}: one-step test MSE, one change at a time"), "sweep")
    return text + [""]


@experiment("sine.compare", SineCompareConfig, report=compare_report)
def sine_compare(cfg: SineCompareConfig, seed: int, ctx: RunContext) -> SeedResult:
    """LSTM vs GRU vs MLP on the same sine data and budget, a hyperparameter sweep, parameters by formula."""
    metrics: dict[str, float] = {}
    artifacts: dict[str, dict] = {}
    for kind in MODELS:
        out = train_forecaster(kind, cfg, seed, ctx, tag=kind)
        metrics |= {f"{kind}/{k}": v for k, v in out.metrics.items()}
        artifacts[kind] = out.artifacts
    for label, change in sweep_cells(cfg).items():
        out = train_forecaster(cfg.sweep_cell, replace(cfg, **change), seed, ctx, tag=f"sweep-{label}",
                               record_dataset=False)
        metrics |= {f"sweep/{cfg.sweep_cell}/{label}/{k}": out.metrics[k] for k in SWEEP_KEYS}
    ok = all(r.matches for kind in MODELS for r in param_table(build_model(kind, cfg)))
    metrics["param_formula_ok"] = float(ok)  # 1.0 when every layer's formula equals torch's numel
    return SeedResult({"lstm/test_mse": metrics.pop("lstm/test_mse")} | metrics, artifacts)
