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
from .errors import DataError
from .negatives import sample_negatives

DAY = 86400

#: The most history slots (samples x L) a data set may hold, about 3 GB of arrays and tensors at
#: 64 bytes per slot.  MovieLens-100K with L = 200 holds 2e7; a bigger request is refused with an
#: estimate instead of running out of memory after minutes of work.
MAX_HISTORY_CELLS = 50_000_000
BYTES_PER_CELL = 64  # hist_item, hist_cat, hist_gap, row indices and the model tensors


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
    source: where the events came from (file or folder), for error messages
    """

    name: str
    events: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    source: str | None = None


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


def longest_history(events: pd.DataFrame) -> int:
    """The most strictly-earlier events any one event has (``events`` sorted by user, then time):
    the longest history the data can fill."""
    if len(events) == 0:
        return 0
    users, ts = events["user_id"].to_numpy(), events["timestamp"].to_numpy()
    rows = np.arange(len(users))
    new_user = np.r_[True, users[1:] != users[:-1]]
    new_time = new_user | np.r_[True, ts[1:] != ts[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, rows, 0))
    time_start = np.maximum.accumulate(np.where(new_time, rows, 0))  # first event at that second
    return int((time_start - user_start).max())


def check_history_size(n_samples: int, max_len: int, source: str,
                       requested: int | None = None) -> None:
    """Refuse a data set of more than :data:`MAX_HISTORY_CELLS` history slots, with an estimate."""
    cells = n_samples * max_len
    if cells > MAX_HISTORY_CELLS:
        capped = (f" (the longest history in the data; {requested} was asked)"
                  if requested is not None and requested != max_len else "")
        raise DataError(
            f"histories of max_len = {max_len}{capped} for {n_samples:,} samples need about "
            f"{cells * BYTES_PER_CELL / 1e9:.1f} GB ({cells:,} history slots, the limit is "
            f"{MAX_HISTORY_CELLS:,}); use a max_len of at most "
            f"{max(1, MAX_HISTORY_CELLS // max(n_samples, 1))}", file=source)


def check_splits(data: "Dataset", source: str | None = None) -> None:
    """Raise :class:`DataError` unless every split has samples and both classes (AUC needs a
    positive and a negative; a split without one would fail or give NaN after training)."""
    labels = {s: getattr(data, s).label for s in ("train", "val", "test")}
    check_split_counts({s: len(y) for s, y in labels.items()},
                       {s: int((y == 1).sum()) for s, y in labels.items()},
                       source or data.name, data.info)


def check_split_counts(sizes: dict[str, int], positives: dict[str, int], where: str,
                       info: dict) -> None:
    """:func:`check_splits` from the number of samples and of positives of each split
    (``"train"``, ``"val"``, ``"test"``); ``info`` may hold the cutoffs ``t_val``, ``t_test``."""
    listed = ", ".join(f"{n:,} {s}" for s, n in sizes.items())
    cut = ""
    if "t_val" in info:
        cut = f"; chronological split at t_val = {info['t_val']}, t_test = {info['t_test']}"
    for split, label in (("train", "training"), ("val", "validation"), ("test", "test")):
        n, pos = sizes[split], positives[split]
        if n == 0:
            raise DataError(f"the {label} split is empty ({listed} samples{cut}): the events need "
                            f"more distinct timestamps", file=where)
        if pos in (0, n):
            kind = "positive (label 1)" if pos else "negative (label 0)"
            raise DataError(f"every one of the {n:,} {label} samples is {kind}: AUC needs "
                            f"both classes ({listed} samples{cut}); check the labels or the "
                            f"positive threshold", file=where)


def _time_of_day_bucket(ts: np.ndarray) -> np.ndarray:
    return ((ts % DAY) // (6 * 3600)).astype(np.int64)  # night, morning, afternoon, evening (UTC)


@dataclass
class _Prepared:
    """What both builders compute over the whole log before any sample: the events sorted by
    user then time, the history length used, the split cutoffs and the item table."""

    ev: pd.DataFrame
    max_len: int
    requested: int
    t_val: int
    t_test: int
    is_train: np.ndarray  # (N,) bool: the event falls in the training period
    items: pd.DataFrame  # indexed by item_id
    users: pd.DataFrame | None  # indexed by user_id
    where: str


def _prepare(data: Interactions, max_len, val_frac: float, test_frac: float,
             negatives: int = 0) -> _Prepared:
    where = data.source or data.name
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise DataError(f"max_len must be a positive integer, got {max_len!r}", file=where)
    if len(data.events) == 0:
        raise DataError("holds no events", file=where)
    ev = data.events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    requested, max_len = int(max_len), min(int(max_len), max(1, longest_history(ev)))
    check_history_size(len(ev) * (1 + negatives), max_len, where, requested)
    labels = ev["label"].to_numpy()
    if negatives and (labels != 1).any():
        raise DataError(f"sampled negatives are for logs of positives only (clicks, purchases), "
                        f"but {int((labels != 1).sum()):,} of the {len(ev):,} events are labelled "
                        f"0: drop --negatives to use the labels as they are", file=where)
    if not negatives and (labels == labels[0]).all():
        kind = "positive (label 1)" if labels[0] == 1 else "negative (label 0)"
        hint = (" or, for a log of clicks only, add sampled negatives (--negatives K)"
                if labels[0] == 1 else "")
        raise DataError(f"every one of the {len(ev):,} events is {kind}: a ranking model needs "
                        f"both classes; check the labels or the positive threshold{hint}",
                        file=where)
    items = data.items.drop_duplicates("item_id").set_index("item_id")
    t_val, t_test = chronological_cutoffs(ev["timestamp"], val_frac, test_frac)
    users = data.users.set_index("user_id") if data.users is not None else None
    return _Prepared(ev, max_len, requested, t_val, t_test, ev["timestamp"].to_numpy() < t_val,
                     items, users, where)


def _raw_category(ev: pd.DataFrame, items: pd.DataFrame) -> np.ndarray:
    """(N,) the category (a string) of each event's item, '<unknown>' where the table lacks it."""
    return ev["item_id"].map(items["category"]).fillna("<unknown>").astype(str).to_numpy()


