"""Every result record names the data it really used, and a stand-in says what it replaces (issue 28).

The committed ``results/*.json`` are scanned; the code that writes new records (``data.ip102.info``,
``data.tinyimagenet.info`` + ``stand_in``, ``experiments.faces.common.dataset_name``) is checked on
tiny folders built here, so the test needs no dataset.
"""

import json
import sys
from pathlib import Path

from dl_assign import grades, registry
from dl_assign.data import ip102, tinyimagenet
from dl_assign.experiments.faces import common as faces_common

RESULTS = Path(__file__).resolve().parents[1] / "results"

# the real datasets a record's name is made of ("utkface+fairface-540": both, used together)
REAL_PARTS = {
    "fashion-mnist",  # seeds 001 and 004 ask for it (001's Kaggle CSVs hold the same images)
    "ip102", "pests14",  # the real IP102, and the 14-class stand-in in its layout
    "mini-imagenet", "tiny-imagenet-100", "tiny-imagenet-200",
    "utkface", "fairface", "fairface-540",
    "scenes",  # faces.detectors: UTKFace test faces pasted into Tiny-ImageNet backgrounds (data.scenes)
}
SYNTHETIC = {"sine", "generated", "none (seeded random images)"}  # made by the code: nothing to stand in for
# experiment prefix -> (the data its seed asks for, what a record on other data must say it stands in for)
SEED_ASKS = {
    "pests.": ("ip102", "ip102"), "web.": ("ip102", "ip102"), "segment.": ("ip102", "ip102"),  # seed 000 3a-3c
    "imagenet.": ("mini-imagenet", "mini-imagenet"),  # seed 002
    "faces.gender_": (None, faces_common.STANDS_IN_FOR),  # seed 003's Kaggle sets: never here
    "faces.fairness": (None, faces_common.STANDS_IN_FOR),  # seed 000 4: FairFace for training and analysis
}


def _records() -> list[tuple[str, dict]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(RESULTS.glob("*.json"))
            if not p.name.startswith("grades")]


def _uses_no_data(experiment: str) -> bool:
    try:
        return not registry.get(experiment).datasets
    except registry.UnknownExperiment:
        return not grades.BENCHMARK_RECORDS.get(experiment, ("?",))


def check_block(experiment: str, ds: dict) -> list[str]:
    """What is dishonest about one record's dataset block (empty: nothing)."""
    if not ds:
        return [] if _uses_no_data(experiment) else [f"{experiment}: no dataset recorded though it reads data"]
    name = str(ds.get("name"))
    if name in SYNTHETIC:
        return []
    unknown = [part for part in name.split("+") if part not in REAL_PARTS]
    if unknown:
        return [f"{experiment}: dataset name {name!r}: {unknown} not known real datasets ({sorted(REAL_PARTS)})"]
    asked = next((v for k, v in SEED_ASKS.items() if experiment.startswith(k)), None)
    if asked is None or name == asked[0]:  # no seed asks for other data, or this is the data asked for
        return []
    problems = []
    if ds.get("stands_in_for") != asked[1]:
        problems.append(f"{experiment}: {name} must say what it stands in for ({asked[1]!r}), "
                        f"got {ds.get('stands_in_for')!r}")
    if len(str(ds.get("why", ""))) < 40:
        problems.append(f"{experiment}: {name} stands in for {asked[1]!r} without a why")
    return problems


def test_every_committed_record_names_its_real_dataset():
    records = _records()
    assert len(records) >= 30, f"expected the committed results in {RESULTS}"
    problems = [p for _, rec in records for p in check_block(rec["experiment"], rec.get("dataset") or {})]
    assert not problems, "\n".join(problems)
    names = {(rec.get("dataset") or {}).get("name") for _, rec in records}
    assert {"pests14", "tiny-imagenet-100", "utkface+fairface-540"} <= names  # the stand-ins are named as such
    assert "ip102" not in names  # no committed run used the real IP102


