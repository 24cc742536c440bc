"""Gender recognition (seed 003): face data loaders and their errors, the crop rule, the networks, the
binary measures, the config contract and the store round trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from dl_assign.data import DatasetCorrupt, DatasetMissing
from dl_assign.data import faces as fd
from dl_assign.engine import metrics as M
from dl_assign.models import faces as mf

# --- UTKFace names, split, subsets ----------------------------------------------------------------


@pytest.mark.parametrize("name, expect", [
    ("100_0_0_20170112213500903.jpg.chip.jpg", (100, 0, 0)),
    ("26_1_3_20170104235421282.jpg.chip.jpg", (26, 1, 3)),
    ("39_1_20170116174525125.jpg.chip.jpg", None),  # the real malformed names: race missing
    ("61_1_20170109142408075.jpg.chip.jpg", None),
    ("30_2_0_20170104235421282.jpg.chip.jpg", None),  # gender out of range
    ("30_0_5_20170104235421282.jpg.chip.jpg", None),  # race out of range
    ("x_0_0_20170104235421282.jpg.chip.jpg", None),
])
def test_parse_utk_name(name, expect):
    assert fd.parse_utk_name(name) == expect


def _jpeg(path: Path, colour=(120, 80, 60), size=(40, 40), mode="RGB") -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(path, quality=95)
    return path


def _utk_folder(root: Path, n_per=6) -> Path:
    k = 0
    for g in (0, 1):
        for r in range(5):
            for _ in range(n_per):
                _jpeg(root / f"{20 + k % 50}_{g}_{r}_2017010{k:010d}.jpg.chip.jpg", (10 * r, 100 * g, 50))
                k += 1
    _jpeg(root / "39_1_20170116174525125.jpg.chip.jpg")  # malformed: skipped
    return root


def test_read_utkface_skips_and_reports_malformed_names(tmp_path):
    index = fd.read_utkface(_utk_folder(tmp_path / "UTKFace"))
    assert len(index) == 60 and index.skipped == ("39_1_20170116174525125.jpg.chip.jpg",)
    assert int(index.gender.sum()) == 30 and sorted(set(index.race.tolist())) == [0, 1, 2, 3, 4]


def test_read_utkface_with_no_good_name_says_so(tmp_path):
    _jpeg(tmp_path / "bad_name.jpg")
    with pytest.raises(DatasetCorrupt, match="well-formed name"):
        fd.read_utkface(tmp_path)


def test_split_is_disjoint_complete_stratified_and_seeded(tmp_path):
    index = fd.read_utkface(_utk_folder(tmp_path / "UTKFace", n_per=20))
    a, b, c = fd.split_utkface(index, 0), fd.split_utkface(index, 0), fd.split_utkface(index, 1)
    rows = np.concatenate(list(a.values()))
    assert len(rows) == len(set(rows.tolist())) == len(index)  # disjoint and complete
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(a["test"], c["test"])
    strata = index.gender * 5 + index.race
    for s in range(10):  # each of the 10 gender x race strata (20 images) splits 14 / 3 / 3
        assert [int((strata[a[k]] == s).sum()) for k in ("train", "val", "test")] == [14, 3, 3]


def test_stratified_subset_keeps_shares():
    strata = np.array([0] * 60 + [1] * 30 + [2] * 10)
    keep = fd.stratified_subset(strata, 50, seed=0)
    assert len(keep) == 50 and np.bincount(strata[keep]).tolist() == [30, 15, 5]
    assert len(fd.stratified_subset(strata, 0, seed=0)) == 100
    assert not np.array_equal(keep, fd.stratified_subset(strata, 50, seed=1))


# --- FairFace CSV ---------------------------------------------------------------------------------


def _fairface(root: Path, header="file,age,gender", rows=None) -> Path:
    rows = rows if rows is not None else ["val/1.jpg,20-29,Male", "val/2.jpg,30-39,Female"]
    for r in rows:
        _jpeg(root / r.split(",")[0])
    (root / "fairface_label_val.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return root


def test_fairface_without_race_column(tmp_path):
    index = fd.read_fairface(_fairface(tmp_path))
    assert index.files == ("val/1.jpg", "val/2.jpg") and index.gender.tolist() == [0, 1] and index.race is None


def test_fairface_with_the_official_columns(tmp_path):
    root = _fairface(tmp_path, "file,age,gender,race,service_test",
                     ["val/1.jpg,20-29,Male,East Asian,True", "val/2.jpg,3-9,Female,Black,False"])
    index = fd.read_fairface(root)
    assert index.race == ("East Asian", "Black") and index.age == ("20-29", "3-9")


def test_fairface_missing_column_is_named(tmp_path):
    root = _fairface(tmp_path, "file,age,sex", ["val/1.jpg,20-29,Male"])
    with pytest.raises(DatasetCorrupt, match=r"missing column\(s\) gender"):
        fd.read_fairface(root)


def test_fairface_row_whose_image_is_missing_names_the_line(tmp_path):
    root = _fairface(tmp_path)
    (root / "val" / "2.jpg").unlink()
    with pytest.raises(DatasetCorrupt, match=r"fairface_label_val.csv:3: image .*2.jpg does not exist"):
        fd.read_fairface(root)


def test_fairface_bad_gender_and_missing_csv(tmp_path):
    root = _fairface(tmp_path, rows=["val/1.jpg,20-29,Unknown"])
    with pytest.raises(DatasetCorrupt, match="'Unknown' is not Male or Female"):
        fd.read_fairface(root)
    with pytest.raises(DatasetMissing, match="fairface"):
        fd.read_fairface(tmp_path / "nowhere")


# --- images ---------------------------------------------------------------------------------------


def test_greyscale_image_is_converted_to_rgb(tmp_path):
    x = fd.load_image(_jpeg(tmp_path / "grey.jpg", (90, 90, 90), mode="L"))
    assert x.shape == (40, 40, 3) and x.dtype == np.uint8
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 1], x[..., 2])


def test_unreadable_jpeg_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DatasetCorrupt, match="broken.jpg: unreadable image"):
        fd.load_image(bad)


def test_crop_fraction_by_margin():
    assert fd.crop_fraction(fd.UTK_MARGIN) == 1.0
    assert fd.crop_fraction(fd.FAIRFACE_MARGIN) == pytest.approx(1.5 / 3.5)
    assert fd.crop_fraction(0.0) == 1.0  # never more than the whole image
    with pytest.raises(ValueError):
        fd.crop_fraction(-0.1)


@pytest.mark.parametrize("margin, side", [(fd.UTK_MARGIN, 200), (fd.FAIRFACE_MARGIN, 448)])
def test_face_crop_is_what_the_stored_preprocessing_does(margin, side):
    """Training tensors (face_crop) = the web app's route (backbones.preprocess with the stored record)."""
    from dl_assign.models.backbones import preprocess

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    ours = fd.face_crop(image, 100, margin)
    assert ours.shape == (3, 100, 100) and ours.dtype == torch.uint8
    prep = fd.preprocessing(100, margin, mean=(0, 0, 0), std=(1, 1, 1))
    theirs = preprocess(image, prep)[0]  # (3, 100, 100) in [0, 1]
    torch.testing.assert_close(ours.float() / 255, theirs, atol=1e-6, rtol=0)


