"""Prose with its numbers filled in from the results at render time.

The answers in :mod:`.assignments` are written with placeholders instead of numbers, so a report
can never carry a number that the results do not: change a result JSON and the sentence changes.

``[[exp:metric]]``                mean ± sample std over seeds (one value: the value)
``[[exp:metric:mean]]``           the mean alone
``[[cfg:exp:field]]``             a config value of the run
``[[ds:exp:a.b]]``                a value of the run's dataset block
``[[welch:expA:mA:expB:mB]]``     A - B with a Welch t-test over the seeds' values (the test of record when
                                  only per-seed values exist); says "tie" when p >= 0.05
``[[paired:exp:prefix]]``         a paired test the experiment stored: ``prefix/acc_diff`` with its
                                  bootstrap interval and ``prefix/mcnemar_p`` (the transfer comparison)
``[[gpair:exp:a:b:split]]``       the gender comparison's paired numbers for ``a`` against ``b`` on ``split``
``[[seeds:exp:prefix:split]]``    paired tests an experiment stored against each seed of another model:
                                  ``prefix_seed<i>/<split>_accuracy_diff``, ``_mcnemar_p`` and ``_auc_diff`` with
                                  ``_low`` / ``_high``; a difference is called one only when every seed says so
``[[goal:exp:metric:op:target]]`` the metric's mean against a stated goal (``op`` is ``>=`` or ``<=``): "met" or
                                  "not met", computed; the target is the goal's own number, written in the spec
``[[art:exp:key]]``               a name an experiment stored in its artifacts (``best_cell``), as code: the
                                  seeds' values, each once

A placeholder whose result is missing renders as the MISSING marker. Numbers the filler computes
(differences, p-values, the 0.05 level) are recorded in :class:`Trace`, which the tests use to tell
computed numbers from hand-written ones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from dl_assign.results import fmt_metric, fmt_number

TOKEN = re.compile(r"\[\[([^\[\]]+)\]\]")
LEVEL = 0.05  # two-sided significance level of every verdict in the reports


@dataclass
class Trace:
    """The numbers a render computed (not stored in any result): formatted as printed."""

    derived: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    def d(self, x: float, fmt: str | None = None) -> str:
        text = fmt.format(x) if fmt else fmt_number(float(x))
        self.derived.update({text, text.lstrip("+")})
        return text


def num(x) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e7):
        return str(int(x))
    return fmt_number(float(x))


def metric_text(m: dict) -> str:
    if m.get("mean") is None:
        return "n/a"
    values = [v for v in m.get("values", []) if v is not None]
    if len(set(values)) == 1 and float(values[0]).is_integer():
        return num(values[0])
    if len(values) > 1:
        return fmt_metric(m)
    return num(m["mean"])


def config_text(v) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(config_text(x) for x in v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f"{v:g}"
    return str(v)


def welch(a: list[float], b: list[float]) -> float | None:
    """Two-sided Welch t-test p-value; None when a side has under two values or both have no spread."""
    import numpy as np
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return None
    import warnings

    with warnings.catch_warnings():  # nearly equal seeds: scipy warns of precision, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def verdict(a: list[float], b: list[float], trace: Trace) -> str:
    """'difference d (Welch ..., p = x: significant | a tie)' for two lists of per-seed values."""
    diff = sum(a) / len(a) - sum(b) / len(b)
    diff_fmt = "{:+.2e}" if diff != 0 and abs(diff) < 1e-3 else "{:+.4f}"  # MSEs of 1e-7 are not "+0.0000"
    p = welch(a, b)
    if p is None:
        if len(a) < 2 or len(b) < 2:
            return f"difference {trace.d(diff, diff_fmt)} (a single run on one side: no test, read as a tie)"
        return f"difference {trace.d(diff, diff_fmt)} (the same on every seed: no spread to test)"
    sig = "significant" if p < LEVEL else "not significant: a tie"
    return (f"difference {trace.d(diff, diff_fmt)} (Welch t-test over the seeds' values, n = "
            f"{trace.d(len(a), '{}')} and {trace.d(len(b), '{}')}, p = {trace.d(p, '{:.2g}')}: {sig} at the "
            f"{trace.d(LEVEL, '{:g}')} level)")


def _metric(records: dict, exp: str, key: str) -> dict | None:
    r = records.get(exp)
    if r is None:
        return None
    return r.get("metrics", {}).get(key)


def _fill_one(spec: str, records: dict, trace: Trace) -> str | None:
    parts = spec.split(":")
    kind = parts[0]
    if kind == "cfg" and len(parts) == 3:
        r = records.get(parts[1])
        if r is None or parts[2] not in r.get("config", {}):
            return None
        return config_text(r["config"][parts[2]])
    if kind == "ds" and len(parts) == 3:
        value = (records.get(parts[1]) or {}).get("dataset", {})
        for key in parts[2].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return None if value is None else config_text(value)
    if kind == "welch" and len(parts) == 5:
        ma, mb = _metric(records, parts[1], parts[2]), _metric(records, parts[3], parts[4])
        if ma is None or mb is None or ma.get("mean") is None or mb.get("mean") is None:
            return None
        return verdict([v for v in ma["values"] if v is not None], [v for v in mb["values"] if v is not None],
                       trace)
    if kind == "paired" and len(parts) == 3:
        get = {s: _metric(records, parts[1], f"{parts[2]}/{s}") for s in ("acc_diff", "ci_low", "ci_high",
                                                                        "mcnemar_p")}
        if any(v is None or v.get("mean") is None for v in get.values()):
            return None
        p = max(get["mcnemar_p"]["values"])
        sig = "significant" if p < LEVEL else "not significant: a tie"
        return (f"accuracy difference {metric_text(get['acc_diff'])} (paired bootstrap interval "
                f"[{num(get['ci_low']['mean'])}, {num(get['ci_high']['mean'])}], McNemar p per seed "
                f"{', '.join(num(v) for v in get['mcnemar_p']['values'])}: {sig} on every seed at the "
                f"{trace.d(LEVEL, '{:g}')} level)" if sig == "significant" else
                f"accuracy difference {metric_text(get['acc_diff'])} (paired bootstrap interval "
                f"[{num(get['ci_low']['mean'])}, {num(get['ci_high']['mean'])}], McNemar p per seed "
                f"{', '.join(num(v) for v in get['mcnemar_p']['values'])}: {sig} on at least one seed at the "
                f"{trace.d(LEVEL, '{:g}')} level)")
    if kind == "gpair" and len(parts) == 5:
        exp, a, b, split = parts[1:]
        acc = _metric(records, exp, f"{a}_minus_{b}/{split}_accuracy")
        auc = [_metric(records, exp, f"{a}_minus_{b}/{split}_auc{s}") for s in ("", "_low", "_high")]
        p = _metric(records, exp, f"{a}_vs_{b}/{split}_mcnemar_p")
        if acc is None or p is None or any(x is None for x in auc):
            return None
        sig = "significant" if p["mean"] < LEVEL else "not significant: a tie"
        return (f"accuracy {num(acc['mean'])} (McNemar p = {num(p['mean'])}: {sig} at the "
                f"{trace.d(LEVEL, '{:g}')} level), AUC {num(auc[0]['mean'])} (paired bootstrap interval "
                f"[{num(auc[1]['mean'])}, {num(auc[2]['mean'])}]"
                + ("" if auc[1]["mean"] > 0 or auc[2]["mean"] < 0 else ": it covers zero, a tie") + ")")
    if kind == "art" and len(parts) == 3:
        arts = (records.get(parts[1]) or {}).get("artifacts") or []
        values = [a[parts[2]] for a in (arts if isinstance(arts, list) else [arts])
                  if isinstance(a, dict) and isinstance(a.get(parts[2]), str | int | float)]
        return ", ".join(f"`{v}`" for v in dict.fromkeys(values)) if values else None
    if kind == "seeds" and len(parts) == 4:
        return _per_seed(records, parts[1], parts[2], parts[3], trace)
    if kind == "ablation" and len(parts) == 2:
        return _ablation(records, parts[1], trace)
    if kind == "goal" and len(parts) == 5:
        m = _metric(records, parts[1], parts[2])
        if m is None or m.get("mean") is None or parts[3] not in (">=", "<="):
            return None if m is None or m.get("mean") is None else _bad(spec)
        target = float(parts[4])
        met = m["mean"] >= target if parts[3] == ">=" else m["mean"] <= target
        return (f"{metric_text(m)} against the goal {parts[3]} {trace.d(target, '{:g}')}: "
                + ("met" if met else "**not met**"))
    if len(parts) in (2, 3):
        m = _metric(records, parts[0], parts[1])
        if m is None or m.get("mean") is None:
            return None
        if len(parts) == 3 and parts[2] == "mean":
            return num(m["mean"])
        return metric_text(m)
    raise ValueError(f"bad placeholder [[{spec}]]")


def _ablation(records: dict, exp: str, trace: Trace) -> str | None:
    """A final model against the study's choice (``experiments.ablation``): accuracies, pooled test, verdict."""
    get = {k: _metric(records, exp, k) for k in ("final/test_accuracy", "alternative/test_accuracy", "pooled/diff",
                                                 "pooled/diff_low", "pooled/diff_high", "mcnemar_p")}
    if any(v is None or v.get("mean") is None for v in get.values()):
        return None
    lo, hi = get["pooled/diff_low"]["mean"], get["pooled/diff_high"]["mean"]
    verdict = "the final is better" if lo > 0 else "the study's choice is better" if hi < 0 else "a tie"
    n = len(get["mcnemar_p"]["values"])
    return (f"test accuracy {metric_text(get['final/test_accuracy'])} (final) against "
            f"{metric_text(get['alternative/test_accuracy'])} (the study's choice), trained with the same "
            f"seed{'s' if n > 1 else ''} at the final budget; difference {num(get['pooled/diff']['mean'])}, 95% paired "
            f"bootstrap interval over the test images{' (seeds pooled)' if n > 1 else ''} [{num(lo)}, {num(hi)}], "
            f"McNemar p per seed {', '.join(num(v) for v in get['mcnemar_p']['values'])}: {verdict}")


