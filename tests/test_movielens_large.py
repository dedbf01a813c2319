"""MovieLens 1M and 20M: parsing, checksums and an atomic download, on small archives made here
in the official layout (these machines have no network; the real md5s are swapped for the
md5s of the archives made here)."""
import hashlib
import io
import os
import zipfile

import pytest

from bst_teach.data import movielens
from bst_teach.data.errors import DataError
from bst_teach.data.movielens import (RELEASES, Release, download_movielens_archive,
                                      load_movielens_large)

ML1M = {
    "ratings.dat": "1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n"
                   "2::30::1::978300275\n",
    "movies.dat": "10::Toy Story (1995)::Animation|Children's|Comedy\n"
                  "20::Cit\xe9 des enfants perdus, La (1995)::Adventure|Sci-Fi\n"
                  "30::Nothing::(no genres listed)\n",
    "users.dat": "1::F::1::10::48067\n2::M::56::16::A0070\n",
}
ML20M = {
    "ratings.csv": "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,4.0,1112484676\n"
                   "2,2,2.5,1112484819\n",
    "movies.csv": 'movieId,title,genres\n2,Jumanji (1995),Adventure|Children|Fantasy\n'
                  '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",'
                  'Adventure|Drama\n',
}


def make_archive(folder, name, files, drop=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, text in files.items():
            if member != drop:
                zf.writestr(f"{name}/{member}",
                            text.encode("latin-1" if name == "ml-1m" else "utf-8"))
    (folder / f"{name}.zip").write_bytes(buf.getvalue())
    return buf.getvalue()


@pytest.fixture
def archives(tmp_path, monkeypatch):
    """ml-1m.zip and ml-20m.zip in tmp_path, registered with their own md5s."""
    for name, files in (("ml-1m", ML1M), ("ml-20m", ML20M)):
        body = make_archive(tmp_path, name, files)
        monkeypatch.setitem(RELEASES, name, Release(name, hashlib.md5(body).hexdigest(),
                                                    RELEASES[name].members))
    return tmp_path


def test_ml1m(archives):
    raw = load_movielens_large("ml-1m", archives)
    assert raw.events.columns.tolist() == ["user_id", "item_id", "timestamp", "rating", "label"]
    assert raw.events["label"].tolist() == [1, 0, 1, 0] and raw.events["timestamp"].dtype == "int64"
    assert raw.items["category"].tolist() == ["Animation", "Adventure", "unknown"]
    assert raw.items["release_decade"].tolist() == ["1990s", "1990s", "unknown"]
    assert raw.users["age_bucket"].tolist() == ["<18", "56+"]
    assert raw.users["zip_region"].tolist() == ["4", "other"]
    assert raw.name == "ml-1m" and raw.source == str(archives / "ml-1m.zip")


def test_ml20m(archives):
    raw = load_movielens_large("ml-20m", archives / "ml-20m.zip")  # the zip itself may be named
    assert raw.users is None and raw.events["rating"].tolist() == [3.5, 4.0, 2.5]
    assert raw.events["label"].tolist() == [0, 1, 0]
    assert raw.items["item_id"].tolist() == [2, 29]
    assert raw.items["category"].tolist() == ["Adventure", "Adventure"]
    assert load_movielens_large("ml-20m", archives, positive_threshold=2.5).events["label"].all()


def test_the_official_checksums_are_kept():
    assert RELEASES["ml-1m"].md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert RELEASES["ml-20m"].md5 == "cd245b17a1ae2cc31bb14903e1204af3"
    assert RELEASES["ml-1m"].url == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"


def test_a_changed_archive_is_refused(archives):
    make_archive(archives, "ml-1m", {**ML1M, "ratings.dat": ML1M["ratings.dat"] + "3::10::5::1\n"})
    with pytest.raises(DataError, match="has md5 .* expected") as e:
        load_movielens_large("ml-1m", archives)
    assert str(archives / "ml-1m.zip") in str(e.value)


def test_missing_archive_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="ml-20m.zip not found .* download=True"):
        load_movielens_large("ml-20m", tmp_path)
    with pytest.raises(DataError, match="unknown MovieLens release"):
        load_movielens_large("ml-10m", tmp_path)


