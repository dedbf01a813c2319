"""The teachers' page tables: read from the stored notebooks, one description per checker."""
from pathlib import Path

from bst_teach.exercises.course import chapter_table, checker_description, exercise_table

BOOK = Path(__file__).resolve().parents[1] / "book"


def test_chapter_table():
    table = chapter_table(BOOK)
    assert len(table) == len(list(BOOK.glob("[0-9][0-9]_*.ipynb")))
    assert (table["words"] > 500).all() and table["execution (min)"].notna().all()
    assert table["code exercises"].sum() >= 14


def test_every_code_exercise_says_what_is_checked():
    table = exercise_table(BOOK)
    code = table[table["kind"] == "code, checked"]
    assert len(code) >= 14 and not code["what is checked"].str.contains("teacher").any()
    assert checker_description("01", "check_mean_pool").startswith("`mean_pool(hist, mask)`: ")
