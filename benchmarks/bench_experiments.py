"""Every registered experiment, trained at the chosen budget; results land in results/."""

import pytest

from dl_assign import registry

OWN_BENCHMARK = {"fashion.precision"}  # run by bench_fashion_cnn.bench_precision
# experiments that read other experiments' results from the results folder run after everything else
# (pests.transfer_compare sorts before the pests.transfer_* runs it reads, faces.gender_compare before
# faces.gender_improved; faces.gender_embedding pairs itself with the CNNs' results, faces.scenes reads its read-out)
READS_RESULTS = ("pests.transfer_compare", "faces.gender_compare", "faces.gender_embedding", "faces.scenes")
ORDER = [n for n in registry.names() if n not in OWN_BENCHMARK and n not in READS_RESULTS] + list(READS_RESULTS)


@pytest.mark.parametrize("name", ORDER)
def bench_experiment(name, run_experiment):
    record = run_experiment(name)
    assert record["seeds"], "an experiment must run at least one seed"
    pooled = set(record.get("summary_metrics", ()))  # over all seeds together: one value each
    for key, metric in record["metrics"].items():
        assert len(metric["values"]) == (1 if key in pooled else len(record["seeds"])), key
