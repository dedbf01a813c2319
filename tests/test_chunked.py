"""The chunked sample builder gives the in-memory builder's samples, byte for byte."""
import os
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from bst_teach.data import DataError, Interactions, build_dataset, load_movielens
from bst_teach.data.samples import (Samples, _histories, build_dataset_chunked, history_rows)
from bst_teach.experiments import data_fingerprint


def log(n=3000, n_users=60, seed=0, with_tables=True) -> Interactions:
    """Events with tied timestamps, users of one to hundreds of events, items the item table
    lacks, extra item and user columns."""
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.6, n) % n_users
    ts = 1_600_000_000 + rng.integers(0, 400, n) * 3600  # many events share a second
    events = pd.DataFrame({"user_id": [f"u{u}" for u in users], "item_id": rng.integers(0, 90, n),
                           "timestamp": ts, "label": rng.integers(0, 2, n)})
    items = pd.DataFrame({"item_id": np.arange(80), "category": [f"c{i % 7}" for i in range(80)],
                          "brand": [f"b{i % 5}" for i in range(80)]})
    profile = pd.DataFrame({"user_id": [f"u{u}" for u in range(0, n_users, 2)],
                            "gender": ["F", "M"] * (n_users // 4), "age": "25-34"})
    return Interactions("toy", events, items, profile if with_tables else None, source="toy.csv")


def assert_same(a, b):
    assert a.name == b.name and a.schema == b.schema and a.time_scheme == b.time_scheme
    assert a.info == b.info
    for split in ("train", "val", "test"):
        x, y = getattr(a, split), getattr(b, split)
        for f in fields(Samples):
            u, v = getattr(x, f.name), getattr(y, f.name)
            assert u.dtype == v.dtype and u.shape == v.shape, (split, f.name)
            assert u.tobytes() == v.tobytes(), (split, f.name)
    assert data_fingerprint(a) == data_fingerprint(b)


def test_chunks_are_whole_users():
    from bst_teach.data.samples import _user_chunks
    users = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4])
    assert _user_chunks(users, 4) == [(0, 4), (4, 10), (10, 11)]  # a new chunk past 4, 8
    assert _user_chunks(users, 100) == [(0, 11)]
    assert _user_chunks(users, 1) == [(0, 3), (3, 4), (4, 6), (6, 10), (10, 11)]


def test_history_rows_equal_the_loop():
    ev = log().events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    for max_len in (1, 5, 40):
        expected = _histories(ev, max_len)
        got = history_rows(ev["user_id"].to_numpy(), ev["timestamp"].to_numpy(), max_len)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


@pytest.mark.parametrize("chunk_rows", [1, 70, 100_000])
@pytest.mark.parametrize("kwargs", [{}, {"max_len": 3, "time_scheme": "log"},
                                    {"cross_with_category": ("gender", "age"), "use_user_id": False}])
def test_chunked_equals_in_memory(chunk_rows, kwargs):
    data = log()
    assert_same(build_dataset(data, **kwargs),
                build_dataset_chunked(data, chunk_rows=chunk_rows, **kwargs))


def test_chunked_without_item_or_user_tables():
    data = log(with_tables=False)
    data.items = pd.DataFrame({"item_id": [], "category": []})
    assert_same(build_dataset(data), build_dataset_chunked(data, chunk_rows=50))


def test_chunked_refuses_what_the_in_memory_builder_refuses():
    data = log()
    data.events["label"] = 1
    for build in (build_dataset, build_dataset_chunked):
        with pytest.raises(DataError, match="every one of the 3,000 events is positive"):
            build(data)
    with pytest.raises(ValueError, match="chunk_rows"):
        build_dataset_chunked(log(), chunk_rows=0)


@pytest.mark.skipif(not os.path.isdir(os.environ.get("BST_TEACH_ML100K", "data/ml-100k")),
                    reason="MovieLens-100K is not on this machine (set BST_TEACH_ML100K)")
def test_chunked_equals_in_memory_on_movielens():
    raw = load_movielens()
    assert_same(build_dataset(raw, max_len=20), build_dataset_chunked(raw, max_len=20,
                                                                      chunk_rows=5000))
