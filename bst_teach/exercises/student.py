"""Student copies of the book's notebooks: the same notebooks without the solutions, readable in
JupyterLab.

A solution is any cell tagged ``solution``.

* A code solution becomes a stub: its imports and the ``def`` lines (and docstrings) of its
  functions stay, each function body becomes ``raise NotImplementedError()`` (so the checker in
  the next cell says "not attempted yet" instead of failing) and any other statement becomes
  ``# YOUR CODE HERE``.  The stub cell keeps running, so "Run All" goes to the end.
* A markdown solution becomes an empty answer cell ("Your answer: ...").
* ``{glue:text}`name:fmt``` is replaced by the value the executed notebook glued (formatted as
  myst-nb formats it on the site), ``{cite}`key``` by "Author (year)" from
  ``book/references.bib``, and other roles by their text: JupyterLab does not know MyST roles.
* Outputs and stored widget state are cleared, so students run the cells themselves.

:func:`solution_regions` marks the same solution parts with nbgrader's ``### BEGIN SOLUTION`` /
``### END SOLUTION`` lines (used by ``bst_teach.exercises.assignments``).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
FUNCTION_STUB = "raise NotImplementedError()"
CODE_STUB = "# YOUR CODE HERE"
ANSWER = ("**Your answer:** *(double-click this cell, write your answer here, then run it with "
          "Shift+Enter)*")
BIBLIOGRAPHY = Path(__file__).resolve().parents[2] / "book" / "references.bib"

# a ``:::{glue:figure} name`` block (options, then the caption) becomes its caption
_GLUE_FIGURE = re.compile(r"^:::\{glue:figure\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*(.*?)^:::[ \t]*$",
                          re.S | re.M)
_GLUE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
_CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
_ROLE = re.compile(r"\{[a-z][a-z:-]*\}`([^`]+)`")
_TARGET = re.compile(r"\s*<[^>]*>$")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


# ---------------------------------------------------------------------------------------------
# solution regions
# ---------------------------------------------------------------------------------------------
def solution_regions(source: str) -> str:
    """The solution code with its solution parts between ``### BEGIN/END SOLUTION`` lines.

    Imports and the heading (``def`` line and docstring) of every top-level function stay
    outside; function bodies and every other top-level statement are solution parts.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out: list[str] = []
    done = 0  # lines of `source` already copied

    def copy_until(stop: int) -> None:
        nonlocal done
        out.extend(lines[done:stop])
        done = max(done, stop)

    def region(first: int, last: int, indent: str) -> None:
        nonlocal done
        out.append(indent + BEGIN)
        out.extend(lines[first:last])
        out.append(indent + END)
        done = last

    pending: list[ast.stmt] = []  # consecutive non-import, non-function statements

    def flush() -> None:
        if pending:
            first = _first_line(pending[0])
            copy_until(first)
            region(first, pending[-1].end_lineno, "")
            pending.clear()

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            flush()
            copy_until(node.end_lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            flush()
            body = node.body
            if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                body = body[1:]  # keep the docstring
            if not body:
                copy_until(node.end_lineno)
                continue
            first = _first_line(body[0])
            copy_until(first)
            indent = re.match(r"\s*", lines[first]).group(0)
            region(first, node.end_lineno, indent)
        else:
            pending.append(node)
    flush()
    copy_until(len(lines))
    return "\n".join(out).rstrip() + "\n"


def _first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators]) - 1


def clear_regions(marked: str) -> str:
    """Replace every solution part by a stub, as nbgrader's ``ClearSolutions`` does, except that a
    top-level part becomes only ``# YOUR CODE HERE`` (no raise, so "Run All" goes on)."""
    out: list[str] = []
    inside = False
    for line in marked.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            out.append(indent + CODE_STUB)
            if indent:
                out.append(indent + FUNCTION_STUB)
        elif stripped == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out).rstrip() + "\n"


def code_stub(solution: str) -> str:
    """The stub a student starts from, for a solution code cell."""
    return clear_regions(solution_regions(solution))


# ---------------------------------------------------------------------------------------------
# glue, citations and other MyST roles
# ---------------------------------------------------------------------------------------------
def glued_values(notebook: dict) -> dict[str, str]:
    """``name -> text/plain`` of every value the executed notebook glued."""
    values = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                text = output["data"].get(record.get("mime_prefix", "") + "text/plain")
                if text is not None:
                    values[record["name"]] = "".join(text) if isinstance(text, list) else text
    return values


