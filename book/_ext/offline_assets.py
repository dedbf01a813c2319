"""Sphinx extension: serve require.js, the ipywidgets HTML manager and MathJax from the site itself.

By default a Jupyter Book page loads these from public CDNs, so offline (a classroom with a poor
connection, a copy on a laptop) widgets and math come out blank.  At build time this extension
fetches pinned releases from the npm registry with ``npm pack`` (cached in ``_build/.offline``,
never committed), copies the files the pages need into a static folder of its own (not
``_static``, whose every .js/.css Jupyter Book would add to every page) and points
``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at the local copies.
"""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGES = {  # npm name -> pinned version
    "requirejs": "2.3.8",
    "@jupyter-widgets/html-manager": "1.0.15",  # the 1.0.x line matches ipywidgets 8
    "mathjax": "3.2.2",
}
# (package, path inside the package) -> path under the site's _static/offline/
FILES = {
    ("requirejs", "require.js"): "require.js",
    ("@jupyter-widgets/html-manager", "dist"): "html-manager",
    ("mathjax", "es5/tex-mml-chtml.js"): "mathjax/tex-mml-chtml.js",
    ("mathjax", "es5/output/chtml/fonts/woff-v2"): "mathjax/output/chtml/fonts/woff-v2",
    ("mathjax", "es5/input/tex/extensions"): "mathjax/input/tex/extensions",
    ("mathjax", "es5/ui"): "mathjax/ui",
    ("mathjax", "es5/a11y"): "mathjax/a11y",
    ("mathjax", "es5/adaptors"): "mathjax/adaptors",
}
SKIP = (".map", ".LICENSE.txt")
FONTS = (".woff2", ".woff", ".ttf", ".eot", ".svg")
# html-manager 1.0 typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue); MathJax 3
# has no Hub, so every object assigned to window.MathJax gets a small Hub whose Queue typesets
# with MathJax 3 (this script loads before MathJax itself).
MATHJAX_HUB_SHIM = """(function () {
  var hub = {Queue: function () {
    var mj = window.MathJax;
    if (mj && mj.typesetPromise) { return mj.typesetPromise(); }
  }};
  var current = {};
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) {
      current = value;
      if (value && !value.Hub) { try { value.Hub = hub; } catch (e) {} }
    }
  });
  window.MathJax = {};
})();
"""  # source maps and licence banners are not needed to render


def _fetch(name: str, version: str, dest: Path) -> Path:
    """npm pack NAME@VERSION and unpack it into dest/NAME; returns the package folder."""
    folder = dest / name.replace("/", "__")
    if (folder / "package.json").exists():
        return folder
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        try:
            out = subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=tmp,
                                 capture_output=True, text=True, check=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as err:
            detail = getattr(err, "stderr", "") or err
            raise ExtensionError(f"offline_assets: could not fetch {name}@{version} from the npm "
                                 f"registry: {detail}") from err
        tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as tar:
            tar.extractall(unpacked, filter="data")
        shutil.move(unpacked / "package", folder)  # atomic enough: a partial fetch stays in tmp
    return folder


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if n.endswith(SKIP)])
    else:
        shutil.copy2(src, dst)


def prepare(app: Sphinx) -> None:
    cache = Path(app.outdir).parent / ".offline"
    cache.mkdir(parents=True, exist_ok=True)
    packages = {name: _fetch(name, version, cache) for name, version in PACKAGES.items()}
    static = cache / "static"
    for (name, inner), target in FILES.items():
        _copy(packages[name] / inner, static / "offline" / target)
    (static / "offline" / "mathjax-hub-shim.js").write_text(MATHJAX_HUB_SHIM)
    app.config.html_static_path.append(str(static))
    # html-manager asks for its FontAwesome fonts relative to the *page* (book/...), not to its
    # script, and under two bases: book/@jupyter-widgets/html-manager/dist/ usually, but
    # book/@jupyter-widgets/ when its chunks resolve their public path while the page is still
    # loading (seen on a busy machine).  Copy them to both, through html_extra_path (copied to the
    # site's root).
    extra = cache / "extra"
    for fonts in (extra / "book" / "@jupyter-widgets" / "html-manager" / "dist",
                  extra / "book" / "@jupyter-widgets"):
        fonts.mkdir(parents=True, exist_ok=True)
        for font in (packages["@jupyter-widgets/html-manager"] / "dist").iterdir():
            if font.suffix in FONTS:
                shutil.copy2(font, fonts / font.name)
    app.config.html_extra_path.append(str(extra))
    app.add_js_file("offline/mathjax-hub-shim.js", priority=100)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", prepare)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
