"""Frozen experiment configs, budgets, and validated ``key=value`` overrides.

Every experiment takes one frozen dataclass that subclasses :class:`ExperimentConfig`.
A config class lists what each budget changes in ``BUDGETS``; ``for_budget`` applies it::

    @dataclass(frozen=True)
    class Cfg(ExperimentConfig):
        epochs: Annotated[int, Range(ge=1)] = 20
        lr: Annotated[float, Range(gt=0)] = 1e-3
        dropout: Annotated[float, Range(ge=0, lt=1)] = 0.2
        hidden: Annotated[tuple[int, ...], Range(ge=1)] = (512, 256)  # every item >= 1
        act: Literal["relu", "tanh"] = "relu"  # a Literal's choices are its range
        BUDGETS: ClassVar[dict] = {"smoke": {"epochs": 1, "seeds": (0,)}}

    cfg = override(Cfg.for_budget("smoke"), ["epochs=3"])

**Ranges.** A numeric field (int, float, or a tuple of them) declares the values it may take
with ``Annotated[type, Range(...)]`` next to the field: ``ge``/``gt``/``le``/``lt`` bound the
value (for a tuple: every item; ``min_len`` asks for at least that many items), and a float
must also be finite. ``Range()`` with no bound means "any finite number". A subclass that
redeclares a field only to change its default (``epochs: int = 24``) keeps the range of the
nearest class along the MRO that declares one, so a range is written once, in the base class.
Every config is checked when it is built (``__post_init__``: a direct ``Cfg(epochs=0)``, a
``dataclasses.replace``, a ``BUDGETS`` entry, an ``override``), and a bad value raises
:class:`ConfigError` with one line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

BUDGETS = ("smoke", "standard", "full")


class ConfigError(ValueError):
    """A budget name, override key or override value that the config cannot take."""


@dataclass(frozen=True)
class Range:
    """The values a numeric field may take: ``Annotated[int, Range(ge=1)]``.

    For a tuple field the bounds apply to every item and ``min_len`` is the fewest items allowed.
    ``None`` (an optional field left unset) is always allowed; NaN and infinities never are.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_len: int = 0

    def bounds(self) -> str:
        """``>= 1``, ``> 0``, ``in [0, 1)``; ``a finite number`` when nothing is bounded."""
        lo = ("[", self.ge) if self.ge is not None else ("(", self.gt) if self.gt is not None else None
        hi = ("]", self.le) if self.le is not None else (")", self.lt) if self.lt is not None else None
        if lo and hi:
            return f"in {lo[0]}{_num(lo[1])}, {_num(hi[1])}{hi[0]}"
        if lo:
            return f"{'>=' if lo[0] == '[' else '>'} {_num(lo[1])}"
        if hi:
            return f"{'<=' if hi[0] == ']' else '<'} {_num(hi[1])}"
        return "a finite number"

    def describe(self, is_tuple: bool = False) -> str:
        """What is allowed, as the end of a sentence: ``must be > 0``, ``every item must be >= 1``."""
        if not is_tuple:
            return f"must be {self.bounds()}"
        if self.min_len:
            return f"must have at least {self.min_len} item{'s' * (self.min_len != 1)}, each {self.bounds()}"
        return f"every item must be {self.bounds()}"

    def problem(self, value: Any) -> str | None:
        """None when ``value`` is allowed, else :meth:`describe` (the end of the one-line error)."""
        is_tuple = isinstance(value, (tuple, list))
        items = value if is_tuple else (value,)
        if (is_tuple and len(items) < self.min_len) or not all(self._ok(v) for v in items):
            return self.describe(is_tuple)
        return None

    def _ok(self, x: Any) -> bool:
        if x is None:
            return True
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
            return False
        return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class ExperimentConfig:
    """Fields every experiment has. Subclasses add theirs and fill ``BUDGETS``."""

    seeds: Annotated[tuple[int, ...], Range(ge=0, min_len=1)] = (0, 1, 2)
    # what each budget changes relative to the class defaults (the defaults are `standard`)
    BUDGETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        # every way of building a config (direct, dataclasses.replace, for_budget, override) ends here
        cls = type(self)
        for name, rng in field_ranges(cls).items():
            value = getattr(self, name)
            if problem := rng.problem(value):
                raise ConfigError(_bad_value(cls, name, repr(value), problem))

    @classmethod
    def for_budget(cls, budget: str) -> ExperimentConfig:
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
        changes = cls.BUDGETS.get(budget, {})
        unknown = set(changes) - {f.name for f in dataclasses.fields(cls)}
        if unknown:  # a typo in a BUDGETS table is a bug in the experiment, caught on first use
            raise ConfigError(f"{cls.__name__}.BUDGETS[{budget!r}] names unknown fields {sorted(unknown)}")
        ranges = field_ranges(cls)
        for key, value in changes.items():  # so is an out-of-range value
            if key in ranges and (problem := ranges[key].problem(value)):
                raise ConfigError(f"{cls.__name__}.BUDGETS[{budget!r}] sets {key!r} = {value!r}: {problem}")
        return dataclasses.replace(cls(), **changes)


