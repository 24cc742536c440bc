"""dl_assign.fairness.group_metrics against hand computations (exact fractions and plain NumPy), against
fairlearn's own bootstrap, and its errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dl_assign.fairness import MIN_GROUP, bootstrap_indices, group_metrics

TOL = 1e-12

# two groups of 6, worked out by hand:
#   A: y 1 1 1 0 0 0, pred 1 1 0 1 0 0 -> TPR 2/3, FPR 1/3, selection 1/2, base 1/2, accuracy 4/6, F1 4/6
#   B: y 1 1 0 0 0 0, pred 1 0 0 0 0 0 -> TPR 1/2, FPR 0,   selection 1/6, base 1/3, accuracy 5/6, F1 2/3
Y = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
P = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0])
G = np.array(["A"] * 6 + ["B"] * 6)


def test_hand_worked_example_exact():
    r = group_metrics(Y, P, G, n_boot=0)
    a, b = r["groups"]["A"], r["groups"]["B"]
    for got, want in ((a["tpr"], 2 / 3), (a["fpr"], 1 / 3), (a["selection_rate"], 1 / 2), (a["base_rate"], 1 / 2),
                      (a["accuracy"], 4 / 6), (a["f1"], 4 / 6), (b["tpr"], 1 / 2), (b["fpr"], 0.0),
                      (b["selection_rate"], 1 / 6), (b["base_rate"], 1 / 3), (b["accuracy"], 5 / 6),
                      (b["f1"], 2 / 3)):
        assert abs(got - want) < TOL
    assert (a["count"], a["positives"], a["negatives"]) == (6, 3, 3)
    assert (b["count"], b["positives"], b["negatives"]) == (6, 2, 4)
    o = r["overall"]
    assert abs(o["tpr"] - 3 / 5) < TOL and abs(o["fpr"] - 1 / 7) < TOL and abs(o["accuracy"] - 9 / 12) < TOL
    d = r["disparities"]
    eo, eor, di = d["equal_opportunity_difference"], d["equal_opportunity_ratio"], d["disparate_impact"]
    assert abs(eo["value"] - 1 / 6) < TOL and (eo["low_group"], eo["high_group"]) == ("B", "A")
    assert abs(eor["value"] - 3 / 4) < TOL and (eor["low_group"], eor["high_group"]) == ("B", "A")
    # disparate impact = selection(B) / selection(A) = (1/6) / (1/2): the reference (denominator) group is named
    assert abs(di["value"] - 1 / 3) < TOL and (di["low_group"], di["high_group"]) == ("B", "A")
    assert di["four_fifths_violated"] is True
    assert abs(d["demographic_parity_difference"]["value"] - 1 / 3) < TOL
    eod = d["equalized_odds_difference"]
    assert abs(eod["value"] - 1 / 3) < TOL and eod["from"] == "fpr"
    assert abs(eod["tpr_difference"] - 1 / 6) < TOL and abs(eod["fpr_difference"] - 1 / 3) < TOL
    assert abs(d["accuracy_difference"]["value"] - 1 / 6) < TOL
    assert a["too_small"] and b["too_small"] and eo["small_group"]  # 6 < 30 items
    assert r["undefined"] == []


def hand_rates(y, p, mask):
    """Plain NumPy, written out: every rate of one group."""
    yy, pp = y[mask], p[mask]
    tp, fp = np.sum((yy == 1) & (pp == 1)), np.sum((yy == 0) & (pp == 1))
    fn = np.sum((yy == 1) & (pp == 0))
    pos, neg = np.sum(yy == 1), np.sum(yy == 0)
    return {"count": len(yy), "base_rate": pos / len(yy), "selection_rate": np.sum(pp == 1) / len(yy),
            "tpr": tp / pos if pos else None, "fpr": fp / neg if neg else None,
            "accuracy": np.sum(yy == pp) / len(yy), "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None}


def hand_auc(y, s):
    """AUC by its definition: P(score of a positive > score of a negative) + 1/2 P(tie)."""
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return None
    diff = pos[:, None] - neg[None, :]
    return (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / (len(pos) * len(neg))


def _data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    race = rng.choice(["W", "B", "A", "I", "O"], n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    sex = rng.choice(["m", "f"], n)
    y = rng.integers(0, 2, n)
    s = np.round(np.clip(0.5 * y + rng.normal(0.25, 0.25, n), 0, 1), 2)  # rounded: ties in the AUC
    p = (s > 0.5).astype(int)
    return y, p, s, race, sex


def test_agrees_with_plain_numpy_intersections_and_auc():
    y, p, s, race, sex = _data()
    r = group_metrics(y, p, {"race": race, "sex": sex}, y_score=s, n_boot=0)
    assert r["sensitive"] == ["race", "sex"] and len(r["groups"]) == 10
    for gr in np.unique(race):
        for sx in np.unique(sex):
            mask = (race == gr) & (sex == sx)
            want, got = hand_rates(y, p, mask), r["groups"][f"{gr} x {sx}"]
            for m, v in want.items():
                assert (got[m] is None) == (v is None) and (v is None or abs(got[m] - v) < TOL), (gr, sx, m)
            assert abs(got["auc"] - hand_auc(y[mask], s[mask])) < TOL
    tprs = {g: v["tpr"] for g, v in r["groups"].items()}
    sel = {g: v["selection_rate"] for g, v in r["groups"].items()}
    d = r["disparities"]
    assert abs(d["equal_opportunity_difference"]["value"] - (max(tprs.values()) - min(tprs.values()))) < TOL
    assert abs(d["disparate_impact"]["value"] - min(sel.values()) / max(sel.values())) < TOL
    assert d["disparate_impact"]["low_group"] == min(sel, key=sel.get)
    assert d["disparate_impact"]["high_group"] == max(sel, key=sel.get)
    fprs = [v["fpr"] for v in r["groups"].values()]
    assert abs(d["equalized_odds_difference"]["value"] - max(max(tprs.values()) - min(tprs.values()),
                                                            max(fprs) - min(fprs))) < TOL
    assert abs(r["overall"]["auc"] - hand_auc(y, s)) < TOL


def _hand_bootstrap(y, p, g, names, n_boot, seed):
    """fairlearn's resampling written out again: default_rng(seed) -> uint32 seeds -> RandomState.choice."""
    seeds = np.random.default_rng(seed).integers(0, 2**32 - 1, size=n_boot, dtype=np.uint32)
    tpr, sel = np.full((n_boot, len(names)), np.nan), np.full((n_boot, len(names)), np.nan)
    for i, sd in enumerate(seeds):
        rows = np.random.RandomState(int(sd)).choice(len(y), len(y), replace=True)
        for j, name in enumerate(names):
            m = g[rows] == name
            yy, pp = y[rows][m], p[rows][m]
            if len(yy):
                sel[i, j] = np.mean(pp == 1)
            if np.any(yy == 1):
                tpr[i, j] = np.mean(pp[yy == 1] == 1)
    return tpr, sel