def test_the_checker_catches_the_old_names():
    assert check_block("pests.cnn_scratch", {"name": "ip102", "source": ".data/pests14/ip102_v1.1"}) == []  # real
    old = {"pests.cnn_scratch": {"name": "pests14"}, "imagenet.cnn_best": {"name": "tiny-imagenet"},
           "faces.gender_baseline": {"name": "utkface+fairface-540", "stands_in_for": "kaggle", "why": "x" * 50},
           "segment.cnn_features": {"name": "tiny-imagenet-100", "why": "y" * 50,
                                    **{"stands_in_for": "mini-imagenet"}},
           "fashion.mlp": {}}
    for experiment, ds in old.items():
        assert check_block(experiment, ds), experiment
    assert check_block("fashion.precision", {}) == []  # synthetic batches: no dataset to name


def _ip102_folder(root: Path, classes: int = 3) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("".join(f"{i + 1} class{i}\n" for i in range(classes)))
    for split in ip102.SPLITS:
        (root / f"{split}.txt").write_text(f"a_{split}.jpg 0\n")
    return root


def test_ip102_info_names_the_stand_in_and_the_real_set(tmp_path):
    stand_in = ip102.info(_ip102_folder(tmp_path / "pests14" / "ip102_v1.1", 14))
    assert (stand_in["name"], stand_in["stands_in_for"], stand_in["classes"]) == ("pests14", "ip102", 14)
    assert "102" in stand_in["why"] and "not comparable" in stand_in["why"]
    real = ip102.info(_ip102_folder(tmp_path / "ip102_v1.1", 102))
    assert real["name"] == "ip102" and "stands_in_for" not in real
    assert check_block("pests.cnn_scratch", stand_in) == [] and check_block("pests.cnn_scratch", real) == []


def test_tinyimagenet_info_counts_its_classes_and_says_what_it_replaces(tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "val_annotations.txt").write_text("")
    (tmp_path / "wnids.txt").write_text("".join(f"n{i:08d}\n" for i in range(100)))
    block = tinyimagenet.info(tmp_path) | tinyimagenet.stand_in("mini-imagenet")
    assert block["name"] == "tiny-imagenet-100" and block["stands_in_for"] == "mini-imagenet"
    assert check_block("imagenet.cnn_best", block) == []
    assert check_block("segment.cnn_features", block)  # segmentation stands in for IP102's images, not mini-ImageNet
    assert check_block("segment.cnn_features", tinyimagenet.info(tmp_path) | tinyimagenet.stand_in("ip102")) == []


def test_face_data_is_named_by_its_fairface_folder():
    assert faces_common.dataset_name("/d/fairface-540") == "utkface+fairface-540"
    assert faces_common.dataset_name(Path("/d/FairFace")) == "utkface+fairface"
    assert "gender-recognition-dataset" in faces_common.STANDS_IN_FOR and "FairFace" in faces_common.STANDS_IN_FOR


def test_the_migration_changes_only_the_dataset_block(tmp_path):
    sys.path.insert(0, str(RESULTS.parent / "scripts"))
    try:
        import migrate_dataset_names as mig
    finally:
        sys.path.pop(0)
    src = RESULTS / "pests.cnn_scratch.json"
    old = json.loads(src.read_text())
    old["dataset"] = {"name": "ip102", "source": ".data/pests14/ip102_v1.1", "identity": "sha", "classes": 14}
    (tmp_path / "pests.cnn_scratch.json").write_text(json.dumps(old, indent=1) + "\n")
    md_old = "# x\n\nDataset: **ip102** from `.data/pests14/ip102_v1.1` (sha).\n\nrest\n"
    (tmp_path / "pests.cnn_scratch.md").write_text(md_old)
    assert mig.migrate(tmp_path) == ["pests.cnn_scratch: ip102 -> pests14"]
    new = json.loads((tmp_path / "pests.cnn_scratch.json").read_text())
    assert {k: v for k, v in new.items() if k != "dataset"} == {k: v for k, v in old.items() if k != "dataset"}
    assert new["dataset"] == old["dataset"] | {"name": "pests14", "stands_in_for": "ip102", "why": ip102.STAND_IN_WHY}
    md = (tmp_path / "pests.cnn_scratch.md").read_text()
    assert "Dataset: **pests14** from" in md and "It stands in for **ip102**" in md and md.endswith("rest\n")
    assert mig.migrate(tmp_path) == []  # idempotent
