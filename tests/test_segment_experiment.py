"""segment.cnn_features' pieces: the Tiny-ImageNet val + boxes reader, which CNN gives the features (the store's
best model, else ImageNet), the image sets and scoring loops on real data (skipped without it; CI fails)."""

import math
from pathlib import Path

import numpy as np
import pytest

from dl_assign import registry, store
from dl_assign.config import ConfigError
from dl_assign.data import DatasetCorrupt, DatasetMissing, tinyimagenet
from dl_assign.experiments.segment import common as sc
from dl_assign.models import backbones as B
from dl_assign.models.small_cnn import SmallCNN
from dl_assign.segment import FeatureSegmenter


def _make_tiny(root: Path, lines: list[str] | None = None) -> Path:
    from PIL import Image

    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("n001\nn002\n")
    (root / "words.txt").write_text("n001\tant, emmet\nn002\tbee\n")
    for i in range(3):
        Image.fromarray(np.full((64, 64, 3), 50 * i, np.uint8)).save(root / "val" / "images" / f"val_{i}.JPEG")
    lines = lines or ["val_0.JPEG\tn001\t0\t1\t30\t40", "val_1.JPEG\tn002\t10\t10\t63\t63",
                      "val_2.JPEG\tn001\t5\t5\t5\t5"]
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def test_tiny_imagenet_val_boxes_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path))
    with pytest.raises(DatasetMissing, match="tiny-imagenet-200"):
        tinyimagenet.locate()
    assert not tinyimagenet.status().found
    root = _make_tiny(tmp_path / "tiny-imagenet-200")
    assert tinyimagenet.locate() == root and tinyimagenet.status().found
    items = tinyimagenet.read_val_boxes(root)
    assert [it.box for it in items] == [(0, 1, 30, 40), (10, 10, 63, 63), (5, 5, 5, 5)]
    assert tinyimagenet.read_words(root) == {"n001": "ant", "n002": "bee"}
    mask = tinyimagenet.box_mask(items[0].box, (64, 64))
    assert mask.sum() == 31 * 40 and mask[1, 0] and mask[40, 30] and not mask[0, 0] and not mask[41, 30]
    assert tinyimagenet.load_image(root, "val_1.JPEG").shape == (64, 64, 3)


@pytest.mark.parametrize("line, match", [("val_0.JPEG\tn009\t0\t0\t5\t5", "not in wnids"),
                                         ("val_0.JPEG\tn001\t0\t0\t64\t5", "outside"),
                                         ("val_0.JPEG\tn001\t9\t0\t5\t5", "outside"),
                                         ("val_7.JPEG\tn001\t0\t0\t5\t5", "does not exist"),
                                         ("val_0.JPEG\tn001\t0\t0", "expected")])
def test_bad_annotation_lines_are_named(tmp_path, line, match):
    root = _make_tiny(tmp_path / "t", [line])
    with pytest.raises(DatasetCorrupt, match=match + r"|val_annotations.txt:1"):
        tinyimagenet.read_val_boxes(root)


def test_real_tiny_imagenet_boxes(need_data):
    need_data("tiny-imagenet")
    root = tinyimagenet.locate()
    items = tinyimagenet.read_val_boxes(root)
    assert len(items) >= 100
    assert len({it.wnid for it in items}) == len(tinyimagenet.read_wnids(root))


# --- which CNN ------------------------------------------------------------------------------------


def _save_transfer(name: str, acc: float) -> None:
    model = B.BackboneClassifier(B.backbone("mobilenet_v2", pretrained=False).trunk, 3, 0.2)
    store.save(model, task="pests14", name=name, builder="backbone_classifier",
               builder_kwargs={"backbone": "mobilenet_v2", "num_classes": 3, "dropout": 0.2}, classes="abc",
               preprocessing=B.backbone("mobilenet_v2", pretrained=False).preprocessing,
               metrics={"test_accuracy": acc}, experiment="pests.transfer_x", budget="smoke", seed=0)


def test_an_empty_store_falls_back_to_the_imagenet_backbone():
    models = sc.feature_models("auto", "mobilenet_v2", custom=True)
    assert [m.key for m in models] == ["transfer"] and models[0].origin == "imagenet"
    assert models[0].source == "mobilenet_v2" and "holds no transfer model" in models[0].label


