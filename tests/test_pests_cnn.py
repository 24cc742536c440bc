"""The from-scratch pest CNN's data path: uint8 split tensors, batch-wise augmentation, the recipe study's choice."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dl_assign.data import ip102
from dl_assign.data.augment import RandomResizedCropFlip
from dl_assign.experiments.pests import cnn_study
from dl_assign.experiments.pests import tensors as pt

# --- batch augmentation -------------------------------------------------------------------------


def test_random_resized_crop_keeps_shape_dtype_and_is_seeded():
    x = torch.rand(8, 3, 32, 40)
    aug = RandomResizedCropFlip(scale=(0.3, 1.0))
    a = aug(x, torch.Generator().manual_seed(3))
    b = aug(x, torch.Generator().manual_seed(3))
    c = aug(x, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    torch.manual_seed(5)  # the global RNG (what training uses) is as reproducible
    d = aug(x)
    torch.manual_seed(5)
    assert torch.equal(d, aug(x))


def test_full_crop_is_the_image_or_its_mirror():
    x = torch.rand(16, 3, 24, 24)
    same = RandomResizedCropFlip(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False)(x)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    out = RandomResizedCropFlip(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=True)(x, torch.Generator().manual_seed(0))
    plain = (out - x).abs().amax((1, 2, 3)) < 1e-5
    mirrored = (out - x.flip(3)).abs().amax((1, 2, 3)) < 1e-5
    assert bool((plain | mirrored).all())
    assert 0 < int(mirrored.sum()) < 16  # both happen in 16 draws at p = 1/2 (seed 0: not all the same)


def test_quarter_area_crop_magnifies_a_ramp_twice():
    # x[..., j] = j: a square crop of a quarter of the area spans half the width, resized back to the full
    # width, so neighbouring output pixels differ by 0.5 (bilinear resampling is exact on a linear ramp)
    w = 32
    x = torch.arange(w, dtype=torch.float32).expand(4, 1, w, w).clone()
    out = RandomResizedCropFlip(scale=(0.25, 0.25), ratio=(1.0, 1.0), flip=False)(x, torch.Generator().manual_seed(1))
    step = (out[..., 1:] - out[..., :-1])[..., 1:-1]  # the outermost pixels may sample the clamped border
    torch.testing.assert_close(step, torch.full_like(step, 0.5), atol=1e-4, rtol=0)
    assert float(out.min()) >= 0 and float(out.max()) <= w - 1  # the crop stays inside the image


def test_crop_values_stay_within_the_input_range():
    x = torch.rand(32, 3, 16, 16) * 4 - 2
    out = RandomResizedCropFlip(scale=(0.05, 1.0), ratio=(0.5, 2.0))(x, torch.Generator().manual_seed(2))
    lo, hi = x.amin((1, 2, 3)), x.amax((1, 2, 3))
    assert bool((out.amin((1, 2, 3)) >= lo - 1e-5).all() and (out.amax((1, 2, 3)) <= hi + 1e-5).all())


def test_crop_refuses_bad_arguments():
    with pytest.raises(TypeError, match="float"):
        RandomResizedCropFlip()(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCropFlip(scale=(0.9, 0.5))
    with pytest.raises(ValueError, match="ratio"):
        RandomResizedCropFlip(ratio=(0.0, 1.0))


def test_normalize_maps_uint8_to_standardised_float():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 2, 2)
    out = pt.Normalize()(x)
    mean, std = torch.tensor(pt.IMAGENET_MEAN), torch.tensor(pt.IMAGENET_STD)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[0, :, 0, 0], -mean / std)
    torch.testing.assert_close(out[1, :, 0, 0], (1 - mean) / std)


@pytest.mark.parametrize("augment", ["rrc", "shift", "flip", "none"])
def test_train_transforms_keep_shape_and_give_float(augment):
    x = torch.randint(0, 256, (6, 3, 20, 20), dtype=torch.uint8)
    torch.manual_seed(0)
    out = pt.train_transform(augment)(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    if augment == "none":
        torch.testing.assert_close(out, pt.Normalize()(x))


def test_unknown_augment_is_refused():
    with pytest.raises(ValueError, match="rrc, shift, flip or none"):
        pt.train_transform("mixup")


# --- the split tensors ---------------------------------------------------------------------------


def _make_ip102(root: Path, size=(40, 30), n=4, classes=("ant", "bee")) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    rng = np.random.default_rng(0)
    k = 0
    for split in ip102.SPLITS:
        rows = []
        for i in range(n):
            name = f"{k:05d}.png"  # lossless: the decoded pixels are the written ones
            Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(root / "images" / name)
            rows.append(f"{name} {i % len(classes)}")
            k += 1
        (root / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root


def test_tensors_equal_the_decoded_images(tmp_path):
    root = _make_ip102(tmp_path / "ip102_v1.1", size=(16, 16))
    data = pt.load(root, 16)
    ds = ip102.IP102Dataset(root, "val")
    assert data.x_val.shape == (4, 3, 16, 16) and data.x_val.dtype == torch.uint8
    assert data.y_val.tolist() == ds.targets and data.classes == ["ant", "bee"]
    for i in range(len(ds)):
        expect = torch.from_numpy(np.array(ds.load_image(i))).permute(2, 0, 1)
        assert torch.equal(data.x_val[i], expect)


def test_other_sizes_are_resized_and_centre_cropped(tmp_path):
    from torchvision.transforms.v2 import functional as F

    root = _make_ip102(tmp_path / "ip102_v1.1", size=(40, 30))  # 40 wide, 30 high
    data = pt.load(root, 12)
    assert data.x_train.shape == (4, 3, 12, 12)
    img = F.pil_to_tensor(ip102.IP102Dataset(root, "train").load_image(2))
    assert torch.equal(data.x_train[2], F.center_crop(F.resize(img, 12, antialias=True), [12, 12]))


def test_train_limit_is_a_seeded_subset(tmp_path):
    root = _make_ip102(tmp_path / "ip102_v1.1", size=(8, 8), n=10)
    full = pt.load(root, 8)
    a, b = pt.load(root, 8, train_limit=5, seed=0), pt.load(root, 8, train_limit=5, seed=0)
    assert len(a.y_train) == 5 and torch.equal(a.x_train, b.x_train)
    rows = {tuple(x.flatten().tolist()): int(y) for x, y in zip(full.x_train, full.y_train)}
    assert all(rows[tuple(x.flatten().tolist())] == int(y) for x, y in zip(a.x_train, a.y_train))
    others = [pt.load(root, 8, train_limit=5, seed=s).x_train for s in range(1, 6)]
    assert any(not torch.equal(o, a.x_train) for o in others)
    assert torch.equal(a.x_val, full.x_val)  # val and test are never cut


def test_train_loader_is_deterministic_per_seed(tmp_path):
    root = _make_ip102(tmp_path / "ip102_v1.1", size=(8, 8), n=10)
    data = pt.load(root, 8)

    def epoch(seed):
        torch.manual_seed(seed)
        loader = pt.train_loader(data, 4, seed, "rrc")
        return [(xb, yb) for xb, yb in loader]

    a, b, c = epoch(0), epoch(0), epoch(1)
    assert len(a) == 2  # drop_last: 10 images, batches of 4
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_real_pests14_tensors_match_the_stored_evaluation_transform(need_data):
    """The tensors the CNN trains and is tested on = the PIL evaluation transform the model store records."""
    need_data("ip102")
    from dl_assign.experiments.pests import cnn

    root = ip102.locate()
    data = pt.load(root, 64)
    assert data.x_train.shape == (6300, 3, 64, 64) and data.x_val.shape[0] == data.x_test.shape[0] == 700
    assert data.x_train.dtype == torch.uint8 and int(data.y_train.max()) == len(data.classes) - 1 == 13
    ds = ip102.IP102Dataset(root, "test", cnn.transforms(64, False))
    xb, yb = next(iter(pt.eval_loader(data.x_test, data.y_test, batch_size=8)))
    for i in range(8):
        image, label = ds[i]
        torch.testing.assert_close(xb[i], image, atol=1e-5, rtol=0)
        assert int(yb[i]) == label


# --- the study's choice ---------------------------------------------------------------------------


def _screen(val: dict, seconds: float = 50.0) -> dict:
    return {f"{c}/{k}": v for c, acc in val.items() for k, v in (("val_accuracy", acc), ("train_seconds", seconds))}


def test_combined_takes_the_best_architecture_and_the_best_augmentation():
    cfg = cnn_study.CNNStudyConfig()
    metrics = _screen({"old recipe": 0.40, "flip only": 0.43, "shift 4px + flip": 0.41, "wide 32-256": 0.42,
                       "deep 16-128 x2": 0.45})
    label, changes = cnn_study.combine(cfg, metrics)
    assert label == "deep 16-128 x2 + flip only"
    assert changes == {"widths": (16, 32, 64, 128), "convs_per_stage": 2, "augment": "flip"}


def test_combined_skips_architectures_too_slow_for_a_standard_seed():
    cfg = cnn_study.CNNStudyConfig(seed_budget_s=240.0)
    metrics = _screen({"old recipe": 0.40, "flip only": 0.39, "shift 4px + flip": 0.38, "wide 32-256": 0.42})
    metrics |= _screen({"deep 16-128 x2": 0.45}, seconds=130.0)  # x2 epochs = 260 s > 240 s
    label, changes = cnn_study.combine(cfg, metrics)
    assert label == "wide 32-256" and changes == {"widths": (32, 64, 128, 256)}


def test_study_table_marks_the_best_cell():
    metrics = {f"{c}/{k}": {"mean": v, "std": 0.0, "values": [v]}
               for c, v in (("a", 0.3), ("b", 0.5)) for k in ("val_accuracy", "train_seconds")}
    text = pt.study_markdown({"a": "cell A", "b": "cell B"}, metrics)
    assert "| cell B | 0.5000 |" in text and "Best on validation: **cell B** (0.5000, 1 seed)" in text
