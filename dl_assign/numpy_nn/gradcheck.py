"""Gradient checking by centred differences, CS231n style, in float64.

``numeric = (f(x + h) - f(x - h)) / (2h)`` with ``h = 1e-5`` for each checked entry, compared
with the analytic gradient by ``rel = |a - n| / max(1e-8, |a| + |n|)``. For piecewise-linear
activations a finite difference across a kink measures a different function, so
``branch`` (e.g. :meth:`Network.branch`) lets the checker skip, and count, the entries whose
+h or -h evaluation put any ReLU input on the other side of its kink.

Resolution: float64 rounding of a loss of size ~1 makes ``f(x+h) - f(x-h)`` uncertain by a
few ulp, so the numeric gradient carries an absolute noise of ~1e-11..1e-10 (measured: at
most 1.1e-10 on depth-4, width-32 nets). The relative error of an entry whose true gradient
is below ~2e-3 measures that noise, not the code (1e-10 / 2e-3 = 5e-8). The report therefore gives the spec's
relative error over the entries with ``|a| + |n| >= resolution`` (default 2e-3) and the
absolute error ``|a - n|`` over every entry (which must stay at the noise level).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

H = 1e-5
RESOLUTION = 2e-3  # |a| + |n| below this, the relative error measures float64 noise (~1e-10 abs)


def rel_error(analytic, numeric) -> np.ndarray:
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, indices=None, *, h: float = H,
                       branch: Callable[[], bytes] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centred differences of ``f()`` with respect to the entries ``indices`` of ``x`` (in place,
    restored after each entry). Returns ``(numeric, valid)``, one value per index; ``valid`` is
    False where ``branch()`` differed between the two evaluations and the unperturbed one."""
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks run in float64; got a {x.dtype} array")
    flat = x.reshape(-1)  # a view: writes go to x
    if indices is None:
        indices = np.arange(flat.size)
    reference = None
    if branch is not None:
        f()
        reference = branch()
    numeric = np.empty(len(indices))
    valid = np.ones(len(indices), dtype=bool)
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        same = branch is None or branch() == reference
        flat[i] = old - h
        f_minus = f()
        same = same and (branch is None or branch() == reference)
        flat[i] = old
        numeric[k] = (f_plus - f_minus) / (2.0 * h)
        valid[k] = same
    return numeric, valid


@dataclass
class GradCheckReport:
    """Per checked array: max relative error (resolvable entries), max absolute error (all), counts."""

    max_rel_error: dict[str, float] = field(default_factory=dict)
    max_abs_error: dict[str, float] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    below_resolution: dict[str, int] = field(default_factory=dict)
    skipped_kinks: dict[str, int] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        """The largest relative error over every resolvable entry of every array."""
        return max(self.max_rel_error.values(), default=0.0)

    @property
    def worst_abs(self) -> float:
        return max(self.max_abs_error.values(), default=0.0)


def check_network(net, x: np.ndarray, y: np.ndarray, *, l2: float = 0.0, label_smoothing: float = 0.0,
                  h: float = H, resolution: float = RESOLUTION, max_entries: int | None = None,
                  rng: np.random.Generator | None = None, skip_kinks: bool = True,
                  include_input: bool = True) -> GradCheckReport:
    """Check every parameter (and the input, when the first layer returns its gradient) of a
    float64 :class:`Network` on ``(x, y)``. ``max_entries`` samples that many entries per
    array (all when None). Dropout layers must have a fixed mask (:meth:`Dropout.fix_mask`)."""
    for d in net.dropouts:
        if d.training and d.p > 0 and d._fixed is None:
            raise ValueError("dropout draws a new mask each forward; fix it with Dropout.fix_mask first")
    rng = rng if rng is not None else np.random.default_rng(0)
    x = np.array(x, dtype=np.float64)
    net.loss_and_grad(x, y, l2=l2, label_smoothing=label_smoothing)
    targets = [(name, p, g.copy()) for name, p, g in net.parameters()]
    if include_input and net.input_grad is not None:
        targets.append(("input", x, net.input_grad.reshape(x.shape).copy()))
    f = lambda: net.loss(x, y, l2=l2, label_smoothing=label_smoothing)
    branch = net.branch if skip_kinks else None
    report = GradCheckReport()
    for name, p, analytic in targets:
        size = p.size
        if max_entries is None or max_entries >= size:
            idx = np.arange(size)
        else:
            idx = rng.choice(size, max_entries, replace=False)
        numeric, valid = numerical_gradient(f, p, idx, h=h, branch=branch)
        a, n = analytic.reshape(-1)[idx][valid], numeric[valid]
        resolvable = np.abs(a) + np.abs(n) >= resolution
        rel = rel_error(a[resolvable], n[resolvable])
        report.max_rel_error[name] = float(rel.max()) if rel.size else 0.0
        report.max_abs_error[name] = float(np.abs(a - n).max()) if a.size else 0.0
        report.checked[name] = int(valid.sum())
        report.below_resolution[name] = int((~resolvable).sum())
        report.skipped_kinks[name] = int((~valid).sum())
    return report
