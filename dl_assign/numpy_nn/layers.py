"""Layers with explicit ``forward`` and ``backward``: Linear, activations, Dropout, Flatten.

Every layer caches what its backward needs during ``forward`` and returns the gradient with
respect to its input from ``backward(grad_out)``; parameter gradients land in ``layer.grads``
(same keys as ``layer.params``). Arrays keep the dtype they are given: the estimator trains in
float32, the checks run in float64.

``inplace=True`` (set by :func:`dl_assign.numpy_nn.network.build_mlp` right after a Linear,
whose output nobody else keeps) lets an activation or dropout overwrite its input in forward
and its incoming gradient in backward: no extra (B, H) buffers per step.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

INITS = ("normal", "xavier", "he")


class Layer:
    """Base class: no parameters, train mode on."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Layer):
    """``y = x @ W + b`` with ``W`` of shape (in, out) (row-major friendly: one GEMM per pass).

    ``init``: ``normal`` (std 0.01, the classic CS231n default), ``xavier`` (Glorot uniform,
    limit sqrt(6 / (in + out)), for tanh-like units) or ``he`` (normal, std sqrt(2 / in), for
    ReLU-like units). ``input_grad=False`` skips the (B, in) input gradient, which the first
    layer of a network never needs (a third of that layer's backward GEMMs).
    """

    def __init__(self, in_features: int, out_features: int, *, init: str = "he",
                 rng: np.random.Generator | None = None, dtype=np.float32, input_grad: bool = True):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {list(INITS)}")
        rng = rng if rng is not None else np.random.default_rng()
        if init == "normal":
            w = rng.normal(0.0, 0.01, (in_features, out_features))
        elif init == "xavier":
            limit = math.sqrt(6.0 / (in_features + out_features))
            w = rng.uniform(-limit, limit, (in_features, out_features))
        else:
            w = rng.normal(0.0, math.sqrt(2.0 / in_features), (in_features, out_features))
        self.in_features, self.out_features, self.init = in_features, out_features, init
        self.input_grad = input_grad
        self.params = {"W": w.astype(dtype), "b": np.zeros(out_features, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x):  # (B, in) -> (B, out)
        self._x = x
        out = x @ self.params["W"]
        out += self.params["b"]  # in place: no second (B, out) array
        return out

    def backward(self, grad):  # (B, out) -> (B, in)
        np.matmul(self._x.T, grad, out=self.grads["W"])  # (in, out), written into the preallocated grad
        np.sum(grad, axis=0, out=self.grads["b"])
        return grad @ self.params["W"].T if self.input_grad else None

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, init={self.init!r})"


class _Activation(Layer):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _buf(self, x):
        return x if self.inplace else np.empty_like(x)


class ReLU(_Activation):
    """max(x, 0); the derivative at the kink x = 0 is taken as 0."""

    def forward(self, x):
        self._mask = x > 0
        return np.maximum(x, 0, out=self._buf(x))

    def backward(self, grad):
        return np.multiply(grad, self._mask, out=self._buf(grad))

    def branch(self) -> bytes:
        """Which side of the kink every input fell on (gradient checks skip entries that cross)."""
        return np.packbits(self._mask).tobytes()


class LeakyReLU(_Activation):
    """x for x > 0, alpha * x otherwise."""

    def __init__(self, alpha: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x):
        self._neg = x <= 0
        out = self._buf(x)
        if out is not x:
            out[...] = x
        np.multiply(out, out.dtype.type(self.alpha), out=out, where=self._neg)
        return out

    def backward(self, grad):
        out = self._buf(grad)
        if out is not grad:
            out[...] = grad
        return np.multiply(out, out.dtype.type(self.alpha), out=out, where=self._neg)

    def branch(self) -> bytes:
        return np.packbits(self._neg).tobytes()

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"


class Tanh(_Activation):
    def forward(self, x):
        out = np.tanh(x, out=self._buf(x))
        if self.training:  # keep d tanh = 1 - tanh^2 now: an in-place dropout may rewrite `out`
            self._local = np.multiply(out, out)
            np.subtract(1, self._local, out=self._local)
        return out

    def backward(self, grad):
        return np.multiply(grad, self._local, out=self._buf(grad))


