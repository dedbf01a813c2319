"""``python -m bst_teach evaluate``: a saved model scored on the test split of the same data."""
import json

import pytest

from test_cli import run_main  # main(argv) -> (exit code, stdout, stderr)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """520 events of 20 users (longest history 25), both classes in every split."""
    rows = "".join(f"u{i % 20},i{i % 13},{1_700_000_000 + 60 * i},{(i // 3) % 2}\n"
                   for i in range(520))
    path = tmp_path_factory.mktemp("log") / "log.csv"
    path.write_text("user_id,item_id,timestamp,label\n" + rows)
    return path


@pytest.mark.parametrize("model, extra", [("bst", ["--time-scheme", "log"]), ("din", [])])
def test_evaluate_gives_the_numbers_train_reported(capsys, log, tmp_path, model, extra):
    ckpt = tmp_path / "m.pt"
    data = ["--data", "csv", "--interactions", str(log), "--max-len", "8"]
    rc, out, err = run_main(["train", *data, *extra, "--model", model, "--epochs", "2",
                             "--json", "--save", str(ckpt)], capsys)
    assert rc == 0, err
    trained = json.loads(out)
    # --max-len and --time-scheme default to what the checkpoint was built with
    rc, out, err = run_main(["evaluate", "--checkpoint", str(ckpt), "--data", "csv",
                             "--interactions", str(log), "--json"], capsys)
    assert rc == 0, err
    report = json.loads(out)
    assert report["model"] == model and report["n_test"] == trained["n_test"]
    assert report["test_auc"] == pytest.approx(trained["test_auc"], abs=1e-12)
    assert report["test_logloss"] == pytest.approx(trained["test_logloss"], abs=1e-9)
    assert report["val_auc"] == pytest.approx(trained["val_auc"], abs=1e-12)
    assert report["data_fingerprint"] == trained["data_fingerprint"]
    rc, out, err = run_main(["evaluate", "--checkpoint", str(ckpt), "--data", "csv",
                             "--interactions", str(log)], capsys)
    assert rc == 0 and "test AUC" in out and str(ckpt) in out


def test_other_data_is_refused(capsys, log, tmp_path):
    ckpt = tmp_path / "m.pt"
    rc, _, err = run_main(["train", "--data", "csv", "--interactions", str(log), "--model", "wdl",
                           "--epochs", "1", "--json", "--save", str(ckpt)], capsys)
    assert rc == 0, err
    rc, out, err = run_main(["evaluate", "--checkpoint", str(ckpt), "--data", "synthetic",
                             "--json"], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and str(ckpt) in err


@pytest.mark.parametrize("args, message", [
    ([], "--checkpoint"),  # required
    (["--checkpoint", "/nonexistent/m.pt"], "checkpoint not found: /nonexistent/m.pt"),
    (["--checkpoint", "x.pt", "--positive-threshold", "4"], "--positive-threshold applies"),
    (["--checkpoint", "x.pt", "--epochs", "3"], "unrecognized arguments"),
])
def test_bad_evaluate_arguments_are_one_line_errors(capsys, args, message):
    rc, out, err = run_main(["evaluate", *args], capsys)
    assert rc == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_not_a_checkpoint(capsys, log):
    rc, out, err = run_main(["evaluate", "--checkpoint", str(log)], capsys)
    assert rc == 2 and "not a bst-teach checkpoint" in err and str(log) in err
