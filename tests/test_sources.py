"""Each chapter notebook holds exactly the cells of its jupytext source (book/src/NN_slug.py).

The site shows the notebooks' stored outputs, so a source edited without `make notebook` would
publish a page that no longer matches what the reader's copy runs."""
import json
from pathlib import Path

import jupytext
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(p.stem for p in (BOOK / "src").glob("*.py"))


def test_every_chapter_has_a_source():
    assert len(CHAPTERS) == 10, CHAPTERS
    assert {p.stem for p in BOOK.glob("[0-9][0-9]_*.ipynb")} == set(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS)
def test_notebook_matches_its_source(name):
    source = jupytext.read(BOOK / "src" / f"{name}.py")
    stored = json.loads((BOOK / f"{name}.ipynb").read_text(encoding="utf-8"))
    want = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in source.cells]
    have = [(c["cell_type"], "".join(c["source"]), sorted(c.get("metadata", {}).get("tags", [])))
            for c in stored["cells"]]
    assert have == want, (f"book/{name}.ipynb does not hold the cells of book/src/{name}.py: "
                          f"run `make notebook NB={name}`")
