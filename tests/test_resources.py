"""Where the package finds the benchmark results and its training cache, inside and outside a checkout."""
from __future__ import annotations

import json

import pytest

from bst_teach import bench_results, bench_results_path, experiments, resources


def test_environment_variable_wins(tmp_path, monkeypatch):
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"meta": {"quick": True}}))
    monkeypatch.setenv(resources.BENCH_ENV_VAR, str(own))
    assert bench_results_path() == own
    assert bench_results() == {"meta": {"quick": True}}


def test_a_missing_file_named_by_the_variable_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(resources.BENCH_ENV_VAR, str(tmp_path / "nowhere.json"))
    with pytest.raises(FileNotFoundError, match="BST_TEACH_BENCH_RESULTS=.*nowhere.json"):
        bench_results_path()


def test_checkout_reads_the_repository_results(monkeypatch):
    monkeypatch.delenv(resources.BENCH_ENV_VAR, raising=False)
    assert bench_results_path() == resources.REPO_RESULTS
    assert {"meta", "training", "serving"} <= set(bench_results())


def test_no_results_anywhere_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(resources.BENCH_ENV_VAR, raising=False)
    monkeypatch.setattr(resources, "REPO_RESULTS", tmp_path / "a.json")
    monkeypatch.setattr(resources, "SHIPPED_RESULTS", tmp_path / "b.json")
    with pytest.raises(FileNotFoundError, match="set BST_TEACH_BENCH_RESULTS"):
        bench_results_path()


def test_cache_outside_a_checkout_goes_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("BST_TEACH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(experiments, "PACKAGE_DIR", tmp_path / "site-packages" / "bst_teach")
    assert experiments.cache_dir() == tmp_path / "bst-teach"
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path / "c"))
    assert experiments.cache_dir() == tmp_path / "c"