def test_face_crop_keeps_the_centre_of_a_fairface_image():
    # a 448 image: a white centre square of side 0.43 x 448 = 192 px on black; the crop keeps only it
    image = np.zeros((448, 448, 3), dtype=np.uint8)
    image[128:320, 128:320] = 255
    out = fd.face_crop(image, 64, fd.FAIRFACE_MARGIN)
    assert out[:, 2:-2, 2:-2].min() == 255  # all white but the resampled border
    whole = fd.face_crop(image, 64, fd.UTK_MARGIN)  # the UTKFace rule keeps the black surround
    assert whole[:, :10, :10].max() == 0


# --- the seed's Kaggle layout (a tiny tree of real UTKFace images) ------------------------------


def _kaggle_tree(root: Path, n=3) -> Path:
    import shutil

    index = fd.read_utkface()
    picks = {g: [index.root / f for f, gg in zip(index.files, index.gender) if gg == g][:2 * n] for g in (0, 1)}
    for split, part in (("Training", slice(0, n)), ("Validation", slice(n, 2 * n))):
        for g, folder in ((0, "male"), (1, "female")):
            (root / split / folder).mkdir(parents=True)
            for p in picks[g][part]:
                shutil.copy(p, root / split / folder / p.name)
    return root


def test_kaggle_layout_from_utkface_images(tmp_path, need_data):
    need_data("utkface")
    splits = fd.read_kaggle(_kaggle_tree(tmp_path / "gender-recognition"))
    for split in ("train", "val"):
        paths, labels = splits[split]
        assert len(paths) == 6 and labels.tolist() == [0, 0, 0, 1, 1, 1]
        assert all(fd.parse_utk_name(p.name)[1] == y for p, y in zip(paths, labels))  # folder = true gender
        x = fd.decode_all(paths, 100, fd.KAGGLE_MARGIN)
        assert x.shape == (6, 3, 100, 100) and x.dtype == torch.uint8


