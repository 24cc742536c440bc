"""The model store: save / list / load round trip, versions only go up, bad input refused, kill -9 safe."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from dl_assign import cli, store
from dl_assign.models.small_cnn import SmallCNN

KWARGS = {"n_classes": 3, "widths": [4, 8], "dropout": 0.0}
PREP = {"size": 32, "resize": 32, "interpolation": "bilinear", "crop": "center",
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def _model(seed: int = 0) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(3, (4, 8), dropout=0.0)


def _save(root, model=None, *, name="tiny", accuracy=0.5, **over):
    args = dict(task="toy", name=name, builder="small_cnn", builder_kwargs=KWARGS, classes=["a", "b", "c"],
                preprocessing=PREP, metrics={"test_accuracy": accuracy}, experiment="toy.tiny", budget="smoke",
                seed=0, root=root)
    args.update(over)
    return store.save(model if model is not None else _model(), **args)


def test_round_trip_gives_an_eval_model_with_the_same_outputs_and_full_meta(tmp_path):
    model = _model(1)
    info = _save(tmp_path, model, accuracy=0.75)
    assert info.version == 1 and info.path == tmp_path / "toy" / "tiny" / "1"
    loaded, meta = store.load("toy", "tiny", root=tmp_path)
    assert not loaded.training
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    for key in ("builder", "builder_kwargs", "classes", "preprocessing", "metrics", "experiment", "budget", "seed",
                "git_sha", "created", "sha256", "version"):
        assert key in meta, key
    assert meta["classes"] == ["a", "b", "c"] and meta["preprocessing"]["mean"] == [0.5] * 3
    assert meta["sha256"] == info.sha256 and meta["version"] == 1 and meta["git_sha"]
    state = torch.load(info.path / "model.pt", weights_only=True)  # a plain state dict
    assert set(state) == set(model.state_dict())


def test_backbone_classifier_builder_round_trip(tmp_path):
    from dl_assign.models import backbones as B

    torch.manual_seed(0)
    model = B.BackboneClassifier(B.backbone("mobilenet_v2", pretrained=False).trunk, num_classes=4, dropout=0.1)
    B.freeze(model, 1)
    store.save(model, task="toy", name="mnv2", builder="backbone_classifier",
               builder_kwargs={"backbone": "mobilenet_v2", "num_classes": 4, "dropout": 0.1}, classes="abcd",
               preprocessing=B.backbone("mobilenet_v2", pretrained=False).preprocessing, metrics={}, experiment="x",
               budget="smoke", seed=0, root=tmp_path)
    loaded = store.load("toy", "mnv2", root=tmp_path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), model.eval()(x))
    assert loaded.preprocessing["size"] == 224


def test_versions_only_go_up_even_after_deleting_the_latest(tmp_path):
    assert [_save(tmp_path).version for _ in range(3)] == [1, 2, 3]
    shutil.rmtree(tmp_path / "toy" / "tiny" / "3")
    assert _save(tmp_path).version == 4  # .last_version remembers 3
    for v in (1, 2, 4):
        shutil.rmtree(tmp_path / "toy" / "tiny" / str(v))
    assert _save(tmp_path).version == 5
    (tmp_path / "toy" / "tiny" / ".last_version").unlink()
    assert _save(tmp_path).version == 6  # the folders alone still say 5


def test_racing_writers_get_distinct_versions(tmp_path):
    got, errors = [], []

    def worker(seed):
        try:
            got.append(_save(tmp_path, _model(seed)).version)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(got) == [1, 2, 3, 4, 5, 6]
    assert store.list_models(tmp_path)[0].versions == (1, 2, 3, 4, 5, 6)


def test_a_lost_race_for_a_number_retries_with_the_next(tmp_path, monkeypatch):
    _save(tmp_path)
    real, calls = store._next_version, []

    def stale(model_dir):  # first answer: a number another writer already took
        calls.append(1)
        return 1 if len(calls) == 1 else real(model_dir)

    monkeypatch.setattr(store, "_next_version", stale)
    info = _save(tmp_path, accuracy=0.9)
    assert info.version == 2 and len(calls) == 2
    assert json.loads((tmp_path / "toy" / "tiny" / "2" / "meta.json").read_text())["version"] == 2
    assert json.loads((tmp_path / "toy" / "tiny" / "1" / "meta.json").read_text())["metrics"]["test_accuracy"] == 0.5


def test_sha256_mismatch_on_load_is_refused(tmp_path):
    info = _save(tmp_path)
    blob = bytearray((info.path / "model.pt").read_bytes())
    blob[-20] ^= 0xFF
    (info.path / "model.pt").write_bytes(bytes(blob))
    with pytest.raises(store.ChecksumMismatch, match="sha256") as err:
        store.load("toy", "tiny", 1, root=tmp_path)
    assert str(info.path / "model.pt") in str(err.value) and info.sha256 in str(err.value)


def test_version_folder_without_meta_json_is_refused_and_not_listed(tmp_path):
    _save(tmp_path)
    info = _save(tmp_path)
    (info.path / "meta.json").unlink()
    with pytest.raises(store.IncompleteVersion, match="no meta.json") as err:
        store.load("toy", "tiny", 2, root=tmp_path)
    assert str(info.path) in str(err.value)
    record = store.list_models(tmp_path)[0]
    assert record.versions == (1,) and record.incomplete == (2,) and record.latest == 1
    assert store.load("toy", "tiny", root=tmp_path).meta["version"] == 1  # latest = highest complete
    assert _save(tmp_path).version == 3  # the broken number is not reused either


@pytest.mark.parametrize("task,name", [("../evil", "m"), ("toy", "../../evil"), ("/abs", "m"), ("toy", "a/b"),
                                       ("toy", ".hidden"), ("..", "m"), ("toy", "")])
def test_path_escaping_names_are_refused(tmp_path, task, name):
    root = tmp_path / "store"
    with pytest.raises(store.UnsafeName):
        _save(root, task=task, name=name)
    with pytest.raises(store.UnsafeName):
        store.load(task, name, root=root)
    assert not (tmp_path / "evil").exists() and not root.exists()


def test_a_symlink_out_of_the_store_is_refused(tmp_path):
    root, outside = tmp_path / "store", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "toy").symlink_to(outside)
    with pytest.raises(store.UnsafeName, match="outside the store"):
        _save(root)
    assert not any(outside.iterdir())


def test_save_refuses_kwargs_that_do_not_rebuild_the_model(tmp_path):
    with pytest.raises(store.StoreError, match="does not rebuild"):
        _save(tmp_path, builder_kwargs={**KWARGS, "widths": [4, 16]})
    with pytest.raises(store.StoreError, match="unknown builder 'nope'.*small_cnn"):
        _save(tmp_path, builder="nope")
    with pytest.raises(store.StoreError, match="JSON"):
        _save(tmp_path, metrics={"test_accuracy": torch.tensor(0.5)})
    assert store.list_models(tmp_path) == []


def test_a_builder_registered_elsewhere_is_found_again_on_load(tmp_path):
    @store.builder("test_store_linear")
    def linear(d: int):
        return torch.nn.Linear(d, 2)

    _save(tmp_path, torch.nn.Linear(5, 2), name="lin", builder="test_store_linear", builder_kwargs={"d": 5})
    assert isinstance(store.load("toy", "lin", root=tmp_path).model, torch.nn.Linear)
    with pytest.raises(ValueError, match="already registered"):
        store.builder("small_cnn")(linear)


# The writer: saves version 1, then a second version that stalls half-way through model.pt.
_KILLED_WRITER = """
import os, sys, time
from pathlib import Path
import torch
from dl_assign import store
from dl_assign.models.small_cnn import SmallCNN

