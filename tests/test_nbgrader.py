"""nbgrader end to end on chapter 1's exercises: generate the assignment, three fake submissions
(correct, wrong, blank), autograde, the teacher's manual grade of the prose answer, export.

nbgrader runs locally with a sqlite gradebook in a temporary course folder; no server.  The
assignment is ``--exercises-only`` (the chapter's set-up cell and its self-contained exercises),
so nothing trains.  Run with ``-s`` to see the grade table.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bst_teach.exercises.assignments import CODE_POINTS, PROSE_POINTS, write_course
from bst_teach.exercises.student import BEGIN, END

pytest.importorskip("nbgrader")
BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOK = "01_ranking_problem.ipynb"
WRONG_ENCODE = '''def encode(train_values, values):
    index = {v: i + 2 for i, v in enumerate(sorted(set(train_values)))}
    return np.array([index.get(v, 0) for v in values], dtype=np.int64)  # unseen -> 0: wrong
'''


def nbgrader(course: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _by_id(notebook: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in notebook["cells"]
            if "nbgrader" in c["metadata"]}


def _submit(course: Path, student: str, release: dict, answers: dict[str, str]) -> None:
    notebook = json.loads(json.dumps(release))
    cells = _by_id(notebook)
    for grade_id, source in answers.items():
        cells[grade_id]["source"] = source
    folder = course / "submitted" / student / "ch01"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    write_course(BOOK, course, ["ch01"], exercises_only=True)
    nbgrader(course, "generate_assignment", "ch01", "--create")
    source = json.loads((course / "source" / "ch01" / NOTEBOOK).read_text())
    release = json.loads((course / "release" / "ch01" / NOTEBOOK).read_text())
    solutions = {gid: "".join(line for line in c["source"].splitlines(keepends=True)
                              if line.strip() not in (BEGIN, END))
                 for gid, c in _by_id(source).items() if c["metadata"]["nbgrader"]["solution"]}
    prose = "Every new user shares one untrained vector; map rare ids to OOV, or drop user_id."
    _submit(course, "correct", release, {**solutions, "ex4_prose": prose})
    _submit(course, "wrong", release, {**solutions, "ex2_code": WRONG_ENCODE,
                                       "ex4_prose": "It does nothing."})
    _submit(course, "blank", release, {})
    nbgrader(course, "autograde", "ch01", "--create")

    from nbgrader.api import Gradebook

    db = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db) as gb:  # the teacher reads the prose answers in formgrader
        for student, points in (("correct", PROSE_POINTS), ("wrong", 0)):
            grade = gb.find_grade("ex4_prose", "01_ranking_problem", "ch01", student)
            assert grade.needs_manual_grade
            grade.manual_score = points
        gb.db.commit()
        blank_prose = gb.find_grade("ex4_prose", "01_ranking_problem", "ch01", "blank")
        scores = {s: {g.name: g.score for g in
                      gb.find_submission_notebook("01_ranking_problem", "ch01", s).grades}
                  for s in ("correct", "wrong", "blank")}
        blank_needs_manual = blank_prose.needs_manual_grade
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv") as f:
        table = {row["student_id"]: row for row in csv.DictReader(f)}
    yield course, table, scores, blank_needs_manual
    shutil.rmtree(course, ignore_errors=True)


def test_grades(graded):
    course, table, scores, blank_needs_manual = graded
    maximum = 2 * CODE_POINTS + PROSE_POINTS
    print("\nstudent  exercise 1  exercise 2  exercise 4 (prose)  total")
    for student in ("correct", "wrong", "blank"):
        s = scores[student]
        print(f"{student:8} {s['ex1_test']:>10} {s['ex2_test']:>11} {s['ex4_prose']:>19}  "
              f"{float(table[student]['score']):g} / {float(table[student]['max_score']):g}")
    assert {s: float(row["max_score"]) for s, row in table.items()} == dict.fromkeys(
        ("correct", "wrong", "blank"), maximum)
    assert float(table["correct"]["score"]) == maximum  # full marks
    assert scores["wrong"] == {"ex1_test": CODE_POINTS, "ex2_test": 0, "ex4_prose": 0}
    assert float(table["wrong"]["score"]) == CODE_POINTS  # partial
    assert float(table["blank"]["score"]) == 0  # zero, and nothing left to grade by hand
    assert not blank_needs_manual


def test_students_see_one_line_feedback(graded):
    course = graded[0]
    notebook = json.loads((course / "autograded" / "wrong" / "ch01" / NOTEBOOK).read_text())
    cell = _by_id(notebook)["ex2_test"]
    visible = ["".join(o["text"]) for o in cell["outputs"] if o.get("name") == "stdout"]
    assert visible == ["Not yet: an unseen value got index 0 (padding); unseen values must get "
                       "the out-of-vocabulary index 1, or the model would ignore them as if they "
                       "were empty slots\n"]
    blank = json.loads((course / "autograded" / "blank" / "ch01" / NOTEBOOK).read_text())
    text = "".join("".join(o.get("text", "")) for o in _by_id(blank)["ex1_test"]["outputs"])
    assert text.startswith("Not attempted yet")
