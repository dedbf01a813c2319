"""Serving: score many candidates for one user, with the history's work done once.

A request scores C candidates for one user: C samples that share the history and the profile and
differ in the candidate (its item, category and the features derived from it).  ``BST.forward``
on such a batch encodes the shared history C times.  Two ways to do less, both exact:

* :func:`score_candidates` needs no preparation.  It embeds the history once and, in the first
  block, projects each history token to its key and value once; per candidate remain the
  candidate's own projections, its L + 1 attention scores and everything after attention.
* :class:`Server` is built once from a trained model and precomputes what depends on one item
  alone, for the whole catalogue.  A token ``x = [item ; category ; position]`` enters the first
  block only through an affine map, ``x -> [x + b_out ; q ; k ; v]`` (:func:`first_block_map`),
  so the map of a token is the sum of the maps of its pieces: one table row per item, category,
  time bucket and recency rank.  The MLP head's first layer is affine in the "other" features'
  embeddings too: one row per value of each feature.  Per request remain row look-ups, L dot
  products per head and candidate, one softmax, a weighted sum and the per-candidate tail (out
  projection, norms, feed-forward, the rest of the MLP head): 48 eager operations with one
  block, whatever L (``score_candidates``: 139, ``BST.forward`` on the batch: 97).

With one block (the paper's best) the target-only block reads the history as keys and values
only.  With more blocks, the history tokens' outputs of the first block depend on the candidate
(they attend to it), so the later blocks run per candidate as in ``BST.forward``; the first block
is still shared.  Padding slots of the history are dropped: they are masked keys, and no output
reads them, so the logits do not change.

Both return the same logits as ``model(batch)`` on the batch that repeats the history for every
candidate (``tests/test_serving.py``), in evaluation mode.
"""
from __future__ import annotations

import math
from itertools import chain
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .features import PAD
from .models.bst import BST

HISTORY = ("hist_item", "hist_cat", "hist_time")


@torch.inference_mode()
def score_candidates(model: BST, user: dict[str, torch.Tensor],
                     candidates: dict[str, torch.Tensor]) -> torch.Tensor:
    """Click logits (C,) of C candidates for one user, the history encoded once.

    user: ``hist_item``, ``hist_cat``, ``hist_time`` of shape (L,) or (1, L), the user's history.
    candidates: ``target_item``, ``target_cat`` (C,) and ``sparse`` (C, F), as in a batch (the
    profile columns of ``sparse`` repeat the user's; item and cross columns vary).
    Equals ``model(batch)`` on the batch that repeats the history C times (evaluation mode).
    """
    _check(model)
    hist = {k: user[k].reshape(1, -1) for k in HISTORY}
    C = len(candidates["target_item"])
    # Tokens: the history's (1, L, D) once; the target slot's position once; candidates' items.
    tokens, key_mask = model.embed({**hist, "target_item": candidates["target_item"][:1],
                                    "target_cat": candidates["target_cat"][:1]})
    x_hist = tokens[0, :-1][key_mask[0, :-1]]  # (n, D): the n real behaviours, padding dropped
    x_cand = torch.cat([model.items(candidates["target_item"], candidates["target_cat"]),
                        tokens[0, -1, -model.config.pos_dim:].expand(C, -1)], dim=-1)  # (C, D)
    weight, bias = first_block_map(model.blocks[0])
    s = _encode(model, _Weights.of(model.blocks[0]), F.linear(x_hist, weight, bias),
                F.linear(x_cand, weight, bias))
    return model.head(torch.cat([model.other(candidates["sparse"]), s], dim=-1)).squeeze(-1)


