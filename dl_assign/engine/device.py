"""Devices and what they can do: the device, threads, and whether bfloat16 is worth using.

One place decides precision and threads for every run:

- :func:`pick_device`: CUDA when present, else CPU; ``DL_ASSIGN_DEVICE`` forces one.
- :func:`threads`: a context manager that sets torch's intra-op threads and the BLAS pool
  (threadpoolctl) and restores both; ``0`` means all physical cores.
- :func:`bf16_probe` / :func:`use_bf16`: ``amp_bf16 = auto | on | off``. ``auto`` turns bf16
  autocast on where bf16 is native and off elsewhere, decided once per process by a **measured
  probe**: a small matmul and a small conv forward+backward, each timed in fp32 and in bf16
  (one thread, best of five interleaved runs after a warm-up; about 0.5 s even where bf16 is
  emulated). bf16 counts as native when neither is more than ``NATIVE_MAX_RATIO`` times slower
  than fp32. Measured: on a 2-core AMD EPYC (Zen 5, AVX-512 BF16) the probe's bf16/fp32 time
  ratios are 0.29-0.40 (matmul) and 0.53-0.70 (conv), other jobs running; the same machine
  restricted to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``, how the slow path is
  tested here) gives 31-34 and 11; an AVX2-only EPYC ran a bf16 matmul 40x and a conv step 9x
  slower (issue 10). The gap is that wide both ways, so load on the other core cannot flip it.
  The CPU flags (``amx_bf16``, ``avx512_bf16``) are recorded next to the answer but do not
  decide it: oneDNN can be capped below them (``ONEDNN_MAX_CPU_ISA``), and a flag says nothing
  about the kernels torch actually runs. ``DL_ASSIGN_NATIVE_BF16=0|1`` overrides the
  probe (to test the slow path on a fast machine, or the reverse).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

NATIVE_MAX_RATIO = 1.5  # bf16 time / fp32 time above which bf16 is emulated (measured: <= 0.5 native, >= 6 not)


def pick_device(preferred: str | None = None):
    import torch

    name = preferred or os.environ.get("DL_ASSIGN_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use cpu")
    return torch.device(name)


# ----------------------------------------------------------------------------------- threads


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    cores, cpu, phys = set(), None, "0"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "processor":
                cpu = int(value)
            elif key == "physical id":
                phys = value
            elif key == "core id" and cpu in allowed:
                cores.add((phys, value))
    except (OSError, ValueError):
        pass
    return len(cores) or len(allowed) or 1


@contextlib.contextmanager
def threads(n: int | None):
    """Run the block with ``n`` torch intra-op and BLAS threads; ``0`` = all physical cores,
    ``None`` = leave both alone. Restores the previous settings; yields the number in use."""
    import torch

    if n is None:
        yield torch.get_num_threads()
        return
    if n < 0:
        raise ValueError(f"threads must be >= 0 (0 = all physical cores), got {n}")
    from threadpoolctl import threadpool_limits

    n = n or physical_cores()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class Bf16Probe:
    """What the probe measured: is bf16 native on this device, and how fast is it against fp32."""

    device: str
    native: bool
    method: str  # 'measured', 'cuda capability', or 'forced by DL_ASSIGN_NATIVE_BF16'
    matmul_ratio: float = math.nan  # bf16 seconds / fp32 seconds (< 1: bf16 is faster)
    conv_ratio: float = math.nan
    probe_seconds: float = 0.0

    @property
    def slowdown(self) -> float:
        return max(self.matmul_ratio, self.conv_ratio)

    def as_dict(self) -> dict:
        return asdict(self)


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _best_seconds(fn, repeats: int = 3) -> float:
    fn()  # warm-up: oneDNN builds its kernels on the first call
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _ratio(slow, fast, repeats: int = 5) -> float:
    """Best time of ``slow()`` over best time of ``fast()``, runs interleaved so load hits both alike."""
    slow(), fast()
    best_s = best_f = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        slow()
        t1 = time.perf_counter()
        fast()
        t2 = time.perf_counter()
        best_s, best_f = min(best_s, t1 - t0), min(best_f, t2 - t1)
    return best_s / best_f


def _measure_cpu() -> tuple[float, float]:
    """(bf16 / fp32 time of a 256x256 matmul, the same of a conv layer's forward + backward).

    One thread: nativeness is a property of a core, and a single thread cannot stall at an
    OpenMP barrier while another process holds the second core (2 threads made the ratio jump
    between 0.4 and 4.7 on a busy native-bf16 machine; 1 thread keeps it within 0.3-0.6).
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 256, generator=gen), torch.randn(256, 256, generator=gen)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1)
    x = torch.randn(16, 16, 28, 28, generator=gen)  # (B, C, H, W): one small CNN layer's work

    def matmul(dtype):
        a_, b_ = a.to(dtype), b.to(dtype)
        return lambda: a_ @ b_

    def conv_step(bf16: bool):
        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = conv(x)
            out.float().sum().backward()
        return step

    with threads(1):
        return _ratio(matmul(torch.bfloat16), matmul(torch.float32)), _ratio(conv_step(True), conv_step(False))


