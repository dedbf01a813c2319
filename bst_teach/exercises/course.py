"""Figures for the teachers' page, read from the executed chapter notebooks.

* :func:`chapter_table` -- per chapter: words to read (markdown outside solutions), the reading
  time at a stated pace, the execution time recorded in the notebook's cell metadata, and the
  exercises by kind;
* :func:`exercise_table` -- per exercise: its title, its kind (code checked by a checker, run a
  cell and explain, prose) and, for code, what the checker checks (from the checker module's
  docstring, so the table cannot drift from the code).
"""
from __future__ import annotations

import importlib
import json
import math
import re
from datetime import datetime
from pathlib import Path

from .student import _source, _tags

WORDS_PER_MINUTE = 150  # technical prose with formulas and figures, read carefully
_QUESTION = re.compile(r"\*\*(\d+)\.\s*(.+?)\*\*", re.S)
_CHECK = re.compile(r"\b(check_\w+)\(")


def _chapters(book_dir) -> list[Path]:
    return sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb"))


def _title(notebook: dict) -> str:
    for cell in notebook["cells"]:
        match = re.search(r"^# (.+)$", _source(cell), re.M)
        if cell["cell_type"] == "markdown" and match:
            return match.group(1).strip()
    return "?"


def execution_seconds(notebook: dict) -> float | None:
    """Wall time from the first cell's start to the last cell's reply, as nbclient recorded it
    when the notebook was last executed (None if the notebook carries no timings)."""
    starts, ends = [], []
    for cell in notebook["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            starts.append(datetime.fromisoformat(timing["iopub.execute_input"].rstrip("Z")))
            ends.append(datetime.fromisoformat(timing["shell.execute_reply"].rstrip("Z")))
    return (max(ends) - min(starts)).total_seconds() if starts else None


def _words(notebook: dict) -> int:
    text = " ".join(_source(c) for c in notebook["cells"]
                    if c["cell_type"] == "markdown" and "solution" not in _tags(c))
    return len(re.findall(r"[A-Za-z0-9][\w'-]*", text))


def _exercises(notebook: dict) -> list[dict]:
    """Exercises of the '## Exercises' section, in order, each with its kind."""
    cells = notebook["cells"]
    start = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                  and re.search(r"^#+ Exercises", _source(c), re.M)), None)
    if start is None:
        return []
    found: list[dict] = []
    for cell in cells[start:]:
        source = _source(cell)
        if cell["cell_type"] == "markdown" and "solution" not in _tags(cell):
            for number, title in _QUESTION.findall(source):
                found.append({"number": int(number), "title": " ".join(title.split()).rstrip("."),
                              "checkers": [], "runs": False, "prose": False})
        elif found and cell["cell_type"] == "code" and "solution" not in _tags(cell):
            checkers = _CHECK.findall(source)
            found[-1]["checkers"] += checkers
            found[-1]["runs"] |= not checkers
        elif found and cell["cell_type"] == "markdown":
            found[-1]["prose"] = True
    return found


def _kind(exercise: dict) -> str:
    if exercise["checkers"]:
        return "code, checked"
    if exercise["runs"]:
        return "predict, run a cell, explain"
    return "written answer"


def checker_description(chapter: str, name: str) -> str:
    """The line of ``bst_teach.exercises.chNN``'s docstring that describes checker ``name``."""
    doc = importlib.import_module(f"bst_teach.exercises.ch{chapter}").__doc__ or ""
    match = re.search(rf":func:`{name}` -- (.+?)(?:\n\* |\Z)", doc, re.S)
    if not match:
        return ""
    text = " ".join(match.group(1).split()).rstrip(";.")
    text = re.sub(r":func:`([^`]+)`", r"\1", text)
    return text.replace("``", "`")


def chapter_table(book_dir):
    """A pandas DataFrame, one row per chapter."""
    import pandas as pd

    rows = []
    for path in _chapters(book_dir):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        exercises = _exercises(notebook)
        seconds = execution_seconds(notebook)
        words = _words(notebook)
        rows.append({
            "chapter": f"{int(path.name[:2])}. {_title(notebook)}",
            "words": words,
            "reading (min)": math.ceil(words / WORDS_PER_MINUTE),
            "execution (min)": None if seconds is None else round(seconds / 60, 1),
            "code exercises": sum(bool(e["checkers"]) for e in exercises),
            "other exercises": sum(not e["checkers"] for e in exercises),
        })
    return pd.DataFrame(rows)


def exercise_table(book_dir):
    """A pandas DataFrame, one row per exercise."""
    import pandas as pd

    rows = []
    for path in _chapters(book_dir):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for exercise in _exercises(notebook):
            checks = "; ".join(checker_description(path.name[:2], name)
                               for name in dict.fromkeys(exercise["checkers"]))
            rows.append({"chapter": int(path.name[:2]), "exercise": exercise["number"],
                         "title": exercise["title"], "kind": _kind(exercise),
                         "what is checked": checks or "the teacher reads it (model answer in the "
                                                      "book, behind a toggle)"})
    return pd.DataFrame(rows)
