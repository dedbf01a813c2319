"""A chapter's student copy read in JupyterLab 4 (from .venv, on 127.0.0.1) by a real browser
(Debian's headless Chromium driven by Playwright): no raw ``{glue`` or ``{cite`` text, the
citations and glued numbers written in.  The full notebook, opened the same way, does show the
raw roles: that is what the student copies fix, and it shows that the check can fail.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bst_teach.exercises.student import bibliography, glued_values, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "03_bst_architecture.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETTINGS = {  # every cell in the DOM (no virtual scrolling), no news or update checks
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    notebook = json.loads((ROOT / "book" / CHAPTER).read_text())
    (root / "student").mkdir()
    (root / "student" / CHAPTER).write_text(json.dumps(strip_solutions(notebook)))
    (root / "full").mkdir()
    shutil.copy(ROOT / "book" / CHAPTER, root / "full" / CHAPTER)
    settings = root / ".settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "BST_TEACH_PROGRESS": "0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
         "--ServerApp.allow_root=True"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (root / "lab.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text())
        yield base, token, notebook
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _rendered_text(browser, base, token, path, n_markdown) -> str:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a fresh workspace (?reset), so only this notebook is open
        page.goto(f"{base}/lab/tree/{path}?reset&token={token}", wait_until="domcontentloaded")
        panel = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
        page.wait_for_function(f"document.querySelectorAll('{panel} .jp-MarkdownOutput')"
                               f".length >= {n_markdown}", timeout=120_000)
        page.wait_for_timeout(500)
        assert page.locator(".jp-NotebookPanel").count() == 1
        return page.inner_text(panel)
    finally:
        page.close()


def test_student_copy_reads_without_raw_roles(lab, browser):
    base, token, notebook = lab
    markdown = [c for c in notebook["cells"] if c["cell_type"] == "markdown"]
    text = _rendered_text(browser, base, token, f"student/{CHAPTER}", len(
        [c for c in markdown if "solution" not in c["metadata"].get("tags", [])]))
    assert "{glue" not in text and "{cite" not in text
    cited = set(re.findall(r"\{cite\}`([^`]+)`", "".join("".join(c["source"]) for c in markdown)))
    labels = bibliography()
    assert cited and all(labels[key] in text for key in cited), cited
    glued = glued_values(notebook)
    assert f"{int(glued['n_train']):,}" in text  # "50,000 training samples"


def test_full_notebook_shows_the_raw_roles(lab, browser):
    base, token, notebook = lab
    n = sum(c["cell_type"] == "markdown" for c in notebook["cells"])
    text = _rendered_text(browser, base, token, f"full/{CHAPTER}", n)
    assert "{glue:text}" in text and "{cite}" in text
