"""Probe: bad and edge inputs to the command line, the loaders and the checkpoints.

    .venv/bin/python bench/probe_bad_inputs.py [-v] [--only SUBSTRING]

Every case runs in this process (``bst_teach.__main__.main(argv)`` with stdout and stderr
captured, or a direct call of the library) inside a fresh temporary folder.  A case is *clean*
when

* it expects an error: the exit code is non-zero and stderr is exactly one line ``error: ...``
  holding the expected words (a library call raises a ValueError whose message is one line);
* it expects a result: the exit code is 0, the JSON report parses without NaN or Infinity and
  passes the case's own check (the documented sensible result);
* in both: no exception escapes (no traceback), no file that existed before is changed or
  removed (except the ``--save`` target of a successful run) and no stray file is left behind.

Anything else is *bad*.  Prints one line per case and the counts ``tried / clean / bad``.  The
MovieLens cases need ``BST_TEACH_ML100K`` (they are skipped otherwise).  Tiny CSVs and
``--epochs 1`` keep the whole probe to about a minute on a busy 2-core machine.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

torch.set_num_threads(1)

from bst_teach.__main__ import main  # noqa: E402
from bst_teach.checkpoint import (CheckpointError, check_compatible, load_checkpoint,  # noqa: E402
                                  save_checkpoint)
from bst_teach.data import build_dataset, load_csv, movielens  # noqa: E402
from bst_teach.data.movielens import ML100K_MD5, download_movielens  # noqa: E402
from bst_teach.models import build_model  # noqa: E402

ML = os.environ.get("BST_TEACH_ML100K")
HEADER = "user_id,item_id,timestamp,label\n"
T0 = 1_700_000_000


def log_rows(n=520, users=20, labels=None, ts=None):
    """Event i: user i % users, item i % 13, time T0 + 60 i, label i % 2 (both classes in every
    split); the longest history is n / users - 1 (25 for the defaults)."""
    rows = []
    for i in range(n):
        y = (i % 2) if labels is None else labels(i, n)
        t = (T0 + 60 * i) if ts is None else ts(i)
        rows.append(f"u{i % users},i{i % 13},{t},{y}\n")
    return HEADER + "".join(rows)


def ratings(n=520, users=20):
    return "user_id,item_id,timestamp,rating\n" + "".join(
        f"u{i % users},i{i % 13},{T0 + 60 * i},{1 + i % 5}\n" for i in range(n))


@dataclass
class Case:
    kind: str  # class of the issue
    name: str
    files: dict = field(default_factory=dict)  # name -> str | bytes, written before the case
    argv: list | None = None  # CLI run: "{d}" is replaced by the case folder
    call: object = None  # or a function(folder) -> None for a library case
    expect: str = "error"  # "error", "ok" or "either"
    words: tuple = ()  # expected in the error message
    check: object = None  # function(report, folder) -> problem or None, for "ok"
    may_change: tuple = ()  # files a successful run may write
    needs_ml: bool = False
    setup: object = None  # function(folder) run after writing files


def good_checkpoint(d: Path, name="good.pt", max_len=20):
    from bst_teach.data.synthetic import make_synthetic
    data = make_synthetic(200, 100, 100, max_len=max_len, seed=0)
    save_checkpoint(build_model("bst", data.schema), d / name)
    return data


def expect_raises(fn, *words):
    """Run fn; it must raise a ValueError (DataError, CheckpointError) with a one-line message
    holding every word.  Returns the message."""
    try:
        fn()
    except ValueError as e:
        msg = str(e)
        if "\n" in msg:
            raise AssertionError(f"message spans lines: {msg!r}")
        missing = [w for w in words if w not in msg]
        if missing:
            raise AssertionError(f"message lacks {missing}: {msg!r}")
        return msg
    raise AssertionError("no error raised")


# --- library cases -----------------------------------------------------------------------------
def ckpt_truncated(d):
    good_checkpoint(d, "t.pt")
    raw = (d / "t.pt").read_bytes()
    (d / "t.pt").write_bytes(raw[: len(raw) // 2])
    expect_raises(lambda: load_checkpoint(d / "t.pt"), "not a bst-teach checkpoint", "t.pt")


def ckpt_empty(d):
    (d / "e.pt").write_bytes(b"")
    expect_raises(lambda: load_checkpoint(d / "e.pt"), "not a bst-teach checkpoint", "e.pt")


def ckpt_foreign(d):
    torch.save({101: torch.zeros(3)}, d / "f.pt")
    expect_raises(lambda: load_checkpoint(d / "f.pt"), "not a bst-teach checkpoint", "f.pt")


def ckpt_list(d):
    torch.save([1, 2, 3], d / "l.pt")
    expect_raises(lambda: load_checkpoint(d / "l.pt"), "not a bst-teach checkpoint")


def ckpt_text(d):
    (d / "x.pt").write_text("hello\n")
    expect_raises(lambda: load_checkpoint(d / "x.pt"), "not a bst-teach checkpoint")


def ckpt_zip(d):
    with zipfile.ZipFile(d / "z.pt", "w") as zf:
        zf.writestr("a.txt", "not torch")
    expect_raises(lambda: load_checkpoint(d / "z.pt"), "not a bst-teach checkpoint")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def ckpt_malicious(d):
    with open(d / "m.pt", "wb") as f:
        pickle.dump(_Evil(), f)
    expect_raises(lambda: load_checkpoint(d / "m.pt"), "not a bst-teach checkpoint")
    assert not (d / "pwned").exists() and not Path("pwned").exists(), "the pickle ran code"


def ckpt_missing(d):
    expect_raises(lambda: load_checkpoint(d / "none.pt"), "not found", "none.pt")


def ckpt_folder(d):
    expect_raises(lambda: load_checkpoint(d), "folder")


def ckpt_wrong_shapes(d):
    good_checkpoint(d, "w.pt")
    ck = torch.load(d / "w.pt", weights_only=True)
    key = next(iter(ck["state_dict"]))
    ck["state_dict"][key] = torch.zeros(1)
    torch.save(ck, d / "w.pt")
    expect_raises(lambda: load_checkpoint(d / "w.pt"), "not a bst-teach checkpoint")


def ckpt_unknown_model(d):
    good_checkpoint(d, "u.pt")
    ck = torch.load(d / "u.pt", weights_only=True)
    ck["model"] = "gru"
    torch.save(ck, d / "u.pt")
    expect_raises(lambda: load_checkpoint(d / "u.pt"), "unknown model", "'gru'")


def _long_history(name):
    def case(d):
        from bst_teach.data.synthetic import make_synthetic
        short = make_synthetic(200, 100, 100, max_len=10, seed=0)
        save_checkpoint(build_model(name, short.schema), d / "m.pt")
        long = make_synthetic(200, 100, 100, max_len=30, seed=0)
        expect_raises(lambda: load_checkpoint(d / "m.pt", data=long), "max_len = 10")
        model = load_checkpoint(d / "m.pt")
        expect_raises(lambda: check_compatible(model, long.tensors("test")), "max_len = 10")
    return case


def ckpt_disk_full(d):
    """A save that fails part-way leaves the earlier checkpoint as it was, and no temp file."""
    data = good_checkpoint(d, "keep.pt")
    before = (d / "keep.pt").read_bytes()
    real = torch.save

    def full(obj, f, *a, **k):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")
    torch.save = full
    try:
        save_checkpoint(build_model("wdl", data.schema), d / "keep.pt")
    except OSError:
        pass
    else:
        raise AssertionError("no error")
    finally:
        torch.save = real
    assert (d / "keep.pt").read_bytes() == before, "the earlier checkpoint changed"
    assert [p.name for p in d.iterdir()] == ["keep.pt"], f"left behind: {list(d.iterdir())}"
    load_checkpoint(d / "keep.pt")


def ml_copy(d: Path) -> Path:
    dest = d / "ml-100k"
    dest.mkdir()
    for n in ML100K_MD5:
        shutil.copy(Path(ML) / n, dest / n)
    return dest


def ml_stale_part(d):
    """A killed download's .part folder is removed by the next download."""
    stale = d / ".ml-100k.999999.abc.part"  # process 999999 is not running
    (stale / "ml-100k").mkdir(parents=True)
    (stale / "ml-100k.zip").write_bytes(b"half a zip")
    old = d / ".ml-100k.oldstyle.part"  # name from an older version, over an hour old
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in ML100K_MD5:
            zf.write(Path(ML) / n, f"ml-100k/{n}")
    body = buf.getvalue()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        download_movielens(d / "ml-100k", url=f"http://127.0.0.1:{srv.server_address[1]}/z",
                           progress=False)
    finally:
        srv.shutdown()
        srv.server_close()
    left = sorted(p.name for p in d.iterdir())
    assert left == ["ml-100k"], f"left behind: {left}"