def test_biggest_gender_face_folders_renamed_female_male(tmp_path, need_data):
    need_data("utkface")
    root = _kaggle_tree(tmp_path / "k")
    test = tmp_path / "biggest-genderface"
    test.mkdir()
    (root / "Training" / "female").rename(test / "Female")
    (root / "Training" / "male").rename(test / "Male")
    paths, labels = fd.read_class_folders(test)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1] and all("Male" in p.parts or "Female" in p.parts for p in paths)


def test_empty_class_folder_and_missing_class_are_clear_errors(tmp_path):
    (tmp_path / "Training" / "female").mkdir(parents=True)
    (tmp_path / "Training" / "male").mkdir()
    _jpeg(tmp_path / "Training" / "male" / "a.jpg")
    with pytest.raises(DatasetCorrupt, match="female: empty class folder"):
        fd.read_class_folders(tmp_path / "Training")
    (tmp_path / "Other" / "women").mkdir(parents=True)
    with pytest.raises(DatasetCorrupt, match="no class folder male or female"):
        fd.read_class_folders(tmp_path / "Other")
    _jpeg(tmp_path / "Training" / "female" / "b.png")
    assert fd.read_class_folders(tmp_path / "Training")[1].tolist() == [0, 1]
    with pytest.raises(DatasetCorrupt, match="no Validation/ folder"):
        fd.read_kaggle(tmp_path)


def test_real_utkface_and_fairface(need_data):
    need_data("utkface", "fairface")
    index = fd.read_utkface()
    assert len(index) == 23_704 and len(index.skipped) == 3
    assert all(fd.parse_utk_name(n) is None for n in index.skipped)
    parts = fd.split_utkface(index, 0)
    assert sum(len(v) for v in parts.values()) == 23_704
    female_share = [index.gender[v].mean() for v in parts.values()]
    assert max(female_share) - min(female_share) < 0.005  # stratified
    ff = fd.read_fairface()
    assert len(ff) == 540 and ff.race is None and int(ff.gender.sum()) == 270


# --- the networks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [100, 64])
def test_baseline_is_the_seeds_figure_1(size):
    from torch import nn

    model = mf.baseline_cnn(size)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU",
                     "Linear", "OneLogit"]
    for conv in (model[0], model[3]):
        assert conv.out_channels == 16 and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
        assert conv.padding == (0, 0)
    for pool in (model[2], model[5]):
        assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == 2 and pool.stride == 1
    assert model[7].out_features == 64 and model[9].out_features == 1
    n = sum(p.numel() for p in model.parameters())
    assert n == mf.baseline_param_count(size)
    if size == 100:  # by hand: 448 + 2,320 + (16 * 94 * 94 + 1) * 64 + 65
        assert n == 448 + 2_320 + (16 * 94 * 94 + 1) * 64 + 65 == 9_050_961
    assert model(torch.zeros(2, 3, size, size)).shape == (2, 2)


def test_one_logit_is_sigmoid_and_binary_cross_entropy():
    z = torch.linspace(-6, 6, 13).view(-1, 1)
    y = torch.arange(13) % 2
    pair = mf.OneLogit()(z)
    torch.testing.assert_close(torch.softmax(pair, 1)[:, 1], torch.sigmoid(z[:, 0]))
    torch.testing.assert_close(torch.nn.functional.cross_entropy(pair, y),
                               torch.nn.functional.binary_cross_entropy(torch.sigmoid(z[:, 0]), y.float()))


@pytest.mark.parametrize("model", [mf.baseline_cnn(32), mf.ImprovedCNN((4, 8), 2, 0.1)], ids=["baseline", "improved"])
def test_every_parameter_gets_a_gradient(model):
    torch.manual_seed(0)
    out = model(torch.randn(4, 3, 32, 32))
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in model.parameters())


