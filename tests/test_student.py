import json

import pytest

from bst_teach.exercises.student import PLACEHOLDER, strip_solutions, write_student_copies


def nb(cells):
    return {"cells": cells, "metadata": {"widgets": {"x": 1}}, "nbformat": 4, "nbformat_minor": 5}


def cell(kind, source, tags=()):
    c = {"cell_type": kind, "source": source, "metadata": {"tags": list(tags)}}
    if kind == "code":
        c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}],
                 execution_count=3)
    return c


def test_solutions_are_removed_and_outputs_cleared():
    src = nb([cell("markdown", "Question"), cell("code", "def f(): return 42", ["solution", "hide-input"]),
              cell("code", "check(f)"), cell("markdown", ":::{admonition} Solution", ["solution"])])
    out = strip_solutions(src)
    sources = [c["source"] for c in out["cells"]]
    assert sources == ["Question", PLACEHOLDER, "check(f)"]
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in out["cells"] if c["cell_type"] == "code")
    assert "widgets" not in out["metadata"]
    assert len(src["cells"]) == 4  # the input is not modified


def test_write_student_copies(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.ipynb").write_text(json.dumps(nb([cell("code", "1", ["solution"])])))
    written = write_student_copies(tmp_path / "book", tmp_path / "student")
    assert [p.name for p in written] == ["a.ipynb"]
    assert json.loads(written[0].read_text())["cells"][0]["source"] == PLACEHOLDER
    with pytest.raises(FileNotFoundError):
        write_student_copies(tmp_path / "student" / "nothing", tmp_path / "x")
