"""Checkers for chapter 4 (positions from time).

* :func:`check_calendar_buckets` -- ``calendar_buckets(gaps, mask)``: map time gaps in seconds
  (N, L) to calendar bucket indices as :func:`bst_teach.features.bucketize_gaps` does: 0 at padding,
  2 for "under an hour", 3 for "under a day", ... (each edge is an exclusive upper bound).
* :func:`check_recency_rank` -- ``rank(mask)``: how many behaviours ago each one happened (1 for the
  most recent), 0 at padding, as :func:`bst_teach.models.layers.recency_rank`.
"""
from __future__ import annotations

import numpy as np
import torch

from ..features import CALENDAR_EDGES, DAY, HOUR, PAD, WEEK, YEAR, bucketize_gaps
from ..models.layers import recency_rank
from . import ExerciseError, checker, passed


def reference_calendar_buckets(gaps, mask):
    idx = np.searchsorted(np.asarray(CALENDAR_EDGES), gaps, side="right")  # edges: exclusive upper
    return np.where(mask, idx + 2, PAD)  # 0 = padding, 1 = the target, 2.. = the buckets


def reference_recency_rank(mask):
    m = mask.long()
    return m.flip(-1).cumsum(-1).flip(-1) * m  # real behaviours at or after each slot


# --- calendar buckets -----------------------------------------------------------------------------
def _bucket_inputs():
    edges = np.asarray(CALENDAR_EDGES, dtype=np.float64)
    row1 = np.concatenate([[0.0, 59.0], edges - 1, [2 * YEAR]])  # just under every edge
    row2 = np.concatenate([[1.0, 30 * 60.0], edges, [5 * YEAR]])  # exactly on every edge
    row3 = np.zeros_like(row1)
    row3[:4] = [2 * HOUR, 2 * DAY, 10 * DAY, 3 * WEEK]  # 4 behaviours, then padding (gap 0)
    gaps = np.stack([row1, row2, row3])
    mask = np.ones_like(gaps, dtype=bool)
    mask[2, 4:] = False
    return gaps, mask


@checker
def check_calendar_buckets(calendar_buckets) -> str:
    """Compare ``calendar_buckets(gaps, mask)`` with ``bucketize_gaps(gaps, mask, "calendar")``."""
    gaps, mask = _bucket_inputs()
    expected = bucketize_gaps(gaps, mask, "calendar")
    try:
        out = np.asarray(calendar_buckets(gaps.copy(), mask.copy()))
    except Exception as err:
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    if out.shape != expected.shape:
        raise ExerciseError(f"wrong shape: got {out.shape}, expected {expected.shape} (one bucket "
                            "per history slot)")
    if np.array_equal(out, expected):
        return passed("edges are exclusive upper bounds, real buckets start at 2, padding is 0.")
    if not np.array_equal(out[~mask], expected[~mask]):
        raise ExerciseError(f"padding slots must stay {PAD} (got {sorted(set(out[~mask].tolist()))}); "
                            "a padded slot has gap 0, like a behaviour that happened just now, so "
                            "only the mask can tell them apart")
    real = mask
    diff = out[real].astype(np.int64) - expected[real]
    if np.all(diff == diff[0]) and diff[0] != 0:
        raise ExerciseError(f"every bucket is off by {int(diff[0])}: index 0 is padding and 1 is the "
                            "target itself, so real behaviours start at bucket 2")
    on_edge = np.isin(gaps, CALENDAR_EDGES) & real
    if np.array_equal(out[~on_edge], expected[~on_edge]):
        raise ExerciseError("gaps exactly on an edge land in the wrong bucket: an edge is an "
                            "exclusive upper bound, so a gap of exactly one hour is not '< 1 hour' "
                            "but '< 1 day' (np.searchsorted(..., side='right'))")
    row, col = np.argwhere(out != expected)[0]
    raise ExerciseError(f"wrong bucket for a gap of {gaps[row, col]:.0f} s: got {out[row, col]}, "
                        f"expected {expected[row, col]}")


# --- recency rank ---------------------------------------------------------------------------------
def _rank_inputs():
    lengths = torch.tensor([5, 2, 0, 7, 1])
    L = 7
    return torch.arange(L)[None, :] < lengths[:, None]  # right-padded, oldest first


@checker
def check_recency_rank(rank) -> str:
    """Compare ``rank(mask)`` with :func:`bst_teach.models.layers.recency_rank`."""
    mask = _rank_inputs()
    expected = recency_rank(mask)
    try:
        out = rank(mask.clone())
    except Exception as err:
        raise ExerciseError(f"your function raised {type(err).__name__}: {err}") from err
    out = torch.as_tensor(out)
    if out.shape != expected.shape:
        raise ExerciseError(f"wrong shape: got {tuple(out.shape)}, expected {tuple(expected.shape)}")
    if torch.equal(out.long(), expected):
        return passed("1 is the most recent behaviour, counted from the target, padding is 0.")
    if not torch.equal(out[~mask].long(), torch.zeros_like(expected[~mask])):
        raise ExerciseError("padding slots must get rank 0 (the padding index)")
    oldest_first = torch.cumsum(mask.long(), -1) * mask
    if torch.equal(out.long(), oldest_first):
        raise ExerciseError("you numbered from the oldest behaviour: rank 1 must be the MOST RECENT "
                            "one (the last real slot), so that positions mean 'how many behaviours "
                            "before the target'")
    if torch.equal(out.long(), (expected - 1).clamp(min=0) * mask):
        raise ExerciseError("off by one: the most recent behaviour has rank 1 (0 is padding)")
    from_row_end = (mask.shape[1] - torch.arange(mask.shape[1]))[None, :] * mask
    if torch.equal(out.long(), from_row_end):
        raise ExerciseError("you counted from the end of the padded row, so the ranks depend on how "
                            "much padding follows: count only real behaviours")
    raise ExerciseError(f"wrong ranks, e.g. for mask row {mask[0].int().tolist()} you return "
                        f"{out[0].tolist()}, expected {expected[0].tolist()}")