def test_intervals_equal_a_hand_bootstrap_and_fairlearn_metricframe():
    import pandas as pd
    from fairlearn.metrics import MetricFrame

    y, p, s, race, _ = _data(1, 300)
    names = sorted(set(race))
    r = group_metrics(y, p, race, n_boot=60, seed=5)
    tpr, sel = _hand_bootstrap(y, p, race, names, 60, 5)
    q = [0.025, 0.975]
    for j, g in enumerate(names):
        assert np.allclose(r["groups"][g]["ci"]["tpr"], np.nanquantile(tpr[:, j], q), atol=TOL, rtol=0)
        assert np.allclose(r["groups"][g]["ci"]["selection_rate"], np.nanquantile(sel[:, j], q), atol=TOL, rtol=0)
    eo = np.nanmax(tpr, 1) - np.nanmin(tpr, 1)
    di = np.nanmin(sel, 1) / np.nanmax(sel, 1)
    assert np.allclose(r["disparities"]["equal_opportunity_difference"]["ci"], np.quantile(eo, q), atol=TOL, rtol=0)
    assert np.allclose(r["disparities"]["disparate_impact"]["ci"], np.quantile(di, q), atol=TOL, rtol=0)

    def tpr_f(a, b):
        return np.mean(b[a == 1] == 1) if np.any(a == 1) else np.nan

    def sel_f(a, b):
        return np.mean(b == 1)

    mf = MetricFrame(metrics={"tpr": tpr_f, "selection_rate": sel_f}, y_true=y, y_pred=p,
                     sensitive_features=pd.Series(race, name="race"), n_boot=60, ci_quantiles=q, random_state=5)
    for i in (0, 1):
        for g in names:
            assert abs(r["groups"][g]["ci"]["tpr"][i] - mf.by_group_ci[i].loc[g, "tpr"]) < TOL
        assert abs(r["disparities"]["equal_opportunity_difference"]["ci"][i] - mf.difference_ci()[i]["tpr"]) < TOL
        assert abs(r["disparities"]["disparate_impact"]["ci"][i] - mf.ratio_ci()[i]["selection_rate"]) < TOL
        assert abs(r["overall"]["ci"]["selection_rate"][i] - mf.overall_ci[i]["selection_rate"]) < TOL


