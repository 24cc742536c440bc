"""imagenet.*: the Tiny-ImageNet train split as tensors (seeded 90/10, disk cache), the configurable CNN and its
store builder, the study's cells, the error explanations on hand-made inputs, and every experiment on real data
(skipped without Tiny-ImageNet; CI fails)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dl_assign import registry, store
from dl_assign.data import DatasetCorrupt, DatasetMissing, tinyimagenet
from dl_assign.experiments.imagenet import cnn_best, cnn_study
from dl_assign.experiments.imagenet import common as ic
from dl_assign.models.cnn5 import count_flops_per_image
from dl_assign.models.imagenet_cnn import ImageNetCNN

WNIDS = ("n001", "n002", "n003")


def _make_tiny(root: Path, per_class: int = 10, n_val: int = 2) -> Path:
    """A Tiny-ImageNet tree: 3 classes, ``per_class`` train images each (class c is grey level 40 c + i), val too."""
    from PIL import Image

    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (root / "words.txt").write_text("n001\ttabby, tabby cat\nn002\tEgyptian cat\nn003\tbarrel, cask\n")
    lines = []
    for c, wnid in enumerate(WNIDS):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        boxes = []
        for i in range(per_class):
            Image.fromarray(np.full((64, 64, 3), 40 * c + i, np.uint8)).save(folder / f"{wnid}_{i}.png")
            boxes.append(f"{wnid}_{i}.png\t{i}\t0\t{i + 10}\t20")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("\n".join(boxes) + "\n")
        for i in range(n_val):
            name = f"val_{c}_{i}.png"
            Image.fromarray(np.full((64, 64, 3), 200 + c, np.uint8)).save(root / "val" / "images" / name)
            lines.append(f"{name}\t{wnid}\t0\t0\t31\t31")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


# --- the data -------------------------------------------------------------------------------------


def test_train_split_is_read_split_90_10_and_decoded(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_CACHE", str(tmp_path / "cache"))
    root = _make_tiny(tmp_path / "tiny-imagenet-200")
    items = tinyimagenet.read_train(root)
    assert len(items) == 30 and items[0].file == "n001/images/n001_0.png" and items[3].box == (3, 0, 13, 20)
    assert tinyimagenet.read_names(root)["n001"] == ["tabby", "tabby cat"]
    d = tinyimagenet.load_splits(root, split_seed=0)
    assert {k: tuple(v.shape) for k, v in d.x.items()} == {"train": (27, 3, 64, 64), "val": (3, 3, 64, 64),
                                                          "test": (6, 3, 64, 64)}
    assert d.x["train"].dtype == torch.uint8 and d.source == "computed"
    for split in ("train", "val"):  # each image's grey level says its class: labels match pixels
        assert torch.equal(d.x[split][:, 0, 0, 0].long() // 40, d.y[split])
    assert d.y["val"].tolist() == [0, 1, 2]  # one validation image per class (10% of 10)
    assert set(d.files["train"]).isdisjoint(d.files["val"])
    assert d.names == ["tabby", "Egyptian cat", "barrel"] and d.wnids == list(WNIDS)
    assert d.boxes["test"].tolist()[0] == [0, 0, 31, 31]
    again = tinyimagenet.load_splits(root, split_seed=0)
    assert again.files == d.files and again.source == "memory"
    other = tinyimagenet.load_splits(root, split_seed=1)
    assert other.files["val"] != d.files["val"]  # the split depends on the seed
    tinyimagenet._MEMORY.clear()
    disk = tinyimagenet.load_splits(root, split_seed=0)
    assert disk.source == "disk" and all(torch.equal(disk.x[k], d.x[k]) for k in d.x)
    small = tinyimagenet.load_splits(root, split_seed=0, train_per_class=2, test_per_class=1)
    assert small.y["train"].tolist() == [0, 0, 1, 1, 2, 2] and len(small.y["test"]) == 3


def test_split_train_is_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 500)
    tr, va = tinyimagenet.split_train(labels, 3)
    assert len(tr) == 1800 and len(va) == 200 and np.bincount(labels[va]).tolist() == [50] * 4
    assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == 2000
    tr2, va2 = tinyimagenet.split_train(labels, 3)
    assert np.array_equal(va, va2) and not np.array_equal(va, tinyimagenet.split_train(labels, 4)[1])


def test_a_val_only_tree_still_serves_the_boxes_but_not_the_classifiers(tmp_path):
    root = _make_tiny(tmp_path / "t")
    import shutil

    shutil.rmtree(root / "train")
    assert len(tinyimagenet.read_val_boxes(root)) == 6  # the segmentation experiment's API is unchanged
    with pytest.raises(DatasetMissing, match="train"):
        tinyimagenet.read_train(root)


@pytest.mark.parametrize("line, match", [("n001_0.png\t0\t0\t64\t5", "outside"), ("n001_0.png\t0\t0", "expected"),
                                         ("n001_99.png\t0\t0\t5\t5", "does not exist")])
def test_bad_train_box_lines_are_named(tmp_path, line, match):
    root = _make_tiny(tmp_path / "t")
    (root / "train" / "n001" / "n001_boxes.txt").write_text(line + "\n")
    with pytest.raises(DatasetCorrupt, match=f"n001_boxes.txt:1: .*{match}"):
        tinyimagenet.read_train(root)


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, conv, fc", [({}, 4, 1), ({"convs_per_stage": 2}, 8, 1), ({"fc_widths": (64, 32)}, 4, 3),
                                          ({"widths": (8, 16), "pool": (True, False)}, 2, 1)])
def test_cnn_layer_counts_and_output(kw, conv, fc):
    kw = {"widths": (8, 16, 16, 32), "pool": (True,) * 4} | kw
    model = ImageNetCNN(7, **kw)
    assert (model.conv_layers, model.fc_layers) == (conv, fc)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_no_pooling_reduces_the_map_as_much_by_strides():
    pooled = ImageNetCNN(5, (8, 16, 32), pool=(True, True, True), stride=2)
    strided = ImageNetCNN(5, (8, 16, 32), pool=(False, False, False), stride=2)
    x = torch.randn(1, 3, 64, 64)
    assert pooled.features(x).shape == (1, 32, 4, 4)
    assert strided.features(x).shape == (1, 32, 8, 8)  # two strided convs; the last stage's map goes to the avg pool
    f_pool = count_flops_per_image(pooled, (3, 64, 64))
    f_stride = count_flops_per_image(strided, (3, 64, 64))
    assert f_stride["conv"] == f_pool["conv"]  # every conv runs on a map of the same size either way
    assert ImageNetCNN(5, (8,), pool=(True,), stride=1).features(x).shape == (1, 8, 32, 32)
    with pytest.raises(ValueError, match="pool has 2 entries"):
        ImageNetCNN(5, (8, 16, 32), pool=(True, True))


def test_stored_cnn_rebuilds_with_the_same_outputs():
    cfg = ic.ImageNetConfig(widths=(8, 16), pool=(True, False), fc_widths=(12,), convs_per_stage=2)
    model = ic.build_model(cfg, 4).eval()
    kwargs = ic.model_kwargs(cfg, 4)
    info = store.save(model, task="imagenet.tiny100", name="cnn", builder="imagenet_cnn", builder_kwargs=kwargs,
                      classes="abcd", preprocessing=ic.preprocessing(), metrics={"test_accuracy": 0.3},
                      experiment="imagenet.cnn_best", budget="smoke", seed=0)
    store.save(model, task="imagenet.tiny100", name="cnn", builder="imagenet_cnn", builder_kwargs=kwargs,
               classes="abcd", preprocessing=ic.preprocessing(), metrics={"test_accuracy": 0.1},
               experiment="imagenet.cnn_best", budget="smoke", seed=1)
    loaded, meta = store.load("imagenet.tiny100", "cnn", info.version)
    x = torch.randn(3, 3, 64, 64)
    torch.testing.assert_close(loaded(x), model(x))
    best = ic.best_stored("imagenet.tiny100")  # the better seed, not the latest version
    assert best["version"] == info.version and best["test_accuracy"] == pytest.approx(0.3)
    by_val = store.save(model, task="imagenet.tiny100", name="cnn", builder="imagenet_cnn", builder_kwargs=kwargs,
                        classes="abcd", preprocessing=ic.preprocessing(),
                        metrics={"test_accuracy": 0.05, "val_accuracy": 0.2}, experiment="imagenet.cnn_best",
                        budget="smoke", seed=2)
    assert ic.best_stored("imagenet.tiny100")["version"] == by_val.version  # chosen on validation, never on test
    assert ic.best_stored("imagenet.tiny200") is None


# --- the study ------------------------------------------------------------------------------------


def test_every_study_cell_changes_what_its_name_says():
    cfg = cnn_study.CNNStudyConfig()
    base = ic.build_model(cfg, 10)
    for key, (factor, _, _) in cnn_study.CELLS.items():
        model = ic.build_model(cnn_study.cell_config(cfg, key), 10)
        c = cnn_study.cell_config(cfg, key)
        if factor == "conv layers":
            assert model.conv_layers != base.conv_layers
        elif factor == "FC layers":
            assert model.fc_layers != base.fc_layers
        elif factor == "filters":
            assert c.widths != cfg.widths and model.conv_layers == base.conv_layers
        elif factor == "max pooling":
            assert c.pool != cfg.pool
        elif factor == "epochs":
            assert c.epochs != cfg.epochs
        elif factor == "stride":
            assert c.stride != cfg.stride
        elif factor == "depth x epochs":
            assert c.epochs == 2 * cfg.epochs and model.conv_layers != base.conv_layers
    assert set(cnn_study.FACTORIAL.values()) | set(cnn_study.LENGTH_FACTORIAL.values()) <= set(cnn_study.CELLS)
    assert {f for f, _, _ in cnn_study.CELLS.values()} >= set(cnn_study.FACTORS)


def test_unknown_cell_is_refused_in_one_line():
    from dl_assign.config import ConfigError

    with pytest.raises(ConfigError, match="epochs"):
        registry.get("imagenet.cnn_study").config("smoke", ["epochs=0"])


# --- error explanations ---------------------------------------------------------------------------


def test_error_analysis_on_hand_made_images():
    x = torch.zeros(8, 3, 64, 64, dtype=torch.uint8)
    x[:4] = torch.randint(0, 256, (4, 3, 64, 64), generator=torch.Generator().manual_seed(0)).to(torch.uint8)  # colour
    x[4:, :, :, :32] = 100  # greyscale, half dark half grey: some contrast
    x[7] = 50  # greyscale and flat: the lowest contrast
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, 2])  # wrong: 1 (colour), 5, 7 (grey)
    boxes = np.array([[0, 0, 7, 7]] * 2 + [[0, 0, 15, 15]] * 2 + [[0, 0, 31, 31]] * 2 + [[0, 0, 63, 63]] * 2)
    names = {"a": ["tabby", "tabby cat"], "b": ["Egyptian cat"], "c": ["barrel"]}
    sib = cnn_best.sibling_matrix(["a", "b", "c"], names)
    assert sib.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    out = cnn_best.error_analysis(pred, y, x, boxes, sib)
    assert [out[f"error_box_q{k}"] for k in range(1, 5)] == [0.5, 0.0, 0.5, 0.5]
    assert out["error_colour"] == 0.25 and out["error_grey"] == 0.5 and out["grey_images"] == 4
    assert out["error_low_contrast"] == 0.5  # images 7 and one other at the bottom quartile
    assert out["sibling_share"] == pytest.approx(1 / 3)  # 0 -> 1 is a sibling; 2 -> 0 and 1 -> 2 are not
    assert out["sibling_chance"] == pytest.approx(2 / 6)


def test_confused_pairs_sum_both_directions():
    cm = np.array([[5, 3, 0], [4, 2, 1], [0, 0, 9]])
    pairs = cnn_best.confused_pairs(cm, ["a", "b", "c"])
    assert pairs[0] == ("a", "b", 3, 4) and pairs[1] == ("b", "c", 1, 0) and len(pairs) == 2


def test_occlusion_images_are_half_right_half_wrong_and_seeded():
    from dl_assign.experiments.imagenet.occlusion import pick_images

    correct = np.array([True] * 30 + [False] * 30)
    eligible = np.ones(60, dtype=bool)
    eligible[:10] = False
    pick = pick_images(correct, eligible, 10, seed=0)
    assert len(set(pick)) == 10 and correct[pick].sum() == 5 and eligible[pick].all()
    assert np.array_equal(pick, pick_images(correct, eligible, 10, seed=0))
    assert not np.array_equal(np.sort(pick), np.sort(pick_images(correct, eligible, 10, seed=1)))
    few_wrong = pick_images(np.array([True] * 20 + [False] * 2), np.ones(22, dtype=bool), 10, seed=0)
    assert len(few_wrong) == 10 and (~np.array([True] * 20 + [False] * 2))[few_wrong].sum() == 2  # topped up


# --- the experiments on real data -----------------------------------------------------------------


def test_experiments_on_real_data(need_data, tmp_path, monkeypatch):
    need_data("tiny-imagenet")
    monkeypatch.setenv("DL_ASSIGN_CACHE", str(tmp_path / "cache"))
    occ = registry.get("imagenet.occlusion")
    first = occ.run("smoke", results_dir=tmp_path / "a", progress=False)
    assert first["artifacts"][0]["origin"] == "trained"  # an empty store: a small CNN is trained, and said so
    assert "trained here" in first["notes"]
    best = registry.get("imagenet.cnn_best").run("smoke", results_dir=tmp_path, progress=False)
    m = {k: v["mean"] for k, v in best["metrics"].items()}
    assert 0 <= m["test_accuracy"] <= m["test_top5"] <= 1 and m["params"] > 0
    assert 0 <= m["test_accuracy_no_tta"] <= m["test_top5_no_tta"] <= 1 and "flip TTA" in best["notes"]
    assert "From scratch" in best["notes"] and (tmp_path / "imagenet.cnn_best.gallery.png").is_file()
    assert ic.best_stored("imagenet.tiny100") is not None
    second = occ.run("smoke", results_dir=tmp_path, progress=False)
    art = second["artifacts"][0]
    assert art["origin"] == "store" and "imagenet.cnn_best" in art["model"]
    assert second["metrics"]["captum_max_abs_diff"]["mean"] <= 1e-5
    assert second["metrics"]["methods_map_max_abs_diff"]["mean"] <= 1e-5  # incremental = batched
    assert len(art["shown"]) == occ.config("smoke").n_images
    for name in ("maps", "sweep"):
        assert (tmp_path / f"imagenet.occlusion.{name}.png").is_file()


def test_study_writes_the_table_and_a_plot_per_factor(need_data, tmp_path, monkeypatch):
    need_data("tiny-imagenet")
    monkeypatch.setenv("DL_ASSIGN_CACHE", str(tmp_path / "cache"))
    cells = ("base", "conv2", "conv8", "nopool", "conv8_nopool", "conv2_nopool", "epochs_double", "conv2_long",
             "conv8_long")
    rec = registry.get("imagenet.cnn_study").run("smoke", {"cells": ",".join(cells), "seeds": "0,1"},
                                                 results_dir=tmp_path, progress=False)
    md = (tmp_path / "imagenet.cnn_study.md").read_text()
    for key in cells:
        assert f"| {cnn_study.CELLS[key][0]} | {cnn_study.CELLS[key][1]} |" in md
        assert len(rec["metrics"][f"{key}/val_top1"]["values"]) == 2
    assert "Depth x downsampling" in md and "From scratch" in md and "±" in md
    assert "Depth x training length" in md and "8 conv minus 4 conv layers" in md
    assert rec["metrics"]["length_factorial_cells"]["mean"] == 6 and rec["metrics"]["conv8_long/epochs"]["mean"] == 2
    assert rec["metrics"]["factorial_cells"]["mean"] == 6 and rec["metrics"]["conv8/conv_layers"]["mean"] == 8
    assert (tmp_path / "imagenet.cnn_study.factors.png").is_file()
