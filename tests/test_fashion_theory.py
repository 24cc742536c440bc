"""Deep MLP knobs and the gradient probe: the textbook effects hold at initialisation."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dl_assign.experiments.fashion.theory import layer_grad_norms, log10_ratio
from dl_assign.models.deep_mlp import DeepMLP


def _batch(n=256, d=784, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def test_deep_mlp_structure_and_init():
    torch.manual_seed(0)
    model = DeepMLP(784, 256, 5, 10, act="relu", init="he")
    assert len(model.linears) == 6 and model.linears[0].in_features == 784
    assert model.linears[1].weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    assert float(model.linears[1].bias.detach().abs().sum()) == 0.0
    torch.manual_seed(0)
    big = DeepMLP(784, 256, 5, 10, act="relu", init="he", init_gain=2.0)
    torch.testing.assert_close(big.linears[2].weight, 2 * model.linears[2].weight)
    bn = DeepMLP(784, 32, 3, 10, batchnorm=True, dropout=0.5)
    assert all(lin.bias is None for lin in bn.linears[:-1])
    assert sum(isinstance(m, nn.BatchNorm1d) for m in bn.modules()) == 3
    assert sum(isinstance(m, nn.Dropout) for m in bn.modules()) == 3
    with pytest.raises(ValueError):
        DeepMLP(784, 32, 3, 10, init="orthogonal")


def test_probe_matches_autograd_and_restores_state():
    torch.manual_seed(0)
    model = DeepMLP(784, 32, 3, 10, batchnorm=True)
    x, y = _batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    norms = layer_grad_norms(model, x, y)
    for k, v in model.state_dict().items():  # BN running statistics untouched by the probe
        torch.testing.assert_close(v, before[k])
    assert all(p.grad is None for p in model.parameters()) and not model.training
    model.train()  # the probe measures in training mode (batch statistics)
    loss = nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, [lin.weight for lin in model.linears])
    np.testing.assert_allclose(norms, [float(g.norm()) for g in grads], rtol=1e-5)


def test_log10_ratio():
    assert log10_ratio([1e-6, 1.0, 1.0, 5.0]) == pytest.approx(-6.0)
    assert math.isnan(log10_ratio([0.0, 1.0, 1.0]))


def test_sigmoid_gradients_vanish_relu_he_gradients_do_not():
    x, y = _batch()
    torch.manual_seed(0)
    sigmoid = layer_grad_norms(DeepMLP(784, 128, 15, 10, act="sigmoid", init="xavier"), x, y)
    torch.manual_seed(0)
    relu = layer_grad_norms(DeepMLP(784, 128, 15, 10, act="relu", init="he"), x, y)
    assert log10_ratio(sigmoid) < -4  # first layer gets < 1e-4 of the last hidden layer's gradient
    assert abs(log10_ratio(relu)) < 1


def test_large_init_explodes_gradients_geometrically():
    x, y = _batch()
    depth = 20
    torch.manual_seed(0)
    he = layer_grad_norms(DeepMLP(784, 128, depth, 10, act="relu", init="he"), x, y)
    torch.manual_seed(0)
    big = layer_grad_norms(DeepMLP(784, 128, depth, 10, act="relu", init="he", init_gain=1.5), x, y)
    growth = math.log10(big[0] / he[0])
    assert growth > 2  # more than 100x larger in the first layer (1.5^20 ~ 3e3 expected)


def test_batchnorm_restores_gradient_scale_of_default_init():
    x, y = _batch()
    torch.manual_seed(0)
    plain = layer_grad_norms(DeepMLP(784, 128, 20, 10, init="default"), x, y)
    torch.manual_seed(0)
    bn = layer_grad_norms(DeepMLP(784, 128, 20, 10, init="default", batchnorm=True), x, y)
    assert log10_ratio(plain) < -1.5 and abs(log10_ratio(bn)) < abs(log10_ratio(plain))
