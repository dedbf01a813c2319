"""Nothing lost, nothing silent: checkpoints, split checks, history length and the bad-input probe.

CLI argument checks live in test_cli.py, CSV content in test_csv.py, MovieLens files in
test_movielens.py.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bst_teach.checkpoint import (CheckpointError, check_compatible, check_save_path,
                                  load_checkpoint, save_checkpoint)
from bst_teach.data import DataError, Interactions, build_dataset, make_synthetic
from bst_teach.data.samples import MAX_HISTORY_CELLS, longest_history
from bst_teach.models import build_model
from bst_teach.train import predict

ROOT = Path(__file__).resolve().parents[1]


# --- checkpoints ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    data = make_synthetic(300, 100, 100, max_len=10, seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "bst.pt"
    save_checkpoint(build_model("bst", data.schema, blocks=2), path)
    return path, data


def test_save_is_atomic_when_the_disk_fills(saved, tmp_path, monkeypatch):
    _, data = saved
    path = tmp_path / "m.pt"
    save_checkpoint(build_model("din", data.schema), path)
    before = path.read_bytes()

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(build_model("wdl", data.schema), path)
    assert path.read_bytes() == before  # the earlier checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # and no temporary file is left
    monkeypatch.undo()
    assert load_checkpoint(path).name == "din"


def _truncated(p):
    good = p.parent / "good.pt"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])


@pytest.mark.parametrize("make", [
    lambda p: _truncated(p),
    lambda p: p.write_bytes(b""),
    lambda p: torch.save({101: torch.zeros(2)}, p),  # was KeyError: 101
    lambda p: torch.save([1, 2], p),
    lambda p: p.write_text("user_id,item_id\n"),
], ids=["truncated", "empty", "foreign dict", "list", "text"])
def test_damaged_or_foreign_checkpoint_is_named(saved, tmp_path, make):
    (tmp_path / "good.pt").write_bytes(saved[0].read_bytes())
    path = tmp_path / "bad.pt"
    make(path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert msg.startswith(f"not a bst-teach checkpoint (or damaged): {path}")
    assert "\n" not in msg


def test_checkpoint_with_mismatched_weights_is_refused(saved, tmp_path):
    ck = torch.load(saved[0], weights_only=True)
    ck["state_dict"] = {k: torch.zeros(1) for k in ck["state_dict"]}
    torch.save(ck, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="not a bst-teach checkpoint"):
        load_checkpoint(tmp_path / "w.pt")


@pytest.mark.parametrize("name", ["bst", "din", "wdl"])
def test_history_longer_than_the_model_is_refused(tmp_path, name):
    short = make_synthetic(200, 100, 100, max_len=10, seed=0)
    longer = make_synthetic(200, 100, 100, max_len=30, seed=0)
    save_checkpoint(build_model(name, short.schema), tmp_path / "m.pt")
    model = load_checkpoint(tmp_path / "m.pt", data=short)  # fits
    np.testing.assert_array_equal(predict(model, short.tensors("test")).shape, (100,))
    with pytest.raises(CheckpointError, match=r"up to 30 behaviours.*max_len = 10"):
        load_checkpoint(tmp_path / "m.pt", data=longer)
    with pytest.raises(CheckpointError, match="max_len = 10"):
        check_compatible(model, longer.tensors("test"))


def test_data_with_other_vocabularies_is_refused(saved):
    model = load_checkpoint(saved[0])
    batch = dict(saved[1].tensors("test"))
    batch["target_item"] = batch["target_item"] + model.schema.n_items
    with pytest.raises(CheckpointError, match="target_item holds index"):
        check_compatible(model, batch)


@pytest.mark.parametrize("target, message", [
    (lambda d: d, "it is a folder"),
    (lambda d: d / "no" / "m.pt", "does not exist"),
    (lambda d: d / "log.csv" / "m.pt", "is not a folder"),
    (lambda d: d / "log.csv", "refusing to overwrite"),
])
def test_save_path_is_checked_first(tmp_path, target, message):
    (tmp_path / "log.csv").write_text("precious\n")
    with pytest.raises(CheckpointError, match=message):
        check_save_path(target(tmp_path))
    assert (tmp_path / "log.csv").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_an_earlier_checkpoint_may_be_replaced(saved):
    assert check_save_path(saved[0]) == saved[0]


# --- splits and history length, in the data layer -------------------------------------------------
def interactions(n=520, users=20, label=lambda i, n: i % 2, ts=lambda i: 1_700_000_000 + 60 * i):
    """Event i: user i % users at time ts(i); the longest history is n / users - 1."""
    events = pd.DataFrame({"user_id": [f"u{i % users}" for i in range(n)],
                           "item_id": [f"i{i % 13}" for i in range(n)],
                           "timestamp": np.array([ts(i) for i in range(n)], dtype=np.int64),
                           "label": [label(i, n) for i in range(n)]})
    items = pd.DataFrame({"item_id": [f"i{j}" for j in range(13)], "category": "c"})
    return Interactions("log", events, items, source="log.csv")


@pytest.mark.parametrize("kw, message", [
    (dict(ts=lambda i: 1_700_000_000), "training split is empty"),  # all events at one second
    (dict(label=lambda i, n: 1), "every one of the 520 events is positive"),
    (dict(label=lambda i, n: 0 if 0.8 * n <= i < 0.9 * n else i % 2),
     "every one of the 52 validation samples is negative"),
    (dict(label=lambda i, n: 1 if i >= 0.9 * n else i % 2),
     "every one of the 52 test samples is positive"),  # gave "test_auc": NaN after training
])
def test_bad_splits_fail_before_training(kw, message):
    with pytest.raises(DataError, match=message) as e:
        build_dataset(interactions(**kw))
    assert str(e.value).startswith("log.csv: ")


def test_max_len_is_capped_at_the_longest_history():
    raw = interactions()
    ds = build_dataset(raw, max_len=10_000)
    assert ds.schema.max_len == 25 == longest_history(raw.events.sort_values(
        ["user_id", "timestamp"]))
    assert ds.info["max_len_requested"] == 10_000
    assert ds.train.hist_item.shape[1] == 25 and ds.test.mask.sum(1).max() == 25
    same = build_dataset(raw, max_len=25)
    np.testing.assert_array_equal(ds.test.hist_item, same.test.hist_item)
    assert build_dataset(raw, max_len=10).schema.max_len == 10


def test_ties_do_not_count_as_history():
    # u0 has 3 events at one second and 1 later: its longest history is 3, not 3 + 2 ties
    ev = pd.DataFrame({"user_id": ["u0"] * 4, "timestamp": [5, 5, 5, 9]})
    assert longest_history(ev) == 3
    assert longest_history(ev.iloc[:3]) == 0


def test_too_many_history_slots_are_refused_with_an_estimate():
    raw = interactions(n=MAX_HISTORY_CELLS // 1000 + 2000, users=1)  # one long history
    with pytest.raises(DataError, match=r"need about [\d.]+ GB .*use a max_len of at most"):
        build_dataset(raw, max_len=1000)


def _digest(ds, exact=True) -> str:
    h = hashlib.sha256()
    for split in (ds.train, ds.val, ds.test):
        for name in ("sparse", "target_item", "target_cat", "hist_item", "hist_cat", "timestamp",
                     "user", "label"):
            h.update(np.ascontiguousarray(getattr(split, name)).tobytes())
        gap = split.hist_gap if exact else np.round(split.hist_gap, 3)
        h.update(np.ascontiguousarray(gap).tobytes())
    h.update(json.dumps(ds.schema.to_dict(), sort_keys=True).encode())
    return h.hexdigest()[:16]


def test_canonical_synthetic_data_is_unchanged():
    """The book's default synthetic data set, sample for sample (hist_gap to 1 ms, as its float
    math may differ in the last bit between CPUs)."""
    assert _digest(make_synthetic(), exact=False) == "bf2531e00d815eed"


def test_canonical_movielens_samples_are_unchanged():
    if not os.environ.get("BST_TEACH_ML100K"):
        pytest.skip("set BST_TEACH_ML100K to a copy of MovieLens 100K")
    from bst_teach.data import load_movielens
    assert _digest(build_dataset(load_movielens(), max_len=20)) == "8d25f0819879d568"


# --- the probe ------------------------------------------------------------------------------------
def test_probe_finds_no_bad_input():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "probe_bad_inputs.py")],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("tried ")]
    assert summary and ", bad 0" in summary[0], r.stdout[-3000:] + r.stderr[-2000:]
    assert int(summary[0].split()[1].rstrip(",")) >= 60


def test_checkpoint_permissions_follow_the_umask(saved, tmp_path):
    old = os.umask(0o022)
    try:
        save_checkpoint(load_checkpoint(saved[0]), tmp_path / "m.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
