"""The command line: JSON report, one-line errors, exit codes, and checks before any work."""
import json
import math
import subprocess
import sys

import pytest

from bst_teach import __main__ as cli_main
from bst_teach import train as train_module


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bst_teach", *args], capture_output=True,
                          text=True, timeout=300)


def test_train_json_report(tmp_path):
    ckpt = tmp_path / "m.pt"
    r = cli("train", "--data", "synthetic", "--model", "din", "--epochs", "1", "--json",
            "--save", str(ckpt))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    for key in ("model", "data", "test_auc", "test_logloss", "epochs", "train_seconds",
                "n_train", "n_test"):
        assert key in report
    assert report["model"] == "din" and report["data"] == "synthetic" and report["epochs"] == 1
    assert 0 < report["test_auc"] < 1 and ckpt.exists()


@pytest.mark.parametrize("args,message", [
    (["train", "--model", "gru"], "invalid choice"),
    (["train", "--epochs", "0"], "positive integer"),
    (["train", "--data", "csv"], "--interactions"),
    (["train", "--data", "csv", "--interactions", "/nonexistent/log.csv"], "log.csv"),
    (["train", "--data", "ml-100k", "--data-dir", "/nonexistent/ml"], "/nonexistent/ml"),
    (["train", "--lr", "inf"], "--lr must be a positive finite number"),  # was "Input contains NaN."
    (["train", "--data", "synthetic", "--interactions", "/nonexistent/log.csv"],
     "--interactions applies to --data csv only"),  # the file was silently ignored
    (["train", "--max-len", "10000"], "GB"),  # unbounded work, refused with an estimate
    (["train", "--save", "/nonexistent/folder/m.pt"], "does not exist"),
])
def test_bad_input_gives_one_line_error(args, message):
    r = cli(*args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_csv_row_names_line_and_column(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("user_id,item_id,timestamp,label\n1,10,100,1\n1,11,abc,0\n")
    r = cli("train", "--data", "csv", "--interactions", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "line 3" in r.stderr and "timestamp" in r.stderr and "abc" in r.stderr


def run_main(argv, capsys):
    try:
        rc = cli_main.main(argv)
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def no_training(monkeypatch):
    """Training that fails loudly: what is checked before any work never gets there."""
    def fit(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(train_module, "fit", fit)


@pytest.fixture
def log(tmp_path):
    """520 events of 20 users (longest history 25), both classes in every split."""
    rows = "".join(f"u{i % 20},i{i % 13},{1_700_000_000 + 60 * i},{i % 2}\n" for i in range(520))
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp,label\n" + rows)
    return path


@pytest.mark.parametrize("args, message", [
    (["--lr", "nan"], "--lr"), (["--lr", "0"], "--lr"), (["--seed", "-1"], "--seed"),
    (["--data-seed", str(2 ** 40)], "--data-seed"), (["--heads", "3"], "--heads must divide"),
    (["--blocks", "100"], "--blocks"), (["--max-len", "5"], "max_len >= 8"),
    (["--model", "wdl", "--blocks", "2"], "--blocks applies to --model bst only"),
    (["--model", "bst", "--din-time"], "--din-time applies to --model din only"),
    (["--positive-threshold", "4"], "--positive-threshold applies"),
    (["--download"], "--download applies to --data ml-100k or ml-1m or ml-20m only"),
    (["--epochs", "abc"], "must be a positive integer, got 'abc'"),
])
def test_bad_arguments_are_refused_before_any_work(no_training, capsys, args, message):
    rc, out, err = run_main(["train", "--json", *args], capsys)
    assert rc == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("target, message", [
    (lambda d: d, "is a folder"), (lambda d: d / "missing" / "m.pt", "does not exist"),
    (lambda d: d / "log.csv" / "m.pt", "is not a folder"),
    (lambda d: d / "log.csv", "refusing to overwrite"),  # would have destroyed the input
])
def test_save_path_is_checked_before_training(no_training, capsys, log, target, message):
    before = log.read_bytes()
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(log), "--json",
                             "--save", str(target(log.parent))], capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert log.read_bytes() == before and sorted(p.name for p in log.parent.iterdir()) == ["log.csv"]


def test_nan_never_reaches_the_json(monkeypatch, capsys, log):
    real = train_module.fit

    def nan_fit(*args, **kwargs):
        result = real(*args, **kwargs)
        result.test_auc = math.nan
        return result
    monkeypatch.setattr(train_module, "fit", nan_fit)
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(log), "--model",
                             "wdl", "--epochs", "1", "--json"], capsys)
    assert rc == 2 and out == "" and "test_auc = nan" in err


def test_diverged_training_says_so(monkeypatch, capsys, log):
    def diverged(*args, **kwargs):
        raise ValueError("Input contains NaN.")  # what scikit-learn says about NaN predictions
    monkeypatch.setattr(train_module, "fit", diverged)
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(log), "--lr", "1e30"],
                            capsys)
    assert rc == 2 and "training diverged" in err and "--lr 1e+30" in err


def test_max_len_beyond_the_data_is_capped_and_reported(capsys, log, tmp_path):
    ckpt = tmp_path / "m.pt"
    rc, out, err = run_main(["train", "--data", "csv", "--interactions", str(log), "--model",
                             "bst", "--epochs", "1", "--max-len", "10000", "--json",
                             "--save", str(ckpt)], capsys)
    assert rc == 0, err
    report = json.loads(out)
    assert report["max_len"] == 25 and "capped at 25" in err
    from bst_teach.checkpoint import load_checkpoint
    assert load_checkpoint(ckpt).schema.max_len == 25
