"""CNN5 against MLPs on Fashion-MNIST: CNN features into the NumPy MLP, and a torch MLP sweep.

``fashion.cnn_mlp`` trains fashion.cnn's CNN5, removes its top (``CNN5.embed``: the flattened
last feature map) and trains the from-scratch NumPy MLP on those frozen features; the table puts
it beside the CNN's own linear head and the same NumPy MLP on raw pixels. ``fashion.torch_mlp_sweep``
crosses activation x batch size for a torch MLP, reads test accuracy after several epoch counts
from one constant-learning-rate run per cell, and trains the CNN on the same subset to compare.
Both work on stratified subsets (sizes in the configs) so that three seeds take CPU minutes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch

from dl_assign.config import Range
from dl_assign.engine import TensorLoader, TrainConfig, evaluate, fit
from dl_assign.experiments.fashion.common import CNN5Config, load_tensors, train_cnn
from dl_assign.models.cnn5 import CNN5
from dl_assign.models.mlp import MLP as TorchMLP
from dl_assign.numpy_nn import MLP as NumpyMLP
from dl_assign.registry import RunContext, SeedResult, experiment
from dl_assign.results import aggregate, markdown_table

# ------------------------------------------------------------------ fashion.cnn_mlp


@dataclass(frozen=True)
class CNNFeaturesConfig(CNN5Config):
    """fashion.cnn's CNN5 recipe on a subset, then the NumPy MLP on its frozen features."""

    epochs: int = 5
    tta_flip: bool = False  # every column is a plain single-view prediction: like for like
    train_limit: int = 12_000  # CNN and MLPs all train on this stratified subset (CPU budget)
    eval_limit: int = 3_000
    mlp_hidden: Annotated[tuple[int, ...], Range(ge=1)] = (256,)
    mlp_dropout: Annotated[float, Range(ge=0, lt=1)] = 0.2
    mlp_epochs: Annotated[int, Range(ge=1)] = 10
    mlp_lr: Annotated[float, Range(gt=0)] = 1e-3

    BUDGETS: ClassVar[dict] = {
        "smoke": {"epochs": 1, "seeds": (0,), "train_limit": 1000, "eval_limit": 300, "filters": "4,8,8,16,16",
                  "batch_size": 64, "mlp_hidden": (32,), "mlp_epochs": 2},
        "full": {"epochs": 24, "train_limit": 0, "eval_limit": 0, "seeds": (0, 1, 2, 3, 4), "mlp_epochs": 30},
    }


