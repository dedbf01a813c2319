"""The command line: JSON report, one-line errors, exit codes."""
import json
import subprocess
import sys

import pytest


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
