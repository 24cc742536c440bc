from dataclasses import FrozenInstanceError, dataclass
from typing import ClassVar, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dl_assign.config import ConfigError, ExperimentConfig, override


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
def test_badly_typed_values_are_refused(item):
    with pytest.raises(ConfigError):
        override(Cfg(), [item])


def test_configs_are_frozen():
    with pytest.raises(FrozenInstanceError):
        Cfg().epochs = 3


@given(st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_override_round_trips_numbers(n, x):
    cfg = override(Cfg(), [f"epochs={n}", f"lr={x!r}"])
    assert cfg.epochs == n and cfg.lr == x