def field_types(cfg_or_cls) -> dict[str, Any]:
    """Each field's type with any ``Annotated`` wrapper stripped (what ``override`` parses)."""
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def field_ranges(cls: type) -> dict[str, Range]:
    """The declared :class:`Range` of each field that has one.

    For each field the classes along the MRO are asked in order and the first whose annotation
    for that name carries a Range wins: a subclass that redeclares ``epochs: int = 24`` only to
    change the default keeps the base class's range.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    hints = [typing.get_type_hints(k, include_extras=True) for k in cls.__mro__ if dataclasses.is_dataclass(k)]
    ranges = {}
    for name in names:
        for h in hints:
            found = _range_of(h.get(name))
            if found is not None:
                ranges[name] = found
                break
    return ranges


def _range_of(tp) -> Range | None:
    if typing.get_origin(tp) is Annotated:
        return next((m for m in tp.__metadata__ if isinstance(m, Range)), None)
    return None


def _bad_value(cls: type, key: str, shown: str, problem: str) -> str:
    return f"bad value {shown} for {key!r} ({cls.__name__}): {problem}"


def describe_fields(cfg) -> str:
    """One line per field: ``name: type = value  (range)``, for ``dl-assign list -v`` and errors."""
    types_ = field_types(cfg)
    ranges = field_ranges(type(cfg))

    def line(name: str, tp) -> str:
        value = getattr(cfg, name)
        text = f"  {name}: {_type_name(tp)} = {value!r}"
        if name in ranges:
            text += f"  ({ranges[name].describe(isinstance(value, tuple))})"
        return text

    return "\n".join(line(name, tp) for name, tp in types_.items())


def override(cfg, assignments: list[str] | dict[str, Any]):
    """Return a copy of ``cfg`` with ``["key=value", ...]`` (strings) or a dict applied.

    An unknown key raises ConfigError listing the valid keys; a value that does not parse as the
    field's type, or lies outside its declared Range, raises ConfigError with one line naming the
    field, the value and what is allowed. A typo on the command line never runs a silently
    different experiment, and a bad value never reaches the training code.
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
            raise ConfigError(  # one line: the CLI prints it as its one error line
                f"unknown config key {key!r} for {type(cfg).__name__}; valid keys: {', '.join(types_)} "
                "(types and ranges: `dl-assign list -v`)"
            )
        shown = raw if isinstance(raw, str) and raw and raw.strip() == raw else repr(raw)
        tp = types_[key]
        try:
            value = _coerce(raw, tp)
        except (TypeError, ValueError) as exc:
            problem = str(exc) if typing.get_origin(tp) is Literal else f"expected {_type_name(tp)} ({exc})"
            raise ConfigError(_bad_value(type(cfg), key, shown, problem)) from None
        rng = field_ranges(type(cfg)).get(key)
        if rng is not None and (problem := rng.problem(value)):
            raise ConfigError(_bad_value(type(cfg), key, shown, problem))
        changes[key] = value
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