root, ready = sys.argv[1], Path(sys.argv[2])
real = store._write_bytes

def stalling(path, data):
    if path.name == "model.pt":
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
        ready.write_text(str(os.getpid()))
        time.sleep(120)  # killed here
    real(path, data)

store._write_bytes = stalling
store.save(SmallCNN(3, (4, 8), dropout=0.0), task="toy", name="tiny", builder="small_cnn",
           builder_kwargs={"n_classes": 3, "widths": [4, 8], "dropout": 0.0}, classes=["a", "b", "c"],
           preprocessing={}, metrics={"test_accuracy": 0.1}, experiment="x", budget="smoke", seed=0, root=root)
"""


def test_kill_9_while_saving_leaves_only_complete_versions(tmp_path):
    first = _save(tmp_path)
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(ready)], env=env,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never reached model.pt"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    model_dir = tmp_path / "toy" / "tiny"
    temps = list(model_dir.glob(".tmp-*"))
    assert len(temps) == 1 and (temps[0] / "model.pt").stat().st_size > 0  # the half-written file is there ...
    record = store.list_models(tmp_path)[0]
    assert record.versions == (1,) and record.incomplete == () and record.test_accuracy == 0.5  # ... never listed
    assert store.load("toy", "tiny", root=tmp_path).meta["sha256"] == first.sha256
    assert _save(tmp_path).version == 2
    assert not list(model_dir.glob(".tmp-*"))  # the dead writer's temp folder was cleaned up


def test_cli_models_lists_the_store(tmp_path, capsys):
    _save(tmp_path, accuracy=0.8125)
    _save(tmp_path, accuracy=0.875)
    _save(tmp_path, name="other", accuracy=0.5)
    assert cli.main(["models", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path.resolve()) in out
    rows = [line.split() for line in out.splitlines() if line.startswith("toy")]
    assert rows == [["toy", "other", "1", "1", "0.5000"], ["toy", "tiny", "1,2", "2", "0.8750"]]
    assert cli.main(["models", "--root", str(tmp_path / "empty")]) == 0
    assert "(no stored models)" in capsys.readouterr().out


def test_store_root_defaults_to_dot_models_and_follows_the_env(monkeypatch, tmp_path):
    monkeypatch.delenv("DL_ASSIGN_MODELS", raising=False)
    assert store.store_root() == Path(".models")
    monkeypatch.setenv("DL_ASSIGN_MODELS", str(tmp_path))
    assert store.store_root() == tmp_path
    _save(None)
    assert store.list_models()[0].versions == (1,)



def test_a_version_with_the_same_weights_is_marked_as_a_duplicate_of_the_first(tmp_path):
    first, second = _save(tmp_path, _model(1)), _save(tmp_path, _model(1))  # bit-identical weights, twice
    third = _save(tmp_path, _model(2))  # other weights
    metas = [json.loads((info.path / "meta.json").read_text()) for info in (first, second, third)]
    assert metas[0]["sha256"] == metas[1]["sha256"] != metas[2]["sha256"]
    assert "duplicate_of" not in metas[0] and metas[1]["duplicate_of"] == first.version
    assert "duplicate_of" not in metas[2]
    assert [r.versions for r in store.list_models(tmp_path)] == [(1, 2, 3)]  # recorded, and marked, not hidden
