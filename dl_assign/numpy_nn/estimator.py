"""``MLP``: a scikit-learn-style classifier on top of the NumPy network.

``__init__`` stores arguments only; ``fit`` validates them and the data, trains, and returns
``self``; everything learned ends in ``_`` (``net_``, ``n_features_in_``, ``classes_``,
``history_``, ``train_seconds_``). Training runs in ``dtype`` (float32 by default: half the
memory traffic of float64 and BLAS's fast single-precision GEMM).
"""

from __future__ import annotations

import math
import time

import numpy as np

from dl_assign.numpy_nn.layers import ACTIVATIONS, INITS
from dl_assign.numpy_nn.losses import check_labels, softmax
from dl_assign.numpy_nn.network import Network, build_mlp
from dl_assign.numpy_nn.optim import SCHEDULES, SGD, Adam, lr_factor

OPTIMIZERS = ("adam", "sgd")


class NotFittedError(RuntimeError):
    """``predict``/``predict_proba``/``score`` called before ``fit``."""


class MLP:
    """Multilayer perceptron classifier trained with mini-batch Adam or SGD-momentum.

    Parameters mirror the experiment config: ``hidden`` widths, ``activation`` (one of
    ``relu, leaky_relu, tanh, gelu, gelu_tanh``), ``dropout`` after every hidden activation,
    ``init`` (``None``: He, Xavier for tanh), ``optimizer`` (``adam`` or ``sgd``), ``lr``,
    ``momentum`` (SGD), ``weight_decay`` (decoupled, AdamW-style, for Adam; coupled for SGD),
    ``l2`` (added to the loss), ``label_smoothing``, ``batch_size``, ``epochs``, ``schedule``
    (``cosine``, ``step``, ``none``; per step), ``warmup_epochs``, ``step_epochs``/``step_gamma``
    (step schedule), ``n_classes`` (``None``: ``max(y) + 1``), ``dtype``, ``random_state``.
    """

    def __init__(self, hidden=(512, 256), activation: str = "relu", dropout: float = 0.0,
                 init: str | None = None, optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9,
                 weight_decay: float = 0.0, l2: float = 0.0, label_smoothing: float = 0.0,
                 batch_size: int = 256, epochs: int = 20, schedule: str = "cosine",
                 warmup_epochs: float = 0.0, step_epochs: int = 10, step_gamma: float = 0.1,
                 n_classes: int | None = None, dtype: str = "float32", random_state: int = 0,
                 verbose: bool = False):
        self.hidden, self.activation, self.dropout, self.init = hidden, activation, dropout, init
        self.optimizer, self.lr, self.momentum = optimizer, lr, momentum
        self.weight_decay, self.l2, self.label_smoothing = weight_decay, l2, label_smoothing
        self.batch_size, self.epochs, self.schedule = batch_size, epochs, schedule
        self.warmup_epochs, self.step_epochs, self.step_gamma = warmup_epochs, step_epochs, step_gamma
        self.n_classes, self.dtype, self.random_state, self.verbose = n_classes, dtype, random_state, verbose

    # ---------------------------------------------------------------- validation
    def _check_params(self) -> None:
        def choose(name, value, options):
            if value not in options:
                raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(options)}")

        choose("activation", self.activation, ACTIVATIONS)
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("schedule", self.schedule, SCHEDULES)
        choose("dtype", self.dtype, ("float32", "float64"))
        if self.init is not None:
            choose("init", self.init, INITS)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be positive integers, got {tuple(self.hidden)}")
        for name in ("batch_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def _check_X(self, X, *, fitting: bool) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features) or images (n_samples, H, W), "
                             f"got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        if not fitting:
            n_features = int(np.prod(X.shape[1:]))
            if n_features != self.n_features_in_:
                raise ValueError(f"X has {n_features} features (shape {X.shape}), but this MLP was "
                                 f"fitted with {self.n_features_in_} features")
        X = X.astype(self.dtype, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(f"X contains NaN or inf ({int((~np.isfinite(X)).sum())} entries); "
                             "expected finite values")
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    # ---------------------------------------------------------------- training
    def fit(self, X, y, X_val=None, y_val=None) -> MLP:
        """Train on ``(X, y)``; with ``X_val, y_val`` also record validation loss/accuracy per epoch."""
        self._check_params()
        X = self._check_X(X, fitting=True)
        if len(X) == 0:
            raise ValueError("X has no rows")
        y_arr = np.asarray(y)
        n_classes = self.n_classes
        if n_classes is None:
            if not (np.issubdtype(y_arr.dtype, np.integer) or y_arr.dtype == bool):
                raise ValueError(f"y must hold integer class labels, got dtype {y_arr.dtype}")
            n_classes = int(y_arr.max()) + 1
        y = check_labels(y_arr, n_classes)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.classes_ = np.arange(n_classes)
        if X_val is not None:
            X_val = self._check_X(X_val, fitting=False)
            y_val = check_labels(y_val, n_classes, "y_val")

        rng = np.random.default_rng(self.random_state)
        dtype = np.dtype(self.dtype).type
        net = build_mlp(self.n_features_in_, tuple(int(h) for h in self.hidden), n_classes,
                        activation_name=self.activation, dropout=self.dropout, init=self.init,
                        dtype=dtype, seed=int(rng.integers(2**31)))
        params = net.parameters()
        if self.optimizer == "adam":
            opt = Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        else:
            opt = SGD(params, lr=self.lr, momentum=self.momentum, nesterov=True, weight_decay=self.weight_decay)
        self.net_ = net
        n, bs = len(X), int(self.batch_size)
        steps_per_epoch = math.ceil(n / bs)
        total = steps_per_epoch * int(self.epochs)
        warmup = int(self.warmup_epochs * steps_per_epoch)
        self.history_: list[dict] = []
        train_seconds, step = 0.0, 0
        for epoch in range(int(self.epochs)):
            t0 = time.perf_counter()
            net.train()
            order = rng.permutation(n)
            loss_sum, correct = 0.0, 0
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                xb, yb = X[idx], y[idx]  # (B, F) gather: one copy of the batch
                lr = self.lr * lr_factor(self.schedule, step, total, warmup_steps=warmup,
                                         step_every=self.step_epochs * steps_per_epoch, gamma=self.step_gamma)
                loss, logits = net.loss_and_grad(xb, yb, l2=self.l2, label_smoothing=self.label_smoothing,
                                                 check=False)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss} at epoch {epoch + 1}, step {step + 1} "
                                             f"(lr {lr:.3g}); lower lr or check the inputs")
                opt.step(lr)
                loss_sum += loss * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
                step += 1
            train_seconds += time.perf_counter() - t0
            row = {"epoch": epoch + 1, "train_loss": loss_sum / n, "train_acc": correct / n, "lr": lr,
                   "train_seconds": train_seconds}
            if X_val is not None:
                proba = self._proba(X_val)
                row["val_loss"] = float(-np.log(np.maximum(proba[np.arange(len(y_val)), y_val], 1e-12)).mean())
                row["val_acc"] = float((proba.argmax(1) == y_val).mean())
            self.history_.append(row)
            if self.verbose:
                print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        self.train_seconds_ = train_seconds
        net.eval()
        return self

    # ---------------------------------------------------------------- inference
    def _logits(self, X: np.ndarray, batch: int = 4096) -> np.ndarray:
        net: Network = self.net_
        net.eval()
        out = [net.forward(X[i:i + batch]).copy() for i in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=X.dtype)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self._logits(X))

    def decision_function(self, X) -> np.ndarray:
        """The logits, (n_samples, n_classes)."""
        self._check_fitted()
        return self._logits(self._check_X(X, fitting=False))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes); rows sum to 1."""
        self._check_fitted()
        return self._proba(self._check_X(X, fitting=False))

    def predict(self, X) -> np.ndarray:
        """The most probable class of every row."""
        return self.predict_proba(X).argmax(1)

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        self._check_fitted()
        y = check_labels(y, len(self.classes_))
        return float((self.predict(X) == y).mean())
