"""The embedding + MLP baseline (the paper's WDL(+Seq) role).

Every feature is embedded; the behaviour sequence is *mean-pooled* (the average of the clicked
items' embeddings), concatenated with the rest and fed to an MLP.  An average is the same for any
order of the history, so this model cannot see order or recency.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..features import PAD, Schema
from .layers import MLP, ItemEmbedding, OtherFeatures


@dataclass
class EmbeddingMLPConfig:
    item_dim: int = 16
    cat_dim: int = 8
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.2


class EmbeddingMLP(nn.Module):
    name = "wdl"

    def __init__(self, schema: Schema, config: EmbeddingMLPConfig | None = None):
        super().__init__()
        self.schema, self.config = schema, config or EmbeddingMLPConfig()
        c = self.config
        self.other = OtherFeatures(schema)
        self.items = ItemEmbedding(schema, c.item_dim, c.cat_dim)
        self.head = MLP(self.other.out_dim + 2 * self.items.out_dim, c.hidden, 1, c.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """batch: see ``Samples`` -> logits (B,)."""
        mask = (batch["hist_item"] != PAD).unsqueeze(-1)  # (B, L, 1)
        hist = self.items(batch["hist_item"], batch["hist_cat"]) * mask  # (B, L, E)
        pooled = hist.sum(1) / mask.sum(1).clamp(min=1)  # mean over the *real* length, (B, E)
        target = self.items(batch["target_item"], batch["target_cat"])  # (B, E)
        x = torch.cat([self.other(batch["sparse"]), target, pooled], dim=-1)
        return self.head(x).squeeze(-1)
