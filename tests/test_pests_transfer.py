"""Transfer learning on pests: paired statistics and ECE on hand-computed cases, the cached path equals the
whole network, trainable parameters match freeze(), fixed views, and the comparison's clear errors."""

import math

import numpy as np
import pytest
import torch

from dl_assign.data.augment import PickView
from dl_assign.engine.loop import make_optimizer
from dl_assign.engine.metrics import calibration, logits_report, mcnemar, paired_bootstrap
from dl_assign.experiments.pests import common as pc
from dl_assign.experiments.pests import compare, transfer
from dl_assign.models import backbones as B


def _outcomes(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Paired right/wrong vectors with the given counts of each (a, b) combination."""
    a = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    return np.array(a, bool), np.array(b, bool)


# --- McNemar -----------------------------------------------------------------------------------


def test_mcnemar_exact_binomial_by_hand():
    a, b = _outcomes(10, 1, 5, 4)  # b = 1, c = 5, n = 6: p = 2 (C(6,0) + C(6,1)) / 2^6 = 14/64
    out = mcnemar(a, b)
    assert (out["b"], out["c"], out["method"]) == (1, 5, "exact")
    assert out["p_value"] == pytest.approx(14 / 64, abs=1e-15)
    assert mcnemar(*_outcomes(0, 5, 0, 0))["p_value"] == pytest.approx(2 / 32)  # 2 * (1/2)^5
    assert mcnemar(*_outcomes(3, 3, 3, 3))["p_value"] == 1.0  # 2 * 42/64 > 1 -> capped at 1
    assert mcnemar(*_outcomes(7, 0, 0, 2))["p_value"] == 1.0  # no discordant pair


def test_mcnemar_chi_square_with_continuity_correction_by_hand():
    a, b = _outcomes(50, 10, 30, 10)  # (|10 - 30| - 1)^2 / 40 = 361 / 40
    out = mcnemar(a, b)
    assert out["method"] == "chi2" and out["statistic"] == pytest.approx(9.025, abs=1e-12)
    scipy_stats = pytest.importorskip("scipy.stats")
    assert out["p_value"] == pytest.approx(scipy_stats.chi2.sf(9.025, 1), rel=1e-10)  # second route
    assert out["p_value"] == pytest.approx(0.0026635, abs=1e-6)
    assert out["p_value"] == pytest.approx(mcnemar(b, a)["p_value"])  # symmetric


def test_mcnemar_picks_exact_below_25_discordant_pairs():
    assert mcnemar(*_outcomes(0, 12, 12, 0))["method"] == "exact"  # b + c = 24
    assert mcnemar(*_outcomes(0, 12, 13, 0))["method"] == "chi2"  # 25
    assert mcnemar(*_outcomes(0, 12, 13, 0), exact=True)["method"] == "exact"
    with pytest.raises(ValueError, match="equally long"):
        mcnemar([1, 0], [1])


# --- paired bootstrap --------------------------------------------------------------------------


def test_paired_bootstrap_two_items_by_hand():
    # differences [1, 0]: a resample's mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% quantiles are 0 and 1
    out = paired_bootstrap([1, 1], [0, 1], n_boot=20_000, seed=1)
    assert out["diff"] == 0.5 and out["low"] == 0.0 and out["high"] == 1.0


def test_paired_bootstrap_degenerate_cases_have_no_width():
    a, b = _outcomes(30, 0, 0, 10)
    assert paired_bootstrap(a, b) == {"diff": 0.0, "low": 0.0, "high": 0.0, "level": 0.95, "n_boot": 10_000}
    out = paired_bootstrap(np.ones(20), np.zeros(20))
    assert (out["diff"], out["low"], out["high"]) == (1.0, 1.0, 1.0)


def test_paired_bootstrap_interval_matches_the_normal_approximation():
    # 60 items only a gets right, 20 only b, 320 tied: mean d = 0.1, var d = 80/400 - 0.01 = 0.19,
    # so se = sqrt(0.19 / 400) = 0.02179 and the 95% interval is about 0.1 +- 1.96 se = [0.0573, 0.1427]
    a, b = _outcomes(200, 60, 20, 120)
    out = paired_bootstrap(a, b, n_boot=20_000, seed=0)
    se = math.sqrt(0.19 / 400)
    assert out["diff"] == pytest.approx(0.1)
    assert out["low"] == pytest.approx(0.1 - 1.96 * se, abs=0.005)
    assert out["high"] == pytest.approx(0.1 + 1.96 * se, abs=0.005)


# --- calibration and the report ----------------------------------------------------------------


def test_ece_by_hand():
    # bins of width 1/15: 0.95 -> bin 14 (accuracy 1/2), 0.65 -> bin 9 (accuracy 1)
    ece, bins = calibration([0.95, 0.95, 0.65, 0.65], [1, 0, 1, 1], n_bins=15)
    assert ece == pytest.approx(0.5 * abs(0.5 - 0.95) + 0.5 * abs(1.0 - 0.65), abs=1e-12)  # 0.4
    assert len(bins) == 15 and [b["count"] for b in bins] == [0] * 9 + [2] + [0] * 4 + [2]
    assert bins[14]["accuracy"] == 0.5 and bins[14]["confidence"] == pytest.approx(0.95)
    assert bins[9]["lower"] == pytest.approx(9 / 15) and bins[3]["accuracy"] is None
    assert calibration([0.8] * 5, [1, 1, 1, 1, 0])[0] == pytest.approx(0.0, abs=1e-12)  # calibrated
    _, edge = calibration([0.0, 1.0, 1 / 15], [0, 1, 0])  # edges: 0 -> first bin, (0, 1/15] -> first, 1 -> last
    assert edge[0]["count"] == 2 and edge[14]["count"] == 1


def test_logits_report_by_hand():
    logits = torch.tensor([[5.0, 4, 3, 2, 1, 0],  # true 0: top-1 right
                           [0.0, 1, 2, 3, 4, 5],  # true 0: ranked last, outside the top 5
                           [1.0, 0, 0, 0, 0, 3]])  # true 0: second, inside the top 5
    y = torch.tensor([0, 0, 0])
    rep = logits_report(logits, y)
    assert rep["accuracy"] == pytest.approx(1 / 3) and rep["top5"] == pytest.approx(2 / 3)
    assert rep["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
    assert rep["pred"] == [0, 5, 5] and rep["true"] == [0, 0, 0]
    assert rep["per_class"]["precision"][0] == 1.0 and rep["per_class"]["recall"][0] == pytest.approx(1 / 3)
    assert rep["per_class"]["f1"][0] == pytest.approx(0.5) and rep["per_class"]["support"][0] == 3
    assert rep["confusion"][0] == [1, 0, 0, 0, 0, 2]
    conf = torch.softmax(logits, 1).max(1).values.numpy()
    assert rep["ece"] == pytest.approx(calibration(conf, [1, 0, 0])[0])


# --- the cached path ---------------------------------------------------------------------------


def _images(n=4, size=64, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _cfg(backbone: str, k: int):
    return transfer.TransferConfig(backbone=backbone, trainable_blocks=k, pretrained=False, image_size=64)


@pytest.mark.parametrize("backbone,k", [("mobilenet_v2", 0), ("mobilenet_v2", 2), ("efficientnet_lite0", 1)])
def test_cached_path_gives_the_whole_networks_logits(backbone, k):
    if backbone.startswith("efficientnet_lite"):
        pytest.importorskip("efficientnet_lite_pytorch", reason="pip install -e '.[transfer]'")
    torch.manual_seed(0)
    bb, model, _ = transfer.build(_cfg(backbone, k), num_classes=5)
    prep = pc.prep_at(bb.preprocessing, 64)
    images = _images()
    split = pc.Split(images, torch.arange(4) % 2)
    feats = pc.feature_cache(bb, model.trunk.n_frozen, prep, {"train": split, "val": split, "test": split},
                             views=2, identity="test")
    tail = pc.CachedTail(model).eval()
    with torch.no_grad():
        whole = model.eval()(B.preprocess(images, prep))  # (4, 5)
        assert torch.allclose(tail(feats.test), whole, atol=1e-5)
        assert torch.allclose(tail(feats.train[:, 0]), whole, atol=1e-5)
        mirrored = model(B.preprocess(images.flip(-1), prep))
        assert torch.allclose(tail(feats.train[:, 1]), mirrored, atol=1e-5)  # view 1 is the mirror image
    assert feats.train.shape[:2] == (4, 2) and feats.source == "computed"


def test_bf16_cache_pass_is_close_to_fp32_and_keyed_apart():
    """The cache's bf16 pass (cache_bf16 where native) agrees with fp32 to bf16 rounding; the trunk comes back
    contiguous, and the disk/memory key names the precision so a cache of one is never read as the other."""
    torch.manual_seed(0)
    bb, model, _ = transfer.build(_cfg("mobilenet_v2", 2), num_classes=5)
    prep = pc.prep_at(bb.preprocessing, 64)
    split = pc.Split(_images(), torch.arange(4) % 2)
    splits = {"train": split, "val": split, "test": split}
    n = model.trunk.n_frozen
    f32 = pc.feature_cache(bb, n, prep, splits, views=1, identity="test", bf16=False)
    b16 = pc.feature_cache(bb, n, prep, splits, views=1, identity="test", bf16=True)
    assert b16.test.dtype == torch.float32 and b16.test.shape == f32.test.shape
    rel = (b16.test - f32.test).norm() / f32.test.norm()
    assert 0 < rel < 0.05  # bf16 differs (it really ran in bf16), by rounding only
    assert f32.key != b16.key and "bf16" in b16.key and "fp32" in f32.key
    assert all(p.is_contiguous() for p in model.trunk.parameters())


@pytest.mark.parametrize("backbone,k,tail_names", [("mobilenet_v2", 0, []), ("mobilenet_v2", 1, ["features.18"]),
                                                   ("mobilenet_v2", 3, ["features.16", "features.17", "features.18"]),
                                                   ("efficientnet_lite0", 1, ["head"]),
                                                   ("efficientnet_lite0", 2, ["blocks.15", "head"])])
def test_trainable_parameters_match_freeze(backbone, k, tail_names):
    if backbone.startswith("efficientnet_lite"):
        pytest.importorskip("efficientnet_lite_pytorch", reason="pip install -e '.[transfer]'")
    _, model, frozen = transfer.build(_cfg(backbone, k), num_classes=14)
    tail = pc.CachedTail(model)
    trainable = sum(p.numel() for p in tail.parameters() if p.requires_grad)
    optimised = sum(p.numel() for g in make_optimizer(tail, _cfg(backbone, k)).param_groups for p in g["params"])
    stages = sum(p.numel() for s in model.trunk.stages[len(model.trunk.stages) - k:] for p in s.parameters())
    head = 1280 * 14 + 14
    assert frozen["params_trainable"] == trainable == optimised == stages + head
    assert frozen["params_total"] == sum(p.numel() for p in model.parameters())
    assert frozen["trained_blocks"] == tail_names


def test_pick_view_draws_one_view_per_sample():
    xb = torch.stack([torch.zeros(200, 3), torch.ones(200, 3)], dim=1)  # (B, K=2, D): view v holds v
    torch.manual_seed(0)
    out = PickView()(xb)
    assert out.shape == (200, 3) and set(out[:, 0].tolist()) == {0.0, 1.0}
    assert (out == out[:, :1]).all()  # one view per sample, never mixed within a sample
    assert 70 < out[:, 0].sum() < 130


def test_views_are_fixed():
    images = _images(3)
    assert torch.equal(pc.view(images, 0), images) and torch.equal(pc.view(images, 1), images.flip(-1))
    crops = pc.view(images, 2)
    assert crops.shape == images.shape and crops.dtype == torch.uint8
    assert torch.equal(crops, pc.view(images, 2)) and not torch.equal(crops, pc.view(images, 3))


def test_prep_at_scales_the_resize_with_the_crop():
    prep = {"size": 224, "resize": 256, "interpolation": "bicubic", "mean": [0.5] * 3, "std": [0.5] * 3}
    assert pc.prep_at(prep, 128) == prep | {"size": 128, "resize": 146}
    assert pc.per_class_subset(torch.tensor([0, 1, 0, 1, 0, 2]), 2).tolist() == [0, 1, 2, 3, 5]


# --- the comparison's inputs -------------------------------------------------------------------


def test_compare_without_inputs_says_which_experiments_to_run(tmp_path):
    with pytest.raises(compare.MissingInput) as err:
        compare.gather(tmp_path, "standard")
    message = str(err.value)
    for name in ("pests.cnn_scratch", "pests.transfer_effnet_lite0", "pests.transfer_mobilenet_v2"):
        assert f"dl-assign run {name} --budget standard" in message


def test_compare_refuses_a_result_at_another_budget_or_without_predictions(tmp_path):
    import json

    base = {"budget": "smoke", "seeds": [0], "metrics": {}, "artifacts": [{"history": []}]}
    for name in ("pests.cnn_scratch", "pests.transfer_effnet_lite0"):
        (tmp_path / f"{name}.json").write_text(json.dumps(base | {"experiment": name}))
    (tmp_path / "pests.transfer_mobilenet_v2.json").write_text(
        json.dumps(base | {"experiment": "pests.transfer_mobilenet_v2", "budget": "standard"}))
    with pytest.raises(compare.MissingInput) as err:
        compare.gather(tmp_path, "standard")
    assert "at budget smoke, not standard" in str(err.value)
    assert "no per-image test predictions" in str(err.value)
