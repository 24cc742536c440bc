import json

from dl_assign.cli import main


def test_list_shows_every_experiment(capsys):
    from dl_assign import registry

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in registry.names():
        assert name in out


def test_unknown_set_key_exits_nonzero_naming_valid_keys(capsys):
    assert main(["run", "fashion.mlp", "--set", "nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'nonsense'" in err and "batch_size" in err and "epochs" in err


def test_bad_value_and_unknown_experiment(capsys):
    assert main(["run", "fashion.mlp", "--set", "epochs=many"]) == 2
    assert "expected int" in capsys.readouterr().err
    assert main(["run", "fashion.mpl"]) == 2
    assert "did you mean fashion.mlp" in capsys.readouterr().err


def test_data_table(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist" in out and "ip102" in out and "data root" in out


def test_run_smoke_writes_result(tmp_path, capsys, need_data):
    need_data("fashion-mnist")
    assert main(["run", "fashion.mlp", "--budget", "smoke", "-q", "--results-dir", str(tmp_path),
                 "--checkpoint-dir", str(tmp_path / "ck"), "--set", "epochs=1"]) == 0
    record = json.loads((tmp_path / "fashion.mlp.json").read_text())
    assert record["config"]["epochs"] == 1 and record["budget"] == "smoke"
    assert "test_accuracy" in capsys.readouterr().out


def test_missing_dataset_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from dl_assign.data import fashion

    monkeypatch.setenv("DL_ASSIGN_DATA", str(tmp_path))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "none")
    fashion.load_raw.cache_clear()
    try:
        assert main(["run", "fashion.mlp", "--budget", "smoke", "-q", "--results-dir", str(tmp_path)]) == 2
    finally:
        fashion.load_raw.cache_clear()
    err = capsys.readouterr().err
    assert "not found" in err and "apt-get install dataset-fashion-mnist" in err
