import dataclasses
import math
from dataclasses import FrozenInstanceError, dataclass
from typing import Annotated, ClassVar, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dl_assign.config import ConfigError, ExperimentConfig, Range, describe_fields, field_ranges, override


@dataclass(frozen=True)
class Cfg(ExperimentConfig):
    epochs: int = 10
    lr: float = 0.1
    act: Literal["relu", "tanh"] = "relu"
    hidden: tuple[int, ...] = (64, 32)
    bn: bool = False
    limit: int | None = None
    BUDGETS: ClassVar[dict] = {"smoke": {"epochs": 1, "seeds": (0,)}}


def test_budget_applies_changes_and_defaults_are_standard():
    assert Cfg.for_budget("smoke").epochs == 1
    assert Cfg.for_budget("smoke").seeds == (0,)
    assert Cfg.for_budget("standard") == Cfg()
    assert Cfg.for_budget("full") == Cfg()


def test_unknown_budget_and_budget_table_typo_are_errors():
    with pytest.raises(ConfigError, match="unknown budget"):
        Cfg.for_budget("huge")

    @dataclass(frozen=True)
    class Bad(ExperimentConfig):
        epochs: int = 1
        BUDGETS: ClassVar[dict] = {"smoke": {"epoch": 1}}

    with pytest.raises(ConfigError, match="unknown fields"):
        Bad.for_budget("smoke")


def test_override_parses_every_field_type():
    cfg = override(Cfg(), ["epochs=3", "lr=1e-3", "act=tanh", "hidden=128,64,32", "bn=true",
                           "seeds=4,5", "limit=100"])
    assert (cfg.epochs, cfg.lr, cfg.act, cfg.hidden, cfg.bn, cfg.seeds, cfg.limit) == \
        (3, 1e-3, "tanh", (128, 64, 32), True, (4, 5), 100)
    assert override(cfg, ["limit=none"]).limit is None
    assert override(Cfg(), {"epochs": 7}).epochs == 7


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        override(Cfg(), ["nonsense=1"])
    message = str(err.value)
    for key in ("epochs", "lr", "act", "hidden", "bn", "seeds"):
        assert key in message


@pytest.mark.parametrize("item", ["epochs=1.5", "epochs=ten", "act=sigmoid", "bn=maybe", "hidden=a,b", "epochs"])
def test_badly_typed_values_are_refused_in_one_line(item):
    with pytest.raises(ConfigError) as err:
        override(Cfg(), [item])
    message = str(err.value)
    assert "\n" not in message and repr(item.partition("=")[0]) in message


def test_bad_value_messages_name_field_value_and_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        override(Cfg(), ["act=sigmoid"])
    assert str(err.value) == "bad value sigmoid for 'act' (Cfg): must be one of ['relu', 'tanh']"
    with pytest.raises(ConfigError) as err:
        override(Cfg(), ["epochs=ten"])
    assert str(err.value).startswith("bad value ten for 'epochs' (Cfg): expected int (")


@pytest.mark.parametrize(("rng", "value", "problem"), [
    (Range(ge=1), 1, None),
    (Range(ge=1), 0, "must be >= 1"),
    (Range(gt=0), 1e-12, None),
    (Range(gt=0), 0.0, "must be > 0"),
    (Range(gt=0), math.inf, "must be > 0"),  # finite, always
    (Range(ge=0, lt=1), 0.0, None),
    (Range(ge=0, lt=1), 1.0, "must be in [0, 1)"),
    (Range(gt=0, le=1), 1.0, None),
    (Range(gt=0, le=1), 0, "must be in (0, 1]"),
    (Range(le=4), 5, "must be <= 4"),
    (Range(), math.nan, "must be a finite number"),
    (Range(), -3.5, None),
    (Range(ge=1), None, None),  # an optional field left unset
    (Range(ge=0), True, "must be >= 0"),  # a bool is not a number
    (Range(ge=1), (3, 1), None),
    (Range(ge=1), (3, 0), "every item must be >= 1"),
    (Range(ge=1), (), None),
    (Range(ge=0, min_len=1), (), "must have at least 1 item, each >= 0"),
    (Range(ge=0, min_len=2), (1,), "must have at least 2 items, each >= 0"),
])
def test_range_problem(rng, value, problem):
    assert rng.problem(value) == problem


@dataclass(frozen=True)
class Base(ExperimentConfig):
    epochs: Annotated[int, Range(ge=1)] = 10
    lr: Annotated[float, Range(gt=0)] = 0.1
    hidden: Annotated[tuple[int, ...], Range(ge=1)] = (64,)


@dataclass(frozen=True)
class Child(Base):
    epochs: int = 24  # only the default changes: Base's range still holds
    lr: Annotated[float, Range(gt=0, le=1)] = 0.5  # a redeclared range replaces the base's
    BUDGETS: ClassVar[dict] = {"smoke": {"epochs": 1}}


def test_subclass_keeps_the_base_range_unless_it_declares_one():
    assert field_ranges(Child)["epochs"] == Range(ge=1)
    assert field_ranges(Child)["lr"] == Range(gt=0, le=1)
    assert field_ranges(Child)["seeds"] == Range(ge=0, min_len=1)  # from ExperimentConfig
    assert override(Child(), ["epochs=3"]).epochs == 3
    with pytest.raises(ConfigError, match=r"^bad value 0 for 'epochs' \(Child\): must be >= 1$"):
        override(Child(), ["epochs=0"])
    with pytest.raises(ConfigError, match=r"'lr' \(Child\): must be in \(0, 1\]$"):
        override(Child(), ["lr=2"])
    assert override(Base(), ["lr=2"]).lr == 2.0


def test_direct_construction_and_replace_are_validated():
    with pytest.raises(ConfigError, match=r"^bad value 0 for 'epochs' \(Child\): must be >= 1$"):
        Child(epochs=0)
    with pytest.raises(ConfigError, match=r"bad value \(64, -1\) for 'hidden'.*every item must be >= 1"):
        dataclasses.replace(Child(), hidden=(64, -1))
    with pytest.raises(ConfigError, match="'seeds'"):
        Child(seeds=())
    assert Child(epochs=1, hidden=(1, 2)).hidden == (1, 2)


def test_out_of_range_budget_value_is_an_error_naming_the_budget():
    @dataclass(frozen=True)
    class BadBudget(Base):
        BUDGETS: ClassVar[dict] = {"smoke": {"epochs": 0}}

    assert BadBudget.for_budget("standard").epochs == 10
    with pytest.raises(ConfigError) as err:
        BadBudget.for_budget("smoke")
    assert str(err.value) == "BadBudget.BUDGETS['smoke'] sets 'epochs' = 0: must be >= 1"


def test_describe_fields_shows_ranges():
    text = describe_fields(Child())
    assert "  epochs: int = 24  (must be >= 1)" in text.splitlines()
    assert "  hidden: tuple[int, ...] = (64,)  (every item must be >= 1)" in text.splitlines()


def test_configs_are_frozen():
    with pytest.raises(FrozenInstanceError):
        Cfg().epochs = 3


@given(st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_override_round_trips_numbers(n, x):
    cfg = override(Cfg(), [f"epochs={n}", f"lr={x!r}"])
    assert cfg.epochs == n and cfg.lr == x