def ml_download_verifies(d):
    dest = ml_copy(d)
    with open(dest / "README", "a") as f:
        f.write("x")
    expect_raises(lambda: download_movielens(dest, url="http://127.0.0.1:9/", progress=False),
                  "README", "Delete the folder")


def ml_duplicate_rows(d):
    dest = ml_copy(d)
    text = (dest / "u.item").read_bytes()
    (dest / "u.item").write_bytes(text + text.splitlines(keepends=True)[0])
    expect_raises(lambda: movielens.load_movielens(dest), "u.item", "md5")


def ml_negative_rating(d):
    dest = ml_copy(d)
    (dest / "u.data").write_bytes((dest / "u.data").read_bytes().replace(b"\t3\t", b"\t-3\t", 1))
    expect_raises(lambda: movielens.load_movielens(dest), "u.data", "md5")


def lib_build_bad_max_len(d):
    raw = load_csv(d / "log.csv")
    expect_raises(lambda: build_dataset(raw, max_len=0), "max_len")


def lib_exact_timestamps(d):
    raw = load_csv(d / "log.csv")
    got = raw.events["timestamp"].tolist()
    assert got == [T0 + 60 * i + 1 for i in range(520)][: len(got)] and len(got) == 520, \
        "timestamps changed on reading"


def lib_time_of_fraction(d):
    raw = load_csv(d / "frac.csv")
    assert raw.events["timestamp"].tolist()[:2] == [1699999999, 1700000000], \
        raw.events["timestamp"].tolist()[:2]


