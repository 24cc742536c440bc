"""The EDA's duplicate search over all 70,000 images, the gradient probe and attention: timed."""

import numpy as np
import pytest
import torch

from dl_assign.data import eda
from dl_assign.experiments.fashion.theory import layer_grad_norms
from dl_assign.models.attention import attention
from dl_assign.models.deep_mlp import DeepMLP


@pytest.fixture(scope="module")
def fashion_images():
    from dl_assign import data

    if not data.available("fashion-mnist"):
        pytest.skip("fashion-mnist missing (see `dl-assign data`)")
    from dl_assign.data import fashion

    raw = fashion.load_raw()
    return np.concatenate([raw["train_images"], raw["test_images"]])


def bench_near_duplicate_search(benchmark, fashion_images):
    pairs = benchmark.pedantic(eda.near_duplicate_pairs, args=(fashion_images, 0.01), rounds=1, iterations=1,
                               warmup_rounds=0)
    flat = fashion_images.reshape(len(fashion_images), -1).astype(np.float32) / 255
    for i, j, mad in pairs:  # every reported pair really is that close
        assert np.abs(flat[i] - flat[j]).mean() == pytest.approx(mad, abs=1e-6) and 0 < mad <= 0.01
    benchmark.extra_info["near_pairs"] = len(pairs)


def bench_exact_duplicate_hashing(benchmark, fashion_images):
    groups = benchmark(eda.exact_duplicate_groups, fashion_images)
    assert all(len(g) >= 2 for g in groups)


def bench_layer_grad_probe(benchmark):
    torch.manual_seed(0)
    model = DeepMLP(784, 128, 20, 10, act="relu", init="he")
    x, y = torch.randn(512, 784), torch.randint(0, 10, (512,))
    norms = benchmark(layer_grad_norms, model, x, y)
    assert len(norms) == 21 and all(n > 0 for n in norms)


def bench_attention_queries_vs_gallery(benchmark):
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2000, 64, generator=gen), torch.randn(1000, 64, generator=gen)
    v = torch.eye(10)[torch.randint(0, 10, (1000,), generator=gen)]
    out, w = benchmark(attention, q, k, v)
    assert out.shape == (2000, 10)
    torch.testing.assert_close(w.sum(1), torch.ones(2000))