@torch.no_grad()
def embed_all(model: CNN5, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """``model.embed`` (the network with its head removed) of every image, float32 (N, embed_dim)."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.embed(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)]).numpy()


def standardize_features(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Per-feature (x - mean) / std with the training rows' statistics (constant features -> 0)."""
    mean, std = train.mean(0), train.std(0)  # population std: z-scoring statistics, StandardScaler's convention
    std = np.where(std > 1e-6, std, 1.0).astype(train.dtype)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def _numpy_mlp(cfg: CNNFeaturesConfig, seed: int) -> NumpyMLP:
    return NumpyMLP(hidden=cfg.mlp_hidden, dropout=cfg.mlp_dropout, lr=cfg.mlp_lr, epochs=cfg.mlp_epochs,
                    batch_size=256, n_classes=10, random_state=seed)


def _cnn_mlp_report(cfg: CNNFeaturesConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.viz import cnn as vcnn

    agg = aggregate([o.metrics for o in outputs])
    a = outputs[0].artifacts
    cells = [("CNN5 with its own head (Linear on the features)", "cnn_head"),
             (f"NumPy MLP {list(cfg.mlp_hidden)} on the frozen CNN5 features ({a['embed_dim']}-d)", "mlp_on_features"),
             (f"NumPy MLP {list(cfg.mlp_hidden)} on raw pixels (784-d)", "mlp_on_pixels")]
    rows = [[label, f"{agg[f'{k}/test_accuracy']['mean']:.4f} ± {agg[f'{k}/test_accuracy']['std']:.4f}",
             f"{agg[f'{k}/train_seconds']['mean']:.1f}"] for label, k in cells]
    means = [agg[f"{k}/test_accuracy"]["mean"] for _, k in cells]
    stds = [agg[f"{k}/test_accuracy"]["std"] for _, k in cells]
    ctx.save_figure(vcnn.cell_bars(["CNN5 head", "NumPy MLP on CNN5 features", "NumPy MLP on pixels"], means, stds,
                                   title="CNN features into the NumPy MLP"), "cells")
    gain = agg["mlp_minus_head"]
    return "\n".join([
        f"CNN5 {a['widths']} trained {cfg.epochs} epochs (fashion.cnn's recipe) on a stratified subset of "
        f"{a['n_train']} training images; its top removed (`CNN5.embed`: the flattened "
        f"{a['embed_dim']}-d last feature map), features standardised with the training rows' statistics, "
        f"then the NumPy MLP (hidden {list(cfg.mlp_hidden)}, dropout {cfg.mlp_dropout}, Adam lr {cfg.mlp_lr}, "
        f"{cfg.mlp_epochs} epochs) trained on the same {a['n_train']} images. Test on {a['n_test']} stratified "
        f"test images, single view (no TTA); mean ± std over seeds {list(cfg.seeds)}.",
        "",
        markdown_table(["model", "test accuracy", "train s"], rows),
        "",
        f"NumPy MLP on the frozen CNN5 features minus the CNN's own linear head: {gain['mean']:+.4f} ± "
        f"{gain['std']:.4f} over {len(outputs)} seeds ("
        + ("a hidden layer on top of the features helps" if gain["mean"] > 2 * gain["std"] / np.sqrt(len(outputs))
           else "no clear difference")
        + f"; note the MLP adds {cfg.mlp_epochs} epochs of training on top of the {cfg.epochs} the head had). "
        f"The same NumPy MLP on CNN5 features instead of raw pixels: {means[1] - means[2]:+.4f}.",
    ])


@experiment("fashion.cnn_mlp", CNNFeaturesConfig, datasets=("fashion-mnist",), report=_cnn_mlp_report)
def cnn_mlp(cfg: CNNFeaturesConfig, seed: int, ctx: RunContext) -> SeedResult:
    """CNN5 features (top removed) into the NumPy MLP, vs the CNN's own head and the MLP on pixels."""
    data = load_tensors(cfg, ctx)
    model, history, ev = train_cnn(cfg, data, seed, ctx, desc="fashion.cnn_mlp cnn", with_val=False)
    f_train, f_test = standardize_features(embed_all(model, data.x_train), embed_all(model, data.x_test))
    y_train, y_test = data.y_train.numpy(), data.y_test.numpy()
    t0 = time.perf_counter()
    on_features = _numpy_mlp(cfg, seed).fit(f_train, y_train)
    features_seconds = time.perf_counter() - t0
    pixels = lambda x: x.reshape(len(x), -1).numpy()  # noqa: E731  (N, 784), already standardised
    t0 = time.perf_counter()
    on_pixels = _numpy_mlp(cfg, seed).fit(pixels(data.x_train), y_train)
    pixels_seconds = time.perf_counter() - t0
    metrics = {
        "mlp_on_features/test_accuracy": on_features.score(f_test, y_test),
        "cnn_head/test_accuracy": ev["accuracy"],
        "mlp_on_pixels/test_accuracy": on_pixels.score(pixels(data.x_test), y_test),
        "cnn_head/train_seconds": history[-1]["train_seconds"],
        "mlp_on_features/train_seconds": features_seconds,
        "mlp_on_pixels/train_seconds": pixels_seconds,
    }
    metrics["mlp_minus_head"] = metrics["mlp_on_features/test_accuracy"] - metrics["cnn_head/test_accuracy"]
    return SeedResult(metrics, {"n_train": len(data.x_train), "n_test": len(data.x_test),
                                "embed_dim": int(f_train.shape[1]), "widths": list(model.widths)})


# ------------------------------------------------------------------ fashion.torch_mlp_sweep


@dataclass(frozen=True)
class TorchMLPSweepConfig(TrainConfig):
    activations: tuple[str, ...] = ("relu", "gelu", "tanh", "sigmoid")
    batch_sizes: Annotated[tuple[int, ...], Range(ge=1)] = (64, 256, 1024)
    # test accuracy read after these epochs (constant lr)
    epoch_marks: Annotated[tuple[int, ...], Range(ge=1, min_len=1)] = (1, 3, 8)
    hidden: Annotated[tuple[int, ...], Range(ge=1)] = (256,)
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.2
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = 1e-3
    # constant lr: the first e epochs of the run are exactly an e-epoch run, so one run per cell
    # gives every epoch count
    schedule: Literal["none", "cosine", "linear", "step"] = "none"
    # the CNN5 (fashion.cnn's recipe, cosine) on the same subset for as many epochs as the last mark;
    # batch 128 so that it takes as many steps as the middle MLP batch size would twice over
    cnn_epochs: Annotated[int, Range(ge=1)] = 8
    cnn_batch_size: Annotated[int, Range(ge=1)] = 128
    threads: int = 1  # see CNN5Config.threads
    split_seed: Annotated[int, Range(ge=0)] = 0
    train_limit: Annotated[int, Range(ge=0)] = 8_000  # every cell trains on this stratified subset (CPU budget)
    eval_limit: Annotated[int, Range(ge=0)] = 3_000

    BUDGETS: ClassVar[dict] = {
        "smoke": {"seeds": (0,), "activations": ("relu", "tanh"), "batch_sizes": (64, 256), "epoch_marks": (1, 2),
                  "hidden": (32,), "cnn_epochs": 1, "cnn_batch_size": 64, "train_limit": 1000, "eval_limit": 300},
        "full": {"seeds": (0, 1, 2, 3, 4), "epoch_marks": (1, 5, 10, 20, 40), "hidden": (512, 256),
                 "train_limit": 0, "eval_limit": 0, "cnn_epochs": 24},
    }


def _sweep_cell(act: str, bs: int) -> str:
    return f"{act}/bs{bs}"


def _sweep_report(cfg: TorchMLPSweepConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.viz import cnn as vcnn

    agg = aggregate([o.metrics for o in outputs])
    ms = lambda k: f"{agg[k]['mean']:.4f} ± {agg[k]['std']:.4f}"  # noqa: E731
    last = cfg.epoch_marks[-1]
    rows, best = [], None
    for act in cfg.activations:
        for bs in cfg.batch_sizes:
            c = _sweep_cell(act, bs)
            rows.append([act, bs] + [ms(f"{c}/epoch{e}/test_accuracy") for e in cfg.epoch_marks]
                        + [f"{agg[f'{c}/train_seconds']['mean']:.1f}"])
            m = agg[f"{c}/epoch{last}/test_accuracy"]["mean"]
            if best is None or m > best[0]:
                best = (m, c)
    table = markdown_table(["activation", "batch"] + [f"test acc @ {e} ep" for e in cfg.epoch_marks] + ["train s"],
                           rows)
    mid = cfg.batch_sizes[len(cfg.batch_sizes) // 2]
    acc = lambda act, bs, e, k: agg[f"{_sweep_cell(act, bs)}/epoch{e}/test_accuracy"][k]  # noqa: E731
    ctx.save_figure(vcnn.lines(list(cfg.epoch_marks), {
        f"{act}, batch {mid}": ([acc(act, mid, e, "mean") for e in cfg.epoch_marks],
                                [acc(act, mid, e, "std") for e in cfg.epoch_marks])
        for act in cfg.activations}, "epochs", title="torch MLP: test accuracy vs epochs"), "epochs")
    ctx.save_figure(vcnn.lines(list(cfg.batch_sizes), {
        act: ([agg[f"{_sweep_cell(act, bs)}/epoch{last}/test_accuracy"]["mean"] for bs in cfg.batch_sizes],
              [agg[f"{_sweep_cell(act, bs)}/epoch{last}/test_accuracy"]["std"] for bs in cfg.batch_sizes])
        for act in cfg.activations}, "batch size", title=f"torch MLP after {last} epochs", logx=True), "batch")
    by_act = {a: np.mean([agg[f"{_sweep_cell(a, b)}/epoch{last}/test_accuracy"]["mean"] for b in cfg.batch_sizes])
              for a in cfg.activations}
    by_bs = {b: np.mean([agg[f"{_sweep_cell(a, b)}/epoch{last}/test_accuracy"]["mean"] for a in cfg.activations])
             for b in cfg.batch_sizes}
    worst = {b: min(cfg.activations, key=lambda a, b=b: acc(a, b, last, "mean")) for b in cfg.batch_sizes}
    n = outputs[0].artifacts["n_train"]
    cnn = agg["cnn/test_accuracy"]
    return "\n".join([
        f"Torch MLP 784 -> {list(cfg.hidden)} -> 10 (dropout {cfg.dropout}), {cfg.optimizer} lr {cfg.lr} held "
        f"constant, on a stratified subset of {n} training images; test accuracy on "
        f"{outputs[0].artifacts['n_test']} stratified test images after {list(cfg.epoch_marks)} epochs of the "
        f"same run; mean ± std over seeds {list(cfg.seeds)}.",
        "",
        table,
        "",
        f"After {last} epochs, averaged over batch sizes: "
        + ", ".join(f"{a} {v:.4f}" for a, v in by_act.items())
        + "; averaged over activations: " + ", ".join(f"batch {b} {v:.4f}" for b, v in by_bs.items())
        + f". Best cell: **{best[1]}** at {ms(f'{best[1]}/epoch{last}/test_accuracy')}. At a fixed number of "
        "epochs a smaller batch means more optimizer steps; lowest activation per batch size: "
        + ", ".join(f"batch {b}: {worst[b]}" for b in cfg.batch_sizes) + ".",
        "",
        f"The CNN5 of fashion.cnn (no TTA) trained on the same {n} images for {cfg.cnn_epochs} epochs (batch "
        f"{cfg.cnn_batch_size}, cosine): "
        f"**{cnn['mean']:.4f} ± {cnn['std']:.4f}**, {cnn['mean'] - best[0]:+.4f} vs the best MLP cell "
        f"({agg['cnn/train_seconds']['mean']:.1f} s of training vs "
        f"{agg[f'{best[1]}/train_seconds']['mean']:.1f} s for the MLP cell).",
    ])


@experiment("fashion.torch_mlp_sweep", TorchMLPSweepConfig, datasets=("fashion-mnist",), report=_sweep_report)
def torch_mlp_sweep(cfg: TorchMLPSweepConfig, seed: int, ctx: RunContext) -> SeedResult:
    """Torch MLP sweep (activation x batch size x epochs) on Fashion-MNIST, compared with the CNN5."""
    data = load_tensors(CNN5Config(split_seed=cfg.split_seed, train_limit=cfg.train_limit,
                                   eval_limit=cfg.eval_limit), ctx)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731  (N, 1, 28, 28) -> (N, 784), standardised
    test = TensorLoader(flat(data.x_test), data.y_test, 2048)
    marks = set(cfg.epoch_marks)
    metrics: dict[str, float] = {"mlp/test_accuracy": float("nan")}  # filled below; first = headline
    for act in cfg.activations:
        for bs in cfg.batch_sizes:
            cell = _sweep_cell(act, bs)
            ccfg = dataclasses.replace(cfg, epochs=max(cfg.epoch_marks), batch_size=bs)

            def at_marks(epoch, model, row, cell=cell):
                if epoch + 1 in marks:
                    metrics[f"{cell}/epoch{epoch + 1}/test_accuracy"] = evaluate(model, test)["accuracy"]

            torch.manual_seed(seed)
            model = TorchMLP(784, cfg.hidden, 10, act=act, dropout=cfg.dropout)
            train = TensorLoader(flat(data.x_train), data.y_train, bs, shuffle=True, seed=seed)
            history = fit(model, train, None, ccfg, progress=False, callbacks=(at_marks,))
            metrics[f"{cell}/train_seconds"] = history[-1]["train_seconds"]
    cnn_cfg = CNN5Config(epochs=cfg.cnn_epochs, batch_size=cfg.cnn_batch_size, split_seed=cfg.split_seed,
                         train_limit=cfg.train_limit, eval_limit=cfg.eval_limit, tta_flip=False,
                         threads=cfg.threads)
    torch.manual_seed(seed)
    _, history, ev = train_cnn(cnn_cfg, data, seed, ctx, desc="fashion.torch_mlp_sweep cnn", with_val=False,
                               checkpoint_tag="cnn")
    # headline, named the same at every budget: the first activation at the middle batch size, last mark
    mid = cfg.batch_sizes[len(cfg.batch_sizes) // 2]
    headline = f"{_sweep_cell(cfg.activations[0], mid)}/epoch{cfg.epoch_marks[-1]}/test_accuracy"
    metrics["mlp/test_accuracy"] = metrics[headline]
    metrics.update({"cnn/test_accuracy": ev["accuracy"], "cnn/train_seconds": history[-1]["train_seconds"]})
    return SeedResult(metrics, {"n_train": len(data.x_train), "n_test": len(data.x_test)})
