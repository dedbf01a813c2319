"""Logs larger than memory: an interactions CSV cut by user into shards on disk, and samples
built one shard at a time.

:func:`build_shards` reads the CSV once in chunks and never holds the whole log.  It makes four
passes, each holding one chunk of the CSV or one shard:

1. the CSV, chunk by chunk: checked as :func:`~bst_teach.data.csv.load_csv` checks it (a
   :class:`~bst_teach.data.errors.DataError` naming file, line, column and value), ids turned into
   integer codes, each row appended to the shard of its user (code modulo the number of shards);
2. the shards' timestamps: the chronological cutoffs, exactly those of
   :func:`~bst_teach.data.samples.chronological_cutoffs`, found by narrowing a histogram;
3. each shard, sorted by user then time: every feature's training-period values (for the
   vocabularies) and the longest history;
4. each shard encoded (:func:`~bst_teach.data.samples.encode_events`): one row of integers per
   event, about 100 bytes, in an ``.npz`` file.

A shard's samples, histories included, are built when they are asked for
(:meth:`ShardedDataset.samples`), from its encoded events: a history of L = 20 behaviours is
about 500 bytes per sample, which is never written to disk.  The samples are those of
:func:`~bst_teach.data.samples.build_dataset` on the whole file (``tests/test_stream.py``); only their
order differs: grouped by shard.

Memory: one CSV chunk (``chunk_rows``), one shard's samples (about ``shard_rows`` events), and
the id tables, which grow with the number of distinct users and items, not with the number of
events.  A user's events all lie in one shard, so one user with more events than memory holds
cannot be built.  Sampled negatives are not offered here (they are drawn in memory).
:func:`build_movielens_shards` does the same for MovieLens 1M and 20M, read from the official
archive (20M's 20 million ratings stream from the zip).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..features import Feature, Schema, Vocabulary, n_time_buckets
from .csv import UNKNOWN, _events, _items, _parse, _users, read_chunks
from .errors import DataError
from .movielens import _archive, movielens_tables, rating_chunks
from .samples import (Encoders, Samples, _Prepared, add_training_values, check_split_counts,
                      encode_events, longest_history, with_histories)

SPLITS = ("train", "val", "test")
#: The record of one event in a raw shard (user and item as codes, positions in the id tables).
RAW = np.dtype([("user", "<i8"), ("item", "<i8"), ("timestamp", "<i8"), ("label", "i1")])
FORMAT = 1  # bump when the shard files change


@dataclass
class ShardedDataset:
    """A data set kept on disk as shards of whole users; samples are built one shard at a time.

    ``counts[split][i]``: the samples of that split in shard ``i``.  Like a
    :class:`~bst_teach.data.samples.Dataset` it has a ``name``, ``schema``, ``time_scheme`` and
    ``info`` (the split cutoffs ``t_val``, ``t_test``; ``max_len_requested``).
    """

    name: str
    schema: Schema
    folder: Path
    shards: list[str]
    counts: dict[str, list[int]]
    time_scheme: str = "calendar"
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.shards)

    def n_samples(self, split: str) -> int:
        return sum(self.counts[split])

    def samples(self, shard: int, split: str) -> Samples:
        """The samples of ``split`` in shard ``shard`` (histories from all of its user's earlier
        events, whatever their split), grouped by user, in time order."""
        with np.load(self.folder / self.shards[shard]) as z:
            events = {k: z[k] for k in z.files}
        cut = np.searchsorted([self.info["t_val"], self.info["t_test"]], events["timestamp"],
                              side="right")
        keep = cut == SPLITS.index(split)
        return Samples(**with_histories(events, self.schema.max_len, keep))

    def tensors(self, shard: int, split: str) -> dict[str, torch.Tensor]:
        """The model batch of :meth:`samples` (see :meth:`~bst_teach.data.samples.Samples.tensors`)."""
        return self.samples(shard, split).tensors(self.time_scheme)

    @classmethod
    def open(cls, folder) -> "ShardedDataset":
        """The data set :func:`build_shards` left in ``folder``."""
        folder = Path(folder)
        m = json.loads((folder / "manifest.json").read_text())
        return cls(m["name"], Schema.from_dict(m["schema"]), folder, m["shards"], m["counts"],
                   m["time_scheme"], m["info"])


@dataclass
class _Source:
    """Where a log's events come from: chunks of events (user_id, item_id, timestamp, label)
    and the tables of items (indexed by item_id) and users (indexed by user_id, or None)."""

    name: str
    where: str  # for error messages
    files: dict  # what the shards depend on, for the cache key
    expected_events: int  # about how many events: sizes the shards
    chunks: Callable[[], Iterator[pd.DataFrame]]
    items: Callable[[np.ndarray], pd.DataFrame]  # the item ids of the log -> the items table
    users: Callable[[], pd.DataFrame | None]


def build_shards(interactions, folder=None, items=None, users=None, positive_threshold=None,
                 max_len: int = 20, val_frac: float = 0.1, test_frac: float = 0.1,
                 time_scheme: str = "calendar", shard_rows: int = 200_000,
                 chunk_rows: int = 200_000, progress: bool = True) -> ShardedDataset:
    """Cut the interactions CSV (and its optional items / users CSVs, read whole: they grow
    with the catalogue, not the log) into shards in ``folder`` and encode them; see the module
    docstring.  Reused when ``folder`` already holds shards of the same files (size and
    modification time) and settings.

    ``folder`` defaults to ``shards/<name>-<key>`` in the cache
    (:func:`bst_teach.experiments.cache_dir`).  Written atomically: a folder is complete or
    absent, so an interrupted build leaves nothing that is later mistaken for shards.
    """
    path, file = Path(interactions), str(interactions)

    def chunks():
        for table in read_chunks(path, chunk_rows):
            if "label" not in table.header and "rating" not in table.header \
                    and positive_threshold is None:
                table.require(["user_id", "item_id", "timestamp"])
                raise DataError("has no 'label' (or 'rating') column: a log of positives only "
                                "needs sampled negatives, which are built in memory; load it "
                                "without streaming", file=file)
            yield _events(table, positive_threshold)

    source = _Source(
        path.stem, file, {k: _signature(v) for k, v in
                          (("interactions", interactions), ("items", items), ("users", users))},
        _estimate_lines(path), chunks, lambda item_ids: _item_table(items, item_ids),
        lambda: _parse(users, _users).set_index("user_id") if users is not None else None)
    return _shards(source, folder, max_len, val_frac, test_frac, time_scheme, shard_rows,
                   progress, positive_threshold=positive_threshold)


def build_movielens_shards(name: str, data_dir=None, download: bool = False,
                           positive_threshold: float = 4, folder=None, max_len: int = 20,
                           val_frac: float = 0.1, test_frac: float = 0.1,
                           time_scheme: str = "calendar", shard_rows: int = 200_000,
                           chunk_rows: int = 1_000_000, progress: bool = True) -> ShardedDataset:
    """:func:`build_shards` for MovieLens 1M or 20M, read from the official archive as
    :func:`~bst_teach.data.movielens.load_movielens_large` reads it (md5-verified; 20M's
    ratings stream from the zip ``chunk_rows`` at a time): the samples of
    ``build_dataset_chunked(load_movielens_large(name))``, on disk."""
    path = _archive(name, data_dir, download)
    tables = functools.cache(lambda: movielens_tables(path, name))  # read only when building

    def users():
        u = tables()[1]
        return None if u is None else u.set_index("user_id")

    source = _Source(
        name, str(path), {"archive": _signature(path)}, RELEASE_EVENTS[name],
        lambda: rating_chunks(path, name, positive_threshold, chunk_rows),
        lambda item_ids: tables()[0].drop_duplicates("item_id").set_index("item_id"), users)
    return _shards(source, folder, max_len, val_frac, test_frac, time_scheme, shard_rows,
                   progress, positive_threshold=positive_threshold)


#: Ratings in each release (GroupLens' READMEs): how many shards to cut.
RELEASE_EVENTS = {"ml-1m": 1_000_209, "ml-20m": 20_000_263}


def _shards(source: _Source, folder, max_len, val_frac, test_frac, time_scheme, shard_rows,
            progress, **key_settings) -> ShardedDataset:
    """The cached shards of ``source`` in ``folder``, built (atomically) when missing."""
    from ..experiments import cache_dir

    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise DataError(f"max_len must be a positive integer, got {max_len!r}",
                        file=source.where)
    n_time_buckets(time_scheme)  # refuses an unknown scheme before any work
    settings = {"format": FORMAT, "max_len": int(max_len), "val_frac": val_frac,
                "test_frac": test_frac, "time_scheme": time_scheme, "shard_rows": shard_rows,
                "files": source.files, **key_settings}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    folder = (Path(folder) if folder is not None
              else cache_dir() / "shards" / f"{source.name}-{key}")
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("key") == key:
        return ShardedDataset.open(folder)

    work = folder.with_name(f".{folder.name}.building-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        n_shards = max(1, math.ceil(source.expected_events / shard_rows))
        data = _build(source, work, n_shards, int(max_len), val_frac, test_frac, time_scheme,
                      progress)
        (work / "manifest.json").write_text(json.dumps({
            "key": key, "name": source.name, "schema": data.schema.to_dict(),
            "shards": data.shards, "counts": data.counts, "time_scheme": time_scheme,
            "info": data.info}, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ShardedDataset.open(folder)


def _signature(path) -> dict | None:
    if path is None:
        return None
    p = Path(path)
    st = p.stat() if p.is_file() else None
    return {"path": str(p.resolve()), "size": st and st.st_size, "mtime_ns": st and st.st_mtime_ns}


def _estimate_lines(path: Path) -> int:
    """About how many lines the file has, from its size and its first 1 MB (1 if unreadable:
    reading it then reports the problem)."""
    if not path.is_file():
        return 1
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return math.ceil(path.stat().st_size / (len(head) / max(1, head.count(b"\n")))) if head else 1


def _build(source: _Source, work: Path, n_shards: int, max_len, val_frac, test_frac,
           time_scheme, progress) -> ShardedDataset:
    file = source.where
    raw_paths = [work / f"raw-{i:04d}.bin" for i in range(n_shards)]

    # --- pass 1: the events, chunk by chunk (checked), appended to the shard of each user -------
    user_code, item_code = {}, {}  # id -> position in the id tables
    n = n_pos = 0
    t_min, t_max = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    bar = tqdm(desc=f"{source.name}: reading", unit=" rows", unit_scale=True,
               disable=not progress)
    outs = [open(p, "wb") for p in raw_paths]
    try:
        for ev in source.chunks():
            rec = np.empty(len(ev), RAW)
            rec["user"], rec["item"] = _codes(ev["user_id"], user_code), _codes(ev["item_id"],
                                                                               item_code)
            rec["timestamp"], rec["label"] = ev["timestamp"], ev["label"]
            shard = rec["user"] % n_shards
            order = np.argsort(shard, kind="stable")
            bounds = np.searchsorted(shard[order], np.arange(n_shards + 1))
            for i in range(n_shards):
                rec[order[bounds[i]:bounds[i + 1]]].tofile(outs[i])
            if len(ev):
                t_min, t_max = min(t_min, int(ev["timestamp"].min())), max(t_max, int(
                    ev["timestamp"].max()))
            n, n_pos = n + len(ev), n_pos + int(ev["label"].sum())
            bar.update(len(ev))
    finally:
        for f in outs:
            f.close()
        bar.close()
    if n == 0:
        raise DataError("has a header but no events", file=file)
    if n_pos in (0, n):
        kind = "positive (label 1)" if n_pos else "negative (label 0)"
        raise DataError(f"every one of the {n:,} events is {kind}: a ranking model needs both "
                        f"classes; check the labels or the positive threshold", file=file)
    user_ids = _id_table(user_code)
    item_ids = _id_table(item_code)
    del user_code, item_code

    # --- pass 2: the split cutoffs, as chronological_cutoffs gives them ---------------------------
    t_val = _kth_timestamp(raw_paths, int(n * (1 - val_frac - test_frac)), t_min, t_max)
    t_test = _kth_timestamp(raw_paths, int(n * (1 - test_frac)), t_min, t_max)

    # --- pass 3: each shard sorted by user, then time; training-period values; longest history
    item_table = source.items(item_ids)
    p = _Prepared(None, max_len, max_len, t_val, t_test, None, item_table, source.users(), file)
    seen, item_in_train, longest = {}, np.zeros(len(item_ids), bool), 0
    for raw in tqdm(raw_paths, desc=f"{source.name}: vocabularies", unit="shard",
                    disable=not progress):
        rec = np.fromfile(raw, RAW)
        part = _frame(rec, user_ids, item_ids)
        order = part.sort_values(["user_id", "timestamp"], kind="stable").index.to_numpy()
        rec, part = rec[order], part.iloc[order].reset_index(drop=True)
        rec.tofile(raw)  # sorted from now on
        is_train = rec["timestamp"] < t_val
        item_in_train[rec["item"][is_train]] = True
        add_training_values(seen, part, is_train, p, None, True)
        longest = max(longest, longest_history(part))
    p.max_len = min(max_len, max(1, longest))
    features = [Feature(k, group, len(values) + 2) for k, (group, values) in seen.items()]
    enc = Encoders(Vocabulary.fit(item_ids[item_in_train]),
                   Vocabulary.fit(item_table["category"].astype(str)), Vocabulary.fit(user_ids),
                   {k: Vocabulary.fit(values) for k, (_, values) in seen.items()})
    del seen

    # --- pass 4: each shard encoded, one row of integers per event ----------------------------------
    names, counts = [], {s: [] for s in SPLITS}
    positives = np.zeros(3, np.int64)
    for i, raw in enumerate(tqdm(raw_paths, desc=f"{source.name}: encoding", unit="shard",
                                 disable=not progress)):
        rec = np.fromfile(raw, RAW)
        events = encode_events(_frame(rec, user_ids, item_ids), p, enc, None, True)
        split = np.searchsorted([t_val, t_test], events["timestamp"], side="right")
        for k, s in enumerate(SPLITS):
            counts[s].append(int((split == k).sum()))
        positives += np.bincount(split, weights=events["label"], minlength=3).astype(np.int64)
        names.append(f"shard-{i:04d}.npz")
        np.savez(work / names[-1], **events)
        raw.unlink()
    check_split_counts({s: sum(counts[s]) for s in SPLITS},
                       {s: int(positives[k]) for k, s in enumerate(SPLITS)}, file,
                       {"t_val": t_val, "t_test": t_test})
    schema = Schema(tuple(features), n_items=len(enc.item), n_categories=len(enc.category),
                    max_len=p.max_len, n_time_buckets=n_time_buckets(time_scheme))
    info = {"t_val": t_val, "t_test": t_test, "max_len_requested": max_len, "events": n,
            "users": len(user_ids), "categories": enc.category.values}
    return ShardedDataset(source.name, schema, work, names, counts, time_scheme, info)


def _id_table(codes: dict) -> np.ndarray:
    """The ids of ``codes`` (id -> position) in position order, as an object array."""
    out = np.empty(len(codes), dtype=object)
    out[:] = list(codes)
    return out


def _codes(ids: pd.Series, table: dict) -> np.ndarray:
    """(n,) the position of each id in ``table`` (id -> position), new ids appended."""
    inverse, unique = pd.factorize(ids)
    return np.array([table.setdefault(u, len(table)) for u in unique], np.int64)[inverse]


def _frame(rec: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray) -> pd.DataFrame:
    """Raw shard records as the events table ``build_dataset`` sorts (ids as strings)."""
    return pd.DataFrame({"user_id": user_ids[rec["user"]], "item_id": item_ids[rec["item"]],
                         "timestamp": rec["timestamp"], "label": rec["label"].astype(np.int64)})


def _item_table(items, item_ids: np.ndarray) -> pd.DataFrame:
    """The items table indexed by item_id, with an 'unknown' row for every item the
    interactions name but the file lacks (as :func:`~bst_teach.data.csv.load_csv` adds them)."""
    if items is None:
        return pd.DataFrame({"category": UNKNOWN}, index=pd.Index(item_ids, name="item_id"))
    table = _parse(items, _items)
    absent = item_ids[~pd.Index(item_ids).isin(table["item_id"])]
    extra = pd.DataFrame({c: UNKNOWN for c in table.columns}, index=range(len(absent)))
    extra["item_id"] = absent
    return pd.concat([table, extra], ignore_index=True).set_index("item_id")


def _kth_timestamp(raw_paths, k: int, lo: int, hi: int, bins: int = 1 << 16) -> int:
    """The k-th smallest (0-based) timestamp over the shards, in bounded memory: count the
    timestamps into ``bins`` bins over [lo, hi], keep the bin that holds the k-th, repeat until
    the bin is one second wide (two or three passes over the shards' timestamps)."""
    below = 0  # timestamps < lo
    while lo < hi:
        width = -(-(hi - lo + 1) // bins)
        counts = np.zeros(bins, np.int64)
        for raw in raw_paths:
            ts = np.fromfile(raw, RAW)["timestamp"]
            ts = ts[(ts >= lo) & (ts <= hi)]
            counts += np.bincount((ts - lo) // width, minlength=bins)
        cum = np.cumsum(counts)
        j = int(np.searchsorted(cum, k - below, side="right"))
        below += int(cum[j - 1]) if j else 0
        lo, hi = lo + j * width, min(hi, lo + (j + 1) * width - 1)
    return lo