@functools.cache
def bf16_probe(device_type: str = "cpu") -> Bf16Probe:
    """Is bf16 native on ``device_type`` ('cpu' or 'cuda')? Measured once per process (cached)."""
    forced = os.environ.get("DL_ASSIGN_NATIVE_BF16", "").strip().lower()
    if forced:
        if forced not in ("0", "1", "false", "true", "no", "yes"):
            raise ValueError(f"DL_ASSIGN_NATIVE_BF16 must be 0 or 1, got {forced!r}")
        return Bf16Probe(device_type, forced in ("1", "true", "yes"), "forced by DL_ASSIGN_NATIVE_BF16")
    if device_type == "cuda":
        import torch

        return Bf16Probe("cuda", bool(torch.cuda.is_bf16_supported()), "cuda capability")
    import torch

    t0 = time.perf_counter()
    # grad on even when the first caller is inside no_grad / inference_mode (predict, occlusion maps): the
    # probe's conv step builds its layer and runs a backward pass
    with torch.inference_mode(False), torch.enable_grad():
        mm, cv = _measure_cpu()
    native = mm <= NATIVE_MAX_RATIO and cv <= NATIVE_MAX_RATIO
    return Bf16Probe("cpu", native, "measured", mm, cv, time.perf_counter() - t0)


_warned: set[str] = set()


def use_bf16(setting: str | bool, device=None) -> bool:
    """Resolve ``amp_bf16`` (``auto | on | off``, or a bool) to whether bf16 autocast runs.

    ``auto`` follows :func:`bf16_probe`; ``on`` where bf16 is not native still runs, with one
    warning per process giving the measured slowdown.
    """
    if isinstance(setting, bool):
        return setting
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"amp_bf16 must be auto, on or off, got {setting!r}")
    if setting == "off":
        return False
    device_type = getattr(device, "type", None) or str(device or pick_device().type)
    probe = bf16_probe(device_type)
    if setting == "auto":
        return probe.native
    if not probe.native and device_type not in _warned:
        _warned.add(device_type)
        slow = f"{probe.slowdown:.1f}x slower than fp32 (measured)" if math.isfinite(probe.slowdown) else \
            "not native"
        warnings.warn(f"amp_bf16=on on a {device_type} without native bf16: bf16 is {slow}; "
                      "amp_bf16=auto would train in fp32", RuntimeWarning, stacklevel=2)
    return True


def precision_name(bf16: bool) -> str:
    return "bf16-autocast" if bf16 else "fp32"


def matmul_flops(n: int = 1024, repeats: int = 8, dtype=None, device=None) -> float:
    """FLOP/s of an ``n x n`` matrix product on ``device`` (best of ``repeats`` after a warm-up).

    1024 keeps one fp32 product under 0.1 s on a single AVX2 core; time a bf16 product only
    where bf16 is native (:func:`bf16_probe`): the emulated path measures nothing worth knowing.
    """
    import torch

    dtype = dtype or torch.float32
    device = torch.device(device or "cpu")
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)

    def product():
        a @ b
        sync(device)

    return 2.0 * n ** 3 / _best_seconds(product, repeats)


def capability() -> dict:
    """What the CPU (and GPU) offer, for results ``env`` and ``dl-assign env``."""
    import torch

    flags = cpu_flags()
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16_flags": sorted(f for f in flags if f in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")),
        "physical_cores": physical_cores(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
