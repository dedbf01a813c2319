"""A synthetic click log in which the *order and recency* of behaviour carry the signal.

The planted rule (all randomness seeded).  A user's history holds 8 to ``max_len`` behaviours whose
categories are drawn independently and uniformly from ``n_categories``; the candidate's category is
drawn uniformly too, independently of the history.  The click probability is

    sigmoid( base
             + recency_weight  * [last category == target category] * recency(gap of last behaviour)
             + trend_weight    * [target category == 2 * last - previous  (mod C)]
             + small user-profile and display-position effects )

with ``recency(gap)`` = 1 under a day, 0.5 under a week, 0 after.

* The first term needs to know which behaviour is the most recent and how long ago it happened.
* The second ("the user continues a trend": after categories 2 then 3 comes 4) is a relation
  between the last *two* behaviours.  Target attention scores each behaviour against the target
  on its own, then sums, so it cannot express it even when given time-gap features; self-attention
  between behaviours can.
* The *multiset* of past categories says almost nothing: because histories are exchangeable, an
  order-blind model can only use how often the target category occurs in the history.
  :func:`order_blind_ceiling_auc` computes the best AUC any order-blind model can reach by averaging
  the true click probability over random reorderings of each history (the Bayes-optimal order-blind
  predictor), and :func:`bayes_auc` the best AUC of any model at all.

**The time variant** (``make_synthetic(task="time")``, ``--data synthetic-time``).  The same
users, histories and time gaps (the same random draws), but a rule in which *how long ago* a
behaviour happened matters beyond its place in the order:

    sigmoid( base + time_weight * sum_i [category_i == target category] * 2 ** (-gap_i / 1 day)
             + the same small user-profile and display-position effects )

A matching behaviour from 2 minutes ago counts fully, one from a day ago half, one from three
days ago an eighth, one from a week ago not at all (1/128).  Every behaviour of the history can
count, not only the last.  Gaps between behaviours vary from 10 minutes to 10 days, so a
behaviour's index (last, second to last, ...) says little about its age: index positions tell a
model *which* behaviour is the most recent but not *how* recent, time positions tell both.  There is
no trend term: nothing here needs the order of two behaviours, so time positions should beat index
positions on this task, while on the canonical one (where the trend needs the order) they need not.
``bayes_auc`` and ``order_blind_ceiling_auc`` work for both tasks.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ..features import DAY, HOUR, WEEK, Feature, Schema, n_time_buckets
from .samples import Dataset, Samples

N_AGE, N_GENDER, N_POSITIONS = 5, 2, 5


def recency(gap_seconds: np.ndarray) -> np.ndarray:
    """1 under a day, 0.5 under a week, 0 after."""
    return np.where(gap_seconds < DAY, 1.0, np.where(gap_seconds < WEEK, 0.5, 0.0))


def click_logit(hist_cat, hist_gap, length, target_cat, gender, position, n_categories,
                base=-3.0, recency_weight=6.0, trend_weight=6.0):
    """The planted rule on raw categories (0..C-1).  hist_* (N, L) oldest first, length (N,)."""
    rows = np.arange(len(length))
    last, prev = hist_cat[rows, length - 1], hist_cat[rows, length - 2]
    gap_last = hist_gap[rows, length - 1]
    match = (last == target_cat) * recency(gap_last)
    trend = target_cat == (2 * last - prev) % n_categories
    return (base + recency_weight * match + trend_weight * trend
            + 0.3 * (gender == 1) - 0.15 * position)


TIME_HALF_LIFE = DAY  # the time task: a matching behaviour counts half as much every day


def click_logit_time(hist_cat, hist_gap, mask, target_cat, gender, position,
                     base=-3.0, time_weight=8.0, half_life=TIME_HALF_LIFE):
    """The time task's rule: time-decayed matches over the whole history.  hist_*, mask (N, L)."""
    decay = np.where(mask, 0.5 ** (hist_gap / half_life), 0.0)
    matches = ((hist_cat == target_cat[:, None]) * decay).sum(axis=1)
    return base + time_weight * matches + 0.3 * (gender == 1) - 0.15 * position


