"""The built site offers each chapter's student notebook next to the full one, and that download
holds no solution.  (The site is built by ``make test`` first; see test_site.py.)"""
import json
import re

import pytest

from test_site import ROOT, SITE, pages

CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("0[1-8]_*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_download(chapter):
    assert f"book/{chapter}.html" in pages()  # builds the site if it is missing
    html = (SITE / "book" / f"{chapter}.html").read_text()
    full = re.search(r'href="([^"]*_sources/book/' + chapter + r'\.ipynb)"', html)
    student = re.search(r'href="([^"]*_sources/book/' + chapter + r'_student\.ipynb)"', html)
    assert full and student, "the download menu lacks the full or the student notebook"
    assert html.index(full.group(0)) < html.index(student.group(0))  # listed right after it
    notebook = json.loads((SITE / "_sources" / "book" / f"{chapter}_student.ipynb").read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    assert not any("solution" in c["metadata"].get("tags", []) for c in notebook["cells"])
    assert not any("admonition} Solution" in s for s in sources)
    assert any("raise NotImplementedError()" in s for s in sources)
    assert not any(c.get("outputs") for c in notebook["cells"])
    assert not any("{glue" in s or "{cite" in s for s in sources)
