"""MovieLens 100K: parsing the real files, leakage-free samples, and a safe download.

Needs a copy of MovieLens 100K named by the environment variable BST_TEACH_ML100K; the tests that
read it are skipped when the variable is unset.  Downloads go to a local HTTP server only.
"""
import http.server
import io
import os
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bst_teach.data import movielens
from bst_teach.data.errors import DataError
from bst_teach.data.movielens import (ML100K_MD5, default_data_dir, download_movielens,
                                      load_movielens, movielens_titles, verify_movielens)
from bst_teach.data.samples import build_dataset
from bst_teach.features import Vocabulary

MAX_LEN = 20


@pytest.fixture(scope="module")
def ml_dir():
    env = os.environ.get("BST_TEACH_ML100K")
    if not env:
        pytest.skip("set BST_TEACH_ML100K to a copy of MovieLens 100K")
    return Path(env)


@pytest.fixture(scope="module")
def ml(ml_dir):
    return load_movielens(ml_dir)


@pytest.fixture(scope="module")
def ml_dataset(ml):
    return build_dataset(ml, max_len=MAX_LEN)


# --- parsing ------------------------------------------------------------------------------------
def test_counts(ml):
    assert len(ml.events) == 100_000
    assert ml.events["user_id"].nunique() == len(ml.users) == 943
    assert ml.events["item_id"].nunique() == len(ml.items) == 1682
    assert ml.name == "ml-100k"


def test_columns_and_values(ml):
    ev = ml.events
    assert list(ev.columns) == ["user_id", "item_id", "timestamp", "rating", "label"]
    assert ev["timestamp"].dtype == np.int64
    assert ((ev["rating"] >= 4) == (ev["label"] == 1)).all()
    assert list(ml.items.columns) == ["item_id", "category", "release_decade"]
    assert list(ml.users.columns) == ["user_id", "gender", "age_bucket", "occupation", "zip_region"]

    items = ml.items.set_index("item_id")
    assert items.loc[1, "category"] == "Animation"  # Toy Story: Animation|Children's|Comedy
    assert items.loc[1, "release_decade"] == "1990s"
    assert items.loc[267, "release_decade"] == "unknown"  # the one movie without a date
    users = ml.users.set_index("user_id")
    assert users.loc[1].tolist() == ["M", "18-24", "technician", "8"]  # 1|24|M|technician|85711
    assert set(users["age_bucket"]) == {"<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"}
    assert "other" in set(users["zip_region"])  # Canadian postcodes start with a letter


def test_threshold(ml_dir):
    strict = load_movielens(ml_dir, positive_threshold=5)
    assert (strict.events["label"] == (strict.events["rating"] == 5)).all()


def test_titles(ml_dir):
    titles = movielens_titles(ml_dir).set_index("item_id")
    assert len(titles) == 1682
    assert titles.loc[1, "title"] == "Toy Story (1995)"
    assert titles.loc[1, "genres"] == "Animation|Children's|Comedy"


# --- samples built from it: no peeking at the future -------------------------------------------
def test_histories_are_strictly_earlier(ml_dataset):
    for split in ("train", "val", "test"):
        s = getattr(ml_dataset, split)
        assert (s.hist_gap[s.mask] > 0).all(), split
        assert (s.hist_gap[~s.mask] == 0).all(), split


def test_histories_match_raw_events(ml, ml_dataset):
    ds = ml_dataset
    items = Vocabulary(ds.info["items"])
    user_ids = sorted(ml.events["user_id"].unique())  # the sample's user index is 2 + rank
    samples = [ds.train, ds.val, ds.test]
    checked = 0
    for uid in (1, 13, 405, 655, 942):
        raw = ml.events[ml.events["user_id"] == uid].sort_values("timestamp", kind="stable")
        u = user_ids.index(uid) + 2
        for s in samples:
            for i in np.flatnonzero(s.user == u)[:40]:
                earlier = raw[raw["timestamp"] < s.timestamp[i]].tail(MAX_LEN)
                n = len(earlier)
                assert s.mask[i].sum() == n
                expected_items = items.encode(earlier["item_id"].tolist())
                assert s.hist_item[i, :n].tolist() == expected_items.tolist()
                gaps = s.timestamp[i] - earlier["timestamp"]
                assert s.hist_gap[i, :n].tolist() == gaps.tolist()
                checked += 1
    assert checked > 100


