"""Reference step: the BST training step as it was before the leaner one, kept to time against.

A faithful copy of ``bst_teach.models.layers`` and ``bst_teach.models.bst`` (the model: seven
input tensors, positions and ranks computed per batch, ``nn.Embedding`` per feature) and of
``bst_teach.train.batches`` (a batch built by indexing each of the seven tensors), trained with
``torch.optim.Adam``'s default CPU implementation (one parameter at a time, unfused).  Only the
imports differ.  ``bench/run.py`` times it as "reference step (per-tensor indexing, unfused Adam)".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bst_teach.features import PAD, Schema


TOKEN_STD = 0.1  # initial scale of the tables that make up behaviour tokens (items, positions)
PROFILE_STD = 0.01  # initial scale of the user / item / context / cross feature tables


def init_embedding_(table: nn.Embedding, std: float) -> nn.Embedding:
    """Redraw ``table`` from N(0, std^2) (PyTorch's default is std = 1), keeping its padding row
    at zero.  In place; returns the table."""
    nn.init.normal_(table.weight, std=std)
    with torch.no_grad():
        table.weight[table.padding_idx].zero_()
    return table


def embedding(n: int, dim: int, std: float) -> nn.Embedding:
    """An (n, dim) table with row PAD fixed at zero, initialised N(0, std^2)."""
    return init_embedding_(nn.Embedding(n, dim, padding_idx=PAD), std)


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

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        return torch.cat([table(sparse[:, i]) for i, table in enumerate(self.tables)], dim=-1)


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


def batches(tensors: dict[str, torch.Tensor], batch_size: int, generator=None):
    """Yield dicts of (batch_size, ...) slices; shuffled when a torch.Generator is given."""
    n = len(tensors["label"])
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield {k: v[idx] for k, v in tensors.items()}


@dataclass
class BSTConfig:
    item_dim: int = 16
    cat_dim: int = 8
    pos_dim: int = 8
    blocks: int = 1
    heads: int = 4
    ffn_mult: int = 4
    dropout: float = 0.1
    position: str = "both"  # "none" | "index" | "time" | "both" (index + time embeddings summed)
    norm: str = "layer"  # "layer" | "batch" | "none"
    hidden: tuple[int, ...] = (128, 64)

    def __post_init__(self):
        if self.position not in ("none", "index", "time", "both"):
            raise ValueError(f"position must be 'none', 'index', 'time' or 'both', got {self.position!r}")
        if self.norm not in ("layer", "batch", "none"):
            raise ValueError(f"norm must be 'layer', 'batch' or 'none', got {self.norm!r}")
        if (self.item_dim + self.cat_dim + self.pos_dim) % self.heads:
            raise ValueError("item_dim + cat_dim + pos_dim must be divisible by heads")


class TokenNorm(nn.Module):
    """LayerNorm, BatchNorm or nothing over tokens x: (B, T, D) -> (B, T, D).

    LayerNorm normalises each token over its D features, alone.  BatchNorm normalises each feature
    over all B * T tokens of the batch (padding included), so in training mode one sample's output
    depends on the others in its batch.
    """

    def __init__(self, kind: str, dim: int):
        super().__init__()
        self.kind = kind
        self.norm = {"layer": lambda: nn.LayerNorm(dim), "batch": lambda: nn.BatchNorm1d(dim),
                     "none": nn.Identity}[kind]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch":
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.norm(x)


class MultiHeadSelfAttention(nn.Module):
    """x (B, T, D), key_mask (B, T) True = may be attended to -> (B, T, D) [, weights (B, H, T, T)].

    ``last_only=True`` computes the output of the last token (the target) only -> (B, 1, D): keys
    and values of every token, the query of the last one.  That row equals the full output's.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n * D) -> (n, B, H, T, D / H): n projections, each cut into H heads."""
        B, T, _ = x.shape
        head_dim = self.out.in_features // self.heads
        return x.view(B, T, -1, self.heads, head_dim).permute(2, 0, 3, 1, 4)

    def forward(self, x, key_mask, return_attention: bool = False, last_only: bool = False):
        B, T, D = x.shape
        if last_only:  # the rows of W_qkv that make queries, applied to the last token only
            w_q, w_kv = self.qkv.weight.split([D, 2 * D])
            b_q, b_kv = self.qkv.bias.split([D, 2 * D])
            q = self.split_heads(F.linear(x[:, -1:], w_q, b_q))[0]  # (B, H, 1, D / H)
            k, v = self.split_heads(F.linear(x, w_kv, b_kv))  # (B, H, T, D / H) each
        else:
            q, k, v = self.split_heads(self.qkv(x))
        allowed = key_mask[:, None, None, :]  # (B, 1, 1, T), broadcast over heads and queries
        if return_attention:  # spelled out, to hand the weights to plots
            scores = q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)  # (B, H, T, T)
            weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
            y = weights @ v
        else:  # the same computation, fused
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), None
        y = self.out(y.transpose(1, 2).reshape(B, q.shape[2], D))
        return (y, weights) if return_attention else y


