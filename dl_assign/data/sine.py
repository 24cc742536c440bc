"""A seeded sine wave cut into forecasting windows; train/val/test are disjoint time ranges.

The series is ``amplitude * sin(2*pi*frequency*t + phase) + noise`` sampled at ``sample_rate``
Hz for ``train + val + test`` samples. The three splits are consecutive, non-overlapping time
ranges (train first, test last), and every window (its inputs and its targets) lies inside one
range, so the test set is an unseen continuation of the training signal. A window of
``window`` samples predicts the next ``horizon`` samples. Nothing is stored on disk: the data
is generated in memory, deterministically from ``seed`` (which drives the noise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dl_assign.data import DatasetStatus, register_dataset

NAME = "sine"


@dataclass(frozen=True)
class SineSpec:
    """What the generator draws: the wave, how it is sampled, and how it is cut."""

    # Hz; at 20 Hz a period is 28.29 samples and the sampled phases repeat only after 20,000
    # samples (0.707 * 20000 / 20 = 707 whole periods), so no test window copies a training one
    frequency: float = 0.707
    phase: float = 0.0  # radians
    amplitude: float = 1.0
    noise: float = 0.0  # std of Gaussian observation noise
    sample_rate: float = 20.0  # samples per second
    window: int = 32  # input samples per example
    horizon: int = 1  # samples predicted per example
    train: int = 1600  # samples in each consecutive time range
    val: int = 400
    test: int = 1200

    def __post_init__(self):
        if self.window < 1 or self.horizon < 1:
            raise ValueError(f"window and horizon must be >= 1, got {self.window}, {self.horizon}")
        for split in ("train", "val", "test"):
            if getattr(self, split) < self.window + self.horizon:
                raise ValueError(f"the {split} range ({getattr(self, split)} samples) is shorter than "
                                 f"window + horizon = {self.window + self.horizon}")

    @property
    def period_samples(self) -> float:
        return self.sample_rate / self.frequency

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


def generate(spec: SineSpec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Times ``t`` (seconds) and the observed series, both float64 of length ``spec.total``."""
    t = np.arange(spec.total, dtype=np.float64) / spec.sample_rate
    y = spec.amplitude * np.sin(2 * np.pi * spec.frequency * t + spec.phase)
    if spec.noise > 0:
        y = y + np.random.default_rng(seed).normal(0.0, spec.noise, size=y.shape)
    return t, y


def make_windows(series: np.ndarray, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window of a 1-D series: ``x (N, window, 1)`` and ``y (N, horizon)``, float32.

    ``N = len(series) - window - horizon + 1``; ``x[i] = series[i:i+window]`` and
    ``y[i] = series[i+window:i+window+horizon]``.
    """
    series = np.asarray(series, dtype=np.float32)
    n = len(series) - window - horizon + 1
    if n < 1:
        raise ValueError(f"a series of {len(series)} samples has no window of {window} + {horizon}")
    idx = np.arange(n)[:, None]
    x = series[idx + np.arange(window)]  # (N, window)
    y = series[idx + window + np.arange(horizon)]  # (N, horizon)
    return x[:, :, None], y


@dataclass(frozen=True)
class SineSplits:
    """Windows per split plus each split's raw series and sample indices (for rollouts/plots)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    series: dict[str, np.ndarray]  # split -> the observed samples of that time range
    ranges: dict[str, tuple[int, int]]  # split -> [start, stop) sample indices
    info: dict


def load_splits(spec: SineSpec | None = None, seed: int = 0) -> SineSplits:
    """Generate the series and cut it into windows inside three disjoint time ranges."""
    spec = spec or SineSpec()
    _, y = generate(spec, seed)
    bounds = np.cumsum([0, spec.train, spec.val, spec.test])
    ranges = {s: (int(a), int(b)) for s, a, b in zip(("train", "val", "test"), bounds[:-1], bounds[1:])}
    series = {s: y[a:b] for s, (a, b) in ranges.items()}
    windows = {s: make_windows(series[s], spec.window, spec.horizon) for s in ranges}
    info = {"name": NAME, "source": "generated in memory (dl_assign.data.sine)",
            "identity": f"seed {seed}, " + ", ".join(f"{k}={v}" for k, v in asdict(spec).items()),
            "ranges": ranges, "sizes": [len(windows[s][0]) for s in ranges]}
    return SineSplits(*windows["train"], *windows["val"], *windows["test"], series, ranges, info)


@register_dataset(NAME)
def status() -> DatasetStatus:
    spec = SineSpec()
    return DatasetStatus(NAME, True, "generated (no file)", [], size=f"{spec.total} samples by default",
                         identity="synthetic, deterministic per seed",
                         how_to_get="nothing to get: generated by dl_assign.data.sine")
