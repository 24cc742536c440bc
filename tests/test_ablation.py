"""The paired final-versus-study comparison (``dl_assign.experiments.ablation``) and pooled summary metrics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dl_assign import registry, results
from dl_assign.config import ExperimentConfig
from dl_assign.experiments import ablation


@given(st.lists(st.booleans(), min_size=1, max_size=300))
def test_outcomes_survive_the_json_text(bits):
    text = ablation.outcomes_text(bits)
    assert set(text) <= {"0", "1"} and len(text) == len(bits)
    assert ablation.outcomes_array(text).tolist() == bits


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_paired_seed_counts_and_groups(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 200)
    a, b = rng.random(200) < 0.8, rng.random(200) < 0.6
    out = ablation.paired_seed(a, b, y, {"low": [0, 1], "high": [2, 3]}, seed=seed)
    m = out.metrics
    assert m["final/test_accuracy"] == pytest.approx(a.mean())
    assert m["diff"] == pytest.approx(a.mean() - b.mean())
    assert m["diff_low"] <= m["diff"] <= m["diff_high"]
    assert m["only_final_right"] == (a & ~b).sum() and m["only_alternative_right"] == (~a & b).sum()
    low = np.isin(y, [0, 1])
    assert m["final/low_accuracy"] == pytest.approx(a[low].mean())
    assert m["high_diff"] == pytest.approx(a[~low].mean() - b[~low].mean())
    assert 0 <= m["mcnemar_p"] <= 1


def _seeds(pairs):
    return [ablation.paired_seed(a, b) for a, b in pairs]


def test_pooled_verdicts():
    rng = np.random.default_rng(0)
    base = rng.random(2000) < 0.7
    better = base | (rng.random(2000) < 0.3)  # right wherever base is, and on more images
    assert ablation.pooled(_seeds([(better, base)] * 2))["verdict"] == "final better"
    assert ablation.pooled(_seeds([(base, better)] * 2))["verdict"] == "alternative better"
    same = ablation.pooled(_seeds([(base, base.copy())]))
    assert same["verdict"] == "tie" and same["diff"] == 0 and same["images"] == 2000


def test_summary_metrics_are_one_value_and_listed():
    per_seed = [{"acc": 0.5}, {"acc": 0.7}]
    rec = results.make_record(experiment="x", budget="smoke", config={}, seeds=[0, 1], per_seed=per_seed,
                              seed_seconds=[1, 1], artifacts=[{}, {}], wall_seconds=2, dataset={}, figures=[],
                              summary={"pooled/diff": 0.25})
    assert rec["metrics"]["pooled/diff"] == {"mean": 0.25, "std": 0.0, "values": [0.25]}
    assert rec["metrics"]["acc"]["values"] == [0.5, 0.7] and rec["summary_metrics"] == ["pooled/diff"]
    results.validate_record(rec)
    with pytest.raises(ValueError, match="also per-seed"):
        results.make_record(experiment="x", budget="smoke", config={}, seeds=[0], per_seed=[{"acc": 1.0}],
                            seed_seconds=[1], artifacts=[{}], wall_seconds=1, dataset={}, figures=[],
                            summary={"acc": 0.5})


def test_the_report_puts_the_pooled_test_into_the_record(tmp_path):
    rng = np.random.default_rng(1)
    final = rng.random(500) < 0.9
    alt = final & (rng.random(500) < 0.8)  # the alternative loses a fifth of the final's right answers

    def fn(cfg, seed, ctx):
        return ablation.paired_seed(final, alt, seed=seed)

    exp = registry.Experiment("test.ablation_toy", ExperimentConfig, fn, (),
                              report=ablation.report("A", "B", "the study preferred B"))
    rec = exp.run("smoke", {"seeds": (0, 1)}, results_dir=tmp_path, progress=False)
    m = rec["metrics"]
    assert m["pooled/final_better"]["values"] == [1.0] and m["pooled/alternative_better"]["values"] == [0.0]
    assert m["diff"]["values"] == [pytest.approx(final.mean() - alt.mean())] * 2
    assert rec["summary_metrics"] == sorted(k for k in m if k.startswith("pooled/"))
    assert "**final better**" in rec["notes"] and "the study preferred B" in rec["notes"]
    assert (tmp_path / "test.ablation_toy.json").is_file()


def test_the_three_ablations_are_registered_with_the_finals_budget():
    pairs = {"fashion.numpy_mlp_dropout": "fashion.numpy_mlp", "fashion.cnn_flip": "fashion.cnn",
             "imagenet.cnn_best_depth": "imagenet.cnn_best"}
    for name, final in pairs.items():
        cfg, fcfg = registry.get(name).config("standard"), registry.get(final).config("standard")
        shared = {k for k in vars(fcfg) if k not in ("seeds", "speed_images", "save_model")}
        assert {k: getattr(cfg, k) for k in shared} == {k: getattr(fcfg, k) for k in shared}, name
    assert registry.get("fashion.numpy_mlp_dropout").config("standard").alternative_dropout == 0.0
    assert registry.get("imagenet.cnn_best_depth").config("standard").alternative_convs_per_stage == 1
