import json

import pytest

from bst_teach.exercises.student import (ANSWER, BEGIN, END, bibliography, code_stub,
                                         render_roles, solution_regions, strip_solutions,
                                         write_student_copies)


def nb(cells):
    return {"cells": cells, "metadata": {"widgets": {"x": 1}}, "nbformat": 4, "nbformat_minor": 5}


def cell(kind, source, tags=(), outputs=None):
    c = {"cell_type": kind, "source": source, "metadata": {"tags": list(tags)}}
    if kind == "code":
        c.update(outputs=outputs or [{"output_type": "stream", "name": "stdout", "text": "x"}],
                 execution_count=3)
    return c


def glue_output(name, text):
    prefix = "application/papermill.record/"
    return {"output_type": "display_data", "data": {prefix + "text/plain": text},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}}}


SOLUTION = '''import math
from torch import nn


def attention(q, k, v):
    """Docstring stays."""
    scores = q @ k / math.sqrt(q.shape[-1])
    return scores.softmax(-1) @ v


class Helper(nn.Module):
    pass


assert attention is not None
'''


def test_solution_regions_keep_imports_and_headings():
    marked = solution_regions(SOLUTION)
    assert marked.count(BEGIN) == marked.count(END) == 2
    assert marked.startswith("import math\nfrom torch import nn\n")
    assert f'    """Docstring stays."""\n    {BEGIN}\n    scores = ' in marked
    assert f"{BEGIN}\nclass Helper(nn.Module):\n    pass\n\n\nassert attention is not None\n{END}" \
        in marked
    # removing the markers gives the solution back
    assert [l for l in marked.splitlines() if l.strip() not in (BEGIN, END)] == \
        SOLUTION.rstrip().splitlines()


def test_code_stub_runs_and_its_functions_say_not_implemented():
    stub = code_stub(SOLUTION)
    assert "softmax" not in stub and "Helper" not in stub
    namespace = {}
    exec(stub, namespace)  # the stub cell itself runs (Run All goes on)
    with pytest.raises(NotImplementedError):
        namespace["attention"](1, 2, 3)


def test_solutions_become_stubs_and_answer_cells():
    src = nb([cell("markdown", "Question"),
              cell("code", "def f():\n    return 42\n", ["solution", "hide-input"]),
              cell("code", "print(check_f(f))"),
              cell("markdown", ":::{admonition} Solution", ["solution"]),
              cell("code", "x = 1\n", ["solution"])])
    out = strip_solutions(src, cites={})
    kinds = [(c["cell_type"], c["metadata"]["tags"]) for c in out["cells"]]
    assert kinds == [("markdown", []), ("code", ["exercise"]), ("code", []),
                     ("markdown", ["answer"]), ("code", ["exercise"])]
    stub = out["cells"][1]["source"]
    assert "then the checker in the next cell" in stub and "raise NotImplementedError()" in stub
    assert "return 42" not in stub
    assert out["cells"][3]["source"] == ANSWER
    last = out["cells"][4]["source"]
    assert "checker" not in last and "x = 1" not in last and "# YOUR CODE HERE" in last
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in out["cells"] if c["cell_type"] == "code")
    assert "widgets" not in out["metadata"]
    assert len(src["cells"]) == 5 and src["cells"][1]["source"].endswith("return 42\n")


def test_glue_and_cite_are_written_in():
    src = nb([cell("code", "glue(...)", outputs=[glue_output("auc", "0.93812"),
                                                 glue_output("n", "50000"),
                                                 glue_output("name", "'BST'")]),
              cell("markdown", "AUC {glue:text}`auc:.3f` on {glue:text}`n:,` samples of "
                               "{glue:text}`name`, as in {cite}`chen2019bst` "
                               "and {cite:p}`vaswani2017attention,ba2016layernorm`; "
                               "see {ref}`the table <bench-command>`.")])
    text = strip_solutions(src)["cells"][1]["source"]
    assert text == ("AUC 0.938 on 50,000 samples of BST, as in Chen et al. (2019) and "
                    "Vaswani et al. (2017); Ba et al. (2016); see the table.")


def test_unknown_glue_or_citation_names_the_cell():
    with pytest.raises(KeyError, match=r"ch\.ipynb, cell 0: .*`nothing:.3f`"):
        render_roles("{glue:text}`nothing:.3f`", {}, {}, "ch.ipynb, cell 0")
    with pytest.raises(KeyError, match="'nobody2020'"):
        render_roles("{cite}`nobody2020`", {}, bibliography(), "ch.ipynb, cell 0")


def test_bibliography_labels():
    labels = bibliography()
    assert labels["chen2019bst"] == "Chen et al. (2019)"
    assert all(label.endswith(")") and "{" not in label for label in labels.values())


def test_write_student_copies(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.ipynb").write_text(json.dumps(nb([cell("code", "1\n", ["solution"])])))
    written = write_student_copies(tmp_path / "book", tmp_path / "student")
    assert [p.name for p in written] == ["a.ipynb"]
    assert "# YOUR CODE HERE" in json.loads(written[0].read_text())["cells"][0]["source"]
    with pytest.raises(FileNotFoundError):
        write_student_copies(tmp_path / "student" / "nothing", tmp_path / "x")
