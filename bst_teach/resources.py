"""Files the notebooks read besides the data: where to find them inside or outside the repository.

A notebook downloaded from the book runs with only the ``bst_teach`` wheel installed, so it must
not open ``../bench/results/results.json``.  :func:`bench_results_path` answers, in this order:

1. the file named by the environment variable ``BST_TEACH_BENCH_RESULTS``, if it is set;
2. ``bench/results/results.json`` at the root of the repository, when the package is used from a
   checkout (an editable install);
3. the copy shipped inside the wheel (``bst_teach/_shipped/bench_results.json``, put there by
   ``make wheel``), which is also offered for download beside the notebooks.

:func:`scaling_results_path` does the same for the measurements of the "Scaling up" appendix
(``bench/results/scaling.json``, written by ``bench/scaling.py``): ``BST_TEACH_SCALING_RESULTS``,
then the repository's file, then ``bst_teach/_shipped/scaling.json`` if a wheel carries one;
:func:`memory_results_path` for ``bench/results/memory_scaling.json`` (``bench/memory_scaling.py``,
``BST_TEACH_MEMORY_RESULTS``, ``bst_teach/_shipped/memory_scaling.json``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

BENCH_ENV_VAR = "BST_TEACH_BENCH_RESULTS"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_RESULTS = PACKAGE_DIR.parent / "bench" / "results" / "results.json"
SHIPPED_RESULTS = PACKAGE_DIR / "_shipped" / "bench_results.json"
SCALING_ENV_VAR = "BST_TEACH_SCALING_RESULTS"
REPO_SCALING = PACKAGE_DIR.parent / "bench" / "results" / "scaling.json"
SHIPPED_SCALING = PACKAGE_DIR / "_shipped" / "scaling.json"
MEMORY_ENV_VAR = "BST_TEACH_MEMORY_RESULTS"
REPO_MEMORY = PACKAGE_DIR.parent / "bench" / "results" / "memory_scaling.json"
SHIPPED_MEMORY = PACKAGE_DIR / "_shipped" / "memory_scaling.json"


def _find(env_var: str, candidates: tuple[Path, ...], missing: str) -> Path:
    """``$env_var`` if set (it must name a file), else the first of ``candidates`` that exists."""
    env = os.environ.get(env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{env_var}={env}: no such file")
        return path
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(missing)


def bench_results_path() -> Path:
    """The benchmark results file the performance appendix reads (see the module docstring)."""
    return _find(BENCH_ENV_VAR, (REPO_RESULTS, SHIPPED_RESULTS),
                 f"no benchmark results: set {BENCH_ENV_VAR} to a results.json (the book offers "
                 f"one for download), or run bench/run.py")


def bench_results() -> dict:
    """The parsed benchmark results (``meta``, ``training``, ``serving``, ``memory``, ...)."""
    return json.loads(bench_results_path().read_text(encoding="utf-8"))


def scaling_results_path() -> Path:
    """The one-process-against-two measurements the "Scaling up" appendix reads."""
    return _find(SCALING_ENV_VAR, (REPO_SCALING, SHIPPED_SCALING),
                 f"no scaling measurements: set {SCALING_ENV_VAR} to a scaling.json, or run "
                 f"bench/scaling.py in a checkout of the repository")


def scaling_results() -> dict:
    """The parsed ``scaling.json``: ``meta`` (date, CPU, torch, commands, load) and ``runs``
    (one row per training: processes, seed, test_auc, test_gauc, epochs, throughput, memory)."""
    return json.loads(scaling_results_path().read_text(encoding="utf-8"))


def memory_results_path() -> Path:
    """The memory measurements of building and training on large logs ("Scaling up")."""
    return _find(MEMORY_ENV_VAR, (REPO_MEMORY, SHIPPED_MEMORY),
                 f"no memory measurements: set {MEMORY_ENV_VAR} to a memory_scaling.json, or "
                 f"run bench/memory_scaling.py in a checkout of the repository")


def memory_results() -> dict:
    """The parsed ``memory_scaling.json``: ``meta`` (date, CPU, command, load) and ``runs`` (one
    row per rows x builder: seconds and peak resident memory of building and of training)."""
    return json.loads(memory_results_path().read_text(encoding="utf-8"))
