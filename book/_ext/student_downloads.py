"""Sphinx extension: every chapter's student notebook, downloadable next to the full one.

For a page built from a notebook with solution cells (tagged ``solution``), the student copy
(:func:`bst_teach.exercises.student.strip_solutions`: stubs and answer cells instead of the
solutions, glued numbers and citations written in, no outputs) is written to
``_sources/<page>_student.ipynb`` in the built site, and the page's download menu gets a
".ipynb (student)" entry below the theme's ".ipynb".
"""
from __future__ import annotations

import json
from pathlib import Path

from sphinx.application import Sphinx

SUFFIX = "_student.ipynb"


def _has_solutions(notebook: dict) -> bool:
    return any("solution" in c.get("metadata", {}).get("tags", []) for c in notebook["cells"])


def add_student_notebook(app: Sphinx, pagename, templatename, context, doctree) -> None:
    source = Path(app.srcdir) / f"{pagename}.ipynb"
    if not source.exists():
        return
    notebook = json.loads(source.read_text(encoding="utf-8"))
    if not _has_solutions(notebook):
        return
    from bst_teach.exercises.student import strip_solutions

    target = Path(app.outdir) / "_sources" / f"{pagename}{SUFFIX}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(strip_solutions(notebook, where=str(source)), indent=1,
                              ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        # a page built from a .ipynb offers it as its source file ("download-source-button")
        at = next((i + 1 for i, b in enumerate(buttons) if b.get("label") in (
            "download-notebook-button", "download-source-button")), 0)
        buttons.insert(at, {
            "type": "link",
            "url": f"{context['pathto']('_sources', 1)}/{pagename}{SUFFIX}",
            "text": ".ipynb (student)",
            "icon": "fas fa-user-graduate",
            "tooltip": "Download the student notebook (exercises without solutions)",
            "label": "download-student-notebook-button",
        })


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", add_student_notebook, priority=600)  # after the theme's 501
    return {"parallel_read_safe": True, "parallel_write_safe": True}
