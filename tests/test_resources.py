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


@pytest.mark.parametrize("var,repo,shipped,find", [
    ("SCALING_ENV_VAR", "REPO_SCALING", "SHIPPED_SCALING", "scaling_results_path"),
    ("MEMORY_ENV_VAR", "REPO_MEMORY", "SHIPPED_MEMORY", "memory_results_path"),
])
def test_appendix_measurements_are_found_like_the_bench_results(tmp_path, monkeypatch, var, repo,
                                                                shipped, find):
    find = getattr(resources, find)
    monkeypatch.delenv(getattr(resources, var), raising=False)
    monkeypatch.setattr(resources, repo, tmp_path / "repo.json")
    monkeypatch.setattr(resources, shipped, tmp_path / "shipped.json")
    with pytest.raises(FileNotFoundError, match=f"set {getattr(resources, var)}"):
        find()
    (tmp_path / "shipped.json").write_text("{}")
    assert find() == tmp_path / "shipped.json"
    (tmp_path / "repo.json").write_text("{}")
    assert find() == tmp_path / "repo.json"
    monkeypatch.setenv(getattr(resources, var), str(tmp_path / "nowhere.json"))
    with pytest.raises(FileNotFoundError, match="nowhere.json: no such file"):
        find()
