import gzip
from pathlib import Path

import numpy as np
import pytest

from dl_assign import data
from dl_assign.data import DatasetCorrupt, DatasetMissing, fashion, ip102


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip_and_corruption():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(fashion.read_idx_bytes(_idx(arr)), arr)
    with pytest.raises(DatasetCorrupt, match="magic"):
        fashion.read_idx_bytes(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(DatasetCorrupt, match="bytes"):
        fashion.read_idx_bytes(_idx(arr)[:-1])


def test_md5_mismatch_names_the_file(tmp_path):
    for stem, _ in fashion.FILES.values():
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx(np.zeros((2, 2), np.uint8))))
    with pytest.raises(DatasetCorrupt, match=r"train-images-idx3-ubyte\.gz: md5"):
        fashion.load_raw(str(tmp_path))


def test_missing_dataset_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(DatasetMissing) as err:
        fashion.locate()
    message = str(err.value)
    assert str(tmp_path / "nowhere" / "fashion-mnist") in message
    assert "apt-get install dataset-fashion-mnist" in message
    status = fashion.status()
    assert not status.found and "apt-get" in status.how_to_get
    with pytest.raises(DatasetMissing, match="ip102_v1.1"):
        ip102.locate()


def test_fashion_seeds_split_is_stratified_disjoint_and_seeded(need_data):
    need_data("fashion-mnist")
    d = fashion.load_splits("seeds", split_seed=0)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (56000, 7000, 7000)
    assert np.bincount(d.y_train).tolist() == [5600] * 10
    assert np.bincount(d.y_test).tolist() == [700] * 10
    assert d.x_train.dtype == np.float32 and d.x_train.min() >= 0 and d.x_train.max() <= 1
    # disjoint: no test image row equals a training row at the same position hash
    train_rows = {row.tobytes() for row in (d.x_train[:5000] * 255).astype(np.uint8)}
    assert sum(row.tobytes() in train_rows for row in (d.x_test * 255).astype(np.uint8)) < 20  # only true duplicates
    again = fashion.load_splits("seeds", split_seed=0, train_limit=1000)
    other = fashion.load_splits("seeds", split_seed=1, train_limit=1000)
    assert np.bincount(again.y_train).tolist() == [100] * 10
    assert not np.array_equal(again.x_train, other.x_train)
    np.testing.assert_array_equal(again.x_test, d.x_test)
    official = fashion.load_splits("official")
    assert (len(official.y_train), len(official.y_val), len(official.y_test)) == (54000, 6000, 10000)
    assert d.info["identity"].startswith("md5")


def _make_ip102(root: Path, n_per_class=3, classes=("ant", "bee")) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    rng = np.random.default_rng(0)
    lines = {s: [] for s in ip102.SPLITS}
    k = 0
    for label in range(len(classes)):
        for split in ip102.SPLITS:
            for _ in range(n_per_class):
                name = f"{k:05d}.jpg"
                Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(root / "images" / name)
                lines[split].append(f"{name} {label}")
                k += 1
    for split, rows in lines.items():
        (root / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root


def test_ip102_loader_reads_layout_and_transforms(tmp_path):
    root = _make_ip102(tmp_path / "ip102_v1.1")
    ds = ip102.IP102Dataset(root, "train", transform=lambda im: np.asarray(im).shape)
    assert ds.classes == ["ant", "bee"] and len(ds) == 6
    shape, label = ds[4]
    assert shape == (20, 24, 3) and label == 1
    assert ds.targets == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("bad_line, match", [
    ("99999.jpg 0", "does not exist"),
    ("00000.jpg 7", "out of range"),
    ("00000.jpg", "expected '<file> <label>'"),
])
def test_ip102_bad_split_lines_are_named(tmp_path, bad_line, match):
    root = _make_ip102(tmp_path / "ip102_v1.1")
    with open(root / "val.txt", "a") as fh:
        fh.write(bad_line + "\n")
    with pytest.raises(DatasetCorrupt, match=match) as err:
        ip102.IP102Dataset(root, "val")
    assert "val.txt:7" in str(err.value)


def test_ip102_unreadable_image_is_named(tmp_path):
    root = _make_ip102(tmp_path / "ip102_v1.1")
    (root / "images" / "00000.jpg").write_bytes(b"not a jpeg")
    ds = ip102.IP102Dataset(root, "train")
    with pytest.raises(DatasetCorrupt, match="00000.jpg: unreadable image"):
        ds[0]


def test_ip102_found_through_the_data_root(tmp_path, monkeypatch):
    _make_ip102(tmp_path / "ip102_v1.1")
    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path))
    assert ip102.locate() == tmp_path / "ip102_v1.1"
    st = ip102.status()
    assert st.found and "2 classes" in st.size and "6/6/6" in st.size


def test_real_pests14(need_data):
    need_data("ip102")
    root = ip102.locate()
    assert len(ip102.read_classes(root)) == 14
    assert [len(ip102.IP102Dataset(root, s)) for s in ip102.SPLITS] == [6300, 700, 700]


def test_status_table_covers_every_dataset():
    names = [s.name for s in data.status()]
    assert {"fashion-mnist", "ip102"} <= set(names)


def test_one_training_transform_serves_every_family():
    import torch

    from dl_assign.data import augment
    from dl_assign.experiments.faces import common as fc
    from dl_assign.experiments.imagenet import common as ic
    from dl_assign.experiments.pests import tensors as pt

    x = torch.randint(0, 256, (6, 3, 20, 20), dtype=torch.uint8)
    torch.manual_seed(0)
    shared = augment.train_transform("shift", pad=3)(x)
    for family in (lambda: fc.train_transform("shift", pad=3), lambda: pt.train_transform("shift", pad=3),
                   lambda: ic.train_transform("crop", pad=3)):
        torch.manual_seed(0)
        assert torch.equal(family()(x), shared)  # the same transform under each family's name
    assert torch.equal(augment.train_transform("none", pad=0)(x), augment.Normalize()(x))
    with pytest.raises(ValueError, match="unknown augment 'shift'; choose crop, flip or none"):
        ic.train_transform("shift", pad=3)
