"""From raw interaction events to model-ready samples.

Every data source ends here.  MovieLens and your own CSV logs arrive as :class:`Interactions`
(one row per event); :func:`build_dataset` turns each event into one sample whose *history* is
that user's previous behaviours, splits the samples chronologically and encodes every value
through a vocabulary fitted on the training period only.  The synthetic generator builds
:class:`Samples` directly.

Layout of a sample (N samples, L = max_len, F sparse features):

=============  ==========  ============================================================
field          shape       meaning
=============  ==========  ============================================================
sparse         (N, F)      user / item / context / cross feature indices (schema order)
target_item    (N,)        candidate item index
target_cat     (N,)        candidate category index
hist_item      (N, L)      past items, oldest first, right-padded with 0
hist_cat       (N, L)      their categories (0 at padding)
hist_gap       (N, L)      t(target) - t(behaviour) in seconds (0 at padding)
timestamp      (N,)        time of the target event (seconds)
user           (N,)        user index (for picking users in plots)
label          (N,)        1.0 = click / positive, 0.0 = not
=============  ==========  ============================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import torch

from ..features import (PAD, Feature, Schema, Vocabulary, bucketize_gaps, n_time_buckets)

DAY = 86400


@dataclass
class Samples:
    sparse: np.ndarray
    target_item: np.ndarray
    target_cat: np.ndarray
    hist_item: np.ndarray
    hist_cat: np.ndarray
    hist_gap: np.ndarray
    timestamp: np.ndarray
    user: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, idx) -> "Samples":
        return Samples(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @property
    def mask(self) -> np.ndarray:
        """(N, L) True where a real behaviour sits."""
        return self.hist_item != PAD

    def tensors(self, time_scheme: str = "calendar") -> dict[str, torch.Tensor]:
        """The batch dict every model takes; ``hist_time`` holds time-bucket indices (N, L)."""
        return {
            "sparse": torch.as_tensor(self.sparse, dtype=torch.long),
            "target_item": torch.as_tensor(self.target_item, dtype=torch.long),
            "target_cat": torch.as_tensor(self.target_cat, dtype=torch.long),
            "hist_item": torch.as_tensor(self.hist_item, dtype=torch.long),
            "hist_cat": torch.as_tensor(self.hist_cat, dtype=torch.long),
            "hist_time": torch.as_tensor(bucketize_gaps(self.hist_gap, self.mask, time_scheme)),
            "label": torch.as_tensor(self.label, dtype=torch.float32),
        }


@dataclass
class Dataset:
    """Train / validation / test samples with the schema that describes them."""

    name: str
    schema: Schema
    train: Samples
    val: Samples
    test: Samples
    time_scheme: str = "calendar"
    info: dict = field(default_factory=dict)  # split cutoffs, planted rule, ...

    def tensors(self, split: str) -> dict[str, torch.Tensor]:
        return getattr(self, split).tensors(self.time_scheme)

    def summary(self) -> pd.DataFrame:
        rows = []
        for split in ("train", "val", "test"):
            s = getattr(self, split)
            rows.append({"split": split, "samples": len(s), "positive rate": float(s.label.mean()),
                         "mean history length": float(s.mask.sum(1).mean())})
        return pd.DataFrame(rows).set_index("split")


@dataclass
class Interactions:
    """Raw logs: what a loader produces before any encoding.

    events: columns user_id, item_id, timestamp (int seconds), label (0/1)
    items:  columns item_id, category, plus any other categorical item columns
    users:  columns user_id plus categorical profile columns, or None
    """

    name: str
    events: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None


def chronological_cutoffs(timestamps, val_frac: float, test_frac: float) -> tuple[int, int]:
    """Two times t_val <= t_test: train is t < t_val, validation t_val <= t < t_test, test t >= t_test."""
    ts = np.sort(np.asarray(timestamps))
    t_val = int(ts[int(len(ts) * (1 - val_frac - test_frac))])
    t_test = int(ts[int(len(ts) * (1 - test_frac))])
    return t_val, t_test


def _histories(events: pd.DataFrame, max_len: int):
    """For each event (sorted by user, then time) the indices of that user's last ``max_len``
    events that happened strictly earlier.  Returns (N, L) row positions, -1 at padding."""
    n = len(events)
    out = np.full((n, max_len), -1, dtype=np.int64)
    users = events["user_id"].to_numpy()
    ts = events["timestamp"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        earlier = np.searchsorted(ts[s:e], ts[s:e], side="left")  # events strictly before each one
        for j, k in enumerate(earlier):
            lo = max(0, k - max_len)
            out[s + j, : k - lo] = np.arange(s + lo, s + k)
    return out


def _time_of_day_bucket(ts: np.ndarray) -> np.ndarray:
    return ((ts % DAY) // (6 * 3600)).astype(np.int64)  # night, morning, afternoon, evening (UTC)


def build_dataset(data: Interactions, max_len: int = 20, val_frac: float = 0.1,
                  test_frac: float = 0.1, time_scheme: str = "calendar",
                  cross_with_category: tuple[str, ...] | None = None,
                  use_user_id: bool = True) -> Dataset:
    """Turn events into samples: for each user in time order, each event becomes a sample whose
    history is that user's previous (strictly earlier) up-to-``max_len`` events.

    Split: chronological on the target's timestamp (see :func:`chronological_cutoffs`).  Item,
    user-id, context and cross vocabularies are fitted on training-period events only, so an item
    first seen in the evaluation period maps to the out-of-vocabulary index.
    """
    ev = data.events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    items = data.items.drop_duplicates("item_id").set_index("item_id")
    t_val, t_test = chronological_cutoffs(ev["timestamp"], val_frac, test_frac)
    is_train = ev["timestamp"].to_numpy() < t_val

    # --- vocabularies (training period only for anything tied to events) -----------------------
    item_vocab = Vocabulary.fit(ev.loc[is_train, "item_id"])
    cat_vocab = Vocabulary.fit(items["category"].astype(str))
    raw_cat = ev["item_id"].map(items["category"]).fillna("<unknown>").astype(str).to_numpy()
    item_idx = item_vocab.encode(ev["item_id"].tolist())
    cat_idx = cat_vocab.encode(raw_cat.tolist())
    ts = ev["timestamp"].to_numpy().astype(np.int64)

    columns, features = [], []

    def add(name, group, raw):
        vocab = Vocabulary.fit(np.asarray(raw)[is_train])
        columns.append(vocab.encode(list(raw)))
        features.append(Feature(name, group, len(vocab)))

    users = data.users.set_index("user_id") if data.users is not None else None
    if use_user_id:
        add("user_id", "user", ev["user_id"].astype(str).to_numpy())
    user_cols = [] if users is None else list(users.columns)
    for col in user_cols:
        add(col, "user", ev["user_id"].map(users[col]).fillna("<unknown>").astype(str).to_numpy())
    for col in [c for c in items.columns if c != "category"]:
        add(col, "item", ev["item_id"].map(items[col]).fillna("<unknown>").astype(str).to_numpy())
    add("time_of_day", "context", _time_of_day_bucket(ts))
    add("day_of_week", "context", ((ts // DAY + 3) % 7).astype(np.int64))  # 1970-01-01 was a Thursday
    if cross_with_category is None:
        cross_with_category = tuple(user_cols[:1])
    for col in cross_with_category:
        raw_user = ev["user_id"].map(users[col]).fillna("<unknown>").astype(str).to_numpy()
        add(f"{col}_x_category", "cross", np.char.add(np.char.add(raw_user, "|"), raw_cat))

    # --- histories -------------------------------------------------------------------------------
    hist_rows = _histories(ev, max_len)
    valid = hist_rows >= 0
    safe = np.where(valid, hist_rows, 0)
    samples = Samples(
        sparse=np.stack(columns, axis=1),
        target_item=item_idx,
        target_cat=cat_idx,
        hist_item=np.where(valid, item_idx[safe], PAD),
        hist_cat=np.where(valid, cat_idx[safe], PAD),
        hist_gap=np.where(valid, ts[:, None] - ts[safe], 0).astype(np.float64),
        timestamp=ts,
        user=Vocabulary.fit(ev["user_id"]).encode(ev["user_id"].tolist()),
        label=ev["label"].to_numpy().astype(np.float32),
    )
    order = np.argsort(ts, kind="stable")
    split_of = np.searchsorted([t_val, t_test], ts[order], side="right")  # 0 train, 1 val, 2 test
    schema = Schema(tuple(features), n_items=len(item_vocab), n_categories=len(cat_vocab),
                    max_len=max_len, n_time_buckets=n_time_buckets(time_scheme))
    return Dataset(
        name=data.name, schema=schema,
        train=samples.subset(order[split_of == 0]),
        val=samples.subset(order[split_of == 1]),
        test=samples.subset(order[split_of == 2]),
        time_scheme=time_scheme,
        info={"t_val": t_val, "t_test": t_test, "categories": cat_vocab.values,
              "items": item_vocab.values},
    )


def shuffle_history(batch: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Reorder each sample's real behaviours at random; padding stays at the end.

    Items and categories move; the time buckets stay in their slots, so a behaviour's item now
    sits at another behaviour's time: exactly the information an order-blind model never sees.
    batch: a model batch (see :meth:`Samples.tensors`) -> a new batch, same shapes.
    """
    g = torch.Generator().manual_seed(seed)
    mask = batch["hist_item"] != PAD
    keys = torch.rand(mask.shape, generator=g).masked_fill(~mask, 2.0)  # padding sorts last
    order = keys.argsort(dim=1)
    out = dict(batch)
    for k in ("hist_item", "hist_cat"):
        out[k] = batch[k].gather(1, order)
    return out
