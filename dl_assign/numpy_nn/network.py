"""A sequential network of layers, and the MLP builder used by the estimator and the checks."""

from __future__ import annotations

import numpy as np

from dl_assign.numpy_nn.layers import Dropout, Flatten, Layer, Linear, activation
from dl_assign.numpy_nn.losses import l2_penalty, softmax_cross_entropy


class Network:
    """Layers applied in order; ``backward`` walks them in reverse."""

    def __init__(self, layers: list[Layer]):
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def train(self, mode: bool = True) -> Network:
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> Network:
        return self.train(False)

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def dropouts(self) -> list[Dropout]:
        return [layer for layer in self.layers if isinstance(layer, Dropout)]

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, param, grad)`` for every parameter, e.g. ``("layer1.W", W, dW)``."""
        out = []
        for i, layer in enumerate(self.layers):
            for key, value in layer.params.items():
                out.append((f"layer{i}.{key}", value, layer.grads[key]))
        return out

    def branch(self) -> bytes:
        """Kink side of every ReLU-family input from the last forward (for gradient checks)."""
        return b"".join(layer.branch() for layer in self.layers if hasattr(layer, "branch"))

    def loss_and_grad(self, x: np.ndarray, y: np.ndarray, *, l2: float = 0.0,
                      label_smoothing: float = 0.0, check: bool = True) -> tuple[float, np.ndarray]:
        """Forward, softmax cross-entropy (+ ``l2/2 * sum ||W||^2``), backward.

        Parameter gradients end up in each layer's ``grads`` (and the input's in ``input_grad``
        when the first layer computes it); returns ``(loss, logits)``.
        """
        logits = self.forward(x)
        loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing=label_smoothing, check=check)
        self.input_grad = self.backward(dlogits)
        if l2:
            weights = [lin.params["W"] for lin in self.linears]
            loss += l2_penalty(weights, l2)
            for lin in self.linears:  # d/dW (l2/2 ||W||^2) = l2 * W
                lin.grads["W"] += lin.grads["W"].dtype.type(l2) * lin.params["W"]
        return loss, logits

    def loss(self, x: np.ndarray, y: np.ndarray, *, l2: float = 0.0, label_smoothing: float = 0.0) -> float:
        """The loss alone (no backward), as the gradient checker needs it."""
        loss, _ = softmax_cross_entropy(self.forward(x), y, label_smoothing=label_smoothing)
        if l2:
            loss += l2_penalty([lin.params["W"] for lin in self.linears], l2)
        return loss

    def __repr__(self) -> str:
        return "Network(\n" + "\n".join(f"  {layer!r}" for layer in self.layers) + "\n)"


def build_mlp(in_features: int, hidden: tuple[int, ...] | list[int], n_classes: int, *,
              activation_name: str = "relu", dropout: float = 0.0, init: str | None = None,
              dtype=np.float32, seed: int | None = 0, input_grad: bool = False) -> Network:
    """Flatten -> [Linear -> activation -> Dropout] * len(hidden) -> Linear(n_classes).

    ``init=None`` picks He for the ReLU family and GELU, Xavier for tanh. Activations and
    dropout work in place on the Linear's fresh output. ``input_grad=True`` also returns the
    gradient with respect to the input from ``backward`` (the gradient checker tests it).
    """
    act = activation(activation_name)  # validates the name before anything is built
    del act
    if init is None:
        init = "xavier" if activation_name == "tanh" else "he"
    rng = np.random.default_rng(seed)
    layers: list[Layer] = [Flatten()]
    width = in_features
    for i, h in enumerate(hidden):
        layers.append(Linear(width, h, init=init, rng=rng, dtype=dtype, input_grad=input_grad or i > 0))
        layers.append(activation(activation_name, inplace=True))
        if dropout > 0:
            layers.append(Dropout(dropout, seed=int(rng.integers(2**31)), inplace=True))
        width = h
    layers.append(Linear(width, n_classes, init=init, rng=rng, dtype=dtype,
                         input_grad=input_grad or len(hidden) > 0))
    return Network(layers)
