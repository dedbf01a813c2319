"""Serving: score many candidates for one user, with the history's work done once.

A request scores C candidates for one user: C samples that share the history and the profile and
differ in the candidate (its item, category and the features derived from it).  ``BST.forward``
on such a batch encodes the shared history C times.  Much of that work does not depend on the
candidate:

* the history's tokens (item, category, position embeddings), and the target slot's position;
* in the first block, every history token's query, key and value (projections of its own token);
* in the first block, the scores of history tokens against each other, softmax's exponentials of
  them and their weighted sum of values: only the candidate's own column is new per candidate.

With one block (the paper's best) the target-only block reads the history as keys and values
only, so a candidate costs a few operations on D numbers plus L dot products.  With more blocks,
the history tokens' outputs of the first block depend on the candidate (they attend to it), so
the later blocks run per candidate as in ``BST.forward``; the first block is still shared.

:func:`score_candidates` returns the same logits as ``model(batch)`` with the history repeated
for every candidate (``tests/test_serving.py``), in evaluation mode.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .features import PAD
from .models.bst import BST


@torch.inference_mode()
def score_candidates(model: BST, user: dict[str, torch.Tensor],
                     candidates: dict[str, torch.Tensor]) -> torch.Tensor:
    """Click logits (C,) of C candidates for one user, the history encoded once.

    user: ``hist_item``, ``hist_cat``, ``hist_time`` of shape (L,) or (1, L), the user's history.
    candidates: ``target_item``, ``target_cat`` (C,) and ``sparse`` (C, F), as in a batch (the
    profile columns of ``sparse`` repeat the user's; item and cross columns vary).
    Equals ``model(batch)`` on the batch that repeats the history C times (evaluation mode).
    """
    if model.training:
        raise ValueError("score_candidates needs model.eval(): dropout would differ per candidate")
    hist = {k: user[k].reshape(1, -1) for k in ("hist_item", "hist_cat", "hist_time")}
    C = len(candidates["target_item"])
    # Tokens: the history's (1, L, D) once; the target slot's position once; candidates' items.
    tokens, key_mask = model.embed({**hist, "target_item": candidates["target_item"][:1],
                                    "target_cat": candidates["target_cat"][:1]})
    x_hist, target_pos = tokens[0, :-1], tokens[0, -1, -model.config.pos_dim:]  # (L, D), (pos,)
    x_cand = torch.cat([model.items.item(candidates["target_item"]),
                        model.items.cat(candidates["target_cat"]),
                        target_pos.expand(C, -1)], dim=-1)  # (C, D)
    real = key_mask[0, :-1]  # (L,) True at real behaviours
    first, rest = model.blocks[0], model.blocks[1:]
    if not rest:
        s = _target_row_block(first, x_hist, real, x_cand)  # (C, D)
    else:
        s = _first_block_shared(first, x_hist, real, x_cand)  # (C, T, D)
        mask = torch.cat([real, real.new_ones(1)]).expand(C, -1)  # (C, T)
        for i, block in enumerate(rest):
            last_only = (i == len(rest) - 1 and model.target_only_last_block
                         and model.config.norm != "batch")
            s, _ = block(s, mask, last_only=last_only)
        s = s[:, -1]
    x = torch.cat([model.other(candidates["sparse"]), s], dim=-1)
    return model.head(x).squeeze(-1)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, D) -> (N, H, D / H)."""
    return x.view(x.shape[0], heads, -1)


def _target_row_block(block, x_hist, real, x_cand) -> torch.Tensor:
    """One block's output at the target slot for every candidate, (C, D).

    Keys and values of the L history tokens are computed once, (H, L, D / H); each candidate adds
    its own key and value, and its query attends to the L + 1 of them.  Heads lead every tensor,
    so the scores and the weighted sum are two batched matrix products.
    """
    att, H = block.attention, block.attention.heads
    (C, D), hd = x_cand.shape, x_cand.shape[1] // H
    k_hist, v_hist = F.linear(x_hist, *_rows(att.qkv, D, 3 * D)).view(-1, 2, H, hd).permute(1, 2, 0, 3)
    q, k_self, v_self = att.qkv(x_cand).view(C, 3, H, hd).permute(1, 2, 0, 3)  # (H, C, hd) each
    q = q * (1 / math.sqrt(hd))
    hidden = torch.zeros(real.shape, dtype=x_cand.dtype).masked_fill_(~real, float("-inf"))
    scores = torch.cat([torch.baddbmm(hidden.expand(H, C, -1), q, k_hist.transpose(1, 2)),
                        (q * k_self).sum(-1, keepdim=True)], dim=-1)  # (H, C, L + 1)
    w = scores.softmax(-1)  # the target slot is never masked
    y = torch.baddbmm(w[..., -1:] * v_self, w[..., :-1], v_hist)  # (H, C, hd)
    a = att.out(y.transpose(0, 1).reshape(C, D))
    s = block.norm1(x_cand + a)
    return block.norm2(s + block.ffn(s))


def _rows(linear, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias rows ``start:stop`` of a Linear (its key and value outputs, say)."""
    return linear.weight[start:stop], linear.bias[start:stop]


def _first_block_shared(block, x_hist, real, x_cand) -> torch.Tensor:
    """The first block's full output, (C, T, D), with the history-only part of attention shared.

    For a history token's query, softmax over the L history keys and the candidate's key is
    ``(A + e_c v_c) / (Z + e_c)``: A = sum_j exp(s_j) v_j and Z = sum_j exp(s_j) over the
    history keys (the same for every candidate, computed once, an (L, L) matrix per head), and
    e_c = exp(s_c) for the candidate's key.  Exponentials are taken relative to a running
    maximum, as in flash attention, so nothing overflows.
    """
    att, H = block.attention, block.attention.heads
    L, D = x_hist.shape
    C, hd = x_cand.shape[0], D // H
    q_h, k_h, v_h = (_heads(t, H) for t in att.qkv(x_hist).chunk(3, dim=-1))  # (L, H, hd)
    q_c, k_c, v_c = (_heads(t, H) for t in att.qkv(x_cand).chunk(3, dim=-1))  # (C, H, hd)
    scale = 1 / math.sqrt(hd)
    # History queries: the shared part over history keys, (H, L, L) -> A (H, L, hd), Z (H, L).
    s_hh = (torch.einsum("lhd,mhd->hlm", q_h, k_h) * scale).masked_fill(~real, float("-inf"))
    m = s_hh.amax(-1).clamp(min=-1e4)  # (H, L); finite even where every history key is padding
    e_hh = torch.exp(s_hh - m[..., None])
    A, Z = e_hh @ v_h.transpose(0, 1), e_hh.sum(-1)  # (H, L, hd), (H, L)
    # ... and each candidate's key as one more column, (C, H, L).
    s_hc = torch.einsum("lhd,chd->chl", q_h, k_c) * scale
    m_c = torch.maximum(m, s_hc)
    old, new = torch.exp(m - m_c), torch.exp(s_hc - m_c)  # (C, H, L) each, <= 1, one of them 1
    y_hist = (A * old[..., None] + new[..., None] * v_c[:, :, None]) / (Z * old + new)[..., None]
    # The candidate's own query attends to all L + 1 keys, as in the one-block case.
    s_ch = torch.einsum("chd,lhd->chl", q_c, k_h).masked_fill(~real, float("-inf")) * scale
    w = torch.cat([s_ch, (q_c * k_c).sum(-1, keepdim=True) * scale], dim=-1).softmax(-1)
    y_cand = torch.einsum("chl,lhd->chd", w[..., :-1], v_h) + w[..., -1:] * v_c  # (C, H, hd)
    y = torch.cat([y_hist.transpose(1, 2).reshape(C, L, D), y_cand.reshape(C, 1, D)], dim=1)
    x = torch.cat([x_hist.expand(C, -1, -1), x_cand[:, None]], dim=1)  # (C, T, D)
    s = block.norm1(x + att.out(y))
    return block.norm2(s + block.ffn(s))
