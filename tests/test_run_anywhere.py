"""A chapter downloaded from the built site runs outside the repository.

Installs the site's ``bst_teach`` wheel into a fresh virtual environment in a temporary folder
(the other packages, torch included, are reused from the project's environment through a path
file, so nothing is downloaded), checks that ``requirements-notebooks.txt`` is satisfied by them,
and executes the downloaded chapter 1 notebook there with nbconvert: MovieLens comes through
``BST_TEACH_ML100K``, the benchmark results through the copy packed in the wheel, the training
cache goes to a fresh ``XDG_CACHE_HOME``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from bst_teach.resources import BENCH_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
DOWNLOADS = ROOT / "_build" / "html" / "downloads"
NOTEBOOK = "01_ranking_problem.ipynb"


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A venv outside the repository with the site's wheel installed; returns its python."""
    if not DOWNLOADS.is_dir():
        pytest.fail(f"{DOWNLOADS} is missing: build the site first (make site)")
    wheels = sorted(DOWNLOADS.glob("bst_teach-*.whl"))
    assert len(wheels) == 1, wheels
    home = tmp_path_factory.mktemp("elsewhere")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
                    ).strip())
    # the project's packages (torch, jupyter, ...) after the fresh venv's own site-packages
    (site / "zz_project_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", "--no-index", "--no-deps", str(wheels[0])])
    return home, python


def test_wheel_is_imported_from_the_fresh_venv_with_shipped_results(fresh):
    home, python = fresh
    env = {k: v for k, v in os.environ.items() if k != BENCH_ENV_VAR}
    out = run([str(python), "-c", "import bst_teach, json; print(json.dumps("
               "[bst_teach.__file__, str(bst_teach.bench_results_path()), "
               "sorted(bst_teach.bench_results())]))"], cwd=home, env=env)
    module, results, keys = json.loads(out)
    records = json.loads(run([str(python), "-c", "import json; from bst_teach import results; "
                              "print(json.dumps([str(results.results_dir()), "
                              "len(results.load_records('movielens'))]))"], cwd=home, env=env))
    assert Path(module).is_relative_to(home), module  # not the repository's editable copy
    assert Path(results).is_relative_to(home) and results.endswith("_shipped/bench_results.json")
    assert {"meta", "training", "serving"} <= set(keys)
    # the experiment records travel too, so chapters 4, 5, 7 and 8 can read them
    assert records[0].endswith("_shipped/results") and records[1] == 15, records


def test_requirements_file_is_satisfied_offline(fresh):
    home, python = fresh
    out = run([sys.executable, "-m", "pip", "--python", str(python), "install", "--dry-run",
               "--disable-pip-version-check", "--no-index", "-r",
               str(DOWNLOADS / "requirements-notebooks.txt")], cwd=home)
    assert "Would install" not in out, out  # every pin is already there, nothing to fetch


def test_downloaded_notebook_runs_outside_the_repository(fresh):
    home, python = fresh
    if not os.environ.get("BST_TEACH_ML100K"):
        pytest.skip("BST_TEACH_ML100K is not set (the Makefile sets it when the data is there)")
    work = home / "work"
    work.mkdir()
    (work / NOTEBOOK).write_bytes((DOWNLOADS / NOTEBOOK).read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in (BENCH_ENV_VAR, "BST_TEACH_CACHE")}
    env.update(XDG_CACHE_HOME=str(home / "cache"), OMP_WAIT_POLICY="PASSIVE",
               JUPYTER_PLATFORM_DIRS="1", PYTHONPATH="")
    run([str(python), "-m", "nbconvert", "--log-level", "WARN", "--to", "notebook", "--execute",
         "--output", "executed.ipynb", NOTEBOOK], cwd=work, env=env)
    executed = json.loads((work / "executed.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert any((home / "cache" / "bst-teach").rglob("*")), "training cache not in XDG_CACHE_HOME"