def test_the_stores_best_transfer_model_and_custom_cnn_are_used():
    _save_transfer("worse", 0.4)
    _save_transfer("better", 0.7)
    store.save(SmallCNN(3, (4, 8)), task="pests14", name="custom_cnn", builder="small_cnn",
               builder_kwargs={"n_classes": 3, "widths": [4, 8]}, classes="abc",
               preprocessing={"mean": [0.5] * 3, "std": [0.25] * 3}, metrics={"test_accuracy": 0.5},
               experiment="pests.cnn_scratch", budget="smoke", seed=0)
    transfer, custom = sc.feature_models("auto", "efficientnet_lite0", custom=True)
    assert transfer.origin == "store" and transfer.record["model"] == "better"
    assert "store pests14/better v1" in transfer.label and "0.700" in transfer.label
    assert custom.key == "custom" and custom.record["model"] == "custom_cnn"
    labels = FeatureSegmenter(custom.source, layer="early", n_segments=2, input_size=32,
                              preprocessing=custom.preprocessing).fit_predict(np.zeros((32, 32, 3), np.uint8) + 7)
    assert labels.shape == (32, 32)
    only_imagenet = sc.feature_models("imagenet", "mobilenet_v2", custom=False)
    assert [m.origin for m in only_imagenet] == ["imagenet"] and "feature_model=imagenet" in only_imagenet[0].label


def test_xy_layers_must_be_among_the_layers():
    exp = registry.get("segment.cnn_features")
    with pytest.raises(ValueError, match="xy_layers.*subset"):
        exp.run("smoke", {"layers": ("late",), "xy_layers": ("early",)}, write=False, progress=False)
    with pytest.raises(ConfigError, match="k_min"):
        exp.config("smoke", ["k_min=1"])


# --- image sets and scoring loops on real data ----------------------------------------------------


def test_box_set_and_mosaics_are_seeded(need_data):
    need_data("tiny-imagenet")
    a, b = sc.box_set(5, seed=3), sc.box_set(5, seed=3)
    assert a.files == b.files and sc.box_set(5, seed=4).files != a.files
    assert all(box.shape == im.shape[:2] and box.any() for im, box in zip(a.images, a.boxes))
    pool = sc.photo_pool(6, 3, exclude=set(a.files))
    mos = sc.mosaic_set(4, 3, 64, pool)
    assert mos.kinds == ["textures", "photos"] * 2
    assert all(len(np.unique(r)) == k for r, k in zip(mos.regions, mos.n_regions))


def test_scoring_loops_give_scores_in_range(need_data):
    need_data("tiny-imagenet")
    seg = FeatureSegmenter(B.backbone("mobilenet_v2", pretrained=False), layer="middle", input_size=64,
                           k_range=(2, 4))
    boxes = sc.box_set(4, seed=0)
    out = sc.score_boxes(seg, boxes, [2, 3, 4])
    assert 0 < out["box_iou"][0] <= 1 and -1 <= out["silhouette"][0] <= 1 and 2 <= out["k"][0] <= 4
    assert sorted(out["curve"]) == [2, 3, 4]
    whole = np.mean([b.mean() for b in boxes.boxes])
    assert out["box_iou"][0] >= whole - 1e-12  # the union of every cluster is the whole image: never worse
    mos = sc.score_mosaics(seg, sc.mosaic_set(4, 0, 64, sc.photo_pool(8, 0, set())))
    assert all(-1 <= mos[k][0] <= 1 for k in ("ari", "ari_auto")) and 0 <= mos["miou"][0] <= 1
    db = sc.score_boxes(seg.set_params(method="dbscan"), boxes, [2, 3, 4], dbscan=True)
    assert 0 <= db["noise"][0] <= 1 and not math.isnan(db["box_iou"][0])


def test_the_experiment_uses_and_names_the_stored_model(need_data, tmp_path):
    need_data("tiny-imagenet", "ip102")
    _save_transfer("mobilenet_v2", 0.6)
    exp = registry.get("segment.cnn_features")
    small = {"box_images": 3, "mosaics": 2, "k_max": 3, "gallery": False, "speed_repeats": 1, "speed_batch": 2}
    record = exp.run("smoke", small, results_dir=tmp_path, progress=False)
    assert record["metrics"]["used_store_model"]["mean"] == 1.0
    assert record["artifacts"][0]["feature_models"][0]["model"] == "mobilenet_v2"
    text = (tmp_path / "segment.cnn_features.md").read_text()
    assert "**Features from:** store pests14/mobilenet_v2 v1" in text and "Custom CNN:** not in the model store" in text
    assert record["artifacts"][0]["layers"]["late"].startswith("features.13")
