"""Every registered experiment runs at the smoke budget and writes a complete result."""

import json
import math

import pytest

from dl_assign import registry
from dl_assign.results import REQUIRED_FIELDS


@pytest.mark.parametrize("name", registry.names())
def test_experiment_runs_at_smoke(name, tmp_path, need_data):
    exp = registry.get(name)
    need_data(*exp.datasets)
    record = exp.run("smoke", results_dir=tmp_path, progress=False)
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert saved == record
    for key in REQUIRED_FIELDS:
        assert key in saved, key
    assert saved["budget"] == "smoke" and saved["seeds"] == list(exp.config("smoke").seeds)
    assert saved["metrics"], "an experiment must report metrics"
    finite = [m["mean"] for m in saved["metrics"].values() if m["mean"] is not None and math.isfinite(m["mean"])]
    assert finite, "no finite metric"
    if exp.datasets:
        assert saved["dataset"].get("name"), "the dataset used must be recorded"
    for fig in saved["figures"]:
        assert (tmp_path / fig).stat().st_size > 1000, fig
    assert (tmp_path / f"{name}.md").read_text().startswith(f"# {name}")