def test_frozen_trunk_classifier_trains_only_its_head():
    from dl_assign.models import backbones as B

    bb = B.backbone("mobilenet_v2", pretrained=False)
    model = mf.FrozenTrunkClassifier(bb.trunk, len(bb.block_names), bb.feature_dim, (16,), 0.1)
    model.train()
    assert not model.trunk.training and all(not p.requires_grad for p in model.trunk.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    torch.testing.assert_close(model(x), model.head(model.features(x)))
    assert model.features(x).shape == (2, 1280)


def test_vgg16_is_frozen_through_conv5():
    from dl_assign.experiments.faces import features as ff
    from dl_assign.models import backbones as B

    bb = B.backbone("vgg16", pretrained=False)
    assert ff.frozen_depth(bb) == 5 and bb.block_names[4] == "conv5"
    model = mf.FrozenTrunkClassifier(bb.trunk, 5, 512, (8,), 0.0).eval()
    assert model.features(torch.zeros(1, 3, 64, 64)).shape == (1, 512)


# --- binary measures ------------------------------------------------------------------------------


def test_binary_measures_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.7])
    m = M.binary_measures(y, s, 0.5)  # TP 3 (0.9, 0.8, 0.7), FN 1 (0.3), FP 1 (0.6), TN 3
    assert m["confusion"] == [[3, 1], [1, 3]]
    assert (m["accuracy"], m["sensitivity"], m["specificity"], m["precision"], m["f1"]) == (0.75, 0.75, 0.75, 0.75,
                                                                                            0.75)
    m = M.binary_measures(y, s, 0.65)  # TP 3, FN 1, FP 0, TN 4
    assert m["specificity"] == 1.0 and m["precision"] == 1.0 and m["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert M.binary_measures(np.array([0, 0]), np.array([0.1, 0.2]))["sensitivity"] == 0.0  # no positives: 0


def test_best_threshold_maximises_validation_accuracy():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.05, 0.1, 0.7, 0.75, 0.8, 0.9])
    t = M.best_threshold(y, s)
    assert 0.7 < t <= 0.75 and M.binary_measures(y, s, t)["accuracy"] == 1.0
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 300), rng.random(300)
    best = max(M.binary_measures(y, s, c)["accuracy"] for c in np.unique(s))
    assert M.binary_measures(y, s, M.best_threshold(y, s))["accuracy"] == best


def test_auc_interval_and_paired_difference():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    s = y + rng.normal(0, 1.0, 400)
    ci = M.auc_interval(y, s, n_boot=500, seed=0)
    from sklearn.metrics import roc_auc_score

    assert ci["auc"] == pytest.approx(roc_auc_score(y, s)) and ci["low"] < ci["auc"] < ci["high"]
    assert M.auc_interval(y, s, n_boot=500, seed=0) == ci  # seeded
    same = M.paired_auc_bootstrap(y, s, s, n_boot=200)
    assert same["diff"] == same["low"] == same["high"] == 0.0
    better = M.paired_auc_bootstrap(y, y + rng.normal(0, 0.3, 400), s, n_boot=500)
    assert better["low"] > 0
    roc = M.roc_curve(y, s, max_points=50)
    assert len(roc["fpr"]) <= 50 and roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0


# --- config contract, store round trip, compare's inputs ------------------------------------------


@pytest.mark.parametrize("budget", ["smoke", "standard", "full"])
def test_baseline_and_improved_share_data_and_epoch_budget(budget):
    from dl_assign import registry

    base = registry.get("faces.gender_baseline").config(budget)
    imp = registry.get("faces.gender_improved").config(budget)
    fields = ("epochs", "image_size", "split_seed", "train_limit", "val_limit", "test_limit", "fairface_limit",
              "seeds", "batch_size")
    assert {f: getattr(base, f) for f in fields} == {f: getattr(imp, f) for f in fields}
    assert base.image_size == 100 and base.augment == "none"


def test_stored_models_rebuild_and_predict_the_same(tmp_path):
    from dl_assign import store
    from dl_assign.experiments.faces import common as fc  # registers the builders

    assert {"faces_baseline_cnn", "faces_improved_cnn", "faces_frozen_trunk"} <= set(store.builders())
    torch.manual_seed(0)
    models = {"baseline_cnn": (mf.baseline_cnn(32), "faces_baseline_cnn", {"image_size": 32}),
              "improved_cnn": (mf.ImprovedCNN((4, 8), 1, 0.2), "faces_improved_cnn",
                               {"widths": [4, 8], "convs_per_stage": 1, "dropout": 0.2})}
    x = torch.randn(3, 3, 32, 32)
    for name, (model, builder, kwargs) in models.items():
        store.save(model, task=fc.TASK, name=name, builder=builder, builder_kwargs=kwargs, classes=list(fd.CLASSES),
                   preprocessing=fd.preprocessing(32, fd.UTK_MARGIN, fc.IMAGENET_MEAN, fc.IMAGENET_STD),
                   metrics={}, experiment="test", budget="smoke", seed=0, root=tmp_path)
        loaded = store.load(fc.TASK, name, root=tmp_path)
        model.eval()
        torch.testing.assert_close(loaded.model(x), model(x))
        assert loaded.meta["classes"] == ["male", "female"] and loaded.preprocessing["resize"] == 32


