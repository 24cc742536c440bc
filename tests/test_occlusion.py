"""Occlusion sensitivity: the map's grid (captum's, edge windows clipped), a known-patch model, the batched map
equal to one forward per window, and the per-pixel attribution of both methods equal to captum's ``Occlusion``
to 1e-5 on every geometry (hypothesis over image size, window and stride, remainders included)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from dl_assign.interpret import (
    fill_value,
    grid_shape,
    localisation_ratio,
    occlusion_map,
    pixel_attribution,
    target_probability,
)
from dl_assign.models.imagenet_cnn import ImageNetCNN


class PatchModel(nn.Module):
    """Class 0's logit is the mean brightness of rows 40..47, columns 8..15 (the patch); class 1's is 0."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(8.0))

    def forward(self, x):  # (B, 3, 64, 64) -> (B, 2)
        evidence = x[:, :, 40:48, 8:16].mean((1, 2, 3))
        return torch.stack([self.scale * evidence, torch.zeros_like(evidence)], dim=1)


def _cnn(seed=0, n_classes=5):
    torch.manual_seed(seed)
    return ImageNetCNN(n_classes, widths=(8, 16), pool=(True, True), stride=2, fc_widths=(16,)).eval()


class SmallNet(nn.Module):
    """A conv / BatchNorm / pool stack then a head: runs on any image from 2 x 2 up, both occlusion methods."""

    def __init__(self, seed=0, n_classes=5):
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, n_classes))
        with torch.no_grad():
            self.head[-1].weight.mul_(8)  # a confident model: occlusion moves p(target) by more than rounding
            self.features[1].running_mean.uniform_(-0.3, 0.3)
        self.eval()

    def forward(self, x):  # (B, 3, H, W) -> (B, n_classes)
        return self.head(self.features(x))


def _captum(model, image, target, window, stride, grey):
    from captum.attr import Occlusion

    c, h, w = image.shape
    with torch.no_grad():
        return Occlusion(lambda x: torch.softmax(model(x), dim=1)).attribute(
            image[None], sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
            baselines=grey[None].expand(1, c, h, w), target=target, perturbations_per_eval=64)[0]  # (C, H, W)


class _Spy(nn.Module):
    """A model that records every batch it is given (and predicts nothing)."""

    def __init__(self, seen: list):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen = seen

    def forward(self, x):
        self.seen.append(x.clone())
        return torch.zeros(len(x), 2) + self.w


@pytest.mark.parametrize("size, window, stride", [((64, 64), 8, 4), ((64, 64), 16, 8), ((32, 48), 5, 3),
                                                  ((20, 20), 20, 1), ((17, 23), 5, 3), ((32, 32), 8, 6),
                                                  ((9, 30), 9, 4)])
def test_map_shape_is_captums_window_grid(size, window, stride):
    model = _cnn()
    image = torch.rand(3, *size)
    conf = occlusion_map(model, image, 2, window, stride)
    n_i, n_j = math.ceil((size[0] - window) / stride) + 1, math.ceil((size[1] - window) / stride) + 1
    assert conf.shape == (n_i, n_j) == grid_shape(size, window, stride)
    assert bool(((conf >= 0) & (conf <= 1)).all())


def test_grid_counts_by_hand():
    assert grid_shape((10, 10), 4, 4) == (3, 3)  # windows at 0, 4, 8: the last covers rows 8..9 only
    assert grid_shape((17, 23), 5, 3) == (5, 7)  # 12 / 3 = 4 exactly; 18 / 3 = 6 exactly
    assert grid_shape((18, 24), 5, 3) == (6, 8)  # remainders 1: one more window each, clipped
    assert grid_shape((5, 9), 5, 5) == (1, 2)  # the window spans the rows: one row of windows


def test_bad_window_is_refused():
    with pytest.raises(ValueError, match="window must be"):
        occlusion_map(_cnn(), torch.rand(3, 16, 16), 0, 17, 1)
    with pytest.raises(ValueError, match="stride must be <= window"):  # captum refuses it too
        grid_shape((16, 16), 4, 5)
    assert grid_shape((4, 4), 4, 9) == (1, 1)  # unless the window is the whole image


def test_edge_window_is_clipped_at_the_image_edge():
    image = torch.rand(3, 10, 10)
    seen = []

    conf = occlusion_map(_Spy(seen), image, 0, 4, 4, fill=0.0)
    copies = torch.cat(seen)
    assert conf.shape == (3, 3) and len(copies) == 9
    expected = image.clone()
    expected[:, 8:, 8:] = 0.0  # window (2, 2): rows and columns 8..11, clipped to 8..9
    torch.testing.assert_close(copies[-1], expected, atol=0, rtol=0)
    expected = image.clone()
    expected[:, 8:, 4:8] = 0.0  # window (2, 1)
    torch.testing.assert_close(copies[7], expected, atol=0, rtol=0)


