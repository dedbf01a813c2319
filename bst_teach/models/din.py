"""Deep Interest Network (Zhou et al., KDD 2018): target attention over the history.

A *local activation unit* scores each past behaviour against the candidate item,
``w_i = a(e_i, e_target)``, and the history becomes the weighted sum ``sum_i w_i e_i``.  A sum does
not depend on the order of its terms, so DIN gives the same score to any shuffle of the history:
it knows *which* behaviours are relevant, not *when* or *in what order* they happened -- unless it
is handed time features (``time_features=True``), which the book uses as an honest ablation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..features import PAD, Schema
from .layers import TOKEN_STD, MLP, ItemEmbedding, OtherFeatures, embedding


@dataclass
class DINConfig:
    item_dim: int = 16
    cat_dim: int = 8
    attention_hidden: tuple[int, ...] = (64, 32)
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.2
    time_features: bool = False  # concatenate a time-gap bucket embedding to each behaviour
    time_dim: int = 8


class LocalActivationUnit(nn.Module):
    """Scores every behaviour against the target: (B, L, E), (B, E) -> (B, L) unnormalised weights.

    As in the DIN paper there is no softmax, so the pooled vector keeps the *intensity* of interest.
    """

    def __init__(self, dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.mlp = MLP(4 * dim, hidden, 1)

    def forward(self, hist: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = target.unsqueeze(1).expand_as(hist)
        return self.mlp(torch.cat([hist, t, hist - t, hist * t], dim=-1)).squeeze(-1)


class DIN(nn.Module):
    name = "din"

    def __init__(self, schema: Schema, config: DINConfig | None = None):
        super().__init__()
        self.schema, self.config = schema, config or DINConfig()
        c = self.config
        self.other = OtherFeatures(schema)
        self.items = ItemEmbedding(schema, c.item_dim, c.cat_dim)
        dim = self.items.out_dim
        if c.time_features:
            self.time = embedding(schema.n_time_buckets, c.time_dim, TOKEN_STD)
            dim += c.time_dim
        self.attention = LocalActivationUnit(dim, c.attention_hidden)
        self.head = MLP(self.other.out_dim + 2 * dim, c.hidden, 1, c.dropout)

    def forward(self, batch: dict[str, torch.Tensor], return_attention: bool = False):
        """batch: see ``Samples`` -> logits (B,) [, attention weights (B, L), 0 at padding]."""
        mask = batch["hist_item"] != PAD  # (B, L)
        hist = self.items(batch["hist_item"], batch["hist_cat"])  # (B, L, E)
        target = self.items(batch["target_item"], batch["target_cat"])  # (B, E)
        if self.config.time_features:
            hist = torch.cat([hist, self.time(batch["hist_time"])], dim=-1)
            now = torch.ones_like(batch["target_item"])  # bucket 1 = "the target itself"
            target = torch.cat([target, self.time(now)], dim=-1)
        weights = self.attention(hist, target) * mask  # (B, L), padding gets weight 0
        pooled = (weights.unsqueeze(-1) * hist).sum(1)  # (B, E): order-blind weighted sum
        logits = self.head(torch.cat([self.other(batch["sparse"]), target, pooled], -1)).squeeze(-1)
        return (logits, weights) if return_attention else logits
