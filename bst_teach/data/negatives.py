"""Sampled negatives for logs that hold clicks only (implicit feedback).

A shop logs what was clicked or bought, not what was seen and skipped.  The protocol of the DIN
paper's code and of BARS (AmazonElectronics_x1) makes the missing negatives: every logged event
is a positive, and each is paired with ``k`` items the user had *not* interacted with up to that
moment.  A negative copies its positive's user, time, context and history; only the item (and
what depends on it: category, item columns, crosses with the category) is the sampled one.
Negatives never enter any history: a history is what the user really did.

Two ways to draw:

* ``"uniform"``: every item of the training period equally likely.  Most sampled items are
  obscure, so "is this item popular?" already separates most pairs.
* ``"popularity"``: proportional to the item's number of events in the training period.  The
  negatives are as popular as the positives on average, so popularity alone no longer ranks them
  and a model must use the user's behaviour: the harder, more realistic test.

Only items of the training period are drawn: an item first seen later would map to the
out-of-vocabulary index, which only negatives would then carry.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError

SCHEMES = ("uniform", "popularity")
MAX_ROUNDS = 200  # redraws of rejected candidates before giving up on a user


def sampling_pool(items: np.ndarray, is_train: np.ndarray, scheme: str):
    """The items that can be drawn and their probabilities.  items, is_train: (N,) of the
    positive events.  -> (pool (M,), probabilities (M,)): the training period's distinct items,
    equally likely or in proportion to their event counts there."""
    if scheme not in SCHEMES:
        raise ValueError(f"negative sampling must be one of {SCHEMES}, got {scheme!r}")
    pool, counts = np.unique(np.asarray(items)[is_train], return_counts=True)
    if scheme == "uniform":
        return pool, np.full(len(pool), 1.0 / len(pool))
    return pool, counts / counts.sum()


def sample_negatives(events: pd.DataFrame, is_train: np.ndarray, k: int,
                     scheme: str = "uniform", seed: int = 0, where: str | None = None):
    """``k`` negatives for each positive event.

    events: the positives (columns user_id, item_id, timestamp), N rows; is_train: (N,) bool.
    -> (negative item ids (N, k), the pool's probabilities by item id as a pd.Series).
    Row i holds k distinct items that ``events``' user i had not interacted with at or before
    ``events.timestamp[i]``, drawn with ``np.random.default_rng(seed)``: the same seed, the same
    negatives.
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    pool, prob = sampling_pool(events["item_id"].to_numpy(), is_train, scheme)
    n = len(events)
    ts = events["timestamp"].to_numpy().astype(np.int64)
    users = pd.factorize(events["user_id"])[0].astype(np.int64)
    codes, _ = pd.factorize(np.concatenate([events["item_id"].to_numpy(), pool]))
    item_code, pool_code = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    n_codes = int(codes.max()) + 1

    # When did each user first touch each item?  Sorted (user, item) keys with that time.
    first = pd.Series(ts).groupby(users * n_codes + item_code).min()
    keys, first_ts = first.index.to_numpy(), first.to_numpy()

    def touched(rows, draw):
        query = users[rows] * n_codes + pool_code[draw]
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return (keys[at] == query) & (first_ts[at] <= ts[rows])

    rng = np.random.default_rng(seed)
    draws = np.empty((n, k), dtype=np.int64)
    for j in range(k):
        draws[:, j] = rng.choice(len(pool), size=n, p=prob)
        rows = np.arange(n)
        for _ in range(MAX_ROUNDS):
            d = draws[rows, j]
            bad = touched(rows, d) | (draws[rows, :j] == d[:, None]).any(axis=1)
            rows = rows[bad]
            if len(rows) == 0:
                break
            draws[rows, j] = rng.choice(len(pool), size=len(rows), p=prob)
        else:
            i = rows[0]
            raise DataError(
                f"cannot draw {k} negatives for user {events['user_id'].iloc[i]!r} at timestamp "
                f"{ts[i]}: nearly every one of the {len(pool):,} items of the training period is "
                f"one they had interacted with; use a smaller --negatives", file=where)
    return pool[draws], pd.Series(prob, index=pool)
