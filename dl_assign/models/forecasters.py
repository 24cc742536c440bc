"""Sequence forecasters on windows ``(B, T, 1)``: LSTM/GRU with a linear head, and an MLP."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dl_assign.models.mlp import MLP

RNNS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RNNForecaster(nn.Module):
    """A stacked (optionally bidirectional) LSTM/GRU; the head maps the last hidden state(s) to
    the next ``horizon`` values.

    The head reads the top layer's final hidden state of each direction (``h_n``): for the
    forward direction it has seen the whole window, for the backward direction it is the state
    after reading the window from the end back to the start.
    """

    def __init__(self, cell: Literal["lstm", "gru", "rnn"] = "lstm", input_size: int = 1, hidden: int = 32,
                 layers: int = 1, horizon: int = 1, bidirectional: bool = False, dropout: float = 0.0):
        super().__init__()
        if cell not in RNNS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(RNNS)}")
        self.cell, self.directions = cell, 2 if bidirectional else 1
        # torch applies `dropout` between stacked layers only, so it needs layers >= 2
        self.rnn = RNNS[cell](input_size, hidden, num_layers=layers, batch_first=True,
                              bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden * self.directions, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, I) or (B, T) -> (B, horizon)
        if x.ndim == 2:
            x = x.unsqueeze(-1)  # (B, T, 1)
        _, state = self.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, H); LSTM also has c_n
        top = h_n[-self.directions:].transpose(0, 1).reshape(x.shape[0], -1)  # (B, dirs*H)
        return self.head(top)


class MLPForecaster(nn.Module):
    """The window flattened to ``T`` features -> MLP -> ``horizon`` values."""

    def __init__(self, window: int, hidden: tuple[int, ...] = (64, 64), horizon: int = 1,
                 act: str = "tanh", dropout: float = 0.0):
        super().__init__()
        self.mlp = MLP(window, hidden, horizon, act=act, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T[, 1]) -> (B, horizon)
        return self.mlp(x)
