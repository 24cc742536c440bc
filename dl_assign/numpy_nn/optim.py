"""Optimizers (SGD with momentum, Adam/AdamW) updating parameters in place, and LR schedules.

Both take the ``(name, param, grad)`` triples of :meth:`Network.parameters` and keep one
preallocated scratch array per parameter, so a step allocates nothing. The update rules are
written to match ``torch.optim.SGD`` / ``torch.optim.Adam`` / ``torch.optim.AdamW`` exactly
(the tests compare them step by step).
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("none", "cosine", "step")


class SGD:
    """``v = momentum * v + g (+ weight_decay * p)``; ``p -= lr * v`` (Nesterov: ``lr * (g + momentum * v)``)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False,
                 weight_decay: float = 0.0):
        self.params = [(p, g) for _, p, g in params]
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay
        self.velocity = [np.zeros_like(p) for p, _ in self.params]
        self._decayed = [np.empty_like(p) for p, _ in self.params] if weight_decay else [None] * len(self.params)
        self._tmp = [np.empty_like(p) for p, _ in self.params]

    def step(self, lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        for (p, g), v, decayed, tmp in zip(self.params, self.velocity, self._decayed, self._tmp, strict=True):
            t = p.dtype.type
            if self.weight_decay:  # coupled (L2-style) decay, as torch.optim.SGD
                np.multiply(p, t(self.weight_decay), out=decayed)
                decayed += g
                g = decayed
            v *= t(self.momentum)
            v += g
            if self.nesterov:  # step along g + momentum * v
                np.multiply(v, t(self.momentum), out=tmp)
                tmp += g
                tmp *= t(lr)
            else:
                np.multiply(v, t(lr), out=tmp)
            p -= tmp


class Adam:
    """Adam (Kingma & Ba) with bias correction; ``decoupled=True`` (default) applies
    ``weight_decay`` as AdamW does (``p *= 1 - lr * wd``), ``False`` adds ``wd * p`` to the gradient."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = True):
        self.params = [(p, g) for _, p, g in params]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.m = [np.zeros_like(p) for p, _ in self.params]
        self.v = [np.zeros_like(p) for p, _ in self.params]
        self._tmp = [np.empty_like(p) for p, _ in self.params]
        self.t = 0

    def step(self, lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        self.t += 1
        b1, b2 = self.betas
        bc1, bc2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        # lr * m_hat / (sqrt(v_hat) + eps) == step * m / (sqrt(v) + eps * sqrt(bc2))
        step_size, eps_hat = lr * math.sqrt(bc2) / bc1, self.eps * math.sqrt(bc2)
        for (p, g), m, v, tmp in zip(self.params, self.m, self.v, self._tmp, strict=True):
            t = p.dtype.type
            if self.weight_decay and self.decoupled:
                p *= t(1.0 - lr * self.weight_decay)
            elif self.weight_decay:
                g = g + t(self.weight_decay) * p
            np.subtract(g, m, out=tmp)  # m += (1 - b1) (g - m)
            tmp *= t(1.0 - b1)
            m += tmp
            np.multiply(g, g, out=tmp)  # v += (1 - b2) (g^2 - v)
            tmp -= v
            tmp *= t(1.0 - b2)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += t(eps_hat)
            np.divide(m, tmp, out=tmp)
            tmp *= t(step_size)
            p -= tmp


def lr_factor(schedule: str, step: int, total_steps: int, *, warmup_steps: int = 0,
              step_every: int = 1, gamma: float = 0.1) -> float:
    """Multiplier of the base learning rate at optimizer ``step`` (0-based).

    ``cosine``: half a cosine from 1 to 0 over ``total_steps`` (after a linear warm-up);
    ``step``: multiply by ``gamma`` every ``step_every`` steps; ``none``: constant.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {list(SCHEDULES)}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "none":
        return 1.0
    if schedule == "step":
        return gamma ** (step // max(1, step_every))
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
