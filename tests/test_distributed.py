"""DDP: 2 gloo processes over loopback train the weights a single process trains with the same global batch.

The model is an MLP without BatchNorm or dropout: each step's gradient is then the mean gradient of
the same global batch in both runs (DDP averages the ranks' chunk means; ``fit`` weights an uneven
last chunk by its share), so the weights agree up to the order of float additions (1e-6). BatchNorm
would not: under DDP it normalises each rank's chunk with that chunk's statistics (and broadcasts
rank 0's running buffers), which is a different function of the batch, not a reordering; a model
with dropout draws its masks per rank. SyncBatchNorm restores equality in principle but runs on
CUDA only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from dl_assign.engine import distributed
from dl_assign.engine.loop import EpochLoader, TensorLoader

WORKER = textwrap.dedent('''
    import json, os, sys
    import torch
    from torch import nn
    torch.set_num_threads(1)
    from dl_assign import results
    from dl_assign.engine import distributed
    from dl_assign.engine.checkpoint import load_checkpoint, save_checkpoint
    from dl_assign.engine.loop import EpochLoader, TensorLoader, TrainConfig, fit
    from dl_assign.engine.seeding import seed_everything

    rank = distributed.rank()

    def data(n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, 8, generator=g), torch.randint(0, 3, (n,), generator=g)

    def loader(x, y, batch, shuffle, loader_kind):
        if loader_kind == "epoch":
            return EpochLoader(torch.utils.data.TensorDataset(x, y), batch, shuffle=shuffle, seed=5)
        return TensorLoader(x, y, batch, shuffle=shuffle, seed=5)

    def model():
        seed_everything(0)
        return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))

    def train_once(out, loader_kind, optimizer, mode):
        # 51 samples in batches of 16: the last global batch (3) splits 1 + 2 over two ranks
        train = loader(*data(51, 1), 16, True, loader_kind)
        val = loader(*data(21, 2), 8, False, loader_kind)  # 21 = 8 + 8 + 5: the last splits 2 + 3
        cfg = TrainConfig(epochs=3, batch_size=16, optimizer=optimizer, lr=0.05, schedule="cosine",
                          warmup_epochs=0.5, grad_clip=1.0, weight_decay=0.01)
        ckpt = os.path.join(out, "ckpt.pt")
        net = model()
        if mode == "resume":  # killed after the first epoch's checkpoint, then started again with --resume
            def die(epoch, m, row):
                if epoch == 1:
                    raise KeyboardInterrupt
            try:
                fit(net, train, val, cfg, checkpoint=ckpt, progress=False, device=torch.device("cpu"),
                    callbacks=(die,))
            except KeyboardInterrupt:
                pass
            net, ran = model(), []
            history = fit(net, train, val, cfg, checkpoint=ckpt, resume=True, progress=False,
                          device=torch.device("cpu"), callbacks=(lambda epoch, m, row: ran.append(epoch),))
            with open(os.path.join(out, f"resumed{rank}.json"), "w") as fh:
                json.dump(ran, fh)
        else:
            history = fit(net, train, val, cfg, checkpoint=ckpt, progress=False, device=torch.device("cpu"))
        torch.save({k: v.clone() for k, v in net.state_dict().items()}, os.path.join(out, f"weights{rank}.pt"))
        with open(os.path.join(out, f"history{rank}.json"), "w") as fh:
            json.dump(history, fh)
        torch.save(torch.rand(4), os.path.join(out, f"draw{rank}.pt"))  # what dropout would draw next
        if rank == 0:
            assert load_checkpoint(ckpt)["epoch"] == 2

    root = sys.argv[1]
    for run in sys.argv[2:]:  # one process trains several runs: torch is imported once
        out = os.path.join(root, run)
        os.makedirs(out, exist_ok=True)
        train_once(out, *run.split("-"))
        distributed.barrier()

    out = root
    # results, checkpoints: rank 0 writes first; a rank 1 that wrote afterwards would overwrite it
    record = results.make_record(experiment="ddp.check", budget="smoke", config={}, seeds=[0],
                                 per_seed=[{"rank": rank}], seed_seconds=[0.0], artifacts=[{}],
                                 wall_seconds=0.0, dataset={}, figures=[], env={"rank": rank})
    order = [0, 1] if distributed.active() else [0]
    for turn in order:
        if turn == rank:
            results.write_result(record, os.path.join(out, "results"))
            save_checkpoint({"model": {}, "writer": rank}, os.path.join(out, "mark.pt"))
        distributed.barrier()
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path, world: int, *runs: str) -> list[str]:
    """Run the worker as ``world`` processes (what torchrun sets: RANK, WORLD_SIZE, MASTER_*)."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = _free_port()
    procs = []
    for rank in range(world):
        env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
        env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        if world > 1:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path), *runs], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log
    return logs


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


