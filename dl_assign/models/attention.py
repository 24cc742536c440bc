"""Scaled dot-product attention over a set of embeddings, and an attention-weighted classifier.

``attention(q, k, v)`` returns the output and the weight matrix
``softmax(q k^T / sqrt(d))``: every row is a probability distribution over the keys.
:class:`EmbeddingAttention` adds identity or learned query/key/value projections;
:class:`AttentionClassifier` lets queries attend over a labelled gallery and reads the label
distribution off the attention weights (a soft nearest-neighbour vote).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``q (..., Nq, d)``, ``k (..., Nk, d)``, ``v (..., Nk, dv)`` -> output ``(..., Nq, dv)`` and
    weights ``(..., Nq, Nk)``; ``scale`` defaults to ``1 / sqrt(d)``."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    weights = torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1)  # (..., Nq, Nk)
    return weights @ v, weights


class EmbeddingAttention(nn.Module):
    """Attention over embeddings with ``projection="identity"`` (q = k = v = x) or ``"learned"``
    (bias-free linear maps to ``proj_dim`` for queries and keys; values stay the inputs)."""

    def __init__(self, dim: int, projection: str = "identity", proj_dim: int | None = None):
        super().__init__()
        if projection not in ("identity", "learned"):
            raise ValueError(f"projection must be 'identity' or 'learned', got {projection!r}")
        self.projection = projection
        if projection == "learned":
            proj_dim = proj_dim or dim
            self.q = nn.Linear(dim, proj_dim, bias=False)
            self.k = nn.Linear(dim, proj_dim, bias=False)
        else:
            self.q = self.k = nn.Identity()

    def forward(self, queries: torch.Tensor, keys: torch.Tensor | None = None,
                values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention when ``keys`` is None; ``values`` default to the keys' embeddings."""
        keys = queries if keys is None else keys
        values = keys if values is None else values
        return attention(self.q(queries), self.k(keys), values)


class AttentionClassifier(nn.Module):
    """Queries attend over a labelled gallery; the output is the log of the attention-weighted
    label distribution (B, n_classes), so ``nn.NLLLoss`` trains the projections through ``fit``."""

    def __init__(self, gallery: torch.Tensor, gallery_labels: torch.Tensor, n_classes: int,
                 projection: str = "identity", proj_dim: int | None = None):
        super().__init__()
        self.attend = EmbeddingAttention(gallery.shape[1], projection, proj_dim)
        self.register_buffer("gallery", gallery)  # (G, D)
        self.register_buffer("onehot", nn.functional.one_hot(gallery_labels, n_classes).float())  # (G, C)

    def forward(self, queries: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, C) log-probabilities
        probs, _ = self.attend(queries, self.gallery, self.onehot)
        return torch.log(probs.clamp_min(1e-12))