def _latex_to_text(text: str) -> str:
    text = re.sub(r"\\[a-zA-Z]+\s*", lambda m: {"\\L": "Ł", "\\l": "ł"}.get(m.group(0).strip(), ""),
                  text)
    return text.replace("{", "").replace("}", "").replace("\\", "")


def bibliography(path=BIBLIOGRAPHY) -> dict[str, str]:
    """``key -> "Author (year)"`` ("A and B", "A et al." from three authors) from a .bib file."""
    from pybtex.database import parse_file

    labels = {}
    for key, entry in parse_file(str(path)).entries.items():
        names = [_latex_to_text(" ".join(p.last_names)) for p in entry.persons.get("author", [])]
        if len(names) >= 3:
            who = f"{names[0]} et al."
        elif names:
            who = " and ".join(names)
        else:
            who = _latex_to_text(entry.fields.get("title", key))
        labels[key] = f"{who} ({entry.fields.get('year', 'n.d.')})"
    return labels


def render_roles(text: str, glued: dict[str, str], cites: dict[str, str],
                 where: str = "notebook") -> str:
    """Markdown with glue and cite roles replaced by their values, other roles by their text."""
    from myst_nb.core.variables import format_plain_text

    def glue(match):
        key, _, fmt = match.group(1).partition(":")
        if key not in glued:
            raise KeyError(f"{where}: {{glue:text}}`{match.group(1)}` names nothing the notebook "
                           f"glued (glued: {', '.join(sorted(glued)) or 'nothing'})")
        return format_plain_text(glued[key], fmt or "s")

    def cite(match):
        keys = [k.strip() for k in match.group(1).split(",")]
        missing = [k for k in keys if k not in cites]
        if missing:
            raise KeyError(f"{where}: citation key {missing[0]!r} is not in {BIBLIOGRAPHY.name}")
        return "; ".join(cites[k] for k in keys)

    text = _GLUE_FIGURE.sub(lambda m: f"**Figure (shown in the book):** {m.group(1).strip()}", text)
    text = _GLUE.sub(glue, text)
    text = _CITE.sub(cite, text)
    return _ROLE.sub(lambda m: _TARGET.sub("", m.group(1)), text)


# ---------------------------------------------------------------------------------------------
# the student copy
# ---------------------------------------------------------------------------------------------
def _is_checker(cell) -> bool:
    return cell["cell_type"] == "code" and "check_" in _source(cell)


def strip_solutions(notebook: dict, cites: dict[str, str] | None = None,
                    where: str = "notebook") -> dict:
    """Return the student copy of a notebook (as parsed JSON); the input is not modified."""
    cites = bibliography() if cites is None else cites
    glued = glued_values(notebook)
    cells = []
    source_cells = notebook["cells"]
    for i, cell in enumerate(source_cells):
        tags = _tags(cell)
        metadata = {k: v for k, v in cell.get("metadata", {}).items() if k != "execution"}
        if "solution" in tags:
            rest = [t for t in tags if t not in ("solution", "hide-input")]
            if cell["cell_type"] == "code":
                following = next((c for c in source_cells[i + 1:]
                                  if "solution" not in _tags(c)), None)
                then = ("run it, then the checker in the next cell" if following is not None
                        and _is_checker(following) else "run it")
                header = f"# Exercise: write your code in this cell and {then}.\n"
                cell = {**cell, "source": header + code_stub(_source(cell)),
                        "metadata": {**metadata, "tags": rest + ["exercise"]}}
            else:
                cell = {"cell_type": "markdown", "id": cell.get("id", f"answer-{i}"),
                        "metadata": {"tags": rest + ["answer"]}, "source": ANSWER}
        elif cell["cell_type"] == "markdown":
            cell = {**cell, "metadata": metadata,
                    "source": render_roles(_source(cell), glued, cites, f"{where}, cell {i}")}
        else:
            cell = {**cell, "metadata": metadata}
        if cell["cell_type"] == "code":
            cell = {**cell, "outputs": [], "execution_count": None}
        cells.append(cell)
    out = {**notebook, "cells": cells}
    out["metadata"] = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return out


def write_student_copies(source, dest) -> list[Path]:
    """Write the student copy of every notebook under ``source`` to ``dest``."""
    source, dest = Path(source), Path(dest)
    cites = bibliography()
    written = []
    for path in sorted(source.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = json.loads(path.read_text(encoding="utf-8"))
        copy = strip_solutions(notebook, cites, where=str(path))
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    if not written:
        raise FileNotFoundError(f"no notebooks found under {source}")
    return written


def main(argv=None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bst_teach.exercises.student BOOK_DIR DEST_DIR", file=sys.stderr)
        return 2
    for path in write_student_copies(*args):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
