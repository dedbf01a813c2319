"""Sphinx extension: make every chapter runnable outside the repository, and keep outputs in view.

At build time it

* builds a wheel of ``bst_teach`` (``pip wheel --no-deps --no-build-isolation`` on a copy of the
  package, so nothing is written into the checkout), with the benchmark results file packed inside
  (``bst_teach/_shipped/bench_results.json``, read by :func:`bst_teach.bench_results`);
* offers, under ``downloads/`` of the site, that wheel, ``requirements-notebooks.txt`` (the pinned
  packages a chapter needs), every chapter's notebook and the benchmark results;
* puts one line at the top of every chapter saying how to run it there;
* adds ``bst-teach.css``, which makes printed outputs, tables and display equations scroll inside
  their own box instead of running off the text column.
"""
from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parent / "static"
REQUIREMENTS = "requirements-notebooks.txt"
RESULTS = ROOT / "bench" / "results" / "results.json"
RECORDS = ROOT / "results"
SCALING = ROOT / "bench" / "results" / "scaling.json"
MEMORY = ROOT / "bench" / "results" / "memory_scaling.json"


def build_wheel(dest: Path) -> Path:
    """A wheel of bst_teach (with the benchmark results and experiment records inside) in ``dest``; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "bst_teach", src / "bst_teach",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_shipped"))
        (src / "bst_teach" / "_shipped").mkdir()
        if RESULTS.is_file():
            shutil.copy2(RESULTS, src / "bst_teach" / "_shipped" / "bench_results.json")
        if SCALING.is_file():  # what the "Scaling up" appendix reads
            shutil.copy2(SCALING, src / "bst_teach" / "_shipped" / "scaling.json")
        if MEMORY.is_file():  # and its logs-larger-than-memory section
            shutil.copy2(MEMORY, src / "bst_teach" / "_shipped" / "memory_scaling.json")
        if RECORDS.is_dir():  # the experiment records chapters 4, 5, 7, 8 read
            shutil.copytree(RECORDS, src / "bst_teach" / "_shipped" / "results",
                            ignore=shutil.ignore_patterns("*.tmp", "*.part"))
        out = Path(tmp) / "wheel"
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(src)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as err:
            detail = getattr(err, "stderr", "") or err
            raise ExtensionError(f"run_anywhere: could not build the bst_teach wheel: {detail}")
        wheels = sorted(out.glob("bst_teach-*.whl"))
        if len(wheels) != 1:
            raise ExtensionError(f"run_anywhere: expected one wheel, found {wheels}")
        for old in dest.glob("bst_teach-*.whl"):
            old.unlink()
        target = dest / wheels[0].name
        shutil.move(wheels[0], target)
    return target


def chapters(app: Sphinx) -> list[str]:
    """Docnames of the notebook pages (book/NN_name)."""
    return sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


def prepare(app: Sphinx) -> None:
    stage = Path(app.outdir).parent / ".run_anywhere"
    downloads = stage / "extra" / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(downloads)
    app.config.bst_wheel_name = wheel.name
    shutil.copy2(ROOT / REQUIREMENTS, downloads / REQUIREMENTS)
    if RESULTS.is_file():
        shutil.copy2(RESULTS, downloads / "bench_results.json")
    for name in chapters(app):
        shutil.copy2(ROOT / "book" / f"{name}.ipynb", downloads / f"{name}.ipynb")
    app.config.html_extra_path.append(str(stage / "extra"))
    app.config.html_static_path.append(str(STATIC))
    app.add_css_file("bst-teach.css")


RUN_LINE = (
    '<p class="bst-run-line"><strong>Run this page yourself:</strong> '
    '<code>pip install {wheel} -r {req}</code> (files: '
    '<a href="{base}downloads/{wheel}">the package</a>, '
    '<a href="{base}downloads/{req}">pinned requirements</a>), then open '
    '<a href="{base}downloads/{nb}">{nb}</a> in Jupyter; MovieLens is read from the folder in '
    '<code>BST_TEACH_ML100K</code> (or downloaded, checksum-verified).</p>\n'
)


def add_run_line(app: Sphinx, pagename, templatename, context, doctree) -> None:
    name = pagename.rsplit("/", 1)[-1]
    if not (pagename.startswith("book/") and name in chapters(app)) or "body" not in context:
        return
    base = "../" * pagename.count("/")
    line = RUN_LINE.format(wheel=html.escape(app.config.bst_wheel_name), req=REQUIREMENTS,
                           nb=f"{name}.ipynb", base=base)
    body = context["body"]
    # after the page's title (its first </h1>) so the title stays on top
    cut = body.find("</h1>")
    context["body"] = body[:cut + 5] + line + body[cut + 5:] if cut >= 0 else line + body


def setup(app: Sphinx) -> dict:
    app.add_config_value("bst_wheel_name", "", "html")
    app.connect("builder-inited", prepare)
    app.connect("html-page-context", add_run_line)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