PLAIN = ("tensor-sgd-plain", "epoch-adamw-plain")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One single-process launch and one 2-process launch, each training every run in turn."""
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    _launch(one, 1, *PLAIN)
    _launch(two, 2, *PLAIN, "tensor-adamw-plain", "tensor-adamw-resume")
    return {"one": one, "two": two}


@pytest.mark.parametrize("run", PLAIN)
def test_two_gloo_processes_train_the_single_process_weights(runs, run):
    one, two = runs["one"] / run, runs["two"] / run
    w1 = torch.load(one / "weights0.pt")
    w_rank0, w_rank1 = torch.load(two / "weights0.pt"), torch.load(two / "weights1.pt")
    torch.manual_seed(0)
    start = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    assert _max_diff(w_rank0, w_rank1) == 0.0  # DDP keeps the replicas identical
    assert _max_diff(w1, w_rank0) < 1e-6
    assert _max_diff(w1, {k: v.detach() for k, v in start.state_dict().items()}) > 1e-2  # it did train

    h1 = json.loads((one / "history0.json").read_text())
    for rank in (0, 1):  # all-reduced train metrics and gathered validation = the single process's
        h2 = json.loads((two / f"history{rank}.json").read_text())
        assert len(h2) == len(h1) == 3
        for r1, r2 in zip(h1, h2, strict=True):
            for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
                assert r2[key] == pytest.approx(r1[key], abs=1e-6), key
    assert sorted(p.name for p in two.glob("weights*.pt")) == ["weights0.pt", "weights1.pt"]
    # rank 0 draws what the single process draws; rank 1 its own numbers (augmentations, dropout)
    assert torch.equal(torch.load(one / "draw0.pt"), torch.load(two / "draw0.pt"))
    assert not torch.equal(torch.load(two / "draw0.pt"), torch.load(two / "draw1.pt"))


def test_results_and_checkpoints_are_written_once_by_rank_0(runs):
    two = runs["two"]
    # rank 1 called the writers after rank 0 (a barrier between) and changed nothing
    record = json.loads((two / "results" / "ddp.check.json").read_text())
    assert record["metrics"]["rank"]["values"] == [0.0]
    assert sorted(p.name for p in (two / "results").iterdir()) == ["ddp.check.json", "ddp.check.md", "index.md"]
    assert torch.load(two / "mark.pt")["writer"] == 0


def test_resume_after_a_kill_under_ddp_gives_the_uninterrupted_weights(runs):
    plain, resumed = runs["two"] / "tensor-adamw-plain", runs["two"] / "tensor-adamw-resume"
    for rank in (0, 1):
        assert _max_diff(torch.load(plain / f"weights{rank}.pt"), torch.load(resumed / f"weights{rank}.pt")) == 0.0
        assert json.loads((plain / f"history{rank}.json").read_text())[-1]["train_loss"] == pytest.approx(
            json.loads((resumed / f"history{rank}.json").read_text())[-1]["train_loss"], abs=0)
        assert json.loads((resumed / f"resumed{rank}.json").read_text()) == [1, 2]  # it did not start over
    ckpt = torch.load(resumed / "ckpt.pt", weights_only=True)
    assert len(ckpt["rng_ranks"]) == 2  # each rank's RNG state, for an exact resume per rank


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_chunks_tile_a_batch_in_rank_order(n, world):
    bounds = [distributed.chunk(n, r, world) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(bounds[r][1] == bounds[r + 1][0] for r in range(world - 1))
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("kind", ["tensor", "epoch"])
@pytest.mark.parametrize("world", [2, 3])
def test_shards_concatenate_to_the_unsharded_batches(kind, world):
    x, y = torch.arange(45.0).reshape(45, 1), torch.arange(45)
    if kind == "tensor":
        loader = TensorLoader(x, y, 8, shuffle=True, seed=3)
    else:
        loader = EpochLoader(torch.utils.data.TensorDataset(x, y), 8, shuffle=True, seed=3)
    for epoch in (0, 4):
        loader.set_epoch(epoch)
        whole = [yb for _, yb in loader]
        shards = [[yb for _, yb in loader.shard(r, world)] for r in range(world)]
        assert all(len(s) == len(whole) for s in shards)
        for step, batch in enumerate(whole):
            assert torch.equal(torch.cat([s[step] for s in shards]), batch)
        assert sorted(torch.cat(whole).tolist()) == list(range(45))  # a permutation, every sample once
    loader.set_epoch(1)
    assert not torch.equal(torch.cat([yb for _, yb in loader]), torch.cat(whole))  # reshuffled per epoch


def test_outside_torchrun_this_is_one_process(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    state = (distributed.world_size(), distributed.rank(), distributed.active(), distributed.is_main())
    assert state == (1, 0, False, True)
    assert distributed.all_reduce_sum([1.5, 2.0]) == [1.5, 2.0]
    assert distributed.setup("cpu") == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    from dl_assign.results import is_main_process

    assert distributed.is_main() is is_main_process() is False
    assert distributed.on_main(lambda: 1 / 0) is None  # rank 2 never runs the writer
