"""The from-scratch MLP in NumPy: layers, activations, loss, optimizers, gradient checks.

NumPy (and ``scipy.special.erf`` for the exact GELU) only; no torch in this package. The
tests build the same networks in torch float64 and compare forward values and every gradient.
"""

from dl_assign.numpy_nn.estimator import MLP, NotFittedError
from dl_assign.numpy_nn.gradcheck import GradCheckReport, check_network, numerical_gradient, rel_error
from dl_assign.numpy_nn.layers import (
    ACTIVATIONS,
    GELU,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Linear,
    ReLU,
    Tanh,
    activation,
)
from dl_assign.numpy_nn.losses import l2_penalty, log_softmax, softmax, softmax_cross_entropy
from dl_assign.numpy_nn.network import Network, build_mlp
from dl_assign.numpy_nn.optim import SGD, Adam, lr_factor

__all__ = [
    "ACTIVATIONS", "GELU", "MLP", "SGD", "Adam", "Dropout", "Flatten", "GradCheckReport", "Layer",
    "LeakyReLU", "Linear", "Network", "NotFittedError", "ReLU", "Tanh", "activation", "build_mlp",
    "check_network", "l2_penalty", "log_softmax", "lr_factor", "numerical_gradient", "rel_error",
    "softmax", "softmax_cross_entropy",
]