# --- checks for "ok" CLI runs -----------------------------------------------------------------
def capped_at(n):
    def check(report, d):
        if report.get("max_len") != n:
            return f"max_len {report.get('max_len')}, expected {n}"
    return check


def saved(name):
    def check(report, d):
        try:
            load_checkpoint(d / name)
        except Exception as e:  # noqa: BLE001
            return f"checkpoint does not load: {e}"
    return check


def cases() -> list[Case]:
    log = {"log.csv": log_rows()}
    tr = ["train", "--epochs", "1", "--json"]
    csv = tr + ["--data", "csv", "--interactions", "{d}/log.csv"]
    out = []
    add = out.append
    # --- arguments (refused before any work) ------------------------------------------------
    for args, words in [
        (["--model", "gru"], ("invalid choice",)), (["--epochs", "0"], ("positive integer",)),
        (["--epochs", "-1"], ("positive integer",)), (["--epochs", "abc"], ("'abc'",)),
        (["--max-len", "0"], ("positive integer",)), (["--max-len", "5"], ("max_len >= 8",)),
        (["--max-len", "10000"], ("GB", "at most")), (["--lr", "inf"], ("--lr",)),
        (["--lr", "nan"], ("--lr",)), (["--lr", "-1"], ("--lr",)), (["--lr", "0"], ("--lr",)),
        (["--lr", "abc"], ("--lr",)), (["--batch-size", "0"], ("positive integer",)),
        (["--seed", "-1"], ("--seed",)), (["--seed", str(2 ** 40)], ("--seed",)),
        (["--data-seed", "-5"], ("--data-seed",)), (["--heads", "3"], ("--heads", "32")),
        (["--heads", "0"], ("positive integer",)), (["--blocks", "100"], ("--blocks",)),
        (["--threads", "100000"], ("--threads",)), (["--patience", "0"], ("positive",)),
        (["--model", "wdl", "--blocks", "2"], ("--blocks", "bst")),
        (["--model", "din", "--position", "none"], ("--position",)),
        (["--model", "bst", "--din-time"], ("--din-time",)),
        (["--interactions", "/nonexistent/log.csv"], ("--interactions", "synthetic")),
        (["--positive-threshold", "4"], ("--positive-threshold",)),
        (["--data-dir", "/nonexistent"], ("--data-dir",)), (["--download"], ("--download",)),
        (["--data", "csv"], ("--interactions",)), (["--foo"], ("unrecognized",)),
        (["--data", "ml-100k", "--items", "x.csv"], ("--items",)),
    ]:
        add(Case("arguments", " ".join(args), argv=tr + args, words=words))
    add(Case("arguments", "csv --data-seed", log, argv=csv + ["--data-seed", "3"],
             words=("--data-seed",)))
    add(Case("arguments", "csv --positive-threshold nan", log,
             argv=csv + ["--positive-threshold", "nan"], words=("--positive-threshold",)))
    # --- output paths (checked before training) -------------------------------------------
    add(Case("save path", "--save to a folder", log, argv=csv + ["--save", "{d}"],
             words=("folder",)))
    add(Case("save path", "--save into a missing folder", log,
             argv=csv + ["--save", "{d}/no/such/m.pt"], words=("does not exist",)))
    add(Case("save path", "--save under a file", log, argv=csv + ["--save", "{d}/log.csv/m.pt"],
             words=("not a folder",)))
    add(Case("save path", "--save over the interactions file", log,
             argv=csv + ["--save", "{d}/log.csv"], words=("refusing to overwrite",)))
    add(Case("save path", "--save ''", log, argv=csv + ["--save", ""], words=("file name",)))
    add(Case("save path", "--save into /proc (unwritable even for root)", log,
             argv=csv + ["--save", "/proc/bst-probe.pt"], words=("/proc",)))
    add(Case("save path", "--save over an earlier checkpoint (replaced)", log,
             argv=csv + ["--model", "wdl", "--save", "{d}/good.pt"], expect="ok",
             setup=lambda d: good_checkpoint(d), may_change=("good.pt",), check=saved("good.pt")))
    add(Case("save path", "--save a new file", log, argv=csv + ["--save", "{d}/new.pt"],
             expect="ok", may_change=("new.pt",), check=saved("new.pt")))
    # --- splits ---------------------------------------------------------------------------
    add(Case("splits", "all events at one second", {"log.csv": log_rows(ts=lambda i: T0)},
             argv=csv, words=("split is empty", "log.csv")))
    add(Case("splits", "every label 1", {"log.csv": log_rows(labels=lambda i, n: 1)}, argv=csv,
             words=("positive", "log.csv")))
    add(Case("splits", "validation split one class",
             {"log.csv": log_rows(labels=lambda i, n: 0 if 0.8 * n <= i < 0.9 * n else i % 2)},
             argv=csv, words=("validation", "negative")))
    add(Case("splits", "test split one class (NaN AUC before)",
             {"log.csv": log_rows(labels=lambda i, n: 1 if i >= 0.9 * n else i % 2)},
             argv=csv, words=("test", "positive")))
    add(Case("splits", "one event", {"log.csv": HEADER + "u1,i1,5,1\n"}, argv=csv,
             words=("log.csv",)))
    add(Case("splits", "ratings, threshold above every rating", {"r.csv": ratings()},
             argv=tr + ["--data", "csv", "--interactions", "{d}/r.csv",
                        "--positive-threshold", "6"], words=("negative", "threshold")))
    add(Case("splits", "ml-100k --positive-threshold 6 (fails fast)",
             argv=tr + ["--data", "ml-100k", "--positive-threshold", "6"],
             words=("negative", "threshold"), needs_ml=True))
    # --- CSV content ----------------------------------------------------------------------
    for name, text, words in [
        ("empty file", "", ("empty",)), ("header only", HEADER, ("no events",)),
        ("ragged line", HEADER + "u1,i1,1,1\nu1,i2,2,1,9\n", ("line 3", "fields")),
        ("short line", HEADER + "u1,i1,1,1\nu1,i2\n", ("line 3", "fields")),
        ("timestamp text", HEADER + "u1,i1,1,1\nu1,i2,abc,0\n", ("line 3", "'abc'")),
        ("negative timestamp", HEADER + "u1,i1,-5,1\n", ("line 2", "negative")),
        ("millisecond timestamps", HEADER + "u1,i1,1700000000000,1\n", ("milliseconds",)),
        ("timestamp above 2^53", HEADER + f"u1,i1,{2 ** 53 + 1},1\n", ("line 2", "timestamp")),
        ("timestamp inf", HEADER + "u1,i1,inf,1\n", ("line 2", "'inf'")),
        ("label 2", HEADER + "u1,i1,1,2\n", ("line 2", "'2'")),
        ("label empty", HEADER + "u1,i1,1,\n", ("line 2", "label")),
        ("header twice", "user_id,item_id,timestamp,label,label\nu1,i1,1,1,1\n", ("twice",)),
        ("unclosed quote", HEADER + 'u1,"i1,1,1\n', ("never closed",)),
        ("missing columns", "user,item,when,label\nu1,i1,1,1\n", ("'user_id'",)),
        ("rating without threshold", "user_id,item_id,timestamp,rating\nu1,i1,1,4\n",
         ("--positive-threshold",)),
    ]:
        add(Case("csv content", name, {"log.csv": text}, argv=csv, words=words + ("log.csv",)))
    add(Case("csv content", "not UTF-8", {"log.csv": HEADER.encode() + b"u1,\xff\xfe,1,1\n"},
             argv=csv, words=("UTF-8",)))
    add(Case("csv content", "binary garbage", {"log.csv": bytes(range(256)) * 4}, argv=csv,
             words=("log.csv",)))
    add(Case("csv content", "a folder as --interactions", argv=tr + [
        "--data", "csv", "--interactions", "{d}"], words=("folder",)))
    add(Case("csv content", "missing --items file", log, argv=csv + ["--items", "{d}/no.csv"],
             words=("no.csv", "not found")))
    add(Case("csv content", "items: duplicated item", {**log, "items.csv":
             "item_id,category\ni1,A\ni2,B\ni1,C\n"}, argv=csv + ["--items", "{d}/items.csv"],
             words=("line 4", "appears again")))
    add(Case("csv content", "items: empty category", {**log, "items.csv":
             "item_id,category\ni1,A\ni2,\n"}, argv=csv + ["--items", "{d}/items.csv"],
             words=("line 3", "empty")))
    add(Case("csv content", "users: no user_id column", {**log, "users.csv":
             "id,gender\nu1,F\n"}, argv=csv + ["--users", "{d}/users.csv"], words=("user_id",)))
    add(Case("csv content", "exact whole seconds", {"log.csv": log_rows(ts=lambda i: T0 + 60 * i
                                                                      + 1)},
             call=lib_exact_timestamps, expect="ok"))
    add(Case("csv content", "fractional seconds are floored",
             {"frac.csv": HEADER + "u1,i1,1699999999.9999999999,1\nu1,i2,1700000000.5,0\n"},
             call=lib_time_of_fraction, expect="ok"))
    add(Case("csv content", "BOM and CRLF", {"log.csv": ("\ufeff" + log_rows()).replace(
        "\n", "\r\n").encode()}, argv=csv, expect="ok"))
    # --- unbounded work -------------------------------------------------------------------
    add(Case("unbounded work", "--max-len 10000 on a log whose longest history is 25", log,
             argv=csv + ["--max-len", "10000"], expect="ok", check=capped_at(25)))
    add(Case("unbounded work", "--max-len 200 on a log whose longest history is 25 (bst)", log,
             argv=csv + ["--max-len", "200", "--model", "bst"], expect="ok", check=capped_at(25)))
    add(Case("unbounded work", "--max-len 10 is kept", log, argv=csv + ["--max-len", "10"],
             expect="ok", check=capped_at(10)))
    add(Case("unbounded work", "build_dataset(max_len=0)", log, call=lib_build_bad_max_len))
    add(Case("unbounded work", "ml-100k --max-len 100000 (refused with an estimate)",
             argv=tr + ["--data", "ml-100k", "--max-len", "100000"], words=("GB", "at most"),
             needs_ml=True))
    add(Case("unbounded work", "--lr 1e30 (diverges or stays finite)", log,
             argv=csv + ["--lr", "1e30"], expect="either", words=("diverged",)))
    # --- MovieLens ------------------------------------------------------------------------
    def ml_argv(extra=()):
        return tr + ["--data", "ml-100k", "--data-dir", "{d}/ml-100k", *extra]

    def damaged(edit):
        def setup(d):
            edit(ml_copy(d))
        return setup

    add(Case("movielens", "u.data cut to half its lines", argv=ml_argv(), needs_ml=True,
             setup=damaged(lambda m: (m / "u.data").write_bytes(b"".join(
                 (m / "u.data").read_bytes().splitlines(keepends=True)[:50_000]))),
             words=("u.data", "md5")))
    add(Case("movielens", "u.data one byte changed", argv=ml_argv(), needs_ml=True,
             setup=damaged(lambda m: (m / "u.data").write_bytes(
                 (m / "u.data").read_bytes().replace(b"\t4\t", b"\t5\t", 1))),
             words=("u.data", "md5")))
    add(Case("movielens", "empty u.genre", argv=ml_argv(), needs_ml=True,
             setup=damaged(lambda m: (m / "u.genre").write_bytes(b"")), words=("u.genre",)))
    add(Case("movielens", "u.item missing", argv=ml_argv(), needs_ml=True,
             setup=damaged(lambda m: (m / "u.item").unlink()), words=("u.item",)))
    add(Case("movielens", "--download on a damaged folder", argv=ml_argv(["--download"]),
             needs_ml=True, setup=damaged(lambda m: (m / "u.user").write_text("broken")),
             words=("u.user", "Delete the folder")))
    add(Case("movielens", "--data-dir is a file", log, argv=tr + [
        "--data", "ml-100k", "--data-dir", "{d}/log.csv"], words=("log.csv", "file")))
    add(Case("movielens", "--data-dir missing", argv=tr + [
        "--data", "ml-100k", "--data-dir", "{d}/none"], words=("not found", "none")))
    add(Case("movielens", "duplicated movie row", call=ml_duplicate_rows, needs_ml=True))
    add(Case("movielens", "negative rating", call=ml_negative_rating, needs_ml=True))
    add(Case("movielens", "download on an existing damaged folder verifies it",
             call=ml_download_verifies, needs_ml=True))
    add(Case("leftovers", "stale .part folders are cleaned by the next download",
             call=ml_stale_part, needs_ml=True, expect="ok"))
    # --- checkpoints ----------------------------------------------------------------------
    for name, fn in [("truncated", ckpt_truncated), ("empty", ckpt_empty),
                     ("foreign dict", ckpt_foreign), ("a list", ckpt_list),
                     ("a text file", ckpt_text), ("a zip that is not torch", ckpt_zip),
                     ("malicious pickle", ckpt_malicious), ("missing", ckpt_missing),
                     ("a folder", ckpt_folder), ("wrong tensor shape", ckpt_wrong_shapes),
                     ("unknown model", ckpt_unknown_model),
                     ("bst: history longer than max_len", _long_history("bst")),
                     ("din: history longer than max_len", _long_history("din")),
                     ("wdl: history longer than max_len", _long_history("wdl"))]:
        add(Case("checkpoints", f"load_checkpoint: {name}", call=fn))
    add(Case("checkpoints", "a save that fails part-way keeps the old file", call=ckpt_disk_full,
             expect="ok"))
    return out