class Server:
    """Scores candidates for one user from tables built once from an eval-mode BST.

    ``server = Server(model.eval())``, then ``server(user, candidates)`` -> logits (C,), with the
    arguments and logits of :func:`score_candidates`.  Tables (rows of width 4D unless said
    otherwise), each row the first block's map (:func:`first_block_map`) of one piece of a
    token; the map's constant goes to a piece that every token has:

    * ``hist_rows``: the history's pieces, items (with the constant), categories, time buckets,
      looked up at ``hist_offsets + [item, category, bucket]``;
    * ``rank_rows`` (max_len, 4D): recency ranks max_len ... 1, so that the last n rows are the
      ranks of n behaviours, oldest first (None without index positions);
    * ``cand_items``, ``cand_cats``: the candidates' pieces; the category rows carry the constant
      and the target slot's position (always the same: index 1 and time bucket 1);
    * ``head_rows`` (sum of vocabularies, hidden[0]): each sparse feature's embedding times its
      columns of the MLP head's first layer (the first feature's rows carry the layer's bias).

    The tables are a snapshot of the weights.  A call raises ValueError once any parameter or
    buffer of the model changed in place since (optimiser steps, ``load_state_dict``: seen on
    their version counters; a parameter *replaced* by a new tensor is not seen); build a new
    Server after training further.  The weights used per request are kept as plain tensors: an
    ``nn.Parameter`` costs about a microsecond more per operation, and a request is 48 small
    operations.
    """

    @torch.no_grad()
    def __init__(self, model: BST):
        _check(model)
        self.model, c, s = model, model.config, model.schema
        first = model.blocks[0]
        weight, bias = first_block_map(first)
        D = weight.shape[1]

        def rows(table: nn.Module, n: int, start: int, constant=None) -> torch.Tensor:
            """The map of each of the n embeddings of ``table`` placed at columns start... of a
            token: (n, 4D)."""
            e = table(torch.arange(n))
            return F.linear(F.pad(e, (start, D - start - e.shape[1])), weight, constant)

        pos = c.item_dim + c.cat_dim  # where the position columns start
        pieces = [rows(model.items.item, s.n_items, 0, bias),
                  rows(model.items.cat, s.n_categories, c.item_dim)]
        if model.time_position is not None:
            pieces.append(rows(model.time_position, s.n_time_buckets, pos))
        self.hist_keys = HISTORY[:len(pieces)]  # without time positions, no time column
        self.hist_rows = torch.cat(pieces)
        self.hist_offsets = torch.tensor([0, s.n_items, s.n_items + s.n_categories][:len(pieces)])
        self.rank_rows = None
        if model.index_position is not None:  # rank r is row r + 1 of the table
            self.rank_rows = rows(model.index_position, s.max_len + 2, pos)[2:].flip(0)
        target_pos = model.position_embedding({"hist_item": torch.zeros(1, 0, dtype=torch.long),
                                               "hist_time": torch.zeros(1, 0, dtype=torch.long),
                                               "target_item": torch.ones(1, dtype=torch.long)})
        constant = F.linear(F.pad(target_pos[0, 0], (pos, 0)), weight, bias)  # (4D,)
        self.cand_items = rows(model.items.item, s.n_items, 0)
        self.cand_cats = rows(model.items.cat, s.n_categories, c.item_dim, constant)

        lin1 = model.head.net[0]
        w_other, w_s = lin1.weight.split([model.other.out_dim, D], dim=1)
        parts, start = [], 0
        for i, (f, table) in enumerate(zip(s.features, model.other.tables)):
            e = table(torch.arange(f.vocab_size))  # (vocab, embed_dim), zero at PAD
            parts.append(F.linear(e, w_other[:, start:start + f.embed_dim],
                                  lin1.bias if i == 0 else None))
            start += f.embed_dim
        self.head_rows = torch.cat(parts)  # (sum of vocabularies, hidden[0])
        self.head_offsets = model.other.offsets.clone()
        self.head_s = w_s.t().contiguous()  # (D, hidden[0]): the encoder output's columns
        self.head_rest = [(m.weight.detach(), m.bias.detach()) for m in model.head.net[1:]
                          if isinstance(m, nn.Linear)]  # LeakyReLU, Linear, ...; no dropout
        self.block = _Weights.of(first)
        self._versions = [(t, t._version) for t in chain(model.parameters(), model.buffers())]

    @torch.inference_mode()
    def __call__(self, user: dict[str, torch.Tensor],
                 candidates: dict[str, torch.Tensor]) -> torch.Tensor:
        """Click logits (C,) of C candidates for one user: see :func:`score_candidates`."""
        if any(t._version != v for t, v in self._versions):
            raise ValueError("the model's weights changed since this Server was built: "
                             "build a new one")
        # (n, 3): item, category, time bucket of the n real behaviours (PAD items dropped)
        ids = torch.stack([user[k] for k in self.hist_keys], dim=-1)[user["hist_item"] != PAD]
        hist = F.embedding_bag(ids + self.hist_offsets, self.hist_rows, mode="sum")  # (n, 4D)
        if self.rank_rows is not None:
            hist = hist + self.rank_rows[len(self.rank_rows) - len(ids):]
        cand = (self.cand_items.index_select(0, candidates["target_item"])
                + self.cand_cats.index_select(0, candidates["target_cat"]))  # (C, 4D)
        s = _encode(self.model, self.block, hist, cand)  # (C, D)
        other = F.embedding_bag(candidates["sparse"] + self.head_offsets, self.head_rows,
                                mode="sum")  # (C, hidden[0]), the first layer's bias included
        h = torch.addmm(other, s, self.head_s)
        for weight, bias in self.head_rest:
            h = F.linear(F.leaky_relu(h, inplace=True), weight, bias)
        return h.view(-1)