def _feature_columns(ev: pd.DataFrame, p: _Prepared, raw_cat: np.ndarray,
                     cross_with_category, use_user_id: bool):
    """Yield (name, group, raw values (N,)) of every sparse feature of the events ``ev`` (all of
    them, or one chunk of users), in schema order; one column at a time, to bound memory."""
    ts = ev["timestamp"].to_numpy().astype(np.int64)
    users, items = p.users, p.items
    if use_user_id:
        yield "user_id", "user", ev["user_id"].astype(str).to_numpy()
    user_cols = [] if users is None else list(users.columns)
    for col in user_cols:
        yield col, "user", ev["user_id"].map(users[col]).fillna("<unknown>").astype(str).to_numpy()
    for col in [c for c in items.columns if c != "category"]:
        yield col, "item", ev["item_id"].map(items[col]).fillna("<unknown>").astype(str).to_numpy()
    yield "time_of_day", "context", _time_of_day_bucket(ts)
    yield "day_of_week", "context", ((ts // DAY + 3) % 7).astype(np.int64)  # 1970-01-01: a Thursday
    if cross_with_category is None:
        cross_with_category = tuple(user_cols[:1])
    for col in cross_with_category:
        raw_user = ev["user_id"].map(users[col]).fillna("<unknown>").astype(str).to_numpy()
        yield f"{col}_x_category", "cross", np.char.add(np.char.add(raw_user, "|"), raw_cat)


def _make_dataset(data: Interactions, p: _Prepared, features, item_vocab, cat_vocab,
                  time_scheme: str, train: Samples, val: Samples, test: Samples) -> Dataset:
    schema = Schema(tuple(features), n_items=len(item_vocab), n_categories=len(cat_vocab),
                    max_len=p.max_len, n_time_buckets=n_time_buckets(time_scheme))
    dataset = Dataset(
        name=data.name, schema=schema, train=train, val=val, test=test, time_scheme=time_scheme,
        info={"t_val": p.t_val, "t_test": p.t_test, "categories": cat_vocab.values,
              "items": item_vocab.values, "max_len_requested": p.requested},
    )
    check_splits(dataset, p.where)
    return dataset


def build_dataset(data: Interactions, max_len: int = 20, val_frac: float = 0.1,
                  test_frac: float = 0.1, time_scheme: str = "calendar",
                  cross_with_category: tuple[str, ...] | None = None,
                  use_user_id: bool = True, negatives: int = 0,
                  negative_sampling: str = "uniform", negative_seed: int = 0) -> Dataset:
    """Turn events into samples: for each user in time order, each event becomes a sample whose
    history is that user's previous (strictly earlier) up-to-``max_len`` events.

    ``negatives = k > 0`` (a log of positives only): each event also gets ``k`` negative samples,
    items the user had not touched by then, drawn by
    :func:`~bst_teach.data.negatives.sample_negatives` (``negative_sampling`` "uniform" or
    "popularity", ``negative_seed``); a
    negative has its positive's user, time, context and history, and never enters a history.

    Split: chronological on the target's timestamp (see :func:`chronological_cutoffs`).  Item,
    user-id, context and cross vocabularies are fitted on training-period events only, so an item
    first seen in the evaluation period maps to the out-of-vocabulary index.

    A ``max_len`` longer than the longest history in the data is capped at that length (at least
    1): the extra slots would be padding in every sample and cost memory and time for nothing.
    ``info["max_len_requested"]`` keeps the value asked for, ``schema.max_len`` the one used.
    Refused with a :class:`DataError` naming the source: more history slots than
    :data:`MAX_HISTORY_CELLS`, an empty split, or a split holding a single class.
    For logs of millions of events, :func:`build_dataset_chunked` gives the same samples with a
    fraction of the memory.
    """
    p = _prepare(data, max_len, val_frac, test_frac, negatives)
    positives, max_len = p.ev, p.max_len
    hist_rows = _histories(positives, max_len)  # (N, L) rows of `positives`, -1 at padding
    ev, is_train = positives, p.is_train
    if negatives:  # k rows per event after the positives: its history, another item
        items, _ = sample_negatives(positives, p.is_train, negatives, negative_sampling,
                                    negative_seed, p.where)
        source = np.repeat(np.arange(len(positives)), negatives)
        cols = ["user_id", "item_id", "timestamp", "label"]
        neg = positives.iloc[source][cols].assign(item_id=items.ravel(), label=0)
        ev = pd.concat([positives[cols], neg], ignore_index=True)
        hist_rows = np.concatenate([hist_rows, hist_rows[source]])
        is_train = ev["timestamp"].to_numpy() < p.t_val

    # --- vocabularies (training period only for anything tied to events) -----------------------
    item_vocab = Vocabulary.fit(positives.loc[p.is_train, "item_id"])
    cat_vocab = Vocabulary.fit(p.items["category"].astype(str))
    raw_cat = _raw_category(ev, p.items)
    item_idx = item_vocab.encode(ev["item_id"].tolist())
    cat_idx = cat_vocab.encode(raw_cat.tolist())
    ts = ev["timestamp"].to_numpy().astype(np.int64)

    columns, features = [], []
    for name, group, raw in _feature_columns(ev, p, raw_cat, cross_with_category, use_user_id):
        vocab = Vocabulary.fit(np.asarray(raw)[is_train])
        columns.append(vocab.encode(list(raw)))
        features.append(Feature(name, group, len(vocab)))

    # --- histories (rows of the positives, which come first in `ev`) -----------------------------
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
    split_of = np.searchsorted([p.t_val, p.t_test], ts[order], side="right")  # 0 train, 1 val, 2 test
    dataset = _make_dataset(data, p, features, item_vocab, cat_vocab, time_scheme,
                            *(samples.subset(order[split_of == k]) for k in range(3)))
    if negatives:
        dataset.info.update(negatives=negatives, negative_sampling=negative_sampling,
                            negative_seed=negative_seed)
    return dataset


# ---------------------------------------------------------------------------------------------
# The same samples, built a chunk of users at a time
# ---------------------------------------------------------------------------------------------
def history_rows(users: np.ndarray, ts: np.ndarray, max_len: int) -> np.ndarray:
    """:func:`_histories` without a Python loop: for events sorted by user, then time, (N, L) row
    positions of each event's last ``max_len`` strictly earlier events of the same user, oldest
    first, -1 at padding."""
    n = len(users)
    rows = np.arange(n)
    new_user = np.r_[True, users[1:] != users[:-1]] if n else np.zeros(0, bool)
    new_time = new_user | (np.r_[True, ts[1:] != ts[:-1]] if n else new_user)
    user_start = np.maximum.accumulate(np.where(new_user, rows, 0)) if n else rows
    k = np.maximum.accumulate(np.where(new_time, rows, 0)) if n else rows  # first row at that second
    lo = np.maximum(user_start, k - max_len)
    j = np.arange(max_len)
    return np.where(j < (k - lo)[:, None], lo[:, None] + j, -1)


def _user_chunks(users: np.ndarray, chunk_rows: int) -> list[tuple[int, int]]:
    """Row ranges [a, b) of the events (sorted by user) that cut them into chunks of whole users,
    a new chunk at the first user past each multiple of ``chunk_rows`` events (so a chunk holds
    about ``chunk_rows`` events, or one user who has more)."""
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    block = starts // chunk_rows
    starts = starts[np.r_[True, block[1:] != block[:-1]]]
    return list(zip(starts.tolist(), np.r_[starts[1:], len(users)].tolist()))


def build_dataset_chunked(data: Interactions, max_len: int = 20, val_frac: float = 0.1,
                          test_frac: float = 0.1, time_scheme: str = "calendar",
                          cross_with_category: tuple[str, ...] | None = None,
                          use_user_id: bool = True, chunk_rows: int = 50_000) -> Dataset:
    """:func:`build_dataset`, about ``chunk_rows`` events (whole users) at a time: the same
    samples, byte for byte
    (same vocabularies, order and dtypes), with bounded working memory.

    Two passes over the chunks: the first collects each feature's training-period values (the
    vocabularies need all of them), the second encodes the chunk, builds its histories
    (:func:`history_rows`) and writes its samples straight into their final rows of the
    preallocated train / validation / test arrays.  Beyond the events table and those arrays,
    memory holds one chunk's raw feature strings and (rows, L) temporaries, instead of every
    event's, and no second copy of the samples for the split.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) \
            or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    p = _prepare(data, max_len, val_frac, test_frac)
    ev, is_train, max_len = p.ev, p.is_train, p.max_len
    ts = ev["timestamp"].to_numpy().astype(np.int64)
    chunks = _user_chunks(ev["user_id"].to_numpy(), int(chunk_rows))

    # --- pass 1: vocabularies, from the union of each chunk's training-period values -----------
    item_vocab = Vocabulary.fit(ev.loc[is_train, "item_id"])
    cat_vocab = Vocabulary.fit(p.items["category"].astype(str))
    seen = {}
    for a, b in chunks:
        add_training_values(seen, ev.iloc[a:b], is_train[a:b], p, cross_with_category,
                            use_user_id)
    vocabs = {name: Vocabulary.fit(values) for name, (_, values) in seen.items()}
    features = [Feature(name, seen[name][0], len(v)) for name, v in vocabs.items()]
    user_vocab = Vocabulary.fit(ev["user_id"])

    # --- where each event's sample goes: split k, row dest[r] of it -------------------------------
    order = np.argsort(ts, kind="stable")
    split = np.searchsorted([p.t_val, p.t_test], ts, side="right")  # 0 train, 1 val, 2 test
    sizes = np.bincount(split, minlength=3)
    dest = np.empty(len(ts), dtype=np.int64)
    dest[order] = np.arange(len(ts)) - np.r_[0, np.cumsum(sizes)[:-1]][split[order]]
    del order
    out = [_empty_samples(int(n), len(features), max_len) for n in sizes]

    # --- pass 2: encode and write each chunk's samples ----------------------------------------------
    enc = Encoders(item_vocab, cat_vocab, user_vocab, vocabs)
    for a, b in chunks:
        chunk = with_histories(encode_events(ev.iloc[a:b], p, enc, cross_with_category,
                                             use_user_id), max_len)
        for k in range(3):
            mine = split[a:b] == k
            for name, values in chunk.items():
                getattr(out[k], name)[dest[a:b][mine]] = values[mine]
    return _make_dataset(data, p, features, item_vocab, cat_vocab, time_scheme, *out)


def add_training_values(seen: dict, part: pd.DataFrame, is_train: np.ndarray, p: _Prepared,
                        cross_with_category, use_user_id: bool) -> None:
    """Add the training-period values of every sparse feature of ``part`` (events of whole
    users) to ``seen``: name -> (group, set of raw values), in schema order."""
    for name, group, raw in _feature_columns(part, p, _raw_category(part, p.items),
                                             cross_with_category, use_user_id):
        seen.setdefault(name, (group, set()))[1].update(np.asarray(raw)[is_train])


@dataclass
class Encoders:
    """The vocabularies a log's samples are encoded with, fitted on its training period (the
    sparse features' in schema order)."""

    item: Vocabulary
    category: Vocabulary
    user: Vocabulary
    features: dict[str, Vocabulary]


def encode_events(part: pd.DataFrame, p: _Prepared, enc: Encoders, cross_with_category,
                  use_user_id: bool) -> dict[str, np.ndarray]:
    """The per-event fields of the samples of ``part`` (events of whole users, sorted by user,
    then time): ``sparse`` (n, F), ``target_item``, ``target_cat``, ``timestamp``, ``user``,
    ``label`` (n,)."""
    raw_cat = _raw_category(part, p.items)
    sparse = np.empty((len(part), len(enc.features)), dtype=np.int64)
    for j, (name, _, raw) in enumerate(_feature_columns(part, p, raw_cat, cross_with_category,
                                                        use_user_id)):
        sparse[:, j] = enc.features[name].encode(list(raw))
    return {"sparse": sparse, "target_item": enc.item.encode(part["item_id"].tolist()),
            "target_cat": enc.category.encode(raw_cat.tolist()),
            "timestamp": part["timestamp"].to_numpy().astype(np.int64),
            "user": enc.user.encode(part["user_id"].tolist()),
            "label": part["label"].to_numpy().astype(np.float32)}


def with_histories(events: dict[str, np.ndarray], max_len: int,
                   keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`encode_events`'s fields plus each event's history (``hist_item``, ``hist_cat``,
    ``hist_gap``, (n, L)) from the earlier events of its user among them: every field of
    :class:`Samples`, one row per event, or per event where the (n,) mask ``keep`` is True."""
    t, item, cat = events["timestamp"], events["target_item"], events["target_cat"]
    rows = history_rows(events["user"], t, max_len)
    if keep is not None:
        rows, events = rows[keep], {k: v[keep] for k, v in events.items()}
    valid = rows >= 0
    safe = np.where(valid, rows, 0)
    return {**events, "hist_item": np.where(valid, item[safe], PAD),
            "hist_cat": np.where(valid, cat[safe], PAD),
            "hist_gap": np.where(valid, events["timestamp"][:, None] - t[safe], 0
                                 ).astype(np.float64)}


def _empty_samples(n: int, n_features: int, max_len: int) -> Samples:
    """Uninitialised arrays for ``n`` samples, with the dtypes :func:`build_dataset` gives."""
    return Samples(sparse=np.empty((n, n_features), np.int64), target_item=np.empty(n, np.int64),
                   target_cat=np.empty(n, np.int64), hist_item=np.empty((n, max_len), np.int64),
                   hist_cat=np.empty((n, max_len), np.int64),
                   hist_gap=np.empty((n, max_len), np.float64), timestamp=np.empty(n, np.int64),
                   user=np.empty(n, np.int64), label=np.empty(n, np.float32))


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