def test_bootstrap_indices_are_fairlearns_resamples():
    import pandas as pd

    idx = bootstrap_indices(50, 4, seed=11)
    seeds = np.random.default_rng(11).integers(0, 2**32 - 1, size=4, dtype=np.uint32)
    frame = pd.DataFrame({"i": np.arange(50)})
    for row, sd in zip(idx, seeds):  # what fairlearn's generate_single_bootstrap_sample does
        assert np.array_equal(row, frame.sample(frac=1, replace=True, random_state=sd)["i"].to_numpy())


def test_a_group_without_positives_has_no_tpr_said_not_nan():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1])
    g = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 4)  # b has no positives
    r = group_metrics(y, p, g, n_boot=20)
    assert r["groups"]["b"]["tpr"] is None and r["groups"]["b"]["fpr"] == 0.25
    assert {"group": "b", "metric": "tpr", "why": "no positives (TPR = TP / (TP + FN) is 0/0)"} in r["undefined"]
    eo = r["disparities"]["equal_opportunity_difference"]
    assert eo["groups_excluded"] == ["b"] and eo["groups_used"] == ["a", "c"]
    assert abs(eo["value"] - (1.0 - 0.5)) < TOL
    two = group_metrics(y[:8], p[:8], g[:8], n_boot=0)  # a and b only: the gap is undefined, and says why
    assert two["disparities"]["equal_opportunity_difference"]["value"] is None
    assert "fewer than two groups" in two["disparities"]["equal_opportunity_difference"]["why_undefined"]


def test_permutation_test_finds_a_planted_gap_and_not_a_null_one():
    rng = np.random.default_rng(3)
    n = 2000
    g = rng.choice(["x", "y", "z"], n)
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.85, y, 1 - y)  # the same error rate in every group
    null = group_metrics(y, p, g, n_boot=400, seed=1)["disparities"]
    planted = p.copy()
    m = (g == "z") & (y == 1)
    planted[m] = (rng.random(m.sum()) < 0.6).astype(int)  # group z: TPR 0.85 -> ~0.6
    gap = group_metrics(y, planted, g, n_boot=400, seed=1)["disparities"]
    assert null["equal_opportunity_difference"]["p_value"] > 0.05
    assert null["equal_opportunity_difference"]["significant"] is False
    # the bootstrap interval of max - min stays above 0 with no gap: why significance is a permutation test
    assert null["equal_opportunity_difference"]["ci"][0] > 0
    assert gap["equal_opportunity_difference"]["p_value"] < 0.01 and gap["equal_opportunity_difference"]["significant"]
    assert gap["equal_opportunity_difference"]["low_group"] == "z"
    assert gap["equalized_odds_difference"]["significant"]


