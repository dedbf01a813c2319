"""The built site, checked in a real browser (Debian's headless Chromium driven by Playwright).

For every page: it loads with no console error and no request leaving 127.0.0.1, and math renders.
On every widget page, changing each control changes what is shown; a screenshot of each widget
page goes to ``_build/screenshots`` for people to look at.  Internal links and anchors are
checked with linkchecker, over HTTP from 127.0.0.1 like the browser tests, so that no test
depends on where the clone lies or on its permissions.  The site is built first if
``_build/html`` does not exist (``make test`` builds it before running the tests).
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def pages() -> list[str]:
    if not SITE.exists():
        subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "--all", "-W",
                        "-n", "--keep-going", str(ROOT)], check=True, cwd=ROOT)
    found = sorted(p.relative_to(SITE).as_posix() for p in (SITE / "book").glob("*.html"))
    assert found, f"no pages under {SITE / 'book'}"
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageVisit:
    """Opens one page, recording console errors and every request that leaves 127.0.0.1."""

    def __init__(self, browser, base: str, path: str):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.external, self.missing = [], [], []
        self.context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), self._block)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", lambda r: r.status >= 400 and self.missing.append(r.url))
        self.page.goto(f"{base}/{path}", wait_until="networkidle")
        self.page.wait_for_timeout(300)

    def _block(self, route):
        if route.request.url.startswith(("data:", "blob:http://127.0.0.1")):  # made in the page
            return route.continue_()
        self.external.append(route.request.url)
        return route.abort()

    def close(self):
        self.context.close()


@pytest.mark.parametrize("path", pages())
def test_page_loads_offline_without_errors(browser, server, path):
    visit = PageVisit(browser, server, path)
    try:
        assert visit.external == [], f"{path} requested outside 127.0.0.1: {visit.external}"
        assert visit.missing == [], f"{path} got 4xx/5xx for: {visit.missing}"
        assert visit.errors == [], f"{path} logged console errors: {visit.errors}"
        html = (SITE / path).read_text(encoding="utf-8")
        if 'class="math' in html:
            visit.page.wait_for_selector("mjx-container", timeout=10_000)
            assert visit.page.locator("mjx-container").count() > 0
            assert visit.page.locator("mjx-merror").count() == 0, f"{path}: MathJax error"
        if WIDGET_MIME in html:
            assert visit.page.locator(".jupyter-widgets").count() > 0, f"{path}: widgets not rendered"
    finally:
        visit.close()


def visible_output(page) -> list[str]:
    """What the widget areas show: sources of visible images and visible widget text."""
    return page.evaluate("""() => {
        const shown = el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden';
        const out = [];
        document.querySelectorAll('.jupyter-widgets img').forEach(
            img => { if (shown(img)) out.push(img.src.slice(-200)); });
        document.querySelectorAll('.widget-html-content').forEach(
            h => { if (shown(h)) out.push(h.innerText); });
        return out;
    }""")


def widget_pages() -> list[str]:
    return [p for p in pages() if WIDGET_MIME in (SITE / p).read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", widget_pages())
def test_every_control_changes_the_visible_output(browser, server, path):
    visit = PageVisit(browser, server, path)
    page = visit.page
    try:
        page.wait_for_selector(".jupyter-widgets", timeout=10_000)
        dropdowns = page.locator(".widget-dropdown select")
        sliders = page.locator(".widget-slider .noUi-handle")
        assert dropdowns.count() + sliders.count() > 0, f"{path}: no controls found"
        for i in range(dropdowns.count()):
            before = visible_output(page)
            options = dropdowns.nth(i).locator("option").count()
            assert options > 1
            dropdowns.nth(i).select_option(index=options - 1)
            page.wait_for_timeout(200)
            assert visible_output(page) != before, f"{path}: dropdown {i} changed nothing"
        for i in range(sliders.count()):
            before = visible_output(page)
            sliders.nth(i).focus()
            page.keyboard.press("End")
            page.wait_for_timeout(200)
            assert visible_output(page) != before, f"{path}: slider {i} changed nothing"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (Path(path).stem + ".png")), full_page=True)
        assert visit.errors == [], f"{path} logged console errors: {visit.errors}"
    finally:
        visit.close()


LINKCHECK_CONFIG = """[checking]
threads=2
[filtering]
checkextern=0
[AnchorCheck]
[output]
status=0
"""


@contextlib.contextmanager
def serve(folder: Path):
    """``folder`` over HTTP on 127.0.0.1 (a free port) while the block runs; yields the base URL.

    Linkchecker is given URLs, not files: run as root it drops its privileges to ``nobody``,
    who cannot read a clone inside a private (mode 700) folder; this server reads as us.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def linkcheck(folder: Path, start: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Linkchecker on ``start`` (a page of ``folder``) served over HTTP; links leaving the
    server are not followed (``checkextern=0``), anchors are checked."""
    config = tmp_path / "linkchecker.ini"
    config.write_text(LINKCHECK_CONFIG)
    with serve(folder) as base:
        return subprocess.run([sys.executable, "-c", RUN_LINKCHECKER, "--config", str(config),
                               "--no-status", f"{base}/{start}"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)


# Run as root, linkchecker switches to the user ``nobody`` once it has started; in a clone inside
# a private (mode 700) folder ``nobody`` can then read neither its config nor the plugins it loads
# later (the anchor check), and anchors go silently unchecked.  It only reads a local server here,
# so it keeps our user.
RUN_LINKCHECKER = """
import sys
import linkcheck.command.linkchecker as command
command.drop_privileges = lambda: None
sys.argv[0] = "linkchecker"
sys.exit(command.linkchecker())
"""


def test_linkchecker_catches_a_broken_anchor(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text('<a href="b.html#here">b</a> <a href="c.html">c</a>')
    (site / "b.html").write_text('<h1 id="here">b</h1>')
    (site / "c.html").write_text('<h1 id="c">c</h1>')
    assert linkcheck(site, "a.html", tmp_path).returncode == 0  # every link and anchor exists
    (site / "a.html").write_text('<a href="b.html#nowhere">b</a>')
    assert linkcheck(site, "a.html", tmp_path).returncode == 1
    (site / "a.html").write_text('<a href="missing.html">b</a>')
    assert linkcheck(site, "a.html", tmp_path).returncode == 1


def test_no_broken_internal_link_or_anchor(tmp_path):
    pages()
    result = linkcheck(SITE, "index.html", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