def task_logit(raw: dict, hist_cat) -> np.ndarray:
    """The planted logit of ``raw``'s task, with ``hist_cat`` in place of the drawn categories."""
    if raw.get("task", "order") == "time":
        return click_logit_time(hist_cat, raw["hist_gap"], raw["mask"], raw["target_cat"],
                                raw["gender"], raw["position"])
    return click_logit(hist_cat, raw["hist_gap"], raw["length"], raw["target_cat"], raw["gender"],
                       raw["position"], raw["n_categories"])


TASKS = {"order": "synthetic", "time": "synthetic-time"}  # task -> data set name


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def generate_raw(n_samples: int, max_len: int = 20, n_categories: int = 6,
                 items_per_category: int = 20, n_users: int = 1000, seed: int = 0,
                 task: str = "order") -> dict:
    """Draw raw samples (categories 0..C-1, items 0..C*K-1).  Returns a dict of numpy arrays.

    ``task`` picks the planted rule ("order": :func:`click_logit`, "time":
    :func:`click_logit_time`); every random draw is the same for both.
    """
    if task not in TASKS:
        raise ValueError(f"unknown synthetic task {task!r}: use one of {sorted(TASKS)}")
    rng = np.random.default_rng(seed)
    N, L, C = n_samples, max_len, n_categories
    length = rng.integers(8, L + 1, size=N)
    slots = np.arange(L)[None, :]
    mask = slots < length[:, None]
    hist_cat = rng.integers(0, C, size=(N, L))
    hist_item = hist_cat * items_per_category + rng.integers(0, items_per_category, size=(N, L))
    # Gaps between consecutive behaviours (log-uniform, 10 minutes .. 10 days) and between the last
    # behaviour and the request (log-uniform, 5 minutes .. 3 weeks).
    step = np.exp(rng.uniform(np.log(600), np.log(10 * DAY), size=(N, L)))
    last_gap = np.exp(rng.uniform(np.log(300), np.log(3 * WEEK), size=N))
    # gap of slot i = last_gap + sum of the steps between slot i and the last real slot
    step = np.where(mask & (slots < length[:, None] - 1), step, 0.0)
    after = np.cumsum(step[:, ::-1], axis=1)[:, ::-1]  # sum of step[i:] (step[i] links i -> i+1)
    hist_gap = np.where(mask, last_gap[:, None] + after, 0.0)
    user = rng.integers(0, n_users, size=N)
    user_gender = np.random.default_rng(seed + 1).integers(0, N_GENDER, size=n_users)
    user_age = np.random.default_rng(seed + 2).integers(0, N_AGE, size=n_users)
    target_cat = rng.integers(0, C, size=N)
    target_item = target_cat * items_per_category + rng.integers(0, items_per_category, size=N)
    position = rng.integers(0, N_POSITIONS, size=N)
    gender, age = user_gender[user], user_age[user]
    if task == "time":
        logit = click_logit_time(hist_cat, hist_gap, mask, target_cat, gender, position)
    else:
        logit = click_logit(hist_cat, hist_gap, length, target_cat, gender, position, C)
    label = (rng.random(N) < _sigmoid(logit)).astype(np.float32)
    timestamp = (1_700_000_000 + rng.uniform(0, 30 * DAY, size=N)).astype(np.int64)
    return dict(length=length, mask=mask, hist_cat=hist_cat, hist_item=hist_item,
                hist_gap=hist_gap, user=user, gender=gender, age=age, target_cat=target_cat,
                target_item=target_item, position=position, logit=logit, label=label,
                timestamp=timestamp, n_categories=C, items_per_category=items_per_category,
                task=task)


def _encode(raw: dict) -> Samples:
    """Raw ids -> vocabulary indices (0 = padding, 1 = out-of-vocabulary, so real values start at 2)."""
    m, C = raw["mask"], raw["n_categories"]
    sparse = np.stack([
        raw["user"] + 2,  # user_id
        raw["gender"] + 2,  # gender
        raw["age"] + 2,  # age bucket
        raw["position"] + 2,  # display position (context)
        raw["gender"] * C + raw["target_cat"] + 2,  # gender x category (cross)
    ], axis=1).astype(np.int64)
    return Samples(
        sparse=sparse,
        target_item=raw["target_item"] + 2, target_cat=raw["target_cat"] + 2,
        hist_item=np.where(m, raw["hist_item"] + 2, 0), hist_cat=np.where(m, raw["hist_cat"] + 2, 0),
        hist_gap=raw["hist_gap"], timestamp=raw["timestamp"], user=raw["user"],
        label=raw["label"])


