import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bst_teach.data.synthetic import make_synthetic
from bst_teach.experiments import cached_fit, data_fingerprint
from bst_teach.train import TrainConfig


def test_cache_returns_the_stored_run(tmp_path, monkeypatch, small_data):
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path))
    cfg = TrainConfig(epochs=1, progress=False)
    first = cached_fit("wdl", small_data, cfg)
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 1
    again = cached_fit("wdl", small_data, cfg)
    assert again.test_auc == first.test_auc and again.history == first.history
    other = cached_fit("wdl", small_data, TrainConfig(epochs=1, seed=9, progress=False))
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 2 and other.test_auc != first.test_auc


def test_fingerprint_tracks_the_data():
    a, b = make_synthetic(300, 100, 100, seed=0), make_synthetic(300, 100, 100, seed=1)
    assert data_fingerprint(a) == data_fingerprint(make_synthetic(300, 100, 100, seed=0))
    assert data_fingerprint(a) != data_fingerprint(b)


def test_cache_keys_the_arithmetic(tmp_path, monkeypatch, small_data):
    """A run with another thread count or MKL code path is not the stored one."""
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path))
    cfg = TrainConfig(epochs=1, progress=False)
    cached_fit("wdl", small_data, cfg)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE-not-the-same")
    cached_fit("wdl", small_data, cfg)
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 2


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 settings")
def test_makefile_pins_the_arithmetic():
    """The Makefile's settings reach torch: one thread, AVX2 in ATen, MKL's vendor-neutral path."""
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    names = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")
    pinned = {n: re.search(rf"^export {n} := (\S+)$", makefile, re.M).group(1) for n in names}
    env = {k: v for k, v in os.environ.items() if k not in names} | pinned
    code = ("import json, torch; from bst_teach.experiments import cpu_arithmetic; "
            "print(json.dumps(cpu_arithmetic()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    arithmetic = json.loads(out)
    assert (arithmetic["threads"], arithmetic["aten"], arithmetic["mkl"]) == (1, "AVX2", "COMPATIBLE")


def test_fingerprint_reads_gaps_to_the_second():
    """numpy's AVX-512 and AVX2 exp differ in the last bit; the fingerprint does not see that."""
    a = make_synthetic(300, 100, 100, seed=0)
    before = data_fingerprint(a)
    a.train.hist_gap[:] = np.nextafter(a.train.hist_gap, np.inf)
    assert data_fingerprint(a) == before
    a.train.hist_gap[0, 0] += 1.0  # one behaviour a second earlier
    assert data_fingerprint(a) != before
