"""Checkers for chapter 6 (Looking inside attention).

* :func:`check_attention_by_rank` -- ``by_rank(weights, mask)``: the average attention the target
  token pays to the behaviour of each recency rank, per head, over the samples that have one.
"""
from __future__ import annotations

import numpy as np
import torch

from ..viz.attention_plots import attention_by_rank
from . import ExerciseError, checker, passed


def _inputs(seed: int = 0):
    """Random attention weights (rows sum to 1, zero at padded keys) for a padded batch."""
    g = torch.Generator().manual_seed(seed)
    B, H, L = 7, 3, 7  # no sample fills all L slots: rank 7 is absent
    lengths = torch.tensor([6, 2, 4, 5, 3, 6, 1])
    mask = torch.arange(L)[None, :] < lengths[:, None]
    keys = torch.cat([mask, torch.ones(B, 1, dtype=torch.bool)], 1)  # the target is always a key
    scores = 2 * torch.randn(B, H, L + 1, L + 1, generator=g)
    weights = scores.masked_fill(~keys[:, None, None, :], float("-inf")).softmax(-1)
    return weights, mask


def _close(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=1e-5, equal_nan=True)


@checker
def check_attention_by_rank(by_rank) -> str:
    """``by_rank(weights, mask)`` with weights (B, H, T, T), T = L + 1 (target last) and mask (B, L)
    True at real behaviours -> array (H, L), NaN for a rank no sample has."""
    weights, mask = _inputs()
    try:
        out = by_rank(weights.clone(), mask.clone())
    except Exception as err:
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    out = np.asarray(out.detach().numpy() if isinstance(out, torch.Tensor) else out, dtype=float)
    B, H, T, _ = weights.shape
    L = T - 1
    if out.shape != (H, L):
        raise ExerciseError(f"return one value per head and rank, shape (H, L) = {(H, L)}; "
                            f"got {out.shape}")
    expected = attention_by_rank(weights, mask)
    if _close(out, expected):
        return passed("the target's attention, per head, averaged by recency rank over the "
                      "samples that have a behaviour that far back.")
    # typical mistakes, each computed the wrong way on purpose
    row = weights[:, :, -1, :-1]
    by_slot = row.mean(0).numpy()  # slot order, padding counted as zeros
    if _close(out, by_slot):
        raise ExerciseError("you averaged by slot (oldest first), not by recency rank: slot i "
                            "is a different number of steps back in each sample; rank 1 is the "
                            "last real behaviour of each sample")
    lengths = mask.sum(1)
    zeros_in = np.zeros((H, L))
    for r in range(1, L + 1):
        slot = lengths - r  # where rank r sits, negative if absent
        vals = torch.stack([row[b, :, slot[b]] if slot[b] >= 0 else torch.zeros(H)
                            for b in range(B)])
        zeros_in[:, r - 1] = vals.mean(0).numpy()
    if _close(out, zeros_in):
        raise ExerciseError("right ranks, but you averaged over all samples, counting a zero "
                            "for samples too short to have that rank; divide by the number of "
                            "samples that do have it")
    by_real_slot = ((row * mask[:, None, :]).sum(0) / mask.sum(0).clamp(min=1)).numpy()
    if _close(np.nan_to_num(out), by_real_slot):  # 0 or NaN where no sample has the slot
        raise ExerciseError("you averaged by slot counted from the oldest behaviour; rank 1 "
                            "must be the most recent behaviour (the last real slot), which sits "
                            "in a different slot in each sample")
    if _close(out, attention_by_rank(weights.transpose(-1, -2), mask)):
        raise ExerciseError("you read the target's column (how much each behaviour reads the "
                            "target); the target's row is weights[:, :, -1, :] (query = target)")
    if _close(out, attention_by_rank(weights.roll(-1, dims=2), mask)):
        raise ExerciseError("you used the wrong query row: the target is the LAST token "
                            "(query index -1), not the first")
    if np.isnan(out).sum() != np.isnan(expected).sum() and _close(np.nan_to_num(out),
                                                                   np.nan_to_num(expected)):
        raise ExerciseError("values right, but put NaN (not 0) where no sample has that rank")
    raise ExerciseError("the values differ from the reference: for each rank r, take the weight "
                        "the target (query -1) puts on the behaviour r steps back, per head, "
                        "and average over the samples that have such a behaviour")
