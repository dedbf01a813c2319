"""The experiment registry (bst_teach.results): declarations, records, resuming, the check,
the statistics, the CLI flags the registry uses, and the synthetic task's time variant."""
import json
import shlex

import numpy as np
import pytest
from scipy import stats

from bst_teach import results
from bst_teach.data import (bayes_auc, load_dataset, make_synthetic, order_blind_ceiling_auc,
                            time_blind_ceiling_auc)
from bst_teach.experiments import data_fingerprint


# --- the registry -------------------------------------------------------------------------------
def test_registry_declares_every_comparison_with_five_seeds():
    names = [e.name for e in results.EXPERIMENTS]
    assert names == ["positions", "norms", "depth", "movielens", "paper-settings", "next-item"]
    for e in results.EXPERIMENTS:
        assert e.seeds == (0, 1, 2, 3, 4)
        assert e.train["epochs"] >= 40 and e.train["patience"] >= 4
    positions = results.experiment("positions")
    assert set(positions.data) == {"synthetic", "synthetic-time", "ml-100k"}
    assert list(positions.variants) == ["bst-none", "bst-index", "bst-time-calendar",
                                        "bst-time-log", "bst-both", "din", "din-time"]
    assert list(results.experiment("norms").variants) == ["layer", "batch", "none"]
    assert list(results.experiment("depth").variants) == ["blocks-1", "blocks-2", "blocks-3"]
    assert list(results.experiment("movielens").variants) == ["wdl", "din", "bst"]
    next_item = results.experiment("next-item")
    assert list(next_item.variants) == ["wdl", "din", "bst"]
    for name in next_item.data:  # the same logs, one sampled negative per event
        assert results.DATA[name]["protocol"] == "next-item" and results.DATA[name]["negatives"] == 1
    assert {results.DATA[d]["negative_sampling"] for d in next_item.data} == {"uniform", "popularity"}
    for name, options in results.DATA.items():  # the starting plateau of the synthetic tasks
        assert options.get("min_epochs") == (10 if name.startswith("synthetic") else None)
    paper = results.experiment("paper-settings").variants["paper"]
    assert paper["heads"] == 8 and paper["dropout"] == 0.2 and paper["optimizer"] == "adagrad"
    assert paper["lr"] == 0.01 and paper["hidden"] == (1024, 512, 256) and paper["position"] == "time"


def test_every_run_is_one_train_command_with_its_own_record():
    runs = results.runs()
    assert len({r.path for r in runs}) == len(runs)
    for r in runs:
        assert r.command.startswith("OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0 python -m bst_teach train")
        assert r.argv[-5:] == ["--seed", str(r.seed), "--threads", "1", "--json"]
        assert "--max-len 20" in r.command
        results._parse(r)  # the command line accepts every declared option
    # the book's BST is declared in four experiments: one command, run once
    book_bst = {r.command for r in runs if r.seed == 0 and r.data == "synthetic"
                and (r.experiment, r.variant) in {("positions", "bst-both"), ("norms", "layer"),
                                                  ("depth", "blocks-1"), ("paper-settings", "book")}}
    assert len(book_bst) == 1


