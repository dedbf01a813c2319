"""Devices and data-parallel training: device choice, the split of batches and rows over ranks,
and a real 2-process gloo run under torchrun (on the CPU)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bst_teach import distributed
from bst_teach import __main__ as cli_main
from bst_teach.device import resolve_device
from bst_teach.distributed import Context, gather_rows, my_batches, my_rows
from bst_teach.train import TrainConfig, evaluate, fit

HERE = Path(__file__).parent
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


# --- devices -----------------------------------------------------------------------------------
def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("name, message", [("gpu", "must be one of"), ("cuda:x", "must be one of")])
def test_unknown_device_is_refused(name, message):
    with pytest.raises(ValueError, match=message):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_before_any_work(capsys):
    assert cli_main.main(["train", "--device", "cuda", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "no CUDA device" in err and len(err.strip().splitlines()) == 1


@CUDA
def test_evaluation_is_the_same_on_cpu_and_gpu(small_data):
    result = fit("bst", small_data, TrainConfig(epochs=1, progress=False))
    test = small_data.tensors("test")
    cpu = evaluate(result.model.cpu(), test)
    gpu = evaluate(result.model.to("cuda"), test)
    assert gpu["auc"] == pytest.approx(cpu["auc"], abs=1e-4)
    assert gpu["logloss"] == pytest.approx(cpu["logloss"], abs=1e-4)


@CUDA
def test_training_on_the_gpu(small_data):
    result = fit("din", small_data, TrainConfig(epochs=1, progress=False, device="cuda"))
    assert next(result.model.parameters()).is_cuda and 0 < result.test_auc < 1


def test_cpu_device_changes_nothing(small_data):
    a = fit("wdl", small_data, TrainConfig(epochs=2, progress=False))
    b = fit("wdl", small_data, TrainConfig(epochs=2, progress=False, device="cpu"))
    assert a.history == b.history and a.test_auc == b.test_auc


# --- the split over ranks ----------------------------------------------------------------------
@pytest.mark.parametrize("world", [1, 2, 3])
def test_batches_and_rows_are_disjoint_and_cover(world):
    batches = list(range(11))
    shares = [my_batches(batches, Context(r, world)) for r in range(world)]
    assert sorted(b for s in shares for b in s) == batches
    rows = [list(range(10))[my_rows(10, Context(r, world))] for r in range(world)]
    assert [i for r in rows for i in r] == list(range(10))


def test_alone_nothing_is_gathered():
    x = torch.arange(5.0)
    assert gather_rows(x, 5, distributed.SINGLE) is x
    assert distributed.agree(True, distributed.SINGLE, torch.device("cpu"))
    assert not distributed.launched_by_torchrun() or "WORLD_SIZE" in os.environ


# --- a real run: torchrun, 2 processes, gloo ---------------------------------------------------
@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """600 events of 20 users, both classes in every split."""
    rows = "".join(f"u{i % 20},i{i % 17},{1_700_000_000 + 60 * i},{(i // 3) % 2}\n"
                   for i in range(600))
    path = tmp_path_factory.mktemp("log") / "log.csv"
    path.write_text("user_id,item_id,timestamp,label\n" + rows)
    return path


@pytest.mark.parametrize("model", [["--model", "bst", "--norm", "batch"], ["--model", "din"]])
def test_torchrun_two_processes(log, tmp_path, model):
    out = tmp_path / "run"
    out.mkdir()
    ckpt = out / "m.pt"
    data = ["--data", "csv", "--interactions", str(log), "--max-len", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BST_TEACH_PROGRESS": "0",
           "PYTHONPATH": str(HERE.parent)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc-per-node", "2", str(HERE / "ddp_probe.py"), str(out), "train",
                        *data, *model, "--epochs", "2", "--patience", "2", "--batch-size", "32",
                        "--json", "--save", str(ckpt)],
                       capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    reports = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1  # rank 0 only
    report = reports[0]
    assert report["world_size"] == 2 and report["epochs"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["m.pt", "rank0.json", "rank1.json"]
    logs = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert logs[0]["saves"] == [str(ckpt)] and logs[1]["saves"] == []  # only rank 0 writes
    ranks = [entry["epochs"] for entry in logs]
    n_train = report["n_train"]
    for epoch in range(2):
        a, b = set(ranks[0][epoch]), set(ranks[1][epoch])
        assert not a & b and a | b == set(range(n_train))  # disjoint, covering the epoch
        assert len(ranks[0][epoch]) + len(ranks[1][epoch]) == n_train
    assert ranks[0][0] != ranks[0][1]  # set_epoch's job: a new shuffle each epoch
    # the final metrics are those of a 1-process evaluation of the saved checkpoint
    e = subprocess.run([sys.executable, "-m", "bst_teach", "evaluate", "--checkpoint", str(ckpt),
                        *data, "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert e.returncode == 0, e.stderr
    single = json.loads(e.stdout)
    assert single["test_auc"] == pytest.approx(report["test_auc"], abs=1e-9)
    assert single["test_logloss"] == pytest.approx(report["test_logloss"], abs=1e-7)
    assert single["n_test"] == report["n_test"]
