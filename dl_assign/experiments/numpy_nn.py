"""The NumPy MLP checked two ways: centred-difference gradient checks and a torch float64 twin.

``numpy_nn.gradcheck`` draws random architectures for every activation, with and without
dropout (fixed masks), and records the worst gradient-check error and the worst disagreement
with the same network built in torch (float64, weights copied); plus hand-computed losses.
The torch twin lives here, not in ``dl_assign.numpy_nn`` (which is NumPy only); the tests use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import torch
from torch import nn

from dl_assign.config import ExperimentConfig, Range
from dl_assign.numpy_nn import (
    GELU,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    Network,
    ReLU,
    Tanh,
    build_mlp,
    check_network,
    softmax_cross_entropy,
)
from dl_assign.registry import RunContext, SeedResult, experiment

SMOOTH = ("tanh", "gelu", "gelu_tanh")
RELU_FAMILY = ("relu", "leaky_relu")


class MaskDropout(nn.Module):
    """Dropout with a given keep-mask (the twin of a NumPy Dropout with ``fix_mask``)."""

    def __init__(self, mask: np.ndarray, p: float):
        super().__init__()
        self.register_buffer("mask", torch.from_numpy(np.asarray(mask, dtype=np.float64)))
        self.scale = 1.0 / (1.0 - p)

    def forward(self, x):
        return x * self.mask * self.scale


def torch_twin(net: Network) -> nn.Sequential:
    """The same network in torch float64 with the weights copied (W is (in, out) in NumPy)."""
    mods: list[nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            lin = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["W"].T, dtype=np.float64)))
                lin.bias.copy_(torch.from_numpy(layer.params["b"].astype(np.float64)))
            mods.append(lin)
        elif isinstance(layer, ReLU):
            mods.append(nn.ReLU())
        elif isinstance(layer, LeakyReLU):
            mods.append(nn.LeakyReLU(layer.alpha))
        elif isinstance(layer, Tanh):
            mods.append(nn.Tanh())
        elif isinstance(layer, GELU):
            mods.append(nn.GELU(approximate=layer.approximate))
        elif isinstance(layer, Dropout):
            if layer.training and layer.p > 0:
                if layer._fixed is None:
                    raise ValueError("the twin needs a fixed dropout mask (Dropout.fix_mask)")
                mods.append(MaskDropout(layer._fixed, layer.p))
        elif isinstance(layer, Flatten):
            mods.append(nn.Flatten())
        else:
            raise TypeError(f"no torch twin for {layer!r}")
    return nn.Sequential(*mods)


def twin_errors(net: Network, x: np.ndarray, y: np.ndarray, *, l2: float = 0.0,
                label_smoothing: float = 0.0) -> dict[str, float]:
    """Max |NumPy - torch| over the logits, the loss, every parameter gradient and the input gradient."""
    twin = torch_twin(net)
    loss, logits = net.loss_and_grad(x, y, l2=l2, label_smoothing=label_smoothing)
    xt = torch.from_numpy(np.array(x, dtype=np.float64)).requires_grad_(True)
    out = twin(xt)
    t_loss = nn.functional.cross_entropy(out, torch.from_numpy(np.asarray(y, dtype=np.int64)),
                                         label_smoothing=label_smoothing)
    linears = [m for m in twin if isinstance(m, nn.Linear)]
    if l2:
        t_loss = t_loss + 0.5 * l2 * sum((m.weight ** 2).sum() for m in linears)
    t_loss.backward()
    t_loss = t_loss.detach()
    grad_diff = 0.0
    for ours, theirs in zip(net.linears, linears, strict=True):
        grad_diff = max(grad_diff, float(np.abs(ours.grads["W"] - theirs.weight.grad.numpy().T).max()),
                        float(np.abs(ours.grads["b"] - theirs.bias.grad.numpy()).max()))
    if net.input_grad is not None:
        grad_diff = max(grad_diff, float(np.abs(net.input_grad.reshape(x.shape) - xt.grad.numpy()).max()))
    return {"forward": float(np.abs(logits - out.detach().numpy()).max()),
            "loss": abs(loss - t_loss.item()), "grad": grad_diff}


def random_case(rng: np.random.Generator, activation: str, dropout: float, *, depth: int | None = None,
                max_width: int = 32, max_batch: int = 16):
    """A random float64 network (1-4 Linear layers, widths 1-32), batch, labels; masks fixed."""
    depth = int(rng.integers(1, 5)) if depth is None else depth
    hidden = tuple(int(w) for w in rng.integers(1, max_width + 1, size=depth - 1))
    batch, features, classes = int(rng.integers(1, max_batch + 1)), int(rng.integers(1, 33)), int(rng.integers(2, 11))
    net = build_mlp(features, hidden, classes, activation_name=activation, dropout=dropout, dtype=np.float64,
                    seed=int(rng.integers(2**31)), input_grad=True)
    x = rng.normal(size=(batch, features))
    y = rng.integers(0, classes, batch)
    fix_dropout_masks(net, x, rng)
    return net, x, y


def fix_dropout_masks(net: Network, x: np.ndarray, rng: np.random.Generator) -> None:
    """Draw and pin one keep-mask per Dropout layer for inputs shaped like ``x``."""
    net.train()
    h = x
    for layer in net.layers:
        if isinstance(layer, Dropout) and layer.p > 0:
            layer.fix_mask(rng.random(h.shape) >= layer.p)
        h = layer.forward(h)


# hand-computed cross-entropy cases: (logits, label, loss) with the loss from the formula by hand
HAND_LOSSES = (
    ([0.0, 0.0], 0, math.log(2.0)),
    ([1.0, 2.0, 3.0], 2, math.log(1.0 + math.exp(-1.0) + math.exp(-2.0))),
    ([1.0, 2.0, 3.0], 0, math.log(1.0 + math.exp(1.0) + math.exp(2.0))),
    ([5.0, 5.0, 5.0, 5.0], 3, math.log(4.0)),
    ([1e4, 0.0], 1, 1e4),  # -log softmax = lse - z_y = 1e4 + log(1 + e^-1e4) - 0
)


def loss_checks() -> dict[str, float]:
    """Hand cases (max |ours - hand|), shift invariance, and finiteness at |logits| = 1e4."""
    hand = max(abs(softmax_cross_entropy(np.array([z]), np.array([y]))[0] - want) for z, y, want in HAND_LOSSES)
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(8, 10)), rng.integers(0, 10, 8)
    loss, grad = softmax_cross_entropy(z, y)
    shifted_loss, shifted_grad = softmax_cross_entropy(z + 123.0, y)
    shift = max(abs(loss - shifted_loss), float(np.abs(grad - shifted_grad).max()))
    big = rng.choice([-1e4, 1e4], size=(8, 10))
    big_loss, big_grad = softmax_cross_entropy(big, y)
    finite = float(math.isfinite(big_loss) and bool(np.isfinite(big_grad).all()))
    return {"hand": hand, "shift": shift, "finite": finite}


@dataclass(frozen=True)
class GradCheckConfig(ExperimentConfig):
    cases: Annotated[int, Range(ge=1)] = 6  # random architectures per (activation, dropout) pair and seed
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.3
    l2: Annotated[float, Range(ge=0)] = 0.01  # the L2 term is part of the checked loss

    BUDGETS: ClassVar[dict] = {
        "smoke": {"cases": 1, "seeds": (0,)},
        "full": {"cases": 25, "seeds": (0, 1, 2, 3, 4)},
    }


@experiment("numpy_nn.gradcheck", GradCheckConfig)
def gradcheck(cfg: GradCheckConfig, seed: int, ctx: RunContext) -> SeedResult:
    """NumPy MLP vs centred differences and a torch float64 twin: worst errors over random nets."""
    from dl_assign.numpy_nn import ACTIVATIONS

    ctx.use_dataset({"name": "generated", "source": "numpy.random", "identity": f"seed {seed}"})
    rng = np.random.default_rng(seed)
    per_act: dict[str, dict[str, float]] = {}
    fwd = grad = loss_diff = abs_err = 0.0
    checked = skipped = below = 0
    for act in ACTIVATIONS:
        rel = 0.0
        for dropout in (0.0, cfg.dropout):
            for _ in range(cfg.cases):
                net, x, y = random_case(rng, act, dropout)
                report = check_network(net, x, y, l2=cfg.l2)
                rel, abs_err = max(rel, report.worst), max(abs_err, report.worst_abs)
                checked += sum(report.checked.values())
                skipped += sum(report.skipped_kinks.values())
                below += sum(report.below_resolution.values())
                errs = twin_errors(net, x, y, l2=cfg.l2)
                fwd, grad, loss_diff = max(fwd, errs["forward"]), max(grad, errs["grad"]), max(loss_diff, errs["loss"])
        per_act[act] = rel
    losses = loss_checks()
    metrics = {
        "max_rel_error_smooth": max(per_act[a] for a in SMOOTH),
        "max_rel_error_relu_family": max(per_act[a] for a in RELU_FAMILY),
        "max_abs_error": abs_err,
        "torch_forward_max_abs_diff": fwd,
        "torch_grad_max_abs_diff": grad,
        "torch_loss_abs_diff": loss_diff,
        "loss_hand_max_abs_diff": losses["hand"],
        "loss_shift_max_abs_diff": losses["shift"],
        "loss_finite_at_1e4": losses["finite"],
        **{f"max_rel_error/{a}": v for a, v in per_act.items()},
        "entries_checked": float(checked),
        "entries_below_resolution": float(below),
        "entries_skipped_at_kinks": float(skipped),
    }
    return SeedResult(metrics)
