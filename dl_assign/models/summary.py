"""An architecture summary measured from the model: one forward pass with hooks on every leaf."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SummaryRow:
    layer: str  # dotted module name
    module: str  # the module's repr, e.g. "LSTM(1, 32, batch_first=True)"
    output: str  # output shape(s) measured in the forward pass
    params: int  # parameters the module owns (leaves own all of theirs)


def _shapes(out) -> str:
    if isinstance(out, torch.Tensor):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):  # LSTM: (output, (h_n, c_n)); GRU: (output, h_n)
        return ", ".join(_shapes(o) for o in out)
    return type(out).__name__


def summarize(model: nn.Module, example: torch.Tensor, names=None) -> list[SummaryRow]:
    """Run ``example`` through ``model`` (eval mode, no grad) and record every leaf's output shape.

    ``names``: record these modules (dotted names) instead of the leaves; a container's ``module``
    column is its class name, a leaf's its repr.
    """
    rows: dict[str, SummaryRow] = {}
    hooks = []
    for name, module in model.named_modules():
        leaf = not any(True for _ in module.children())
        if (name in names) if names is not None else (name and leaf):
            def hook(mod, _inputs, out, name=name, leaf=leaf):
                rows.setdefault(name, SummaryRow(name, repr(mod) if leaf else type(mod).__name__, _shapes(out),
                                                 sum(p.numel() for p in mod.parameters())))
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return list(rows.values())  # in execution order


def render_summary(model: nn.Module, example: torch.Tensor, title: str = "") -> str:
    """Markdown table of :func:`summarize` plus the input shape and the parameter total."""
    from dl_assign.results import markdown_table

    rows = summarize(model, example)
    table = markdown_table(["layer", "module", "output shape", "parameters"],
                           [[f"`{r.layer}`", f"`{r.module}`", f"`{r.output}`", f"{r.params:,}"] for r in rows])
    n = sum(p.numel() for p in model.parameters())
    head = f"{title}\n\n" if title else ""
    return (f"{head}Input `{tuple(example.shape)}` (batch, time, features); "
            f"{n:,} parameters in total.\n\n{table}")