def synthetic_schema(max_len: int, n_categories: int, items_per_category: int, n_users: int,
                     time_scheme: str = "calendar") -> Schema:
    features = (
        Feature("user_id", "user", n_users + 2),
        Feature("gender", "user", N_GENDER + 2, 4),
        Feature("age", "user", N_AGE + 2, 4),
        Feature("display_position", "context", N_POSITIONS + 2, 4),
        Feature("gender_x_category", "cross", N_GENDER * n_categories + 2, 4),
    )
    return Schema(features, n_items=n_categories * items_per_category + 2,
                  n_categories=n_categories + 2, max_len=max_len,
                  n_time_buckets=n_time_buckets(time_scheme))


def make_synthetic(n_train: int = 50000, n_val: int = 5000, n_test: int = 5000, max_len: int = 20,
                   n_categories: int = 6, items_per_category: int = 20, n_users: int = 1000,
                   time_scheme: str = "calendar", seed: int = 0, task: str = "order") -> Dataset:
    """The synthetic order task (or, with ``task="time"``, its time variant) as a
    :class:`Dataset` (samples are i.i.d., so a random split)."""
    n = n_train + n_val + n_test
    raw = generate_raw(n, max_len, n_categories, items_per_category, n_users, seed, task)
    samples = _encode(raw)
    schema = synthetic_schema(max_len, n_categories, items_per_category, n_users, time_scheme)
    return Dataset(
        name=TASKS[task], schema=schema,
        train=samples.subset(slice(0, n_train)),
        val=samples.subset(slice(n_train, n_train + n_val)),
        test=samples.subset(slice(n_train + n_val, n)),
        time_scheme=time_scheme,
        info={"seed": seed, "n_categories": n_categories, "task": task, "raw_test": {
            k: (v[n_train + n_val:] if isinstance(v, np.ndarray) else v) for k, v in raw.items()}},
    )


def bayes_auc(dataset: Dataset) -> float:
    """AUC of the true click probability on the test split: the best any model can do."""
    raw = dataset.info["raw_test"]
    return float(roc_auc_score(raw["label"], raw["logit"]))


def order_blind_ceiling_auc(dataset: Dataset, n_orders: int = 64, seed: int = 0) -> float:
    """Best test AUC of any model that sees the history only as a multiset (no order, no time).

    Histories are exchangeable, so given the multiset every reordering is equally likely: the
    Bayes-optimal order-blind score is the click probability averaged over random reorderings of
    the categories (timestamps stay in their slots).
    """
    raw = dataset.info["raw_test"]
    rng = np.random.default_rng(seed)
    cat = raw["hist_cat"]
    total = np.zeros(len(cat))
    for _ in range(n_orders):
        keys = np.where(raw["mask"], rng.random(cat.shape), np.inf)  # shuffle real slots only
        shuffled = np.take_along_axis(cat, np.argsort(keys, axis=1), axis=1)
        total += _sigmoid(task_logit(raw, shuffled))
    return float(roc_auc_score(raw["label"], total / n_orders))


def time_blind_ceiling_auc(dataset: Dataset, n_draws: int = 64, seed: int = 0) -> float:
    """Best test AUC of any model that sees the order of the history but not its time gaps
    (BST with index positions only, at best).

    Gaps are drawn independently of everything but the history's length, so swapping the gap
    rows of test samples of equal length is a draw from the gaps' conditional distribution; the
    Bayes-optimal time-blind score averages the click probability over such draws.
    """
    raw = dataset.info["raw_test"]
    rng = np.random.default_rng(seed)
    length = raw["length"]
    total = np.zeros(len(length))
    for _ in range(n_draws):
        rows = np.arange(len(length))
        for n in np.unique(length):
            same = np.flatnonzero(length == n)
            rows[same] = rng.permutation(same)
        total += _sigmoid(task_logit({**raw, "hist_gap": raw["hist_gap"][rows]}, raw["hist_cat"]))
    return float(roc_auc_score(raw["label"], total / n_draws))
