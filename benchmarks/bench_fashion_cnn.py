"""CNN family micro-benchmarks: one CNN5 training epoch through ``fit`` and the matmul reference.

The efficiency ratio of ``fashion.cnn`` divides the first by the second; these benchmarks time
them on their own (after a warm-up round, on synthetic data) so a regression in either shows up
without a full training run. The experiments themselves run in ``bench_experiments.py``.
"""

import pytest
import torch

from dl_assign import registry
from dl_assign.engine import TensorLoader, fit
from dl_assign.experiments import fashion_cnn
from dl_assign.models.cnn5 import count_flops_per_image


@pytest.fixture
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # what fashion.cnn trains with (see CNN5Config.threads)
    yield
    torch.set_num_threads(old)


def bench_cnn5_training_epoch(benchmark, budget, one_thread):
    cfg = registry.get("fashion.cnn").config(budget)
    cfg = fashion_cnn.dataclasses.replace(cfg, epochs=1, warmup_epochs=0.0)
    n = 8 * cfg.batch_size
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)
    model = fashion_cnn.model_from(cfg)
    loader = TensorLoader(x, y, cfg.batch_size, shuffle=True, drop_last=True)
    history = benchmark.pedantic(lambda: fit(model, loader, None, cfg, progress=False), rounds=3, warmup_rounds=1)
    seconds = history[-1]["train_seconds"]
    benchmark.extra_info["images_per_s"] = n / seconds
    benchmark.extra_info["train_gflop_per_s"] = count_flops_per_image(model)["train"] * n / seconds / 1e9
    assert history[-1]["train_loss"] == history[-1]["train_loss"]  # finite, not NaN


def bench_fp32_matmul_reference(benchmark, one_thread):
    flops = benchmark.pedantic(fashion_cnn.matmul_flops, kwargs={"n": 1024, "repeats": 3}, rounds=3, warmup_rounds=1)
    benchmark.extra_info["gflop_per_s"] = flops / 1e9
    assert flops > 1e8
