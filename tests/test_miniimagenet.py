"""The mini-ImageNet loader (mini-imagenet-tools layout) on a small tree the test writes: the class-disjoint CSVs
are pooled and every class split seeded 80/10/10; images decoded, resized and centre-cropped; bad trees named."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dl_assign.data import DatasetCorrupt, DatasetMissing, miniimagenet

CLASSES = {"train.csv": ("n01", "n02"), "val.csv": ("n03",), "test.csv": ("n04",)}  # class-disjoint, as released


def _make_mini(root: Path, per_class: int = 20) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    for csv_name, wnids in CLASSES.items():
        rows = ["filename,label"]
        for wnid in wnids:
            level = 50 * int(wnid[1:])  # every image of a class has one grey level: labels checkable from pixels
            for i in range(per_class):
                name = f"{wnid}{i:08d}.jpg"
                img = np.full((84, 100, 3), level, np.uint8)
                img[:, :8] = 0  # a dark left border the centre crop of the 100-px-wide image removes
                Image.fromarray(img).save(root / "images" / name, quality=95)
                rows.append(f"{name},{wnid}")
        (root / csv_name).write_text("\n".join(rows) + "\n")
    (root / "words.txt").write_text("n01\thouse finch, linnet\n")
    return root


def test_pooled_classes_split_80_10_10_per_class(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path))
    with pytest.raises(DatasetMissing, match="mini-imagenet"):
        miniimagenet.locate()
    root = _make_mini(tmp_path / "mini-imagenet")
    assert miniimagenet.locate() == root
    d = miniimagenet.load_splits(size=64, split_seed=0)
    assert d.wnids == ["n01", "n02", "n03", "n04"] and d.names == ["house finch", "n02", "n03", "n04"]
    assert {k: tuple(v.shape) for k, v in d.x.items()} == {"train": (64, 3, 64, 64), "val": (8, 3, 64, 64),
                                                          "test": (8, 3, 64, 64)}
    for split in ("train", "val", "test"):
        assert np.bincount(d.y[split].numpy()).tolist() == [len(d.y[split]) // 4] * 4  # every class in every split
        level = d.x[split].float().mean((1, 2, 3))  # grey level 50 (c + 1), JPEG-rounded, no dark border left
        assert torch.allclose(level, 50.0 * (d.y[split].float() + 1), atol=3)
    files = [set(v) for v in d.files.values()]
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    assert sum(map(len, files)) == 80
    other = miniimagenet.load_splits(root, size=64, split_seed=1)
    assert other.files["test"] != d.files["test"]
    assert miniimagenet.load_splits(root, size=64, split_seed=0).files == d.files


def test_600_images_a_class_give_480_60_60():
    parts = miniimagenet.split_items(np.repeat(np.arange(3), 600), seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [1440, 180, 180]


@pytest.mark.parametrize("edit, match", [("header", "expected the header"), ("missing", "does not exist"),
                                         ("twice", "listed twice"), ("columns", "expected '<filename>,<wnid>'")])
def test_bad_trees_are_named(tmp_path, edit, match):
    root = _make_mini(tmp_path / "m", per_class=2)
    lines = (root / "val.csv").read_text().splitlines()
    if edit == "header":
        lines[0] = "file,class"
    elif edit == "missing":
        lines.append("n99.jpg,n03")
    elif edit == "twice":
        lines.append(lines[1])
    else:
        lines.append("n03x.jpg")
    (root / "val.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetCorrupt, match=match):
        miniimagenet.read_items(root)


def test_dl_assign_data_row(tmp_path, monkeypatch):
    from dl_assign.data import miniimagenet, status

    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path))
    missing = miniimagenet.status()
    assert not missing.found and "mini-imagenet-tools" in missing.how_to_get
    _make_mini(tmp_path / "mini-imagenet")
    row = next(s for s in status() if s.name == "mini-imagenet")
    assert row.found and row.location == str(tmp_path / "mini-imagenet")
    n = len(miniimagenet.read_items(tmp_path / "mini-imagenet"))
    assert f"{n:,} images" in row.size
