"""The pests frozen-trunk cache: its key is a content hash (a changed image, label or resolution is a miss),
a hit (memory or disk) does not run the trunk again, the cached outputs equal the trunk run directly, the
mirrored test view is the trunk on mirrored images, and the transfer curve's frozen blocks on cached
outputs equal the trunk cut deeper."""

import dataclasses

import pytest
import torch

from dl_assign.experiments.pests import common as pc
from dl_assign.experiments.pests import transfer_curve as tc
from dl_assign.models import backbones as B


def _images(n=4, size=32, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def bb():
    """MobileNetV2 from random init, marked cacheable (a pretrained trunk is; no weights download in tests)."""
    torch.manual_seed(0)
    return dataclasses.replace(B.backbone("mobilenet_v2", pretrained=False), pretrained=True)


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty memory cache and an empty $DL_ASSIGN_CACHE; counts the trunk passes."""
    monkeypatch.setattr(pc, "_MEMORY", type(pc._MEMORY)())
    monkeypatch.setenv("DL_ASSIGN_CACHE", str(tmp_path))
    calls = []
    real = pc.frozen_features

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pc, "frozen_features", counted)
    return calls


def _splits(images):
    s = pc.Split(images, torch.arange(len(images)) % 2)
    return {"train": s, "val": s, "test": s}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative difference: a random-init trunk's deep activations are ~1e-7, so absolute tolerances say nothing."""
    return float((a - b).norm() / b.norm())


def _key(bb, splits, size=64, n_frozen=16):
    return pc._key(bb, n_frozen, pc.prep_at(bb.preprocessing, size), 1, splits, "test", False)


def test_content_hash_changes_with_one_pixel_a_label_or_the_resolution(bb):
    images = _images()
    key = _key(bb, _splits(images))
    assert _key(bb, _splits(images.clone())) == key  # same content, another tensor: the same key
    changed = images.clone()
    changed[2, 1, 5, 7] ^= 1  # one bit of one pixel
    assert _key(bb, _splits(changed)) != key
    relabelled = _splits(images) | {"test": pc.Split(images, torch.tensor([1, 1, 0, 0]))}
    assert _key(bb, relabelled) != key
    assert _key(bb, _splits(images), size=96) != key
    assert _key(bb, _splits(images), n_frozen=15) != key
    as_list = pc.Split(list(images), torch.arange(4) % 2)  # different-size images come as a list
    assert pc.content_hash(as_list) == pc.content_hash(pc.Split(images, torch.arange(4) % 2))


def test_a_hit_does_not_run_the_trunk_and_a_changed_image_does(bb, fresh, tmp_path):
    n, prep = 16, pc.prep_at(bb.preprocessing, 64)
    images = _images()
    first = pc.feature_cache(bb, n, prep, _splits(images), views=2, identity="test", disk=True, test_flip=True)
    passes = len(fresh)
    assert first.source == "computed" and passes == 2 + 1 + 1 + 1  # 2 train views, val, test, mirrored test
    again = pc.feature_cache(bb, n, prep, _splits(images.clone()), views=2, identity="test", disk=True,
                             test_flip=True)
    assert again.source == "memory" and len(fresh) == passes
    pc._MEMORY.clear()  # a new process: the disk copy answers
    disk = pc.feature_cache(bb, n, prep, _splits(images), views=2, identity="test", disk=True, test_flip=True)
    assert disk.source == "disk" and len(fresh) == passes
    assert torch.equal(disk.test, first.test) and torch.equal(disk.test_flip, first.test_flip)
    assert len(list((tmp_path / "pests").glob("*.pt"))) == 1
    changed = images.clone()
    changed[0, 0, 0, 0] ^= 1
    miss = pc.feature_cache(bb, n, prep, _splits(changed), views=2, identity="test", disk=True, test_flip=True)
    assert miss.source == "computed" and len(fresh) == 2 * passes and miss.key != first.key


def test_cached_outputs_equal_the_trunk_run_directly(bb, fresh):
    n, prep = 5, pc.prep_at(bb.preprocessing, 48)
    images = _images(3)
    feats = pc.feature_cache(bb, n, prep, _splits(images), views=2, identity="test", test_flip=True)
    bb.trunk.eval()
    with torch.no_grad():
        direct = bb.trunk.run(B.preprocess(images, prep), 0, n)
        mirrored = bb.trunk.run(B.preprocess(images.flip(-1), prep), 0, n)
    assert direct.abs().max() > 0  # (small: random init; the comparisons below are relative)
    assert _rel(feats.test, direct) < 1e-5 and _rel(feats.train[:, 0], direct) < 1e-5
    assert _rel(feats.test_flip, mirrored) < 1e-5 and _rel(feats.train[:, 1], mirrored) < 1e-5
    assert _rel(direct, mirrored) > 0.05  # the mirror is really another input


def test_curve_deepens_cached_outputs_to_the_trunk_cut_deeper(bb):
    prep = pc.prep_at(bb.preprocessing, 48)
    x = B.preprocess(_images(3), prep)
    bb.trunk.eval()
    with torch.no_grad():
        h = bb.trunk.run(x, 0, 3)
        two_views = torch.stack([h, h.flip(-1)], dim=1)  # (N, K, C, h, w)
        assert _rel(tc.deepen(bb.trunk, h, 3, 6), bb.trunk.run(x, 0, 6)) < 1e-5
        deep = tc.deepen(bb.trunk, two_views, 3, 19)  # to the end: pooled (N, K, D)
        assert deep.shape == (3, 2, bb.feature_dim)
        assert _rel(deep[:, 0], bb.trunk.run(x)) < 1e-4
        assert _rel(deep[:, 1], deep[:, 0]) > 1e-3  # the second view went through on its own
    assert tc.deepen(bb.trunk, h, 3, 3) is h


def test_curve_point_errors_are_clear():
    assert tc.parse_point("efficientnet_lite2@260") == ("efficientnet_lite2", 260)
    for bad in ("efficientnet_lite2", "nonet@224", "mobilenet_v2@big"):
        with pytest.raises(ValueError, match="backbone@pixels"):
            tc.parse_point(bad)
