"""Behavior Sequence Transformer (Chen et al., DLP-KDD 2019), read top to bottom in data order.

1. Embedding layer.  Each behaviour v_i and the target item become a token
   ``[item embedding ; category embedding ; position embedding]``; the target is *appended* to the
   sequence, so the encoder sees (B, T = L + 1, D) with the target in the last slot.
2. Positions.  ``time``: the paper's pos(v_i) = t(target) - t(v_i), bucketed (see
   ``bst_teach.features``); ``index``: how many behaviours ago; ``both``: the sum of the two
   embeddings (a time bucket says *how long ago*, but two behaviours in one bucket are unordered;
   the index says *in what order*, but not how long ago); ``none``: a zero vector.
3. Transformer encoder block(s), post-norm as in the paper:
   S' = Norm(S + Dropout(MultiHead(S)));  F = Norm(S' + Dropout(LeakyReLU(S'W1 + b1)W2 + b2)).
   Padding slots are masked out as keys; the target slot never is, so no row of attention is empty.
   Only the target slot's output is used, so the last block computes that row alone (same numbers,
   far less work: see ``BST.forward``).
4. The encoder output at the target slot, concatenated with the other features' embeddings, goes
   through a LeakyReLU MLP to one logit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..features import PAD, Schema
from .layers import TOKEN_STD, MLP, ItemEmbedding, OtherFeatures, embedding, recency_rank


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
        if last_only:
            return self.attend_last(x, key_mask)
        q, k, v = self.split_heads(self.qkv(x))  # (B, H, T, D / H) each
        allowed = key_mask[:, None, None, :]  # (B, 1, 1, T), broadcast over heads and queries
        if return_attention:  # spelled out, to hand the weights to plots
            scores = q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)  # (B, H, T, T)
            weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
            y = weights @ v
        else:  # the same computation, fused
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), None
        y = self.out(y.transpose(1, 2).reshape(B, T, D))
        return (y, weights) if return_attention else y

    def attend_last(self, x, key_mask) -> torch.Tensor:
        """The last token's output alone, (B, 1, D), without computing any key or value.

        With a single query per sample, both projections can move past the sums.  The score of
        token t in head h is q_h . (W_k,h x_t + b_k,h) = (W_k,h^T q_h) . x_t + q_h . b_k,h: pull the
        query back into token space once, u_h = W_k,h^T q_h, and dot it with the raw tokens (the
        term q_h . b_k,h is the same for every t, and softmax ignores it).  The output of head h
        is sum_t w_t (W_v,h x_t + b_v,h) = W_v,h (sum_t w_t x_t) + b_v,h, since the weights sum
        to 1: average the raw tokens, then project once.  The same numbers as the full block's
        last row, with no (B, T, 2D) keys and values: 2H instead of 4D multiply-adds per token.
        """
        B, T, D = x.shape
        H, hd = self.heads, D // self.heads
        w_q, w_k, w_v = self.qkv.weight.split(D)  # (D, D) each; rows h * hd ... = head h
        b_q, _, b_v = self.qkv.bias.split(D)
        q = F.linear(x[:, -1], w_q, b_q).view(B, H, hd)  # the target's query, per head
        u = torch.einsum("bhe,hed->bhd", q, w_k.view(H, hd, D))  # (B, H, D)
        scores = x @ u.transpose(1, 2) / math.sqrt(hd)  # (B, T, H): q_h . k_t,h up to a constant
        weights = scores.masked_fill(~key_mask[:, :, None], float("-inf")).softmax(1)
        pooled = weights.transpose(1, 2) @ x  # (B, H, D): per head, a weighted average of tokens
        y = torch.einsum("bhd,hed->bhe", pooled, w_v.view(H, hd, D)) + b_v.view(H, hd)
        return self.out(y.reshape(B, 1, D))


class EncoderBlock(nn.Module):
    """One Transformer block as the paper writes it (post-norm, LeakyReLU feed-forward).

    ``last_only=True``: only the last token's output, (B, 1, D).  Everything after the attention
    (residual, dropout, LayerNorm, feed-forward) acts on each token alone, so that row equals the
    full block's last row.  In training, dropout draws masks for that row alone: the same
    distribution, but not the same random numbers as the full block (drawing all T rows to keep
    one took a fifth of a training step).
    """

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float, norm: str):
        super().__init__()
        self.attention = MultiHeadSelfAttention(dim, heads)
        self.norm1, self.norm2 = TokenNorm(norm, dim), TokenNorm(norm, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.LeakyReLU(),
                                 nn.Linear(ffn_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, s, key_mask, return_attention: bool = False, last_only: bool = False):
        a = self.attention(s, key_mask, return_attention, last_only)
        a, weights = a if return_attention else (a, None)
        s = s[:, -1:] if last_only else s
        s = self.norm1(s + self.drop(a))
        s = self.norm2(s + self.drop(self.ffn(s)))
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
        parts = []
        if self.index_position is not None:
            rank = torch.where(mask, recency_rank(mask) + 1, PAD)
            parts.append(self.index_position(torch.cat([rank, target], dim=1)))
        if self.time_position is not None:
            parts.append(self.time_position(torch.cat([batch["hist_time"], target], dim=1)))
        if not parts:
            return torch.zeros(B, L + 1, self.config.pos_dim)
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def embed(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """-> tokens (B, T, D) with the target appended last, key mask (B, T)."""
        items = torch.cat([batch["hist_item"], batch["target_item"].unsqueeze(1)], dim=1)
        cats = torch.cat([batch["hist_cat"], batch["target_cat"].unsqueeze(1)], dim=1)
        tokens = torch.cat([self.items.item(items), self.items.cat(cats),
                            self.position_embedding(batch)], dim=-1)  # = [items(items, cats); pos]
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
