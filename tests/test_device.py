"""Precision by capability (``amp_bf16 = auto | on | off``), the threads helper, ``dl-assign env``."""

import math
import warnings

import pytest
import torch

from dl_assign import cli, registry
from dl_assign.engine import device as dev


def fake_probe(native: bool, ratio: float):
    return lambda device_type="cpu": dev.Bf16Probe(device_type, native, "injected", ratio, ratio)


@pytest.mark.parametrize("native", [False, True])
def test_auto_follows_the_probe_and_off_is_always_fp32(monkeypatch, native):
    monkeypatch.setattr(dev, "bf16_probe", fake_probe(native, 0.5 if native else 9.0))
    assert dev.use_bf16("auto", torch.device("cpu")) is native
    assert dev.use_bf16("off", torch.device("cpu")) is False
    assert dev.use_bf16(True) is True and dev.use_bf16(False) is False


def test_on_without_native_bf16_runs_but_warns_once_with_the_slowdown(monkeypatch):
    monkeypatch.setattr(dev, "bf16_probe", fake_probe(False, 9.25))
    monkeypatch.setattr(dev, "_warned", set())
    with pytest.warns(RuntimeWarning, match=r"9\.2x slower"):
        assert dev.use_bf16("on", torch.device("cpu")) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call in the same process stays quiet
        assert dev.use_bf16("on", torch.device("cpu")) is True


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="auto, on or off"):
        dev.use_bf16("fast")


@pytest.mark.parametrize("native", [False, True])
def test_the_chosen_precision_is_recorded_in_the_results_env(monkeypatch, tmp_path, native):
    monkeypatch.setattr(dev, "bf16_probe", fake_probe(native, 0.5 if native else 9.0))
    seen = []
    real_autocast = torch.autocast

    def spy(device_type, dtype=None, enabled=True, **kw):  # what the training loop really ran
        seen.append(enabled)
        return real_autocast(device_type, dtype=dtype, enabled=enabled, **kw)

    monkeypatch.setattr(torch, "autocast", spy)
    record = registry.get("sine.mlp").run("smoke", {"amp_bf16": "auto", "epochs": 1}, results_dir=tmp_path,
                                          progress=False, write=False)
    env = record["env"]
    assert env["amp_bf16"] == "auto"
    assert env["precision"] == ("bf16-autocast" if native else "fp32")
    assert env["bf16_native"] is native
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert seen and (True in seen) is native  # training ran under bf16 autocast exactly when auto chose it


def test_the_environment_variable_overrides_the_probe(monkeypatch):
    for value, native in (("0", False), ("1", True)):
        monkeypatch.setenv("DL_ASSIGN_NATIVE_BF16", value)
        probe = dev.bf16_probe.__wrapped__("cpu")  # uncached: the process-wide answer stays as it is
        assert probe.native is native and probe.method.startswith("forced")
    monkeypatch.setenv("DL_ASSIGN_NATIVE_BF16", "maybe")
    with pytest.raises(ValueError, match="DL_ASSIGN_NATIVE_BF16"):
        dev.bf16_probe.__wrapped__("cpu")


def test_the_measured_probe_gives_ratios_that_decide_it(monkeypatch):
    monkeypatch.delenv("DL_ASSIGN_NATIVE_BF16", raising=False)
    probe = dev.bf16_probe.__wrapped__("cpu")
    assert probe.method == "measured"
    assert math.isfinite(probe.matmul_ratio) and probe.matmul_ratio > 0
    assert math.isfinite(probe.conv_ratio) and probe.conv_ratio > 0
    assert probe.native == (max(probe.matmul_ratio, probe.conv_ratio) <= dev.NATIVE_MAX_RATIO)


def test_threads_sets_and_restores_and_zero_means_physical_cores():
    before = torch.get_num_threads()
    with dev.threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with dev.threads(0) as n:
        assert n == dev.physical_cores() >= 1 and torch.get_num_threads() == n
    with dev.threads(None) as n:
        assert n == before
    with pytest.raises(ValueError, match=">= 0"), dev.threads(-1):
        pass


def test_a_run_records_the_threads_its_config_asks_for(tmp_path):
    record = registry.get("sine.mlp").run("smoke", {"epochs": 1, "threads": 1}, results_dir=tmp_path,
                                          progress=False, write=False)
    assert record["env"]["threads"] == 1


def test_env_command_prints_capability_and_the_choice_of_auto(capsys):
    assert cli.main(["env"]) == 0
    out = capsys.readouterr().out
    native = dev.bf16_probe("cpu").native
    assert f"native bf16      {'yes' if native else 'no'}" in out
    assert ("bf16-autocast" if native else "fp32") in out.split("amp_bf16=auto", 1)[1].splitlines()[0]
    for key in ("torch", "torchvision", "cpu capability", "blas", "data root", "model store"):
        assert key in out, key


def test_bf16_probe_runs_when_first_called_under_no_grad_or_inference_mode():
    """predict and the occlusion maps ask use_bf16('auto') inside no_grad: the probe's backward pass must still run."""
    import torch

    from dl_assign.engine import device

    for ctx in (torch.no_grad, torch.inference_mode):
        device.bf16_probe.cache_clear()
        with ctx():
            probe = device.bf16_probe("cpu")
        assert probe.method in ("measured", "forced by DL_ASSIGN_NATIVE_BF16") and probe.native in (True, False)
        assert probe.method != "measured" or probe.matmul_ratio > 0
