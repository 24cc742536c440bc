"""The CNN family's pieces: flip TTA, the ResNet-50 adaptation, speed-lever plumbing, feature helpers."""

import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from dl_assign import registry
from dl_assign.engine.device import matmul_flops
from dl_assign.experiments.fashion import cnn as fashion_cnn
from dl_assign.experiments.fashion import cnn_mlp as fashion_cnn_mlp
from dl_assign.experiments.fashion.common import time_to_accuracy
from dl_assign.models import resnet
from dl_assign.models.cnn5 import CNN5, conv_layers
from dl_assign.models.tta import FlipTTA


def test_flip_tta_is_the_log_of_the_mean_probability_of_both_views():
    torch.manual_seed(0)
    model = CNN5(filters="4,4,8,8,8").eval()
    x = torch.randn(5, 1, 28, 28)
    out = FlipTTA(model)(x)
    want = 0.5 * (model(x).softmax(1) + model(x.flip(3)).softmax(1))
    torch.testing.assert_close(out.exp(), want)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(5))
    # a mirrored input gives the same averaged prediction
    torch.testing.assert_close(FlipTTA(model)(x.flip(3)), out)
    assert list(FlipTTA(model).parameters())[0] is list(model.parameters())[0]  # shared, not copied


def test_every_registered_cnn_config_has_exactly_five_convs():
    for name in ("fashion.cnn", "fashion.cnn_pooling", "fashion.cnn_kernels", "fashion.cnn_init", "fashion.cnn_mlp"):
        for budget in ("smoke", "standard", "full"):
            cfg = registry.get(name).config(budget)
            assert len(conv_layers(fashion_cnn.model_from(cfg))) == 5, (name, budget)


def test_standard_cnn_is_the_tuned_one():
    cfg = registry.get("fashion.cnn").config("standard")
    model = fashion_cnn.model_from(cfg)
    assert model.widths == (16, 32, 32, 64, 64) and cfg.epochs == 24 and cfg.tta_flip
    assert len(cfg.seeds) >= 3


def test_resnet50_adapted_to_28px_grey():
    model = resnet.resnet50_small_images(10, 1, stem_pool=False).eval()
    assert model.conv1.in_channels == 1 and model.conv1.stride == (1, 1) and model.conv1.kernel_size == (3, 3)
    assert isinstance(model.maxpool, nn.Identity)
    assert model.fc.out_features == 10 and model.fc.in_features == 2048
    assert len(conv_layers(model)) == 53  # torchvision's 49 + 4 projection shortcuts: the stages are untouched
    feats = {}
    model.layer4.register_forward_hook(lambda m, i, o: feats.update(layer4=o.shape))  # returns None
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert feats["layer4"] == (2, 2048, 4, 4)  # stages at 28, 14, 7, 4 px
    pooled = resnet.resnet50_small_images(10, 1, stem_pool=True)
    assert isinstance(pooled.maxpool, nn.MaxPool2d)


def test_resnet_weights_download_failure_is_a_clear_error(monkeypatch):
    import torchvision.models

    def offline(weights=None):
        if weights is not None:
            raise urllib.error.URLError("no network")
        return torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [3, 4, 6, 3])

    monkeypatch.setattr(torchvision.models, "resnet50", offline)
    with pytest.raises(resnet.PretrainedWeightsUnavailable, match="could not be loaded.*checkpoints"):
        resnet.resnet50_small_images(10, 1, weights="imagenet")
    with pytest.raises(ValueError):
        resnet.resnet50_small_images(10, 1, weights="imagenet21k")


def test_per_sample_dataset_serves_the_same_images_as_the_tensor():
    x, y = torch.randn(6, 1, 28, 28), torch.arange(6)
    ds = fashion_cnn.PerSampleDataset(x, y)
    xi, yi = ds[4]
    torch.testing.assert_close(xi, x[4])
    assert int(yi) == 4 and len(ds) == 6


def test_speed_variants_add_one_lever_each():
    names = [n for n, _ in fashion_cnn.SPEED_VARIANTS]
    assert len(set(names)) == len(names)
    first = fashion_cnn.SPEED_VARIANTS[0][1]
    assert first == {"loader": "per_sample", "channels_last": False, "batch_size": 64, "amp_bf16": "off"}
    assert all(len(delta) == 1 for _, delta in fashion_cnn.SPEED_VARIANTS[1:])


def test_time_to_accuracy_is_the_first_epoch_reaching_the_target():
    history = [{"test_acc": 0.90, "train_seconds": 10.0}, {"test_acc": 0.931, "train_seconds": 21.0},
               {"test_acc": 0.925, "train_seconds": 30.0}, {"test_acc": 0.94, "train_seconds": 41.0}]
    assert time_to_accuracy(history, 0.930) == 21.0
    assert np.isnan(time_to_accuracy(history, 0.95))


def test_standardize_features_uses_training_statistics():
    train = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    test = np.array([[2.0, 7.0]], dtype=np.float32)
    tr, te = fashion_cnn_mlp.standardize_features(train, test)
    np.testing.assert_allclose(tr, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(te, [[0.0, 2.0]])  # constant feature: std 1 instead of 0


def test_embed_all_matches_the_model_without_head():
    torch.manual_seed(1)
    model = CNN5(filters="4,4,8,8,8").eval()
    x = torch.randn(7, 1, 28, 28)
    feats = fashion_cnn_mlp.embed_all(model, x, batch=3)
    assert feats.shape == (7, model.embed_dim)
    with torch.no_grad():
        np.testing.assert_allclose(model.head(torch.from_numpy(feats)).numpy(), model(x).numpy(), atol=1e-5)


def test_matmul_flops_is_positive_and_finite():
    flops = matmul_flops(n=128, repeats=2)
    assert np.isfinite(flops) and flops > 1e6
