"""The EDA's analysis functions on small hand-made inputs, and its numbers on the real data."""

import numpy as np
import pytest

from dl_assign.data import eda


def _random_images(n=20, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def test_class_balance_counts_and_verdict():
    bal = eda.class_balance(np.array([0, 0, 1, 1, 2, 2]), 3)
    assert bal["counts"] == [2, 2, 2] and bal["balanced"] and bal["max_min_ratio"] == 1.0
    skewed = eda.class_balance(np.array([0] * 10 + [1] * 5), 2)
    assert skewed["counts"] == [10, 5] and not skewed["balanced"] and skewed["max_min_ratio"] == 2.0
    assert skewed["max_rel_deviation"] == pytest.approx(1 / 3)


def test_moments_match_numpy():
    x = _random_images(30)
    s1, s2 = eda.image_moments(x, chunk=7)  # chunk boundary inside the array
    mean, std = eda.pooled_mean_std(s1, s2, 784)
    unit = x.astype(np.float64) / 255
    assert mean == pytest.approx(unit.mean(), abs=1e-12)
    assert std == pytest.approx(unit.std(), abs=1e-9)
    bright, contrast = eda.brightness_contrast(s1, s2, 784)
    np.testing.assert_allclose(bright, unit.mean((1, 2)), atol=1e-12)
    np.testing.assert_allclose(contrast, unit.std((1, 2)), atol=1e-9)


def test_pixel_correlation_matches_corrcoef_and_zeroes_constant_pixels():
    x = np.random.default_rng(1).random((200, 4, 4))
    x[:, 0, 0] = 0.5  # a constant pixel
    corr = eda.pixel_correlation(x)
    ref = np.corrcoef(x.reshape(200, -1)[:, 1:], rowvar=False)
    np.testing.assert_allclose(corr[1:, 1:], ref, atol=1e-10)
    assert np.all(corr[0] == 0) and np.all(corr[:, 0] == 0)


def test_correlation_by_distance_averages_pairs_at_each_distance():
    side = 3
    yy, xx = np.divmod(np.arange(9), side)
    dist = np.hypot(yy[:, None] - yy[None], xx[:, None] - xx[None])
    corr = np.where(np.rint(dist) == 1, 0.5, 0.1)
    out = eda.correlation_by_distance(corr, side)
    assert out[1] == pytest.approx(0.5) and out[2] == pytest.approx(0.1) and out[3] == pytest.approx(0.1)


def test_exact_and_near_duplicates_are_found_and_scoped():
    x = _random_images(10)
    x[7] = x[2]  # exact, within "train" (first 6 are train)
    x[8] = x[3]
    x[8, 5, 5] = min(255, int(x[3, 5, 5]) + 3)  # near: a 3-level change in one pixel, across
    labels = np.arange(10)
    labels[7] = labels[2]
    assert eda.exact_duplicate_groups(x) == [[2, 7]]
    near = eda.near_duplicate_pairs(x, max_mad=0.01)
    assert [(i, j) for i, j, _ in near] == [(3, 8)]
    report = eda.duplicate_report(x, labels, n_train=6, max_mad=0.01)
    assert report["exact_cross"] == 1 and report["exact_cross_label_conflicts"] == 0
    assert report["near_cross"] == 1 and report["near_cross_label_conflicts"] == 1  # labels 3 vs 8
    assert report["exact_train"] == report["near_train"] == report["near_test"] == 0


def test_pair_scope():
    assert [eda.pair_scope(1, 2, 5), eda.pair_scope(6, 7, 5), eda.pair_scope(1, 7, 5)] == ["train", "test", "cross"]


def test_anomalies_flag_blank_and_saturated():
    x = np.zeros((3, 28, 28), np.uint8)
    x[0, 10:20, 10:20] = 200  # 100 ink pixels = 12.8%: normal
    x[1, 0, :5] = 200  # 5 ink pixels: near blank
    x[2] = 255  # saturated
    out = eda.anomalies(x)
    assert out["near_blank"].tolist() == [1] and out["saturated"].tolist() == [2]


def test_content_box_margins():
    x = np.zeros((2, 28, 28), np.uint8)
    x[0, 4:24, 2:26] = 255
    x[1, :, 0:28] = 255
    box = eda.content_box(x)
    assert box["box_height_mean"] == pytest.approx((20 + 28) / 2)
    assert box["touches_border_fraction"] == 0.5 and box["full_width_fraction"] == 0.5 and box["min_margin"] == 0


def test_edge_features_see_edges_and_their_orientation():
    blank = np.zeros((1, 28, 28), np.uint8)
    bar = np.zeros((1, 28, 28), np.uint8)
    bar[0, :, 10:18] = 255  # vertical edges: gradient along x, orientation 0
    f_blank, f_bar = eda.edge_features(blank)[0], eda.edge_features(bar)[0]
    assert f_blank[0] == 0 and f_blank[3] == 0
    assert f_bar[0] > 0.05 and f_bar[3] > 0.02
    orient = f_bar[4:12]
    assert orient.sum() == pytest.approx(1, abs=1e-5) and orient.argmax() == 0


def test_texture_features_shape_and_lbp_histogram():
    f = eda.texture_features(_random_images(3))
    assert f.shape == (3, 10 + 2 * len(eda.GLCM_PROPS))
    np.testing.assert_allclose(f[:, :10].sum(1), 1.0, atol=1e-6)


def test_symmetry_scores_and_flip_augmentation():
    sym = np.tile(np.r_[np.arange(14), np.arange(14)[::-1]].astype(float), (28, 1))[None]
    assert eda.symmetry_scores(sym)["lr"][0] == pytest.approx(1.0)
    x = _random_images(4)
    flipped = eda.augment(x, eda.augmentations()["hflip"], seed=0)
    np.testing.assert_array_equal(flipped, x[:, :, ::-1])


def test_probe_accuracy_separates_separable_data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    x = rng.normal(size=(120, 5)) + 5 * np.eye(3, 5)[y]
    out = eda.probe_accuracy(x[::2], y[::2], x[1::2], y[1::2])
    assert out["accuracy"] == 1.0 and out["recall"] == [1.0, 1.0, 1.0]


def test_real_fashion_statistics(need_data):
    need_data("fashion-mnist")
    from dl_assign.data import fashion

    raw = fashion.load_raw()
    s1, s2 = eda.image_moments(raw["train_images"])
    mean, std = eda.pooled_mean_std(s1, s2, 784)
    assert mean == pytest.approx(0.2860, abs=5e-5) and std == pytest.approx(0.3530, abs=5e-5)
    assert eda.class_balance(raw["train_labels"], 10)["counts"] == [6000] * 10
    assert eda.class_balance(raw["test_labels"], 10)["counts"] == [1000] * 10