def test_too_small_groups_are_marked():
    rng = np.random.default_rng(0)
    g = np.array(["big"] * 100 + ["tiny"] * (MIN_GROUP - 1))
    y = rng.integers(0, 2, len(g))
    r = group_metrics(y, y, g, n_boot=0)
    assert r["groups"]["tiny"]["too_small"] and not r["groups"]["big"]["too_small"]


@pytest.mark.parametrize("args, message", [
    ((Y, P[:-1], G), "length mismatch: y_true has 12 items, y_pred has 11"),
    ((Y, P, G[:-1]), "sensitive feature 'sensitive' has 11"),
    ((np.array([0, 1, 2] * 4), P, G), "labels must be binary"),
    ((Y, P, np.array(["A"] * 12)), "has one group only ('A')"),
])
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(ValueError) as e:
        group_metrics(*args, n_boot=0)
    assert message in str(e.value)


def test_bad_scores_positive_and_n_boot():
    with pytest.raises(ValueError, match="y_score has shape"):
        group_metrics(Y, P, G, y_score=np.zeros(5), n_boot=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        group_metrics(Y, P, G, y_score=np.full(12, np.nan), n_boot=0)
    with pytest.raises(ValueError, match="positive='yes' is not one of the label values"):
        group_metrics(Y, P, G, positive="yes", n_boot=0)
    with pytest.raises(ValueError, match="n_boot must be an integer >= 0"):
        group_metrics(Y, P, G, n_boot=-1)


def test_string_labels_and_positive():
    y = np.where(Y == 1, "female", "male")
    p = np.where(P == 1, "female", "male")
    r = group_metrics(y, p, G, positive="female", n_boot=0)
    assert abs(r["disparities"]["disparate_impact"]["value"] - 1 / 3) < TOL
    flipped = group_metrics(y, p, G, positive="male", n_boot=0)  # the other class as positive: other numbers
    assert abs(flipped["groups"]["A"]["tpr"] - 2 / 3) < TOL  # male recall in A: 2 of 3 negatives predicted 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.sampled_from("pqr")), min_size=4, max_size=60))
def test_property_matches_hand_route(rows):
    y, p, g = (np.array(c) for c in zip(*rows))
    if len(set(g)) < 2:
        with pytest.raises(ValueError, match="one group only"):
            group_metrics(y, p, g, n_boot=0)
        return
    r = group_metrics(y, p, g, n_boot=0)
    for name in set(g):
        want = hand_rates(y, p, g == name)
        for m, v in want.items():
            got = r["groups"][name][m]
            assert (got is None) == (v is None) and (v is None or abs(got - v) < TOL)
    for key in ("equal_opportunity_difference", "demographic_parity_difference", "equalized_odds_difference"):
        v = r["disparities"][key]["value"]
        assert v is None or 0 <= v <= 1
    di = r["disparities"]["disparate_impact"]["value"]
    assert di is None or 0 <= di <= 1


# --- the faces.fairness experiment's parts ---------------------------------------------------------


def test_age_bins_of_both_datasets_agree():
    from dl_assign.experiments.faces import fairness as ff

    assert ff.age_bin(np.array([0, 9, 10, 19, 20, 39, 40, 59, 60, 116])).tolist() == [
        "0-9", "0-9", "10-19", "10-19", "20-39", "20-39", "40-59", "40-59", "60+", "60+"]
    fair = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]
    assert ff.fairface_age_bin(fair).tolist() == ["0-9", "0-9", "10-19", "20-39", "20-39", "40-59", "40-59", "60+",
                                                  "60+"]
    with pytest.raises(ValueError, match="has no number"):
        ff.fairface_age_bin(["adult"])