def test_split_is_chronological(ml_dataset):
    ds = ml_dataset
    assert len(ds.train) + len(ds.val) + len(ds.test) == 100_000
    later = np.concatenate([ds.val.timestamp, ds.test.timestamp])
    assert ds.train.timestamp.max() < later.min()
    assert ds.val.timestamp.max() <= ds.test.timestamp.min()


# --- where the files are, and what happens when they are not -------------------------------------
def test_default_dir_follows_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("BST_TEACH_ML100K", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("BST_TEACH_ML100K")
    assert default_data_dir() == Path(movielens.__file__).resolve().parents[2] / "data" / "ml-100k"


def test_missing_folder_says_how_to_get_it(tmp_path):
    where = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        load_movielens(where)
    assert str(where) in str(e.value)
    assert "download=True" in str(e.value) and "BST_TEACH_ML100K" in str(e.value)
    assert not where.exists()


def test_verify(ml_dir, tmp_path):
    verify_movielens(ml_dir)
    copy = _copy(ml_dir, tmp_path / "copy")
    (copy / "u.info").unlink()
    data = bytearray((copy / "u.data").read_bytes())
    data[100] ^= 1
    (copy / "u.data").write_bytes(bytes(data))
    with pytest.raises(DataError) as e:
        verify_movielens(copy)
    msg = str(e.value)
    assert "u.info is missing" in msg
    assert "u.data" in msg and ML100K_MD5["u.data"] in msg


# --- download, against a local server -----------------------------------------------------------
def _copy(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ML100K_MD5:
        shutil.copy(src / name, dest / name)
    return dest


def _zip(src: Path, path: Path, flip_in_u_data: bool = False) -> bytes:
    """The official layout: every file under ``ml-100k/``; optionally one byte of u.data changed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ML100K_MD5:
            data = bytearray((src / name).read_bytes())
            if flip_in_u_data and name == "u.data":
                data[1000] = ord("7") if data[1000] != ord("7") else ord("8")
            zf.writestr(f"ml-100k/{name}", bytes(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}  # path -> (mode, body); mode "ok" or "drop" (connection closed halfway)
    hits: list = []

    def do_GET(self):
        self.hits.append(self.path)
        if self.path not in self.routes:
            self.send_error(404)
            return
        mode, body = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(ml_dir, tmp_path_factory):
    """A local server with /good.zip, /bad-md5.zip, /bad-crc.zip and /drop.zip (404 otherwise)."""
    src = tmp_path_factory.mktemp("srv")
    good = _zip(ml_dir, src / "good.zip")
    bad_md5 = _zip(ml_dir, src / "bad-md5.zip", flip_in_u_data=True)
    bad_crc = bytearray(good)
    bad_crc[len(bad_crc) // 2] ^= 0xFF  # inside u.data's compressed bytes, the largest member
    _Handler.routes = {"/good.zip": ("ok", good), "/bad-md5.zip": ("ok", bad_md5),
                       "/bad-crc.zip": ("ok", bytes(bad_crc)), "/drop.zip": ("drop", good)}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh_hits():
    _Handler.hits = []


def test_download(server, tmp_path):
    dest = tmp_path / "dl" / "ml-100k"
    assert download_movielens(dest, url=f"{server}/good.zip", progress=False) == dest
    verify_movielens(dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(ML100K_MD5)
    assert [p.name for p in dest.parent.iterdir()] == ["ml-100k"]  # no temporary leftovers
    assert len(load_movielens(dest).events) == 100_000


@pytest.mark.parametrize("route, message", [
    ("/bad-md5.zip", "u.data has md5"),  # valid zip, one byte of u.data changed
    ("/bad-crc.zip", "not a valid zip"),  # one byte of the zip itself changed
    ("/drop.zip", "interrupted"),  # connection dropped halfway
    ("/missing.zip", "404"),
])
def test_failed_download_leaves_nothing(server, tmp_path, route, message):
    parent = tmp_path / "dl"
    parent.mkdir()
    with pytest.raises(DataError, match=message) as e:
        download_movielens(parent / "ml-100k", url=server + route, progress=False)
    if route == "/bad-md5.zip":
        assert ML100K_MD5["u.data"] in str(e.value)
    assert list(parent.iterdir()) == []


def test_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    def ctrl_c(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(movielens, "_extract", ctrl_c)
    parent = tmp_path / "dl"
    parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        download_movielens(parent / "ml-100k", url=f"{server}/good.zip", progress=False)
    assert list(parent.iterdir()) == []


def test_existing_folder_needs_no_network(ml_dir, tmp_path):
    dest = _copy(ml_dir, tmp_path / "ml-100k")
    assert download_movielens(dest, url="http://127.0.0.1:9/", progress=False) == dest
    assert len(load_movielens(dest, download=True).events) == 100_000


def test_existing_broken_folder_is_not_overwritten(ml_dir, tmp_path):
    dest = _copy(ml_dir, tmp_path / "ml-100k")
    (dest / "u.user").write_text("broken")
    with pytest.raises(DataError, match="Delete the folder"):
        download_movielens(dest, url="http://127.0.0.1:9/", progress=False)
    assert (dest / "u.user").read_text() == "broken"


def test_load_with_download(server, tmp_path, monkeypatch):
    hits = _Handler.hits
    real = movielens.download_movielens
    monkeypatch.setattr(movielens, "download_movielens",
                        lambda d: real(d, url=f"{server}/good.zip", progress=False))
    dest = tmp_path / "fresh" / "ml-100k"
    assert len(load_movielens(dest, download=True).events) == 100_000
    assert hits == ["/good.zip"]
    load_movielens(dest, download=True)  # already there: no second request
    assert hits == ["/good.zip"]


# --- every load checks the files; leftovers of killed downloads go ---------------------------------
def test_damaged_copy_is_refused_on_load(ml_dir, tmp_path):
    copy = _copy(ml_dir, tmp_path / "ml-100k")
    lines = (copy / "u.data").read_bytes().splitlines(keepends=True)
    (copy / "u.data").write_bytes(b"".join(lines[: len(lines) // 2]))  # trained to 0.677 before
    with pytest.raises(DataError, match=r"u\.data has md5 .* expected " + ML100K_MD5["u.data"]):
        load_movielens(copy)
    (copy / "u.data").write_bytes(b"".join(lines))
    assert len(load_movielens(copy).events) == 100_000


def test_edit_after_a_load_is_seen_in_the_same_process(ml_dir, tmp_path):
    copy = _copy(ml_dir, tmp_path / "ml-100k")
    load_movielens(copy)  # hashed once: the fast path remembers size, mtime and inode
    (copy / "u.genre").write_text("")  # gave "attempt to get argmax of an empty sequence"
    with pytest.raises(DataError, match=r"ml-100k: .*u\.genre has md5"):
        load_movielens(copy)


def test_loading_writes_nothing_into_the_folder(ml_dir, tmp_path):
    copy = _copy(ml_dir, tmp_path / "ml-100k")
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    load_movielens(copy)
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before


def test_download_verifies_an_existing_folder(ml_dir, tmp_path):
    copy = _copy(ml_dir, tmp_path / "ml-100k")
    with open(copy / "README", "ab") as f:  # a file load_movielens does not parse
        f.write(b" ")
    load_movielens(copy)  # loading checks only the parsed files
    with pytest.raises(DataError, match="README has md5.*Delete the folder"):
        load_movielens(copy, download=True)


def test_stale_part_folders_are_cleaned(server, tmp_path):
    parent = tmp_path / "dl"
    dead = parent / ".ml-100k.999999999.x1.part"  # no such process
    (dead / "ml-100k").mkdir(parents=True)
    old = parent / ".ml-100k.k2x9.part"  # an older version's name, two hours old
    old.mkdir()
    os.utime(old, (os.path.getmtime(old) - 7200,) * 2)
    live = parent / f".ml-100k.{os.getpid()}.x3.part"  # a download still running: kept
    live.mkdir()
    download_movielens(parent / "ml-100k", url=f"{server}/good.zip", progress=False)
    assert sorted(p.name for p in parent.iterdir()) == sorted(["ml-100k", live.name])