_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)


class GELU(_Activation):
    """x * Phi(x). ``approximate="none"``: exact, Phi via erf; ``"tanh"``: the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (as in torch's ``approximate="tanh"``)."""

    def __init__(self, approximate: str = "none", inplace: bool = False):
        super().__init__(inplace)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"unknown GELU approximation {approximate!r}; expected 'none' or 'tanh'")
        self.approximate = approximate

    def forward(self, x):
        t = x.dtype.type
        if self.approximate == "none":
            self._x = x.copy() if self.inplace else x
            self._cdf = erf(x * t(_SQRT_HALF))  # Phi(x) = (1 + erf(x / sqrt 2)) / 2
            self._cdf += t(1.0)
            self._cdf *= t(0.5)
            return np.multiply(x, self._cdf, out=self._buf(x))
        self._x = x.copy() if self.inplace else x
        inner = x * x
        inner *= t(0.044715)
        inner += t(1.0)
        inner *= x
        inner *= t(_TANH_C)
        self._tanh = np.tanh(inner, out=inner)
        half = self._tanh + t(1.0)
        half *= t(0.5)
        return np.multiply(x, half, out=self._buf(x))

    def backward(self, grad):
        t, x = grad.dtype.type, self._x
        if self.approximate == "none":  # Phi(x) + x phi(x)
            local = x * x
            local *= t(-0.5)
            np.exp(local, out=local)
            local *= x
            local *= t(_INV_SQRT_2PI)
            local += self._cdf
        else:  # 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,  du/dx = c (1 + 3 * 0.044715 x^2)
            th = self._tanh
            du = x * x
            du *= t(3 * 0.044715 * _TANH_C)
            du += t(_TANH_C)
            local = th * th
            np.subtract(1, local, out=local)
            local *= du
            local *= x
            local += th
            local += t(1.0)
            local *= t(0.5)
        return np.multiply(grad, local, out=self._buf(grad))

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the kept
    ones by 1 / (1 - p), so eval mode is the identity and the expectation is unchanged.

    The mask comes from the layer's own ``np.random.Generator`` (``seed``), so a run is
    reproducible; :meth:`fix_mask` pins one mask (gradient checks need the same mask on every
    forward pass).
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.inplace = p, inplace
        self.rng = np.random.default_rng(seed)
        self._fixed: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    def fix_mask(self, mask: np.ndarray | None) -> None:
        """Use ``mask`` (bool, True = keep) on every training forward; ``None`` draws again."""
        self._fixed = None if mask is None else np.asarray(mask, dtype=bool)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        if self._fixed is not None:
            if self._fixed.shape != x.shape:
                raise ValueError(f"fixed dropout mask has shape {self._fixed.shape}, input {x.shape}")
            self._mask = self._fixed
        else:
            self._mask = self.rng.random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64) >= self.p
        out = np.multiply(x, self._mask, out=x if self.inplace else np.empty_like(x))
        out *= out.dtype.type(1.0 / (1.0 - self.p))
        return out

    def backward(self, grad):
        if self._mask is None:
            return grad
        out = np.multiply(grad, self._mask, out=grad if self.inplace else np.empty_like(grad))
        out *= out.dtype.type(1.0 / (1.0 - self.p))
        return out

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Flatten(Layer):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...); a view, no copy."""

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return None if grad is None else grad.reshape(self._shape)


ACTIVATIONS = {
    "relu": lambda inplace=False: ReLU(inplace),
    "leaky_relu": lambda inplace=False: LeakyReLU(0.01, inplace),
    "tanh": lambda inplace=False: Tanh(inplace),
    "gelu": lambda inplace=False: GELU("none", inplace),
    "gelu_tanh": lambda inplace=False: GELU("tanh", inplace),
}


def activation(name: str, inplace: bool = False) -> Layer:
    """An activation layer by name; an unknown name lists the valid ones."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name](inplace)