def first_block_map(block) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (4D, D) and bias (4D,) of what the first block reads of a token x (D,):
    ``[x + b_out ; q / sqrt(D / H) ; k ; v]`` (the residual with the out projection's bias, the
    scaled query, the key, the value)."""
    att = block.attention
    D = att.out.in_features
    scale = 1 / math.sqrt(D // att.heads)
    w, b = att.qkv.weight.detach(), att.qkv.bias.detach()
    return (torch.cat([torch.eye(D), w[:D] * scale, w[D:]]),
            torch.cat([att.out.bias.detach(), b[:D] * scale, b[D:]]))


class _Weights(NamedTuple):
    """What the first block needs after its map, as plain tensors: heads, out projection (D, D)
    transposed, the norms as functions, the feed-forward's (weight, bias) and slope."""
    heads: int
    out: torch.Tensor
    norm1: Callable
    up: tuple
    slope: float
    down: tuple
    norm2: Callable

    @classmethod
    def of(cls, block) -> "_Weights":
        up, act, down = block.ffn
        return cls(block.attention.heads, block.attention.out.weight.detach().t(),
                   _norm(block.norm1), (up.weight.detach(), up.bias.detach()),
                   act.negative_slope, (down.weight.detach(), down.bias.detach()),
                   _norm(block.norm2))


def _norm(norm) -> Callable:
    """A block's TokenNorm in evaluation mode, for tokens (N, D): each token alone."""
    m = norm.norm
    if isinstance(m, nn.LayerNorm):
        w, b = m.weight.detach(), m.bias.detach()
        return lambda x: F.layer_norm(x, m.normalized_shape, w, b, m.eps)
    if isinstance(m, nn.BatchNorm1d):  # running statistics: a fixed affine map per feature
        stats = [t.detach() for t in (m.running_mean, m.running_var, m.weight, m.bias)]
        return lambda x: F.batch_norm(x, *stats, False, 0.0, m.eps)
    return lambda x: x


def _check(model) -> None:
    if not isinstance(model, BST):
        raise ValueError(f"serving scores a BST, got {type(model).__name__}")
    if model.training:
        raise ValueError("serving needs model.eval(): dropout would differ per candidate")


