"""Every student copy runs end to end (as ``jupyter nbconvert --execute`` would run it), and every
checker in it says "Not attempted yet"; in the full notebooks (the reference answers filled in)
every checker said "Correct", and nbval re-executes those and compares the outputs.

Executing a chapter trains its models unless the training cache (``data/cache``) is warm;
``make test`` builds the book first, which warms it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from bst_teach.exercises.student import strip_solutions

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(p.name for p in BOOK.glob("[0-9][0-9]_*.ipynb"))
CHECK = re.compile(r"print\((check_\w+)\(")


def _text(cell) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


def _checker_cells(notebook):
    return [c for c in notebook["cells"] if c["cell_type"] == "code"
            and "solution" not in c["metadata"].get("tags", []) and CHECK.search("".join(c["source"]))]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_full_notebook_checkers_say_correct(chapter):
    notebook = json.loads((BOOK / chapter).read_text())
    for cell in _checker_cells(notebook):
        lines = [line for line in _text(cell).splitlines() if line]
        assert lines and all(line.startswith("Correct: ") for line in lines), (chapter, lines)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_copy_runs_end_to_end(chapter, tmp_path):
    copy = strip_solutions(json.loads((BOOK / chapter).read_text()))
    notebook = nbformat.reads(json.dumps(copy), as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(BOOK)}})  # ../bench as in book/
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    nbformat.write(notebook, tmp_path / chapter)  # for a look when something is off
    checkers = _checker_cells(notebook)
    assert bool(checkers) == bool(_checker_cells(json.loads((BOOK / chapter).read_text())))
    for cell in checkers:
        lines = [line for line in _text(cell).splitlines() if line]
        assert lines and all(line.startswith("Not attempted yet: ") for line in lines), lines
