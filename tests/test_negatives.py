"""Logs of positives only: sampled negatives (bst_teach.data.negatives) and the next-item protocol."""
import json

import numpy as np
import pandas as pd
import pytest

from bst_teach.data import DataError, Interactions, build_dataset, load_dataset
from bst_teach.data.csv import load_csv
from bst_teach.data.negatives import sample_negatives, sampling_pool


def clicks(n_users=60, per_user=25, n_items=80, seed=0, skew=1.0) -> Interactions:
    """Positives only: users with skewed item tastes, a category per item, gender per user."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** skew
    rows = []
    for u in range(n_users):
        t = 1_000_000 + int(rng.integers(0, 10_000))
        for _ in range(per_user):
            t += int(rng.integers(1, 50_000))
            rows.append((f"u{u}", f"i{rng.choice(n_items, p=popularity / popularity.sum())}", t))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(label=1)
    items = pd.DataFrame({"item_id": [f"i{j}" for j in range(n_items)],
                          "category": [f"c{j % 7}" for j in range(n_items)]})
    users = pd.DataFrame({"user_id": [f"u{u}" for u in range(n_users)],
                          "gender": ["F" if u % 2 else "M" for u in range(n_users)]})
    return Interactions("clicks", events, items, users, source="clicks.csv")


def _with_ids(data, raw: Interactions):
    """Every sample of every split with raw ids: split, user, time, label, target item and the
    history's items (a tuple, oldest first).  Vocabularies map sorted values to 2, 3, ...
    (0 padding, 1 out of vocabulary)."""
    items = np.asarray(["<pad>", "<oov>", *data.info["items"]], dtype=object)
    users = np.asarray(["<pad>", "<oov>", *sorted(raw.events["user_id"].unique())], dtype=object)
    out = []
    for split in ("train", "val", "test"):
        s = getattr(data, split)
        out.append(pd.DataFrame({"split": split, "user": users[s.user], "t": s.timestamp,
                                 "target": items[s.target_item], "label": s.label,
                                 "hist": [tuple(items[h[h != 0]]) for h in s.hist_item]}))
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="module")
def sampled():
    return build_dataset(clicks(), max_len=10, negatives=3, negative_sampling="uniform",
                         negative_seed=7)


def test_k_negatives_per_event_with_the_positives_history(sampled):
    df = _with_ids(sampled, clicks())
    assert (df["label"] == 1).sum() == len(clicks().events)
    assert (df["label"] == 0).sum() == 3 * len(clicks().events)
    # every negative shares split, user, time and history with a positive of the same event
    key = ["split", "user", "t", "hist"]
    pos = df[df.label == 1].groupby(key).size()
    neg = df[df.label == 0].groupby(key).size()
    assert neg.index.isin(pos.index).all()
    assert (neg.reindex(pos.index).fillna(0) == 3 * pos).all()


def test_no_negative_is_an_item_the_user_had_touched(sampled):
    raw = clicks().events
    first = raw.groupby(["user_id", "item_id"])["timestamp"].min().to_dict()
    df = _with_ids(sampled, clicks())
    touched_by_then = [first.get((u, it), np.inf) <= t
                       for u, t, it in zip(df["user"], df["t"], df["target"])]
    df["touched"] = touched_by_then
    assert not df.loc[df.label == 0, "touched"].any()
    assert df.loc[df.label == 1, "touched"].all()  # the check can fail: positives are touched


def test_negatives_never_enter_a_history(sampled):
    raw = clicks().events
    df = _with_ids(sampled, clicks())
    # all samples at once: a history is the user's positive events strictly before, last 10
    expected, known = {}, set(sampled.info["items"])
    for user, g in raw.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id"):
        items, ts = g["item_id"].tolist(), g["timestamp"].to_numpy()
        for t in np.unique(ts):
            k = int(np.searchsorted(ts, t, side="left"))
            expected[(user, t)] = tuple(i if i in known else "<oov>" for i in items[max(0, k - 10):k])
    assert all(expected[(u, t)] == h for u, t, h in zip(df["user"], df["t"], df["hist"]))


def test_same_seed_same_negatives_other_seed_others():
    a = build_dataset(clicks(), max_len=10, negatives=2, negative_seed=1)
    b = build_dataset(clicks(), max_len=10, negatives=2, negative_seed=1)
    c = build_dataset(clicks(), max_len=10, negatives=2, negative_seed=2)
    assert np.array_equal(a.train.target_item, b.train.target_item)
    assert np.array_equal(a.test.sparse, b.test.sparse)
    assert not np.array_equal(a.train.target_item, c.train.target_item)


def test_k_distinct_negatives_per_event():
    ev = clicks().events.sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    is_train = ev["timestamp"].to_numpy() < np.quantile(ev["timestamp"], 0.8)
    items, _ = sample_negatives(ev, is_train, 5, "uniform", seed=0)
    assert items.shape == (len(ev), 5)
    assert all(len(set(row)) == 5 for row in items)


def test_popularity_sampling_follows_training_counts():
    ev = clicks(n_users=2000, per_user=4, n_items=200, seed=3, skew=0.7).events  # few touched
    ev = ev.sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    is_train = ev["timestamp"].to_numpy() < np.quantile(ev["timestamp"], 0.7)
    train_counts = ev.loc[is_train, "item_id"].value_counts()
    pool, prob = sampling_pool(ev["item_id"].to_numpy(), is_train, "popularity")
    assert np.allclose(pd.Series(prob, index=pool), train_counts.reindex(pool) / train_counts.sum())
    items, _ = sample_negatives(ev, is_train, 4, "popularity", seed=0)
    drawn = pd.Series(items.ravel()).value_counts().reindex(pool).fillna(0)
    share = drawn / drawn.sum()
    expected = train_counts.reindex(pool) / train_counts.sum()
    # rejection of touched items bends the shares a little; the ranking follows the counts
    assert np.corrcoef(share, expected)[0, 1] > 0.95
    uniform, _ = sample_negatives(ev, is_train, 4, "uniform", seed=0)
    u_share = pd.Series(uniform.ravel()).value_counts().reindex(pool).fillna(0)
    assert np.corrcoef(u_share / u_share.sum(), expected)[0, 1] < 0.8  # uniform does not
    assert set(np.unique(items)) <= set(pool)  # only items of the training period


def test_item_features_are_the_sampled_items():
    data = build_dataset(clicks(), max_len=10, negatives=2, negative_seed=0)
    s = data.train
    cats = clicks().items.set_index("item_id")["category"]
    items = np.asarray(["<pad>", "<oov>", *data.info["items"]], dtype=object)
    cat_values = np.asarray(["<pad>", "<oov>", *data.info["categories"]], dtype=object)
    cross = [f.name for f in data.schema.features].index("gender_x_category")
    for i in np.flatnonzero(s.label == 0)[:200]:
        item = items[s.target_item[i]]
        assert cat_values[s.target_cat[i]] == cats[item]
    # the cross feature follows the category: same (user, category) -> same cross index
    df = pd.DataFrame({"u": s.user, "c": s.target_cat, "x": s.sparse[:, cross]})
    assert (df.groupby(["u", "c"])["x"].nunique() == 1).all()
    assert df.groupby("u")["x"].nunique().max() > 1  # and varies with the item's category


def test_all_positive_log_without_negatives_says_what_to_do():
    with pytest.raises(DataError, match=r"clicks.csv.*every one of the 1,500 events is positive"
                                        r".*--negatives K"):
        build_dataset(clicks(), max_len=10)


def test_negatives_refused_on_a_log_with_labels():
    raw = clicks()
    raw.events.loc[:10, "label"] = 0
    with pytest.raises(DataError, match="11 of the 1,500 events are labelled 0"):
        build_dataset(raw, max_len=10, negatives=1)


def test_a_user_who_touched_everything_is_named():
    raw = clicks(n_users=3, per_user=40, n_items=3)
    with pytest.raises(DataError, match=r"cannot draw 1 negatives for user 'u\d'"):
        build_dataset(raw, max_len=5, negatives=1)


def test_csv_without_label_column_is_positives_only(tmp_path):
    path = tmp_path / "clicks.csv"
    raw = clicks().events
    path.write_text("user_id,item_id,timestamp\n"
                    + "".join(f"{u},{i},{t}\n" for u, i, t in raw[["user_id", "item_id", "timestamp"]].values))
    data = load_csv(path)
    assert (data.events["label"] == 1).all()
    d = load_dataset("csv", max_len=10, interactions=str(path), negatives=4)
    assert d.summary()["positive rate"].round(6).tolist() == [0.2, 0.2, 0.2]


def test_next_item_protocol_on_movielens(ml100k_dir):
    rating = load_dataset("ml-100k", max_len=5, data_dir=ml100k_dir)
    nxt = load_dataset("ml-100k", max_len=5, data_dir=ml100k_dir, protocol="next-item")
    assert len(nxt.train) + len(nxt.val) + len(nxt.test) == 2 * 100_000  # one negative each
    assert nxt.info["negatives"] == 1 and nxt.info["negative_sampling"] == "uniform"
    assert 0 < rating.test.label.mean() < 1 and nxt.test.label.mean() == 0.5
    with pytest.raises(DataError, match="next-item protocol is for MovieLens-100K"):
        load_dataset("synthetic", protocol="next-item")
    with pytest.raises(DataError, match="with the rating protocol"):
        load_dataset("ml-100k", data_dir=ml100k_dir, negatives=2)


def test_cli_trains_an_all_positive_csv_with_negatives(tmp_path, capsys):
    from test_cli import run_main
    path = tmp_path / "clicks.csv"
    raw = clicks().events
    path.write_text("user_id,item_id,timestamp\n"
                    + "".join(f"{u},{i},{t}\n" for u, i, t in raw[["user_id", "item_id", "timestamp"]].values))
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(path), "--model", "bst",
                             "--epochs", "2", "--negatives", "4", "--negative-sampling", "popularity",
                             "--json"], capsys)
    assert rc == 0, err
    report = json.loads(out)  # strict JSON: no NaN
    assert 0 <= report["test_auc"] <= 1 and report["n_test"] % 5 == 0
    assert report["test_gauc"] is None or 0 <= report["test_gauc"] <= 1
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(path), "--epochs", "1"],
                            capsys)
    assert rc != 0 and "--negatives K" in err and "Traceback" not in err
    rc, out, err = run_main(["train", "--data", "synthetic", "--negative-sampling", "popularity"],
                            capsys)
    assert rc != 0 and "--negative-sampling applies with sampled negatives only" in err


@pytest.fixture
def ml100k_dir():
    import os
    path = os.environ.get("BST_TEACH_ML100K")
    if not path:
        pytest.skip("set BST_TEACH_ML100K to a copy of MovieLens 100K")
    return path
