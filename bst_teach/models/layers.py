"""Building blocks shared by the three models: embeddings of the "other" features and the MLP head.

Shapes: B = batch size, L = history length, F = number of sparse features, D = embedding width.
"""
from __future__ import annotations

import torch
from torch import nn

from ..features import PAD, Schema


TOKEN_STD = 0.1  # initial scale of the tables that make up behaviour tokens (items, positions)
PROFILE_STD = 0.01  # initial scale of the user / item / context / cross feature tables


def init_embedding_(table: nn.Embedding, std: float) -> nn.Embedding:
    """Redraw ``table`` from N(0, std^2) (PyTorch's default is std = 1), keeping its padding row
    at zero.  In place; returns the table."""
    nn.init.normal_(table.weight, std=std)
    with torch.no_grad():
        table.weight[table.padding_idx].zero_()
    return table


class Embedding(nn.Embedding):
    """``nn.Embedding`` with a padding row, looked up as rows of the weight: same values, same
    gradients, a faster backward pass on the CPU for the long index tensors of a history.

    ``nn.Embedding``'s CPU backward sorts the indices once there are more than a few thousand
    (a batch of 256 histories of 20 has 5,376); ``index_select``'s adds rows without sorting.
    Multiplying by the mask of real indices keeps the padding row's gradient at zero, as
    ``padding_idx`` does, so the padding row stays zero.
    """

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return lookup(self.weight, idx, idx != self.padding_idx)


def lookup(weight: torch.Tensor, idx: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Rows ``weight[idx]``, (*idx.shape, dim), zero (and with zero gradient) where ``real`` is
    False."""
    rows = weight.index_select(0, idx.reshape(-1)).view(*idx.shape, -1)
    return rows * real.unsqueeze(-1)


def embedding(n: int, dim: int, std: float) -> nn.Embedding:
    """An (n, dim) table with row PAD fixed at zero, initialised N(0, std^2)."""
    return init_embedding_(Embedding(n, dim, padding_idx=PAD), std)


class OtherFeatures(nn.Module):
    """Embeds the user / item / context / cross columns of ``batch["sparse"]`` and concatenates them.

    sparse (B, F) -> (B, sum of the features' embed_dim)

    The tables start small, N(0, 0.01^2), as in DeepCTR and torch-rechub.  A row that training
    never updates keeps its initial value, and the out-of-vocabulary row is such a row (no training
    sample has an unseen id): with PyTorch's N(0, 1) every new user would feed the MLP a large
    random vector.  On MovieLens-100K, where most test users are new, small tables raised BST's
    test AUC by about 0.03 (``bench/run.py``, quality, "before" row).
    """

    def __init__(self, schema: Schema):
        super().__init__()
        self.tables = nn.ModuleList(embedding(f.vocab_size, f.embed_dim, PROFILE_STD)
                                    for f in schema.features)
        self.out_dim = sum(f.embed_dim for f in schema.features)
        # Where each table starts in the tables stacked on top of each other, for one lookup of
        # all F columns instead of F lookups (when all tables have the same width).
        sizes = [f.vocab_size for f in schema.features]
        self.same_width = len({f.embed_dim for f in schema.features}) == 1
        self.register_buffer("offsets", torch.tensor([0] + sizes[:-1]).cumsum(0), persistent=False)

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        if not self.same_width:
            return torch.cat([table(sparse[:, i]) for i, table in enumerate(self.tables)], dim=-1)
        weight = torch.cat([table.weight for table in self.tables])  # (sum of vocab sizes, d)
        return lookup(weight, sparse + self.offsets, sparse != PAD).flatten(1)  # (B, F * d)


class ItemEmbedding(nn.Module):
    """An item is its id and its category: (...,) ids -> (..., item_dim + cat_dim).

    The same tables embed the history and the target, as in the paper.  Index 0 (padding) is a
    zero vector.  The tables start at N(0, 0.1^2): at 0.01, as the profile tables, all tokens start
    alike, attention starts uniform and BST sat on a long plateau of the synthetic task; at
    PyTorch's N(0, 1) it did worse on MovieLens-100K.
    """

    def __init__(self, schema: Schema, item_dim: int, cat_dim: int):
        super().__init__()
        self.item = embedding(schema.n_items, item_dim, TOKEN_STD)
        self.cat = embedding(schema.n_categories, cat_dim, TOKEN_STD)
        self.out_dim = item_dim + cat_dim

    def forward(self, items: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.item(items), self.cat(cats)], dim=-1)


class MLP(nn.Module):
    """Stack of Linear + LeakyReLU (+ dropout), the paper's prediction head.  (B, in) -> (B, out)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int = 1, dropout: float = 0.0):
        super().__init__()
        layers, d = [], in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.LeakyReLU(), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def recency_rank(mask: torch.Tensor) -> torch.Tensor:
    """How many behaviours ago each one happened: 1 for the most recent, 2 for the one before, ...

    mask (B, L) bool, True at real behaviours (oldest first) -> (B, L) long, 0 at padding.
    Counting from the target makes index positions independent of how much padding follows.
    """
    m = mask.long()
    later = m.flip(-1).cumsum(-1).flip(-1)  # number of real behaviours at or after this slot
    return later * m
