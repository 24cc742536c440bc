"""Checkpoints load with ``weights_only=True``: ours round-trip, a file that would run code is refused."""

import pickle
import random

import numpy as np
import pytest
import torch
from torch import nn

from dl_assign.engine import TensorLoader, TrainConfig, fit, seed_everything
from dl_assign.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dl_assign.engine.seeding import rng_state, set_rng_state


def _toy(seed=0, n=256):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] - x[:, 2] > 0).long()
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))  # dropout: RNG matters
    return model, TensorLoader(x, y, 32, shuffle=True, seed=seed), TensorLoader(x, y, 128)


class _Payload:
    """Unpickling this creates ``marker``: stands for any code a hostile checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _write_hostile(path, marker, writer):
    state = {"model": {"w": torch.zeros(2)}, "rng": _Payload(marker), "epoch": 0}
    if writer == "torch.save":
        torch.save(state, path)
    else:  # a bare pickle, as a legacy (non-zip) torch file would be
        with open(path, "wb") as f:
            pickle.dump(state, f)


def test_fit_checkpoint_loads_weights_only_and_resume_matches_uninterrupted(tmp_path):
    cfg = TrainConfig(epochs=2, lr=0.01, optimizer="adamw", schedule="cosine")
    model, train, val = _toy(seed=5)
    full = fit(model, train, val, cfg, checkpoint=tmp_path / "full.pt", progress=False)
    full_params = [p.detach().clone() for p in model.parameters()]

    state = torch.load(tmp_path / "full.pt", weights_only=True)  # plain types only: no allow-list needed
    assert state["epoch"] == 1 and state["stopped"] is True
    assert [r["train_loss"] for r in state["history"]] == [r["train_loss"] for r in full]
    for saved, trained in zip(state["model"].values(), full_params):
        assert torch.equal(saved, trained)
    assert isinstance(state["rng"]["numpy"]["key"], list) and len(state["rng"]["numpy"]["key"]) == 624

    # stop after epoch 1 of 2 (the callback runs before that epoch's checkpoint is written)
    ckpt = tmp_path / "part.pt"
    model, train, val = _toy(seed=5)

    def interrupt(epoch, _model, _row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model, train, val, cfg, checkpoint=ckpt, progress=False, callbacks=(interrupt,))
    assert torch.load(ckpt, weights_only=True)["epoch"] == 0
    _, train, val = _toy(seed=5)
    model, _, _ = _toy(seed=77)  # another init and global RNG: everything must come from the checkpoint
    resumed = fit(model, train, val, cfg, checkpoint=ckpt, resume=True, progress=False)
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in full]
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in full]
    for a, b in zip(model.parameters(), full_params):
        assert torch.equal(a, b)


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    seed_everything(11)
    torch.save({"rng": rng_state()}, tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(3))
    seed_everything(12)  # move every RNG elsewhere
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    got = (random.random(), np.random.rand(3).tolist(), np.random.randn(), torch.rand(3))
    assert got[:3] == expected[:3]
    assert torch.equal(got[3], expected[3])


def test_numpy_values_a_callback_adds_are_saved_as_plain_numbers(tmp_path):
    row = {"epoch": 1, "score": np.float64(0.25), "counts": np.arange(3), "n": np.int64(7)}
    save_checkpoint({"model": {"w": torch.ones(2)}, "history": [row]}, tmp_path / "c.pt")
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["history"][0]
    assert saved == {"epoch": 1, "score": 0.25, "counts": [0, 1, 2], "n": 7}
    assert type(saved["score"]) is float and type(saved["n"]) is int


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_checkpoint_that_would_run_code_is_refused_and_the_code_does_not_run(tmp_path, writer):
    # the payload is real: an unsafe load creates its marker
    _write_hostile(tmp_path / "probe.pt", tmp_path / "probe-ran", writer)
    if writer == "torch.save":
        torch.load(tmp_path / "probe.pt", weights_only=False)
    else:
        pickle.loads((tmp_path / "probe.pt").read_bytes())
    assert (tmp_path / "probe-ran").exists()

    path, marker = tmp_path / "evil.pt", tmp_path / "ran"
    _write_hostile(path, marker, writer)
    with pytest.raises(CheckpointError, match=r"evil\.pt is not a dl_assign checkpoint.*not loaded") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "--resume" in message and "code" in message
    assert not marker.exists()

    model, train, val = _toy()
    with pytest.raises(CheckpointError, match="evil.pt"):
        fit(model, train, val, TrainConfig(epochs=1), checkpoint=path, resume=True, progress=False)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "junk"])
def test_damaged_checkpoint_gives_the_same_clean_error(tmp_path, damage):
    model, train, val = _toy()
    path = tmp_path / "c.pt"
    fit(model, train, val, TrainConfig(epochs=1), checkpoint=path, progress=False)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "junk": b"not a checkpoint at all"}[damage])
    with pytest.raises(CheckpointError, match=r"c\.pt is not a dl_assign checkpoint .*corrupt.*not loaded") as info:
        load_checkpoint(path)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="was not loaded"):
        fit(model, train, val, TrainConfig(epochs=1), checkpoint=path, resume=True, progress=False)


def test_safe_file_that_is_not_a_training_state_is_refused(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "dict.pt")
    with pytest.raises(CheckpointError, match="has no model"):
        load_checkpoint(tmp_path / "dict.pt")
    assert load_checkpoint(tmp_path / "absent.pt") is None


def test_cli_resume_refuses_a_hostile_checkpoint_and_exits_2(tmp_path, capsys):
    from dl_assign.cli import main

    run = ["run", "sine.mlp", "--budget", "smoke", "-q", "--seeds", "0", "--set", "epochs=1",
           "--results-dir", str(tmp_path / "results"), "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(run) == 0  # writes the checkpoint where the registry puts it (RunContext.checkpoint_path)
    saved = sorted((tmp_path / "ck" / "sine.mlp").glob("*.pt"))
    assert saved, "the run wrote no checkpoint"
    marker = tmp_path / "ran"
    for path in saved:
        _write_hostile(path, marker, "torch.save")
    capsys.readouterr()

    assert main([*run, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dl-assign: error: ") and "\n" not in err
    assert saved[0].name in err and "not loaded" in err and "--resume" in err
    assert not marker.exists()
