"""fp32 vs bf16 training speed of the ``fashion.cnn`` model on this machine, and what ``auto`` picks.

The same CNN5 (fashion.cnn's widths, channels_last, batch 256) trains a few steps on synthetic
28x28 batches in each precision; images/s is timed after warm-up steps. Where bf16 is not native
the bf16 side is timed over ``slow_steps`` steps only: enough to show the slowdown that made
``auto`` choose fp32, without spending minutes on the emulated path.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar

import torch

from dl_assign.config import ExperimentConfig, Range
from dl_assign.engine import TensorLoader, fit, pick_device
from dl_assign.engine.device import bf16_probe, precision_name, use_bf16
from dl_assign.experiments.fashion.common import CNN5Config, model_from
from dl_assign.registry import RunContext, SeedResult, experiment


@dataclass(frozen=True)
class PrecisionConfig(ExperimentConfig):
    filters: str = "16,32,32,64,64"  # fashion.cnn's widths
    batch_size: Annotated[int, Range(ge=1)] = 256
    steps: Annotated[int, Range(ge=1)] = 12  # timed training steps per precision where both are fast
    slow_steps: Annotated[int, Range(ge=1)] = 2  # timed steps of the emulated bf16 path (each can take seconds)
    warmup_steps: Annotated[int, Range(ge=0)] = 2
    threads: Annotated[int, Range(ge=0)] = 0  # all physical cores, as fashion.cnn trains

    BUDGETS: ClassVar[dict] = {
        "smoke": {"steps": 3, "slow_steps": 1, "warmup_steps": 1, "batch_size": 64, "seeds": (0,)},
        "full": {"steps": 40},
    }


def images_per_second(cfg: PrecisionConfig, amp: str, steps: int) -> float:
    """Training images/s of fashion.cnn's model through ``fit`` with ``amp_bf16=amp``."""
    n = (cfg.warmup_steps + steps) * cfg.batch_size
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)
    tcfg = dataclasses.replace(CNN5Config(), filters=cfg.filters, batch_size=cfg.batch_size, amp_bf16=amp,
                               epochs=1, warmup_epochs=0.0, tta_flip=False)
    model = model_from(tcfg)
    marks: list[float] = []

    class Timed(TensorLoader):  # the clock starts once the warm-up steps are done
        def __iter__(self):
            for i, batch in enumerate(super().__iter__()):
                if i == cfg.warmup_steps:
                    marks.append(time.perf_counter())
                yield batch
            marks.append(time.perf_counter())

    fit(model, Timed(x, y, cfg.batch_size), None, tcfg, progress=False)
    return steps * cfg.batch_size / (marks[1] - marks[0])


@experiment("fashion.precision", PrecisionConfig)
def precision(cfg: PrecisionConfig, seed: int, ctx: RunContext) -> SeedResult:
    """fp32 vs bf16 training images/s of the fashion.cnn model, and the precision `auto` picks."""
    device = pick_device()
    probe = bf16_probe(device.type)
    fp32 = images_per_second(cfg, "off", cfg.steps)
    bf16 = images_per_second(cfg, "on", cfg.steps if probe.native else cfg.slow_steps)
    auto = use_bf16("auto", device)
    metrics = {
        "fp32_images_per_s": fp32,
        "bf16_images_per_s": bf16,
        "bf16_speedup": bf16 / fp32,
        "bf16_native": float(probe.native),
        "auto_uses_bf16": float(auto),
        # right when auto picked the faster of the two, as measured here on the real model
        "auto_choice_is_faster": float(auto == (bf16 > fp32)),
        "probe_matmul_ratio": probe.matmul_ratio,
        "probe_conv_ratio": probe.conv_ratio,
        "probe_seconds": probe.probe_seconds,
    }
    return SeedResult(metrics, {"probe": probe.as_dict(), "auto": precision_name(auto)})
