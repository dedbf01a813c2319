"""Checkers for chapter 3 (the Behavior Sequence Transformer).

* :func:`check_attention` -- ``attention(q, k, v, key_mask)``: scaled dot-product attention with a
  key padding mask.  q, k, v (B, H, T, d); key_mask (B, T) bool, True where a token may be attended
  to.  Returns (B, H, T, d).
* :func:`check_encoder_params` -- ``encoder_params(dim, ffn_mult, blocks)``: the number of
  trainable parameters of ``blocks`` BST encoder blocks of width ``dim`` (attention projections,
  feed-forward, two LayerNorms per block).
"""
from __future__ import annotations

import math

import torch

from ..models.bst import EncoderBlock
from . import ExerciseError, call_student, checker, passed


def reference_attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ v


def reference_encoder_params(dim: int, ffn_mult: int, blocks: int) -> int:
    attention = 3 * (dim * dim + dim) + (dim * dim + dim)  # Q, K, V and output projections
    ffn = (dim * ffn_mult * dim + ffn_mult * dim) + (ffn_mult * dim * dim + dim)
    norms = 2 * 2 * dim  # two LayerNorms, each a scale and a shift per feature
    return blocks * (attention + ffn + norms)


# --- attention ------------------------------------------------------------------------------------
def _attention_inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, H, T, d = 3, 2, 6, 16  # d = 16, so forgetting the sqrt(d) = 4 scale shows clearly
    q, k, v = (torch.randn(B, H, T, d, generator=g) for _ in range(3))
    lengths = torch.tensor([3, 5, 1])  # real behaviours; the last slot (target) is always allowed
    key_mask = torch.arange(T)[None, :] < lengths[:, None]
    key_mask[:, -1] = True
    return q, k, v, key_mask


def _softmax_attention(q, k, v, allowed, scale=True, fill=float("-inf"), dim=-1):
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, fill)
    return scores.softmax(dim).nan_to_num() @ v


def _close(a, b) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-4)


@checker
def check_attention(attention) -> str:
    """Compare ``attention(q, k, v, key_mask)`` with the reference; name the usual mistakes."""
    q, k, v, key_mask = _attention_inputs()
    expected = reference_attention(q, k, v, key_mask)
    out = call_student(attention, q.clone(), k.clone(), v.clone(), key_mask.clone())
    if out.shape != expected.shape:
        raise ExerciseError(f"wrong shape: got {tuple(out.shape)}, expected {tuple(expected.shape)} "
                            "= (B, H, T, d), one output vector per query token and head")
    if torch.isnan(out).any():
        raise ExerciseError("your output holds NaN: softmax over scores that are all -inf gives "
                            "NaN. Mask the keys (last axis of the scores), not the queries, and "
                            "take the softmax over the keys (last axis); the target key is always "
                            "allowed, so no row is then empty.")
    if _close(out, expected):
        # also: changing what sits in padded slots must not change the output
        v2 = v.masked_fill(~key_mask[:, None, :, None], 100.0)
        k2 = k.masked_fill(~key_mask[:, None, :, None], -7.0)
        again = call_student(attention, q.clone(), k2, v2, key_mask.clone())
        if not _close(again, reference_attention(q, k2, v2, key_mask)):
            raise ExerciseError("correct on one input, but the output changes when the padded keys "
                                "or values change: padded slots must get exactly zero weight")
        return passed("padded keys get zero weight, scores are scaled by 1/sqrt(d), and every "
                      "query (padded ones included) still reads the real tokens.")
    key_allowed = key_mask[:, None, None, :]
    query_allowed = key_mask[:, None, :, None]
    diagnoses = [
        (_softmax_attention(q, k, v, key_allowed, scale=False),
         "you forgot to divide the scores by sqrt(d) (d = q.shape[-1]); without it the softmax "
         "saturates as d grows"),
        (_softmax_attention(q, k, v, None),
         "padded keys get weight: fill the scores of keys where key_mask is False with -inf "
         "before the softmax"),
        (_softmax_attention(q, k, v, None, scale=False),
         "padding is not masked and the scores are not divided by sqrt(d)"),
        (_softmax_attention(q, k, v, key_allowed, fill=0.0),
         "you set the masked scores to 0, but exp(0) = 1 still gives padding weight: use -inf"),
        (_softmax_attention(q, k, v, key_allowed, dim=-2),
         "the softmax runs over the wrong axis: normalise over keys (the last axis), so each "
         "query's weights sum to 1"),
    ]
    for wrong, message in diagnoses:
        if _close(out, wrong):
            raise ExerciseError(message)
    # masking queries instead of keys: rows of padded queries differ (or are NaN, caught above)
    masked_q = _softmax_attention(q, k, v, query_allowed.expand(-1, -1, -1, q.shape[2]),
                                  fill=-1e9)
    if _close(out, masked_q):
        raise ExerciseError("you masked the queries (rows) instead of the keys (columns): the mask "
                            "must broadcast as key_mask[:, None, None, :]")
    rows_ok = torch.isclose(out, expected, atol=1e-5, rtol=1e-4).all(-1)  # (B, H, T)
    if rows_ok[key_mask[:, None, :].expand_as(rows_ok)].all():
        raise ExerciseError("real query rows are right but padded query rows differ: masking is "
                            "about keys only, so a padded query still reads the real tokens")
    raise ExerciseError("the output differs from softmax(Q K^T / sqrt(d), padded keys -> -inf) V; "
                        "check the order of the steps")


# --- parameter count --------------------------------------------------------------------------------
def _actual_encoder_params(dim: int, ffn_mult: int, blocks: int) -> int:
    block = EncoderBlock(dim, heads=1, ffn_mult=ffn_mult, dropout=0.0, norm="layer")
    return blocks * sum(p.numel() for p in block.parameters())


@checker
def check_encoder_params(encoder_params) -> str:
    """Compare ``encoder_params(dim, ffn_mult, blocks)`` with the parameters of real blocks."""
    for dim, ffn_mult, blocks in [(32, 4, 1), (8, 2, 1), (64, 4, 3), (20, 1, 2)]:
        expected = _actual_encoder_params(dim, ffn_mult, blocks)
        try:
            got = encoder_params(dim, ffn_mult, blocks)
        except Exception as err:
            raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
        if got == expected:
            continue
        case = f"for dim={dim}, ffn_mult={ffn_mult}, blocks={blocks} you count {got}, PyTorch has {expected}"
        per_block = expected // blocks
        linear_biases = 4 * dim + ffn_mult * dim + dim
        hints = {
            expected - blocks * linear_biases: "you left out the biases of the Linear layers",
            expected - blocks * 4 * dim: "you left out the two LayerNorms (a scale and a shift "
                                         "of size dim each)",
            expected - blocks * 2 * dim: "each LayerNorm has two vectors (scale and shift), not one",
            expected - blocks * (dim * dim + dim): "you left out the attention's output projection",
            per_block: "you counted one block: multiply by the number of blocks",
        }
        raise ExerciseError(f"{case}: {hints.get(got, 'count Q, K, V and output projections (weights and biases), the two feed-forward Linear layers and two LayerNorms')}")
    return passed("attention 4 (D^2 + D), feed-forward 2 m D^2 + (m + 1) D, norms 4 D, per block.")
