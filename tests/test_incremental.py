"""Incremental occlusion inference: the same logits as a full forward of every occluded copy, for conv stacks
of every supported geometry (hypothesis), the same occlusion map on every image / window / stride geometry
(edge windows clipped where the stride leaves a remainder), and a clear error for what it cannot run."""

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from dl_assign.interpret import occlusion_map
from dl_assign.interpret.incremental import check_supported, fold_batchnorm, incremental_logits
from dl_assign.models.imagenet_cnn import ImageNetCNN


class Net(nn.Module):
    def __init__(self, features, n_classes=4):
        super().__init__()
        self.features = features
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.LazyLinear(n_classes))

    def forward(self, x):
        return self.head(self.features(x))


def _randomise_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.3, 0.3)


def _pasted(image, patch, top, left):
    x = image[None].repeat(len(top), 1, 1, 1)
    h, w = patch.shape[-2:]
    for b, (t, c) in enumerate(zip(top.tolist(), left.tolist())):
        x[b, :, t:t + h, c:c + w] = patch[b]
    return x


layer_spec = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(2, 6)),
    st.tuples(st.just("max"), st.integers(2, 3), st.integers(1, 3), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("avg"), st.integers(2, 3), st.integers(1, 2), st.just(0), st.just(0)),
    st.tuples(st.just("bn"), st.just(0), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("relu"), st.just(0), st.just(0), st.just(0), st.just(0)),
)


def _build(specs, channels=3):
    layers, c = [], channels
    for kind, k, s, p, width in specs:
        if kind == "conv":
            layers.append(nn.Conv2d(c, width, k, stride=s, padding=min(p, k // 2 + 1)))
            c = width
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, s, padding=min(p, k // 2)))
        elif kind == "avg":
            layers.append(nn.AvgPool2d(k, s))
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(c))
        else:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(layer_spec, min_size=1, max_size=6), size=st.integers(14, 30), window=st.integers(1, 9),
       seed=st.integers(0, 2**16), n=st.integers(1, 6))
def test_incremental_logits_equal_a_full_forward(specs, size, window, seed, n):
    torch.manual_seed(seed)
    features = _build(specs).eval()
    with torch.no_grad():
        try:
            features(torch.zeros(1, 3, size, size))
        except RuntimeError:  # the stack shrinks this image to nothing: no model to compare
            assume(False)
        model = Net(features)
        model(torch.zeros(1, 3, size, size))  # materialise the lazy head
        _randomise_bn(model)
        model.eval()
        image = torch.randn(3, size, size)
        window = min(window, size)
        patch = torch.randn(n, 3, window, window)
        top, left = torch.randint(0, size - window + 1, (n,)), torch.randint(0, size - window + 1, (n,))
        expected = model(_pasted(image, patch, top, left))
        for layers, channels_last in ((model.features, False), (model.features, True),
                                      (fold_batchnorm(model.features), True)):
            got = incremental_logits(layers, model.head, image, patch, top, left, channels_last=channels_last)
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_batchnorm_folds_into_the_conv_before_it_only():
    torch.manual_seed(3)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4),
                             nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2, affine=False))
    _randomise_bn(features)
    features.eval()
    folded = fold_batchnorm(features)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d"]
    assert folded[0] is not features[0] and features[1] in list(features)  # the model itself is unchanged
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(nn.Sequential(*folded)(x), features(x), atol=1e-5, rtol=1e-5)
    assert len(fold_batchnorm(features.train())) == len(features)  # training BatchNorm is not folded


def test_the_caller_tensors_are_left_alone():
    torch.manual_seed(0)
    features = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
    model = Net(features).eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 12, 12))
        image, patch = torch.randn(3, 12, 12), -torch.ones(2, 3, 4, 4)
        before = image.clone(), patch.clone()
        incremental_logits(model.features, model.head, image, patch, torch.tensor([0, 8]), torch.tensor([3, 0]))
    assert torch.equal(image, before[0]) and torch.equal(patch, before[1])


@pytest.mark.parametrize("convs, pool, stride, size, window, window_stride, grid", [
    (1, (True, True, True), 2, (64, 64), 16, 4, (13, 13)),
    (2, (True, False, True), 1, (64, 64), 16, 4, (13, 13)),
    (1, (True, True, True), 2, (64, 64), 12, 5, (12, 12)),  # 52 / 5 leaves 2: the last window is clipped
    (2, (True, False, True), 1, (61, 47), 9, 6, (10, 8)),  # non-square, remainders 4 and 2
])
def test_incremental_map_equals_the_batched_map(convs, pool, stride, size, window, window_stride, grid):
    torch.manual_seed(1)
    model = ImageNetCNN(7, widths=(8, 16, 16), convs_per_stage=convs, pool=pool, stride=stride, fc_widths=(16,))
    _randomise_bn(model)
    model.eval()
    image = torch.randn(3, *size)
    batched = occlusion_map(model, image, 3, window, window_stride, batch_size=50)
    for channels_last in (False, True):
        fast = occlusion_map(model, image, 3, window, window_stride, batch_size=50, method="incremental",
                             channels_last=channels_last)
        assert fast.shape == batched.shape == grid
        assert float((fast - batched).abs().max()) <= 1e-6


@given(specs=st.lists(layer_spec, min_size=1, max_size=5), h=st.integers(6, 24), w=st.integers(6, 24),
       window=st.integers(1, 12), stride=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_incremental_map_equals_the_batched_map_on_every_geometry(specs, h, w, window, stride, seed):
    window = min(window, h, w)
    stride = min(stride, window)
    torch.manual_seed(seed)
    features = _build(specs).eval()
    with torch.no_grad():
        try:
            features(torch.zeros(1, 3, h, w))
        except RuntimeError:  # the stack shrinks this image to nothing: no model to compare
            assume(False)
        model = Net(features)
        model(torch.zeros(1, 3, h, w))  # materialise the lazy head
        _randomise_bn(model)
        model.eval()
    image = torch.randn(3, h, w)
    batched = occlusion_map(model, image, 1, window, stride, batch_size=7)
    fast = occlusion_map(model, image, 1, window, stride, batch_size=7, method="incremental")
    assert fast.shape == batched.shape
    torch.testing.assert_close(fast, batched, atol=1e-5, rtol=0)


def test_a_patch_past_the_edge_is_refused():
    model = Net(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))).eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 8, 8))
        with pytest.raises(ValueError, match="inside the"):
            incremental_logits(model.features, model.head, torch.randn(3, 8, 8), torch.zeros(1, 3, 4, 4),
                               torch.tensor([5]), torch.tensor([0]))


def test_unsupported_layers_and_models_are_named():
    with pytest.raises(TypeError, match="Upsample"):
        check_supported(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2)))
    with pytest.raises(TypeError, match="dilation"):
        check_supported(nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2)))
    with pytest.raises(TypeError, match="features"):
        occlusion_map(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()), torch.rand(3, 8, 8), 0, 4, 2,
                      method="incremental")
    with pytest.raises(ValueError, match="method must be"):
        occlusion_map(Net(nn.Sequential(nn.ReLU())), torch.rand(3, 8, 8), 0, 4, 2, method="fast")
