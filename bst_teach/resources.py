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
then the repository's file, then ``bst_teach/_shipped/scaling.json`` if a wheel carries one.
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


def bench_results_path() -> Path:
    """The benchmark results file the performance appendix reads (see the module docstring)."""
    env = os.environ.get(BENCH_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{BENCH_ENV_VAR}={env}: no such file")
        return path
    for path in (REPO_RESULTS, SHIPPED_RESULTS):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no benchmark results: set {BENCH_ENV_VAR} to a results.json "
                            f"(the book offers one for download), or run bench/run.py")


def bench_results() -> dict:
    """The parsed benchmark results (``meta``, ``training``, ``serving``, ``memory``, ...)."""
    return json.loads(bench_results_path().read_text(encoding="utf-8"))


def scaling_results_path() -> Path:
    """The one-process-against-two measurements the "Scaling up" appendix reads."""
    env = os.environ.get(SCALING_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{SCALING_ENV_VAR}={env}: no such file")
        return path
    for path in (REPO_SCALING, SHIPPED_SCALING):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no scaling measurements: set {SCALING_ENV_VAR} to a scaling.json, "
                            f"or run bench/scaling.py in a checkout of the repository")


def scaling_results() -> dict:
    """The parsed ``scaling.json``: ``meta`` (date, CPU, torch, commands, load) and ``runs``
    (one row per training: processes, seed, test_auc, test_gauc, epochs, throughput, memory)."""
    return json.loads(scaling_results_path().read_text(encoding="utf-8"))
