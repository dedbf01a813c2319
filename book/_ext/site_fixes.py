"""Sphinx extension: remove the console errors the default Jupyter Book 1 set-up logs.

* ``Identifier 'THEBE_JS_URL' has already been declared``: sphinx-thebe adds its inline
  configuration script each time ``env-before-read-docs`` fires, and Jupyter Book fires it more
  than once (once as filename None, once as ""), so pages carry two ``const THEBE_JS_URL``
  declarations.  We drop repeated scripts.
* ``Got invalid theme mode``: pydata-sphinx-theme reads the mode from ``localStorage`` and falls
  back to the ``default_mode`` template variable, which Jupyter Book leaves empty; a fresh
  browser profile then has no valid mode.  We set it to "auto".
"""
from __future__ import annotations

from sphinx.application import Sphinx


def set_default_mode(app: Sphinx, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", str(script)) or None  # inline scripts: None or ""
    return (filename, tuple(sorted(attributes.items())))


def drop_repeated_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, unique = set(), []
    for script in files:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    files[:] = unique  # in place: the builder restores its own list after each page


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", set_default_mode)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)  # after the others
    return {"parallel_read_safe": True, "parallel_write_safe": True}