# --- a tiny experiment, end to end ---------------------------------------------------------------
TINY_TRAIN = {"epochs": 1, "patience": 1, "lr": 0.001, "batch_size": 2048, "shuffle_test": True}


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Two declared experiments sharing one command (WDL, one epoch, one seed)."""
    monkeypatch.setenv("BST_TEACH_RESULTS", str(tmp_path))
    wdl = {"wdl": results.variant("wdl")}
    monkeypatch.setattr(results, "EXPERIMENTS", [
        results.Experiment("tiny", "none", "a test", ("synthetic",), wdl, (0,), TINY_TRAIN),
        results.Experiment("tiny-copy", "none", "a test", ("synthetic",), wdl, (0,), TINY_TRAIN)])
    calls = []
    real_execute = results.execute

    def counting_execute(run, cwd=None):
        calls.append(run)
        return real_execute(run, cwd)

    monkeypatch.setattr(results, "execute", counting_execute)
    return tmp_path, calls


def test_record_round_trip_resume_and_check(tiny, capsys):
    root, calls = tiny
    assert results.run_all(jobs=1, progress=False) == 0
    assert len(calls) == 1  # the shared command ran once
    (run,) = results.runs(["tiny"])
    record = json.loads(run.path.read_text())
    copy = json.loads(results.runs(["tiny-copy"])[0].path.read_text())
    assert copy["experiment"] == "tiny-copy" and copy["test_auc"] == record["test_auc"]
    for key in ("experiment", "variant", "data", "seed", "test_auc", "test_logloss", "history",
                "best_epoch", "epochs", "train_seconds", "code_hash", "data_fingerprint",
                "command", "rerun", "date", "torch", "threads", "test_auc_shuffled"):
        assert key in record, key
    assert record["command"] == run.command and record["threads"] == 1
    assert record["code_hash"] == results.code_hash()
    assert record["data_fingerprint"] == data_fingerprint(make_synthetic(time_scheme="log"))
    assert len(record["history"]) == record["epochs"] == 1
    assert record["test_auc"] == round(record["test_auc"], 6)

    # The record's command is the command that ran (environment, then python -m bst_teach ...).
    words = shlex.split(record["command"])
    assert words[:3] == ["OMP_WAIT_POLICY=PASSIVE", "PYTHONHASHSEED=0", "python"]
    assert words[3:] == calls[0].argv

    # Resuming: fresh records are not run again.
    capsys.readouterr()
    assert results.run_all(jobs=1, progress=False) == 0
    assert len(calls) == 1 and "0 to run" in capsys.readouterr().out
    assert results.check() == 0


def test_check_names_stale_and_missing_records(tiny, monkeypatch, capsys):
    root, calls = tiny
    tiny_run, copy_run = results.runs()
    fake = {**results.make_record(tiny_run, {"test_auc": 0.5, "history": []}),
            "code_hash": results.code_hash(),
            "data_fingerprint": data_fingerprint(make_synthetic(time_scheme="log"))}
    results.write_record(tiny_run.path, fake)
    results.write_record(copy_run.path, fake)
    assert results.check() == 0

    copy_run.path.unlink()
    capsys.readouterr()
    assert results.check() == 1
    out = capsys.readouterr().out
    assert "missing: tiny-copy/synthetic/wdl/seed0.json" in out
    assert 'make results ONLY="tiny-copy"' in out

    monkeypatch.setattr(results, "code_hash", lambda: "0" * 64)
    assert results.check() == 1
    out = capsys.readouterr().out
    assert "training code changed: tiny/synthetic/wdl/seed0.json" in out
    assert 'make results ONLY="tiny tiny-copy"' in out
    assert calls == []  # the check never trains


def test_check_from_the_command_line_exits_non_zero(tmp_path, monkeypatch, capsys):
    from bst_teach.__main__ import main
    monkeypatch.setenv("BST_TEACH_RESULTS", str(tmp_path))
    assert main(["results", "check", "norms"]) == 1
    out = capsys.readouterr().out
    assert "missing: norms/synthetic/batch/seed4.json" in out
    assert 'make results ONLY="norms"' in out


def test_code_hash_covers_the_training_code_only():
    files = sorted(p.relative_to(results.PACKAGE_DIR).as_posix()
                   for pattern in results.HASHED_CODE for p in results.PACKAGE_DIR.glob(pattern))
    assert "train.py" in files and "features.py" in files and "models/bst.py" in files
    assert "results.py" not in files and "__main__.py" not in files


# --- statistics ----------------------------------------------------------------------------------
def test_t_interval_matches_scipy_and_the_t_table():
    mean, lo, hi = results.t_interval([1, 2, 3, 4, 5])
    # t(0.975, 4) = 2.776445 (table), standard error sqrt(2.5 / 5)
    assert mean == 3 and hi - mean == pytest.approx(2.776445 * np.sqrt(0.5), rel=1e-6)
    assert lo == pytest.approx(2 * mean - hi)
    x = [0.91, 0.93, 0.92, 0.95, 0.90]
    assert results.t_interval(x)[1:] == pytest.approx(
        stats.t.interval(0.95, 4, loc=np.mean(x), scale=stats.sem(x)))


def test_summary_and_paired_difference_over_seeds(tiny):
    root, _ = tiny
    wdl = {"a": results.variant("wdl"), "b": results.variant("din")}
    results.EXPERIMENTS.append(results.Experiment("pairs", "none", "a test", ("synthetic",), wdl))
    a_auc = [0.80, 0.82, 0.81, 0.83, 0.79]
    b_auc = [0.78, 0.81, 0.78, 0.80, 0.78]
    for run in results.runs(["pairs"]):
        auc = (a_auc if run.variant == "a" else b_auc)[run.seed]
        results.write_record(run.path, results.make_record(
            run, {"test_auc": auc, "best_epoch": 3 + (run.seed == 0), "epochs": 4 + 3 * (run.seed != 0)}))
    s = results.summary("pairs").set_index("variant")
    assert s.loc["a", "n"] == 5 and s.loc["a", "mean"] == pytest.approx(np.mean(a_auc))
    assert s.loc["a", "best_before_last"] == 0.8  # seed 0 peaked in its last epoch
    mean, lo, hi = results.paired_difference("pairs", "a", "b", "synthetic")
    d = np.subtract(a_auc, b_auc)
    assert mean == pytest.approx(d.mean())
    assert (lo, hi) == pytest.approx(stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d)))
    assert lo > 0  # a beats b on every seed here
    # the unpaired intervals overlap, the paired one excludes zero: pairing matters
    assert s.loc["b", "hi"] > s.loc["a", "lo"]
    assert "| synthetic | a | 5 | 0.8100 |" in results.table("pairs")


# --- the command line flags the registry uses ----------------------------------------------------
def test_train_parser_reads_the_new_flags():
    from bst_teach.__main__ import _model_overrides, _parser, _train_overrides
    from bst_teach.train import TrainConfig
    a = _parser().parse_args(["train", "--data", "synthetic-time", "--time-scheme", "log",
                              "--dropout", "0.2", "--hidden", "1024", "512", "256",
                              "--optimizer", "adagrad", "--shuffle-test"])
    assert a.data == "synthetic-time" and a.time_scheme == "log" and a.shuffle_test
    assert _model_overrides(a) == {"dropout": 0.2, "hidden": (1024, 512, 256)}
    if "optimizer" in TrainConfig.__dataclass_fields__:
        assert _train_overrides(a) == {"optimizer": "adagrad"}
    else:
        with pytest.raises(ValueError, match="TrainConfig.optimizer"):
            _train_overrides(a)
    default = _parser().parse_args(["train"])
    assert _model_overrides(default) == {} and _train_overrides(default) == {}
    assert default.time_scheme == "calendar"


# --- the synthetic task's time variant ------------------------------------------------------------
CANONICAL_FINGERPRINT = "65fdd0ef3f131585f2a4e8d68fe0373be960a260b44837a9edf5b851306012f4"  # gaps to the second (see data_fingerprint)


def test_canonical_synthetic_data_is_unchanged():
    assert data_fingerprint(make_synthetic()) == CANONICAL_FINGERPRINT
    assert data_fingerprint(load_dataset("synthetic")) == CANONICAL_FINGERPRINT


def test_time_variant_shares_the_draws_and_rewards_time():
    order = make_synthetic(n_train=2000, n_val=500, n_test=4000)
    time_ = make_synthetic(n_train=2000, n_val=500, n_test=4000, task="time")
    assert time_.name == "synthetic-time"
    for k in ("hist_item", "hist_gap", "sparse", "target_item"):
        assert np.array_equal(getattr(order.test, k), getattr(time_.test, k))
    assert not np.array_equal(order.test.label, time_.test.label)
    # On the time task, knowing the order without the gaps is worth far less than knowing both.
    assert bayes_auc(time_) - time_blind_ceiling_auc(time_, n_draws=16) > 0.08
    # On the canonical task the order carries most of it.
    assert bayes_auc(order) - time_blind_ceiling_auc(order, n_draws=16) < 0.03
    assert order_blind_ceiling_auc(order, n_orders=16) < 0.65 < bayes_auc(order)
    with pytest.raises(ValueError, match="task"):
        make_synthetic(n_train=10, n_val=10, n_test=10, task="weekday")


def test_a_command_recorded_in_another_experiment_is_copied_not_run(tiny, monkeypatch):
    root, calls = tiny
    tiny_run, copy_run = results.runs()
    fresh = {**results.make_record(tiny_run, {"test_auc": 0.5, "history": []}),
             "code_hash": results.code_hash(),
             "data_fingerprint": data_fingerprint(make_synthetic(time_scheme="log"))}
    results.write_record(tiny_run.path, fresh)
    assert results.run_all(["tiny-copy"], jobs=1, progress=False) == 0
    assert calls == []
    copied = json.loads(copy_run.path.read_text())
    assert copied["experiment"] == "tiny-copy" and copied["test_auc"] == 0.5


def test_progress_bar_survives_runs_slower_than_estimated():
    import io

    from tqdm import tqdm

    out = io.StringIO()
    bar = tqdm(total=10, file=out, bar_format=results.PROGRESS_FORMAT)
    bar.update(25)  # the runs took longer than their estimates: n passes total
    bar.set_postfix_str("3/3 runs, 0 failed")
    bar.close()
    assert "25" in out.getvalue()
