"""Every numeric field of every registered config declares its range, and a value outside it is
refused before anything trains, with one line naming the field, the value and what is allowed."""

import dataclasses
import math
import types
import typing

import pytest

from dl_assign import registry
from dl_assign.cli import main
from dl_assign.config import BUDGETS, ConfigError, Range, field_ranges, field_types, override

NAMES = registry.names()


def _is_number(tp) -> bool:
    return tp in (int, float)  # bool is not a number here (a flag has no range)


def _is_numeric(tp) -> bool:
    """int, float, an optional one, or a tuple of them: the fields that must declare a Range."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return bool(rest) and all(_is_numeric(a) for a in rest)
    if origin is tuple:
        items = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
        return bool(items) and all(_is_number(a) for a in items)
    return _is_number(tp)


def _item_type(tp):
    """The scalar type a numeric field holds (int or float), through Optional and tuple."""
    while not _is_number(tp):
        tp = next(a for a in typing.get_args(tp) if a is not type(None) and a is not Ellipsis)
    return tp


def _numeric_fields(name: str) -> list[tuple[str, typing.Any]]:
    return [(k, tp) for k, tp in field_types(registry.get(name).config_cls).items() if _is_numeric(tp)]


def _bad_values(rng: Range, item_type) -> list:
    """One value just outside each declared bound, plus NaN for float fields (never allowed)."""
    step = 1 if item_type is int else 0.5
    bad = []
    if rng.ge is not None:
        bad.append(item_type(rng.ge - step))
    if rng.gt is not None:
        bad.append(item_type(rng.gt))
    if rng.le is not None:
        bad.append(item_type(rng.le + step))
    if rng.lt is not None:
        bad.append(item_type(rng.lt))
    if item_type is float:
        bad.append(math.nan)
    return bad


CASES = [
    pytest.param(name, key, tp, bad, id=f"{name}-{key}={bad}")
    for name in NAMES
    for key, tp in _numeric_fields(name)
    if key in field_ranges(registry.get(name).config_cls)
    for bad in _bad_values(field_ranges(registry.get(name).config_cls)[key], _item_type(tp))
]


def test_introspection_finds_the_numeric_fields():
    # guards the tests below against finding nothing: known fields of fashion.mlp are numeric
    found = {k for k, _ in _numeric_fields("fashion.mlp")}
    assert {"seeds", "hidden", "lr", "epochs", "batch_size", "dropout", "threads"} <= found
    assert not {"optimizer", "activation", "nesterov", "amp_bf16"} & found
    assert len(CASES) > 300


@pytest.mark.parametrize("name", NAMES)
def test_every_numeric_field_declares_a_range(name):
    ranges = field_ranges(registry.get(name).config_cls)
    missing = [k for k, _ in _numeric_fields(name) if k not in ranges]
    assert missing == [], f"{name}: numeric fields without a Range: {missing}"


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_every_budget_are_in_range(name, budget):
    cls = registry.get(name).config_cls
    cfg = cls.for_budget(budget)  # raises ConfigError on an out-of-range BUDGETS value
    problems = {k: rng.problem(getattr(cfg, k)) for k, rng in field_ranges(cls).items()}
    assert {k: p for k, p in problems.items() if p} == {}


@pytest.mark.parametrize(("name", "key", "tp", "bad"), CASES)
def test_out_of_range_value_is_refused_in_one_line(name, key, tp, bad):
    cfg = registry.get(name).config("smoke")
    with pytest.raises(ConfigError) as err:
        override(cfg, [f"{key}={bad}"])  # a tuple field parses "v" as (v,)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"bad value {bad} for {key!r} ({type(cfg).__name__}): ")
    assert field_ranges(type(cfg))[key].bounds() in message
    # building the config directly is refused the same way (ExperimentConfig.__post_init__)
    value = (bad,) if typing.get_origin(tp) is tuple else bad
    with pytest.raises(ConfigError, match=f"for {key!r}"):
        dataclasses.replace(cfg, **{key: value})


@pytest.mark.parametrize("name", NAMES)
def test_too_few_items_are_refused(name):
    cls = registry.get(name).config_cls
    short = {k: rng.min_len for k, rng in field_ranges(cls).items() if rng.min_len}
    assert "seeds" in short  # ExperimentConfig.seeds: at least one seed
    for key, n in short.items():
        with pytest.raises(ConfigError) as err:
            override(cls.for_budget("smoke"), {key: ()})
        assert "\n" not in str(err.value) and f"at least {n} item" in str(err.value)


@pytest.mark.parametrize(("item", "key", "shown"), [
    ("hidden=-5", "hidden", "-5"),
    ("lr=-1", "lr", "-1"),
    ("epochs=0", "epochs", "0"),
    ("dropout=1.5", "dropout", "1.5"),
    ("batch_size=0", "batch_size", "0"),
])
def test_cli_refuses_a_bad_value_with_one_line_and_exit_2(item, key, shown, capsys, monkeypatch, tmp_path):
    from dl_assign.data import fashion

    def no_data(*args, **kwargs):  # validation must happen before any data is read or trained on
        raise AssertionError("the run started despite a bad value")

    monkeypatch.setattr(fashion, "load_raw", no_data)
    assert main(["run", "fashion.mlp", "--budget", "smoke", "-q", "--results-dir", str(tmp_path),
                 "--set", item]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"dl-assign: error: fashion.mlp: bad value {shown} for {key!r} (FashionMLPConfig): ")
    assert list(tmp_path.iterdir()) == []