def snapshot(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def run_case(case: Case, d: Path) -> tuple[bool, str]:
    for name, content in case.files.items():
        (d / name).write_bytes(content.encode() if isinstance(content, str) else content)
    if case.setup:
        case.setup(d)
    before = snapshot(d)
    out, err = io.StringIO(), io.StringIO()
    rc, escaped = None, None
    cwd = os.getcwd()
    os.chdir(d)  # a stray file would land here, where the snapshot sees it
    try:
        if case.call is not None:
            try:
                case.call(d)
                rc = 0
            except AssertionError as e:
                return False, f"library case failed: {e}"
        else:
            argv = [a.replace("{d}", str(d)) for a in case.argv]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(argv)
                except SystemExit as e:
                    rc = e.code if isinstance(e.code, int) else 1
    except Exception:  # noqa: BLE001  (a traceback: exactly what must not happen)
        escaped = traceback.format_exc(limit=-3)
    finally:
        os.chdir(cwd)
    if escaped:
        return False, "traceback: " + escaped.strip().splitlines()[-1]
    after = snapshot(d)
    changed = [p for p in before if after.get(p) != before[p] and p not in case.may_change]
    new = [p for p in after if p not in before and p not in case.may_change]
    if case.call is not None and rc == 0 and not changed:
        new = []  # library cases write their own files
    if changed or new:
        return False, f"files changed {changed} / new {new}"
    if case.call is not None:
        return True, "as expected"
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if rc != 0:
        if case.expect == "ok":
            return False, f"exit {rc}: {err.getvalue().strip()[-300:]}"
        if len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in err.getvalue():
            return False, f"stderr is not one error line: {err.getvalue()[-300:]!r}"
        missing = [w for w in case.words if w not in lines[0]]
        if missing:
            return False, f"message lacks {missing}: {lines[0]}"
        return True, lines[0][:150]
    if case.expect == "error":
        return False, f"accepted (exit 0): {out.getvalue()[:200]}"

    def no_constant(name):
        raise ValueError(f"{name} in the JSON output")
    try:
        report = json.loads(out.getvalue(), parse_constant=no_constant)
    except ValueError as e:
        return False, f"bad JSON: {e}"
    problem = case.check(report, d) if case.check else None
    if problem:
        return False, problem
    return True, f"ok: test_auc {report['test_auc']:.3f}, max_len {report.get('max_len')}"


def main_probe() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="print the message of each case")
    p.add_argument("--only", default="", help="run the cases whose name holds this text")
    a = p.parse_args()
    tried = clean = skipped = 0
    bad = []
    start = time.perf_counter()
    for case in cases():
        if a.only not in f"{case.kind}: {case.name}":
            continue
        if case.needs_ml and not ML:
            skipped += 1
            continue
        with tempfile.TemporaryDirectory(prefix="probe-") as tmp:
            t = time.perf_counter()
            ok, detail = run_case(case, Path(tmp))
        tried += 1
        clean += ok
        if not ok:
            bad.append(f"{case.kind}: {case.name}")
        if a.verbose or not ok:
            print(f"{'clean' if ok else 'BAD  '} {time.perf_counter() - t:5.1f}s  "
                  f"[{case.kind}] {case.name}: {detail}", flush=True)
    print(f"\ntried {tried}, clean {clean}, bad {tried - clean}"
          + (f" (skipped {skipped} MovieLens cases: set BST_TEACH_ML100K)" if skipped else "")
          + f"; {time.perf_counter() - start:.0f} s")
    for b in bad:
        print("  bad:", b)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main_probe())
