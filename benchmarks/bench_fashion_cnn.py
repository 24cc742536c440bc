"""CNN family micro-benchmarks: one CNN5 training epoch, the matmul reference, fp32 vs bf16.

The efficiency ratio of ``fashion.cnn`` divides the first by the second; these benchmarks time
them on their own (after a warm-up round, on synthetic data) so a regression in either shows up
without a full training run. ``bench_precision`` runs ``fashion.precision``: images/s of the
fashion.cnn model in fp32 and bf16 on this machine and the choice ``amp_bf16=auto`` makes,
written to results/. The experiments themselves run in ``bench_experiments.py``.
"""

import dataclasses

import pytest
import torch

from dl_assign import registry
from dl_assign.engine import TensorLoader, fit, threads
from dl_assign.engine.device import bf16_probe, matmul_flops, use_bf16
from dl_assign.experiments.fashion.common import model_from
from dl_assign.models.cnn5 import count_flops_per_image


@pytest.fixture
def fashion_cnn_threads():
    with threads(registry.get("fashion.cnn").config().threads) as n:  # what fashion.cnn trains with
        yield n


def bench_cnn5_training_epoch(benchmark, budget, fashion_cnn_threads):
    cfg = registry.get("fashion.cnn").config(budget)
    cfg = dataclasses.replace(cfg, epochs=1, warmup_epochs=0.0)
    n = 8 * cfg.batch_size
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)
    model = model_from(cfg)
    loader = TensorLoader(x, y, cfg.batch_size, shuffle=True, drop_last=True)
    history = benchmark.pedantic(lambda: fit(model, loader, None, cfg, progress=False), rounds=3, warmup_rounds=1)
    seconds = history[-1]["train_seconds"]
    benchmark.extra_info["images_per_s"] = n / seconds
    benchmark.extra_info["train_gflop_per_s"] = count_flops_per_image(model)["train"] * n / seconds / 1e9
    benchmark.extra_info["bf16"] = use_bf16(cfg.amp_bf16)
    assert history[-1]["train_loss"] == history[-1]["train_loss"]  # finite, not NaN


def bench_matmul_reference(benchmark, fashion_cnn_threads):
    """The reference fashion.cnn divides by: a matmul in the precision auto trains in."""
    dtype = torch.bfloat16 if use_bf16("auto") else torch.float32
    flops = benchmark.pedantic(matmul_flops, kwargs={"n": 1024, "repeats": 3, "dtype": dtype}, rounds=3,
                               warmup_rounds=1)
    benchmark.extra_info["gflop_per_s"] = flops / 1e9
    benchmark.extra_info["dtype"] = str(dtype)
    assert flops > 1e8


def bench_precision(run_experiment):
    record = run_experiment("fashion.precision")
    m = record["metrics"]
    assert record["env"]["bf16_native"] == bool(m["bf16_native"]["mean"])
    assert m["auto_uses_bf16"]["mean"] == float(bf16_probe("cpu").native or torch.cuda.is_available())
    assert m["fp32_images_per_s"]["mean"] > 0 and m["bf16_images_per_s"]["mean"] > 0
