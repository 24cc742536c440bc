"""Every registered experiment, trained at the chosen budget; results land in results/."""

import pytest

from dl_assign import registry


@pytest.mark.parametrize("name", registry.names())
def bench_experiment(name, run_experiment):
    record = run_experiment(name)
    assert record["seeds"], "an experiment must run at least one seed"
    for key, metric in record["metrics"].items():
        assert len(metric["values"]) == len(record["seeds"]), key
