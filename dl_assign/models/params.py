"""Parameter counts by formula, layer by layer, next to what torch reports.

For a recurrent layer with input size ``I``, hidden size ``H`` and ``g`` gate blocks (LSTM 4:
input, forget, cell, output; GRU 3: reset, update, new; plain RNN 1), each direction holds
``W_ih (gH x I)``, ``W_hh (gH x H)`` and, with ``bias=True``, PyTorch's TWO bias vectors
``b_ih`` and ``b_hh`` (``gH`` each)::

    LSTM  4H(I+H) + 8H        GRU  3H(I+H) + 6H        RNN  H(I+H) + 2H

A bidirectional layer has two such sets. Layer 1 reads ``I`` = the input size; every higher
layer reads the layer below's output, ``I = H * directions``. A linear layer has
``out*in + out``. :func:`param_table` walks a model and gives one row per layer with the
formula, the numbers put in, the formula's count and torch's ``sum(p.numel())``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
FORMULAS = {"LSTM": "4H(I+H) + 8H", "GRU": "3H(I+H) + 6H", "RNN": "H(I+H) + 2H"}


def recurrent_layer_params(kind: str, input_size: int, hidden: int, *, bias: bool = True,
                           bidirectional: bool = False) -> int:
    """One layer of an ``LSTM``/``GRU``/``RNN``: ``dirs * (gH(I+H) + 2gH*bias)``."""
    g = GATES[kind]
    per_direction = g * hidden * (input_size + hidden) + (2 * g * hidden if bias else 0)
    return (2 if bidirectional else 1) * per_direction


def recurrent_params(kind: str, input_size: int, hidden: int, layers: int = 1, *, bias: bool = True,
                     bidirectional: bool = False) -> list[int]:
    """Per-layer counts of a stacked recurrent module (layer k > 1 reads ``H * dirs`` inputs)."""
    dirs = 2 if bidirectional else 1
    return [recurrent_layer_params(kind, input_size if k == 0 else hidden * dirs, hidden, bias=bias,
                                   bidirectional=bidirectional) for k in range(layers)]


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    return out_features * in_features + (out_features if bias else 0)


@dataclass(frozen=True)
class ParamRow:
    module: str  # dotted name in the model, with the layer index for recurrent layers
    kind: str  # "LSTM", "GRU", "RNN", "Linear", or the class name of a module without a formula
    formula: str  # symbolic, e.g. "2 × [4H(I+H) + 8H]"
    substituted: str  # the same with the numbers put in
    formula_count: int | None  # None for a module without a formula
    torch_count: int

    @property
    def matches(self) -> bool:
        return self.formula_count == self.torch_count


def _torch_layer_count(module: nn.Module, layer: int) -> int:
    """``sum(numel)`` of a recurrent module's parameters named ``*_l{layer}`` or ``*_l{layer}_reverse``."""
    total = 0
    for name, p in module.named_parameters(recurse=False):
        found = re.fullmatch(r"\w+_l(\d+)(_reverse)?", name)  # "weight_ih_l0_reverse" -> "0"
        if found and int(found.group(1)) == layer:
            total += p.numel()
    return total


def _recurrent_rows(name: str, m: nn.RNNBase) -> list[ParamRow]:
    kind = type(m).__name__
    if getattr(m, "proj_size", 0):
        raise NotImplementedError("LSTM with proj_size has no formula here")
    g, dirs, H = GATES[kind], 2 if m.bidirectional else 1, m.hidden_size
    counts = recurrent_params(kind, m.input_size, H, m.num_layers, bias=m.bias, bidirectional=m.bidirectional)
    rows = []
    for k, count in enumerate(counts):
        I = m.input_size if k == 0 else H * dirs  # noqa: E741  (the symbol of the formula)
        symbolic = FORMULAS[kind] if m.bias else FORMULAS[kind].split(" + ")[0]
        numbers = f"{g}·{H}·({I}+{H})" if g > 1 else f"{H}·({I}+{H})"
        if m.bias:
            numbers += f" + {2 * g}·{H}"
        if dirs == 2:
            symbolic, numbers = f"2 × [{symbolic}]", f"2 × [{numbers}]"
        rows.append(ParamRow(f"{name} layer {k + 1} (I={I}, H={H})", kind, symbolic, numbers, count,
                             _torch_layer_count(m, k)))
    return rows


def param_table(model: nn.Module) -> list[ParamRow]:
    """One row per recurrent layer, per linear layer, and per other module owning parameters."""
    rows: list[ParamRow] = []
    for name, m in model.named_modules():
        name = name or type(m).__name__
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
            rows += _recurrent_rows(name, m)
        elif isinstance(m, nn.Linear):
            bias = m.bias is not None
            rows.append(ParamRow(f"{name} (in={m.in_features}, out={m.out_features})", "Linear",
                                 "out·in + out" if bias else "out·in",
                                 f"{m.out_features}·{m.in_features}" + (f" + {m.out_features}" if bias else ""),
                                 linear_params(m.in_features, m.out_features, bias), own))
        elif own:
            rows.append(ParamRow(name, type(m).__name__, "(no formula)", "-", None, own))
    return rows


def total(rows: list[ParamRow]) -> tuple[int | None, int]:
    """(sum of the formula counts, or None if any row lacks one; sum of torch's counts)."""
    formula = None if any(r.formula_count is None for r in rows) else sum(r.formula_count for r in rows)
    return formula, sum(r.torch_count for r in rows)


def render_param_table(rows: list[ParamRow], title: str = "") -> str:
    """Markdown: layer, formula, numbers, formula count, torch count, match; and a total row."""
    from dl_assign.results import markdown_table

    f_total, t_total = total(rows)
    body = [[f"`{r.module}`", r.kind, f"`{r.formula}`", f"`{r.substituted}`",
             f"{r.formula_count:,}" if r.formula_count is not None else "-", f"{r.torch_count:,}",
             "yes" if r.matches else "NO"] for r in rows]
    body.append(["**total**", "", "", "", f"**{f_total:,}**" if f_total is not None else "-",
                 f"**{t_total:,}**", "yes" if f_total == t_total else "NO"])
    table = markdown_table(["layer", "type", "formula", "with numbers", "formula", "torch numel", "equal"], body)
    return (f"{title}\n\n" if title else "") + table
