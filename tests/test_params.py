"""Parameter counts by formula equal torch's numel, layer by layer and in total."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from dl_assign.models.forecasters import MLPForecaster, RNNForecaster
from dl_assign.models.params import (
    linear_params,
    param_table,
    recurrent_layer_params,
    recurrent_params,
    render_param_table,
    total,
)
from dl_assign.models.summary import summarize

TORCH = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


def test_hand_computed_counts():
    # LSTM(1 -> 32): 4*32*(1+32) + 8*32 = 4224 + 256; GRU: 3*32*33 + 6*32 = 3168 + 192
    assert recurrent_layer_params("LSTM", 1, 32) == 4480 == sum(p.numel() for p in nn.LSTM(1, 32).parameters())
    assert recurrent_layer_params("GRU", 1, 32) == 3360 == sum(p.numel() for p in nn.GRU(1, 32).parameters())
    # two bidirectional LSTM layers of H=32: layer 2 reads 64 inputs
    assert recurrent_params("LSTM", 1, 32, 2, bidirectional=True) == [2 * 4480, 2 * (4 * 32 * 96 + 256)]
    assert linear_params(64, 1) == 65 and linear_params(64, 10, bias=False) == 640


@given(kind=st.sampled_from(sorted(TORCH)), input_size=st.integers(1, 24), hidden=st.integers(1, 24),
       layers=st.integers(1, 3), bidirectional=st.booleans(), bias=st.booleans())
def test_formula_equals_torch_per_layer_and_total(kind, input_size, hidden, layers, bidirectional, bias):
    module = TORCH[kind](input_size, hidden, num_layers=layers, bidirectional=bidirectional, bias=bias)
    rows = param_table(module)
    assert len(rows) == layers
    for k, row in enumerate(rows):
        own = sum(p.numel() for name, p in module.named_parameters()
                  if name.endswith(f"_l{k}") or name.endswith(f"_l{k}_reverse"))
        assert row.formula_count == row.torch_count == own, row
    formula, torch_total = total(rows)
    assert formula == torch_total == sum(p.numel() for p in module.parameters())
    assert formula == sum(recurrent_params(kind, input_size, hidden, layers, bias=bias, bidirectional=bidirectional))


@given(cell=st.sampled_from(["lstm", "gru"]), hidden=st.integers(1, 16), layers=st.integers(1, 3),
       bidirectional=st.booleans(), horizon=st.integers(1, 4))
def test_forecaster_tables_cover_every_parameter(cell, hidden, layers, bidirectional, horizon):
    model = RNNForecaster(cell, 1, hidden, layers, horizon, bidirectional)
    rows = param_table(model)
    assert all(r.matches for r in rows)
    assert total(rows) == (sum(p.numel() for p in model.parameters()),) * 2
    assert rows[-1].kind == "Linear" and rows[-1].torch_count == (hidden * (1 + bidirectional) + 1) * horizon


def test_rendered_table_writes_the_formula_out():
    text = render_param_table(param_table(RNNForecaster("lstm", 1, 32, layers=2, bidirectional=True)))
    assert "`2 × [4H(I+H) + 8H]`" in text and "`2 × [4·32·(64+32) + 8·32]`" in text
    assert "| **total** |" in text and "NO" not in text
    gru = render_param_table(param_table(RNNForecaster("gru", 1, 16)))
    assert "`3H(I+H) + 6H`" in gru and "`3·16·(1+16) + 6·16`" in gru and "912" in gru


def test_module_without_formula_is_flagged_not_hidden():
    rows = param_table(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)))
    assert [r.kind for r in rows] == ["Linear", "LayerNorm"]
    assert rows[1].formula_count is None and not rows[1].matches
    assert total(rows) == (None, 16 + 8)


@pytest.mark.parametrize("model,window,horizon", [
    (RNNForecaster("lstm", 1, 8, layers=2, horizon=3, bidirectional=True), 12, 3),
    (RNNForecaster("gru", 1, 8), 5, 1),
    (MLPForecaster(10, (16, 8), horizon=2), 10, 2),
])
def test_summary_measures_shapes_and_counts(model, window, horizon):
    rows = summarize(model, torch.zeros(3, window, 1))
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters())
    assert rows[-1].output == f"(3, {horizon})"
    if isinstance(model, RNNForecaster):
        dirs = model.directions
        h = model.rnn.hidden_size
        layers = model.rnn.num_layers
        assert rows[0].output.startswith(f"(3, {window}, {dirs * h}), ({layers * dirs}, 3, {h})")
