"""The verdict-bearing placeholder forms of dl_assign.reports.prose: ablation, goal, seeds, art."""

import pytest

from dl_assign.reports import prose


def _m(*values):
    v = [float(x) for x in values]
    return {"mean": sum(v) / len(v), "std": 0.0, "values": v}


def _fill(text, records):
    trace = prose.Trace()
    return prose.fill(text, records, trace), trace


def _ablation(lo, hi, seeds=1):
    return {"ab": {"metrics": {"final/test_accuracy": _m(*[0.9] * seeds), "alternative/test_accuracy":
                               _m(*[0.88] * seeds), "pooled/diff": _m((lo + hi) / 2), "pooled/diff_low": _m(lo),
                               "pooled/diff_high": _m(hi), "mcnemar_p": _m(*[0.01] * seeds)}}}


@pytest.mark.parametrize(("lo", "hi", "verdict"), [(0.01, 0.03, "the final is better"),
                                                   (-0.03, -0.01, "the study's choice is better"),
                                                   (-0.01, 0.02, "a tie")])
def test_ablation_verdict_follows_the_interval(lo, hi, verdict):
    text, trace = _fill("[[ablation:ab]]", _ablation(lo, hi, seeds=3))
    assert text.endswith(": " + verdict) and "(seeds pooled)" in text and not trace.missing
    one, _ = _fill("[[ablation:ab]]", _ablation(lo, hi, seeds=1))
    assert "(seeds pooled)" not in one and "same seed " in one


def test_ablation_without_its_pooled_metrics_is_missing():
    records = _ablation(0.01, 0.02)
    del records["ab"]["metrics"]["pooled/diff_low"]
    text, trace = _fill("[[ablation:ab]]", records)
    assert "MISSING" in text and trace.missing == ["ablation:ab"]


@pytest.mark.parametrize(("value", "op", "target", "met"), [(0.92, ">=", "0.94", False), (0.95, ">=", "0.94", True),
                                                             (0.02, "<=", "0.03", True), (0.05, "<=", "0.03", False)])
def test_goal_is_computed_not_typed(value, op, target, met):
    text, _ = _fill(f"[[goal:g:m:{op}:{target}]]", {"g": {"metrics": {"m": _m(value)}}})
    assert text.endswith(": met") == met and text.endswith("**not met**") != met
    assert f"goal {op} {float(target):g}" in text


def test_goal_with_an_unknown_operator_is_an_error():
    with pytest.raises(ValueError, match="bad placeholder"):
        _fill("[[goal:g:m:>:0.5]]", {"g": {"metrics": {"m": _m(0.6)}}})


def _seeds_record(ps, lows):
    metrics = {}
    for s, (p, low) in enumerate(zip(ps, lows)):
        for key, v in (("accuracy_diff", 0.01), ("mcnemar_p", p), ("auc_diff", 0.02), ("auc_diff_low", low),
                       ("auc_diff_high", 0.05)):
            metrics[f"vs_x_seed{s}/test_{key}"] = _m(v)
    return {"e": {"metrics": metrics}}


def test_seeds_calls_a_difference_only_when_every_seed_agrees():
    every, _ = _fill("[[seeds:e:vs_x:test]]", _seeds_record([0.01, 0.02, 0.001], [0.01, 0.01, 0.01]))
    assert "significant on every one of the 3 seeds" in every and "clear of zero on every one" in every
    some, _ = _fill("[[seeds:e:vs_x:test]]", _seeds_record([0.01, 0.5, 0.001], [0.01, -0.01, -0.02]))
    assert "significant on 2 of the 3 seeds only: not shown, read as a tie" in some
    assert "clear of zero on 1 of the 3 seeds only" in some


def test_art_names_each_distinct_artifact_once():
    records = {"c": {"artifacts": [{"best_cell": "lite0@224/k0"}, {"best_cell": "lite0@224/k0"}, {"other": 1}]}}
    text, _ = _fill("[[art:c:best_cell]]", records)
    assert text == "`lite0@224/k0`"
    assert "MISSING" in _fill("[[art:c:nothing]]", records)[0]