class EncoderBlock(nn.Module):
    """One Transformer block as the paper writes it (post-norm, LeakyReLU feed-forward).

    ``last_only=True``: only the last token's output, (B, 1, D).  Everything after the attention
    (residual, dropout, LayerNorm, feed-forward) acts on each token alone, so that row equals the
    full block's last row.  Dropout masks are still drawn for all T tokens and sliced, so the random
    stream is the full computation's and a seeded training run follows the same path (up to
    floating-point rounding).
    """

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float, norm: str):
        super().__init__()
        self.attention = MultiHeadSelfAttention(dim, heads)
        self.norm1, self.norm2 = TokenNorm(norm, dim), TokenNorm(norm, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.LeakyReLU(),
                                 nn.Linear(ffn_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def drop_last(self, x: torch.Tensor, T: int) -> torch.Tensor:
        """Dropout of x (B, 1, D) as the last row of a (B, T, D) dropout (bit for bit)."""
        p = self.drop.p
        if not self.training or p == 0:
            return x
        keep = x.new_empty(x.shape[0], T, x.shape[2]).bernoulli_(1 - p)[:, -1:]  # as F.dropout
        return x * keep.div_(1 - p)

    def forward(self, s, key_mask, return_attention: bool = False, last_only: bool = False):
        T = s.shape[1]
        a = self.attention(s, key_mask, return_attention, last_only)
        a, weights = a if return_attention else (a, None)
        drop = (lambda x: self.drop_last(x, T)) if last_only else self.drop
        s = s[:, -1:] if last_only else s
        s = self.norm1(s + drop(a))
        s = self.norm2(s + drop(self.ffn(s)))
        return s, weights


class BST(nn.Module):
    name = "bst"
    #: Compute only the target's row in the last block (see ``forward``).  False runs the full
    #: encoder, for the benchmarks' "before" rows; the logits are the same either way.
    target_only_last_block = True

    def __init__(self, schema: Schema, config: BSTConfig | None = None):
        super().__init__()
        self.schema, self.config = schema, config or BSTConfig()
        c = self.config
        self.other = OtherFeatures(schema)
        self.items = ItemEmbedding(schema, c.item_dim, c.cat_dim)
        self.index_position = (embedding(schema.max_len + 2, c.pos_dim, TOKEN_STD)
                               if c.position in ("index", "both") else None)
        self.time_position = (embedding(schema.n_time_buckets, c.pos_dim, TOKEN_STD)
                              if c.position in ("time", "both") else None)
        dim = c.item_dim + c.cat_dim + c.pos_dim
        self.blocks = nn.ModuleList(EncoderBlock(dim, c.heads, c.ffn_mult, c.dropout, c.norm)
                                    for _ in range(c.blocks))
        self.head = MLP(self.other.out_dim + dim, c.hidden, 1, c.dropout)

    def position_embedding(self, batch) -> torch.Tensor:
        """Position vector of every token, (B, T, pos_dim); zero at padding and for "none".

        Indices: 0 = padding, 1 = the target, 2.. = behaviours (time bucket or recency rank + 1).
        """
        mask = batch["hist_item"] != PAD
        target = torch.ones_like(batch["target_item"]).unsqueeze(1)
        B, L = mask.shape
        out = torch.zeros(B, L + 1, self.config.pos_dim)
        if self.index_position is not None:
            rank = torch.where(mask, recency_rank(mask) + 1, PAD)
            out = out + self.index_position(torch.cat([rank, target], dim=1))
        if self.time_position is not None:
            out = out + self.time_position(torch.cat([batch["hist_time"], target], dim=1))
        return out

    def embed(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """-> tokens (B, T, D) with the target appended last, key mask (B, T)."""
        items = torch.cat([batch["hist_item"], batch["target_item"].unsqueeze(1)], dim=1)
        cats = torch.cat([batch["hist_cat"], batch["target_cat"].unsqueeze(1)], dim=1)
        tokens = torch.cat([self.items(items, cats), self.position_embedding(batch)], dim=-1)
        return tokens, items != PAD

    def forward(self, batch: dict[str, torch.Tensor], return_attention: bool = False):
        """batch: see ``Samples`` -> logits (B,) [, list over blocks of weights (B, H, T, T)]."""
        s, key_mask = self.embed(batch)
        key_mask[:, -1] = True  # the target is always attended to (even if it is out of vocabulary)
        attentions = []
        for i, block in enumerate(self.blocks):
            # Only the target slot's output is read below, so the last block needs no other row:
            # attention cost O(T) instead of O(T^2) and the feed-forward on 1 token instead of T.
            # (Not with BatchNorm, whose statistics need every token; not when plotting weights.)
            last_only = (i == len(self.blocks) - 1 and self.target_only_last_block
                         and not return_attention and self.config.norm != "batch")
            s, weights = block(s, key_mask, return_attention, last_only)
            attentions.append(weights)
        x = torch.cat([self.other(batch["sparse"]), s[:, -1]], dim=-1)  # output at the target slot
        logits = self.head(x).squeeze(-1)
        return (logits, attentions) if return_attention else logits


def reference_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam as ``bst_teach.train`` built it: PyTorch's CPU default (neither foreach nor fused)."""
    return torch.optim.Adam(model.parameters(), lr=lr)