def test_lowest_confidence_where_the_known_patch_is_covered():
    image = torch.full((3, 64, 64), 0.5)
    image[:, 40:48, 8:16] = 1.0  # the patch the model looks at, bright
    conf = occlusion_map(PatchModel(), image, 0, window=8, stride=4, fill=0.0)
    i, j = divmod(int(conf.argmin()), conf.shape[1])
    assert (i * 4, j * 4) == (40, 8)  # the window exactly on the patch
    assert float(conf.min()) < target_probability(PatchModel(), image, 0) - 0.4
    far = conf[:5, 5:]  # windows that never touch the patch: p unchanged
    torch.testing.assert_close(far, torch.full_like(far, target_probability(PatchModel(), image, 0)))
    attr = pixel_attribution(conf, target_probability(PatchModel(), image, 0), (64, 64), 8, 4)
    box = torch.zeros(64, 64, dtype=torch.bool)
    box[40:48, 8:16] = True
    assert localisation_ratio(attr, box) > 10  # all the drop within 15 px of a box 1/64 of the image


def test_fill_is_normalised_like_the_image():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    grey = fill_value(0.5, 3, mean, std).flatten()
    torch.testing.assert_close(grey, torch.tensor([(0.5 - m) / s for m, s in zip(mean, std)]))
    image = (torch.rand(3, 32, 32) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    seen = []

    occlusion_map(_Spy(seen), image, 0, 8, 8, 0.5, mean=mean, std=std)
    first = seen[0][0]  # window at (0, 0)
    torch.testing.assert_close(first[:, :8, :8], grey[:, None, None].expand(3, 8, 8))
    torch.testing.assert_close(first[:, 8:, :], image[:, 8:, :])


def test_batched_equals_one_window_per_forward():
    model, image = _cnn(1), torch.randn(3, 64, 64)
    a = occlusion_map(model, image, 3, 12, 4, batch_size=1000)
    b = occlusion_map(model, image, 3, 12, 4, batch_size=1)
    c = occlusion_map(model, image, 3, 12, 4, batch_size=7)  # a ragged last batch
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(a, c, atol=1e-6, rtol=0)


@pytest.mark.parametrize("size, window, stride", [((64, 64), 8, 4), ((64, 64), 16, 8), ((64, 64), 10, 3),
                                                  ((64, 64), 12, 5), ((61, 47), 9, 6)])
def test_pixel_attribution_equals_captum(size, window, stride):
    torch.manual_seed(0)
    model = _cnn(2)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    image = (torch.rand(3, *size) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    target = 4
    conf = occlusion_map(model, image, target, window, stride, 0.5, mean=mean, std=std)
    ours = pixel_attribution(conf, target_probability(model, image, target), size, window, stride)
    theirs = _captum(model, image, target, window, stride, fill_value(0.5, 3, mean, std))
    assert bool(theirs.abs().sum() > 0)  # the comparison is not of two zero maps
    assert bool(ours[-1].abs().sum() > 0) and bool(ours[:, -1].abs().sum() > 0)  # the last row and column covered
    for ch in range(3):
        torch.testing.assert_close(ours, theirs[ch].float(), atol=1e-5, rtol=0)


@given(h=st.integers(2, 21), w=st.integers(2, 21), window=st.integers(1, 21), stride=st.integers(1, 21),
       target=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_both_methods_equal_captum_on_every_geometry(h, w, window, stride, target, seed):
    window = min(window, h, w)
    stride = min(stride, window)  # captum refuses a stride above the window
    model = SmallNet(seed % 7)
    torch.manual_seed(seed)
    image = torch.randn(3, h, w)
    grey = fill_value(0.5, 3)
    theirs = _captum(model, image, target, window, stride, grey)
    p0 = target_probability(model, image, target)
    for method in ("batched", "incremental"):
        conf = occlusion_map(model, image, target, window, stride, 0.5, method=method, batch_size=5)
        ours = pixel_attribution(conf, p0, (h, w), window, stride)
        for ch in range(3):
            torch.testing.assert_close(ours, theirs[ch].float(), atol=1e-5, rtol=0)


def test_localisation_ratio_values():
    attr = torch.zeros(10, 10)
    box = torch.zeros(10, 10, dtype=torch.bool)
    box[:5] = True  # half the image
    attr[:5] = 1.0  # all the drop inside
    assert localisation_ratio(attr, box) == pytest.approx(2.0)
    attr[:] = 1.0  # spread evenly
    assert localisation_ratio(attr, box) == pytest.approx(1.0)
    attr[:5], attr[5:] = -1.0, 1.0  # a rise inside does not count; all the drop outside
    assert localisation_ratio(attr, box) == pytest.approx(0.0)
    assert math.isnan(localisation_ratio(torch.zeros(10, 10), box))