def test_missing_member_and_bad_rows_name_the_file(tmp_path, monkeypatch):
    for files, drop, message in ((ML1M, "users.dat", "has no ml-1m/users.dat"),
                                 ({**ML1M, "ratings.dat": "1::10::x::978300760\n"}, None,
                                  "ml-1m/ratings.dat: could not parse")):
        body = make_archive(tmp_path, "ml-1m", files, drop=drop)
        monkeypatch.setitem(RELEASES, "ml-1m", Release("ml-1m", hashlib.md5(body).hexdigest(),
                                                       RELEASES["ml-1m"].members))
        with pytest.raises(DataError, match=message):
            load_movielens_large("ml-1m", tmp_path)


def serve_from(monkeypatch, body: bytes | None, fail_after: bool = False):
    """``_fetch`` writing ``body`` (no network), or raising Ctrl-C half-way."""
    def fetch(url, path, progress):
        path.write_bytes(body[: len(body) // 2] if fail_after else body)
        if fail_after:
            raise KeyboardInterrupt
    monkeypatch.setattr(movielens, "_fetch", fetch)


def test_download_is_verified_and_atomic(archives, tmp_path, monkeypatch):
    body = (archives / "ml-1m.zip").read_bytes()
    dest = tmp_path / "dl"
    serve_from(monkeypatch, body)
    assert download_movielens_archive("ml-1m", dest, progress=False) == dest / "ml-1m.zip"
    assert [p.name for p in dest.iterdir()] == ["ml-1m.zip"]
    assert len(load_movielens_large("ml-1m", dest).events) == 4
    serve_from(monkeypatch, None)  # an archive already there needs no network
    assert load_movielens_large("ml-1m", dest, download=True).name == "ml-1m"


@pytest.mark.parametrize("damage", ["checksum", "ctrl-c"])
def test_failed_download_leaves_nothing(archives, tmp_path, monkeypatch, damage):
    body = (archives / "ml-1m.zip").read_bytes()
    dest = tmp_path / "dl"
    serve_from(monkeypatch, body[:-1] + b"x" if damage == "checksum" else body,
               fail_after=damage == "ctrl-c")
    with pytest.raises(DataError if damage == "checksum" else KeyboardInterrupt) as e:
        download_movielens_archive("ml-1m", dest, progress=False)
    if damage == "checksum":
        assert "corrupted" in str(e.value) and RELEASES["ml-1m"].md5 in str(e.value)
    assert list(dest.iterdir()) == []


def test_stale_part_files_are_cleaned(archives, tmp_path, monkeypatch):
    dest = tmp_path / "dl"
    dest.mkdir()
    stale = dest / ".ml-1m.zip.999999999.abc.part"  # no such process
    stale.write_bytes(b"half")
    serve_from(monkeypatch, (archives / "ml-1m.zip").read_bytes())
    download_movielens_archive("ml-1m", dest, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == ["ml-1m.zip"]


def test_default_folder_follows_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("BST_TEACH_MOVIELENS", str(tmp_path))
    assert movielens.default_archive_dir() == tmp_path
    monkeypatch.delenv("BST_TEACH_MOVIELENS")
    assert movielens.default_archive_dir().name == "data"
    assert os.path.isabs(movielens.default_archive_dir())


def test_load_dataset_and_the_command_line(tmp_path, monkeypatch, capsys):
    """600 ratings in the 1M layout: ``load_dataset("ml-1m")`` gives the in-memory builder's
    samples, and ``train`` / ``evaluate --data ml-1m`` run on them."""
    import json

    from bst_teach import __main__ as cli_main
    from bst_teach.data import build_dataset, load_dataset
    from bst_teach.experiments import data_fingerprint
    ratings = "".join(f"{1 + i % 30}::{10 * (1 + i % 3)}::{1 + (i * 7) % 5}::{978300000 + 60 * i}\n"
                      for i in range(600))
    body = make_archive(tmp_path, "ml-1m", {**ML1M, "ratings.dat": ratings,
                                            "users.dat": "".join(f"{u}::F::25::3::1{u:04d}\n"
                                                                 for u in range(1, 31))})
    monkeypatch.setitem(RELEASES, "ml-1m", Release("ml-1m", hashlib.md5(body).hexdigest(),
                                                   RELEASES["ml-1m"].members))
    data = load_dataset("ml-1m", data_dir=tmp_path, max_len=8)
    expected = build_dataset(load_movielens_large("ml-1m", tmp_path), max_len=8)
    assert data_fingerprint(data) == data_fingerprint(expected) and len(data.train) == 480
    ckpt = tmp_path / "m.pt"
    args = ["--data", "ml-1m", "--data-dir", str(tmp_path), "--json"]
    assert cli_main.main(["train", *args, "--model", "wdl", "--epochs", "1", "--max-len", "8",
                          "--save", str(ckpt)]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert cli_main.main(["evaluate", "--checkpoint", str(ckpt), *args]) == 0
    assert json.loads(capsys.readouterr().out)["test_auc"] == trained["test_auc"]


@pytest.mark.parametrize("name", ["ml-1m", "ml-20m"])
def test_shards_of_the_archive_hold_the_chunked_builders_samples(tmp_path, monkeypatch, capsys,
                                                                name):
    """--stream on MovieLens: the shards (20M's ratings streamed from the zip in chunks of 97)
    hold the samples of build_dataset_chunked(load_movielens_large(...)), array by array."""
    from dataclasses import fields

    import numpy as np

    from bst_teach.data.samples import Samples, build_dataset_chunked
    from bst_teach.data.stream import build_movielens_shards
    n = 900
    if name == "ml-1m":
        ratings = "".join(f"{1 + i % 40}::{10 * (1 + i % 3)}::{1 + (i * 7) % 5}::"
                          f"{978300000 + 600 * (i // 3)}\n" for i in range(n))
        files = {**ML1M, "ratings.dat": ratings,
                 "users.dat": "".join(f"{u}::{'FM'[u % 2]}::25::3::1{u:04d}\n"
                                      for u in range(1, 36))}  # users 36-40 have no profile
    else:
        ratings = "userId,movieId,rating,timestamp\n" + "".join(
            f"{1 + i % 40},{(2, 29, 31)[i % 3]},{0.5 + (i * 7) % 10 / 2},{1112480000 + 600 * (i // 3)}\n"
            for i in range(n))
        files = {**ML20M, "ratings.csv": ratings}  # movie 31 is not in movies.csv
    body = make_archive(tmp_path, name, files)
    monkeypatch.setitem(RELEASES, name, Release(name, hashlib.md5(body).hexdigest(),
                                                RELEASES[name].members))
    monkeypatch.setattr("bst_teach.data.stream.RELEASE_EVENTS", {name: n})
    expected = build_dataset_chunked(load_movielens_large(name, tmp_path), max_len=8)
    data = build_movielens_shards(name, tmp_path, folder=tmp_path / "shards", max_len=8,
                                  shard_rows=200, chunk_rows=97, progress=False)
    assert len(data) == 5 and data.schema == expected.schema
    for split in ("train", "val", "test"):
        parts = [data.samples(i, split) for i in range(len(data))]
        got = Samples(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                         for f in fields(Samples)})
        got = got.subset(np.lexsort((got.user, got.timestamp)))
        want = getattr(expected, split)
        for f in fields(Samples):
            assert np.array_equal(getattr(got, f.name), getattr(want, f.name)), (split, f.name)
    if name == "ml-1m":  # and the command line trains and evaluates from them
        import json

        from bst_teach import __main__ as cli_main
        args = ["--data", name, "--data-dir", str(tmp_path), "--stream", "--shard-dir",
                str(tmp_path / "shards"), "--json"]
        assert cli_main.main(["train", *args, "--model", "wdl", "--epochs", "1", "--max-len",
                              "8", "--save", str(tmp_path / "m.pt")]) == 0
        trained = json.loads(capsys.readouterr().out)
        assert trained["stream"] and trained["n_train"] == len(expected.train)
        assert cli_main.main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), *args]) == 0
        assert json.loads(capsys.readouterr().out)["test_auc"] == trained["test_auc"]