def test_compare_names_what_to_run_first(tmp_path):
    from dl_assign.experiments.faces import compare

    with pytest.raises(compare.MissingInput, match="dl-assign run faces.gender_baseline --budget standard"):
        compare.gather(tmp_path, "standard", (0,))


def test_evaluate_scores_uses_the_validation_threshold_everywhere():
    from dl_assign.experiments.faces import common as fc

    rng = np.random.default_rng(0)
    y = {s: rng.integers(0, 2, 200) for s in fc.SPLITS}
    p = {s: np.clip(y[s] * 0.3 + rng.random(200) * 0.7, 0, 1) for s in fc.SPLITS}
    race = {"val": rng.integers(0, 5, 200), "test": rng.integers(0, 5, 200)}
    metrics, arts = fc.evaluate_scores(p, y, race=race, n_boot=100, seed=0)
    t = metrics["threshold"]
    assert t == M.best_threshold(y["val"], p["val"])
    for s in ("test", "fairface"):
        assert metrics[f"{s}_accuracy"] == M.binary_measures(y[s], p[s], t)["accuracy"]
        assert arts["confusion"][s] == M.binary_measures(y[s], p[s], t)["confusion"]
    assert metrics["cross_dataset_drop"] == metrics["test_accuracy"] - metrics["fairface_accuracy"]
    assert {f"test_accuracy_race/{r}" for r in fd.RACES} <= set(metrics)


def test_smoke_config_is_small():
    from dl_assign import registry

    for name in ("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer"):
        cfg = registry.get(name).config("smoke")
        assert cfg.train_limit <= 300 and cfg.seeds == (0,) and cfg.epochs <= 6
        assert dataclasses.replace(cfg).threads == 1


def test_the_web_app_serves_a_stored_face_model_like_training_scores_it(tmp_path):
    """An uploaded PNG through the web app's predict path = the model on the training tensor (face_crop + normalise)."""
    import io

    from PIL import Image

    from dl_assign import store
    from dl_assign.experiments.faces import common as fc
    from dl_assign.web.app import Serving
    from dl_assign.web.inference import _infer, _preprocess

    torch.manual_seed(0)
    model = mf.ImprovedCNN((4, 8), 1, 0.0).eval()
    store.save(model, task=fc.TASK, name="improved_cnn", builder="faces_improved_cnn",
               builder_kwargs={"widths": [4, 8], "convs_per_stage": 1, "dropout": 0.0, "grid": 6},
               classes=list(fd.CLASSES), preprocessing=fd.preprocessing(48, fd.UTK_MARGIN, fc.IMAGENET_MEAN,
                                                                        fc.IMAGENET_STD),
               metrics={}, experiment="test", budget="smoke", seed=0, root=tmp_path)
    image = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    # the serving path after the face front end (which hands the model an aligned UTKFace-like chip; random pixels
    # hold no face, so they enter here, where the chip would): the stored preprocessing, then the model
    from dl_assign.web.images import decode

    loaded = store.load(fc.TASK, "improved_cnn", root=tmp_path)
    top = Serving.top(loaded, _infer(loaded, _preprocess(loaded, decode(buf.getvalue())))[0], 2)
    x = fc.Normalize()(fd.face_crop(image, 48, fd.UTK_MARGIN)[None])  # what training and scoring feed
    with torch.no_grad():
        p_female = float(torch.sigmoid(model.head[:-1](model.features(x)))[0, 0])
    got = {t["class"]: t["probability"] for t in top}
    assert set(got) == {"male", "female"} and got["female"] == pytest.approx(p_female, abs=1e-4)
    assert got["male"] + got["female"] == pytest.approx(1.0, abs=1e-6)


