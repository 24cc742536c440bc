"""Occlusion sensitivity: the map's grid, a known-patch model, the batched map equal to one forward per window,
and the per-pixel attribution equal to captum's ``Occlusion`` to 1e-5."""

import math

import pytest
import torch
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


@pytest.mark.parametrize("size, window, stride", [((64, 64), 8, 4), ((64, 64), 16, 8), ((32, 48), 5, 3),
                                                  ((20, 20), 20, 1)])
def test_map_shape_is_the_window_grid(size, window, stride):
    model = _cnn()
    image = torch.rand(3, *size)
    conf = occlusion_map(model, image, 2, window, stride)
    n_i, n_j = (size[0] - window) // stride + 1, (size[1] - window) // stride + 1
    assert conf.shape == (n_i, n_j) == grid_shape(size, window, stride)
    assert bool(((conf >= 0) & (conf <= 1)).all())


def test_bad_window_is_refused():
    with pytest.raises(ValueError, match="window must be"):
        occlusion_map(_cnn(), torch.rand(3, 16, 16), 0, 17, 1)


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

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            seen.append(x.clone())
            return torch.zeros(len(x), 2) + self.w

    occlusion_map(Spy(), image, 0, 8, 8, 0.5, mean=mean, std=std)
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


@pytest.mark.parametrize("window, stride", [(8, 4), (16, 8), (10, 3)])
def test_pixel_attribution_equals_captum(window, stride):
    from captum.attr import Occlusion

    torch.manual_seed(0)
    model = _cnn(2)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    image = (torch.rand(3, 64, 64) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    target = 4
    conf = occlusion_map(model, image, target, window, stride, 0.5, mean=mean, std=std)
    ours = pixel_attribution(conf, target_probability(model, image, target), (64, 64), window, stride)

    def prob(x):
        return torch.softmax(model(x), dim=1)

    baseline = fill_value(0.5, 3, mean, std)[None].expand(1, 3, 64, 64)
    theirs = Occlusion(prob).attribute(image[None], sliding_window_shapes=(3, window, window),
                                       strides=(3, stride, stride), baselines=baseline, target=target,
                                       perturbations_per_eval=64)[0]  # (3, H, W)
    covered = theirs.abs().sum() > 0
    assert bool(covered)  # the comparison is not of two zero maps
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