def _bad(spec: str):
    raise ValueError(f"bad placeholder [[{spec}]]")


def _per_seed(records: dict, exp: str, prefix: str, split: str, trace: Trace) -> str | None:
    """Paired tests stored against each seed of another model: the verdict holds only if every seed agrees."""
    r = records.get(exp)
    if r is None:
        return None
    seeds = sorted({int(k[len(prefix) + 5:].split("/", 1)[0]) for k in r.get("metrics", {})
                    if k.startswith(f"{prefix}_seed") and k[len(prefix) + 5:].split("/", 1)[0].isdigit()})
    rows = []
    for s in seeds:
        got = {x: _metric(records, exp, f"{prefix}_seed{s}/{split}_{x}")
               for x in ("accuracy_diff", "mcnemar_p", "auc_diff", "auc_diff_low", "auc_diff_high")}
        if any(v is None or v.get("mean") is None for v in got.values()):
            return None
        rows.append({x: v["mean"] for x, v in got.items()})
    if not rows:
        return None
    n = len(rows)
    sig = sum(row["mcnemar_p"] < LEVEL for row in rows)
    apart = sum(row["auc_diff_low"] > 0 or row["auc_diff_high"] < 0 for row in rows)

    def says(k: int, what: str) -> str:
        if k == n:
            return f"{what} on every one of the {trace.d(n, '{}')} seeds"
        if k == 0:
            return f"not {what} on any of the {trace.d(n, '{}')} seeds: a tie"
        return f"{what} on {trace.d(k, '{}')} of the {trace.d(n, '{}')} seeds only: not shown, read as a tie"

    return (f"accuracy difference {', '.join(num(row['accuracy_diff']) for row in rows)} per seed "
            f"(McNemar p {', '.join(num(row['mcnemar_p']) for row in rows)}; at the {trace.d(LEVEL, '{:g}')} "
            f"level {says(sig, 'significant')}), AUC difference "
            f"{', '.join(num(row['auc_diff']) for row in rows)} (paired bootstrap intervals "
            + ", ".join(f"[{num(row['auc_diff_low'])}, {num(row['auc_diff_high'])}]" for row in rows)
            + f": {says(apart, 'clear of zero')})")


def fill(text: str, records: dict, trace: Trace, missing: str = "**MISSING**") -> str:
    """``text`` with every placeholder replaced from ``records`` (MISSING where a result is absent)."""
    def sub(m):
        out = _fill_one(m[1], records, trace)
        if out is None:
            trace.missing.append(m[1])
            return f"{missing} (`{m[1]}`)"
        return out
    return TOKEN.sub(sub, text)


def isfinite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