def test_flip_tta_scores_the_mirror_average_and_keeps_the_plain_scores():
    """With flip_tta every split is scored as the mean P(female) of a face and its mirror; no_tta/* is the plain net."""
    from sklearn.metrics import roc_auc_score

    from dl_assign.experiments.faces import common as fc
    from dl_assign.experiments.faces.improved import ImprovedConfig

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = {s: torch.randint(0, 256, (40, 3, 24, 24), dtype=torch.uint8, generator=g) for s in ("train",) + fc.SPLITS}
    y = {s: torch.arange(40) % 2 for s in x}
    data = fc.FaceTensors(x, y, {k: np.zeros(40, int) for k in ("val", "test")}, {}, "k", 0.0, "computed",
                          {k: np.full(40, 30) for k in ("val", "test")})
    model = mf.ImprovedCNN((4, 8), 1, 0.0, 3).eval()  # random weights: not mirror-symmetric
    cfg = ImprovedConfig(flip_tta=True, n_boot=100, amp_bf16="off", channels_last=False)
    res = fc.seed_result(model, [{"epoch": 1, "train_seconds": 1.0}], data, cfg, 0)

    def p_female(images):
        with torch.no_grad():
            return torch.sigmoid(model.head[:-1](model.features(fc.Normalize()(images))))[:, 0].double().numpy()

    for s in ("test", "fairface"):
        plain, mirrored = p_female(x[s]), p_female(x[s].flip(-1))
        assert not np.allclose(plain, mirrored, atol=1e-4)
        np.testing.assert_allclose(res.artifacts["scores"][s], (plain + mirrored) / 2, atol=2e-5)
        assert res.metrics[f"no_tta/{s}_auc"] == pytest.approx(roc_auc_score(y[s].numpy(), plain), abs=1e-6)
        gain = res.metrics[f"{s}_auc"] - res.metrics[f"no_tta/{s}_auc"]
        assert res.metrics[f"tta_gain/{s}_auc"] == pytest.approx(gain)


def test_a_stored_flip_tta_model_serves_the_mirror_average(tmp_path):
    from dl_assign import store
    from dl_assign.experiments.faces import common as fc
    from dl_assign.models.tta import FlipTTA

    torch.manual_seed(0)
    net = mf.ImprovedCNN((4, 8), 1, 0.0, 3).eval()
    kwargs = {"widths": [4, 8], "convs_per_stage": 1, "dropout": 0.0, "grid": 3, "flip_tta": True}
    store.save(FlipTTA(net), task=fc.TASK, name="improved_cnn", builder="faces_improved_cnn", builder_kwargs=kwargs,
               classes=list(fd.CLASSES), preprocessing=fd.preprocessing(32, fd.UTK_MARGIN, fc.IMAGENET_MEAN,
                                                                        fc.IMAGENET_STD),
               metrics={}, experiment="test", budget="smoke", seed=0, root=tmp_path)
    loaded = store.load(fc.TASK, "improved_cnn", root=tmp_path)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want = (net(x).softmax(1) + net(x.flip(3)).softmax(1)) / 2
        torch.testing.assert_close(loaded.model(x).softmax(1), want)


def test_fairface_by_age_counts_each_bin_and_the_ceiling_with_every_adult_right(monkeypatch):
    from types import SimpleNamespace

    from dl_assign.experiments.faces import compare

    age = np.array(["0-2", "3-9", "20-29", "20-29", "more than 70", "10-19"], dtype=object)
    gender = np.array([1, 0, 1, 0, 1, 0])
    monkeypatch.setattr(fd, "read_fairface", lambda **kw: SimpleNamespace(age=list(age), gender=gender))
    # at threshold 0.5: right on 0-2, wrong on 3-9, right and wrong on 20-29, wrong on 70+, right on 10-19
    scores = [0.9, 0.8, 0.7, 0.6, 0.1, 0.2]
    rec = {"config": {"split_seed": 0, "fairface_limit": 0}, "seeds": [0],
           "metrics": {"threshold": {"values": [0.5]}},
           "artifacts": [{"true": {"fairface": gender.tolist()}, "scores": {"fairface": scores}}]}
    m = compare.fairface_by_age({"baseline": rec, "improved": rec, "transfer": rec}, 0)
    assert m["baseline/fairface_accuracy_age/20-29"] == 0.5 and m["baseline/fairface_accuracy_age/0-2"] == 1.0
    assert m["fairface_images_age/20-29"] == 2 and m["fairface_share_under20"] == 0.5
    assert m["baseline/fairface_accuracy_under20"] == pytest.approx(2 / 3)
    assert m["baseline/fairface_accuracy_20plus"] == pytest.approx(1 / 3)
    assert m["baseline/fairface_ceiling_20plus_right"] == pytest.approx((2 + 3) / 6)
    rec_other = dict(rec, artifacts=[{"true": {"fairface": [0] * 6}, "scores": {"fairface": scores}}])
    assert compare.fairface_by_age({"baseline": rec_other, "improved": rec, "transfer": rec}, 0) == {}
