"""Shards on disk (bst_teach.data.stream) give build_dataset's samples, in bounded memory."""
import json
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from bst_teach.data import DataError, build_dataset, load_csv
from bst_teach.data.samples import Samples
from bst_teach.__main__ import main
from bst_teach.data.stream import RAW, ShardedDataset, _kth_timestamp, build_shards
from bst_teach.streaming import evaluate_sharded, fit_sharded
from bst_teach.train import TrainConfig, evaluate


def write_log(folder, n=3000, n_users=60, seed=0, label=True, signal=False):
    """interactions / items / users CSVs: tied timestamps, users of one to hundreds of events,
    items the items file lacks, an extra item column, users without a profile.  ``signal``:
    even items are clicked 90% of the time, odd ones 10%."""
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.6, n) % n_users
    ev = pd.DataFrame({"user_id": [f"u{u}" for u in users], "item_id": rng.integers(0, 90, n),
                       "timestamp": 1_600_000_000 + rng.integers(0, 400, n) * 3600})
    if label:
        ev["label"] = rng.integers(0, 2, n)
    if signal:
        ev["label"] = ((ev["item_id"] % 2 == 0) ^ (rng.random(n) < 0.1)).astype(int)
    paths = {k: folder / f"{k}.csv" for k in ("interactions", "items", "users")}
    ev.to_csv(paths["interactions"], index=False)
    pd.DataFrame({"item_id": np.arange(80), "category": [f"c{i % 7}" for i in range(80)],
                  "brand": [f"b{i % 5}" for i in range(80)]}).to_csv(paths["items"], index=False)
    pd.DataFrame({"user_id": [f"u{u}" for u in range(0, n_users, 2)],
                  "gender": ["F", "M"] * (n_users // 4), "age": "25-34"}).to_csv(
        paths["users"], index=False)
    return paths


def joined(data: ShardedDataset, split: str) -> Samples:
    """Every shard's samples of ``split`` in build_dataset's order (time, then user)."""
    parts = [data.samples(i, split) for i in range(len(data))]
    s = Samples(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                   for f in fields(Samples)})
    return s.subset(np.lexsort((s.user, s.timestamp)))


@pytest.mark.parametrize("shard_rows,chunk_rows", [(400, 250), (10**6, 10**6)])
@pytest.mark.parametrize("max_len,scheme", [(20, "calendar"), (3, "log"), (10_000, "calendar")])
def test_shards_hold_build_datasets_samples(tmp_path, shard_rows, chunk_rows, max_len, scheme):
    paths = write_log(tmp_path)
    expected = build_dataset(load_csv(**paths), max_len=max_len, time_scheme=scheme)
    data = build_shards(**paths, folder=tmp_path / "shards", max_len=max_len,
                        time_scheme=scheme, shard_rows=shard_rows, chunk_rows=chunk_rows,
                        progress=False)
    assert (len(data) > 1) == (shard_rows == 400)
    assert data.schema == expected.schema and data.time_scheme == scheme
    assert {k: data.info[k] for k in ("t_val", "t_test", "max_len_requested")} == {
        k: expected.info[k] for k in ("t_val", "t_test", "max_len_requested")}
    for split in ("train", "val", "test"):
        got, want = joined(data, split), getattr(expected, split)
        assert data.n_samples(split) == len(want)
        for f in fields(Samples):
            u, v = getattr(got, f.name), getattr(want, f.name)
            assert u.dtype == v.dtype and u.shape == v.shape, (split, f.name)
            assert np.array_equal(u, v), (split, f.name)


def test_shards_are_reused_and_rebuilt_when_the_file_changes(tmp_path):
    paths = write_log(tmp_path)
    build = dict(folder=tmp_path / "shards", shard_rows=500, progress=False)
    first = build_shards(**paths, **build)
    stamp = (tmp_path / "shards" / "manifest.json").stat().st_mtime_ns
    again = build_shards(**paths, **build)
    assert again.shards == first.shards
    assert (tmp_path / "shards" / "manifest.json").stat().st_mtime_ns == stamp
    write_log(tmp_path, n=2000, seed=1)
    rebuilt = build_shards(**paths, **build)
    assert rebuilt.n_samples("train") + rebuilt.n_samples("val") + rebuilt.n_samples("test") \
        == 2000


def test_a_bad_value_in_a_later_chunk_names_its_line_and_leaves_no_shards(tmp_path):
    paths = write_log(tmp_path)
    lines = paths["interactions"].read_text().splitlines()
    lines[2500] = lines[2500].rsplit(",", 2)[0] + ",soon,1"  # line 2501: timestamp 'soon'
    paths["interactions"].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        build_shards(**paths, folder=tmp_path / "shards", chunk_rows=300, progress=False)
    assert (e.value.line, e.value.column, e.value.value) == (2501, "timestamp", "soon")
    assert str(e.value) == str(pytest.raises(DataError, load_csv, **paths).value)
    assert list(tmp_path.glob("*shards*")) == []  # nothing half-built left behind


def test_a_long_line_is_reported_after_an_earlier_bad_value(tmp_path):
    paths = write_log(tmp_path)
    lines = paths["interactions"].read_text().splitlines()
    lines[1000] = lines[1000].rsplit(",", 1)[0] + ",7"  # line 1001: label 7
    lines[1100] += ",extra"  # line 1101: five fields
    paths["interactions"].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        build_shards(**paths, folder=tmp_path / "s", chunk_rows=300, progress=False)
    assert (e.value.line, e.value.column) == (1001, "label")
    lines[1000] = lines[1001]
    paths["interactions"].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 1101: expected 4 fields like the header, found 5"):
        build_shards(**paths, folder=tmp_path / "s", chunk_rows=300, progress=False)


def test_a_log_without_labels_is_refused_with_the_reason(tmp_path):
    paths = write_log(tmp_path, label=False)
    with pytest.raises(DataError, match="no 'label'.*sampled negatives"):
        build_shards(paths["interactions"], folder=tmp_path / "s", progress=False)


def test_kth_timestamp_is_the_sorted_value(tmp_path):
    rng = np.random.default_rng(3)
    ts = np.concatenate([rng.integers(0, 10**9, 5000), np.full(300, 123_456_789)])
    files = []
    for i, part in enumerate(np.array_split(rng.permutation(ts), 3)):
        rec = np.zeros(len(part), RAW)
        rec["timestamp"] = part
        files.append(tmp_path / f"{i}.bin")
        rec.tofile(files[-1])
    for k in (0, 1, 2650, 2651, len(ts) - 1):
        assert _kth_timestamp(files, k, int(ts.min()), int(ts.max())) == np.sort(ts)[k]


def test_training_from_shards_learns_and_scores_as_the_in_memory_evaluation(tmp_path):
    paths = write_log(tmp_path, n=6000, n_users=120, signal=True)
    data = build_shards(**paths, folder=tmp_path / "shards", shard_rows=1500, progress=False)
    assert len(data) >= 3
    result = fit_sharded("din", data, TrainConfig(epochs=3, progress=False, seed=1))
    assert result.test_auc > 0.8  # the planted rule: AUC 0.9 at best
    assert [row["epoch"] for row in result.history] == list(range(1, len(result.history) + 1))
    memory = build_dataset(load_csv(**paths))
    for split in ("val", "test"):
        want = evaluate(result.model, memory.tensors(split), users=getattr(memory, split).user)
        got = evaluate_sharded(result.model, data, split)
        for k in ("auc", "logloss", "gauc"):
            assert got[k] == pytest.approx(want[k], abs=1e-6), (split, k)
        assert got["gauc_users"] == want["gauc_users"]
    again = fit_sharded("din", data, TrainConfig(epochs=3, progress=False, seed=1))
    assert again.test_auc == result.test_auc  # seeded


def test_cli_trains_from_shards_and_evaluates_the_checkpoint(tmp_path, capsys):
    paths = write_log(tmp_path, n=4000, signal=True)
    data = ["--data", "csv", "--interactions", str(paths["interactions"]), "--items",
            str(paths["items"]), "--stream", "--shard-dir", str(tmp_path / "shards")]
    assert main(["train", *data, "--model", "wdl", "--epochs", "2", "--json",
                 "--save", str(tmp_path / "m.pt")]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["stream"] and trained["shards"] >= 1 and trained["n_train"] > 0
    assert main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), *data, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["test_auc"] == trained["test_auc"] and scored["n_test"] == trained["n_test"]


@pytest.mark.parametrize("extra,message", [
    (["--negatives", "2"], "--negatives needs the data in memory"),
    (["--shuffle-test"], "--shuffle-test needs the data in memory"),
])
def test_cli_refuses_what_streaming_cannot_do(tmp_path, capsys, extra, message):
    paths = write_log(tmp_path)
    assert main(["train", "--data", "csv", "--interactions", str(paths["interactions"]),
                 "--stream", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "shards").exists()


def test_cli_refuses_a_shard_dir_without_stream(capsys):
    assert main(["train", "--data", "csv", "--interactions", "x.csv", "--shard-dir", "s"]) == 2
    assert "--shard-dir applies with --stream only" in capsys.readouterr().err
