import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from dl_assign.engine import NonFiniteLossError, TensorLoader, TrainConfig, evaluate, fit, seed_everything
from dl_assign.engine.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _toy(seed=0, n=512):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    return model, TensorLoader(x, y, 32, shuffle=True, seed=seed), TensorLoader(x, y, 256)


def test_fit_learns_and_keeps_history():
    model, train, val = _toy()
    history = fit(model, train, val, TrainConfig(epochs=5, lr=0.01, seeds=(0,)), progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert evaluate(model, val)["accuracy"] > 0.9


def test_same_seed_gives_identical_results_on_cpu():
    runs = []
    for _ in range(2):
        model, train, val = _toy(seed=7)
        hist = fit(model, train, val, TrainConfig(epochs=3, lr=0.01), progress=False, device=torch.device("cpu"))
        runs.append((hist, [p.detach().clone() for p in model.parameters()]))
    assert [r["train_loss"] for r in runs[0][0]] == [r["train_loss"] for r in runs[1][0]]
    for a, b in zip(runs[0][1], runs[1][1]):
        assert torch.equal(a, b)


def test_nan_loss_names_epoch_and_step():
    model, train, val = _toy()
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+/\d+, step \d+/16"):
        fit(model, train, val, TrainConfig(epochs=50, lr=1e30, optimizer="sgd", momentum=0.0), progress=False)


def test_early_stopping_and_restore_best():
    model, train, val = _toy()
    cfg = TrainConfig(epochs=200, lr=0.05, early_stop_patience=2, restore_best=True)
    history = fit(model, train, val, cfg, progress=False)
    assert len(history) < 200
    best = min(row["val_loss"] for row in history)
    assert evaluate(model, val)["loss"] == pytest.approx(best, rel=1e-5)


def test_resume_after_checkpoint_matches_uninterrupted(tmp_path):
    cfg = TrainConfig(epochs=4, lr=0.01)
    model, train, val = _toy(seed=3)
    full = fit(model, train, val, cfg, progress=False)
    ckpt = tmp_path / "c.pt"
    # stop after 2 of 4 epochs by running a 4-epoch schedule and interrupting in a callback
    model, train, val = _toy(seed=3)

    def interrupt(epoch, _model, _row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model, train, val, cfg, checkpoint=ckpt, progress=False, callbacks=(interrupt,))
    assert load_checkpoint(ckpt)["epoch"] == 1  # epochs 0 and 1 done and saved
    _, train, val = _toy(seed=3)  # same run config (the shuffle seed) ...
    model, _, _ = _toy(seed=99)  # ... but another init and global RNG: state must come from the checkpoint
    resumed = fit(model, train, val, cfg, checkpoint=ckpt, resume=True, progress=False)
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in full]
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in full]


def _cli(*args):
    from dl_assign.data import data_root

    env = os.environ | {"PYTHONPATH": str(ROOT), "DL_ASSIGN_DATA": str(data_root().resolve())}
    return [sys.executable, "-m", "dl_assign", *args], env


@pytest.mark.slow
def test_kill_minus_9_then_resume_equals_uninterrupted(tmp_path, need_data):
    """A real training run is killed with SIGKILL mid-way; --resume finishes it with identical metrics."""
    need_data("fashion-mnist")
    # 5 epochs of 8,000 images: each epoch lasts far longer than the 20 ms polling below, so the
    # kill lands after the first checkpoint and before the last (asserted), at a fraction of the cost
    common = ["run", "fashion.mlp", "--budget", "smoke", "-q", "--seeds", "0",
              "--set", "epochs=5", "--set", "train_limit=8000", "--set", "hidden=128"]
    cmd, env = _cli(*common, "--results-dir", str(tmp_path / "a"), "--checkpoint-dir", str(tmp_path / "ca"))
    subprocess.run(cmd, env=env, check=True, cwd=tmp_path)
    uninterrupted = json.loads((tmp_path / "a" / "fashion.mlp.json").read_text())["metrics"]

    ckpt = tmp_path / "cb" / "fashion.mlp" / "smoke.seed0.pt"
    cmd, env = _cli(*common, "--results-dir", str(tmp_path / "b"), "--checkpoint-dir", str(tmp_path / "cb"))
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path)
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = load_checkpoint(ckpt)
    assert state is not None and not state["stopped"], "the run finished before it could be killed"
    assert not (tmp_path / "b" / "fashion.mlp.json").exists()

    cmd, env = _cli(*common, "--results-dir", str(tmp_path / "b"), "--checkpoint-dir", str(tmp_path / "cb"),
                    "--resume")
    subprocess.run(cmd, env=env, check=True, cwd=tmp_path)
    resumed = json.loads((tmp_path / "b" / "fashion.mlp.json").read_text())["metrics"]
    for key in ("test_accuracy", "test_loss", "val_accuracy", "train_accuracy", "epochs_run"):
        assert resumed[key]["values"] == uninterrupted[key]["values"], key
