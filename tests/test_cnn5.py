"""CNN5: exactly five Conv2d layers each followed by ReLU, for every config; init schemes; FLOPs."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from dl_assign.data.augment import RandomShiftFlip
from dl_assign.models.cnn5 import CNN5, conv_layers, count_flops_per_image, filter_schedule, init_weights
from dl_assign.models.mlp import MLP

configs = st.fixed_dictionaries({
    "kernel_size": st.sampled_from([1, 3, 5, 7]),
    "filters": st.one_of(st.sampled_from(["constant", "doubling"]),
                         st.lists(st.integers(1, 12), min_size=5, max_size=5).map(tuple)),
    "base_width": st.integers(1, 8),
    "pool": st.sampled_from(["max", "avg", "none"]),
    "pool_after": st.lists(st.integers(0, 4), max_size=3, unique=True).map(tuple),
    "neck": st.sampled_from(["flatten", "gap", "gmp"]),
    "batch_norm": st.booleans(),
    "dropout": st.sampled_from([0.0, 0.5]),
    "conv_dropout": st.sampled_from([0.0, 0.1]),
})


def relu_follows_each_conv(model: CNN5) -> bool:
    """Walking ``features`` in order, every Conv2d reaches a ReLU before the next Conv2d."""
    pending = False
    for m in model.features:
        if isinstance(m, nn.Conv2d):
            if pending:
                return False
            pending = True
        elif isinstance(m, nn.ReLU):
            pending = False
    return not pending


@given(configs)
def test_every_config_has_exactly_five_convs_each_followed_by_relu(kw):
    model = CNN5(**kw)
    convs = conv_layers(model)
    assert len(convs) == 5
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 5
    assert relu_follows_each_conv(model)
    assert tuple(c.out_channels for c in convs) == model.widths
    assert all(c.kernel_size == (kw["kernel_size"],) * 2 for c in convs)
    n_pools = sum(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in model.features)
    assert n_pools == (0 if kw["pool"] == "none" else len(kw["pool_after"]))
    x = torch.randn(2, 1, 28, 28)
    assert model.embed(x).shape == (2, model.embed_dim)
    assert model(x).shape == (2, 10)


def test_filter_schedules():
    assert filter_schedule("constant", 16) == (16,) * 5
    assert filter_schedule("doubling", 16, (1, 3)) == (16, 16, 32, 32, 64)
    assert filter_schedule("doubling", 8, (0, 2)) == (8, 16, 16, 32, 32)
    assert filter_schedule("8,16,32,64,128") == (8, 16, 32, 64, 128)
    assert filter_schedule((3, 3, 3, 3, 3)) == (3,) * 5
    with pytest.raises(ValueError):
        filter_schedule((8, 16, 32))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        CNN5(kernel_size=4)
    with pytest.raises(ValueError):
        CNN5(pool_after=(5,))
    with pytest.raises(ValueError):
        CNN5(pool="median")


def test_embed_is_the_network_without_its_head():
    torch.manual_seed(0)
    model = CNN5(filters="4,4,8,8,8", neck="flatten", pool_after=(1, 3)).eval()
    x = torch.randn(3, 1, 28, 28)
    assert model.embed_dim == 8 * 7 * 7
    torch.testing.assert_close(model.head(model.embed(x)), model(x))


@pytest.mark.parametrize("scheme,expected_var", [
    ("normal", lambda fan_in, fan_out: 0.01 ** 2),
    ("xavier", lambda fan_in, fan_out: 2.0 / (fan_in + fan_out)),
    ("he", lambda fan_in, fan_out: 2.0 / fan_in),
])
def test_init_weights_variances(scheme, expected_var):
    torch.manual_seed(0)
    model = CNN5(filters="constant", base_width=64, batch_norm=False)
    init_weights(model, scheme)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach()
            fan_in = w[0].numel()
            fan_out = w.shape[0] * (w[0, 0].numel())
            want = expected_var(fan_in, fan_out)
            if w.numel() > 2000:  # enough draws for a 15 % tolerance on the variance
                assert float(w.var()) == pytest.approx(want, rel=0.15), (scheme, tuple(w.shape))
            assert float(m.bias.detach().abs().max()) == 0.0


def test_init_weights_works_on_any_model_and_refuses_unknown_schemes():
    mlp = MLP(784, (256,), 10)
    init_weights(mlp, "he")
    first = mlp.net[1].weight.detach()
    assert float(first.var()) == pytest.approx(2 / 784, rel=0.1)
    with pytest.raises(ValueError):
        init_weights(mlp, "orthogonal")


def test_he_keeps_relu_activations_alive_where_small_normal_does_not():
    """The reason He wins without BatchNorm: signal scale survives five ReLU layers."""
    torch.manual_seed(0)
    x = torch.randn(16, 1, 28, 28)
    scales = {}
    for scheme in ("normal", "he"):
        model = init_weights(CNN5(filters="constant", base_width=32, batch_norm=False), scheme)
        scales[scheme] = float(model.features(x).detach().std())
    assert scales["normal"] < 1e-3 < scales["he"]


def test_flop_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    model = CNN5(filters="8,16,16,32,32", pool_after=(0, 2), neck="flatten", kernel_size=5).eval()
    analytic = count_flops_per_image(model)
    assert analytic["conv"] == pytest.approx(
        2 * 28 * 28 * 8 * 25 * 1 + 2 * 14 * 14 * 25 * (16 * 8 + 16 * 16) + 2 * 7 * 7 * 25 * (32 * 16 + 32 * 32))
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(4, 1, 28, 28))
    assert counter.get_total_flops() == pytest.approx(4 * analytic["forward"])


def test_random_shift_flip_moves_pixels_by_at_most_pad():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 14, 10] = 1.0  # one bright pixel
    out = RandomShiftFlip(pad=2, flip=True)(x)
    assert out.shape == x.shape
    rows, cols = [], []
    for img in out[:, 0]:
        r, c = torch.nonzero(img, as_tuple=True)
        assert len(r) == 1  # the pixel moved, it was not duplicated or lost
        rows.append(int(r)), cols.append(int(c))
    assert set(rows) <= set(range(12, 17))
    assert set(cols) <= set(range(8, 13)) | set(range(15, 20))  # 10 +- 2, or flipped to 17 +- 2
    assert len(set(cols)) > 3 and len(set(rows)) > 2  # every image gets its own draw
    assert math.isclose(float(out.sum()), 64.0)
