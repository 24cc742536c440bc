"""Frozen experiment configs, budgets, and validated ``key=value`` overrides.

Every experiment takes one frozen dataclass that subclasses :class:`ExperimentConfig`.
A config class lists what each budget changes in ``BUDGETS``; ``for_budget`` applies it::

    @dataclass(frozen=True)
    class Cfg(ExperimentConfig):
        epochs: int = 20
        BUDGETS: ClassVar[dict] = {"smoke": {"epochs": 1, "seeds": (0,)}}

    cfg = override(Cfg.for_budget("smoke"), ["epochs=3"])
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

BUDGETS = ("smoke", "standard", "full")


class ConfigError(ValueError):
    """A budget name, override key or override value that the config cannot take."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Fields every experiment has. Subclasses add theirs and fill ``BUDGETS``."""

    seeds: tuple[int, ...] = (0, 1, 2)
    # what each budget changes relative to the class defaults (the defaults are `standard`)
    BUDGETS: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def for_budget(cls, budget: str) -> ExperimentConfig:
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
        changes = cls.BUDGETS.get(budget, {})
        unknown = set(changes) - {f.name for f in dataclasses.fields(cls)}
        if unknown:  # a typo in a BUDGETS table is a bug in the experiment, caught on first use
            raise ConfigError(f"{cls.__name__}.BUDGETS[{budget!r}] names unknown fields {sorted(unknown)}")
        return dataclasses.replace(cls(), **changes)


def field_types(cfg_or_cls) -> dict[str, Any]:
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def describe_fields(cfg) -> str:
    """One line per field: ``name: type = value``, for error messages and ``dl-assign list``."""
    types_ = field_types(cfg)
    return "\n".join(
        f"  {name}: {_type_name(tp)} = {getattr(cfg, name)!r}" for name, tp in types_.items()
    )


def override(cfg, assignments: list[str] | dict[str, Any]):
    """Return a copy of ``cfg`` with ``["key=value", ...]`` (strings) or a dict applied.

    Unknown keys and values that do not parse as the field's type raise ConfigError naming
    the valid keys, so a typo on the command line never runs a silently different experiment.
    """
    types_ = field_types(cfg)
    if isinstance(assignments, dict):
        pairs = list(assignments.items())
    else:
        pairs = []
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form key=value")
            key, _, raw = item.partition("=")
            pairs.append((key.strip(), raw.strip()))
    changes = {}
    for key, raw in pairs:
        if key not in types_:
            raise ConfigError(
                f"unknown config key {key!r} for {type(cfg).__name__}; valid keys:\n"
                + describe_fields(cfg)
            )
        try:
            changes[key] = _coerce(raw, types_[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"bad value {raw!r} for {key!r} (expected {_type_name(types_[key])}): {exc}\n"
                "valid keys:\n" + describe_fields(cfg)
            ) from None
    return dataclasses.replace(cfg, **changes)


def _type_name(tp) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(raw: Any, tp):
    """Parse ``raw`` (a string from the command line, or a Python value) as type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        for choice in args:
            try:
                value = _coerce(raw, type(choice))
            except (TypeError, ValueError):
                continue
            if value == choice:
                return choice
        raise ValueError(f"must be one of {list(args)}")
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", ""))):
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(raw, option)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or "no option matched")
    if origin is tuple:
        items = raw if isinstance(raw, (tuple, list)) else [s for s in str(raw).strip("()[] ").split(",") if s.strip()]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0]) for item in items)
        if len(items) != len(args):
            raise ValueError(f"needs exactly {len(args)} items")
        return tuple(_coerce(item, t) for item, t in zip(items, args))
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError("not a boolean (true/false)")
    if tp is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError("not an integer")
        text = str(raw).strip()
        return int(float(text)) if "e" in text.lower() and float(text).is_integer() else int(text)
    if tp is float:
        if isinstance(raw, bool):
            raise ValueError("not a number")
        return float(raw)
    if tp is str:
        if not isinstance(raw, str):
            raise ValueError("not a string")
        return raw
    raise TypeError(f"overrides of type {_type_name(tp)} are not supported")