def test_balanced_rows_draw_every_race_gender_group_equally():
    from dl_assign.experiments.faces import fairness as ff

    race = np.array(["W"] * 3000 + ["B"] * 600 + ["O"] * 400)
    y = np.tile([0, 1], 2000)
    rows = ff.balanced_rows(race, y, seed=0)
    assert len(rows) == len(race) and np.array_equal(rows, ff.balanced_rows(race, y, seed=0))
    keys = [f"{r}{g}" for r, g in zip(race[rows], y[rows])]
    shares = np.unique(keys, return_counts=True)[1] / len(rows)
    assert len(shares) == 6 and np.all(np.abs(shares - 1 / 6) < 0.02)  # was 37.5 % W-male, 5 % O-female


def test_threshold_optimizer_over_scores_closes_a_tpr_gap():
    from dl_assign.experiments.faces import fairness as ff

    rng = np.random.default_rng(0)

    def draw(n):
        g = rng.choice(np.array(["a", "b"], dtype=object), n)
        y = rng.integers(0, 2, n)
        s = np.clip(0.35 * y + rng.normal(0.35, 0.15, n) - 0.15 * (g == "b"), 0, 1)  # b's scores sit lower
        return g, y, s

    g_val, y_val, s_val = draw(4000)
    g_test, y_test, s_test = draw(4000)
    to = ff.threshold_optimizer(s_val, y_val, g_val, seed=0)
    before = group_metrics(y_test, (s_test >= 0.5).astype(int), g_test, n_boot=0)
    after = group_metrics(y_test, np.asarray(to.predict(s_test[:, None], sensitive_features=g_test, random_state=0)),
                          g_test, n_boot=0)
    gap_before = before["disparities"]["equal_opportunity_difference"]["value"]
    gap_after = after["disparities"]["equal_opportunity_difference"]["value"]
    assert gap_before > 0.2 and gap_after < 0.05


def test_fairface_race_is_analysed_when_the_csv_has_it():
    from dl_assign.experiments.faces import common as fc
    from dl_assign.experiments.faces import fairness as ff

    race = {s: np.array(["White", "Black"] * 3, dtype=object) for s in ("train", "val", "test")}
    age = {s: np.array([5, 15, 25, 45, 65, 30]) for s in ("train", "val", "test")}
    y = {"test": np.array([0, 1] * 3), "fairface": np.array([0, 1, 1, 0])}
    without = fc.GroupLabels(race, age, np.array(["3-9", "20-29", "30-39", "60-69"], dtype=object), None)
    assert "fairface_race" not in ff.analyses_of(without, y)
    with_race = fc.GroupLabels(race, age, without.fairface_age, np.array(["Indian", "White", "Indian", "Black"]))
    got = ff.analyses_of(with_race, y)
    assert got["fairface_race"][0] == "fairface" and list(got["fairface_race"][1]) == ["Indian", "White", "Indian",
                                                                                        "Black"]
    assert set(got["test_race_gender"][1]) == {"race", "gender"}


def test_fairness_experiment_at_smoke(tmp_path, need_data):
    import json

    from dl_assign import registry

    need_data("utkface", "fairface")
    record = registry.get("faces.fairness").run("smoke", results_dir=tmp_path, progress=False)
    m = record["metrics"]
    for key in ("val_accuracy", "val_f1", "val_auc", "erm/test_race/equal_opportunity_difference",
                "erm/test_race/disparate_impact", "erm_to/test_race/equal_opportunity_difference",
                "balanced/test_race/equal_opportunity_difference", "mitigation/erm_to/accuracy_change",
                "summary/analyses"):
        assert key in m and m[key]["mean"] is not None, key
    assert 0 <= m["erm/test_race/disparate_impact"]["mean"] <= 1
    text = (tmp_path / "faces.fairness.md").read_text()
    for heading in ("## What is analysed, and why", "## Model", "## Sample sizes per group", "## Validation",
                    "UTKFace test by race x gender", "## Mitigations, measured", "## Limitations and ethics"):
        assert heading in text, heading
    # by gender with female positive: the male group has no positives, so its TPR is said to be undefined
    assert "tpr of male (no positives" in text
    saved = json.loads((tmp_path / "faces.fairness.json").read_text())
    assert {"faces.fairness.tradeoff.png", "faces.fairness.groups_test_race.png"} <= set(saved["figures"])
