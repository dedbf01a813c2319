"""Student copies of the book's notebooks: the same notebooks with the solutions removed.

A solution is any cell tagged ``solution``.  A code solution becomes an empty cell that says
"# Your code here"; a markdown solution disappears.  Outputs are cleared so students run the cells
themselves.
"""
from __future__ import annotations

import json
from pathlib import Path

PLACEHOLDER = "# Your code here: write the function, then run the checker in the next cell.\n"


def strip_solutions(notebook: dict) -> dict:
    """Return a copy of a notebook (as parsed JSON) without solution cells or outputs."""
    cells = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags:
            if cell["cell_type"] != "code":
                continue
            cell = {**cell, "source": PLACEHOLDER,
                    "metadata": {**cell["metadata"], "tags": ["exercise"]}}
        if cell["cell_type"] == "code":
            cell = {**cell, "outputs": [], "execution_count": None}
        cells.append(cell)
    out = {**notebook, "cells": cells}
    out["metadata"] = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return out


def write_student_copies(source, dest) -> list[Path]:
    """Copy every notebook under ``source`` to ``dest`` with the solutions stripped."""
    source, dest = Path(source), Path(dest)
    written = []
    for path in sorted(source.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = json.loads(path.read_text(encoding="utf-8"))
        target.write_text(json.dumps(strip_solutions(notebook), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    if not written:
        raise FileNotFoundError(f"no notebooks found under {source}")
    return written