def _encode(model: BST, w: _Weights, hist: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """The encoder's output at the target slot, (C, D), from the first block's maps of the n real
    history tokens, hist (n, 4D), and of the C candidates, cand (C, 4D); w: the first block's
    weights."""
    D = cand.shape[1] // 4
    if len(model.blocks) == 1:
        return _finish(w, cand[:, :D], _attend_target(w.heads, hist, cand))
    # More blocks: every history token's output depends on the candidate, C (n + 1) tokens in
    # all.  Candidates go in chunks of about CHUNK_TOKENS tokens, whose activations stay in cache.
    shared = _history_only(w.heads, hist)
    size = max(1, CHUNK_TOKENS // (len(hist) + 1))
    return torch.cat([_all_blocks(model, w, hist, shared, c) for c in cand.split(size)])


CHUNK_TOKENS = 4096


def _all_blocks(model, w: _Weights, hist, shared, cand) -> torch.Tensor:
    """_encode with more than one block, for a chunk of candidates: (C, D)."""
    C, n, D = len(cand), len(hist), cand.shape[1] // 4
    res = torch.cat([hist[:, :D].expand(C, n, D), cand[:, None, :D]], dim=1)  # (C, T, D)
    y = torch.cat([_attend_history(w.heads, hist, shared, cand),
                   _attend_target(w.heads, hist, cand)[:, None]], dim=1)
    s = _finish(w, res.view(-1, D), y.view(-1, D)).view(C, n + 1, D)
    key_mask = torch.ones(C, n + 1, dtype=torch.bool)  # no padding left
    rest = model.blocks[1:]
    for i, block in enumerate(rest):  # in evaluation mode the target row alone is exact
        s, _ = block(s, key_mask, last_only=i == len(rest) - 1)
    return s[:, -1]


def _heads(maps: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, 4D) maps -> (4, H, N, D / H): residual, query, key and value, heads leading."""
    return maps.view(len(maps), 4, heads, maps.shape[1] // (4 * heads)).permute(1, 2, 0, 3)


def _attend_target(heads: int, hist, cand) -> torch.Tensor:
    """Attention output (before the out projection) at the target slot, (C, D).

    Each candidate's query attends to the n history keys (shared: one batched product over
    heads) and to its own key."""
    (C, D4), n = cand.shape, len(hist)
    _, _, k_h, v_h = _heads(hist, heads)  # (H, n, D / H) each
    _, q, k, v = _heads(cand, heads)  # (H, C, D / H) each
    scores = torch.cat([torch.bmm(q, k_h.transpose(1, 2)), (q * k).sum(-1, keepdim=True)], -1)
    w = scores.softmax(-1)  # (H, C, n + 1)
    y = torch.baddbmm(w[..., n:] * v, w[..., :n], v_h)  # (H, C, D / H)
    return y.transpose(0, 1).reshape(C, D4 // 4)


def _history_only(heads: int, hist) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of the history tokens over the history keys alone: outputs a (H, n, D / H) and
    the logsumexp of the scores, (H, n)."""
    _, q_h, k_h, v_h = _heads(hist, heads)  # (H, n, D / H) each
    s_hh = torch.bmm(q_h, k_h.transpose(1, 2))  # (H, n, n)
    return torch.bmm(s_hh.softmax(-1), v_h), s_hh.logsumexp(-1)


def _attend_history(heads: int, hist, shared, cand) -> torch.Tensor:
    """Attention outputs of the history tokens (before the out projection), (C, n, D).

    Softmax over the n history keys and one more (the candidate's) is a mix of softmax over the
    history keys alone, a (``shared``, see _history_only), and the candidate's value v:
    ``a + g (v - a)`` with the candidate's weight g = sigmoid(s - logsumexp(history scores)),
    s its score.
    """
    (C, D4), n, (a, lse) = cand.shape, len(hist), shared
    q_h = _heads(hist, heads)[1]  # (H, n, D / H)
    _, _, k, v = _heads(cand, heads)  # (H, C, D / H) each
    g = torch.sigmoid(torch.bmm(k, q_h.transpose(1, 2)) - lse[:, None])  # (H, C, n)
    a = a[:, None]  # (H, 1, n, D / H)
    y = a + g[..., None] * (v[:, :, None] - a)  # (H, C, n, D / H)
    return y.permute(1, 2, 0, 3).reshape(C, n, D4 // 4)


def _finish(w: _Weights, res, y) -> torch.Tensor:
    """The rest of the block on tokens (N, D): out projection, residual, norm, feed-forward,
    residual, norm.  res: the tokens plus the out projection's bias."""
    s = w.norm1(torch.addmm(res, y, w.out))
    s = s + F.linear(F.leaky_relu(F.linear(s, *w.up), w.slope, inplace=True), *w.down)
    return w.norm2(s)
