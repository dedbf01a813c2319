"""The chapters as nbgrader assignments (https://nbgrader.readthedocs.io).

``python -m bst_teach.exercises.assignments BOOK_DIR COURSE_DIR [--exercises-only] [CHAPTER ...]``
writes an nbgrader course folder: ``nbgrader_config.py`` (sqlite gradebook in the folder) and
``source/chNN/NN_slug.ipynb`` for every chapter, marked the nbgrader way:

* a code solution is an "autograded answer" cell whose function bodies (and other statements)
  sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; imports and ``def`` lines stay;
* the checker cell after it is an "autograder tests" cell worth :data:`CODE_POINTS`: students see
  ``print(check_x(x))`` and its one-line feedback; between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS`` it calls ``check_x.strict(x)``, which raises unless the answer is right;
* a prose solution is a "manually graded answer" cell worth :data:`PROSE_POINTS` holding the
  reference answer (nbgrader replaces it by "YOUR ANSWER HERE" in the release);
* glued numbers and citations are written in, as in the student copies.

``--exercises-only`` keeps the chapter's title, its set-up cell (the first code cell: imports),
later cells made only of imports, and the exercises that need
nothing else from the chapter (no training): a quick quiz, and what the round-trip test grades.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

from .student import _source, _tags, bibliography, glued_values, render_roles, solution_regions

CODE_POINTS = 2
PROSE_POINTS = 1
_QUESTION = re.compile(r"^\*\*(\d+)\.", re.MULTILINE)
_CHECK_CALL = re.compile(r"\b(check_\w+)\(([^()]*)\)")

CONFIG = '''# nbgrader configuration written by `make assignments` (python -m bst_teach.exercises.assignments)
from pathlib import Path

c = get_config()  # noqa: F821 - provided by nbgrader
here = Path(__file__).resolve().parent
c.CourseDirectory.course_id = "bst-teach"
c.CourseDirectory.root = str(here)
c.CourseDirectory.db_url = f"sqlite:///{here / 'gradebook.db'}"
# chapters train small models (cached in data/cache of the repository); give them time
c.ExecutePreprocessor.timeout = 600
c.Execute.timeout = 600
'''


def _nbgrader(kind: str, grade_id: str, points: int | None = None) -> dict:
    meta = {"grade": kind in ("tests", "manual"), "solution": kind in ("answer", "manual"),
            "locked": kind == "tests", "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return meta


def _is_checker(cell) -> bool:
    return cell["cell_type"] == "code" and "solution" not in _tags(cell) and bool(
        _CHECK_CALL.search(_source(cell)))


def _hidden_tests(source: str) -> str:
    calls = [f"{name}.strict({args})" for name, args in _CHECK_CALL.findall(source)]
    return (source.rstrip() + "\n### BEGIN HIDDEN TESTS\n" + "\n".join(calls)
            + "\n### END HIDDEN TESTS\n")


def _imports_only(cell) -> bool:
    try:
        body = ast.parse(_source(cell)).body
    except SyntaxError:  # %matplotlib and other magics
        return False
    return bool(body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body)


def _exercise_start(notebook: dict) -> int:
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown" and re.search(r"^#+ Exercises", _source(cell), re.M):
            return i
    raise ValueError("no '## Exercises' section")


def _split_exercises(cells: list[dict]) -> list[list[dict]]:
    """The exercise section cut at every question ("**N. ..."); text before the first
    question stays with it."""
    groups: list[list[dict]] = [[]]
    for cell in cells:
        if (cell["cell_type"] == "markdown" and "solution" not in _tags(cell)
                and _QUESTION.search(_source(cell)) and any(
                    _QUESTION.search(_source(c)) for c in groups[-1])):
            groups.append([])
        groups[-1].append(cell)
    return groups


def _self_contained(group: list[dict]) -> bool:
    return all(c["cell_type"] != "code" or "solution" in _tags(c) or _is_checker(c)
               for c in group)


def assignment_notebook(notebook: dict, exercises_only: bool = False,
                        cites: dict[str, str] | None = None, where: str = "notebook") -> dict:
    """The nbgrader source version of a chapter notebook (the input is not modified)."""
    cites = bibliography() if cites is None else cites
    glued = glued_values(notebook)
    start = _exercise_start(notebook)
    cells = notebook["cells"]
    if exercises_only:
        setup = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
        head = cells[:setup + 1] + [c for c in cells[setup + 1:start] if _imports_only(c)]
        head = [c for c in head if c["cell_type"] == "code" or c is cells[0]]
        keep = [c for g in _split_exercises(cells[start:]) if _self_contained(g) for c in g]
        cells = head + keep
        start = len(head)
    out, counts, exercise = [], {}, 0
    for i, cell in enumerate(cells):
        tags = [t for t in _tags(cell) if t not in ("solution", "hide-input")]
        metadata = {k: v for k, v in cell.get("metadata", {}).items()
                    if k not in ("execution", "tags")}
        if tags:
            metadata["tags"] = tags
        source = _source(cell)
        if i >= start and cell["cell_type"] == "markdown" and "solution" not in _tags(cell):
            found = _QUESTION.findall(source)
            exercise = int(found[-1]) if found else exercise

        def grade_id(kind: str) -> str:
            counts[(exercise, kind)] = counts.get((exercise, kind), 0) + 1
            n = counts[(exercise, kind)]
            return f"ex{exercise}_{kind}" + (f"{n}" if n > 1 else "")

        if i >= start and "solution" in _tags(cell) and cell["cell_type"] == "code":
            source = solution_regions(source)
            metadata["nbgrader"] = _nbgrader("answer", grade_id("code"))
        elif i >= start and "solution" in _tags(cell):
            metadata["nbgrader"] = _nbgrader("manual", grade_id("prose"), PROSE_POINTS)
        elif i >= start and _is_checker(cell):
            source = _hidden_tests(source)
            metadata["nbgrader"] = _nbgrader("tests", grade_id("test"), CODE_POINTS)
        elif cell["cell_type"] == "markdown":
            source = render_roles(source, glued, cites, f"{where}, cell {i}")
        new = {**cell, "metadata": metadata, "source": source}
        if new["cell_type"] == "code":
            new.update(outputs=[], execution_count=None)
        out.append(new)
    meta = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return {**notebook, "cells": out, "metadata": meta}


def chapter_id(path: Path) -> str:
    return f"ch{path.name[:2]}"


def write_course(book_dir, course_dir, chapters=None, exercises_only: bool = False) -> list[Path]:
    """Write ``nbgrader_config.py`` and ``source/chNN/<chapter>.ipynb`` for every chapter with an
    Exercises section (or those whose ids, e.g. ``ch01``, are in ``chapters``)."""
    book_dir, course_dir = Path(book_dir), Path(course_dir)
    cites = bibliography()
    written = []
    for path in sorted(book_dir.glob("[0-9][0-9]_*.ipynb")):
        if chapters and chapter_id(path) not in chapters:
            continue
        notebook = json.loads(path.read_text(encoding="utf-8"))
        try:
            _exercise_start(notebook)
        except ValueError:
            continue  # a reference chapter without exercises
        target = course_dir / "source" / chapter_id(path) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        version = assignment_notebook(notebook, exercises_only, cites, where=str(path))
        target.write_text(json.dumps(version, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    if not written:
        raise FileNotFoundError(f"no chapter with an Exercises section under {book_dir}")
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bst_teach.exercises.assignments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("book", help="folder of the executed chapter notebooks (book/)")
    parser.add_argument("course", help="nbgrader course folder to write")
    parser.add_argument("chapters", nargs="*", help="chapter ids such as ch01 (default: all)")
    parser.add_argument("--exercises-only", action="store_true",
                        help="only the exercises that need nothing else from the chapter")
    args = parser.parse_args(argv)
    for path in write_course(args.book, args.course, args.chapters, args.exercises_only):
        print(path)
    print(f"next: cd {args.course} && nbgrader generate_assignment ch01  (see book/teachers.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
